// The real `cutover` binary against a real sshd: a plan whose steps run `on: remote` (and a
// transfer to it) fails at its final check, and every remote file is back byte for byte,
// mode included (exit 3). An unknown host key stops the run before any step (exit 1).
#include <catch2/catch.hpp>
#include <fstream>

#include "tests/support/e2e.h"
#include "tests/support/sshd.h"

using cutover::test::Sshd;
namespace t = cutover::test;

namespace {

std::string plan_text(const Sshd& sshd, const std::string& known_hosts, const std::string& app,
                      const std::string& payload) {
  auto o = sshd.options();
  return "version: 1\n"
         "name: ssh-e2e\n"
         "hosts:\n"
         "  remote:\n"
         "    address: 127.0.0.1\n"
         "    port: " + std::to_string(sshd.port()) + "\n"
         "    user: " + o.user + "\n"
         "    identity_file: " + o.identity_file + "\n"
         "    host_key: strict\n"
         "    known_hosts: " + known_hosts + "\n"
         "steps:\n"
         "  - id: registry\n"
         "    type: config.set\n"
         "    on: remote\n"
         "    with: { path: " + app + "/connection_registry.json, set: { primary_backend_url: https://new.example.test } }\n"
         "  - id: site\n"
         "    type: file.replace\n"
         "    on: remote\n"
         "    with: { paths: [" + app + "/site.conf], find: old.example.test, replace: new.example.test }\n"
         "  - id: ship\n"
         "    type: transfer\n"
         "    with: { src: " + payload + ", dest: \"remote:" + app + "/payload.bin\" }\n"
         "  - id: hook\n"
         "    type: shell\n"
         "    on: remote\n"
         "    with: { run: \"touch " + app + "/ran\", undo: \"rm -f " + app + "/ran\" }\n"
         "  - id: health\n"
         "    type: check.file\n"
         "    on: remote\n"
         "    with: { path: " + app + "/healthy, exists: true }\n";
}

// Until the executor wires plan hosts to hosts/ssh_host.h, a build says so: skip then.
bool ssh_wired(const t::CliResult& r) {
  // The executor opens plan hosts over SSH: a build that cannot is a failure, not a skip.
  CHECK(r.all().find("SSH hosts are not available in this build") == std::string::npos);
  return true;
}

}  // namespace

TEST_CASE("ssh e2e: a failing final check rolls back every remote change exactly", "[ssh][e2e]") {
  if (!Sshd::available()) {
    WARN("skipped: /usr/sbin/sshd is not installed");
    return;
  }
  Sshd sshd;
  t::TempDir tmp;
  const std::string app = sshd.dir() + "/app";
  t::write_file(app + "/connection_registry.json",
                "{\n  \"primary_backend_url\": \"https://old.example.test\"\n}\n", 0640);
  t::write_file(app + "/site.conf", "server_name old.example.test;\n", 0600);
  t::write_file(app + "/payload.bin", "the previous payload\n", 0644);
  std::string payload(3 << 20, 'p');
  t::write_file(tmp / "payload.bin", payload, 0644);
  const auto before = t::snapshot_tree(app);
  const std::string plan = tmp / "plan.yaml";

  SECTION("exit 3, remote files byte-identical") {
    t::write_file(plan, plan_text(sshd, sshd.options().known_hosts, app, tmp / "payload.bin"));
    auto r = t::run_cutover({"apply", plan, "--state", tmp / "state", "--auto-approve"});
    INFO(r.all());
    if (!ssh_wired(r)) return;
    CHECK(r.exit_code == 3);
    CHECK(t::snapshot_tree(app) == before);
  }
  SECTION("once the check passes, the changes stay") {
    t::write_file(app + "/healthy", "", 0644);
    t::write_file(plan, plan_text(sshd, sshd.options().known_hosts, app, tmp / "payload.bin"));
    auto r = t::run_cutover({"apply", plan, "--state", tmp / "state", "--auto-approve"});
    INFO(r.all());
    if (!ssh_wired(r)) return;
    CHECK(r.exit_code == 0);
    CHECK(t::read_file(app + "/payload.bin") == payload);
    CHECK(t::read_file(app + "/site.conf") == "server_name new.example.test;\n");
    CHECK(t::file_exists(app + "/ran"));
  }
  SECTION("an unknown host key stops the run before any step, exit 1") {
    std::ofstream(tmp / "empty_known_hosts").close();
    t::write_file(plan, plan_text(sshd, tmp / "empty_known_hosts", app, tmp / "payload.bin"));
    auto r = t::run_cutover({"apply", plan, "--state", tmp / "state", "--auto-approve"});
    INFO(r.all());
    if (!ssh_wired(r)) return;
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.all(), Catch::Contains("unknown host key"));
    CHECK(t::snapshot_tree(app) == before);
  }
}
