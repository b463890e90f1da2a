// The run lifecycle of SPEC §4: apply, resume, rollback — with the journal, checkpoints,
// verified undo and the lock. Each entry point returns the exit code of SPEC §2.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "executor/plan.h"
#include "executor/reporter.h"
#include "util/error.h"

namespace cutover::executor {

struct RunOptions {
  std::string state_dir = ".cutover";
  bool auto_approve = false;
  bool no_rollback = false;
  bool rehearse = false;
  bool interactive = false;
  std::vector<std::string> tags;             // --tag: attached to the release on success
  std::chrono::milliseconds lock_timeout{0};
  std::string digest;                        // plan digest (computed by the caller)
  nlohmann::json git = nlohmann::json::object();  // repo, commit, tags, dirty
  std::string report_file, junit_file, html_file;
  Reporter* reporter = nullptr;
  /// Before an undo that discards data written since (a database or folder restore), capture
  /// the current state as a fresh artifact and print its id (rollback --to).
  bool safety_snapshots = false;
};

/// Runs a plan; on failure rolls back every completed step, newest first.
ExitCode apply_plan(const Plan& plan, const RunOptions& opts);

/// Continues an interrupted (or --no-rollback failed) run; "" = the newest such run.
ExitCode resume_run(const std::string& run_id, const RunOptions& opts);

/// Undoes an interrupted or failed run from its checkpoints; "" = the newest run that needs
/// attention, or else the latest release.
ExitCode rollback_run(const std::string& run_id, const RunOptions& opts);

/// Undoes every live release of REF's plan after REF, newest first, each from its own
/// checkpoints, as one new run (journaled, locked, resumable with `rollback RUN`). With
/// `dry_run` lists every undo action, marking those that discard data written since.
ExitCode rollback_to(const std::string& ref, bool dry_run, const RunOptions& opts);

}  // namespace cutover::executor
