// Files on an SSH host (`on: remote`, a real sshd on 127.0.0.1, so the tests can look at the
// "remote" files with lstat directly): owners and groups survive file.write, file.replace and
// config.set and come back on undo; files.snapshot and files.restore run GNU tar on the host
// and undo a clean restore exactly; and a plan through the real binary that restores a local
// snapshot onto the host is rolled back exactly when its last check fails.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "hosts/ssh_host.h"
#include "tests/support/e2e.h"
#include "tests/support/sshd.h"
#include "tests/support/step_harness.h"
#include "tests/support/tree_state.h"
#include "util/fs.h"

using namespace cutover;
using cutover::test::Sshd;
using cutover::testing::StepHarness;
using nlohmann::json;
namespace t = cutover::test;

namespace {

bool usable() {
  if (!Sshd::available()) {
    WARN("skipped: /usr/sbin/sshd is not installed");
    return false;
  }
  if (::geteuid() != 0) {
    WARN("skipped: giving files away needs root");
    return false;
  }
  return true;
}

void chown_local(const std::string& path, uid_t uid, gid_t gid) {
  REQUIRE(::lchown(path.c_str(), uid, gid) == 0);
}

std::pair<unsigned, unsigned> owner_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return {st.st_uid, st.st_gid};
}

// A folder with the things a snapshot must keep.
void make_tree(const std::string& d) {
  t::write_file(d + "/index.html", "<h1>v2</h1>\n", 0644);
  t::write_file(d + "/conf/app.ini", "[db]\nport=5432\n", 0640);
  t::write_file(d + "/uploads/a.jpg", std::string(70000, 'j'), 0600);
  chown_local(d + "/uploads/a.jpg", 1234, 2345);
  chown_local(d + "/uploads", 1234, 2345);
  ::chmod((d + "/conf").c_str(), 0750);
  util::make_dirs(d + "/empty", 0700);
  REQUIRE(::symlink("index.html", (d + "/current").c_str()) == 0);
}

// The folder after drift: changed, deleted, added, retyped.
void drift(const std::string& d) {
  t::write_file(d + "/index.html", "<h1>hotfix</h1>\n", 0666);
  chown_local(d + "/index.html", 4321, 4321);
  util::remove_all(d + "/conf/app.ini");
  t::write_file(d + "/added.txt", "added\n", 0644);
  util::remove_all(d + "/current");
  util::make_dirs(d + "/current/inner", 0755);
  ::chmod(d.c_str(), 0777);
}

}  // namespace

TEST_CASE(
    "ssh: owners survive remote file.write, file.replace and config.set and come back on undo",
    "[ssh][owner]") {
  if (!usable()) return;
  Sshd sshd;
  StepHarness h;
  h.add_host("remote", hosts::connect_ssh(sshd.options()));
  h.use_host("remote");
  hosts::Host& remote = h.ctx().host;
  const std::string d = sshd.dir() + "/owned";
  util::make_dirs(d, 0755);
  const std::string conf = d + "/site.conf", cfg = d + "/registry.json";
  t::write_file(conf, "server_name old.example.test;\n", 0640);
  t::write_file(cfg, "{\n  \"url\": \"https://old.example.test\"\n}\n", 0600);
  chown_local(conf, 1234, 2345);
  chown_local(cfg, 4321, 5432);

  hosts::FileInfo fi = remote.stat(conf);
  REQUIRE(fi.has_owner);
  CHECK(fi.uid == 1234);
  CHECK(fi.gid == 2345);

  auto write = h.make("file.write", {{"path", conf}, {"content", "server_name new;\n"}}, "remote");
  auto replace =
      h.make("file.replace", {{"paths", {d + "/*.conf"}}, {"find", "new"}, {"replace", "newer"}},
             "remote");
  auto set = h.make("config.set", {{"path", cfg}, {"set", {{"url", "https://new.example.test"}}}},
                    "remote");
  json wcp = write->checkpoint(h.ctx()), wfp = write->fingerprint(h.ctx());
  CHECK(wfp.begin()->at("owner") == "1234:2345");
  write->apply(h.ctx(), wcp);
  CHECK(owner_of(conf) == std::make_pair(1234u, 2345u));  // kept through the SFTP rewrite
  json rcp = replace->checkpoint(h.ctx());
  replace->apply(h.ctx(), rcp);
  CHECK(t::read_file(conf) == "server_name newer;\n");
  json scp = set->checkpoint(h.ctx()), sfp = set->fingerprint(h.ctx());
  set->apply(h.ctx(), scp);
  CHECK(owner_of(cfg) == std::make_pair(4321u, 5432u));

  // Someone takes the files over, or deletes one: undo gives them back as they were.
  chown_local(conf, 0, 0);
  util::remove_all(cfg);
  set->undo(h.ctx(), scp);
  replace->undo(h.ctx(), rcp);
  write->undo(h.ctx(), wcp);
  CHECK(t::read_file(conf) == "server_name old.example.test;\n");
  CHECK(owner_of(conf) == std::make_pair(1234u, 2345u));
  CHECK(t::file_mode(conf) == 0640);
  CHECK(t::read_file(cfg) == "{\n  \"url\": \"https://old.example.test\"\n}\n");
  CHECK(owner_of(cfg) == std::make_pair(4321u, 5432u));
  CHECK(t::file_mode(cfg) == 0600);
  CHECK(write->fingerprint(h.ctx()) == wfp);
  CHECK(set->fingerprint(h.ctx()) == sfp);

  // The Host calls themselves: an explicit owner on write, and chown with setgid kept by
  // setting the mode afterwards.
  remote.write_file(d + "/given", "x", 02750, hosts::Owner{1234, 2345});
  CHECK(owner_of(d + "/given") == std::make_pair(1234u, 2345u));
  CHECK(t::file_mode(d + "/given") == 02750);
  remote.chown(d + "/given", 4321, 5432);
  CHECK(owner_of(d + "/given") == std::make_pair(4321u, 5432u));
}

