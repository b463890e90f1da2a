// A run as its journal tells it: what each step did and where the run stands. Everything that
// looks at past runs (resume, rollback, show, history, status, reports) reads this, never the
// raw records.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cutover::executor {

using nlohmann::json;

struct StepRecord {
  std::string id;
  std::string type;
  std::string on;
  size_t index = 0;
  bool check = false;
  bool rollback_none = false;
  json params;        // `with` as resolved, secrets as ${secrets.X} references
  json checkpoint;    // what undo needs
  json fingerprint;   // taken at checkpoint time
  bool checkpointed = false;
  bool applying = false;   // step.apply recorded: the step may have changed something
  bool done = false;
  bool failed = false;
  bool undoing = false;
  bool undone = false;
  bool undo_failed = false;
  json outputs = json::object();  // redacted
  std::string error;
  std::string hint;
  std::string undo_error;
  double seconds = 0;
  double undo_seconds = 0;
  std::string started;
  std::string from_run;  // rollback --to: the release run this step was adopted from
};

struct RunSummary {
  std::string run_id;
  std::string plan_name;
  std::string kind = "apply";    // apply | rollback
  std::string status;            // running | interrupted | succeeded | rolled_back |
                                 // rollback_incomplete | failed
  bool ended = false;
  std::string started;
  std::string ended_at;
  double seconds = 0;
  json start;                    // the run.start record
  json end;                      // the run.end record (null while not ended)
  std::vector<StepRecord> steps; // in plan order, as far as the run got
  std::string warning;           // torn journal tail, if any
  bool rehearsed = false;

  /// The step with this id, or nullptr.
  StepRecord* find(const std::string& id);
  /// True when the run ended without leaving anything to do.
  bool settled() const { return ended && (status == "succeeded" || status == "rolled_back"); }
};

/// Folds one journal record into the summary.
void apply_record(RunSummary& summary, const json& record);

/// Builds the summary from a journal's records. A run with no run.end is "interrupted"
/// (the caller turns it into "running" when its lock is held).
RunSummary summarize_run(const std::string& run_id, const std::vector<json>& records);

}  // namespace cutover::executor
