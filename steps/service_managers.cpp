#include "steps/service_managers.h"

#include <algorithm>
#include <thread>

#include "util/error.h"
#include "util/strings.h"
#include "util/units.h"

namespace cutover::steps {

using nlohmann::json;
using std::chrono::milliseconds;

namespace {

std::string label(const ServiceSpec& spec) {
  return "service " + spec.name + " (" + manager_name(spec.manager) + ")";
}

// "2s", "500ms", "1m30s": as a plan would write it (format_duration prints "2.0s").
std::string plan_duration(std::chrono::milliseconds d) {
  long long ms = d.count();
  if (ms % 1000 != 0 || ms < 1000) return ms < 1000 ? std::to_string(ms) + "ms" : util::format_duration(d);
  long long s = ms / 1000;
  if (s < 60) return std::to_string(s) + "s";
  if (s % 60 == 0 && s < 3600) return std::to_string(s / 60) + "m";
  return util::format_duration(d);
}

// The earlier of the step's deadline and `cap` from now: a single manager command must not
// eat the whole step timeout when it hangs.
util::Deadline capped(const util::Deadline& deadline, milliseconds cap) {
  util::Deadline d = util::Deadline::after(cap);
  if (deadline.at < d.at) d.at = deadline.at;
  return d;
}

[[noreturn]] void throw_interrupted(const std::string& what, const util::Deadline& deadline) {
  if (util::interrupted()) throw Interrupted(what + ": interrupted");
  throw Interrupted(what + ": step timed out");
}

hosts::ExecResult exec(hosts::Host& host, const ServiceSpec& spec, hosts::ExecRequest req,
                       const util::Deadline& step_deadline, milliseconds cap) {
  req.deadline = capped(step_deadline, cap);
  if (req.cwd.empty() && host.is_local()) req.cwd = spec.cwd;
  hosts::ExecResult r = host.exec(req);
  std::string shown = req.argv.empty() ? req.shell : util::shell_join(req.argv);
  if (r.interrupted || (r.timed_out && step_deadline.expired()))
    throw_interrupted(label(spec) + ": " + shown, step_deadline);
  if (r.timed_out)
    throw Error(label(spec) + ": `" + shown + "` timed out after " +
                plan_duration(cap) + " on host " + host.name());
  if (!req.argv.empty() && r.exit_code == 127 && r.signal == 0)
    throw Error(label(spec) + ": " + req.argv[0] + " not found on host " + host.name());
  return r;
}

hosts::ExecRequest argv_request(std::vector<std::string> argv) {
  hosts::ExecRequest req;
  req.argv = std::move(argv);
  return req;
}

hosts::ExecRequest shell_request(std::string command) {
  hosts::ExecRequest req;
  req.shell = std::move(command);
  return req;
}

std::string output_of(const hosts::ExecResult& r) {
  std::string text = util::trim(r.err.empty() ? r.out : r.err);
  if (text.size() > 2000) text = text.substr(text.size() - 2000);
  return text.empty() ? r.describe() : r.describe() + ": " + text;
}

std::vector<std::string> compose_argv(const ServiceSpec& spec, std::vector<std::string> tail) {
  std::vector<std::string> argv{"docker", "compose", "--project-directory", spec.project_dir};
  argv.insert(argv.end(), tail.begin(), tail.end());
  return argv;
}

// Alive and not a zombie: a daemon whose parent never reaps it still answers kill -0.
std::string pid_alive_command(const std::string& pidfile) {
  std::string q = util::shell_quote(pidfile);
  return "pid=$(cat " + q + " 2>/dev/null) && [ -n \"$pid\" ] && kill -0 \"$pid\" 2>/dev/null"
         " && ! grep -qs '^State:[[:space:]]*Z' /proc/\"$pid\"/status";
}

std::string start_command(const ServiceSpec& spec) {
  // Detached: new session, stdin from /dev/null, stdout/stderr to the log, so that neither
  // the step nor the SSH channel waits on a daemon holding our pipes open.
  std::string inner = "/bin/sh -c " + util::shell_quote(spec.start) + " </dev/null >>" +
                      util::shell_quote(spec.log.empty() ? "/dev/null" : spec.log) + " 2>&1 &";
  return "if command -v setsid >/dev/null 2>&1; then setsid " + inner + " else " + inner + " fi";
}

std::string stop_command(const ServiceSpec& spec) {
  if (!spec.stop.empty()) return spec.stop;
  return "kill -TERM \"$(cat " + util::shell_quote(spec.pidfile) + ")\"";
}

ServiceState systemd_state(hosts::Host& host, const ServiceSpec& spec, const util::Deadline& dl) {
  auto r = exec(host, spec, argv_request({"systemctl", "is-active", spec.name}), dl, milliseconds(15000));
  std::string s = util::trim(r.out);
  if (s == "active" || s == "reloading") return ServiceState::running;
  if (s == "activating") return ServiceState::starting;
  if (s == "deactivating") return ServiceState::stopping;
  if (s == "inactive" || s == "failed" || s == "unknown" || s == "maintenance")
    return ServiceState::stopped;
  throw Error(label(spec) + ": systemctl is-active " + spec.name + ": " + output_of(r));
}

ServiceState compose_state(hosts::Host& host, const ServiceSpec& spec, const util::Deadline& dl) {
  auto r = exec(host, spec, argv_request(compose_argv(spec, {"ps", "--status", "running", "-q", spec.name})),
                dl, milliseconds(30000));
  if (!r.ok()) throw Error(label(spec) + ": docker compose ps: " + output_of(r));
  return util::trim(r.out).empty() ? ServiceState::stopped : ServiceState::running;
}

ServiceState pm2_state(hosts::Host& host, const ServiceSpec& spec, const util::Deadline& dl) {
  auto r = exec(host, spec, argv_request({"pm2", "jlist"}), dl, milliseconds(30000));
  if (!r.ok()) throw Error(label(spec) + ": pm2 jlist: " + output_of(r));
  // pm2 may print banners or warnings before the JSON array.
  size_t at = r.out.find('[');
  json list = json::parse(at == std::string::npos ? std::string() : r.out.substr(at), nullptr, false);
  if (!list.is_array()) throw Error(label(spec) + ": pm2 jlist did not print a JSON array");
  for (const auto& app : list) {
    if (!app.is_object() || app.value("name", json()) != spec.name) continue;
    std::string status = app.value("pm2_env", json::object()).value("status", "");
    if (status == "online") return ServiceState::running;
    if (status == "launching") return ServiceState::starting;
    if (status == "stopping") return ServiceState::stopping;
  }
  return ServiceState::stopped;
}

ServiceState command_state(hosts::Host& host, const ServiceSpec& spec, const util::Deadline& dl) {
  std::string cmd = spec.status.empty() ? pid_alive_command(spec.pidfile) : spec.status;
  auto r = exec(host, spec, shell_request(cmd), dl, milliseconds(15000));
  if (r.signal != 0) throw Error(label(spec) + ": status command " + output_of(r));
  return r.exit_code == 0 ? ServiceState::running : ServiceState::stopped;
}

std::string log_tail(hosts::Host& host, const ServiceSpec& spec, const util::Deadline& dl) {
  if (spec.manager != ServiceManager::command || spec.log.empty() || spec.log == "/dev/null")
    return "";
  hosts::ExecRequest req = argv_request({"tail", "-n", "20", "--", spec.log});
  req.deadline = capped(dl, milliseconds(5000));
  hosts::ExecResult r = host.exec(req);
  std::string tail = util::trim(r.out);
  return r.ok() && !tail.empty() ? "\nlast lines of " + spec.log + ":\n" + tail : "";
}

}  // namespace

std::string manager_name(ServiceManager m) {
  switch (m) {
    case ServiceManager::systemd: return "systemd";
    case ServiceManager::compose: return "compose";
    case ServiceManager::pm2: return "pm2";
    case ServiceManager::command: return "command";
  }
  return "?";
}

std::string state_name(ServiceState s) {
  switch (s) {
    case ServiceState::running: return "running";
    case ServiceState::stopped: return "stopped";
    case ServiceState::starting: return "starting";
    case ServiceState::stopping: return "stopping";
  }
  return "?";
}

ServiceSpec parse_service_spec(const json& params) {
  if (!params.is_object()) throw Error("service step: `with` must be a map");
  auto str = [&](const char* key) -> std::string {
    if (!params.contains(key) || params[key].is_null()) return "";
    if (!params[key].is_string()) throw Error(std::string("service step: `") + key + "` must be a string");
    return params[key].get<std::string>();
  };
  ServiceSpec spec;
  std::string manager = str("manager");
  if (manager.empty() || manager == "systemd") spec.manager = ServiceManager::systemd;
  else if (manager == "compose") spec.manager = ServiceManager::compose;
  else if (manager == "pm2") spec.manager = ServiceManager::pm2;
  else if (manager == "command") spec.manager = ServiceManager::command;
  else
    throw Error("service step: unknown manager '" + manager + "'",
                "use one of systemd, compose, pm2, command");
  spec.name = str("name");
  if (spec.name.empty()) throw Error("service step: `name` is required");
  spec.project_dir = str("project_dir");
  spec.start = str("start");
  spec.stop = str("stop");
  spec.status = str("status");
  spec.pidfile = str("pidfile");
  spec.log = str("log");
  if (params.contains("wait") && !params["wait"].is_null()) {
    const json& w = params["wait"];
    std::optional<milliseconds> d;
    if (w.is_number()) d = milliseconds(static_cast<long long>(w.get<double>() * 1000));
    else if (w.is_string()) d = util::parse_duration(w.get<std::string>());
    if (!d) throw Error("service step: `wait` is not a duration (500ms, 30s, 2m)");
    spec.wait = *d;
  }
  if (spec.manager == ServiceManager::compose && spec.project_dir.empty())
    throw Error("service step: manager compose needs `project_dir`");
  if (spec.manager == ServiceManager::command) {
    if (spec.start.empty()) throw Error("service step: manager command needs `start`");
    if (spec.status.empty() && spec.pidfile.empty())
      throw Error("service step: manager command needs `status` or `pidfile` to tell whether it runs");
    if (spec.stop.empty() && spec.pidfile.empty())
      throw Error("service step: manager command needs `stop` or `pidfile` to stop it");
  } else {
    for (const char* k : {"start", "stop", "status", "pidfile", "log"})
      if (!str(k).empty())
        throw Error(std::string("service step: `") + k + "` is only for manager command");
  }
  return spec;
}

ServiceState query_service_state(hosts::Host& host, const ServiceSpec& spec,
                                 const util::Deadline& deadline) {
  if (util::interrupted() || deadline.expired()) throw_interrupted(label(spec), deadline);
  switch (spec.manager) {
    case ServiceManager::systemd: return systemd_state(host, spec, deadline);
    case ServiceManager::compose: return compose_state(host, spec, deadline);
    case ServiceManager::pm2: return pm2_state(host, spec, deadline);
    case ServiceManager::command: return command_state(host, spec, deadline);
  }
  return ServiceState::stopped;
}

namespace {

// The request that performs `action` (command manager: start or stop only).
hosts::ExecRequest action_request(const ServiceSpec& spec, const std::string& action) {
  switch (spec.manager) {
    case ServiceManager::systemd: return argv_request({"systemctl", action, spec.name});
    case ServiceManager::compose:
      return argv_request(action == "start" ? compose_argv(spec, {"up", "-d", spec.name})
                                            : compose_argv(spec, {action, spec.name}));
    case ServiceManager::pm2: return argv_request({"pm2", action, spec.name});
    case ServiceManager::command: break;
  }
  return shell_request(action == "start" ? start_command(spec) : stop_command(spec));
}

}  // namespace

std::vector<std::string> service_action_commands(const ServiceSpec& spec, const std::string& action) {
  if (spec.manager == ServiceManager::command) {
    if (action == "start") return {spec.start};
    if (action == "stop") return {stop_command(spec)};
    return {stop_command(spec), spec.start};
  }
  return {util::shell_join(action_request(spec, action).argv)};
}

void run_service_action(hosts::Host& host, const ServiceSpec& spec, const std::string& action,
                        const util::Deadline& deadline) {
  if (spec.manager == ServiceManager::command && action == "restart") {
    if (query_service_state(host, spec, deadline) != ServiceState::stopped) {
      run_service_action(host, spec, "stop", deadline);
      wait_for_service_state(host, spec, ServiceState::stopped, deadline);
    }
    run_service_action(host, spec, "start", deadline);
    return;
  }
  const milliseconds cap = std::max(spec.wait, milliseconds(10000)) + milliseconds(5000);
  hosts::ExecRequest req = action_request(spec, action);
  hosts::ExecResult r = exec(host, spec, req, deadline, cap);
  if (!r.ok()) {
    std::string shown = service_action_commands(spec, action).back();
    throw Error(label(spec) + ": " + action + " failed on host " + host.name() + ": `" + shown +
                "`: " + output_of(r));
  }
}

// Errors here carry no hint of their own: the runner then matches the message (with the
// log's tail) against the known-errors base, which knows "Address already in use" and co.
void wait_for_service_state(hosts::Host& host, const ServiceSpec& spec, ServiceState wanted,
                            const util::Deadline& deadline) {
  const auto start = std::chrono::steady_clock::now();
  const auto until = start + spec.wait;
  milliseconds pause(100);
  for (;;) {
    ServiceState now = query_service_state(host, spec, deadline);
    if (now == wanted) return;
    if (std::chrono::steady_clock::now() >= until)
      throw Error(label(spec) + " on host " + host.name() + " is still " + state_name(now) +
                      " after " + plan_duration(spec.wait) + ", expected " +
                      state_name(wanted) + log_tail(host, spec, deadline));
    // Poll often at first (most services settle within a second), then back off.
    auto left = std::chrono::duration_cast<milliseconds>(until - std::chrono::steady_clock::now());
    auto sleep_for = std::min(pause, std::max(left, milliseconds(1)));
    auto wake = std::chrono::steady_clock::now() + sleep_for;
    while (std::chrono::steady_clock::now() < wake) {
      if (util::interrupted() || deadline.expired()) throw_interrupted(label(spec), deadline);
      std::this_thread::sleep_for(milliseconds(20));
    }
    pause = std::min(pause * 2, milliseconds(1000));
  }
}

bool ensure_service_state(hosts::Host& host, const ServiceSpec& spec, ServiceState wanted,
                          const util::Deadline& deadline, std::optional<ServiceState> current) {
  ServiceState now = current ? *current : query_service_state(host, spec, deadline);
  if (now == wanted) return false;
  bool to_running = wanted == ServiceState::running;
  // A transition already heading our way only needs waiting for.
  bool heading = (to_running && now == ServiceState::starting) ||
                 (!to_running && now == ServiceState::stopping);
  if (!heading) run_service_action(host, spec, to_running ? "start" : "stop", deadline);
  wait_for_service_state(host, spec, wanted, deadline);
  return true;
}

}  // namespace cutover::steps
