// Local subprocesses (Bear's process builder): each child leads its own process group so a
// timeout or interrupt kills everything it started; the result tells exit code, signal,
// timeout and interruption apart.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "util/cancel.h"

namespace cutover::util {

struct ProcessSpec {
  std::vector<std::string> argv;               // argv[0] looked up in PATH
  std::string cwd;                             // empty: inherit
  std::map<std::string, std::string> env;      // added to (or overriding) the environment
  std::vector<std::string> env_remove;         // removed from the environment
  std::string stdin_data;                      // written to stdin, then closed
  /// When set, stdin is fed from this reader until it returns 0 (streams large inputs).
  std::function<size_t(char* buf, size_t cap)> stdin_reader;
  /// When set, stdout is streamed here instead of being captured.
  std::function<void(const char* data, size_t len)> on_stdout;
  /// When set, stderr is streamed here as well as captured.
  std::function<void(const char* data, size_t len)> on_stderr;
  Deadline deadline;
  bool honour_interrupt = true;  // kill the child when SIGINT/SIGTERM arrives
  size_t capture_limit = 16u << 20;  // bytes kept of each captured stream (the tail is dropped)
};

struct ProcessResult {
  int exit_code = -1;     // valid when signal == 0
  int signal = 0;         // the signal that ended the child
  bool timed_out = false;
  bool interrupted = false;
  bool spawn_failed = false;
  std::string out;
  std::string err;

  bool ok() const { return !spawn_failed && !timed_out && !interrupted && signal == 0 && exit_code == 0; }
  /// "exit 1", "killed by signal 9", "timed out", "interrupted", "could not start".
  std::string describe() const;
};

/// Runs a process to completion. Never throws for the child's failure (see ProcessResult);
/// throws Error only when pipes or fork fail.
ProcessResult run_process(const ProcessSpec& spec);

}  // namespace cutover::util
