#include "executor/report.h"

#include <functional>

#include "util/fs.h"
#include "util/redact.h"

namespace cutover::executor {

using nlohmann::json;

namespace {

std::string step_status(const StepRecord& s) {
  if (s.undo_failed) return "undo_failed";
  if (s.undone) return "undone";
  if (s.failed) return "failed";
  if (s.done) return "succeeded";
  if (s.applying) return "interrupted";
  return "pending";
}

void collect_artifacts(const json& j, std::vector<std::string>& out) {
  if (j.is_string()) {
    const std::string& s = j.get_ref<const std::string&>();
    if (s.size() == 71 && s.rfind("sha256:", 0) == 0) out.push_back(s);
  } else if (j.is_structured()) {
    for (const auto& v : j) collect_artifacts(v, out);
  }
}

json next_steps(const RunSummary& s) {
  json out = json::array();
  if (s.status == "interrupted")
    out.push_back("cutover resume " + s.run_id + "  (continue) or  cutover rollback " + s.run_id + "  (undo)");
  else if (s.status == "failed")
    out.push_back("cutover resume " + s.run_id + " after fixing the cause, or cutover rollback " + s.run_id);
  else if (s.status == "rollback_incomplete")
    out.push_back("fix what the undo error names, then cutover rollback " + s.run_id);
  else if (s.status == "rolled_back")
    out.push_back("everything was put back; fix the cause shown above and apply again");
  return out;
}

}  // namespace

json build_report(const RunSummary& s) {
  json steps = json::array();
  json files = json::array();
  json checks = json::array();
  json artifacts = json::array();
  for (const auto& st : s.steps) {
    json e = {{"id", st.id},
              {"type", st.type},
              {"status", step_status(st)},
              {"seconds", st.seconds},
              {"outputs", st.outputs}};
    if (!st.on.empty()) e["on"] = st.on;
    if (!st.error.empty()) e["error"] = st.error;
    if (!st.hint.empty()) e["hint"] = st.hint;
    if (st.undone || st.undo_failed || st.undoing) {
      e["undo"] = {{"status", st.undone ? "undone" : st.undo_failed ? "failed" : "started"},
                   {"seconds", st.undo_seconds}};
      if (!st.undo_error.empty()) e["undo"]["error"] = st.undo_error;
    }
    if (st.check) checks.push_back({{"id", st.id}, {"type", st.type}, {"passed", st.done}, {"error", st.error}});
    if (st.fingerprint.is_object())
      for (auto it = st.fingerprint.begin(); it != st.fingerprint.end(); ++it)
        if (it.key().rfind("file:", 0) == 0) files.push_back({{"resource", it.key()}, {"step", st.id}});
    std::vector<std::string> arts;
    collect_artifacts(st.checkpoint, arts);
    collect_artifacts(st.outputs, arts);
    for (const auto& a : arts) artifacts.push_back({{"artifact", a}, {"step", st.id}});
    steps.push_back(e);
  }
  json r = {{"format", "cutover.report/1"},
            {"run_id", s.run_id},
            {"plan", s.plan_name},
            {"kind", s.kind},
            {"status", s.status},
            {"started", s.started},
            {"ended", s.ended_at},
            {"seconds", s.seconds},
            {"git", s.start.value("git", json::object())},
            {"digest", s.start.value("digest", "")},
            {"rehearsed", s.rehearsed},
            {"steps", steps},
            {"files_changed", files},
            {"checks", checks},
            {"artifacts", artifacts},
            {"next_steps", next_steps(s)}};
  if (s.end.is_object()) {
    if (s.end.contains("revision")) r["revision"] = s.end["revision"];
    if (s.end.contains("error")) r["error"] = s.end["error"];
    if (s.end.contains("exit_code")) r["exit_code"] = s.end["exit_code"];
  }
  return util::redact_json(r);
}

void write_reports(const RunSummary& summary, const std::string& run_dir, const RunOptions& opts) {
  json report = build_report(summary);
  std::string text = report.dump(2) + "\n";
  util::write_file_atomic(run_dir + "/report.json", text, 0600);
  std::string junit = junit_report(report);
  util::write_file_atomic(run_dir + "/report.junit.xml", junit, 0600);
  std::string html = html_report(report);
  util::write_file_atomic(run_dir + "/report.html", html, 0600);
  if (!opts.report_file.empty()) util::write_file_atomic(opts.report_file, text, 0644);
  if (!opts.junit_file.empty()) util::write_file_atomic(opts.junit_file, junit, 0644);
  if (!opts.html_file.empty()) util::write_file_atomic(opts.html_file, html, 0644);
}

}  // namespace cutover::executor
