// pg.restore's parallel row loading (steps/pg_data_loader.h) against a real PostgreSQL 15
// cluster: rows that are awkward for a line-splitting loader (escapes, NULLs, a value larger
// than a slice, "\." inside text), empty tables, large objects and sequence values come back
// exactly; the script may arrive in pieces of any size; errors name the table.
#include <catch2/catch.hpp>
#include <string>

#include "steps/pg_archive.h"
#include "steps/pg_conn.h"
#include "steps/pg_data_loader.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/step_harness.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/process.h"
#include "util/strings.h"

using cutover::steps::pg::ArchiveRows;
using cutover::steps::pg::ArchiveText;
using cutover::steps::pg::DataLoader;
using cutover::steps::pg::Dsn;
using cutover::testing::PgCluster;
using cutover::testing::StepHarness;
using nlohmann::json;

namespace {

PgCluster& cluster() { return PgCluster::shared(); }

json params(const std::string& db, json extra) {
  extra["dsn"] = cluster().dsn(db);
  extra["password"] = PgCluster::kPassword;
  return extra;
}

// A database of what a line-based loader could get wrong (with a large object unless told).
void seed_awkward(const std::string& db, bool large_object = true) {
  cluster().create_db(db);
  cluster().psql_script(db, R"SQL(
CREATE TABLE odd (id int PRIMARY KEY, t text, b bytea, j jsonb, n numeric, at timestamptz);
INSERT INTO odd VALUES
  (1, E'tab\there', '\x00ff'::bytea, '{"a": [1, 2]}', 1.5, '2020-01-01 00:00:00+00'),
  (2, E'new\nline\r\nand more', NULL, NULL, NULL, NULL),
  (3, E'back\\slash \\. and \\N', '', '"\\u0000-free"', -0, 'infinity'),
  (4, E'\\.', E'\\x5c2e0a'::bytea, '[]', 'NaN', '-infinity'),
  (5, 'ünïcødé ✓', NULL, '{"k": "v\nw"}', 1e-30, now()),
  (6, repeat('x', 3 * 1024 * 1024), NULL, NULL, NULL, NULL);
INSERT INTO odd SELECT g, md5(g::text) || E'\t' || g, decode(md5(g::text), 'hex'),
                      jsonb_build_object('g', g), g / 7.0, '2021-01-01'::timestamptz + g * interval '1 s'
FROM generate_series(10, 60000) g;
CREATE TABLE nothing (id int PRIMARY KEY, v text);
CREATE TABLE heap (v text, w int);
CREATE TABLE "Mixed Case (x)" ("the id" int PRIMARY KEY, "val ue" text);
INSERT INTO "Mixed Case (x)" SELECT g, 'v' || g FROM generate_series(1, 700) g;
INSERT INTO heap SELECT 'row ' || (g % 17), g FROM generate_series(1, 5000) g;
CREATE SEQUENCE counter START 5;
SELECT setval('counter', 4242);
COMMENT ON TABLE odd IS 'awkward rows';
GRANT SELECT ON odd TO PUBLIC;
CREATE MATERIALIZED VIEW odd_count AS SELECT count(*) AS n FROM odd;
)SQL");
  if (large_object) cluster().psql_script(db, "SELECT lo_from_bytea(0, decode(repeat('cafe', 100000), 'hex'));");
}

std::string large_objects(const std::string& db) {
  return cluster().psql(db, "SELECT count(*) || ' ' || coalesce(md5(string_agg(data, ''::bytea ORDER BY loid, pageno)), '') FROM pg_largeobject");
}

}  // namespace

