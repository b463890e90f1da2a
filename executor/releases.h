// Releases (SPEC §4): every succeeded apply is revision N of its plan. releases.jsonl holds one
// line per release, one line per release later rolled back ({"rolled_back_by": RUN}) and one
// line per release whose artifacts `cutover gc` removed ({"pruned_by": "gc", "at": TIME}, written
// before the first removal); this file folds them into the list of releases and resolves the
// REF of `rollback --to`.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "checkpoints/state.h"

namespace cutover::executor {

struct Release {
  std::string plan;
  int revision = 0;
  std::string run_id;
  std::vector<std::string> tags;  // --tag names and the commit's git tags
  std::string commit;
  std::string at;
  std::string rolled_back_by;     // run id of the rollback that undid it, "" while live
  std::string pruned_at;          // when `cutover gc` removed artifacts it needs; "" if never
  bool live() const { return rolled_back_by.empty(); }
  bool pruned() const { return !pruned_at.empty(); }
};

/// Every release, oldest first, with its rolled-back marker folded in.
std::vector<Release> list_releases(checkpoints::StateStore& state);

/// The live release REF names: a revision number ("3" or "r3"), a release tag, a git tag, a
/// commit (7+ hex digits) or a run id. Throws Fatal(usage) when none or several plans match.
Release resolve_release(checkpoints::StateStore& state, const std::string& ref);

}  // namespace cutover::executor
