// config.set on json, yaml, env and ini files: what changes, what stays, and undo.
#include <catch2/catch.hpp>

#include "steps/config_formats.h"
#include "tests/support/step_harness.h"
#include "util/error.h"
#include "util/fs.h"

using cutover::Error;
using nlohmann::json;
namespace t = cutover::testing;
namespace s = cutover::steps;

namespace {

std::string edit(s::ConfigFormat f, const std::string& text, json set,
                 std::vector<std::string> unset = {}) {
  s::ConfigEdit e;
  for (auto& [k, v] : set.items()) e.set.emplace_back(k, v);
  e.unset = std::move(unset);
  return s::edit_config(f, text, e, "test");
}

}  // namespace

TEST_CASE("config.set on json keeps key order, indentation and the final newline",
          "[config-steps][steps-builtin]") {
  t::StepHarness h;
  std::string path = h.path("connection_registry.json");
  std::string before =
      "{\n    \"zeta\": 1,\n    \"primary_backend_url\": \"http://old\",\n    \"alpha\": {\"x\": "
      "true}\n}\n";
  t::write_file(path, before, 0640);
  auto step = h.make("config.set", {{"path", path},
                                    {"set",
                                     {{"primary_backend_url", "https://api.example.test"},
                                      {"alpha.y", 2},
                                      {"new.deep.key", false}}}});
  json cp = step->checkpoint(h.ctx());
  json out = step->apply(h.ctx(), cp);
  CHECK(out["changed"] == true);
  CHECK(t::read_file(path) ==
        "{\n"
        "    \"zeta\": 1,\n"
        "    \"primary_backend_url\": \"https://api.example.test\",\n"
        "    \"alpha\": {\n"
        "        \"x\": true,\n"
        "        \"y\": 2\n"
        "    },\n"
        "    \"new\": {\n"
        "        \"deep\": {\n"
        "            \"key\": false\n"
        "        }\n"
        "    }\n"
        "}\n");
  CHECK(t::file_mode(path) == 0640);
  step->undo(h.ctx(), cp);
  CHECK(t::read_file(path) == before);
  CHECK(t::file_mode(path) == 0640);
}

TEST_CASE("config.set json pointers, unset, and literal dotted keys",
          "[config-steps][steps-builtin]") {
  using F = s::ConfigFormat;
  CHECK(edit(F::json, "{\"a/b\": {\"c\": 1}, \"d\": 2}\n", {{"/a~1b/c", "x"}}, {"d"}) ==
        "{\"a/b\":{\"c\":\"x\"}}\n");
  CHECK(edit(F::json, "{\n  \"site.host\": \"old\"\n}", {{"site.host", "new"}}) ==
        "{\n  \"site.host\": \"new\"\n}");
  CHECK(edit(F::json, "[1, 2]", {{"/1", 5}}) == "[1,5]");
  CHECK_THROWS_WITH(edit(F::json, "{\"a\": \"text\"}", {{"a.b", 1}}),
                    Catch::Contains("'a' holds a string"));
  CHECK_THROWS_WITH(edit(F::json, "{oops", {{"a", 1}}), Catch::Contains("not valid JSON"));
  // Nothing to change: the text comes back as it was, formatting included.
  std::string odd = "{ \"a\" :1,\n\"b\": [1,2] }";
  CHECK(edit(F::json, odd, {{"a", 1}}, {"missing"}) == odd);
}

TEST_CASE("config.set leaves a file untouched when every key already has its value",
          "[config-steps][steps-builtin]") {
  t::StepHarness h;
  std::string path = h.path("app.json");
  t::write_file(path, "{\"a\":   1}\n");
  auto step = h.make("config.set", {{"path", path}, {"set", {{"a", 1}}}});
  CHECK_FALSE(step->plan(h.ctx()).changes);
  json out = step->apply(h.ctx(), step->checkpoint(h.ctx()));
  CHECK(out["changed"] == false);
  CHECK(t::read_file(path) == "{\"a\":   1}\n");
}

