// The shell step: runs, captures, fails with stderr's tail, honours the deadline, runs undo.
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "tests/support/step_harness.h"
#include "util/error.h"

using cutover::Error;
using cutover::Interrupted;
using nlohmann::json;
namespace t = cutover::testing;

TEST_CASE("shell runs a command string and captures stdout", "[shell-steps][steps-builtin]") {
  t::StepHarness h;
  auto step = h.make("shell", {{"run", "echo \"  $GREETING from $(pwd)  \""},
                               {"env", {{"GREETING", "hello"}}},
                               {"cwd", h.dir().path()},
                               {"capture", true}});
  auto p = step->plan(h.ctx());
  CHECK(p.changes);
  CHECK_THAT(p.detail, Catch::Contains("echo"));
  json out = step->apply(h.ctx(), step->checkpoint(h.ctx()));
  CHECK(out["exit_code"] == 0);
  CHECK(out["stdout"] == "hello from " + h.dir().path());
}

TEST_CASE("shell runs an argv list without a shell", "[shell-steps][steps-builtin]") {
  t::StepHarness h;
  auto step =
      h.make("shell", {{"run", {"printf", "%s", "$HOME; not expanded"}}, {"capture", true}});
  json out = step->apply(h.ctx(), json::object());
  CHECK(out["stdout"] == "$HOME; not expanded");
  auto quiet = h.make("shell", {{"run", "echo hidden"}});
  CHECK(quiet->apply(h.ctx(), json::object())["stdout"] == "");
}

TEST_CASE("shell failure is an Error with the exit code and the tail of stderr",
          "[shell-steps][steps-builtin]") {
  t::StepHarness h;
  auto step = h.make("shell", {{"run", "for i in $(seq 1 40); do echo line$i >&2; done; exit 3"}});
  try {
    step->apply(h.ctx(), json::object());
    FAIL("no error");
  } catch (const Interrupted&) {
    FAIL("a failed command is not an interruption");
  } catch (const Error& e) {
    std::string msg = e.what();
    CHECK_THAT(msg, Catch::Contains("exit 3"));
    CHECK_THAT(msg, Catch::Contains("line40"));
    CHECK_THAT(msg, Catch::Contains("line21"));
    CHECK_THAT(msg, !Catch::Contains("line20\n"));
  }
  CHECK_THROWS_WITH(
      h.make("shell", {{"run", {"/no/such/program"}}})->apply(h.ctx(), json::object()),
      Catch::Contains("/no/such/program"));
}

TEST_CASE("shell timeout kills the command and everything it started",
          "[shell-steps][steps-builtin]") {
  t::StepHarness h;
  std::string marker = h.path("survived");
  auto step = h.make("shell", {{"run", "(sleep 2; touch " + marker + ") & sleep 30"}});
  h.set_timeout(std::chrono::milliseconds(300));
  auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(step->apply(h.ctx(), json::object()), Interrupted);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  CHECK_FALSE(t::exists(marker));
}

TEST_CASE("shell undo runs the undo command, without one it does nothing",
          "[shell-steps][steps-builtin]") {
  t::StepHarness h;
  std::string file = h.path("created");
  auto step = h.make("shell", {{"run", "touch " + file}, {"undo", {"rm", "-f", file}}});
  json cp = step->checkpoint(h.ctx());
  step->apply(h.ctx(), cp);
  CHECK(t::exists(file));
  step->undo(h.ctx(), cp);
  CHECK_FALSE(t::exists(file));
  step->undo(h.ctx(), cp);  // rm -f: twice is fine

  auto no_undo = h.make("shell", {{"run", "true"}});
  no_undo->undo(h.ctx(), json::object());

  auto failing_undo = h.make("shell", {{"run", "true"}, {"undo", "echo cannot >&2; exit 1"}});
  CHECK_THROWS_WITH(failing_undo->undo(h.ctx(), json::object()),
                    Catch::Contains("undo") && Catch::Contains("cannot"));
}

TEST_CASE("shell registry entry marks run and undo as shell command lines",
          "[shell-steps][steps-builtin]") {
  const auto* type = cutover::steps::find_step_type("shell");
  REQUIRE(type);
  CHECK(type->undo_param == "undo");
  CHECK(type->resume == cutover::steps::Resume::if_idempotent);
  CHECK(type->shell_params == std::vector<std::string>{"run", "undo"});
  CHECK(type->remote);
  CHECK_THROWS_WITH(t::StepHarness().make("shell", {{"run", ""}}), Catch::Contains("empty"));
}
