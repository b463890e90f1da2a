// External step plugins (SPEC §5, docs/plugins.md): the plugin's schema at load time, the
// protocol of each action, malformed answers, stderr in the log and secrets kept out of the
// plugin's environment. The plugins are real executables (sh, and the python3 example in
// plans/plugins/); the end-to-end suite is tests/integration/plugin_test.cpp.
#include "steps/plugin_step.h"

#include <signal.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "executor/load_internal.h"
#include "executor/loader.h"
#include "steps/plugin_call.h"
#include "tests/support/step_harness.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/redact.h"

namespace cutover::embedded {
const std::map<std::string, std::string_view>& files();
}  // namespace cutover::embedded

using namespace cutover;
using nlohmann::json;
using testing::read_file;
using testing::StepHarness;
using testing::TempDir;
using testing::write_file;

namespace {

// A plugin that exits before reading its request must not kill the test binary with SIGPIPE
// (cutover's main ignores SIGPIPE the same way).
const bool kSigpipeIgnored = [] {
  ::signal(SIGPIPE, SIG_IGN);
  return true;
}();

using Lines = std::vector<std::string>;

// A plugin `cutover-step-<type>` in dir/plugins whose body is a `case "$1"` over actions;
// every call appends its action to dir/calls.
std::string plugin(const std::string& dir, const std::string& type, const std::string& cases) {
  std::string path = dir + "/plugins/cutover-step-" + type;
  util::make_dirs(dir + "/plugins");
  write_file(path,
             "#!/bin/sh\necho \"$1\" >> '" + dir + "/calls'\ncase \"$1\" in\n" + cases + "\nesac\n",
             0755);
  return path;
}

const char* const kSchemaCase =
    R"(schema) echo '{"ok": true, "summary": "test plugin", "schema": {"type": "object", )"
    R"("additionalProperties": false, "required": ["path"], "properties": {"path": {"type": )"
    R"("string"}, "count": {"type": "integer"}, "token": {"type": "string"}}}, )"
    R"("secret_params": ["token"]}' ;;)";

Lines problems_in(const std::string& plan_file) {
  try {
    executor::load_plan(plan_file);
  } catch (const executor::PlanInvalid& e) {
    Lines out;
    for (const auto& d : e.diagnostics) out.push_back(d.str());
    return out;
  }
  return {};
}

std::string embedded_file(const std::string& name) {
  return std::string(embedded::files().at(name));
}

// The response schema with its root pointed at definitions.<action>.
std::string response_schema(const std::string& action) {
  json s = json::parse(embedded_file("schemas/plugin-response.schema.json"));
  json out = s;
  out.erase("properties");
  out.erase("required");
  out.erase("allOf");
  out.erase("type");
  out["definitions"]["common"] = s;
  out["definitions"]["common"].erase("definitions");
  out["definitions"]["common"].erase("$id");
  std::string text = out.dump();
  // definitions.<action> refer to the root ("#"): point them at the common part instead.
  size_t pos;
  while ((pos = text.find("\"$ref\":\"#\"")) != std::string::npos)
    text.replace(pos, 10, "\"$ref\":\"#/definitions/common\"");
  json root = json::parse(text);
  root["$ref"] = "#/definitions/" + action;
  return root.dump();
}

std::vector<std::string> schema_errors(const json& doc, const std::string& schema) {
  std::vector<std::string> out;
  for (const auto& e : executor::detail::validate_schema(doc, schema))
    out.push_back(e.pointer + ": " + e.message);
  return out;
}

}  // namespace

TEST_CASE("a plugin's own schema checks with: at load time, located like a built-in's",
          "[plugin][loader]") {
  TempDir dir("plugin-load");
  plugin(dir.path(), "acme.deploy", kSchemaCase);
  std::string plan = dir / "plan.yaml";
  write_file(plan, R"(version: 1
name: demo
steps:
  - id: a
    type: acme.deploy
    with: { pth: /srv/app }
  - id: b
    type: acme.deploy
    with:
      path: 42
      count: "three"
)");
  CHECK(problems_in(plan) ==
        Lines{plan + ":6:11: steps[0].with: missing required field 'path'",
              plan + ":6:13: steps[0].with.pth: unknown field 'pth' (did you mean 'path'?)",
              plan + ":10:13: steps[1].with.path: expected a string, got 42",
              plan + ":11:14: steps[1].with.count: expected an integer, got \"three\""});
  // Asked once for the whole load, though two steps use it; nothing else was called.
  CHECK(read_file(dir / "calls") == "schema\n");
}

