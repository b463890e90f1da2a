#include <catch2/catch.hpp>

#include "util/units.h"

TEST_CASE("durations and sizes parse as the plan format writes them", "[units]") {
  using namespace std::chrono_literals;
  CHECK(cutover::util::parse_duration("500ms") == 500ms);
  CHECK(cutover::util::parse_duration("2h") == 7200s);
  CHECK(!cutover::util::parse_duration("2 weeks"));
  CHECK(cutover::util::parse_size("5GiB") == 5ull << 30);
  CHECK(cutover::util::parse_size("100MB") == 100000000ull);
}
