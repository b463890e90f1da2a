// Local subprocesses: PATH lookup in the child's environment, spawn failures, deadlines,
// background grandchildren, and forking while other threads allocate (a child that
// deadlocks between fork and exec would hang the whole run).
#include <sys/stat.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <thread>
#include <vector>

#include "tests/support/step_harness.h"
#include "util/process.h"

using cutover::util::ProcessSpec;
using cutover::util::run_process;
namespace t = cutover::testing;
using namespace std::chrono_literals;

TEST_CASE("run_process looks the program up in the PATH given to the child", "[process]") {
  t::TempDir dir;
  std::string script = dir / "cutover-probe";
  std::ofstream(script) << "#!/bin/sh\necho probe \"$1\"\n";
  ::chmod(script.c_str(), 0755);

  ProcessSpec spec;
  spec.argv = {"cutover-probe", "arg"};
  spec.env["PATH"] = dir.path() + ":/usr/bin:/bin";
  auto r = run_process(spec);
  CHECK(r.ok());
  CHECK(r.out == "probe arg\n");
}

TEST_CASE("run_process reports a program that does not exist as a spawn failure", "[process]") {
  ProcessSpec spec;
  spec.argv = {"cutover-no-such-program"};
  auto r = run_process(spec);
  CHECK(r.spawn_failed);
  CHECK(r.exit_code == 127);
  CHECK_THAT(r.err, Catch::Contains("cutover-no-such-program: No such file or directory"));
}

TEST_CASE("run_process kills the whole group at the deadline", "[process]") {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "sleep 30; echo late"};
  spec.deadline = cutover::util::Deadline::after(300ms);
  auto start = std::chrono::steady_clock::now();
  auto r = run_process(spec);
  CHECK(r.timed_out);
  CHECK(r.out.empty());
  CHECK(std::chrono::steady_clock::now() - start < 10s);
}

TEST_CASE("run_process returns when the child exits even if a background grandchild keeps its output open",
          "[process]") {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "echo started; setsid sleep 20 & exit 0"};
  auto start = std::chrono::steady_clock::now();
  auto r = run_process(spec);
  CHECK(r.ok());
  CHECK(r.out == "started\n");
  CHECK(std::chrono::steady_clock::now() - start < 10s);
}

TEST_CASE("run_process starts children while other threads allocate", "[process]") {
  std::atomic<bool> stop{false};
  std::vector<std::thread> churn;
  for (int i = 0; i < 2; ++i)
    churn.emplace_back([&] {
      while (!stop.load()) {
        std::vector<std::string> v(64, std::string(512, 'x'));
        v.clear();
      }
    });
  int ok = 0;
  for (int i = 0; i < 150; ++i) {
    ProcessSpec spec;
    spec.argv = {"true"};
    spec.env["CUTOVER_PROBE"] = std::to_string(i);
    spec.deadline = cutover::util::Deadline::after(20s);
    if (run_process(spec).ok()) ++ok;
  }
  stop = true;
  for (auto& th : churn) th.join();
  CHECK(ok == 150);
}