TEST_CASE("pg.restore over several connections restores awkward rows, empty tables, large objects and sequences exactly", "[pg][pgload]") {
  StepHarness h;
  seed_awkward("aw_src");
  auto dump = h.make("pg.dump", params("aw_src", json::object()));
  std::string id = dump->apply(h.ctx(), dump->checkpoint(h.ctx()))["artifact"];

  // pg.dump recorded how many bytes of costly-to-parse tables the database holds.
  const std::string meta_path = h.artifacts().path(id) + ".meta";
  const json meta = json::parse(cutover::util::read_file(meta_path));
  REQUIRE(meta.at("costly_bytes").get<uint64_t>() > 0);
  CHECK(meta.at("costly_bytes").get<uint64_t>() < DataLoader::kSpreadMin);
  // The archive holds large objects, which the stream counter does not read: the rows were
  // counted in pg_dump's snapshot instead, all of them.
  for (const auto& [table, stat] : cluster().table_stats("aw_src"))
    CHECK(meta.at("table_rows").value(table, -1ll) == stat.rows);

  // aw_par: meta says the costly tables are big, so rows are spread over three connections;
  // aw_old: no costly_bytes (an older artifact), so the loader asks the restored schema;
  // aw_one: one pg_restore in one transaction; aw_small: one pg_restore, as the meta advises.
  for (std::string db : {"aw_par", "aw_old", "aw_one", "aw_small"}) {
    json m = meta;
    if (db == "aw_par") m["costly_bytes"] = uint64_t{1} << 40;
    if (db == "aw_old") m.erase("costly_bytes");
    cutover::util::write_file_atomic(meta_path, m.dump(), 0600);
    json extra = db == "aw_one" ? json{{"single_transaction", true}} : json{{"jobs", 3}};
    extra["artifact"] = id;
    extra["create_database"] = true;
    auto restore = h.make("pg.restore", params(db, extra));
    INFO(db);
    // plan says which restore apply will run.
    std::string planned = restore->plan(h.ctx()).detail;
    if (db == "aw_par") CHECK_THAT(planned, Catch::Contains("the rows over 3 connections, pg_restore --section=post-data"));
    else if (db == "aw_old") CHECK_THAT(planned, Catch::Contains("; or, when the dump holds 64 MiB or more"));
    else CHECK_THAT(planned, Catch::Contains("then one pg_restore --single-transaction --exit-on-error from the store\n"));
    size_t logged = h.log().size();
    json out = restore->apply(h.ctx(), restore->checkpoint(h.ctx()));
    bool spread = false, by_pg_restore = false;
    for (size_t i = logged; i < h.log().size(); ++i) {
      spread = spread || h.log()[i] == "loading rows over 3 connections";
      by_pg_restore = by_pg_restore || h.log()[i] == "pg_restore reads the rows: data entry BLOBS";
    }
    CHECK(spread == (db == "aw_par" || db == "aw_old"));
    // The large object's entry is one ArchiveText leaves to pg_restore.
    CHECK(by_pg_restore == spread);
    CHECK(out["rows"] == 6 + 59991 + 5000 + 700);
    CHECK(out["tables"] == 4);
    CHECK(cluster().table_stats(db) == cluster().table_stats("aw_src"));
    CHECK(cluster().schema_dump(db) == cluster().schema_dump("aw_src"));
    CHECK(cluster().psql(db, "SELECT last_value FROM counter") == "4242\n");
    CHECK(large_objects(db) == large_objects("aw_src"));
    CHECK(cluster().psql(db, "SELECT length(t) FROM odd WHERE id = 6") == "3145728\n");
    CHECK(cluster().psql(db, "SELECT n FROM odd_count") == "59997\n");
  }
}

