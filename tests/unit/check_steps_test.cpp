// Checks (read-only) plus wait and confirm: pass quietly, fail with what was found.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>

#include "tests/support/step_harness.h"
#include "util/error.h"

using cutover::Error;
using cutover::Interrupted;
using nlohmann::json;
namespace t = cutover::testing;

namespace {

// A listening socket on 127.0.0.1 and a free port number.
struct Listener {
  int fd = -1;
  int port = 0;
  Listener() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd, 4);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~Listener() { ::close(fd); }
};

}  // namespace

TEST_CASE("check.file passes and fails with the path named", "[check-steps][steps-builtin]") {
  t::StepHarness h;
  t::write_file(h.path("sites.txt"), "erp.example.test\n");
  auto ok = h.make("check.file", {{"path", h.path("sites.txt")}, {"contains", "erp.example"}});
  CHECK_FALSE(ok->plan(h.ctx()).changes);
  CHECK(ok->checkpoint(h.ctx()).is_null());
  ok->apply(h.ctx(), nullptr);

  CHECK_THROWS_WITH(h.make("check.file", {{"path", h.path("sites.txt")}, {"contains", "other"}})
                        ->apply(h.ctx(), nullptr),
                    Catch::Contains("does not contain \"other\"") && Catch::Contains("sites.txt"));
  CHECK_THROWS_WITH(h.make("check.file", {{"path", h.path("missing")}})->plan(h.ctx()),
                    Catch::Contains(h.path("missing")) && Catch::Contains("does not exist"));
  CHECK_THROWS_WITH(h.make("check.file", {{"path", h.path("sites.txt")}, {"exists", false}})
                        ->apply(h.ctx(), nullptr),
                    Catch::Contains("exists but must not"));
  h.make("check.file", {{"path", h.path("missing")}, {"exists", false}})->apply(h.ctx(), nullptr);
}

TEST_CASE("check.disk reports free bytes and fails below min_free",
          "[check-steps][steps-builtin]") {
  t::StepHarness h;
  auto ok = h.make("check.disk", {{"path", h.path("not/yet/created")}, {"min_free", "1KiB"}});
  json out = ok->apply(h.ctx(), nullptr);
  CHECK(out["free_bytes"].get<uint64_t>() > 1024);
  auto too_much = h.make("check.disk", {{"path", h.dir().path()}, {"min_free", "1000000TiB"}});
  CHECK_THROWS_WITH(too_much->plan(h.ctx()), Catch::Contains("free at") && Catch::Contains("need"));
  CHECK_THROWS_WITH(h.make("check.disk", {{"path", "/"}, {"min_free", "lots"}}),
                    Catch::Contains("min_free"));
}

TEST_CASE("check.command finds a version and compares it", "[check-steps][steps-builtin]") {
  t::StepHarness h;
  std::string tool = h.path("fake-tool");
  t::write_file(tool, "#!/bin/sh\necho \"fake-tool (GNU) 15.4.2 build 7\"\n", 0755);
  json out = h.make("check.command", {{"command", tool}, {"min_version", "15.4"}})
                 ->apply(h.ctx(), nullptr);
  CHECK(out["version"] == "15.4.2");
  CHECK_THROWS_WITH(
      h.make("check.command", {{"command", tool}, {"min_version", "16"}})->apply(h.ctx(), nullptr),
      Catch::Contains("version 15.4.2, need 16 or newer"));
  CHECK_THROWS_WITH(
      h.make("check.command", {{"command", "no-such-tool-xyz"}})->apply(h.ctx(), nullptr),
      Catch::Contains("no-such-tool-xyz not found"));
  std::string quiet = h.path("no-version");
  t::write_file(quiet, "#!/bin/sh\necho usage: no-version ARGS\n", 0755);
  CHECK(h.make("check.command", {{"command", quiet}})->plan(h.ctx()).outputs["version"] == "");
  CHECK_THROWS_WITH(
      h.make("check.command", {{"command", quiet}, {"min_version", "1"}})->apply(h.ctx(), nullptr),
      Catch::Contains("found no version number"));
}

TEST_CASE("check.tcp tells an open port from a closed one", "[check-steps][steps-builtin]") {
  t::StepHarness h;
  Listener l;
  h.make("check.tcp", {{"host", "127.0.0.1"}, {"port", l.port}})->apply(h.ctx(), nullptr);
  CHECK_THROWS_WITH(
      h.make("check.tcp", {{"host", "127.0.0.1"}, {"port", l.port}, {"expect", "closed"}})
          ->apply(h.ctx(), nullptr),
      Catch::Contains("is open but must be closed"));
  int closed_port = 0;
  {
    Listener gone;
    closed_port = gone.port;
  }
  h.make("check.tcp", {{"host", "127.0.0.1"}, {"port", closed_port}, {"expect", "closed"}})
      ->apply(h.ctx(), nullptr);
  CHECK_THROWS_WITH(
      h.make("check.tcp", {{"host", "localhost"}, {"port", closed_port}, {"timeout", "1s"}})
          ->plan(h.ctx()),
      Catch::Contains("not accepting connections"));
  CHECK_THROWS_WITH(h.make("check.tcp", {{"host", "x"}, {"port", 70000}}), Catch::Contains("port"));
}

TEST_CASE("wait pauses, and the step deadline cuts it short", "[check-steps][steps-builtin]") {
  t::StepHarness h;
  auto start = std::chrono::steady_clock::now();
  h.make("wait", {{"duration", "200ms"}})->apply(h.ctx(), nullptr);
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(200));
  CHECK(h.make("wait", {{"duration", "1h"}})->plan(h.ctx()).summary == "wait 1h00m");
  h.set_timeout(std::chrono::milliseconds(150));
  CHECK_THROWS_AS(h.make("wait", {{"duration", "10s"}})->apply(h.ctx(), nullptr), Interrupted);
  CHECK_THROWS_WITH(h.make("wait", {{"duration", "soon"}}), Catch::Contains("duration"));
}

TEST_CASE("confirm needs --auto-approve when not on a terminal", "[check-steps][steps-builtin]") {
  t::StepHarness h;
  auto step = h.make("confirm", {{"message", "Switch DNS now?"}});
  h.run().interactive = false;
  h.run().auto_approve = false;
  CHECK_THROWS_WITH(step->apply(h.ctx(), nullptr),
                    "confirm step needs --auto-approve when not on a terminal");
  h.run().auto_approve = true;
  step->apply(h.ctx(), nullptr);
  CHECK_FALSE(step->plan(h.ctx()).changes);
}

TEST_CASE("every built-in step of this family is fully described in the registry",
          "[check-steps][steps-builtin]") {
  for (const char* name : {"file.write", "file.replace", "config.set", "shell", "check.file",
                           "check.disk", "check.command", "check.tcp", "wait", "confirm"}) {
    INFO(name);
    const auto* type = cutover::steps::find_step_type(name);
    REQUIRE(type);
    CHECK_FALSE(type->summary.empty());
    CHECK_FALSE(type->undo.empty());
    CHECK_FALSE(type->outputs.empty());
    json schema = json::parse(type->params_schema);
    CHECK(schema["additionalProperties"] == false);
    for (const auto& [key, prop] : schema["properties"].items()) {
      INFO(key);
      CHECK(prop.contains("description"));
    }
  }
}
