// Durations (500ms 30s 10m 2h) and sizes (512KiB 5GiB 100MB) of the plan format.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace cutover::util {

/// Parses "500ms", "30s", "10m", "2h", "1d"; a bare number is seconds. nullopt if malformed.
std::optional<std::chrono::milliseconds> parse_duration(const std::string& text);

/// Parses "512KiB", "5GiB", "100MB", "10k", a bare number is bytes. nullopt if malformed.
std::optional<uint64_t> parse_size(const std::string& text);

/// "1.5 GiB", "312 KiB", "17 B".
std::string format_bytes(uint64_t bytes);

/// "120ms", "4.2s", "3m05s", "1h02m".
std::string format_duration(std::chrono::milliseconds d);

}  // namespace cutover::util
