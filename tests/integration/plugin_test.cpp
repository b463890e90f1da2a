// External step plugins end to end (SPEC §5, docs/plugins.md): the real cutover binary runs
// plans whose steps are served by plugin executables in the plan's plugins/ folder — the
// example plugin plans/plugins/cutover-step-kv.set (python3) and small sh plugins that
// misbehave on purpose. Each plugin records the actions it was called for in `marks`.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>

#include "tests/support/e2e.h"

using cutover::test::at;
using cutover::test::CliResult;
using cutover::test::file_exists;
using cutover::test::file_mode;
using cutover::test::journal_records;
using cutover::test::latest_run;
using cutover::test::read_file;
using cutover::test::run_cutover;
using cutover::test::TempDir;
using cutover::test::write_file;
using nlohmann::json;

namespace {

const std::string kExample = std::string(CUTOVER_SOURCE_DIR) + "/plans/plugins/cutover-step-kv.set";

enum class Tee { no, request_to_stderr };

// The example plugin behind a wrapper in t/plugins that appends each action to t/marks and
// keeps its environment in t/plugin-env; with Tee::request_to_stderr the request is copied to
// stderr too (which cutover logs, masked). /usr/bin/python3 when there is one: version-manager
// shims in PATH cost a second per call.
void install_kv(const TempDir& t, Tee tee = Tee::no) {
  std::string run = tee == Tee::request_to_stderr
                        ? "tee /dev/stderr | \"$py\" '" + kExample + "' \"$@\""
                        : "exec \"$py\" '" + kExample + "' \"$@\"";
  write_file(t / "plugins/cutover-step-kv.set",
             "#!/bin/sh\necho \"$1\" >> '" + t.path() + "/marks'\nenv > '" + t.path() +
                 "/plugin-env'\npy=/usr/bin/python3\n[ -x \"$py\" ] || py=python3\n" + run + "\n",
             0755);
}

// A sh plugin `cutover-step-<type>` in t/plugins: schema answers `schema`, the other actions
// run `cases` (a `case "$1"` body); every call appends its action to t/marks.
void install_sh(const TempDir& t, const std::string& type, const std::string& cases) {
  write_file(t / ("plugins/cutover-step-" + type),
             "#!/bin/sh\necho \"$1\" >> '" + t.path() +
                 "/marks'\ncase \"$1\" in\n"
                 "  schema) echo '{\"ok\": true, \"schema\": {\"type\": \"object\"}}' ;;\n" +
                 cases + "\nesac\n",
             0755);
}

std::string marks(const TempDir& t) {
  return file_exists(t / "marks") ? read_file(t / "marks") : "";
}

std::string log_of(const std::string& state) {
  return read_file(state + "/runs/" + latest_run(state) + "/log.txt");
}

json record(const std::vector<json>& records, const std::string& event, const std::string& step) {
  for (const auto& r : records)
    if (r.value("event", "") == event && r.value("step", "") == step) return r;
  return nullptr;
}

bool process_alive(int pid) {
  if (::kill(pid, 0) != 0) return false;
  std::string stat = "/proc/" + std::to_string(pid) + "/stat";
  return !file_exists(stat) || read_file(stat).find(") Z ") == std::string::npos;
}

}  // namespace

