// Interpolation of ${...} references (SPEC §3):
//   ${vars.X} ${env.X} ${env.X:-default} ${secrets.X} ${steps.ID.outputs.KEY}
//   ${run.id} ${run.dir} ${plan.name} ${plan.dir}   $${ is a literal ${
//   In shell strings every substitution is shell-quoted; ${raw:vars.X} inserts it as is.
// A string that is exactly one reference takes the referenced value's JSON type.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace cutover::executor {

using nlohmann::json;

/// In reference mode the result is itself a template whose only references are secrets:
/// a literal "${" in it is written "$${", and in shell strings secret references are left
/// for the reveal to quote. So interpolating a recorded value again in reveal mode, with the
/// same shell keys, gives the same command as interpolating the original in reveal mode.
enum class SecretMode {
  reveal,     // insert the secret's value (what steps get)
  reference,  // keep "${secrets.NAME}" (what the journal, plan.json and output get)
};

/// What references resolve against.
struct Scope {
  const json* vars = nullptr;                         // uninterpolated vars (resolved on demand)
  std::function<std::string(const std::string&)> secret;  // name -> value; throws Error if missing
  /// id -> outputs of completed steps; not owned (a scope is built per step, and copying
  /// every earlier step's outputs each time made a long plan quadratic).
  const std::map<std::string, json>* step_outputs = nullptr;
  std::map<std::string, std::string> run;             // id, dir
  std::map<std::string, std::string> plan;            // name, dir
  /// When true, ${steps.…} of steps not yet run resolve to the text "(known after apply)".
  bool unknown_outputs_ok = false;
};

/// Resolves every string in `value`. Keys named in `shell_keys` (top-level keys of `value`)
/// are shell strings: substitutions in them are shell-quoted unless written ${raw:…}.
/// Throws Error("PATH: message") on an unknown reference or a cycle.
json interpolate(const json& value, const Scope& scope, SecretMode mode,
                 const std::vector<std::string>& shell_keys = {});

/// Resolves one string (not a shell string).
json interpolate_string(const std::string& text, const Scope& scope, SecretMode mode);

/// Every reference in `text`, as "vars.X", "secrets.Y", "steps.ID.outputs.K", "env.Z"...
std::vector<std::string> references(const std::string& text);

}  // namespace cutover::executor
