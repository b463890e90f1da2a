#include "executor/hints.h"

#include "executor/known_errors.h"

namespace cutover::executor {

std::string hint_for(const std::string& error) {
  std::string out;
  try {
    for (const auto& h : match_known_errors(error)) {
      if (!out.empty()) out += "\n";
      out += h.cause + " — " + h.fix;
    }
  } catch (const std::exception&) {
    // A malformed embedded base is a build defect caught by the unit tests; a failing run
    // still reports its own error.
  }
  return out;
}

}  // namespace cutover::executor
