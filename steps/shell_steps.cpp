// shell: runs a command on the step's host; its undo is the plan's own `with.undo` command.
#include <map>

#include "hosts/host.h"
#include "steps/families.h"
#include "steps/file_state.h"
#include "util/error.h"
#include "util/strings.h"

namespace cutover::steps {
namespace {

// No "definitions"/"$ref" in the schema: it may be embedded in the plan schema, where a
// "#/..." reference would resolve against the wrong root.
const char* const kShellSchema = R"json({
  "type": "object",
  "additionalProperties": false,
  "required": ["run"],
  "properties": {
    "run": {"oneOf": [{"type": "string", "minLength": 1}, {"type": "array", "minItems": 1, "items": {"type": "string"}}], "description": "The command: a string run with /bin/sh -c (substitutions are inserted shell-quoted), or an argv list run directly."},
    "undo": {"oneOf": [{"type": "string", "minLength": 1}, {"type": "array", "minItems": 1, "items": {"type": "string"}}], "description": "Command that reverses run, in the same forms; run on rollback. It must be safe to run when run never ran or failed halfway."},
    "cwd": {"type": "string", "description": "Working folder for both commands (default: the folder cutover runs in, or the login folder on an SSH host)."},
    "env": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}, "description": "Extra environment variables for both commands."},
    "idempotent": {"type": "boolean", "default": false, "description": "Running the command twice does no harm: lets `cutover resume` run it again after a crash."},
    "capture": {"type": "boolean", "default": false, "description": "Keep the command's standard output (trimmed, up to 64 KiB) as the output `stdout`."}
  }
})json";

// The tail of stderr quoted in an error.
constexpr size_t kErrTailLines = 20;
constexpr size_t kKeepBytes = 64u << 10;

struct Command {
  std::vector<std::string> argv;  // argv form, or
  std::string shell;              // a /bin/sh -c string
  bool empty() const { return argv.empty() && shell.empty(); }
  std::string text() const { return argv.empty() ? shell : util::shell_join(argv); }
};

Command parse_command(const json& with, const std::string& key) {
  Command c;
  auto it = with.find(key);
  if (it == with.end() || it->is_null()) return c;
  if (it->is_string()) {
    c.shell = it->get<std::string>();
    if (util::trim(c.shell).empty()) throw Error("shell: with." + key + " is empty");
    return c;
  }
  if (it->is_array() && !it->empty()) {
    for (const auto& a : *it) {
      if (!a.is_string())
        throw Error("shell: with." + key + " must be a string or a list of strings");
      c.argv.push_back(a.get<std::string>());
    }
    return c;
  }
  throw Error("shell: with." + key + " must be a string or a non-empty list of strings");
}


// Appends to a buffer that keeps only its last kKeepBytes bytes.
void append_tail(std::string& buf, const char* d, size_t n) {
  buf.append(d, n);
  if (buf.size() > 2 * kKeepBytes) buf.erase(0, buf.size() - kKeepBytes);
}

class Shell final : public Step {
 public:
  explicit Shell(const StepConfig& c) {
    const json& with = c.params;
    run_ = parse_command(with, "run");
    if (run_.empty()) throw Error("shell: with.run is required");
    undo_ = parse_command(with, "undo");
    cwd_ = string_param(with, "shell", "cwd", false);
    capture_ = bool_param(with, "shell", "capture", false);
    bool_param(with, "shell", "idempotent", false);  // validated here; the executor reads it
    if (with.contains("env") && !with["env"].is_null()) {
      if (!with["env"].is_object()) throw Error("shell: with.env must be a map of NAME: value");
      for (const auto& [k, v] : with["env"].items())
        env_[k] = v.is_string() ? v.get<std::string>() : v.dump();
    }
  }

