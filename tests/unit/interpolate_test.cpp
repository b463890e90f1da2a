// ${...} interpolation (SPEC §3): typing, env, secrets, step outputs, shell quoting, cycles.
#include <catch2/catch.hpp>
#include <cstdlib>

#include "executor/interpolate.h"
#include "util/error.h"

using namespace cutover;
using namespace cutover::executor;

namespace {

struct Fixture {
  json vars = {
      {"app_dir", "/opt/app"},
      {"config", "${vars.app_dir}/config"},
      {"port", 8080},
      {"db", {{"host", "db1"}, {"port", 5432}}},
      {"name", "it's"},
      {"cmd", "ls -l"},
      {"loop_a", "${vars.loop_b}"},
      {"loop_b", "x${vars.loop_a}"},
      {"pw", "${secrets.db_password}"},
      {"login", "user:${secrets.tricky}"},
      {"literal", "cost $${x}"},
  };
  std::map<std::string, json> outputs;
  Scope scope;
  Fixture() {
    scope.vars = &vars;
    scope.secret = [](const std::string& name) -> std::string {
      if (name == "db_password") return "s3cret";
      if (name == "tricky") return "a b'c";
      throw Error("unknown secret '" + name + "'");
    };
    outputs["dump"] = {{"artifact", "sha256:abc"}, {"bytes", 42}};
    scope.step_outputs = &outputs;
    scope.run = {{"id", "20261124-001"}, {"dir", "/state/runs/20261124-001"}};
    scope.plan = {{"name", "demo"}, {"dir", "/plans"}};
  }
  json str(const std::string& text, SecretMode mode = SecretMode::reveal) {
    return interpolate_string(text, scope, mode);
  }
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("vars resolve recursively, inside longer strings and as whole values",
          "[interpolate]") {
  Fixture f;
  CHECK(f.str("${vars.config}/app.json") == "/opt/app/config/app.json");
  CHECK(f.str("${vars.port}") == 8080);  // exactly one reference: keeps its JSON type
  CHECK(f.str("port ${vars.port}") == "port 8080");
  CHECK(f.str("${vars.db}") == json({{"host", "db1"}, {"port", 5432}}));
  CHECK(f.str("${vars.db.port}") == 5432);
  CHECK(f.str("$${vars.port} costs $$5") == "${vars.port} costs $$5");
  CHECK(f.str("${plan.name}@${plan.dir} ${run.id} ${run.dir}") ==
        "demo@/plans 20261124-001 /state/runs/20261124-001");
}

TEST_CASE("env references, with and without defaults", "[interpolate]") {
  Fixture f;
  ::setenv("CUTOVER_TEST_SET", "here", 1);
  ::unsetenv("CUTOVER_TEST_UNSET");
  CHECK(f.str("${env.CUTOVER_TEST_SET}") == "here");
  CHECK(f.str("${env.CUTOVER_TEST_UNSET:-fallback:x}") == "fallback:x");
  CHECK(f.str("${env.CUTOVER_TEST_SET:-fallback}") == "here");
  CHECK(error_of([&] { f.str("${env.CUTOVER_TEST_UNSET}"); }) ==
        "environment variable CUTOVER_TEST_UNSET is not set");
}

TEST_CASE("secrets are revealed only in reveal mode", "[interpolate]") {
  Fixture f;
  CHECK(f.str("${secrets.db_password}") == "s3cret");
  CHECK(f.str("pw=${secrets.db_password}", SecretMode::reference) == "pw=${secrets.db_password}");
  CHECK(f.str("${vars.pw}", SecretMode::reference) == "${secrets.db_password}");
  CHECK(f.str("${vars.pw}") == "s3cret");
  CHECK(error_of([&] { f.str("${secrets.nope}"); }) == "unknown secret 'nope'");
}

TEST_CASE("step outputs, and known after apply in a dry run", "[interpolate]") {
  Fixture f;
  CHECK(f.str("${steps.dump.outputs.artifact}") == "sha256:abc");
  CHECK(f.str("${steps.dump.outputs.bytes}") == 42);
  CHECK(error_of([&] { f.str("${steps.restore.outputs.tables}"); }) ==
        "no outputs of step 'restore': only earlier steps' outputs can be used");
  CHECK(error_of([&] { f.str("${steps.dump.outputs.nope}"); }) ==
        "step 'dump' outputs has no key 'nope'");
  f.scope.unknown_outputs_ok = true;
  CHECK(f.str("${steps.restore.outputs.tables}") == "(known after apply)");
  // A step whose plan() told some outputs (pg.dump: its server version) but not this one:
  // known after apply too, not an error that makes the dry run show the step as failing.
  CHECK(f.str("${steps.dump.outputs.nope}") == "(known after apply)");
  CHECK(f.str("${steps.dump.outputs.artifact}") == "sha256:abc");
}

TEST_CASE("shell keys quote every substitution unless raw", "[interpolate]") {
  Fixture f;
  json with = {{"run", "echo ${vars.name} > ${vars.app_dir}/x; ${raw:vars.cmd}"},
               {"undo", {"rm", "${vars.name}"}},
               {"cwd", "${vars.name}"}};
  json out = interpolate(with, f.scope, SecretMode::reveal, {"run", "undo"});
  CHECK(out["run"] == "echo 'it'\\''s' > '/opt/app'/x; ls -l");
  CHECK(out["undo"] == json({"rm", "it's"}));  // argv lists are not shell strings
  CHECK(out["cwd"] == "it's");                  // not a shell key
  CHECK(interpolate(json{{"run", "${vars.port}"}}, f.scope, SecretMode::reveal, {"run"})["run"] ==
        "'8080'");
}

TEST_CASE("cycles and unknown references are errors naming the path", "[interpolate]") {
  Fixture f;
  CHECK(error_of([&] { f.str("${vars.loop_a}"); }) ==
        "cycle between vars: loop_a -> loop_b -> loop_a");
  CHECK(error_of([&] {
          interpolate(json{{"set", {{"url", "${vars.nope}"}}}}, f.scope, SecretMode::reveal);
        }) == "set.url: unknown var 'nope'");
  CHECK(error_of([&] { f.str("${vars.app_dir"); }) ==
        "unterminated '${' (write '$${' for a literal '${')");
  CHECK(error_of([&] { f.str("${nope.x}"); }) ==
        "unknown reference '${nope.x}' (references start with vars., env., secrets., steps., "
        "run. or plan.)");
}

TEST_CASE("references lists every reference of a string", "[interpolate]") {
  CHECK(references("${vars.a}/${env.HOME:-/root} $${vars.not} ${raw:secrets.s} "
                   "${steps.x.outputs.k}") ==
        std::vector<std::string>{"vars.a", "env.HOME", "secrets.s", "steps.x.outputs.k"});
}

TEST_CASE("a recorded (reference mode) value reveals to the same command", "[interpolate]") {
  Fixture f;
  json with = {{"run", "echo ${vars.name} ${secrets.tricky} ${vars.login} ${raw:vars.login} $${x} "
                       "${vars.literal}"},
               {"env", {{"A", "${vars.login}"}, {"B", "${vars.literal}"}}}};
  const std::vector<std::string> shell = {"run"};
  json direct = interpolate(with, f.scope, SecretMode::reveal, shell);
  json recorded = interpolate(with, f.scope, SecretMode::reference, shell);
  CHECK(direct["run"] == "echo 'it'\\''s' 'a b'\\''c' 'user:a b'\\''c' user:a b'c ${x} 'cost ${x}'");
  CHECK(recorded["run"] ==
        "echo 'it'\\''s' ${secrets.tricky} 'user:'${secrets.tricky} user:${raw:secrets.tricky} "
        "$${x} 'cost $${x}'");
  CHECK(recorded["env"] == json({{"A", "user:${secrets.tricky}"}, {"B", "cost $${x}"}}));
  Scope only_secrets;
  only_secrets.secret = f.scope.secret;
  json revealed = interpolate(recorded, only_secrets, SecretMode::reveal, shell);
  CHECK(revealed["env"] == direct["env"]);
  // Quoted piece by piece, the same shell words as quoting the whole value at once.
  CHECK(revealed["run"] ==
        "echo 'it'\\''s' 'a b'\\''c' 'user:''a b'\\''c' user:a b'c ${x} 'cost ${x}'");
}
