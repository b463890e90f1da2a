// Database-level operations and fingerprints of the pg step family (see steps/pg_tools.h).
#include "util/error.h"
#include "steps/pg_tools.h"
#include "util/strings.h"

namespace cutover::steps::pg {
namespace {

// Schemas that belong to PostgreSQL itself, not to the user.
const char* kUserNs =
    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' "
    "AND n.nspname NOT LIKE 'pg\\_temp\\_%'";

// One line per schema object, independent of OIDs and of physical column numbers, so a
// dump + restore of the same database gives the same text.
std::string schema_sql() {
  std::string ns = kUserNs;
  return "SELECT md5(coalesce(string_agg(x, E'\\n' ORDER BY x), '')) FROM ("
         // schemas and extensions
         " SELECT 'schema ' || n.nspname AS x FROM pg_namespace n WHERE " + ns +
         " UNION ALL SELECT 'extension ' || extname || ' ' || extversion FROM pg_extension"
         // relations, with their columns in order
         " UNION ALL SELECT 'rel ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text || ' ' ||"
         "  coalesce((SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)"
         "   || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END"
         "   || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), ''), ', ' ORDER BY a.attnum)"
         "   FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
         "   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')"
         "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
         "  WHERE " + ns + " AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S', 'c')"
         // constraints, indexes, views, sequences (with their values), functions, triggers, enums
         " UNION ALL SELECT 'constraint ' || n.nspname || '.' || c.relname || ' ' || k.conname || ' ' ||"
         "  pg_get_constraintdef(k.oid) FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid"
         "  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE " + ns +
         " UNION ALL SELECT 'index ' || schemaname || ' ' || indexdef FROM pg_indexes"
         "  WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
         " UNION ALL SELECT 'view ' || n.nspname || '.' || c.relname || ' ' || pg_get_viewdef(c.oid)"
         "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
         "  WHERE " + ns + " AND c.relkind IN ('v', 'm')"
         " UNION ALL SELECT 'sequence ' || schemaname || '.' || sequencename || ' ' || data_type || ' '"
         "  || start_value || ' ' || increment_by || ' ' || coalesce(last_value::text, 'not called')"
         "  FROM pg_sequences"
         " UNION ALL SELECT 'function ' || pg_get_functiondef(p.oid) FROM pg_proc p"
         "  JOIN pg_namespace n ON n.oid = p.pronamespace WHERE " + ns + " AND p.prokind IN ('f', 'p')"
         "  AND NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.objid = p.oid AND dep.deptype = 'e')"
         " UNION ALL SELECT 'trigger ' || pg_get_triggerdef(t.oid) FROM pg_trigger t WHERE NOT t.tgisinternal"
         " UNION ALL SELECT 'enum ' || n.nspname || '.' || t.typname || ' ' ||"
         "  string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e"
         "  JOIN pg_type t ON t.oid = e.enumtypid JOIN pg_namespace n ON n.oid = t.typnamespace"
         "  GROUP BY n.nspname, t.typname"
         ") s";
}

}  // namespace

std::unique_ptr<PgConn> admin_connection(const Dsn& dsn, util::Deadline deadline) {
  try {
    return std::make_unique<PgConn>(dsn.with_dbname("postgres"), deadline);
  } catch (const Error& first) {
    try {
      return std::make_unique<PgConn>(dsn.with_dbname("template1"), deadline);
    } catch (const Error&) {
      throw first;
    }
  }
}

bool database_exists(PgConn& admin, const std::string& dbname) {
  return !admin.exec("SELECT 1 FROM pg_database WHERE datname = " + admin.quote_literal(dbname))
              .rows.empty();
}

DbInfo database_info(PgConn& admin, const std::string& dbname) {
  Result r = admin.exec(
      "SELECT pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datcollate, datctype "
      "FROM pg_database WHERE datname = " + admin.quote_literal(dbname));
  if (r.rows.empty()) throw Error("database " + dbname + " does not exist");
  DbInfo info;
  info.owner = r.rows[0][0].value_or("");
  info.encoding = r.rows[0][1].value_or("");
  info.collate = r.rows[0][2].value_or("");
  info.ctype = r.rows[0][3].value_or("");
  return info;
}

void drop_database(PgConn& admin, const std::string& dbname) {
  // Not DROP ... WITH (FORCE): it refuses when an autovacuum worker is in the database (a
  // freshly restored one often has one) unless we are superuser, while a plain DROP stops
  // autovacuum itself and waits up to 5 s for terminated sessions to exit. Only client
  // sessions are ours to end.
  admin.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = " +
             admin.quote_literal(dbname) +
             " AND pid <> pg_backend_pid() AND backend_type = 'client backend'");
  admin.exec("DROP DATABASE IF EXISTS " + admin.quote_ident(dbname));
}

void create_database(PgConn& admin, const std::string& dbname, const DbInfo& info) {
  std::string sql = "CREATE DATABASE " + admin.quote_ident(dbname) + " TEMPLATE template0";
  if (!info.owner.empty()) sql += " OWNER " + admin.quote_ident(info.owner);
  if (!info.encoding.empty()) sql += " ENCODING " + admin.quote_literal(info.encoding);
  if (!info.collate.empty()) sql += " LC_COLLATE " + admin.quote_literal(info.collate);
  if (!info.ctype.empty()) sql += " LC_CTYPE " + admin.quote_literal(info.ctype);
  admin.exec(sql);
}

uint64_t database_size(PgConn& conn) {
  try {
    auto v = conn.exec("SELECT pg_database_size(current_database())").first();
    return v ? std::stoull(*v) : 0;
  } catch (const Error&) {
    return 0;
  }
}

std::vector<std::string> user_tables(PgConn& conn) {
  Result r = conn.exec(
      std::string("SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c "
                  "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') "
                  "AND ") + kUserNs + " ORDER BY 1");
  std::vector<std::string> out;
  for (const auto& row : r.rows) out.push_back(row[0].value_or(""));
  return out;
}

nlohmann::json database_fingerprint(const Dsn& dsn, util::Deadline deadline) {
  {
    auto admin = admin_connection(dsn, deadline);
    if (!database_exists(*admin, dsn.dbname())) return "absent";
  }
  PgConn conn(dsn, deadline);
  nlohmann::json fp;
  fp["schema"] = conn.exec(schema_sql()).first().value_or("");
  nlohmann::json tables = nlohmann::json::object();
  for (const auto& t : user_tables(conn)) {
    // Order-independent and streaming (no 1 GB string_agg limit): the exact sums of two
    // 64-bit slices of each row's md5, so duplicates and changed rows both show.
    Result r = conn.exec(
        "SELECT count(*), md5(coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint::numeric), 0)"
        " || ':' || coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint::numeric), 0))"
        " FROM (SELECT md5(r::text) AS h FROM ONLY " + t + " r) s");
    tables[t] = {{"rows", std::stoll(r.rows[0][0].value_or("0"))},
                 {"md5", r.rows[0][1].value_or("")}};
  }
  fp["tables"] = tables;
  return fp;
}

nlohmann::json fingerprint_entry(const Dsn& dsn, util::Deadline deadline) {
  return {{"pg:" + dsn.resource(), database_fingerprint(dsn, deadline)}};
}

}  // namespace cutover::steps::pg
