// The merge restore. Data flows as one stream, nothing is held in memory or on disk:
//
//   artifact store -> pg_restore --data-only -L <tables+sequences> -f -  (SQL script)
//     -> rewrite: each `COPY t (cols) FROM stdin` goes into a temp staging table
//     -> psql --single-transaction: staging loads, then one upsert per table, in dump
//        order (pg_dump orders table data by foreign keys), then sequences moved forward.
//
// Anything failing on the way makes psql roll the whole transaction back.
#include "steps/pg_merge.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <regex>
#include <thread>

#include "checkpoints/artifact_store.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace cutover::steps::pg {
namespace {

struct Table {
  std::string schema, name, qname;    // qname: quoted "schema.table" as pg_dump prints it
  std::vector<std::string> key;       // quoted key columns
  bool primary = false;               // key is the primary key (ON CONFLICT works)
};

// Splits "(a, "b, c", d)" into quoted identifiers.
std::vector<std::string> split_columns(const std::string& list) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (char c : list) {
    if (c == '"') quoted = !quoted;
    if (c == ',' && !quoted) {
      out.push_back(util::trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!util::trim(cur).empty()) out.push_back(util::trim(cur));
  return out;
}

std::string prefixed(const std::vector<std::string>& cols, const std::string& prefix,
                     const std::string& sep = ", ") {
  std::vector<std::string> out;
  for (const auto& c : cols) out.push_back(prefix + c);
  return util::join(out, sep);
}

// Rewrites pg_restore's data-only script into staging loads, and writes the upserts at the end.
class Rewriter {
 public:
  Rewriter(std::map<std::string, Table> tables, std::function<bool(std::string)> out)
      : tables_(std::move(tables)), out_(std::move(out)) {}

  void feed(const char* d, size_t n) {
    carry_.append(d, n);
    size_t start = 0;
    for (size_t nl; (nl = carry_.find('\n', start)) != std::string::npos; start = nl + 1)
      line(carry_.substr(start, nl - start));
    carry_.erase(0, start);
    if (buf_.size() >= (1u << 20)) flush();
  }

  /// pg_restore finished: the upserts and sequence moves, in dump order.
  void finish() {
    for (const auto& s : staged_) buf_ += upsert(s.first, s.second);
    for (const auto& s : setvals_) buf_ += s;
    flush();
  }

  /// pg_restore failed: end any COPY and make psql fail, so the transaction rolls back.
  void abort() {
    if (in_copy_) buf_ += carry_ + "\n\\.\n";
    buf_ += "DO $$BEGIN RAISE EXCEPTION 'cutover: merge aborted'; END$$;\n";
    flush();
  }

  long long tables() const { return static_cast<long long>(staged_.size()); }

 private:
  void line(const std::string& l) {
    if (in_copy_) {
      buf_ += l;
      buf_ += '\n';
      if (l == "\\.") in_copy_ = false;
      return;
    }
    static const std::regex copy_re(R"(^COPY (.+) \((.*)\) FROM stdin;$)");
    static const std::regex setval_re(R"(^SELECT pg_catalog\.setval\((.+), (\d+), (true|false)\);$)");
    std::smatch m;
    if (std::regex_match(l, m, copy_re)) {
      auto it = tables_.find(m[1].str());
      if (it == tables_.end()) {
        failed_ = "merge: unexpected table " + m[1].str() + " in the dump";
        buf_ += "DO $$BEGIN RAISE EXCEPTION 'cutover: unexpected table'; END$$;\n";
        return;
      }
      std::string stage = "pg_temp.cutover_stage_" + std::to_string(staged_.size() + 1);
      auto cols = split_columns(m[2].str());
      buf_ += "CREATE TEMP TABLE " + stage.substr(8) + " (LIKE " + it->second.qname +
              ") ON COMMIT DROP;\n";
      buf_ += "COPY " + stage + " (" + m[2].str() + ") FROM stdin;\n";
      staged_.emplace_back(it->second, cols);
      in_copy_ = true;
      return;
    }
    if (std::regex_match(l, m, setval_re)) {
      // Sequences only move forward: a merge must not make the target reuse ids.
      std::string seq = m[1].str(), n = m[2].str();
      setvals_.push_back("SELECT pg_catalog.setval(" + seq + ", " + n + ", " + m[3].str() +
                         ") WHERE " + n + " > coalesce((SELECT last_value FROM pg_sequences "
                         "WHERE (quote_ident(schemaname) || '.' || quote_ident(sequencename))"
                         "::regclass = " + seq + "::regclass), 0);\n");
      return;
    }
    buf_ += l;
    buf_ += '\n';
  }

  std::string upsert(const Table& t, const std::vector<std::string>& cols) {
    std::string stage = "pg_temp.cutover_stage_" + std::to_string(++emitted_);
    std::vector<std::string> rest;  // columns to update
    for (const auto& c : cols)
      if (std::find(t.key.begin(), t.key.end(), c) == t.key.end()) rest.push_back(c);
    std::string list = util::join(cols, ", ");
    std::string sql;
    if (t.primary) {
      sql = "WITH up AS (INSERT INTO " + t.qname + " AS d (" + list + ") OVERRIDING SYSTEM VALUE "
            "SELECT " + list + " FROM " + stage + " ON CONFLICT (" + util::join(t.key, ", ") + ") ";
      if (rest.empty()) {
        sql += "DO NOTHING";
      } else {
        std::vector<std::string> sets;
        for (const auto& c : rest) sets.push_back(c + " = EXCLUDED." + c);
        // Unchanged rows are not rewritten: a second identical merge changes nothing.
        sql += "DO UPDATE SET " + util::join(sets, ", ") + " WHERE ROW(" + prefixed(rest, "d.") +
               ")::text IS DISTINCT FROM ROW(" + prefixed(rest, "EXCLUDED.") + ")::text";
      }
      sql += " RETURNING 1) SELECT 'cutover-rows|' || count(*) FROM up;\n";
      return sql;
    }
    std::vector<std::string> match, sets;
    for (const auto& k : t.key) match.push_back("d." + k + " IS NOT DISTINCT FROM s." + k);
    for (const auto& c : rest) sets.push_back(c + " = s." + c);
    std::string src = "(SELECT DISTINCT ON (" + util::join(t.key, ", ") + ") * FROM " + stage +
                      " ORDER BY " + util::join(t.key, ", ") + ")";
    sql = "WITH ";
    if (!rest.empty())
      sql += "u AS (UPDATE " + t.qname + " AS d SET " + util::join(sets, ", ") + " FROM " + src +
             " s WHERE " + util::join(match, " AND ") + " AND ROW(" + prefixed(rest, "d.") +
             ")::text IS DISTINCT FROM ROW(" + prefixed(rest, "s.") + ")::text RETURNING 1), ";
    sql += "i AS (INSERT INTO " + t.qname + " (" + list + ") OVERRIDING SYSTEM VALUE SELECT " +
           prefixed(cols, "s.") + " FROM " + src + " s WHERE NOT EXISTS (SELECT 1 FROM " +
           t.qname + " d WHERE " + util::join(match, " AND ") + ") RETURNING 1) ";
    sql += "SELECT 'cutover-rows|' || ((SELECT count(*) FROM i)" +
           std::string(rest.empty() ? "" : " + (SELECT count(*) FROM u)") + ");\n";
    return sql;
  }

  void flush() {
    if (buf_.empty()) return;
    if (!gone_ && !out_(std::move(buf_))) gone_ = true;  // psql died: drain, it reports why
    buf_.clear();
  }

 public:
  std::string failed_;

 private:
  std::map<std::string, Table> tables_;
  std::function<bool(std::string)> out_;
  std::vector<std::pair<Table, std::vector<std::string>>> staged_;
  std::vector<std::string> setvals_;
  std::string carry_, buf_;
  bool in_copy_ = false, gone_ = false;
  int emitted_ = 0;
};

// The tables of the dump ("schema name" pairs) and the TOC list of data entries to restore.
std::vector<std::pair<std::string, std::string>> read_toc(Context& ctx, const Dsn& target,
                                                          const std::string& id,
                                                          std::string& list) {
  util::ProcessSpec spec;
  spec.argv = {tool_path("pg_restore"), "-l"};
  auto r = run_tool_with_artifact(ctx, target, spec, id, "read the dump's table of contents");
  std::vector<std::pair<std::string, std::string>> tables;
  for (const auto& l : util::split(r.out, '\n')) {
    if (l.empty() || l[0] == ';') continue;
    auto td = l.find(" TABLE DATA ");
    if (td != std::string::npos) {
      auto parts = util::split(l.substr(td + 12), ' ');
      if (parts.size() >= 2) tables.emplace_back(parts[0], parts[1]);
      list += l + "\n";
    } else if (l.find(" SEQUENCE SET ") != std::string::npos) {
      list += l + "\n";
    }
  }
  return tables;
}

}  // namespace

MergeResult merge_artifact(Context& ctx, const Dsn& target, const std::string& id,
                           const nlohmann::json& keys) {
  if (artifact_format(ctx, id) != "custom")
    throw Error("pg.restore mode: merge needs a custom-format dump (pg.dump format: custom)");
  std::string list;
  auto dumped = read_toc(ctx, target, id, list);

  // Check every table before changing anything: present in the target, and keyed.
  std::map<std::string, Table> tables;
  std::vector<std::string> missing, keyless;
  {
    PgConn conn(target, ctx.deadline);
    for (const auto& [schema, name] : dumped) {
      Result r = conn.exec(
          "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), (SELECT "
          "string_agg(quote_ident(a.attname), ',' ORDER BY array_position(i.indkey::int2[], "
          "a.attnum)) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND "
          "a.attnum = ANY(i.indkey) WHERE i.indrelid = c.oid AND i.indisprimary) FROM pg_class c "
          "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = " +
          conn.quote_literal(schema) + " AND c.relname = " + conn.quote_literal(name) +
          " AND c.relkind IN ('r', 'p')");
      std::string plain = schema + "." + name;
      if (r.rows.empty()) {
        missing.push_back(plain);
        continue;
      }
      Table t{schema, name, r.rows[0][0].value_or(""), {}, false};
      const json* given = nullptr;
      for (const auto& k : {plain, schema == "public" ? name : plain})
        if (keys.is_object() && keys.contains(k)) given = &keys[k];
      if (given) {
        for (const auto& c : *given) t.key.push_back(conn.quote_ident(c.get<std::string>()));
      } else if (r.rows[0][1]) {
        t.key = util::split(*r.rows[0][1], ',');
        t.primary = true;
      } else {
        keyless.push_back(plain);
        continue;
      }
      tables[t.qname] = t;
    }
  }
  if (!missing.empty())
    throw Error("merge: tables of the dump missing from " + target.display() + ": " +
                    util::join(missing, ", "),
                "create them first (pg.sql), or restore with mode: replace");
  if (!keyless.empty())
    throw Error("merge: tables without a primary key: " + util::join(keyless, ", "),
                "add a primary key, or give their key columns in `keys: {table: [col, ...]}`");

  std::string dir = scratch_dir(ctx, "pgmerge");
  std::string list_file = dir + "/toc.list";
  util::write_file_atomic(list_file, list, 0600);

  // psql consumes the rewritten stream on its own thread.
  struct Pipe {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::string> q;
    size_t bytes = 0;
    bool closed = false, gone = false;
  } pipe;
  auto push = [&](std::string s) {
    std::unique_lock<std::mutex> lock(pipe.mu);
    pipe.cv.wait(lock, [&] { return pipe.gone || pipe.bytes < (8u << 20); });
    if (pipe.gone) return false;
    pipe.bytes += s.size();
    pipe.q.push_back(std::move(s));
    pipe.cv.notify_all();
    return true;
  };
  std::string pending;
  size_t pending_off = 0;
  util::ProcessSpec psql;
  psql.argv = {tool_path("psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "--single-transaction",
               "-d", target.conninfo(), "-f", "-"};
  psql.stdin_reader = [&](char* buf, size_t cap) -> size_t {
    if (pending_off >= pending.size()) {
      std::unique_lock<std::mutex> lock(pipe.mu);
      pipe.cv.wait(lock, [&] { return pipe.closed || !pipe.q.empty(); });
      if (pipe.q.empty()) return 0;
      pending = std::move(pipe.q.front());
      pipe.q.pop_front();
      pipe.bytes -= pending.size();
      pending_off = 0;
      pipe.cv.notify_all();
    }
    size_t n = std::min(cap, pending.size() - pending_off);
    std::memcpy(buf, pending.data() + pending_off, n);
    pending_off += n;
    return n;
  };
  util::ProcessResult psql_result;
  std::exception_ptr psql_error;
  std::thread consumer([&] {
    try {
      psql_result = run_tool(ctx, target, psql);
    } catch (...) {
      psql_error = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(pipe.mu);
    pipe.gone = true;
    pipe.cv.notify_all();
  });
  auto close_pipe = [&] {
    std::lock_guard<std::mutex> lock(pipe.mu);
    pipe.closed = true;
    pipe.cv.notify_all();
  };

  Rewriter rw(tables, push);
  util::ProcessSpec restore;
  restore.argv = {tool_path("pg_restore"), "--data-only", "-L", list_file, "-f", "-"};
  restore.on_stdout = [&](const char* d, size_t n) { rw.feed(d, n); };
  try {
    run_tool_with_artifact(ctx, target, restore, id, "merge into " + target.display());
    rw.finish();
  } catch (...) {
    rw.abort();
    close_pipe();
    consumer.join();
    util::remove_all(dir);
    throw;
  }
  close_pipe();
  consumer.join();
  util::remove_all(dir);
  if (psql_error) std::rethrow_exception(psql_error);
  if (!rw.failed_.empty()) throw Error(rw.failed_);

  MergeResult res;
  res.tables = rw.tables();
  for (const auto& l : util::split(psql_result.out, '\n'))
    if (util::starts_with(l, "cutover-rows|")) res.rows += std::stoll(l.substr(13));
  ctx.log("merged " + std::to_string(res.tables) + " tables into " + target.display() + ": " +
          std::to_string(res.rows) + " rows inserted or updated");
  return res;
}

}  // namespace cutover::steps::pg
