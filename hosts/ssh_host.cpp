// SshHost: connection management and the file operations of Host over SFTP.
#include "hosts/ssh_host.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <vector>

#include "hosts/ssh_auth.h"
#include "hosts/ssh_host_impl.h"
#include "hosts/ssh_known_hosts.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace cutover::hosts {
namespace {

std::string fx_text(unsigned long status) {
  switch (status) {
    case LIBSSH2_FX_EOF: return "end of file";
    case LIBSSH2_FX_NO_SUCH_FILE: return "no such file or directory";
    case LIBSSH2_FX_PERMISSION_DENIED: return "permission denied";
    case LIBSSH2_FX_FAILURE: return "failed";
    case LIBSSH2_FX_OP_UNSUPPORTED: return "operation not supported by the server";
    case LIBSSH2_FX_NO_SUCH_PATH: return "no such path";
    case LIBSSH2_FX_FILE_ALREADY_EXISTS: return "file already exists";
    case LIBSSH2_FX_WRITE_PROTECT: return "read-only filesystem";
    case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM: return "no space left on the filesystem";
    case LIBSSH2_FX_QUOTA_EXCEEDED: return "quota exceeded";
    case LIBSSH2_FX_NOT_A_DIRECTORY: return "not a directory";
    case LIBSSH2_FX_DIR_NOT_EMPTY: return "directory not empty";
    case LIBSSH2_FX_INVALID_FILENAME: return "invalid file name";
    default: return "SFTP status " + std::to_string(status);
  }
}

std::string temp_name(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  return util::dirname(path) + "/." + util::basename(path) + ".cutover-tmp-" +
         std::to_string(::getpid()) + "-" + std::to_string(now % 1000000007) + "-" +
         std::to_string(counter++);
}

// Shell glob text: wildcards stay active, every other character is taken literally.
std::string glob_words(const std::string& pattern) {
  std::string out;
  for (char c : pattern) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || std::isalnum(static_cast<unsigned char>(c)) ||
        c == '/' || c == '.' || c == '_' || c == '-')
      out += c;
    else if (c == '\n')
      out += "'\n'";
    else
      out += std::string("\\") + c;
  }
  return out;
}

}  // namespace

// --- Impl ----------------------------------------------------------------------------------

SshSession& SshHost::Impl::ensure() {
  if (!session.usable()) {
    session.open();
    ++stats.connects;
  }
  return session;
}

unsigned long SshHost::Impl::sftp_status(long long rc) {
  if (rc != LIBSSH2_ERROR_SFTP_PROTOCOL || !session.usable()) return static_cast<unsigned long>(-1);
  return libssh2_sftp_last_error(session.sftp());
}

void SshHost::Impl::fail(const std::string& what, const std::string& path, long long rc) {
  std::string reason;
  unsigned long status = sftp_status(rc);
  if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL) {
    reason = fx_text(status);
  } else {
    reason = session.last_error();
  }
  bool lost = session.note_failure(rc);
  std::string msg = "host " + options.name + ": " + what + " " + path + ": " + reason;
  if (lost) throw Error(msg + " (connection lost)", SshSession::reconnect_hint());
  throw Error(msg);
}

SftpHandle::~SftpHandle() {
  try {
    close();
  } catch (...) {
  }
}

long long SftpHandle::close() {
  if (!h_) return 0;
  LIBSSH2_SFTP_HANDLE* h = h_;
  h_ = nullptr;
  if (!host_.session.usable()) return LIBSSH2_ERROR_SOCKET_DISCONNECT;
  return host_.session.call([&] { return libssh2_sftp_close_handle(h); },
                            util::Deadline::after(std::chrono::seconds(30)), Interruptible::no);
}

