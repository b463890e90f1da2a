// The spine, end to end: the real cutover binary against real files and processes.
// Each test names the behaviour of issue 2 it proves.
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "tests/support/e2e.h"
#include "tests/support/tree_state.h"
#include "util/process.h"
#include "util/fs.h"

using cutover::test::CliOptions;
using cutover::test::CliResult;
using cutover::test::file_exists;
using cutover::test::file_mode;
using cutover::test::read_file;
using cutover::test::run_cutover;
using cutover::test::snapshot_tree;
using cutover::test::TempDir;
using cutover::test::write_file;

namespace {

/// An app folder with a JSON registry, an env file and three nginx-ish site files, each with
/// its own mode, as the 6-step plan of issue 2 edits them.
void seed_app(const std::string& app) {
  write_file(app + "/config/connection_registry.json",
             "{\n  \"primary_backend_url\": \"https://old.example.test\",\n  \"zeta\": 1,\n  \"alpha\": [1, 2]\n}\n",
             0640);
  write_file(app + "/.env", "# database\nDB_HOST=old-db\nDB_PORT=5432\n\n# cache\nREDIS_URL=redis://old:6379\n", 0600);
  for (const char* site : {"a", "b", "c"})
    write_file(app + "/sites/" + site + ".conf",
               std::string("server {\n  server_name old.example.test;\n  root /srv/") + site + ";\n}\n",
               site[0] == 'b' ? 0600 : 0644);
}

/// The 6 steps of issue 2, must-show 1; `failing` adds the check that fails at the end.
std::string six_step_plan(const std::string& app, const std::string& marks, bool failing,
                          bool idempotent_shell = false) {
  std::string plan = R"(version: 1
name: spine
vars:
  app: )" + app + R"(
  marks: )" + marks + R"(
steps:
  - id: registry
    type: config.set
    with:
      path: ${vars.app}/config/connection_registry.json
      set: { primary_backend_url: "https://new.example.test", fallback_url: "https://old.example.test" }
  - id: env
    type: config.set
    with: { path: "${vars.app}/.env", set: { DB_HOST: new-db } }
  - id: rename
    type: file.replace
    with: { paths: ["${vars.app}/sites/*.conf"], find: old.example.test, replace: new.example.test, expect_min: 3 }
  - id: notice
    type: file.write
    with: { path: "${vars.app}/MIGRATED", content: "moved\n", mode: "0600" }
  - id: hook
    type: shell
    with:
      run: "echo applied >> ${vars.marks}/hook.log"
      undo: "echo undone >> ${vars.marks}/hook.log"
)";
  if (idempotent_shell) plan += "      idempotent: true\n";
  if (failing)
    plan += R"(  - id: health
    type: check.file
    with: { path: "${vars.app}/healthy" }
)";
  return plan;
}

std::vector<std::string> events_of(const std::vector<nlohmann::json>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) {
    std::string e = r.value("event", "");
    if (r.contains("step")) e += " " + r.value("step", "");
    out.push_back(e);
  }
  return out;
}

}  // namespace

TEST_CASE("a failing check rolls back every step: bytes, modes, new file gone, shell undo run",
          "[e2e][spine]") {
  TempDir t;
  std::string app = t / "app", marks = t / "marks", state = t / "state";
  seed_app(app);
  write_file(marks + "/.keep", "");
  auto before = snapshot_tree(app);
  write_file(t / "plan.yaml", six_step_plan(app, marks, true));

  CliResult r = run_cutover({"apply", t / "plan.yaml", "--state", state});
  INFO(r.all());
  REQUIRE(r.exit_code == 3);
  CHECK(snapshot_tree(app) == before);  // every byte and mode, and MIGRATED is gone
  CHECK_FALSE(file_exists(app + "/MIGRATED"));
  CHECK(read_file(marks + "/hook.log") == "applied\nundone\n");
  CHECK(r.out.find("check.file") != std::string::npos);
  CHECK(r.out.find("rolled_back") != std::string::npos);

  auto run = cutover::test::latest_run(state);
  auto ev = events_of(cutover::test::journal_records(state, run));
  std::vector<std::string> want = {"journal", "run.start"};
  for (const char* s : {"registry", "env", "rename", "notice", "hook"})
    for (const char* e : {"step.checkpoint ", "step.apply ", "step.done "}) want.push_back(std::string(e) + s);
  want.insert(want.end(), {"step.apply health", "step.fail health", "rollback.start"});
  for (const char* s : {"hook", "notice", "rename", "env", "registry"})
    for (const char* e : {"step.undo ", "step.undone "}) want.push_back(std::string(e) + s);
  want.push_back("run.end");
  CHECK(ev == want);
  auto report = nlohmann::json::parse(read_file(state + "/runs/" + run + "/report.json"));
  CHECK(report["status"] == "rolled_back");
  CHECK(report["steps"].size() == 6);
}

