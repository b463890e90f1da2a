// Two error tiers (STYLE 7): an Error a caller can act on (a step failed: roll back),
// and a Fatal that aborts the command with a given exit code. main() catches once.
#pragma once

#include <stdexcept>
#include <string>

namespace cutover {

/// Exit codes of SPEC §2, mapped in one place (cli/main.cpp).
enum class ExitCode : int {
  ok = 0,
  usage = 1,             // error before anything changed
  changes_pending = 2,   // plan --detailed-exitcode
  rolled_back = 3,       // a step failed; every completed step was rolled back
  needs_attention = 4,   // rollback incomplete or state needs attention
  locked = 5,            // lock held by another run
  interrupted = 130,     // SIGINT/SIGTERM, rolled back cleanly
};

/// A failure the caller can act on: a step failed, a file could not be read, a host refused.
/// `hint` is an optional one-line "what to do" shown under the error.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what, std::string hint = {})
      : std::runtime_error(what), hint_(std::move(hint)) {}
  const std::string& hint() const { return hint_; }

 private:
  std::string hint_;
};

/// Aborts the command: main() prints `cutover: error: WHAT` and exits with `code`.
class Fatal : public std::runtime_error {
 public:
  Fatal(ExitCode code, const std::string& what) : std::runtime_error(what), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

/// Thrown when a run is interrupted (SIGINT/SIGTERM) or a step's deadline passed while
/// a step was running. The executor treats it like a step failure, then exits 130.
class Interrupted : public Error {
 public:
  using Error::Error;
};

}  // namespace cutover
