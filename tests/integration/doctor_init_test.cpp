// doctor and init (SPEC §2, §7; issue 6), and the terminal output of apply: the real binary,
// in a real terminal (tmux) where it matters.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "tests/support/e2e.h"
#include "tests/support/http_server.h"
#include "tests/support/pg_cluster.h"
#include "util/process.h"

using cutover::test::CliOptions;
using cutover::test::at;
using cutover::test::CliResult;
using cutover::test::file_exists;
using cutover::test::read_file;
using cutover::test::run_cutover;
using cutover::test::TempDir;
using cutover::test::wait_until;
using cutover::test::write_file;
using cutover::testing::PgCluster;
using nlohmann::json;

namespace {


PgCluster& cluster() { return PgCluster::shared(); }


// The doctor's rows by check name.
std::map<std::string, json> rows_of(const std::string& out) {
  std::map<std::string, json> m;
  for (const auto& r : json::parse(out)) m[r.value("check", "")] = r;
  return m;
}

bool has_tmux() {
  cutover::util::ProcessSpec s;
  s.argv = {"sh", "-c", "command -v tmux"};
  return cutover::util::run_process(s).ok();
}

// A tmux server of our own (its own socket), so tests never touch anyone else's sessions.
class Tmux {
 public:
  explicit Tmux(const std::string& dir) : sock_(dir + "/tmux.sock") {}
  ~Tmux() { run({"kill-server"}); }
  cutover::util::ProcessResult run(std::vector<std::string> args) const {
    cutover::util::ProcessSpec s;
    s.argv = {"tmux", "-S", sock_};
    s.argv.insert(s.argv.end(), args.begin(), args.end());
    s.env_remove = {"TMUX", "NO_COLOR"};
    s.deadline = cutover::util::Deadline::after(std::chrono::seconds(20));
    return cutover::util::run_process(s);
  }
  /// Starts `command` (a shell line) in a 120x30 terminal.
  void start(const std::string& command) const {
    auto r = run({"new-session", "-d", "-s", "t", "-x", "120", "-y", "30", command});
    REQUIRE(r.ok());
  }
  std::string pane() const { return run({"capture-pane", "-p", "-t", "t"}).out; }
  void keys(const std::string& text) const { run({"send-keys", "-t", "t", "-l", text}); }
  void enter() const { run({"send-keys", "-t", "t", "Enter"}); }
  bool wait_for(const std::string& text, int ms = 60000) const {
    return wait_until([&] { return pane().find(text) != std::string::npos; }, ms);
  }

