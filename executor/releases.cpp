#include "executor/releases.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "util/error.h"
#include "util/strings.h"

namespace cutover::executor {

std::vector<Release> list_releases(checkpoints::StateStore& state) {
  std::vector<Release> out;
  for (const auto& r : state.releases()) {
    if (r.contains("rolled_back_by")) {
      for (auto& x : out)
        if (x.plan == r.value("plan", "") && x.revision == r.value("revision", 0))
          x.rolled_back_by = r.value("rolled_back_by", "");
      continue;
    }
    if (r.contains("pruned_by")) {
      for (auto& x : out)
        if (x.plan == r.value("plan", "") && x.revision == r.value("revision", 0) && x.pruned_at.empty())
          x.pruned_at = r.value("at", "?");
      continue;
    }
    Release rel;
    rel.plan = r.value("plan", "");
    rel.revision = r.value("revision", 0);
    rel.run_id = r.value("run_id", "");
    for (const auto& t : r.value("tags", nlohmann::json::array()))
      if (t.is_string()) rel.tags.push_back(t.get<std::string>());
    rel.commit = r.value("git", nlohmann::json::object()).value("commit", "");
    rel.at = r.value("at", "");
    out.push_back(rel);
  }
  return out;
}

Release resolve_release(checkpoints::StateStore& state, const std::string& ref) {
  auto all = list_releases(state);
  std::string num = ref.size() > 1 && (ref[0] == 'r' || ref[0] == 'R') ? ref.substr(1) : ref;
  bool is_number = !num.empty() && std::all_of(num.begin(), num.end(), ::isdigit);
  bool is_hex = ref.size() >= 7 && std::all_of(ref.begin(), ref.end(), ::isxdigit);
  std::vector<Release> hits;
  if (is_number && std::stoll(num) == 0) {
    // r0: the state before the first release, for undoing every release of a plan.
    std::set<std::string> plans;
    for (const auto& r : all)
      if (r.live()) plans.insert(r.plan);
    if (plans.size() != 1)
      throw Fatal(ExitCode::usage, plans.empty() ? "there are no live releases" : "r0 is ambiguous: several plans have releases");
    Release zero;
    zero.plan = *plans.begin();
    return zero;
  }
  for (const auto& r : all) {
    if (!r.live()) continue;
    bool match = (is_number && std::to_string(r.revision) == num) ||
                 std::find(r.tags.begin(), r.tags.end(), ref) != r.tags.end() ||
                 (is_hex && util::starts_with(r.commit, ref)) || r.run_id == ref ||
                 (ref.size() >= 8 && util::starts_with(r.run_id, ref));
    if (match) hits.push_back(r);
  }
  if (hits.empty()) {
    std::vector<std::string> known;
    for (const auto& r : all)
      if (r.live()) {
        std::string k = r.plan + " r" + std::to_string(r.revision);
        if (!r.tags.empty()) k += " (" + util::join(r.tags, ", ") + ")";
        known.push_back(k);
      }
    throw Fatal(ExitCode::usage, "no live release matches '" + ref + "'" +
                                     (known.empty() ? std::string("; there are no releases")
                                                    : "; releases: " + util::join(known, "; ")));
  }
  std::set<std::string> plans;
  for (const auto& h : hits) plans.insert(h.plan);
  if (plans.size() > 1)
    throw Fatal(ExitCode::usage, "'" + ref + "' names releases of several plans (" +
                                     util::join(std::vector<std::string>(plans.begin(), plans.end()), ", ") +
                                     "); use a run id or a release tag");
  // Several releases of one plan (a commit applied twice): the newest one is "the state at REF".
  return hits.back();
}

}  // namespace cutover::executor
