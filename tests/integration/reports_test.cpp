// Reports (SPEC §7, issue 6): report.json validates against schemas/report.schema.json, the
// JUnit XML has the shape CI servers read, the HTML page is self-contained and renders (with
// its timeline) in headless Chromium, and every value in them is escaped.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <regex>

#include "tests/support/e2e.h"
#include "util/process.h"

using cutover::test::CliOptions;
using cutover::test::at;
using cutover::test::CliResult;
using cutover::test::file_exists;
using cutover::test::latest_run;
using cutover::test::read_file;
using cutover::test::run_cutover;
using cutover::test::TempDir;
using cutover::test::write_file;
using nlohmann::json;

namespace {


// A plan of timed steps, a shell step whose captured output needs escaping, then (when
// `failing`) a step that fails and two steps it never reaches.
std::string report_plan(const std::string& dir, bool failing) {
  std::string plan = R"(version: 1
name: report-demo
vars:
  dir: )" + dir + R"(
steps:
  - id: notice
    type: file.write
    with: { path: "${vars.dir}/NOTICE", content: "moved\n" }
  - id: settle
    type: wait
    with: { duration: 700ms }
  - id: escape-me
    type: shell
    with:
      run: "printf '%s' '<b>&\"x\"</b>'"
      undo: "true"
      capture: true
  - id: short-wait
    type: wait
    with: { duration: 300ms }
)";
  if (failing)
    plan += R"(  - id: health
    type: shell
    with:
      run: "echo 'bind() to 0.0.0.0:80 failed (98: Address already in use) <&>' >&2; exit 7"
      undo: "true"
  - id: never-a
    type: file.write
    with: { path: "${vars.dir}/A", content: "a" }
  - id: never-b
    type: wait
    with: { duration: 1s }
)";
  return plan;
}

// Runs python3 with `script` and `args`; returns {exit code, stdout+stderr}.
std::pair<int, std::string> python(const std::string& script, const std::vector<std::string>& args) {
  cutover::util::ProcessSpec spec;
  spec.argv = {"python3", "-c", script};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.deadline = cutover::util::Deadline::after(std::chrono::seconds(60));
  auto r = cutover::util::run_process(spec);
  return {r.spawn_failed ? -1 : r.exit_code, r.out + r.err};
}

bool has_python_module(const std::string& module) {
  return python("import " + module, {}).first == 0;
}

// JSON Schema validation with python3-jsonschema (draft 7).
const char* kValidateJson = R"PY(
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft7Validator.check_schema(schema)
doc = json.load(open(sys.argv[2]))
errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
for e in errors:
    print("/".join(str(p) for p in e.path), e.message)
sys.exit(1 if errors else 0)
)PY";

// The JUnit shape CI servers read (the common subset of the JUnit XSD): well-formed XML,
// testsuites > testsuite > testcase, required attributes present and numeric where they must
// be, and the suite's counts equal to what its test cases hold.
const char* kCheckJunit = R"PY(
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
def need(el, attrs):
    for a in attrs:
        assert a in el.attrib, "%s lacks %s" % (el.tag, a)
assert root.tag == "testsuites", root.tag
suites = root.findall("testsuite")
assert len(suites) == 1, len(suites)
s = suites[0]
need(s, ["name", "tests", "failures", "errors", "time"])
float(s.get("time"))
cases = s.findall("testcase")
assert int(s.get("tests")) == len(cases), (s.get("tests"), len(cases))
assert int(s.get("failures")) == sum(1 for c in cases if c.find("failure") is not None)
assert int(s.get("errors")) == sum(1 for c in cases if c.find("error") is not None)
assert int(s.get("skipped", "0")) == sum(1 for c in cases if c.find("skipped") is not None)
for c in cases:
    need(c, ["classname", "name", "time"])
    float(c.get("time"))
    kids = [k.tag for k in c]
    assert all(k in ("failure", "error", "skipped", "system-out", "system-err") for k in kids), kids
    assert sum(k in ("failure", "error", "skipped") for k in kids) <= 1, kids
    f = c.find("failure")
    if f is not None: need(f, ["message"])
