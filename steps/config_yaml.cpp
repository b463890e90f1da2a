// The YAML editor of config.set. It edits lines, not a parsed tree, so that comments, blank
// lines, key order, quoting and anchors of everything it does not touch stay byte for byte
// (a parse + re-emit through yaml-cpp would drop comments, and STYLE 9 keeps yaml-cpp inside
// the plan loader). It understands block mappings — the shape of nearly every config file:
//   key: scalar  # comment        nested:            list:
//                                   child: 1         - a
// Setting a key replaces its value (scalar, nested block or list) and keeps a trailing
// comment; a missing key is appended at the end of its parent mapping, creating parents.
// It refuses, with an Error, to walk into lists, flow collections ({...}) or past a scalar.
#include <regex>

#include "steps/config_formats.h"
#include "util/error.h"
#include "util/strings.h"

namespace cutover::steps {
namespace {

using nlohmann::json;

struct Doc {
  std::vector<std::string> lines;
  std::string label;
  size_t begin = 0, end = 0;  // the first document's lines
  int unit = 2;               // indentation step for new nested keys
};

bool is_content(const std::string& line) {
  size_t i = line.find_first_not_of(" \t");
  return i != std::string::npos && line[i] != '#';
}

int indent_of(const std::string& line) {
  size_t i = line.find_first_not_of(' ');
  return i == std::string::npos ? static_cast<int>(line.size()) : static_cast<int>(i);
}

bool is_seq_item(const std::string& line) {
  size_t i = line.find_first_not_of(' ');
  return i != std::string::npos && line[i] == '-' && (i + 1 == line.size() || line[i + 1] == ' ');
}

// The end of a quoted scalar starting at `i` (one past the closing quote), or npos.
size_t quoted_end(const std::string& s, size_t i) {
  char q = s[i];
  for (size_t j = i + 1; j < s.size(); ++j) {
    if (q == '"' && s[j] == '\\')
      ++j;
    else if (s[j] == q) {
      if (q == '\'' && j + 1 < s.size() && s[j + 1] == '\'')
        ++j;  // '' escapes a quote
      else
        return j + 1;
    }
  }
  return std::string::npos;
}

struct KeyLine {
  bool ok = false;
  std::string key;   // unquoted
  size_t colon = 0;  // where the ':' after the key is
  size_t value = 0;  // where the value text starts (after ": ")
};

// Parses "key: value" at the line's indentation.
KeyLine parse_key(const std::string& line) {
  KeyLine k;
  size_t i = line.find_first_not_of(' ');
  if (i == std::string::npos || line[i] == '#' || is_seq_item(line)) return k;
  size_t colon;
  if (line[i] == '"' || line[i] == '\'') {
    size_t e = quoted_end(line, i);
    if (e == std::string::npos) return k;
    std::string raw = line.substr(i, e - i);
    k.key = raw[0] == '"' ? json::parse(raw).get<std::string>()
                          : util::replace_all(raw.substr(1, raw.size() - 2), "''", "'");
    colon = line.find_first_not_of(' ', e);
    if (colon == std::string::npos || line[colon] != ':') return k;
  } else {
    colon = i;
    for (;; ++colon) {
      colon = line.find(':', colon);
      if (colon == std::string::npos) return k;
      if (colon + 1 == line.size() || line[colon + 1] == ' ' || line[colon + 1] == '\t') break;
    }
    k.key = util::trim(line.substr(i, colon - i));
  }
  if (colon + 1 < line.size() && line[colon + 1] != ' ' && line[colon + 1] != '\t') return k;
  k.colon = colon;
  k.value = line.find_first_not_of(" \t", colon + 1);
  if (k.value == std::string::npos) k.value = line.size();
  k.ok = true;
  return k;
}

// Inline value text of a key line without its trailing comment ("" when none).
std::string inline_value(const std::string& line, size_t start, size_t* end_out = nullptr) {
  size_t end = line.size();
  if (start < line.size() && (line[start] == '"' || line[start] == '\'')) {
    size_t e = quoted_end(line, start);
    end = e == std::string::npos ? line.size() : e;
  } else if (start < line.size() && line[start] == '#') {
    end = start;
  } else {
    size_t hash = line.find(" #", start);
    if (hash != std::string::npos) end = hash;
    while (end > start && (line[end - 1] == ' ' || line[end - 1] == '\t')) --end;
  }
  if (end_out) *end_out = end;
  return line.substr(start, end - start);
}

// Whether an inline value leaves the key's content to the following lines (a nested mapping
// or list): nothing, or only an anchor / tag.
bool opens_block(const std::string& value) {
  if (value.empty()) return true;
  std::regex props("^([&!][^ ]*)( +[&!][^ ]*)?$");
  return std::regex_match(value, props);
}

// One past the last content line of the value of the key at line `k` (k+1 when it has none).
size_t block_end(const Doc& d, size_t k) {
  int ind = indent_of(d.lines[k]);
  size_t last = k + 1;
  for (size_t j = k + 1; j < d.end; ++j) {
    if (!is_content(d.lines[j])) continue;
    int i = indent_of(d.lines[j]);
    if (i < ind || (i == ind && !is_seq_item(d.lines[j]))) break;
    last = j + 1;
  }
  return last;
}

// Line index of `key` among the mapping entries in [begin, end) at indentation `ind`, or npos.
size_t find_key(const Doc& d, size_t begin, size_t end, int ind, const std::string& key,
                const std::string& where) {
  for (size_t j = begin; j < end; ++j) {
    if (!is_content(d.lines[j]) || indent_of(d.lines[j]) != ind) continue;
    if (is_seq_item(d.lines[j]))
      throw Error("config.set: " + d.label + ": " + where +
                      " is a list; config.set edits only mappings in yaml",
                  "use a file.replace or shell step for lists");
    KeyLine k = parse_key(d.lines[j]);
    if (!k.ok)
      throw Error("config.set: " + d.label + ": " + where + " holds a value (" +
                  util::trim(d.lines[j]) + "), not a mapping");
    if (k.key == key) return j;
  }
  return std::string::npos;
}

bool plain_safe(const std::string& s) {
  if (s.empty() || s.front() == ' ' || s.back() == ' ' || s.back() == ':') return false;
  if (std::string("-?:,[]{}#&*!|>'\"%@`0123456789+.~").find(s.front()) != std::string::npos)
    return false;
  if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos ||
      s.find_first_of("\n\t\r") != std::string::npos)
    return false;
  std::string low = s;
  for (auto& c : low) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* w : {"true", "false", "yes", "no", "on", "off", "y", "n", "null"})
    if (low == w) return false;
  return true;
}

