#include "steps/transfer_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "hosts/ssh_host.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/hash.h"

namespace cutover::steps {
namespace {

constexpr size_t kBlock = 1u << 20;

[[noreturn]] void io_fail(const std::string& what, const std::string& path) {
  throw Error(what + " " + path + ": " + std::strerror(errno));
}

void check_cancel(const util::Deadline& deadline) {
  if (util::interrupted()) throw Interrupted("transfer interrupted");
  if (deadline.expired()) throw Interrupted("transfer timed out");
}

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Feeds bytes [from, from + length) of a local file to `sink`, or up to its end when it is
// shorter; returns how many.
uint64_t read_range(const std::string& path, uint64_t from, uint64_t length,
                    const std::function<void(const char*, size_t)>& sink,
                    const util::Deadline& deadline) {
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) io_fail("cannot open", path);
  ::posix_fadvise(f.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  std::vector<char> buf(kBlock);
  uint64_t total = 0;
  while (total < length) {
    check_cancel(deadline);
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), length - total));
    ssize_t n = ::pread(f.fd, buf.data(), want, static_cast<off_t>(from + total));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) io_fail("cannot read", path);
    if (n == 0) break;
    sink(buf.data(), static_cast<size_t>(n));
    total += static_cast<uint64_t>(n);
  }
  return total;
}

class LocalEndpoint final : public Endpoint {
 public:
  explicit LocalEndpoint(hosts::Host& host) : host_(host) {}
  hosts::Host& host() override { return host_; }
  bool local() const override { return true; }

  uint64_t read(const std::string& path, uint64_t offset,
                const std::function<void(const char*, size_t)>& sink,
                const util::Deadline& deadline) override {
    return read_range(path, offset, UINT64_MAX, sink, deadline);
  }

  uint64_t write(const std::string& path, uint64_t offset, uint32_t mode,
                 const std::function<size_t(char*, size_t)>& source,
                 const util::Deadline& deadline, std::string*) override {
    LocalFileWriter w(path, offset);
    std::vector<char> buf(kBlock);
    uint64_t total = 0;
    while (true) {
      check_cancel(deadline);
      size_t n = source(buf.data(), buf.size());
      if (n == 0) break;
      w.write(buf.data(), n);
      total += n;
    }
    w.finish(mode);
    return total;
  }

  std::string prefix_sha256(const std::string& path, uint64_t length,
                            util::Sha256* also) override {
    util::Sha256 h;
    read_range(path, 0, length,
               [&](const char* p, size_t n) {
                 h.update(p, n);
                 if (also) also->update(p, n);
               },
               {});
    return h.hex();
  }

  std::string sha256(const std::string& path, uint64_t) override { return host_.sha256(path); }

 private:
  hosts::Host& host_;
};

class SshEndpoint final : public Endpoint {
 public:
  explicit SshEndpoint(hosts::SshHost& host) : host_(host) {}
  hosts::Host& host() override { return host_; }
  bool local() const override { return false; }

  uint64_t read(const std::string& path, uint64_t offset,
                const std::function<void(const char*, size_t)>& sink,
                const util::Deadline& deadline) override {
    return host_.download(path, offset, sink, deadline);
  }

  uint64_t write(const std::string& path, uint64_t offset, uint32_t mode,
                 const std::function<size_t(char*, size_t)>& source,
                 const util::Deadline& deadline, std::string* landed) override {
    return host_.upload(path, offset, mode, source, deadline, landed);
  }

  std::string prefix_sha256(const std::string& path, uint64_t length, util::Sha256*) override {
    return host_.sha256_prefix(path, length);
  }

  std::string sha256(const std::string& path, uint64_t size) override {
    return host_.sha256(path, size);
  }

 private:
  hosts::SshHost& host_;
};

}  // namespace

LocalFileWriter::LocalFileWriter(std::string path, uint64_t offset)
    : path_(std::move(path)), pos_(offset) {
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (offset == 0 ? O_TRUNC : 0);
  fd_ = ::open(path_.c_str(), flags, 0600);
  if (fd_ < 0) io_fail("cannot open for writing", path_);
  if (offset && ::ftruncate(fd_, static_cast<off_t>(offset)) != 0) io_fail("cannot truncate", path_);
}

LocalFileWriter::~LocalFileWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void LocalFileWriter::write(const char* data, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t w = ::pwrite(fd_, data + done, len - done, static_cast<off_t>(pos_ + done));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) io_fail("cannot write", path_);
    done += static_cast<size_t>(w);
  }
  pos_ += len;
}

void LocalFileWriter::finish(uint32_t mode) {
  if (::fchmod(fd_, mode & 07777) != 0) io_fail("cannot chmod", path_);
  if (::fsync(fd_) != 0) io_fail("cannot fsync", path_);
  ::close(fd_);
  fd_ = -1;
  util::fsync_dir(util::dirname(path_));
}

uint64_t hash_local_from(const std::string& path, uint64_t from, util::Sha256& into) {
  return read_range(path, from, UINT64_MAX,
                    [&](const char* p, size_t n) { into.update(p, n); }, {});
}

std::unique_ptr<Endpoint> make_endpoint(hosts::Host& host) {
  if (auto* ssh = dynamic_cast<hosts::SshHost*>(&host)) return std::make_unique<SshEndpoint>(*ssh);
  if (host.is_local()) return std::make_unique<LocalEndpoint>(host);
  throw Error("transfer: host " + host.name() + " is neither local nor an SSH host");
}

Operand parse_operand(const std::string& text) {
  size_t colon = text.find(':');
  size_t slash = text.find('/');
  if (colon == std::string::npos || colon == 0 || (slash != std::string::npos && slash < colon))
    return {"", text};
  return {text.substr(0, colon), text.substr(colon + 1)};
}

}  // namespace cutover::steps
