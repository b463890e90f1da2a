// git.checkout: a release folder per commit and a `current` symlink switched atomically, the
// layout of capistrano-style deployments:
//
//   releases_dir/v1.4.0-3f2a9c1d0e7b/    a checkout of the tag's commit (with its .git)
//   releases_dir/v1.5.0-a81c07d2e4f9/
//   current -> releases_dir/v1.5.0-a81c07d2e4f9
//
// Everything goes through the step's Host: the `git` CLI through Host::exec, the symlink
// through Host::symlink + Host::rename (rename(2), so `current` is never missing). One code
// path serves the local machine and SSH hosts; libgit2 is not used here.
//
// The checkpoint pins the commit the ref named when the step started (a branch may move
// later), the release folder, whether that folder already existed, and what `current`
// pointed at. Undo switches `current` back (or removes it) and removes the release folder
// only if this step created it.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>

#include "hosts/host.h"
#include "steps/families.h"
#include "steps/file_state.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace cutover::steps {
namespace {

const char* const kCheckoutSchema = R"json({
  "type": "object",
  "additionalProperties": false,
  "required": ["repo", "ref", "releases_dir", "current"],
  "properties": {
    "repo": {"type": "string", "minLength": 1, "description": "Repository to check out: a URL (https://, ssh://, git@host:path) or a path on the step's host (relative paths are resolved against the plan folder on the local host)."},
    "ref": {"type": "string", "minLength": 1, "description": "Tag, branch or commit to check out. The commit it names when the step starts is pinned in the checkpoint. Short shas need a local repository path."},
    "releases_dir": {"type": "string", "minLength": 1, "description": "Folder holding one release folder per checkout, named <ref>-<commit prefix>; created when missing. A release folder that already holds the same commit is reused."},
    "current": {"type": "string", "minLength": 1, "description": "Path of the symlink that points at the live release; switched atomically (temp link renamed over it). Must be a symlink or absent."}
  }
})json";

constexpr const char* kType = "git.checkout";
constexpr size_t kShortSha = 12;
constexpr size_t kErrTail = 2000;

struct Target {
  std::string commit;       // full sha
  std::string release_dir;  // releases_dir/<ref>-<short sha>
};

