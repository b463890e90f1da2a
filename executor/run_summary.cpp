#include "executor/run_summary.h"

namespace cutover::executor {

StepRecord* RunSummary::find(const std::string& id) {
  for (auto& s : steps)
    if (s.id == id) return &s;
  return nullptr;
}

void apply_record(RunSummary& rs, const json& r) {
  {
    const std::string ev = r.value("event", "");
    const std::string id = r.value("step", "");
    auto step = [&]() -> StepRecord& {
      if (StepRecord* s = rs.find(id)) return *s;
      StepRecord s;
      s.id = id;
      rs.steps.push_back(s);
      return rs.steps.back();
    };
    if (ev == "run.start") {
      rs.start = r;
      rs.plan_name = r.value("plan", "");
      rs.kind = r.value("kind", "apply");
      rs.started = r.value("ts", "");
    } else if (ev == "step.checkpoint" || (ev == "step.apply" && !rs.find(id))) {
      // A new checkpoint starts the step afresh (resume, or the second pass of --rehearse).
      StepRecord& s = step();
      StepRecord fresh;
      fresh.id = id;
      fresh.type = r.value("type", "");
      fresh.on = r.value("on", "");
      fresh.index = r.value("index", 0);
      fresh.check = r.value("check", false);
      fresh.rollback_none = r.value("rollback", "auto") == "none";
      fresh.params = r.value("params", json::object());
      fresh.checkpoint = r.value("checkpoint", json());
      fresh.fingerprint = r.value("fingerprint", json());
      fresh.checkpointed = ev == "step.checkpoint";
      fresh.started = r.value("ts", "");
      fresh.from_run = r.value("from_run", "");
      s = fresh;
      if (ev == "step.apply") s.applying = true;
    } else if (ev == "step.apply") {
      StepRecord& s = step();
      s.applying = true;
      s.done = s.failed = s.undone = s.undo_failed = s.undoing = false;
      if (r.contains("params")) s.params = r["params"];
      if (r.contains("check")) s.check = r.value("check", false);
      if (r.contains("type")) s.type = r.value("type", "");
      if (r.contains("index")) s.index = r.value("index", 0);
    } else if (ev == "step.done") {
      StepRecord& s = step();
      s.done = true;
      s.failed = false;
      s.outputs = r.value("outputs", json::object());
      s.seconds = r.value("seconds", 0.0);
    } else if (ev == "step.fail") {
      StepRecord& s = step();
      s.failed = true;
      s.error = r.value("error", "");
      s.hint = r.value("hint", "");
      s.seconds = r.value("seconds", 0.0);
    } else if (ev == "step.undo") {
      StepRecord& s = step();
      s.undoing = true;
    } else if (ev == "step.undone") {
      StepRecord& s = step();
      s.undone = true;
      s.undo_failed = false;
      s.undo_seconds = r.value("seconds", 0.0);
    } else if (ev == "step.undo_fail") {
      StepRecord& s = step();
      s.undo_failed = true;
      s.undo_error = r.value("error", "");
    } else if (ev == "rehearsal.verified") {
      rs.rehearsed = true;
      // The forward pass that follows starts every step afresh.
    } else if (ev == "run.resume") {
      rs.ended = false;
      rs.status = "interrupted";
    } else if (ev == "run.end") {
      rs.ended = true;
      rs.end = r;
      rs.status = r.value("status", "");
      rs.ended_at = r.value("ts", "");
      rs.seconds = r.value("seconds", 0.0);
    }
  }
}

RunSummary summarize_run(const std::string& run_id, const std::vector<json>& records) {
  RunSummary rs;
  rs.run_id = run_id;
  rs.status = "interrupted";
  for (const auto& r : records) apply_record(rs, r);
  return rs;
}

}  // namespace cutover::executor
