// service.* against a real background service (tests/support/fake_app.py) and fake
// systemctl/docker/pm2 executables that log their argv; http.* against a real HTTP server on
// loopback; the known-errors base on a real error line. Steps are driven directly through
// the shared StepHarness.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "executor/known_errors.h"
#include "steps/http_client.h"
#include "hosts/ssh_host.h"
#include "tests/support/http_server.h"
#include "tests/support/sshd.h"
#include "tests/support/step_harness.h"
#include "util/error.h"
#include "util/strings.h"

using cutover::Error;
using cutover::Interrupted;
using cutover::testing::HttpResponseSpec;
using cutover::testing::HttpServer;
using cutover::testing::StepHarness;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// GET through the same client the steps use; "" when nothing answers.
std::string get_body(const std::string& url) {
  cutover::steps::HttpRequest r;
  r.url = url;
  r.timeout = 2s;
  auto resp = cutover::steps::http_send(r);
  return resp.ok() ? resp.body : "";
}

// The system python starts in ~0.1 s; a pyenv shim first in PATH can take seconds.
std::string python() { return ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3"; }

// fake_app.py with its own port, config and pidfile; killed at the end whatever happened.
struct FakeApp {
  explicit FakeApp(const StepHarness& h)
      : port(cutover::testing::free_port()),
        config(h.path("app.json")),
        pidfile(h.path("app.pid")),
        log(h.path("app.log")) {}
  ~FakeApp() {
    std::string pid = cutover::util::trim(slurp(pidfile));
    if (!pid.empty()) ::kill(std::stoi(pid), SIGKILL);
  }
  json params(const std::string& wait = "10s") const {
    return {{"manager", "command"},
            {"name", "fake-app"},
            {"start", "exec " + python() + " " + std::string(CUTOVER_SOURCE_DIR) +
                          "/tests/support/fake_app.py --port " + std::to_string(port) +
                          " --config " + config + " --pidfile " + pidfile},
            {"pidfile", pidfile},
            {"log", log},
            {"wait", wait}};
  }
  std::string url(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port) + path;
  }
  int port;
  std::string config, pidfile, log;
};

// Puts a folder first in PATH for the test's lifetime.
struct PathPrefix {
  explicit PathPrefix(const std::string& dir, bool only = false) {
    const char* p = std::getenv("PATH");
    old = p ? p : "";
    setenv("PATH", (only ? dir : dir + ":" + old).c_str(), 1);
  }
  ~PathPrefix() { setenv("PATH", old.c_str(), 1); }
  std::string old;
};

void write_exe(const std::string& path, const std::string& text) {
  cutover::testing::write_file(path, text, 0755);
}

// Fake service managers: log "tool|arg|arg..." to LOG, keep each service's state as a file.
void write_fake_managers(const std::string& bin, const std::string& state, const std::string& log) {
  ::mkdir(state.c_str(), 0755);
  const std::string logline = "(IFS='|'; echo \"$(basename \"$0\")|$*\") >> '" + log + "'\n";
  write_exe(bin + "/systemctl", "#!/bin/sh\n" + logline + "S='" + state + "'/systemd-\"$2\"\n" +
      "case \"$1\" in\n"
      "  is-active) if [ -f \"$S\" ]; then echo active; exit 0; else echo inactive; exit 3; fi ;;\n"
      "  start|restart) touch \"$S\" ;;\n"
      "  stop) rm -f \"$S\" ;;\n"
      "esac\n");
  // docker compose --project-directory DIR VERB ... NAME (NAME is the last argument)
  write_exe(bin + "/docker", "#!/bin/sh\n" + logline +
      "for a; do NAME=$a; done\nS='" + state + "'/compose-\"$NAME\"\n" +
      "case \"$4\" in\n"
      "  ps) [ -f \"$S\" ] && echo 4f3c2b1a ;;\n"
      "  up|restart) touch \"$S\" ;;\n"
      "  stop) rm -f \"$S\" ;;\n"
      "esac\nexit 0\n");
  write_exe(bin + "/pm2", "#!/bin/sh\n" + logline + "S='" + state + "'/pm2-\"$2\"\n" +
      "case \"$1\" in\n"
      "  jlist) echo 'pm2 warning: banner'; if [ -f '" + state + "/pm2-api' ]; then "
      "echo '[{\"name\":\"api\",\"pm2_env\":{\"status\":\"online\"}}]'; else "
      "echo '[{\"name\":\"api\",\"pm2_env\":{\"status\":\"stopped\"}}]'; fi ;;\n"
      "  start|restart) touch \"$S\" ;;\n"
      "  stop) rm -f \"$S\" ;;\n"
      "esac\n");
}

