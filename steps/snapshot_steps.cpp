// files.snapshot and files.restore (SPEC §5): folder trees into and out of the artifact
// store, through GNU tar on the step's host (steps/tree_io.h). docs/steps/files.md is the
// user's page.
//
// files.snapshot only adds an artifact: its checkpoint is empty and its undo does nothing.
//
// files.restore checkpoint (journal JSON):
//   {"host": H, "dest": D, "prior": "absent", "created": C}   D did not exist: undo removes C,
//                                                              the top-most folder apply created
//   {"host": H, "dest": D, "prior": "dir", "artifact": "sha256:…", "entries": N}
//                                                              D was a folder: its snapshot
// Undo of a folder restores that snapshot into D with clean: true, so D holds exactly what it
// held (files the restore added are removed, files it replaced or removed come back, modes,
// owners and mtimes as they were). Both undos are idempotent and safe after a partial apply.
#include <algorithm>
#include <set>

#include "checkpoints/artifact_store.h"
#include "hosts/host.h"
#include "steps/families.h"
#include "steps/file_state.h"
#include "steps/tree_io.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"
#include "util/units.h"

namespace cutover::steps {
namespace {

const char* const kSnapshotSchema = R"json({
  "type": "object",
  "additionalProperties": false,
  "required": ["paths"],
  "properties": {
    "paths": {"type": ["array", "string"], "items": {"type": "string"}, "minItems": 1, "description": "Folders or files to archive (absolute; relative ones are resolved against the plan folder on the local host). One folder: its contents are stored, so a restore puts them into dest. Several paths (or a file): each is stored under its base name."},
    "exclude": {"type": ["array", "string"], "items": {"type": "string"}, "description": "GNU tar --exclude patterns, matched against every member's name at any depth: '*.log', 'cache', 'tmp/*'. An excluded folder is left out with all it holds."}
  }
})json";

const char* const kRestoreSchema = R"json({
  "type": "object",
  "additionalProperties": false,
  "required": ["artifact", "dest"],
  "properties": {
    "artifact": {"type": "string", "description": "The snapshot to restore: a files.snapshot step's output, e.g. ${steps.snap.outputs.artifact} (the step may run on another host)."},
    "dest": {"type": "string", "description": "Folder to restore into (absolute; relative ones are resolved against the plan folder on the local host). Created, with missing parents, when absent; a symlink to a folder is followed."},
    "clean": {"type": "boolean", "default": false, "description": "Remove everything in dest that is not in the snapshot, so that dest holds exactly the snapshot. Default: files only in dest are left alone."}
  }
})json";

constexpr size_t kListLimit = 40;  // paths shown per group in a dry run

// require_tree_tools() once per host and step (plan, checkpoint and apply each need it).
class ToolsChecked {
 public:
  void require(hosts::Host& host, const std::string& type) {
    if (done_.count(&host)) return;
    require_tree_tools(host, type);
    done_.insert(&host);
  }

 private:
  std::set<const hosts::Host*> done_;
};

