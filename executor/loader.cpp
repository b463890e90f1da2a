// Plan loading (SPEC §3): read, parse (yaml_reader.cpp), schema-check (validate.cpp), apply
// the profile, vars files and --var overrides, check the meaning (checks.cpp), then build
// the Plan. Every problem is collected and thrown at once as PlanInvalid.
#include "executor/loader.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "executor/load_internal.h"
#include "steps/registry.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"
#include "util/units.h"

namespace cutover::embedded {
const std::map<std::string, std::string_view>& files();
}  // namespace cutover::embedded

namespace cutover::executor {

using detail::DiagSink;
using detail::Origin;
using detail::pointer_token;
using detail::SourceMap;
using detail::YamlDoc;

namespace {

const std::string& base_schema() {
  static const std::string kText = [] {
    const auto& files = embedded::files();
    auto it = files.find("schemas/plan.schema.json");
    if (it == files.end()) throw Error("the plan schema is missing from this build");
    return std::string(it->second);
  }();
  return kText;
}

std::string read_text(const LoadOptions& opts, const std::string& path) {
  if (opts.read_file) return opts.read_file(path);
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
      static_cast<uint64_t>(st.st_size) > detail::kMaxPlanBytes)
    return std::string(detail::kMaxPlanBytes + 1, '\n');  // refused below without reading
  return util::read_file(path);
}

std::string line_of(const std::string& text, int line) {
  if (line <= 0) return "";
  size_t pos = 0;
  for (int i = 1; i < line; ++i) {
    pos = text.find('\n', pos);
    if (pos == std::string::npos) return "";
    ++pos;
  }
  size_t end = text.find('\n', pos);
  std::string out = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
  if (!out.empty() && out.back() == '\r') out.pop_back();
  return out;
}

bool too_big(const std::string& file, const std::string& text, const char* what,
             std::vector<Diagnostic>& diags) {
  if (text.size() <= detail::kMaxPlanBytes) return false;
  Diagnostic d;
  d.file = file;
  d.message = std::string(what) + " is larger than the limit of 4 MiB";
  diags.push_back(d);
  return true;
}

std::string suggestion(const std::string& word, const std::vector<std::string>& known,
                       const std::string& noun) {
  std::string near = util::closest(word, known);
  if (!near.empty()) return " (did you mean '" + near + "'?)";
  if (known.empty()) return " (the plan has no " + noun + ")";
  return " (known " + noun + ": " + util::join(known, ", ") + ")";
}

// Sets doc[section][name] (creating the section), recording where the value came from.
void put_var(json& doc, SourceMap& map, const std::string& name, json value,
             const SourceMap& from_map, const std::string& from) {
  if (!doc.contains("vars") || !doc["vars"].is_object()) doc["vars"] = json::object();
  doc["vars"][name] = std::move(value);
  const std::string to = "/vars/" + pointer_token(name);
  map.erase(to);
  map.graft(from_map, from, to);
}

// --profile NAME: profiles.NAME.vars over vars, profiles.NAME.hosts over hosts (per field).
void apply_profile(YamlDoc& raw, const std::string& profile, const std::string& file,
                   std::vector<Diagnostic>& diags) {
  json& doc = raw.value;
  SourceMap& map = raw.map;
  const json profiles = doc.value("profiles", json::object());
  if (!profiles.is_object()) return;
  if (!profiles.contains(profile)) {
    Diagnostic d;
    d.file = file;
    std::vector<std::string> known;
    for (auto it = profiles.begin(); it != profiles.end(); ++it) known.push_back(it.key());
    d.message = "unknown profile '" + profile + "'" + suggestion(profile, known, "profiles");
    if (util::closest(profile, known) != "" && known.size() > 1)
      d.message += "; known profiles: " + util::join(known, ", ");
    diags.push_back(d);
    return;
  }
  const json& p = profiles[profile];
  const std::string base = "/profiles/" + pointer_token(profile);
  if (p.contains("vars") && p["vars"].is_object())
    for (auto it = p["vars"].begin(); it != p["vars"].end(); ++it)
      put_var(doc, map, it.key(), it.value(), raw.map, base + "/vars/" + pointer_token(it.key()));
  if (!p.contains("hosts") || !p["hosts"].is_object()) return;
  if (!doc.contains("hosts") || !doc["hosts"].is_object()) doc["hosts"] = json::object();
  for (auto h = p["hosts"].begin(); h != p["hosts"].end(); ++h) {
    if (!h->is_object()) continue;
    const std::string from = base + "/hosts/" + pointer_token(h.key());
    const std::string to = "/hosts/" + pointer_token(h.key());
    json& host = doc["hosts"][h.key()];
    if (!host.is_object()) {
      host = h.value();
      map.erase(to);
      map.graft(raw.map, from, to);
      if (!host.contains("address")) {
        DiagSink sink(raw.value, raw.map, file, diags);
        sink.at(from, "host '" + h.key() + "' is new in profile '" + profile +
                          "' and needs an address");
      }
      continue;
    }
    for (auto f = h->begin(); f != h->end(); ++f) {
      host[f.key()] = f.value();
      map.erase(to + "/" + pointer_token(f.key()));
      map.graft(raw.map, from + "/" + pointer_token(f.key()), to + "/" + pointer_token(f.key()));
    }
  }
}

std::chrono::milliseconds duration_of(const json& v, std::chrono::milliseconds fallback) {
  if (v.is_number_integer()) return std::chrono::seconds(v.get<long long>());
  if (v.is_string())
    if (auto d = util::parse_duration(v.get<std::string>())) return *d;
  return fallback;
}

std::string str(const json& obj, const char* key) {
  if (obj.is_object() && obj.contains(key) && obj[key].is_string())
    return obj[key].get<std::string>();
  return "";
}

// doc[key] if it is an object (or an array when `array`), else an empty one.
const json& section(const json& doc, const char* key, bool array = false) {
  static const json kObject = json::object(), kArray = json::array();
  if (doc.contains(key) && (array ? doc[key].is_array() : doc[key].is_object())) return doc[key];
  return array ? kArray : kObject;
}

// Consumes `doc` and `map`: the steps' `with` and the locations move into the plan.
Plan build(json& doc, SourceMap& map, Plan plan) {
  plan.version = doc.value("version", 1);
  plan.name = str(doc, "name");
  plan.description = str(doc, "description");
  plan.vars = section(doc, "vars");
  // Locations in the plan file only (file 0): vars files have their own lines.
  while (!map.values.empty()) {
    auto entry = map.values.extract(map.values.begin());
    if (entry.mapped().file == 0)
      plan.locations.emplace_hint(plan.locations.end(), std::move(entry.key()), entry.mapped().loc);
  }
  auto loc = [&](const std::string& ptr) {
    auto it = plan.locations.find(ptr);
    return it == plan.locations.end() ? SourceLoc{} : it->second;
  };
  const json& secrets = section(doc, "secrets");
  for (auto it = secrets.begin(); it != secrets.end(); ++it)
    plan.secrets[it.key()] = SecretSource{str(it.value(), "env"), str(it.value(), "file")};
  const json& hosts = section(doc, "hosts");
  for (auto it = hosts.begin(); it != hosts.end(); ++it) {
    const json& h = it.value();
    HostSpec host;
    host.name = it.key();
    host.address = str(h, "address");
    host.port = h.value("port", 22);
    host.user = str(h, "user");
    host.identity_file = str(h, "identity_file");
    host.passphrase = str(h, "passphrase");
    host.agent = h.value("agent", false);
    host.password = str(h, "password");
    if (h.contains("host_key")) host.host_key = str(h, "host_key");
    host.known_hosts = str(h, "known_hosts");
    host.loc = loc("/hosts/" + pointer_token(it.key()));
    plan.hosts[it.key()] = host;
  }
  const json& defaults = section(doc, "defaults");
  plan.default_timeout = duration_of(defaults.value("timeout", json()), plan.default_timeout);
  plan.default_retries = defaults.value("retries", 0);
  plan.default_retry_delay =
      duration_of(defaults.value("retry_delay", json()), plan.default_retry_delay);
  json no_steps = json::array();
  json& steps = doc.contains("steps") && doc["steps"].is_array() ? doc["steps"] : no_steps;
  plan.steps.reserve(steps.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    json& s = steps[i];
    StepSpec step;
    step.id = str(s, "id");
    step.type = str(s, "type");
    step.on = str(s, "on");
    step.description = str(s, "description");
    if (s.contains("with") && s["with"].is_object()) step.with = std::move(s["with"]);
    // Always set: the step's own timeout, else the plan default (never "no timeout").
    step.timeout = duration_of(s.value("timeout", json()), plan.default_timeout);
    step.retries = s.value("retries", plan.default_retries);
    step.retry_delay = duration_of(s.value("retry_delay", json()), plan.default_retry_delay);
    step.rollback = str(s, "rollback") == "none" ? RollbackMode::none : RollbackMode::automatic;
    step.loc = loc("/steps/" + std::to_string(i));
    step.index = i;
    // A plugin executable is code the plan runs: its content goes into the plan digest like
    // the templates and SQL files the plan reads.
    if (!steps::find_step_type(step.type)) {
      std::string plugin = steps::find_plugin(step.type, plan.dir);
      if (!plugin.empty() &&
          std::find(plan.inputs.begin(), plan.inputs.end(), plugin) == plan.inputs.end())
        plan.inputs.push_back(plugin);
    }
    plan.steps.push_back(std::move(step));
  }
  return plan;
}

}  // namespace

