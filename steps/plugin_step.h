// Adapter for external step plugins (SPEC §5, docs/plugins.md): a step type with no built-in
// is served by an executable `cutover-step-<type>`, called as `cutover-step-<type> ACTION`
// with the request as JSON on stdin and the answer as JSON on stdout (steps/plugin_call.h).
#pragma once

#include <memory>
#include <string>

#include "steps/registry.h"

namespace cutover::steps {

/// A Step that calls the plugin executable at `path` for each action: plan, checkpoint (its
/// answer's `fingerprint`, if any, makes the undo verified), apply and undo. Plugins run on
/// this machine, in the plan's folder, within the step's deadline.
std::unique_ptr<Step> make_plugin_step(const StepConfig& config, const std::string& path);

/// What validation knows of a plugin type before anything runs: its `schema` answer as a
/// StepType (summary, undo, params_schema, secret_params; local only, checkpoints and undoes
/// itself, not resumable, `make` unset). Calls `<path> schema` once, in `plan_dir`, for at
/// most 30 seconds. Throws Error naming the plugin's path when the call fails or the answer
/// is malformed.
StepType plugin_step_type(const std::string& type, const std::string& path,
                          const std::string& plan_dir);

}  // namespace cutover::steps
