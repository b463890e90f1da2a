#include "steps/pg_data_loader.h"

#include <poll.h>

#include <cstdlib>
#include <cstring>
#include <thread>

#include "steps/pg_archive.h"
#include "steps/pg_libpq.h"
#include "util/error.h"
#include "util/redact.h"
#include "util/strings.h"

namespace cutover::steps::pg {
namespace {

// Rows go to a connection in slices of about this size, cut at line ends.
constexpr size_t kSlice = 256 * 1024;

bool starts_with(const std::string& s, const char* prefix) {
  return s.compare(0, std::strlen(prefix), prefix) == 0;
}

bool ends_with(const std::string& s, const char* suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

void ignore_notice(void*, const char*) {}

}  // namespace

struct DataLoader::Conn {
  PGconn* pg = nullptr;
  ~Conn() {
    if (pg) libpq().finish(pg);
  }
  std::string error() const { return util::trim(libpq().error_message(pg)); }
  // True once everything queued has reached the socket.
  bool flushed() { return libpq().flush(pg) == 0; }
};

DataLoader::DataLoader(const Dsn& target, int connections, util::Deadline deadline)
    : deadline_(deadline), display_(target.display()) {
  // All at once: a connection costs ~40 ms here, mostly the server starting a backend.
  const std::string conninfo = target.conninfo_with_password();
  conns_.resize(static_cast<size_t>(std::max(1, connections)));
  std::vector<std::thread> connecting;
  for (auto& c : conns_) {
    c = std::make_unique<Conn>();
    connecting.emplace_back([&conninfo, pc = c.get()] { pc->pg = libpq().connectdb(conninfo.c_str()); });
  }
  for (auto& t : connecting) t.join();
  for (auto& c : conns_) {
    if (!c->pg || libpq().status(c->pg) != CONNECTION_OK) {
      std::string why = c->pg ? c->error() : "out of memory";
      if (!target.password().empty()) why = util::replace_all(why, target.password(), "***");
      throw Error("cannot connect to " + display_ + " to load data: " + why);
    }
    libpq().set_notice_processor(c->pg, ignore_notice, nullptr);
  }
}

DataLoader::~DataLoader() = default;

void DataLoader::check_cancel() const {
  if (util::interrupted()) throw Interrupted("loading data into " + display_ + " was interrupted");
  if (deadline_.expired()) throw Interrupted("loading data into " + display_ + " timed out (step timeout)");
}

void DataLoader::feed(const char* data, size_t n) {
  // The caller's bytes are read where they are; only a line cut by their end waits in buf_.
  if (!buf_.empty()) {
    const void* nl = std::memchr(data, '\n', n);
    if (!nl) {
      buf_.append(data, n);
      return;
    }
    size_t head = static_cast<const char*>(nl) - data + 1;
    buf_.append(data, head);
    std::string line;
    line.swap(buf_);
    lines(line.data(), line.size());  // one whole line
    data += head;
    n -= head;
  }
  size_t used = lines(data, n);
  buf_.assign(data + used, n - used);
}

size_t DataLoader::lines(const char* p, size_t n) {
  size_t pos = 0;
  while (pos < n) {
    if (table_.empty()) {
      const void* nl = std::memchr(p + pos, '\n', n - pos);
      if (!nl) break;
      size_t end = static_cast<const char*>(nl) - p;
      line(std::string(p + pos, end - pos));
      pos = end + 1;
      continue;
    }
    // Inside a COPY: rows until a line holding only "\.". A row never is "\." (COPY text
    // escapes every backslash), so the marker is found by searching for it at a line start.
    if (n - pos >= 3 && std::memcmp(p + pos, "\\.\n", 3) == 0) {
      end_copy();
      pos += 3;
      continue;
    }
    const void* marker = memmem(p + pos, n - pos, "\n\\.\n", 4);
    const void* last = marker ? marker : memrchr(p + pos, '\n', n - pos);
    if (!last) break;
    // Every whole row now, in slices cut at line ends; the rows up to the marker line, if it
    // is here.
    const size_t end = static_cast<const char*>(last) - p + 1;
    while (pos < end) {
      size_t len = end - pos;
      if (len > kSlice) {
        const char* from = p + pos + kSlice - 1;
        len = static_cast<const char*>(std::memchr(from, '\n', p + end - from)) - (p + pos) + 1;
      }
      send(p + pos, len);
      pos += len;
    }
  }
  return pos;
}

void DataLoader::finish() {
  if (!table_.empty()) throw Error("the dump's data for " + table_ + " ended before its end marker");
  if (!buf_.empty() || !stmt_.empty())
    throw Error("the dump's data section ended inside a statement");
}

void DataLoader::line(const std::string& text) {
  if (stmt_.empty()) {
    if (text.empty() || starts_with(text, "--")) return;
    if (starts_with(text, "\\")) {
      // psql meta-commands pg_restore prints around a script; they change nothing on the server.
      if (starts_with(text, "\\restrict ") || starts_with(text, "\\unrestrict ")) return;
      throw Error("unexpected psql command in the dump's data section: " + text.substr(0, 40));
    }
  }
  stmt_ += text;
  stmt_ += '\n';
  if (!ends_with(text, ";")) return;
  std::string sql;
  sql.swap(stmt_);
  if (starts_with(sql, "COPY ") && ends_with(sql, " FROM stdin;\n")) begin_copy(sql);
  else statement(sql);
}

void DataLoader::statement(const std::string& sql) {
  check_cancel();
  // Session settings hold on every connection; everything else runs once, in order.
  bool session = starts_with(sql, "SET ") || starts_with(sql, "SELECT pg_catalog.set_config(");
  for (size_t i = 0; i < (session ? conns_.size() : 1); ++i) {
    PGresult* r = libpq().exec(conns_[i]->pg, sql.c_str());
    ExecStatusType st = libpq().result_status(r);
    std::string msg = util::trim(libpq().result_error_message(r));
    libpq().clear(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
      throw Error("restoring data into " + display_ + " failed at `" +
                  util::redact(util::trim(sql).substr(0, 80)) + "`: " + msg);
  }
}

void DataLoader::begin_copy(const std::string& sql) {
  check_cancel();
  table_ = copy_table(sql);
  active_ = conns_.size() > 1 && costly_to_parse(table_) ? conns_.size() : 1;
  next_ = 0;
  for (size_t i = 0; i < active_; ++i) {
    PGresult* r = libpq().exec(conns_[i]->pg, sql.c_str());
    ExecStatusType st = libpq().result_status(r);
    std::string msg = util::trim(libpq().result_error_message(r));
    libpq().clear(r);
    if (st != PGRES_COPY_IN) throw Error("cannot load " + table_ + " into " + display_ + ": " + msg);
    libpq().setnonblocking(conns_[i]->pg, 1);
  }
}

namespace {

// Column types whose text input costs the server real work: json, numeric, date/time, arrays,
// ranges, network and geometric values.
const char* kCostlyColumn =
    "a.attnum > 0 AND NOT a.attisdropped AND (t.typcategory IN ('A', 'D', 'G', 'I', 'R') OR "
    "t.typname IN ('numeric', 'json', 'jsonb', 'xml', 'tsvector', 'tsquery'))";

}  // namespace

// Spreading one table's rows over several backends pays when parsing them is the work. Rows of
// integers and text are cheap to parse; there two backends only contend for extending the same
// table and interleave its rows, so its indexes build from unsorted input (measured on
// pgbench's accounts: slower both ways).
bool DataLoader::costly_to_parse(const std::string& table) {
  PGconn* pg = conns_[0]->pg;
  char* lit = libpq().escape_literal(pg, table.c_str(), table.size());
  if (!lit) return false;
  std::string sql =
      "SELECT count(*) FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
      "WHERE a.attrelid = " + std::string(lit) + "::pg_catalog.regclass AND " + kCostlyColumn;
  libpq().freemem(lit);
  PGresult* r = libpq().exec(pg, sql.c_str());
  bool costly = libpq().result_status(r) == PGRES_TUPLES_OK && libpq().ntuples(r) == 1 &&
                std::atoll(libpq().getvalue(r, 0, 0)) > 0;
  libpq().clear(r);
  return costly;
}

uint64_t DataLoader::costly_bytes(PgConn& db) {
  std::string sql =
      "SELECT coalesce(sum(pg_catalog.pg_relation_size(c.oid)), 0) FROM pg_catalog.pg_class c "
      "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND "
      "n.nspname NOT IN ('pg_catalog', 'information_schema') AND EXISTS (SELECT 1 FROM "
      "pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid WHERE "
      "a.attrelid = c.oid AND " + std::string(kCostlyColumn) + ")";
  return std::stoull(db.exec(sql).first().value_or("0"));
}

bool DataLoader::would_spread(PgConn& target) {
  std::string sql =
      "SELECT count(*) FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
      "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
      "WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND " +
      std::string(kCostlyColumn);
  return std::stoll(target.exec(sql).first().value_or("0")) > 0;
}

void DataLoader::send(const char* data, size_t n) {
  // To the next connection that has sent everything it was given; when all are busy, wait
  // until one of them can write again.
  for (;;) {
    for (size_t k = 0; k < active_; ++k) {
      Conn& c = *conns_[(next_ + k) % active_];
      if (!c.flushed()) continue;
      int put = libpq().put_copy_data(c.pg, data, static_cast<int>(n));
      if (put < 0) throw Error("loading " + table_ + " into " + display_ + " failed: " + c.error());
      if (put == 0) continue;
      libpq().flush(c.pg);
      next_ = (next_ + k + 1) % active_;
      return;
    }
    check_cancel();
    std::vector<pollfd> fds;
    for (size_t i = 0; i < active_; ++i) fds.push_back({libpq().socket(conns_[i]->pg), POLLOUT | POLLIN, 0});
    poll(fds.data(), fds.size(), 200);
    for (size_t i = 0; i < fds.size(); ++i)
      if (fds[i].revents & POLLIN) libpq().consume_input(conns_[i]->pg);  // notices, an early error
  }
}

void DataLoader::end_copy() {
  for (size_t i = 0; i < active_; ++i) {
    Conn* c = conns_[i].get();
    while (!c->flushed()) {
      check_cancel();
      pollfd fd{libpq().socket(c->pg), POLLOUT | POLLIN, 0};
      poll(&fd, 1, 200);
      if (fd.revents & POLLIN) libpq().consume_input(c->pg);
    }
    libpq().setnonblocking(c->pg, 0);
    if (libpq().put_copy_end(c->pg, nullptr) != 1)
      throw Error("loading " + table_ + " into " + display_ + " failed: " + c->error());
  }
  long long rows = 0;
  std::string failure;
  for (size_t i = 0; i < active_; ++i) {
    while (PGresult* r = libpq().get_result(conns_[i]->pg)) {
      if (libpq().result_status(r) == PGRES_COMMAND_OK) {
        const char* t = libpq().cmd_tuples(r);
        if (t && *t) rows += std::stoll(t);
      } else if (failure.empty()) {
        failure = util::trim(libpq().result_error_message(r));
      }
      libpq().clear(r);
    }
  }
  if (!failure.empty())
    throw Error("loading " + table_ + " into " + display_ + " failed: " + failure);
  rows_[table_] += rows;
  table_.clear();
}

}  // namespace cutover::steps::pg
