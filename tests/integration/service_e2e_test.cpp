// Service reconfiguration end to end, with the real cutover binary: stop a real service
// (tests/support/fake_app.py, manager: command), change its config, start it, health-check it
// over HTTP. A bad config fails the check (exit 3) and the rollback leaves the service running
// with its OLD config, answering the OLD response.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "steps/http_client.h"
#include "tests/support/e2e.h"
#include "tests/support/http_server.h"
#include "util/process.h"
#include "util/strings.h"

using cutover::test::CliResult;
using cutover::test::read_file;
using cutover::test::run_cutover;
using cutover::test::TempDir;
using cutover::test::write_file;
using namespace std::chrono_literals;

namespace {

const char* const kOldConfig = R"({"message": "v1", "status": "ok"})";

std::string python() { return ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3"; }

// GET through the client the steps use; "" when nothing answers.
std::string get_body(const std::string& url) {
  cutover::steps::HttpRequest r;
  r.url = url;
  r.timeout = 2s;
  auto resp = cutover::steps::http_send(r);
  return resp.ok() ? resp.body : "";
}

// The app under test: config file, pidfile, port; started before the plan runs, killed at
// the end whatever happened.
struct App {
  explicit App(const TempDir& t)
      : dir(t.path()), port(cutover::testing::free_port()), config(t / "app.json"), pidfile(t / "app.pid") {}
  ~App() {
    if (!cutover::test::file_exists(pidfile)) return;
    std::string pid = cutover::util::trim(read_file(pidfile));
    if (!pid.empty()) ::kill(std::stoi(pid), SIGKILL);
  }
  std::string start_command() const {
    return "exec " + python() + " " + CUTOVER_SOURCE_DIR + "/tests/support/fake_app.py --port " +
           std::to_string(port) + " --config " + config + " --pidfile " + pidfile;
  }
  void start() {
    cutover::util::ProcessSpec p;
    p.argv = {"/bin/sh", "-c", "setsid /bin/sh -c '" + start_command() + "' </dev/null >>" + dir +
                                   "/app-before.log 2>&1 &"};
    REQUIRE(cutover::util::run_process(p).ok());
    REQUIRE(cutover::test::wait_until([&] { return !get_body(url("/")).empty(); }, 15000));
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port) + path;
  }
  std::string dir;
  int port;
  std::string config, pidfile;
};

// stop -> write the new config -> start -> health check.
std::string reconfigure_plan(const App& app, const std::string& new_config) {
  std::string service = "{ manager: command, name: fake-app, start: \"" + app.start_command() +
                        "\", pidfile: \"" + app.pidfile + "\", wait: 10s }";
  return "version: 1\n"
         "name: reconfigure\n"
         "steps:\n"
         "  - id: stop\n"
         "    type: service.stop\n"
         "    with: " + service + "\n"
         "  - id: config\n"
         "    type: file.write\n"
         "    with: { path: \"" + app.config + "\", content: '" + new_config + "' }\n"
         "  - id: start\n"
         "    type: service.start\n"
         "    with: " + service + "\n"
         "  - id: health\n"
         "    type: http.check\n"
         "    with: { url: \"" + app.url("/health") + "\", expect: { status: 200, json: { /status: ok } }, "
         "attempts: 5, interval: 200ms, timeout: 2s }\n";
}

}  // namespace

TEST_CASE("e2e: stop, reconfigure, start and health-check a real service", "[service][http][e2e]") {
  TempDir t;
  App app(t);
  write_file(app.config, kOldConfig);
  app.start();
  REQUIRE(get_body(app.url("/")) == kOldConfig);
  const std::string new_config = R"({"message": "v2", "status": "ok"})";
  write_file(t / "plan.yaml", reconfigure_plan(app, new_config));

  // The dry run shows each service's current -> wanted state and changes nothing.
  CliResult dry = run_cutover({"plan", t / "plan.yaml", "--state", t / "state"});
  INFO(dry.all());
  CHECK(dry.exit_code == 0);
  CHECK_THAT(dry.all(), Catch::Contains("stop service fake-app (command): running -> stopped"));
  CHECK_THAT(dry.all(), Catch::Contains("start service fake-app (command): already running (nothing to do)"));
  CHECK(get_body(app.url("/")) == kOldConfig);

  CliResult r = run_cutover({"apply", t / "plan.yaml", "--state", t / "state"});
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  CHECK(get_body(app.url("/")) == new_config);
  CHECK(get_body(app.url("/health")) == R"({"status": "ok", "message": "v2"})");
}

TEST_CASE("e2e: a bad config fails the health check and rollback restores the old service",
          "[service][http][e2e]") {
  TempDir t;
  App app(t);
  write_file(app.config, kOldConfig);
  app.start();
  const std::string old_pid = read_file(app.pidfile);
  write_file(t / "plan.yaml", reconfigure_plan(app, R"({"message": "v2", "status": "degraded"})"));

  CliResult r = run_cutover({"apply", t / "plan.yaml", "--state", t / "state"});
  INFO(r.all());
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.all(), Catch::Contains("GET " + app.url("/health") +
                                      ": status 503, expected 200 (after 5 attempts)"));
  // Rolled back: the old config is back on disk and the service runs again, with it.
  CHECK(read_file(app.config) == kOldConfig);
  CHECK(get_body(app.url("/")) == kOldConfig);
  CHECK(get_body(app.url("/health")) == R"({"status": "ok", "message": "v1"})");
  CHECK(read_file(app.pidfile) != old_pid);  // a new process: it was stopped and started again
}

TEST_CASE("e2e: a service that cannot bind its port fails with its log and the port-in-use hint",
          "[service][e2e][known-errors]") {
  TempDir t;
  App app(t);
  write_file(app.config, kOldConfig);
  cutover::testing::HttpServer squatter;  // holds the port the app wants
  app.port = squatter.port();
  std::string plan = "version: 1\nname: portclash\nsteps:\n"
                     "  - id: start\n    type: service.start\n    with: { manager: command, name: fake-app, "
                     "start: \"" + app.start_command() + "\", pidfile: \"" + app.pidfile + "\", wait: 3s }\n";
  write_file(t / "plan.yaml", plan);

  CliResult r = run_cutover({"apply", t / "plan.yaml", "--state", t / "state"});
  INFO(r.all());
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.all(), Catch::Contains("is still stopped after 3s, expected running"));
  CHECK_THAT(r.all(), Catch::Contains("Address already in use"));
  // ... and the known-errors base explains it.
  CHECK_THAT(r.all(), Catch::Contains("Another process already listens on the port"));
}
