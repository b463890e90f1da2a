// Placeholder: built with the executor.
#include "steps/plugin_step.h"

#include "util/error.h"

namespace cutover::steps {

std::unique_ptr<Step> make_plugin_step(const StepConfig& config, const std::string& path) {
  throw Error("external step plugins are not built yet: " + path);
}

}  // namespace cutover::steps
