// Read-only steps: check.file, check.disk, check.command, check.tcp, plus wait and confirm.
// Checks run in plan() as well as in apply() and throw Error with what was found when they fail.
#include "steps/check_steps.h"

#include <regex>

#include "hosts/host.h"
#include "steps/families.h"
#include "steps/file_state.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"
#include "util/units.h"

namespace cutover::steps {
namespace {

const char* const kFileSchema = R"json({
  "type": "object", "additionalProperties": false, "required": ["path"],
  "properties": {
    "path": {"type": "string", "description": "Path to check (absolute on SSH hosts)."},
    "exists": {"type": "boolean", "default": true, "description": "Whether the path must exist (true) or must not (false)."},
    "contains": {"type": "string", "description": "Text the file must contain."}
  }
})json";

const char* const kDiskSchema = R"json({
  "type": "object", "additionalProperties": false, "required": ["path", "min_free"],
  "properties": {
    "path": {"type": "string", "description": "A path on the filesystem to check; when it does not exist yet, its nearest existing parent is measured."},
    "min_free": {"type": ["string", "integer"], "description": "Free space required, as a size (512MiB, 5GiB, 100MB) or a number of bytes."}
  }
})json";

const char* const kCommandSchema = R"json({
  "type": "object", "additionalProperties": false, "required": ["command"],
  "properties": {
    "command": {"type": "string", "description": "Program name (looked up in PATH) or path."},
    "min_version": {"type": ["string", "number"], "description": "Lowest acceptable version, e.g. \"15\" or \"2.30.1\"."},
    "version_arg": {"type": "string", "default": "--version", "description": "Argument that makes the program print its version."}
  }
})json";

class CheckStep : public Step {
 public:
  Preview plan(Context& ctx) override {
    Preview p;
    json out = run_check(ctx, p.summary);
    p.outputs = out;
    return p;
  }
  json apply(Context& ctx, const json&) override {
    std::string summary;
    json out = run_check(ctx, summary);
    if (ctx.log) ctx.log(summary);
    return out;
  }

 protected:
  /// Runs the check: returns outputs and a one-line "ok: ..." summary, or throws Error.
  virtual json run_check(Context& ctx, std::string& summary) = 0;
};

class CheckFile final : public CheckStep {
 public:
  explicit CheckFile(const StepConfig& c) {
    path_ = string_param(c.params, "check.file", "path", true);
    exists_ = bool_param(c.params, "check.file", "exists", true);
    contains_ = string_param(c.params, "check.file", "contains", false);
    has_contains_ = c.params.contains("contains") && !c.params["contains"].is_null();
    if (!exists_ && has_contains_)
      throw Error("check.file: with.contains makes no sense with exists: false");
  }

 protected:
  json run_check(Context& ctx, std::string& summary) override {
    std::string path = target_path(ctx, path_);
    hosts::FileInfo fi = ctx.host.stat(path);
    std::string where = " (on " + ctx.host.name() + ")";
    if (!exists_) {
      if (fi.exists) throw Error("check.file: " + path + " exists but must not" + where);
      summary = "ok: " + path + " does not exist";
      return json::object();
    }
    if (!fi.exists) throw Error("check.file: " + path + " does not exist" + where);
    summary = "ok: " + path + " exists";
    if (has_contains_) {
      std::string real = follow_symlinks(ctx.host, path);
      if (!ctx.host.stat(real).is_regular)
        throw Error("check.file: " + path + " is not a regular file, cannot look for text in it" +
                    where);
      if (ctx.host.read_file(real).find(contains_) == std::string::npos)
        throw Error("check.file: " + path + " does not contain \"" + contains_ + "\"" + where);
      summary += " and contains \"" + contains_ + "\"";
    }
    return json::object();
  }

 private:
  std::string path_, contains_;
  bool exists_ = true, has_contains_ = false;
};

class CheckDisk final : public CheckStep {
 public:
  explicit CheckDisk(const StepConfig& c) {
    path_ = string_param(c.params, "check.disk", "path", true);
    const json& v = c.params.value("min_free", json());
    std::optional<uint64_t> size;
    if (v.is_number_unsigned() || (v.is_number_integer() && v.get<long long>() >= 0))
      size = v.get<uint64_t>();
    else if (v.is_string())
      size = util::parse_size(v.get<std::string>());
    if (!size) throw Error("check.disk: with.min_free must be a size such as 5GiB or 512MiB");
    min_free_ = *size;
  }

 protected:
  json run_check(Context& ctx, std::string& summary) override {
    std::string path = target_path(ctx, path_);
    // A backup folder may not exist yet: measure the filesystem it will be created on.
    std::string probe = path;
    while (!ctx.host.stat(probe).exists && probe != "/" && probe != ".")
      probe = util::dirname(probe);
    uint64_t free = ctx.host.free_bytes(probe);
    if (free < min_free_)
      throw Error("check.disk: only " + util::format_bytes(free) + " free at " + path + " on " +
                      ctx.host.name() + ", need " + util::format_bytes(min_free_),
                  "free some space or point the step at a bigger filesystem");
    summary = "ok: " + util::format_bytes(free) + " free at " + path + " (need " +
              util::format_bytes(min_free_) + ")";
    return {{"free_bytes", free}};
  }

