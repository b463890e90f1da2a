#include "cli/cli.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>

#include "cli/options.h"
#include "executor/plan.h"
#include "util/cancel.h"
#include "util/redact.h"

namespace cutover::cli {

executor::ReporterOptions reporter_options(const Options& o) {
  executor::ReporterOptions r;
  r.mode = o.output == "json" ? executor::OutputMode::json : executor::OutputMode::human;
  int fd = r.mode == executor::OutputMode::json ? 2 : 1;
  r.terminal = ::isatty(fd);
  const char* no_color = std::getenv("NO_COLOR");
  r.color = r.terminal && !o.no_color && !(no_color && *no_color);
  r.verbosity = o.verbose - o.quiet;
  return r;
}

namespace {

void common(CLI::App* c, Options& o) {
  c->add_option("--state", o.state, "state folder or postgresql:// URL (default ./.cutover or $CUTOVER_STATE)");
  c->add_option("--output", o.output, "human or json (NDJSON events on stdout)")->check(CLI::IsMember({"human", "json"}));
  c->add_flag("--no-color", o.no_color, "no colours");
  c->add_flag("-v,--verbose", o.verbose, "more detail");
  c->add_flag("-q,--quiet", o.quiet, "less detail");
}

void plan_inputs(CLI::App* c, Options& o) {
  c->add_option("PLAN", o.plan, "plan file (YAML), or a plan saved by `plan --out`")->required();
  c->add_option("--profile", o.profile, "merge profiles.NAME over vars and hosts");
  c->add_option("--var", o.vars, "KEY=VALUE (repeatable)");
  c->add_option("--vars-file", o.vars_files, "YAML file of vars (repeatable)");
  c->add_option("--rev", o.rev, "load the plan and the files it names (templates, sources, SQL) from git at this revision");
  c->add_flag("--require-clean", o.require_clean, "refuse a plan file that differs from git HEAD");
}

void run_options(CLI::App* c, Options& o) {
  c->add_flag("--auto-approve", o.auto_approve, "answer yes to confirmations");
  c->add_option("--lock-timeout", o.lock_timeout, "wait this long for the plan's lock (default 0s)");
  c->add_option("--report", o.report, "write the JSON report here too");
  c->add_option("--junit", o.junit, "write a JUnit XML report here");
  c->add_option("--html", o.html, "write an HTML report here");
}

}  // namespace

int main(int argc, char** argv) {
  util::install_signal_handlers();
  Options o;
  CLI::App app{"cutover — migration plans with rollback checkpoints", "cutover"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "cutover 0.1.0");

  auto* validate = app.add_subcommand("validate", "check syntax, schema, references; nothing runs");
  plan_inputs(validate, o);
  common(validate, o);

  auto* plan = app.add_subcommand("plan", "dry run: what each step would do, with diffs; changes nothing");
  plan_inputs(plan, o);
  common(plan, o);
  plan->add_flag("--detailed-exitcode", o.detailed_exitcode, "exit 2 when changes are pending");
  plan->add_flag("--no-checks", o.no_checks, "do not run the read-only checks");
  plan->add_option("--out", o.out, "save the resolved plan; `apply FILE` runs exactly it");

  auto* apply = app.add_subcommand("apply", "run the plan; roll back automatically on failure");
  plan_inputs(apply, o);
  common(apply, o);
  run_options(apply, o);
  apply->add_flag("--no-rollback", o.no_rollback, "leave a failed run as it is, for resume or rollback");
  apply->add_flag("--rehearse", o.rehearse, "apply, roll back, verify, apply again");
  apply->add_option("--tag", o.tags, "attach a release tag on success (repeatable)");

  auto* resume = app.add_subcommand("resume", "continue an interrupted run from where it stopped");
  resume->add_option("RUN", o.run, "run id (default: the newest interrupted run)");
  common(resume, o);
  run_options(resume, o);

  auto* rollback = app.add_subcommand("rollback", "undo an interrupted or failed run, or releases");
  rollback->add_option("RUN", o.run, "run id (default: the newest run that needs attention)");
  rollback->add_option("--to", o.to, "undo every release after REF");
  rollback->add_flag("--dry-run", o.dry_run, "list the undo actions; change nothing");
  common(rollback, o);
  run_options(rollback, o);

  auto* history = app.add_subcommand("history", "releases and runs, newest first");
  history->add_option("PLAN_NAME", o.plan_name, "only this plan");
  common(history, o);

  auto* show = app.add_subcommand("show", "one run: steps, durations, checkpoints, outputs, errors");
  show->add_option("RUN", o.run, "run id or a unique prefix")->required();
  common(show, o);

  auto* status = app.add_subcommand("status", "lock holders, runs that need attention");
  common(status, o);

  auto* steps = app.add_subcommand("steps", "list step types, or one type's parameters");
  steps->add_option("TYPE", o.type, "a step type");
  common(steps, o);

  auto* schema = app.add_subcommand("schema", "print the plan JSON Schema");
  common(schema, o);

  auto* doctor = app.add_subcommand("doctor", "diagnose the environment a plan needs");
  doctor->add_option("PLAN", o.plan, "plan file (without it: tools, state folder, lock, runs only)");
  doctor->add_option("--profile", o.profile, "merge profiles.NAME over vars and hosts");
  doctor->add_option("--var", o.vars, "KEY=VALUE (repeatable)");
  doctor->add_option("--vars-file", o.vars_files, "YAML file of vars (repeatable)");
  doctor->add_option("--rev", o.rev, "load the plan from git at this revision");
  common(doctor, o);

  auto* init = app.add_subcommand("init", "write a starter plan (asks questions on a terminal)");
  init->add_option("DIR", o.dir, "folder for plan.yaml (default: the current folder)");
  init->add_option("--template", o.template_name, "server-move (default), domain-rename, full-sync or release")
      ->check(CLI::IsMember({"server-move", "domain-rename", "full-sync", "release"}));
  common(init, o);

  auto* gc = app.add_subcommand("gc", "delete artifacts no longer needed by the last N releases");
  gc->add_option("--keep", o.keep,
                 "live releases kept per plan, with every run since the oldest of them (default 5); "
                 "rollback --to reaches back N releases")
      ->check(CLI::NonNegativeNumber);
  gc->add_flag("--dry-run", o.dry_run, "list what would be removed; remove nothing");
  gc->add_option("--lock-timeout", o.lock_timeout, "wait this long for running plans to finish (default 0s)");
  common(gc, o);

  std::map<CLI::App*, std::function<int(const Options&)>> commands = {
      {validate, cmd_validate}, {plan, cmd_plan},       {apply, cmd_apply},   {resume, cmd_resume},
      {rollback, cmd_rollback}, {history, cmd_history}, {show, cmd_show},     {status, cmd_status},
      {steps, cmd_steps},       {schema, cmd_schema},     {doctor, cmd_doctor}, {init, cmd_init},
      {gc, cmd_gc}};

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return static_cast<int>(ExitCode::usage);
  }
  if (o.state.empty()) {
    const char* env = std::getenv("CUTOVER_STATE");
    o.state = env && *env ? env : ".cutover";
  }
  for (auto& [sub, fn] : commands) {
    if (!sub->parsed()) continue;
    o.command = sub->get_name();
    try {
      return fn(o);
    } catch (const Fatal& e) {
      std::fprintf(stderr, "cutover: error: %s\n", util::redact(e.what()).c_str());
      return static_cast<int>(e.code());
    } catch (const executor::PlanInvalid& e) {
      // Printed by the command that loaded the plan.
      return static_cast<int>(ExitCode::usage);
    } catch (const Error& e) {
      std::fprintf(stderr, "cutover: error: %s\n", util::redact(e.what()).c_str());
      if (!e.hint().empty()) std::fprintf(stderr, "hint: %s\n", util::redact(e.hint()).c_str());
      return static_cast<int>(ExitCode::usage);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "cutover: internal error: %s\n", util::redact(e.what()).c_str());
      return static_cast<int>(ExitCode::needs_attention);
    }
  }
  return static_cast<int>(ExitCode::usage);
}

}  // namespace cutover::cli
