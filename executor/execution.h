// One run in progress: the forward pass and the rollback, journaled record by record.
// Internal to the executor (runner.cpp builds it).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "checkpoints/journal.h"
#include "checkpoints/lock.h"
#include "checkpoints/state.h"
#include "executor/run_env.h"
#include "executor/run_summary.h"
#include "executor/runner.h"

namespace cutover::executor {

enum class PassResult { ok, failed, interrupted };

class Execution {
 public:
  Execution(const Plan& plan, const RunOptions& opts, checkpoints::StateStore& state,
            std::string run_id, RunEnv& env);

  /// Creates the run folder, writes plan.json and the run.start record.
  void start(const std::string& kind, const nlohmann::json& extra = nlohmann::json::object());
  /// Re-opens an existing run's journal (resume / rollback of an interrupted run).
  void reopen(const RunSummary& summary);

  /// Runs steps [from, end). Records step.* events; stops at the first failure.
  PassResult forward(size_t from);
  /// Undoes, newest first, every step of the summary that may have changed something and is
  /// not undone yet. Returns false when an undo failed or could not be verified.
  bool rollback();

  /// Writes run.end (and the release on success), the reports; returns the exit code.
  ExitCode finish(const std::string& status, ExitCode code);

  /// Copies a step of an earlier run (its params, checkpoint and fingerprint) into this run's
  /// journal under `id`, as applied: rollback() will then undo it (rollback --to).
  void adopt(const StepRecord& step, const std::string& id, const std::string& from_run);

  /// Journals a record and shows it.
  nlohmann::json record(nlohmann::json rec);
  /// Journals several records durably together (one fsync), and shows them.
  void record_all(std::vector<nlohmann::json> recs);

  RunSummary& summary() { return summary_; }
  const std::string& run_id() const { return run_id_; }
  const std::string& run_dir() const { return run_dir_; }
  std::map<std::string, nlohmann::json>& outputs() { return outputs_; }
  std::string failure;  // the error that stopped the forward pass

 private:
  steps::Context context(hosts::Host& host, util::Deadline deadline);
  /// Renders template text against the run's scope (vars, secrets, earlier outputs).
  std::string render(const std::string& text);
  PassResult run_step(const StepSpec& spec, const StepRecord* resumed);
  bool undo_step(StepRecord& rec);
  void log(const std::string& line);

  const Plan& plan_;
  const RunOptions& opts_;
  checkpoints::StateStore& state_;
  std::string run_id_, run_dir_;
  RunEnv& env_;
  std::unique_ptr<checkpoints::JournalWriter> journal_;
  RunSummary summary_;
  std::map<std::string, nlohmann::json> outputs_;
  steps::RunInfo info_;
  std::chrono::steady_clock::time_point started_;
  FILE* log_ = nullptr;
  nlohmann::json last_record_;
};

}  // namespace cutover::executor
