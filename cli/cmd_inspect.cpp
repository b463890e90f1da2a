// history, show, status: reading the state folder, changing nothing.
#include <cstdio>
#include <set>

#include "checkpoints/journal.h"
#include "checkpoints/lock.h"
#include "checkpoints/state.h"
#include "cli/options.h"
#include "executor/report.h"
#include "executor/runs.h"
#include "util/fs.h"
#include "util/redact.h"
#include "util/units.h"

namespace cutover::cli {

using nlohmann::json;

namespace {

void print(const std::string& s) { std::fputs(util::redact(s).c_str(), stdout); }

std::string secs(double s) {
  return util::format_duration(std::chrono::milliseconds(static_cast<long long>(s * 1000)));
}

std::unique_ptr<checkpoints::StateStore> open_existing(const Options& o) {
  if (!util::exists(o.state)) throw Fatal(ExitCode::usage, "no state folder at " + o.state + " (nothing has run here)");
  return checkpoints::open_local_state(o.state);
}

}  // namespace

int cmd_history(const Options& o) {
  auto state = open_existing(o);
  auto releases = state->releases();
  json out = {{"releases", json::array()}, {"runs", json::array()}};
  std::map<std::string, json> release_of_run;
  std::set<std::string> rolled_back;  // run ids of releases undone since
  std::set<std::string> pruned;       // run ids of releases whose artifacts `cutover gc` removed
  for (const auto& r : releases) {
    if (r.contains("pruned_by")) {
      for (const auto& x : releases)
        if (x.value("plan", "") == r.value("plan", "") && x.value("revision", 0) == r.value("revision", 0) &&
            !x.contains("rolled_back_by") && !x.contains("pruned_by"))
          pruned.insert(x.value("run_id", ""));
      continue;
    }
    if (r.contains("rolled_back_by")) {
      for (const auto& x : releases)
        if (x.value("plan", "") == r.value("plan", "") && x.value("revision", 0) == r.value("revision", 0) &&
            !x.contains("rolled_back_by"))
          rolled_back.insert(x.value("run_id", ""));
      continue;
    }
    release_of_run[r.value("run_id", "")] = r;
  }
  auto ids = state->run_ids();
  std::string text = "RUN                        PLAN                 STATUS               REV  TAGS             COMMIT    DURATION\n";
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    executor::RunSummary rs;
    try {
      rs = executor::load_run(*state, *it);
    } catch (const std::exception& e) {
      text += *it + "  (unreadable: " + e.what() + ")\n";
      continue;
    }
    if (!o.plan_name.empty() && rs.plan_name != o.plan_name) continue;
    json rel = release_of_run.count(rs.run_id) ? release_of_run[rs.run_id] : json();
    std::string tags;
    if (rel.is_object())
      for (const auto& t : rel.value("tags", json::array())) tags += (tags.empty() ? "" : ",") + t.get<std::string>();
    std::string commit = rs.start.value("git", json::object()).value("commit", "");
    char line[512];
    std::snprintf(line, sizeof line, "%-26s %-20s %-20s %-4s %-16s %-9s %s\n", rs.run_id.c_str(), rs.plan_name.c_str(),
                  (rs.kind == "apply" ? rs.status : rs.kind + ":" + rs.status).c_str(),
                  rel.is_object() ? ("r" + std::to_string(rel.value("revision", 0)) + (rolled_back.count(rs.run_id) ? "↩" : "") +
                                     (pruned.count(rs.run_id) ? "✂" : "")).c_str() : "",
                  tags.c_str(), commit.substr(0, 8).c_str(), secs(rs.seconds).c_str());
    text += line;
    out["runs"].push_back({{"run_id", rs.run_id}, {"plan", rs.plan_name}, {"kind", rs.kind}, {"status", rs.status},
                           {"started", rs.started}, {"seconds", rs.seconds}, {"release", rel}});
  }
  for (auto it = releases.rbegin(); it != releases.rend(); ++it)
    if (!it->contains("rolled_back_by") && !it->contains("pruned_by") &&
        (o.plan_name.empty() || it->value("plan", "") == o.plan_name)) {
      json r = *it;
      r["rolled_back"] = rolled_back.count(r.value("run_id", "")) > 0;
      r["pruned"] = pruned.count(r.value("run_id", "")) > 0;
      out["releases"].push_back(r);
    }
  if (!rolled_back.empty()) text += "↩ = release undone by a later rollback\n";
  if (!pruned.empty()) text += "✂ = release whose artifacts `cutover gc` removed: it can no longer be undone\n";
  if (o.output == "json") print(out.dump() + "\n");
  else print(text);
  return 0;
}

