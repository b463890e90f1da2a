// Plan loading and validation (SPEC §3): every class of problem, with its whole message.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>

#include "executor/loader.h"
#include "steps/registry.h"
#include "util/fs.h"

using namespace cutover;
using namespace cutover::executor;

namespace {

// Every diagnostic of loading `text` as plan.yaml, one-line form; empty if it loads.
std::vector<std::string> problems(const std::string& text, const LoadOptions& opts = {}) {
  try {
    load_plan_text("plan.yaml", text, opts);
  } catch (const PlanInvalid& e) {
    std::vector<std::string> out;
    for (const auto& d : e.diagnostics) out.push_back(d.str());
    return out;
  }
  return {};
}

using Lines = std::vector<std::string>;

const char* const kHeader = "version: 1\nname: demo\n";

// The tests use the real step types; say so clearly when a family is not built yet.
void require_types() {
  for (const char* t : {"file.write", "shell", "pg.dump"})
    if (!steps::find_step_type(t)) FAIL("step type " << t << " is not in the registry yet");
}

struct TempDir {
  std::string path = util::make_temp_dir("loader-test");
  ~TempDir() { util::remove_all(path); }
  std::string write(const std::string& name, const std::string& text, mode_t mode = 0644) {
    std::string p = path + "/" + name;
    std::ofstream(p) << text;
    ::chmod(p.c_str(), mode);
    return p;
  }
};

}  // namespace

TEST_CASE("a valid plan loads into the model", "[loader]") {
  require_types();
  Plan plan = load_plan_text("plan.yaml", R"(version: 1
name: hivesync-move
description: Move it
vars:
  app_dir: /opt/app
  port: 8080
secrets:
  db_password: { env: HIVE_DB_PASSWORD }
hosts:
  new: { address: 10.0.0.2, user: deploy }
defaults: { timeout: 10m, retries: 2, retry_delay: 1s }
steps:
  - id: cfg
    type: file.write
    on: new
    with: { path: "${vars.app_dir}/app.conf", content: "port=${vars.port}" }
  - id: run
    type: shell
    timeout: 30s
    rollback: none
    with: { run: "echo ${steps.cfg.outputs.sha256}" }
)");
  CHECK(plan.name == "hivesync-move");
  CHECK(plan.vars["port"] == 8080);
  CHECK(plan.secrets.at("db_password").env == "HIVE_DB_PASSWORD");
  CHECK(plan.hosts.at("new").address == "10.0.0.2");
  CHECK(plan.hosts.at("new").port == 22);
  REQUIRE(plan.steps.size() == 2);
  CHECK(plan.steps[0].on == "new");
  CHECK(plan.steps[0].with["path"] == "${vars.app_dir}/app.conf");  // uninterpolated
  CHECK(plan.steps[0].timeout == std::chrono::minutes(10));
  CHECK(plan.steps[0].retries == 2);
  CHECK(plan.steps[1].timeout == std::chrono::seconds(30));
  CHECK(plan.steps[1].rollback == RollbackMode::none);
  CHECK(plan.steps[1].retry_delay == std::chrono::seconds(1));
  CHECK(plan.steps[1].loc.line == 17);
  CHECK(plan.steps[1].loc.col == 5);
  CHECK(plan.locations.at("/steps/0/with/path").line == 16);
  CHECK(plan.dir.front() == '/');
}

TEST_CASE("YAML 1.2 core typing: NO and on are strings, 010 is ten", "[loader]") {
  require_types();
  Plan plan = load_plan_text("plan.yaml", std::string(kHeader) + R"(vars:
  a: NO
  b: on
  c: 010
  d: 'true'
  e: true
  f: yes
  g: 0o10
  h: 0x1f
  i: ~
  j: 1.5
  k: "010"
  l: !!str 12
steps:
  - { id: s, type: shell, rollback: none, with: { run: "true" } }
)");
  const json& v = plan.vars;
  CHECK(v["a"] == "NO");
  CHECK(v["b"] == "on");
  CHECK(v["c"] == 10);
  CHECK(v["d"] == "true");
  CHECK(v["e"] == true);
  CHECK(v["f"] == "yes");
  CHECK(v["g"] == 8);
  CHECK(v["h"] == 31);
  CHECK(v["i"].is_null());
  CHECK(v["j"] == 1.5);
  CHECK(v["k"] == "010");
  CHECK(v["l"] == "12");
}