bool is_full_sha(const std::string& s) {
  if (s.size() != 40) return false;
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// True when `ref` looks like a (possibly short) commit sha that `commit` starts with.
bool names_commit(const std::string& ref, const std::string& commit) {
  if (ref.size() < 4) return false;
  for (char c : ref)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return util::starts_with(commit, lower(ref));
}

// URLs and scp-like addresses (user@host:path) are handed to git as they are; anything else
// is a path on the step's host.
bool is_url(const std::string& repo) {
  if (repo.find("://") != std::string::npos) return true;
  size_t colon = repo.find(':'), slash = repo.find('/');
  return colon != std::string::npos && (slash == std::string::npos || colon < slash);
}

// A folder-name-safe form of a ref ("feature/x" -> "feature_x").
std::string sanitize(const std::string& ref) {
  std::string out;
  for (char c : ref)
    out += std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ? c : '_';
  if (!out.empty() && out[0] == '.') out[0] = '_';
  return out;
}

std::string symlink_state(hosts::Host& host, const std::string& path) {
  hosts::FileInfo fi = host.stat(path);
  if (!fi.exists) return "absent";
  if (!fi.is_symlink) return fi.is_dir ? "not a symlink (a folder)" : "not a symlink (a file)";
  return fi.link_target;
}

class GitCheckout final : public Step {
 public:
  explicit GitCheckout(const StepConfig& c) : with_(c.params) {
    repo_ = string_param(with_, kType, "repo", true);
    ref_ = string_param(with_, kType, "ref", true);
    releases_ = string_param(with_, kType, "releases_dir", true);
    current_ = string_param(with_, kType, "current", true);
    for (const auto* v : {&repo_, &ref_, &releases_, &current_})
      if (util::trim(*v).empty()) throw Error(std::string(kType) + ": with.repo, ref, releases_dir and current must not be empty");
    if (ref_[0] == '-') throw Error(std::string(kType) + ": with.ref must not start with '-'");
  }

  Preview plan(Context& ctx) override {
    Target t = resolve(ctx);
    std::string current = target_path(ctx, current_);
    std::string before = symlink_state(ctx.host, current);
    bool exists = ctx.host.stat(t.release_dir).exists;
    Preview p;
    p.changes = before != t.release_dir;
    p.summary = p.changes ? "switch " + current + ": " + before + " → " + t.release_dir + " (" + ref_ + ", " +
                                t.commit.substr(0, kShortSha) + ")"
                          : current + " already points at " + t.release_dir + " (" + ref_ + ")";
    p.detail = (exists ? "reuse " + t.release_dir + " (already there)\n"
                       : "clone " + repo_ + " at " + ref_ + " (" + t.commit + ") into " + t.release_dir + "\n") +
               "switch " + current + " atomically: " + before + " → " + t.release_dir + "\n";
    p.outputs = {{"commit", t.commit}, {"release_dir", t.release_dir}};
    return p;
  }

  json checkpoint(Context& ctx) override {
    Target t = resolve(ctx);
    std::string current = target_path(ctx, current_);
    hosts::FileInfo fi = ctx.host.stat(current);
    if (fi.exists && !fi.is_symlink)
      throw Error(std::string(kType) + ": " + current + " on " + ctx.host.name() + " is a real " +
                      (fi.is_dir ? "folder" : "file") + ", not a symlink",
                  "move it aside (it becomes a release folder) and let git.checkout create the link");
    pinned_ = t;
    return {{"commit", t.commit},
            {"release_dir", t.release_dir},
            {"release_existed", ctx.host.stat(t.release_dir).exists},
            {"current", current},
            {"prior_target", fi.exists ? json(fi.link_target) : json(nullptr)}};
  }

  // Only what undo restores: the link and the presence of the release folder. The folder
  // comes from the checkpoint when there is one (re-resolving a branch later could name
  // another commit, and another folder).
  json fingerprint(Context& ctx) override {
    if (!pinned_) pinned_ = resolve(ctx);
    std::string current = target_path(ctx, current_);
    const std::string host = ctx.host.name();
    return {{"symlink:" + host + ":" + current, symlink_state(ctx.host, current)},
            {"dir:" + host + ":" + pinned_->release_dir,
             ctx.host.stat(pinned_->release_dir).exists ? "present" : "absent"}};
  }

  json apply(Context& ctx, const json& cp) override {
    Target t = cp.is_object() && cp.contains("commit")
                   ? Target{cp.value("commit", ""), cp.value("release_dir", "")}
                   : resolve(ctx);
    std::string current = cp.is_object() ? cp.value("current", "") : "";
    if (current.empty()) current = target_path(ctx, current_);
    prepare_release(ctx, t);
    if (util::interrupted()) throw Interrupted(std::string(kType) + ": interrupted before switching " + current);
    switch_link(ctx, current, t.release_dir);
    return {{"commit", t.commit}, {"release_dir", t.release_dir}};
  }

  void undo(Context& ctx, const json& cp) override {
    if (!cp.is_object() || !cp.contains("release_dir") || !cp.contains("current")) return;
    std::string release = cp.value("release_dir", ""), current = cp.value("current", "");
    pinned_ = Target{cp.value("commit", ""), release};
    hosts::FileInfo fi = ctx.host.stat(current);
    if (cp["prior_target"].is_string()) {
      std::string prior = cp["prior_target"].get<std::string>();
      if (!(fi.is_symlink && fi.link_target == prior)) switch_link(ctx, current, prior);
    } else if (fi.is_symlink) {
      ctx.host.remove(current);  // there was no link before the step
    } else if (fi.exists) {
      throw Error(std::string(kType) + ": cannot undo: " + current + " on " + ctx.host.name() +
                  " is no longer a symlink; it was absent before the run");
    }
    if (!cp.value("release_existed", true)) {
      ctx.host.remove(partial_path(release));
      ctx.host.remove(release);
    }
  }

 private:
  static std::string partial_path(const std::string& release_dir) {
    return util::dirname(release_dir) + "/." + util::basename(release_dir) + ".partial";
  }

  // Runs git on the step's host; throws Error quoting the tail of its stderr.
  hosts::ExecResult git(Context& ctx, std::vector<std::string> args, bool check = true) {
    if (util::interrupted()) throw Interrupted(std::string(kType) + ": interrupted before git " + args[0]);
    hosts::ExecRequest req;
    req.argv = {"git"};
    req.argv.insert(req.argv.end(), args.begin(), args.end());
    req.env = {{"GIT_TERMINAL_PROMPT", "0"}, {"LC_ALL", "C"}};
    req.deadline = ctx.deadline;
    hosts::ExecResult r = ctx.host.exec(req);
    std::string label = std::string(kType) + ": `" + util::shell_join(req.argv) + "` on " + ctx.host.name();
    if (r.interrupted) throw Interrupted(label + ": interrupted");
    if (r.timed_out) throw Interrupted(label + ": timed out (the step's timeout)");
    if (check && !r.ok()) {
      std::string err = util::trim(r.err);
      if (err.size() > kErrTail) err = "..." + err.substr(err.size() - kErrTail);
      std::string msg = label + " failed (" + r.describe() + ")";
      if (r.exit_code == 127 && r.signal == 0) msg += ": is git installed there?";
      throw Error(msg + (err.empty() ? "" : "\n" + err));
    }
    return r;
  }

  std::string repo_arg(Context& ctx) { return is_url(repo_) ? repo_ : target_path(ctx, repo_); }

  // The commit `ref` names now, without changing anything: `git ls-remote` (tags, peeled
  // annotated tags first, then branches), then for a local repository `git rev-parse`
  // (short shas, HEAD~1 ...).
  std::string resolve_commit(Context& ctx) {
    if (is_full_sha(ref_)) return lower(ref_);
    std::string repo = repo_arg(ctx);
    hosts::ExecResult r = git(ctx, {"ls-remote", "--", repo});
    std::map<std::string, std::string> refs;
    std::vector<std::string> tags;
    for (const auto& line : util::split(r.out, '\n')) {
      size_t tab = line.find('\t');
      if (tab == std::string::npos) continue;
      std::string name = util::trim(line.substr(tab + 1));
      refs[name] = line.substr(0, tab);
      if (util::starts_with(name, "refs/tags/") && !util::ends_with(name, "^{}")) tags.push_back(name.substr(10));
    }
    for (const std::string& name : {"refs/tags/" + ref_ + "^{}", "refs/tags/" + ref_, "refs/heads/" + ref_, ref_}) {
      auto it = refs.find(name);
      if (it != refs.end()) return it->second;
    }
    if (!is_url(repo_)) {
      hosts::ExecResult rp = git(ctx, {"-C", repo, "rev-parse", "--verify", "--quiet", ref_ + "^{commit}"}, false);
      if (rp.ok() && is_full_sha(util::trim(rp.out))) return util::trim(rp.out);
    }
    std::sort(tags.begin(), tags.end());
    throw Error(std::string(kType) + ": no ref '" + ref_ + "' in " + repo +
                (tags.empty() ? " (it has no tags)" : "; tags: " + util::join(tags, ", ")));
  }

  Target resolve(Context& ctx) {
    Target t;
    t.commit = resolve_commit(ctx);
    std::string shortsha = t.commit.substr(0, kShortSha);
    std::string name = names_commit(ref_, t.commit) ? shortsha : sanitize(ref_) + "-" + shortsha;
    t.release_dir = util::join_path(target_path(ctx, releases_), name);
    return t;
  }

  // Makes release_dir a checkout of the commit: reused when it already is one, else cloned
  // next to it under a dot-name and renamed into place (a crash never leaves a half-cloned
  // folder under the release name).
  void prepare_release(Context& ctx, const Target& t) {
    hosts::FileInfo fi = ctx.host.stat(t.release_dir);
    if (fi.exists) {
      hosts::ExecResult r = git(ctx, {"-c", "safe.directory=*", "-C", t.release_dir, "rev-parse", "HEAD"}, false);
      if (r.ok() && util::trim(r.out) == t.commit) return;
      throw Error(std::string(kType) + ": " + t.release_dir + " on " + ctx.host.name() +
                      " exists but is not a checkout of " + t.commit,
                  "remove or rename that folder, then run again");
    }
    ctx.host.make_dirs(util::dirname(t.release_dir), 0755);
    std::string partial = partial_path(t.release_dir);
    ctx.host.remove(partial);
    git(ctx, {"clone", "--quiet", "--no-checkout", "--", repo_arg(ctx), partial});
    git(ctx, {"-C", partial, "-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", t.commit});
    ctx.host.rename(partial, t.release_dir);
  }

  // Points `link` at `target` without a moment where it is missing: a temp link next to it,
  // renamed over it.
  void switch_link(Context& ctx, const std::string& link, const std::string& target) {
    hosts::FileInfo fi = ctx.host.stat(link);
    if (fi.exists && !fi.is_symlink)
      throw Error(std::string(kType) + ": " + link + " on " + ctx.host.name() + " is not a symlink; not replacing it");
    ctx.host.make_dirs(util::dirname(link), 0755);
    std::string tmp = link + ".tmp-" + std::to_string(::getpid());
    ctx.host.remove(tmp);
    ctx.host.symlink(target, tmp);
    try {
      ctx.host.rename(tmp, link);
    } catch (...) {
      ctx.host.remove(tmp);
      throw;
    }
  }

  json with_;
  std::string repo_, ref_, releases_, current_;
  std::optional<Target> pinned_;
};

}  // namespace

std::vector<StepType> git_step_types() {
  StepType s;
  s.name = kType;
  s.summary = "Check out a tag, branch or commit into releases_dir/<ref>-<sha> and switch the `current` symlink to it atomically";
  s.undo = "captures the commit, the prior target of `current` (or its absence) and whether the release folder existed; undo switches `current` back (or removes it) and removes the release folder if the step created it";
  s.outputs = "commit: the full sha checked out; release_dir: the release folder `current` now points at";
  s.params_schema = kCheckoutSchema;
  s.remote = true;
  s.resume = Resume::yes;
  s.make = [](const StepConfig& c) -> std::unique_ptr<Step> { return std::make_unique<GitCheckout>(c); };
  return {s};
}

}  // namespace cutover::steps