TEST_CASE("SIGKILL at every journal record: status says interrupted, rollback restores, resume completes",
          "[e2e][spine][crash]") {
  // The uninterrupted run gives the final state a resumed run must reach, and the number of
  // records: a crash is injected right after each of them in turn.
  TempDir ref;
  seed_app(ref / "app");
  write_file(ref / "marks/.keep", "");
  write_file(ref / "plan.yaml", six_step_plan(ref / "app", ref / "marks", false, true));
  REQUIRE(run_cutover({"apply", ref / "plan.yaml", "--state", ref / "state"}).exit_code == 0);
  auto applied = snapshot_tree(ref / "app");
  size_t records = cutover::test::journal_records(ref / "state", cutover::test::latest_run(ref / "state")).size();
  REQUIRE(records == 18);  // journal, run.start, 5 × (checkpoint, apply, done), run.end

  for (bool resume : {false, true}) {
    for (size_t k = 2; k < records; ++k) {
      DYNAMIC_SECTION((resume ? "resume" : "rollback") << " after record " << k) {
        TempDir t;
        std::string app = t / "app", state = t / "state";
        seed_app(app);
        write_file(t / "marks/.keep", "");
        auto before = snapshot_tree(app);
        write_file(t / "plan.yaml", six_step_plan(app, t / "marks", false, true));
        CliOptions crash;
        crash.env["CUTOVER_TEST_CRASH_AT_RECORD"] = std::to_string(k);
        CliResult r = run_cutover({"apply", t / "plan.yaml", "--state", state}, crash);
        REQUIRE(r.signal == SIGKILL);

        CliResult st = run_cutover({"status", "--state", state});
        CHECK(st.exit_code == 4);
        CHECK(st.out.find("is interrupted") != std::string::npos);
        // A second apply refuses and names the way out.
        CliResult again = run_cutover({"apply", t / "plan.yaml", "--state", state});
        CHECK(again.exit_code == 1);
        CHECK(again.err.find("cutover resume") != std::string::npos);

        if (resume) {
          CliResult res = run_cutover({"resume", "--state", state});
          INFO(res.all());
          REQUIRE(res.exit_code == 0);
          CHECK(snapshot_tree(app) == applied);
        } else {
          CliResult rb = run_cutover({"rollback", "--state", state});
          INFO(rb.all());
          REQUIRE(rb.exit_code == 0);
          CHECK(snapshot_tree(app) == before);
        }
        CHECK(run_cutover({"status", "--state", state}).exit_code == 0);
      }
    }
  }
}

TEST_CASE("SIGKILL inside a long shell step, then rollback, restores the files and runs the undo",
          "[e2e][spine][crash]") {
  TempDir t;
  std::string app = t / "app", state = t / "state";
  seed_app(app);
  auto before = snapshot_tree(app);
  write_file(t / "plan.yaml", R"(version: 1
name: long
steps:
  - id: env
    type: config.set
    with: { path: ")" + app + R"(/.env", set: { DB_HOST: new-db } }
  - id: slow
    type: shell
    with: { run: "touch )" + t.path() + R"(/started; sleep 60", undo: "touch )" + t.path() + R"(/undone" }
)");
  int pid = cutover::test::spawn_cutover({"apply", t / "plan.yaml", "--state", state}, {}, t / "out.txt");
  REQUIRE(cutover::test::wait_until([&] { return file_exists(t / "started"); }, 30000));
  kill(pid, SIGKILL);
  CHECK(cutover::test::wait_pid(pid) == 128 + SIGKILL);
  CHECK(snapshot_tree(app) != before);

  // The shell step cannot be applied again safely: resume refuses and names rollback.
  CliResult res = run_cutover({"resume", "--state", state});
  CHECK(res.exit_code == 1);
  CHECK(res.err.find("cutover rollback") != std::string::npos);

  CliResult rb = run_cutover({"rollback", "--state", state});
  INFO(rb.all());
  REQUIRE(rb.exit_code == 0);
  CHECK(snapshot_tree(app) == before);
  CHECK(file_exists(t / "undone"));
}