TEST_CASE("a YAML syntax error is reported with its position", "[loader]") {
  CHECK(problems("version: 1\nname: [demo\nsteps: []\n") ==
        Lines{"plan.yaml:3:6: YAML syntax error: did not find expected ',' or ']' (while parsing a "
              "flow sequence started at 2:7)"});
}

TEST_CASE("the YAML itself: empty files, second documents, null keys, tags and block text", "[loader]") {
  require_types();
  const std::string steps = "steps:\n  - { id: s, type: shell, rollback: none, with: { run: \"true\" } }\n";
  CHECK(problems("") == Lines{"plan.yaml: the file is empty: expected a YAML map"});
  CHECK(problems("# only a comment\n") == Lines{"plan.yaml: the file is empty: expected a YAML map"});
  CHECK(problems(std::string(kHeader) + steps + "---\nname: other\n") ==
        Lines{"plan.yaml:5:1: a second YAML document: the file must hold exactly one"});
  CHECK(problems(std::string(kHeader) + "vars:\n  ~: x\n" + steps) ==
        Lines{"plan.yaml:4:3: a key must not be empty or null"});
  CHECK(problems(std::string(kHeader) + "vars:\n  [a, b]: x\n" + steps) ==
        Lines{"plan.yaml:4:3: a key must be a plain string, not a list"});
  CHECK(problems(std::string(kHeader) + "vars:\n  x: !!bool yes\n  y: !custom 1\n" + steps) ==
        Lines{"plan.yaml:4:6: 'yes' is not a valid bool", "plan.yaml:5:6: unsupported YAML tag '!custom'"});
  Plan plan = load_plan_text("plan.yaml", std::string(kHeader) + R"(vars:
  block: |
    true
  folded: >
    12
  int: !!int "12"
  quoted_null: "null"
  empty:
steps:
  - { id: s, type: shell, rollback: none, with: { run: "true" } }
)");
  CHECK(plan.vars["block"] == "true\n");
  CHECK(plan.vars["folded"] == "12\n");
  CHECK(plan.vars["int"] == 12);
  CHECK(plan.vars["quoted_null"] == "null");
  CHECK(plan.vars["empty"].is_null());
}

TEST_CASE("duplicate keys are refused", "[loader]") {
  require_types();
  CHECK(problems(std::string(kHeader) + R"(steps:
  - id: a
    type: shell
    rollback: none
    with:
      run: "true"
      run: "false"
)") == Lines{"plan.yaml:9:7: steps[0].with.run: duplicate key 'run' (first at line 8); YAML "
             "would silently keep only one of them"});
}