TEST_CASE("a valid plugin step loads, and a plugin does not accept on:", "[plugin][loader]") {
  TempDir dir("plugin-load");
  std::string path = plugin(dir.path(), "acme.deploy", kSchemaCase);
  std::string plan = dir / "plan.yaml";
  write_file(plan, R"(version: 1
name: demo
hosts:
  web: { address: 10.0.0.2 }
steps:
  - id: a
    type: acme.deploy
    with: { path: /srv/app, count: 3 }
)");
  executor::Plan p = executor::load_plan(plan);
  CHECK(p.steps[0].type == "acme.deploy");
  CHECK(p.steps[0].with["count"] == 3);
  // The executable is code the plan runs: its bytes go into the plan digest.
  CHECK(std::find(p.inputs.begin(), p.inputs.end(), path) != p.inputs.end());

  write_file(plan, R"(version: 1
name: demo
hosts:
  web: { address: 10.0.0.2 }
steps:
  - id: a
    type: acme.deploy
    on: web
    with: { path: /srv/app }
)");
  CHECK(problems_in(plan) ==
        Lines{plan + ":8:9: steps[0].on: step type 'acme.deploy' runs only locally: it does not "
                     "accept 'on'"});
}

TEST_CASE("a plugin's secret parameters must be ${secrets.NAME}", "[plugin][loader]") {
  TempDir dir("plugin-load");
  plugin(dir.path(), "acme.deploy", kSchemaCase);
  std::string plan = dir / "plan.yaml";
  write_file(plan, R"(version: 1
name: demo
secrets:
  tok: { env: ACME_TOKEN }
steps:
  - id: a
    type: acme.deploy
    with: { path: /srv/app, token: hunter22 }
  - id: b
    type: acme.deploy
    with: { path: /srv/app, token: "${secrets.tok}" }
)");
  CHECK(problems_in(plan) ==
        Lines{plan + ":8:36: steps[0].with.token: 'token' is a secret: write it as "
                     "${secrets.NAME}, not as literal text"});
}

TEST_CASE("a plugin whose schema call fails stops the load, naming the plugin",
          "[plugin][loader]") {
  struct Case {
    std::string body;
    std::string message;  // after "<plan>:5:11: steps[0].type: "
  };
  const std::vector<Case> cases = {
      {"schema) echo 'Usage: deploy [options]' ;;",
       "plugin PATH schema: its answer on stdout is not JSON: \"Usage: deploy [options]\" (a "
       "plugin writes exactly one JSON object to stdout and its messages to stderr)"},
      {"schema) echo 'cannot read config' >&2; exit 3 ;;",
       "plugin PATH schema failed (exit 3)\ncannot read config"},
      {"schema) echo '{\"ok\": false, \"error\": \"python 3.9 or newer needed\", \"hint\": \"apt "
       "install python3\"}' ;;",
       "plugin PATH: acme.deploy schema: python 3.9 or newer needed (apt install python3)"},
      {"schema) echo '{\"ok\": true}' ;;",
       "plugin PATH schema: malformed answer: 'schema' (the JSON Schema of the step's with:) "
       "must be an object"},
      {"schema) ;;",
       "plugin PATH schema: printed nothing on stdout; expected a JSON answer such as {\"ok\": "
       "true} (a plugin writes exactly one JSON object to stdout and its messages to stderr)"},
  };
  for (const auto& c : cases) {
    TempDir dir("plugin-load");
    std::string path = plugin(dir.path(), "acme.deploy", c.body);
    std::string plan = dir / "plan.yaml";
    write_file(plan, "version: 1\nname: demo\nsteps:\n  - id: a\n    type: acme.deploy\n");
    std::string label = "acme.deploy (" + path + ")";
    std::string want = c.message;
    want.replace(want.find("PATH"), 4, want.find("PATH schema") == 7 ? label : path);
    CHECK(problems_in(plan) == Lines{plan + ":5:11: steps[0].type: " + want});
  }
}

TEST_CASE("a plugin answering a schema that is not a JSON Schema stops the load",
          "[plugin][loader]") {
  TempDir dir("plugin-load");
  std::string path =
      plugin(dir.path(), "acme.deploy", R"(schema) echo '{"ok": true, "schema": {"type": 5}}' ;;)");
  std::string plan = dir / "plan.yaml";
  write_file(plan, "version: 1\nname: demo\nsteps:\n  - id: a\n    type: acme.deploy\n");
  Lines got = problems_in(plan);
  REQUIRE(got.size() == 1);
  CHECK(got[0].rfind(plan + ":5:11: steps[0].type: plugin " + path +
                         ": its schema answer is not a valid JSON Schema: ",
                     0) == 0);
}