TEST_CASE("a torn last journal line is ignored with a warning, a damaged middle line stops rollback",
          "[e2e][spine][crash]") {
  for (bool torn : {true, false}) {
    DYNAMIC_SECTION((torn ? "torn tail" : "damaged middle")) {
      TempDir t;
      std::string app = t / "app", state = t / "state";
      seed_app(app);
      write_file(t / "marks/.keep", "");
      auto before = snapshot_tree(app);
      write_file(t / "plan.yaml", six_step_plan(app, t / "marks", false));
      CliOptions crash;
      crash.env["CUTOVER_TEST_CRASH_AT_RECORD"] = "11";  // inside step 4
      REQUIRE(run_cutover({"apply", t / "plan.yaml", "--state", state}, crash).signal == SIGKILL);
      auto mid = snapshot_tree(app);
      std::string journal = state + "/runs/" + cutover::test::latest_run(state) + "/journal.jsonl";
      std::string text = read_file(journal);
      if (torn) {
        text += "1234abcd {\"seq\":12,\"event\":\"step.ap";  // a write cut short by the crash
      } else {
        size_t third = text.find('\n', text.find('\n', text.find('\n') + 1) + 1);
        text[third - 5] = text[third - 5] == 'x' ? 'y' : 'x';  // inside record 3
      }
      write_file(journal, text, 0600);

      CliResult rb = run_cutover({"rollback", "--state", state});
      INFO(rb.all());
      if (torn) {
        CHECK(rb.exit_code == 0);
        CHECK(rb.all().find("torn") != std::string::npos);
        CHECK(snapshot_tree(app) == before);
      } else {
        CHECK(rb.exit_code == 4);
        CHECK(rb.err.find("damaged record") != std::string::npos);
        CHECK(rb.err.find("journal.jsonl:3") != std::string::npos);
        CHECK(snapshot_tree(app) == mid);  // nothing undone blindly
      }
    }
  }
}

TEST_CASE("two applies of one plan at once: one runs, the other exits 5 naming the holder",
          "[e2e][spine][lock]") {
  TempDir t;
  write_file(t / "plan.yaml", R"(version: 1
name: locked
steps:
  - id: pause
    type: wait
    with: { duration: 3s }
)");
  std::string state = t / "state";
  int first = cutover::test::spawn_cutover({"apply", t / "plan.yaml", "--state", state}, {}, t / "first.txt");
  REQUIRE(cutover::test::wait_until([&] {
    return file_exists(state + "/runs") && !cutover::test::latest_run(state).empty();
  }));
  std::string holder = cutover::test::latest_run(state);
  CliResult second = run_cutover({"apply", t / "plan.yaml", "--state", state});
  CHECK(second.exit_code == 5);
  CHECK(second.err.find("locked by run " + holder) != std::string::npos);
  CHECK(second.err.find("pid " + std::to_string(first)) != std::string::npos);
  CHECK(cutover::test::wait_pid(first) == 0);
  // Once the holder is gone, the next apply runs.
  CHECK(run_cutover({"apply", t / "plan.yaml", "--state", state}).exit_code == 0);
}