std::unique_ptr<SftpHandle> sftp_open(SshHost::Impl& host, const std::string& path,
                                      unsigned long flags, long mode, int type,
                                      const std::string& what, const util::Deadline& deadline) {
  LIBSSH2_SFTP* sftp = host.sftp();
  auto* h = static_cast<LIBSSH2_SFTP_HANDLE*>(host.session.call_ptr(
      [&] {
        return static_cast<void*>(libssh2_sftp_open_ex(sftp, path.c_str(),
                                                       static_cast<unsigned>(path.size()), flags,
                                                       mode, type));
      },
      deadline));
  if (!h) host.fail(what, path, libssh2_session_last_errno(host.session.raw()));
  return std::make_unique<SftpHandle>(host, h);
}

// --- SshHost -------------------------------------------------------------------------------

SshHost::SshHost(SshOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  const SshOptions& o = impl_->options;
  if (o.address.empty())
    throw Error("hosts." + o.name + ": no address", "set hosts." + o.name + ".address");
  if (o.user.empty())
    throw Error("hosts." + o.name + ": no user", "set hosts." + o.name + ".user");
  ssh_detail::host_key_policy(o);
  ssh_detail::check_auth_options(o);
}

SshHost::~SshHost() = default;

void SshHost::connect() { impl_->ensure(); }

void SshHost::disconnect() noexcept { impl_->session.close(); }

std::string SshHost::host_key_fingerprint() { return impl_->ensure().fingerprint(); }

const SshOptions& SshHost::options() const { return impl_->options; }

const SshStats& SshHost::stats() const { return impl_->stats; }

std::string SshHost::name() const { return impl_->options.name; }

FileInfo SshHost::stat(const std::string& path) {
  LIBSSH2_SFTP* sftp = impl_->sftp();
  auto len = static_cast<unsigned>(path.size());
  LIBSSH2_SFTP_ATTRIBUTES a{};
  long long rc = impl_->session.call(
      [&] { return libssh2_sftp_stat_ex(sftp, path.c_str(), len, LIBSSH2_SFTP_LSTAT, &a); });
  FileInfo fi;
  if (rc != 0) {
    unsigned long st = impl_->sftp_status(rc);
    if (st == LIBSSH2_FX_NO_SUCH_FILE || st == LIBSSH2_FX_NO_SUCH_PATH ||
        st == LIBSSH2_FX_NOT_A_DIRECTORY)
      return fi;
    impl_->fail("cannot stat", path, rc);
  }
  fi.exists = true;
  fi.is_regular = LIBSSH2_SFTP_S_ISREG(a.permissions);
  fi.is_dir = LIBSSH2_SFTP_S_ISDIR(a.permissions);
  fi.is_symlink = LIBSSH2_SFTP_S_ISLNK(a.permissions);
  fi.mode = static_cast<uint32_t>(a.permissions & 07777);
  fi.size = a.filesize;
  if (a.flags & LIBSSH2_SFTP_ATTR_UIDGID) {
    fi.uid = static_cast<uint32_t>(a.uid);
    fi.gid = static_cast<uint32_t>(a.gid);
    fi.has_owner = true;
  }
  if (fi.is_symlink) {
    std::vector<char> buf(4096);
    rc = impl_->session.call([&] {
      return libssh2_sftp_symlink_ex(sftp, path.c_str(), len, buf.data(),
                                     static_cast<unsigned>(buf.size()), LIBSSH2_SFTP_READLINK);
    });
    if (rc < 0) impl_->fail("cannot read symlink", path, rc);
    fi.link_target.assign(buf.data(), static_cast<size_t>(rc));
  }
  return fi;
}

std::string SshHost::read_file(const std::string& path) {
  auto h = sftp_open(*impl_, path, LIBSSH2_FXF_READ, 0, LIBSSH2_SFTP_OPENFILE, "cannot open");
  std::string out;
  std::vector<char> buf(256 * 1024);
  while (true) {
    long long n = impl_->session.call(
        [&] { return libssh2_sftp_read(h->get(), buf.data(), buf.size()); });
    if (n < 0) impl_->fail("cannot read", path, n);
    if (n == 0) break;
    out.append(buf.data(), static_cast<size_t>(n));
  }
  return out;
}

