// The plan model: what the loader (executor/loader.h) builds from a YAML file, and what the
// runner executes. Values under `with`, `vars`, hosts... are kept as JSON with YAML 1.2 typing,
// *uninterpolated*; the runner interpolates each step's `with` just before the step runs.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace cutover::executor {

using nlohmann::json;

/// A position in a plan file (1-based).
struct SourceLoc {
  int line = 0;
  int col = 0;
};

/// One problem found in a plan: printed as `FILE:LINE:COL: PATH: MESSAGE`.
struct Diagnostic {
  std::string file;
  SourceLoc loc;
  std::string path;     // "steps[3].type", "vars.app_dir", "" for file-level problems
  std::string message;
  /// The text of source line `loc.line` of `file`, for the excerpt format_diagnostics prints;
  /// filled by the loader (empty when there is no line to show).
  std::string line_text;
  /// The one-line form above (no source excerpt).
  std::string str() const;
};

/// Thrown by the loader with every problem found (SPEC §3: all reported at once).
struct PlanInvalid : std::runtime_error {
  explicit PlanInvalid(std::vector<Diagnostic> d);
  std::vector<Diagnostic> diagnostics;
};

enum class RollbackMode { automatic, none };

struct SecretSource {
  std::string env;   // one of env / file
  std::string file;
};

struct HostSpec {
  std::string name;
  std::string address;
  int port = 22;
  std::string user;
  std::string identity_file;
  std::string passphrase;      // may hold ${secrets.X}
  bool agent = false;
  std::string password;        // may hold ${secrets.X}
  std::string host_key = "strict";  // strict | accept-new | SHA256:<fingerprint>
  std::string known_hosts;     // default ~/.ssh/known_hosts
  SourceLoc loc;
};

struct StepSpec {
  std::string id;
  std::string type;
  std::string on;              // host name; empty = local
  std::string description;
  json with = json::object();  // uninterpolated
  std::optional<std::chrono::milliseconds> timeout;
  int retries = 0;
  std::chrono::milliseconds retry_delay{2000};
  RollbackMode rollback = RollbackMode::automatic;
  SourceLoc loc;
  size_t index = 0;            // position in steps[]
};

struct Plan {
  std::string file;            // path as given
  std::string dir;             // folder of the plan file (absolute)
  std::string source;          // the file's text
  int version = 1;
  std::string name;
  std::string description;
  std::string profile;         // applied profile, "" if none
  json vars = json::object();  // after profile and --var/--vars-file, uninterpolated
  std::map<std::string, SecretSource> secrets;
  std::map<std::string, HostSpec> hosts;
  std::chrono::milliseconds default_timeout{30 * 60 * 1000};
  int default_retries = 0;
  std::chrono::milliseconds default_retry_delay{2000};
  std::vector<StepSpec> steps;
  /// Files the plan reads besides itself (templates, SQL files, vars files, sources): their
  /// contents go into the plan digest.
  std::vector<std::string> inputs;
  /// Files steps read from the plan's folder when they run (file.write `template:`/`source:`,
  /// pg.sql `{file: …}`), as they were when the plan was loaded (from git at --rev): key (the
  /// path relative to `dir`, or absolute outside it; see plan_inputs.h) -> bytes. Filled by
  /// read_step_inputs; not serialized.
  std::map<std::string, std::string> input_texts;
  /// The same files frozen in the artifact store when the run started: key -> artifact id.
  /// Kept in the run's plan.json, so resume and rollback read exactly what the run read.
  std::map<std::string, std::string> frozen_inputs;
  /// JSON pointer ("/steps/2/with/path") -> where it is in the file, for run-time errors.
  std::map<std::string, SourceLoc> locations;
};

/// How the plan file is read: from the work tree, or from git at a revision.
struct LoadOptions {
  std::string profile;
  std::vector<std::pair<std::string, std::string>> var_overrides;  // --var KEY=VALUE
  std::vector<std::string> vars_files;                              // --vars-file FILE
  /// Reads a file the plan refers to (the plan itself, vars files, templates). Defaults to the
  /// local file system; `--rev` substitutes a reader of git blobs.
  std::function<std::string(const std::string& path)> read_file;
};

}  // namespace cutover::executor
