// Files a plan names for its steps to read (file.write `template:`/`source:`, pg.sql
// `{file: …}`). The executor freezes them when a run starts and hands steps a reader of the
// frozen copies (Context::read_input); without one a step reads this machine's file system.
#pragma once

#include <string>

#include "steps/step.h"

namespace cutover::steps {

/// The bytes of `path` (absolute, or relative to the plan folder) as the run sees them: through
/// ctx.read_input when set, else read_local_input. Throws Error naming the file.
std::string read_plan_input(Context& ctx, const std::string& path);

/// The local file `path` (absolute, or relative to `plan_dir`; "." when empty). Throws Error
/// "<absolute path> does not exist" when it is absent, or naming it when it cannot be read.
std::string read_local_input(const std::string& plan_dir, const std::string& path);

}  // namespace cutover::steps
