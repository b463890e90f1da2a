// validate, plan.
#include <cstdio>

#include "cli/load.h"
#include "cli/options.h"
#include "executor/planner.h"

namespace cutover::cli {

int cmd_validate(const Options& o) {
  LoadedPlan lp = load_for_command(o);
  std::printf("%s: plan '%s' is valid (%zu steps)\n", o.plan.c_str(), lp.plan.name.c_str(), lp.plan.steps.size());
  return 0;
}

int cmd_plan(const Options& o) {
  LoadedPlan lp = load_for_command(o);
  executor::Reporter rep(reporter_options(o));
  executor::PlanOptions po;
  po.no_checks = o.no_checks;
  po.detailed_exitcode = o.detailed_exitcode;
  po.out_file = o.out;
  po.load = lp.load;
  po.digest = lp.digest;
  po.reporter = &rep;
  return static_cast<int>(executor::dry_run(lp.plan, po));
}

}  // namespace cutover::cli
