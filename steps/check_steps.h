// Internal to the check family: steps/check_steps.cpp builds the registry entries,
// steps/check_local_steps.cpp holds the local-only ones (check.tcp, wait, confirm).
#pragma once

#include <memory>

#include "steps/registry.h"

namespace cutover::steps {

/// Factories for the local-only checks; each throws Error for bad parameters.
std::unique_ptr<Step> make_check_tcp(const StepConfig& config);
std::unique_ptr<Step> make_wait(const StepConfig& config);
std::unique_ptr<Step> make_confirm(const StepConfig& config);

/// The JSON Schemas of their `with`.
const char* tcp_schema();
const char* wait_schema();
const char* confirm_schema();

}  // namespace cutover::steps
