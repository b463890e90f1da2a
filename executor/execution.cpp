#include "executor/execution.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>

#include <cmath>
#include <thread>

#include "executor/hints.h"
#include "executor/plan_inputs.h"
#include "executor/plan_json.h"
#include "executor/report.h"
#include "steps/registry.h"
#include "util/fs.h"
#include "util/redact.h"
#include "util/units.h"

namespace cutover::executor {

using nlohmann::json;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  return std::round(s * 1000) / 1000;
}

std::string describe_mismatch(const json& want, const json& got) {
  std::string out;
  auto str = [](const json& j) { return j.is_string() ? j.get<std::string>() : j.dump(); };
  if (want.is_object() && got.is_object()) {
    for (auto it = want.begin(); it != want.end(); ++it) {
      json g = got.contains(it.key()) ? got[it.key()] : json("absent");
      if (g != it.value())
        out += "\n" + it.key() + ": expected " + str(it.value()) + ", found " + str(g);
    }
    for (auto it = got.begin(); it != got.end(); ++it)
      if (!want.contains(it.key())) out += "\n" + it.key() + ": unexpected " + str(it.value());
    return out;
  }
  return "\nexpected " + str(want) + ", found " + str(got);
}

/// Fault injection for the crash tests: CUTOVER_TEST_CRASH_AT_RECORD=N kills the process
/// with SIGKILL right after journal record N is durable — the worst moment for a crash, and
/// one that a test can reach at every step boundary deterministically.
void crash_point(long long seq) {
  static const long long at = [] {
    const char* v = std::getenv("CUTOVER_TEST_CRASH_AT_RECORD");
    return v ? std::atoll(v) : -1LL;
  }();
  if (seq == at) ::kill(::getpid(), SIGKILL);
}

}  // namespace

Execution::Execution(const Plan& plan, const RunOptions& opts, checkpoints::StateStore& state,
                     std::string run_id, RunEnv& env)
    : plan_(plan), opts_(opts), state_(state), run_id_(std::move(run_id)), env_(env) {
  run_dir_ = state_.run_dir(run_id_);
  info_.run_id = run_id_;
  info_.run_dir = run_dir_ + "/scratch";
  info_.plan_name = plan_.name;
  info_.plan_dir = plan_.dir;
  info_.state_dir = state_.root();
  info_.auto_approve = opts_.auto_approve;
  info_.interactive = opts_.interactive;
  started_ = std::chrono::steady_clock::now();
  summary_.run_id = run_id_;
}

void Execution::log(const std::string& line) {
  if (!log_) log_ = std::fopen((run_dir_ + "/log.txt").c_str(), "ae");
  if (!log_) return;
  std::fprintf(log_, "%s %s\n", checkpoints::utc_now().c_str(), util::redact(line).c_str());
  std::fflush(log_);
}

json Execution::record(json rec) {
  std::vector<json> one;
  one.push_back(std::move(rec));
  record_all(std::move(one));
  return last_record_;
}

void Execution::record_all(std::vector<json> recs) {
  // Checkpoint data is kept verbatim: undo must restore the exact prior bytes. Everything
  // else is masked; params hold secrets only as ${secrets.NAME} references anyway.
  for (auto& rec : recs) {
    json checkpoint;
    bool has_cp = rec.contains("checkpoint");
    if (has_cp) {
      checkpoint = std::move(rec["checkpoint"]);
      rec.erase("checkpoint");
    }
    rec = util::redact_json(rec);
    if (has_cp) rec["checkpoint"] = std::move(checkpoint);
  }
  // A record confirming a finished action needs no fsync of its own (journal.h, Sync).
  std::string event = recs.size() == 1 ? recs.front().value("event", "") : "";
  auto sync = event == "step.done" || event == "step.undone" ? checkpoints::JournalWriter::Sync::deferred
                                                              : checkpoints::JournalWriter::Sync::now;
  for (auto& full : journal_->append_all(std::move(recs), sync)) {
    apply_record(summary_, full);
    crash_point(full.value("seq", 0LL));
    json shown = full;
    shown.erase("checkpoint");
    shown.erase("fingerprint");
    shown.erase("params");
    if (opts_.reporter) opts_.reporter->event(shown);
    log(shown.dump());
    last_record_ = std::move(full);
  }
}

