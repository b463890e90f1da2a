// Local file primitives with the durability rules of SPEC §6: write-temp + fsync + rename
// + fsync(dir); never unlink-then-rename.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace cutover::util {

/// Whole-file rewrite through a temp file in the same folder (ccache's AtomicFile).
/// commit() = fsync + rename over the target + fsync(dir); the destructor discards an
/// uncommitted temp. Throws Error on any I/O failure (a failed fsync is never retried).
class AtomicFile {
 public:
  AtomicFile(std::string path, mode_t mode);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t len);
  void write(const std::string& s) { write(s.data(), s.size()); }
  void commit();
  const std::string& temp_path() const { return temp_; }

 private:
  std::string path_;
  std::string temp_;
  int fd_ = -1;
};

/// Reads a whole local file; throws Error naming the path.
std::string read_file(const std::string& path);

/// Writes `data` to `path` atomically (AtomicFile) with `mode`.
void write_file_atomic(const std::string& path, const std::string& data, mode_t mode = 0600);

/// fsync()s a directory so that a rename or create inside it is durable.
void fsync_dir(const std::string& dir);

/// Creates `dir` and its parents with `mode` (existing folders are left as they are).
void make_dirs(const std::string& dir, mode_t mode = 0700);

/// True if the path exists (lstat).
bool exists(const std::string& path);

/// The folder part of a path ("." when none).
std::string dirname(const std::string& path);

/// The last component of a path.
std::string basename(const std::string& path);

/// `base`/`rel` unless rel is absolute; "~/" expands to $HOME.
std::string join_path(const std::string& base, const std::string& rel);

/// Expands a leading "~/" to $HOME.
std::string expand_home(const std::string& path);

/// Removes a file or a whole tree; absent is fine. Throws Error on failure.
void remove_all(const std::string& path);

/// A fresh private temp folder under $TMPDIR (or /tmp) with `prefix`; a `prefix` holding a '/'
/// (".cutover/artifacts/tmp/w", "/state/tmp/w") is used as it is, so the folder lands where
/// the caller says.
std::string make_temp_dir(const std::string& prefix);

}  // namespace cutover::util
