// files.snapshot + files.restore through the real `cutover` binary: the dry run says what a
// restore would remove and create; a failing check after a clean restore rolls the folder
// back exactly (exit 3); `--rehearse` proves the undo (fingerprints match) and applies again;
// rolling back the release afterwards takes a safety snapshot and puts the folder back.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "tests/support/e2e.h"
#include "tests/support/tree_state.h"
#include "util/fs.h"

namespace t = cutover::test;

namespace {

void make_release(const std::string& d) {
  t::write_file(d + "/index.html", "<h1>release 2</h1>\n", 0644);
  t::write_file(d + "/static/app.js", std::string(200000, 'j'), 0644);
  t::write_file(d + "/config/db.ini", "[db]\nhost=10.0.0.5\n", 0640);
  if (::geteuid() == 0) ::lchown((d + "/config/db.ini").c_str(), 1234, 2345);
  cutover::util::make_dirs(d + "/uploads", 0770);
  ::chmod((d + "/uploads").c_str(), 0770);
  ::symlink("static/app.js", (d + "/app.js").c_str());
}

// The live folder as the operator left it: older content, a stray file, a missing one.
void make_live(const std::string& d) {
  t::write_file(d + "/index.html", "<h1>release 1</h1>\n", 0644);
  t::write_file(d + "/config/db.ini", "[db]\nhost=10.0.0.4\n", 0600);
  t::write_file(d + "/config/local-override.ini", "[db]\npool=3\n", 0600);
  t::write_file(d + "/uploads/user-42.png", "png", 0640);
  if (::geteuid() == 0) ::lchown((d + "/uploads/user-42.png").c_str(), 33, 33);
}

std::string plan_text(const std::string& release, const std::string& live,
                      const std::string& must_exist) {
  return "version: 1\n"
         "name: files-e2e\n"
         "steps:\n"
         "  - id: snap\n"
         "    type: files.snapshot\n"
         "    with: { paths: [" +
         release +
         "], exclude: ['*.swp'] }\n"
         "  - id: deploy\n"
         "    type: files.restore\n"
         "    with: { artifact: \"${steps.snap.outputs.artifact}\", dest: " +
         live +
         ", clean: true }\n"
         "  - id: health\n"
         "    type: check.file\n"
         "    with: { path: " +
         must_exist + ", exists: true }\n";
}

}  // namespace

TEST_CASE("files.restore e2e: a failing check rolls a clean restore back exactly, exit 3",
          "[e2e][snapshot-steps]") {
  t::TempDir tmp;
  const std::string release = tmp / "release", live = tmp / "live";
  make_release(release);
  t::write_file(release + "/.index.html.swp", "editor junk", 0600);
  make_live(live);
  const auto before = t::tree_state(live);
  const std::string plan = tmp / "plan.yaml", state = tmp / "state";

  t::write_file(plan, plan_text(release, live, live + "/healthy"));
  auto dry = t::run_cutover({"plan", plan, "--state", state});
  INFO(dry.all());
  CHECK(dry.exit_code == 0);
  CHECK_THAT(dry.out, Catch::Contains("snapshot " + release));
  CHECK_THAT(dry.out, Catch::Contains("restore a snapshot (known after apply) into " + live));
  CHECK(t::tree_state(live) == before);

  auto r = t::run_cutover({"apply", plan, "--state", state, "--auto-approve"});
  INFO(r.all());
  CHECK(r.exit_code == 3);
  INFO(t::tree_diff(before, t::tree_state(live)));
  CHECK(t::tree_state(live) == before);  // stray file kept, new files gone, owners back
  auto records = t::journal_records(state, t::latest_run(state));
  bool undone = false;
  for (const auto& rec : records)
    if (rec.value("event", "") == "step.undone" && rec.value("step", "") == "deploy") undone = true;
  CHECK(undone);
}

TEST_CASE(
    "files.restore e2e: --rehearse verifies the undo, and rolling back the release restores the "
    "folder",
    "[e2e][snapshot-steps]") {
  t::TempDir tmp;
  const std::string release = tmp / "release", live = tmp / "live";
  make_release(release);
  make_live(live);
  const auto before = t::tree_state(live);
  auto wanted = t::tree_state(release);
  const std::string plan = tmp / "plan.yaml", state = tmp / "state";
  t::write_file(plan, plan_text(release, live, live + "/index.html"));

  auto r = t::run_cutover({"apply", plan, "--state", state, "--auto-approve", "--rehearse"});
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  INFO(t::tree_diff(wanted, t::tree_state(live)));
  CHECK(t::tree_state(live) == wanted);

  // Someone uploads a file after the release; rolling back discards it, so a safety
  // snapshot is taken first and named.
  t::write_file(live + "/uploads/late.png", "late", 0644);
  auto back = t::run_cutover({"rollback", "--state", state, "--auto-approve"});
  INFO(back.all());
  CHECK(back.exit_code == 0);
  CHECK_THAT(back.all(), Catch::Contains("safety snapshot"));
  INFO(t::tree_diff(before, t::tree_state(live)));
  CHECK(t::tree_state(live) == before);
}
