// The run lock of a plan: <state>/locks/<plan-name>.lock, flock()ed by the run holding it, with
// the holder's identity as JSON inside so that a refused run can name it. The kernel drops an
// flock when its holder dies (even by SIGKILL), so a dead holder never blocks the next run;
// the JSON left behind is only information.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace cutover::checkpoints {

struct LockHolder {
  std::string run_id;
  std::string plan;
  std::string host;
  long pid = 0;
  std::string since;
  std::string describe() const;  // "run R (pid P on H, since T)"
};

class PlanLock {
 public:
  /// Takes the lock of `plan`, waiting up to `timeout`. Returns nullopt when another live run
  /// holds it; `holder` then says who.
  static std::optional<PlanLock> acquire(const std::string& state_dir, const std::string& plan,
                                         const LockHolder& me, std::chrono::milliseconds timeout,
                                         LockHolder* holder);
  PlanLock(PlanLock&& other) noexcept;
  PlanLock& operator=(PlanLock&&) = delete;
  ~PlanLock();

  /// Rewrites the holder info (the run id is known only after the lock is taken).
  void update(const LockHolder& me);

 private:
  PlanLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

/// Locks currently held by a live process in this state folder.
std::vector<LockHolder> held_locks(const std::string& state_dir);

}  // namespace cutover::checkpoints
