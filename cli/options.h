// Options shared by the commands, filled by the parser (cli/cli.cpp) and read by each
// command's file. Kept free of CLI11 so that only cli.cpp pays for its headers.
#pragma once

#include <string>
#include <vector>

#include "executor/reporter.h"
#include "util/error.h"

namespace cutover::cli {

struct Options {
  std::string command;
  std::string plan;          // PLAN argument (validate, plan, apply, doctor)
  std::string run;           // RUN argument (resume, rollback, show)
  std::string type;          // steps TYPE
  std::string plan_name;     // history PLAN_NAME
  std::string to;            // rollback --to REF
  std::string profile;
  std::vector<std::string> vars;        // --var KEY=VALUE
  std::vector<std::string> vars_files;  // --vars-file
  std::string state;
  std::string rev;
  std::string output = "human";
  std::string report, junit, html, out;
  std::vector<std::string> tags;
  std::string lock_timeout = "0s";
  bool auto_approve = false, no_rollback = false, rehearse = false, require_clean = false;
  bool dry_run = false, detailed_exitcode = false, no_checks = false, force = false;
  bool no_color = false;
  int verbose = 0, quiet = 0;
  int keep = 5;              // gc --keep (executor::kDefaultKeepReleases)
  std::string template_name, dir;   // init --template, DIR
};

/// The reporter for these options (terminal detection, colours, json).
executor::ReporterOptions reporter_options(const Options& o);

int cmd_validate(const Options& o);
int cmd_plan(const Options& o);
int cmd_apply(const Options& o);
int cmd_resume(const Options& o);
int cmd_rollback(const Options& o);
int cmd_history(const Options& o);
int cmd_show(const Options& o);
int cmd_status(const Options& o);
int cmd_steps(const Options& o);
int cmd_schema(const Options& o);
/// doctor [PLAN]: the table of checks (cli/cmd_doctor.cpp); 0 when none failed, else 1.
int cmd_doctor(const Options& o);
/// init [--template T] [DIR]: writes DIR/plan.yaml (cli/cmd_init.cpp); 1 if it exists.
int cmd_init(const Options& o);
/// gc [--keep N] [--dry-run]: removes unneeded artifacts (cli/cmd_gc.cpp); 5 while a run is active.
int cmd_gc(const Options& o);

}  // namespace cutover::cli
