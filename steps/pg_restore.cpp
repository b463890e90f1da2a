// pg.restore: restores a pg.dump artifact into a database. Checkpoint: a dump of the target
// (or its absence). mode replace: verify the artifact, drop and recreate the target (a target
// that did not exist is created while the artifact is verified), then restore from the store
// stream (restore_into_db: one pg_restore, or schema, rows over several connections, indexes);
// afterwards the target holds exactly what the dump holds. mode merge: upsert on primary keys (steps/pg_merge.cpp). Undo: the
// target is recreated from its checkpoint dump, or dropped if it did not exist.
#include <future>

#include "checkpoints/artifact_store.h"
#include "steps/pg_merge.h"
#include "steps/pg_tools.h"
#include "util/error.h"
#include "util/strings.h"
#include "util/units.h"

namespace cutover::steps::pg {
namespace {

const char* kSchema = R"JSON({
  "type": "object",
  "additionalProperties": false,
  "required": ["dsn", "artifact"],
  "properties": {
    "dsn": {"type": "string", "description": "Target database: postgresql://user@host:port/db or libpq key=value text. The user needs the right to drop and create it (owner with CREATEDB, or superuser)."},
    "password": {"type": "string", "description": "Password, as ${secrets.NAME}; reaches pg_restore/pg_dump/psql only through PGPASSWORD in their environment."},
    "artifact": {"type": "string", "description": "The artifact to restore: the `artifact` output of a pg.dump step (${steps.ID.outputs.artifact})."},
    "mode": {"enum": ["replace", "merge"], "default": "replace", "description": "replace: the target ends up holding exactly what the dump holds. merge: every table of the dump is upserted into the target on its primary key (safe to re-run; nothing is deleted)."},
    "jobs": {"type": "integer", "minimum": 1, "default": 2, "description": "replace mode: connections loading rows at once. A custom dump streams from the store; when it holds 64 MiB or more of tables with json, numeric or date/time columns, pg_restore creates the tables, cutover reads their rows out of the archive and spreads them over `jobs` connections, then pg_restore builds indexes and constraints; otherwise one pg_restore --single-transaction does it all. A directory dump is unpacked and restored with pg_restore -j."},
    "single_transaction": {"type": "boolean", "default": false, "description": "replace mode: restore with one pg_restore --single-transaction from the store (one connection; slower on big tables). Not with jobs > 1."},
    "create_database": {"type": "boolean", "default": false, "description": "Create the target database when it does not exist (undo then drops it)."},
    "keys": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}, "description": "merge: key columns for tables without a primary key, as {\"schema.table\": [col, ...]}."},
    "no_owner": {"type": "boolean", "default": false, "description": "Do not restore object ownership and privileges (pg_restore --no-owner --no-privileges): for targets whose roles differ from the source's."}
  }
})JSON";

class PgRestore final : public Step {
 public:
  explicit PgRestore(const StepConfig& c)
      : dsn_(Dsn::parse(str_param(c.params, "dsn"), str_param(c.params, "password"))),
        artifact_(str_param(c.params, "artifact")),
        mode_(str_param(c.params, "mode", "replace")),
        jobs_(int_param(c.params, "jobs", 2)),
        single_(bool_param(c.params, "single_transaction", false)),
        create_(bool_param(c.params, "create_database", false)),
        no_owner_(bool_param(c.params, "no_owner", false)),
        keys_(c.params.is_object() && c.params.contains("keys") ? c.params["keys"] : json::object()) {
    if (mode_ != "replace" && mode_ != "merge")
      throw Error("pg.restore: mode must be replace or merge, not '" + mode_ + "'");
    if (dsn_.dbname().empty()) throw Error("pg.restore: the DSN names no database");
    if (single_ && c.params.is_object() && c.params.contains("jobs") && jobs_ > 1)
      throw Error("pg.restore: single_transaction uses one connection; leave jobs out or set it to 1");
  }