TEST_CASE("a plugin step sends params, run facts and its own checkpoint back", "[plugin]") {
  StepHarness h;
  std::string dir = h.dir().path();
  std::string path = plugin(
      dir, "acme.deploy",
      R"(
  plan) cat > ")" +
          dir +
          R"(/req.plan"; echo '{"ok": true, "changes": false, "summary": "nothing to do", "detail": "same"}' ;;
  checkpoint) cat > ")" +
          dir +
          R"(/req.checkpoint"; echo '{"ok": true, "checkpoint": {"prior": "v1", "n": [1, 2]}, "fingerprint": {"/srv/x": "sha256:ab"}}' ;;
  apply) cat > ")" +
          dir +
          R"(/req.apply"; echo '{"ok": true, "outputs": {"version": "v2"}, "summary": "deployed v2"}' ;;
  undo) cat > ")" +
          dir + R"(/req.undo"; echo '{"ok": true}' ;;)");
  h.set_timeout(std::chrono::seconds(30));
  json params = {{"path", "/srv/app"}, {"count", 3}};
  auto step = steps::make_step({"deploy", "acme.deploy", "", params}, dir);

  steps::Preview p = step->plan(h.ctx());
  CHECK_FALSE(p.changes);
  CHECK(p.summary == "nothing to do");
  CHECK(p.detail == "same");
  json cp = step->checkpoint(h.ctx());
  CHECK(cp == json{{"prior", "v1"}, {"n", {1, 2}}});
  CHECK(step->fingerprint(h.ctx()) == json{{"/srv/x", "sha256:ab"}});
  CHECK(step->apply(h.ctx(), cp) == json{{"version", "v2"}});
  step->undo(h.ctx(), cp);
  CHECK(read_file(dir + "/calls") == "plan\ncheckpoint\napply\nundo\n");

  json plan_req = json::parse(read_file(dir + "/req.plan"));
  json apply_req = json::parse(read_file(dir + "/req.apply"));
  json undo_req = json::parse(read_file(dir + "/req.undo"));
  CHECK(plan_req["run"]["dry_run"] == true);
  CHECK(plan_req["checkpoint"].is_null());
  CHECK(apply_req["run"]["dry_run"] == false);
  CHECK(apply_req["params"] == params);
  CHECK(apply_req["step"] == "deploy");
  CHECK(apply_req["type"] == "acme.deploy");
  CHECK(apply_req["run"]["id"] == h.run().run_id);
  CHECK(apply_req["run"]["plan_dir"] == dir);
  CHECK(apply_req["run"]["timeout_ms"].get<long long>() > 0);
  CHECK(apply_req["checkpoint"] == cp);
  CHECK(undo_req["checkpoint"] == cp);
  CHECK(h.log() ==
        Lines{"plugin acme.deploy plan: nothing to do", "plugin acme.deploy apply: deployed v2"});
  // Every request follows the documented schema.
  std::string req_schema = embedded_file("schemas/plugin-request.schema.json");
  for (const char* a : {"plan", "checkpoint", "apply", "undo"})
    CHECK(schema_errors(json::parse(read_file(dir + "/req." + a)), req_schema).empty());
}

