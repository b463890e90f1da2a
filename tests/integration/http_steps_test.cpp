// http.check and http.request against a real HTTP server on loopback
// (tests/support/http_server.h), driven through the shared StepHarness.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "executor/known_errors.h"
#include "tests/support/http_server.h"
#include "tests/support/step_harness.h"
#include "util/error.h"
#include "util/process.h"

using cutover::Error;
using cutover::Interrupted;
using cutover::testing::HttpResponseSpec;
using cutover::testing::HttpServer;
using cutover::testing::StepHarness;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// The Error message a step's apply throws ("" when it passes).
std::string failure_of(cutover::steps::Step& step, StepHarness& h) {
  try {
    step.apply(h.ctx(), nullptr);
  } catch (const Interrupted& e) {
    return std::string("interrupted: ") + e.what();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("http.check passes once the server becomes healthy", "[http]") {
  StepHarness h;
  HttpServer server;
  server.set_handler(HttpServer::fail_first(3, HttpResponseSpec{503, "starting"},
                                            HttpResponseSpec::json(200, {{"status", "ok"}})));
  auto check = h.make("http.check", {{"url", server.url("/health")},
                                     {"expect", {{"status", 200}, {"json", {{"/status", "ok"}}}}},
                                     {"attempts", 5},
                                     {"interval", "100ms"}});
  CHECK(check->checkpoint(h.ctx()).is_null());
  CHECK(check->apply(h.ctx(), nullptr) == json{{"status", 200}, {"attempts", 4}});
  CHECK(server.requests() == 4);
  REQUIRE(h.log().size() == 3);
  CHECK(h.log()[0] == "GET " + server.url("/health") + ": attempt 1/5: status 503, expected 200");
}

TEST_CASE("http.check says what differed in the last attempt", "[http]") {
  StepHarness h;
  HttpServer server;
  const std::string url = server.url("/health");

  SECTION("wrong status after all attempts") {
    server.set_handler([](const auto&) { return HttpResponseSpec{503, "down"}; });
    auto check = h.make("http.check", {{"url", url}, {"attempts", 3}, {"interval", "10ms"}});
    CHECK(failure_of(*check, h) == "GET " + url + ": status 503, expected 200 (after 3 attempts)");
    CHECK(server.requests() == 3);
  }
  SECTION("status list") {
    server.set_handler([](const auto&) { return HttpResponseSpec{500, ""}; });
    auto check = h.make("http.check", {{"url", url}, {"expect", {{"status", {200, 204}}}}});
    CHECK(failure_of(*check, h) == "GET " + url + ": status 500, expected one of 200, 204");
  }
  SECTION("wrong JSON value") {
    server.set_handler([](const auto&) { return HttpResponseSpec::json(200, {{"status", "degraded"}}); });
    auto check = h.make("http.check", {{"url", url}, {"expect", {{"json", {{"/status", "ok"}}}}}});
    CHECK(failure_of(*check, h) == "GET " + url + ": /status is \"degraded\", expected \"ok\"");
  }
  SECTION("missing JSON value, nested pointer, typed comparison") {
    server.set_handler([](const auto&) {
      return HttpResponseSpec::json(200, {{"db", {{"replicas", {{{"lag", 3}}}}}}});
    });
    auto missing = h.make("http.check", {{"url", url}, {"expect", {{"json", {{"/db/primary", true}}}}}});
    CHECK(failure_of(*missing, h) == "GET " + url + ": /db/primary is missing, expected true");
    auto typed = h.make("http.check", {{"url", url}, {"expect", {{"json", {{"/db/replicas/0/lag", "3"}}}}}});
    CHECK(failure_of(*typed, h) == "GET " + url + ": /db/replicas/0/lag is 3, expected \"3\"");
    auto ok = h.make("http.check", {{"url", url}, {"expect", {{"json", {{"/db/replicas/0/lag", 3}}}}}});
    CHECK(failure_of(*ok, h).empty());
  }
  SECTION("body that is not JSON") {
    server.set_handler([](const auto&) { return HttpResponseSpec{200, "<html>"}; });
    auto check = h.make("http.check", {{"url", url}, {"expect", {{"json", {{"/status", "ok"}}}}}});
    CHECK(failure_of(*check, h) == "GET " + url + ": body is not JSON: \"<html>\"");
  }
  SECTION("body_contains") {
    server.set_handler([](const auto&) { return HttpResponseSpec{200, "all good"}; });
    auto bad = h.make("http.check", {{"url", url}, {"expect", {{"body_contains", "ready"}}}});
    CHECK(failure_of(*bad, h) == "GET " + url + ": body does not contain \"ready\"");
    auto good = h.make("http.check", {{"url", url}, {"expect", {{"body_contains", "good"}}}});
    CHECK(failure_of(*good, h).empty());
  }
  SECTION("timeout of one attempt") {
    server.set_handler([](const auto&) {
      HttpResponseSpec r{200, "late"};
      r.delay = 3s;
      return r;
    });
    auto check = h.make("http.check", {{"url", url}, {"timeout", "500ms"}});
    auto t0 = std::chrono::steady_clock::now();
    CHECK(failure_of(*check, h) == "GET " + url + ": timed out after 500ms");
    CHECK(std::chrono::steady_clock::now() - t0 < 2900ms);  // did not wait for the late answer
  }
  SECTION("connection refused") {
    server.stop();
    std::string dead = "http://127.0.0.1:" + std::to_string(cutover::testing::free_port()) + "/health";
    auto check = h.make("http.check", {{"url", dead}, {"attempts", 2}, {"interval", "10ms"}});
    CHECK(failure_of(*check, h) == "GET " + dead + ": connection refused (after 2 attempts)");
  }
}

TEST_CASE("http.check honours the step deadline between attempts", "[http]") {
  StepHarness h;
  HttpServer server;
  server.set_handler([](const auto&) { return HttpResponseSpec{503, ""}; });
  auto check = h.make("http.check", {{"url", server.url()}, {"attempts", 100}, {"interval", "1s"}});
  h.set_timeout(1500ms);
  auto t0 = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(check->apply(h.ctx(), nullptr), Interrupted);
  // Stopped at the deadline, not after 100 attempts (generous bounds: the machine may be loaded).
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  CHECK(server.requests() >= 1);
  CHECK(server.requests() <= 2);
}

TEST_CASE("http.check sends method, headers and body, plan runs the check", "[http]") {
  StepHarness h;
  HttpServer server;
  auto check = h.make("http.check", {{"url", server.url("/probe")},
                                     {"method", "post"},
                                     {"headers", {{"Authorization", "Bearer t0k3n"}}},
                                     {"body", {{"ping", 1}}}});
  auto p = check->plan(h.ctx());
  CHECK_FALSE(p.changes);
  CHECK(p.outputs == json{{"status", 200}, {"attempts", 1}});
  auto seen = server.seen();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].method == "POST");
  CHECK(seen[0].target == "/probe");
  CHECK(seen[0].headers["authorization"] == "Bearer t0k3n");
  CHECK(seen[0].headers["content-type"] == "application/json");
  CHECK(seen[0].body == R"({"ping":1})");
}