TEST_CASE("anchors and aliases are refused", "[loader]") {
  require_types();
  const std::string msg =
      "YAML anchors and aliases are not supported: use vars and defaults instead (anchors make "
      "self-referencing and exponentially expanding documents possible)";
  CHECK(problems(std::string(kHeader) + R"(vars:
  base: &b /opt
  other: *b
steps:
  - { id: s, type: shell, rollback: none, with: { run: "true" } }
)") == Lines{"plan.yaml:4:9: " + msg, "plan.yaml:5:10: " + msg});
  // The self-referencing case that crashes a naive walk.
  CHECK(problems(std::string(kHeader) + R"(vars:
  a: &x [*x]
steps:
  - { id: s, type: shell, rollback: none, with: { run: "true" } }
)") == Lines{"plan.yaml:4:6: " + msg, "plan.yaml:4:10: " + msg});
}

TEST_CASE("plans over 4 MiB are refused", "[loader]") {
  std::string big = std::string(kHeader) + "description: \"" + std::string(5 << 20, 'x') + "\"\n";
  CHECK(problems(big) == Lines{"plan.yaml: the plan file is larger than the limit of 4 MiB"});
}

TEST_CASE("nesting deeper than 64 levels is refused", "[loader]") {
  std::string deep = std::string(kHeader) + "vars:\n  x: " + std::string(70, '[') +
                     std::string(70, ']') + "\n";
  CHECK(problems(deep) == Lines{"plan.yaml:4:68: nesting deeper than 64 levels"});
}

TEST_CASE("schema violations name the field", "[loader]") {
  require_types();
  CHECK(problems(R"(version: 1
name: demo
hosts:
  new: { address: h, port: "22x" }
steps:
  - id: a
    type: shell
    tmeout: 5s
    rollback: never
    with: { run: "true" }
  - { type: file.write, with: { path: /x, content: y } }
)") == Lines{
            "plan.yaml:4:28: hosts.new.port: expected an integer, got \"22x\"",
            "plan.yaml:8:5: steps[0].tmeout: unknown field 'tmeout' (did you mean 'timeout'?)",
            "plan.yaml:9:15: steps[0].rollback: must be one of auto, none, not \"never\"",
            "plan.yaml:11:5: steps[1]: missing required field 'id'",
        });
}

TEST_CASE("a step's with is checked against its type's parameter schema", "[loader]") {
  require_types();
  CHECK(problems(std::string(kHeader) + R"(vars:
  flag: true
steps:
  - id: a
    type: shell
    rollback: none
    with: { run: "true", idempotent: "${vars.flag}", capture: "${vars.flag}x", cwdd: /tmp }
  - id: b
    type: file.write
    with: { content: hi }
)") == Lines{
            "plan.yaml:9:63: steps[0].with.capture: expected true or false, got \"truex\"",
            "plan.yaml:9:80: steps[0].with.cwdd: unknown field 'cwdd' (did you mean 'cwd'?)",
            "plan.yaml:12:11: steps[1].with: missing required field 'path'",
        });
}

TEST_CASE("unknown step types suggest the closest name", "[loader]") {
  require_types();
  CHECK(problems(std::string(kHeader) + R"(steps:
  - id: a
    type: file.wrte
    with: { path: /tmp/x, content: hi }
)") == Lines{"plan.yaml:5:11: steps[0].type: unknown step type 'file.wrte' (did you mean "
             "'file.write'?)"});
  auto far = problems(std::string(kHeader) + "steps:\n  - { id: a, type: zzzzzzzz }\n");
  REQUIRE(far.size() == 1);
  CHECK(far[0].rfind("plan.yaml:4:20: steps[0].type: unknown step type 'zzzzzzzz' (known types: ",
                     0) == 0);
  CHECK(far[0].find("file.write") != std::string::npos);
}

TEST_CASE("a type served by a plugin executable is accepted", "[loader]") {
  TempDir dir;
  util::make_dirs(dir.path + "/plugins");
  dir.write("plugins/cutover-step-acme.deploy",
            "#!/bin/sh\necho '{\"ok\": true, \"schema\": {\"type\": \"object\"}}'\n", 0755);
  std::string plan = dir.write("plan.yaml", std::string(kHeader) +
                                                "steps:\n  - { id: a, type: acme.deploy }\n");
  CHECK(load_plan(plan).steps[0].type == "acme.deploy");
}

TEST_CASE("duplicate step ids are refused", "[loader]") {
  require_types();
  CHECK(problems(std::string(kHeader) + R"(steps:
  - { id: a, type: shell, rollback: none, with: { run: "true" } }
  - { id: a, type: shell, rollback: none, with: { run: "true" } }
)") == Lines{"plan.yaml:5:11: steps[1].id: duplicate step id 'a' (first used by steps[0] at "
             "line 4)"});
}

