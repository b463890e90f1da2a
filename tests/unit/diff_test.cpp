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

namespace {

// Applies a unified diff made by unified_diff to `before` (test oracle).
std::string apply_patch(const std::string& before, const std::string& patch) {
  std::vector<std::string> lines;
  for (size_t s = 0; s < before.size();) {
    size_t nl = before.find('\n', s);
    size_t e = nl == std::string::npos ? before.size() : nl + 1;
    lines.push_back(before.substr(s, e - s));
    s = e;
  }
  std::vector<std::string> plines;
  for (size_t s = 0; s < patch.size();) {
    size_t nl = patch.find('\n', s);
    plines.push_back(patch.substr(s, nl - s));
    s = nl + 1;
  }
  std::string out;
  size_t next = 0;  // next line of `before` not yet copied
  for (size_t i = 2; i < plines.size(); ++i) {
    const std::string& p = plines[i];
    if (p.rfind("@@ -", 0) == 0) {
      size_t start = std::stoul(p.substr(4));
      size_t comma = p.find(',', 4), space = p.find(' ', 4);
      size_t count =
          (comma != std::string::npos && comma < space) ? std::stoul(p.substr(comma + 1)) : 1;
      size_t first = count == 0 ? start : start - 1;
      while (next < first) out += lines[next++];
      continue;
    }
    if (p[0] == '\\') continue;  // handled with the line it follows
    std::string text = p.substr(1) + "\n";
    if (p[0] == ' ')
      out += lines[next++];
    else if (p[0] == '-')
      ++next;
    else
      out += text;
    if (p[0] == '+' && i + 1 < plines.size() && plines[i + 1][0] == '\\') out.pop_back();
  }
  while (next < lines.size()) out += lines[next++];
  return out;
}

}  // namespace

TEST_CASE("unified diff: applying the diff gives the new text (random texts)",
          "[diff][steps-builtin]") {
  std::srand(42);
  auto random_text = [] {
    std::string s;
    int n = std::rand() % 30;
    for (int i = 0; i < n; ++i)
      s += std::string(1, static_cast<char>('a' + std::rand() % 4)) + "\n";
    if (!s.empty() && std::rand() % 5 == 0) s.pop_back();
    return s;
  };
  for (int round = 0; round < 2000; ++round) {
    std::string a = random_text(), b = random_text();
    auto d = unified_diff(a, b, "a", "b");
    INFO("a=" << a << "\nb=" << b << "\ndiff=\n" << d.text);
    if (a == b) {
      CHECK(d.text.empty());
      continue;
    }
    REQUIRE(apply_patch(a, d.text) == b);
    // Minimal: as many changed lines as the longest common subsequence allows.
    auto split = [](const std::string& t) {
      std::vector<std::string> v;
      for (size_t st = 0; st < t.size();) {
        size_t nl = t.find('\n', st);
        size_t e = nl == std::string::npos ? t.size() : nl + 1;
        v.push_back(t.substr(st, e - st));
        st = e;
      }
      return v;
    };
    auto la = split(a), lb = split(b);
    std::vector<std::vector<size_t>> lcs(la.size() + 1, std::vector<size_t>(lb.size() + 1, 0));
    for (size_t i = 1; i <= la.size(); ++i)
      for (size_t j = 1; j <= lb.size(); ++j)
        lcs[i][j] =
            la[i - 1] == lb[j - 1] ? lcs[i - 1][j - 1] + 1 : std::max(lcs[i - 1][j], lcs[i][j - 1]);
    CHECK(d.added + d.removed == la.size() + lb.size() - 2 * lcs[la.size()][lb.size()]);
  }
}
