#include "executor/report.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <functional>
#include <set>

#include "util/fs.h"
#include "util/redact.h"

namespace cutover::executor {

using nlohmann::json;

namespace {

std::string step_status(const StepRecord& s) {
  // The step that failed stays "failed" even after its partial apply was undone: the report
  // must say which step broke the run; its undo status is reported beside it.
  if (s.undo_failed) return "undo_failed";
  if (s.failed) return "failed";
  if (s.undone) return "undone";
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

// Seconds since the epoch of a journal timestamp ("2026-11-24T01:02:03.456Z"); -1 if malformed.
double parse_ts(const std::string& ts) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(ts.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) < 6)
    return -1;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<double>(timegm(&tm)) + ms / 1000.0;
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
  const double run_start = parse_ts(s.started);
  for (const auto& st : s.steps) {
    json e = {{"id", st.id},
              {"type", st.type},
              {"status", step_status(st)},
              {"seconds", st.seconds},
              {"outputs", st.outputs}};
    if (!st.on.empty()) e["on"] = st.on;
    // When the step started, and how far into the run (the HTML timeline places bars by it).
    if (!st.started.empty()) {
      e["started"] = st.started;
      double at = parse_ts(st.started);
      if (run_start >= 0 && at >= 0) e["offset"] = std::max(0.0, at - run_start);
    }
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

void add_unreached_steps(json& report, const json& plan) {
  if (report.value("kind", "apply") != "apply" || !plan.is_object() || !plan.contains("steps")) return;
  std::set<std::string> seen;
  for (const auto& st : report["steps"]) seen.insert(st.value("id", ""));
  for (const auto& st : plan["steps"]) {
    std::string id = st.value("id", "");
    if (id.empty() || seen.count(id)) continue;
    report["steps"].push_back({{"id", id}, {"type", st.value("type", "")}, {"status", "skipped"},
                               {"seconds", 0.0}, {"outputs", json::object()}});
  }
}

void write_reports(const RunSummary& summary, const std::string& run_dir, const RunOptions& opts) {
  json report = build_report(summary);
  try {
    if (util::exists(run_dir + "/plan.json"))
      add_unreached_steps(report, json::parse(util::read_file(run_dir + "/plan.json")));
  } catch (const std::exception&) {
    // The report stays useful without the steps the run never reached.
  }
  std::string text = report.dump(2) + "\n";
  util::write_file_atomic(run_dir + "/report.json", text, 0600);
  std::string junit = junit_report(report);
  util::write_file_atomic(run_dir + "/report.junit.xml", junit, 0600);
  std::string html = html_report(report);
  util::write_file_atomic(run_dir + "/report.html", html, 0600);
  // The copies go where the operator asked, their folders created as needed (CI: out/…).
  auto copy = [](const std::string& path, const std::string& data) {
    if (path.empty()) return;
    std::string dir = util::dirname(path);
    if (!dir.empty() && !util::exists(dir)) util::make_dirs(dir, 0755);
    util::write_file_atomic(path, data, 0644);
  };
  copy(opts.report_file, text);
  copy(opts.junit_file, junit);
  copy(opts.html_file, html);
}

}  // namespace cutover::executor
