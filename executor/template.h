// The ${...} reference syntax shared by interpolation (interpolate.cpp) and validation
// (checks.cpp). Internal to the executor.
#pragma once

#include <string>
#include <vector>

namespace cutover::executor::detail {

/// One piece of a string: literal text, or a reference.
struct Piece {
  bool is_ref = false;
  std::string text;  // the literal text, or the reference body without "raw:" ("vars.x")
  bool raw = false;  // written ${raw:...}: inserted as is even in shell strings
};

/// Splits `s` into literal text and references ("$${" is a literal "${"). Returns false and
/// sets `error` on an unterminated or empty reference.
bool split_template(const std::string& s, std::vector<Piece>& out, std::string& error);

/// A reference body taken apart: "steps.db.outputs.artifact" -> ns "steps",
/// parts {"db", "outputs", "artifact"}; "env.HOME:-/root" -> ns "env", parts {"HOME"},
/// default "/root".
struct Ref {
  std::string ns;
  std::vector<std::string> parts;
  bool has_default = false;
  std::string fallback;
};

/// Parses and checks the form of a reference body. Returns false and sets `error` (a
/// message naming the reference) when it is not one of the forms of SPEC §3.
bool parse_ref(const std::string& body, Ref& out, std::string& error);

}  // namespace cutover::executor::detail
