// Wiring of plan hosts to the SSH implementation (replaced once hosts/ssh_host.h exists).
#include "executor/run_env.h"
#include "util/error.h"

namespace cutover::executor {

std::unique_ptr<hosts::Host> open_ssh_host(const HostSpec& spec, const RunEnv& env) {
  throw Error("host '" + spec.name + "': SSH hosts are not available in this build");
}

}  // namespace cutover::executor
