#include "steps/plugin_call.h"

#include <cstring>

#include "util/error.h"
#include "util/process.h"
#include "util/redact.h"
#include "util/strings.h"

extern char** environ;

namespace cutover::steps {

using nlohmann::json;

namespace {

// An answer larger than this is refused rather than parsed: checkpoints that big belong in
// files the plugin keeps itself (docs/plugins.md).
constexpr size_t kMaxAnswerBytes = 8u << 20;
constexpr size_t kErrTailLines = 20;
constexpr size_t kKeepErrBytes = 64u << 10;

// Every variable of our environment whose value holds a secret: the plugin gets secrets only
// through the params the plan gives it (${secrets.X}), never by inheriting e.g. the variable a
// `secrets: {env: …}` entry was read from.
std::vector<std::string> secret_env_names() {
  std::vector<std::string> out;
  for (char** e = environ; *e; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (!eq) continue;
    std::string value(eq + 1);
    if (!value.empty() && util::redact(value) != value)
      out.emplace_back(*e, static_cast<size_t>(eq - *e));
  }
  return out;
}

void check_type(const json& answer, const char* key, bool ok, const char* what,
                const std::string& label) {
  if (answer.contains(key) && !ok)
    throw Error(label + ": malformed answer: '" + key + "' must be " + what + ", got " +
                excerpt(answer[key].dump(), 60));
}

}  // namespace

std::string excerpt(const std::string& text, size_t max) {
  std::string out;
  for (unsigned char c : text) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    if (c == '\n')
      out += "\\n";
    else if (c == '\r')
      out += "\\r";
    else if (c == '\t')
      out += "\\t";
    else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return util::redact(out);
}

json parse_answer(const std::string& text, const std::string& action, const std::string& label,
                  const std::string& type) {
  if (util::trim(text).empty())
    throw Error(
        label + ": printed nothing on stdout; expected a JSON answer such as {\"ok\": true}",
        "a plugin writes exactly one JSON object to stdout and its messages to stderr");
  json answer = json::parse(text, nullptr, false);
  if (answer.is_discarded())
    throw Error(label + ": its answer on stdout is not JSON: \"" + excerpt(util::trim(text)) + "\"",
                "a plugin writes exactly one JSON object to stdout and its messages to stderr");
  if (!answer.is_object())
    throw Error(label + ": malformed answer: expected a JSON object, got \"" +
                excerpt(answer.dump(), 60) + "\"");
  if (!answer.contains("ok"))
    throw Error(label + ": malformed answer: 'ok' (true or false) is missing in " +
                excerpt(answer.dump(), 80));
  check_type(answer, "ok", answer["ok"].is_boolean(), "true or false", label);
  auto is_str = [&](const char* k) { return answer[k].is_string(); };
  check_type(answer, "error", answer.contains("error") && is_str("error"), "a string", label);
  check_type(answer, "hint", answer.contains("hint") && is_str("hint"), "a string", label);
  if (!answer["ok"].get<bool>()) {
    std::string error = answer.value("error", "");
    if (util::trim(error).empty())
      throw Error(label + ": answered ok: false without an error message");
    throw Error(type + " " + action + ": " + util::redact(error),
                util::redact(answer.value("hint", "")));
  }
  check_type(answer, "summary", answer.contains("summary") && is_str("summary"), "a string", label);
  check_type(answer, "detail", answer.contains("detail") && is_str("detail"), "a string", label);
  check_type(answer, "changes", answer.contains("changes") && answer["changes"].is_boolean(),
             "true or false", label);
  check_type(answer, "outputs", answer.contains("outputs") && answer["outputs"].is_object(),
             "an object", label);
  check_type(answer, "fingerprint",
             answer.contains("fingerprint") &&
                 (answer["fingerprint"].is_object() || answer["fingerprint"].is_null()),
             "an object or null", label);
  if (action == "schema") {
    if (!answer.contains("schema") || !answer["schema"].is_object())
      throw Error(label +
                  ": malformed answer: 'schema' (the JSON Schema of the step's with:) "
                  "must be an object");
    check_type(answer, "undo", answer.contains("undo") && is_str("undo"), "a string", label);
    bool names = answer.contains("secret_params") && answer["secret_params"].is_array();
    if (names)
      for (const auto& n : answer["secret_params"]) names = names && n.is_string();
    check_type(answer, "secret_params", names, "a list of strings", label);
  }
  if (action == "checkpoint" && !answer.contains("checkpoint"))
    throw Error(label +
                ": malformed answer: 'checkpoint' is missing (answer \"checkpoint\": null "
                "when there is nothing to keep)");
  return answer;
}

json call_plugin(const PluginCall& call) {
  const std::string label = "plugin " + call.type + " (" + call.path + ") " + call.action;
  if (util::interrupted()) throw Interrupted(label + ": interrupted before it started");
  util::ProcessSpec spec;
  spec.argv = {call.path, call.action};
  spec.cwd = call.cwd;
  spec.env_remove = secret_env_names();
  // Params read from files may hold bytes that are not UTF-8: replaced, never a throw here.
  spec.stdin_data = call.request.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  spec.deadline = call.deadline;
  spec.capture_limit = kMaxAnswerBytes + 1;
  std::string err_tail, pending;
  const std::string prefix = "plugin " + call.type + " " + call.action + " stderr: ";
  auto flush_line = [&](const std::string& line) {
    if (call.log) call.log(prefix + util::redact(line));
  };
  spec.on_stderr = [&](const char* d, size_t n) {
    err_tail.append(d, n);
    if (err_tail.size() > 2 * kKeepErrBytes) err_tail.erase(0, err_tail.size() - kKeepErrBytes);
    pending.append(d, n);
    for (size_t nl; (nl = pending.find('\n')) != std::string::npos; pending.erase(0, nl + 1))
      flush_line(pending.substr(0, nl));
    if (pending.size() > 4096) flush_line(pending), pending.clear();
  };
  util::ProcessResult r = util::run_process(spec);
  if (!pending.empty()) flush_line(pending);
  if (r.spawn_failed)
    throw Error(label + ": could not start: " + r.err,
                "the plugin must be an executable file with a working #! line");
  if (r.interrupted) throw Interrupted(label + ": interrupted; its processes were killed");
  if (r.timed_out)
    throw Interrupted(label + ": timed out (the step's timeout); its processes were killed");
  if (r.out.size() > kMaxAnswerBytes)
    throw Error(label +
                ": its answer is larger than 8 MiB; keep big data in files and put "
                "their names in the answer");
  std::string tail = util::redact(util::tail_lines(err_tail, kErrTailLines));
  if (!r.ok()) {
    // A failing plugin may still have explained itself on stdout.
    json answer = json::parse(r.out, nullptr, false);
    std::string msg = label + " failed (" + r.describe() + ")";
    std::string hint;
    if (answer.is_object() && answer.contains("error") && answer["error"].is_string()) {
      msg = call.type + " " + call.action + ": " +
            util::redact(answer["error"].get<std::string>()) + " (plugin " + r.describe() + ")";
      if (answer.contains("hint") && answer["hint"].is_string())
        hint = util::redact(answer["hint"].get<std::string>());
    } else if (!tail.empty()) {
      msg += "\n" + tail;
    }
    throw Error(msg, hint);
  }
  try {
    return parse_answer(r.out, call.action, label, call.type);
  } catch (const Error& e) {
    // A protocol mistake is easier to see with what the plugin said on stderr.
    bool own_error = util::starts_with(e.what(), call.type + " " + call.action + ": ");
    if (own_error || tail.empty()) throw;
    throw Error(std::string(e.what()) + "\n" + tail, e.hint());
  }
}

}  // namespace cutover::steps
