// Reads the member list of a tar stream as it goes by, without unpacking it: the snapshot
// steps (steps/snapshot_steps.cpp) count what a snapshot holds while it streams into the
// artifact store, and list a stored snapshot to plan a restore and to check it first.
//
// Formats: ustar and POSIX pax (path/linkpath/size records), and GNU tar's own (long names
// in 'L'/'K' members, base-256 numbers) — what GNU tar writes with --format=gnu or posix.
// Member names are normalised: a leading "./" and trailing "/" are dropped, so the archive's
// root folder "./" is the empty path.
//
// Safety (SPEC §8): check() refuses a member that would land outside the folder it is
// extracted into — an absolute name, a ".." component, a hard link whose target is absolute
// or climbs out, or a name that passes through a symlink stored earlier in the archive
// (`etc -> /etc`, then `etc/passwd`). Symlinks themselves may point anywhere: restoring a
// folder exactly includes its links to elsewhere, and tar never writes through them.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace cutover::steps {

/// One member of a tar stream.
struct TarEntry {
  std::string path;  // normalised (see the header comment); "" = the root folder
  char type = 'f';   // as find -printf %y: f regular (and hard link), d, l, c, b, p
  bool hardlink = false;
  std::string link;   // symlink target, or hard link target (normalised)
  uint64_t size = 0;  // content bytes of a regular file
  uint32_t mode = 0;
  uint32_t uid = 0, gid = 0;
};

class TarIndex {
 public:
  /// `keep` = remember every entry (for listing); otherwise only count.
  explicit TarIndex(bool keep) : keep_(keep) {}

  /// Feeds the next bytes of the stream. Throws Error for a malformed header or an unsafe
  /// member (see check()).
  void feed(const char* data, size_t len);
  /// True once the end-of-archive blocks were seen.
  bool complete() const { return end_seen_; }

  const std::vector<TarEntry>& entries() const { return entries_; }
  uint64_t entry_count() const { return count_; }
  uint64_t file_count() const { return files_; }
  uint64_t file_bytes() const { return bytes_; }

 private:
  void header(const char* h);
  void member_done();
  void check(const TarEntry& e);

  bool keep_;
  std::vector<TarEntry> entries_;
  uint64_t count_ = 0, files_ = 0, bytes_ = 0;

  std::string block_;    // a header being assembled (up to 512 bytes)
  uint64_t skip_ = 0;    // data + padding still to pass over
  char collecting_ = 0;  // 'L', 'K', 'x' while their data is gathered into `extra_`
  uint64_t collect_left_ = 0;
  std::string extra_;
  std::string long_name_, long_link_;  // from 'L'/'K' members, for the next member
  struct Pax {                         // from an 'x' member, for the next member
    std::string path, link;
    bool has_size = false, has_uid = false, has_gid = false;
    uint64_t size = 0, uid = 0, gid = 0;
  } pax_;
  int zero_blocks_ = 0;
  bool end_seen_ = false;
  std::set<std::string> symlinks_;
};

}  // namespace cutover::steps
