// file.write and file.replace, driven directly against real files in a temp folder.
#include <catch2/catch.hpp>

#include "tests/support/step_harness.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/redact.h"

using cutover::Error;
using nlohmann::json;
namespace t = cutover::testing;

TEST_CASE("file.write then undo puts back the exact bytes and mode",
          "[file-steps][steps-builtin]") {
  t::StepHarness h;
  std::string path = h.path("app.conf");
  std::string old_bytes = std::string("listen 80;\r\nbinary\0tail", 23);
  t::write_file(path, old_bytes, 0640);
  auto step =
      h.make("file.write", {{"path", path}, {"content", "listen 8080;\n"}, {"mode", "0600"}});

  json cp = step->checkpoint(h.ctx());
  json before = step->fingerprint(h.ctx());
  json out = step->apply(h.ctx(), cp);
  CHECK(t::read_file(path) == "listen 8080;\n");
  CHECK(t::file_mode(path) == 0600);
  CHECK(out["sha256"].get<std::string>().size() == 64);

  step->undo(h.ctx(), cp);
  CHECK(t::read_file(path) == old_bytes);
  CHECK(t::file_mode(path) == 0640);
  CHECK(step->fingerprint(h.ctx()) == before);

  step->undo(h.ctx(), cp);  // twice is fine
  CHECK(t::read_file(path) == old_bytes);
}

TEST_CASE("file.write keeps the existing mode, and a new file gets 0644 and is removed by undo",
          "[file-steps][steps-builtin]") {
  t::StepHarness h;
  std::string kept = h.path("kept.conf");
  t::write_file(kept, "a\n", 0600);
  auto step = h.make("file.write", {{"path", kept}, {"content", "b\n"}});
  json cp = step->checkpoint(h.ctx());
  step->apply(h.ctx(), cp);
  CHECK(t::file_mode(kept) == 0600);

  std::string fresh = h.path("fresh.conf");
  auto create = h.make("file.write", {{"path", fresh}, {"content", "new\n"}});
  json cp2 = create->checkpoint(h.ctx());
  CHECK(cp2["file"]["state"] == "absent");
  create->apply(h.ctx(), cp2);
  CHECK(t::file_mode(fresh) == 0644);
  create->undo(h.ctx(), cp2);
  CHECK_FALSE(t::exists(fresh));
  create->undo(h.ctx(), cp2);
  CHECK_FALSE(t::exists(fresh));
}

TEST_CASE("file.write undo without apply changes nothing", "[file-steps][steps-builtin]") {
  t::StepHarness h;
  std::string path = h.path("x.txt");
  t::write_file(path, "original\n", 0604);
  auto step = h.make("file.write", {{"path", path}, {"content", "changed\n"}});
  json cp = step->checkpoint(h.ctx());
  step->undo(h.ctx(), cp);
  CHECK(t::read_file(path) == "original\n");
  CHECK(t::file_mode(path) == 0604);
  step->undo(h.ctx(), nullptr);  // never even checkpointed
}

TEST_CASE("file.write undo refuses when a folder now stands at the path",
          "[file-steps][steps-builtin]") {
  t::StepHarness h;
  std::string path = h.path("site.conf");
  auto step = h.make("file.write", {{"path", path}, {"content", "x\n"}});
  json cp = step->checkpoint(h.ctx());
  step->apply(h.ctx(), cp);
  cutover::util::remove_all(path);
  cutover::util::make_dirs(path + "/inner", 0755);
  t::write_file(path + "/inner/keep", "precious");
  REQUIRE_THROWS_AS(step->undo(h.ctx(), cp), Error);
  REQUIRE_THROWS_WITH(step->undo(h.ctx(), cp), Catch::Contains(path) && Catch::Contains("folder"));
  CHECK(t::read_file(path + "/inner/keep") == "precious");
}

TEST_CASE("file.write keeps large prior content in the artifact store",
          "[file-steps][steps-builtin]") {
  t::StepHarness h;
  std::string path = h.path("big.bin");
  std::string big(200 * 1024, 'z');
  big[5] = '\0';
  t::write_file(path, big, 0644);
  auto step = h.make("file.write", {{"path", path}, {"content", "small\n"}});
  json cp = step->checkpoint(h.ctx());
  CHECK(cp["file"].contains("artifact"));
  CHECK_FALSE(cp["file"].contains("inline"));
  auto preview = step->plan(h.ctx());
  CHECK_THAT(preview.detail, Catch::Contains("binary/large file changed"));
  step->apply(h.ctx(), cp);
  step->undo(h.ctx(), cp);
  CHECK(t::read_file(path) == big);
}

