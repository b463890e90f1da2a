// Releases and rollback --to (issue 5): plans versioned in a real git repository, applied with
// --rev, undone to a tag — files compared byte for byte, the database schema dump for dump.
#include <signal.h>

#include <catch2/catch.hpp>

#include "tests/support/e2e.h"
#include "tests/support/pg_cluster.h"
#include "util/process.h"

using cutover::test::CliOptions;
using cutover::test::CliResult;
using cutover::test::read_file;
using cutover::test::run_cutover;
using cutover::test::snapshot_tree;
using cutover::test::TempDir;
using cutover::test::write_file;

namespace {

void git(const std::string& repo, const std::vector<std::string>& args) {
  cutover::util::ProcessSpec spec;
  spec.argv = {"git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.test"};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  auto r = cutover::util::run_process(spec);
  REQUIRE(r.exit_code == 0);
}

/// Version N of the plan: config values, a rewritten file, and (with a database) one more table.
std::string plan_version(int n, const std::string& app, const std::string& dsn) {
  std::string plan = "version: 1\nname: shop\n";
  if (!dsn.empty()) plan += "secrets:\n  pw: { env: CUTOVER_TEST_PG_PASSWORD }\n";
  plan += "steps:\n";
  plan += "  - id: settings\n    type: config.set\n    with: { path: " + app + "/settings.json, set: { version: " +
          std::to_string(n) + ", feature.v" + std::to_string(n) + ": true } }\n";
  plan += "  - id: nginx\n    type: file.write\n    with: { path: " + app + "/nginx.conf, content: \"server_name v" +
          std::to_string(n) + ".example.test;\\n\", mode: \"0640\" }\n";
  if (!dsn.empty())
    plan += "  - id: schema\n    type: pg.sql\n    with:\n      dsn: " + dsn + "\n      password: ${secrets.pw}\n" +
            "      up: CREATE TABLE IF NOT EXISTS items_v" + std::to_string(n) + " (id int PRIMARY KEY, name text)\n" +
            "      down: DROP TABLE IF EXISTS items_v" + std::to_string(n) + "\n";
  return plan;
}

struct Repo {
  TempDir dir;
  std::string repo = dir / "repo", app = dir / "app", state = dir / "state";
  std::map<int, std::map<std::string, cutover::test::FileState>> files_after;
  std::map<int, std::string> schema_after;

  explicit Repo(const std::string& dsn) {
    write_file(app + "/settings.json", "{\n  \"version\": 0,\n  \"name\": \"shop\"\n}\n", 0644);
    write_file(repo + "/.keep", "");
    git(repo, {"init", "-q"});
    for (int n = 1; n <= 3; ++n) {
      write_file(repo + "/plan.yaml", plan_version(n, app, dsn));
      git(repo, {"add", "plan.yaml"});
      git(repo, {"commit", "-qm", "v" + std::to_string(n)});
      git(repo, {"tag", "v" + std::to_string(n)});
    }
  }
};

CliOptions pg_env() {
  CliOptions o;
  o.env["CUTOVER_TEST_PG_PASSWORD"] = cutover::testing::PgCluster::kPassword;
  return o;
}

}  // namespace

TEST_CASE("rollback --to v1 leaves files and schema as right after v1, history shows it all",
          "[e2e][releases][pg]") {
  cutover::testing::PgCluster pg;
  pg.create_db("shop");
  Repo r(pg.dsn("shop"));
  for (int n = 1; n <= 3; ++n) {
    CliResult a = run_cutover({"apply", r.repo + "/plan.yaml", "--rev", "v" + std::to_string(n), "--state", r.state}, pg_env());
    INFO(a.all());
    REQUIRE(a.exit_code == 0);
    r.files_after[n] = snapshot_tree(r.app);
    r.schema_after[n] = pg.schema_dump("shop");
  }
  REQUIRE(r.schema_after[3] != r.schema_after[1]);

  CliResult dry = run_cutover({"rollback", "--to", "v1", "--dry-run", "--state", r.state}, pg_env());
  INFO(dry.all());
  CHECK(dry.exit_code == 0);
  CHECK(dry.out.find("r3 schema (pg.sql)") != std::string::npos);
  CHECK(dry.out.find("r2 nginx (file.write)") != std::string::npos);
  CHECK(snapshot_tree(r.app) == r.files_after[3]);  // the dry run changed nothing

  CliResult rb = run_cutover({"rollback", "--to", "v1", "--state", r.state}, pg_env());
  INFO(rb.all());
  REQUIRE(rb.exit_code == 0);
  CHECK(snapshot_tree(r.app) == r.files_after[1]);
  CHECK(pg.schema_dump("shop") == r.schema_after[1]);

  CliResult h = run_cutover({"history", "--state", r.state});
  CHECK(h.out.find("rollback:rolled_back") != std::string::npos);
  CHECK(h.out.find("r3↩") != std::string::npos);
  CHECK(h.out.find("v1") != std::string::npos);
  // v1 is still a live release; v2 and v3 are not: rolling back to v2 now is refused.
  CliResult again = run_cutover({"rollback", "--to", "v2", "--state", r.state});
  CHECK(again.exit_code == 1);
  CHECK(again.err.find("no live release matches 'v2'") != std::string::npos);
}

TEST_CASE("rollback --to killed with SIGKILL midway, then resume, reaches the same state",
          "[e2e][releases][crash]") {
  Repo r("");
  for (int n = 1; n <= 3; ++n) {
    REQUIRE(run_cutover({"apply", r.repo + "/plan.yaml", "--rev", "v" + std::to_string(n), "--state", r.state}).exit_code == 0);
    r.files_after[n] = snapshot_tree(r.app);
  }
  // Records of the rollback run: journal, run.start, 4 × (checkpoint, apply) adopted,
  // rollback.start, then undo/undone pairs. Crash inside the undo phase.
  CliOptions crash;
  crash.env["CUTOVER_TEST_CRASH_AT_RECORD"] = "13";
  CliResult killed = run_cutover({"rollback", "--to", "v1", "--state", r.state}, crash);
  REQUIRE(killed.signal == SIGKILL);
  CHECK(snapshot_tree(r.app) != r.files_after[1]);
  CliResult st = run_cutover({"status", "--state", r.state});
  CHECK(st.out.find("is interrupted") != std::string::npos);

  CliResult res = run_cutover({"resume", "--state", r.state});
  INFO(res.all());
  REQUIRE(res.exit_code == 0);
  CHECK(snapshot_tree(r.app) == r.files_after[1]);
  CHECK(run_cutover({"status", "--state", r.state}).exit_code == 0);
  // The releases undone are marked: the latest live release is r1 again.
  CliResult h = run_cutover({"history", "--state", r.state, "--output", "json"});
  auto j = nlohmann::json::parse(h.out);
  int live = 0;
  for (const auto& rel : j["releases"]) live += rel["rolled_back"] == false;
  CHECK(live == 1);
}
