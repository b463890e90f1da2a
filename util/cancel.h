// Cancellation: SIGINT/SIGTERM set a process-wide flag; long operations poll it.
#pragma once

#include <atomic>
#include <chrono>

namespace cutover::util {

/// Installs SIGINT/SIGTERM handlers that set the interrupt flag (idempotent).
void install_signal_handlers();

/// True once SIGINT or SIGTERM was received.
bool interrupted();

/// The signal that interrupted the run (0 when none).
int interrupt_signal();

/// Clears the interrupt flag so that rollback can run its own subprocesses. A second signal
/// during rollback sets it again; the executor ignores it until the rollback is over.
void clear_interrupt();

/// While deferred (during a rollback), interrupted() reports false: a second Ctrl-C must not
/// stop an undo halfway. The signal is still remembered and reported afterwards.
void defer_interrupts(bool on);

/// A deadline plus the global interrupt flag: what a running step must honour.
struct Deadline {
  std::chrono::steady_clock::time_point at = std::chrono::steady_clock::time_point::max();

  static Deadline after(std::chrono::milliseconds d);
  bool expired() const { return std::chrono::steady_clock::now() >= at; }
  /// Milliseconds left, clamped to [0, cap].
  long long remaining_ms(long long cap = 1LL << 40) const;
};

}  // namespace cutover::util
