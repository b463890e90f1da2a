#include "executor/interpolate.h"

#include <algorithm>
#include <cstdlib>

#include "executor/template.h"
#include "util/error.h"
#include "util/strings.h"

namespace cutover::executor {
namespace {

using detail::Piece;
using detail::Ref;

const char* const kKnownAfterApply = "(known after apply)";

// The text a value takes inside a longer string.
std::string as_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

// Follows `keys` into `v` (object keys or array indexes); `what` names `v` in errors.
json descend(const json& v, const std::vector<std::string>& keys, size_t from,
             const std::string& what) {
  const json* cur = &v;
  std::string where = what;
  for (size_t i = from; i < keys.size(); ++i) {
    const std::string& k = keys[i];
    if (cur->is_object() && cur->contains(k)) {
      cur = &(*cur)[k];
    } else if (cur->is_array() && !k.empty() &&
               k.find_first_not_of("0123456789") == std::string::npos &&
               std::stoul(k) < cur->size()) {
      cur = &(*cur)[std::stoul(k)];
    } else {
      throw Error(where + " has no " + (cur->is_array() ? "item " : "key ") + "'" + k + "'");
    }
    where += "." + k;
  }
  return *cur;
}

// Resolves references for one interpolate() call; vars are resolved once each, on demand,
// and a var met again while it is being resolved is a cycle.
class Resolver {
 public:
  Resolver(const Scope& scope, SecretMode mode) : scope_(scope), mode_(mode) {}

  json value(const json& v, const std::string& path, bool shell) {
    if (v.is_string()) {
      try {
        return string(v.get<std::string>(), shell);
      } catch (const Error& e) {
        throw Error(path.empty() ? e.what() : path + ": " + e.what(), e.hint());
      }
    }
    if (v.is_object()) {
      json out = json::object();
      for (auto it = v.begin(); it != v.end(); ++it)
        out[it.key()] = value(it.value(), path.empty() ? it.key() : path + "." + it.key(), false);
      return out;
    }
    if (v.is_array()) {
      json out = json::array();
      for (size_t i = 0; i < v.size(); ++i)
        out.push_back(value(v[i], path + "[" + std::to_string(i) + "]", false));
      return out;
    }
    return v;
  }

  json string(const std::string& s, bool shell) {
    std::vector<Piece> pieces;
    std::string error;
    if (!detail::split_template(s, pieces, error)) throw Error(error);
    if (pieces.size() == 1 && pieces[0].is_ref && !shell) {
      Found f = lookup(pieces[0].text);
      return reveal() || f.is_template ? f.value : escape_all(f.value);
    }
    std::string out;
    for (const auto& p : pieces) {
      if (!p.is_ref) {
        out += reveal() ? p.text : escape(p.text);
        continue;
      }
      Found f = lookup(p.text);
      std::string text = as_text(f.value);
      if (reveal()) {
        out += (shell && !p.raw) ? util::shell_quote(text) : text;
        continue;
      }
      if (!f.is_template) text = escape(text);
      out += shell ? quote_template(text, p.raw) : text;
    }
    return out;
  }

 private:
  // A looked-up value; in reference mode `is_template` says its strings are already
  // templates (vars and secrets), not raw text that still needs "${" escaped.
  struct Found {
    json value;
    bool is_template = false;
  };

  bool reveal() const { return mode_ == SecretMode::reveal; }

  // Reference mode writes a template whose only references are secrets, so that
  // interpolating it again in reveal mode (with the same shell keys) gives what reveal mode
  // gives directly: a literal "${" is written "$${".
  static std::string escape(const std::string& text) {
    return util::replace_all(text, "${", "$${");
  }

  static json escape_all(const json& v) {
    if (v.is_string()) return escape(v.get<std::string>());
    if (!v.is_structured()) return v;
    json out = v;
    for (auto& x : out) x = escape_all(x);
    return out;
  }

  // Shell-quotes a template for a shell string: literal parts are quoted now, secret
  // references are left to be quoted when revealed (or kept raw).
  static std::string quote_template(const std::string& tmpl, bool raw) {
    std::vector<Piece> pieces;
    std::string error;
    detail::split_template(tmpl, pieces, error);
    if (pieces.empty()) return raw ? "" : "''";
    std::string out;
    for (const auto& p : pieces) {
      if (p.is_ref)
        out += std::string(raw ? "${raw:" : "${") + p.text + "}";
      else
        out += escape(raw ? p.text : util::shell_quote(p.text));
    }
    return out;
  }