TEST_CASE("the data loader takes its script in pieces of any size", "[pg][pgload]") {
  cluster().drop_db("ld_db");  // each SECTION runs the case from the top
  cluster().create_db("ld_db");
  // t has a jsonb column: its rows are spread over both connections.
  cluster().psql_script("ld_db", "CREATE TABLE public.t (id int PRIMARY KEY, v text, j jsonb);"
                                 "CREATE TABLE public.u (id int, v text);"
                                 "CREATE SEQUENCE public.s;");
  Dsn dsn = Dsn::parse(cluster().dsn("ld_db"), PgCluster::kPassword);
  std::string rows;
  for (int i = 1; i <= 3000; ++i) rows += std::to_string(i) + "\tv" + std::to_string(i) + "\\\\.\\n\n";
  const std::string script =
      "--\n-- PostgreSQL database dump\n--\n\n\\restrict abc\n"
      "SET statement_timeout = 0;\nSET client_encoding = 'UTF8';\n"
      "SELECT pg_catalog.set_config('search_path', '', false);\n\n"
      "--\n-- Data for Name: t; Type: TABLE DATA; Schema: public; Owner: x\n--\n\n"
      "COPY public.t (id, v) FROM stdin;\n" + rows + "\\.\n\n"
      "COPY public.u (id, v) FROM stdin;\n\\.\n\n"
      "SELECT pg_catalog.setval('public.s', 77,\n true);\n\n\\unrestrict abc\n";
  for (size_t piece : {size_t{1}, size_t{3}, size_t{4}, size_t{4099}, script.size()}) {
    INFO("pieces of " << piece);
    cluster().psql("ld_db", "TRUNCATE public.t, public.u");
    DataLoader loader(dsn, 2, {});
    for (size_t at = 0; at < script.size(); at += piece)
      loader.feed(script.data() + at, std::min(piece, script.size() - at));
    loader.finish();
    CHECK(loader.rows().at("public.t") == 3000);
    CHECK(loader.rows().at("public.u") == 0);
    long long chars = 0;
    for (int i = 1; i <= 3000; ++i) chars += std::to_string(i).size() + 4;  // "v" N "\." "\n"
    CHECK(cluster().psql("ld_db", "SELECT count(DISTINCT id), sum(length(v)), "
                                  "bool_and(v = 'v' || id || E'\\\\.\\n') FROM public.t") ==
          "3000|" + std::to_string(chars) + "|t\n");
    CHECK(cluster().psql("ld_db", "SELECT last_value FROM public.s") == "77\n");
  }

  SECTION("a row the server refuses names the table and the server's reason") {
    DataLoader loader(dsn, 2, {});
    const std::string bad = "COPY public.t (id, v) FROM stdin;\nnot-a-number\tx\n\\.\n";
    CHECK_THROWS_WITH(loader.feed(bad.data(), bad.size()),
                      Catch::Contains("loading public.t into") &&
                          Catch::Contains("invalid input syntax for type integer"));
  }
  SECTION("a script cut off inside a COPY is an error, not a short table") {
    DataLoader loader(dsn, 2, {});
    const std::string cut = "COPY public.u (id, v) FROM stdin;\n1\ta\n";
    loader.feed(cut.data(), cut.size());
    CHECK_THROWS_WITH(loader.finish(), Catch::Contains("public.u") && Catch::Contains("ended before"));
  }
  SECTION("a psql command it does not know is refused") {
    DataLoader loader(dsn, 1, {});
    const std::string meta = "\\connect other\n";
    CHECK_THROWS_WITH(loader.feed(meta.data(), meta.size()), Catch::Contains("unexpected psql command"));
  }
}

TEST_CASE("a dump of integer and text tables is restored by one pg_restore, exactly", "[pg][pgload]") {
  StepHarness h;
  cluster().create_db("plain_src");
  cluster().psql_script("plain_src", R"SQL(
CREATE TABLE a (id int PRIMARY KEY, v text NOT NULL);
CREATE TABLE b (id bigint PRIMARY KEY, a_id int REFERENCES a (id), note varchar(20));
INSERT INTO a SELECT g, 'v' || g FROM generate_series(1, 20000) g;
INSERT INTO b SELECT g, g % 20000 + 1, NULL FROM generate_series(1, 3000) g;
CREATE INDEX b_a ON b (a_id);
)SQL");
  auto dump = h.make("pg.dump", params("plain_src", json::object()));
  std::string id = dump->apply(h.ctx(), dump->checkpoint(h.ctx()))["artifact"];
  auto restore = h.make("pg.restore", params("plain_dst", {{"artifact", id}, {"create_database", true}}));
  json out = restore->apply(h.ctx(), restore->checkpoint(h.ctx()));
  CHECK(out["rows"] == 23000);
  CHECK(out["tables"] == 2);
  CHECK(cluster().table_stats("plain_dst") == cluster().table_stats("plain_src"));
  CHECK(cluster().schema_dump("plain_dst") == cluster().schema_dump("plain_src"));
}