TEST_CASE("http.request sends its request and its undo request", "[http]") {
  StepHarness h;
  HttpServer server;
  server.set_handler([](const cutover::testing::HttpRequestSeen& r) {
    return r.method == "POST" ? HttpResponseSpec{201, "created"} : HttpResponseSpec{204, ""};
  });
  json p = {{"url", server.url("/maintenance")},
            {"body", {{"enabled", true}}},
            {"headers", {{"X-Token", "abc"}}},
            {"undo", {{"method", "DELETE"}}}};
  auto req = h.make("http.request", p);
  auto preview = req->plan(h.ctx());
  CHECK(preview.changes);
  CHECK(server.requests() == 0);  // plan sends nothing
  json cp = req->checkpoint(h.ctx());
  CHECK(req->apply(h.ctx(), cp) == json{{"status", 201}});
  req->undo(h.ctx(), cp);
  auto seen = server.seen();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].method == "POST");
  CHECK(seen[0].body == R"({"enabled":true})");
  CHECK(seen[1].method == "DELETE");
  CHECK(seen[1].target == "/maintenance");
  CHECK(seen[1].headers["x-token"] == "abc");

  SECTION("an unexpected status fails the step") {
    auto bad = h.make("http.request", {{"url", server.url("/x")}, {"expect_status", 200},
                                       {"undo", {{"url", server.url("/y")}}}});
    CHECK(failure_of(*bad, h) == "POST " + server.url("/x") + ": status 201, expected 200 (body: created)");
  }
  SECTION("no undo request when the request never reached the server") {
    std::string dead = "http://127.0.0.1:" + std::to_string(cutover::testing::free_port()) + "/x";
    auto never = h.make("http.request", {{"url", dead}, {"undo", {{"url", server.url("/undo")}}}});
    CHECK(failure_of(*never, h) == "POST " + dead + ": connection refused");
    never->undo(h.ctx(), json::object());
    CHECK(server.requests() == 2);
  }
}