  Preview plan(Context& ctx) override {
    Preview p;
    p.changes = true;
    std::string art = describe_artifact(ctx);
    std::string target;
    bool absent = false;
    try {
      auto admin = admin_connection(dsn_, ctx.deadline);
      if (database_exists(*admin, dsn_.dbname())) {
        PgConn conn(dsn_, ctx.deadline);
        auto tables = user_tables(conn);
        target = dsn_.display() + " (" + util::format_bytes(database_size(conn)) + ", " +
                 std::to_string(tables.size()) + " tables)";
        p.detail += "target now holds: " + util::join(tables, ", ") + "\n";
        p.detail += "checkpoint: pg_dump -Fc of " + dsn_.display() + " into the artifact store\n";
      } else {
        absent = true;
        target = dsn_.display() + " (does not exist" +
                 std::string(create_ ? "; will be created)" : "; create_database is false: apply will fail)");
        p.detail += "checkpoint: records that " + dsn_.display() + " does not exist (undo drops it)\n";
      }
    } catch (const Interrupted&) {
      throw;
    } catch (const Error& e) {
      target = dsn_.display() + " (not reachable now: " + e.what() + ")";
    }
    if (mode_ == "replace") {
      p.summary = "replace " + target + " with " + art;
      p.detail += std::string(absent ? "apply: CREATE DATABASE while the artifact is verified (dropped "
                                       "again if it is not intact), then "
                                     : "apply: verify the artifact, DROP DATABASE + CREATE DATABASE, then ") +
                  describe_load(ctx) + "\n";
    } else {
      p.summary = "merge " + art + " into " + target + " (upsert on primary keys)";
      p.detail += "apply: load every table of the dump into temporary staging tables, then "
                  "INSERT ... ON CONFLICT (primary key) DO UPDATE for each, in one transaction\n";
    }
    p.detail += "undo: recreate the target from its checkpoint dump (or drop it if it was absent)\n";
    return p;
  }

  json checkpoint(Context& ctx) override {
    auto admin = admin_connection(dsn_, ctx.deadline);
    absent_at_checkpoint_ = !database_exists(*admin, dsn_.dbname());
    if (absent_at_checkpoint_) {
      admin_ = std::move(admin);
      return {{"existed", false}, {"database", dsn_.resource()}};
    }
    DbInfo info = database_info(*admin, dsn_.dbname());
    admin_ = std::move(admin);
    PgConn conn(dsn_, ctx.deadline);
    int v = conn.server_version_num();
    require_tool_version("pg_dump", v, dsn_);
    uint64_t size = database_size(conn);
    ctx.log("checkpoint: dumping " + dsn_.display() + " (" + util::format_bytes(size) + ")");
    DumpResult r = dump_to_store(ctx, dsn_, conn, DumpOptions{}, size);
    return {{"existed", true},
            {"database", dsn_.resource()},
            {"dump", r.artifact},
            {"bytes", r.stored_bytes},
            {"db", {{"owner", info.owner}, {"encoding", info.encoding},
                    {"collate", info.collate}, {"ctype", info.ctype}}}};
  }

  json fingerprint(Context& ctx) override {
    // Taken right after checkpoint(): an absence it just saw needs no second connection.
    if (absent_at_checkpoint_) {
      absent_at_checkpoint_ = false;
      return {{"pg:" + dsn_.resource(), "absent"}};
    }
    return fingerprint_entry(dsn_, ctx.deadline);
  }

  json apply(Context& ctx, const json& checkpoint) override {
    absent_at_checkpoint_ = false;  // only the fingerprint taken with the checkpoint may use it
    artifact_format(ctx, artifact_);
    // The checkpoint's connection, when apply follows it (a new one costs ~40 ms here).
    auto admin = admin_ ? std::move(admin_) : admin_connection(dsn_, ctx.deadline);
    bool exists = database_exists(*admin, dsn_.dbname());
    if (!exists && !create_)
      throw Error("database " + dsn_.dbname() + " does not exist on " + dsn_.display() +
                      " (create_database is false)",
                  "create it first, or set create_database: true on this step");
    if (!exists) {
      // Nothing to lose: the database is created while the artifact is checked (on a thread),
      // and dropped again if the artifact is not intact, before a byte is restored.
      ctx.log("creating " + dsn_.display() + " for " + artifact_);
      auto verified = std::async(std::launch::async, [&] { ctx.artifacts.verify(artifact_); });
      create_database(*admin, dsn_.dbname(), DbInfo{});
      try {
        verified.get();
      } catch (...) {
        try {
          drop_database(*admin, dsn_.dbname());
        } catch (const Error&) {
          // The artifact's failure is the one to report; undo drops the database again.
        }
        throw;
      }
    } else {
      // Nothing is touched before the artifact is known to be intact.
      ctx.artifacts.verify(artifact_);
      if (mode_ == "merge") {
        admin.reset();
        MergeResult m = merge_artifact(ctx, dsn_, artifact_, keys_);
        return {{"tables", m.tables}, {"rows", m.rows}};
      }
      DbInfo info = database_info(*admin, dsn_.dbname());
      ctx.log("replacing " + dsn_.display() + " with " + artifact_);
      drop_database(*admin, dsn_.dbname());
      create_database(*admin, dsn_.dbname(), info);
    }
    admin.reset();
    RestoreResult r = restore_into_db(ctx, dsn_, artifact_, options());
    if (!r.counted) {
      // pg_restore --exit-on-error succeeded: the target holds what pg.dump counted.
      r.rows = recorded_rows(ctx, artifact_);
      if (r.rows.empty()) return counts(ctx);
    }
    long long rows = 0;
    for (const auto& [table, n] : r.rows) rows += n;
    return {{"tables", r.rows.size()}, {"rows", rows}};
  }

