// Loading the plan for a command: from the work tree, a saved plan (`plan --out`), or git at
// --rev; printing every diagnostic when it is invalid.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "cli/options.h"
#include "executor/plan.h"

namespace cutover::cli {

struct LoadedPlan {
  executor::Plan plan;
  std::string digest;
  nlohmann::json load;                             // how it was loaded (for plan --out)
  nlohmann::json git = nlohmann::json::object();   // repo, commit, tags, dirty
};

/// Loads and validates the plan named by the options. On invalid plans prints the
/// diagnostics to stderr and throws PlanInvalid; a saved plan whose inputs changed since
/// throws Fatal(usage).
LoadedPlan load_for_command(const Options& o);

}  // namespace cutover::cli