TEST_CASE("config.set on env keeps comments, order and blank lines",
          "[config-steps][steps-builtin]") {
  t::StepHarness h;
  std::string path = h.path(".env");
  std::string before =
      "# database\nDB_HOST=old.internal\n\nexport DB_PORT=5432 # default\nAPP_NAME=hive\n";
  t::write_file(path, before, 0600);
  auto step = h.make("config.set", {{"path", path},
                                    {"set",
                                     {{"DB_HOST", "new.internal"},
                                      {"DB_PORT", 5433},
                                      {"GREETING", "hello world # not a comment"}}},
                                    {"unset", {"APP_NAME"}}});
  json cp = step->checkpoint(h.ctx());
  step->apply(h.ctx(), cp);
  CHECK(t::read_file(path) ==
        "# database\nDB_HOST=new.internal\n\nexport DB_PORT=5433 # default\n"
        "GREETING='hello world # not a comment'\n");
  step->undo(h.ctx(), cp);
  CHECK(t::read_file(path) == before);
  CHECK(t::file_mode(path) == 0600);
}

TEST_CASE("config.set env quoting", "[config-steps][steps-builtin]") {
  using F = s::ConfigFormat;
  CHECK(edit(F::env, "", {{"A", "it's $HOME"}}) == "A=\"it's \\$HOME\"\n");
  CHECK(edit(F::env, "A=1\r\nB=2\r\n", {{"B", true}}) == "A=1\r\nB=true\r\n");
  CHECK(edit(F::env, "A=\"x y\" # why\n", {{"A", "z"}}) == "A=z # why\n");
  CHECK_THROWS_WITH(edit(F::env, "", {{"BAD NAME", 1}}),
                    Catch::Contains("not a valid variable name"));
}

TEST_CASE("config.set on ini keeps comments and appends new keys to their section",
          "[config-steps][steps-builtin]") {
  using F = s::ConfigFormat;
  std::string before =
      "; global\nuser = app\n\n[server]\nhost = old.example\nport = 80\n\n; next\n[Session]\n"
      "session.save_path = /tmp\n";
  CHECK(edit(F::ini, before,
             {{"server.host", "new.example"},
              {"server.tls", true},
              {"Session.session.save_path", "/var/lib"},
              {"timeout", 5},
              {"cache.size", "1GiB"}}) ==
        "; global\nuser = app\ntimeout = 5\n\n[server]\nhost = new.example\nport = 80\ntls = "
        "true\n\n; next\n"
        "[Session]\nsession.save_path = /var/lib\n\n[cache]\nsize = 1GiB\n");
  CHECK(edit(F::ini, before, {}, {"server.port", "nope.key"}) ==
        "; global\nuser = app\n\n[server]\nhost = old.example\n\n; "
        "next\n[Session]\nsession.save_path = /tmp\n");
  CHECK(edit(F::ini, "[a]\nk=v\n", {{"a.k", "v"}}) == "[a]\nk=v\n");
  CHECK(edit(F::ini, "[a]\nk=v\n", {{"a.j", "w"}}) == "[a]\nk=v\nj=w\n");
}

TEST_CASE("config.set on yaml edits lines and keeps comments", "[config-steps][steps-builtin]") {
  using F = s::ConfigFormat;
  std::string before =
      "# app settings\n"
      "server:\n"
      "  host: old.example   # public name\n"
      "  port: 80\n"
      "  tls:\n"
      "    enabled: false\n"
      "\n"
      "# workers\n"
      "workers:\n"
      "  - a\n"
      "  - b\n"
      "name: \"hive\"\n";
  CHECK(edit(F::yaml, before,
             {{"server.host", "new.example"},
              {"server.tls.enabled", true},
              {"server.redis.port", 6380},
              {"name", "hive"},
              {"mode", "yes"}}) ==
        "# app settings\n"
        "server:\n"
        "  host: new.example   # public name\n"
        "  port: 80\n"
        "  tls:\n"
        "    enabled: true\n"
        "  redis:\n"
        "    port: 6380\n"
        "\n"
        "# workers\n"
        "workers:\n"
        "  - a\n"
        "  - b\n"
        "name: \"hive\"\n"
        "mode: \"yes\"\n");
  CHECK(edit(F::yaml, before, {{"workers", json::array({"c"})}}, {"server.tls"}) ==
        "# app settings\n"
        "server:\n"
        "  host: old.example   # public name\n"
        "  port: 80\n"
        "\n"
        "# workers\n"
        "workers: [\"c\"]\n"
        "name: \"hive\"\n");
  CHECK(edit(F::yaml, before, {{"name", "hive"}}) == before);
  CHECK_THROWS_WITH(edit(F::yaml, before, {{"workers.0", "x"}}), Catch::Contains("is a list"));
  CHECK_THROWS_WITH(edit(F::yaml, before, {{"server.port.x", 1}}),
                    Catch::Contains("holds a value"));
  CHECK_THROWS_WITH(edit(F::yaml, "key:\n  a plain scalar\n", {{"key.x", 1}}),
                    Catch::Contains("holds a value"));
  CHECK(edit(F::yaml, "key:\n  a plain scalar\nnext: 1\n", {{"key", "v"}}) == "key: v\nnext: 1\n");
  CHECK(edit(F::yaml, "", {{"a.b", "10.0.0.2"}}) == "a:\n  b: \"10.0.0.2\"\n");
  CHECK(edit(F::yaml, "---\nroot:\n    k: 1\n", {{"root.j", 2}}) ==
        "---\nroot:\n    k: 1\n    j: 2\n");
}

