// Plans and releases from git (issue 5): the git.checkout step driven directly and through the
// real binary, and `--rev` / `--require-clean` — against real repositories made with git.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "tests/support/e2e.h"
#include "tests/support/git_repo.h"
#include "tests/support/step_harness.h"
#include "util/error.h"

using cutover::test::CliResult;
using cutover::test::run_cutover;
using nlohmann::json;
namespace t = cutover::testing;
namespace e2e = cutover::test;
namespace fs = std::filesystem;

namespace {

// An application repository with two tagged releases: app.txt holds "one" at v1, "two" at v2.
struct AppRepo {
  explicit AppRepo(const std::string& dir) : repo(dir) {
    v1 = repo.commit_file("app.txt", "one\n", "first release");
    repo.tag("v1");
    v2 = repo.commit_file("app.txt", "two\n", "second release");
    repo.tag("v2", false);
  }
  t::GitRepo repo;
  std::string v1, v2;
};

std::string link_target(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::read_symlink(path, ec);
  return ec ? "" : p.string();
}

json checkout_params(const std::string& repo, const std::string& ref, const std::string& base) {
  return {{"repo", repo}, {"ref", ref}, {"releases_dir", base + "/releases"}, {"current", base + "/current"}};
}

std::string checkout_step(const std::string& id, const std::string& repo, const std::string& ref,
                          const std::string& base) {
  return "  - id: " + id + "\n    type: git.checkout\n    with:\n      repo: " + repo + "\n      ref: " + ref +
         "\n      releases_dir: " + base + "/releases\n      current: " + base + "/current\n";
}

}  // namespace

TEST_CASE("git.checkout v1 then v2, undo of v2 points current at v1 again and removes v2's folder",
          "[git][steps-builtin]") {
  t::StepHarness h;
  AppRepo app(h.path("src"));
  std::string base = h.dir().path(), rel1 = base + "/releases/v1-" + app.v1.substr(0, 12),
              rel2 = base + "/releases/v2-" + app.v2.substr(0, 12);

  auto s1 = h.make("git.checkout", checkout_params(app.repo.dir(), "v1", base));
  json cp1 = s1->checkpoint(h.ctx());
  json fp1 = s1->fingerprint(h.ctx());
  CHECK(cp1["prior_target"].is_null());
  CHECK(cp1["commit"] == app.v1);
  json out1 = s1->apply(h.ctx(), cp1);
  CHECK(out1 == json{{"commit", app.v1}, {"release_dir", rel1}});
  CHECK(link_target(base + "/current") == rel1);
  CHECK(t::read_file(base + "/current/app.txt") == "one\n");

  auto s2 = h.make("git.checkout", checkout_params(app.repo.dir(), "v2", base));
  auto preview = s2->plan(h.ctx());
  CHECK(preview.changes);
  CHECK(preview.summary == "switch " + base + "/current: " + rel1 + " → " + rel2 + " (v2, " + app.v2.substr(0, 12) + ")");
  json cp2 = s2->checkpoint(h.ctx());
  json fp2 = s2->fingerprint(h.ctx());
  CHECK(fp2 == json{{"symlink:local:" + base + "/current", rel1}, {"dir:local:" + rel2, "absent"}});
  s2->apply(h.ctx(), cp2);
  CHECK(link_target(base + "/current") == rel2);
  CHECK(t::read_file(base + "/current/app.txt") == "two\n");
  CHECK_FALSE(t::exists(base + "/current.tmp-" + std::to_string(::getpid())));

  s2->undo(h.ctx(), cp2);
  CHECK(link_target(base + "/current") == rel1);
  CHECK_FALSE(t::exists(rel2));
  CHECK(t::read_file(base + "/current/app.txt") == "one\n");
  // A fresh step (as `rollback` builds one from the journal) fingerprints the same resources.
  auto rebuilt = h.make("git.checkout", checkout_params(app.repo.dir(), "v2", base));
  rebuilt->undo(h.ctx(), cp2);  // idempotent
  CHECK(rebuilt->fingerprint(h.ctx()) == fp2);

  s1->undo(h.ctx(), cp1);
  CHECK_FALSE(t::exists(base + "/current"));
  CHECK_FALSE(t::exists(rel1));
  CHECK(s1->fingerprint(h.ctx()) == fp1);
}

