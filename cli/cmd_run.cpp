// apply, resume, rollback.
#include <unistd.h>

#include "cli/load.h"
#include "cli/options.h"
#include "executor/runner.h"
#include "util/units.h"

namespace cutover::cli {

namespace {

executor::RunOptions run_options(const Options& o, executor::Reporter& rep) {
  executor::RunOptions ro;
  ro.state_dir = o.state;
  ro.auto_approve = o.auto_approve;
  ro.no_rollback = o.no_rollback;
  ro.rehearse = o.rehearse;
  ro.interactive = ::isatty(0) && ::isatty(2);
  ro.tags = o.tags;
  auto lt = util::parse_duration(o.lock_timeout);
  if (!lt) throw Fatal(ExitCode::usage, "--lock-timeout " + o.lock_timeout + ": not a duration (e.g. 30s, 5m)");
  ro.lock_timeout = *lt;
  ro.report_file = o.report;
  ro.junit_file = o.junit;
  ro.html_file = o.html;
  ro.reporter = &rep;
  return ro;
}

}  // namespace

int cmd_apply(const Options& o) {
  LoadedPlan lp = load_for_command(o);
  executor::Reporter rep(reporter_options(o));
  auto ro = run_options(o, rep);
  ro.digest = lp.digest;
  ro.git = lp.git;
  return static_cast<int>(executor::apply_plan(lp.plan, ro));
}

int cmd_resume(const Options& o) {
  executor::Reporter rep(reporter_options(o));
  return static_cast<int>(executor::resume_run(o.run, run_options(o, rep)));
}

int cmd_rollback(const Options& o) {
  executor::Reporter rep(reporter_options(o));
  auto ro = run_options(o, rep);
  if (!o.to.empty()) {
    if (!o.run.empty()) throw Fatal(ExitCode::usage, "give either RUN or --to REF, not both");
    return static_cast<int>(executor::rollback_to(o.to, o.dry_run, ro));
  }
  if (o.dry_run) throw Fatal(ExitCode::usage, "--dry-run goes with --to REF");
  return static_cast<int>(executor::rollback_run(o.run, ro));
}

}  // namespace cutover::cli