TEST_CASE("config.set create: a new file is removed by undo, without create it is an error",
          "[config-steps][steps-builtin]") {
  t::StepHarness h;
  std::string path = h.path("settings.yaml");
  auto strict = h.make("config.set", {{"path", path}, {"set", {{"a", 1}}}});
  CHECK_THAT(strict->plan(h.ctx()).summary, Catch::Contains("does not exist yet"));
  CHECK_THROWS_WITH(strict->apply(h.ctx(), strict->checkpoint(h.ctx())),
                    Catch::Contains(path) && Catch::Contains("does not exist"));
  CHECK_FALSE(t::exists(path));

  auto step = h.make("config.set", {{"path", path}, {"set", {{"a", 1}}}, {"create", true}});
  json cp = step->checkpoint(h.ctx());
  auto p = step->plan(h.ctx());
  CHECK(p.changes);
  CHECK_THAT(p.detail, Catch::Contains("+a: 1"));
  step->apply(h.ctx(), cp);
  CHECK(t::read_file(path) == "a: 1\n");
  step->undo(h.ctx(), cp);
  CHECK_FALSE(t::exists(path));
  step->undo(h.ctx(), cp);
}

TEST_CASE("config.set refuses an unknown format and a folder in place at undo",
          "[config-steps][steps-builtin]") {
  t::StepHarness h;
  CHECK_THROWS_WITH(h.make("config.set", {{"path", "/etc/app.txt"}, {"set", {{"a", 1}}}}),
                    Catch::Contains("format"));
  std::string path = h.path("c.ini");
  t::write_file(path, "[a]\nb = 1\n");
  auto step = h.make("config.set", {{"path", path}, {"set", {{"a.b", 2}}}});
  json cp = step->checkpoint(h.ctx());
  step->apply(h.ctx(), cp);
  cutover::util::remove_all(path);
  cutover::util::make_dirs(path + "/x", 0755);
  CHECK_THROWS_WITH(step->undo(h.ctx(), cp), Catch::Contains(path));
  CHECK(t::exists(path + "/x"));
}

TEST_CASE(
    "config.set on a yaml file keeps its comments through apply and undo, undo without apply is "
    "fine",
    "[config-steps][steps-builtin]") {
  t::StepHarness h;
  std::string path = h.path("app.yml");
  std::string before = "# managed by ops\ndb:\n  host: old  # primary\n  port: 5432\n";
  t::write_file(path, before, 0644);
  auto step = h.make("config.set", {{"path", path}, {"set", {{"db.host", "new"}}}});
  json cp = step->checkpoint(h.ctx());
  step->undo(h.ctx(), cp);  // never applied
  CHECK(t::read_file(path) == before);
  step->apply(h.ctx(), cp);
  CHECK(t::read_file(path) == "# managed by ops\ndb:\n  host: new  # primary\n  port: 5432\n");
  step->undo(h.ctx(), cp);
  CHECK(t::read_file(path) == before);
}
