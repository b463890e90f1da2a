// The HTML report of a run (SPEC §7 `--html`): one self-contained page — inline CSS, no
// scripts, no external assets — that opens anywhere, from a CI artifact or a mail attachment.
// It shows the run (status, plan, run id, git commit, duration), a timeline with one bar per
// step placed by its start offset and scaled by its duration, coloured by status, then the
// steps table (status, duration, outputs, error and hint, undo), artifacts and next steps.
// Every value is HTML-escaped; the report is already redacted.
#include <algorithm>
#include <cstdio>

#include "executor/report.h"

namespace cutover::executor {

namespace {

using nlohmann::json;

std::string esc(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string str(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return "";
  const json& v = j[key];
  return v.is_string() ? v.get<std::string>() : v.is_null() ? "" : v.dump();
}

std::string secs(double s) {
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.2fs", s);
  else std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  return buf;
}

std::string pct(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f%%", std::clamp(v, 0.0, 100.0));
  return buf;
}

// The CSS class of a step status (unknown statuses look like pending ones).
std::string status_class(const std::string& status) {
  for (const char* s : {"succeeded", "failed", "undone", "undo_failed", "skipped", "interrupted"})
    if (status == s) return status;
  return "skipped";
}

const char* kStyle = R"CSS(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1d2330;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde2ea;padding-bottom:4px}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600;font-size:13px;vertical-align:middle}
.meta{border-collapse:collapse;margin-top:10px}.meta td{padding:2px 14px 2px 0}.meta td:first-child{color:#5a6475}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.timeline{border:1px solid #dde2ea;border-radius:6px;padding:10px 12px;background:#fafbfc}
.row{display:flex;align-items:center;height:26px}
.label{width:240px;flex:none;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;padding-right:10px;font-size:13px}
.track{position:relative;flex:1;height:16px;background:#eef1f5;border-radius:3px}
.bar{position:absolute;top:0;height:16px;border-radius:3px;min-width:4px}
.axis{display:flex;justify-content:space-between;margin-left:250px;color:#5a6475;font-size:12px;padding-top:4px}
.legend span{display:inline-block;margin-right:14px;font-size:12px}.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:4px;vertical-align:-1px}
.succeeded{background:#2e9d57}.failed{background:#d43c3c}.undone{background:#e3a21a}.undo_failed{background:#8e1f9c}
.skipped{background:#b7bfcc}.interrupted{background:#5b6ee1}
table.steps{border-collapse:collapse;width:100%}table.steps th,table.steps td{border:1px solid #dde2ea;padding:5px 8px;text-align:left;vertical-align:top}
table.steps th{background:#f3f5f8}
pre{margin:0;white-space:pre-wrap;word-break:break-word}
.err{color:#b42323}.hint{color:#6b4f00}
ul{margin:4px 0;padding-left:20px}
)CSS";

// The colour of a step: its status, except that the step that failed stays red after its
// (partial) apply was undone — it is the one the reader looks for.
std::string bar_class(const json& st) {
  std::string status = st.value("status", "");
  if (status == "undone" && !str(st, "error").empty()) return "failed";
  return status_class(status);
}

std::string shown_status(const json& st) {
  std::string status = st.value("status", "");
  if (status == "undone" && !str(st, "error").empty()) return "failed, undone";
  return status;
}

std::string timeline(const json& steps, double total) {
  std::string out = "<div class=\"timeline\">\n";
  for (const auto& st : steps) {
    std::string status = st.value("status", "");
    double offset = st.value("offset", 0.0);
    double seconds = st.value("seconds", 0.0);
    if (st.contains("undo")) seconds += st["undo"].value("seconds", 0.0);
    std::string title = st.value("id", "") + " (" + st.value("type", "") + "): " + shown_status(st) + ", " + secs(seconds);
    out += "<div class=\"row\"><div class=\"label\" title=\"" + esc(title) + "\">" + esc(st.value("id", "")) +
           "</div><div class=\"track\">";
    if (status != "skipped" && status != "pending")
      out += "<div class=\"bar " + bar_class(st) + "\" style=\"left:" + pct(100.0 * offset / total) +
             ";width:" + pct(std::max(0.4, 100.0 * seconds / total)) + "\" title=\"" + esc(title) + "\"></div>";
    out += "</div></div>\n";
  }
  out += "<div class=\"axis\"><span>0s</span><span>" + esc(secs(total / 2)) + "</span><span>" + esc(secs(total)) +
         "</span></div>\n";
  out += "<div class=\"legend\">";
  for (const char* s : {"succeeded", "failed", "undone", "undo_failed", "interrupted", "skipped"})
    out += std::string("<span><i class=\"") + s + "\"></i>" + s + "</span>";
  out += "</div>\n</div>\n";
  return out;
}

std::string steps_table(const json& steps) {
  std::string out =
      "<table class=\"steps\"><tr><th>#</th><th>step</th><th>status</th><th>duration</th><th>outputs</th>"
      "<th>error / hint</th><th>undo</th></tr>\n";
  int n = 0;
  for (const auto& st : steps) {
    std::string status = st.value("status", "");
    out += "<tr><td>" + std::to_string(++n) + "</td><td><b>" + esc(st.value("id", "")) + "</b><br><code>" +
           esc(st.value("type", "")) + "</code>" + (st.contains("on") ? " on " + esc(str(st, "on")) : "") +
           "</td><td><span class=\"badge " + bar_class(st) + "\">" + esc(shown_status(st)) + "</span></td><td>" +
           esc(secs(st.value("seconds", 0.0))) + "</td><td>";
    const json outputs = st.value("outputs", json::object());
    if (outputs.is_object() && !outputs.empty()) {
      out += "<ul>";
      for (auto it = outputs.begin(); it != outputs.end(); ++it)
        out += "<li><code>" + esc(it.key()) + "</code>: <span class=\"mono\">" +
               esc(it.value().is_string() ? it.value().get<std::string>() : it.value().dump()) + "</span></li>";
      out += "</ul>";
    }
    out += "</td><td>";
    if (!str(st, "error").empty()) out += "<pre class=\"err\">" + esc(str(st, "error")) + "</pre>";
    if (!str(st, "hint").empty()) out += "<pre class=\"hint\">hint: " + esc(str(st, "hint")) + "</pre>";
    out += "</td><td>";
    if (st.contains("undo")) {
      const json& u = st["undo"];
      out += esc(str(u, "status")) + " (" + esc(secs(u.value("seconds", 0.0))) + ")";
      if (!str(u, "error").empty()) out += "<pre class=\"err\">" + esc(str(u, "error")) + "</pre>";
    }
    out += "</td></tr>\n";
  }
  return out + "</table>\n";
}

}  // namespace

std::string html_report(const json& report) {
  const json steps = report.value("steps", json::array());
  const std::string status = report.value("status", "");
  const json git = report.value("git", json::object());
  // The timeline spans the run, or the furthest bar when the run has no end yet.
  double total = report.value("seconds", 0.0);
  for (const auto& st : steps) {
    double end = st.value("offset", 0.0) + st.value("seconds", 0.0);
    if (st.contains("undo")) end += st["undo"].value("seconds", 0.0);
    total = std::max(total, end);
  }
  if (total <= 0) total = 1;
  std::string badge = status == "succeeded" ? "succeeded" : status == "rolled_back" ? "undone"
                      : status == "running" || status == "interrupted" ? "interrupted" : "failed";
  std::string title = "cutover " + report.value("kind", "apply") + " " + report.value("plan", "") + ": " + status;

  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                  "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n<title>" +
                  esc(title) + "</title>\n<style>" + kStyle + "</style></head>\n<body>\n";
  h += "<h1>" + esc(report.value("plan", "")) + " <span class=\"badge " + badge + "\">" + esc(status) +
       "</span></h1>\n<table class=\"meta\">\n";
  auto meta = [&](const std::string& k, const std::string& v) {
    if (!v.empty()) h += "<tr><td>" + esc(k) + "</td><td class=\"mono\">" + esc(v) + "</td></tr>\n";
  };
  meta("run", report.value("run_id", ""));
  meta("kind", report.value("kind", ""));
  meta("started", report.value("started", ""));
  meta("ended", report.value("ended", ""));
  meta("duration", secs(report.value("seconds", 0.0)));
  if (report.contains("revision")) meta("release", "r" + str(report, "revision"));
  meta("git commit", str(git, "commit") + (git.value("dirty", false) ? " (dirty)" : ""));
  meta("git repo", str(git, "repo"));
  meta("plan digest", report.value("digest", ""));
  if (report.value("rehearsed", false)) meta("rehearsed", "yes: rolled back, verified, applied again");
  h += "</table>\n";
  if (!str(report, "error").empty()) h += "<pre class=\"err\">" + esc(str(report, "error")) + "</pre>\n";

  h += "<h2>Timeline</h2>\n" + timeline(steps, total);
  h += "<h2>Steps</h2>\n" + steps_table(steps);

  const json artifacts = report.value("artifacts", json::array());
  if (!artifacts.empty()) {
    h += "<h2>Artifacts</h2>\n<ul>\n";
    for (const auto& a : artifacts)
      h += "<li><code>" + esc(str(a, "artifact")) + "</code> (" + esc(str(a, "step")) + ")</li>\n";
    h += "</ul>\n";
  }
  const json files = report.value("files_changed", json::array());
  if (!files.empty()) {
    h += "<h2>Files changed</h2>\n<ul>\n";
    for (const auto& f : files) h += "<li><code>" + esc(str(f, "resource")) + "</code> (" + esc(str(f, "step")) + ")</li>\n";
    h += "</ul>\n";
  }
  const json next = report.value("next_steps", json::array());
  if (!next.empty()) {
    h += "<h2>Next steps</h2>\n<ul>\n";
    for (const auto& n : next) h += "<li><code>" + esc(n.is_string() ? n.get<std::string>() : n.dump()) + "</code></li>\n";
    h += "</ul>\n";
  }
  h += "</body></html>\n";
  return h;
}

}  // namespace cutover::executor
