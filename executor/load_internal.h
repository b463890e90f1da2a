// Internals shared by the loader's translation units (yaml_reader.cpp, validate.cpp,
// checks.cpp, loader.cpp). Not part of the executor's interface: use executor/loader.h.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "executor/plan.h"

namespace cutover::executor::detail {

/// Where a node came from: a file of its SourceMap (plan, vars file, "--var") and the
/// 1-based position.
struct Origin {
  int file = 0;  // index into SourceMap::files
  SourceLoc loc;
};

/// JSON pointer -> origin of every value and of every object key of a document.
struct SourceMap {
  std::vector<std::string> files;
  std::map<std::string, Origin> values;
  std::map<std::string, Origin> keys;

  /// The index of `file` in `files`, added if new.
  int file_index(const std::string& file);

  /// Copies the entries at and under `from` in `other` to the same places under `to`.
  void graft(const SourceMap& other, const std::string& from, const std::string& to);
  /// Drops the entries at and under `pointer`.
  void erase(const std::string& pointer);
};

/// A parsed YAML document: JSON typed by YAML 1.2 core rules, and where each node is.
struct YamlDoc {
  json value;
  SourceMap map;
  bool ok = false;  // false when the text could not be read as a document at all
};

/// Hard limits of the plan format (SPEC §3).
constexpr size_t kMaxPlanBytes = 4u << 20;
constexpr int kMaxDepth = 64;

/// Parses `text` as one YAML document. Syntax errors, duplicate keys, anchors and aliases,
/// unsupported tags and nesting deeper than kMaxDepth are appended to `diags` (the caller
/// checks the size limit). The only translation unit that includes yaml-cpp.
YamlDoc parse_yaml(const std::string& file, const std::string& text,
                   std::vector<Diagnostic>& diags);

/// "/steps/3/with/a~1b" -> "steps[3].with[\"a/b\"]": array indexes in brackets, plain keys
/// dotted, other keys quoted. `doc` tells arrays from objects with numeric keys.
std::string pointer_to_path(const json& doc, const std::string& pointer);

/// One token of a JSON pointer, escaped (~0, ~1).
std::string pointer_token(const std::string& key);

/// Collects diagnostics, locating each by its JSON pointer in one place (STYLE 8): the
/// nearest located node at or above the pointer gives file, line and column.
class DiagSink {
 public:
  DiagSink(const json& doc, const SourceMap& map, std::string file, std::vector<Diagnostic>& out)
      : doc_(doc), map_(map), file_(std::move(file)), out_(out) {}

  /// A problem with the value at `pointer`.
  void at(const std::string& pointer, const std::string& message);
  /// A problem with the key that names `pointer` (an unknown or duplicate field).
  void at_key(const std::string& pointer, const std::string& message);
  /// A problem of the whole file, without a position.
  void file_level(const std::string& message);
  /// A position "line L" of a pointer, for messages that point elsewhere ("first at line 4").
  SourceLoc loc_of(const std::string& pointer) const;
  /// A literal secret at `pointer`: reported like at(), and its place remembered so that no
  /// source excerpt shows it (see secret_spans()).
  void literal_secret(const std::string& pointer, const std::string& message);
  /// Where literal secrets were found (file and position of each value).
  const std::vector<Diagnostic>& secret_spans() const { return secrets_; }

 private:
  void add(const std::string& pointer, const Origin* origin, const std::string& message);
  const json& doc_;
  const SourceMap& map_;
  std::string file_;
  std::vector<Diagnostic>& out_;
  std::vector<Diagnostic> secrets_;
};

/// `line` with the scalar that starts at column `col` (1-based) replaced by as many '*'.
std::string mask_scalar(const std::string& line, int col);

/// One schema violation: where (JSON pointer in the validated document) and what.
struct SchemaError {
  std::string pointer;
  bool at_key = false;  // an unknown field: locate the key, not the value
  std::string message;
};

/// Validates `doc` against the JSON Schema text `schema` (draft 7) with valijson, turning
/// its errors into readable messages. Pointers are prefixed with `base`. Parsed schemas are
/// cached by text. Throws Error if the schema itself is not valid. The only translation unit
/// that includes valijson.
std::vector<SchemaError> validate_schema(const json& doc, const std::string& schema,
                                         const std::string& base = "");

/// Semantic checks of a merged plan document (SPEC §3), reported through `sink`.
/// `plan_dir` is where plugins/ is looked for; `profile` is the applied profile (merged
/// already), the others' vars are checked on their own.
void check_plan(const json& doc, const std::string& plan_dir, const std::string& profile,
                DiagSink& sink);

}  // namespace cutover::executor::detail