TEST_CASE("git.checkout reuses a release folder of the same commit and keeps it on undo",
          "[git][steps-builtin]") {
  t::StepHarness h;
  AppRepo app(h.path("src"));
  std::string base = h.dir().path(), rel1 = base + "/releases/v1-" + app.v1.substr(0, 12);
  auto first = h.make("git.checkout", checkout_params(app.repo.dir(), "v1", base));
  first->apply(h.ctx(), first->checkpoint(h.ctx()));
  t::write_file(rel1 + "/uploaded.txt", "kept\n");  // the folder is the one reused, not recloned

  // Point current elsewhere, then check v1 out again: the folder is reused.
  auto second = h.make("git.checkout", checkout_params(app.repo.dir(), "v2", base));
  second->apply(h.ctx(), second->checkpoint(h.ctx()));
  auto again = h.make("git.checkout", checkout_params(app.repo.dir(), app.v1.substr(0, 9), base));
  json cp = again->checkpoint(h.ctx());
  CHECK(cp["release_existed"] == false);  // named by its sha prefix: another folder
  auto by_tag = h.make("git.checkout", checkout_params(app.repo.dir(), "v1", base));
  json cpt = by_tag->checkpoint(h.ctx());
  CHECK(cpt["release_existed"] == true);
  by_tag->apply(h.ctx(), cpt);
  CHECK(t::read_file(base + "/current/uploaded.txt") == "kept\n");
  by_tag->undo(h.ctx(), cpt);
  CHECK(t::exists(rel1 + "/uploaded.txt"));
  CHECK(link_target(base + "/current") == base + "/releases/v2-" + app.v2.substr(0, 12));

  SECTION("an unknown ref lists the repository's tags") {
    auto bad = h.make("git.checkout", checkout_params(app.repo.dir(), "v9", base));
    CHECK_THROWS_WITH(bad->checkpoint(h.ctx()), Catch::Contains("no ref 'v9'") && Catch::Contains("tags: v1, v2"));
  }
  SECTION("a real folder at `current` is refused before anything changes") {
    t::StepHarness h2;
    fs::create_directories(h2.path("current"));
    t::write_file(h2.path("current/index.html"), "live\n");
    auto step = h2.make("git.checkout", checkout_params(app.repo.dir(), "v1", h2.dir().path()));
    CHECK_THROWS_WITH(step->checkpoint(h2.ctx()), Catch::Contains("is a real folder, not a symlink"));
  }
}

TEST_CASE("apply: a failed release after a good one leaves current on the good release", "[git][e2e]") {
  e2e::TempDir tmp;
  AppRepo app(tmp / "src");
  std::string base = tmp.path(), state = tmp / "state";
  std::string rel1 = base + "/releases/v1-" + app.v1.substr(0, 12);
  e2e::write_file(tmp / "v1.yaml", "version: 1\nname: site\nsteps:\n" + checkout_step("code", app.repo.dir(), "v1", base));
  CliResult r1 = run_cutover({"apply", tmp / "v1.yaml", "--state", state});
  INFO(r1.all());
  REQUIRE(r1.exit_code == 0);
  REQUIRE(link_target(base + "/current") == rel1);

  e2e::write_file(tmp / "v2.yaml", "version: 1\nname: site\nsteps:\n" +
                                       checkout_step("code", app.repo.dir(), "v2", base) +
                                       "  - id: health\n    type: check.file\n    with: { path: " + base +
                                       "/current/healthy }\n");
  CliResult r2 = run_cutover({"apply", tmp / "v2.yaml", "--state", state});
  INFO(r2.all());
  CHECK(r2.exit_code == 3);
  CHECK(link_target(base + "/current") == rel1);
  CHECK(e2e::read_file(base + "/current/app.txt") == "one\n");
  CHECK_FALSE(e2e::file_exists(base + "/releases/v2-" + app.v2.substr(0, 12)));
  CHECK(fs::exists(rel1));
}

