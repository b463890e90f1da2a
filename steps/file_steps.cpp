// file.write and file.replace: whole-file edits through the step's Host, each undone by
// putting back the exact prior bytes and mode (steps/file_state.h).
#include <optional>
#include <regex>
#include <set>

#include "hosts/host.h"
#include "steps/families.h"
#include "steps/file_state.h"
#include "steps/fingerprint.h"
#include "steps/plan_input.h"
#include "util/diff.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/hash.h"

namespace cutover::steps {
namespace {

const char* const kWriteSchema = R"json({
  "type": "object",
  "additionalProperties": false,
  "required": ["path"],
  "properties": {
    "path": {"type": "string", "description": "File to write (absolute; relative paths are resolved against the plan folder on the local host). Its folder must exist. A symlink is followed and its target written."},
    "content": {"type": "string", "description": "The file's new content, as text."},
    "template": {"type": "string", "description": "A local file (relative to the plan folder) whose text, with its ${...} references substituted, becomes the content."},
    "source": {"type": "string", "description": "A local file (relative to the plan folder) copied byte for byte to the target."},
    "mode": {"type": ["string", "integer"], "description": "Permission bits as octal text, e.g. \"0640\". Default: keep the existing file's mode, 0644 for a new file."}
  },
  "oneOf": [
    {"required": ["content"]},
    {"required": ["template"]},
    {"required": ["source"]}
  ]
})json";

const char* const kReplaceSchema = R"json({
  "type": "object",
  "additionalProperties": false,
  "required": ["paths", "find", "replace"],
  "properties": {
    "paths": {"type": ["array", "string"], "items": {"type": "string"}, "description": "Files or shell globs to edit; a path without wildcards must exist."},
    "find": {"type": "string", "minLength": 1, "description": "Text to find (a regular expression, ECMAScript syntax, when regex is true)."},
    "replace": {"type": "string", "description": "Replacement text; with regex, $1, $2 ... insert captured groups and $$ a dollar sign."},
    "regex": {"type": "boolean", "default": false, "description": "Treat find as a regular expression."},
    "expect_min": {"type": "integer", "minimum": 0, "default": 0, "description": "Fail unless at least this many replacements are made across all files."}
  }
})json";

// ---------------------------------------------------------------------------------------
// file.write

class FileWrite final : public Step {
 public:
  explicit FileWrite(const StepConfig& c) : with_(c.params) {
    path_ = string_param(with_, kType, "path", true);
    int sources = 0;
    for (const char* k : {"content", "template", "source"})
      if (with_.contains(k) && !with_[k].is_null()) ++sources;
    if (sources != 1)
      throw Error(std::string(kType) +
                  ": give exactly one of with.content, with.template, with.source");
    if (with_.contains("mode") && !with_["mode"].is_null())
      mode_ = parse_mode(with_["mode"], kType);
  }

  Preview plan(Context& ctx) override {
    hosts::FileInfo info;
    std::string path = resolve(ctx, &info);
    CurrentFile cur = read_current(ctx.host, path, kType, &info);
    std::string want = desired(ctx);
    uint32_t mode = mode_ ? *mode_ : (cur.exists ? cur.mode : 0644);
    Preview p;
    // An earlier step of the plan may create the folder: say so instead of failing the plan.
    std::string note =
        !cur.exists && !parent_dir_exists(ctx.host, path)
            ? "; folder " + util::dirname(path) +
                  " does not exist yet: apply fails unless an earlier step creates it"
            : "";
    util::Diff d =
        util::file_diff(cur.bytes, want, cur.exists ? "a" + path : "/dev/null", "b" + path);
    bool mode_changes = cur.exists && cur.mode != mode;
    p.changes = !cur.exists || d.changed() || mode_changes;
    p.detail = d.text;
    if (!cur.exists) {
      p.summary = "create " + path + " (" + describe_size(want, d) + ", mode " + mode_string(mode) +
                  ")" + note;
    } else if (!p.changes) {
      p.summary = path + " is already up to date";
    } else {
      p.summary = "write " + path;
      if (d.changed()) p.summary += " (" + describe_change(d) + ")";
      if (mode_changes) p.summary += " mode " + mode_string(cur.mode) + " -> " + mode_string(mode);
    }
    p.outputs = {{"sha256", util::sha256_hex(want)}};
    return p;
  }

