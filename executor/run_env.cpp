#include "executor/run_env.h"

#include <cstdlib>

#include "util/error.h"
#include "util/fs.h"
#include "util/redact.h"
#include "util/strings.h"

namespace cutover::executor {

std::vector<std::string> shell_keys_of(const std::string& type) {
  const steps::StepType* t = steps::find_step_type(type);
  return t ? t->shell_params : std::vector<std::string>{};
}

RunEnv::RunEnv(const Plan& plan) : plan_(plan) {
  std::vector<std::string> missing;
  for (const auto& [name, src] : plan.secrets) {
    if (!src.env.empty()) {
      const char* v = std::getenv(src.env.c_str());
      if (!v) {
        missing.push_back("secrets." + name + ": environment variable " + src.env + " is not set");
        continue;
      }
      secrets_[name] = v;
    } else if (!src.file.empty()) {
      std::string path = util::join_path(plan.dir, src.file);
      try {
        std::string v = util::read_file(path);
        while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
        secrets_[name] = v;
      } catch (const Error& e) {
        missing.push_back("secrets." + name + ": " + e.what());
        continue;
      }
    }
    util::register_secret(secrets_[name]);
  }
  if (!missing.empty()) throw Fatal(ExitCode::usage, util::join(missing, "\n"));
  hosts_["local"] = hosts::make_local_host();
}

RunEnv::~RunEnv() = default;

std::string RunEnv::secret(const std::string& name) const {
  auto it = secrets_.find(name);
  if (it == secrets_.end()) throw Error("unknown secret '" + name + "'");
  return it->second;
}

hosts::Host& RunEnv::host(const std::string& name) {
  std::string key = name.empty() ? "local" : name;
  auto it = hosts_.find(key);
  if (it != hosts_.end()) return *it->second;
  auto spec = plan_.hosts.find(key);
  if (spec == plan_.hosts.end()) throw Error("unknown host '" + key + "'");
  auto host = open_ssh_host(spec->second, *this);
  hosts::Host& ref = *host;
  hosts_[key] = std::move(host);
  return ref;
}

void RunEnv::connect_all() {
  for (const auto& s : plan_.steps) {
    if (!s.on.empty() && s.on != "local") host(s.on);
    // transfer names its remote side as HOST:/path in src or dest.
    if (s.type == "transfer")
      for (const char* key : {"src", "dest"})
        if (s.with.contains(key) && s.with[key].is_string()) {
          const std::string& v = s.with[key].get_ref<const std::string&>();
          auto colon = v.find(':');
          if (colon != std::string::npos && colon > 0 && v[0] != '/' && plan_.hosts.count(v.substr(0, colon)))
            host(v.substr(0, colon));
        }
  }
}

Scope RunEnv::scope(const std::map<std::string, json>& outputs, const std::string& run_id,
                    const std::string& run_dir, bool unknown_outputs_ok) const {
  Scope sc;
  sc.vars = &plan_.vars;
  sc.secret = [this](const std::string& n) { return secret(n); };
  sc.step_outputs = &outputs;
  sc.run = {{"id", run_id}, {"dir", run_dir}};
  sc.plan = {{"name", plan_.name}, {"dir", plan_.dir}};
  sc.unknown_outputs_ok = unknown_outputs_ok;
  return sc;
}

RunEnv::Resolved RunEnv::resolve(const StepSpec& spec, const Scope& scope) const {
  auto keys = shell_keys_of(spec.type);
  Resolved r;
  r.real = interpolate(spec.with, scope, SecretMode::reveal, keys);
  r.recorded = interpolate(spec.with, scope, SecretMode::reference, keys);
  return r;
}

json RunEnv::reveal(const std::string& type, const json& recorded) const {
  Scope sc;
  sc.secret = [this](const std::string& n) { return secret(n); };
  return interpolate(recorded, sc, SecretMode::reveal, shell_keys_of(type));
}

}  // namespace cutover::executor
