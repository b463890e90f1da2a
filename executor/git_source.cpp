#include "executor/git_source.h"

#include <git2.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <system_error>

#include "util/error.h"
#include "util/library.h"
#include "util/strings.h"

namespace cutover::executor {

namespace fs = std::filesystem;

namespace {

// libgit2 is opened on first use rather than linked: with the libraries it brings (mbedTLS,
// http-parser, PCRE2: six shared objects) it cost every cutover command ~50 page faults and
// its relocations at start-up, and only a plan inside a repository needs it (SPEC §9:
// `cutover plan` of 1,000 steps within 100 ms). CUTOVER_LIBGIT2_SONAME is the library the
// build compiled against (CMakeLists.txt).
#define CUTOVER_LIBGIT2_FUNCTIONS(X) \
  X(blob_rawcontent)                 \
  X(blob_rawsize)                    \
  X(commit_tree)                     \
  X(error_last)                      \
  X(libgit2_init)                    \
  X(libgit2_opts)                    \
  X(object_free)                     \
  X(object_id)                       \
  X(oid_equal)                       \
  X(oid_tostr)                       \
  X(reference_free)                  \
  X(reference_lookup)                \
  X(reference_name_to_id)            \
  X(reference_peel)                  \
  X(repository_free)                 \
  X(repository_is_bare)              \
  X(repository_open_ext)             \
  X(repository_workdir)              \
  X(revparse_single)                 \
  X(status_file)                     \
  X(strarray_dispose)                \
  X(tag_list)                        \
  X(tree_entry_bypath)               \
  X(tree_entry_filemode)             \
  X(tree_entry_free)                 \
  X(tree_entry_to_object)            \
  X(tree_entry_type)                 \
  X(tree_free)

struct LibGit2 {
#define CUTOVER_LIBGIT2_POINTER(name) decltype(&::git_##name) name = nullptr;
  CUTOVER_LIBGIT2_FUNCTIONS(CUTOVER_LIBGIT2_POINTER)
#undef CUTOVER_LIBGIT2_POINTER
};

// The loaded and initialised library; throws Error when it cannot be loaded (and tries again
// on the next call).
const LibGit2& git() {
  static const LibGit2 kLib = [] {
    util::SharedLibrary so(CUTOVER_LIBGIT2_SONAME, "libgit2");
    LibGit2 lib;
#define CUTOVER_LIBGIT2_RESOLVE(name) so.bind(lib.name, "git_" #name);
    CUTOVER_LIBGIT2_FUNCTIONS(CUTOVER_LIBGIT2_RESOLVE)
#undef CUTOVER_LIBGIT2_RESOLVE
    lib.libgit2_init();
    // libgit2 1.5 refuses a repository owned by another user with a misleading
    // "safe.directory" error. cutover only ever *reads* the repository the operator pointed
    // it at (the plan's own), never runs hooks or filters from it, so the check protects
    // nothing here and would only make `sudo cutover apply` fail on a deploy user's checkout.
    lib.libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
    return lib;
  }();
  return kLib;
}

struct RepoFree {
  void operator()(git_repository* p) const { git().repository_free(p); }
};
struct ObjectFree {
  void operator()(git_object* p) const { git().object_free(p); }
};
struct TreeFree {
  void operator()(git_tree* p) const { git().tree_free(p); }
};
struct EntryFree {
  void operator()(git_tree_entry* p) const { git().tree_entry_free(p); }
};
struct ReferenceFree {
  void operator()(git_reference* p) const { git().reference_free(p); }
};
using Repo = std::shared_ptr<git_repository>;
using Object = std::unique_ptr<git_object, ObjectFree>;
using Entry = std::unique_ptr<git_tree_entry, EntryFree>;
using Reference = std::unique_ptr<git_reference, ReferenceFree>;

std::string last_error() {
  const git_error* e = git().error_last();
  return e && e->message ? e->message : "unknown libgit2 error";
}

std::string oid_hex(const git_oid* oid) {
  char buf[GIT_OID_HEXSZ + 1];
  git().oid_tostr(buf, sizeof buf, oid);
  return buf;
}

// `path` made absolute against the process's working folder, with symlinks in its existing
// part resolved (the repository's work tree is compared in the same form).
fs::path real_path(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(path), ec);
  return ec ? fs::absolute(path).lexically_normal() : p;
}

// The nearest existing folder at or above `p`, where discovery can start.
std::string existing_dir(fs::path p) {
  std::error_code ec;
  while (!p.empty() && !fs::is_directory(p, ec)) {
    if (p == p.parent_path()) break;
    p = p.parent_path();
  }
  return p.empty() ? "/" : p.string();
}

// False only when libgit2's discovery from `dir` cannot find anything: no folder at or above it
// holds a `.git` (folder, gitlink file or symlink) or a `HEAD` (a git folder itself, which
// discovery accepts only with HEAD in it). libgit2's initialisation parses the system's CA
// certificates, which costs a plan outside any repository more than the rest of loading it.
bool may_be_in_repo(const std::string& dir) {
  struct stat st {};
  for (fs::path p = dir;; p = p.parent_path()) {
    if (::stat((p / ".git").c_str(), &st) == 0 || ::stat((p / "HEAD").c_str(), &st) == 0)
      return true;
    if (p == p.parent_path()) return false;
  }
}

// Opens the repository whose work tree holds `plan_path`; null when there is none (or only a
// bare one). Throws Error when one is found but cannot be opened.
Repo discover(const std::string& plan_path) {
  std::string start = existing_dir(real_path(plan_path).parent_path());
  if (!may_be_in_repo(start)) return nullptr;
  git_repository* raw = nullptr;
  int rc = git().repository_open_ext(&raw, start.c_str(), 0, nullptr);
  if (rc == GIT_ENOTFOUND) return nullptr;
  if (rc < 0) throw Error("cannot open the git repository holding " + plan_path + ": " + last_error());
  Repo repo(raw, RepoFree());
  if (git().repository_is_bare(raw) || !git().repository_workdir(raw)) return nullptr;
  return repo;
}

std::string workdir(git_repository* repo) {
  std::string w = git().repository_workdir(repo);
  std::error_code ec;
  fs::path p = fs::canonical(w, ec);
  std::string out = ec ? fs::path(w).lexically_normal().string() : p.string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

// `path` relative to the work tree ("a/plan.yaml"), or "" when it lies outside it.
std::string repo_relative(const std::string& work, const std::string& path) {
  fs::path rel = real_path(path).lexically_relative(work);
  std::string s = rel.generic_string();
  if (s.empty() || s == "." || s == ".." || util::starts_with(s, "../")) return "";
  return s;
}

std::vector<std::string> all_tags(git_repository* repo) {
  git_strarray names{};
  std::vector<std::string> out;
  if (git().tag_list(&names, repo) < 0) return out;
  for (size_t i = 0; i < names.count; ++i) out.emplace_back(names.strings[i]);
  git().strarray_dispose(&names);
  std::sort(out.begin(), out.end());
  return out;
}

// Tags, annotated or lightweight, whose target peels to `commit`, sorted.
std::vector<std::string> tags_at(git_repository* repo, const git_oid* commit) {
  std::vector<std::string> out;
  for (const auto& name : all_tags(repo)) {
    git_reference* raw = nullptr;
    if (git().reference_lookup(&raw, repo, ("refs/tags/" + name).c_str()) < 0) continue;
    Reference ref(raw);
    git_object* peeled = nullptr;
    if (git().reference_peel(&peeled, raw, GIT_OBJECT_COMMIT) < 0)
      continue;  // a tag of a tree or blob
    Object obj(peeled);
    if (git().oid_equal(git().object_id(peeled), commit)) out.push_back(name);
  }
  return out;
}

}  // namespace

nlohmann::json GitInfo::to_json() const {
  if (!in_repo) return {{"in_repo", false}};
  return {{"in_repo", true}, {"repo", repo}, {"commit", commit}, {"tags", tags}, {"dirty", dirty}};
}

GitInfo git_info(const std::string& plan_path) {
  GitInfo info;
  Repo repo = discover(plan_path);
  if (!repo) return info;
  info.in_repo = true;
  info.repo = workdir(repo.get());
  git_oid head;
  if (git().reference_name_to_id(&head, repo.get(), "HEAD") == 0) {
    info.commit = oid_hex(&head);
    info.tags = tags_at(repo.get(), &head);
  }
  std::string rel = repo_relative(info.repo, plan_path);
  if (info.commit.empty() || rel.empty()) {
    info.dirty = true;  // no HEAD yet, or the plan is not a file of this work tree
    return info;
  }
  unsigned int flags = 0;
  int rc = git().status_file(&flags, repo.get(), rel.c_str());
  // ENOTFOUND: neither in HEAD, the index nor the work tree; anything but CURRENT (ignored
  // included: an ignored file is not in HEAD either) differs from HEAD.
  info.dirty = rc != 0 || flags != GIT_STATUS_CURRENT;
  return info;
}

GitRevision open_revision(const std::string& plan_path, const std::string& rev) {
  Repo repo = discover(plan_path);
  if (!repo)
    throw Fatal(ExitCode::usage, "--rev " + rev + ": " + plan_path + " is not in a git work tree");
  GitRevision out;
  out.repo = workdir(repo.get());

  git_object* raw = nullptr;
  int rc = git().revparse_single(&raw, repo.get(), (rev + "^{commit}").c_str());
  if (rc < 0) {
    std::string why = rc == GIT_ENOTFOUND || rc == GIT_EINVALIDSPEC
                          ? "no revision '" + rev + "' in " + out.repo
                          : "cannot resolve revision '" + rev + "' in " + out.repo + ": " + last_error();
    std::vector<std::string> tags = all_tags(repo.get());
    why += tags.empty() ? " (the repository has no tags)" : "; tags: " + util::join(tags, ", ");
    throw Fatal(ExitCode::usage, why);
  }
  Object commit(raw);
  const git_oid* id = git().object_id(raw);
  out.commit = oid_hex(id);
  out.tags = tags_at(repo.get(), id);

  git_tree* tree_raw = nullptr;
  if (git().commit_tree(&tree_raw, reinterpret_cast<git_commit*>(raw)) < 0)
    throw Error("cannot read the tree of " + out.commit + " in " + out.repo + ": " + last_error());
  // The reader may outlive this call (the loader keeps it): it owns the repository and tree.
  std::shared_ptr<git_tree> tree(tree_raw, TreeFree());
  std::string work = out.repo, short_sha = out.commit.substr(0, 12);
  std::string label = "'" + rev + "' (" + short_sha + ")";
  out.read = [repo, tree, work, label](const std::string& path) -> std::string {
    std::string rel = repo_relative(work, path);
    if (rel.empty())
      throw Error(path + " is outside the git work tree " + work + ", so it has no version at " + label);
    git_tree_entry* entry_raw = nullptr;
    int rc = git().tree_entry_bypath(&entry_raw, tree.get(), rel.c_str());
    if (rc == GIT_ENOTFOUND) throw Error(path + " does not exist at revision " + label);
    if (rc < 0) throw Error("cannot look up " + path + " at revision " + label + ": " + last_error());
    Entry entry(entry_raw);
    if (git().tree_entry_type(entry_raw) != GIT_OBJECT_BLOB)
      throw Error(path + " is not a file at revision " + label + " (a folder or submodule)");
    if (git().tree_entry_filemode(entry_raw) == GIT_FILEMODE_LINK)
      throw Error(path + " is a symlink at revision " + label + "; give the file it points to");
    git_object* blob_raw = nullptr;
    if (git().tree_entry_to_object(&blob_raw, repo.get(), entry_raw) < 0)
      throw Error("cannot read " + path + " at revision " + label + ": " + last_error());
    Object blob(blob_raw);
    auto* b = reinterpret_cast<git_blob*>(blob_raw);
    const char* data = static_cast<const char*>(git().blob_rawcontent(b));
    return std::string(data, static_cast<size_t>(git().blob_rawsize(b)));
  };
  out.contains = [work](const std::string& path) { return !repo_relative(work, path).empty(); };
  return out;
}

}  // namespace cutover::executor
