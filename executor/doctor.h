// `cutover doctor [PLAN]` (SPEC §7): diagnoses the environment a plan needs without changing
// anything. Each check gives one row — check, status (ok | warn | fail), detail, hint — with
// hints taken from the known-errors base where the detail matches one of its patterns.
// Without a plan only the machine-wide checks run: tools, state folder, lock, runs.
#pragma once

#include <string>
#include <vector>

#include "executor/plan.h"

namespace cutover::executor {

/// One line of the doctor's table.
struct DoctorRow {
  std::string check;   // "tool pg_dump", "database app@127.0.0.1:5432/app", "host new: auth"
  std::string status;  // ok | warn | fail
  std::string detail;  // what was found (redacted)
  std::string hint;    // what to do (empty when nothing)
};

/// What to diagnose.
struct DoctorInput {
  const Plan* plan = nullptr;  // nullptr: machine-wide checks only
  std::string state;           // state folder (or postgresql:// URL)
  int connect_timeout_s = 5;   // per database and host
};

/// Runs every check. Never throws for what it diagnoses (that becomes a fail row); throws
/// only for defects such as an unreadable embedded known-errors base.
std::vector<DoctorRow> run_doctor(const DoctorInput& input);

/// The tools a plan needs on this machine: pg_dump/pg_restore/psql for its pg steps, git for
/// git.checkout, and each local check.command's command (sorted, unique).
std::vector<std::string> tools_needed(const Plan& plan);

/// The full path of an executable found in $PATH (or `name` itself when it holds a '/' and is
/// executable); "" when there is none.
std::string find_executable(const std::string& name);

}  // namespace cutover::executor
