#include "executor/plan_inputs.h"

#include <filesystem>
#include <memory>

#include "executor/interpolate.h"
#include "executor/plan_json.h"
#include "steps/plan_input.h"
#include "util/error.h"
#include "util/fs.h"

namespace cutover::executor {

namespace fs = std::filesystem;
using nlohmann::json;

std::string input_key(const std::string& plan_dir, const std::string& path) {
  std::string base_dir = plan_dir.empty() ? "." : plan_dir;
  fs::path p = fs::absolute(util::join_path(base_dir, path)).lexically_normal();
  fs::path base = fs::absolute(base_dir).lexically_normal();
  fs::path rel = p.lexically_relative(base);
  if (!rel.empty() && *rel.begin() != ".." && rel != ".") return rel.string();
  return p.string();
}

std::vector<StepInput> step_inputs(const Plan& plan) {
  // Only what can be known before the run: vars, env and plan references. A secret, a step
  // output or ${run.dir} makes the interpolation throw, and the path is then read at run time.
  Scope scope;
  scope.vars = &plan.vars;
  scope.plan = {{"name", plan.name}, {"dir", plan.dir}};
  std::vector<StepInput> out;
  auto add = [&](const StepSpec& s, const std::string& param, const json& value) {
    if (!value.is_string()) return;
    try {
      json v = interpolate_string(value.get<std::string>(), scope, SecretMode::reveal);
      if (!v.is_string() || v.get<std::string>().empty()) return;
      out.push_back({s.id, param, util::join_path(plan.dir, v.get<std::string>())});
    } catch (const std::exception&) {
    }
  };
  for (const auto& s : plan.steps) {
    if (!s.with.is_object()) continue;
    if (s.type == "file.write") {
      for (const char* key : {"template", "source"})
        if (s.with.contains(key)) add(s, key, s.with[key]);
    } else if (s.type == "pg.sql") {
      for (const char* key : {"up", "down", "verify"}) {
        const json& v = s.with.value(key, json());
        if (v.is_object() && v.contains("file")) add(s, std::string(key) + ".file", v["file"]);
      }
    }
  }
  return out;
}

void read_step_inputs(Plan& plan, const FileReader& read,
                      const std::function<bool(const std::string&)>& versioned) {
  for (const auto& in : step_inputs(plan)) {
    std::string key = input_key(plan.dir, in.path);
    if (plan.input_texts.count(key)) continue;
    try {
      plan.input_texts[key] = read ? read(in.path) : steps::read_local_input(plan.dir, in.path);
    } catch (const std::exception& e) {
      if (versioned && versioned(in.path))
        throw Error("step " + in.step + ": with." + in.param + ": " + e.what(),
                    "the plan at that revision names a file the revision does not hold");
    }
  }
}

void freeze_inputs(Plan& plan, checkpoints::ArtifactStore& store) {
  for (const auto& [key, text] : plan.input_texts) plan.frozen_inputs[key] = store.put(text, "plan input");
}

namespace {

std::string read_input(const Plan& plan, const checkpoints::ArtifactStore* store, const std::string& path) {
  std::string key = input_key(plan.dir, path);
  if (store) {
    auto f = plan.frozen_inputs.find(key);
    if (f != plan.frozen_inputs.end()) {
      try {
        return store->get(f->second);
      } catch (const Error& e) {
        throw Error(key + " (the copy frozen when the run started): " + e.what(), e.hint());
      }
    }
  }
  auto t = plan.input_texts.find(key);
  if (t != plan.input_texts.end()) return t->second;
  return steps::read_local_input(plan.dir, path);
}

}  // namespace

FileReader input_reader(const Plan& plan, const checkpoints::ArtifactStore* store) {
  return [&plan, store](const std::string& path) { return read_input(plan, store, path); };
}

FileReader run_input_reader(checkpoints::StateStore& state, const std::string& run_id) {
  std::string file = state.run_dir(run_id) + "/plan.json";
  auto plan = std::make_shared<Plan>(plan_from_json(json::parse(util::read_file(file), nullptr, false)));
  const checkpoints::ArtifactStore* store = &state.artifacts();
  return [plan, store](const std::string& path) { return read_input(*plan, store, path); };
}

}  // namespace cutover::executor
