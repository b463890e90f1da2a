#include "executor/plan.h"

namespace cutover::executor {

std::string Diagnostic::str() const {
  std::string out = file;
  if (loc.line > 0) out += ":" + std::to_string(loc.line) + ":" + std::to_string(loc.col);
  out += ": ";
  if (!path.empty()) out += path + ": ";
  return out + message;
}

namespace {
std::string summary(const std::vector<Diagnostic>& d) {
  std::string out;
  for (const auto& x : d) {
    if (!out.empty()) out += '\n';
    out += x.str();
  }
  return out.empty() ? "invalid plan" : out;
}
}  // namespace

PlanInvalid::PlanInvalid(std::vector<Diagnostic> d)
    : std::runtime_error(summary(d)), diagnostics(std::move(d)) {}

}  // namespace cutover::executor