TEST_CASE("a step served by the kv.set plugin applies and is journaled like a built-in",
          "[plugin]") {
  TempDir t;
  install_kv(t);
  write_file(t / "app/app.env", "# database\nDB_HOST=old-db\nDB_PORT = 5432\n", 0640);
  write_file(t / "plan.yaml", R"(version: 1
name: kv
steps:
  - id: repoint
    type: kv.set
    with:
      path: app/app.env
      set: { DB_HOST: new-db, WORKERS: 4 }
)");
  std::string state = t / "state";
  CliResult r = run_cutover({"apply", "plan.yaml", "--state", state}, at(t.path()));
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  // Relative paths are the plan folder's: the plugin runs there.
  CHECK(read_file(t / "app/app.env") == "# database\nDB_HOST=new-db\nDB_PORT = 5432\nWORKERS=4\n");
  CHECK(file_mode(t / "app/app.env") == 0640);
  CHECK(marks(t) == "schema\ncheckpoint\napply\n");
  auto records = journal_records(state, latest_run(state));
  json cp = record(records, "step.checkpoint", "repoint");
  CHECK(cp["type"] == "kv.set");
  CHECK(cp["checkpoint"]["prior"] == json{{"DB_HOST", {"DB_HOST=old-db\n"}}, {"WORKERS", nullptr}});
  CHECK(cp["fingerprint"].begin().value().get<std::string>().rfind("sha256:", 0) == 0);
  CHECK(record(records, "step.done", "repoint")["outputs"] ==
        json{{"changed", {"DB_HOST", "WORKERS"}}, {"created", false}});
  CHECK(log_of(state).find(
            "plugin kv.set apply stderr: kv.set: set 2 key(s) in app/app.env: 2 changed") !=
        std::string::npos);
}

TEST_CASE("a later failing step rolls the plugin's changes back byte for byte, verified",
          "[plugin]") {
  TempDir t;
  install_kv(t);
  const std::string env_before =
      "# no final newline\nexport DB_HOST = old-db\nDB_HOST=dup\r\nPORT=5432";
  write_file(t / "app/app.env", env_before, 0600);
  write_file(t / "plan.yaml", R"(version: 1
name: kv
steps:
  - id: repoint
    type: kv.set
    with: { path: app/app.env, set: { DB_HOST: new-db, CACHE: redis } }
  - id: marker
    type: kv.set
    with: { path: app/migrated.env, set: { MIGRATED: true }, create: true, mode: "0600" }
  - id: health
    type: check.file
    with: { path: app/healthy }
)");
  std::string state = t / "state";
  CliResult r = run_cutover({"apply", "plan.yaml", "--state", state}, at(t.path()));
  INFO(r.all());
  CHECK(r.exit_code == 3);
  CHECK(read_file(t / "app/app.env") == env_before);
  CHECK(file_mode(t / "app/app.env") == 0600);
  CHECK_FALSE(file_exists(t / "app/migrated.env"));
  CHECK(marks(t) ==
        "schema\ncheckpoint\napply\ncheckpoint\napply\nundo\ncheckpoint\nundo\ncheckpoint\n");
  auto records = journal_records(state, latest_run(state));
  CHECK(record(records, "step.undone", "marker")["verified"] == true);
  CHECK(record(records, "step.undone", "repoint")["verified"] == true);
  CHECK(r.all().find("undone repoint (kv.set)") != std::string::npos);
}

TEST_CASE("bad plugin params are refused at load with FILE:LINE:COL from the plugin's schema",
          "[plugin]") {
  TempDir t;
  install_kv(t);
  write_file(t / "plan.yaml", R"(version: 1
name: kv
steps:
  - id: repoint
    type: kv.set
    with:
      pth: app/app.env
      set: { DB_HOST: [a, b], "9lives": x }
      create: "yes"
)");
  CliResult r = run_cutover({"validate", "plan.yaml", "--state", t / "state"}, at(t.path()));
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("plan.yaml:7:7: steps[0].with: missing required field 'path'\n") !=
        std::string::npos);
  CHECK(r.err.find(
            "plan.yaml:7:7: steps[0].with.pth: unknown field 'pth' (did you mean 'path'?)\n") !=
        std::string::npos);
  CHECK(
      r.err.find("plan.yaml:8:23: steps[0].with.set.DB_HOST: expected a string or a number or true "
                 "or false, got a list\n") != std::string::npos);
  CHECK(r.err.find("plan.yaml:8:31: steps[0].with.set.9lives: '9lives' is not an allowed name here "
                   "(it must match ^[A-Za-z_][A-Za-z0-9_.-]*$)\n") != std::string::npos);
  CHECK(r.err.find("plan.yaml:9:15: steps[0].with.create: expected true or false, got \"yes\"\n") !=
        std::string::npos);
  CHECK(r.err.find("4 problem(s)") == std::string::npos);
  CHECK(r.err.find("5 problem(s) in plan.yaml; nothing was run") != std::string::npos);
  CHECK(marks(t) == "schema\n");
  CHECK_FALSE(file_exists(t / "state"));
}

