// The pg step family against a real PostgreSQL 15 cluster (tests/support/pg_cluster.h):
// dump/restore round trips, exact undo of restores, merge idempotence, pg.sql up/verify/down
// rollback, artifact corruption, and the password staying out of argv and output.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "checkpoints/artifact_store.h"
#include "steps/pg_conn.h"
#include "steps/pg_tools.h"
#include "steps/registry.h"
#include "tests/support/e2e.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/step_harness.h"
#include "util/error.h"
#include "util/fs.h"

using cutover::testing::PgCluster;
using cutover::testing::StepHarness;
using nlohmann::json;

namespace {

PgCluster& cluster() { return PgCluster::shared(); }

json conn_params(const std::string& db) {
  return {{"dsn", cluster().dsn(db)}, {"password", PgCluster::kPassword}};
}

json with(json base, const json& extra) {
  for (auto it = extra.begin(); it != extra.end(); ++it) base[it.key()] = it.value();
  return base;
}

// pg.dump of `db` (custom unless said otherwise); returns the step's outputs.
json dump(StepHarness& h, const std::string& db, const json& extra = json::object()) {
  auto step = h.make("pg.dump", with(conn_params(db), extra));
  json cp = step->checkpoint(h.ctx());
  return step->apply(h.ctx(), cp);
}

// A process may exit while it is read (ESRCH): plain read(2), which just stops, rather than
// a stream, whose underflow throws from the scanner thread.
std::string read_proc_cmdline(const std::string& pid) {
  std::string s;
  int fd = ::open(("/proc/" + pid + "/cmdline").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return s;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
  ::close(fd);
  for (auto& c : s)
    if (c == '\0') c = ' ';
  return s;
}

// Every regular file under `dir` whose bytes contain `needle`.
std::vector<std::string> files_containing(const std::string& dir, const std::string& needle) {
  std::vector<std::string> hits;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return hits;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string p = dir + "/" + name;
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      auto sub = files_containing(p, needle);
      hits.insert(hits.end(), sub.begin(), sub.end());
    } else if (S_ISREG(st.st_mode) && cutover::util::read_file(p).find(needle) != std::string::npos) {
      hits.push_back(p);
    }
  }
  ::closedir(d);
  return hits;
}

}  // namespace

TEST_CASE("pg step types are registered with complete schemas", "[pg]") {
  for (const char* name : {"check.pg", "pg.query", "pg.sql", "pg.dump", "pg.restore"}) {
    const auto* t = cutover::steps::find_step_type(name);
    REQUIRE(t != nullptr);
    json schema = json::parse(t->params_schema);
    CHECK(schema["additionalProperties"] == false);
    for (auto it = schema["properties"].begin(); it != schema["properties"].end(); ++it)
      CHECK(it.value().contains("description"));
    CHECK(t->secret_params == std::vector<std::string>{"password"});
    CHECK_FALSE(t->remote);
  }
  CHECK(cutover::steps::find_step_type("pg.sql")->undo_param == "down");
  CHECK(cutover::steps::find_step_type("pg.restore")->undo_discards_data);
  CHECK(cutover::steps::find_step_type("pg.restore")->resume == cutover::steps::Resume::yes);
}

TEST_CASE("DSNs: the password never stays in the printable or argv forms", "[pg]") {
  using cutover::steps::pg::Dsn;
  Dsn uri = Dsn::parse("postgresql://hive:p%40ss@db.example.test:5433/hive%20sync?sslmode=require");
  CHECK(uri.password() == "p@ss");
  CHECK(uri.display() == "hive@db.example.test:5433/hive sync");
  CHECK(uri.resource() == "db.example.test:5433/hive sync");
  CHECK(uri.conninfo() ==
        "user='hive' host='db.example.test' port='5433' dbname='hive sync' sslmode='require'");
  CHECK(uri.tool_env().at("PGPASSWORD") == "p@ss");
  CHECK(uri.with_dbname("postgres").dbname() == "postgres");
  Dsn kv = Dsn::parse("host=/var/run/postgresql dbname='it\\'s' password='x y' user=app", "given");
  CHECK(kv.password() == "given");
  CHECK(kv.conninfo().find("password") == std::string::npos);
  CHECK(kv.display() == "app@/var/run/postgresql:5432/it's");
  CHECK_THROWS_AS(Dsn::parse("host=db dbname='unterminated"), cutover::Error);
}

