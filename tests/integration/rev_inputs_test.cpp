// --rev reads every plan input from the revision (issue 5): a template at v1 and v2 of a real
// git repository, applied and planned with the work tree at v2; and inputs frozen by a run, so
// that resume and rollback --to see the bytes the run saw even after the work tree changed.
#include <catch2/catch.hpp>

#include "tests/support/e2e.h"
#include "tests/support/git_repo.h"
#include "tests/support/pg_cluster.h"
#include "util/fs.h"

using cutover::test::CliOptions;
using cutover::test::CliResult;
using cutover::test::run_cutover;
using nlohmann::json;
namespace t = cutover::testing;
namespace e2e = cutover::test;

namespace {

const char* const kPlan =
    "version: 1\nname: site\nvars:\n  host: shop.example.test\n  out: /dev/null\nsteps:\n"
    "  - id: site\n    type: file.write\n    with: { path: \"${vars.out}\", template: templates/site.conf.tmpl }\n";

// A deploy repository whose plan is the same at v1 and v2 and whose template differs.
struct SiteRepo {
  explicit SiteRepo(const std::string& dir) : repo(dir), plan(dir + "/plan.yaml") {
    repo.write("plan.yaml", kPlan);
    repo.git("add plan.yaml");
    repo.commit_file("templates/site.conf.tmpl", "server_name ${vars.host};  # v1 template\n", "v1");
    repo.tag("v1");
    repo.commit_file("templates/site.conf.tmpl", "server_name ${vars.host};\nlisten 8080;  # v2 template\n", "v2");
    repo.tag("v2");
  }
  t::GitRepo repo;
  std::string plan;
};

json plan_json_of(const std::string& state, const std::string& run_id) {
  return json::parse(e2e::read_file(state + "/runs/" + run_id + "/plan.json"));
}

std::string artifact_bytes(const std::string& state, const std::string& id) {
  std::string hex = id.substr(7);
  return e2e::read_file(state + "/artifacts/sha256/" + hex.substr(0, 2) + "/" + hex);
}

}  // namespace

TEST_CASE("apply --rev v1 writes v1's template and plan --rev v1 shows v1's diff, the work tree at v2 and edited",
          "[git][e2e][rev]") {
  e2e::TempDir tmp;
  SiteRepo d(tmp / "deploy");
  // An uncommitted edit on top of v2: neither revision has it.
  d.repo.write("templates/site.conf.tmpl", "server_name ${vars.host};\nlisten 9090;  # work tree edit\n");
  const std::string out = tmp / "site.conf", state = tmp / "state";

  CliResult plan = run_cutover({"plan", d.plan, "--rev", "v1", "--var", "out=" + out, "--state", state});
  INFO(plan.all());
  REQUIRE(plan.exit_code == 0);
  CHECK(plan.out.find("+server_name shop.example.test;  # v1 template") != std::string::npos);
  CHECK(plan.out.find("v2 template") == std::string::npos);
  CHECK(plan.out.find("work tree edit") == std::string::npos);
  CHECK_FALSE(e2e::file_exists(out));

  CliResult v1 = run_cutover({"apply", d.plan, "--rev", "v1", "--var", "out=" + out, "--state", state});
  INFO(v1.all());
  REQUIRE(v1.exit_code == 0);
  CHECK(e2e::read_file(out) == "server_name shop.example.test;  # v1 template\n");
  // The run keeps the template as it read it: plan.json names the frozen copy.
  json pj = plan_json_of(state, e2e::latest_run(state));
  REQUIRE(pj["frozen_inputs"].contains("templates/site.conf.tmpl"));
  CHECK(artifact_bytes(state, pj["frozen_inputs"]["templates/site.conf.tmpl"]) ==
        "server_name ${vars.host};  # v1 template\n");

  CliResult v2 = run_cutover({"apply", d.plan, "--rev", "v2", "--var", "out=" + out, "--state", state});
  INFO(v2.all());
  REQUIRE(v2.exit_code == 0);
  CHECK(e2e::read_file(out) == "server_name shop.example.test;\nlisten 8080;  # v2 template\n");

  // Without --rev the work tree is what runs.
  CliResult wt = run_cutover({"apply", d.plan, "--var", "out=" + out, "--state", state});
  INFO(wt.all());
  REQUIRE(wt.exit_code == 0);
  CHECK(e2e::read_file(out) == "server_name shop.example.test;\nlisten 9090;  # work tree edit\n");
}

