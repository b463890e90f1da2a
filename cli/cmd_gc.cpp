// gc [--keep N] [--dry-run]: removes artifacts no kept release or unsettled run needs
// (executor/gc.h says exactly which).
#include "cli/options.h"
#include "executor/gc.h"
#include "util/units.h"

namespace cutover::cli {

int cmd_gc(const Options& o) {
  executor::Reporter rep(reporter_options(o));
  executor::GcOptions g;
  g.state_dir = o.state;
  g.keep = o.keep;
  g.dry_run = o.dry_run;
  auto lt = util::parse_duration(o.lock_timeout);
  if (!lt) throw Fatal(ExitCode::usage, "--lock-timeout " + o.lock_timeout + ": not a duration (e.g. 30s, 5m)");
  g.lock_timeout = *lt;
  g.reporter = &rep;
  return static_cast<int>(executor::collect_garbage(g));
}

}  // namespace cutover::cli