namespace {

// Writes all of `data` through an open handle, at most kSftpWriteWindow in flight, then fsyncs.
void send_all(SshHost::Impl& impl, SftpHandle& h, const std::string& data, const std::string& name) {
  size_t done = 0;
  while (done < data.size()) {
    // The unacknowledged bytes and then new ones.
    size_t len = std::min(data.size() - done, kSftpWriteWindow);
    long long n =
        impl.session.call([&] { return libssh2_sftp_write(h.get(), data.data() + done, len); });
    if (n < 0) impl.fail("cannot write", name, n);
    done += static_cast<size_t>(n);
  }
  long long rc = impl.session.call([&] { return libssh2_sftp_fsync(h.get()); });
  if (rc != 0 && impl.sftp_status(rc) != LIBSSH2_FX_OP_UNSUPPORTED) impl.fail("cannot fsync", name, rc);
}

}  // namespace

void SshHost::write_file(const std::string& path, const std::string& data, uint32_t mode,
                         const std::optional<Owner>& owner) {
  std::optional<Owner> want = owner;
  FileInfo prior = stat(path);
  if (!want && prior.is_regular) want = prior.owner();
  const std::string tmp = temp_name(path);
  auto h = sftp_open(*impl_, tmp, LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_EXCL,
                     0600, LIBSSH2_SFTP_OPENFILE, "cannot create");
  auto drop_temp = [&] {
    h.reset();
    if (!impl_->session.usable()) return;
    try {
      LIBSSH2_SFTP* sftp = impl_->sftp();
      impl_->session.call(
          [&] { return libssh2_sftp_unlink_ex(sftp, tmp.c_str(), static_cast<unsigned>(tmp.size())); },
          util::Deadline::after(std::chrono::seconds(10)), Interruptible::no);
    } catch (...) {
    }
  };
  try {
    send_all(*impl_, *h, data, tmp);
    long long rc = 0;
    if (want) {
      // Owner first: a chown clears setuid/setgid, so the mode is set after it. Keeping an
      // existing file's owner is best effort (only root may give a file away); a requested
      // owner is not.
      LIBSSH2_SFTP_ATTRIBUTES o{};
      o.flags = LIBSSH2_SFTP_ATTR_UIDGID;
      o.uid = want->uid;
      o.gid = want->gid;
      rc = impl_->session.call([&] { return libssh2_sftp_fsetstat(h->get(), &o); });
      if (rc != 0) {
        unsigned long st = impl_->sftp_status(rc);
        bool refused = st == LIBSSH2_FX_PERMISSION_DENIED || st == LIBSSH2_FX_FAILURE;
        // Not root, and the file is someone else's: as on this machine (local_host.cpp),
        // rewrite it through its own inode so its owner stays and undo can do the same.
        if (refused && prior.is_regular && prior.has_owner && prior.uid == want->uid &&
            prior.gid == want->gid && prior.mode == (mode & 07777)) {
          drop_temp();
          write_in_place(path, data);
          return;
        }
        if (owner || !refused)
          impl_->fail("cannot set owner " + std::to_string(want->uid) + ":" +
                          std::to_string(want->gid) + " of",
                      tmp, rc);
      }
    }
    LIBSSH2_SFTP_ATTRIBUTES a{};
    a.flags = LIBSSH2_SFTP_ATTR_PERMISSIONS;
    a.permissions = mode & 07777;
    rc = impl_->session.call([&] { return libssh2_sftp_fsetstat(h->get(), &a); });
    if (rc != 0) impl_->fail("cannot set the mode of", tmp, rc);
    rc = h->close();
    if (rc != 0) impl_->fail("cannot close", tmp, rc);
    rename(tmp, path);
  } catch (...) {
    drop_temp();
    throw;
  }
}

