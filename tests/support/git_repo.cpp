#include "tests/support/git_repo.h"

#include <sys/wait.h>

#include <cstdio>
#include <stdexcept>

#include "util/fs.h"
#include "util/strings.h"

namespace cutover::testing {

std::string sh(const std::string& cmd) {
  std::FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) throw std::runtime_error("popen failed: " + cmd);
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  int st = ::pclose(p);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) throw std::runtime_error("`" + cmd + "` failed:\n" + out);
  return out;
}

GitRepo::GitRepo(std::string dir) : dir_(std::move(dir)) {
  util::make_dirs(dir_, 0755);
  git("init --quiet");
}

std::string GitRepo::git(const std::string& args) const {
  return sh("git -c user.name=cutover-test -c user.email=test@cutover.invalid -c init.defaultBranch=main "
            "-c advice.detachedHead=false -c tag.gpgSign=false -c commit.gpgSign=false -C " +
            util::shell_quote(dir_) + " " + args);
}

void GitRepo::write(const std::string& rel, const std::string& content) const {
  std::string path = util::join_path(dir_, rel);
  util::make_dirs(util::dirname(path), 0755);
  util::write_file_atomic(path, content, 0644);
}

std::string GitRepo::commit_file(const std::string& rel, const std::string& content,
                                 const std::string& message) {
  write(rel, content);
  git("add -- " + util::shell_quote(rel));
  git("commit --quiet -m " + util::shell_quote(message));
  return sha();
}

void GitRepo::tag(const std::string& name, bool annotated) const {
  git(std::string("tag ") + (annotated ? "-a -m " + util::shell_quote("release " + name) + " " : "") +
      util::shell_quote(name));
}

std::string GitRepo::sha(const std::string& rev) const {
  return util::trim(git("rev-parse " + util::shell_quote(rev + "^{commit}")));
}

}  // namespace cutover::testing
