// `cutover plan`: what each step would do, with diffs, changing nothing (SPEC §4 "Dry run").
#pragma once

#include <string>

#include "executor/plan.h"
#include "executor/reporter.h"
#include "util/error.h"

namespace cutover::executor {

struct PlanOptions {
  bool no_checks = false;
  bool detailed_exitcode = false;
  std::string out_file;          // --out: save the resolved plan for `apply FILE`
  nlohmann::json load = nlohmann::json::object();  // how the plan was loaded (for --out)
  std::string digest;
  Reporter* reporter = nullptr;
};

/// Shows what apply would do. Returns 0, or 2 with detailed_exitcode when something would
/// change; 1 when a check would fail or a step cannot be planned.
ExitCode dry_run(const Plan& plan, const PlanOptions& opts);

}  // namespace cutover::executor
