// JSON Schema validation with valijson 1.0 (nlohmann adapter, draft 7). The one translation
// unit that includes valijson: it is slow to compile.
//
// valijson's messages name constraints ("Value type not permitted by 'type' constraint.")
// and repeat every failure once per enclosing level. We keep the leaf failures and reword
// them from the subschema the instance path leads to, so users read "expected an integer,
// got \"22x\"" or "unknown field 'tmeout' (did you mean 'timeout'?)".
// Without this valijson prints and abort()s on a schema it cannot read; plugins answer with
// schemas of their own, which must fail the load, not crash it.
#define VALIJSON_USE_EXCEPTIONS 1
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include <memory>
#include <mutex>
#include <regex>
#include <set>

#include "executor/load_internal.h"
#include "util/error.h"
#include "util/strings.h"

namespace cutover::executor::detail {
namespace {

struct Compiled {
  json source;
  valijson::Schema schema;
};

const Compiled& compile(const std::string& text) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<Compiled>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[text];
  if (!slot) {
    auto c = std::make_unique<Compiled>();
    try {
      c->source = json::parse(text);
      valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
      valijson::adapters::NlohmannJsonAdapter adapter(c->source);
      parser.populateSchema(adapter, c->schema);
    } catch (const std::exception& e) {
      cache.erase(text);
      throw Error(std::string("invalid JSON Schema: ") + e.what());
    }
    slot = std::move(c);
  }
  return *slot;
}

// Follows local "$ref"s ("#/definitions/x") to the schema they name.
const json* deref(const json& root, const json* s) {
  for (int guard = 0; s && s->is_object() && s->contains("$ref") && guard < 16; ++guard) {
    const auto& ref = (*s)["$ref"];
    if (!ref.is_string()) return s;
    std::string r = ref.get<std::string>();
    if (!util::starts_with(r, "#")) return s;
    try {
      s = &root.at(json::json_pointer(r.substr(1)));
    } catch (const std::exception&) {
      return nullptr;
    }
  }
  return s;
}

// The subschema describing the child `key` of a value described by `s`.
const json* child_schema(const json& root, const json* s, const std::string& key, bool array) {
  s = deref(root, s);
  if (!s || !s->is_object()) return nullptr;
  if (array) {
    if (s->contains("items") && (*s)["items"].is_object()) return deref(root, &(*s)["items"]);
    return nullptr;
  }
  if (s->contains("properties") && (*s)["properties"].contains(key))
    return deref(root, &(*s)["properties"][key]);
  if (s->contains("allOf")) {
    for (const auto& sub : (*s)["allOf"]) {
      for (const char* branch : {"then", "else"}) {
        if (sub.contains(branch))
          if (auto* c = child_schema(root, &sub[branch], key, false)) return c;
      }
      if (auto* c = child_schema(root, &sub, key, false)) return c;
    }
  }
  if (s->contains("patternProperties") && (*s)["patternProperties"].is_object()) {
    for (auto it = (*s)["patternProperties"].begin(); it != (*s)["patternProperties"].end(); ++it) {
      try {
        if (std::regex_search(key, std::regex(it.key()))) return deref(root, &it.value());
      } catch (const std::regex_error&) {
      }
    }
  }
  if (s->contains("additionalProperties") && (*s)["additionalProperties"].is_object())
    return deref(root, &(*s)["additionalProperties"]);
  return nullptr;
}

std::string short_value(const json& v) {
  if (v.is_object()) return "a map";
  if (v.is_array()) return "a list";
  std::string d = v.dump();
  if (d.size() > 40) d = d.substr(0, 37) + "...";
  return d;
}

std::string type_name(const std::string& t) {
  if (t == "string") return "a string";
  if (t == "integer") return "an integer";
  if (t == "number") return "a number";
  if (t == "boolean") return "true or false";
  if (t == "object") return "a map";
  if (t == "array") return "a list";
  return t;
}

std::string expected_types(const json& s) {
  if (!s.contains("type")) return "another type";
  const auto& t = s["type"];
  std::vector<std::string> names;
  if (t.is_string()) names.push_back(type_name(t.get<std::string>()));
  if (t.is_array())
    for (const auto& x : t)
      if (x.is_string()) names.push_back(type_name(x.get<std::string>()));
  return util::join(names, " or ");
}

std::string number_text(const json& v) { return v.is_number() ? v.dump() : "?"; }

std::string listing(const json& values) {
  std::vector<std::string> out;
  for (const auto& v : values) out.push_back(v.is_string() ? v.get<std::string>() : v.dump());
  return util::join(out, ", ");
}

bool starts(const std::string& s, const char* prefix) { return util::starts_with(s, prefix); }

class Translator {
 public:
  Translator(const json& doc, const json& root, const std::string& base,
             std::vector<SchemaError>& out)
      : doc_(doc), root_(root), base_(base), out_(out) {}

