// One call of an external step plugin (SPEC §5, docs/plugins.md): runs
// `cutover-step-<type> ACTION` on this machine with the request as JSON on stdin, streams its
// stderr (redacted) to a log, and reads and checks the answer on stdout. The protocol's JSON
// Schemas are schemas/plugin-request.schema.json and schemas/plugin-response.schema.json;
// parse_answer() checks the same rules by hand (valijson stays in the executor).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "util/cancel.h"

namespace cutover::steps {

/// The protocol version sent as `protocol` in every request.
constexpr int kPluginProtocol = 1;

struct PluginCall {
  std::string path;    // the executable
  std::string type;    // the step type it serves ("kv.set")
  std::string action;  // schema | plan | checkpoint | apply | undo
  nlohmann::json request;
  std::string cwd;  // the plan's folder
  util::Deadline deadline;
  /// Receives each stderr line, already redacted and prefixed; may be empty.
  std::function<void(const std::string&)> log;
};

/// Runs the call and returns the plugin's answer (an object with "ok": true), checked against
/// the response rules of `action`. Throws Interrupted on timeout or SIGINT/SIGTERM (the
/// plugin's whole process group is killed), and Error when the plugin cannot start, exits
/// non-zero, prints something that is not a valid answer (the message names the plugin and
/// quotes a short excerpt), or answers "ok": false (its `error` and `hint`). The plugin's
/// environment is cutover's minus every variable whose value holds a registered secret.
nlohmann::json call_plugin(const PluginCall& call);

/// Checks `text` as the answer to `action`; returns it parsed. Throws Error naming `label`
/// for a malformed answer, or with the plugin's own error when "ok" is false.
nlohmann::json parse_answer(const std::string& text, const std::string& action,
                            const std::string& label, const std::string& type);

/// At most `max` characters of `text`, on one line, control characters escaped, redacted.
std::string excerpt(const std::string& text, size_t max = 120);

}  // namespace cutover::steps
