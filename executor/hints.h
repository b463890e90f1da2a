// Hints for failures: the known-errors base (data/known_errors.yaml) matched against an
// error text.
#pragma once

#include <string>

namespace cutover::executor {

/// "cause — what to run" lines of every known error matching `error`, or "".
std::string hint_for(const std::string& error);

}  // namespace cutover::executor