std::string plural(uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string where(const hosts::Host& host, const std::string& path) {
  return host.is_local() ? path : host.name() + ":" + path;
}

// Lines "  PREFIX path" for at most kListLimit paths, then "… and N more".
std::string list_paths(const std::vector<std::string>& paths, const std::string& prefix) {
  std::string out;
  for (size_t i = 0; i < paths.size() && i < kListLimit; ++i)
    out += "  " + prefix + paths[i] + "\n";
  if (paths.size() > kListLimit)
    out += "  … and " + std::to_string(paths.size() - kListLimit) + " more\n";
  return out;
}

// ---------------------------------------------------------------------------------------
// files.snapshot

class FilesSnapshot final : public Step {
 public:
  explicit FilesSnapshot(const StepConfig& c) {
    paths_ = string_list_param(c.params, kType, "paths");
    if (paths_.empty()) throw Error(std::string(kType) + ": with.paths is required");
    exclude_ = string_list_param(c.params, kType, "exclude");
  }

  Preview plan(Context& ctx) override {
    Preview p;
    p.changes = true;  // a new artifact; nothing on the host changes
    std::vector<std::string> abs = resolved(ctx);
    std::string label = where(ctx.host, util::join(abs, ", "));
    for (const auto& a : abs) {
      if (!ctx.host.stat(a).exists) {
        p.summary = "snapshot " + label + " (" + a +
                    " does not exist yet: apply fails unless an earlier step creates it)";
        return p;
      }
    }
    tools_.require(ctx.host, kType);
    TreeSource src = tree_source(ctx.host, abs, exclude_, kType);
    uint64_t size = estimate_archive(ctx.host, src);
    p.summary = "snapshot " + label + " into the artifact store (" +
                (size ? "about " + util::format_bytes(size) + " before zstd" : "size unknown") +
                ")";
    p.detail = std::string(src.single_folder ? "stores the folder's contents"
                                             : "stores each path under its base name") +
               "\n" + (exclude_.empty() ? "" : "exclude: " + util::join(exclude_, " ") + "\n");
    return p;
  }

  json apply(Context& ctx, const json&) override {
    tools_.require(ctx.host, kType);
    TreeSource src = tree_source(ctx.host, resolved(ctx), exclude_, kType);
    std::string label = where(ctx.host, util::join(src.paths, ", "));
    ArchiveResult r = archive_to_store(ctx, ctx.host, src, kType, "snapshot " + label);
    ctx.log(std::string(kType) + ": " + label + ": " + plural(r.files, "file", "files") + ", " +
            util::format_bytes(r.file_bytes) + " in " + plural(r.entries, "entry", "entries") +
            "; stored " + r.artifact + " (" + util::format_bytes(r.stored_bytes) + ")");
    return {{"artifact", r.artifact}, {"bytes", r.file_bytes},          {"files", r.files},
            {"entries", r.entries},   {"stored_bytes", r.stored_bytes}, {"host", ctx.host.name()}};
  }

 private:
  static constexpr const char* kType = "files.snapshot";

  std::vector<std::string> resolved(Context& ctx) {
    std::vector<std::string> out;
    for (const auto& p : paths_) out.push_back(target_path(ctx, p));
    return out;
  }

  std::vector<std::string> paths_, exclude_;
  ToolsChecked tools_;
};

// ---------------------------------------------------------------------------------------
// files.restore

class FilesRestore final : public Step {
 public:
  explicit FilesRestore(const StepConfig& c) {
    artifact_ = string_param(c.params, kType, "artifact", true);
    dest_ = string_param(c.params, kType, "dest", true);
    clean_ = bool_param(c.params, kType, "clean", false);
  }

  Preview plan(Context& ctx) override;
  json checkpoint(Context& ctx) override;

  json fingerprint(Context& ctx) override {
    std::string dest = resolve(ctx);
    return {{tree_resource(ctx.host, dest), tree_fingerprint(ctx.host, dest)}};
  }

  json apply(Context& ctx, const json& cp) override {
    std::string dest = cp.is_object() ? cp.value("dest", "") : "";
    if (dest.empty()) dest = resolve(ctx);
    tools_.require(ctx.host, kType);
    hosts::FileInfo fi = ctx.host.stat(dest);
    if (fi.exists && !fi.is_dir) throw not_a_folder(ctx, dest, fi);
    if (!fi.exists) ctx.host.make_dirs(dest, 0755);
    if (util::interrupted()) throw Interrupted(std::string(kType) + ": interrupted");
    RestoreResult r =
        restore_tree(ctx, ctx.host, artifact_, dest, clean_, "restore " + where(ctx.host, dest));
    return {{"files", r.files},
            {"entries", r.entries},
            {"bytes", r.file_bytes},
            {"removed", r.removed}};
  }

  void undo(Context& ctx, const json& cp) override {
    if (!cp.is_object() || !cp.contains("prior")) return;  // never checkpointed
    const std::string dest = cp.at("dest").get<std::string>();
    if (cp["prior"] == "absent") {
      std::string created = cp.value("created", dest);
      if (ctx.host.stat(created).exists) {
        ctx.log(std::string(kType) + ": undo: removing " + where(ctx.host, created) +
                " (it did not exist before)");
        ctx.host.remove(created);
      }
      return;
    }
    hosts::FileInfo fi = ctx.host.stat(dest);
    if (fi.exists && !fi.is_dir) throw not_a_folder(ctx, dest, fi);
    if (!fi.exists) ctx.host.make_dirs(dest, 0755);
    tools_.require(ctx.host, kType);
    const std::string id = cp.at("artifact").get<std::string>();
    ctx.log(std::string(kType) + ": undo: restoring " + where(ctx.host, dest) +
            " exactly from its checkpoint " + id);
    restore_tree(ctx, ctx.host, id, dest, true, "undo: restore " + where(ctx.host, dest));
  }

 private:
  static constexpr const char* kType = "files.restore";

  // Resolved afresh on every call: an earlier step may create or switch a link.
  std::string resolve(Context& ctx) {
    std::string d = target_path(ctx, dest_);
    while (d.size() > 1 && d.back() == '/') d.pop_back();
    d = follow_symlinks(ctx.host, d);
    // A clean restore (and every undo) removes what the snapshot lacks: never at the root.
    if (d == "/")
      throw Error(std::string(kType) + ": refusing to restore into / on " + ctx.host.name(),
                  "name the folder the snapshot belongs in, e.g. dest: /srv/app");
    return d;
  }

  Error not_a_folder(Context& ctx, const std::string& dest, const hosts::FileInfo& fi) {
    return Error(std::string(kType) + ": " + where(ctx.host, dest) + " is " +
                     (fi.is_symlink ? "a symlink" : "a file") + ", not a folder",
                 "dest names the folder to restore into; move what is there out of the way");
  }

  bool artifact_known(Context& ctx) {
    if (!util::starts_with(artifact_, "sha256:") || artifact_.size() != 71) return false;
    try {
      return ctx.artifacts.exists(artifact_);
    } catch (const Error&) {
      return false;
    }
  }

  std::string artifact_, dest_;
  bool clean_ = false;
  ToolsChecked tools_;
};

Preview FilesRestore::plan(Context& ctx) {
  Preview p;
  p.changes = true;
  std::string dest = resolve(ctx);
  std::string label = where(ctx.host, dest);
  hosts::FileInfo fi = ctx.host.stat(dest);
  if (fi.exists && !fi.is_dir) throw not_a_folder(ctx, dest, fi);
  tools_.require(ctx.host, kType);
  std::map<std::string, char> now = list_tree(ctx.host, dest);
  std::string there = fi.exists ? plural(now.size(), "entry", "entries") + " there now"
                                : "it does not exist yet: created";
  if (!artifact_known(ctx)) {
    p.summary = "restore a snapshot (known after apply) into " + label + " (" + there + ")";
    p.detail = clean_ ? "clean: everything in " + dest + " that is not in the snapshot is removed\n"
                      : "files in " + dest + " that are not in the snapshot are kept\n";
    return p;
  }
  TarIndex index = index_artifact(ctx, artifact_);
  RestoreChanges c = restore_changes(index, now, clean_);
  p.summary = "restore " + plural(index.file_count(), "file", "files") + " (" +
              util::format_bytes(index.file_bytes()) + ") into " + label + ": " +
              std::to_string(c.create.size()) + " new, " + std::to_string(c.replace) +
              " overwritten, " + std::to_string(c.removed_total) + " removed";
  if (!fi.exists) p.summary += " (" + there + ")";
  p.detail = list_paths(c.remove, "- ") + list_paths(c.create, "+ ");
  if (c.replace)
    p.detail +=
        "  ~ " + std::to_string(c.replace) + " existing entries rewritten from the snapshot\n";
  p.outputs = {{"files", index.file_count()}};
  return p;
}

json FilesRestore::checkpoint(Context& ctx) {
  std::string dest = resolve(ctx);
  hosts::FileInfo fi = ctx.host.stat(dest);
  json cp = {{"host", ctx.host.name()}, {"dest", dest}};
  if (fi.exists && !fi.is_dir) throw not_a_folder(ctx, dest, fi);
  if (!fi.exists) {
    // The top-most folder apply will create: undo removes it and so leaves no trace.
    std::string created = dest;
    for (std::string up = util::dirname(created); up != created && up != "/" && up != ".";
         up = util::dirname(created)) {
      if (ctx.host.stat(up).exists) break;
      created = up;
    }
    cp["prior"] = "absent";
    cp["created"] = created;
    return cp;
  }
  tools_.require(ctx.host, kType);
  TreeSource src = tree_source(ctx.host, {dest}, {}, kType);
  ArchiveResult r = archive_to_store(ctx, ctx.host, src, "files.restore checkpoint",
                                     "checkpoint: snapshot of " + where(ctx.host, dest));
  cp["prior"] = "dir";
  cp["artifact"] = r.artifact;
  cp["entries"] = r.entries;
  cp["bytes"] = r.file_bytes;
  return cp;
}

}  // namespace

