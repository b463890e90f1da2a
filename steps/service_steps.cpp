// service.stop / service.start / service.restart: bring a service to a state through its
// manager (steps/service_managers.h), remembering the state it had so undo can put it back.
#include <cctype>
#include <string>

#include "hosts/host.h"
#include "steps/families.h"
#include "steps/service_managers.h"
#include "util/error.h"
#include "util/strings.h"

namespace cutover::steps {
namespace {

const char* const kSchema = R"({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "additionalProperties": false,
  "required": ["name"],
  "properties": {
    "manager": {"type": "string", "enum": ["systemd", "compose", "pm2", "command"], "default": "systemd",
                "description": "What runs the service: systemd (systemctl), compose (docker compose), pm2, or command (your own start/stop/status commands)."},
    "name": {"type": "string", "minLength": 1,
             "description": "systemd unit, compose service, or pm2 app name; for manager command a label used in messages and fingerprints."},
    "project_dir": {"type": "string",
                    "description": "compose: the project folder (docker compose --project-directory)."},
    "start": {"type": "string",
              "description": "command: shell command that starts the service; it is run detached in the background (new session, stdin from /dev/null, output to `log`)."},
    "stop": {"type": "string",
             "description": "command: shell command that stops the service; without it the pid in `pidfile` gets SIGTERM."},
    "status": {"type": "string",
               "description": "command: shell command that exits 0 while the service runs; without it the service runs while the pid in `pidfile` is alive."},
    "pidfile": {"type": "string",
                "description": "command: file holding the service's pid, written by the service itself."},
    "log": {"type": "string",
            "description": "command: file receiving the started command's stdout and stderr (default: service-NAME.log in the run folder on the local host, /dev/null on others); its last lines are shown when the service does not come up."},
    "wait": {"type": ["string", "number"],
             "description": "How long to wait for the wanted state before failing (duration, default 30s)."}
  },
  "if": {"properties": {"manager": {"const": "command"}}, "required": ["manager"]},
  "then": {"required": ["start"], "if": {"required": ["status", "stop"]}, "else": {"required": ["pidfile"]}},
  "else": {
    "properties": {"start": {"not": {}}, "stop": {"not": {}}, "status": {"not": {}}, "pidfile": {"not": {}}, "log": {"not": {}}},
    "if": {"properties": {"manager": {"const": "compose"}}, "required": ["manager"]},
    "then": {"required": ["project_dir"]}
  }
})";

enum class Action { stop, start, restart };

const char* verb(Action a) {
  switch (a) {
    case Action::stop: return "stop";
    case Action::start: return "start";
    case Action::restart: return "restart";
  }
  return "?";
}

// Transitions are reported as where they are heading: that is what undo will settle on.
bool is_running(ServiceState s) { return s == ServiceState::running || s == ServiceState::starting; }

class ServiceStep final : public Step {
 public:
  ServiceStep(const StepConfig& config, Action action)
      : action_(action), spec_(parse_service_spec(config.params)) {}

  Preview plan(Context& ctx) override {
    ServiceSpec spec = resolved(ctx);
    Preview p;
    std::string what = std::string(verb(action_)) + " service " + spec.name + " (" +
                       manager_name(spec.manager) + ")" +
                       (ctx.host.is_local() ? "" : " on " + ctx.host.name());
    const std::string wanted = action_ == Action::stop ? "stopped" : "running";
    std::string commands = util::join(service_action_commands(spec, verb(action_)), "\n");
    try {
      ServiceState now = query_service_state(ctx.host, spec, ctx.deadline);
      bool running = is_running(now);
      p.outputs["was_running"] = running;
      p.changes = action_ == Action::restart || (running != (action_ != Action::stop));
      std::string current = running ? "running" : "stopped";
      p.summary = p.changes ? what + ": " + current + " -> " + wanted
                            : what + ": already " + current + " (nothing to do)";
      p.detail = "state: " + current + " -> " + wanted;
      if (p.changes) p.detail += "\nwould run: " + commands;
    } catch (const Interrupted&) {
      throw;
    } catch (const Error& e) {
      std::string why = e.what();
      std::string prefix = "service " + spec.name + " (" + manager_name(spec.manager) + "): ";
      if (util::starts_with(why, prefix)) why = why.substr(prefix.size());
      p.changes = true;
      p.summary = what + ": state unknown: " + why.substr(0, why.find('\n'));
      p.detail = "state unknown: " + why + "\nwould run: " + commands;
    }
    return p;
  }