TEST_CASE("after an undo the plugin is asked for a fresh fingerprint", "[plugin]") {
  StepHarness h;
  std::string dir = h.dir().path();
  plugin(
      dir, "acme.deploy",
      R"(
  checkpoint) v=$(cat ')" +
          dir +
          R"(/fp'); echo "{\"ok\": true, \"checkpoint\": null, \"fingerprint\": {\"f\": \"$v\"}}" ;;)");
  write_file(dir + "/fp", "before");
  auto step = steps::make_step({"s", "acme.deploy", "", json::object()}, dir);
  CHECK(step->checkpoint(h.ctx()).is_null());
  CHECK(step->fingerprint(h.ctx()) == json{{"f", "before"}});
  write_file(dir + "/fp", "after");
  // A new Step, as rollback builds one: its fingerprint comes from a new checkpoint call.
  auto again = steps::make_step({"s", "acme.deploy", "", json::object()}, dir);
  CHECK(again->fingerprint(h.ctx()) == json{{"f", "after"}});
  CHECK(read_file(dir + "/calls") == "checkpoint\ncheckpoint\n");
}

TEST_CASE("malformed plugin answers fail the action with the plugin named and an excerpt",
          "[plugin]") {
  struct Case {
    std::string action;
    std::string out;      // what the plugin prints (one line, single-quoted for sh)
    std::string message;  // after "plugin acme.deploy (PATH) ACTION: " unless it starts with "="
  };
  const std::vector<Case> cases = {
      {"apply", "Traceback (most recent call last):",
       "its answer on stdout is not JSON: \"Traceback (most recent call last):\""},
      {"apply", "[1, 2]", "malformed answer: expected a JSON object, got \"[1,2]\""},
      {"apply", "{\"outputs\": {}}",
       "malformed answer: 'ok' (true or false) is missing in {\"outputs\":{}}"},
      {"apply", "{\"ok\": \"yes\"}", "malformed answer: 'ok' must be true or false, got \"yes\""},
      {"apply", "{\"ok\": true, \"outputs\": [1]}",
       "malformed answer: 'outputs' must be an object, got [1]"},
      {"apply", "{\"ok\": false}", "answered ok: false without an error message"},
      {"checkpoint", "{\"ok\": true}",
       "malformed answer: 'checkpoint' is missing (answer \"checkpoint\": null when there is "
       "nothing to keep)"},
      {"apply", "{\"ok\": false, \"error\": \"disk full\"}", "=acme.deploy apply: disk full"},
  };
  for (const auto& c : cases) {
    StepHarness h;
    std::string path =
        plugin(h.dir().path(), "acme.deploy", "  " + c.action + ") echo '" + c.out + "' ;;");
    auto step = steps::make_step({"s", "acme.deploy", "", json::object()}, h.dir().path());
    std::string want = c.message[0] == '='
                           ? c.message.substr(1)
                           : "plugin acme.deploy (" + path + ") " + c.action + ": " + c.message;
    try {
      if (c.action == "apply")
        step->apply(h.ctx(), nullptr);
      else
        step->checkpoint(h.ctx());
      FAIL("no error for " << c.out);
    } catch (const Error& e) {
      CHECK(std::string(e.what()) == want);
    }
  }
}

TEST_CASE("a failing plugin's stderr is shown and logged, its own error wins when it gives one",
          "[plugin]") {
  StepHarness h;
  plugin(h.dir().path(), "acme.deploy", R"(
  apply) echo 'connecting to db' >&2; echo 'FATAL: role "app" does not exist' >&2; exit 2 ;;
  undo) echo '{"ok": false, "error": "backup missing", "hint": "restore it by hand"}'; exit 1 ;;)");
  auto step = steps::make_step({"s", "acme.deploy", "", json::object()}, h.dir().path());
  std::string path = h.dir().path() + "/plugins/cutover-step-acme.deploy";
  try {
    step->apply(h.ctx(), nullptr);
    FAIL("apply did not fail");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "plugin acme.deploy (" + path +
                                       ") apply failed (exit 2)\nconnecting to db\nFATAL: role "
                                       "\"app\" does not exist");
  }
  CHECK(h.log() == Lines{"plugin acme.deploy apply stderr: connecting to db",
                         "plugin acme.deploy apply stderr: FATAL: role \"app\" does not exist"});
  try {
    step->undo(h.ctx(), nullptr);
    FAIL("undo did not fail");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "acme.deploy undo: backup missing (plugin exit 1)");
    CHECK(e.hint() == "restore it by hand");
  }
}

TEST_CASE("plugins get secrets only through params, and their stderr is masked", "[plugin]") {
  StepHarness h;
  const std::string secret = "pa55-w0rd-Zq9";
  util::register_secret(secret);
  ::setenv("ACME_DB_PASSWORD", secret.c_str(), 1);
  ::setenv("ACME_HARMLESS", "visible", 1);
  plugin(h.dir().path(), "acme.deploy", R"(
  apply) echo "env: [$ACME_DB_PASSWORD] [$ACME_HARMLESS]" >&2; cat >&2; echo '{"ok": true}' ;;)");
  auto step =
      steps::make_step({"s", "acme.deploy", "", json{{"password", secret}}}, h.dir().path());
  step->apply(h.ctx(), nullptr);
  ::unsetenv("ACME_DB_PASSWORD");
  ::unsetenv("ACME_HARMLESS");
  util::clear_secrets();
  REQUIRE(h.log().size() == 2);
  CHECK(h.log()[0] == "plugin acme.deploy apply stderr: env: [] [visible]");
  // The request (echoed to stderr by this plugin) held the password: the log masks it.
  CHECK(h.log()[1].find("\"password\":\"***\"") != std::string::npos);
  for (const auto& line : h.log()) CHECK(line.find(secret) == std::string::npos);
}

