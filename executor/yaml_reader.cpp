// YAML -> JSON for plan and vars files. The one translation unit that includes libyaml.
//
// We read libyaml's event stream instead of building a node tree: events carry each node's
// mark, tag and anchor, so duplicate keys, anchors and aliases, deep nesting and quoting can
// all be judged here, and an alias bomb is refused before anything is expanded. Typing
// follows YAML 1.2's core schema, decided from the scalar's style and tag ("?" plain
// untagged, "!" quoted or block), never from a library's own conversions (YAML 1.1 reads
// `NO` as false). libyaml rather than yaml-cpp: its scanner is about ten times faster, and a
// 1,000-step plan spent 60 % of `cutover plan` in yaml-cpp's (SPEC §9: plan in 100 ms).
#include <yaml.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>

#include "executor/load_internal.h"

namespace cutover::executor::detail {
namespace {

const std::string kCoreTag = "tag:yaml.org,2002:";

struct Abort {};

// Where an event starts, 0-based as libyaml counts.
struct Mark {
  size_t line = 0;
  size_t column = 0;
};

SourceLoc to_loc(const Mark& m) {
  return {static_cast<int>(m.line) + 1, static_cast<int>(m.column) + 1};
}

bool is_null_text(const std::string& v) {
  return v.empty() || v == "~" || v == "null" || v == "Null" || v == "NULL";
}

// Parses an integer in `digits` (no sign) of `base`; falls back to a double when it does
// not fit 64 bits, as a JSON reader would.
json parse_integer(bool negative, const std::string& digits, int base) {
  errno = 0;
  unsigned long long u = std::strtoull(digits.c_str(), nullptr, base);
  if (errno == ERANGE) {
    double d = std::strtod(digits.c_str(), nullptr);
    return negative ? -d : d;
  }
  if (!negative) {
    if (u <= static_cast<unsigned long long>(std::numeric_limits<int64_t>::max()))
      return static_cast<int64_t>(u);
    return static_cast<uint64_t>(u);
  }
  if (u <= static_cast<unsigned long long>(std::numeric_limits<int64_t>::max()))
    return -static_cast<int64_t>(u);
  return -static_cast<double>(u);
}

// The YAML 1.2 core schema's patterns, matched by hand: std::regex compiled them on every
// load (every plan has `version: 1`) for more than the rest of typing a long plan costs.
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_octal(char c) { return c >= '0' && c <= '7'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_sign(char c) { return c == '-' || c == '+'; }

// The end of the run of `is` characters in `v` from `i`.
size_t run_end(const std::string& v, size_t i, bool (*is)(char)) {
  while (i < v.size() && is(v[i])) ++i;
  return i;
}

// `prefix` followed by one or more `is` characters.
bool prefixed(const std::string& v, const char* prefix, bool (*is)(char)) {
  size_t n = std::char_traits<char>::length(prefix);
  return v.size() > n && v.compare(0, n, prefix) == 0 && run_end(v, n, is) == v.size();
}

bool core_int(const std::string& v) {  // [-+]?[0-9]+
  size_t i = !v.empty() && is_sign(v[0]) ? 1 : 0;
  return v.size() > i && run_end(v, i, is_digit) == v.size();
}

bool core_float(const std::string& v) {  // [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
  size_t i = !v.empty() && is_sign(v[0]) ? 1 : 0;
  if (i < v.size() && v[i] == '.') {
    size_t end = run_end(v, i + 1, is_digit);
    if (end == i + 1) return false;
    i = end;
  } else {
    size_t end = run_end(v, i, is_digit);
    if (end == i) return false;
    i = end;
    if (i < v.size() && v[i] == '.') i = run_end(v, i + 1, is_digit);
  }
  if (i < v.size() && (v[i] == 'e' || v[i] == 'E')) {
    ++i;
    if (i < v.size() && is_sign(v[i])) ++i;
    size_t end = run_end(v, i, is_digit);
    if (end == i) return false;
    i = end;
  }
  return i == v.size();
}

bool core_inf(const std::string& v) {  // [-+]?\.(inf|Inf|INF)
  std::string rest = !v.empty() && is_sign(v[0]) ? v.substr(1) : v;
  return rest == ".inf" || rest == ".Inf" || rest == ".INF";
}

bool core_nan(const std::string& v) { return v == ".nan" || v == ".NaN" || v == ".NAN"; }

// YAML 1.2 core schema resolution of a plain scalar; nullopt = a string.
std::optional<json> resolve_core(const std::string& v) {
  if (is_null_text(v)) return json(nullptr);
  if (v == "true" || v == "True" || v == "TRUE") return json(true);
  if (v == "false" || v == "False" || v == "FALSE") return json(false);
  if (v.empty() || v.size() > 400) return std::nullopt;
  char c = v[0];
  if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '+' || c == '.'))
    return std::nullopt;
  if (core_int(v)) {
    bool neg = v[0] == '-';
    size_t skip = (v[0] == '-' || v[0] == '+') ? 1 : 0;
    return parse_integer(neg, v.substr(skip), 10);
  }
  if (prefixed(v, "0o", is_octal)) return parse_integer(false, v.substr(2), 8);
  if (prefixed(v, "0x", is_hex)) return parse_integer(false, v.substr(2), 16);
  if (core_float(v)) return json(std::strtod(v.c_str(), nullptr));
  if (core_inf(v))
    return json(v[0] == '-' ? -std::numeric_limits<double>::infinity()
                            : std::numeric_limits<double>::infinity());
  if (core_nan(v)) return json(std::numeric_limits<double>::quiet_NaN());
  return std::nullopt;
}

class Builder {
 public:
  Builder(const std::string& file, YamlDoc& doc, std::vector<Diagnostic>& diags)
      : file_(file), doc_(doc), diags_(diags) {}

