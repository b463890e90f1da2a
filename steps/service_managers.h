// Service managers behind the service.* steps: how to ask whether a service runs, and how
// to start, stop or restart it, with systemd, docker compose, pm2 or plain shell commands.
// Everything goes through Host::exec, so the same code acts on the local machine and on an
// `on:` host over SSH.
//
// Running state, per manager:
//   systemd  `systemctl is-active NAME`: "active"/"reloading" = running; "activating" and
//            "deactivating" are transitions; anything else (inactive, failed, unknown) = stopped.
//   compose  `docker compose --project-directory DIR ps --status running -q NAME`: a container
//            id on stdout = running.
//   pm2      `pm2 jlist`: an entry named NAME with pm2_env.status "online" = running.
//   command  `status` (exit 0 = running), else `pidfile` (the pid in it is alive and not a
//            zombie).
// A manager tool that is absent (exit 127) is an Error saying so ("systemctl not found on
// host local"); plan() reports it as "state unknown".
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "hosts/host.h"
#include "util/cancel.h"

namespace cutover::steps {

enum class ServiceManager { systemd, compose, pm2, command };

/// What a service is doing right now.
enum class ServiceState { running, stopped, starting, stopping };

/// The service a step acts on: the `with` of service.stop/start/restart, validated.
struct ServiceSpec {
  ServiceManager manager = ServiceManager::systemd;
  std::string name;          // unit, compose service, pm2 app, or a label (command)
  std::string project_dir;   // compose
  std::string start;         // command: shell command that starts the service
  std::string stop;          // command: shell command that stops it (else TERM to the pidfile's pid)
  std::string status;        // command: shell command, exit 0 = running
  std::string pidfile;       // command: file holding the service's pid
  std::string log;           // command: where the started command's stdout/stderr go
  std::string cwd;           // local host: folder commands run in (the plan's folder)
  std::chrono::milliseconds wait{30000};  // how long to wait for the wanted state
};

/// Reads and checks a service step's `with`. Throws Error naming the bad parameter
/// (unknown manager, missing name, compose without project_dir, command without start/
/// stop/status/pidfile as needed, malformed wait).
ServiceSpec parse_service_spec(const nlohmann::json& params);

/// "systemd", "compose", "pm2", "command".
std::string manager_name(ServiceManager m);

/// "running", "stopped", "starting", "stopping".
std::string state_name(ServiceState s);

/// Asks the manager for the service's state. Throws Error when the manager's tool is absent
/// or fails in a way that says nothing about the service; Interrupted on SIGINT/deadline.
ServiceState query_service_state(hosts::Host& host, const ServiceSpec& spec,
                                 const util::Deadline& deadline);

/// The command line(s) that perform `action` ("start", "stop", "restart"), as shown by plan()
/// and run by run_service_action(). For the command manager these are shell strings.
std::vector<std::string> service_action_commands(const ServiceSpec& spec, const std::string& action);

/// Runs `action` through the manager (command manager: start in the background with its
/// stdio detached; stop by `stop` or TERM to the pidfile's pid). Throws Error with the tool's
/// output when it fails; Interrupted on SIGINT/deadline. Does not wait for the state.
void run_service_action(hosts::Host& host, const ServiceSpec& spec, const std::string& action,
                        const util::Deadline& deadline);

/// Polls the state until it is `wanted` (running or stopped), up to spec.wait (and the
/// deadline). Throws Error "service NAME (MANAGER) is still S after 30s, expected W" with the
/// tail of the command manager's log; Interrupted on SIGINT/deadline.
void wait_for_service_state(hosts::Host& host, const ServiceSpec& spec, ServiceState wanted,
                            const util::Deadline& deadline);

/// Brings the service to `wanted` (running or stopped) if it is not there yet, then waits.
/// `current` is the state just read, if the caller has it (saves a query). Returns true when
/// it had to act.
bool ensure_service_state(hosts::Host& host, const ServiceSpec& spec, ServiceState wanted,
                          const util::Deadline& deadline,
                          std::optional<ServiceState> current = std::nullopt);

}  // namespace cutover::steps