TEST_CASE("client tools run without Debian's pg_wrapper, at the version the wrapper would pick", "[pg]") {
  namespace pg = cutover::steps::pg;
  for (const char* tool : {"pg_dump", "pg_restore", "psql"}) {
    std::string path = pg::tool_path(tool);
    INFO(tool << " -> " << path);
    std::error_code ec;
    CHECK(std::filesystem::canonical(path, ec).filename() != "pg_wrapper");
    CHECK(::access(path.c_str(), X_OK) == 0);
    // The version cutover assumes is the one the program reports.
    cutover::util::ProcessSpec spec;
    spec.argv = {path, "--version"};
    auto r = cutover::util::run_process(spec);
    REQUIRE(r.ok());
    CHECK(r.out.find(") " + std::to_string(pg::tool_major(tool)) + ".") != std::string::npos);
    // And it is what the wrapper on PATH runs for this server.
    spec.argv = {tool, "--version"};
    spec.env = {{"PGHOST", "127.0.0.1"}, {"PGPORT", std::to_string(cluster().port())}};
    auto w = cutover::util::run_process(spec);
    REQUIRE(w.ok());
    CHECK(w.out == r.out);
  }
}

TEST_CASE("check.pg and pg.query", "[pg]") {
  StepHarness h;
  cluster().seed("q_src", 1000);
  auto check = h.make("check.pg", with(conn_params("q_src"), {{"min_version", "13"}}));
  json out = check->apply(h.ctx(), nullptr);
  CHECK(out["server_version"].get<std::string>().rfind("15.", 0) == 0);
  auto too_new = h.make("check.pg", with(conn_params("q_src"), {{"min_version", "99"}}));
  CHECK_THROWS_WITH(too_new->apply(h.ctx(), nullptr), Catch::Contains("older than 99"));

  auto q = h.make("pg.query", with(conn_params("q_src"), {{"sql", "SELECT count(*) FROM orders"},
                                                          {"expect", {{"value", 1000}}}}));
  CHECK(q->apply(h.ctx(), nullptr)["value"] == "1000");
  auto bad = h.make("pg.query", with(conn_params("q_src"), {{"sql", "SELECT count(*) FROM orders"},
                                                            {"expect", {{"rows", 2}}}}));
  CHECK_THROWS_WITH(bad->apply(h.ctx(), nullptr), Catch::Contains("expected 2 rows"));

  cluster().seed("q_other", 999);
  auto cmp = h.make("pg.query",
                    with(conn_params("q_src"),
                         {{"sql", "SELECT count(*) FROM orders"},
                          {"compare_with", conn_params("q_other")}}));
  CHECK_THROWS_WITH(cmp->apply(h.ctx(), nullptr), Catch::Contains("results differ"));
  auto wrong = h.make("check.pg", {{"dsn", cluster().dsn("q_src")}, {"password", "not-it-at-all"}});
  CHECK_THROWS_WITH(wrong->apply(h.ctx(), nullptr), Catch::Contains("cannot connect to app@127.0.0.1"));
}

TEST_CASE("pg.dump then pg.restore into a new database reproduces it exactly", "[pg]") {
  StepHarness h;
  cluster().seed("rt_src", 100000);
  json d = dump(h, "rt_src");
  std::string id = d["artifact"];
  CHECK(h.artifacts().meta(id)["compression"] == "zstd");
  CHECK(d["server_version"].get<std::string>().rfind("15.", 0) == 0);
  CHECK(d["bytes"].get<uint64_t>() == h.artifacts().stored_size(id));

  auto restore = h.make("pg.restore", with(conn_params("rt_dst"),
                                           {{"artifact", id}, {"create_database", true}}));
  json cp = restore->checkpoint(h.ctx());
  CHECK(cp["existed"] == false);
  json out = restore->apply(h.ctx(), cp);
  CHECK(out["tables"] == 4);
  CHECK(out["rows"] == 100000 + 10000 + 500 + 100);
  // Those counts were taken from pg_dump's output as it streamed, not by reading the target.
  json recorded = h.artifacts().meta(id)["table_rows"];
  auto source = cluster().table_stats("rt_src");
  REQUIRE(recorded.size() == source.size());
  for (const auto& [table, stat] : source) CHECK(recorded[table] == stat.rows);
  CHECK(cluster().schema_dump("rt_dst") == cluster().schema_dump("rt_src"));
  CHECK(cluster().table_stats("rt_dst") == cluster().table_stats("rt_src"));
  CHECK(cluster().psql("rt_dst", "SELECT last_value FROM invoice_no") == "1004\n");
  // The step's own fingerprint agrees (it ignores which server-side oids things got).
  json fa = restore->fingerprint(h.ctx()).begin().value();
  auto src = h.make("pg.restore", with(conn_params("rt_src"), {{"artifact", id}}));
  CHECK(fa == src->fingerprint(h.ctx()).begin().value());

  SECTION("directory and plain formats too") {
    for (std::string format : {"directory", "plain"}) {
      json extra = {{"format", format}};
      if (format == "directory") extra["jobs"] = 2;
      json dd = dump(h, "rt_src", extra);
      std::string db = "rt_" + format;
      auto r = h.make("pg.restore", with(conn_params(db), {{"artifact", dd["artifact"]},
                                                           {"create_database", true}}));
      r->apply(h.ctx(), r->checkpoint(h.ctx()));
      CHECK(cluster().table_stats(db) == cluster().table_stats("rt_src"));
      CHECK(cluster().schema_dump(db) == cluster().schema_dump("rt_src"));
    }
  }
}