  void undo(Context& ctx, const json& cp) override {
    absent_at_checkpoint_ = false;
    if (!cp.is_object() || !cp.contains("existed")) return;  // checkpoint never completed
    auto admin = admin_connection(dsn_, ctx.deadline);
    if (!cp["existed"].get<bool>()) {
      ctx.log("undo: dropping " + dsn_.display() + " (it did not exist before)");
      drop_database(*admin, dsn_.dbname());
      return;
    }
    std::string dump = cp.at("dump").get<std::string>();
    ctx.artifacts.verify(dump);  // a corrupt checkpoint must not cost the current database
    const json& db = cp.at("db");
    DbInfo info{db.value("owner", ""), db.value("encoding", ""), db.value("collate", ""),
                db.value("ctype", "")};
    ctx.log("undo: recreating " + dsn_.display() + " from its checkpoint " + dump);
    drop_database(*admin, dsn_.dbname());
    create_database(*admin, dsn_.dbname(), info);
    admin.reset();
    restore_into_db(ctx, dsn_, dump, options());
  }

 private:
  // The restore restore_into_db will run, as far as it is known before apply.
  std::string describe_load(Context& ctx) {
    const std::string flags = no_owner_ ? " --no-owner --no-privileges" : "";
    const std::string one = "one pg_restore --single-transaction --exit-on-error" + flags + " from the store";
    const std::string spread = "pg_restore --section=pre-data" + flags + ", the rows over " +
                               std::to_string(jobs_) + " connections, pg_restore --section=post-data" +
                               flags + ", streamed from the store";
    json meta;
    try {
      if (ctx.artifacts.exists(artifact_)) meta = ctx.artifacts.meta(artifact_);
    } catch (const Error&) {
    }
    switch (row_load(meta, options())) {
      case RowLoad::one_pg_restore:
        return one;
      case RowLoad::spread:
        return spread;
      case RowLoad::ask_schema:
        break;
    }
    return one + "; or, when the dump holds 64 MiB or more of tables with json, numeric or "
                 "date/time columns: " + spread;
  }

  std::string describe_artifact(Context& ctx) {
    // In a dry run an earlier step's artifact is not stored yet: ${steps.ID.outputs.artifact}
    // reads "(known after apply)".
    if (artifact_ == "(known after apply)") return "the artifact an earlier step stores (known after apply)";
    try {
      if (!ctx.artifacts.exists(artifact_)) return "artifact " + artifact_ + " (known after apply)";
      json m = ctx.artifacts.meta(artifact_);
      return "artifact " + artifact_.substr(0, 19) + "… (" + m.value("kind", "?") + ", " +
             util::format_bytes(m.value("raw_bytes", uint64_t{0})) + " dump, " +
             util::format_bytes(ctx.artifacts.stored_size(artifact_)) + " stored)";
    } catch (const Error&) {
      return "artifact " + artifact_ + " (known after apply)";
    }
  }

  RestoreOptions options() const {
    RestoreOptions o;
    o.jobs = single_ ? 1 : jobs_;
    o.single_transaction = single_;
    o.no_owner = no_owner_;
    return o;
  }

  // Exact row counts after a replace: the outputs say what the target now holds.
  json counts(Context& ctx) {
    PgConn conn(dsn_, ctx.deadline);
    auto tables = user_tables(conn);
    long long rows = 0;
    for (const auto& t : tables)
      rows += std::stoll(conn.exec("SELECT count(*) FROM ONLY " + t).first().value_or("0"));
    return {{"tables", tables.size()}, {"rows", rows}};
  }

  Dsn dsn_;
  std::string artifact_, mode_;
  int jobs_;
  bool single_, create_, no_owner_;
  bool absent_at_checkpoint_ = false;  // the last checkpoint() found no target database
  std::unique_ptr<PgConn> admin_;      // the last checkpoint()'s server connection, for apply()
  json keys_;
};

}  // namespace

StepType pg_restore_type() {
  StepType t;
  t.name = "pg.restore";
  t.summary = "Restore a pg.dump artifact into a database (replace exactly, or merge by upsert)";
  t.undo = "dumps the target first (or records its absence); undo recreates it from that dump, "
           "or drops it";
  t.outputs = "tables: tables restored or merged; rows: rows in the target (replace) or "
              "rows inserted/updated (merge)";
  t.params_schema = kSchema;
  t.kind = Kind::change;
  t.remote = false;
  t.resume = Resume::yes;
  t.secret_params = {"password"};
  t.undo_discards_data = true;
  t.make = [](const StepConfig& c) -> std::unique_ptr<Step> {
    return std::make_unique<PgRestore>(c);
  };
  return t;
}

}  // namespace cutover::steps::pg