std::vector<StepType> snapshot_step_types() {
  std::vector<StepType> out;
  StepType s;
  s.name = "files.snapshot";
  s.summary = "Archive folders or files (modes, owners, mtimes, symlinks) into the artifact store";
  s.undo = "nothing to undo: it only adds an artifact to the store";
  s.outputs =
      "artifact: sha256 id of the snapshot; bytes: content bytes of its files; files: "
      "regular files; entries: every member (folders and links too); stored_bytes: "
      "size in the store (zstd); host: the host it was taken on (local or a hosts: name)";
  s.params_schema = kSnapshotSchema;
  s.remote = true;
  s.resume = Resume::yes;
  s.make = [](const StepConfig& c) -> std::unique_ptr<Step> {
    return std::make_unique<FilesSnapshot>(c);
  };
  out.push_back(std::move(s));

  StepType r;
  r.name = "files.restore";
  r.summary = "Restore a files.snapshot artifact into a folder (with clean: exactly)";
  r.undo =
      "snapshots dest first (or records its absence); undo restores dest exactly from it, "
      "removing what the restore added, or removes the folder it created";
  r.outputs =
      "files: regular files restored; entries: every member restored; bytes: their "
      "content bytes; removed: entries removed from dest";
  r.params_schema = kRestoreSchema;
  r.remote = true;
  r.resume = Resume::yes;
  r.undo_discards_data = true;
  r.make = [](const StepConfig& c) -> std::unique_ptr<Step> {
    return std::make_unique<FilesRestore>(c);
  };
  out.push_back(std::move(r));
  return out;
}

}  // namespace cutover::steps
