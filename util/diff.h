// Unified diffs for `cutover plan` (SPEC §4 "Dry run"): what a file or config step would change.
// Myers' O((N+M)·D) algorithm on lines, after trimming the common head and tail; a diff whose
// edit distance exceeds a cap degrades to "all old lines removed, all new lines added" for the
// differing middle, which is still a correct (if unhelpful) diff.
#pragma once

#include <cstddef>
#include <string>

namespace cutover::util {

/// A diff and its line counts.
struct Diff {
  std::string text;     // unified diff ("" when the two texts are equal)
  size_t added = 0;     // lines only in the new text
  size_t removed = 0;   // lines only in the old text
  bool binary = false;  // compared by hash only (binary or over 1 MiB)
  bool changed() const { return added != 0 || removed != 0 || (binary && !text.empty()); }
};

/// Unified diff of `before` → `after` with `context` lines of context, headed
/// "--- LABEL_BEFORE" / "+++ LABEL_AFTER". A missing final newline is marked as diff(1) does.
Diff unified_diff(const std::string& before, const std::string& after,
                  const std::string& label_before, const std::string& label_after,
                  size_t context = 3);

/// As unified_diff, but when either side is over 1 MiB or holds a NUL byte, a single line
/// "binary/large file changed (sha256 A → B)" (text "" when the bytes are equal).
Diff file_diff(const std::string& before, const std::string& after, const std::string& label_before,
               const std::string& label_after);

}  // namespace cutover::util
