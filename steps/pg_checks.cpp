// Read-only PostgreSQL checks: check.pg (reachable, server version) and pg.query (a query's
// result against an expectation or against the same query on another database).
#include <cmath>

#include "steps/pg_tools.h"
#include "util/error.h"
#include "util/strings.h"

namespace cutover::steps::pg {
namespace {

const char* kCheckSchema = R"JSON({
  "type": "object",
  "additionalProperties": false,
  "required": ["dsn"],
  "properties": {
    "dsn": {"type": "string", "description": "Database to connect to: postgresql://user@host:port/db or libpq key=value text."},
    "password": {"type": "string", "description": "Password, as ${secrets.NAME}."},
    "min_version": {"type": ["string", "number"], "description": "Lowest acceptable server version, e.g. \"13\" or \"14.5\"."}
  }
})JSON";

const char* kQuerySchema = R"JSON({
  "type": "object",
  "additionalProperties": false,
  "required": ["dsn", "sql"],
  "properties": {
    "dsn": {"type": "string", "description": "Database to query: postgresql://user@host:port/db or libpq key=value text."},
    "password": {"type": "string", "description": "Password, as ${secrets.NAME}."},
    "sql": {"type": "string", "description": "The query; it runs in a read-only transaction. Its first value is the `value` output."},
    "expect": {"type": "object", "additionalProperties": false, "description": "What the result must be.",
      "properties": {
        "rows": {"type": "integer", "minimum": 0, "description": "Exact number of rows returned."},
        "value": {"description": "Expected first value of the first row (string, number, boolean or null)."}
      }},
    "compare_with": {"type": "object", "additionalProperties": false, "required": ["dsn"],
      "description": "Run a query on another database; both results must be equal (every row and value).",
      "properties": {
        "dsn": {"type": "string", "description": "The other database."},
        "password": {"type": "string", "description": "Its password, as ${secrets.NAME}."},
        "sql": {"type": "string", "description": "The query there (default: the same `sql`)."}
      }}
  }
})JSON";

// 150020 from "15.2", "15", "9.6.3"; throws Error when malformed.
int version_num(const std::string& text) {
  auto parts = util::split(util::trim(text), '.');
  try {
    int major = std::stoi(parts.at(0));
    int minor = parts.size() > 1 ? std::stoi(parts[1]) : 0;
    if (major >= 10) return major * 10000 + minor;
    int patch = parts.size() > 2 ? std::stoi(parts[2]) : 0;
    return major * 10000 + minor * 100 + patch;
  } catch (...) {
    throw Error("check.pg: min_version '" + text + "' is not a version like 13 or 14.5");
  }
}

class CheckPg final : public Step {
 public:
  explicit CheckPg(const StepConfig& c)
      : dsn_(Dsn::parse(str_param(c.params, "dsn"), str_param(c.params, "password"))),
        min_(str_param(c.params, "min_version")) {
    if (!min_.empty()) version_num(min_);
  }

  Preview plan(Context& ctx) override {
    Preview p;
    json out = run(ctx);
    p.summary = "PostgreSQL " + out["server_version"].get<std::string>() + " at " +
                dsn_.display() + (min_.empty() ? "" : " (>= " + min_ + ")");
    p.outputs = out;
    return p;
  }

  json apply(Context& ctx, const json&) override { return run(ctx); }

 private:
  json run(Context& ctx) {
    PgConn conn(dsn_, ctx.deadline);
    int v = conn.server_version_num();
    if (!min_.empty() && v < version_num(min_))
      throw Error("PostgreSQL at " + dsn_.display() + " is " + version_text(v) + ", older than " +
                  min_, "upgrade the server or lower min_version");
    return {{"server_version", version_text(v)}};
  }

  Dsn dsn_;
  std::string min_;
};

std::string show(const std::optional<std::string>& v) { return v ? "'" + *v + "'" : "NULL"; }

// Does a result value match the plan's expected JSON value?
bool matches(const std::optional<std::string>& got, const json& want) {
  if (want.is_null()) return !got.has_value();
  if (!got) return false;
  if (want.is_boolean()) {
    std::string g = util::trim(*got);
    bool is_bool = g == "t" || g == "f" || g == "true" || g == "false";
    return is_bool && truthy(got) == want.get<bool>();
  }
  if (want.is_number()) {
    try {
      size_t used = 0;
      double g = std::stod(*got, &used);
      return used == got->size() && std::fabs(g - want.get<double>()) < 1e-9;
    } catch (...) {
      return false;
    }
  }
  if (want.is_string()) return *got == want.get<std::string>();
  return *got == want.dump();
}