  void alias(const Mark& mark) {
    if (skip_ > 0) return;
    problem(mark, kAnchorMessage);
    if (expecting_key()) {
      frames_.back().state = Frame::discard_value;
      return;
    }
    put(json(nullptr), mark);
  }

  void scalar(const Mark& mark, const std::string& tag, bool anchor, const std::string& value) {
    if (skip_ > 0) return;
    if (anchor) refuse_anchor(mark);
    if (expecting_key()) {
      if (tag == "?" && is_null_text(value)) {
        problem(mark, "a key must not be empty or null");
        frames_.back().state = Frame::discard_value;
        return;
      }
      take_key(mark, value);
      return;
    }
    put(typed(mark, tag, value), mark);
  }

  void start(const Mark& mark, const std::string& tag, bool anchor, bool map) {
    if (skip_ > 0) {
      ++skip_;
      return;
    }
    if (anchor) refuse_anchor(mark);
    if (expecting_key()) {
      problem(mark, "a key must be a plain string, not a " + std::string(map ? "map" : "list"));
      frames_.back().state = Frame::discard_value;
      skip_ = 1;
      return;
    }
    const std::string want = kCoreTag + (map ? "map" : "seq");
    if (tag != "?" && tag != "!" && tag != want) problem(mark, "unsupported YAML tag '" + tag + "'");
    if (static_cast<int>(frames_.size()) >= kMaxDepth) {
      problem(mark, "nesting deeper than " + std::to_string(kMaxDepth) + " levels");
      throw Abort{};
    }
    std::string ptr;
    json* node = put(map ? json::object() : json::array(), mark, ptr);
    if (!node) {
      // The value of a duplicate key: walk over it without keeping it.
      skip_ = 1;
      return;
    }
    Frame f;
    f.pointer = std::move(ptr);
    f.node = node;
    f.is_map = map;
    frames_.push_back(std::move(f));
  }

  void end() {
    if (skip_ > 0) {
      --skip_;
      return;
    }
    if (!frames_.empty()) frames_.pop_back();
  }