  json checkpoint(Context& ctx) override {
    std::string path = resolve(ctx);
    return {{"file", capture_file(ctx, ctx.host, path, kType)}};
  }

  json fingerprint(Context& ctx) override { return fingerprint_files(ctx.host, {resolve(ctx)}); }

  json apply(Context& ctx, const json& checkpoint) override {
    // Write where the checkpoint was taken, so that undo restores the same file.
    std::string path = checkpoint.is_object() && checkpoint.contains("file")
                           ? checkpoint["file"].value("path", "")
                           : resolve(ctx);
    if (path.empty()) path = resolve(ctx);
    std::string want = desired(ctx);
    CurrentFile cur = read_current(ctx.host, path, kType);
    require_parent_dir(ctx.host, path, kType);
    uint32_t mode = mode_ ? *mode_ : (cur.exists ? cur.mode : 0644);
    // On resume the file may already hold what we wrote before the crash; then keep the
    // mode we captured (the checkpoint's) as "existing" rather than our own.
    if (!mode_ && checkpoint.contains("file") && checkpoint["file"].value("state", "") == "file")
      mode = parse_mode(checkpoint["file"]["mode"], kType);
    if (cur.exists && cur.bytes == want) {
      if (cur.mode != mode) ctx.host.chmod(path, mode);
    } else {
      if (util::interrupted())
        throw Interrupted(std::string(kType) + ": interrupted before writing " + path);
      ctx.host.write_file(path, want, mode);
    }
    return {{"sha256", util::sha256_hex(want)}};
  }

  void undo(Context& ctx, const json& checkpoint) override {
    if (!checkpoint.is_object() || !checkpoint.contains("file")) return;  // never checkpointed
    restore_file(ctx, ctx.host, checkpoint["file"], kType);
  }

 private:
  static constexpr const char* kType = "file.write";

  // Resolved afresh on every call: an earlier step (git.checkout switching a `current`
  // link) may change where the path leads between plan and apply.
  std::string resolve(Context& ctx, hosts::FileInfo* info = nullptr) {
    return follow_symlinks(ctx.host, target_path(ctx, path_), info);
  }

  std::string desired(Context& ctx) {
    if (with_.contains("content") && !with_["content"].is_null()) {
      if (!with_["content"].is_string())
        throw Error(std::string(kType) + ": with.content must be a string");
      return with_["content"].get<std::string>();
    }
    bool is_template = with_.contains("template") && !with_["template"].is_null();
    std::string rel = string_param(with_, kType, is_template ? "template" : "source", true);
    // Read from this machine's plan folder as frozen when the run started (--rev: the file as
    // it was at that revision), whatever host the step writes to.
    std::string text;
    try {
      text = read_plan_input(ctx, rel);
    } catch (const Error& e) {
      throw Error(std::string(kType) + ": " + (is_template ? "template " : "source ") + e.what(),
                  e.hint());
    }
    if (is_template && ctx.render) text = ctx.render(text);
    return text;
  }

  static std::string describe_change(const util::Diff& d) {
    if (d.binary) return "binary/large content changed";
    return "+" + std::to_string(d.added) + " -" + std::to_string(d.removed) + " lines";
  }
  static std::string describe_size(const std::string& want, const util::Diff& d) {
    if (d.binary) return std::to_string(want.size()) + " bytes";
    return std::to_string(d.added) + (d.added == 1 ? " line" : " lines");
  }

  json with_;
  std::string path_;
  std::optional<uint32_t> mode_;
};

// ---------------------------------------------------------------------------------------
// file.replace