TEST_CASE("references to unknown vars, secrets, hosts and steps", "[loader]") {
  require_types();
  CHECK(problems(std::string(kHeader) + R"(vars:
  app_dir: /opt/app
secrets:
  token: { env: TOKEN }
hosts:
  new: { address: 10.0.0.2 }
steps:
  - id: a
    type: file.write
    on: nwe
    with: { path: "${vars.ap_dir}/x", content: "${secrets.tokn}" }
  - id: b
    type: file.write
    with: { path: /x, content: "${steps.c.outputs.sha256}" }
)") == Lines{
            "plan.yaml:12:9: steps[0].on: unknown host 'nwe' (did you mean 'new'?)",
            "plan.yaml:13:19: steps[0].with.path: unknown var 'ap_dir' (did you mean 'app_dir'?)",
            "plan.yaml:13:48: steps[0].with.content: unknown secret 'tokn' (did you mean 'token'?)",
            "plan.yaml:16:32: steps[1].with.content: unknown step 'c' (did you mean 'a'?)",
        });
}

TEST_CASE("only outputs of earlier steps can be used", "[loader]") {
  require_types();
  CHECK(problems(std::string(kHeader) + R"(steps:
  - id: a
    type: file.write
    with: { path: /x, content: "${steps.b.outputs.sha256}" }
  - id: b
    type: file.write
    with: { path: /y, content: "${steps.b.outputs.sha256}" }
)") == Lines{
            "plan.yaml:6:32: steps[0].with.content: step 'b' runs later (steps[1]): only outputs "
            "of earlier steps can be used",
            "plan.yaml:9:32: steps[1].with.content: step 'b' cannot use its own outputs",
        });
}

TEST_CASE("a step output reference must name an output the step has", "[loader]") {
  require_types();
  // A misspelled key used to read "(known after apply)" in a dry run and fail mid-apply.
  CHECK(problems(std::string(kHeader) + R"(steps:
  - id: dump
    type: pg.dump
    with: { dsn: "postgresql://u@h/db" }
  - id: note
    type: shell
    rollback: none
    with: { run: "echo ${steps.dump.outputs.artifcat} ${steps.dump.outputs.artifact} ${steps.mark.outputs.x}" }
  - id: mark
    type: pg.sql
    rollback: none
    with: { dsn: "postgresql://u@h/db", up: "SELECT 1", verify: "${steps.note.outputs.stdout}" }
  - id: last
    type: file.write
    with: { path: /x, content: "${steps.mark.outputs.rows}${steps.note.outputs.exit_code}" }
)") == Lines{
            "plan.yaml:10:18: steps[1].with.run: step 'dump' (pg.dump) has no output 'artifcat' "
            "(did you mean 'artifact'?)",
            "plan.yaml:10:18: steps[1].with.run: step 'mark' runs later (steps[2]): only outputs of "
            "earlier steps can be used",
            "plan.yaml:17:32: steps[3].with.content: step 'mark' (pg.sql) has no outputs",
        });
}

TEST_CASE("every built-in step type declares its outputs in a form plans are checked against", "[loader]") {
  for (const auto& type : steps::registry()) {
    INFO(type.name << ": " << type.outputs);
    auto keys = steps::declared_outputs(type);
    REQUIRE(keys.has_value());
    CHECK((type.outputs == "none") == keys->empty());
  }
  CHECK(*steps::declared_outputs(*steps::find_step_type("pg.dump")) ==
        std::vector<std::string>{"artifact", "bytes", "raw_bytes", "format", "server_version"});
  steps::StepType prose;
  prose.outputs = "what the plugin's apply answers as outputs";
  CHECK_FALSE(steps::declared_outputs(prose).has_value());
}