TEST_CASE("file.write plan shows a unified diff and changes nothing",
          "[file-steps][steps-builtin]") {
  t::StepHarness h;
  std::string path = h.path("nginx.conf");
  t::write_file(path, "a\nb\nc\nd\ne\nf\ng\n");
  auto step = h.make("file.write", {{"path", path}, {"content", "a\nb\nc\nD\ne\nf\ng\n"}});
  auto p = step->plan(h.ctx());
  CHECK(p.changes);
  CHECK(p.detail ==
        "--- a" + path + "\n+++ b" + path + "\n@@ -1,7 +1,7 @@\n a\n b\n c\n-d\n+D\n e\n f\n g\n");
  CHECK(t::read_file(path) == "a\nb\nc\nd\ne\nf\ng\n");

  auto same = h.make("file.write", {{"path", path}, {"content", "a\nb\nc\nd\ne\nf\ng\n"}});
  CHECK_FALSE(same->plan(h.ctx()).changes);
}

TEST_CASE("file.write from a template and from a source file", "[file-steps][steps-builtin]") {
  t::StepHarness h;
  t::write_file(h.path("site.tmpl"), "server_name ${vars.host};\n");
  h.ctx().render = [](const std::string& text) {
    std::string out = text;
    auto at = out.find("${vars.host}");
    if (at != std::string::npos) out.replace(at, 12, "example.test");
    return out;
  };
  auto tmpl = h.make("file.write", {{"path", h.path("site.conf")}, {"template", "site.tmpl"}});
  tmpl->apply(h.ctx(), tmpl->checkpoint(h.ctx()));
  CHECK(t::read_file(h.path("site.conf")) == "server_name example.test;\n");

  t::write_file(h.path("payload.bin"), std::string("\x01\x02\0\x03", 4));
  auto src = h.make("file.write",
                    {{"path", h.path("copy.bin")}, {"source", "payload.bin"}, {"mode", 600}});
  src->apply(h.ctx(), src->checkpoint(h.ctx()));
  CHECK(t::read_file(h.path("copy.bin")) == std::string("\x01\x02\0\x03", 4));
  CHECK(t::file_mode(h.path("copy.bin")) == 0600);  // YAML `mode: 0600` arrives as the integer 600
}

TEST_CASE("file.write refuses bad parameters and a missing folder", "[file-steps][steps-builtin]") {
  t::StepHarness h;
  CHECK_THROWS_WITH(h.make("file.write", {{"path", "/x"}}), Catch::Contains("exactly one"));
  CHECK_THROWS_WITH(h.make("file.write", {{"path", "/x"}, {"content", "a"}, {"source", "b"}}),
                    Catch::Contains("exactly one"));
  CHECK_THROWS_WITH(h.make("file.write", {{"path", "/x"}, {"content", "a"}, {"mode", "0999"}}),
                    Catch::Contains("mode"));
  auto step = h.make("file.write", {{"path", h.path("missing/dir/f")}, {"content", "a"}});
  // An earlier step may create the folder: plan says so rather than failing.
  CHECK_THAT(step->plan(h.ctx()).summary, Catch::Contains("does not exist yet"));
  CHECK_THROWS_WITH(step->apply(h.ctx(), step->checkpoint(h.ctx())),
                    Catch::Contains(h.path("missing/dir")) && Catch::Contains("does not exist"));
}

TEST_CASE("file.write through a symlink writes the target and keeps the link",
          "[file-steps][steps-builtin]") {
  t::StepHarness h;
  t::write_file(h.path("real.conf"), "old\n");
  h.local().symlink("real.conf", h.path("link.conf"));
  auto step = h.make("file.write", {{"path", h.path("link.conf")}, {"content", "new\n"}});
  json cp = step->checkpoint(h.ctx());
  step->apply(h.ctx(), cp);
  CHECK(h.local().stat(h.path("link.conf")).is_symlink);
  CHECK(t::read_file(h.path("real.conf")) == "new\n");
  step->undo(h.ctx(), cp);
  CHECK(t::read_file(h.path("real.conf")) == "old\n");
}

