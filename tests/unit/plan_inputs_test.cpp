// The files a plan's steps read (executor/plan_inputs.h): which paths count, how they are keyed,
// read at load time and frozen, and that steps read them through Context::read_input.
#include <catch2/catch.hpp>

#include "checkpoints/artifact_store.h"
#include "executor/loader.h"
#include "executor/plan_inputs.h"
#include "tests/support/step_harness.h"
#include "util/error.h"
#include "util/fs.h"

using cutover::Error;
using nlohmann::json;
namespace ex = cutover::executor;
namespace t = cutover::testing;

namespace {

ex::Plan load(const std::string& dir, const std::string& steps) {
  std::string path = dir + "/plan.yaml";
  t::write_file(path, "version: 1\nname: inputs\nvars:\n  tpl_dir: templates\nsteps:\n" + steps);
  return ex::load_plan(path);
}

}  // namespace

TEST_CASE("input keys are relative to the plan folder inside it and absolute outside it", "[plan-inputs]") {
  CHECK(ex::input_key("/srv/deploy", "templates/a.conf") == "templates/a.conf");
  CHECK(ex::input_key("/srv/deploy", "./templates/../templates/a.conf") == "templates/a.conf");
  CHECK(ex::input_key("/srv/deploy", "/srv/deploy/sql/down.sql") == "sql/down.sql");
  CHECK(ex::input_key("/srv/deploy", "/etc/app/site.tmpl") == "/etc/app/site.tmpl");
  CHECK(ex::input_key("/srv/deploy", "../shared/a.sql") == "/srv/shared/a.sql");
}

TEST_CASE("step inputs: file.write templates and sources, pg.sql files, vars resolve, step outputs do not",
          "[plan-inputs]") {
  t::TempDir dir("plan-inputs");
  ex::Plan plan = load(dir.path(),
                       "  - id: lit\n    type: file.write\n    with: { path: /tmp/a, template: site.tmpl }\n"
                       "  - id: var\n    type: file.write\n    with: { path: /tmp/b, source: \"${vars.tpl_dir}/b.bin\" }\n"
                       "  - id: later\n    type: file.write\n    with: { path: /tmp/c, template: \"${steps.lit.outputs.sha256}.tmpl\" }\n"
                       "  - id: inline\n    type: file.write\n    with: { path: /tmp/d, content: x }\n"
                       "  - id: sh\n    type: shell\n    with: { run: \"true\", undo: \"true\" }\n");
  auto inputs = ex::step_inputs(plan);
  REQUIRE(inputs.size() == 2);
  CHECK(inputs[0].step == "lit");
  CHECK(inputs[0].param == "template");
  CHECK(inputs[0].path == dir / "site.tmpl");
  CHECK(inputs[1].step == "var");
  CHECK(inputs[1].param == "source");
  CHECK(inputs[1].path == dir / "templates/b.bin");
}

TEST_CASE("read_step_inputs: a versioned file that cannot be read stops the load, any other is left to run time",
          "[plan-inputs]") {
  t::TempDir dir("plan-inputs");
  t::write_file(dir / "site.tmpl", "server ${vars.tpl_dir}\n");
  ex::Plan plan = load(dir.path(),
                       "  - id: site\n    type: file.write\n    with: { path: /tmp/a, template: site.tmpl }\n"
                       "  - id: gone\n    type: file.write\n    with: { path: /tmp/b, template: missing.tmpl }\n");
  ex::read_step_inputs(plan, {});
  CHECK(plan.input_texts.size() == 1);
  CHECK(plan.input_texts.at("site.tmpl") == "server ${vars.tpl_dir}\n");

  ex::Plan at_rev = plan;
  at_rev.input_texts.clear();
  auto versioned = [](const std::string&) { return true; };
  try {
    ex::read_step_inputs(at_rev, {}, versioned);
    FAIL("a versioned input that cannot be read was accepted");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "step gone: with.template: " + dir / "missing.tmpl" + " does not exist");
  }
}

TEST_CASE("the input reader prefers the frozen artifact, then the text read at load, then the file system",
          "[plan-inputs]") {
  t::TempDir dir("plan-inputs");
  t::write_file(dir / "site.tmpl", "work tree\n");
  t::write_file(dir / "other.tmpl", "only on disk\n");
  ex::Plan plan = load(dir.path(), "  - id: site\n    type: file.write\n    with: { path: /tmp/a, template: site.tmpl }\n");
  cutover::checkpoints::ArtifactStore store(dir / "artifacts");
  plan.input_texts["site.tmpl"] = "as loaded\n";
  CHECK(ex::input_reader(plan, &store)("site.tmpl") == "as loaded\n");
  ex::freeze_inputs(plan, store);
  REQUIRE(plan.frozen_inputs.count("site.tmpl"));
  plan.input_texts.clear();  // a resumed run: only plan.json's frozen copies
  CHECK(ex::input_reader(plan, &store)("./site.tmpl") == "as loaded\n");
  CHECK(ex::input_reader(plan, &store)(dir / "site.tmpl") == "as loaded\n");
  CHECK(ex::input_reader(plan, &store)("other.tmpl") == "only on disk\n");

  store.remove(plan.frozen_inputs.at("site.tmpl"));
  try {
    ex::input_reader(plan, &store)("site.tmpl");
    FAIL("a frozen input missing from the store was read from somewhere else");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).rfind("site.tmpl (the copy frozen when the run started): artifact sha256:", 0) == 0);
  }
}

TEST_CASE("file.write renders the template its context's read_input gives, not the file on disk",
          "[plan-inputs][file-steps]") {
  t::StepHarness h;
  t::write_file(h.path("site.tmpl"), "edited on disk\n");
  std::string asked;
  h.ctx().read_input = [&](const std::string& path) {
    asked = path;
    return std::string("frozen copy\n");
  };
  auto step = h.make("file.write", {{"path", h.path("site.conf")}, {"template", "site.tmpl"}});
  json cp = step->checkpoint(h.ctx());
  step->apply(h.ctx(), cp);
  CHECK(asked == "site.tmpl");
  CHECK(t::read_file(h.path("site.conf")) == "frozen copy\n");
}

TEST_CASE("file.write through the harness reads the plan folder by default and names a missing template",
          "[plan-inputs][file-steps]") {
  t::StepHarness h;
  t::write_file(h.path("site.tmpl"), "from disk\n");
  auto step = h.make("file.write", {{"path", h.path("site.conf")}, {"template", "site.tmpl"}});
  step->apply(h.ctx(), step->checkpoint(h.ctx()));
  CHECK(t::read_file(h.path("site.conf")) == "from disk\n");

  auto missing = h.make("file.write", {{"path", h.path("x.conf")}, {"template", "nope.tmpl"}});
  try {
    missing->apply(h.ctx(), missing->checkpoint(h.ctx()));
    FAIL("a missing template was accepted");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "file.write: template " + h.path("nope.tmpl") + " does not exist");
  }
}