Plan load_plan_text(const std::string& path, const std::string& text, const LoadOptions& opts) {
  std::vector<Diagnostic> diags;
  std::map<std::string, std::string> texts{{path, text}};
  std::vector<Diagnostic> secret_spans;  // literal secrets: never shown in an excerpt
  auto fail = [&]() -> PlanInvalid {
    std::stable_sort(diags.begin(), diags.end(), [&](const Diagnostic& a, const Diagnostic& b) {
      return std::make_tuple(a.file != path, a.loc.line, a.loc.col) <
             std::make_tuple(b.file != path, b.loc.line, b.loc.col);
    });
    for (auto& d : diags) {
      auto it = texts.find(d.file);
      if (it != texts.end()) d.line_text = line_of(it->second, d.loc.line);
      std::vector<int> cols;
      for (const auto& s : secret_spans)
        if (s.file == d.file && s.loc.line == d.loc.line) cols.push_back(s.loc.col);
      std::sort(cols.rbegin(), cols.rend());
      for (int col : cols) d.line_text = detail::mask_scalar(d.line_text, col);
    }
    return PlanInvalid(std::move(diags));
  };
  if (too_big(path, text, "the plan file", diags)) throw fail();
  YamlDoc raw = detail::parse_yaml(path, text, diags);
  if (!raw.ok) throw fail();
  if (!raw.value.is_object()) {
    DiagSink(raw.value, raw.map, path, diags)
        .at("", "a plan must be a YAML map with version, name and steps");
    throw fail();
  }
  DiagSink raw_sink(raw.value, raw.map, path, diags);
  for (const auto& e : detail::validate_schema(raw.value, base_schema())) {
    // Schema messages quote values; hosts' secrets are judged by check_plan without them.
    bool secret = (util::starts_with(e.pointer, "/hosts/") ||
                   util::starts_with(e.pointer, "/profiles/")) &&
                  (util::ends_with(e.pointer, "/password") ||
                   util::ends_with(e.pointer, "/passphrase"));
    if (secret && !e.at_key) continue;
    if (e.at_key)
      raw_sink.at_key(e.pointer, e.message);
    else
      raw_sink.at(e.pointer, e.message);
  }

  Plan plan;
  plan.file = path;
  plan.dir = std::filesystem::absolute(std::filesystem::path(path))
                 .parent_path()
                 .lexically_normal()
                 .string();
  plan.source = text;
  plan.profile = opts.profile;

  // From here the raw document becomes the merged one, in place.
  if (!opts.profile.empty()) apply_profile(raw, opts.profile, path, diags);
  json& doc = raw.value;
  SourceMap& map = raw.map;
  for (const auto& file : opts.vars_files) {
    plan.inputs.push_back(file);
    std::string vtext;
    try {
      vtext = read_text(opts, file);
    } catch (const std::exception& e) {
      Diagnostic d;
      d.file = file;
      d.message = std::string("cannot read vars file: ") + e.what();
      diags.push_back(d);
      continue;
    }
    if (too_big(file, vtext, "the vars file", diags)) continue;
    texts[file] = vtext;
    YamlDoc vars = detail::parse_yaml(file, vtext, diags);
    if (!vars.ok) continue;
    if (!vars.value.is_object()) {
      DiagSink(vars.value, vars.map, file, diags)
          .at("", "a vars file must be a YAML map of var names to values");
      continue;
    }
    for (auto it = vars.value.begin(); it != vars.value.end(); ++it)
      put_var(doc, map, it.key(), it.value(), vars.map, "/" + pointer_token(it.key()));
  }
  for (const auto& [key, value] : opts.var_overrides) {
    const json& vars = doc.value("vars", json::object());
    if (!vars.contains(key)) {
      std::vector<std::string> known;
      for (auto it = vars.begin(); it != vars.end(); ++it) known.push_back(it.key());
      Diagnostic d;
      d.file = "--var";
      d.message = "unknown var '" + key + "'" + suggestion(key, known, "vars") +
                  ": declare it under vars: with a default";
      diags.push_back(d);
      continue;
    }
    SourceMap cli;
    cli.files = {"--var " + key};
    cli.values["/v"] = Origin{0, {}};
    put_var(doc, map, key, value, cli, "/v");
  }

  DiagSink sink(doc, map, path, diags);
  detail::check_plan(doc, plan.dir, opts.profile, sink);
  secret_spans = sink.secret_spans();
  if (!diags.empty()) throw fail();
  return build(doc, map, std::move(plan));
}