TEST_CASE("a filtered dump records the rows of the tables it holds, and without counts the restore counts the target", "[pg]") {
  StepHarness h;
  cluster().seed("fc_src", 20000);
  const auto source = cluster().table_stats("fc_src");
  for (std::string format : {"custom", "plain"}) {
    INFO(format);
    json d = dump(h, "fc_src", {{"tables", {"public.products", "public.customers"}}, {"format", format}});
    std::string id = d["artifact"];
    // Counted in pg_dump's custom archive as it streamed; a filtered plain dump has none.
    if (format == "custom") {
      CHECK(h.artifacts().meta(id)["table_rows"] ==
            json({{"public.customers", source.at("public.customers").rows},
                  {"public.products", source.at("public.products").rows}}));
    } else {
      CHECK_FALSE(h.artifacts().meta(id).contains("table_rows"));
    }
    const std::string db = "fc_" + format;
    auto restore = h.make("pg.restore", with(conn_params(db), {{"artifact", id}, {"create_database", true}}));
    json out = restore->apply(h.ctx(), restore->checkpoint(h.ctx()));
    auto target = cluster().table_stats(db);
    long long rows = 0;
    for (const auto& [table, stat] : target) rows += stat.rows;
    CHECK(target.size() == 2);
    CHECK(out["tables"] == target.size());
    CHECK(out["rows"] == rows);
    CHECK(target.at("public.customers").rows == source.at("public.customers").rows);
  }
}

TEST_CASE("undo of pg.restore puts the target back exactly", "[pg]") {
  StepHarness h;
  cluster().seed("un_src", 20000);
  std::string id = dump(h, "un_src")["artifact"];

  SECTION("into an existing, different database") {
    cluster().seed("un_dst", 3000);
    cluster().psql_script("un_dst",
                          "CREATE TABLE only_here (k int PRIMARY KEY, v text);"
                          "INSERT INTO only_here SELECT g, 'v' || g FROM generate_series(1, 50) g;"
                          "UPDATE customers SET name = 'renamed' WHERE id < 20;");
    auto before_stats = cluster().table_stats("un_dst");
    auto before_schema = cluster().schema_dump("un_dst");
    auto step = h.make("pg.restore", with(conn_params("un_dst"), {{"artifact", id}}));
    json fp_before = step->fingerprint(h.ctx());
    json cp = step->checkpoint(h.ctx());
    REQUIRE(cp["existed"] == true);
    step->apply(h.ctx(), cp);
    // Replace: objects only in the target are gone, the data is the dump's.
    CHECK(cluster().table_stats("un_dst") == cluster().table_stats("un_src"));
    CHECK(step->fingerprint(h.ctx()) != fp_before);

    step->undo(h.ctx(), cp);
    CHECK(cluster().table_stats("un_dst") == before_stats);
    CHECK(cluster().schema_dump("un_dst") == before_schema);
    CHECK(step->fingerprint(h.ctx()) == fp_before);
    step->undo(h.ctx(), cp);  // idempotent
    CHECK(step->fingerprint(h.ctx()) == fp_before);
  }

  SECTION("into a new database: undo drops it") {
    auto step = h.make("pg.restore", with(conn_params("un_new"),
                                          {{"artifact", id}, {"create_database", true}}));
    json fp_before = step->fingerprint(h.ctx());
    CHECK(fp_before.begin().value() == "absent");
    json cp = step->checkpoint(h.ctx());
    step->apply(h.ctx(), cp);
    CHECK(cluster().db_exists("un_new"));
    step->undo(h.ctx(), cp);
    CHECK_FALSE(cluster().db_exists("un_new"));
    CHECK(step->fingerprint(h.ctx()) == fp_before);
  }

  SECTION("a missing target without create_database is refused before anything changes") {
    auto step = h.make("pg.restore", with(conn_params("un_absent"), {{"artifact", id}}));
    json cp = step->checkpoint(h.ctx());
    CHECK_THROWS_WITH(step->apply(h.ctx(), cp), Catch::Contains("create_database"));
    CHECK_FALSE(cluster().db_exists("un_absent"));
  }
}

