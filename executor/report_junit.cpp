// JUnit XML of a run (SPEC §7 `--junit`): one <testsuite> named after the plan, one <testcase>
// per step. CI servers read only a common subset of the JUnit format, so this sticks to it:
// tests/failures/errors/skipped/time on the suite, classname/name/time on each case, a
// <failure message="…"> body holding the error and the hint, <skipped/> for steps the run never
// reached, and the undo status of the step as <system-out>.
#include <cstdio>

#include "executor/report.h"

namespace cutover::executor {

namespace {

using nlohmann::json;

// Escapes text for XML attribute values and character data. Control characters other than
// tab and newline are not allowed in XML 1.0 at all: they become U+FFFD.
std::string xml(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      case '\n': out += "&#10;"; break;
      case '\t': out += "&#9;"; break;
      case '\r': out += "&#13;"; break;
      default:
        if (c < 0x20) out += "\xEF\xBF\xBD";
        else out += static_cast<char>(c);
    }
  }
  return out;
}

// Character data keeps its newlines readable.
std::string xml_text(const std::string& s) {
  std::string e = xml(s);
  std::string out;
  for (size_t i = 0; i < e.size(); ++i) {
    if (e.compare(i, 5, "&#10;") == 0) {
      out += '\n';
      i += 4;
    } else {
      out += e[i];
    }
  }
  return out;
}

std::string secs(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", s < 0 ? 0.0 : s);
  return buf;
}

bool is_failure(const std::string& status) {
  return status == "failed" || status == "undo_failed";
}

bool is_skipped(const std::string& status) { return status == "skipped" || status == "pending"; }

}  // namespace

std::string junit_report(const json& report) {
  const std::string plan = report.value("plan", "");
  const json steps = report.value("steps", json::array());
  int failures = 0, skipped = 0, errors = 0;
  std::string cases;
  for (const auto& st : steps) {
    const std::string status = st.value("status", "");
    // A step that succeeded but whose undo later failed is a failure too: it is what is left.
    std::string undo_status = st.contains("undo") ? st["undo"].value("status", "") : "";
    cases += "    <testcase classname=\"" + xml(plan) + "\" name=\"" + xml(st.value("id", "") + " (" +
             st.value("type", "") + ")") + "\" time=\"" + secs(st.value("seconds", 0.0)) + "\">\n";
    if (is_skipped(status)) {
      ++skipped;
      cases += "      <skipped message=\"not reached\"/>\n";
    } else if (status == "interrupted") {
      // Not a failure of the step: the run was stopped (SIGINT/SIGTERM, crash) while it ran.
      ++errors;
      cases += "      <error message=\"interrupted while the step ran\" type=\"interrupted\"/>\n";
    } else if (is_failure(status) || undo_status == "failed" || !st.value("error", "").empty()) {
      // A failed step that was then undone has status "undone" but keeps its error.
      ++failures;
      std::string message = st.value("error", "");
      if (message.empty() && st.contains("undo")) message = "undo failed: " + st["undo"].value("error", "");
      if (message.empty()) message = "step " + status;
      std::string first_line = message.substr(0, message.find('\n'));
      std::string body = message;
      if (!st.value("hint", "").empty()) body += "\nhint: " + st.value("hint", "");
      cases += "      <failure message=\"" + xml(first_line) + "\" type=\"" + xml(status) + "\">" +
               xml_text(body) + "</failure>\n";
    }
    if (st.contains("undo")) {
      const json& u = st["undo"];
      std::string out = "undo: " + u.value("status", "") + " in " + secs(u.value("seconds", 0.0)) + "s";
      if (!u.value("error", "").empty()) out += "\nundo error: " + u.value("error", "");
      cases += "      <system-out>" + xml_text(out) + "</system-out>\n";
    }
    cases += "    </testcase>\n";
  }
  std::string suite_name = "cutover:" + plan;
  std::string head = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  std::string counts = " tests=\"" + std::to_string(steps.size()) + "\" failures=\"" + std::to_string(failures) +
                       "\" errors=\"" + std::to_string(errors) + "\" skipped=\"" + std::to_string(skipped) +
                       "\" time=\"" + secs(report.value("seconds", 0.0)) + "\"";
  head += "<testsuites name=\"cutover\"" + counts + ">\n";
  head += "  <testsuite name=\"" + xml(suite_name) + "\"" + counts + " timestamp=\"" +
          xml(report.value("started", "")) + "\" id=\"" + xml(report.value("run_id", "")) + "\">\n";
  std::string props = "    <properties>\n";
  props += "      <property name=\"run_id\" value=\"" + xml(report.value("run_id", "")) + "\"/>\n";
  props += "      <property name=\"status\" value=\"" + xml(report.value("status", "")) + "\"/>\n";
  props += "      <property name=\"kind\" value=\"" + xml(report.value("kind", "")) + "\"/>\n";
  const json git = report.value("git", json::object());
  if (git.is_object() && git.contains("commit") && git["commit"].is_string())
    props += "      <property name=\"git_commit\" value=\"" + xml(git["commit"].get<std::string>()) + "\"/>\n";
  props += "    </properties>\n";
  return head + props + cases + "  </testsuite>\n</testsuites>\n";
}

}  // namespace cutover::executor
