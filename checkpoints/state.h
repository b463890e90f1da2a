// Where runs, releases and artifacts live. StateStore is the backend interface (SPEC §6);
// LocalState keeps them in a folder (default ./.cutover, 0700, files 0600):
//   locks/<plan>.lock  runs/<run-id>/{journal.jsonl,plan.json,report.json,log.txt}
//   artifacts/sha256/<ab>/<hash>  releases.jsonl
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "checkpoints/artifact_store.h"

namespace cutover::checkpoints {

using nlohmann::json;

class StateStore {
 public:
  virtual ~StateStore() = default;
  /// The folder holding locks (and, for the local backend, everything else).
  virtual const std::string& root() const = 0;
  /// Creates runs/<id>/ (0700) and returns its path.
  virtual std::string create_run_dir(const std::string& run_id) = 0;
  /// runs/<id>/ (whether or not it exists).
  virtual std::string run_dir(const std::string& run_id) const = 0;
  /// Every run id, oldest first (ids sort by time).
  virtual std::vector<std::string> run_ids() const = 0;
  /// Appends one release record durably.
  virtual void append_release(const json& release) = 0;
  /// Every release record, oldest first.
  virtual std::vector<json> releases() const = 0;
  virtual ArtifactStore& artifacts() = 0;
};

/// Opens (creating on first use, 0700) the local state folder.
std::unique_ptr<StateStore> open_local_state(const std::string& dir);

/// A new time-sortable run id: 20261124T001122Z-3fa9.
std::string new_run_id();

}  // namespace cutover::checkpoints
