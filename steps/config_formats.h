// In-place editors for config.set: json, yaml, env and ini files. Each takes the file's text
// and returns the edited text, touching only the keys named: everything else (other keys,
// their order, and for yaml/env/ini comments and blank lines) stays byte for byte.
//
// Keys: json and yaml take dotted paths (`a.b.c`, intermediate maps created as needed) or
// JSON pointers (`/a/b~1c`); env takes variable names; ini takes `section.key` (a key with no
// dot lives before the first section).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cutover::steps {

enum class ConfigFormat { json, yaml, env, ini };

/// What config.set should do to a file: keys to set (in order) and keys to remove.
struct ConfigEdit {
  std::vector<std::pair<std::string, nlohmann::json>> set;
  std::vector<std::string> unset;
};

/// "json" → ConfigFormat::json ...; throws Error for an unknown name.
ConfigFormat parse_config_format(const std::string& name);

/// The format a file name implies (.json, .yaml/.yml, .env, .ini/.conf/.cfg), or nullopt.
std::optional<ConfigFormat> config_format_for(const std::string& path);

/// "json", "yaml", "env", "ini".
const char* config_format_name(ConfigFormat f);

/// Applies `edit` to `text` (a file's content; "" for a new file). Returns `text` itself,
/// unchanged, when the edit changes nothing. Throws Error naming `label` (the file) when the
/// text does not parse or a key cannot be set (e.g. it runs through a string).
std::string edit_config(ConfigFormat f, const std::string& text, const ConfigEdit& edit,
                        const std::string& label);

/// A json/yaml key as path segments: a JSON pointer when it starts with '/', else split on
/// dots. Throws Error for an empty segment.
std::vector<std::string> config_key_path(const std::string& key);

/// The line-level YAML editor (steps/config_yaml.cpp), used by edit_config.
std::string edit_yaml(const std::string& text, const ConfigEdit& edit, const std::string& label);

}  // namespace cutover::steps