void Execution::start(const std::string& kind, const json& extra) {
  state_.create_run_dir(run_id_);
  util::make_dirs(info_.run_dir, 0700);
  util::write_file_atomic(run_dir_ + "/plan.json", plan_to_json(plan_).dump(2) + "\n", 0600);
  journal_ = std::make_unique<checkpoints::JournalWriter>(run_dir_ + "/journal.jsonl");
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const char* user = std::getenv("USER");
  json rec = {{"event", "run.start"},
          {"run_id", run_id_},
          {"plan", plan_.name},
          {"kind", kind},
          {"digest", opts_.digest},
          {"profile", plan_.profile},
          {"user", user ? user : std::to_string(::getuid())},
          {"host", host},
          {"pid", ::getpid()},
          {"git", opts_.git},
          {"tags", opts_.tags},
          {"steps", plan_.steps.size()}};
  for (auto it = extra.begin(); it != extra.end(); ++it) rec[it.key()] = it.value();
  record(rec);
}

void Execution::adopt(const StepRecord& step, const std::string& id, const std::string& from_run) {
  json rec = {{"event", "step.checkpoint"}, {"step", id}, {"type", step.type}, {"index", step.index},
              {"on", step.on}, {"params", step.params}, {"check", false},
              {"rollback", step.rollback_none ? "none" : "auto"}, {"checkpoint", step.checkpoint},
              {"fingerprint", step.fingerprint}, {"from_run", from_run}, {"from_step", step.id}};
  record(rec);
  record({{"event", "step.apply"}, {"step", id}, {"type", step.type}, {"adopted", true}});
}

void Execution::reopen(const RunSummary& summary) {
  summary_ = summary;
  journal_ = std::make_unique<checkpoints::JournalWriter>(run_dir_ + "/journal.jsonl");
  util::make_dirs(info_.run_dir, 0700);
  for (const auto& s : summary_.steps)
    if (s.done) outputs_[s.id] = s.outputs;
}

steps::Context Execution::context(hosts::Host& host, util::Deadline deadline) {
  static struct NullProgress : steps::Progress {
    void update(uint64_t, uint64_t, const std::string&) override {}
  } null_progress;
  steps::Progress& progress = opts_.reporter ? static_cast<steps::Progress&>(*opts_.reporter) : null_progress;
  return steps::Context{host,
                        state_.artifacts(),
                        info_,
                        progress,
                        deadline,
                        [this](const std::string& name) -> hosts::Host& {
                          return env_.host(name == "local" ? "" : name);
                        },
                        [this](const std::string& line) { log(line); },
                        [this](const std::string& text) { return render(text); },
                        input_reader(plan_, &state_.artifacts())};
}

std::string Execution::render(const std::string& text) {
  json v = interpolate_string(text, env_.scope(outputs_, run_id_, run_dir_ + "/scratch"), SecretMode::reveal);
  return v.is_string() ? v.get<std::string>() : v.dump();
}

PassResult Execution::forward(size_t from) {
  for (size_t i = from; i < plan_.steps.size(); ++i) {
    const StepSpec& spec = plan_.steps[i];
    if (util::interrupted()) {
      failure = "interrupted by signal " + std::to_string(util::interrupt_signal()) + " before step " + spec.id;
      return PassResult::interrupted;
    }
    const StepRecord* prior = summary_.find(spec.id);
    const StepRecord* resumed =
        prior && prior->applying && !prior->done && !prior->undone && !prior->undoing ? prior : nullptr;
    PassResult r = run_step(spec, resumed);
    if (r != PassResult::ok) return r;
  }
  return PassResult::ok;
}