TEST_CASE("a port conflict in a failure's output yields the port-in-use hint", "[http][known-errors]") {
  auto hints = cutover::executor::match_known_errors(
      "service fake-app (command) on host local is still stopped after 2s, expected running\n"
      "last lines of /tmp/app.log:\n"
      "OSError: [Errno 98] Address already in use\n");
  REQUIRE_FALSE(hints.empty());
  CHECK(hints[0].id == "port-in-use");
  CHECK_THAT(hints[0].fix, Catch::Contains("ss -ltnp"));
}

namespace {

// A real HTTPS server: python's http.server behind a fresh self-signed certificate for
// 127.0.0.1, started in the background and killed at the end.
struct HttpsServer {
  explicit HttpsServer(const std::string& dir) : port(cutover::testing::free_port()), ca(dir + "/cert.pem") {
    std::string key = dir + "/key.pem", script = dir + "/https.py";
    cutover::util::ProcessSpec gen;
    gen.argv = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                "-days", "1", "-keyout", key, "-out", ca};
    auto g = cutover::util::run_process(gen);
    REQUIRE(g.ok());
    cutover::testing::write_file(script,
        "import http.server, ssl, sys, os\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(200); self.send_header('Content-Length', '2'); self.end_headers()\n"
        "        self.wfile.write(b'ok')\n"
        "    def log_message(self, *a): pass\n"
        "s = http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H)\n"
        "c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain(sys.argv[2], sys.argv[3])\n"
        "s.socket = c.wrap_socket(s.socket, server_side=True)\n"
        "open(sys.argv[4], 'w').write(str(os.getpid()))\n"
        "s.serve_forever()\n");
    pidfile = dir + "/https.pid";
    std::string py = ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    cutover::util::ProcessSpec run;
    run.argv = {"/bin/sh", "-c", "setsid " + py + " " + script + " " + std::to_string(port) + " " + ca +
                                     " " + key + " " + pidfile + " </dev/null >/dev/null 2>&1 &"};
    REQUIRE(cutover::util::run_process(run).ok());
    for (int i = 0; i < 100 && !cutover::testing::exists(pidfile); ++i)
      std::this_thread::sleep_for(50ms);
    std::this_thread::sleep_for(100ms);
  }
  ~HttpsServer() {
    std::string pid = cutover::testing::exists(pidfile) ? cutover::testing::read_file(pidfile) : "";
    if (!pid.empty()) ::kill(std::stoi(pid), SIGKILL);
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port) + "/"; }
  int port;
  std::string ca, pidfile;
};

}  // namespace

TEST_CASE("http.check verifies TLS: a self-signed server fails unless its CA is given", "[http]") {
  StepHarness h;
  HttpsServer server(h.dir().path());
  auto strict = h.make("http.check", {{"url", server.url()}, {"attempts", 20}, {"interval", "100ms"},
                                      {"expect", {{"status", 200}}}});
  std::string msg = failure_of(*strict, h);
  CHECK_THAT(msg, Catch::StartsWith("GET " + server.url() + ": TLS: SSL certificate problem"));
  auto hints = cutover::executor::match_known_errors(msg);
  REQUIRE_FALSE(hints.empty());
  CHECK(hints[0].id == "tls-verification-failed");

  auto with_ca = h.make("http.check", {{"url", server.url()}, {"ca_file", "cert.pem"}});
  CHECK(failure_of(*with_ca, h).empty());  // ca_file is relative to the plan's folder
  auto unverified = h.make("http.check", {{"url", server.url()}, {"tls_verify", false}});
  CHECK(failure_of(*unverified, h).empty());
}