TEST_CASE("cycles between vars are named", "[loader]") {
  require_types();
  CHECK(problems(std::string(kHeader) + R"(vars:
  a: "${vars.b}/x"
  b: "${vars.c}"
  c: "${vars.a}"
  d: "${vars.d}"
steps:
  - { id: s, type: shell, rollback: none, with: { run: "true" } }
)") == Lines{
            "plan.yaml:4:6: vars.a: cycle between vars: a -> b -> c -> a",
            "plan.yaml:7:6: vars.d: cycle between vars: d -> d",
        });
}

TEST_CASE("a secret parameter must be a ${secrets.NAME} reference", "[loader]") {
  require_types();
  CHECK(problems(std::string(kHeader) + R"(secrets:
  pw: { env: PW }
steps:
  - id: dump
    type: pg.dump
    with: { dsn: "postgresql://h/db", password: hunter2 }
  - id: dump2
    type: pg.dump
    with: { dsn: "postgresql://h/db", password: "${secrets.pw}" }
  - id: dump3
    type: pg.dump
    with: { dsn: "postgresql://h/db", password: 12345 }
)") == Lines{"plan.yaml:8:49: steps[0].with.password: 'password' is a secret: write it as "
             "${secrets.NAME}, not as literal text",
             // Not "expected a string, got 12345": a secret is never quoted.
             "plan.yaml:14:49: steps[2].with.password: 'password' is a secret: write it as "
             "${secrets.NAME}, not as literal text"});
}

TEST_CASE("a step without an undo must say rollback: none", "[loader]") {
  require_types();
  CHECK(problems(std::string(kHeader) + R"(steps:
  - id: migrate
    type: shell
    with: { run: ./migrate.sh }
  - id: with-undo
    type: shell
    with: { run: ./migrate.sh, undo: ./unmigrate.sh }
  - id: on-purpose
    type: shell
    rollback: none
    with: { run: ./notify.sh }
)") == Lines{"plan.yaml:4:5: steps[0]: step type 'shell' has no undo of its own: give with.undo, "
             "or write rollback: none to say on purpose that this step is not undone"});
}

TEST_CASE("on: must name a known host and a remote-capable type", "[loader]") {
  require_types();
  CHECK(problems(std::string(kHeader) + R"(secrets:
  pw: { env: PW }
hosts:
  new: { address: 10.0.0.2 }
steps:
  - id: dump
    type: pg.dump
    on: new
    with: { dsn: "postgresql://h/db", password: "${secrets.pw}" }
)") == Lines{"plan.yaml:10:9: steps[0].on: step type 'pg.dump' runs only locally: it does not "
             "accept 'on'"});
}

TEST_CASE("bad durations in timeout, retry_delay and defaults", "[loader]") {
  require_types();
  CHECK(problems(std::string(kHeader) + R"(defaults: { timeout: 5 minutes, retry_delay: 2s }
steps:
  - id: a
    type: shell
    rollback: none
    timeout: 10q
    retry_delay: -1
    with: { run: "true" }
)") == Lines{
            "plan.yaml:3:22: defaults.timeout: bad duration '5 minutes' (write e.g. 500ms, 30s, "
            "10m, 2h)",
            "plan.yaml:8:14: steps[0].timeout: bad duration '10q' (write e.g. 500ms, 30s, 10m, "
            "2h)",
            "plan.yaml:9:18: steps[0].retry_delay: a duration must not be negative",
        });
}

TEST_CASE("version must be 1 and the name must follow the pattern", "[loader]") {
  require_types();
  CHECK(problems(R"(version: 2
name: Hive Sync
steps:
  - { id: s, type: shell, rollback: none, with: { run: "true" } }
)") == Lines{
            "plan.yaml:1:10: version: unsupported plan format version 2: this cutover reads "
            "version 1",
            "plan.yaml:2:7: name: 'Hive Sync' is not a valid plan name: use lowercase letters, "
            "digits, '.', '_' and '-', starting with a letter or digit",
        });
}