TEST_CASE("a secret used in a shell command and a config value appears in no output or state file",
          "[e2e][spine][secrets]") {
  TempDir t;
  const std::string secret = "s3cr3t-Tok3n-9f8e7d";
  std::string app = t / "app", state = t / "state";
  seed_app(app);
  write_file(t / "plan.yaml", R"(version: 1
name: secrets
secrets:
  token: { env: CUTOVER_TEST_TOKEN }
steps:
  - id: use-it
    type: shell
    with:
      run: "echo token=${secrets.token} > )" + t.path() + R"(/seen.txt; echo the token is ${secrets.token}; echo ${secrets.token} >&2"
      undo: "rm -f )" + t.path() + R"(/seen.txt"
      capture: true
  - id: store-it
    type: config.set
    with: { path: ")" + app + R"(/config/connection_registry.json", set: { api_token: "${secrets.token}" } }
)");
  for (const char* output : {"human", "json"}) {
    // A fresh app each time: a second apply would checkpoint the registry's prior bytes,
    // which hold the secret the first one wrote (checkpoints keep exact bytes; see
    // docs/state-and-recovery.md).
    cutover::util::remove_all(app);
    seed_app(app);
    CliOptions env;
    env.env["CUTOVER_TEST_TOKEN"] = secret;
    CliResult r = run_cutover({"apply", t / "plan.yaml", "--state", state, "--output", output}, env);
    INFO(r.all());
    REQUIRE(r.exit_code == 0);
    CHECK(r.all().find(secret) == std::string::npos);
    CliResult show = run_cutover({"show", cutover::test::latest_run(state), "--state", state, "--output", output});
    CHECK(show.all().find(secret) == std::string::npos);
    CHECK(show.all().find("***") != std::string::npos);  // the captured stdout, masked
  }
  // The secret did reach the command and the config file...
  CHECK(read_file(t / "seen.txt") == "token=" + secret + "\n");
  CHECK(read_file(app + "/config/connection_registry.json").find(secret) != std::string::npos);
  // ...and nowhere under the state folder.
  CHECK(cutover::test::all_bytes_under(state).find(secret) == std::string::npos);
}

TEST_CASE("SIGINT during a long step rolls back and exits 130", "[e2e][spine][signal]") {
  TempDir t;
  std::string app = t / "app", state = t / "state";
  seed_app(app);
  auto before = snapshot_tree(app);
  write_file(t / "plan.yaml", R"(version: 1
name: interrupt
steps:
  - id: notice
    type: file.write
    with: { path: ")" + app + R"(/MIGRATED", content: "moving\n" }
  - id: env
    type: config.set
    with: { path: ")" + app + R"(/.env", set: { DB_HOST: new-db } }
  - id: slow
    type: shell
    with: { run: "touch )" + t.path() + R"(/started; sleep 60", undo: "true" }
)");
  int pid = cutover::test::spawn_cutover({"apply", t / "plan.yaml", "--state", state}, {}, t / "out.txt");
  REQUIRE(cutover::test::wait_until([&] { return file_exists(t / "started"); }, 30000));
  auto t0 = std::chrono::steady_clock::now();
  kill(pid, SIGINT);
  int code = cutover::test::wait_pid(pid);
  INFO(read_file(t / "out.txt"));
  CHECK(code == 130);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(15));
  CHECK(snapshot_tree(app) == before);
  CHECK(read_file(t / "out.txt").find("rolled_back") != std::string::npos);
}

TEST_CASE("an undo that cannot restore a file exits 4 and names the file", "[e2e][spine][undo]") {
  TempDir t;
  std::string app = t / "app", state = t / "state";
  seed_app(app);
  std::string target = app + "/config/connection_registry.json";
  write_file(t / "plan.yaml", R"(version: 1
name: blocked
steps:
  - id: registry
    type: config.set
    with: { path: ")" + target + R"(", set: { primary_backend_url: "https://new.example.test" } }
  - id: clobber
    type: shell
    rollback: none
    with: { run: "rm )" + target + R"( && mkdir )" + target + R"( && echo x > )" + target + R"(/inside" }
  - id: health
    type: check.file
    with: { path: ")" + app + R"(/healthy" }
)");
  CliResult r = run_cutover({"apply", t / "plan.yaml", "--state", state});
  INFO(r.all());
  CHECK(r.exit_code == 4);
  CHECK(r.all().find(target) != std::string::npos);
  CHECK(r.all().find("rollback incomplete") != std::string::npos);
  CHECK(read_file(target + "/inside") == "x\n");  // the directory was not deleted blindly
  CHECK(run_cutover({"status", "--state", state}).out.find("rollback_incomplete") != std::string::npos);
}

