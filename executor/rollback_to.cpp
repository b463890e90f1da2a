// rollback --to REF: undo every later release of the plan, newest first, from their own
// checkpoints, as one new run. The steps of the releases are adopted into the new run's
// journal ("r3/registry"), so the ordinary rollback machinery — verified undo, journaling,
// the lock, and `cutover rollback RUN` after a crash — applies unchanged.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <set>

#include "checkpoints/journal.h"
#include "checkpoints/lock.h"
#include "executor/execution.h"
#include "executor/plan_json.h"
#include "executor/releases.h"
#include "executor/runs.h"
#include "steps/registry.h"
#include "util/cancel.h"
#include "util/fs.h"
#include "util/strings.h"

namespace cutover::executor {

using nlohmann::json;

namespace {

/// The plan a rollback run works with: the newest release's, with the secrets and hosts of
/// every release it undoes (each release's steps may name its own).
Plan merged_plan(checkpoints::StateStore& state, const std::vector<Release>& undo) {
  Plan merged;
  bool first = true;
  for (const auto& r : undo) {
    Plan p = plan_from_json(json::parse(util::read_file(state.run_dir(r.run_id) + "/plan.json")));
    if (first) {
      merged = p;
      merged.steps.clear();
      first = false;
    }
    for (const auto& [k, v] : p.secrets) merged.secrets.emplace(k, v);
    for (const auto& [k, v] : p.hosts) merged.hosts.emplace(k, v);
  }
  return merged;
}

std::string describe_resources(const json& fingerprint) {
  std::vector<std::string> keys;
  if (fingerprint.is_object())
    for (auto it = fingerprint.begin(); it != fingerprint.end(); ++it) keys.push_back(it.key());
  return keys.empty() ? "" : " [" + util::join(keys, ", ") + "]";
}

void artifact_ids(const json& j, std::set<std::string>& out) {
  if (j.is_string()) {
    const auto& v = j.get_ref<const std::string&>();
    if (v.size() == 71 && v.rfind("sha256:", 0) == 0) out.insert(v);
  } else if (j.is_structured()) {
    for (const auto& x : j) artifact_ids(x, out);
  }
}

/// Refuses, before anything changes, a rollback that would need an artifact that is gone: a
/// release `cutover gc` pruned, or an artifact a checkpoint (or a frozen input) names that is
/// missing from the store. Undoing half the releases and then failing is the one outcome worse
/// than not starting.
void require_artifacts(checkpoints::StateStore& state, const Release& target, const std::vector<Release>& undo,
                       const std::vector<std::pair<Release, StepRecord>>& actions) {
  std::map<int, std::set<std::string>> needed;  // revision -> artifact ids
  for (const auto& [rel, st] : actions) artifact_ids(st.checkpoint, needed[rel.revision]);
  for (const auto& rel : undo) {
    json p = json::parse(util::read_file(state.run_dir(rel.run_id) + "/plan.json"), nullptr, false);
    if (p.is_object()) artifact_ids(p.value("frozen_inputs", json::object()), needed[rel.revision]);
  }
  const std::string to = target.plan + " to r" + std::to_string(target.revision);
  for (const auto& rel : undo) {  // newest first: name the newest release that cannot be undone
    std::vector<std::string> missing;
    for (const auto& id : needed[rel.revision])
      if (!state.artifacts().exists(id)) missing.push_back(id);
    const std::string r = "r" + std::to_string(rel.revision);
    if (rel.pruned())
      throw Fatal(ExitCode::usage,
                  "cannot roll back " + to + ": release " + r + " was pruned by `cutover gc` (" + rel.pruned_at +
                      "), which removed the artifacts its undo needs; rollback --to reaches back to " + r +
                      " at most. Nothing was changed");
    if (!missing.empty())
      throw Fatal(ExitCode::usage,
                  "cannot roll back " + to + ": release " + r + " needs " + std::to_string(missing.size()) +
                      " artifact(s) missing from the store " + state.artifacts().root() + " (" +
                      util::join(missing, ", ") + "); rollback --to reaches back to " + r +
                      " at most. Nothing was changed");
  }
}

}  // namespace

ExitCode rollback_to(const std::string& ref, bool dry_run, const RunOptions& opts) {
  Reporter& rep = *opts.reporter;
  auto state = checkpoints::open_local_state(opts.state_dir);
  Release target = resolve_release(*state, ref);
  std::vector<Release> undo;  // newest first
  auto all = list_releases(*state);
  for (auto it = all.rbegin(); it != all.rend(); ++it)
    if (it->plan == target.plan && it->live() && it->revision > target.revision) undo.push_back(*it);
  if (undo.empty()) {
    rep.note("release r" + std::to_string(target.revision) + " of " + target.plan + " is the latest: nothing to roll back");
    return ExitCode::ok;
  }

  // What will be undone, newest first — the dry run and the confirmation both show it.
  std::vector<std::pair<Release, StepRecord>> actions;
  for (const auto& rel : undo) {
    RunSummary rs = load_run(*state, rel.run_id);
    for (auto it = rs.steps.rbegin(); it != rs.steps.rend(); ++it)
      if (it->applying && !it->check && !it->undone) actions.emplace_back(rel, *it);
  }
  require_artifacts(*state, target, undo, actions);
  int discarding = 0;
  std::string listing = "rollback of " + target.plan + " to r" + std::to_string(target.revision) +
                        (target.tags.empty() ? "" : " (" + util::join(target.tags, ", ") + ")") + ": undo " +
                        std::to_string(undo.size()) + " release(s), newest first\n";
  for (const auto& [rel, st] : actions) {
    const steps::StepType* t = steps::find_step_type(st.type);
    bool discards = t && t->undo_discards_data;
    discarding += discards;
    listing += std::string(discards ? "  ! " : "  - ") + "r" + std::to_string(rel.revision) + " " + st.id + " (" +
               st.type + "): " + (st.rollback_none ? "not undone (rollback: none)" : t ? t->undo : "plugin undo") +
               describe_resources(st.fingerprint) + (discards ? "  — DISCARDS data written since" : "") + "\n";
  }
  if (discarding)
    listing += std::to_string(discarding) +
               " undo action(s) marked ! discard data written since; a safety snapshot of each is stored first\n";
  rep.plan_line({{"event", "rollback.plan"}, {"plan", target.plan}, {"to", target.revision},
                 {"releases", undo.size()}, {"actions", actions.size()}, {"discarding", discarding}},
                listing);
  if (dry_run) return ExitCode::ok;
  if (discarding && !opts.auto_approve) {
    if (!opts.interactive)
      throw Fatal(ExitCode::usage, "this rollback discards data written since (marked !); rerun with --auto-approve");
    std::fprintf(stderr, "type the plan name (%s) to confirm: ", target.plan.c_str());
    std::string answer;
    std::getline(std::cin, answer);
    if (util::trim(answer) != target.plan) throw Fatal(ExitCode::usage, "not confirmed; nothing was changed");
  }

  Plan plan = merged_plan(*state, undo);
  RunEnv env(plan);
  checkpoints::LockHolder me;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  me.plan = plan.name;
  me.host = host;
  me.pid = ::getpid();
  me.since = checkpoints::utc_now();
  checkpoints::LockHolder holder;
  auto lock = checkpoints::PlanLock::acquire(state->root(), plan.name, me, opts.lock_timeout, &holder);
  if (!lock) throw Fatal(ExitCode::locked, "plan '" + plan.name + "' is locked by " + holder.describe());
  auto pending = runs_needing_attention(*state, plan.name);
  if (!pending.empty())
    throw Fatal(ExitCode::usage, "run " + pending.front().run_id + " of plan '" + plan.name + "' needs attention (" +
                                     pending.front().status + "); settle it with `cutover resume` or `cutover rollback` first");
  // `cutover gc` may have run between the check above and the lock: check again under it.
  for (const auto& now : list_releases(*state))
    for (auto& r : undo)
      if (r.plan == now.plan && r.revision == now.revision) r.pruned_at = now.pruned_at;
  require_artifacts(*state, target, undo, actions);

  std::string run_id = checkpoints::new_run_id();
  me.run_id = run_id;
  lock->update(me);
  RunOptions ro = opts;
  ro.safety_snapshots = true;
  Execution ex(plan, ro, *state, run_id, env);
  json revisions = json::array();
  for (const auto& r : undo) revisions.push_back(r.revision);
  ex.start("rollback", {{"to", target.revision}, {"undo_releases", revisions}, {"ref", ref}});
  // Oldest release first, steps in order: rollback() walks them back newest first.
  for (auto it = actions.rbegin(); it != actions.rend(); ++it)
    ex.adopt(it->second, "r" + std::to_string(it->first.revision) + "/" + it->second.id, it->first.run_id);
  util::defer_interrupts(true);
  bool clean = ex.rollback();
  util::defer_interrupts(false);
  if (!clean) {
    rep.note("rollback to r" + std::to_string(target.revision) + " incomplete; fix the cause, then `cutover rollback " +
             run_id + "` continues it");
    return ex.finish("rollback_incomplete", ExitCode::needs_attention);
  }
  for (const auto& r : undo) state->append_release({{"plan", r.plan}, {"revision", r.revision}, {"rolled_back_by", run_id}});
  return ex.finish("rolled_back", ExitCode::ok);
}

/// Marks the releases a finished `rollback --to` run undid (after `cutover rollback RUN`
/// completed it following a crash).
void mark_rolled_back(checkpoints::StateStore& state, const RunSummary& run) {
  for (const auto& rev : run.start.value("undo_releases", json::array()))
    state.append_release({{"plan", run.plan_name}, {"revision", rev}, {"rolled_back_by", run.run_id}});
}

}  // namespace cutover::executor
