// pg.dump: dumps a database into the content-addressed artifact store. pg_dump writes
// uncompressed (-Z0) and cutover compresses with zstd on the way in (SPEC §9: pg_dump's gzip
// is the bottleneck on varied data); sha256 is computed while writing.
#include "checkpoints/artifact_store.h"
#include "steps/pg_tools.h"
#include "util/error.h"
#include "util/strings.h"
#include "util/units.h"

namespace cutover::steps::pg {
namespace {

const char* kSchema = R"JSON({
  "type": "object",
  "additionalProperties": false,
  "required": ["dsn"],
  "properties": {
    "dsn": {"type": "string", "description": "Database to dump: postgresql://user@host:port/db or libpq key=value text. A password in it is taken out and passed like `password`."},
    "password": {"type": "string", "description": "Password, as ${secrets.NAME}; reaches pg_dump only through PGPASSWORD in its environment."},
    "format": {"enum": ["custom", "directory", "plain"], "default": "custom", "description": "pg_dump format: custom (default; restorable with pg.restore, streamed), directory (parallel dump with jobs; stored as a tar stream) or plain SQL."},
    "jobs": {"type": "integer", "minimum": 1, "default": 1, "description": "Parallel pg_dump workers (directory format only)."},
    "schemas": {"type": "array", "items": {"type": "string"}, "description": "Dump only these schemas (pg_dump -n, patterns allowed)."},
    "tables": {"type": "array", "items": {"type": "string"}, "description": "Dump only these tables (pg_dump -t, patterns allowed)."},
    "exclude_tables": {"type": "array", "items": {"type": "string"}, "description": "Leave these tables out (pg_dump -T, patterns allowed)."}
  }
})JSON";

class PgDump final : public Step {
 public:
  explicit PgDump(const StepConfig& c)
      : dsn_(Dsn::parse(str_param(c.params, "dsn"), str_param(c.params, "password"))) {
    opts_.format = str_param(c.params, "format", "custom");
    opts_.jobs = int_param(c.params, "jobs", 1);
    opts_.schemas = list_param(c.params, "schemas");
    opts_.tables = list_param(c.params, "tables");
    opts_.exclude_tables = list_param(c.params, "exclude_tables");
    opts_.count_rows = true;
    if (opts_.jobs > 1 && opts_.format != "directory")
      throw Error("pg.dump: jobs > 1 needs format: directory (pg_dump dumps in parallel only then)");
    dump_argv(opts_);  // validates the format
  }

  Preview plan(Context& ctx) override {
    Preview p;
    p.changes = true;
    std::string cmd = util::shell_join(dump_argv(opts_)) + " -d <" + dsn_.display() + ">";
    try {
      PgConn conn(dsn_, ctx.deadline);
      int v = conn.server_version_num();
      uint64_t size = database_size(conn);
      auto tables = user_tables(conn);
      p.summary = "dump " + dsn_.display() + " (" + util::format_bytes(size) + ", " +
                  std::to_string(tables.size()) + " tables, PostgreSQL " + version_text(v) +
                  ") as " + opts_.format + " into the artifact store";
      p.outputs["server_version"] = version_text(v);
      p.detail = cmd + (opts_.format == "directory" ? " | tar" : "") + " | zstd -1 > artifact\n";
      if (opts_.format == "custom")
        p.detail += "cutover counts each table's rows in pg_dump's output as it streams "
                    "(recorded with the artifact for pg.restore)\n";
      else if (opts_.format == "plain" && opts_.schemas.empty() && opts_.tables.empty() &&
               opts_.exclude_tables.empty())
        p.detail += "pg_dump runs in a snapshot cutover exports (--snapshot), in which it counts "
                    "each table's rows meanwhile (recorded with the artifact for pg.restore)\n";
      if (tool_major("pg_dump") < server_major(v))
        p.detail += "WARNING: pg_dump " + std::to_string(tool_major("pg_dump")) +
                    " is older than the server: apply will refuse\n";
    } catch (const Interrupted&) {
      throw;
    } catch (const Error& e) {
      p.summary = "dump " + dsn_.display() + " as " + opts_.format + " (database not reachable now)";
      p.detail = cmd + "\n" + e.what() + "\n";
    }
    return p;
  }

  json apply(Context& ctx, const json&) override {
    PgConn conn(dsn_, ctx.deadline);
    int v = conn.server_version_num();
    // Refuse before writing anything: an older pg_dump fails late, after a long connect.
    require_tool_version("pg_dump", v, dsn_);
    uint64_t size = database_size(conn);
    ctx.log("pg_dump " + opts_.format + " of " + dsn_.display() + " (" + util::format_bytes(size) +
            " on disk)");
    DumpResult r = dump_to_store(ctx, dsn_, conn, opts_, size);
    ctx.log("stored " + r.artifact + ": " + util::format_bytes(r.raw_bytes) + " dumped, " +
            util::format_bytes(r.stored_bytes) + " stored");
    return {{"artifact", r.artifact},
            {"bytes", r.stored_bytes},
            {"raw_bytes", r.raw_bytes},
            {"format", opts_.format},
            {"server_version", version_text(v)}};
  }

 private:
  Dsn dsn_;
  DumpOptions opts_;
};

}  // namespace

StepType pg_dump_type() {
  StepType t;
  t.name = "pg.dump";
  t.summary = "Dump a PostgreSQL database into the artifact store (zstd, sha256-addressed)";
  t.undo = "nothing to undo: it only adds an artifact to the store";
  t.outputs = "artifact: sha256 id; bytes: stored size; raw_bytes; format; server_version";
  t.params_schema = kSchema;
  t.kind = Kind::change;
  t.remote = false;
  t.resume = Resume::yes;
  t.secret_params = {"password"};
  t.make = [](const StepConfig& c) -> std::unique_ptr<Step> { return std::make_unique<PgDump>(c); };
  return t;
}

}  // namespace cutover::steps::pg