  void add(const valijson::ValidationResults::Error& e) {
    const std::string& m = e.description;
    // Summaries of failures already reported at a deeper level.
    if (starts(m, "Failed to validate item #") || starts(m, "Cannot validate item #") ||
        starts(m, "Failed to validate against schema associated with") ||
        starts(m, "Failed to validate against additional properties schema") ||
        starts(m, "Failed to validate against a conditional schema") ||
        starts(m, "Failed to validate against child schema #") ||
        starts(m, "Failed to validate against dependent schema"))
      return;
    // Walk the context (["<root>", "[steps]", "[0]"]) through the document and the schema.
    std::string pointer;
    const json* node = &doc_;
    const json* schema = &root_;
    for (size_t i = 1; i < e.context.size(); ++i) {
      std::string key = e.context[i];
      if (key.size() >= 2 && key.front() == '[' && key.back() == ']')
        key = key.substr(1, key.size() - 2);
      bool array = node && node->is_array();
      schema = schema ? child_schema(root_, schema, key, array) : nullptr;
      if (node && array) {
        size_t idx = std::stoul(key);
        node = idx < node->size() ? &(*node)[idx] : nullptr;
      } else if (node && node->is_object() && node->contains(key)) {
        node = &(*node)[key];
      } else {
        node = nullptr;
      }
      pointer += "/" + pointer_token(key);
    }
    schema = schema ? deref(root_, schema) : nullptr;
    static const json kEmpty = json::object();
    const json& s = schema && schema->is_object() ? *schema : kEmpty;
    const json value = node ? *node : json();

    if (starts(m, "Object contains a property that could not be validated")) {
      unknown_fields(pointer, node, s);
    } else if (starts(m, "Missing required property '")) {
      std::string name = m.substr(27, m.rfind('\'') - 27);
      push(pointer, false, "missing required field '" + name + "'");
    } else if (starts(m, "Value type not permitted")) {
      push(pointer, false, "expected " + expected_types(s) + ", got " + short_value(value));
    } else if (starts(m, "Failed to match against any enum values")) {
      push(pointer, false,
           "must be one of " + listing(s.value("enum", json::array())) + ", not " +
               short_value(value));
    } else if (starts(m, "Failed to match expected value set by 'const'")) {
      push(pointer, false, "must be " + short_value(s.value("const", json())));
    } else if (starts(m, "Failed to match regex")) {
      push(pointer, false,
           short_value(value) + " does not match the pattern " + s.value("pattern", "?"));
    } else if (starts(m, "Expected number greater than or equal to")) {
      push(pointer, false, "must be at least " + number_text(s.value("minimum", json())));
    } else if (starts(m, "Expected number less than or equal to")) {
      push(pointer, false, "must be at most " + number_text(s.value("maximum", json())));
    } else if (starts(m, "Array should contain no fewer than")) {
      push(pointer, false, "needs at least " + number_text(s.value("minItems", json())) + " item(s)");
    } else if (starts(m, "Object should have no fewer than")) {
      push(pointer, false, "needs at least " + number_text(s.value("minProperties", json())) + " field(s)");
    } else if (starts(m, "Object should have no more than")) {
      push(pointer, false, "takes at most " + number_text(s.value("maxProperties", json())) + " field(s)");
    } else if (starts(m, "String should be no fewer than")) {
      auto n = s.value("minLength", 0);
      push(pointer, false, n <= 1 ? std::string("must not be empty")
                                  : "must be at least " + std::to_string(n) + " characters");
    } else if (starts(m, "Failed to validate against any child schemas allowed by oneOf") ||
               starts(m, "Failed to validate against any schemas allowed by anyOf")) {
      push(pointer, false, "does not match any of the allowed forms");
    } else if (starts(m, "Failed to validate against exactly one child schema")) {
      push(pointer, false, "matches more than one of the allowed forms (give only one)");
    } else {
      std::string text = m;
      if (!text.empty() && text.back() == '.') text.pop_back();
      if (!text.empty()) text[0] = static_cast<char>(std::tolower(text[0]));
      push(pointer, false, text);
    }
  }

