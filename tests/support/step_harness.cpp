#include "tests/support/step_harness.h"

#include <sys/stat.h>

#include <cstdlib>

#include "steps/plan_input.h"
#include "util/error.h"
#include "util/fs.h"

namespace cutover::testing {

TempDir::TempDir(const std::string& prefix) : path_(util::make_temp_dir(prefix)) {}

TempDir::~TempDir() {
  if (std::getenv("CUTOVER_KEEP_TEMP")) return;
  try {
    util::remove_all(path_);
  } catch (...) {
    // A test that made a folder unreadable must not abort the run here.
  }
}

StepHarness::StepHarness()
    : dir_("cutover-step"), local_(hosts::make_local_host()), artifacts_(dir_ / "state/artifacts") {
  ctx_.reset(new steps::Context{*local_, artifacts_, run_, progress_, util::Deadline{}, nullptr,
                                nullptr, nullptr, nullptr});
  run_.run_id = "20260101T000000Z-test";
  run_.run_dir = dir_ / "state/runs/test";
  run_.plan_name = "test";
  run_.plan_dir = dir_.path();
  run_.state_dir = dir_ / "state";
  util::make_dirs(run_.run_dir, 0700);
  ctx_->host_by_name = [this](const std::string& name) -> hosts::Host& {
    if (name == "local") return *local_;
    auto it = others_.find(name);
    if (it == others_.end()) throw Error("unknown host '" + name + "'");
    return *it->second;
  };
  ctx_->log = [this](const std::string& line) { log_.push_back(line); };
  // Plan inputs (templates, sources, SQL files) from the file system, relative to the plan
  // folder; a test may set ctx().read_input to stand for inputs frozen by a run.
  ctx_->read_input = [this](const std::string& path) { return steps::read_local_input(run_.plan_dir, path); };
}

std::unique_ptr<steps::Step> StepHarness::make(const std::string& type,
                                               const nlohmann::json& params,
                                               const std::string& on) {
  const steps::StepType* t = steps::find_step_type(type);
  if (!t) throw Error("unknown step type '" + type + "'");
  steps::StepConfig config{"test-step", type, on, params};
  return t->make(config);
}

void StepHarness::set_timeout(std::chrono::milliseconds d) {
  ctx_->deadline = util::Deadline::after(d);
}

void StepHarness::add_host(const std::string& name, std::unique_ptr<hosts::Host> host) {
  others_[name] = std::move(host);
}

void StepHarness::use_host(const std::string& name) {
  // Context holds a reference: rebuild it around the chosen host, keeping the callbacks.
  const steps::Context& old = *ctx_;
  ctx_.reset(new steps::Context{old.host_by_name(name), artifacts_, run_, progress_, old.deadline,
                                old.host_by_name, old.log, old.render, old.read_input});
}

void write_file(const std::string& path, const std::string& data, mode_t mode) {
  util::write_file_atomic(path, data, mode);
}

std::string read_file(const std::string& path) { return util::read_file(path); }

int file_mode(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

bool exists(const std::string& path) { return util::exists(path); }

}  // namespace cutover::testing
