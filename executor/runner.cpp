#include "executor/runner.h"

#include <unistd.h>

#include "checkpoints/journal.h"
#include "checkpoints/lock.h"
#include "executor/execution.h"
#include "executor/plan_inputs.h"
#include "executor/plan_json.h"
#include "executor/releases.h"
#include "executor/runs.h"
#include "steps/registry.h"
#include "util/cancel.h"
#include "util/fs.h"

namespace cutover::executor {

using nlohmann::json;

void mark_rolled_back(checkpoints::StateStore& state, const RunSummary& run);

namespace {

checkpoints::LockHolder me(const std::string& plan) {
  checkpoints::LockHolder h;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  h.plan = plan;
  h.host = host;
  h.pid = ::getpid();
  h.since = checkpoints::utc_now();
  return h;
}

/// Takes the plan's lock or throws Fatal(locked) naming the holder.
checkpoints::PlanLock take_lock(checkpoints::StateStore& state, const std::string& plan,
                                const RunOptions& opts) {
  checkpoints::LockHolder holder;
  auto lock = checkpoints::PlanLock::acquire(state.root(), plan, me(plan), opts.lock_timeout, &holder);
  if (!lock)
    throw Fatal(ExitCode::locked, "plan '" + plan + "' is locked by " + holder.describe() +
                                      "; wait for it, or use --lock-timeout");
  return std::move(*lock);
}

void say_what_is_left(Execution& ex, Reporter& rep) {
  std::string undone, not_undone, artifacts;
  for (const auto& s : ex.summary().steps) {
    if (!s.applying || s.check) continue;
    if (s.undone) undone += " " + s.id;
    else not_undone += " " + s.id + (s.undo_failed ? " (undo failed)" : "");
    std::function<void(const json&)> scan = [&](const json& j) {
      if (j.is_string()) {
        const auto& v = j.get_ref<const std::string&>();
        if (v.size() == 71 && v.rfind("sha256:", 0) == 0) artifacts += "\n    " + s.id + ": " + v;
      } else if (j.is_structured()) {
        for (const auto& x : j) scan(x);
      }
    };
    scan(s.checkpoint);
  }
  rep.note("rollback incomplete for run " + ex.run_id() + ":");
  rep.note("  undone:     " + (undone.empty() ? std::string(" (none)") : undone));
  rep.note("  not undone: " + (not_undone.empty() ? std::string(" (none)") : not_undone));
  if (!artifacts.empty()) rep.note("  artifacts holding the prior data:" + artifacts);
  rep.note("  fix the cause, then: cutover rollback " + ex.run_id());
}

/// After a failed or interrupted forward pass: roll back (unless --no-rollback) and finish.
ExitCode conclude_failure(Execution& ex, PassResult r, const RunOptions& opts) {
  Reporter& rep = *opts.reporter;
  bool interrupted = r == PassResult::interrupted;
  if (opts.no_rollback) {
    rep.note("--no-rollback: the run is left as it is; `cutover resume " + ex.run_id() +
             "` continues it, `cutover rollback " + ex.run_id() + "` undoes it");
    return ex.finish("failed", ExitCode::needs_attention);
  }
  // A second Ctrl-C must not stop the rollback halfway.
  util::clear_interrupt();
  util::defer_interrupts(true);
  bool clean = ex.rollback();
  util::defer_interrupts(false);
  if (!clean) {
    ExitCode code = ex.finish("rollback_incomplete", ExitCode::needs_attention);
    say_what_is_left(ex, rep);
    return code;
  }
  return ex.finish("rolled_back", interrupted ? ExitCode::interrupted : ExitCode::rolled_back);
}

ExitCode run_and_conclude(Execution& ex, size_t from, const RunOptions& opts) {
  PassResult r = ex.forward(from);
  if (r == PassResult::ok && opts.rehearse) {
    opts.reporter->note("rehearsal: rolling everything back to verify the recovery path");
    util::defer_interrupts(true);
    bool clean = ex.rollback();
    util::defer_interrupts(false);
    if (!clean) {
      ExitCode code = ex.finish("rollback_incomplete", ExitCode::needs_attention);
      say_what_is_left(ex, *opts.reporter);
      return code;
    }
    ex.record({{"event", "rehearsal.verified"}});
    r = ex.forward(0);
  }
  if (r == PassResult::ok) return ex.finish("succeeded", ExitCode::ok);
  return conclude_failure(ex, r, opts);
}

void refuse_unsettled(checkpoints::StateStore& state, const std::string& plan) {
  auto pending = runs_needing_attention(state, plan);
  if (pending.empty()) return;
  const RunSummary& r = pending.front();
  std::string what = r.status == "failed" ? "failed and was left as it is (--no-rollback)"
                     : r.status == "rollback_incomplete" ? "could not be rolled back completely"
                                                         : "was interrupted";
  throw Fatal(ExitCode::usage, "run " + r.run_id + " of plan '" + plan + "' " + what +
                                   ": run `cutover resume " + r.run_id + "` to continue it or `cutover rollback " +
                                   r.run_id + "` to undo it first");
}

void check_confirmations(const Plan& plan, const RunOptions& opts) {
  if (opts.auto_approve || opts.interactive) return;
  for (const auto& s : plan.steps)
    if (s.type == "confirm")
      throw Fatal(ExitCode::usage, "step " + s.id + " (confirm) needs a terminal or --auto-approve; nothing was run");
}

}  // namespace

ExitCode apply_plan(const Plan& plan, const RunOptions& opts) {
  check_confirmations(plan, opts);
  RunEnv env(plan);
  auto state = checkpoints::open_local_state(opts.state_dir);
  auto lock = take_lock(*state, plan.name, opts);
  refuse_unsettled(*state, plan.name);
  try {
    env.connect_all();
  } catch (const Error& e) {
    throw Fatal(ExitCode::usage, std::string(e.what()) + (e.hint().empty() ? "" : "\nhint: " + e.hint()) +
                                     "\nnothing was changed");
  }
  // The templates, sources and SQL files the steps read, frozen under the lock (so `cutover
  // gc` cannot collect them before plan.json names them): resume and rollback read these bytes.
  Plan frozen = plan;
  freeze_inputs(frozen, state->artifacts());
  std::string run_id = checkpoints::new_run_id();
  auto holder = me(plan.name);
  holder.run_id = run_id;
  lock.update(holder);
  Execution ex(frozen, opts, *state, run_id, env);
  ex.start("apply");
  return run_and_conclude(ex, 0, opts);
}

ExitCode resume_run(const std::string& run_arg, const RunOptions& opts) {
  auto state = checkpoints::open_local_state(opts.state_dir);
  std::string run_id;
  if (run_arg.empty()) {
    for (const auto& r : runs_needing_attention(*state))
      if (r.status == "interrupted" || r.status == "failed") {
        run_id = r.run_id;
        break;
      }
    if (run_id.empty()) throw Fatal(ExitCode::usage, "no interrupted run to resume in " + state->root());
  } else {
    run_id = find_run(*state, run_arg);
  }
  RunSummary summary = load_run(*state, run_id);
  if (!summary.warning.empty()) opts.reporter->warn(summary.warning);
  if (summary.kind == "rollback" && !summary.settled()) return rollback_run(run_id, opts);  // finish it
  Plan plan = plan_from_json(json::parse(util::read_file(state->run_dir(run_id) + "/plan.json")));
  RunEnv env(plan);
  auto lock = take_lock(*state, plan.name, opts);
  summary = load_run(*state, run_id);
  if (summary.settled()) throw Fatal(ExitCode::usage, "run " + run_id + " has ended (" + summary.status + "): nothing to resume");
  if (summary.status == "rollback_incomplete" || summary.kind != "apply")
    throw Fatal(ExitCode::usage, "run " + run_id + " was being rolled back; finish that with `cutover rollback " + run_id + "`");
  for (const auto& s : summary.steps)
    if (s.undoing || s.undone)
      throw Fatal(ExitCode::usage, "run " + run_id + " was being rolled back; finish that with `cutover rollback " + run_id + "`");

  size_t from = plan.steps.size();
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const StepRecord* rec = summary.find(plan.steps[i].id);
    if (rec && rec->done) continue;
    from = i;
    if (rec && rec->applying && !rec->check) {
      const steps::StepType* t = steps::find_step_type(rec->type);
      bool ok = t && (t->resume == steps::Resume::yes ||
                      (t->resume == steps::Resume::if_idempotent && rec->params.value("idempotent", false)));
      if (!ok)
        throw Fatal(ExitCode::usage,
                    "step " + rec->id + " (" + rec->type + ") of run " + run_id +
                        " was stopped while it was applying, and applying it again is not safe" +
                        (rec->type == "shell" ? " (a shell step is resumable only with `idempotent: true`)" : "") +
                        ": run `cutover rollback " + run_id + "` to undo the run from its checkpoints");
    }
    break;
  }
  auto holder = me(plan.name);
  holder.run_id = run_id;
  lock.update(holder);
  Execution ex(plan, opts, *state, run_id, env);
  ex.reopen(summary);
  ex.record({{"event", "run.resume"}, {"run_id", run_id}, {"from_step", from < plan.steps.size() ? plan.steps[from].id : ""}});
  return run_and_conclude(ex, from, opts);
}