std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> out;
  for (auto& l : cutover::util::split(slurp(path), '\n'))
    if (!l.empty()) out.push_back(l);
  return out;
}

}  // namespace

TEST_CASE("service.stop stops a real background service and undo brings it back", "[service]") {
  StepHarness h;
  FakeApp app(h);
  cutover::testing::write_file(app.config, R"({"message": "v1"})");
  const std::string resource = "service:local:command:fake-app";

  auto start = h.make("service.start", app.params());
  json start_cp = start->checkpoint(h.ctx());
  CHECK(start_cp["was_running"] == false);
  CHECK(start->fingerprint(h.ctx()) == json{{resource, "stopped"}});
  CHECK(start->apply(h.ctx(), start_cp) == json{{"was_running", false}});
  REQUIRE(get_body(app.url()) == R"({"message": "v1"})");

  auto stop = h.make("service.stop", app.params());
  auto preview = stop->plan(h.ctx());
  CHECK(preview.changes);
  CHECK_THAT(preview.summary, Catch::Contains("running -> stopped"));
  json stop_cp = stop->checkpoint(h.ctx());
  CHECK(stop_cp["was_running"] == true);
  json before = stop->fingerprint(h.ctx());
  CHECK(before == json{{resource, "running"}});
  CHECK(stop->apply(h.ctx(), stop_cp) == json{{"was_running", true}});
  CHECK(get_body(app.url()).empty());
  CHECK_FALSE(cutover::testing::exists(app.pidfile));
  // Stopping again is nothing to do.
  CHECK_FALSE(stop->plan(h.ctx()).changes);
  CHECK(stop->apply(h.ctx(), stop_cp) == json{{"was_running", true}});

  stop->undo(h.ctx(), stop_cp);
  CHECK(get_body(app.url("/health")) == R"({"status": "ok", "message": "v1"})");
  CHECK(stop->fingerprint(h.ctx()) == before);
  stop->undo(h.ctx(), stop_cp);  // idempotent
  CHECK(stop->fingerprint(h.ctx()) == before);

  start->undo(h.ctx(), start_cp);
  CHECK(start->fingerprint(h.ctx()) == json{{resource, "stopped"}});
  CHECK(get_body(app.url()).empty());
}

TEST_CASE("service.restart runs the service with its new config", "[service]") {
  StepHarness h;
  FakeApp app(h);
  cutover::testing::write_file(app.config, R"({"message": "v1"})");
  auto restart = h.make("service.restart", app.params());
  json cp = restart->checkpoint(h.ctx());
  restart->apply(h.ctx(), cp);  // stopped -> started
  REQUIRE(get_body(app.url()) == R"({"message": "v1"})");
  cutover::testing::write_file(app.config, R"({"message": "v2"})");
  cp = restart->checkpoint(h.ctx());
  CHECK(restart->apply(h.ctx(), cp) == json{{"was_running", true}});
  CHECK(get_body(app.url()) == R"({"message": "v2"})");
}

TEST_CASE("service.start fails clearly when the service never comes up", "[service]") {
  StepHarness h;
  FakeApp app(h);
  cutover::testing::write_file(app.config, "{not json");
  auto start = h.make("service.start", app.params("3s"));
  json cp = start->checkpoint(h.ctx());
  try {
    start->apply(h.ctx(), cp);
    FAIL("start should have failed");
  } catch (const Interrupted&) {
    FAIL("not an interruption");
  } catch (const Error& e) {
    std::string msg = e.what();
    CHECK_THAT(msg, Catch::StartsWith("service fake-app (command) on host local is still stopped "
                                      "after 3s, expected running"));
    CHECK_THAT(msg, Catch::Contains("fake_app: invalid config"));
  }
  start->undo(h.ctx(), cp);  // safe after a failed apply: it is stopped, as it was
}