class PgQuery final : public Step {
 public:
  explicit PgQuery(const StepConfig& c)
      : dsn_(Dsn::parse(str_param(c.params, "dsn"), str_param(c.params, "password"))),
        sql_(str_param(c.params, "sql")),
        expect_(c.params.value("expect", json())),
        compare_(c.params.value("compare_with", json())) {
    if (sql_.empty()) throw Error("pg.query: `sql` is required");
    if (!compare_.is_null()) {
      other_ = Dsn::parse(str_param(compare_, "dsn"), str_param(compare_, "password"));
      other_sql_ = str_param(compare_, "sql", sql_);
    }
  }

  Preview plan(Context& ctx) override {
    Preview p;
    p.outputs = run(ctx);
    p.summary = "query " + dsn_.display() + ": value " +
                (p.outputs["value"].is_null() ? "NULL" : p.outputs["value"].get<std::string>()) +
                " (as expected)";
    p.detail = sql_ + "\n";
    return p;
  }

  json apply(Context& ctx, const json&) override { return run(ctx); }

 private:
  json run(Context& ctx) {
    Result r = PgConn(dsn_, ctx.deadline).query_readonly(sql_);
    auto value = r.first();
    if (expect_.is_object()) {
      if (expect_.contains("rows") && static_cast<long long>(r.rows.size()) != expect_["rows"].get<long long>())
        throw Error("pg.query on " + dsn_.display() + ": expected " + expect_["rows"].dump() +
                    " rows, got " + std::to_string(r.rows.size()));
      if (expect_.contains("value") && !matches(value, expect_["value"]))
        throw Error("pg.query on " + dsn_.display() + ": expected " + expect_["value"].dump() +
                    ", got " + show(value));
    }
    if (!compare_.is_null()) {
      Result o = PgConn(other_, ctx.deadline).query_readonly(other_sql_);
      if (o.rows.size() != r.rows.size())
        throw Error("pg.query: " + dsn_.display() + " returned " + std::to_string(r.rows.size()) +
                    " rows, " + other_.display() + " " + std::to_string(o.rows.size()));
      for (size_t i = 0; i < r.rows.size(); ++i)
        if (r.rows[i] != o.rows[i]) {
          std::string a = r.rows[i].empty() ? "()" : show(r.rows[i][0]);
          std::string b = o.rows[i].empty() ? "()" : show(o.rows[i][0]);
          throw Error("pg.query: results differ at row " + std::to_string(i + 1) + ": " +
                      dsn_.display() + " has " + a + ", " + other_.display() + " has " + b);
        }
    }
    return {{"value", value ? json(*value) : json(nullptr)}, {"rows", r.rows.size()}};
  }

  Dsn dsn_, other_;
  std::string sql_, other_sql_;
  json expect_, compare_;
};

}  // namespace

StepType check_pg_type() {
  StepType t;
  t.name = "check.pg";
  t.summary = "Check that a PostgreSQL server is reachable and recent enough";
  t.undo = "none: read-only check";
  t.outputs = "server_version: e.g. 15.20";
  t.params_schema = kCheckSchema;
  t.kind = Kind::check;
  t.resume = Resume::yes;
  t.secret_params = {"password"};
  t.make = [](const StepConfig& c) -> std::unique_ptr<Step> { return std::make_unique<CheckPg>(c); };
  return t;
}

StepType pg_query_type() {
  StepType t;
  t.name = "pg.query";
  t.summary = "Run a read-only query and check its result, or compare it with another database";
  t.undo = "none: read-only check";
  t.outputs = "value: first value of the first row (null if none); rows: rows returned";
  t.params_schema = kQuerySchema;
  t.kind = Kind::check;
  t.resume = Resume::yes;
  t.secret_params = {"password"};
  t.make = [](const StepConfig& c) -> std::unique_ptr<Step> { return std::make_unique<PgQuery>(c); };
  return t;
}

}  // namespace cutover::steps::pg
