// The files a plan's steps read from its folder — file.write `template:`/`source:` and pg.sql
// `up`/`down`/`verify` `{file: …}` — frozen, so that a run reads the plan's inputs from the same
// place as the plan itself:
//
//   load   read_step_inputs reads each one through LoadOptions::read_file (the work tree, or
//          the git blob at --rev) into Plan::input_texts; the plan digest hashes those bytes.
//   start  freeze_inputs stores them in the content-addressed artifact store (free when
//          unchanged) and records key -> artifact id in Plan::frozen_inputs, which goes into
//          the run's plan.json.
//   run    steps read them through steps::Context::read_input = input_reader(plan): the frozen
//          artifact when the path is a recorded input, else the file system. resume, rollback
//          and rollback --to rebuild the plan from plan.json and so read the same bytes even
//          when the work tree changed meanwhile.
//
// A path is an input when it is written literally or with only ${vars.…}/${env.…}/${plan.…}
// references; one naming a step output or ${run.dir} cannot be known before the run and is
// read from the file system when the step runs.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "checkpoints/state.h"
#include "executor/plan.h"

namespace cutover::executor {

using FileReader = std::function<std::string(const std::string& path)>;

/// The key of an input: `path` (absolute, or relative to `plan_dir`) normalized, relative to
/// `plan_dir` when it lies inside it ("templates/nginx.conf"), else absolute.
std::string input_key(const std::string& plan_dir, const std::string& path);

/// One input file named by a step.
struct StepInput {
  std::string step;    // step id
  std::string param;   // "template", "up.file", …
  std::string path;    // absolute
};

/// Every input the plan's steps name (see the header comment for which paths count).
std::vector<StepInput> step_inputs(const Plan& plan);

/// Reads every step input through `read` (empty = the local file system) into
/// plan.input_texts. An input `versioned` says lies in the revision being read (--rev) must be
/// readable: otherwise throws Error naming the step, the file and why. Any other unreadable
/// input is left out (the step reads the file system when it runs, and says what is wrong).
void read_step_inputs(Plan& plan, const FileReader& read,
                      const std::function<bool(const std::string&)>& versioned = {});

/// Stores plan.input_texts in `store` and fills plan.frozen_inputs. Throws Error.
void freeze_inputs(Plan& plan, checkpoints::ArtifactStore& store);

/// A reader for steps::Context::read_input: a frozen input from `store` (when given), else the
/// text read at load time, else the local file (relative to plan.dir). Holds references to
/// `plan` and `store`. Throws Error naming the file.
FileReader input_reader(const Plan& plan, const checkpoints::ArtifactStore* store);

/// The same for the plan of an earlier run (runs/<id>/plan.json): what rollback --to uses to
/// undo a release's steps with that release's own inputs. Throws Error when plan.json is
/// unreadable.
FileReader run_input_reader(checkpoints::StateStore& state, const std::string& run_id);

}  // namespace cutover::executor