TEST_CASE("a command service's start does not hang on a daemon holding stdout", "[service]") {
  StepHarness h;
  std::string pidfile = h.path("sleep.pid");
  json p = {{"manager", "command"},
            {"name", "sleeper"},
            {"start", "echo $$ > " + pidfile + "; exec sleep 300"},
            {"pidfile", pidfile},
            {"wait", "5s"}};
  auto start = h.make("service.start", p);
  auto t0 = std::chrono::steady_clock::now();
  start->apply(h.ctx(), start->checkpoint(h.ctx()));
  // Waiting on the daemon's open stdout would last until the action's limit (15 s) and throw.
  CHECK(std::chrono::steady_clock::now() - t0 < 10s);
  auto stop = h.make("service.stop", p);
  stop->apply(h.ctx(), stop->checkpoint(h.ctx()));
  CHECK(stop->fingerprint(h.ctx()) == json{{"service:local:command:sleeper", "stopped"}});
}

TEST_CASE("systemd, compose and pm2 command lines are exactly as documented", "[service]") {
  StepHarness h;
  std::string bin = h.path("bin"), log = h.path("argv.log");
  ::mkdir(bin.c_str(), 0755);
  write_fake_managers(bin, h.path("state"), log);
  PathPrefix path(bin);

  SECTION("systemd") {
    json p = {{"manager", "systemd"}, {"name", "hivesync-api"}, {"wait", "2s"}};
    auto stop = h.make("service.stop", p), start = h.make("service.start", p);
    auto restart = h.make("service.restart", p);
    json cp = start->checkpoint(h.ctx());
    start->apply(h.ctx(), cp);
    restart->apply(h.ctx(), restart->checkpoint(h.ctx()));
    json stop_cp = stop->checkpoint(h.ctx());
    stop->apply(h.ctx(), stop_cp);
    stop->undo(h.ctx(), stop_cp);
    CHECK(lines_of(log) == std::vector<std::string>{
        "systemctl|is-active|hivesync-api",  // checkpoint
        "systemctl|is-active|hivesync-api",  // apply: current state
        "systemctl|start|hivesync-api",
        "systemctl|is-active|hivesync-api",  // wait
        "systemctl|is-active|hivesync-api",  // restart: checkpoint
        "systemctl|is-active|hivesync-api",  // restart: current state
        "systemctl|restart|hivesync-api",
        "systemctl|is-active|hivesync-api",
        "systemctl|is-active|hivesync-api",  // stop: checkpoint
        "systemctl|is-active|hivesync-api",
        "systemctl|stop|hivesync-api",
        "systemctl|is-active|hivesync-api",
        "systemctl|is-active|hivesync-api",  // undo: current state
        "systemctl|start|hivesync-api",
        "systemctl|is-active|hivesync-api",
    });
  }
  SECTION("compose") {
    json p = {{"manager", "compose"}, {"name", "web"}, {"project_dir", "/srv/app"}, {"wait", "2s"}};
    auto start = h.make("service.start", p), stop = h.make("service.stop", p);
    start->apply(h.ctx(), start->checkpoint(h.ctx()));
    stop->apply(h.ctx(), nullptr);
    const std::string ps = "docker|compose|--project-directory|/srv/app|ps|--status|running|-q|web";
    CHECK(lines_of(log) == std::vector<std::string>{
        ps, ps, "docker|compose|--project-directory|/srv/app|up|-d|web", ps,
        ps, "docker|compose|--project-directory|/srv/app|stop|web", ps});
  }
  SECTION("pm2") {
    json p = {{"manager", "pm2"}, {"name", "api"}, {"wait", "2s"}};
    auto start = h.make("service.start", p), restart = h.make("service.restart", p);
    json cp = start->checkpoint(h.ctx());
    CHECK(cp["was_running"] == false);
    start->apply(h.ctx(), cp);
    CHECK(start->fingerprint(h.ctx()) == json{{"service:local:pm2:api", "running"}});
    restart->apply(h.ctx(), nullptr);
    CHECK(lines_of(log) == std::vector<std::string>{
        "pm2|jlist", "pm2|jlist", "pm2|start|api", "pm2|jlist", "pm2|jlist",
        "pm2|jlist", "pm2|restart|api", "pm2|jlist"});
  }
  SECTION("plan prints the state change and the command") {
    auto stop = h.make("service.stop", {{"manager", "systemd"}, {"name", "hivesync-api"}});
    auto p = stop->plan(h.ctx());
    CHECK_FALSE(p.changes);
    CHECK(p.summary == "stop service hivesync-api (systemd): already stopped (nothing to do)");
    auto start = h.make("service.start", {{"manager", "systemd"}, {"name", "hivesync-api"}});
    p = start->plan(h.ctx());
    CHECK(p.changes);
    CHECK(p.detail == "state: stopped -> running\nwould run: systemctl start hivesync-api");
  }
}

