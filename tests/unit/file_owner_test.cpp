// Owner and group survive file.write, file.replace and config.set and come back exactly on
// undo (the tests run as root here, so they give files away to uid 1234 / gid 2345).
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "tests/support/step_harness.h"
#include "util/fs.h"

using nlohmann::json;
namespace t = cutover::testing;

namespace {

struct Owned {
  uid_t uid;
  gid_t gid;
  bool operator==(const Owned& o) const { return uid == o.uid && gid == o.gid; }
};

Owned owner_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return {st.st_uid, st.st_gid};
}

void give_away(const std::string& path, uid_t uid, gid_t gid) {
  REQUIRE(::lchown(path.c_str(), uid, gid) == 0);
}

bool root() { return ::geteuid() == 0; }

}  // namespace

TEST_CASE("file.write keeps the owner of the file it rewrites, and undo restores owner and group",
          "[file-steps][owner][steps-builtin]") {
  if (!root()) {
    WARN("skipped: giving files away needs root");
    return;
  }
  t::StepHarness h;
  std::string path = h.path("app.conf");
  t::write_file(path, "listen 80;\n", 0640);
  give_away(path, 1234, 2345);

  auto step = h.make("file.write", {{"path", path}, {"content", "listen 8080;\n"}});
  json cp = step->checkpoint(h.ctx());
  CHECK(cp["file"]["uid"] == 1234);
  CHECK(cp["file"]["gid"] == 2345);
  json before = step->fingerprint(h.ctx());
  CHECK(before.begin()->at("owner") == "1234:2345");

  step->apply(h.ctx(), cp);
  CHECK(t::read_file(path) == "listen 8080;\n");
  // The atomic rewrite is a new inode created by root: the owner is carried over.
  CHECK(owner_of(path) == Owned{1234, 2345});
  CHECK(t::file_mode(path) == 0640);

  // Someone gives the file to another user after the change: undo puts the owner back.
  give_away(path, 0, 0);
  step->undo(h.ctx(), cp);
  CHECK(t::read_file(path) == "listen 80;\n");
  CHECK(owner_of(path) == Owned{1234, 2345});
  CHECK(t::file_mode(path) == 0640);
  CHECK(step->fingerprint(h.ctx()) == before);
}

TEST_CASE("undo restores owner and a setuid mode when only the owner changed",
          "[file-steps][owner][steps-builtin]") {
  if (!root()) {
    WARN("skipped: giving files away needs root");
    return;
  }
  t::StepHarness h;
  std::string path = h.path("helper");
  t::write_file(path, "#!/bin/sh\n", 04750);
  give_away(path, 1234, 2345);
  ::chmod(path.c_str(), 04750);  // chown cleared setuid
  auto step = h.make("file.write", {{"path", path}, {"content", "#!/bin/sh\n"}});
  json cp = step->checkpoint(h.ctx());
  json before = step->fingerprint(h.ctx());
  step->apply(h.ctx(), cp);  // same bytes: nothing written

  give_away(path, 0, 0);  // clears setuid as well
  CHECK(t::file_mode(path) == 0750);
  json changed = step->fingerprint(h.ctx());
  CHECK(changed != before);  // verified undo would notice an owner change

  step->undo(h.ctx(), cp);
  CHECK(owner_of(path) == Owned{1234, 2345});
  CHECK(t::file_mode(path) == 04750);
  CHECK(step->fingerprint(h.ctx()) == before);
}

TEST_CASE(
    "file.replace and config.set keep owners, and undo brings back the owner of a deleted file",
    "[file-steps][owner][steps-builtin]") {
  if (!root()) {
    WARN("skipped: giving files away needs root");
    return;
  }
  t::StepHarness h;
  std::string a = h.path("a.conf"), b = h.path("b.conf"), cfg = h.path("registry.json");
  t::write_file(a, "host old.example.test\n", 0644);
  t::write_file(b, "peer old.example.test\n", 0600);
  t::write_file(cfg, "{\n  \"url\": \"https://old.example.test\"\n}\n", 0640);
  give_away(a, 1234, 2345);
  give_away(b, 4321, 2345);
  give_away(cfg, 1234, 5432);

  auto replace = h.make("file.replace", {{"paths", {h.path("*.conf")}},
                                         {"find", "old.example.test"},
                                         {"replace", "new.example.test"}});
  json rcp = replace->checkpoint(h.ctx());
  json rfp = replace->fingerprint(h.ctx());
  replace->apply(h.ctx(), rcp);
  CHECK(t::read_file(a) == "host new.example.test\n");
  CHECK(owner_of(a) == Owned{1234, 2345});
  CHECK(owner_of(b) == Owned{4321, 2345});

  auto set = h.make("config.set", {{"path", cfg}, {"set", {{"url", "https://new.example.test"}}}});
  json scp = set->checkpoint(h.ctx());
  json sfp = set->fingerprint(h.ctx());
  set->apply(h.ctx(), scp);
  CHECK(t::read_file(cfg).find("new.example.test") != std::string::npos);
  CHECK(owner_of(cfg) == Owned{1234, 5432});

  // A file deleted after the change is written again with its old owner and group.
  cutover::util::remove_all(b);
  set->undo(h.ctx(), scp);
  replace->undo(h.ctx(), rcp);
  CHECK(t::read_file(a) == "host old.example.test\n");
  CHECK(t::read_file(b) == "peer old.example.test\n");
  CHECK(owner_of(a) == Owned{1234, 2345});
  CHECK(owner_of(b) == Owned{4321, 2345});
  CHECK(t::file_mode(b) == 0600);
  CHECK(owner_of(cfg) == Owned{1234, 5432});
  CHECK(replace->fingerprint(h.ctx()) == rfp);
  CHECK(set->fingerprint(h.ctx()) == sfp);
}

TEST_CASE("Host::write_file with an owner and Host::chown set uid and gid",
          "[file-steps][owner][steps-builtin]") {
  if (!root()) {
    WARN("skipped: giving files away needs root");
    return;
  }
  t::StepHarness h;
  auto& host = h.local();
  std::string path = h.path("given.txt");
  host.write_file(path, "x", 02755, cutover::hosts::Owner{1234, 2345});
  auto fi = host.stat(path);
  CHECK(fi.has_owner);
  CHECK(fi.uid == 1234);
  CHECK(fi.gid == 2345);
  CHECK(fi.mode == 02755);  // setgid survives: the mode is set after the owner
  host.chown(path, 4321, 5432);
  fi = host.stat(path);
  CHECK(fi.uid == 4321);
  CHECK(fi.gid == 5432);
}