 private:
  void unknown_fields(const std::string& pointer, const json* node, const json& s) {
    if (!node || !node->is_object()) return;
    std::vector<std::string> known;
    if (s.contains("properties"))
      for (auto it = s["properties"].begin(); it != s["properties"].end(); ++it)
        known.push_back(it.key());
    std::vector<std::string> patterns;
    if (s.contains("patternProperties") && s["patternProperties"].is_object())
      for (auto it = s["patternProperties"].begin(); it != s["patternProperties"].end(); ++it)
        patterns.push_back(it.key());
    for (auto it = node->begin(); it != node->end(); ++it) {
      if (std::find(known.begin(), known.end(), it.key()) != known.end()) continue;
      bool matched = false;
      for (const auto& p : patterns) {
        try {
          matched = matched || std::regex_search(it.key(), std::regex(p));
        } catch (const std::regex_error&) {
        }
      }
      if (matched) continue;
      if (known.empty() && !patterns.empty()) {
        push(pointer + "/" + pointer_token(it.key()), true,
             "'" + it.key() + "' is not an allowed name here (it must match " +
                 util::join(patterns, " or ") + ")");
        continue;
      }
      std::string msg = "unknown field '" + it.key() + "'";
      std::string near = util::closest(it.key(), known);
      if (!near.empty())
        msg += " (did you mean '" + near + "'?)";
      else if (!known.empty())
        msg += " (known fields: " + util::join(known, ", ") + ")";
      push(pointer + "/" + pointer_token(it.key()), true, msg);
    }
  }

  void push(const std::string& pointer, bool at_key, const std::string& message) {
    std::string full = base_ + pointer;
    if (!seen_.insert(full + '\n' + message).second) return;
    out_.push_back(SchemaError{full, at_key, message});
  }

  const json& doc_;
  const json& root_;
  const std::string& base_;
  std::vector<SchemaError>& out_;
  std::set<std::string> seen_;
};

}  // namespace

std::vector<SchemaError> validate_schema(const json& doc, const std::string& schema,
                                         const std::string& base) {
  const Compiled& c = compile(schema);
  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter target(doc);
  std::vector<SchemaError> out;
  try {
    if (validator.validate(c.schema, target, &results)) return out;
  } catch (const std::exception& e) {
    throw Error(std::string("invalid JSON Schema: ") + e.what());
  }
  Translator t(doc, c.source, base, out);
  valijson::ValidationResults::Error e;
  while (results.popError(e)) t.add(e);
  // Some constraints (propertyNames in valijson 1.0) fail without saying why: a document that
  // does not validate is never let through silently.
  if (out.empty())
    out.push_back(SchemaError{base, false,
                              "does not match its schema (a constraint such as propertyNames "
                              "failed; check the names and values given here)"});
  return out;
}

}  // namespace cutover::executor::detail
