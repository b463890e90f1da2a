// Small string helpers shared by every subsystem.
#pragma once

#include <string>
#include <vector>

namespace cutover::util {

/// POSIX-shell single-quoted form of `s` ('it'\''s').
std::string shell_quote(const std::string& s);

/// argv joined as a shell command line, each word quoted only when needed.
std::string shell_join(const std::vector<std::string>& argv);

std::string trim(const std::string& s);
std::vector<std::string> split(const std::string& s, char sep);
std::string join(const std::vector<std::string>& parts, const std::string& sep);
bool starts_with(const std::string& s, const std::string& prefix);
bool ends_with(const std::string& s, const std::string& suffix);
std::string replace_all(std::string s, const std::string& from, const std::string& to);

/// Levenshtein distance, for "did you mean" suggestions.
size_t edit_distance(const std::string& a, const std::string& b);

/// The candidate closest to `word` within a distance of max(2, len/3), or "" if none.
std::string closest(const std::string& word, const std::vector<std::string>& candidates);

/// The last `lines` lines of `text`, without its trailing newline (the end of a stderr).
std::string tail_lines(const std::string& text, size_t lines);

/// Lowercase hex of `n` bytes.
std::string to_hex(const unsigned char* data, size_t n);

}  // namespace cutover::util
