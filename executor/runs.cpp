#include "executor/runs.h"

#include "checkpoints/journal.h"
#include "checkpoints/lock.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace cutover::executor {

RunSummary load_run(checkpoints::StateStore& state, const std::string& run_id) {
  std::string path = state.run_dir(run_id) + "/journal.jsonl";
  if (!util::exists(path)) throw Error("run " + run_id + " has no journal (" + path + ")");
  auto jc = checkpoints::read_journal(path);
  RunSummary rs = summarize_run(run_id, jc.records);
  rs.warning = jc.warning;
  if (!rs.ended) {
    for (const auto& h : checkpoints::held_locks(state.root()))
      if (h.run_id == run_id) rs.status = "running";
  }
  return rs;
}

std::vector<RunSummary> runs_needing_attention(checkpoints::StateStore& state, const std::string& plan) {
  std::vector<RunSummary> out;
  auto ids = state.run_ids();
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    RunSummary rs;
    try {
      rs = load_run(state, *it);
    } catch (const checkpoints::JournalCorrupt& e) {
      rs.run_id = *it;
      rs.status = "corrupt";
      rs.warning = e.what();
      if (plan.empty()) out.push_back(rs);
      continue;
    } catch (const Error&) {
      continue;
    }
    if (!plan.empty() && rs.plan_name != plan) continue;
    if (rs.status == "interrupted" || rs.status == "failed" || rs.status == "rollback_incomplete")
      out.push_back(rs);
  }
  return out;
}

std::string find_run(checkpoints::StateStore& state, const std::string& prefix) {
  std::vector<std::string> hits;
  for (const auto& id : state.run_ids())
    if (util::starts_with(id, prefix)) hits.push_back(id);
  if (hits.size() == 1) return hits[0];
  for (const auto& id : hits)
    if (id == prefix) return id;
  if (hits.empty()) throw Fatal(ExitCode::usage, "no run matches '" + prefix + "' in " + state.root());
  throw Fatal(ExitCode::usage, "'" + prefix + "' matches several runs: " + util::join(hits, ", "));
}

}  // namespace cutover::executor