print(s.get("name"), s.get("tests"), s.get("failures"), s.get("errors"), s.get("skipped"))
for c in cases:
    state = "failure" if c.find("failure") is not None else "skipped" if c.find("skipped") is not None else "ok"
    print(c.get("name"), state)
)PY";

std::string schema_path() { return std::string(CUTOVER_SOURCE_DIR) + "/schemas/report.schema.json"; }

CliResult apply(const TempDir& t, bool failing) {
  write_file(t / "plan.yaml", report_plan(t / "app", failing));
  write_file(t / "app/README", "app\n");
  return run_cutover({"apply", t / "plan.yaml", "--state", t / "state", "--report", t / "out/report.json", "--junit",
                      t / "out/junit.xml", "--html", t / "out/report.html"},
                     at(t.path()));
}

}  // namespace

TEST_CASE("report.json of a succeeded and of a rolled-back run validates against its schema", "[reports]") {
  if (!has_python_module("jsonschema")) {
    WARN("python3-jsonschema is not installed (scripts/setup.sh installs it): schema validation skipped");
    return;
  }
  for (bool failing : {false, true}) {
    TempDir t;
    CliResult r = apply(t, failing);
    INFO(r.all());
    REQUIRE(r.exit_code == (failing ? 3 : 0));
    auto [rc, out] = python(kValidateJson, {schema_path(), t / "out/report.json"});
    INFO(out);
    CHECK(rc == 0);
    // The run folder holds the same three reports.
    std::string run_dir = t / ("state/runs/" + latest_run(t / "state"));
    CHECK(read_file(run_dir + "/report.json") == read_file(t / "out/report.json"));
    CHECK(file_exists(run_dir + "/report.junit.xml"));
    CHECK(file_exists(run_dir + "/report.html"));
    json rep = json::parse(read_file(t / "out/report.json"));
    CHECK(rep["format"] == "cutover.report/1");
    CHECK(rep["status"] == (failing ? "rolled_back" : "succeeded"));
    CHECK(rep["steps"][1]["offset"].get<double>() >= 0.0);
    CHECK(rep["steps"][1]["seconds"].get<double>() >= 0.6);
    if (failing) {
      CHECK(rep["steps"].size() == 7);
      // The failed step's partial change is undone too; it keeps its error.
      CHECK((rep["steps"][4]["status"] == "failed" || rep["steps"][4]["status"] == "undone"));
      CHECK(rep["steps"][4]["error"].get<std::string>().find("exit") != std::string::npos);
      CHECK(rep["steps"][4]["hint"].get<std::string>().find("already") != std::string::npos);
      CHECK(rep["steps"][0]["status"] == "undone");
      CHECK(rep["steps"][5]["status"] == "skipped");
      CHECK(rep["steps"][6]["status"] == "skipped");
    }
  }
}

TEST_CASE("the schema rejects a report that breaks it", "[reports]") {
  if (!has_python_module("jsonschema")) {
    WARN("python3-jsonschema is not installed: skipped");
    return;
  }
  TempDir t;
  REQUIRE(apply(t, false).exit_code == 0);
  json rep = json::parse(read_file(t / "out/report.json"));
  rep["steps"][0]["status"] = "exploded";
  rep.erase("run_id");
  write_file(t / "bad.json", rep.dump());
  auto [rc, out] = python(kValidateJson, {schema_path(), t / "bad.json"});
  CHECK(rc == 1);
  CHECK(out.find("exploded") != std::string::npos);
  CHECK(out.find("run_id") != std::string::npos);
}