void SshHost::write_in_place(const std::string& path, const std::string& data) {
  // Truncate and rewrite through the file's own inode: owner, group and mode stay. Not
  // atomic: a crash midway leaves a partial file, which the step's checkpoint repairs.
  auto f = sftp_open(*impl_, path, LIBSSH2_FXF_WRITE | LIBSSH2_FXF_TRUNC, 0, LIBSSH2_SFTP_OPENFILE,
                     "cannot open for writing");
  send_all(*impl_, *f, data, path);
  long long rc = f->close();
  if (rc != 0) impl_->fail("cannot close", path, rc);
}

void SshHost::remove(const std::string& path) {
  FileInfo fi = stat(path);
  if (!fi.exists) return;
  if (fi.is_dir) {
    impl_->run_ok("rm -rf -- " + util::shell_quote(path), "cannot remove " + path);
    return;
  }
  LIBSSH2_SFTP* sftp = impl_->sftp();
  long long rc = impl_->session.call([&] {
    return libssh2_sftp_unlink_ex(sftp, path.c_str(), static_cast<unsigned>(path.size()));
  });
  if (rc != 0 && impl_->sftp_status(rc) != LIBSSH2_FX_NO_SUCH_FILE)
    impl_->fail("cannot remove", path, rc);
}

void SshHost::rename(const std::string& from, const std::string& to) {
  LIBSSH2_SFTP* sftp = impl_->sftp();
  long long rc = impl_->session.call([&] {
    return libssh2_sftp_rename_ex(sftp, from.c_str(), static_cast<unsigned>(from.size()),
                                  to.c_str(), static_cast<unsigned>(to.size()),
                                  LIBSSH2_SFTP_RENAME_OVERWRITE | LIBSSH2_SFTP_RENAME_ATOMIC |
                                      LIBSSH2_SFTP_RENAME_NATIVE);
  });
  if (rc == 0) return;
  unsigned long st = impl_->sftp_status(rc);
  if (st != LIBSSH2_FX_FAILURE && st != LIBSSH2_FX_FILE_ALREADY_EXISTS)
    impl_->fail("cannot rename " + from + " to", to, rc);
  // SFTP v3 rename refuses an existing target, and libssh2 1.10 cannot send OpenSSH's
  // posix-rename@openssh.com: replace with rename(2) through mv, and make it durable.
  impl_->run_ok("mv -f -T -- " + util::shell_quote(from) + " " + util::shell_quote(to) +
                    " && { sync -- " + util::shell_quote(util::dirname(to)) +
                    " 2>/dev/null || true; }",
                "cannot rename " + from + " to " + to);
}

void SshHost::chmod(const std::string& path, uint32_t mode) {
  LIBSSH2_SFTP* sftp = impl_->sftp();
  LIBSSH2_SFTP_ATTRIBUTES a{};
  a.flags = LIBSSH2_SFTP_ATTR_PERMISSIONS;
  a.permissions = mode & 07777;
  long long rc = impl_->session.call([&] {
    return libssh2_sftp_stat_ex(sftp, path.c_str(), static_cast<unsigned>(path.size()),
                                LIBSSH2_SFTP_SETSTAT, &a);
  });
  if (rc != 0) impl_->fail("cannot chmod", path, rc);
}

void SshHost::chown(const std::string& path, uint32_t uid, uint32_t gid) {
  LIBSSH2_SFTP* sftp = impl_->sftp();
  LIBSSH2_SFTP_ATTRIBUTES a{};
  a.flags = LIBSSH2_SFTP_ATTR_UIDGID;
  a.uid = uid;
  a.gid = gid;
  long long rc = impl_->session.call([&] {
    return libssh2_sftp_stat_ex(sftp, path.c_str(), static_cast<unsigned>(path.size()),
                                LIBSSH2_SFTP_SETSTAT, &a);
  });
  if (rc != 0)
    impl_->fail("cannot set owner " + std::to_string(uid) + ":" + std::to_string(gid) + " of",
                path, rc);
}

