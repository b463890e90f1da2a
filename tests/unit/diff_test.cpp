// util::unified_diff: the diffs `cutover plan` prints for file and config steps.
#include "util/diff.h"

#include <catch2/catch.hpp>

using cutover::util::file_diff;
using cutover::util::unified_diff;

TEST_CASE("unified diff: equal texts give nothing", "[diff][steps-builtin]") {
  auto d = unified_diff("a\nb\n", "a\nb\n", "a/x", "b/x");
  CHECK(d.text.empty());
  CHECK_FALSE(d.changed());
}

TEST_CASE("unified diff: hunks with 3 lines of context, far changes split",
          "[diff][steps-builtin]") {
  std::string a, b;
  for (int i = 1; i <= 20; ++i) {
    a += "l" + std::to_string(i) + "\n";
    b += (i == 2    ? std::string("L2")
          : i == 18 ? std::string("L18")
                    : "l" + std::to_string(i)) +
         "\n";
  }
  b += "l21\n";
  auto d = unified_diff(a, b, "a/f", "b/f");
  CHECK(d.text ==
        "--- a/f\n+++ b/f\n"
        "@@ -1,5 +1,5 @@\n l1\n-l2\n+L2\n l3\n l4\n l5\n"
        "@@ -15,6 +15,7 @@\n l15\n l16\n l17\n-l18\n+L18\n l19\n l20\n+l21\n");
  CHECK(d.added == 3);
  CHECK(d.removed == 2);
}

TEST_CASE("unified diff: new file, deleted content and a missing final newline",
          "[diff][steps-builtin]") {
  CHECK(unified_diff("", "x\ny\n", "/dev/null", "b/n").text ==
        "--- /dev/null\n+++ b/n\n@@ -0,0 +1,2 @@\n+x\n+y\n");
  CHECK(unified_diff("x\ny\n", "", "a/n", "b/n").text ==
        "--- a/n\n+++ b/n\n@@ -1,2 +0,0 @@\n-x\n-y\n");
  CHECK(unified_diff("a\nb", "a\nb\n", "a/n", "b/n").text ==
        "--- a/n\n+++ b/n\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n");
}

TEST_CASE("unified diff: interleaved edits are minimal", "[diff][steps-builtin]") {
  auto d = unified_diff("a\nb\nc\nd\ne\n", "a\nc\nd\nx\ne\n", "a/f", "b/f");
  CHECK(d.text == "--- a/f\n+++ b/f\n@@ -1,5 +1,5 @@\n a\n-b\n c\n d\n+x\n e\n");
}

TEST_CASE("file diff: binary or large content is compared by hash", "[diff][steps-builtin]") {
  auto d = file_diff(std::string("a\0b", 3), "text\n", "a/f", "b/f");
  CHECK(d.binary);
  CHECK_THAT(d.text, Catch::StartsWith("binary/large file changed (sha256 "));
  CHECK(file_diff(std::string(2 << 20, 'x'), std::string(2 << 20, 'x'), "a", "b").text.empty());
}