  Preview plan(Context& ctx) override {
    Preview p;
    p.changes = true;
    p.summary = "run on " + ctx.host.name() + ": " + first_line(run_.text());
    p.detail = "$ " + run_.text() + "\n";
    if (!cwd_.empty()) p.detail += "  in " + cwd_ + "\n";
    for (const auto& [k, v] : env_) p.detail += "  env " + k + "\n";
    p.detail += undo_.empty() ? "  undo: none\n" : "  undo: " + undo_.text() + "\n";
    return p;
  }

  json checkpoint(Context& ctx) override { return json::object(); }

  json apply(Context& ctx, const json& checkpoint) override {
    hosts::ExecResult r = run(ctx, run_, "run");
    std::string out;
    if (capture_) {
      out = util::trim(r.out);
      if (out.size() > kKeepBytes) out.resize(kKeepBytes);
    }
    return {{"exit_code", r.exit_code}, {"stdout", out}};
  }

  void undo(Context& ctx, const json& checkpoint) override {
    if (undo_.empty()) return;
    run(ctx, undo_, "undo");
  }

 private:
  static std::string first_line(const std::string& s) {
    size_t nl = s.find('\n');
    return nl == std::string::npos ? s : s.substr(0, nl) + " ...";
  }

  hosts::ExecResult run(Context& ctx, const Command& cmd, const std::string& what) {
    if (util::interrupted()) throw Interrupted("shell: interrupted before " + what);
    hosts::ExecRequest req;
    req.argv = cmd.argv;
    req.shell = cmd.shell;
    req.cwd = cwd_;
    req.env = env_;
    req.deadline = ctx.deadline;
    std::string err_tail, pending;
    auto log_lines = [&](std::string& buf, const char* d, size_t n, const char* tag) {
      if (!ctx.log) return;
      buf.append(d, n);
      for (size_t nl; (nl = buf.find('\n')) != std::string::npos; buf.erase(0, nl + 1))
        ctx.log(std::string(tag) + buf.substr(0, nl));
      if (buf.size() > 4096) ctx.log(std::string(tag) + buf), buf.clear();
    };
    std::string out_pending;
    req.on_stdout = [&](const char* d, size_t n) { log_lines(out_pending, d, n, "stdout: "); };
    req.on_stderr = [&](const char* d, size_t n) {
      append_tail(err_tail, d, n);
      log_lines(pending, d, n, "stderr: ");
    };
    hosts::ExecResult r = ctx.host.exec(req);
    if (ctx.log) {
      if (!out_pending.empty()) ctx.log("stdout: " + out_pending);
      if (!pending.empty()) ctx.log("stderr: " + pending);
    }
    std::string label = "shell " + what + " `" + first_line(cmd.text()) + "` on " + ctx.host.name();
    if (r.interrupted) throw Interrupted(label + ": interrupted");
    if (r.timed_out)
      throw Interrupted(label + ": timed out (the step's timeout); its processes were killed");
    if (!r.ok()) {
      std::string tail = util::tail_lines(err_tail.empty() ? r.err : err_tail, kErrTailLines);
      std::string msg = label + " failed (" + r.describe() + ")";
      if (r.exit_code == 127 && r.signal == 0) msg += ": command not found or could not start";
      if (!tail.empty()) msg += "\n" + tail;
      throw Error(msg);
    }
    return r;
  }

  Command run_, undo_;
  std::string cwd_;
  std::map<std::string, std::string> env_;
  bool capture_ = false;
};

}  // namespace

std::vector<StepType> shell_step_types() {
  StepType s;
  s.name = "shell";
  s.summary = "Run a command (a /bin/sh -c string or an argv list), with an optional undo command";
  s.undo = "captures nothing; undo runs with.undo (validation requires it unless rollback: none)";
  s.outputs =
      "exit_code: the command's exit code; stdout: its trimmed standard output when capture is "
      "true";
  s.params_schema = kShellSchema;
  s.remote = true;
  s.resume = Resume::if_idempotent;
  s.undo_param = "undo";
  s.shell_params = {"run", "undo"};
  s.make = [](const StepConfig& c) -> std::unique_ptr<Step> { return std::make_unique<Shell>(c); };
  return {s};
}

}  // namespace cutover::steps
