#include "executor/plan_json.h"

#include <algorithm>
#include <functional>

#include "executor/plan_inputs.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/hash.h"

namespace cutover::executor {

using nlohmann::json;

namespace {
json loc_json(const SourceLoc& l) { return {l.line, l.col}; }
SourceLoc loc_from(const json& j) {
  SourceLoc l;
  if (j.is_array() && j.size() == 2) {
    l.line = j[0].get<int>();
    l.col = j[1].get<int>();
  }
  return l;
}
}  // namespace

json plan_to_json(const Plan& p) {
  json j = {{"format", "cutover.plan/1"},
            {"file", p.file},
            {"dir", p.dir},
            {"version", p.version},
            {"name", p.name},
            {"description", p.description},
            {"profile", p.profile},
            {"vars", p.vars},
            {"defaults",
             {{"timeout_ms", p.default_timeout.count()},
              {"retries", p.default_retries},
              {"retry_delay_ms", p.default_retry_delay.count()}}},
            {"inputs", p.inputs}};
  json secrets = json::object();
  for (const auto& [name, s] : p.secrets) {
    json e = json::object();
    if (!s.env.empty()) e["env"] = s.env;
    if (!s.file.empty()) e["file"] = s.file;
    secrets[name] = e;
  }
  j["secrets"] = secrets;
  json hosts = json::object();
  for (const auto& [name, h] : p.hosts) {
    hosts[name] = {{"address", h.address},     {"port", h.port},
                   {"user", h.user},           {"identity_file", h.identity_file},
                   {"passphrase", h.passphrase}, {"agent", h.agent},
                   {"password", h.password},   {"host_key", h.host_key},
                   {"known_hosts", h.known_hosts}};
  }
  j["hosts"] = hosts;
  json steps = json::array();
  for (const auto& s : p.steps) {
    json e = {{"id", s.id},
              {"type", s.type},
              {"on", s.on},
              {"description", s.description},
              {"with", s.with},
              {"retries", s.retries},
              {"retry_delay_ms", s.retry_delay.count()},
              {"rollback", s.rollback == RollbackMode::none ? "none" : "auto"},
              {"loc", loc_json(s.loc)}};
    if (s.timeout) e["timeout_ms"] = s.timeout->count();
    steps.push_back(e);
  }
  j["steps"] = steps;
  if (!p.frozen_inputs.empty()) j["frozen_inputs"] = p.frozen_inputs;
  return j;
}

Plan plan_from_json(const json& j) {
  if (!j.is_object() || j.value("format", "") != "cutover.plan/1")
    throw Error("not a saved cutover plan (expected format cutover.plan/1)");
  Plan p;
  p.file = j.value("file", "");
  p.dir = j.value("dir", "");
  p.version = j.value("version", 1);
  p.name = j.value("name", "");
  p.description = j.value("description", "");
  p.profile = j.value("profile", "");
  p.vars = j.value("vars", json::object());
  const json& d = j.at("defaults");
  p.default_timeout = std::chrono::milliseconds(d.value("timeout_ms", 1800000LL));
  p.default_retries = d.value("retries", 0);
  p.default_retry_delay = std::chrono::milliseconds(d.value("retry_delay_ms", 2000LL));
  p.inputs = j.value("inputs", std::vector<std::string>{});
  p.frozen_inputs = j.value("frozen_inputs", std::map<std::string, std::string>{});
  for (auto it = j.at("secrets").begin(); it != j.at("secrets").end(); ++it) {
    SecretSource s;
    s.env = it.value().value("env", "");
    s.file = it.value().value("file", "");
    p.secrets[it.key()] = s;
  }
  for (auto it = j.at("hosts").begin(); it != j.at("hosts").end(); ++it) {
    const json& h = it.value();
    HostSpec hs;
    hs.name = it.key();
    hs.address = h.value("address", "");
    hs.port = h.value("port", 22);
    hs.user = h.value("user", "");
    hs.identity_file = h.value("identity_file", "");
    hs.passphrase = h.value("passphrase", "");
    hs.agent = h.value("agent", false);
    hs.password = h.value("password", "");
    hs.host_key = h.value("host_key", "strict");
    hs.known_hosts = h.value("known_hosts", "");
    p.hosts[hs.name] = hs;
  }
  size_t i = 0;
  for (const auto& e : j.at("steps")) {
    StepSpec s;
    s.id = e.value("id", "");
    s.type = e.value("type", "");
    s.on = e.value("on", "");
    s.description = e.value("description", "");
    s.with = e.value("with", json::object());
    s.retries = e.value("retries", 0);
    s.retry_delay = std::chrono::milliseconds(e.value("retry_delay_ms", 2000LL));
    s.rollback = e.value("rollback", "auto") == "none" ? RollbackMode::none : RollbackMode::automatic;
    if (e.contains("timeout_ms")) s.timeout = std::chrono::milliseconds(e["timeout_ms"].get<long long>());
    s.loc = loc_from(e.value("loc", json()));
    s.index = i++;
    p.steps.push_back(s);
  }
  return p;
}

std::string plan_digest(const Plan& plan, const std::function<std::string(const std::string&)>& read) {
  util::Sha256 h;
  // The loaded plan is a function of its text, its folder, the profile and the vars after
  // --var/--vars-file: hash those rather than re-serialising every step (a tenth of a
  // 1,000-step `plan`). Where the text was read from is not part of what it does.
  h.update("dir:" + plan.dir + "\nprofile:" + plan.profile + "\nvars:" + plan.vars.dump() + "\nsource:");
  h.update(plan.source);
  // Every file the plan reads, not only vars files: templates, sources and SQL files named in
  // steps (`template: f`, `source: f`, `up: {file: f}`), relative to the plan's folder.
  std::vector<std::string> inputs = plan.inputs;
  std::function<void(const json&, const std::string&)> collect = [&](const json& v, const std::string& key) {
    if (v.is_string() && (key == "template" || key == "source" || key == "file")) {
      const std::string& p = v.get_ref<const std::string&>();
      if (p.find("${") == std::string::npos) inputs.push_back(util::join_path(plan.dir, p));
    } else if (v.is_object()) {
      for (auto it = v.begin(); it != v.end(); ++it) collect(it.value(), it.key());
    } else if (v.is_array()) {
      for (const auto& x : v) collect(x, "");
    }
  };
  const size_t vars_files = inputs.size();  // relative to the working folder, not the plan's
  for (const auto& s : plan.steps) collect(s.with, "");
  // Inputs whose paths use vars (`template: ${vars.tmpl}`): frozen too, so hashed too.
  for (const auto& in : step_inputs(plan))
    if (std::find(inputs.begin() + vars_files, inputs.end(), in.path) == inputs.end()) inputs.push_back(in.path);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string& input = inputs[i];
    h.update("\ninput:" + input + "\n");
    // The bytes read at load time, when there are: they are what the run will freeze and use.
    auto loaded = i < vars_files ? plan.input_texts.end() : plan.input_texts.find(input_key(plan.dir, input));
    if (loaded != plan.input_texts.end()) {
      h.update(loaded->second);
      continue;
    }
    try {
      h.update(read ? read(input) : util::read_file(input));
    } catch (const std::exception& e) {
      h.update(std::string("unreadable: ") + e.what());
    }
  }
  return h.hex();
}

}  // namespace cutover::executor