TEST_CASE("profiles merge vars and hosts, an unknown profile lists the known ones",
          "[loader]") {
  require_types();
  const std::string text = std::string(kHeader) + R"(vars:
  url: http://localhost
profiles:
  staging:
    vars: { url: https://staging.example.test }
    hosts: { new: { address: 10.0.0.9 } }
  production:
    vars: { url: https://api.example.test }
hosts:
  new: { address: 10.0.0.2, user: deploy }
steps:
  - { id: s, type: shell, rollback: none, with: { run: "curl ${vars.url}" } }
)";
  LoadOptions opts;
  opts.profile = "staging";
  Plan plan = load_plan_text("plan.yaml", text, opts);
  CHECK(plan.profile == "staging");
  CHECK(plan.vars["url"] == "https://staging.example.test");
  CHECK(plan.hosts.at("new").address == "10.0.0.9");
  CHECK(plan.hosts.at("new").user == "deploy");
  opts.profile = "stagin";
  CHECK(problems(text, opts) ==
        Lines{"plan.yaml: unknown profile 'stagin' (did you mean 'staging'?); known profiles: "
              "production, staging"});
  opts.profile = "qa";
  CHECK(problems(text, opts) ==
        Lines{"plan.yaml: unknown profile 'qa' (known profiles: production, staging)"});
}

TEST_CASE("options --var and --vars-file override vars, vars files are inputs", "[loader]") {
  require_types();
  TempDir dir;
  std::string vars_file = dir.write("prod.yaml", "url: https://prod.example.test\nport: 8443\n");
  const std::string text = std::string(kHeader) + R"(vars:
  url: http://localhost
  port: 80
  user: app
steps:
  - { id: s, type: shell, rollback: none, with: { run: "curl ${vars.url}" } }
)";
  LoadOptions opts;
  opts.vars_files = {vars_file};
  opts.var_overrides = {{"user", "deploy"}};
  Plan plan = load_plan_text("plan.yaml", text, opts);
  CHECK(plan.vars["url"] == "https://prod.example.test");
  CHECK(plan.vars["port"] == 8443);
  CHECK(plan.vars["user"] == "deploy");
  CHECK(plan.inputs == std::vector<std::string>{vars_file});

  opts.var_overrides = {{"usr", "x"}};
  CHECK(problems(text, opts) == Lines{"--var: unknown var 'usr' (did you mean 'user'?): declare "
                                      "it under vars: with a default"});

  std::string bad = dir.write("bad.yaml", "a: 1\na: 2\n");
  opts = {};
  opts.vars_files = {bad};
  CHECK(problems(text, opts) ==
        Lines{bad + ":2:1: a: duplicate key 'a' (first at line 1); YAML would silently keep "
                    "only one of them"});
}

TEST_CASE("the reader of LoadOptions is used for the plan and vars files", "[loader]") {
  require_types();
  LoadOptions opts;
  std::vector<std::string> asked;
  opts.read_file = [&](const std::string& path) -> std::string {
    asked.push_back(path);
    if (path == "v.yaml") return "x: from-git\n";
    return std::string(kHeader) + "vars: { x: 1 }\nsteps:\n  - { id: s, type: shell, rollback: "
                                  "none, with: { run: \"true\" } }\n";
  };
  opts.vars_files = {"v.yaml"};
  Plan plan = load_plan("rel/plan.yaml", opts);
  CHECK(asked == std::vector<std::string>{"rel/plan.yaml", "v.yaml"});
  CHECK(plan.vars["x"] == "from-git");
  CHECK(plan.dir.front() == '/');
  CHECK(plan.dir.size() > 4);
  CHECK(plan.dir.substr(plan.dir.size() - 4) == "/rel");
}