TEST_CASE("apply --rehearse applies, rolls back with verified fingerprints, applies again",
          "[e2e][spine][rehearse]") {
  TempDir ref, t;
  for (auto* d : {&ref, &t}) {
    seed_app(*d / "app");
    write_file(*d / "marks/.keep", "");
    write_file(*d / "plan.yaml", six_step_plan(*d / "app", *d / "marks", false));
  }
  REQUIRE(run_cutover({"apply", ref / "plan.yaml", "--state", ref / "state"}).exit_code == 0);
  CliResult r = run_cutover({"apply", t / "plan.yaml", "--state", t / "state", "--rehearse"});
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("rehearsal verified") != std::string::npos);
  CHECK(snapshot_tree(t / "app") == snapshot_tree(ref / "app"));
  CHECK(read_file(t / "marks/hook.log") == "applied\nundone\napplied\n");
  auto report = nlohmann::json::parse(read_file(t / "state/runs/" + cutover::test::latest_run(t / "state") + "/report.json"));
  CHECK(report["rehearsed"] == true);
  CHECK(report["status"] == "succeeded");
}

TEST_CASE("as a non-root user, a failing check rolls back every step: bytes, modes and owners, root's files too",
          "[e2e][spine][nonroot]") {
  // A deploy user runs cutover on files it owns: no chown beyond its own, no root. The test
  // needs root only to become that user (runuser) and hand it the folder.
  const struct passwd* pw = ::getpwnam("nobody");
  if (::geteuid() != 0 || !pw) {
    WARN("skipped: needs root and the user nobody to run cutover as another user");
    return;
  }
  TempDir t;
  std::string app = t / "app", marks = t / "marks", state = t / "state";
  seed_app(app);
  write_file(marks + "/.keep", "");
  write_file(t / "plan.yaml", six_step_plan(app, marks, true));
  // The user may not reach the build folder (a clone under `mktemp -d` is 0700): it runs a
  // copy of the binary from the folder it is handed.
  const std::string bin = t / "cutover";
  std::filesystem::copy_file(CUTOVER_BIN, bin);
  std::filesystem::permissions(bin, std::filesystem::perms(0755));
  cutover::util::ProcessSpec chown;
  chown.argv = {"chown", "-R", std::to_string(pw->pw_uid) + ":" + std::to_string(pw->pw_gid), t.path()};
  REQUIRE(cutover::util::run_process(chown).ok());
  // One file stays root's, writable by the user's group: a new file renamed over it would
  // be the user's, and nobody but root could give it back. cutover rewrites it in place.
  const std::string shared = app + "/config/connection_registry.json";
  REQUIRE(::chown(shared.c_str(), 0, pw->pw_gid) == 0);
  REQUIRE(::chmod(shared.c_str(), 0664) == 0);
  auto before = cutover::test::tree_state(app);
  REQUIRE(before.at(".env").uid == pw->pw_uid);
  REQUIRE(before.at("config/connection_registry.json").uid == 0);

  cutover::util::ProcessSpec apply;
  apply.argv = {"runuser", "-u", "nobody", "--", bin, "apply", t / "plan.yaml", "--state", state};
  apply.cwd = t.path();
  apply.env = {{"NO_COLOR", "1"}, {"HOME", t.path()}};
  apply.deadline = cutover::util::Deadline::after(std::chrono::seconds(120));
  auto r = cutover::util::run_process(apply);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 3);
  auto after = cutover::test::tree_state(app);
  INFO(cutover::test::tree_diff(before, after));
  CHECK(after == before);  // bytes, modes, owner and group of every file; MIGRATED gone
  CHECK(read_file(marks + "/hook.log") == "applied\nundone\n");
  CHECK(r.out.find("verified") != std::string::npos);

  // With the check passing, the change stays, and root's file is still root's.
  write_file(app + "/healthy", "");
  REQUIRE(::chown((app + "/healthy").c_str(), pw->pw_uid, pw->pw_gid) == 0);
  r = cutover::util::run_process(apply);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(read_file(shared).find("https://new.example.test") != std::string::npos);
  struct stat sh {};
  REQUIRE(::stat(shared.c_str(), &sh) == 0);
  CHECK(sh.st_uid == 0);
  CHECK((sh.st_mode & 07777) == 0664);
  struct stat st {};
  REQUIRE(::stat(state.c_str(), &st) == 0);
  CHECK(st.st_uid == pw->pw_uid);  // the state belongs to the user who ran it
}
