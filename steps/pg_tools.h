// Shared machinery of the pg step family: running the PostgreSQL client tools with the
// password only in their environment, streaming dumps into and out of the artifact store,
// creating/dropping databases, and fingerprinting a database for verified undo (SPEC §4).
#pragma once

#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "steps/pg_conn.h"
#include "steps/registry.h"
#include "steps/step.h"
#include "util/process.h"

namespace cutover::steps::pg {

/// Runs a client tool (pg_dump, pg_restore, psql, tar) against `dsn`: PGPASSWORD goes into
/// the child's environment (never argv), the step deadline applies. Any non-zero exit throws
/// Error naming the tool, the database (display form) and the tail of its stderr (with the
/// password masked); interruption or timeout throws Interrupted.
util::ProcessResult run_tool(Context& ctx, const Dsn& dsn, util::ProcessSpec spec);

/// The program to run for a client tool ("pg_dump" -> /usr/lib/postgresql/15/bin/pg_dump when
/// PATH leads to Debian's pg_wrapper, else the tool as found on PATH); located once.
std::string tool_path(const std::string& tool);

/// Major version of a client tool ("pg_dump" -> 15); throws Error if it cannot run.
int tool_major(const std::string& tool);

/// Major version of a server_version_num (150020 -> 15, 90624 -> 9).
int server_major(int version_num);

/// "15.20" from a server_version_num.
std::string version_text(int version_num);

/// Throws Error (with a hint) when `tool`'s major version is older than the server's.
void require_tool_version(const std::string& tool, int server_version_num, const Dsn& dsn);

/// A scratch folder for this run (RunInfo::run_dir, else a fresh temp folder).
std::string scratch_dir(Context& ctx, const std::string& prefix);

/// What pg_dump should write.
struct DumpOptions {
  std::string format = "custom";            // custom | directory | plain
  int jobs = 1;                             // directory format only
  std::vector<std::string> schemas, tables, exclude_tables;
  // Count every dumped table's rows into the artifact's meta ("table_rows"), so a restore can
  // report them without reading the tables again: in pg_dump's output as it streams (custom
  // format), else in pg_dump's own snapshot while it runs (whole databases only).
  bool count_rows = false;
};

/// An artifact written by dump_to_store.
struct DumpResult {
  std::string artifact;       // "sha256:<hex>"
  uint64_t raw_bytes = 0;     // what pg_dump wrote
  uint64_t stored_bytes = 0;  // after zstd
};

/// The pg_dump argv for `opts` (without the trailing -d CONNINFO), for plan() and apply.
std::vector<std::string> dump_argv(const DumpOptions& opts);

/// Dumps `dsn` straight into the artifact store: pg_dump -Z0, zstd on the way in, sha256
/// computed while writing (no second read). Reports progress against `total_estimate`.
/// The artifact's meta kind is "pg.dump <format>"; custom dumps also record `costly_bytes`
/// (DataLoader::costly_bytes, asked over `conn`, an open connection to `dsn`).
/// Throws Error on any tool failure.
DumpResult dump_to_store(Context& ctx, const Dsn& dsn, PgConn& conn, const DumpOptions& opts,
                         uint64_t total_estimate);

/// Streams artifact `id` into `spec`'s stdin (held back one chunk until the stored bytes are
/// verified, so a corrupt artifact always ends the child's input early) and runs the tool.
/// `what` labels progress updates (none when empty). When `cut` turns true the child's input ends there.
util::ProcessResult run_tool_with_artifact(Context& ctx, const Dsn& dsn, util::ProcessSpec spec,
                                           const std::string& id, const std::string& what,
                                           const std::atomic<bool>* cut = nullptr);

/// How restore_into_db runs pg_restore.
struct RestoreOptions {
  /// custom dumps: connections loading table data at once, the rows of every table spread over
  /// them, streamed from the store; directory dumps: pg_restore -j from an unpacked copy.
  int jobs = 2;
  /// One pg_restore --single-transaction from the stream instead (jobs is then 1).
  bool single_transaction = false;
  bool no_owner = false;  // --no-owner --no-privileges
};

/// How restore_into_db will load a custom dump's rows, given the artifact's meta: one
/// pg_restore (single_transaction, jobs 1, or under DataLoader::kSpreadMin costly bytes),
/// spread over connections, or unknown until the restored schema is asked (meta without
/// costly_bytes: an artifact from before pg.dump recorded it).
enum class RowLoad { one_pg_restore, spread, ask_schema };
RowLoad row_load(const nlohmann::json& meta, const RestoreOptions& opts);

/// What restore_into_db loaded, when it knows (the parallel load counts rows as it goes).
struct RestoreResult {
  bool counted = false;
  std::map<std::string, long long> rows;  // per table, as the dump names it
};

/// The per-table row counts a pg.dump recorded for `id` (DumpOptions::count_rows), or an
/// empty map when it did not record them.
std::map<std::string, long long> recorded_rows(Context& ctx, const std::string& id);

/// The dump format of an artifact written by pg.dump ("custom", "directory", "plain"), from
/// its meta sidecar; throws Error if the artifact is not a pg.dump artifact.
std::string artifact_format(Context& ctx, const std::string& id);

/// Restores artifact `id` into the existing (empty) database `target`. Custom dumps stream
/// from the store: pg_restore creates the schema (pre-data), DataLoader loads the rows over
/// `jobs` connections, pg_restore adds indexes and constraints (post-data); with
/// single_transaction one pg_restore does it all in one transaction. Plain dumps run through
/// psql in one transaction; directory dumps are unpacked and restored by pg_restore.
RestoreResult restore_into_db(Context& ctx, const Dsn& target, const std::string& id,
                     const RestoreOptions& opts);

/// Properties a database is recreated with.
struct DbInfo {
  std::string owner, encoding, collate, ctype;
};

/// A connection to the server's maintenance database (postgres, else template1).
std::unique_ptr<PgConn> admin_connection(const Dsn& dsn, util::Deadline deadline = {});

/// True if `dsn`'s database exists on its server.
bool database_exists(PgConn& admin, const std::string& dbname);

/// Owner, encoding and locale of an existing database.
DbInfo database_info(PgConn& admin, const std::string& dbname);

/// Drops a database (terminating its sessions first); absent is fine.
void drop_database(PgConn& admin, const std::string& dbname);

/// Creates an empty database from template0 with `info` (empty fields: server defaults).
void create_database(PgConn& admin, const std::string& dbname, const DbInfo& info);

/// Size in bytes of the database (pg_database_size), 0 if unknown.
uint64_t database_size(PgConn& conn);

/// User tables of the connected database as "schema.table", sorted.
std::vector<std::string> user_tables(PgConn& conn);

/// Fingerprint of a database for verified undo: "absent", or {"schema": md5 of the list of
/// tables, columns, constraints, indexes, views, sequences (with values), functions,
/// triggers, extensions; "tables": {"schema.table": {"rows": N, "md5": ...}}}.
nlohmann::json database_fingerprint(const Dsn& dsn, util::Deadline deadline = {});

/// {"pg:<host:port/db>": database_fingerprint(dsn)}.
nlohmann::json fingerprint_entry(const Dsn& dsn, util::Deadline deadline = {});

/// Reads a SQL parameter: a string is SQL text; {file: path} is read relative to the plan
/// folder. Empty JSON gives "".
std::string sql_text(const nlohmann::json& value, const std::string& plan_dir);

}  // namespace cutover::steps::pg

namespace cutover::steps::pg {

/// A string parameter of `with` ("" or `def` when absent); throws Error when not a string.
std::string str_param(const nlohmann::json& p, const char* key, const std::string& def = "");
/// An integer parameter (`def` when absent).
int int_param(const nlohmann::json& p, const char* key, int def);
/// A boolean parameter (`def` when absent).
bool bool_param(const nlohmann::json& p, const char* key, bool def);
/// A list of strings (a single string is a list of one).
std::vector<std::string> list_param(const nlohmann::json& p, const char* key);

/// The step types of each pg family file (steps/pg_*.cpp), gathered by pg_step_types().
StepType pg_dump_type();
StepType pg_restore_type();
StepType pg_sql_type();
StepType check_pg_type();
StepType pg_query_type();

}  // namespace cutover::steps::pg
