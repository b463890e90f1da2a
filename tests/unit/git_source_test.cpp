// executor/git_source: what a plan's repository says about it, and reading a plan as it was at
// a revision — against real repositories made with the git CLI.
#include <catch2/catch.hpp>

#include <filesystem>

#include "executor/git_source.h"
#include "tests/support/git_repo.h"
#include "tests/support/step_harness.h"
#include "util/error.h"

using cutover::Error;
using cutover::Fatal;
namespace ex = cutover::executor;
namespace t = cutover::testing;
namespace fs = std::filesystem;

namespace {

// A repository whose plan.yaml went through three tagged versions: v1 (annotated), v2
// (lightweight), v3 and `release` (annotated) both on HEAD.
struct ThreeVersions {
  t::TempDir tmp{"cutover-git"};
  t::GitRepo repo{tmp / "repo"};
  std::string plan = repo.dir() + "/deploy/plan.yaml";
  std::string v1, v2, v3;
  ThreeVersions() {
    v1 = repo.commit_file("deploy/plan.yaml", "name: app\n# v1\n", "v1");
    repo.tag("v1");
    v2 = repo.commit_file("deploy/plan.yaml", "name: app\n# v2\n", "v2");
    repo.tag("v2", false);
    repo.commit_file("deploy/vars.yaml", "port: 8080\n", "vars");
    v3 = repo.commit_file("deploy/plan.yaml", "name: app\n# v3\n", "v3");
    repo.tag("v3", false);
    repo.tag("release");
  }
  std::string work() const { return fs::canonical(repo.dir()).string(); }
};

}  // namespace

TEST_CASE("git_info outside a repository says so without failing", "[git]") {
  t::TempDir tmp{"cutover-git"};
  t::write_file(tmp / "plan.yaml", "name: x\n");
  ex::GitInfo g = ex::git_info(tmp / "plan.yaml");
  CHECK_FALSE(g.in_repo);
  CHECK(g.to_json() == nlohmann::json{{"in_repo", false}});
}

TEST_CASE("git_info gives HEAD's commit, every tag on it and whether the plan is dirty", "[git]") {
  ThreeVersions r;
  ex::GitInfo g = ex::git_info(r.plan);
  CHECK(g.in_repo);
  CHECK(g.repo == r.work());
  CHECK(g.commit == r.v3);
  CHECK(g.tags == std::vector<std::string>{"release", "v3"});
  CHECK_FALSE(g.dirty);
  CHECK(g.to_json()["commit"] == r.v3);

  SECTION("modified in the work tree") {
    r.repo.write("deploy/plan.yaml", "name: app\n# edited\n");
    CHECK(ex::git_info(r.plan).dirty);
  }
  SECTION("staged but not committed") {
    r.repo.write("deploy/plan.yaml", "name: app\n# staged\n");
    r.repo.git("add deploy/plan.yaml");
    CHECK(ex::git_info(r.plan).dirty);
    r.repo.git("commit --quiet -m staged");
    ex::GitInfo after = ex::git_info(r.plan);
    CHECK_FALSE(after.dirty);
    CHECK(after.tags.empty());
  }
  SECTION("untracked") {
    std::string other = r.repo.dir() + "/deploy/other.yaml";
    t::write_file(other, "name: other\n");
    CHECK(ex::git_info(other).dirty);
  }
  SECTION("another file changing does not make the plan dirty") {
    r.repo.write("deploy/vars.yaml", "port: 9090\n");
    CHECK_FALSE(ex::git_info(r.plan).dirty);
  }
  SECTION("a relative path through the process's working folder") {
    std::string rel = fs::relative(r.plan).string();
    ex::GitInfo rg = ex::git_info(rel);
    CHECK(rg.commit == r.v3);
    CHECK_FALSE(rg.dirty);
  }
}

TEST_CASE("open_revision reads the plan as it was at a tag, not the work tree", "[git]") {
  ThreeVersions r;
  r.repo.write("deploy/plan.yaml", "name: app\n# uncommitted\n");

  ex::GitRevision at_v1 = ex::open_revision(r.plan, "v1");
  CHECK(at_v1.commit == r.v1);
  CHECK(at_v1.repo == r.work());
  CHECK(at_v1.tags == std::vector<std::string>{"v1"});
  CHECK(at_v1.read(r.plan) == "name: app\n# v1\n");
  CHECK(at_v1.read(fs::relative(r.plan).string()) == "name: app\n# v1\n");
  CHECK(t::read_file(r.plan) == "name: app\n# uncommitted\n");

  CHECK(ex::open_revision(r.plan, "v2").read(r.plan) == "name: app\n# v2\n");
  CHECK(ex::open_revision(r.plan, "main").read(r.plan) == "name: app\n# v3\n");
  CHECK(ex::open_revision(r.plan, r.v2.substr(0, 8)).commit == r.v2);
  CHECK(ex::open_revision(r.plan, r.v1).read(r.plan) == "name: app\n# v1\n");
  CHECK(ex::open_revision(r.plan, "v3").read(r.repo.dir() + "/deploy/vars.yaml") == "port: 8080\n");

  // The reader outlives the GitRevision it came from (the loader keeps only the function).
  auto read = ex::open_revision(r.plan, "v2").read;
  CHECK(read(r.plan) == "name: app\n# v2\n");

  CHECK(at_v1.contains(r.plan));
  CHECK_FALSE(at_v1.contains("/etc/hostname"));
}

TEST_CASE("open_revision of an unknown revision lists the tags that exist", "[git]") {
  ThreeVersions r;
  try {
    ex::open_revision(r.plan, "v9");
    FAIL("no Fatal for v9");
  } catch (const Fatal& e) {
    CHECK(e.code() == cutover::ExitCode::usage);
    CHECK(std::string(e.what()) == "no revision 'v9' in " + r.work() + "; tags: release, v1, v2, v3");
  }
}

TEST_CASE("open_revision: a file missing at the revision, and a plan outside any repository", "[git]") {
  ThreeVersions r;
  auto at_v1 = ex::open_revision(r.plan, "v1");
  std::string vars = r.repo.dir() + "/deploy/vars.yaml";
  try {
    at_v1.read(vars);
    FAIL("no Error for a file added after v1");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == vars + " does not exist at revision 'v1' (" + r.v1.substr(0, 12) + ")");
  }
  CHECK_THROWS_WITH(at_v1.read(r.repo.dir() + "/deploy"), Catch::Contains("is not a file at revision 'v1'"));
  CHECK_THROWS_WITH(at_v1.read("/etc/hostname"), Catch::Contains("is outside the git work tree"));

  t::TempDir elsewhere{"cutover-git"};
  CHECK_THROWS_AS(ex::open_revision(elsewhere / "plan.yaml", "v1"), Fatal);
}
