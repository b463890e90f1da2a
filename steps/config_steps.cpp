// config.set: sets and removes keys in a json, yaml, env or ini file in place
// (steps/config_formats.h), undone by putting back the prior bytes and mode.
#include "hosts/host.h"
#include "steps/config_formats.h"
#include "steps/families.h"
#include "steps/file_state.h"
#include "steps/fingerprint.h"
#include "util/diff.h"
#include "util/error.h"
#include "util/fs.h"

namespace cutover::steps {
namespace {

const char* const kSchema = R"json({
  "type": "object",
  "additionalProperties": false,
  "required": ["path"],
  "anyOf": [{"required": ["set"]}, {"required": ["unset"]}],
  "properties": {
    "path": {"type": "string", "description": "The config file (absolute; relative paths are resolved against the plan folder on the local host). A symlink is followed."},
    "format": {"type": "string", "enum": ["json", "yaml", "env", "ini"], "description": "File format. Default from the extension: .json, .yaml/.yml, .env, .ini/.conf/.cfg."},
    "set": {"type": "object", "description": "Keys to set, KEY: value. json/yaml: dotted paths (a.b.c, created as needed) or JSON pointers (/a/b~1c), values keep their type; env: variable names; ini: section.key (values written as text)."},
    "unset": {"type": "array", "items": {"type": "string"}, "description": "Keys to remove (absent keys are fine), in the same forms as set."},
    "create": {"type": "boolean", "default": false, "description": "Create the file (mode 0644) when it does not exist; otherwise a missing file is an error."}
  }
})json";

constexpr const char* kType = "config.set";

class ConfigSet final : public Step {
 public:
  explicit ConfigSet(const StepConfig& c) {
    const json& with = c.params;
    path_ = string_param(with, kType, "path", true);
    std::string fmt = string_param(with, kType, "format", false);
    if (!fmt.empty()) {
      format_ = parse_config_format(fmt);
    } else if (auto f = config_format_for(path_)) {
      format_ = *f;
    } else {
      throw Error(std::string(kType) + ": cannot tell the format of " + path_ + " from its name",
                  "add with.format: json, yaml, env or ini");
    }
    if (with.contains("set") && !with["set"].is_null()) {
      if (!with["set"].is_object())
        throw Error(std::string(kType) + ": with.set must be a map of KEY: value");
      for (const auto& [k, v] : with["set"].items()) edit_.set.emplace_back(k, v);
    }
    edit_.unset = string_list_param(with, kType, "unset");
    if (edit_.set.empty() && edit_.unset.empty())
      throw Error(std::string(kType) + ": give with.set or with.unset");
    for (const auto& [k, v] : edit_.set) check_key(k);
    for (const auto& k : edit_.unset) check_key(k);
    create_ = bool_param(with, kType, "create", false);
  }

  Preview plan(Context& ctx) override {
    std::string path = resolve(ctx);
    Preview p;
    if (!create_ && !ctx.host.stat(path).exists) {
      // An earlier step of the plan may create it: say so instead of failing the plan.
      p.changes = true;
      p.summary =
          "edit " + path + ": it does not exist yet, apply fails unless an earlier step creates it";
      p.outputs = {{"changed", true}};
      return p;
    }
    if (create_ && !ctx.host.stat(path).exists && !parent_dir_exists(ctx.host, path)) {
      p.changes = true;
      p.summary = "create " + path + ": folder " + util::dirname(path) +
                  " does not exist yet, apply fails unless an earlier step creates it";
      p.outputs = {{"changed", true}};
      return p;
    }
    auto [cur, want] = compute(ctx, path);
    util::Diff d =
        util::unified_diff(cur.bytes, want, cur.exists ? "a" + path : "/dev/null", "b" + path);
    p.changes = !cur.exists || want != cur.bytes;
    p.detail = d.text;
    if (!cur.exists)
      p.summary = "create " + path + " (" + config_format_name(format_) + ")";
    else if (!p.changes)
      p.summary = path + ": already set";
    else
      p.summary = "edit " + path + " (+" + std::to_string(d.added) + " -" +
                  std::to_string(d.removed) + " lines)";
    p.outputs = {{"changed", p.changes}};
    return p;
  }

  json checkpoint(Context& ctx) override {
    return {{"file", capture_file(ctx, ctx.host, resolve(ctx), kType)}};
  }

  json fingerprint(Context& ctx) override { return fingerprint_files(ctx.host, {resolve(ctx)}); }

  json apply(Context& ctx, const json& checkpoint) override {
    // Edit the file the checkpoint captured, so that undo restores the same file.
    std::string path = checkpoint.is_object() && checkpoint.contains("file")
                           ? checkpoint["file"].value("path", "")
                           : "";
    if (path.empty()) path = resolve(ctx);
    auto [cur, want] = compute(ctx, path);
    if (cur.exists && want == cur.bytes) return {{"changed", false}};  // left untouched
    if (util::interrupted())
      throw Interrupted(std::string(kType) + ": interrupted before writing " + path);
    ctx.host.write_file(path, want, cur.exists ? cur.mode : 0644);
    return {{"changed", true}};
  }

  void undo(Context& ctx, const json& checkpoint) override {
    if (!checkpoint.is_object() || !checkpoint.contains("file")) return;
    restore_file(ctx, ctx.host, checkpoint["file"], kType);
  }

 private:
  void check_key(const std::string& key) const {
    if (format_ == ConfigFormat::json || format_ == ConfigFormat::yaml)
      config_key_path(key);
    else if (key.empty())
      throw Error(std::string(kType) + ": empty key");
  }

  // Resolved afresh on every call: an earlier step may switch a link between plan and apply.
  std::string resolve(Context& ctx) { return follow_symlinks(ctx.host, target_path(ctx, path_)); }

  // The file as it is and as it should be.
  std::pair<CurrentFile, std::string> compute(Context& ctx, const std::string& path) {
    CurrentFile cur = read_current(ctx.host, path, kType);
    if (!cur.exists) {
      if (!create_)
        throw Error(
            std::string(kType) + ": " + path + " does not exist (on " + ctx.host.name() + ")",
            "set with.create: true to create it");
      require_parent_dir(ctx.host, path, kType);
    }
    std::string label = path + (ctx.host.is_local() ? "" : " on " + ctx.host.name());
    return {cur, edit_config(format_, cur.bytes, edit_, label)};
  }

  std::string path_;
  ConfigFormat format_ = ConfigFormat::json;
  ConfigEdit edit_;
  bool create_ = false;
};

}  // namespace

std::vector<StepType> config_step_types() {
  StepType t;
  t.name = "config.set";
  t.summary =
      "Set or remove keys in a json, yaml, env or ini file, keeping everything else as it was";
  t.undo =
      "captures the prior bytes and mode (or the file's absence with create); undo restores them "
      "exactly";
  t.outputs =
      "changed: whether the file was rewritten (false when every key already had its value)";
  t.params_schema = kSchema;
  t.remote = true;
  t.resume = Resume::yes;
  t.make = [](const StepConfig& c) -> std::unique_ptr<Step> {
    return std::make_unique<ConfigSet>(c);
  };
  return {t};
}

}  // namespace cutover::steps
