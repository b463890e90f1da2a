// The one table of step types (STYLE 4). `cutover steps`, the "did you mean" suggestion,
// the plan schema, validation and docs all read it. Each step family (steps/<family>.cpp)
// contributes its entries through a function declared in steps/families.h.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "steps/step.h"

namespace cutover::steps {

/// What the executor knows of a step before building it.
struct StepConfig {
  std::string id;
  std::string type;
  std::string on;      // host name; empty = local
  json params;         // `with`, fully interpolated (real secret values)
};

enum class Kind {
  check,    // read-only: no checkpoint, no undo
  change,   // checkpoints and undoes itself
};

enum class Resume {
  yes,                 // an interrupted apply may be applied again
  no,                  // resume refuses; rollback is the way out
  if_idempotent,       // only with with.idempotent: true (shell)
};

struct StepType {
  std::string name;           // "file.write"
  std::string summary;        // one line for `cutover steps`
  std::string undo;           // one line: what checkpoint captures and undo does
  std::string outputs;        // one line: "sha256: ...; bytes: ..."
  std::string params_schema;  // JSON Schema (draft 7) of `with`, with a "description" per property
  Kind kind = Kind::change;
  bool remote = false;        // ⇄: accepts `on: HOST`
  Resume resume = Resume::no;
  /// For types with no undo of their own: the `with` key that supplies one ("undo" for shell,
  /// "down" for pg.sql). Validation requires it unless `rollback: none`.
  std::string undo_param;
  /// `with` keys whose values are secrets and must be written as ${secrets.NAME}.
  std::vector<std::string> secret_params;
  /// `with` keys whose string values are shell command lines: substitutions in them are
  /// inserted shell-quoted (SPEC §3).
  std::vector<std::string> shell_params;
  /// Marks whose rollback discards data written since (restores a DB or folder): listed by
  /// `rollback --to --dry-run` and confirmed first.
  bool undo_discards_data = false;
  std::unique_ptr<Step> (*make)(const StepConfig& config) = nullptr;
};

/// Every built-in step type, sorted by name.
const std::vector<StepType>& registry();

/// The built-in type called `name`, or nullptr.
const StepType* find_step_type(const std::string& name);

/// The output keys a type's `outputs` line names ("key: text; key; ..."; "none": it has no
/// outputs), or nullopt when the line is not such a list (a plugin answers what it likes).
/// Plans are checked against it: ${steps.ID.outputs.KEY} must name one of these.
std::optional<std::vector<std::string>> declared_outputs(const StepType& type);

/// The external plugin executable for `type` (`cutover-step-<type>` in <plan_dir>/plugins/,
/// then $PATH), or "" if none.
std::string find_plugin(const std::string& type, const std::string& plan_dir);

/// Builds a step: built-in, or the external plugin adapter. Throws Error for an unknown type.
std::unique_ptr<Step> make_step(const StepConfig& config, const std::string& plan_dir);

}  // namespace cutover::steps
