#include "cli/load.h"

#include <cstdio>
#include <functional>

#include "executor/git_source.h"
#include "executor/loader.h"
#include "executor/plan_inputs.h"
#include "executor/plan_json.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/redact.h"
#include "util/strings.h"

namespace cutover::cli {

using nlohmann::json;

namespace {

executor::LoadOptions load_options(const std::string& profile, const std::vector<std::string>& vars,
                                   const std::vector<std::string>& vars_files) {
  executor::LoadOptions lo;
  lo.profile = profile;
  for (const auto& kv : vars) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      throw Fatal(ExitCode::usage, "--var " + kv + ": expected KEY=VALUE");
    lo.var_overrides.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  lo.vars_files = vars_files;
  return lo;
}

executor::Plan load_yaml(const std::string& path, const executor::LoadOptions& lo) {
  try {
    return executor::load_plan(path, lo);
  } catch (const executor::PlanInvalid& e) {
    std::string source;
    try {
      source = lo.read_file ? lo.read_file(path) : util::read_file(path);
    } catch (...) {
    }
    std::fputs(util::redact(executor::format_diagnostics(e.diagnostics, source)).c_str(), stderr);
    std::fprintf(stderr, "cutover: %zu problem(s) in %s; nothing was run\n", e.diagnostics.size(), path.c_str());
    throw;
  }
}

bool looks_saved(const std::string& path) {
  if (!util::ends_with(path, ".json")) return false;
  try {
    json j = json::parse(util::read_file(path));
    return j.is_object() && j.value("format", "") == "cutover.saved-plan/1";
  } catch (...) {
    return false;
  }
}

// --rev: the plan and the vars files inside the repository are read from that commit (files
// outside the work tree are not versioned by it and are read as they are). Returns the git
// facts of that revision for lp.git.
nlohmann::json use_revision(const std::string& plan, const std::string& rev,
                            executor::LoadOptions& lo,
                            std::function<bool(const std::string&)>* versioned) {
  executor::GitRevision r = executor::open_revision(plan, rev);
  auto read = r.read;
  auto contains = r.contains;
  lo.read_file = [read, contains](const std::string& path) {
    return contains(path) ? read(path) : util::read_file(path);
  };
  *versioned = contains;
  return {{"in_repo", true}, {"repo", r.repo}, {"commit", r.commit}, {"tags", r.tags},
          {"dirty", false}, {"rev", rev}};
}

// The files steps read (templates, sources, SQL files) as they are where the plan was read
// from: the run freezes these bytes (executor/plan_inputs.h). At --rev a file the revision
// should hold but does not stops the command.
void read_inputs(executor::Plan& plan, const executor::LoadOptions& lo,
                 const std::function<bool(const std::string&)>& versioned) {
  try {
    executor::read_step_inputs(plan, lo.read_file, versioned);
  } catch (const Error& e) {
    throw Fatal(ExitCode::usage, std::string(e.what()) + "; nothing was run");
  }
}

// The work tree's git facts for lp.git; --require-clean refuses a plan that differs from HEAD.
nlohmann::json work_tree_git(const std::string& plan, bool require_clean) {
  executor::GitInfo g = executor::git_info(plan);
  if (require_clean && !g.in_repo)
    throw Fatal(ExitCode::usage, plan + " is not in a git work tree, so --require-clean cannot "
                                        "prove it is committed; drop --require-clean or commit the plan");
  if (require_clean && g.dirty)
    throw Fatal(ExitCode::usage,
                plan + " differs from git HEAD (" +
                    (g.commit.empty() ? std::string("no commit yet") : g.commit.substr(0, 12)) + " in " + g.repo +
                    ": modified, staged or untracked); commit it or drop --require-clean");
  return g.to_json();
}

}  // namespace

LoadedPlan load_for_command(const Options& o) {
  LoadedPlan lp;
  if (looks_saved(o.plan)) {
    // A saved plan runs exactly as reviewed: options that would change it are refused rather
    // than silently ignored.
    if (!o.profile.empty() || !o.vars.empty() || !o.vars_files.empty() || !o.rev.empty())
      throw Fatal(ExitCode::usage, o.plan + " is a saved plan: it runs with the profile, vars and revision it was "
                                            "saved with; drop --profile/--var/--vars-file/--rev, or run "
                                            "`cutover plan` with them and --out again");
    json saved = json::parse(util::read_file(o.plan));
    const json& load = saved["load"];
    // Re-read the plan and its inputs as they are now: a saved plan runs only if nothing
    // it was made from has changed since.
    auto lo = load_options(load.value("profile", ""), load.value("vars", std::vector<std::string>{}),
                           load.value("vars_files", std::vector<std::string>{}));
    std::string file = load.value("file", ""), rev = load.value("rev", "");
    std::function<bool(const std::string&)> versioned;
    lp.git = rev.empty() ? work_tree_git(file, o.require_clean) : use_revision(file, rev, lo, &versioned);
    executor::Plan now = load_yaml(file, lo);
    read_inputs(now, lo, versioned);
    std::string digest = executor::plan_digest(now, lo.read_file);
    if (digest != saved.value("digest", ""))
      throw Fatal(ExitCode::usage, "the plan or its inputs changed since " + o.plan +
                                       " was saved (digest " + saved.value("digest", "").substr(0, 12) + " → " +
                                       digest.substr(0, 12) + "); run `cutover plan --out` again and review it");
    lp.plan = executor::plan_from_json(saved["plan"]);
    lp.plan.input_texts = now.input_texts;  // the bytes the digest just covered
    lp.digest = digest;
    lp.load = load;
    return lp;
  }
  auto lo = load_options(o.profile, o.vars, o.vars_files);
  std::function<bool(const std::string&)> versioned;
  lp.git = o.rev.empty() ? work_tree_git(o.plan, o.require_clean) : use_revision(o.plan, o.rev, lo, &versioned);
  lp.plan = load_yaml(o.plan, lo);
  read_inputs(lp.plan, lo, versioned);
  lp.digest = executor::plan_digest(lp.plan, lo.read_file);
  lp.load = {{"file", util::join_path(lp.plan.dir, util::basename(o.plan))},
             {"profile", o.profile},
             {"vars", o.vars},
             {"vars_files", o.vars_files}};
  if (!o.rev.empty()) lp.load["rev"] = o.rev;
  return lp;
}

}  // namespace cutover::cli