namespace {

// A data-section script without what differs between runs and changes nothing: comments,
// \restrict lines, blank lines.
std::string script_lines(const std::string& script) {
  std::string kept;
  for (const auto& line : cutover::util::split(script, '\n')) {
    if (line.empty() || cutover::util::starts_with(line, "--") ||
        cutover::util::starts_with(line, "\\restrict") || cutover::util::starts_with(line, "\\unrestrict"))
      continue;
    kept += line + "\n";
  }
  return kept;
}

// "" when equal, else where the two texts part (they are megabytes: Catch would print all).
std::string first_difference(const std::string& got, const std::string& want) {
  if (got == want) return "";
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  size_t from = i > 100 ? i - 100 : 0;
  return "at byte " + std::to_string(i) + ": got [" + got.substr(from, 200) + "] want [" +
         want.substr(from, 200) + "]";
}

std::string pg_restore_data(const std::string& archive) {
  cutover::util::ProcessSpec spec;
  spec.argv = {"pg_restore", "--section=data", "-f", "-", archive};
  std::string out;
  spec.on_stdout = [&](const char* d, size_t n) { out.append(d, n); };
  auto r = cutover::util::run_process(spec);
  REQUIRE(r.ok());
  return out;
}

// ArchiveText's text for `archive`, fed in pieces of `piece` bytes.
std::string archive_text(const std::string& archive, size_t piece, size_t drop_tail = 0) {
  std::string bytes = cutover::util::read_file(archive);
  bytes.resize(bytes.size() - drop_tail);
  std::string out;
  ArchiveText text([&](const char* d, size_t n) { out.append(d, n); });
  for (size_t at = 0; at < bytes.size(); at += piece)
    text.feed(bytes.data() + at, std::min(piece, bytes.size() - at));
  text.finish();
  return out;
}

// ArchiveRows' counts for `archive`, fed in pieces of `piece` bytes.
std::map<std::string, long long> archive_rows(const std::string& archive, size_t piece) {
  std::string bytes = cutover::util::read_file(archive);
  ArchiveRows rows;
  for (size_t at = 0; at < bytes.size(); at += piece)
    rows.feed(bytes.data() + at, std::min(piece, bytes.size() - at));
  rows.finish();
  return rows.counts();
}

}  // namespace