 private:
  static constexpr const char* kAnchorMessage =
      "YAML anchors and aliases are not supported: use vars and defaults instead (anchors "
      "make self-referencing and exponentially expanding documents possible)";

  struct Frame {
    std::string pointer;
    json* node = nullptr;  // stable: only the innermost open container receives children
    bool is_map = false;
    enum { want_key, have_key, discard_value } state = want_key;
    std::string key;
    std::string key_pointer;  // pointer + "/" + key, made by take_key for put
    size_t next_index = 0;
  };

  bool expecting_key() const {
    return !frames_.empty() && frames_.back().is_map && frames_.back().state == Frame::want_key;
  }

  void problem(const Mark& mark, const std::string& message, const std::string& path = "") {
    Diagnostic d;
    d.file = file_;
    d.loc = to_loc(mark);
    d.path = path;
    d.message = message;
    diags_.push_back(std::move(d));
  }

  void refuse_anchor(const Mark& mark) {
    // One anchor, one report (a node's anchor and its first use can share a mark).
    SourceLoc loc = to_loc(mark);
    if (loc.line == last_anchor_.line && loc.col == last_anchor_.col) return;
    last_anchor_ = loc;
    problem(mark, kAnchorMessage);
  }

  void take_key(const Mark& mark, const std::string& key) {
    Frame& f = frames_.back();
    json* obj = f.node;
    std::string ptr = f.pointer + "/" + pointer_token(key);
    if (obj->contains(key)) {
      SourceLoc first = doc_.map.keys[ptr].loc;
      problem(mark, "duplicate key '" + key + "' (first at line " + std::to_string(first.line) +
                        "); YAML would silently keep only one of them",
              pointer_to_path(doc_.value, ptr));
      f.state = Frame::discard_value;
      return;
    }
    doc_.map.keys[ptr] = Origin{0, to_loc(mark)};
    f.key = key;
    f.key_pointer = std::move(ptr);
    f.state = Frame::have_key;
  }

  json typed(const Mark& mark, const std::string& tag, const std::string& value) {
    if (tag == "!") return value;
    if (tag == "?") {
      if (auto v = resolve_core(value)) return *v;
      return value;
    }
    if (tag == kCoreTag + "str") return value;
    if (tag == kCoreTag + "null" && is_null_text(value)) return nullptr;
    if (tag == kCoreTag + "bool" || tag == kCoreTag + "int" || tag == kCoreTag + "float") {
      auto v = resolve_core(value);
      bool fits = v && ((tag == kCoreTag + "bool" && v->is_boolean()) ||
                        (tag == kCoreTag + "int" && v->is_number_integer()) ||
                        (tag == kCoreTag + "float" && v->is_number()));
      if (fits) return tag == kCoreTag + "float" ? json(v->get<double>()) : *v;
      problem(mark, "'" + value + "' is not a valid " + tag.substr(kCoreTag.size()));
      return value;
    }
    problem(mark, "unsupported YAML tag '" + tag + "'");
    return value;
  }

  // Places a finished value (or a new container) where the current frame expects one;
  // returns where it went, or nullptr when the value is being discarded.
  json* put(json value, const Mark& mark, std::string& ptr) {
    json* placed = nullptr;
    if (frames_.empty()) {
      if (root_set_) return nullptr;
      root_set_ = true;
      doc_.value = std::move(value);
      placed = &doc_.value;
      ptr.clear();
    } else {
      Frame& f = frames_.back();
      if (f.is_map) {
        if (f.state == Frame::discard_value) {
          f.state = Frame::want_key;
          return nullptr;
        }
        ptr = std::move(f.key_pointer);
        placed = &((*f.node)[f.key] = std::move(value));
        f.state = Frame::want_key;
      } else {
        ptr = f.pointer + "/" + std::to_string(f.next_index++);
        f.node->push_back(std::move(value));
        placed = &f.node->back();
      }
    }
    doc_.map.values.emplace_hint(doc_.map.values.end(), ptr, Origin{0, to_loc(mark)});
    return placed;
  }

