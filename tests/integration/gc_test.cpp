// cutover gc (issue 5): artifacts of releases older than the kept N are removed and nothing
// else — counted in the store before and after — rollback --to still works within reach and
// refuses beyond it without changing anything; runs that need attention, damaged journals
// and running plans keep theirs.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <set>

#include "tests/support/e2e.h"
#include "util/strings.h"

using cutover::test::CliResult;
using cutover::test::run_cutover;
using nlohmann::json;
namespace e2e = cutover::test;
namespace fs = std::filesystem;

namespace {

// Every artifact id in the store (data files, not their .meta sidecars).
std::set<std::string> stored_artifacts(const std::string& state) {
  std::set<std::string> out;
  if (!fs::exists(state + "/artifacts/sha256")) return out;
  for (const auto& e : fs::recursive_directory_iterator(state + "/artifacts/sha256"))
    if (e.is_regular_file() && e.path().extension() != ".meta") out.insert("sha256:" + e.path().filename().string());
  return out;
}

// The artifact holding the prior bytes of the file a run's big step wrote.
std::string checkpoint_artifact(const std::string& state, const std::string& run_id) {
  for (const auto& r : e2e::journal_records(state, run_id))
    if (r.value("event", "") == "step.checkpoint" && r.value("step", "") == "big")
      return r["checkpoint"]["file"].value("artifact", "");
  return "";
}

std::vector<std::string> run_ids(const std::string& state) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(state + "/runs")) out.push_back(e.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

// A plan that rewrites a file larger than the journal keeps inline (64 KiB), so that every
// release's checkpoint stores the prior bytes as an artifact; each release renders the
// template with its own ${vars.rev}. A check after it can be made to fail (--var gate=…).
struct BigPlan {
  e2e::TempDir dir;
  std::string plan = dir / "plan.yaml", state = dir / "state", app = dir / "app";
  std::map<int, std::map<std::string, e2e::FileState>> after;  // app/ right after release N
  std::map<int, std::string> run_of;                           // release N -> run id

  BigPlan() {
    std::string body;
    for (int i = 0; i < 3000; ++i) body += "line " + std::to_string(i) + " of the site map, release ${vars.rev}\n";
    e2e::write_file(dir / "big.tmpl", "release ${vars.rev}\n" + body);
    e2e::write_file(app + "/big.txt", "before any release\n" + std::string(70000, 'x') + "\n");
    e2e::write_file(plan,
                    "version: 1\nname: big\nvars: { rev: \"0\", gate: big.tmpl }\nsteps:\n"
                    "  - id: big\n    type: file.write\n    with: { path: app/big.txt, template: big.tmpl }\n"
                    "  - id: gate\n    type: check.file\n    with: { path: \"${vars.gate}\", exists: true }\n");
  }

  CliResult apply(int rev, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"apply", plan, "--var", "rev=" + std::to_string(rev), "--state", state};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_cutover(args);
  }

  void release(int rev) {
    CliResult r = apply(rev);
    INFO(r.all());
    REQUIRE(r.exit_code == 0);
    after[rev] = e2e::snapshot_tree(app);
    run_of[rev] = e2e::latest_run(state);
  }
};

}  // namespace

TEST_CASE("gc --keep 2 after four releases removes only what releases 1 and 2 needed, rollback --to 3 "
          "still restores byte for byte, --to 1 refuses and changes nothing",
          "[e2e][gc][releases]") {
  BigPlan b;
  for (int n = 1; n <= 4; ++n) b.release(n);
  // Prior bytes before each of r1..r4, and the template frozen by every run (stored once).
  auto before = stored_artifacts(b.state);
  REQUIRE(before.size() == 5);
  std::map<int, std::string> prior;
  for (int n = 1; n <= 4; ++n) {
    prior[n] = checkpoint_artifact(b.state, b.run_of[n]);
    REQUIRE(before.count(prior[n]));
  }

  CliResult dry = run_cutover({"gc", "--keep", "2", "--dry-run", "--state", b.state});
  INFO(dry.all());
  REQUIRE(dry.exit_code == 0);
  CHECK(dry.out.find("would remove " + prior[1]) != std::string::npos);
  CHECK(dry.out.find("would remove " + prior[2]) != std::string::npos);
  CHECK(dry.out.find("would remove 2 artifact(s)") != std::string::npos);
  CHECK(stored_artifacts(b.state) == before);

  CliResult gc = run_cutover({"gc", "--keep", "2", "--state", b.state});
  INFO(gc.all());
  REQUIRE(gc.exit_code == 0);
  CHECK(gc.out.find("removed 2 artifact(s)") != std::string::npos);
  CHECK(gc.out.find("r1, r2 lose artifacts: rollback --to reaches back to r2 at most") != std::string::npos);
  auto now = stored_artifacts(b.state);
  CHECK(now.size() == 3);
  CHECK_FALSE(now.count(prior[1]));
  CHECK_FALSE(now.count(prior[2]));
  CHECK(now.count(prior[3]));
  CHECK(now.count(prior[4]));

  // Too far back: refused up front, nothing touched, no run started.
  auto runs = run_ids(b.state);
  CliResult far = run_cutover({"rollback", "--to", "1", "--state", b.state});
  INFO(far.all());
  CHECK(far.exit_code == 1);
  CHECK(far.err.find("cannot roll back big to r1: release r2 was pruned by `cutover gc`") != std::string::npos);
  CHECK(far.err.find("rollback --to reaches back to r2 at most. Nothing was changed") != std::string::npos);
  CHECK(e2e::snapshot_tree(b.app) == b.after[4]);
  CHECK(run_ids(b.state) == runs);
  CliResult history = run_cutover({"history", "--state", b.state});
  CHECK(history.out.find("r2✂") != std::string::npos);
  CHECK(history.out.find("r3✂") == std::string::npos);

  CliResult back = run_cutover({"rollback", "--to", "3", "--state", b.state});
  INFO(back.all());
  REQUIRE(back.exit_code == 0);
  CHECK(e2e::snapshot_tree(b.app) == b.after[3]);
}

