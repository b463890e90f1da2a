// What the file and config steps share: reading `with` parameters, resolving a target path on
// the step's host, and capturing / restoring a file's exact prior state for undo.
//
// A captured file state (kept in the journal as part of a step's checkpoint) is JSON:
//   {"path": P, "state": "absent"}                                  nothing was there
//   {"path": P, "state": "file", "mode": "0644", "uid": U, "gid": G,
//    "sha256": H, "size": N, "inline": BASE64}  (files up to 64 KiB)  a regular file
//   {"path": P, "state": "file", ..., "artifact": "sha256:..."}     larger files, and files
//                                      holding a registered secret, in the artifact store
// "uid"/"gid" are left out when the host does not report owners (and in checkpoints written
// before owners were recorded); the file is then restored with the owner it has.
// Restoring is idempotent: a file already holding the saved bytes, mode and owner is not
// rewritten (only its owner and mode are set when they differ).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hosts/host.h"
#include "steps/step.h"

namespace cutover::steps {

/// `with.KEY` as a string; throws Error "TYPE: with.KEY is required" when absent and
/// `required`, or "must be a string" when of another type. `def` when absent.
std::string string_param(const json& with, const std::string& type, const std::string& key,
                         bool required, const std::string& def = "");

/// `with.KEY` as a bool (`def` when absent); throws Error for another type.
bool bool_param(const json& with, const std::string& type, const std::string& key, bool def);

/// `with.KEY` as a list of strings (a single string counts as a one-element list).
std::vector<std::string> string_list_param(const json& with, const std::string& type,
                                           const std::string& key);

/// A permission mode from "0640"/"640" (octal text) or an integer whose decimal digits are
/// read as octal (640 → 0640); throws Error naming `what` when malformed.
uint32_t parse_mode(const json& value, const std::string& what);

/// `path` as the step will use it: a relative path is resolved against the plan folder on
/// the local host and refused (Error) on a remote one.
std::string target_path(Context& ctx, const std::string& path);

/// Follows symlinks (up to 40) so that edits go to the file a link points at rather than
/// replacing the link; returns `path` itself when it is not a link. With `info`, also gives
/// what the host said about the returned path (read_current can then skip asking again).
std::string follow_symlinks(hosts::Host& host, const std::string& path,
                            hosts::FileInfo* info = nullptr);

/// True when the folder that would hold `path` exists on the host.
bool parent_dir_exists(hosts::Host& host, const std::string& path);

/// Throws Error when the folder that would hold `path` does not exist on the host.
void require_parent_dir(hosts::Host& host, const std::string& path, const std::string& type);

/// A target file as it is now: its bytes, mode and owner, or exists == false.
struct CurrentFile {
  bool exists = false;
  uint32_t mode = 0;
  std::optional<hosts::Owner> owner;  // when the host reports it
  std::string bytes;
};

/// Reads the file at `path` (absent is fine); throws Error naming the path when it is a
/// folder or another non-regular file. `known`: the path's stat, when the caller has it.
CurrentFile read_current(hosts::Host& host, const std::string& path, const std::string& type,
                         const hosts::FileInfo* known = nullptr);

/// Captures the file's state for undo (see the header comment). Large contents go to the
/// artifact store (durable before this returns). Throws Error for a non-regular file.
json capture_file(Context& ctx, hosts::Host& host, const std::string& path,
                  const std::string& type);

/// The bytes a captured state holds ("" for an absent file); verifies the artifact.
std::string captured_bytes(Context& ctx, const json& saved);

/// Puts the file back exactly as captured: saved bytes, mode and owner, or removes it when it was
/// absent. Idempotent and safe when apply never ran. Throws Error naming the path when
/// something other than a regular file is there now (a folder is never deleted).
void restore_file(Context& ctx, hosts::Host& host, const json& saved, const std::string& type);

/// {file_resource(host, p): file_fingerprint(host, p)} for each path.
json fingerprint_files(hosts::Host& host, const std::vector<std::string>& paths);

}  // namespace cutover::steps