 private:
  std::string path_;
  uint64_t min_free_ = 0;
};

class CheckCommand final : public CheckStep {
 public:
  explicit CheckCommand(const StepConfig& c) {
    command_ = string_param(c.params, "check.command", "command", true);
    version_arg_ = string_param(c.params, "check.command", "version_arg", false, "--version");
    const json& mv = c.params.value("min_version", json());
    if (mv.is_string())
      min_version_ = mv.get<std::string>();
    else if (mv.is_number())
      min_version_ = mv.dump();
    else if (!mv.is_null())
      throw Error("check.command: with.min_version must be a version such as \"15\" or \"2.30\"");
    if (!min_version_.empty() && parse_version(min_version_).empty())
      throw Error("check.command: with.min_version '" + min_version_ + "' is not a version");
  }

 protected:
  json run_check(Context& ctx, std::string& summary) override {
    hosts::ExecRequest req;
    req.argv = {command_};
    if (!version_arg_.empty()) req.argv.push_back(version_arg_);
    req.deadline = ctx.deadline;
    hosts::ExecResult r = ctx.host.exec(req);
    std::string where = " (on " + ctx.host.name() + ")";
    if (r.interrupted || r.timed_out)
      throw Interrupted("check.command: `" + command_ + "` " + r.describe());
    if (r.exit_code == 127 && r.signal == 0)
      throw Error("check.command: " + command_ + " not found" + where,
                  "install it or put it on PATH");
    std::string version = find_version(r.out + "\n" + r.err);
    if (version.empty() && !r.ok())
      throw Error("check.command: `" + command_ + " " + version_arg_ + "` failed (" + r.describe() +
                  ")" + where +
                  (util::trim(r.err).empty() ? "" : ": " + util::trim(r.err).substr(0, 500)));
    if (!min_version_.empty()) {
      if (version.empty())
        throw Error("check.command: found no version number in the output of `" + command_ + " " +
                    version_arg_ + "`" + where);
      if (compare(parse_version(version), parse_version(min_version_)) < 0)
        throw Error("check.command: " + command_ + " is version " + version + ", need " +
                    min_version_ + " or newer" + where);
    }
    summary = "ok: " + command_ + (version.empty() ? "" : " " + version) +
              (min_version_.empty() ? "" : " (need >= " + min_version_ + ")");
    return {{"version", version}};
  }

 private:
  static std::string find_version(const std::string& text) {
    static const std::regex re("(\\d+)\\.(\\d+)(\\.(\\d+))?");
    std::smatch m;
    return std::regex_search(text, m, re) ? m.str(0) : "";
  }
  static std::vector<long> parse_version(const std::string& v) {
    std::vector<long> parts;
    for (const auto& p : util::split(v, '.')) {
      if (p.empty() || p.find_first_not_of("0123456789") != std::string::npos) return {};
      parts.push_back(std::stol(p.substr(0, 9)));
    }
    return parts;
  }
  static int compare(std::vector<long> a, std::vector<long> b) {
    size_t n = std::max(a.size(), b.size());
    a.resize(n, 0), b.resize(n, 0);
    return a < b ? -1 : (a == b ? 0 : 1);
  }

  std::string command_, version_arg_, min_version_;
};

}  // namespace

std::unique_ptr<Step> make_check_file(const StepConfig& c) {
  return std::make_unique<CheckFile>(c);
}
std::unique_ptr<Step> make_check_disk(const StepConfig& c) {
  return std::make_unique<CheckDisk>(c);
}
std::unique_ptr<Step> make_check_command(const StepConfig& c) {
  return std::make_unique<CheckCommand>(c);
}

std::vector<StepType> check_step_types() {
  auto check = [](std::string name, std::string summary, std::string outputs, const char* schema,
                  bool remote, std::unique_ptr<Step> (*make)(const StepConfig&)) {
    StepType t;
    t.name = std::move(name);
    t.summary = std::move(summary);
    t.undo = "none: read-only (no checkpoint, nothing to undo)";
    t.outputs = std::move(outputs);
    t.params_schema = schema;
    t.kind = Kind::check;
    t.remote = remote;
    t.resume = Resume::yes;
    t.make = make;
    return t;
  };
  return {
      check("check.file", "Check that a path exists (or not) and optionally contains some text",
            "none", kFileSchema, true, make_check_file),
      check("check.disk", "Check that a filesystem has at least min_free bytes available",
            "free_bytes: bytes available to unprivileged users", kDiskSchema, true,
            make_check_disk),
      check("check.command", "Check that a program is installed, optionally at a minimum version",
            "version: the first x.y[.z] in the program's version output", kCommandSchema, true,
            make_check_command),
      check("check.tcp", "Check that a TCP port is open (accepts connections) or closed", "none",
            tcp_schema(), false, make_check_tcp),
      check("wait", "Pause for a duration (interruptible)", "none", wait_schema(), false,
            make_wait),
      check("confirm", "Ask the operator to confirm before going on (or --auto-approve)", "none",
            confirm_schema(), false, make_confirm),
  };
}

}  // namespace cutover::steps