TEST_CASE("a plugin that prints garbage fails with its name and what it printed", "[plugin]") {
  TempDir t;
  install_sh(t, "acme.deploy", R"(
  checkpoint) echo '{"ok": true, "checkpoint": {"release": "r1"}}' ;;
  apply) echo 'deployed release r2 (3 files)' ;;
  undo) echo '{"ok": true}' ;;)");
  write_file(t / "plan.yaml",
             "version: 1\nname: garbage\nsteps:\n  - { id: deploy, type: acme.deploy }\n");
  std::string state = t / "state";
  CliResult r = run_cutover({"apply", "plan.yaml", "--state", state}, at(t.path()));
  INFO(r.all());
  CHECK(r.exit_code == 3);
  std::string plugin = t / "plugins/cutover-step-acme.deploy";
  CHECK(r.all().find(
            "plugin acme.deploy (" + plugin +
            ") apply: its answer on stdout is not JSON: \"deployed release r2 (3 files)\"") !=
        std::string::npos);
  // The failed step's apply may have been partial: its undo ran, with the checkpoint.
  CHECK(marks(t) == "schema\ncheckpoint\napply\nundo\n");

  // At load time, a garbage schema answer is a load error naming the plugin (exit 1).
  write_file(plugin, "#!/bin/sh\necho 'usage: acme-deploy [--force]'\n", 0755);
  CliResult v = run_cutover({"validate", "plan.yaml"}, at(t.path()));
  CHECK(v.exit_code == 1);
  CHECK(
      v.err.find("plan.yaml:4:25: steps[0].type: plugin acme.deploy (" + plugin +
                 ") schema: its answer on stdout is not JSON: \"usage: acme-deploy [--force]\"") !=
      std::string::npos);
}

TEST_CASE("a plugin that outlives its step timeout is killed with what it started", "[plugin]") {
  TempDir t;
  install_sh(t, "slow.sync",
             R"(
  checkpoint) echo '{"ok": true, "checkpoint": null}' ;;
  apply) sleep 300 & echo $! > ')" +
                 t.path() + R"(/child.pid'; wait ;;
  undo) echo '{"ok": true}' ;;)");
  write_file(t / "plan.yaml",
             "version: 1\nname: slow\nsteps:\n  - { id: sync, type: slow.sync, timeout: 1s }\n");
  auto t0 = std::chrono::steady_clock::now();
  CliResult r = run_cutover({"apply", "plan.yaml", "--state", t / "state"}, at(t.path()));
  auto took = std::chrono::steady_clock::now() - t0;
  INFO(r.all());
  CHECK(r.exit_code == 3);
  CHECK(took < std::chrono::seconds(30));
  CHECK(r.all().find("apply: timed out (the step's timeout); its processes were killed") !=
        std::string::npos);
  REQUIRE(file_exists(t / "child.pid"));
  int child = std::stoi(read_file(t / "child.pid"));
  CHECK_FALSE(process_alive(child));
  CHECK(marks(t) == "schema\ncheckpoint\napply\nundo\n");
}

