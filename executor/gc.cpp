#include "executor/gc.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "checkpoints/journal.h"
#include "checkpoints/lock.h"
#include "checkpoints/state.h"
#include "executor/releases.h"
#include "executor/runs.h"
#include "util/fs.h"
#include "util/strings.h"
#include "util/units.h"

namespace cutover::executor {

using nlohmann::json;

namespace {

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// Every artifact id ("sha256:" + 64 lowercase hex digits) anywhere in `text`, whatever the
// structure around it: a journal with a bad checksum still protects what it names.
void scan_ids(const std::string& text, std::set<std::string>& out) {
  size_t pos = 0;
  while ((pos = text.find("sha256:", pos)) != std::string::npos) {
    size_t start = pos + 7, n = 0;
    while (start + n < text.size() && n <= 64 && is_hex(text[start + n])) ++n;
    if (n == 64) out.insert(text.substr(pos, 71));
    pos = start;
  }
}

// A run folder as gc sees it.
struct RunFacts {
  std::string id;
  std::string plan;
  std::string status;
  bool settled = false;
  std::set<std::string> refs;
  bool keep = false;
  std::string why;  // why it is kept
};

RunFacts read_run(checkpoints::StateStore& state, const std::string& id) {
  RunFacts f;
  f.id = id;
  for (const char* name : {"journal.jsonl", "plan.json"}) {
    std::string path = state.run_dir(id) + "/" + name;
    if (!util::exists(path)) continue;
    try {
      scan_ids(util::read_file(path), f.refs);
    } catch (const std::exception& e) {
      throw Fatal(ExitCode::usage, std::string("cannot read ") + path + ": " + e.what() +
                                       "; it may name any artifact, so nothing was removed");
    }
  }
  try {
    RunSummary rs = load_run(state, id);
    f.plan = rs.plan_name;
    f.status = rs.status;
    f.settled = rs.settled();
  } catch (const checkpoints::JournalCorrupt&) {
    f.status = "corrupt";
  } catch (const std::exception&) {
    f.status = "unreadable";
  }
  if (f.plan.empty() && util::exists(state.run_dir(id) + "/plan.json")) {
    json p = json::parse(util::read_file(state.run_dir(id) + "/plan.json"), nullptr, false);
    if (p.is_object()) f.plan = p.value("name", "");
  }
  return f;
}

// What gc keeps of one plan.
struct Retention {
  std::vector<Release> live;   // oldest first
  bool keep_all = false;       // N or fewer live releases: every run of the plan stays
  std::string cutoff;          // else runs from this id on stay (the oldest kept release's run)
};

std::string revisions(const std::vector<int>& revs) {
  std::vector<std::string> parts;
  for (int r : revs) parts.push_back("r" + std::to_string(r));
  return util::join(parts, ", ");
}

checkpoints::LockHolder gc_holder() {
  checkpoints::LockHolder me;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  me.run_id = "gc";
  me.host = host;
  me.pid = ::getpid();
  me.since = checkpoints::utc_now();
  return me;
}

// Plan names with a lock file: every plan that ever ran in this state folder.
std::vector<std::string> locked_plan_names(const std::string& root) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(root + "/locks", ec)) {
    std::string name = e.path().filename();
    if (util::ends_with(name, ".lock")) out.push_back(name.substr(0, name.size() - 5));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Sidecars whose artifact is gone and temp files of writers that died (no run is active).
size_t remove_strays(const std::string& artifacts_root, bool dry_run) {
  size_t n = 0;
  std::error_code ec;
  for (const auto& d : std::filesystem::directory_iterator(artifacts_root + "/sha256", ec))
    for (const auto& f : std::filesystem::directory_iterator(d.path(), ec)) {
      std::string p = f.path();
      if (!util::ends_with(p, ".meta") || util::exists(p.substr(0, p.size() - 5))) continue;
      ++n;
      if (!dry_run) ::unlink(p.c_str());
    }
  for (const auto& t : std::filesystem::directory_iterator(artifacts_root + "/tmp", ec)) {
    ++n;
    if (!dry_run) std::filesystem::remove_all(t.path(), ec);
  }
  return n;
}

}  // namespace

ExitCode collect_garbage(const GcOptions& opts) {
  Reporter& rep = *opts.reporter;
  if (opts.keep < 0) throw Fatal(ExitCode::usage, "--keep must be 0 or more");
  if (!util::exists(opts.state_dir)) {
    rep.note("no state folder at " + opts.state_dir + ": nothing to collect");
    return ExitCode::ok;
  }
  auto state = checkpoints::open_local_state(opts.state_dir);
  const std::string& root = state->root();

  // No run may be active: one writes an artifact before the record that names it.
  auto me = gc_holder();
  auto store_lock = checkpoints::StoreLock::acquire_exclusive(root, me, opts.lock_timeout);
  if (!store_lock) {
    std::vector<std::string> who;
    for (const auto& h : checkpoints::held_locks(root)) who.push_back("plan '" + h.plan + "' is locked by " + h.describe());
    throw Fatal(ExitCode::locked,
                "cannot collect garbage while a run is active: " +
                    (who.empty() ? std::string("a run is starting, or another cutover gc is running") : util::join(who, "; ")) +
                    "; nothing was removed (wait for it, or use --lock-timeout)");
  }
  std::vector<checkpoints::PlanLock> plan_locks;
  for (const auto& plan : locked_plan_names(root)) {
    me.plan = plan;
    checkpoints::LockHolder holder;
    auto lock = checkpoints::PlanLock::acquire(root, plan, me, std::chrono::milliseconds(0), &holder,
                                               checkpoints::StoreLocking::held_exclusively);
    if (!lock)
      throw Fatal(ExitCode::locked, "cannot collect garbage: plan '" + plan + "' is locked by " + holder.describe() +
                                        "; nothing was removed");
    plan_locks.push_back(std::move(*lock));
  }

  // Which runs stay.
  std::vector<RunFacts> runs;
  for (const auto& id : state->run_ids()) runs.push_back(read_run(*state, id));
  std::map<std::string, Retention> plans;
  for (const auto& r : list_releases(*state))
    if (r.live()) plans[r.plan].live.push_back(r);
  for (auto& [name, p] : plans) {
    std::sort(p.live.begin(), p.live.end(), [](const Release& a, const Release& b) { return a.revision < b.revision; });
    if (opts.keep > 0 && p.live.size() <= static_cast<size_t>(opts.keep)) {
      p.keep_all = true;
      continue;
    }
    p.cutoff = "\x7f";  // --keep 0: no settled run of the plan stays
    for (size_t i = p.live.size() - static_cast<size_t>(opts.keep); i < p.live.size(); ++i)
      p.cutoff = std::min(p.cutoff, p.live[i].run_id);
  }
  std::set<std::string> referenced;
  std::vector<std::string> attention;
  for (auto& r : runs) {
    auto it = plans.find(r.plan);
    if (!r.settled) {
      r.keep = true;
      attention.push_back("  run " + r.id + " (plan " + (r.plan.empty() ? "?" : r.plan) + ") is " + r.status +
                          ": kept with everything it names");
    } else if (r.plan.empty()) {
      r.keep = true;  // cannot tell whose it is
    } else if (it == plans.end()) {
      r.keep = opts.keep > 0;  // no live release: nothing of the plan can be rolled back to
    } else {
      r.keep = it->second.keep_all || r.id >= it->second.cutoff;
    }
    if (r.keep) referenced.insert(r.refs.begin(), r.refs.end());
  }

  std::vector<std::string> doomed;
  uint64_t doomed_bytes = 0, kept_bytes = 0;
  size_t kept = 0;
  auto& store = state->artifacts();
  for (const auto& id : store.list()) {
    uint64_t size = 0;
    try {
      size = store.stored_size(id);
    } catch (const Error&) {
    }
    if (referenced.count(id)) {
      ++kept;
      kept_bytes += size;
    } else {
      doomed.push_back(id);
      doomed_bytes += size;
    }
  }
  std::set<std::string> doomed_set(doomed.begin(), doomed.end());

  // Releases that lose artifacts: rollback --to before them becomes impossible.
  json pruned = json::array();
  std::string text = std::string(opts.dry_run ? "gc (dry run)" : "gc") + ": keeping the last " +
                     std::to_string(opts.keep) + " release(s) of each plan, the runs since, and every run that is not settled\n";
  std::map<std::string, const RunFacts*> run_by_id;
  for (const auto& r : runs) run_by_id[r.id] = &r;
  std::vector<std::pair<Release, size_t>> marks;
  for (const auto& [name, p] : plans) {
    std::vector<int> kept_revs, pruned_revs;
    for (const auto& rel : p.live) {
      auto run = run_by_id.find(rel.run_id);
      size_t lost = 0;
      if (run != run_by_id.end() && !run->second->keep)
        for (const auto& id : run->second->refs) lost += doomed_set.count(id);
      if (lost || rel.pruned()) {
        pruned_revs.push_back(rel.revision);
        if (lost && !rel.pruned()) marks.emplace_back(rel, lost);
      } else {
        kept_revs.push_back(rel.revision);
      }
    }
    text += "  plan " + name + ": " + std::to_string(p.live.size()) + " live release(s)";
    if (!pruned_revs.empty()) {
      text += "; " + revisions(pruned_revs) + (opts.dry_run ? " would lose" : " lose") +
              " artifacts: rollback --to reaches back to r" + std::to_string(pruned_revs.back()) + " at most";
      for (int r : pruned_revs) pruned.push_back({{"plan", name}, {"revision", r}});
    } else {
      text += ": every one can still be rolled back to";
    }
    text += "\n";
  }
  for (const auto& a : attention) text += a + "\n";
  if (opts.dry_run || rep.options().verbosity > 0)
    for (const auto& id : doomed) {
      std::string kind = store.meta(id).value("kind", "");
      text += std::string(opts.dry_run ? "  would remove " : "  remove ") + id + (kind.empty() ? "" : " (" + kind + ")") + "\n";
    }

  size_t removed = 0, strays = 0;
  uint64_t removed_bytes = 0;
  if (!opts.dry_run) {
    // The marks are durable before the first removal: a crash in between leaves a release
    // marked whose artifacts are still there, never one unmarked whose artifacts are gone.
    for (const auto& [rel, lost] : marks)
      state->append_release({{"plan", rel.plan}, {"revision", rel.revision}, {"pruned_by", "gc"},
                             {"at", checkpoints::utc_now()}, {"artifacts_removed", lost}});
    for (const auto& id : doomed) {
      try {
        uint64_t size = store.stored_size(id);
        store.remove(id);
        ++removed;
        removed_bytes += size;
      } catch (const std::exception& e) {
        rep.warn("could not remove " + id + ": " + e.what() + " (left for the next gc)");
      }
    }
  }
  strays = remove_strays(store.root(), opts.dry_run);
  text += std::string(opts.dry_run ? "would remove " : "removed ") +
          std::to_string(opts.dry_run ? doomed.size() : removed) + " artifact(s), " +
          util::format_bytes(opts.dry_run ? doomed_bytes : removed_bytes) + "; kept " + std::to_string(kept) +
          " artifact(s), " + util::format_bytes(kept_bytes) +
          (strays ? "; " + std::to_string(strays) + " leftover temp/sidecar file(s)" : "") +
          (opts.dry_run ? "; nothing was removed\n" : "\n");
  rep.plan_line({{"event", "gc"},
                 {"dry_run", opts.dry_run},
                 {"keep", opts.keep},
                 {"removed", opts.dry_run ? 0 : removed},
                 {"removed_bytes", opts.dry_run ? 0 : removed_bytes},
                 {"would_remove", opts.dry_run ? doomed.size() : 0},
                 {"would_remove_bytes", opts.dry_run ? doomed_bytes : 0},
                 {"kept", kept},
                 {"kept_bytes", kept_bytes},
                 {"artifacts", doomed},
                 {"pruned_releases", pruned}},
                text);
  return ExitCode::ok;
}

}  // namespace cutover::executor