PassResult Execution::run_step(const StepSpec& spec, const StepRecord* resumed) {
  const auto t0 = std::chrono::steady_clock::now();
  const steps::StepType* type = steps::find_step_type(spec.type);
  const bool check = type && type->kind == steps::Kind::check;
  auto fail = [&](const std::string& error, std::string hint, PassResult result) {
    if (hint.empty()) hint = hint_for(error);
    failure = spec.id + ": " + error;
    record({{"event", "step.fail"}, {"step", spec.id}, {"type", spec.type}, {"index", spec.index},
            {"error", error}, {"hint", hint}, {"seconds", seconds_since(t0)}});
    return result;
  };

  RunEnv::Resolved params;
  std::unique_ptr<steps::Step> step;
  hosts::Host* host = nullptr;
  try {
    params = env_.resolve(spec, env_.scope(outputs_, run_id_, run_dir_ + "/scratch"));
    step = steps::make_step({spec.id, spec.type, spec.on, params.real}, plan_.dir);
    host = &env_.host(spec.on);
  } catch (const Error& e) {
    return fail(e.what(), e.hint(), PassResult::failed);
  }
  auto timeout = spec.timeout.value_or(plan_.default_timeout);
  util::Deadline deadline = util::Deadline::after(timeout);
  steps::Context ctx = context(*host, deadline);

  json checkpoint;
  json base = {{"step", spec.id}, {"type", spec.type}, {"index", spec.index}, {"on", spec.on},
               {"params", params.recorded}, {"check", check},
               {"rollback", spec.rollback == RollbackMode::none ? "none" : "auto"}};
  if (resumed && resumed->checkpointed) {
    // The step was in flight when the run stopped: apply it again from the checkpoint taken
    // before it first changed anything (never from a fresh one, which would capture the
    // half-applied state as "before").
    checkpoint = resumed->checkpoint;
    record({{"event", "step.apply"}, {"step", spec.id}, {"type", spec.type}, {"index", spec.index}, {"resumed", true}});
  } else if (!check) {
    json fingerprint;
    try {
      checkpoint = step->checkpoint(ctx);
      fingerprint = step->fingerprint(ctx);
    } catch (const Interrupted& e) {
      return fail(e.what(), "", util::interrupted() ? PassResult::interrupted : PassResult::failed);
    } catch (const Error& e) {
      return fail(std::string("checkpoint: ") + e.what(), e.hint(), PassResult::failed);
    }
    json rec = base;
    rec["event"] = "step.checkpoint";
    rec["checkpoint"] = checkpoint;
    rec["fingerprint"] = fingerprint;
    // Both must be durable before the step changes anything: one write, one fsync.
    record_all(std::vector<json>{rec, {{"event", "step.apply"}, {"step", spec.id}, {"type", spec.type}, {"index", spec.index}}});
  } else {
    json rec = base;
    rec["event"] = "step.apply";
    record(rec);
  }

  int retries = spec.retries ? spec.retries : plan_.default_retries;
  auto delay = spec.retry_delay;
  json outputs;
  for (int attempt = 0;; ++attempt) {
    try {
      outputs = step->apply(ctx, checkpoint);
      break;
    } catch (const Interrupted& e) {
      // Steps throw Interrupted for Ctrl-C and for their deadline alike: only a signal makes
      // the run "interrupted" (exit 130); a timeout is an ordinary failure (exit 3).
      if (util::interrupted()) return fail(e.what(), "", PassResult::interrupted);
      return fail(std::string(e.what()) +
                      (deadline.expired() ? " (step timeout " + util::format_duration(timeout) + " reached)" : ""),
                  "", PassResult::failed);
    } catch (const std::exception& e) {
      if (util::interrupted())
        return fail(std::string("interrupted: ") + e.what(), "", PassResult::interrupted);
      const Error* err = dynamic_cast<const Error*>(&e);
      std::string what = e.what();
      if (deadline.expired()) what += " (step timeout " + util::format_duration(timeout) + " reached)";
      if (attempt >= retries || deadline.expired())
        return fail(what, err ? err->hint() : "", PassResult::failed);
      if (opts_.reporter)
        opts_.reporter->note("    retry " + std::to_string(attempt + 1) + "/" + std::to_string(retries) +
                             " of " + spec.id + " in " + util::format_duration(delay) + ": " + what);
      auto until = std::chrono::steady_clock::now() + delay;
      while (std::chrono::steady_clock::now() < until && !util::interrupted())
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      delay *= 2;
    }
  }
  if (!outputs.is_object()) outputs = json::object();
  outputs_[spec.id] = outputs;
  record({{"event", "step.done"}, {"step", spec.id}, {"type", spec.type}, {"outputs", outputs},
          {"seconds", seconds_since(t0)}});
  return PassResult::ok;
}