Plan load_plan(const std::string& path, const LoadOptions& opts) {
  std::string text;
  try {
    text = read_text(opts, path);
  } catch (const Error& e) {
    Diagnostic d;
    d.file = path;
    d.message = std::string("cannot read the plan: ") + e.what();
    throw PlanInvalid({d});
  }
  return load_plan_text(path, text, opts);
}

std::string plan_schema() {
  json schema = json::parse(base_schema());
  json& all = schema["definitions"]["step"]["allOf"];
  all = json::array();
  for (const auto& t : steps::registry()) {
    if (t.params_schema.empty()) continue;
    json params;
    try {
      params = json::parse(t.params_schema);
    } catch (const std::exception&) {
      continue;
    }
    all.push_back({{"if", {{"properties", {{"type", {{"const", t.name}}}}}, {"required", {"type"}}}},
                   {"then", {{"properties", {{"with", params}}}}}});
  }
  return schema.dump(2) + "\n";
}

std::string format_diagnostics(const std::vector<Diagnostic>& diags, const std::string& source) {
  std::string out;
  for (const auto& d : diags) {
    out += d.str() + "\n";
    std::string line = d.line_text.empty() ? line_of(source, d.loc.line) : d.line_text;
    if (line.empty() || d.loc.col <= 0) continue;
    out += line + "\n";
    std::string caret;
    for (int i = 0; i + 1 < d.loc.col && i < static_cast<int>(line.size()); ++i)
      caret += line[i] == '\t' ? '\t' : ' ';
    out += caret + "^\n";
  }
  return out;
}

}  // namespace cutover::executor
