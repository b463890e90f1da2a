// Real git repositories for the git tests, made with the `git` CLI (never libgit2, so the
// tests check cutover's libgit2 use against git itself).
#pragma once

#include <string>

namespace cutover::testing {

/// Runs `/bin/sh -c cmd` and returns its standard output; throws std::runtime_error with the
/// command and its output when it exits non-zero.
std::string sh(const std::string& cmd);

/// A work tree at `dir` (created if needed) with an author identity set per command.
class GitRepo {
 public:
  /// `git init` in `dir`.
  explicit GitRepo(std::string dir);

  const std::string& dir() const { return dir_; }
  /// Runs `git -C dir ARGS` (ARGS already shell-quoted as needed); returns stdout.
  std::string git(const std::string& args) const;
  /// Writes `rel` (parents created) with `content`; does not stage it.
  void write(const std::string& rel, const std::string& content) const;
  /// Writes, stages and commits `rel`; returns the new commit's full sha.
  std::string commit_file(const std::string& rel, const std::string& content,
                          const std::string& message = "change");
  /// Tags HEAD: annotated (`git tag -a`) or lightweight.
  void tag(const std::string& name, bool annotated = true) const;
  /// `git rev-parse REV^{commit}`.
  std::string sha(const std::string& rev = "HEAD") const;

 private:
  std::string dir_;
};

}  // namespace cutover::testing
