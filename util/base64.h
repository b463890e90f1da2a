// Base64 (RFC 4648, with padding) for small binary values kept inline in JSON records.
#pragma once

#include <string>

namespace cutover::util {

/// Standard base64 of `data`, padded.
std::string base64_encode(const std::string& data);

/// Decodes standard base64 (padding optional, whitespace ignored); throws Error when malformed.
std::string base64_decode(const std::string& text);

}  // namespace cutover::util
