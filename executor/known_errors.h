// The known-errors base (SPEC §7): data/known_errors.yaml, embedded into the binary, maps
// error text (a regex per entry) to a likely cause and what to do about it. The runner shows
// the matches under a failed step's error; `doctor` uses them for its hints.
#pragma once

#include <string>
#include <vector>

namespace cutover::executor {

/// One matched entry of the base.
struct Hint {
  std::string id;     // "port-in-use"
  std::string cause;  // one sentence: what probably happened
  std::string fix;    // what to run or change
};

/// Every entry whose pattern matches a line of `text` (error message plus captured output),
/// each at most once, in the base's order (most specific first). Only the last 64 KiB of
/// `text` are searched, line by line. Empty when nothing matches. Throws Error if the
/// embedded base is malformed (a build defect, caught by the unit tests).
std::vector<Hint> match_known_errors(const std::string& text);

/// One entry of the base as written in data/known_errors.yaml.
struct KnownError {
  std::string id;
  std::string pattern;  // ECMAScript regex, matched case-insensitively per line
  std::string cause;
  std::string fix;
};

/// The whole base, in order (for docs checks and `cutover doctor`). Throws Error like
/// match_known_errors() when the embedded base is malformed.
const std::vector<KnownError>& known_errors();

}  // namespace cutover::executor
