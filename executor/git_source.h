// Plans live in git (SPEC §2 --rev/--require-clean, §4 run.start): what the repository
// holding a plan file says about it, and a reader of files as they were at a revision.
// libgit2 stays inside git_source.cpp (and the git.checkout step uses the git CLI instead).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cutover::executor {

/// The git facts recorded with a run (run.start `git`, the report, the release's tags).
struct GitInfo {
  bool in_repo = false;
  std::string repo;                // the work tree's folder (absolute, no trailing slash)
  std::string commit;              // HEAD's full sha; "" when HEAD is unborn
  std::vector<std::string> tags;   // tags (annotated and lightweight) pointing at HEAD, sorted
  bool dirty = false;              // the plan file differs from HEAD: modified, staged or untracked

  /// {"in_repo", "repo", "commit", "tags", "dirty"}; only {"in_repo": false} outside a repo.
  nlohmann::json to_json() const;
};

/// Discovers the repository holding `plan_path` (searching upwards from its folder) and
/// describes HEAD and the plan file's state. Outside a repository (or in a bare one) returns
/// in_repo == false without error; throws Error when a repository is found but unreadable.
GitInfo git_info(const std::string& plan_path);

/// One commit of the repository holding a plan, and a reader of its files.
struct GitRevision {
  std::string repo;                // the work tree's folder
  std::string commit;              // full sha
  std::vector<std::string> tags;   // tags pointing at the commit, sorted
  /// Reads a file as it is in that commit's tree. `path` is absolute or relative to the
  /// process's working folder, and must lie inside the repository's work tree (the work tree
  /// itself is never read). Throws Error naming the path and revision when the file is not
  /// in that commit (or is a folder, a symlink or a submodule there).
  std::function<std::string(const std::string& path)> read;
  /// True when `path` (as for `read`) lies inside the work tree, i.e. has a version in git;
  /// files outside it (a vars file in /etc, say) are not versioned by this repository.
  std::function<bool(const std::string& path)> contains;
};

/// Resolves `rev` (tag, branch, short or full sha, anything `git rev-parse` takes) in the
/// repository holding `plan_path`. Throws Fatal(usage) when the plan is not in a repository or
/// the revision does not exist — then the message lists the tags that do, sorted.
GitRevision open_revision(const std::string& plan_path, const std::string& rev);

}  // namespace cutover::executor
