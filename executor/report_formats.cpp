// Placeholder renderers; the full JUnit and HTML reports come with issue 6.
#include "executor/report.h"

namespace cutover::executor {

std::string junit_report(const nlohmann::json& report) { return "<testsuites/>\n"; }

std::string html_report(const nlohmann::json& report) {
  return "<!doctype html><title>cutover run</title><pre>" + report.dump(2) + "</pre>\n";
}

}  // namespace cutover::executor