TEST_CASE("a plugin is killed with its process group when the step's deadline passes", "[plugin]") {
  StepHarness h;
  std::string dir = h.dir().path();
  plugin(dir, "acme.deploy",
         R"(
  apply) sleep 60 & echo $! > ")" +
             dir + R"(/child.pid"; wait ;;)");
  auto step = steps::make_step({"s", "acme.deploy", "", json::object()}, dir);
  h.set_timeout(std::chrono::milliseconds(500));
  auto t0 = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(step->apply(h.ctx(), nullptr), Interrupted);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));
  int pid = std::stoi(read_file(dir + "/child.pid"));
  // Gone, or a zombie waiting for init to reap it. SIGKILL is delivered asynchronously: on a
  // loaded machine the child can still be running for a moment after kill() returned.
  std::string stat_file = "/proc/" + std::to_string(pid) + "/stat";
  auto alive = [&] {
    return ::kill(pid, 0) == 0 && util::exists(stat_file) &&
           read_file(stat_file).find(") Z ") == std::string::npos;
  };
  for (int i = 0; i < 100 && alive(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK_FALSE(alive());
}

TEST_CASE("the example kv.set plugin speaks the documented protocol and undoes exactly",
          "[plugin]") {
  StepHarness h;
  std::string plugin_path = std::string(CUTOVER_SOURCE_DIR) + "/plans/plugins/cutover-step-kv.set";
  std::string env_file = h.path("app.env");
  const std::string before = "# app\nexport DB_HOST = old-db\nPORT=5432\nDB_HOST=dup";
  write_file(env_file, before, 0640);
  json params = {{"path", env_file}, {"set", {{"DB_HOST", "new-db"}, {"WORKERS", 4}}}};
  auto call = [&](const std::string& action, const json& checkpoint) {
    steps::PluginCall c;
    c.path = plugin_path;
    c.type = "kv.set";
    c.action = action;
    c.cwd = h.dir().path();
    c.deadline = util::Deadline::after(std::chrono::seconds(60));
    c.request = {{"protocol", 1},
                 {"action", action},
                 {"type", "kv.set"},
                 {"step", "s"},
                 {"params", params},
                 {"checkpoint", checkpoint},
                 {"run",
                  {{"id", "r"},
                   {"dir", h.dir().path()},
                   {"plan_name", "p"},
                   {"plan_dir", h.dir().path()},
                   {"dry_run", action == "plan"}}}};
    json answer = steps::call_plugin(c);
    CHECK(schema_errors(answer, response_schema(action)).empty());
    return answer;
  };
  json schema = call("schema", nullptr);
  CHECK(schema_errors(params, schema["schema"].dump()).empty());
  json preview = call("plan", nullptr);
  CHECK(preview["changes"] == true);
  CHECK(preview["detail"].get<std::string>().find("+DB_HOST=new-db") != std::string::npos);
  json cp = call("checkpoint", nullptr);
  CHECK(read_file(env_file) == before);  // plan and checkpoint change nothing
  json applied = call("apply", cp["checkpoint"]);
  CHECK(applied["outputs"]["changed"] == json{"DB_HOST", "WORKERS"});
  CHECK(read_file(env_file) ==
        "# app\nexport DB_HOST = new-db\nPORT=5432\nDB_HOST=new-db\nWORKERS=4\n");
  CHECK(testing::file_mode(env_file) == 0640);
  call("undo", cp["checkpoint"]);
  CHECK(read_file(env_file) == before);
  CHECK(call("checkpoint", nullptr)["fingerprint"] == cp["fingerprint"]);
  call("undo", cp["checkpoint"]);  // idempotent
  CHECK(read_file(env_file) == before);
  // The checkpoint holds what was there, never the values being set.
  CHECK(cp["checkpoint"].dump().find("new-db") == std::string::npos);
}

TEST_CASE("the protocol schemas are embedded and reject a malformed answer", "[plugin]") {
  CHECK(schema_errors(json{{"ok", false}}, response_schema("apply")) ==
        std::vector<std::string>{": missing required field 'error'"});
  CHECK(schema_errors(json{{"ok", true}}, response_schema("checkpoint")) ==
        std::vector<std::string>{": missing required field 'checkpoint'"});
  CHECK(schema_errors(json{{"ok", true}, {"checkpoint", nullptr}}, response_schema("checkpoint"))
            .empty());
  CHECK(schema_errors(json{{"protocol", 1}, {"action", "apply"}, {"type", "x"}},
                      embedded_file("schemas/plugin-request.schema.json")) ==
        std::vector<std::string>{
            ": missing required field 'checkpoint'", ": missing required field 'params'",
            ": missing required field 'run'", ": missing required field 'step'"});
}