TEST_CASE("gc --keep 0 keeps every artifact of a run that needs attention, whose rollback then restores "
          "the bytes",
          "[e2e][gc]") {
  BigPlan b;
  b.release(1);
  b.release(2);
  // Release 3 fails at its check and is left as it is: it needs attention.
  CliResult failed = b.apply(3, {"--var", "gate=missing.txt", "--no-rollback"});
  INFO(failed.all());
  REQUIRE(failed.exit_code == 4);
  const std::string failed_run = e2e::latest_run(b.state);
  const std::string held = checkpoint_artifact(b.state, failed_run);
  REQUIRE_FALSE(held.empty());
  REQUIRE(stored_artifacts(b.state).size() == 4);

  CliResult gc = run_cutover({"gc", "--keep", "0", "--state", b.state});
  INFO(gc.all());
  REQUIRE(gc.exit_code == 0);
  CHECK(gc.out.find("run " + failed_run + " (plan big) is failed: kept with everything it names") != std::string::npos);
  auto now = stored_artifacts(b.state);
  CHECK(now.size() == 2);  // its prior bytes and the template it froze
  CHECK(now.count(held));
  CHECK_FALSE(now.count(checkpoint_artifact(b.state, b.run_of[1])));
  CHECK_FALSE(now.count(checkpoint_artifact(b.state, b.run_of[2])));

  CliResult rb = run_cutover({"rollback", failed_run, "--state", b.state});
  INFO(rb.all());
  REQUIRE(rb.exit_code == 0);
  CHECK(e2e::snapshot_tree(b.app) == b.after[2]);
}

TEST_CASE("gc keeps what a run with a damaged journal names, and says so", "[e2e][gc]") {
  BigPlan b;
  for (int n = 1; n <= 3; ++n) b.release(n);
  // Damage the first record of release 1's journal: its checksum no longer matches.
  std::string journal = b.state + "/runs/" + b.run_of[1] + "/journal.jsonl";
  std::string text = e2e::read_file(journal);
  size_t at = text.find("run.start");
  REQUIRE(at != std::string::npos);
  text.replace(at, 9, "run.stArt");
  e2e::write_file(journal, text, 0600);

  CliResult gc = run_cutover({"gc", "--keep", "1", "--state", b.state});
  INFO(gc.all());
  REQUIRE(gc.exit_code == 0);
  CHECK(gc.out.find("run " + b.run_of[1] + " (plan big) is corrupt: kept with everything it names") != std::string::npos);
  auto now = stored_artifacts(b.state);
  CHECK(now.count(checkpoint_artifact(b.state, b.run_of[3])));
  CHECK_FALSE(now.count(checkpoint_artifact(b.state, b.run_of[2])));
  // Release 1's checkpoint artifact, read from the damaged journal's bytes, is still there.
  size_t id = text.find("\"artifact\":\"sha256:");
  REQUIRE(id != std::string::npos);
  CHECK(now.count(text.substr(id + 12, 71)));
}

TEST_CASE("gc refuses while a run holds its plan's lock and removes nothing, and afterwards it collects",
          "[e2e][gc][lock]") {
  BigPlan b;
  b.release(1);
  b.release(2);
  e2e::write_file(b.dir / "slow.yaml",
                  "version: 1\nname: slow\nsteps:\n  - id: pause\n    type: wait\n    with: { duration: 4s }\n");
  int pid = e2e::spawn_cutover({"apply", b.dir / "slow.yaml", "--state", b.state}, {}, b.dir / "slow.out");
  REQUIRE(e2e::wait_until([&] {
    return run_cutover({"status", "--state", b.state}).out.find("locked: plan slow") != std::string::npos;
  }));
  auto before = stored_artifacts(b.state);
  CliResult busy = run_cutover({"gc", "--keep", "1", "--state", b.state});
  INFO(busy.all());
  CHECK(busy.exit_code == 5);
  CHECK(busy.err.find("cannot collect garbage while a run is active: plan 'slow' is locked by run") != std::string::npos);
  CHECK(busy.err.find("nothing was removed") != std::string::npos);
  CHECK(stored_artifacts(b.state) == before);

  REQUIRE(e2e::wait_pid(pid) == 0);
  CliResult gc = run_cutover({"gc", "--keep", "1", "--state", b.state});
  INFO(gc.all());
  REQUIRE(gc.exit_code == 0);
  CHECK(stored_artifacts(b.state).size() == before.size() - 1);
  CHECK_FALSE(stored_artifacts(b.state).count(checkpoint_artifact(b.state, b.run_of[1])));
}