bool Execution::rollback() {
  std::vector<StepRecord*> todo;
  for (auto& s : summary_.steps)
    if (s.applying && !s.undone && !s.check) todo.push_back(&s);
  record({{"event", "rollback.start"}, {"steps", todo.size()}});
  for (auto it = todo.rbegin(); it != todo.rend(); ++it) {
    StepRecord& rec = **it;
    if (rec.rollback_none) {
      record({{"event", "step.skip"}, {"step", rec.id}, {"reason", "rollback: none — left as it is, on purpose"}});
      continue;
    }
    if (!undo_step(rec)) return false;
  }
  return true;
}

bool Execution::undo_step(StepRecord& rec) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string id = rec.id, type = rec.type;
  record({{"event", "step.undo"}, {"step", id}, {"type", type}});
  auto fail = [&](const std::string& error) {
    record({{"event", "step.undo_fail"}, {"step", id}, {"type", type}, {"error", error},
            {"seconds", seconds_since(t0)}});
    return false;
  };
  try {
    json params = env_.reveal(type, rec.params);
    auto step = steps::make_step({id, type, rec.on, params}, plan_.dir);
    hosts::Host& host = env_.host(rec.on);
    steps::Context ctx = context(host, util::Deadline::after(plan_.default_timeout));
    // A step adopted from a release (rollback --to) undoes with that release's own inputs.
    if (!rec.from_run.empty()) ctx.read_input = run_input_reader(state_, rec.from_run);
    const steps::StepType* t = steps::find_step_type(type);
    if (opts_.safety_snapshots && t && t->undo_discards_data) {
      // What this undo is about to discard, kept first: its own checkpoint of the present.
      json safety = step->checkpoint(ctx);
      std::vector<std::string> ids;
      std::function<void(const json&)> scan = [&](const json& j) {
        if (j.is_string() && j.get_ref<const std::string&>().rfind("sha256:", 0) == 0) ids.push_back(j.get<std::string>());
        else if (j.is_structured()) for (const auto& x : j) scan(x);
      };
      scan(safety);
      record({{"event", "safety.snapshot"}, {"step", id}, {"type", type}, {"artifacts", ids}, {"checkpoint", safety}});
      if (opts_.reporter)
        for (const auto& a : ids) opts_.reporter->note("    safety snapshot of " + id + " before undo: " + a);
    }
    step->undo(ctx, rec.checkpoint);
    bool verified = false;
    if (!rec.fingerprint.is_null()) {
      json now = step->fingerprint(ctx);
      if (now != rec.fingerprint)
        return fail("undo not verified: what the step touched differs from before the run" +
                    describe_mismatch(rec.fingerprint, now));
      verified = true;
    }
    record({{"event", "step.undone"}, {"step", id}, {"type", type}, {"verified", verified},
            {"seconds", seconds_since(t0)}});
    return true;
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}

ExitCode Execution::finish(const std::string& status, ExitCode code) {
  json rec = {{"event", "run.end"}, {"status", status}, {"seconds", seconds_since(started_)},
              {"exit_code", static_cast<int>(code)}};
  if (!failure.empty()) rec["error"] = failure;
  if (status == "succeeded" && summary_.kind == "apply") {
    int revision = 1;
    for (const auto& r : state_.releases())
      if (r.value("plan", "") == plan_.name) revision = std::max(revision, r.value("revision", 0) + 1);
    rec["revision"] = revision;
    record(rec);
    json tags = opts_.tags;
    if (opts_.git.contains("tags"))
      for (const auto& t : opts_.git["tags"]) tags.push_back(t);
    state_.append_release({{"plan", plan_.name}, {"revision", revision}, {"run_id", run_id_},
                           {"tags", tags}, {"git", opts_.git}, {"digest", opts_.digest},
                           {"at", checkpoints::utc_now()}});
  } else {
    record(rec);
  }
  write_reports(summary_, run_dir_, opts_);
  if (log_) {
    std::fclose(log_);
    log_ = nullptr;
  }
  // Scratch space is the run's own: nothing in it is needed once the run has ended.
  if (summary_.settled()) util::remove_all(info_.run_dir);
  return code;
}

}  // namespace cutover::executor