TEST_CASE("every problem of a plan is reported at once, in file order", "[loader]") {
  require_types();
  CHECK(problems(R"(version: 1
name: demo
vars:
  a: "${vars.b}"
  b: "${vars.a}"
steps:
  - id: one
    type: file.wrte
  - id: one
    type: shell
    with: { run: "echo ${vars.nope}" }
  - id: three
    type: shell
    rollback: none
    timeout: soon
    on: nowhere
    with: { run: "true" }
)") == Lines{
            "plan.yaml:4:6: vars.a: cycle between vars: a -> b -> a",
            "plan.yaml:8:11: steps[0].type: unknown step type 'file.wrte' (did you mean "
            "'file.write'?)",
            "plan.yaml:9:5: steps[1]: step type 'shell' has no undo of its own: give with.undo, "
            "or write rollback: none to say on purpose that this step is not undone",
            "plan.yaml:9:9: steps[1].id: duplicate step id 'one' (first used by steps[0] at line "
            "7)",
            "plan.yaml:11:18: steps[1].with.run: unknown var 'nope' (known vars: "
            "a, b)",
            "plan.yaml:15:14: steps[2].timeout: bad duration 'soon' (write e.g. 500ms, 30s, 10m, "
            "2h)",
            "plan.yaml:16:9: steps[2].on: unknown host 'nowhere' (no hosts are declared)",
        });
}

TEST_CASE("format_diagnostics shows the source line and a caret", "[loader]") {
  Diagnostic d;
  d.file = "plan.yaml";
  d.loc = {2, 11};
  d.path = "steps[0].type";
  d.message = "unknown step type 'file.wrte'";
  CHECK(format_diagnostics({d}, "steps:\n    type: file.wrte\n") ==
        "plan.yaml:2:11: steps[0].type: unknown step type 'file.wrte'\n"
        "    type: file.wrte\n"
        "          ^\n");
}

TEST_CASE("the plan schema merges every step type's parameters", "[loader]") {
  require_types();
  json schema = json::parse(plan_schema());
  CHECK(schema["required"] == json({"version", "name", "steps"}));
  bool has_shell = false;
  for (const auto& branch : schema["definitions"]["step"]["allOf"])
    if (branch["if"]["properties"]["type"]["const"] == "shell") has_shell = true;
  CHECK(has_shell);
}

TEST_CASE("profiles not applied are still checked", "[loader]") {
  require_types();
  const std::string text = std::string(kHeader) + R"(vars:
  url: http://localhost
profiles:
  staging:
    vars: { url: "${vars.hots}/api" }
steps:
  - { id: s, type: shell, rollback: none, with: { run: "curl ${vars.url}" } }
)";
  CHECK(problems(text) == Lines{"plan.yaml:7:18: profiles.staging.vars.url: unknown var 'hots' "
                                "(known vars: url)"});
  LoadOptions opts;
  opts.profile = "staging";
  CHECK(problems(text, opts) ==
        Lines{"plan.yaml:7:18: vars.url: unknown var 'hots' (known vars: url)"});
}

TEST_CASE("a literal secret never appears in a source excerpt", "[loader]") {
  require_types();
  const std::string text = std::string(kHeader) + R"(steps:
  - id: dump
    type: pg.dump
    with: { dsn: "postgresql://h/db", password: hunter2, jbos: 2 }
)";
  try {
    load_plan_text("plan.yaml", text);
    FAIL("the plan loaded");
  } catch (const PlanInvalid& e) {
    std::string out = format_diagnostics(e.diagnostics, text);
    CHECK(out.find("hunter2") == std::string::npos);
    CHECK(out ==
          "plan.yaml:6:49: steps[0].with.password: 'password' is a secret: write it as "
          "${secrets.NAME}, not as literal text\n"
          "    with: { dsn: \"postgresql://h/db\", password: *******, jbos: 2 }\n"
          "                                                ^\n"
          "plan.yaml:6:58: steps[0].with.jbos: unknown field 'jbos' (did you mean 'jobs'?)\n"
          "    with: { dsn: \"postgresql://h/db\", password: *******, jbos: 2 }\n"
          "                                                         ^\n");
  }
}
