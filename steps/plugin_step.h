// Adapter for external step plugins (SPEC §5): `cutover-step-<type> ACTION` with the request
// as JSON on stdin and the answer as JSON on stdout.
#pragma once

#include <memory>
#include <string>

#include "steps/registry.h"

namespace cutover::steps {

/// A Step that calls the plugin executable at `path` for each action.
std::unique_ptr<Step> make_plugin_step(const StepConfig& config, const std::string& path);

}  // namespace cutover::steps