TEST_CASE("merge twice changes nothing the second time and never duplicates", "[pg]") {
  StepHarness h;
  cluster().seed("mg_src", 5000);
  std::string first = dump(h, "mg_src")["artifact"];
  auto replace = h.make("pg.restore", with(conn_params("mg_dst"),
                                           {{"artifact", first}, {"create_database", true}}));
  replace->apply(h.ctx(), replace->checkpoint(h.ctx()));
  // The target gains rows of its own; the source changes rows and gains new ones.
  cluster().psql_script("mg_dst", "INSERT INTO customers (name, email, created) VALUES "
                                  "('local', 'local@example.test', now());");
  cluster().psql_script("mg_src",
                        "UPDATE orders SET qty = qty + 1, note = 'changed' WHERE id <= 100;"
                        "INSERT INTO orders (customer_id, product_id, qty, note) "
                        "SELECT 1, 1, 1, 'new ' || g FROM generate_series(1, 250) g;");
  std::string second = dump(h, "mg_src")["artifact"];

  SECTION("tables without a primary key are refused by name") {
    auto m = h.make("pg.restore", with(conn_params("mg_dst"), {{"artifact", second}, {"mode", "merge"}}));
    json cp = m->checkpoint(h.ctx());
    auto before = cluster().table_stats("mg_dst");
    CHECK_THROWS_WITH(m->apply(h.ctx(), cp), Catch::Contains("public.audit_log"));
    CHECK(cluster().table_stats("mg_dst") == before);
  }

  SECTION("with a key for the table without one") {
    json params = with(conn_params("mg_dst"), {{"artifact", second}, {"mode", "merge"},
                                               {"keys", {{"public.audit_log", {"at"}}}}});
    auto m1 = h.make("pg.restore", params);
    json fp0 = m1->fingerprint(h.ctx());
    json cp = m1->checkpoint(h.ctx());
    json out1 = m1->apply(h.ctx(), cp);
    CHECK(out1["tables"] == 4);
    CHECK(out1["rows"] == 350);  // 100 changed + 250 new orders
    auto after_first = cluster().table_stats("mg_dst");
    CHECK(after_first["public.orders"].rows == 5000 + 250);
    CHECK(after_first["public.customers"].rows == 500 + 1);
    CHECK(cluster().psql("mg_dst", "SELECT count(*) FROM orders WHERE note = 'changed'") == "100\n");
    CHECK(cluster().psql("mg_dst", "SELECT count(*) FROM customers WHERE name = 'local'") == "1\n");

    auto m2 = h.make("pg.restore", params);
    json out2 = m2->apply(h.ctx(), m2->checkpoint(h.ctx()));
    CHECK(out2["rows"] == 0);
    CHECK(cluster().table_stats("mg_dst") == after_first);

    // Undo of the first merge puts the pre-merge target back.
    m1->undo(h.ctx(), cp);
    CHECK(m1->fingerprint(h.ctx()) == fp0);
  }
}

