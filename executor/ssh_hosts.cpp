// Wiring of the plan's `hosts:` to the SSH implementation (hosts/ssh_host.h).
#include "executor/interpolate.h"
#include "executor/run_env.h"
#include "hosts/ssh_host.h"
#include "util/error.h"
#include "util/fs.h"

namespace cutover::executor {

namespace {
/// A host field may hold ${secrets.X} (password, passphrase) or ${vars.X}/${env.X}.
std::string resolve_field(const std::string& text, const RunEnv& env) {
  if (text.find("${") == std::string::npos) return text;
  static const std::map<std::string, json> kNoOutputs;
  json v = interpolate_string(text, env.scope(kNoOutputs, "", ""), SecretMode::reveal);
  return v.is_string() ? v.get<std::string>() : v.dump();
}
}  // namespace

std::unique_ptr<hosts::Host> open_ssh_host(const HostSpec& spec, const RunEnv& env) {
  hosts::SshOptions o;
  o.name = spec.name;
  o.address = resolve_field(spec.address, env);
  o.port = spec.port;
  o.user = resolve_field(spec.user, env);
  o.identity_file = spec.identity_file.empty() ? "" : util::join_path(env.plan().dir, resolve_field(spec.identity_file, env));
  o.passphrase = resolve_field(spec.passphrase, env);
  o.password = resolve_field(spec.password, env);
  o.agent = spec.agent;
  o.host_key = spec.host_key.empty() ? "strict" : spec.host_key;
  o.known_hosts = spec.known_hosts.empty() ? "" : util::join_path(env.plan().dir, resolve_field(spec.known_hosts, env));
  // Connect now: an unknown or changed host key, or a refused login, stops the run before
  // anything changes.
  return hosts::connect_ssh(o);
}

}  // namespace cutover::executor