int cmd_show(const Options& o) {
  auto state = open_existing(o);
  std::string id = executor::find_run(*state, o.run);
  executor::RunSummary rs;
  try {
    rs = executor::load_run(*state, id);
  } catch (const checkpoints::JournalCorrupt& e) {
    throw Fatal(ExitCode::needs_attention, e.what());
  }
  json report = executor::build_report(rs);
  if (o.output == "json") {
    print(report.dump(2) + "\n");
    return 0;
  }
  std::string text = "run " + rs.run_id + "  plan " + rs.plan_name + "  " + rs.kind + "  " + rs.status + "  " +
                     secs(rs.seconds) + "\n";
  if (!rs.warning.empty()) text += "warning: " + rs.warning + "\n";
  text += "started " + rs.started + (rs.ended_at.empty() ? "" : ", ended " + rs.ended_at) + "\n";
  for (const auto& s : report["steps"]) {
    text += "  " + s.value("status", "") + "  " + s.value("id", "") + " (" + s.value("type", "") + ")  " +
            secs(s.value("seconds", 0.0)) + "\n";
    if (!s["outputs"].empty()) text += "      outputs: " + s["outputs"].dump() + "\n";
    if (s.contains("error")) text += "      error: " + s.value("error", "") + "\n";
    if (s.contains("undo")) text += "      undo: " + s["undo"].dump() + "\n";
  }
  for (const auto& a : report["artifacts"])
    text += "  artifact " + a.value("artifact", "") + " (" + a.value("step", "") + ")\n";
  for (const auto& n : report["next_steps"]) text += "next: " + n.get<std::string>() + "\n";
  print(text);
  return 0;
}

int cmd_status(const Options& o) {
  if (!util::exists(o.state)) {
    print("no state folder at " + o.state + ": nothing has run here\n");
    return 0;
  }
  auto state = checkpoints::open_local_state(o.state);
  auto locks = checkpoints::held_locks(state->root());
  auto pending = executor::runs_needing_attention(*state);
  json out = {{"locks", json::array()}, {"attention", json::array()}};
  std::string text;
  if (locks.empty()) text += "no plan is locked\n";
  for (const auto& l : locks) {
    text += "locked: plan " + l.plan + " by " + l.describe() + "\n";
    out["locks"].push_back({{"plan", l.plan}, {"run_id", l.run_id}, {"pid", l.pid}, {"host", l.host}, {"since", l.since}});
  }
  if (pending.empty()) text += "no run needs attention\n";
  for (const auto& r : pending) {
    text += "needs attention: run " + r.run_id + " (plan " + r.plan_name + ") is " + r.status;
    if (r.status == "interrupted" || r.status == "failed")
      text += ": `cutover resume " + r.run_id + "` or `cutover rollback " + r.run_id + "`";
    else if (r.status == "rollback_incomplete")
      text += ": fix the undo error, then `cutover rollback " + r.run_id + "`";
    else if (r.status == "corrupt")
      text += ": " + r.warning;
    text += "\n";
    out["attention"].push_back({{"run_id", r.run_id}, {"plan", r.plan_name}, {"status", r.status}});
  }
  if (o.output == "json") print(out.dump() + "\n");
  else print(text);
  return pending.empty() ? 0 : static_cast<int>(ExitCode::needs_attention);
}

}  // namespace cutover::cli
