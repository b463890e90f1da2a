// ⇄ steps on an SSH host (`on: remote`): config.set, file.write, file.replace and shell go
// through SshHost unchanged, and checkpoint → apply → undo leaves the remote files
// byte-identical, mode included, with fingerprints that agree.
#include <catch2/catch.hpp>

#include "hosts/ssh_host.h"
#include "tests/support/sshd.h"
#include "tests/support/step_harness.h"

using namespace cutover;
using cutover::test::Sshd;
using cutover::testing::StepHarness;
using nlohmann::json;

TEST_CASE("ssh: remote config.set file.write file.replace and shell steps undo exactly", "[ssh]") {
  if (!Sshd::available()) {
    WARN("skipped: /usr/sbin/sshd is not installed");
    return;
  }
  Sshd sshd;
  StepHarness h;
  h.add_host("remote", hosts::connect_ssh(sshd.options()));
  h.use_host("remote");
  hosts::Host& remote = h.ctx().host;
  REQUIRE(remote.name() == "remote");
  const std::string d = sshd.dir() + "/app";
  remote.make_dirs(d, 0755);
  const std::string cfg = d + "/connection_registry.json";
  const std::string conf = d + "/site.conf";
  const std::string cfg_before = "{\n  \"primary_backend_url\": \"https://old.example.test\",\n  \"n\": 1\n}\n";
  const std::string conf_before = "server_name old.example.test;\nlisten 80;\n";
  remote.write_file(cfg, cfg_before, 0640);
  remote.write_file(conf, conf_before, 0600);

  struct Case {
    const char* type;
    json with;
  };
  std::vector<Case> cases = {
      {"config.set", {{"path", cfg}, {"set", {{"primary_backend_url", "https://new.example.test"}}}}},
      {"file.write", {{"path", d + "/new.txt"}, {"content", "fresh\n"}, {"mode", "0644"}}},
      {"file.replace", {{"paths", {d + "/*.conf"}}, {"find", "old.example.test"}, {"replace", "new.example.test"}}},
      {"shell", {{"run", "echo ran > marker && chmod 0700 site.conf"},
                 {"undo", "rm -f marker && chmod 0600 site.conf"},
                 {"cwd", d}}},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.type) {
      if (!steps::find_step_type(c.type)) {
        WARN(std::string("skipped: no step type ") + c.type + " in this build");
        continue;
      }
      auto step = h.make(c.type, c.with, "remote");
      json cp = step->checkpoint(h.ctx());
      json fp = step->fingerprint(h.ctx());
      step->apply(h.ctx(), cp);
      bool changed = remote.read_file(cfg) != cfg_before || remote.read_file(conf) != conf_before ||
                     remote.stat(d + "/new.txt").exists || remote.stat(d + "/marker").exists;
      CHECK(changed);
      step->undo(h.ctx(), cp);
      CHECK(remote.read_file(cfg) == cfg_before);
      CHECK(remote.stat(cfg).mode == 0640);
      CHECK(remote.read_file(conf) == conf_before);
      CHECK(remote.stat(conf).mode == 0600);
      CHECK_FALSE(remote.stat(d + "/new.txt").exists);
      CHECK_FALSE(remote.stat(d + "/marker").exists);
      CHECK(remote.list_dir(d) == std::vector<std::string>{"connection_registry.json", "site.conf"});
      if (!fp.is_null()) CHECK(step->fingerprint(h.ctx()) == fp);
    }
  }
}
