#include "checkpoints/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "util/error.h"
#include "util/fs.h"

namespace cutover::checkpoints {
namespace {

LockHolder parse_holder(const std::string& text) {
  LockHolder h;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return h;
  h.run_id = j.value("run_id", "");
  h.plan = j.value("plan", "");
  h.host = j.value("host", "");
  h.pid = j.value("pid", 0L);
  h.since = j.value("since", "");
  return h;
}

void write_holder(int fd, const LockHolder& me) {
  nlohmann::json j = {{"run_id", me.run_id}, {"plan", me.plan}, {"host", me.host},
                      {"pid", me.pid},       {"since", me.since}};
  std::string text = j.dump() + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) < 0)
    throw Error(std::string("cannot write lock holder: ") + std::strerror(errno));
  ::fdatasync(fd);
}

std::string read_fd(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  off_t off = 0;
  while ((n = ::pread(fd, buf, sizeof buf, off)) > 0) {
    out.append(buf, static_cast<size_t>(n));
    off += n;
  }
  return out;
}

int open_lock_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw Error("cannot open lock " + path + ": " + std::strerror(errno));
  return fd;
}

// flock(fd, op) polled until `until`; false when still held by someone else then.
bool wait_for_flock(int fd, int op, std::chrono::steady_clock::time_point until, const std::string& path) {
  for (;;) {
    if (::flock(fd, op | LOCK_NB) == 0) return true;
    if (errno != EWOULDBLOCK && errno != EINTR)
      throw Error("cannot lock " + path + ": " + std::strerror(errno));
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace

std::string LockHolder::describe() const {
  return "run " + (run_id.empty() ? std::string("(starting)") : run_id) + " (pid " +
         std::to_string(pid) + " on " + host + ", since " + since + ")";
}

std::optional<PlanLock> PlanLock::acquire(const std::string& state_dir, const std::string& plan,
                                          const LockHolder& me, std::chrono::milliseconds timeout,
                                          LockHolder* holder, StoreLocking store) {
  auto until = std::chrono::steady_clock::now() + timeout;
  int store_fd = -1;
  if (store == StoreLocking::shared) {
    store_fd = open_lock_file(state_dir + "/gc.lock");
    if (!wait_for_flock(store_fd, LOCK_SH, until, state_dir + "/gc.lock")) {
      if (holder) *holder = parse_holder(read_fd(store_fd));
      ::close(store_fd);
      return std::nullopt;
    }
  }
  std::string dir = state_dir + "/locks";
  int fd = -1;
  try {
    util::make_dirs(dir, 0700);
    fd = open_lock_file(dir + "/" + plan + ".lock");
    if (wait_for_flock(fd, LOCK_EX, until, dir + "/" + plan + ".lock")) {
      write_holder(fd, me);
      return PlanLock(fd, dir + "/" + plan + ".lock", store_fd);
    }
  } catch (...) {
    if (fd >= 0) ::close(fd);
    if (store_fd >= 0) ::close(store_fd);
    throw;
  }
  if (holder) *holder = parse_holder(read_fd(fd));
  ::close(fd);
  if (store_fd >= 0) ::close(store_fd);
  return std::nullopt;
}

PlanLock::PlanLock(PlanLock&& other) noexcept
    : fd_(other.fd_), path_(std::move(other.path_)), store_fd_(other.store_fd_) {
  other.fd_ = -1;
  other.store_fd_ = -1;
}

PlanLock::~PlanLock() {
  if (fd_ >= 0) {
    ::ftruncate(fd_, 0);
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
  if (store_fd_ >= 0) ::close(store_fd_);  // drops the shared store lock
}

std::optional<StoreLock> StoreLock::acquire_exclusive(const std::string& state_dir, const LockHolder& me,
                                                      std::chrono::milliseconds timeout) {
  std::string path = state_dir + "/gc.lock";
  int fd = open_lock_file(path);
  try {
    if (!wait_for_flock(fd, LOCK_EX, std::chrono::steady_clock::now() + timeout, path)) {
      ::close(fd);
      return std::nullopt;
    }
    write_holder(fd, me);
  } catch (...) {
    ::close(fd);
    throw;
  }
  return StoreLock(fd);
}

StoreLock::~StoreLock() {
  if (fd_ >= 0) {
    ::ftruncate(fd_, 0);
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
}

void PlanLock::update(const LockHolder& me) { write_holder(fd_, me); }

std::vector<LockHolder> held_locks(const std::string& state_dir) {
  std::vector<LockHolder> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(state_dir + "/locks", ec)) {
    int fd = ::open(e.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) out.push_back(parse_holder(read_fd(fd)));
    ::close(fd);
  }
  return out;
}

}  // namespace cutover::checkpoints