TEST_CASE("service plan without the manager's tool says the state is unknown", "[service]") {
  StepHarness h;
  std::string empty = h.path("empty-bin");
  ::mkdir(empty.c_str(), 0755);
  PathPrefix path(empty, /*only=*/true);
  auto stop = h.make("service.stop", {{"manager", "systemd"}, {"name", "hivesync-api"}});
  auto p = stop->plan(h.ctx());
  CHECK(p.changes);
  CHECK_THAT(p.detail, Catch::Contains("state unknown: systemctl not found on host local"));
  CHECK_THAT(p.detail, Catch::Contains("would run: systemctl stop hivesync-api"));
  CHECK_THROWS_WITH(stop->checkpoint(h.ctx()), Catch::Contains("systemctl not found"));
}

TEST_CASE("service steps refuse incomplete parameters", "[service]") {
  StepHarness h;
  CHECK_THROWS_WITH(h.make("service.stop", {{"manager", "compose"}, {"name", "web"}}),
                    Catch::Contains("project_dir"));
  CHECK_THROWS_WITH(h.make("service.stop", {{"manager", "command"}, {"name", "x"}, {"start", "y"}}),
                    Catch::Contains("`status` or `pidfile`"));
  CHECK_THROWS_WITH(h.make("service.stop", {{"manager", "upstart"}, {"name", "x"}}),
                    Catch::Contains("unknown manager 'upstart'"));
  CHECK_THROWS_WITH(h.make("service.stop", {{"name", "x"}, {"wait", "soon"}}),
                    Catch::Contains("`wait`"));
}

TEST_CASE("service steps act on an `on:` host over SSH without hanging on the daemon",
          "[service][ssh]") {
  if (!cutover::test::Sshd::available()) {
    WARN("skipped: /usr/sbin/sshd or ssh-keygen is not installed");
    return;
  }
  cutover::test::Sshd sshd;
  StepHarness h;
  h.add_host("remote", cutover::hosts::make_ssh_host(sshd.options()));
  h.use_host("remote");
  FakeApp app(h);
  cutover::testing::write_file(app.config, R"({"message": "remote"})");
  json p = app.params();
  p.erase("log");  // on other hosts the default log is /dev/null
  p["wait"] = "30s";  // each SSH exec can take seconds on a loaded machine

  auto start = h.make("service.start", p, "remote");
  json cp = start->checkpoint(h.ctx());
  // A start that waited on the daemon's stdout would hit the action's time limit and throw.
  start->apply(h.ctx(), cp);
  CHECK(get_body(app.url()) == R"({"message": "remote"})");
  CHECK(start->fingerprint(h.ctx()) == json{{"service:remote:command:fake-app", "running"}});
  start->undo(h.ctx(), cp);
  CHECK(get_body(app.url()).empty());
  CHECK(start->fingerprint(h.ctx()) == json{{"service:remote:command:fake-app", "stopped"}});
}
