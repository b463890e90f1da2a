// `cutover gc [--keep N]` (SPEC §2): removes the artifacts no run still needs.
//
// What is kept — every artifact id ("sha256:<64 hex>") found anywhere in the journal or the
// plan.json (frozen inputs) of a kept run; a run's folder is read as bytes, so a journal that
// fails its checksums still protects everything it names:
//   - per plan, its last N live releases, and every run of the plan since the oldest of them
//     (rolled-back attempts, rollback runs and their safety snapshots); a plan with N or fewer
//     live releases keeps all its runs;
//   - every run that is not settled: interrupted, failed (--no-rollback), rollback_incomplete,
//     running, or whose journal cannot be understood;
// Everything else in artifacts/sha256/ goes, with stray sidecars and temp files of dead writers.
// A run folder whose files cannot be read at all stops gc before it removes anything.
//
// gc holds the store lock exclusively (checkpoints/lock.h) and every plan's lock while it
// decides and removes, so no run can write an artifact not yet named by a record meanwhile;
// it refuses (exit 5) while a run is active. A live release older than the kept N whose
// artifacts are removed is marked in releases.jsonl first ({"pruned_by": "gc"}), so that
// `rollback --to` a point before it refuses up front, naming it (rollback_to.cpp).
#pragma once

#include <chrono>
#include <string>

#include "executor/reporter.h"
#include "util/error.h"

namespace cutover::executor {

/// Releases kept per plan when --keep is not given.
constexpr int kDefaultKeepReleases = 5;

struct GcOptions {
  std::string state_dir = ".cutover";
  int keep = kDefaultKeepReleases;     // live releases kept per plan (>= 0)
  bool dry_run = false;                // say what would go; change nothing
  std::chrono::milliseconds lock_timeout{0};
  Reporter* reporter = nullptr;
};

/// Runs gc; returns ExitCode::ok (also when an artifact could not be removed: it is named in a
/// warning and left for the next gc). Throws Fatal(locked) while a run is active, and
/// Fatal(usage) when a run's files cannot be read (nothing is removed then).
ExitCode collect_garbage(const GcOptions& opts);

}  // namespace cutover::executor