TEST_CASE("apply --rev of a revision that lacks a template the plan names stops before anything runs",
          "[git][e2e][rev]") {
  e2e::TempDir tmp;
  SiteRepo d(tmp / "deploy");
  // At v3 the plan names a template that was never committed (it exists only in the work tree).
  d.repo.write("templates/extra.tmpl", "extra\n");
  d.repo.commit_file("plan.yaml", std::string(kPlan) +
                                      "  - id: extra\n    type: file.write\n    with: { path: \"${vars.out}.extra\", template: templates/extra.tmpl }\n",
                     "v3");
  d.repo.tag("v3");
  const std::string out = tmp / "site.conf";
  CliResult r = run_cutover({"apply", d.plan, "--rev", "v3", "--var", "out=" + out, "--state", tmp / "state"});
  INFO(r.all());
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("step extra: with.template:") != std::string::npos);
  CHECK(r.err.find("templates/extra.tmpl does not exist at revision 'v3'") != std::string::npos);
  CHECK_FALSE(e2e::file_exists(out));
  CHECK_FALSE(e2e::file_exists(out + ".extra"));
}

TEST_CASE("resume after a failed apply writes the template as the run read it, not the work tree's edit",
          "[e2e][rev]") {
  e2e::TempDir tmp;
  const std::string plan = tmp / "plan.yaml", state = tmp / "state";
  e2e::write_file(tmp / "first.tmpl", "first ${vars.n}\n");
  e2e::write_file(tmp / "second.tmpl", "second ${vars.n}, as the run read it\n");
  e2e::write_file(plan,
                  "version: 1\nname: frozen\nvars: { n: 1 }\nsteps:\n"
                  "  - id: first\n    type: file.write\n    with: { path: out/first.txt, template: first.tmpl }\n"
                  "  - id: gate\n    type: check.file\n    with: { path: gate.txt, exists: true }\n"
                  "  - id: second\n    type: file.write\n    with: { path: out/second.txt, template: second.tmpl }\n");
  cutover::util::make_dirs(tmp / "out", 0755);
  CliResult failed = run_cutover({"apply", plan, "--no-rollback", "--state", state});
  INFO(failed.all());
  REQUIRE(failed.exit_code == 4);
  CHECK(e2e::read_file(tmp / "out/first.txt") == "first 1\n");
  CHECK_FALSE(e2e::file_exists(tmp / "out/second.txt"));

  // Meanwhile someone edits the template in the work tree, and opens the gate.
  e2e::write_file(tmp / "second.tmpl", "second ${vars.n}, EDITED after the run started\n");
  e2e::write_file(tmp / "gate.txt", "open\n");
  CliResult resumed = run_cutover({"resume", "--state", state});
  INFO(resumed.all());
  REQUIRE(resumed.exit_code == 0);
  CHECK(e2e::read_file(tmp / "out/second.txt") == "second 1, as the run read it\n");
}

TEST_CASE("rollback --to runs each release's own down SQL file, whatever the work tree holds now",
          "[e2e][rev][pg]") {
  t::PgCluster pg;
  pg.create_db("shop");
  e2e::TempDir tmp;
  const std::string plan = tmp / "plan.yaml", state = tmp / "state";
  CliOptions env;
  env.env["CUTOVER_TEST_PG_PASSWORD"] = t::PgCluster::kPassword;
  e2e::write_file(plan, "version: 1\nname: schema\nsecrets:\n  pw: { env: CUTOVER_TEST_PG_PASSWORD }\nsteps:\n"
                        "  - id: migrate\n    type: pg.sql\n    with:\n      dsn: " + pg.dsn("shop") +
                        "\n      password: ${secrets.pw}\n      up: { file: sql/up.sql }\n      down: { file: sql/down.sql }\n");
  const std::string before = pg.schema_dump("shop");
  for (std::string table : {"items_a", "items_b"}) {
    e2e::write_file(tmp / "sql/up.sql", "CREATE TABLE " + table + " (id int PRIMARY KEY);\n");
    e2e::write_file(tmp / "sql/down.sql", "DROP TABLE " + table + ";\n");
    CliResult a = run_cutover({"apply", plan, "--state", state}, env);
    INFO(a.all());
    REQUIRE(a.exit_code == 0);
  }
  REQUIRE(pg.schema_dump("shop").find("items_a") != std::string::npos);
  REQUIRE(pg.schema_dump("shop").find("items_b") != std::string::npos);
  // The work tree's down.sql now drops something else entirely: r1 and r2 must not use it.
  e2e::write_file(tmp / "sql/down.sql", "DROP TABLE no_such_table;\n");
  CliResult rb = run_cutover({"rollback", "--to", "0", "--state", state}, env);
  INFO(rb.all());
  REQUIRE(rb.exit_code == 0);
  CHECK(pg.schema_dump("shop") == before);
}
