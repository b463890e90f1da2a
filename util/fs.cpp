#include "util/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>

#include "util/error.h"

namespace cutover::util {
namespace {

std::string errno_text(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

std::string random_suffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s;
  for (int i = 0; i < 10; ++i) s += kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
  return s;
}

}  // namespace

AtomicFile::AtomicFile(std::string path, mode_t mode) : path_(std::move(path)) {
  temp_ = dirname(path_) + "/." + basename(path_) + ".tmp-" + random_suffix();
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd_ < 0) throw Error(errno_text("cannot create", temp_));
  // The umask may have narrowed the mode: set it exactly.
  if (::fchmod(fd_, mode) != 0) throw Error(errno_text("cannot chmod", temp_));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(temp_.c_str());
  }
}

void AtomicFile::write(const void* data, size_t len) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t n = ::write(fd_, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(errno_text("cannot write", temp_));
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
}

void AtomicFile::commit() {
  if (::fsync(fd_) != 0) throw Error(errno_text("cannot fsync", temp_));
  if (::close(fd_) != 0) {
    fd_ = -1;
    ::unlink(temp_.c_str());
    throw Error(errno_text("cannot close", temp_));
  }
  fd_ = -1;
  if (::rename(temp_.c_str(), path_.c_str()) != 0) {
    int saved = errno;
    ::unlink(temp_.c_str());
    errno = saved;
    throw Error(errno_text("cannot rename over", path_));
  }
  fsync_dir(dirname(path_));
}

std::string read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(errno_text("cannot read", path));
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int saved = errno;
      ::close(fd);
      errno = saved;
      throw Error(errno_text("cannot read", path));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

void write_file_atomic(const std::string& path, const std::string& data, mode_t mode) {
  AtomicFile f(path, mode);
  f.write(data);
  f.commit();
}

void fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw Error(errno_text("cannot open folder", dir));
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  errno = saved;
  if (rc != 0) throw Error(errno_text("cannot fsync folder", dir));
}

void make_dirs(const std::string& dir, mode_t mode) {
  if (dir.empty()) return;
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) throw Error("not a folder: " + dir);
    return;
  }
  std::string parent = dirname(dir);
  if (parent != dir && parent != "." && parent != "/") make_dirs(parent, mode);
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) throw Error(errno_text("cannot create folder", dir));
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::string dirname(const std::string& path) {
  auto pos = path.find_last_of('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

std::string basename(const std::string& path) {
  auto pos = path.find_last_of('/');
  return pos == std::string::npos ? path : path.substr(pos + 1);
}

std::string expand_home(const std::string& path) {
  if (path == "~" || path.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    return std::string(home ? home : "") + path.substr(1);
  }
  return path;
}

std::string join_path(const std::string& base, const std::string& rel) {
  std::string r = expand_home(rel);
  if (r.empty() || r[0] == '/') return r;
  if (base.empty() || base == ".") return r;
  return base.back() == '/' ? base + r : base + "/" + r;
}

void remove_all(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) throw Error("cannot remove " + path + ": " + ec.message());
}

std::string make_temp_dir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  // A prefix with a '/' names the folder to create it in, absolute or relative to the working
  // folder (same filesystem as a later rename); a bare name goes under $TMPDIR.
  std::string templ = prefix.find('/') != std::string::npos
                          ? prefix + "XXXXXX"
                          : std::string(tmp && *tmp ? tmp : "/tmp") + "/" + prefix + "XXXXXX";
  if (!::mkdtemp(templ.data())) throw Error(errno_text("cannot create temp folder", templ));
  return templ;
}

}  // namespace cutover::util