TEST_CASE("file.replace edits every matched file and undo restores them",
          "[file-steps][steps-builtin]") {
  t::StepHarness h;
  cutover::util::make_dirs(h.path("conf"), 0755);
  t::write_file(h.path("conf/a.conf"), "host=old.example\nother=old.example\n", 0640);
  t::write_file(h.path("conf/b.conf"), "nothing here\n", 0644);
  t::write_file(h.path("sites.txt"), "old.example\n", 0600);
  auto step = h.make("file.replace", {{"paths", {h.path("conf/*.conf"), "sites.txt"}},
                                      {"find", "old.example"},
                                      {"replace", "new.example"},
                                      {"expect_min", 3}});
  auto p = step->plan(h.ctx());
  CHECK(p.outputs["replacements"] == 3);
  CHECK_THAT(p.detail, Catch::Contains("+host=new.example"));

  json cp = step->checkpoint(h.ctx());
  CHECK(cp["files"].size() == 2);  // b.conf would not change
  json fp = step->fingerprint(h.ctx());
  CHECK(fp.size() == 3);
  json out = step->apply(h.ctx(), cp);
  CHECK(out["replacements"] == 3);
  CHECK(t::read_file(h.path("conf/a.conf")) == "host=new.example\nother=new.example\n");
  CHECK(t::file_mode(h.path("conf/a.conf")) == 0640);
  CHECK(t::read_file(h.path("sites.txt")) == "new.example\n");

  step->undo(h.ctx(), cp);
  step->undo(h.ctx(), cp);
  CHECK(t::read_file(h.path("conf/a.conf")) == "host=old.example\nother=old.example\n");
  CHECK(t::file_mode(h.path("sites.txt")) == 0600);
  CHECK(step->fingerprint(h.ctx()) == fp);
}

TEST_CASE("file.replace with a regex and captured groups", "[file-steps][steps-builtin]") {
  t::StepHarness h;
  t::write_file(h.path("redis.conf"), "port 6379\nport 6380\n");
  auto step = h.make("file.replace", {{"paths", h.path("redis.conf")},
                                      {"find", "port (\\d+)"},
                                      {"replace", "port 1$1"},
                                      {"regex", true}});
  json out = step->apply(h.ctx(), step->checkpoint(h.ctx()));
  CHECK(out["replacements"] == 2);
  CHECK(t::read_file(h.path("redis.conf")) == "port 16379\nport 16380\n");
}

TEST_CASE("file.replace fails before writing when expect_min is not met",
          "[file-steps][steps-builtin]") {
  t::StepHarness h;
  t::write_file(h.path("a.txt"), "one match\n");
  auto step = h.make(
      "file.replace",
      {{"paths", h.path("a.txt")}, {"find", "match"}, {"replace", "hit"}, {"expect_min", 2}});
  json cp = step->checkpoint(h.ctx());
  CHECK_THROWS_WITH(step->apply(h.ctx(), cp),
                    Catch::Contains("1 replacement") && Catch::Contains("at least 2"));
  CHECK(t::read_file(h.path("a.txt")) == "one match\n");
  auto missing =
      h.make("file.replace", {{"paths", h.path("nope.txt")}, {"find", "a"}, {"replace", "b"}});
  CHECK_THAT(missing->plan(h.ctx()).summary,
             Catch::Contains("nope.txt") && Catch::Contains("earlier step"));
  CHECK_THROWS_WITH(missing->checkpoint(h.ctx()),
                    Catch::Contains("nope.txt") && Catch::Contains("does not exist"));
}

TEST_CASE("file.write keeps prior content holding a secret out of the journal",
          "[file-steps][steps-builtin]") {
  t::StepHarness h;
  std::string path = h.path(".env");
  t::write_file(path, "DB_PASSWORD=hunter2-secret\n", 0600);
  cutover::util::register_secret("hunter2-secret");
  auto step = h.make("file.write", {{"path", path}, {"content", "DB_PASSWORD=other\n"}});
  json cp = step->checkpoint(h.ctx());
  cutover::util::clear_secrets();
  CHECK(cp["file"].contains("artifact"));
  CHECK_FALSE(cp["file"].contains("inline"));
  step->apply(h.ctx(), cp);
  step->undo(h.ctx(), cp);
  CHECK(t::read_file(path) == "DB_PASSWORD=hunter2-secret\n");
}

TEST_CASE("StepHarness can point a step at another registered host",
          "[file-steps][steps-builtin]") {
  t::StepHarness h;
  h.add_host("other", cutover::hosts::make_local_host());
  h.use_host("other");
  CHECK(&h.ctx().host != &h.local());
  auto step = h.make("file.write", {{"path", h.path("via-other")}, {"content", "x"}}, "other");
  step->apply(h.ctx(), step->checkpoint(h.ctx()));
  CHECK(t::read_file(h.path("via-other")) == "x");
  CHECK_THROWS_WITH(h.use_host("nope"), Catch::Contains("unknown host"));
}
