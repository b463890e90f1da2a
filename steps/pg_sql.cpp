// pg.sql: runs `up` (then `verify`) against a database; undo runs `down`. With
// transaction: true (default) up and verify share one transaction, so a failing verify
// leaves nothing behind; with transaction: false the SQL runs through psql statement by
// statement (for CREATE INDEX CONCURRENTLY and the like).
#include "steps/pg_tools.h"
#include "steps/plan_input.h"
#include "util/error.h"
#include "util/strings.h"

namespace cutover::steps::pg {
namespace {

const char* kSchema = R"JSON({
  "type": "object",
  "additionalProperties": false,
  "required": ["dsn", "up"],
  "definitions": {
    "sql": {"oneOf": [
      {"type": "string"},
      {"type": "object", "additionalProperties": false, "required": ["file"],
       "properties": {"file": {"type": "string", "description": "SQL file, relative to the plan's folder."}}}
    ]}
  },
  "properties": {
    "dsn": {"type": "string", "description": "Database: postgresql://user@host:port/db or libpq key=value text."},
    "password": {"type": "string", "description": "Password, as ${secrets.NAME}; never in argv or output."},
    "up": {"$ref": "#/definitions/sql", "description": "SQL to apply: text, or {file: path} relative to the plan folder."},
    "down": {"$ref": "#/definitions/sql", "description": "SQL that undoes `up` (run on rollback). Write it so it is safe when `up` did not run (IF EXISTS)."},
    "verify": {"$ref": "#/definitions/sql", "description": "SQL run after `up`: it fails the step if it errors, returns no rows, or its first value is false/0/NULL."},
    "transaction": {"type": "boolean", "default": true, "description": "Run up+verify (and down) in one transaction (default). false: run statement by statement through psql."}
  }
})JSON";

// "" when a verify result passes, else why it failed.
std::string judge(const Result& r) {
  if (r.columns.empty()) return "";
  if (r.rows.empty()) return "verify returned no rows";
  if (!truthy(r.first()))
    return "verify returned " + (r.first() ? "'" + *r.first() + "'" : std::string("NULL"));
  return "";
}

// `up`/`down`/`verify` as text: inline, or a {file: …} read as the run froze it (so a
// resume, a rollback or `apply --rev` runs the SQL of the plan's revision, not the work tree's).
std::string sql_of(Context& ctx, const json& value) {
  if (value.is_object() && value.contains("file") && value["file"].is_string())
    return read_plan_input(ctx, value["file"].get<std::string>());
  return sql_text(value, ctx.run.plan_dir);
}

std::string indent(const std::string& sql) {
  std::string out;
  for (const auto& l : util::split(util::trim(sql), '\n')) out += "    " + l + "\n";
  return out;
}

class PgSql final : public Step {
 public:
  explicit PgSql(const StepConfig& c)
      : dsn_(Dsn::parse(str_param(c.params, "dsn"), str_param(c.params, "password"))),
        up_(c.params.value("up", json())),
        down_(c.params.value("down", json())),
        verify_(c.params.value("verify", json())),
        transaction_(bool_param(c.params, "transaction", true)) {
    if (up_.is_null()) throw Error("pg.sql: `up` is required");
  }

  Preview plan(Context& ctx) override {
    Preview p;
    p.changes = true;
    std::string up = sql_of(ctx, up_);
    p.summary = "run SQL on " + dsn_.display() +
                (transaction_ ? " in one transaction" : " statement by statement (no transaction)");
    p.detail = "up:\n" + indent(up);
    std::string verify = sql_of(ctx, verify_);
    if (!verify.empty()) p.detail += "verify:\n" + indent(verify);
    std::string down = sql_of(ctx, down_);
    p.detail += down.empty() ? "down: (none)\n" : "down (on rollback):\n" + indent(down);
    return p;
  }

  json checkpoint(Context& ctx) override { return {{"database", dsn_.resource()}}; }

  json fingerprint(Context& ctx) override { return fingerprint_entry(dsn_, ctx.deadline); }

  json apply(Context& ctx, const json&) override {
    std::string up = sql_of(ctx, up_);
    std::string verify = sql_of(ctx, verify_);
    ctx.log("pg.sql up on " + dsn_.display());
    if (transaction_) {
      PgConn conn(dsn_, ctx.deadline);
      try {
        conn.exec_transaction(up, verify, judge);
      } catch (const Interrupted&) {
        throw;  // the cancel may race the commit: undo runs `down`
      } catch (const Error& e) {
        // The transaction rolled back: nothing of `up` remains for undo to take back.
        rolled_back_ = true;
        throw Error(std::string("pg.sql on ") + dsn_.display() + ": " + e.what(), e.hint());
      }
      return json::object();
    }
    run_psql(ctx, up);
    if (!verify.empty()) {
      PgConn conn(dsn_, ctx.deadline);
      std::string problem = judge(conn.exec(verify));
      if (!problem.empty()) throw Error("pg.sql on " + dsn_.display() + ": " + problem);
    }
    return json::object();
  }

  void undo(Context& ctx, const json&) override {
    if (rolled_back_) {
      ctx.log("pg.sql: `up` was rolled back; nothing to undo");
      return;
    }
    std::string down = sql_of(ctx, down_);
    if (down.empty()) return;
    ctx.log("pg.sql down on " + dsn_.display());
    if (transaction_) {
      PgConn conn(dsn_, ctx.deadline);
      conn.exec_transaction(down);
    } else {
      run_psql(ctx, down);
    }
  }

 private:
  void run_psql(Context& ctx, const std::string& sql) {
    util::ProcessSpec spec;
    spec.argv = {tool_path("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn_.conninfo(), "-f", "-"};
    spec.stdin_data = sql;
    run_tool(ctx, dsn_, spec);
  }

  Dsn dsn_;
  json up_, down_, verify_;
  bool transaction_;
  bool rolled_back_ = false;  // apply saw its transaction roll back (same process only)
};

}  // namespace

StepType pg_sql_type() {
  StepType t;
  t.name = "pg.sql";
  t.summary = "Run SQL against a database (up, optional verify), with `down` as its undo";
  t.undo = "runs `down` (required unless rollback: none); verified by row counts and checksums";
  t.outputs = "none";
  t.params_schema = kSchema;
  t.kind = Kind::change;
  t.remote = false;
  t.resume = Resume::no;
  t.undo_param = "down";
  t.secret_params = {"password"};
  t.make = [](const StepConfig& c) -> std::unique_ptr<Step> { return std::make_unique<PgSql>(c); };
  return t;
}

}  // namespace cutover::steps::pg