TEST_CASE("JUnit report: one test case per step with the JUnit shape, failures and skips counted",
          "[reports]") {
  TempDir t;
  CliResult r = apply(t, true);
  INFO(r.all());
  REQUIRE(r.exit_code == 3);
  std::string xml = read_file(t / "out/junit.xml");
  auto [rc, out] = python(kCheckJunit, {t / "out/junit.xml"});
  INFO(xml);
  INFO(out);
  REQUIRE(rc == 0);
  CHECK(out.find("cutover:report-demo 7 1 0 2") == 0);
  CHECK(out.find("health (shell) failure") != std::string::npos);
  CHECK(out.find("never-a (file.write) skipped") != std::string::npos);
  CHECK(out.find("notice (file.write) ok") != std::string::npos);
  // The failure carries the error and the known-errors hint; the undo is system-out.
  CHECK(xml.find("<failure message=\"") != std::string::npos);
  CHECK(xml.find("hint: ") != std::string::npos);
  CHECK(xml.find("<system-out>undo: undone") != std::string::npos);
  // Escaped, never raw.
  CHECK(xml.find("<&>") == std::string::npos);
  CHECK(xml.find("&lt;&amp;&gt;") != std::string::npos);
}

TEST_CASE("HTML report: self-contained, escaped, with a timeline bar per step", "[reports]") {
  TempDir t;
  REQUIRE(apply(t, true).exit_code == 3);
  std::string html = read_file(t / "out/report.html");
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  // No external assets and no scripts.
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("src=") == std::string::npos);
  CHECK(html.find("href=") == std::string::npos);
  CHECK(html.find("@import") == std::string::npos);
  // The captured output and the error are escaped.
  CHECK(html.find("<b>&\"x\"</b>") == std::string::npos);
  CHECK(html.find("&lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;") != std::string::npos);
  CHECK(html.find("&lt;&amp;&gt;") != std::string::npos);
  // Timeline: a bar per reached step, coloured by status, placed by offset and scaled.
  std::regex bar("class=\"bar (\\w+)\" style=\"left:([0-9.]+)%;width:([0-9.]+)%\"");
  std::vector<std::string> statuses;
  double last_left = -1;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), bar); it != std::sregex_iterator(); ++it) {
    statuses.push_back((*it)[1]);
    double left = std::stod((*it)[2]);
    CHECK(left >= last_left);  // steps run in order
    last_left = left;
  }
  CHECK(statuses == std::vector<std::string>{"undone", "succeeded", "undone", "succeeded", "failed"});
  CHECK(html.find("rolled_back") != std::string::npos);
  CHECK(html.find("Next steps") != std::string::npos);
}

TEST_CASE("HTML report renders in headless Chromium with its timeline", "[reports][chromium]") {
  std::string chromium;
  for (const char* c : {"chromium", "chromium-browser", "google-chrome"}) {
    cutover::util::ProcessSpec which;
    which.argv = {"sh", "-c", std::string("command -v ") + c};
    auto r = cutover::util::run_process(which);
    if (r.ok()) {
      chromium = c;
      break;
    }
  }
  if (chromium.empty()) {
    WARN("chromium is not installed (apt-get install chromium): rendering check skipped");
    return;
  }
  TempDir t;
  REQUIRE(apply(t, true).exit_code == 3);
  std::string png = t / "report.png";
  cutover::util::ProcessSpec spec;
  spec.argv = {chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--user-data-dir=" + t / "chromium-profile", "--screenshot=" + png, "--window-size=1200,900",
               "file://" + t / "out/report.html"};
  spec.cwd = t.path();
  spec.deadline = cutover::util::Deadline::after(std::chrono::seconds(120));
  auto r = cutover::util::run_process(spec);
  INFO(r.describe() + "\n" + r.err);
  REQUIRE(file_exists(png));
  struct stat st {};
  REQUIRE(::stat(png.c_str(), &st) == 0);
  CHECK(st.st_size > 10 * 1024);
  // Keep a copy to look at (docs/reports.md shows what it looks like).
  if (const char* keep = std::getenv("CUTOVER_REPORT_PNG")) write_file(keep, read_file(png));
}