namespace {

// A deploy repository whose plan writes ${vars.value} (from vars.yaml) and a literal into
// out.txt: "one"/v1, "two"/v2, "three"/v3; HEAD is v3.
struct DeployRepo {
  explicit DeployRepo(const std::string& dir, const std::string& out) : repo(dir), plan(dir + "/plan.yaml") {
    for (std::string v : {"one", "two", "three"}) {
      repo.write("vars.yaml", "value: " + v + "\n");
      repo.git("add vars.yaml");
      repo.commit_file("plan.yaml", "version: 1\nname: deploy\nvars:\n  value: unset\nsteps:\n  - id: out\n"
                                    "    type: file.write\n    with:\n      path: " + out +
                                    "\n      content: \"" + v + " ${vars.value}\\n\"\n",
                       v);
      repo.tag(v == "one" ? "v1" : v == "two" ? "v2" : "v3");
    }
  }
  t::GitRepo repo;
  std::string plan;
};

std::string vars_arg(const DeployRepo& d) { return d.repo.dir() + "/vars.yaml"; }

}  // namespace

TEST_CASE("apply --rev v1 applies the plan and vars as they were at v1, the work tree holding v3",
          "[git][e2e]") {
  e2e::TempDir tmp;
  DeployRepo d(tmp / "deploy", tmp / "out.txt");
  d.repo.write("plan.yaml", e2e::read_file(d.plan) + "# edited, not committed\n");
  CliResult r = run_cutover({"apply", d.plan, "--rev", "v1", "--vars-file", vars_arg(d), "--state", tmp / "state"});
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  CHECK(e2e::read_file(tmp / "out.txt") == "one one\n");

  json start;
  for (const auto& rec : e2e::journal_records(tmp / "state", e2e::latest_run(tmp / "state")))
    if (rec.value("event", "") == "run.start") start = rec;
  CHECK(start["git"]["commit"] == d.repo.sha("v1"));
  CHECK(start["git"]["rev"] == "v1");
  CHECK(start["git"]["tags"] == json{"v1"});
  CHECK(start["git"]["dirty"] == false);

  CliResult head = run_cutover({"apply", d.plan, "--vars-file", vars_arg(d), "--state", tmp / "state"});
  INFO(head.all());
  REQUIRE(head.exit_code == 0);
  CHECK(e2e::read_file(tmp / "out.txt") == "three three\n");
}

TEST_CASE("options --rev of a tag that does not exist exits 1 and lists the tags", "[git][e2e]") {
  e2e::TempDir tmp;
  DeployRepo d(tmp / "deploy", tmp / "out.txt");
  CliResult r = run_cutover({"apply", d.plan, "--rev", "v9", "--state", tmp / "state"});
  INFO(r.all());
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("no revision 'v9'") != std::string::npos);
  CHECK(r.err.find("tags: v1, v2, v3") != std::string::npos);
  CHECK_FALSE(e2e::file_exists(tmp / "out.txt"));
}

TEST_CASE("options --require-clean refuses a modified or uncommitted plan, and a plan outside git", "[git][e2e]") {
  e2e::TempDir tmp;
  DeployRepo d(tmp / "deploy", tmp / "out.txt");
  CliResult clean = run_cutover({"plan", d.plan, "--require-clean", "--state", tmp / "state"});
  INFO(clean.all());
  CHECK(clean.exit_code == 0);

  d.repo.write("plan.yaml", e2e::read_file(d.plan) + "# edited\n");
  CliResult dirty = run_cutover({"apply", d.plan, "--require-clean", "--state", tmp / "state"});
  INFO(dirty.all());
  CHECK(dirty.exit_code == 1);
  CHECK(dirty.err.find("differs from git HEAD") != std::string::npos);
  CHECK(dirty.err.find("commit it or drop --require-clean") != std::string::npos);
  CHECK_FALSE(e2e::file_exists(tmp / "out.txt"));

  e2e::write_file(tmp / "loose.yaml", e2e::read_file(d.plan));
  CliResult loose = run_cutover({"apply", tmp / "loose.yaml", "--require-clean", "--state", tmp / "state"});
  INFO(loose.all());
  CHECK(loose.exit_code == 1);
  CHECK(loose.err.find("is not in a git work tree") != std::string::npos);
}
