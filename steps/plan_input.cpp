#include "steps/plan_input.h"

#include "util/error.h"
#include "util/fs.h"

namespace cutover::steps {

std::string read_plan_input(Context& ctx, const std::string& path) {
  if (ctx.read_input) return ctx.read_input(path);
  return read_local_input(ctx.run.plan_dir, path);
}

std::string read_local_input(const std::string& plan_dir, const std::string& path) {
  std::string file = util::join_path(plan_dir.empty() ? "." : plan_dir, path);
  if (!util::exists(file)) throw Error(file + " does not exist");
  return util::read_file(file);
}

}  // namespace cutover::steps
