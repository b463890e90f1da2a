// Hidden timing test (run with "[bench]"): the per-step cost of file.write itself, without the
// executor's journal, for SPEC §9's "1,000 file.write steps ≤ 3 ms per step each way".
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>

#include "tests/support/step_harness.h"

namespace t = cutover::testing;
using nlohmann::json;

TEST_CASE("file.write cost per step: plan, checkpoint + apply, undo", "[.][bench]") {
  t::StepHarness h;
  const int n = 300;
  std::vector<std::unique_ptr<cutover::steps::Step>> steps;
  std::vector<json> cps(n);
  for (int i = 0; i < n; ++i) {
    std::string p = h.path("f" + std::to_string(i) + ".conf");
    std::string old;
    for (int k = 0; k < 20; ++k) old += "old " + std::to_string(i) + "\n";
    t::write_file(p, old);
    steps.push_back(
        h.make("file.write", {{"path", p}, {"content", "new " + std::to_string(i) + "\n"}}));
  }
  using clock = std::chrono::steady_clock;
  auto ms = [](clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  auto t0 = clock::now();
  for (int i = 0; i < n; ++i) steps[i]->plan(h.ctx());
  auto t1 = clock::now();
  for (int i = 0; i < n; ++i) {
    cps[i] = steps[i]->checkpoint(h.ctx());
    steps[i]->fingerprint(h.ctx());
    steps[i]->apply(h.ctx(), cps[i]);
  }
  auto t2 = clock::now();
  for (int i = n; i-- > 0;) {
    steps[i]->undo(h.ctx(), cps[i]);
    steps[i]->fingerprint(h.ctx());
  }
  auto t3 = clock::now();
  std::printf(
      "file.write per step: plan %.3f ms, checkpoint+fingerprint+apply %.3f ms, undo+fingerprint "
      "%.3f ms\n",
      ms(t1 - t0) / n, ms(t2 - t1) / n, ms(t3 - t2) / n);
  SUCCEED();
}
