// The run lock of a plan: <state>/locks/<plan-name>.lock, flock()ed by the run holding it, with
// the holder's identity as JSON inside so that a refused run can name it. The kernel drops an
// flock when its holder dies (even by SIGKILL), so a dead holder never blocks the next run;
// the JSON left behind is only information.
//
// The store lock, <state>/gc.lock, guards the artifact store as a whole: every PlanLock holds
// it shared, and `cutover gc` holds it exclusively (its holder JSON inside). A run writes an
// artifact before the journal record naming it, so while any run is active an artifact may be
// referenced by nothing yet; gc therefore decides and removes only while no run is active, and
// a run does not start while gc is removing.
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

/// Whether PlanLock::acquire also takes the store lock (shared). Only gc, which already holds
/// it exclusively, takes plan locks without it.
enum class StoreLocking { shared, held_exclusively };

class PlanLock {
 public:
  /// Takes the lock of `plan` (and the store lock, shared), waiting up to `timeout`. Returns
  /// nullopt when another live run holds it, or `cutover gc` holds the store; `holder` then
  /// says who.
  static std::optional<PlanLock> acquire(const std::string& state_dir, const std::string& plan,
                                         const LockHolder& me, std::chrono::milliseconds timeout,
                                         LockHolder* holder,
                                         StoreLocking store = StoreLocking::shared);
  PlanLock(PlanLock&& other) noexcept;
  PlanLock& operator=(PlanLock&&) = delete;
  ~PlanLock();

  /// Rewrites the holder info (the run id is known only after the lock is taken).
  void update(const LockHolder& me);

 private:
  PlanLock(int fd, std::string path, int store_fd) : fd_(fd), path_(std::move(path)), store_fd_(store_fd) {}
  int fd_ = -1;
  std::string path_;
  int store_fd_ = -1;  // the store lock, held shared (-1 when not taken)
};

/// The store lock held exclusively (cutover gc); released on destruction.
class StoreLock {
 public:
  /// Takes <state_dir>/gc.lock exclusively, waiting up to `timeout`; nullopt while any run
  /// holds a plan lock (then held_locks() names them). Writes `me` into it.
  static std::optional<StoreLock> acquire_exclusive(const std::string& state_dir, const LockHolder& me,
                                                    std::chrono::milliseconds timeout);
  StoreLock(StoreLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  StoreLock& operator=(StoreLock&&) = delete;
  ~StoreLock();

 private:
  explicit StoreLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

/// Locks currently held by a live process in this state folder.
std::vector<LockHolder> held_locks(const std::string& state_dir);

}  // namespace cutover::checkpoints
