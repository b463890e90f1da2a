#include "steps/registry.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "steps/families.h"
#include "steps/plugin_step.h"
#include "util/error.h"
#include "util/strings.h"

namespace cutover::steps {

const std::vector<StepType>& registry() {
  static const std::vector<StepType> kTypes = [] {
    std::vector<StepType> all;
    for (auto family : {file_step_types, config_step_types, shell_step_types, check_step_types,
                        pg_step_types, transfer_step_types, service_step_types, http_step_types,
                        git_step_types, snapshot_step_types}) {
      for (auto& t : family()) all.push_back(std::move(t));
    }
    std::sort(all.begin(), all.end(),
              [](const StepType& a, const StepType& b) { return a.name < b.name; });
    return all;
  }();
  return kTypes;
}

const StepType* find_step_type(const std::string& name) {
  for (const auto& t : registry())
    if (t.name == name) return &t;
  return nullptr;
}

std::optional<std::vector<std::string>> declared_outputs(const StepType& type) {
  if (type.outputs == "none") return std::vector<std::string>{};
  if (type.outputs.empty()) return std::nullopt;
  std::vector<std::string> keys;
  for (const auto& item : util::split(type.outputs, ';')) {
    std::string key = util::trim(item.substr(0, item.find(':')));
    bool word = !key.empty() && !std::isdigit(static_cast<unsigned char>(key[0])) &&
                std::all_of(key.begin(), key.end(), [](char c) {
                  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
                });
    if (!word) return std::nullopt;
    keys.push_back(key);
  }
  return keys;
}

std::string find_plugin(const std::string& type, const std::string& plan_dir) {
  // The type becomes part of a file name: no folders, no hidden or relative names.
  if (type.empty() || type[0] == '.' || type[0] == '-' || type.find('/') != std::string::npos ||
      type.find('\0') != std::string::npos)
    return "";
  const std::string exe = "cutover-step-" + type;
  auto executable = [](const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
  };
  std::string local = (plan_dir.empty() ? std::string(".") : plan_dir) + "/plugins/" + exe;
  if (executable(local)) return local;
  const char* path = std::getenv("PATH");
  for (const auto& dir : util::split(path ? path : "", ':')) {
    if (dir.empty()) continue;
    std::string p = dir + "/" + exe;
    if (executable(p)) return p;
  }
  return "";
}

std::unique_ptr<Step> make_step(const StepConfig& config, const std::string& plan_dir) {
  if (const StepType* t = find_step_type(config.type)) return t->make(config);
  std::string plugin = find_plugin(config.type, plan_dir);
  if (!plugin.empty()) return make_plugin_step(config, plugin);
  throw Error("unknown step type '" + config.type + "'");
}

}  // namespace cutover::steps
