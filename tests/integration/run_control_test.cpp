// Run control end to end: timeouts kill the whole process group, retries back off, saved plans
// run only while their inputs are unchanged, plan's detailed exit code.
#include <signal.h>

#include <catch2/catch.hpp>

#include "tests/support/e2e.h"

using cutover::test::CliResult;
using cutover::test::file_exists;
using cutover::test::read_file;
using cutover::test::run_cutover;
using cutover::test::TempDir;
using cutover::test::write_file;

TEST_CASE("a step timeout kills the step's whole process group and rolls back", "[e2e][run]") {
  TempDir t;
  write_file(t / "app.conf", "before\n", 0644);
  write_file(t / "plan.yaml", R"(version: 1
name: timeout
steps:
  - id: conf
    type: file.write
    with: { path: ")" + t.path() + R"(/app.conf", content: "after\n" }
  - id: hang
    type: shell
    timeout: 1s
    with: { run: "sleep 300 & echo $! > )" + t.path() + R"(/child.pid; wait", undo: "true" }
)");
  auto t0 = std::chrono::steady_clock::now();
  CliResult r = run_cutover({"apply", t / "plan.yaml", "--state", t / "state"});
  INFO(r.all());
  CHECK(r.exit_code == 3);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20));
  CHECK(r.out.find("timeout 1.0s reached") != std::string::npos);
  CHECK(read_file(t / "app.conf") == "before\n");
  // The background child of the step's shell is gone too.
  int pid = std::stoi(read_file(t / "child.pid"));
  CHECK(cutover::test::wait_until([&] { return kill(pid, 0) != 0; }, 5000));
}

TEST_CASE("retries run a failing step again with doubling delays", "[e2e][run]") {
  TempDir t;
  // Fails twice, then succeeds: the counter file records every attempt.
  write_file(t / "plan.yaml", R"(version: 1
name: retry
steps:
  - id: flaky
    type: shell
    retries: 3
    retry_delay: 200ms
    with:
      run: "echo x >> )" + t.path() + R"(/attempts; [ $(wc -l < )" + t.path() + R"(/attempts) -ge 3 ]"
      undo: "true"
)");
  auto t0 = std::chrono::steady_clock::now();
  CliResult r = run_cutover({"apply", t / "plan.yaml", "--state", t / "state"});
  INFO(r.all());
  CHECK(r.exit_code == 0);
  CHECK(read_file(t / "attempts") == "x\nx\nx\n");
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(600));  // 200ms + 400ms
  CHECK(r.out.find("retry 2/3 of flaky in 400ms") != std::string::npos);
}

TEST_CASE("plan --out saves the resolved plan, apply FILE refuses once an input changed",
          "[e2e][run]") {
  TempDir t;
  write_file(t / "greeting.tmpl", "hello ${vars.who}\n");
  write_file(t / "plan.yaml", R"(version: 1
name: saved
vars: { who: world }
steps:
  - id: greet
    type: file.write
    with: { path: ")" + t.path() + R"(/out.txt", template: greeting.tmpl }
)");
  CliResult p = run_cutover({"plan", t / "plan.yaml", "--out", t / "saved.json", "--detailed-exitcode"});
  INFO(p.all());
  CHECK(p.exit_code == 2);  // changes pending
  CHECK(p.out.find("+hello world") != std::string::npos);
  CHECK_FALSE(file_exists(t / "out.txt"));  // plan changed nothing
  CHECK_FALSE(file_exists(t / ".cutover"));

  write_file(t / "greeting.tmpl", "hello ${vars.who}!\n");  // the template changed since review
  CliResult refused = run_cutover({"apply", t / "saved.json", "--state", t / "state"});
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("changed since") != std::string::npos);
  CHECK_FALSE(file_exists(t / "out.txt"));

  write_file(t / "greeting.tmpl", "hello ${vars.who}\n");
  // So does an edit of the plan itself, and a --var that was not given at review.
  const std::string reviewed = read_file(t / "plan.yaml");
  write_file(t / "plan.yaml", reviewed.substr(0, reviewed.find("who: world")) + "who: moon" +
                                  reviewed.substr(reviewed.find("who: world") + 10));
  CHECK(run_cutover({"apply", t / "saved.json", "--state", t / "state"}).exit_code == 1);
  write_file(t / "plan.yaml", reviewed);
  CliResult other_var = run_cutover({"apply", t / "saved.json", "--state", t / "state", "--var", "who=moon"});
  CHECK(other_var.exit_code == 1);
  CHECK_THAT(other_var.err, Catch::Contains("is a saved plan"));
  CHECK_FALSE(file_exists(t / "out.txt"));

  CliResult ok = run_cutover({"apply", t / "saved.json", "--state", t / "state"});
  INFO(ok.all());
  CHECK(ok.exit_code == 0);
  CHECK(read_file(t / "out.txt") == "hello world\n");
  // Nothing left to change: plan exits 0 with --detailed-exitcode.
  CHECK(run_cutover({"plan", t / "plan.yaml", "--detailed-exitcode"}).exit_code == 0);
}

TEST_CASE("a confirm step without a terminal needs --auto-approve, checked before anything runs",
          "[e2e][run]") {
  TempDir t;
  write_file(t / "plan.yaml", R"(version: 1
name: confirm
steps:
  - id: conf
    type: file.write
    with: { path: ")" + t.path() + R"(/x", content: "x" }
  - id: ok
    type: confirm
    with: { message: "go on?" }
)");
  CliResult r = run_cutover({"apply", t / "plan.yaml", "--state", t / "state"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("--auto-approve") != std::string::npos);
  CHECK_FALSE(file_exists(t / "x"));
  CHECK(run_cutover({"apply", t / "plan.yaml", "--state", t / "state", "--auto-approve"}).exit_code == 0);
}