class FileReplace final : public Step {
 public:
  explicit FileReplace(const StepConfig& c) : with_(c.params) {
    patterns_ = string_list_param(with_, kType, "paths");
    if (patterns_.empty()) throw Error(std::string(kType) + ": with.paths is required");
    find_ = string_param(with_, kType, "find", true);
    if (find_.empty()) throw Error(std::string(kType) + ": with.find must not be empty");
    replace_ = string_param(with_, kType, "replace", true);
    regex_ = bool_param(with_, kType, "regex", false);
    if (with_.contains("expect_min") && !with_["expect_min"].is_null()) {
      if (!with_["expect_min"].is_number_integer() || with_["expect_min"].get<long long>() < 0)
        throw Error(std::string(kType) + ": with.expect_min must be a whole number >= 0");
      expect_min_ = with_["expect_min"].get<size_t>();
    }
    if (regex_) {
      try {
        re_ = std::regex(find_, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        throw Error(std::string(kType) +
                    ": with.find is not a valid regular expression: " + e.what());
      }
    }
  }

  Preview plan(Context& ctx) override {
    Preview p;
    size_t total = 0, files = 0;
    std::vector<std::string> paths;
    std::string note;
    try {
      paths = matched(ctx);
    } catch (const Error& e) {
      // A file an earlier step creates is missing in a dry run: report, don't fail the plan.
      note = std::string("; ") + e.what() + ": apply fails unless an earlier step creates it";
      paths = matched(ctx, MissingOk::yes);
    }
    for (const auto& path : paths) {
      CurrentFile cur = read_current(ctx.host, path, kType);
      auto [text, n] = edit(cur.bytes);
      if (n == 0) continue;
      total += n;
      ++files;
      p.detail += util::file_diff(cur.bytes, text, "a" + path, "b" + path).text;
    }
    p.changes = total > 0 || !note.empty();
    p.summary = "replace " + std::to_string(total) + " occurrence" + (total == 1 ? "" : "s") +
                " in " + std::to_string(files) + " file" + (files == 1 ? "" : "s");
    if (total < expect_min_ && note.empty()) {
      p.summary += " (fewer than expect_min " + std::to_string(expect_min_) + ": apply would fail)";
    }
    p.summary += note;
    p.outputs = {{"replacements", total}};
    return p;
  }

  json checkpoint(Context& ctx) override {
    json files = json::array();
    for (const auto& path : matched(ctx)) {
      CurrentFile cur = read_current(ctx.host, path, kType);
      if (edit(cur.bytes).second == 0) continue;
      files.push_back(capture_file(ctx, ctx.host, path, kType));
    }
    return {{"files", files}};
  }

  json fingerprint(Context& ctx) override { return fingerprint_files(ctx.host, matched(ctx)); }

  json apply(Context& ctx, const json& checkpoint) override {
    std::set<std::string> captured;
    if (checkpoint.is_object() && checkpoint.contains("files"))
      for (const auto& f : checkpoint["files"]) captured.insert(f.value("path", ""));
    struct Change {
      std::string path, text;
      uint32_t mode;
    };
    std::vector<Change> changes;
    size_t total = 0;
    for (const auto& path : matched(ctx)) {
      CurrentFile cur = read_current(ctx.host, path, kType);
      auto [text, n] = edit(cur.bytes);
      if (n == 0) continue;
      if (!captured.count(path))
        throw Error(std::string(kType) + ": " + path + " changed since the checkpoint was taken",
                    "nothing was written; run the plan again");
      total += n;
      changes.push_back({path, std::move(text), cur.mode});
    }
    // Count first so that a shortfall fails before any file is touched.
    if (total < expect_min_)
      throw Error(std::string(kType) + ": " + std::to_string(total) + " replacement" +
                      (total == 1 ? "" : "s") + " of '" + find_ + "', expected at least " +
                      std::to_string(expect_min_),
                  "check with.find and with.paths (cutover plan shows the diff)");
    for (const auto& c : changes) {
      if (util::interrupted()) throw Interrupted(std::string(kType) + ": interrupted");
      ctx.host.write_file(c.path, c.text, c.mode);
    }
    return {{"replacements", total}};
  }

  void undo(Context& ctx, const json& checkpoint) override {
    if (!checkpoint.is_object() || !checkpoint.contains("files")) return;
    for (const auto& f : checkpoint["files"]) restore_file(ctx, ctx.host, f, kType);
  }

 private:
  static constexpr const char* kType = "file.replace";

  // Regular files matched by the patterns now, sorted and without duplicates (symlinks
  // followed). Never cached: earlier steps may create or move files between plan and apply.
  enum class MissingOk { no, yes };
  std::vector<std::string> matched(Context& ctx, MissingOk missing_ok = MissingOk::no) {
    std::set<std::string> out;
    for (const auto& pat : patterns_) {
      std::string abs = target_path(ctx, pat);
      bool wildcard = abs.find_first_of("*?[") != std::string::npos;
      std::vector<std::string> hits = ctx.host.glob(abs);
      if (hits.empty() && !wildcard && missing_ok == MissingOk::no)
        throw Error(std::string(kType) + ": " + abs + " does not exist (on " + ctx.host.name() +
                    ")");
      for (const auto& h : hits) {
        std::string real = follow_symlinks(ctx.host, h);
        hosts::FileInfo fi = ctx.host.stat(real);
        if (fi.is_dir && wildcard) continue;  // a glob may match folders: skip them
        if (!fi.is_regular)
          throw Error(std::string(kType) + ": " + h + " is not a regular file (on " +
                      ctx.host.name() + ")");
        out.insert(real);
      }
    }
    return std::vector<std::string>(out.begin(), out.end());
  }

  // The edited text and how many replacements were made.
  std::pair<std::string, size_t> edit(const std::string& text) const {
    size_t n = 0;
    std::string out;
    if (!regex_) {
      size_t pos = 0;
      for (size_t hit; (hit = text.find(find_, pos)) != std::string::npos;
           pos = hit + find_.size()) {
        out.append(text, pos, hit - pos);
        out += replace_;
        ++n;
      }
      out.append(text, pos, std::string::npos);
      return {out, n};
    }
    auto begin = std::sregex_iterator(text.begin(), text.end(), re_);
    size_t last = 0;
    for (auto it = begin; it != std::sregex_iterator(); ++it) {
      const std::smatch& m = *it;
      out.append(text, last, static_cast<size_t>(m.position(0)) - last);
      out += m.format(replace_);
      last = static_cast<size_t>(m.position(0) + m.length(0));
      ++n;
    }
    out.append(text, last, std::string::npos);
    return {out, n};
  }

  json with_;
  std::vector<std::string> patterns_;
  std::string find_, replace_;
  bool regex_ = false;
  size_t expect_min_ = 0;
  std::regex re_;
};

}  // namespace

std::vector<StepType> file_step_types() {
  std::vector<StepType> out;
  StepType w;
  w.name = "file.write";
  w.summary = "Write a file from inline content, a rendered template or a local source file";
  w.undo =
      "captures the prior bytes and mode (or the file's absence); undo restores them exactly or "
      "removes the new file";
  w.outputs = "sha256: sha256 of the content written";
  w.params_schema = kWriteSchema;
  w.remote = true;
  w.resume = Resume::yes;
  w.make = [](const StepConfig& c) -> std::unique_ptr<Step> {
    return std::make_unique<FileWrite>(c);
  };
  out.push_back(std::move(w));

  StepType r;
  r.name = "file.replace";
  r.summary = "Replace text (or a regular expression) in files matched by paths or globs";
  r.undo =
      "captures the prior bytes and mode of each file that would change; undo restores them "
      "exactly";
  r.outputs = "replacements: total number of replacements made";
  r.params_schema = kReplaceSchema;
  r.remote = true;
  r.resume = Resume::yes;
  r.make = [](const StepConfig& c) -> std::unique_ptr<Step> {
    return std::make_unique<FileReplace>(c);
  };
  out.push_back(std::move(r));
  return out;
}

}  // namespace cutover::steps
