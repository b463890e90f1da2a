// The Step plugin interface (STYLE 5). A step is built from its resolved parameters and then
// asked, by the executor, to describe itself (plan), to capture what it needs to undo itself
// (checkpoint), to fingerprint what it touches, to apply, and to undo. Steps get a narrow
// Context and never reach into the executor.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "util/cancel.h"

namespace cutover::checkpoints {
class ArtifactStore;
}
namespace cutover::hosts {
class Host;
}

namespace cutover::steps {

using nlohmann::json;

/// Facts about the run a step may use (never the executor's internals).
struct RunInfo {
  std::string run_id;
  std::string run_dir;    // scratch folder for this run (${run.dir}); private (0700)
  std::string plan_name;
  std::string plan_dir;   // folder of the plan file: relative paths are resolved against it
  std::string state_dir;
  bool auto_approve = false;
  bool interactive = false;  // stdin and stderr are terminals
};

/// Where long steps report progress (bytes done, total when known: 0 = unknown).
class Progress {
 public:
  virtual ~Progress() = default;
  virtual void update(uint64_t done, uint64_t total, const std::string& what) = 0;
};

/// What a step gets from the executor.
struct Context {
  hosts::Host& host;                      // the step's host: local, or its `on:` host
  checkpoints::ArtifactStore& artifacts;
  const RunInfo& run;
  Progress& progress;
  util::Deadline deadline;                // the step's timeout; honour it with interrupted()
  /// Looks up another host by plan name ("local" = this machine); throws Error if unknown.
  std::function<hosts::Host&(const std::string&)> host_by_name;
  /// Writes a line to the run log (redacted by the executor).
  std::function<void(const std::string&)> log;
  /// Renders a template's text (substitutes its `${…}` references, as in the plan); throws
  /// Error on an unknown reference. Empty = no rendering: the text is used as it is.
  std::function<std::string(const std::string&)> render;
  /// Reads a file the plan names (a template, a source, an SQL file; absolute or relative to
  /// the plan folder) as frozen when the run started, so that --rev, resume and rollback see
  /// the bytes the run saw. Empty = this machine's file system (steps/plan_input.h).
  std::function<std::string(const std::string& path)> read_input;
};

/// Result of plan(): what apply would do, without doing it.
struct Preview {
  bool changes = false;     // would apply change anything?
  std::string summary;      // one line: "write /etc/app.conf (12 lines changed)"
  std::string detail;       // unified diff, command line, SQL, current -> wanted state
  json outputs = json::object();  // outputs known before apply
};

/// One step of a plan. Every method may throw cutover::Error (the step failed; the message
/// names the resource) or cutover::Interrupted.
class Step {
 public:
  virtual ~Step() = default;

  /// Describes what apply would do; changes nothing. Checks run here (they are read-only).
  virtual Preview plan(Context& ctx) = 0;

  /// Captures all that undo needs (prior bytes, modes, state, a dump...), storing large data
  /// as artifacts (durable before this returns). Returns JSON kept in the journal. Must not
  /// change anything. Checks return null.
  virtual json checkpoint(Context& ctx) { return nullptr; }

  /// A fingerprint of every resource the step touches, as {resource: value}. Taken at
  /// checkpoint time and again after undo: a difference is an unverified undo. null = none.
  virtual json fingerprint(Context& ctx) { return nullptr; }

  /// Makes the change; returns the step's outputs (a JSON object).
  virtual json apply(Context& ctx, const json& checkpoint) = 0;

  /// Undoes apply from the checkpoint. Must be safe when apply was partial or never ran,
  /// and idempotent. Checks do nothing.
  virtual void undo(Context& ctx, const json& checkpoint) {}
};

}  // namespace cutover::steps