  json checkpoint(Context& ctx) override {
    ServiceSpec spec = resolved(ctx);
    bool running = is_running(query_service_state(ctx.host, spec, ctx.deadline));
    return {{"was_running", running}, {"manager", manager_name(spec.manager)}, {"name", spec.name}};
  }

  json fingerprint(Context& ctx) override {
    ServiceSpec spec = resolved(ctx);
    bool running = is_running(query_service_state(ctx.host, spec, ctx.deadline));
    return {{resource(ctx, spec), running ? "running" : "stopped"}};
  }

  json apply(Context& ctx, const json& checkpoint) override {
    ServiceSpec spec = resolved(ctx);
    ServiceState now = query_service_state(ctx.host, spec, ctx.deadline);
    bool was_running = is_running(now);
    if (checkpoint.is_object() && checkpoint.contains("was_running"))
      was_running = checkpoint["was_running"].get<bool>();
    switch (action_) {
      case Action::stop:
        if (ensure_service_state(ctx.host, spec, ServiceState::stopped, ctx.deadline, now))
          log(ctx, "stopped " + spec.name);
        break;
      case Action::start:
        if (ensure_service_state(ctx.host, spec, ServiceState::running, ctx.deadline, now))
          log(ctx, "started " + spec.name);
        break;
      case Action::restart:
        run_service_action(ctx.host, spec, now == ServiceState::stopped ? "start" : "restart",
                           ctx.deadline);
        wait_for_service_state(ctx.host, spec, ServiceState::running, ctx.deadline);
        log(ctx, "restarted " + spec.name);
        break;
    }
    return {{"was_running", was_running}};
  }

  void undo(Context& ctx, const json& checkpoint) override {
    if (!checkpoint.is_object() || !checkpoint.contains("was_running")) return;
    ServiceSpec spec = resolved(ctx);
    bool want_running = checkpoint["was_running"].get<bool>();
    if (ensure_service_state(ctx.host, spec,
                             want_running ? ServiceState::running : ServiceState::stopped,
                             ctx.deadline))
      log(ctx, std::string(want_running ? "started " : "stopped ") + spec.name + " again");
  }

 private:
  // Settings that depend on where the step runs: the plan folder as working directory and
  // a log in the run folder, both only meaningful on the local host.
  ServiceSpec resolved(const Context& ctx) const {
    ServiceSpec spec = spec_;
    if (ctx.host.is_local()) {
      spec.cwd = ctx.run.plan_dir;
      if (spec.log.empty() && spec.manager == ServiceManager::command && !ctx.run.run_dir.empty()) {
        std::string safe;
        for (char c : spec.name) safe += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') ? c : '_';
        spec.log = ctx.run.run_dir + "/service-" + safe + ".log";
      }
    }
    if (spec.log.empty()) spec.log = "/dev/null";
    return spec;
  }

  static std::string resource(const Context& ctx, const ServiceSpec& spec) {
    return "service:" + ctx.host.name() + ":" + manager_name(spec.manager) + ":" + spec.name;
  }

  static void log(Context& ctx, const std::string& line) {
    if (ctx.log) ctx.log(line);
  }

  Action action_;
  ServiceSpec spec_;
};

StepType make_type(const char* name, const char* summary,
                   std::unique_ptr<Step> (*make)(const StepConfig&)) {
  StepType t;
  t.name = name;
  t.summary = summary;
  t.undo = "prior running state (was_running) -> started or stopped again, and waited for";
  t.outputs = "was_running: whether the service ran before the step";
  t.params_schema = kSchema;
  t.kind = Kind::change;
  t.remote = true;
  t.resume = Resume::yes;  // each action brings the service to a state: applying again is harmless
  t.shell_params = {"start", "stop", "status"};
  t.make = make;
  return t;
}

}  // namespace

std::vector<StepType> service_step_types() {
  return {
      make_type("service.restart", "Restart a service (systemd, docker compose, pm2 or own commands) and wait until it runs",
                [](const StepConfig& c) -> std::unique_ptr<Step> { return std::make_unique<ServiceStep>(c, Action::restart); }),
      make_type("service.start", "Start a service (systemd, docker compose, pm2 or own commands) and wait until it runs",
                [](const StepConfig& c) -> std::unique_ptr<Step> { return std::make_unique<ServiceStep>(c, Action::start); }),
      make_type("service.stop", "Stop a service (systemd, docker compose, pm2 or own commands) and wait until it has stopped",
                [](const StepConfig& c) -> std::unique_ptr<Step> { return std::make_unique<ServiceStep>(c, Action::stop); }),
  };
}

}  // namespace cutover::steps
