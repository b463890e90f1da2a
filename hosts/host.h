// The outside world a step acts on: a machine's files and processes. LocalHost acts on this
// machine; SshHost (hosts/ssh_host.h) on a remote one over SSH/SFTP. Steps use only this
// interface, so every ⇄ step runs the same code locally and remotely.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "util/cancel.h"

namespace cutover::hosts {

/// A file's owner and group, as numeric ids (names differ between machines; ids are what
/// the filesystem keeps).
struct Owner {
  uint32_t uid = 0;
  uint32_t gid = 0;
  bool operator==(const Owner& o) const { return uid == o.uid && gid == o.gid; }
  bool operator!=(const Owner& o) const { return !(*this == o); }
};

/// What lstat() says of a path.
struct FileInfo {
  bool exists = false;
  bool is_regular = false;
  bool is_dir = false;
  bool is_symlink = false;
  uint32_t mode = 0;        // permission bits (07777)
  uint64_t size = 0;
  std::string link_target;  // for symlinks
  uint32_t uid = 0;         // owner and group, valid when has_owner (an SFTP server may
  uint32_t gid = 0;         // leave them out of its reply)
  bool has_owner = false;
  /// {uid, gid} when known.
  std::optional<Owner> owner() const {
    return has_owner ? std::optional<Owner>(Owner{uid, gid}) : std::nullopt;
  }
};

struct ExecRequest {
  /// argv form (exec'd directly) ...
  std::vector<std::string> argv;
  /// ... or a command string for `/bin/sh -c` (used when argv is empty).
  std::string shell;
  std::string cwd;
  std::map<std::string, std::string> env;
  std::string stdin_data;
  util::Deadline deadline;
  /// When set, stdin is fed from this reader until it returns 0 (streams large inputs, such
  /// as an archive into `tar -x`); stdin_data is then ignored. It must not throw: a reader
  /// that fails returns 0 and keeps its error for the caller to report after exec().
  std::function<size_t(char* buf, size_t cap)> stdin_reader;
  /// Streamed output (also captured into the result, up to a limit, unless
  /// capture_streamed_stdout is false). Must not throw.
  std::function<void(const char*, size_t)> on_stdout;
  std::function<void(const char*, size_t)> on_stderr;
  /// False: bytes given to on_stdout are not also kept in ExecResult::out (an archive
  /// streamed into the artifact store need not sit in memory twice).
  bool capture_streamed_stdout = true;
};

struct ExecResult {
  int exit_code = -1;
  int signal = 0;
  bool timed_out = false;
  bool interrupted = false;
  std::string out;
  std::string err;
  bool ok() const { return exit_code == 0 && signal == 0 && !timed_out && !interrupted; }
  std::string describe() const;
};

/// A machine cutover acts on. Every method throws cutover::Error naming the host and path
/// when it fails; "absent" is not a failure where the method says so.
class Host {
 public:
  virtual ~Host() = default;

  /// "local" or the plan's host name.
  virtual std::string name() const = 0;
  /// True for the machine cutover runs on.
  virtual bool is_local() const = 0;

  /// lstat(); a missing path gives exists == false (no throw).
  virtual FileInfo stat(const std::string& path) = 0;
  /// The whole file's bytes.
  virtual std::string read_file(const std::string& path) = 0;
  /// Replaces `path` atomically (temp in the same folder, fsync, rename) with `data`, mode
  /// `mode`. With `owner`, the new file gets that owner and group (set on the temp before the
  /// rename; failing to is an Error). Without, an existing regular file's owner and group are
  /// kept where this process may set them (root, or its own files); otherwise the file ends
  /// up owned by the user cutover runs as.
  virtual void write_file(const std::string& path, const std::string& data, uint32_t mode,
                          const std::optional<Owner>& owner = std::nullopt) = 0;
  /// Removes a file, symlink or folder tree; absent is fine.
  virtual void remove(const std::string& path) = 0;
  /// rename(2): atomic replace of `to`.
  virtual void rename(const std::string& from, const std::string& to) = 0;
  virtual void chmod(const std::string& path, uint32_t mode) = 0;
  /// Sets owner and group (numeric ids). Locally lchown(): a symlink itself is changed; over
  /// SFTP a symlink is followed. Changing the owner clears setuid/setgid bits: set the mode
  /// afterwards. Throws Error (e.g. "operation not permitted" when not root).
  virtual void chown(const std::string& path, uint32_t uid, uint32_t gid) = 0;
  /// Creates a folder and its parents (mode for the ones created); existing is fine.
  virtual void make_dirs(const std::string& path, uint32_t mode = 0755) = 0;
  /// Creates symlink `link` -> `target` (fails if `link` exists).
  virtual void symlink(const std::string& target, const std::string& link) = 0;
  /// Names (not paths) of a folder's entries, sorted.
  virtual std::vector<std::string> list_dir(const std::string& path) = 0;
  /// Paths matching a shell glob, sorted (a pattern without wildcards returns itself if it exists).
  virtual std::vector<std::string> glob(const std::string& pattern) = 0;
  /// Free bytes available to unprivileged users on the filesystem holding `path`.
  virtual uint64_t free_bytes(const std::string& path) = 0;
  /// sha256 of a file, streamed (on SSH hosts computed remotely where possible).
  virtual std::string sha256(const std::string& path) = 0;
  /// Runs a command; never throws for the command's own failure (see ExecResult).
  virtual ExecResult exec(const ExecRequest& req) = 0;
};

/// The machine cutover runs on.
std::unique_ptr<Host> make_local_host();

}  // namespace cutover::hosts
