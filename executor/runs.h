// Reading past runs from the state folder.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "checkpoints/state.h"
#include "executor/run_summary.h"

namespace cutover::executor {

/// The summary of a run from its journal. Throws checkpoints::JournalCorrupt or Error.
/// A run without run.end whose plan lock is held shows as "running".
RunSummary load_run(checkpoints::StateStore& state, const std::string& run_id);

/// Runs that need attention (interrupted, failed, rollback_incomplete), newest first;
/// for one plan when `plan` is not empty. Damaged journals count, with status "corrupt".
std::vector<RunSummary> runs_needing_attention(checkpoints::StateStore& state, const std::string& plan = "");

/// Resolves a run id prefix ("20261124T0011") to one run id; throws Fatal(usage) when none
/// or several match.
std::string find_run(checkpoints::StateStore& state, const std::string& prefix);

}  // namespace cutover::executor