TEST_CASE("pg.sql up/verify/down: a failing verify rolls back the earlier steps", "[pg]") {
  StepHarness h;
  cluster().seed("sql_db", 1000);
  cutover::util::write_file_atomic(h.path("add_col.sql"),
                                   "ALTER TABLE customers ADD COLUMN vip boolean DEFAULT false;\n"
                                   "UPDATE customers SET vip = true WHERE id % 10 = 0;\n");
  json steps_params = json::array(
      {with(conn_params("sql_db"), {{"up", "CREATE TABLE flags (k text PRIMARY KEY, on_ boolean);"
                                            "INSERT INTO flags VALUES ('beta', true);"},
                                     {"verify", "SELECT count(*) = 1 FROM flags"},
                                     {"down", "DROP TABLE IF EXISTS flags"}}),
       with(conn_params("sql_db"), {{"up", {{"file", "add_col.sql"}}},
                                     {"down", "ALTER TABLE customers DROP COLUMN IF EXISTS vip"},
                                     {"transaction", false}}),
       with(conn_params("sql_db"), {{"up", "CREATE INDEX orders_qty_idx ON orders (qty)"},
                                     {"verify", "SELECT count(*) FROM orders WHERE qty > 100"},
                                     {"down", "DROP INDEX IF EXISTS orders_qty_idx"}})});
  auto schema_before = cluster().schema_dump("sql_db");
  auto stats_before = cluster().table_stats("sql_db");
  std::vector<std::unique_ptr<cutover::steps::Step>> steps;
  std::vector<json> fps, cps;
  size_t failed = 99;
  for (size_t i = 0; i < steps_params.size(); ++i) {
    steps.push_back(h.make("pg.sql", steps_params[i]));
    fps.push_back(steps[i]->fingerprint(h.ctx()));
    cps.push_back(steps[i]->checkpoint(h.ctx()));
    try {
      steps[i]->apply(h.ctx(), cps[i]);
    } catch (const cutover::Error& e) {
      CHECK(std::string(e.what()).find("verify returned '0'") != std::string::npos);
      failed = i;
      break;
    }
  }
  REQUIRE(failed == 2);
  CHECK(cluster().psql("sql_db", "SELECT count(*) FROM pg_indexes WHERE indexname = 'orders_qty_idx'") == "0\n");
  CHECK(cluster().psql("sql_db", "SELECT count(*) FROM customers WHERE vip") == "10\n");
  for (size_t i = failed + 1; i-- > 0;) {
    steps[i]->undo(h.ctx(), cps[i]);
    CHECK(steps[i]->fingerprint(h.ctx()) == fps[i]);
  }
  CHECK(cluster().schema_dump("sql_db") == schema_before);
  CHECK(cluster().table_stats("sql_db") == stats_before);
}

TEST_CASE("a corrupt artifact is refused before the target is touched", "[pg]") {
  StepHarness h;
  cluster().seed("cr_src", 2000);
  cluster().seed("cr_dst", 700);
  std::string id = dump(h, "cr_src")["artifact"];
  std::string path = h.artifacts().path(id);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(1000);
    char c = 0;
    f.get(c);
    f.seekp(1000);
    f.put(static_cast<char>(c ^ 0x5a));
  }
  auto before = cluster().table_stats("cr_dst");
  auto step = h.make("pg.restore", with(conn_params("cr_dst"), {{"artifact", id}}));
  json cp = step->checkpoint(h.ctx());
  CHECK_THROWS_WITH(step->apply(h.ctx(), cp), Catch::Contains("is corrupt"));
  CHECK(cluster().table_stats("cr_dst") == before);

  // Into a database that does not exist: it is created while the artifact is checked, and
  // is gone again when the check fails.
  cluster().drop_db("cr_new");
  auto fresh = h.make("pg.restore", with(conn_params("cr_new"), {{"artifact", id}, {"create_database", true}}));
  json cp_new = fresh->checkpoint(h.ctx());
  CHECK_THROWS_WITH(fresh->apply(h.ctx(), cp_new), Catch::Contains("is corrupt"));
  CHECK(cluster().psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = 'cr_new'") == "0\n");
}

