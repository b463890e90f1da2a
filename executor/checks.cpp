// Semantic checks of a plan (SPEC §3): everything the plan JSON Schema cannot say. Each
// check reads the merged plan document (profile and --var applied) and reports through the
// DiagSink, so every problem is collected and located the same way.
#include <algorithm>
#include <functional>
#include <memory>
#include <set>

#include "executor/interpolate.h"
#include "executor/load_internal.h"
#include "executor/template.h"
#include "steps/plugin_step.h"
#include "steps/registry.h"
#include "util/error.h"
#include "util/strings.h"
#include "util/units.h"

namespace cutover::executor::detail {
namespace {

using steps::StepType;

// doc[key] if it is an object (or an array when `array`), else an empty one.
const json& section(const json& doc, const char* key, bool array = false) {
  static const json kObject = json::object(), kArray = json::array();
  if (doc.contains(key) && (array ? doc[key].is_array() : doc[key].is_object())) return doc[key];
  return array ? kArray : kObject;
}

std::vector<std::string> keys_of(const json& obj) {
  std::vector<std::string> out;
  if (obj.is_object())
    for (auto it = obj.begin(); it != obj.end(); ++it) out.push_back(it.key());
  return out;
}

// " (did you mean 'x'?)", or " (known NOUN: a, b)", or " (no NOUN are declared)".
std::string suggest(const std::string& word, const std::vector<std::string>& known,
                    const std::string& noun) {
  std::string near = util::closest(word, known);
  if (!near.empty()) return " (did you mean '" + near + "'?)";
  if (known.empty()) return " (no " + noun + " are declared)";
  return " (known " + noun + ": " + util::join(known, ", ") + ")";
}

// Names are checked by hand rather than with std::regex: compiling the half-dozen patterns
// cost more than checking every name of a 1,000-step plan.
bool lower_or_digit(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool letter_or_digit(char c) { return letter(c) || (c >= '0' && c <= '9'); }

// True when `s` is one `first` character followed by any number of `rest` ones.
template <class First, class Rest>
bool is_word(const std::string& s, First first, Rest rest) {
  return !s.empty() && first(s[0]) && std::all_of(s.begin() + 1, s.end(), rest);
}

bool plan_name(const std::string& s) {  // [a-z0-9][a-z0-9._-]*
  return is_word(s, lower_or_digit,
                 [](char c) { return lower_or_digit(c) || c == '.' || c == '_' || c == '-'; });
}
bool var_name(const std::string& s) {  // [A-Za-z_][A-Za-z0-9_-]*, vars and secrets
  return is_word(
      s, [](char c) { return letter(c) || c == '_'; },
      [](char c) { return letter_or_digit(c) || c == '_' || c == '-'; });
}
bool host_name(const std::string& s) {  // [A-Za-z0-9][A-Za-z0-9._-]*
  return is_word(s, letter_or_digit,
                 [](char c) { return letter_or_digit(c) || c == '.' || c == '_' || c == '-'; });
}
bool step_id(const std::string& s) {  // [A-Za-z0-9][A-Za-z0-9_-]*
  return is_word(s, letter_or_digit,
                 [](char c) { return letter_or_digit(c) || c == '_' || c == '-'; });
}
bool host_key_policy(const std::string& s) {  // strict|accept-new|SHA256:[A-Za-z0-9+/=]+
  if (s == "strict" || s == "accept-new") return true;
  const std::string prefix = "SHA256:";
  return s.size() > prefix.size() && s.compare(0, prefix.size(), prefix) == 0 &&
         std::all_of(s.begin() + prefix.size(), s.end(),
                     [](char c) { return letter_or_digit(c) || c == '+' || c == '/' || c == '='; });
}

bool exactly_one_secret_ref(const json& v) {
  if (!v.is_string()) return false;
  std::vector<Piece> pieces;
  std::string error;
  if (!split_template(v.get<std::string>(), pieces, error) || pieces.size() != 1 ||
      !pieces[0].is_ref)
    return false;
  Ref ref;
  return parse_ref(pieces[0].text, ref, error) && ref.ns == "secrets";
}

// Where a reference is written: a step may use earlier steps' outputs; vars and hosts not.
struct RefContext {
  std::string where;  // "vars", "hosts", "secrets": no step outputs
  long step = -1;     // index of the step the value belongs to
};

class Checker {
 public:
  Checker(const json& doc, const std::string& plan_dir, const std::string& profile,
          DiagSink& sink)
      : doc_(doc), plan_dir_(plan_dir), profile_(profile), sink_(sink) {
    std::string name;
    if (doc.contains("name") && doc["name"].is_string()) name = doc["name"].get<std::string>();
    scope_.vars = &section(doc, "vars");
    scope_.plan = {{"name", name}, {"dir", plan_dir}};
    vars_ = keys_of(section(doc, "vars"));
    secrets_ = keys_of(section(doc, "secrets"));
    hosts_ = keys_of(section(doc, "hosts"));
    if (doc.contains("profiles") && doc["profiles"].is_object())
      for (auto it = doc["profiles"].begin(); it != doc["profiles"].end(); ++it)
        if (it->is_object() && it->contains("vars") && (*it)["vars"].is_object())
          for (const auto& k : keys_of((*it)["vars"])) profile_vars_[k].push_back(it.key());
    const json& steps = section(doc, "steps", true);
    for (size_t i = 0; i < steps.size(); ++i)
        if (steps[i].is_object() && steps[i].contains("id") && steps[i]["id"].is_string())
          step_index_.emplace(steps[i]["id"].get<std::string>(), i);
  }

  void run() {
    check_header();
    check_vars();
    check_secrets();
    check_hosts();
    check_defaults();
    check_steps();
  }

 private:
  void check_header() {
    if (doc_.contains("version") && doc_["version"].is_number_integer() && doc_["version"] != 1)
      sink_.at("/version", "unsupported plan format version " + doc_["version"].dump() +
                               ": this cutover reads version 1");
    if (doc_.contains("name") && doc_["name"].is_string() &&
        !plan_name(doc_["name"].get<std::string>()))
      sink_.at("/name", "'" + doc_["name"].get<std::string>() +
                            "' is not a valid plan name: use lowercase letters, digits, '.', "
                            "'_' and '-', starting with a letter or digit");
  }

  void check_names(const std::string& key, const std::string& noun,
                   bool (*valid)(const std::string&), const std::string& allowed) {
    for (const auto& k : keys_of(section(doc_, key.c_str())))
      if (!valid(k))
        sink_.at_key("/" + key + "/" + pointer_token(k),
                     noun + " name '" + k + "' may only hold " + allowed);
  }

  void check_vars() {
    check_names("vars", "var", var_name, "letters, digits, '_' and '-', not starting with a digit");
    const json& vars = section(doc_, "vars");
    for (auto it = vars.begin(); it != vars.end(); ++it)
      check_refs(it.value(), "/vars/" + pointer_token(it.key()), RefContext{"vars"});
    find_var_cycles(vars);
    // Profiles not applied now: their references must hold when they are.
    for (auto p = section(doc_, "profiles").begin(); p != section(doc_, "profiles").end(); ++p) {
      if (p.key() == profile_ || !p->is_object() || !p->contains("vars")) continue;
      const json& pv = (*p)["vars"];
      if (!pv.is_object()) continue;
      std::vector<std::string> saved = vars_;
      for (auto it = pv.begin(); it != pv.end(); ++it)
        if (std::find(vars_.begin(), vars_.end(), it.key()) == vars_.end()) vars_.push_back(it.key());
      for (auto it = pv.begin(); it != pv.end(); ++it)
        check_refs(it.value(), "/profiles/" + pointer_token(p.key()) + "/vars/" + pointer_token(it.key()),
                   RefContext{"vars"});
      vars_ = std::move(saved);
    }
  }

  // Depth-first search over "var a references var b"; each back edge is one cycle.
  void find_var_cycles(const json& vars) {
    std::map<std::string, std::set<std::string>> edges;
    for (auto it = vars.begin(); it != vars.end(); ++it) {
      std::function<void(const json&)> walk = [&](const json& v) {
        if (v.is_string()) {
          for (const auto& r : references(v.get<std::string>())) {
            Ref ref;
            std::string err;
            if (parse_ref(r, ref, err) && ref.ns == "vars" && vars.contains(ref.parts[0]))
              edges[it.key()].insert(ref.parts[0]);
          }
        } else if (v.is_structured()) {
          for (const auto& c : v) walk(c);
        }
      };
      walk(it.value());
    }
    std::map<std::string, int> color;  // 0 new, 1 on the stack, 2 done
    std::vector<std::string> stack;
    std::function<void(const std::string&)> visit = [&](const std::string& v) {
      color[v] = 1;
      stack.push_back(v);
      for (const auto& next : edges[v]) {
        if (color[next] == 1) {
          auto from = std::find(stack.begin(), stack.end(), next);
          std::vector<std::string> cycle(from, stack.end());
          cycle.push_back(next);
          sink_.at("/vars/" + pointer_token(next),
                   "cycle between vars: " + util::join(cycle, " -> "));
        } else if (color[next] == 0) {
          visit(next);
        }
      }
      stack.pop_back();
      color[v] = 2;
    };
    for (auto it = vars.begin(); it != vars.end(); ++it)
      if (color[it.key()] == 0) visit(it.key());
  }

  void check_secrets() {
    check_names("secrets", "secret", var_name,
                "letters, digits, '_' and '-', not starting with a digit");
    const json& secrets = section(doc_, "secrets");
    for (auto it = secrets.begin(); it != secrets.end(); ++it) {
      if (!it->is_object()) continue;
      if (it->contains("env") == it->contains("file"))
        sink_.at("/secrets/" + pointer_token(it.key()),
                 "give exactly one of 'env' or 'file' for secret '" + it.key() + "'");
    }
  }

  void check_hosts() {
    check_names("hosts", "host", host_name, "letters, digits, '.', '_' and '-'");
    const json& hosts = section(doc_, "hosts");
    for (auto it = hosts.begin(); it != hosts.end(); ++it) {
      if (!it->is_object()) continue;
      const std::string base = "/hosts/" + pointer_token(it.key());
      check_refs(it.value(), base, RefContext{"hosts"});
      for (const char* field : {"password", "passphrase"})
        if (it->contains(field) && !exactly_one_secret_ref((*it)[field]))
          sink_.literal_secret(base + "/" + field, std::string("'") + field +
                                           "' is a secret: write it as ${secrets.NAME}, not as "
                                           "literal text");
      if (it->contains("host_key") && (*it)["host_key"].is_string() &&
          !host_key_policy((*it)["host_key"].get<std::string>()))
        sink_.at(base + "/host_key", "host_key must be strict, accept-new or SHA256:<fingerprint>");
    }
  }

  // parent[key] (at `base` + "/" + key), when there is one.
  void check_duration(const json& parent, const char* key, const std::string& base) {
    auto it = parent.find(key);
    if (it == parent.end()) return;
    const json* v = &*it;
    const std::string pointer = base + "/" + key;
    if (v->is_number_integer()) {
      if (v->get<long long>() < 0) sink_.at(pointer, "a duration must not be negative");
      return;
    }
    if (v->is_string() && !util::parse_duration(v->get<std::string>()))
      sink_.at(pointer, "bad duration '" + v->get<std::string>() +
                            "' (write e.g. 500ms, 30s, 10m, 2h)");
  }

  void check_size(const std::string& pointer, const json& v) {
    if (v.is_string() && v.get<std::string>().find("${") == std::string::npos &&
        !util::parse_size(v.get<std::string>()))
      sink_.at(pointer, "bad size '" + v.get<std::string>() + "' (write e.g. 512KiB, 5GiB, 100MB)");
    if (v.is_number_integer() && v.get<long long>() < 0)
      sink_.at(pointer, "a size must not be negative");
  }

  void check_defaults() {
    check_duration(section(doc_, "defaults"), "timeout", "/defaults");
    check_duration(section(doc_, "defaults"), "retry_delay", "/defaults");
  }

  void check_steps() {
    const json& steps = section(doc_, "steps", true);
    std::vector<std::string> known;
    for (const auto& t : steps::registry()) known.push_back(t.name);
    std::map<std::string, size_t> first;
    for (size_t i = 0; i < steps.size(); ++i) {
      const json& s = steps[i];
      if (!s.is_object()) continue;
      const std::string base = "/steps/" + std::to_string(i);
      if (s.contains("id") && s["id"].is_string()) {
        std::string id = s["id"].get<std::string>();
        auto [it, fresh] = first.emplace(id, i);
        if (!fresh)
          sink_.at(base + "/id", "duplicate step id '" + id + "' (first used by steps[" +
                                     std::to_string(it->second) + "] at line " +
                                     std::to_string(sink_.loc_of("/steps/" + std::to_string(it->second) + "/id").line) + ")");
        else if (!step_id(id))
          sink_.at(base + "/id", "step id '" + id +
                                     "' may only hold letters, digits, '_' and '-' (it is used "
                                     "in ${steps.ID.outputs.KEY})");
      }
      check_duration(s, "timeout", base);
      check_duration(s, "retry_delay", base);
      if (s.contains("with")) check_refs(s["with"], base + "/with", RefContext{"step", long(i)});
      if (s.contains("description"))
        check_refs(s["description"], base + "/description", RefContext{"step", long(i)});
      const StepType* type = nullptr;
      if (s.contains("type") && s["type"].is_string()) {
        std::string name = s["type"].get<std::string>();
        type = steps::find_step_type(name);
        std::string plugin = type ? "" : steps::find_plugin(name, plan_dir_);
        if (!type && plugin.empty()) {
          std::string near = util::closest(name, known);
          sink_.at(base + "/type",
                   "unknown step type '" + name + "'" +
                       (near.empty() ? " (known types: " + util::join(known, ", ") +
                                           "; or a plugin executable cutover-step-" + name +
                                           " in plugins/ or $PATH)"
                                     : " (did you mean '" + near + "'?)"));
        } else if (!type) {
          type = plugin_type(name, plugin, base + "/type");
        }
      }
      check_on(s, base, type);
      if (type) check_params(s, base, *type);
    }
  }

  // A plugin's type, from its `schema` answer: asked once per plugin per load; a failure is
  // reported at every step that uses the plugin.
  const StepType* plugin_type(const std::string& name, const std::string& path,
                              const std::string& pointer) {
    auto it = plugins_.find(path);
    if (it == plugins_.end()) {
      PluginType entry;
      try {
        entry.type = std::make_unique<StepType>(steps::plugin_step_type(name, path, plan_dir_));
        plugin_paths_[name] = path;
      } catch (const Error& e) {
        entry.error = e.what();
        if (!e.hint().empty()) entry.error += " (" + e.hint() + ")";
      }
      it = plugins_.emplace(path, std::move(entry)).first;
    }
    if (!it->second.type) sink_.at(pointer, it->second.error);
    return it->second.type.get();
  }

  void check_on(const json& s, const std::string& base, const StepType* type) {
    if (!s.contains("on") || !s["on"].is_string()) return;
    std::string host = s["on"].get<std::string>();
    if (std::find(hosts_.begin(), hosts_.end(), host) == hosts_.end())
      sink_.at(base + "/on", "unknown host '" + host + "'" + suggest(host, hosts_, "hosts"));
    else if (type && !type->remote)
      sink_.at(base + "/on", "step type '" + type->name +
                                 "' runs only locally: it does not accept 'on'");
  }

  void check_params(const json& s, const std::string& base, const StepType& type) {
    static const json kNoParams = json::object();
    const json& with = s.contains("with") && s["with"].is_object() ? s["with"] : kNoParams;
    // An invalid rollback value is reported by the schema; judge only auto (or none given).
    bool rollback_auto = s.value("rollback", json("auto")) == "auto";
    if (!type.undo_param.empty() && !with.contains(type.undo_param) && rollback_auto)
      sink_.at(base, "step type '" + type.name + "' has no undo of its own: give with." +
                         type.undo_param + ", or write rollback: none to say on purpose that " +
                         "this step is not undone");
    // Schema messages quote values: never for a secret parameter (the check below says
    // what is wrong without the value).
    std::set<std::string> unknown;
    for (const auto& param : type.secret_params) {
      const json* v = &with;
      std::string ptr = base + "/with";
      for (const auto& part : util::split(param, '.')) {
        v = v->is_object() && v->contains(part) ? &(*v)[part] : nullptr;
        ptr += "/" + pointer_token(part);
        if (!v) break;
      }
      unknown.insert(ptr);
      if (v && !exactly_one_secret_ref(*v))
        sink_.literal_secret(ptr, "'" + param +
                                      "' is a secret: write it as ${secrets.NAME}, not as "
                                      "literal text");
    }
    if (type.params_schema.empty() || (s.contains("with") && !s["with"].is_object())) return;
    // Most steps reference nothing: then the schema judges `with` itself, without a copy.
    json view = has_reference(with) ? schema_view(with, base + "/with", unknown) : json();
    std::vector<SchemaError> errors;
    try {
      errors = validate_schema(view.is_null() ? with : view, type.params_schema, base + "/with");
    } catch (const Error& e) {
      auto plugin = plugin_paths_.find(type.name);
      if (plugin != plugin_paths_.end())
        sink_.at(base + "/type", "plugin " + plugin->second +
                                     ": its schema answer is not a valid JSON Schema: " + e.what());
      else
        sink_.at(base + "/type", "step type '" + type.name +
                                     "' has a broken parameter schema: " + e.what());
      return;
    }
    for (const auto& e : errors) {
      bool skip = false;
      for (const auto& u : unknown)
        if (e.pointer == u || util::starts_with(e.pointer, u + "/")) skip = true;
      if (skip) continue;
      if (e.at_key)
        sink_.at_key(e.pointer, e.message);
      else
        sink_.at(e.pointer, e.message);
    }
    auto parsed = params_schemas_.find(type.name);
    if (parsed == params_schemas_.end()) {
      json schema = json::parse(type.params_schema, nullptr, false);
      if (!has_key(schema, "format")) schema = nullptr;  // nothing for check_formats to judge
      parsed = params_schemas_.emplace(type.name, std::move(schema)).first;
    }
    if (!parsed->second.is_null()) check_formats(with, parsed->second, base + "/with");
  }

  // True when an object somewhere in `v` has the key `key`.
  static bool has_key(const json& v, const char* key) {
    if (v.is_object() && v.contains(key)) return true;
    if (v.is_structured())
      for (const auto& c : v)
        if (has_key(c, key)) return true;
    return false;
  }

  // True when a string somewhere in `v` holds "${" (a reference, or an escaped "$${").
  static bool has_reference(const json& v) {
    if (v.is_string()) return v.get_ref<const std::string&>().find("${") != std::string::npos;
    if (v.is_structured())
      for (const auto& c : v)
        if (has_reference(c)) return true;
    return false;
  }

  // `with` as the schema should see it: references to vars (and env, plan) resolved now,
  // strings that depend on secrets, step outputs or the run left out of the judgement.
  json schema_view(const json& v, const std::string& ptr, std::set<std::string>& unknown) {
    if (v.is_object()) {
      json out = json::object();
      for (auto it = v.begin(); it != v.end(); ++it)
        out[it.key()] = schema_view(it.value(), ptr + "/" + pointer_token(it.key()), unknown);
      return out;
    }
    if (v.is_array()) {
      json out = json::array();
      for (size_t i = 0; i < v.size(); ++i)
        out.push_back(schema_view(v[i], ptr + "/" + std::to_string(i), unknown));
      return out;
    }
    if (!v.is_string() || v.get<std::string>().find("${") == std::string::npos) return v;
    for (const auto& r : references(v.get<std::string>())) {
      if (util::starts_with(r, "secrets.") || util::starts_with(r, "steps.") ||
          util::starts_with(r, "run.")) {
        unknown.insert(ptr);
        return v;
      }
    }
    try {
      // Reveal mode: no "$${" escapes; a var that leads to a secret fails (no secrets here)
      // and is left out of the judgement like a direct secret reference.
      return interpolate_string(v.get<std::string>(), scope_, SecretMode::reveal);
    } catch (const std::exception&) {
      unknown.insert(ptr);
      return v;
    }
  }

  // Parameters whose schema says "format": "duration" or "size" (valijson ignores format).
  void check_formats(const json& v, const json& schema, const std::string& ptr) {
    if (!schema.is_object()) return;
    std::string format = schema.value("format", "");
    if (format == "duration" && (v.is_string() || v.is_number_integer())) {
      if (v.is_string() && v.get<std::string>().find("${") != std::string::npos) return;
      if (v.is_string() && !util::parse_duration(v.get<std::string>()))
        sink_.at(ptr, "bad duration '" + v.get<std::string>() + "' (write e.g. 500ms, 30s, 10m, 2h)");
    } else if (format == "size") {
      check_size(ptr, v);
    }
    if (v.is_object() && schema.contains("properties") && schema["properties"].is_object())
      for (auto it = v.begin(); it != v.end(); ++it)
        if (schema["properties"].contains(it.key()))
          check_formats(it.value(), schema["properties"][it.key()],
                        ptr + "/" + pointer_token(it.key()));
  }

  void check_refs(const json& v, const std::string& ptr, const RefContext& ctx) {
    if (v.is_structured()) {
      if (v.is_object())
        for (auto it = v.begin(); it != v.end(); ++it)
          check_refs(it.value(), ptr + "/" + pointer_token(it.key()), ctx);
      else
        for (size_t i = 0; i < v.size(); ++i) check_refs(v[i], ptr + "/" + std::to_string(i), ctx);
      return;
    }
    if (!v.is_string()) return;
    std::vector<Piece> pieces;
    std::string error;
    if (!split_template(v.get<std::string>(), pieces, error)) {
      sink_.at(ptr, error);
      return;
    }
    for (const auto& p : pieces) {
      if (!p.is_ref) continue;
      Ref ref;
      if (!parse_ref(p.text, ref, error)) {
        sink_.at(ptr, error);
        continue;
      }
      check_ref(ref, ptr, ctx);
    }
  }

  void check_ref(const Ref& ref, const std::string& ptr, const RefContext& ctx) {
    const std::string& name = ref.parts[0];
    if (ref.ns == "vars" && std::find(vars_.begin(), vars_.end(), name) == vars_.end()) {
      auto in_profiles = profile_vars_.find(name);
      if (in_profiles != profile_vars_.end())
        sink_.at(ptr, "unknown var '" + name + "': it is set only by profile " +
                          util::join(in_profiles->second, ", ") + " (pass --profile)");
      else
        sink_.at(ptr, "unknown var '" + name + "'" + suggest(name, vars_, "vars"));
    } else if (ref.ns == "secrets" &&
               std::find(secrets_.begin(), secrets_.end(), name) == secrets_.end()) {
      sink_.at(ptr, "unknown secret '" + name + "'" + suggest(name, secrets_, "secrets"));
    } else if (ref.ns == "steps") {
      if (ctx.step < 0) {
        sink_.at(ptr, "step outputs cannot be used in " + ctx.where +
                          ": use ${steps." + name + ".outputs." + ref.parts[2] +
                          "} in a step's with");
        return;
      }
      auto it = step_index_.find(name);
      if (it == step_index_.end()) {
        std::vector<std::string> ids;
        for (const auto& [id, idx] : step_index_) ids.push_back(id);
        sink_.at(ptr, "unknown step '" + name + "'" + suggest(name, ids, "steps"));
      } else if (static_cast<long>(it->second) == ctx.step) {
        sink_.at(ptr, "step '" + name + "' cannot use its own outputs");
      } else if (static_cast<long>(it->second) > ctx.step) {
        sink_.at(ptr, "step '" + name + "' runs later (steps[" + std::to_string(it->second) +
                          "]): only outputs of earlier steps can be used");
      } else {
        check_output_key(ref, ptr, section(doc_, "steps", true)[it->second]);
      }
    }
  }

  // A misspelled output key would read "(known after apply)" in a dry run and fail the step
  // mid-apply; the built-in types declare theirs (steps::declared_outputs).
  void check_output_key(const Ref& ref, const std::string& ptr, const json& step) {
    if (ref.parts.size() < 3 || !step.is_object() || !step.contains("type") || !step["type"].is_string())
      return;
    const steps::StepType* type = steps::find_step_type(step["type"].get<std::string>());
    if (!type) return;  // a plugin's outputs are whatever it answers
    auto keys = steps::declared_outputs(*type);
    if (!keys || std::find(keys->begin(), keys->end(), ref.parts[2]) != keys->end()) return;
    const std::string head = "step '" + ref.parts[0] + "' (" + type->name + ") ";
    if (keys->empty())
      sink_.at(ptr, head + "has no outputs");
    else
      sink_.at(ptr, head + "has no output '" + ref.parts[2] + "'" + suggest(ref.parts[2], *keys, "outputs"));
  }

  const json& doc_;
  std::string plan_dir_;
  std::string profile_;
  DiagSink& sink_;
  Scope scope_;  // what references resolve against at load time: vars and plan
  std::vector<std::string> vars_, secrets_, hosts_;
  std::map<std::string, std::vector<std::string>> profile_vars_;
  std::map<std::string, size_t> step_index_;
  // type name -> parsed params_schema; null when it has no "format" (or does not parse)
  std::map<std::string, json> params_schemas_;
  struct PluginType {
    std::unique_ptr<StepType> type;  // null when its `schema` call failed
    std::string error;
  };
  std::map<std::string, PluginType> plugins_;         // plugin path -> its type
  std::map<std::string, std::string> plugin_paths_;   // plugin type name -> path
};

}  // namespace

void check_plan(const json& doc, const std::string& plan_dir, const std::string& profile,
                DiagSink& sink) {
  if (!doc.is_object()) return;
  Checker(doc, plan_dir, profile, sink).run();
}

}  // namespace cutover::executor::detail