TEST_CASE("ssh: files.snapshot and a clean files.restore on the host, undone exactly",
          "[ssh][snapshot-steps]") {
  if (!usable()) return;
  Sshd sshd;
  StepHarness h;
  h.add_host("remote", hosts::connect_ssh(sshd.options()));
  h.use_host("remote");
  const std::string src = sshd.dir() + "/release", dest = sshd.dir() + "/live";
  make_tree(src);
  const auto src_state = t::tree_state(src);

  auto snap = h.make("files.snapshot", {{"paths", {src}}, {"exclude", {"*.tmp"}}}, "remote");
  t::write_file(src + "/scratch.tmp", "not kept", 0644);
  CHECK_THAT(snap->plan(h.ctx()).summary, Catch::Contains("remote:" + src));
  json out = snap->apply(h.ctx(), snap->checkpoint(h.ctx()));
  util::remove_all(src + "/scratch.tmp");
  CHECK(out["files"] == 3);
  CHECK(out["host"] == "remote");
  auto& progress = dynamic_cast<cutover::testing::NullProgress&>(h.ctx().progress);
  CHECK(progress.last_done > 70000);

  // dest: a copy that drifted.
  make_tree(dest);
  drift(dest);
  const auto before = t::tree_state(dest);

  auto restore = h.make("files.restore",
                        {{"artifact", out["artifact"]}, {"dest", dest}, {"clean", true}}, "remote");
  auto preview = restore->plan(h.ctx());
  INFO(preview.summary << "\n" << preview.detail);
  CHECK_THAT(preview.summary, Catch::Contains("into remote:" + dest));
  CHECK_THAT(preview.detail, Catch::Contains("- added.txt"));
  CHECK_THAT(preview.detail, Catch::Contains("- current"));
  CHECK_THAT(preview.detail, Catch::Contains("+ conf/app.ini"));
  json cp = restore->checkpoint(h.ctx());
  json fp = restore->fingerprint(h.ctx());
  CHECK(fp.contains("dir:remote:" + dest));
  json r = restore->apply(h.ctx(), cp);
  CHECK(r["files"] == 3);
  INFO(t::tree_diff(src_state, t::tree_state(dest)));
  CHECK(t::tree_state(dest) == src_state);

  restore->undo(h.ctx(), cp);
  INFO(t::tree_diff(before, t::tree_state(dest)));
  CHECK(t::tree_state(dest) == before);
  CHECK(restore->fingerprint(h.ctx()) == fp);
}

TEST_CASE(
    "ssh e2e: a local snapshot restored onto the host is rolled back exactly when a check fails",
    "[ssh][e2e][snapshot-steps]") {
  if (!usable()) return;
  Sshd sshd;
  t::TempDir tmp;
  const std::string src = tmp / "site", dest = sshd.dir() + "/srv/site";
  make_tree(src);
  make_tree(dest);
  drift(dest);
  const auto before = t::tree_state(dest);
  auto o = sshd.options();
  auto plan = [&](const std::string& health) {
    return "version: 1\n"
           "name: ssh-files\n"
           "hosts:\n"
           "  remote:\n"
           "    address: 127.0.0.1\n"
           "    port: " +
           std::to_string(sshd.port()) +
           "\n"
           "    user: " +
           o.user +
           "\n"
           "    identity_file: " +
           o.identity_file +
           "\n"
           "    known_hosts: " +
           o.known_hosts +
           "\n"
           "steps:\n"
           "  - id: snap\n"
           "    type: files.snapshot\n"
           "    with: { paths: [" +
           src +
           "] }\n"
           "  - id: put\n"
           "    type: files.restore\n"
           "    on: remote\n"
           "    with: { artifact: \"${steps.snap.outputs.artifact}\", dest: " +
           dest +
           ", clean: true }\n"
           "  - id: health\n"
           "    type: check.file\n"
           "    on: remote\n"
           "    with: { path: " +
           health + ", exists: true }\n";
  };
  t::write_file(tmp / "plan.yaml", plan(dest + "/healthy"));
  auto r = t::run_cutover({"apply", tmp / "plan.yaml", "--state", tmp / "state", "--auto-approve"});
  INFO(r.all());
  CHECK(r.exit_code == 3);
  INFO(t::tree_diff(before, t::tree_state(dest)));
  CHECK(t::tree_state(dest) == before);

  // With a check that passes, the host holds the snapshot exactly.
  t::write_file(tmp / "plan.yaml", plan(dest + "/index.html"));
  r = t::run_cutover({"apply", tmp / "plan.yaml", "--state", tmp / "state", "--auto-approve"});
  INFO(r.all());
  CHECK(r.exit_code == 0);
  CHECK(t::tree_state(dest) == t::tree_state(src));
}
