// Secret masking. Every secret value resolved from `secrets:` is registered here once;
// every path to the outside world (terminal, JSON events, journal, reports, log, captured
// subprocess output, error text) passes its text through redact().
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace cutover::util {

/// Registers a secret value; every later redact() masks it (and its shell-quoted,
/// JSON-escaped and URL-encoded forms) as "***". Values shorter than 3 bytes are ignored
/// after a warning, since masking them would shred ordinary text.
void register_secret(const std::string& value);

/// The text with every registered secret replaced by "***".
std::string redact(const std::string& text);

/// Redacts every string (values and keys) of a JSON document.
nlohmann::json redact_json(const nlohmann::json& value);

/// Forgets every registered secret (tests).
void clear_secrets();

}  // namespace cutover::util
