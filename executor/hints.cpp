#include "executor/hints.h"

namespace cutover::executor {

// Wired to the known-errors base once executor/known_errors.h exists.
std::string hint_for(const std::string& error) { return ""; }

}  // namespace cutover::executor