TEST_CASE("a secret in a plugin's params never shows in output, journal, log or report",
          "[plugin]") {
  TempDir t;
  install_kv(t, Tee::request_to_stderr);
  const std::string secret = "kv-s3cret-9f8e7d";
  write_file(t / "app.env", "API_URL=https://old.example.test\n", 0600);
  write_file(t / "plan.yaml", R"(version: 1
name: kv-secret
secrets:
  token: { env: KV_E2E_TOKEN }
steps:
  - id: token
    type: kv.set
    with: { path: app.env, set: { API_TOKEN: "${secrets.token}" } }
)");
  std::string state = t / "state";
  auto opts = at(t.path(), {{"KV_E2E_TOKEN", secret}});
  CliResult plan = run_cutover({"plan", "plan.yaml", "--state", state}, opts);
  INFO(plan.all());
  CHECK(plan.exit_code == 0);
  CHECK(plan.all().find("+API_TOKEN=***") != std::string::npos);
  CliResult r = run_cutover(
      {"apply", "plan.yaml", "--state", state, "--report", t / "report.json", "--output", "json"},
      opts);
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  // The secret reached the file, as the plan says...
  CHECK(read_file(t / "app.env") == "API_URL=https://old.example.test\nAPI_TOKEN=" + secret + "\n");
  // ...through params only: not through the plugin's environment.
  CHECK(read_file(t / "plugin-env").find(secret) == std::string::npos);
  CHECK(read_file(t / "plugin-env").find("KV_E2E_TOKEN") == std::string::npos);
  // The plugin echoed its request to stderr: logged, masked.
  CHECK(log_of(state).find("\"API_TOKEN\":\"***\"") != std::string::npos);
  CHECK(r.all().find(secret) == std::string::npos);
  CHECK(plan.all().find(secret) == std::string::npos);
  CHECK(cutover::test::all_bytes_under(state).find(secret) == std::string::npos);
  CHECK(read_file(t / "report.json").find(secret) == std::string::npos);
  CliResult show = run_cutover({"show", latest_run(state), "--state", state});
  CHECK(show.all().find(secret) == std::string::npos);
}

TEST_CASE("cutover plan asks a plugin for its plan only, and changes nothing", "[plugin]") {
  TempDir t;
  install_kv(t);
  const std::string before = "DB_HOST=old-db\n";
  write_file(t / "app.env", before);
  write_file(t / "plan.yaml", R"(version: 1
name: kv-plan
steps:
  - id: repoint
    type: kv.set
    with: { path: app.env, set: { DB_HOST: new-db } }
)");
  CliResult r = run_cutover({"plan", "plan.yaml", "--state", t / "state", "--detailed-exitcode"},
                            at(t.path()));
  INFO(r.all());
  CHECK(r.exit_code == 2);
  CHECK(r.out.find("~ repoint (kv.set): edit app.env: 1 key(s) changed, 0 added") !=
        std::string::npos);
  CHECK(r.out.find("-DB_HOST=old-db\n") != std::string::npos);
  CHECK(r.out.find("+DB_HOST=new-db\n") != std::string::npos);
  CHECK(marks(t) == "schema\nplan\n");
  CHECK(read_file(t / "app.env") == before);
}

TEST_CASE("the example plan in plans/ finds its plugin in plans/plugins/", "[plugin]") {
  CliResult r = run_cutover({"validate", std::string(CUTOVER_SOURCE_DIR) + "/plans/app-env.yaml"});
  INFO(r.all());
  CHECK(r.exit_code == 0);
  CHECK(r.all().find("plan 'app-env' is valid (4 steps)") != std::string::npos);
}

TEST_CASE("cutover rollback undoes a plugin step later, from the checkpoint in the journal",
          "[plugin]") {
  TempDir t;
  install_kv(t);
  const std::string before = "A=1\nB=2\n";
  write_file(t / "app.env", before, 0644);
  write_file(t / "plan.yaml", R"(version: 1
name: kv-later
steps:
  - id: set
    type: kv.set
    with: { path: app.env, set: { A: changed, C: added } }
  - id: gate
    type: check.file
    with: { path: gate.txt }
)");
  std::string state = t / "state";
  CliResult failed =
      run_cutover({"apply", "plan.yaml", "--no-rollback", "--state", state}, at(t.path()));
  INFO(failed.all());
  REQUIRE(failed.exit_code == 4);
  CHECK(read_file(t / "app.env") == "A=changed\nB=2\nC=added\n");
  // Another process, another day: the undo gets what `checkpoint` answered, from the journal.
  CliResult back = run_cutover({"rollback", "--state", state, "--auto-approve"}, at(t.path()));
  INFO(back.all());
  CHECK(back.exit_code == 0);
  CHECK(read_file(t / "app.env") == before);
  CHECK(marks(t) == "schema\ncheckpoint\napply\nundo\ncheckpoint\n");
}