void SshHost::make_dirs(const std::string& path, uint32_t mode) {
  std::string prefix = path.size() && path[0] == '/' ? "/" : "";
  for (const auto& part : util::split(path, '/')) {
    if (part.empty() || part == ".") continue;
    prefix += (prefix.empty() || prefix.back() == '/' ? "" : "/") + part;
    FileInfo fi = stat(prefix);
    if (fi.is_dir || (fi.is_symlink && stat(prefix + "/.").is_dir)) continue;
    if (fi.exists) throw Error("host " + name() + ": cannot create folder " + path + ": " + prefix +
                               " exists and is not a folder");
    LIBSSH2_SFTP* sftp = impl_->sftp();
    long long rc = impl_->session.call([&] {
      return libssh2_sftp_mkdir_ex(sftp, prefix.c_str(), static_cast<unsigned>(prefix.size()),
                                   static_cast<long>(mode));
    });
    if (rc != 0 && !stat(prefix).is_dir) impl_->fail("cannot create folder", prefix, rc);
  }
}

void SshHost::symlink(const std::string& target, const std::string& link) {
  if (stat(link).exists)
    throw Error("host " + name() + ": cannot create symlink " + link + ": file exists");
  LIBSSH2_SFTP* sftp = impl_->sftp();
  // OpenSSH's sftp-server takes SSH_FXP_SYMLINK's arguments in the reverse order of the
  // draft (target first); libssh2 sends its `path` argument first, so pass the target there.
  long long rc = impl_->session.call([&] {
    return libssh2_sftp_symlink_ex(sftp, target.c_str(), static_cast<unsigned>(target.size()),
                                   const_cast<char*>(link.c_str()),
                                   static_cast<unsigned>(link.size()), LIBSSH2_SFTP_SYMLINK);
  });
  // libssh2 1.10 misreads OpenSSH's status reply to SYMLINK and reports a failure with a
  // garbage status even when the link was made: trust what the server now has.
  if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL) {
    FileInfo fi = stat(link);
    if (fi.is_symlink && fi.link_target == target) return;
  }
  if (rc != 0) impl_->fail("cannot create symlink", link, rc);
}

std::vector<std::string> SshHost::list_dir(const std::string& path) {
  auto h = sftp_open(*impl_, path, 0, 0, LIBSSH2_SFTP_OPENDIR, "cannot list");
  std::vector<std::string> out;
  std::vector<char> name(4096);
  while (true) {
    LIBSSH2_SFTP_ATTRIBUTES a{};
    long long n = impl_->session.call([&] {
      return libssh2_sftp_readdir_ex(h->get(), name.data(), name.size(), nullptr, 0, &a);
    });
    if (n < 0) impl_->fail("cannot list", path, n);
    if (n == 0) break;
    std::string entry(name.data(), static_cast<size_t>(n));
    if (entry != "." && entry != "..") out.push_back(entry);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> SshHost::glob(const std::string& pattern) {
  std::string out = impl_->run_ok(
      "for f in " + glob_words(pattern) +
          "; do if [ -e \"$f\" ] || [ -L \"$f\" ]; then printf '%s\\0' \"$f\"; fi; done",
      "cannot expand " + pattern);
  std::vector<std::string> paths;
  size_t start = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] != '\0') continue;
    paths.push_back(out.substr(start, i - start));
    start = i + 1;
  }
  std::sort(paths.begin(), paths.end());
  paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  return paths;
}

uint64_t SshHost::free_bytes(const std::string& path) {
  LIBSSH2_SFTP* sftp = impl_->sftp();
  LIBSSH2_SFTP_STATVFS st{};
  long long rc = impl_->session.call(
      [&] { return libssh2_sftp_statvfs(sftp, path.c_str(), path.size(), &st); });
  if (rc != 0) impl_->fail("cannot read the free space of", path, rc);
  return st.f_bavail * st.f_frsize;
}

std::unique_ptr<SshHost> make_ssh_host(const SshOptions& options) {
  return std::make_unique<SshHost>(options);
}

std::unique_ptr<SshHost> connect_ssh(const SshOptions& options) {
  auto host = make_ssh_host(options);
  host->connect();
  return host;
}

}  // namespace cutover::hosts
