#include "util/diff.h"

#include <algorithm>
#include <vector>

#include "util/hash.h"

namespace cutover::util {
namespace {

enum class Op { equal, del, ins };

struct Edit {
  Op op;
  size_t a;  // index in the old lines (equal, del)
  size_t b;  // index in the new lines (equal, ins)
};

// Lines keep their '\n' so that "x" and "x\n" (a missing final newline) compare different.
std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    if (nl == std::string::npos) {
      out.push_back(s.substr(start));
      break;
    }
    out.push_back(s.substr(start, nl - start + 1));
    start = nl + 1;
  }
  return out;
}

// Beyond this many differences the middle is reported as one replaced block: keeps the
// trace (about D² ints) small for pathological inputs.
constexpr long kMaxEditDistance = 4000;

// Myers' greedy diff of a[a0, a1) against b[b0, b1); appends the edit script to `out`.
void myers(const std::vector<std::string>& a, size_t a0, size_t a1,
           const std::vector<std::string>& b, size_t b0, size_t b1, std::vector<Edit>& out) {
  const long n = static_cast<long>(a1 - a0), m = static_cast<long>(b1 - b0);
  const long max = n + m;
  std::vector<long> v(2 * static_cast<size_t>(max) + 3, 0);
  const long off = max + 1;
  std::vector<std::vector<long>> trace;  // trace[d][k + d + 1] = V[k] before round d
  long found = -1;
  for (long d = 0; d <= max && d <= kMaxEditDistance; ++d) {
    trace.emplace_back(v.begin() + (off - d - 1), v.begin() + (off + d + 2));
    for (long k = -d; k <= d; k += 2) {
      long x = (k == -d || (k != d && v[off + k - 1] < v[off + k + 1])) ? v[off + k + 1]
                                                                        : v[off + k - 1] + 1;
      long y = x - k;
      while (x < n && y < m && a[a0 + x] == b[b0 + y]) ++x, ++y;
      v[off + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
    if (found >= 0) break;
  }
  if (found < 0) {
    for (size_t i = a0; i < a1; ++i) out.push_back({Op::del, i, b0});
    for (size_t j = b0; j < b1; ++j) out.push_back({Op::ins, a1, j});
    return;
  }
  std::vector<Edit> rev;
  long x = n, y = m;
  for (long d = found; d > 0; --d) {
    const std::vector<long>& pv = trace[static_cast<size_t>(d)];
    auto at = [&](long k) { return pv[static_cast<size_t>(k + d + 1)]; };
    long k = x - y;
    long prev_k = (k == -d || (k != d && at(k - 1) < at(k + 1))) ? k + 1 : k - 1;
    long prev_x = at(prev_k);
    long prev_y = prev_x - prev_k;
    while (x > prev_x && y > prev_y) {
      --x, --y;
      rev.push_back({Op::equal, a0 + x, b0 + y});
    }
    if (prev_k == k + 1)
      rev.push_back({Op::ins, a0 + x, b0 + prev_y});
    else
      rev.push_back({Op::del, a0 + prev_x, b0 + y});
    x = prev_x, y = prev_y;
  }
  while (x > 0 && y > 0) {
    --x, --y;
    rev.push_back({Op::equal, a0 + x, b0 + y});
  }
  out.insert(out.end(), rev.rbegin(), rev.rend());
}

void emit_line(std::string& out, char prefix, const std::string& line) {
  out += prefix;
  if (!line.empty() && line.back() == '\n') {
    out += line;
  } else {
    out += line;
    out += "\n\\ No newline at end of file\n";
  }
}

std::string range(size_t start, size_t count) {
  // diff(1): an empty range names the line before it.
  size_t first = count == 0 ? start : start + 1;
  if (count == 1) return std::to_string(first);
  return std::to_string(first) + "," + std::to_string(count);
}

}  // namespace

Diff unified_diff(const std::string& before, const std::string& after,
                  const std::string& label_before, const std::string& label_after, size_t context) {
  Diff diff;
  if (before == after) return diff;
  std::vector<std::string> a = split_lines(before), b = split_lines(after);

  size_t head = 0;
  while (head < a.size() && head < b.size() && a[head] == b[head]) ++head;
  size_t tail = 0;
  while (tail < a.size() - head && tail < b.size() - head &&
         a[a.size() - 1 - tail] == b[b.size() - 1 - tail])
    ++tail;

  std::vector<Edit> edits;
  for (size_t i = 0; i < head; ++i) edits.push_back({Op::equal, i, i});
  myers(a, head, a.size() - tail, b, head, b.size() - tail, edits);
  for (size_t i = 0; i < tail; ++i)
    edits.push_back({Op::equal, a.size() - tail + i, b.size() - tail + i});

  std::string& out = diff.text;
  out = "--- " + label_before + "\n+++ " + label_after + "\n";
  size_t i = 0;
  while (i < edits.size()) {
    // Next change.
    while (i < edits.size() && edits[i].op == Op::equal) ++i;
    if (i == edits.size()) break;
    size_t start = i >= context ? i - context : 0;
    // Extend while the gap of equal lines between changes is at most 2·context.
    size_t end = i;
    while (end < edits.size()) {
      if (edits[end].op != Op::equal) {
        ++end;
        continue;
      }
      size_t run = end;
      while (run < edits.size() && edits[run].op == Op::equal) ++run;
      if (run == edits.size() || run - end > 2 * context) {
        end = std::min(run, end + context);
        break;
      }
      end = run;
    }
    size_t a_start = edits[start].op == Op::ins ? edits[start].a : edits[start].a;
    size_t b_start = edits[start].b;
    size_t a_count = 0, b_count = 0;
    for (size_t j = start; j < end; ++j) {
      if (edits[j].op != Op::ins) ++a_count;
      if (edits[j].op != Op::del) ++b_count;
    }
    out += "@@ -" + range(a_start, a_count) + " +" + range(b_start, b_count) + " @@\n";
    for (size_t j = start; j < end; ++j) {
      const Edit& e = edits[j];
      if (e.op == Op::equal)
        emit_line(out, ' ', a[e.a]);
      else if (e.op == Op::del)
        emit_line(out, '-', a[e.a]), ++diff.removed;
      else
        emit_line(out, '+', b[e.b]), ++diff.added;
    }
    i = end;
  }
  return diff;
}

Diff file_diff(const std::string& before, const std::string& after, const std::string& label_before,
               const std::string& label_after) {
  constexpr size_t kMaxTextDiff = 1u << 20;
  bool binary = before.size() > kMaxTextDiff || after.size() > kMaxTextDiff ||
                before.find('\0') != std::string::npos || after.find('\0') != std::string::npos;
  if (!binary) return unified_diff(before, after, label_before, label_after);
  Diff d;
  d.binary = true;
  if (before == after) return d;
  d.text = "binary/large file changed (sha256 " + sha256_hex(before).substr(0, 12) + " \u2192 " +
           sha256_hex(after).substr(0, 12) + ")\n";
  return d;
}

}  // namespace cutover::util