TEST_CASE("the password never reaches argv or any output or state file", "[pg]") {
  StepHarness h;
  cluster().seed("pw_src", 100000);
  std::atomic<bool> done{false};
  std::set<std::string> seen_tools;
  std::vector<std::string> leaks;
  std::thread scanner([&] {
    while (!done) {
      DIR* d = ::opendir("/proc");
      while (dirent* e = ::readdir(d)) {
        if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
        std::string cmd = read_proc_cmdline(e->d_name);
        for (const char* tool : {"pg_dump", "pg_restore", "psql"})
          if (cmd.rfind(tool, 0) == 0 || cmd.find(std::string("/") + tool + " ") != std::string::npos) {
            seen_tools.insert(tool);
            if (cmd.find(PgCluster::kPassword) != std::string::npos) leaks.push_back(cmd);
          }
      }
      ::closedir(d);
    }
  });
  json out;
  std::string error_text;
  try {
    out = dump(h, "pw_src");
    auto r = h.make("pg.restore", with(conn_params("pw_dst"), {{"artifact", out["artifact"]},
                                                               {"create_database", true}}));
    json cp = r->checkpoint(h.ctx());
    r->apply(h.ctx(), cp);
    r->undo(h.ctx(), cp);
    auto bad = h.make("pg.sql", with(conn_params("pw_src"), {{"up", "SELECT nonsense("},
                                                             {"transaction", false}}));
    try {
      bad->apply(h.ctx(), bad->checkpoint(h.ctx()));
    } catch (const cutover::Error& e) {
      error_text = std::string(e.what()) + e.hint();
    }
  } catch (...) {
    done = true;
    scanner.join();
    throw;
  }
  done = true;
  scanner.join();
  CHECK(seen_tools.count("pg_dump"));
  CHECK(leaks.empty());
  CHECK_FALSE(error_text.empty());
  CHECK(error_text.find(PgCluster::kPassword) == std::string::npos);
  CHECK(out.dump().find(PgCluster::kPassword) == std::string::npos);
  for (const auto& line : h.log()) CHECK(line.find(PgCluster::kPassword) == std::string::npos);
  CHECK(files_containing(h.dir().path(), PgCluster::kPassword).empty());
}

TEST_CASE("cutover apply: pg.dump -> pg.restore -> failing check exits 3 with the target back",
          "[pg][e2e]") {
  cutover::test::TempDir dir;
  cluster().seed("e2e_src", 20000);
  cluster().seed("e2e_dst", 500);
  cluster().psql_script("e2e_dst", "CREATE TABLE only_here (k int PRIMARY KEY);"
                                   "INSERT INTO only_here VALUES (1), (2);");
  auto stats_before = cluster().table_stats("e2e_dst");
  auto schema_before = cluster().schema_dump("e2e_dst");
  std::string plan =
      "version: 1\n"
      "name: pg-e2e\n"
      "secrets:\n"
      "  db_password: { env: PG_E2E_PASSWORD }\n"
      "steps:\n"
      "  - id: backup\n"
      "    type: pg.dump\n"
      "    with: { dsn: \"" + cluster().dsn("e2e_src") + "\", password: \"${secrets.db_password}\" }\n"
      "  - id: restore\n"
      "    type: pg.restore\n"
      "    with:\n"
      "      dsn: \"" + cluster().dsn("e2e_dst") + "\"\n"
      "      password: \"${secrets.db_password}\"\n"
      "      artifact: \"${steps.backup.outputs.artifact}\"\n"
      "  - id: check\n"
      "    type: pg.query\n"
      "    with:\n"
      "      dsn: \"" + cluster().dsn("e2e_dst") + "\"\n"
      "      password: \"${secrets.db_password}\"\n"
      "      sql: SELECT count(*) FROM orders\n"
      "      expect: { value: 12345 }\n";
  cutover::test::write_file(dir / "plan.yaml", plan);
  cutover::test::CliOptions opts;
  opts.env["PG_E2E_PASSWORD"] = PgCluster::kPassword;
  auto r = cutover::test::run_cutover(
      {"apply", dir / "plan.yaml", "--state", dir / "state", "--auto-approve"}, opts);
  INFO(r.all());
  CHECK(r.exit_code == 3);
  CHECK(cluster().table_stats("e2e_dst") == stats_before);
  CHECK(cluster().schema_dump("e2e_dst") == schema_before);
  CHECK(r.all().find(PgCluster::kPassword) == std::string::npos);
  CHECK(cutover::test::all_bytes_under(dir / "state").find(PgCluster::kPassword) ==
        std::string::npos);

  // The plan's dry run names the databases and what would run, without the password.
  auto p = cutover::test::run_cutover({"plan", dir / "plan.yaml", "--state", dir / "state"}, opts);
  INFO(p.all());
  CHECK(p.all().find("app@127.0.0.1") != std::string::npos);
  CHECK(p.all().find(PgCluster::kPassword) == std::string::npos);
  // The restore's artifact comes from the dump of the same run: known after apply, not a
  // step the dry run shows as failing.
  CHECK(p.all().find("the artifact an earlier step stores (known after apply)") != std::string::npos);
  CHECK(p.all().find("cannot plan") == std::string::npos);
}