ExitCode rollback_run(const std::string& run_arg, const RunOptions& opts) {
  auto state = checkpoints::open_local_state(opts.state_dir);
  std::string run_id;
  if (run_arg.empty()) {
    auto pending = runs_needing_attention(*state);
    if (!pending.empty() && pending.front().status == "corrupt")
      throw Fatal(ExitCode::needs_attention,
                  pending.front().warning +
                      "\nhint: inspect the journal; its checkpoints and artifacts are still there");
    if (!pending.empty()) run_id = pending.front().run_id;
    if (run_id.empty()) {
      // Nothing needs attention: undo the latest release (SPEC §2), i.e. roll back to the one before.
      auto releases = list_releases(*state);
      std::vector<Release> live;
      for (const auto& r : releases)
        if (r.live()) live.push_back(r);
      if (live.empty()) throw Fatal(ExitCode::usage, "nothing to roll back in " + state->root() + ": no failed run, no release");
      std::string plan = live.back().plan;
      int previous = 0;
      for (const auto& r : live)
        if (r.plan == plan && r.revision < live.back().revision) previous = std::max(previous, r.revision);
      opts.reporter->note("no run needs attention: undoing the latest release, r" + std::to_string(live.back().revision) +
                          " of " + plan);
      return rollback_to(previous ? std::to_string(previous) : "0", false, opts);
    }
  } else {
    run_id = find_run(*state, run_arg);
  }
  RunSummary summary;
  try {
    summary = load_run(*state, run_id);
  } catch (const checkpoints::JournalCorrupt& e) {
    throw Fatal(ExitCode::needs_attention, std::string(e.what()) + "\nhint: " + e.hint());
  }
  if (!summary.warning.empty()) opts.reporter->warn(summary.warning);
  Plan plan = plan_from_json(json::parse(util::read_file(state->run_dir(run_id) + "/plan.json")));
  RunEnv env(plan);
  auto lock = take_lock(*state, plan.name, opts);
  summary = load_run(*state, run_id);
  if (summary.settled() && summary.status == "rolled_back") {
    opts.reporter->note("run " + run_id + " is already rolled back");
    return ExitCode::ok;
  }
  if (summary.status == "succeeded")
    throw Fatal(ExitCode::usage, "run " + run_id + " succeeded and is a release; use `cutover rollback --to REF`");
  auto holder = me(plan.name);
  holder.run_id = run_id;
  lock.update(holder);
  RunOptions ro = opts;
  ro.safety_snapshots = summary.kind == "rollback";
  Execution ex(plan, ro, *state, run_id, env);
  ex.reopen(summary);
  ex.record({{"event", "run.resume"}, {"run_id", run_id}, {"for", "rollback"}});
  util::defer_interrupts(true);
  bool clean = ex.rollback();
  util::defer_interrupts(false);
  if (!clean) {
    ExitCode code = ex.finish("rollback_incomplete", ExitCode::needs_attention);
    say_what_is_left(ex, *opts.reporter);
    return code;
  }
  if (summary.kind == "rollback") mark_rolled_back(*state, ex.summary());
  return ex.finish("rolled_back", ExitCode::ok);
}

}  // namespace cutover::executor
