#include "executor/planner.h"

#include "checkpoints/artifact_store.h"
#include "executor/plan_inputs.h"
#include "executor/plan_json.h"
#include "executor/run_env.h"
#include "steps/registry.h"
#include "util/fs.h"
#include "util/redact.h"

namespace cutover::executor {

using nlohmann::json;

namespace {

struct TempDir {
  std::string path = util::make_temp_dir("cutover-plan-");
  ~TempDir() {
    try {
      util::remove_all(path);
    } catch (...) {
    }
  }
};

std::string indented(const std::string& text, const std::string& pad) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    out += pad + text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos) + "\n";
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return out;
}

}  // namespace

ExitCode dry_run(const Plan& plan, const PlanOptions& opts) {
  Reporter& rep = *opts.reporter;
  RunEnv env(plan);
  TempDir scratch;
  checkpoints::ArtifactStore artifacts(scratch.path + "/artifacts");
  steps::RunInfo info;
  info.run_id = "(plan)";
  info.run_dir = scratch.path;
  info.plan_name = plan.name;
  info.plan_dir = plan.dir;
  info.auto_approve = true;  // confirm steps only describe themselves in a dry run
  struct NoProgress : steps::Progress {
    void update(uint64_t, uint64_t, const std::string&) override {}
  } no_progress;

  std::map<std::string, json> outputs;
  int changes = 0, failures = 0;
  rep.plan_line({{"event", "plan.start"}, {"plan", plan.name}, {"steps", plan.steps.size()}, {"digest", opts.digest}},
                "plan " + plan.name + " (" + std::to_string(plan.steps.size()) + " steps)\n");
  for (const auto& spec : plan.steps) {
    const steps::StepType* type = steps::find_step_type(spec.type);
    bool check = type && type->kind == steps::Kind::check;
    std::string label = spec.id + " (" + spec.type + (spec.on.empty() ? "" : " on " + spec.on) + ")";
    json item = {{"event", "plan.step"}, {"step", spec.id}, {"type", spec.type}};
    if (check && opts.no_checks) {
      item["status"] = "skipped";
      rep.plan_line(item, "  - " + label + ": check skipped (--no-checks)\n");
      continue;
    }
    try {
      json params = interpolate(spec.with, env.scope(outputs, "(plan)", scratch.path, true),
                                SecretMode::reveal, shell_keys_of(spec.type));
      auto step = steps::make_step({spec.id, spec.type, spec.on, params}, plan.dir);
      steps::Context ctx{env.host(spec.on), artifacts, info, no_progress, util::Deadline{},
                         [&](const std::string& n) -> hosts::Host& { return env.host(n == "local" ? "" : n); },
                         [](const std::string&) {},
                         [&](const std::string& text) {
                           json v = interpolate_string(text, env.scope(outputs, "(plan)", scratch.path, true),
                                                       SecretMode::reveal);
                           return v.is_string() ? v.get<std::string>() : v.dump();
                         },
                         input_reader(plan, nullptr)};  // inputs as loaded: the work tree, or git at --rev
      steps::Preview p = step->plan(ctx);
      if (p.outputs.is_object() && !p.outputs.empty()) outputs[spec.id] = p.outputs;
      std::string mark = check ? "  ✓ " : p.changes ? "  ~ " : "  = ";
      if (!check && p.changes) ++changes;
      item["status"] = check ? "passes" : p.changes ? "changes" : "no_change";
      item["summary"] = p.summary;
      item["detail"] = p.detail;
      std::string text = mark + label + (p.summary.empty() ? "" : ": " + p.summary) + "\n";
      if (!p.detail.empty()) text += indented(p.detail, "      ");
      rep.plan_line(item, text);
    } catch (const std::exception& e) {
      if (check && changes > 0) {
        // The earlier steps have not run: a check of what they will create (a database, a
        // file) cannot pass yet. Say so, but do not call the plan broken.
        item["status"] = "fails_now";
        item["error"] = e.what();
        rep.plan_line(item, "  ? " + label + ": fails now, before the steps above have run: " + e.what() + "\n");
        continue;
      }
      ++failures;
      item["status"] = check ? "fails" : "error";
      item["error"] = e.what();
      const Error* err = dynamic_cast<const Error*>(&e);
      std::string text = "  ✗ " + label + ": " + (check ? "check would fail: " : "cannot plan: ") + e.what() + "\n";
      if (err && !err->hint().empty()) text += "      hint: " + err->hint() + "\n";
      rep.plan_line(item, text);
    }
  }
  rep.plan_line({{"event", "plan.end"}, {"changes", changes}, {"failures", failures}},
                std::to_string(changes) + " step(s) would change something" +
                    (failures ? ", " + std::to_string(failures) + " would fail" : "") + "; nothing was changed\n");
  if (!opts.out_file.empty()) {
    json saved = {{"format", "cutover.saved-plan/1"}, {"digest", opts.digest}, {"load", opts.load},
                  {"plan", plan_to_json(plan)}};
    util::write_file_atomic(opts.out_file, util::redact_json(saved).dump(2) + "\n", 0600);
    rep.note("saved the resolved plan to " + opts.out_file + "; `cutover apply " + opts.out_file +
             "` runs exactly it");
  }
  if (failures) return ExitCode::usage;
  return opts.detailed_exitcode && changes ? ExitCode::changes_pending : ExitCode::ok;
}

}  // namespace cutover::executor