  void put(json value, const Mark& mark) {
    std::string ptr;
    put(std::move(value), mark, ptr);
  }

  const std::string& file_;
  YamlDoc& doc_;
  std::vector<Diagnostic>& diags_;
  std::vector<Frame> frames_;
  int skip_ = 0;             // > 0 while inside a subtree being discarded
  bool root_set_ = false;
  SourceLoc last_anchor_;
};

// One libyaml event, deleted when it goes out of scope.
struct Event {
  yaml_event_t e{};
  ~Event() { yaml_event_delete(&e); }
};

Mark mark_of(const yaml_mark_t& m) { return {m.line, m.column}; }

// "?" for an untagged plain node, "!" for an untagged quoted or block scalar, else the
// resolved tag ("!!str" arrives as "tag:yaml.org,2002:str").
std::string tag_of(const yaml_char_t* tag, bool plain) {
  if (tag) return reinterpret_cast<const char*>(tag);
  return plain ? "?" : "!";
}

}  // namespace

YamlDoc parse_yaml(const std::string& file, const std::string& text,
                   std::vector<Diagnostic>& diags) {
  YamlDoc doc;
  doc.map.files = {file};
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) throw std::bad_alloc();
  yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()),
                               text.size());
  auto fail = [&](const Mark& at, const std::string& message) {
    Diagnostic d;
    d.file = file;
    d.loc = to_loc(at);
    d.message = message;
    diags.push_back(std::move(d));
  };
  Builder builder(file, doc, diags);
  int documents = 0;
  bool done = false;
  bool broken = false;  // a syntax error or a limit stopped the reading
  try {
    while (!done) {
      Event ev;
      if (!yaml_parser_parse(&parser, &ev.e)) {
        std::string msg = parser.problem ? parser.problem : "unreadable YAML";
        if (parser.context)  // "while parsing a flow sequence": where the construct began
          msg += std::string(" (") + parser.context + " started at " +
                 std::to_string(parser.context_mark.line + 1) + ":" +
                 std::to_string(parser.context_mark.column + 1) + ")";
        fail(mark_of(parser.problem_mark), "YAML syntax error: " + msg);
        doc.ok = false;
        broken = true;
        break;
      }
      const Mark at = mark_of(ev.e.start_mark);
      switch (ev.e.type) {
        case YAML_DOCUMENT_START_EVENT:
          if (++documents == 2) {
            fail(at, "a second YAML document: the file must hold exactly one");
            done = true;
          } else {
            doc.ok = true;
          }
          break;
        case YAML_SCALAR_EVENT: {
          const auto& sc = ev.e.data.scalar;
          builder.scalar(at, tag_of(sc.tag, sc.style == YAML_PLAIN_SCALAR_STYLE),
                         sc.anchor != nullptr,
                         std::string(reinterpret_cast<const char*>(sc.value), sc.length));
          break;
        }
        case YAML_ALIAS_EVENT:
          builder.alias(at);
          break;
        case YAML_SEQUENCE_START_EVENT:
          builder.start(at, tag_of(ev.e.data.sequence_start.tag, true),
                        ev.e.data.sequence_start.anchor != nullptr, false);
          break;
        case YAML_MAPPING_START_EVENT:
          builder.start(at, tag_of(ev.e.data.mapping_start.tag, true),
                        ev.e.data.mapping_start.anchor != nullptr, true);
          break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
          builder.end();
          break;
        case YAML_STREAM_END_EVENT:
          done = true;
          break;
        default:
          break;
      }
    }
  } catch (const Abort&) {
    doc.ok = false;
    broken = true;
  } catch (...) {
    yaml_parser_delete(&parser);
    throw;
  }
  yaml_parser_delete(&parser);
  if (documents == 0 && !broken) {
    Diagnostic d;
    d.file = file;
    d.message = "the file is empty: expected a YAML map";
    diags.push_back(std::move(d));
  }
  return doc;
}

}  // namespace cutover::executor::detail