  Found lookup(const std::string& body) {
    Ref ref;
    std::string error;
    if (!detail::parse_ref(body, ref, error)) throw Error(error);
    const std::string& name = ref.parts[0];
    if (ref.ns == "vars") return {descend(var(name), ref.parts, 1, "vars." + name), true};
    if (ref.ns == "env") {
      const char* v = std::getenv(name.c_str());
      if (v && *v) return {std::string(v)};
      if (ref.has_default) return {ref.fallback};
      throw Error("environment variable " + name + " is not set",
                  "set it, or write ${env." + name + ":-default}");
    }
    if (ref.ns == "secrets") {
      if (!reveal()) return {"${secrets." + name + "}", true};
      if (!scope_.secret) throw Error("secret '" + name + "' is not available here");
      return {scope_.secret(name)};
    }
    if (ref.ns == "steps") {
      static const std::map<std::string, json> kNone;
      const auto& outputs = scope_.step_outputs ? *scope_.step_outputs : kNone;
      auto it = outputs.find(name);
      if (it == outputs.end()) {
        if (scope_.unknown_outputs_ok) return {kKnownAfterApply};
        throw Error("no outputs of step '" + name + "': only earlier steps' outputs can be used");
      }
      if (!scope_.unknown_outputs_ok) return {descend(it->second, ref.parts, 2, "step '" + name + "' outputs")};
      // A dry run knows only what a step's plan() could tell (pg.dump: the server version);
      // the rest of its outputs (the artifact it will store) are known after apply.
      try {
        return {descend(it->second, ref.parts, 2, "step '" + name + "' outputs")};
      } catch (const Error&) {
        return {kKnownAfterApply};
      }
    }
    const auto& table = ref.ns == "run" ? scope_.run : scope_.plan;
    auto it = table.find(name);
    if (it != table.end()) return {it->second};
    if (ref.ns == "run" && scope_.unknown_outputs_ok) return {kKnownAfterApply};
    throw Error("${" + body + "} is not known here");
  }

  const json& var(const std::string& name) {
    auto done = cache_.find(name);
    if (done != cache_.end()) return done->second;
    for (size_t i = 0; i < stack_.size(); ++i) {
      if (stack_[i] != name) continue;
      std::vector<std::string> cycle(stack_.begin() + i, stack_.end());
      cycle.push_back(name);
      throw Error("cycle between vars: " + util::join(cycle, " -> "));
    }
    if (!scope_.vars || !scope_.vars->is_object() || !scope_.vars->contains(name))
      throw Error("unknown var '" + name + "'");
    stack_.push_back(name);
    json resolved;
    try {
      resolved = value((*scope_.vars)[name], "", false);
    } catch (const Error& e) {
      stack_.pop_back();
      std::string msg = e.what();
      if (util::starts_with(msg, "vars.") || util::starts_with(msg, "cycle ")) throw;
      throw Error("vars." + name + ": " + msg, e.hint());
    }
    stack_.pop_back();
    return cache_[name] = std::move(resolved);
  }

  const Scope& scope_;
  SecretMode mode_;
  std::map<std::string, json> cache_;
  std::vector<std::string> stack_;
};

}  // namespace

json interpolate(const json& value, const Scope& scope, SecretMode mode,
                 const std::vector<std::string>& shell_keys) {
  Resolver r(scope, mode);
  if (!value.is_object() || shell_keys.empty()) return r.value(value, "", false);
  json out = json::object();
  for (auto it = value.begin(); it != value.end(); ++it) {
    bool shell = it.value().is_string() &&
                 std::find(shell_keys.begin(), shell_keys.end(), it.key()) != shell_keys.end();
    out[it.key()] = r.value(it.value(), it.key(), shell);
  }
  return out;
}

json interpolate_string(const std::string& text, const Scope& scope, SecretMode mode) {
  Resolver r(scope, mode);
  return r.string(text, false);
}

std::vector<std::string> references(const std::string& text) {
  std::vector<Piece> pieces;
  std::string error;
  detail::split_template(text, pieces, error);
  std::vector<std::string> out;
  for (const auto& p : pieces) {
    if (!p.is_ref) continue;
    std::string body = p.text;
    if (util::starts_with(body, "env.")) body = body.substr(0, body.find(":-"));
    out.push_back(body);
  }
  return out;
}

}  // namespace cutover::executor