std::string scalar_text(const json& v) {
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    return plain_safe(s) ? s : v.dump(-1, ' ', false);
  }
  if (v.is_null()) return "null";
  return v.dump(-1, ' ', false);  // numbers, bools; lists and maps in flow (JSON) form
}

std::string key_text(const std::string& key) { return plain_safe(key) ? key : json(key).dump(); }

// Does the written scalar `raw` already mean `v`? (Avoids rewriting equal values.)
bool scalar_equals(const std::string& raw, const json& v) {
  if (raw.empty()) return v.is_null();
  if (v.is_string()) {
    if (raw[0] == '"') {
      try {
        return json::parse(raw) == v;
      } catch (...) {
        return false;
      }
    }
    if (raw[0] == '\'')
      return util::replace_all(raw.substr(1, raw.size() - 2), "''", "'") == v.get<std::string>();
    return plain_safe(v.get<std::string>()) && raw == v.get<std::string>();
  }
  if (v.is_null()) return raw == "null" || raw == "~" || raw == "Null" || raw == "NULL";
  return raw == v.dump();
}

// Lines for `key: value` at indentation `ind`.
void emit(std::vector<std::string>& out, int ind, const std::string& key, const json& v, int unit) {
  std::string pad(static_cast<size_t>(ind), ' ');
  if (v.is_object() && !v.empty()) {
    out.push_back(pad + key + ":");
    for (const auto& [k, child] : v.items()) emit(out, ind + unit, key_text(k), child, unit);
    return;
  }
  out.push_back(pad + key + ": " + scalar_text(v));
}

