#include "steps/config_formats.h"

#include <algorithm>
#include <cctype>

#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace cutover::steps {
namespace {

using ordered = nlohmann::ordered_json;

// Text form of a value in env and ini files, which have no types.
std::string value_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

// ----------------------------------------------------------------------------------- json

// The file's indentation: the first indented line's leading whitespace; -1 for a file kept
// on one line; 2 when nothing says otherwise.
std::pair<int, char> json_indent(const std::string& text) {
  std::string body = util::trim(text);
  if (!body.empty() && body.find('\n') == std::string::npos) return {-1, ' '};
  size_t pos = 0;
  while ((pos = text.find('\n', pos)) != std::string::npos) {
    ++pos;
    size_t end = pos;
    while (end < text.size() && (text[end] == ' ' || text[end] == '\t')) ++end;
    if (end > pos && end < text.size() && text[end] != '\n' && text[end] != '\r')
      return {text[pos] == '\t' ? 1 : static_cast<int>(end - pos), text[pos]};
  }
  return {2, ' '};
}

[[noreturn]] void json_key_error(const std::string& label, const std::string& key,
                                 const std::string& why) {
  throw Error("config.set: " + label + ": cannot set '" + key + "': " + why);
}

// The node `key` names, created on the way when `create`; nullptr when absent (and not created).
// `last` receives the final segment; the returned node is its parent.
ordered* json_parent(ordered& doc, const std::string& key, bool create, std::string& last,
                     const std::string& label) {
  std::vector<std::string> segs = config_key_path(key);
  bool dotted = key[0] != '/';
  ordered* node = &doc;
  for (size_t i = 0; i + 1 < segs.size(); ++i) {
    // A dotted key that exists literally ("a.b" as one key) wins over the nested reading.
    if (dotted && node->is_object()) {
      std::vector<std::string> rest(segs.begin() + static_cast<long>(i), segs.end());
      std::string joined = util::join(rest, ".");
      if (node->contains(joined)) {
        last = joined;
        return node;
      }
    }
    const std::string& s = segs[i];
    if (node->is_null()) {
      if (!create) return nullptr;
      *node = ordered::object();
    }
    if (node->is_object()) {
      if (!node->contains(s) && !create) return nullptr;
      node = &(*node)[s];
    } else if (node->is_array()) {
      if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
        json_key_error(label, key, "'" + s + "' is not an index into a list");
      size_t idx = std::stoul(s);
      if (idx >= node->size()) {
        if (!create) return nullptr;
        json_key_error(label, key, "index " + s + " is past the end of the list");
      }
      node = &(*node)[idx];
    } else {
      json_key_error(label, key,
                     "'" + s + "' holds a " + std::string(node->type_name()) + ", not an object");
    }
  }
  last = segs.back();
  if (!node->is_null() && !node->is_object() && !node->is_array()) {
    if (!create) return nullptr;
    json_key_error(
        label, key,
        (segs.size() < 2 ? std::string("the document") : "'" + segs[segs.size() - 2] + "'") +
            " holds a " + node->type_name() + ", not an object");
  }
  return node;
}

std::string edit_json(const std::string& text, const ConfigEdit& edit, const std::string& label) {
  ordered doc = ordered::object();
  if (!util::trim(text).empty()) {
    try {
      doc = ordered::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      throw Error("config.set: " + label + " is not valid JSON: " + e.what());
    }
  }
  const ordered before = doc;
  for (const auto& [key, value] : edit.set) {
    std::string last;
    ordered* parent = json_parent(doc, key, true, last, label);
    ordered v = ordered::parse(value.dump());
    if (parent->is_null()) *parent = ordered::object();
    if (parent->is_object()) {
      (*parent)[last] = std::move(v);
    } else if (parent->is_array()) {
      if (last == "-")
        parent->push_back(std::move(v));
      else if (!last.empty() && last.find_first_not_of("0123456789") == std::string::npos &&
               std::stoul(last) < parent->size())
        (*parent)[std::stoul(last)] = std::move(v);
      else
        json_key_error(label, key, "'" + last + "' is not an index into the list");
    } else {
      json_key_error(label, key, "its parent holds a " + std::string(parent->type_name()));
    }
  }
  for (const auto& key : edit.unset) {
    std::string last;
    ordered* parent = json_parent(doc, key, false, last, label);
    if (!parent) continue;
    if (parent->is_object())
      parent->erase(last);
    else if (parent->is_array() && !last.empty() &&
             last.find_first_not_of("0123456789") == std::string::npos &&
             std::stoul(last) < parent->size())
      parent->erase(std::stoul(last));
  }
  if (doc == before && !util::trim(text).empty()) return text;
  auto [indent, ch] = json_indent(text);
  std::string out = doc.dump(indent, ch, false, nlohmann::json::error_handler_t::strict);
  bool newline = text.empty() || text.back() == '\n';
  return newline ? out + "\n" : out;
}

// ------------------------------------------------------------------------------------ env

std::vector<std::string> split_keep(const std::string& text) {
  std::vector<std::string> lines = util::split(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();  // text ended with '\n'
  return lines;
}

std::string join_lines(const std::vector<std::string>& lines, bool final_newline) {
  std::string out = util::join(lines, "\n");
  if (final_newline && !lines.empty()) out += "\n";
  return out;
}

// Quotes an env value when a shell or dotenv reader would otherwise misread it.
std::string env_quote(const std::string& v) {
  bool plain = std::all_of(v.begin(), v.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string("-_./:,@%+=~^").find(c) != std::string::npos ||
           static_cast<unsigned char>(c) >= 0x80;
  });
  if (plain && !v.empty()) return v;
  if (v.find('\'') == std::string::npos && v.find('\n') == std::string::npos) return "'" + v + "'";
  std::string out = "\"";
  for (char c : v) {
    if (c == '\\' || c == '"' || c == '$' || c == '`')
      out += '\\', out += c;
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out + "\"";
}

// Where NAME=value's value ends in a line (a trailing " # comment" is kept).
size_t env_value_end(const std::string& line, size_t start) {
  if (start < line.size() && (line[start] == '"' || line[start] == '\'')) {
    char q = line[start];
    for (size_t i = start + 1; i < line.size(); ++i) {
      if (q == '"' && line[i] == '\\')
        ++i;
      else if (line[i] == q)
        return i + 1;
    }
    return line.size();
  }
  size_t hash = line.find(" #", start);
  if (hash == std::string::npos) hash = line.find("\t#", start);
  if (hash == std::string::npos) return line.size();
  while (hash > start && (line[hash - 1] == ' ' || line[hash - 1] == '\t')) --hash;
  return hash;
}

// The variable a line assigns, and where its value starts; "" for other lines.
std::string env_name(const std::string& line, size_t& value_start) {
  size_t i = 0;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  if (line.compare(i, 7, "export ") == 0) i += 7;
  while (i < line.size() && line[i] == ' ') ++i;
  size_t name_start = i;
  while (i < line.size() && (std::isalnum(static_cast<unsigned char>(line[i])) || line[i] == '_' ||
                             line[i] == '.' || line[i] == '-'))
    ++i;
  if (i == name_start || i >= line.size() || line[i] != '=') return "";
  value_start = i + 1;
  return line.substr(name_start, i - name_start);
}

std::string edit_env(const std::string& text, const ConfigEdit& edit, const std::string& label) {
  std::vector<std::string> lines = split_keep(text);
  bool final_newline = text.empty() || text.back() == '\n';
  for (const auto& [key, value] : edit.set) {
    if (key.empty() || std::isdigit(static_cast<unsigned char>(key[0])) ||
        key.find_first_not_of(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") !=
            std::string::npos)
      throw Error("config.set: " + label + ": '" + key + "' is not a valid variable name");
    std::string quoted = env_quote(value_text(value));
    bool found = false;
    for (auto& line : lines) {
      size_t vs = 0;
      if (env_name(line, vs) != key) continue;
      found = true;
      size_t ve = env_value_end(line, vs);
      line = line.substr(0, vs) + quoted + line.substr(ve);
    }
    if (!found) lines.push_back(key + "=" + quoted);
  }
  for (const auto& key : edit.unset) {
    lines.erase(std::remove_if(lines.begin(), lines.end(),
                               [&](const std::string& l) {
                                 size_t vs = 0;
                                 return env_name(l, vs) == key;
                               }),
                lines.end());
  }
  return join_lines(lines, final_newline);
}

// ------------------------------------------------------------------------------------ ini

struct IniLine {
  enum Kind { other, section, entry } kind = other;
  std::string name;  // section name or key
  size_t value_start = 0;
};

IniLine classify_ini(const std::string& line) {
  IniLine l;
  std::string t = util::trim(line);
  if (t.empty() || t[0] == ';' || t[0] == '#') return l;
  if (t[0] == '[') {
    size_t close = t.find(']');
    if (close != std::string::npos) {
      l.kind = IniLine::section;
      l.name = util::trim(t.substr(1, close - 1));
    }
    return l;
  }
  size_t sep = line.find_first_of("=:");
  if (sep == std::string::npos) return l;
  l.kind = IniLine::entry;
  l.name = util::trim(line.substr(0, sep));
  l.value_start = sep + 1;
  while (l.value_start < line.size() && (line[l.value_start] == ' ' || line[l.value_start] == '\t'))
    ++l.value_start;
  return l;
}

std::string edit_ini(const std::string& text, const ConfigEdit& edit, const std::string& label) {
  std::vector<std::string> lines = split_keep(text);
  bool final_newline = text.empty() || text.back() == '\n';
  // The separator style of the file's first entry, used for new entries.
  std::string sep = " = ";
  for (const auto& line : lines) {
    IniLine l = classify_ini(line);
    if (l.kind != IniLine::entry) continue;
    size_t key_end = line.find_first_of("=:");
    while (key_end > 0 && (line[key_end - 1] == ' ' || line[key_end - 1] == '\t')) --key_end;
    sep = line.substr(key_end, l.value_start - key_end);
    break;
  }
  auto sections = [&] {
    std::vector<std::string> names;
    for (const auto& line : lines) {
      IniLine l = classify_ini(line);
      if (l.kind == IniLine::section) names.push_back(l.name);
    }
    return names;
  };
  // Splits section.key at the first dot whose left side names an existing section.
  auto split_key = [&](const std::string& key) -> std::pair<std::string, std::string> {
    std::vector<std::string> names = sections();
    for (size_t dot = key.find('.'); dot != std::string::npos; dot = key.find('.', dot + 1))
      if (std::find(names.begin(), names.end(), key.substr(0, dot)) != names.end())
        return {key.substr(0, dot), key.substr(dot + 1)};
    size_t dot = key.find('.');
    if (dot == std::string::npos) return {"", key};
    return {key.substr(0, dot), key.substr(dot + 1)};
  };
  // Lines [begin, end) of a section ("" = before the first header); begin = npos if absent.
  auto section_range = [&](const std::string& name) -> std::pair<size_t, size_t> {
    size_t begin = name.empty() ? 0 : std::string::npos;
    for (size_t i = 0; i < lines.size(); ++i) {
      IniLine l = classify_ini(lines[i]);
      if (l.kind != IniLine::section) continue;
      if (begin != std::string::npos) return {begin, i};
      if (l.name == name) begin = i + 1;
    }
    return {begin, lines.size()};
  };

  for (const auto& [key, value] : edit.set) {
    auto [section, name] = split_key(key);
    if (name.empty()) throw Error("config.set: " + label + ": '" + key + "' has no key name");
    std::string v = value_text(value);
    if (v.find('\n') != std::string::npos)
      throw Error("config.set: " + label + ": the value of '" + key +
                  "' spans lines, which ini cannot hold");
    auto [begin, end] = section_range(section);
    if (begin == std::string::npos) {
      if (!lines.empty() && !util::trim(lines.back()).empty()) lines.push_back("");
      lines.push_back("[" + section + "]");
      lines.push_back(name + sep + v);
      continue;
    }
    bool found = false;
    size_t last_entry = std::string::npos;
    for (size_t i = begin; i < end; ++i) {
      IniLine l = classify_ini(lines[i]);
      if (l.kind != IniLine::entry) continue;
      last_entry = i;
      if (l.name != name) continue;
      found = true;
      lines[i] = lines[i].substr(0, l.value_start) + v;
    }
    if (found) continue;
    // After the section's last entry, or right under its header (before the first header
    // for a global key) when it has none.
    size_t at = last_entry != std::string::npos ? last_entry + 1 : begin;
    if (section.empty() && last_entry == std::string::npos) {
      at = 0;
      while (at < end && classify_ini(lines[at]).kind == IniLine::other &&
             !util::trim(lines[at]).empty())
        ++at;
    }
    lines.insert(lines.begin() + static_cast<long>(at), name + sep + v);
  }
  for (const auto& key : edit.unset) {
    auto [section, name] = split_key(key);
    auto [begin, end] = section_range(section);
    if (begin == std::string::npos) continue;
    for (size_t i = end; i-- > begin;) {
      IniLine l = classify_ini(lines[i]);
      if (l.kind == IniLine::entry && l.name == name)
        lines.erase(lines.begin() + static_cast<long>(i));
    }
  }
  return join_lines(lines, final_newline);
}

}  // namespace

ConfigFormat parse_config_format(const std::string& name) {
  if (name == "json") return ConfigFormat::json;
  if (name == "yaml" || name == "yml") return ConfigFormat::yaml;
  if (name == "env") return ConfigFormat::env;
  if (name == "ini") return ConfigFormat::ini;
  throw Error("config.set: unknown format '" + name + "' (json, yaml, env or ini)");
}

std::optional<ConfigFormat> config_format_for(const std::string& path) {
  std::string base = util::basename(path);
  std::string ext;
  size_t dot = base.rfind('.');
  if (dot != std::string::npos) ext = base.substr(dot);
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == ".json") return ConfigFormat::json;
  if (ext == ".yaml" || ext == ".yml") return ConfigFormat::yaml;
  if (ext == ".env" || base == ".env" || util::starts_with(base, ".env.")) return ConfigFormat::env;
  if (ext == ".ini" || ext == ".conf" || ext == ".cfg") return ConfigFormat::ini;
  return std::nullopt;
}

const char* config_format_name(ConfigFormat f) {
  switch (f) {
    case ConfigFormat::json:
      return "json";
    case ConfigFormat::yaml:
      return "yaml";
    case ConfigFormat::env:
      return "env";
    case ConfigFormat::ini:
      return "ini";
  }
  return "?";
}

std::vector<std::string> config_key_path(const std::string& key) {
  std::vector<std::string> segs;
  if (key.empty()) throw Error("config.set: empty key");
  if (key[0] == '/') {
    for (auto s : util::split(key.substr(1), '/')) {
      s = util::replace_all(util::replace_all(s, "~1", "/"), "~0", "~");
      segs.push_back(s);
    }
  } else {
    segs = util::split(key, '.');
    for (const auto& s : segs)
      if (s.empty()) throw Error("config.set: key '" + key + "' has an empty part");
  }
  if (segs.empty()) throw Error("config.set: key '" + key + "' names the whole document");
  return segs;
}

std::string edit_config(ConfigFormat f, const std::string& text, const ConfigEdit& edit,
                        const std::string& label) {
  if (f == ConfigFormat::json) return edit_json(text, edit, label);
  // The line editors work on "\n"; a CRLF file is edited as LF and written back as CRLF.
  bool crlf = text.find("\r\n") != std::string::npos;
  std::string lf = crlf ? util::replace_all(text, "\r\n", "\n") : text;
  std::string out = f == ConfigFormat::yaml  ? edit_yaml(lf, edit, label)
                    : f == ConfigFormat::env ? edit_env(lf, edit, label)
                                             : edit_ini(lf, edit, label);
  if (out == lf) return text;
  return crlf ? util::replace_all(out, "\n", "\r\n") : out;
}

}  // namespace cutover::steps
