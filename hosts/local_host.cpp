#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "hosts/host.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/process.h"

namespace cutover::hosts {

std::string ExecResult::describe() const {
  if (interrupted) return "interrupted";
  if (timed_out) return "timed out";
  if (signal) return "killed by signal " + std::to_string(signal);
  return "exit " + std::to_string(exit_code);
}

namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw Error(what + " " + path + ": " + std::strerror(errno));
}

// The regular file at `path` already has the owner, group and mode a write wants.
bool owned_as_wanted(const std::string& path, const Owner& want, uint32_t mode) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == want.uid &&
         st.st_gid == want.gid && (st.st_mode & 07777) == (mode & 07777);
}

// Truncates and rewrites an existing file, then fsyncs it: owner, group, mode, ACLs and
// hard links stay. Not atomic: a crash midway leaves a partial file, which the step's
// checkpoint (the prior bytes) lets rollback or resume repair.
void write_in_place(const std::string& path, const std::string& data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) fail("cannot open for writing", path);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};  // after fail() has read errno
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot write", path);
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) fail("cannot fsync", path);
}

class LocalHost final : public Host {
 public:
  std::string name() const override { return "local"; }
  bool is_local() const override { return true; }

  FileInfo stat(const std::string& path) override {
    FileInfo fi;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return fi;
      fail("cannot stat", path);
    }
    fi.exists = true;
    fi.is_regular = S_ISREG(st.st_mode);
    fi.is_dir = S_ISDIR(st.st_mode);
    fi.is_symlink = S_ISLNK(st.st_mode);
    fi.mode = st.st_mode & 07777;
    fi.size = static_cast<uint64_t>(st.st_size);
    fi.uid = st.st_uid;
    fi.gid = st.st_gid;
    fi.has_owner = true;
    if (fi.is_symlink) {
      std::vector<char> buf(4096);
      ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size());
      if (n >= 0) fi.link_target.assign(buf.data(), static_cast<size_t>(n));
    }
    return fi;
  }

  std::string read_file(const std::string& path) override { return util::read_file(path); }

  void write_file(const std::string& path, const std::string& data, uint32_t mode,
                  const std::optional<Owner>& owner = std::nullopt) override {
    std::optional<Owner> want = owner;
    bool required = owner.has_value();
    if (!want) {
      struct stat st {};
      if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) want = Owner{st.st_uid, st.st_gid};
    }
    util::AtomicFile f(path, mode);
    f.write(data);
    if (want) {
      const std::string& tmp = f.temp_path();
      struct stat st {};
      if (::lstat(tmp.c_str(), &st) != 0) fail("cannot stat", tmp);
      if (st.st_uid != want->uid || st.st_gid != want->gid) {
        if (::lchown(tmp.c_str(), want->uid, want->gid) == 0) {
          // chown clears setuid/setgid: put the exact mode back.
          if (::chmod(tmp.c_str(), mode) != 0) fail("cannot chmod", tmp);
        } else {
          const int why = errno;  // owned_as_wanted() may change errno
          const bool refused = why == EPERM || why == EACCES;
          if (refused && owned_as_wanted(path, *want, mode)) {
            // Not root, and the file is someone else's (or in a group we cannot give it): a
            // new file renamed over it would change its owner, and undo could not change it
            // back. Rewrite it through its own inode instead, as editors do; the temp goes.
            write_in_place(path, data);
            return;
          }
          if (required || !refused) {
            errno = why;
            fail("cannot set owner " + std::to_string(want->uid) + ":" +
                     std::to_string(want->gid) + " of",
                 path);
          }
        }
      }
    }
    f.commit();
  }

  void remove(const std::string& path) override { util::remove_all(path); }

  void rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) fail("cannot rename " + from + " to", to);
    util::fsync_dir(util::dirname(to));
  }

  void chmod(const std::string& path, uint32_t mode) override {
    if (::chmod(path.c_str(), mode) != 0) fail("cannot chmod", path);
  }

  void chown(const std::string& path, uint32_t uid, uint32_t gid) override {
    if (::lchown(path.c_str(), uid, gid) != 0)
      fail("cannot set owner " + std::to_string(uid) + ":" + std::to_string(gid) + " of", path);
  }

  void make_dirs(const std::string& path, uint32_t mode) override { util::make_dirs(path, mode); }

  void symlink(const std::string& target, const std::string& link) override {
    if (::symlink(target.c_str(), link.c_str()) != 0) fail("cannot create symlink", link);
  }

  std::vector<std::string> list_dir(const std::string& path) override {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(path, ec)) out.push_back(e.path().filename());
    if (ec) throw Error("cannot list " + path + ": " + ec.message());
    std::sort(out.begin(), out.end());
    return out;
  }

  std::vector<std::string> glob(const std::string& pattern) override {
    glob_t g{};
    std::vector<std::string> out;
    int rc = ::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &g);
    if (rc == 0)
      for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
    globfree(&g);
    std::sort(out.begin(), out.end());
    return out;
  }

  uint64_t free_bytes(const std::string& path) override {
    struct statvfs sv {};
    if (::statvfs(path.c_str(), &sv) != 0) fail("cannot statvfs", path);
    return static_cast<uint64_t>(sv.f_bavail) * sv.f_frsize;
  }

  std::string sha256(const std::string& path) override { return util::sha256_file(path); }

  ExecResult exec(const ExecRequest& req) override {
    util::ProcessSpec spec;
    spec.argv = req.argv.empty() ? std::vector<std::string>{"/bin/sh", "-c", req.shell} : req.argv;
    spec.cwd = req.cwd;
    spec.env = req.env;
    spec.stdin_data = req.stdin_data;
    spec.stdin_reader = req.stdin_reader;
    spec.deadline = req.deadline;
    std::string captured_out;
    if (req.on_stdout) {
      spec.on_stdout = [&](const char* d, size_t n) {
        req.on_stdout(d, n);
        if (req.capture_streamed_stdout && captured_out.size() < (16u << 20))
          captured_out.append(d, n);
      };
    }
    spec.on_stderr = req.on_stderr;
    util::ProcessResult pr = util::run_process(spec);
    ExecResult r;
    r.exit_code = pr.exit_code;
    r.signal = pr.signal;
    r.timed_out = pr.timed_out;
    r.interrupted = pr.interrupted;
    r.out = req.on_stdout ? captured_out : pr.out;
    r.err = pr.err;
    if (pr.spawn_failed) r.exit_code = 127;
    return r;
  }
};

}  // namespace

std::unique_ptr<Host> make_local_host() { return std::make_unique<LocalHost>(); }

}  // namespace cutover::hosts
