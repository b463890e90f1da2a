// End-to-end test support: a temp folder per test (kept on failure for inspection), the real
// `cutover` binary run as a subprocess, and snapshots of files (bytes + mode) to compare
// before and after a rollback.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cutover::test {

/// A fresh temp folder; removed at the end unless the test failed (or CUTOVER_KEEP_TMP is set).
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  /// path()/rel
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

struct CliResult {
  int exit_code = -1;
  int signal = 0;
  std::string out;
  std::string err;
  std::string all() const { return out + err; }
};

struct CliOptions {
  std::string cwd;
  std::map<std::string, std::string> env;
  std::string stdin_data;
  int timeout_s = 300;
};

/// Options that run the binary in `cwd` with `env` added.
CliOptions at(const std::string& cwd, std::map<std::string, std::string> env = {});

/// Runs the cutover binary built with the tests.
CliResult run_cutover(const std::vector<std::string>& args, const CliOptions& opts = {});

/// Starts cutover in the background (its own process group); returns its pid.
int spawn_cutover(const std::vector<std::string>& args, const CliOptions& opts,
                  const std::string& out_file);

/// Waits for a spawned process; returns its exit code (or 128+signal).
int wait_pid(int pid);

/// Writes a file (parents created) and sets its mode.
void write_file(const std::string& path, const std::string& data, unsigned mode = 0644);
std::string read_file(const std::string& path);
bool file_exists(const std::string& path);
unsigned file_mode(const std::string& path);

/// Bytes and mode of every regular file under `dir` (relative paths), for before/after checks.
struct FileState {
  std::string bytes;
  unsigned mode = 0;
  bool operator==(const FileState& o) const { return bytes == o.bytes && mode == o.mode; }
};
std::map<std::string, FileState> snapshot_tree(const std::string& dir);

/// Every record of a run's journal (the CRC prefix stripped), in order.
std::vector<nlohmann::json> journal_records(const std::string& state_dir, const std::string& run_id);
/// The only (or newest) run id in a state folder.
std::string latest_run(const std::string& state_dir);
/// Every file's bytes under `dir` concatenated (to search for leaked secrets).
std::string all_bytes_under(const std::string& dir);

/// Polls until `pred` holds or `timeout_ms` passes.
bool wait_until(const std::function<bool()>& pred, int timeout_ms = 10000);

}  // namespace cutover::test
