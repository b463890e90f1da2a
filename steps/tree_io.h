// Folder trees on a host, for files.snapshot and files.restore (steps/snapshot_steps.cpp):
// archiving paths into the artifact store, restoring a stored archive into a folder, listing
// a folder and fingerprinting it. Everything runs GNU tar and GNU find on the host through
// Host::exec, so the same code serves this machine and an SSH host: tar's stdout streams into
// the store (zstd) and the store streams into tar's stdin; nothing holds a whole tree in
// memory (the member list of a snapshot is kept to plan a restore: paths only).
//
// A snapshot is a GNU-format tar stream (--sort=name, --numeric-owner): modes, numeric owner
// and group, mtimes, symlinks, hard links, empty folders and special files are kept; ACLs,
// extended attributes and sockets are not. Its member names are relative:
//   - one folder:        its contents ("./", "./a/b"), the folder itself being the root entry;
//   - anything else:     each path under its own base name ("uploads/…", "nginx.conf").
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hosts/host.h"
#include "steps/step.h"
#include "steps/tar_index.h"

namespace cutover::steps {

/// Throws Error naming the host (with an install hint) unless GNU tar >= 1.28 and GNU find
/// are there. `type` prefixes the message. Returns their version lines, for `doctor`.
std::string require_tree_tools(hosts::Host& host, const std::string& type);

/// What a snapshot archives: absolute paths on the host, and GNU tar --exclude patterns.
struct TreeSource {
  std::vector<std::string> paths;
  std::vector<std::string> exclude;
  /// True when `paths` is one folder whose contents are archived (see the header comment).
  bool single_folder = false;
};

/// Checks the paths exist (Error naming a missing one), decides single_folder and refuses
/// two paths with the same base name.
TreeSource tree_source(hosts::Host& host, std::vector<std::string> paths,
                       std::vector<std::string> exclude, const std::string& type);

/// The size the archive will have (GNU tar --totals against /dev/null, which reads no file
/// content), or 0 when tar cannot tell.
uint64_t estimate_archive(hosts::Host& host, const TreeSource& src);

struct ArchiveResult {
  std::string artifact;       // "sha256:…"
  uint64_t raw_bytes = 0;     // tar stream size
  uint64_t stored_bytes = 0;  // after zstd
  uint64_t entries = 0;       // members: files, folders, links…
  uint64_t files = 0;         // regular files
  uint64_t file_bytes = 0;    // their content bytes
};

/// Streams a tar of `src` on `host` into the artifact store (zstd), counting members and
/// reporting progress as `what`. Throws Error when tar fails (stderr tail in the message; a
/// file that changes while it is read fails the snapshot), Interrupted on SIGINT/timeout.
ArchiveResult archive_to_store(Context& ctx, hosts::Host& host, const TreeSource& src,
                               const std::string& kind, const std::string& what);

/// Every member of a stored snapshot (read from the store, verified, checked for safety).
TarIndex index_artifact(Context& ctx, const std::string& id);

/// Types (find -printf %y: f d l p s c b) of everything below `dir`, by relative path.
/// Empty when `dir` does not exist.
std::map<std::string, char> list_tree(hosts::Host& host, const std::string& dir);

/// What a restore of `snapshot` into a folder holding `now` does (sockets, which no snapshot
/// holds, are never removed).
struct RestoreChanges {
  std::vector<std::string> remove;  // relative paths removed first (top-most only): with
                                    // clean, those not in the snapshot; always, those whose
                                    // type differs from the snapshot's
  std::vector<std::string> create;  // snapshot paths not there now
  uint64_t replace = 0;             // snapshot paths there now (rewritten from the snapshot)
  uint64_t removed_total = 0;       // entries removed, counting those inside removed folders
};
RestoreChanges restore_changes(const TarIndex& snapshot, const std::map<std::string, char>& now,
                               bool clean);

struct RestoreResult {
  uint64_t entries = 0, files = 0, file_bytes = 0, removed = 0;
};

/// Makes folder `dest` on `host` hold snapshot `id`: removes what restore_changes() says,
/// then streams the archive into `tar -x` (owners, modes and mtimes as stored). `dest` must
/// exist. Idempotent. Throws Error (tar's stderr tail), Interrupted.
RestoreResult restore_tree(Context& ctx, hosts::Host& host, const std::string& id,
                           const std::string& dest, bool clean, const std::string& what);

/// "absent", or {"entries": N, "sha256": H}: H hashes a tar of the folder with every mtime
/// set to 0 (--sort=name, numeric owners), so it changes with any path, type, mode, owner,
/// group, size, content, link target or hard link below `dir`, and with `dir`'s own mode
/// and owner — not with timestamps.
nlohmann::json tree_fingerprint(hosts::Host& host, const std::string& dir);

/// "dir:" + host + ":" + path, the fingerprint key of a folder.
std::string tree_resource(const hosts::Host& host, const std::string& dir);

}  // namespace cutover::steps