 private:
  std::string sock_;
};

std::string sh_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

TEST_CASE("doctor: an unreachable database and a missing tool are failures with hints, exit 1",
          "[doctor]") {
  TempDir t;
  int port = cutover::testing::free_port();  // nothing listens on it
  write_file(t / "plan.yaml", R"(version: 1
name: doctor-demo
secrets:
  pw: { env: DOCTOR_PW }
steps:
  - id: tool
    type: check.command
    with: { command: cutover-no-such-tool-xyz }
  - id: backup
    type: pg.dump
    with: { dsn: "postgresql://app@127.0.0.1:)" + std::to_string(port) + R"(/app", password: "${secrets.pw}" }
)");
  CliOptions env = at(t.path(), {{"DOCTOR_PW", "hunter2-doctor"}});
  CliResult r = run_cutover({"doctor", "plan.yaml", "--output", "json"}, env);
  INFO(r.all());
  CHECK(r.exit_code == 1);
  auto rows = rows_of(r.out);
  REQUIRE(rows.count("tool cutover-no-such-tool-xyz"));
  CHECK(rows["tool cutover-no-such-tool-xyz"]["status"] == "fail");
  CHECK(!rows["tool cutover-no-such-tool-xyz"]["hint"].get<std::string>().empty());
  std::string db = "database app@127.0.0.1:" + std::to_string(port) + "/app";
  REQUIRE(rows.count(db));
  CHECK(rows[db]["status"] == "fail");
  CHECK(rows[db]["detail"].get<std::string>().find("refused") != std::string::npos);
  CHECK(rows[db]["hint"].get<std::string>().find("listen") != std::string::npos);
  CHECK(rows["tool pg_dump"]["status"] == "ok");
  CHECK(rows["state folder"]["status"] == "ok");
  CHECK(r.all().find("hunter2-doctor") == std::string::npos);

  // The human table: check, status, detail, and the hint under it.
  CliResult h = run_cutover({"doctor", "plan.yaml"}, env);
  CHECK(h.exit_code == 1);
  CHECK(h.out.find("CHECK") == 0);
  CHECK(h.out.find("tool cutover-no-such-tool-xyz") != std::string::npos);
  CHECK(h.out.find("hint: ") != std::string::npos);
  CHECK(h.out.find("2 failed") != std::string::npos);
}

TEST_CASE("doctor: files.* steps need GNU tar and GNU find, and a BSD tar fails with the hint",
          "[doctor]") {
  TempDir t;
  ::mkdir((t / "site").c_str(), 0755);
  write_file(t / "site/index.html", "hello");
  write_file(t / "plan.yaml", R"(version: 1
name: doctor-tree
steps:
  - id: snap
    type: files.snapshot
    with: { paths: [site] }
)");
  // This machine has GNU tar and find: the row names their versions.
  CliResult ok = run_cutover({"doctor", "plan.yaml", "--output", "json"}, at(t.path()));
  INFO(ok.all());
  auto rows = rows_of(ok.out);
  REQUIRE(rows.count("tools for files.* on local"));
  CHECK(rows["tools for files.* on local"]["status"] == "ok");
  CHECK(rows["tools for files.* on local"]["detail"].get<std::string>().find("GNU tar") != std::string::npos);
  CHECK(rows["tools for files.* on local"]["detail"].get<std::string>().find("GNU findutils") != std::string::npos);

  // A tar that is not GNU tar first in PATH (what a busybox or BSD system has): the row fails
  // before any run, with the install hint, and doctor exits 1. Nothing was archived.
  ::mkdir((t / "bin").c_str(), 0755);
  write_file(t / "bin/tar", "#!/bin/sh\necho 'bsdtar 3.6.2 - libarchive 3.6.2'\n");
  ::chmod((t / "bin/tar").c_str(), 0755);
  const char* path = std::getenv("PATH");
  CliResult bad = run_cutover({"doctor", "plan.yaml", "--output", "json"},
                              at(t.path(), {{"PATH", t / "bin" + ":" + (path ? path : "/usr/bin:/bin")}}));
  INFO(bad.all());
  CHECK(bad.exit_code == 1);
  rows = rows_of(bad.out);
  REQUIRE(rows.count("tools for files.* on local"));
  CHECK(rows["tools for files.* on local"]["status"] == "fail");
  CHECK(rows["tools for files.* on local"]["detail"].get<std::string>().find("GNU tar is needed on local (found: 'bsdtar 3.6.2") !=
        std::string::npos);
  CHECK(rows["tools for files.* on local"]["hint"].get<std::string>().find("apt-get install tar findutils") !=
        std::string::npos);
  CHECK_FALSE(file_exists(t / ".cutover"));
}

TEST_CASE("doctor: a host nobody answers on is unreachable, with the hint", "[doctor]") {
  TempDir t;
  int port = cutover::testing::free_port();  // nothing listens on it
  write_file(t / "plan.yaml", R"(version: 1
name: doctor-hosts
hosts:
  new: { address: 127.0.0.1, port: )" + std::to_string(port) + R"(, user: deploy, agent: true }
  spare: { address: 127.0.0.1, port: 1, user: deploy, agent: true }
steps:
  - id: marker
    type: check.file
    on: new
    with: { path: /etc/hostname }
)");
  CliResult r = run_cutover({"doctor", "plan.yaml", "--output", "json"}, at(t.path()));
  INFO(r.all());
  CHECK(r.exit_code == 1);
  auto rows = rows_of(r.out);
  REQUIRE(rows.count("host new: reachable"));
  CHECK(rows["host new: reachable"]["status"] == "fail");
  CHECK(rows["host new: reachable"]["detail"].get<std::string>().find("refused") != std::string::npos);
  CHECK(!rows["host new: reachable"]["hint"].get<std::string>().empty());
  CHECK(rows.count("host new: auth") == 0);               // not reached
  CHECK(rows["host spare"]["status"] == "ok");             // no step uses it: not contacted
}

TEST_CASE("doctor without a plan: tools, state folder, lock, runs, a run needing attention fails",
          "[doctor]") {
  TempDir t;
  CliResult r = run_cutover({"doctor", "--output", "json"}, at(t.path()));
  INFO(r.all());
  CHECK(r.exit_code == 0);
  auto rows = rows_of(r.out);
  for (const char* c : {"tool pg_dump", "tool git", "state folder", "lock", "runs"}) CHECK(rows.count(c) == 1);

  // An interrupted run (killed after its second journal record) needs attention.
  write_file(t / "plan.yaml", "version: 1\nname: crashy\nsteps:\n  - id: a\n    type: file.write\n"
                              "    with: { path: " + t / "a.txt" + ", content: x }\n");
  CliResult crash = run_cutover({"apply", "plan.yaml"}, at(t.path(), {{"CUTOVER_TEST_CRASH_AT_RECORD", "2"}}));
  REQUIRE(crash.signal == 9);
  r = run_cutover({"doctor", "--output", "json"}, at(t.path()));
  CHECK(r.exit_code == 1);
  bool found = false;
  for (const auto& [name, row] : rows_of(r.out))
    if (name.rfind("run ", 0) == 0) {
      found = true;
      CHECK(row["status"] == "fail");
      CHECK(row["hint"].get<std::string>().find("cutover rollback") != std::string::npos);
    }
  CHECK(found);

  // A state folder others can read is a warning with the chmod to run.
  ::chmod((t / ".cutover").c_str(), 0755);
  r = run_cutover({"doctor", "--output", "json"}, at(t.path()));
  auto rows2 = rows_of(r.out);
  CHECK(rows2["state folder"]["status"] == "warn");
  CHECK(rows2["state folder"]["hint"].get<std::string>().find("chmod 700") != std::string::npos);
}

TEST_CASE("doctor: a reachable database, tool versions against the server, disk for the dump",
          "[doctor][pg]") {
  cluster().seed("doctor_ok", 1000);
  TempDir t;
  write_file(t / "plan.yaml", R"(version: 1
name: doctor-ok
secrets:
  pw: { env: DOCTOR_PW }
steps:
  - id: backup
    type: pg.dump
    with: { dsn: ")" + cluster().dsn("doctor_ok") + R"(", password: "${secrets.pw}" }
)");
  CliResult r = run_cutover({"doctor", "plan.yaml", "--output", "json"}, at(t.path(), {{"DOCTOR_PW", PgCluster::kPassword}}));
  INFO(r.all());
  CHECK(r.exit_code == 0);
  auto rows = rows_of(r.out);
  std::string db = "database app@127.0.0.1:" + std::to_string(cluster().port()) + "/doctor_ok";
  REQUIRE(rows.count(db));
  CHECK(rows[db]["status"] == "ok");
  CHECK(rows[db]["detail"].get<std::string>().find("PostgreSQL 15") == 0);
  CHECK(rows["tool pg_dump vs app@127.0.0.1:" + std::to_string(cluster().port()) + "/doctor_ok"]["status"] == "ok");
  CHECK(rows["disk space"]["detail"].get<std::string>().find("dumps need") != std::string::npos);
  CHECK(r.all().find(PgCluster::kPassword) == std::string::npos);
}

TEST_CASE("init without a terminal writes a plan that validates, once, and ignores .cutover/", "[init]") {
  for (const char* tmpl : {"server-move", "domain-rename", "full-sync", "release"}) {
    TempDir t;
    write_file(t / "proj/.gitignore", "build/");  // no trailing newline
    CliResult r = run_cutover({"init", "--template", tmpl, "proj"}, at(t.path()));
    INFO(tmpl << "\n" << r.all());
    REQUIRE(r.exit_code == 0);
    std::string plan = read_file(t / "proj/plan.yaml");
    CHECK(plan.find("{{") == std::string::npos);
    CHECK(plan.find("name: " + std::string(tmpl)) != std::string::npos);
    CliResult v = run_cutover({"validate", "proj/plan.yaml"}, at(t.path()));
    INFO(v.all());
    CHECK(v.exit_code == 0);
    CHECK(read_file(t / "proj/.gitignore") ==
          "build/\n# cutover's state folder: journals, dumps, locks (cutover init)\n.cutover/\n");
    // Never overwrites, and the .gitignore line is added only once.
    CliResult again = run_cutover({"init", "--template", tmpl, "proj"}, at(t.path()));
    CHECK(again.exit_code == 1);
    CHECK(again.err.find("already exists") != std::string::npos);
    std::remove((t / "proj/plan.yaml").c_str());
    REQUIRE(run_cutover({"init", "proj"}, at(t.path())).exit_code == 0);
    std::string gi = read_file(t / "proj/.gitignore");
    CHECK(gi.find(".cutover/") == gi.rfind(".cutover/"));
  }
  TempDir t;
  CliResult bad = run_cutover({"init", "--template", "server-mvoe"}, at(t.path()));
  CHECK(bad.exit_code == 1);
  CHECK(!file_exists(t / "plan.yaml"));
}

TEST_CASE("init in a terminal asks numbered questions, the answers make a plan that validates",
          "[init][tty]") {
  if (!has_tmux()) {
    WARN("tmux is not installed: skipped");
    return;
  }
  TempDir t;
  Tmux tmux(t.path());
  tmux.start("cd " + sh_quote(t.path()) + " && " + sh_quote(CUTOVER_BIN) +
             " init --template full-sync site; echo EXIT=$?; sleep 600");
  REQUIRE(tmux.wait_for("1) Plan name [full-sync]:", 30000));
  tmux.keys("Bad Name");
  tmux.enter();
  REQUIRE(tmux.wait_for("a plan name is lower case"));
  tmux.keys("nightly-sync");
  tmux.enter();
  REQUIRE(tmux.wait_for("2) Source database DSN [postgresql://app@10.0.0.1:5432/app]:"));
  tmux.keys("postgresql://sync@db1.example.test:5433/erp");
  tmux.enter();
  REQUIRE(tmux.wait_for("3) Target database DSN"));
  tmux.enter();  // default
  REQUIRE(tmux.wait_for("4) SQL whose result"));
  tmux.enter();
  REQUIRE(tmux.wait_for("EXIT=0"));
  std::string plan = read_file(t / "site/plan.yaml");
  CHECK(plan.find("name: nightly-sync") != std::string::npos);
  CHECK(plan.find("src_dsn: \"postgresql://sync@db1.example.test:5433/erp\"") != std::string::npos);
  CHECK(plan.find("dst_dsn: \"postgresql://app@10.0.0.2:5432/app\"") != std::string::npos);
  CliResult v = run_cutover({"validate", "site/plan.yaml"}, at(t.path()));
  INFO(tmux.pane() << "\n" << v.all());
  CHECK(v.exit_code == 0);
}

TEST_CASE("apply in a terminal: step lines with ticks, a live progress bar, the final status",
          "[tty][pg]") {
  if (!has_tmux()) {
    WARN("tmux is not installed: skipped");
    return;
  }
  cluster().seed("tty_src", 300000);
  TempDir t;
  write_file(t / "plan.yaml", R"(version: 1
name: tty-demo
secrets:
  pw: { env: TTY_PW }
steps:
  - id: source-up
    type: check.pg
    with: { dsn: ")" + cluster().dsn("tty_src") + R"(", password: "${secrets.pw}" }
  - id: backup-db
    type: pg.dump
    with: { dsn: ")" + cluster().dsn("tty_src") + R"(", password: "${secrets.pw}" }
  - id: notice
    type: file.write
    with: { path: ")" + t / "NOTICE" + R"(", content: "moved\n" }
)");
  Tmux tmux(t.path());
  // pipe-pane records every byte written to the terminal, including the bar that \r redraws.
  tmux.start("sleep 1; cd " + sh_quote(t.path()) + " && TTY_PW=" + sh_quote(PgCluster::kPassword) + " " +
             sh_quote(CUTOVER_BIN) + " apply plan.yaml --state " + sh_quote(t / "state") + "; echo EXIT=$?; sleep 600");
  tmux.run({"pipe-pane", "-t", "t", "-o", "cat >> " + sh_quote(t / "raw.txt")});
  REQUIRE(tmux.wait_for("EXIT=", 180000));
  std::string pane = tmux.pane();
  INFO(pane);
  CHECK(pane.find("EXIT=0") != std::string::npos);
  CHECK(pane.find("✓ source-up (check.pg)") != std::string::npos);
  CHECK(pane.find("✓ backup-db (pg.dump)") != std::string::npos);
  CHECK(pane.find("✓ notice (file.write)") != std::string::npos);
  CHECK(pane.find("succeeded in ") != std::string::npos);
  CHECK(pane.find("release r1") != std::string::npos);
  // The live bar was drawn (and then cleared: it is not in the final screen).
  std::string raw = read_file(t / "raw.txt");
  CHECK(raw.find("backup-db: ") != std::string::npos);
  CHECK(raw.find("%)") != std::string::npos);
  CHECK(raw.find("[#") != std::string::npos);
  CHECK(raw.find("\033[32m") != std::string::npos);  // colours on a terminal
  CHECK(raw.find(PgCluster::kPassword) == std::string::npos);
}