TEST_CASE("the rows of a custom archive are read without pg_restore, as pg_restore prints them", "[pg][pgload]") {
  cluster().drop_db("at_src");  // each SECTION runs the case from the top
  seed_awkward("at_src", false);
  cutover::testing::TempDir dir;
  const std::string archive = dir.path() + "/at.dump";
  cluster().custom_dump("at_src", 0, archive);

  // The same statements and rows, byte for byte, however the archive is cut.
  const std::string expected = script_lines(pg_restore_data(archive));
  REQUIRE_THAT(expected, Catch::Contains("COPY public.odd (id, t, b, j, n, at) FROM stdin;\n") &&
                             Catch::Contains("SELECT pg_catalog.setval('public.counter', 4242, true);"));
  // And each table's rows, counted in the same stream, are the table's.
  std::map<std::string, long long> rows;
  for (const auto& [table, stat] : cluster().table_stats("at_src")) rows[table] = stat.rows;
  REQUIRE(rows.size() == 4);
  for (size_t piece : {size_t{1}, size_t{5}, size_t{4099}, size_t{1} << 30}) {
    INFO("pieces of " << piece);
    CHECK(first_difference(script_lines(archive_text(archive, piece)), expected) == "");
    CHECK(archive_rows(archive, piece) == rows);
  }

  SECTION("pg.restore loads them over several connections, exactly") {
    StepHarness h;
    auto dump = h.make("pg.dump", params("at_src", json::object()));
    std::string id = dump->apply(h.ctx(), dump->checkpoint(h.ctx()))["artifact"];
    const std::string meta_path = h.artifacts().path(id) + ".meta";
    json meta = json::parse(cutover::util::read_file(meta_path));
    meta["costly_bytes"] = uint64_t{1} << 40;  // as if big: spread the rows
    cutover::util::write_file_atomic(meta_path, meta.dump(), 0600);
    cluster().drop_db("at_dst");
    auto restore = h.make("pg.restore", params("at_dst", {{"artifact", id}, {"create_database", true}, {"jobs", 3}}));
    json out = restore->apply(h.ctx(), restore->checkpoint(h.ctx()));
    CHECK(out["rows"] == 6 + 59991 + 5000 + 700);
    CHECK_THAT(h.log(), Catch::VectorContains(std::string("loading rows over 3 connections")));
    for (const auto& line : h.log()) CHECK_THAT(line, !Catch::StartsWith("pg_restore reads the rows"));
    CHECK(cluster().table_stats("at_dst") == cluster().table_stats("at_src"));
    CHECK(cluster().schema_dump("at_dst") == cluster().schema_dump("at_src"));
    CHECK(cluster().psql("at_dst", "SELECT last_value FROM counter") == "4242\n");
    // What pg_restore restores around the rows: the comment, the grant, the view's data.
    CHECK(cluster().psql("at_dst", "SELECT obj_description('odd'::regclass, 'pg_class') || ' ' || "
                                   "has_table_privilege('public', 'odd', 'SELECT') || ' ' || n FROM odd_count") ==
          "awkward rows true 59997\n");
  }
  SECTION("counts are given only when every block ends as pg_dump ends one") {
    std::string bytes = cutover::util::read_file(archive);
    size_t end = bytes.rfind("\\.\n\n\n");
    REQUIRE(end != std::string::npos);
    bytes.replace(end, 2, "ab");  // the last table's end-of-data line is gone
    cutover::util::write_file_atomic(dir.path() + "/odd.dump", bytes, 0600);
    CHECK(archive_rows(dir.path() + "/odd.dump", 4099).empty());
  }
  SECTION("an archive cut short is an error naming the entry it ended in") {
    CHECK_THROWS_WITH(archive_text(archive, 4099, 10),
                      Catch::Contains("ended before the data of entry") && Catch::Contains("TABLE DATA"));
    CHECK_THROWS_WITH(archive_text(archive, 4099, cutover::util::read_file(archive).size() - 100),
                      Catch::Contains("ended inside its table of contents"));
  }
  SECTION("what it does not read is left to pg_restore before a byte is written") {
    const std::string gz = dir.path() + "/gz.dump";
    cluster().custom_dump("at_src", 1, gz);
    CHECK_THROWS_AS(archive_text(gz, 4099), ArchiveText::Unsupported);
    CHECK_THROWS_WITH(archive_text(gz, 4099), "compressed by pg_dump");
    cluster().drop_db("at_lo");
    seed_awkward("at_lo", true);
    const std::string lo = dir.path() + "/lo.dump";
    cluster().custom_dump("at_lo", 0, lo);
    CHECK_THROWS_WITH(archive_text(lo, 4099), "data entry BLOBS");
    std::string newer = cutover::util::read_file(archive);
    newer[6] = 15;  // the minor version: pg_dump 16's archives
    cutover::util::write_file_atomic(dir.path() + "/v15.dump", newer, 0600);
    CHECK_THROWS_WITH(archive_text(dir.path() + "/v15.dump", 4099), "archive version 1.15");
    const std::string text = dir.path() + "/not.dump";
    cutover::util::write_file_atomic(text, "SELECT 1;\n", 0600);
    CHECK_THROWS_WITH(archive_text(text, 3), "not a pg_dump custom archive");
  }
}