void set_key(Doc& d, const std::vector<std::string>& path, const json& value,
             const std::string& key) {
  size_t begin = d.begin, end = d.end;
  int parent_ind = -1;
  size_t parent_line = std::string::npos;
  for (size_t i = 0; i < path.size(); ++i) {
    // The indentation of this mapping's entries: its first content line, or a new level.
    int ind = -1;
    for (size_t j = begin; j < end; ++j)
      if (is_content(d.lines[j])) {
        ind = indent_of(d.lines[j]);
        break;
      }
    std::string where = util::join(
        std::vector<std::string>(path.begin(), path.begin() + static_cast<long>(i)), ".");
    if (ind < 0) ind = parent_ind < 0 ? 0 : parent_ind + d.unit;
    size_t at =
        find_key(d, begin, end, ind, path[i], where.empty() ? "the document" : "'" + where + "'");
    if (at == std::string::npos) {
      // Append the missing keys at the end of this mapping.
      std::vector<std::string> add;
      json v = value;
      for (size_t j = path.size(); j-- > i + 1;) v = json{{path[j], v}};
      emit(add, ind, key_text(path[i]), v, d.unit);
      size_t pos = parent_line == std::string::npos ? d.end : parent_line + 1;
      for (size_t j = begin; j < end; ++j)
        if (is_content(d.lines[j])) pos = j + 1;
      d.lines.insert(d.lines.begin() + static_cast<long>(pos), add.begin(), add.end());
      d.end += add.size();
      return;
    }
    KeyLine k = parse_key(d.lines[at]);
    std::string inline_v = inline_value(d.lines[at], k.value);
    size_t bend = block_end(d, at);
    if (i + 1 == path.size()) {
      if (!value.is_object() && bend == at + 1 && !opens_block(inline_v)) {
        if (scalar_equals(inline_v, value)) return;
        size_t vend = 0;
        inline_value(d.lines[at], k.value, &vend);
        d.lines[at] =
            d.lines[at].substr(0, k.value) + scalar_text(value) + d.lines[at].substr(vend);
        return;
      }
      std::vector<std::string> add;
      size_t key_start = static_cast<size_t>(indent_of(d.lines[at]));
      std::string written_key = util::trim(d.lines[at].substr(key_start, k.colon - key_start));
      emit(add, indent_of(d.lines[at]), written_key, value, d.unit);
      d.lines.erase(d.lines.begin() + static_cast<long>(at),
                    d.lines.begin() + static_cast<long>(bend));
      d.lines.insert(d.lines.begin() + static_cast<long>(at), add.begin(), add.end());
      d.end = d.end - (bend - at) + add.size();
      return;
    }
    std::string here = util::join(
        std::vector<std::string>(path.begin(), path.begin() + static_cast<long>(i) + 1), ".");
    if (!opens_block(inline_v))
      throw Error("config.set: " + d.label + ": cannot set '" + key + "': '" + here + "' holds " +
                  (inline_v[0] == '{' || inline_v[0] == '[' ? "a flow collection (" + inline_v + ")"
                                                            : "a value (" + inline_v + ")") +
                  ", not a nested mapping");
    begin = at + 1;
    end = bend;
    parent_ind = indent_of(d.lines[at]);
    parent_line = at;
  }
}

void unset_key(Doc& d, const std::vector<std::string>& path) {
  size_t begin = d.begin, end = d.end;
  for (size_t i = 0; i < path.size(); ++i) {
    int ind = -1;
    for (size_t j = begin; j < end; ++j)
      if (is_content(d.lines[j])) {
        ind = indent_of(d.lines[j]);
        break;
      }
    if (ind < 0) return;
    size_t at;
    try {
      at = find_key(d, begin, end, ind, path[i], "'" + path[i] + "'");
    } catch (const Error&) {
      return;  // under a list or a scalar the key cannot exist: nothing to remove
    }
    if (at == std::string::npos) return;
    size_t bend = block_end(d, at);
    if (i + 1 == path.size()) {
      d.lines.erase(d.lines.begin() + static_cast<long>(at),
                    d.lines.begin() + static_cast<long>(bend));
      d.end -= bend - at;
      return;
    }
    KeyLine k = parse_key(d.lines[at]);
    if (!opens_block(inline_value(d.lines[at], k.value))) return;
    begin = at + 1;
    end = bend;
  }
}

}  // namespace

std::string edit_yaml(const std::string& text, const ConfigEdit& edit, const std::string& label) {
  Doc d;
  d.label = label;
  d.lines = util::split(text, '\n');
  bool final_newline = text.empty() || text.back() == '\n';
  if (!d.lines.empty() && d.lines.back().empty() && !text.empty()) d.lines.pop_back();
  for (const auto& l : d.lines)
    if (is_content(l) && l[l.find_first_not_of(' ')] == '\t')
      throw Error("config.set: " + label + ": tab indentation is not valid YAML");
  // The first document: after directives and a leading "---", up to the next marker.
  size_t i = 0;
  while (i < d.lines.size() && (!is_content(d.lines[i]) || d.lines[i][0] == '%')) ++i;
  if (i < d.lines.size() && util::starts_with(d.lines[i], "---")) {
    if (util::trim(d.lines[i]) != "---")
      throw Error("config.set: " + label + ": content on the '---' line is not supported");
    d.begin = i + 1;
  }
  d.end = d.lines.size();
  for (size_t j = d.begin; j < d.lines.size(); ++j)
    if (util::starts_with(d.lines[j], "---") || util::starts_with(d.lines[j], "...")) {
      d.end = j;
      break;
    }
  for (size_t j = d.begin; j < d.end; ++j) {
    if (!is_content(d.lines[j])) continue;
    if (indent_of(d.lines[j]) > 0) {
      d.unit = indent_of(d.lines[j]);
      break;
    }
  }
  for (size_t j = d.begin; j < d.end; ++j) {
    if (!is_content(d.lines[j])) continue;
    if (!parse_key(d.lines[j]).ok)
      throw Error("config.set: " + label + ": the document is not a block mapping (line " +
                  std::to_string(j + 1) + ": " + util::trim(d.lines[j]) + ")");
    break;
  }
  for (const auto& [key, value] : edit.set) set_key(d, config_key_path(key), value, key);
  for (const auto& key : edit.unset) unset_key(d, config_key_path(key));
  std::string out = util::join(d.lines, "\n");
  if (final_newline && !d.lines.empty()) out += "\n";
  return out == text ? text : out;
}

}  // namespace cutover::steps
