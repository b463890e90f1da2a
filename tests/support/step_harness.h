// Shared fixtures for step unit tests: a private temp folder per test, and a StepHarness that
// builds a step from the registry and hands it a Context wired to the local host, an artifact
// store in the temp folder and a silent Progress. Reused by every step family's tests:
//
//   StepHarness h;
//   auto step = h.make("file.write", {{"path", h.path("app.conf")}, {"content", "x\n"}});
//   json cp = step->checkpoint(h.ctx());
//   step->apply(h.ctx(), cp);
//   step->undo(h.ctx(), cp);
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "checkpoints/artifact_store.h"
#include "hosts/host.h"
#include "steps/registry.h"
#include "steps/step.h"

namespace cutover::testing {

/// A fresh private folder removed on destruction (kept when $CUTOVER_KEEP_TEMP is set, to
/// look at after a failure).
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "cutover-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  /// `path()/rel`.
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

/// Progress that only remembers the last update.
class NullProgress : public steps::Progress {
 public:
  void update(uint64_t done, uint64_t total, const std::string& what) override {
    last_done = done, last_total = total;
  }
  uint64_t last_done = 0, last_total = 0;
};

/// Builds steps and the Context they run with (see the header comment).
class StepHarness {
 public:
  StepHarness();

  /// Builds a registered step type with `with` = params; throws what the factory throws.
  std::unique_ptr<steps::Step> make(const std::string& type, const nlohmann::json& params,
                                    const std::string& on = "");
  /// The Context for calls on a step (host = the local host unless `use_host` changed it).
  steps::Context& ctx() { return *ctx_; }
  /// The per-test temp folder (also the plan folder).
  const TempDir& dir() const { return dir_; }
  /// `dir()/rel`.
  std::string path(const std::string& rel) const { return dir_ / rel; }
  hosts::Host& local() { return *local_; }
  checkpoints::ArtifactStore& artifacts() { return artifacts_; }
  steps::RunInfo& run() { return run_; }
  /// Lines the step wrote to ctx.log.
  const std::vector<std::string>& log() const { return log_; }

  /// Sets the step's deadline to now + d.
  void set_timeout(std::chrono::milliseconds d);
  /// Registers another host for ctx.host_by_name (e.g. an SSH host in pg/ssh tests).
  void add_host(const std::string& name, std::unique_ptr<hosts::Host> host);
  /// Makes ctx.host the host called `name` ("local" or one added with add_host).
  void use_host(const std::string& name);

 private:
  TempDir dir_;
  std::unique_ptr<hosts::Host> local_;
  std::map<std::string, std::unique_ptr<hosts::Host>> others_;
  checkpoints::ArtifactStore artifacts_;
  steps::RunInfo run_;
  NullProgress progress_;
  std::vector<std::string> log_;
  std::unique_ptr<steps::Context> ctx_;
};

/// Writes a local file with an exact mode (test setup, not through a step).
void write_file(const std::string& path, const std::string& data, mode_t mode = 0644);
/// A local file's bytes.
std::string read_file(const std::string& path);
/// A local file's permission bits (lstat); -1 when absent.
int file_mode(const std::string& path);
/// True when something (file, folder, link) is at `path`.
bool exists(const std::string& path);

}  // namespace cutover::testing
