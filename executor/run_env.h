// What a run needs around its steps: the plan's secrets (resolved once, registered for
// masking), its hosts (one connection per host per run, reused), the interpolation scope
// and the factory that turns a StepSpec or a journaled record into a Step.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "checkpoints/state.h"
#include "executor/interpolate.h"
#include "executor/plan.h"
#include "hosts/host.h"
#include "steps/registry.h"

namespace cutover::executor {

class RunEnv {
 public:
  /// Resolves every secret of the plan (throws Fatal(usage) naming a missing one).
  explicit RunEnv(const Plan& plan);
  ~RunEnv();

  /// The host a step runs on ("" or "local" = this machine); connects on first use.
  hosts::Host& host(const std::string& name);
  /// Connects every host the plan's steps use, so that host-key and auth problems stop the
  /// run before anything changes. Throws Error.
  void connect_all();

  /// The scope for interpolation, with the outputs of completed steps (referenced, not
  /// copied: `outputs` must outlive the scope).
  Scope scope(const std::map<std::string, json>& outputs, const std::string& run_id,
              const std::string& run_dir, bool unknown_outputs_ok = false) const;
  Scope scope(std::map<std::string, json>&&, const std::string&, const std::string&,
              bool = false) const = delete;

  /// Resolved `with` of a step twice: for the step (secrets revealed) and for the record
  /// (secrets as references).
  struct Resolved {
    json real;
    json recorded;
  };
  Resolved resolve(const StepSpec& spec, const Scope& scope) const;
  /// The real parameters of a journaled step (its recorded params, secrets filled in again).
  json reveal(const std::string& type, const json& recorded) const;

  /// The secret's value; throws Error if the plan has no such secret.
  std::string secret(const std::string& name) const;

  const Plan& plan() const { return plan_; }

 private:
  const Plan& plan_;
  std::map<std::string, std::string> secrets_;
  std::map<std::string, std::unique_ptr<hosts::Host>> hosts_;
};

/// `with` keys of a type that are shell strings (empty for unknown/plugin types).
std::vector<std::string> shell_keys_of(const std::string& type);

/// Opens an SSH connection to a plan host (hosts/ssh_host.h), with secrets resolved.
std::unique_ptr<hosts::Host> open_ssh_host(const HostSpec& spec, const RunEnv& env);

}  // namespace cutover::executor
