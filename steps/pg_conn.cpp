#include "steps/pg_conn.h"

#include <condition_variable>
#include <mutex>
#include <thread>

#include "steps/pg_libpq.h"
#include "util/error.h"
#include "util/strings.h"

namespace cutover::steps::pg {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      int hi = i + 1 < s.size() ? hex_value(s[i + 1]) : -1;
      int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) throw Error("malformed DSN: bad percent-escape");
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The URI form: postgresql://[user[:password]@][host][:port][,...][/dbname][?key=value&...]
void parse_uri(const std::string& text, size_t scheme_len,
               std::vector<std::pair<std::string, std::string>>& params, std::string& password) {
  std::string rest = text.substr(scheme_len);
  std::string query;
  if (auto q = rest.find('?'); q != std::string::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string netloc = rest, path;
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    netloc = rest.substr(0, slash);
    path = rest.substr(slash + 1);
  }
  if (auto at = netloc.rfind('@'); at != std::string::npos) {
    std::string userinfo = netloc.substr(0, at);
    netloc = netloc.substr(at + 1);
    if (auto colon = userinfo.find(':'); colon != std::string::npos) {
      password = percent_decode(userinfo.substr(colon + 1));
      userinfo = userinfo.substr(0, colon);
    }
    if (!userinfo.empty()) params.emplace_back("user", percent_decode(userinfo));
  }
  std::vector<std::string> hosts, ports;
  bool any_port = false;
  for (const auto& hp : util::split(netloc, ',')) {
    std::string host = hp, port;
    if (!hp.empty() && hp[0] == '[') {
      auto close = hp.find(']');
      if (close == std::string::npos) throw Error("malformed DSN: unterminated [IPv6] host");
      host = hp.substr(1, close - 1);
      if (close + 1 < hp.size() && hp[close + 1] == ':') port = hp.substr(close + 2);
    } else if (auto colon = hp.rfind(':'); colon != std::string::npos) {
      host = hp.substr(0, colon);
      port = hp.substr(colon + 1);
    }
    hosts.push_back(percent_decode(host));
    ports.push_back(port);
    if (!port.empty()) any_port = true;
  }
  bool any_host = false;
  for (const auto& h : hosts) any_host = any_host || !h.empty();
  if (any_host) params.emplace_back("host", util::join(hosts, ","));
  if (any_port) params.emplace_back("port", util::join(ports, ","));
  if (!path.empty()) params.emplace_back("dbname", percent_decode(path));
  for (const auto& kv : util::split(query, '&')) {
    if (kv.empty()) continue;
    auto eq = kv.find('=');
    if (eq == std::string::npos) throw Error("malformed DSN: query parameter without '='");
    std::string k = percent_decode(kv.substr(0, eq)), v = percent_decode(kv.substr(eq + 1));
    if (k == "password") password = v;
    else params.emplace_back(k, v);
  }
}

// The libpq key=value form: host=db port=5432 dbname='my db'.
void parse_keywords(const std::string& text,
                    std::vector<std::pair<std::string, std::string>>& params,
                    std::string& password) {
  size_t i = 0, n = text.size();
  auto skip_ws = [&] {
    while (i < n && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  while (true) {
    skip_ws();
    if (i >= n) break;
    size_t k0 = i;
    while (i < n && text[i] != '=' && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    std::string key = text.substr(k0, i - k0);
    skip_ws();
    if (i >= n || text[i] != '=') throw Error("malformed DSN: missing '=' after '" + key + "'");
    ++i;
    skip_ws();
    std::string value;
    if (i < n && text[i] == '\'') {
      ++i;
      bool closed = false;
      while (i < n) {
        char c = text[i++];
        if (c == '\\' && i < n) value += text[i++];
        else if (c == '\'') { closed = true; break; }
        else value += c;
      }
      if (!closed) throw Error("malformed DSN: unterminated quoted value for '" + key + "'");
    } else {
      while (i < n && !std::isspace(static_cast<unsigned char>(text[i]))) {
        char c = text[i++];
        if (c == '\\' && i < n) value += text[i++];
        else value += c;
      }
    }
    if (key == "password") password = value;
    else params.emplace_back(key, value);
  }
}

std::string conninfo_quote(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

std::string lookup(const std::vector<std::pair<std::string, std::string>>& params,
                   const std::string& key) {
  for (const auto& [k, v] : params)
    if (k == key) return v;
  return "";
}

}  // namespace

Dsn Dsn::parse(const std::string& text, const std::string& password) {
  Dsn d;
  std::string t = util::trim(text);
  if (util::starts_with(t, "postgresql://")) parse_uri(t, 13, d.params_, d.password_);
  else if (util::starts_with(t, "postgres://")) parse_uri(t, 11, d.params_, d.password_);
  else parse_keywords(t, d.params_, d.password_);
  if (!password.empty()) d.password_ = password;
  return d;
}

std::string Dsn::conninfo() const {
  std::string out;
  for (const auto& [k, v] : params_) {
    if (!out.empty()) out += ' ';
    out += k + "=" + conninfo_quote(v);
  }
  return out;
}

std::string Dsn::conninfo_with_password() const {
  std::string out = conninfo();
  if (lookup(params_, "connect_timeout").empty()) out += " connect_timeout=10";
  out += " fallback_application_name=cutover";
  if (!password_.empty()) out += " password=" + conninfo_quote(password_);
  return out;
}

std::string Dsn::display() const {
  std::string user = lookup(params_, "user");
  std::string host = lookup(params_, "host");
  std::string port = lookup(params_, "port");
  std::string out = user.empty() ? "" : user + "@";
  out += host.empty() ? "localhost" : host;
  out += ":" + (port.empty() ? std::string("5432") : port);
  return out + "/" + dbname();
}

std::string Dsn::resource() const {
  std::string host = lookup(params_, "host");
  std::string port = lookup(params_, "port");
  return (host.empty() ? std::string("localhost") : host) + ":" +
         (port.empty() ? std::string("5432") : port) + "/" + dbname();
}

Dsn Dsn::with_dbname(const std::string& dbname) const {
  Dsn d = *this;
  bool set = false;
  for (auto& [k, v] : d.params_)
    if (k == "dbname") {
      v = dbname;
      set = true;
    }
  if (!set) d.params_.emplace_back("dbname", dbname);
  return d;
}

std::string Dsn::dbname() const {
  std::string db = lookup(params_, "dbname");
  return db.empty() ? lookup(params_, "user") : db;
}

std::map<std::string, std::string> Dsn::tool_env() const {
  std::map<std::string, std::string> env;
  if (!password_.empty()) env["PGPASSWORD"] = password_;
  return env;
}

std::optional<std::string> Result::first() const {
  if (rows.empty() || rows[0].empty()) return std::nullopt;
  return rows[0][0];
}

bool truthy(const std::optional<std::string>& value) {
  if (!value) return false;
  std::string v = util::trim(*value);
  for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (v == "t" || v == "true" || v == "yes" || v == "on" || v == "y") return true;
  if (v.empty() || v == "f" || v == "false" || v == "no" || v == "off" || v == "n") return false;
  try {
    return std::stod(v) != 0.0;
  } catch (...) {
    return true;  // any other non-empty text counts as a value
  }
}

struct PgConn::Impl {
  PGconn* pg = nullptr;
  ~Impl() {
    if (pg) libpq().finish(pg);
  }
};

namespace {

// Server notices ("table does not exist, skipping") are not errors: keep them off stderr.
void ignore_notice(void*, const char*) {}

// Cancels the running statement on the server when the deadline passes or a signal
// arrives; libpq's cancel request is safe to send from another thread.
class CancelWatch {
 public:
  CancelWatch(PGconn* conn, const util::Deadline& deadline) : cancel_(libpq().get_cancel(conn)) {
    thread_ = std::thread([this, deadline] {
      std::unique_lock<std::mutex> lock(mu_);
      while (!done_) {
        if (util::interrupted() || deadline.expired()) {
          fired_ = util::interrupted() ? "interrupted" : "timed out";
          char why[256];
          if (cancel_) libpq().cancel(cancel_, why, sizeof why);
          return;
        }
        cv_.wait_for(lock, std::chrono::milliseconds(50));
      }
    });
  }
  ~CancelWatch() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
    if (cancel_) libpq().free_cancel(cancel_);
  }
  /// "" when the watch did not fire, else "interrupted" / "timed out".
  std::string fired() {
    std::lock_guard<std::mutex> lock(mu_);
    return fired_;
  }

 private:
  PGcancel* cancel_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::string fired_;
  std::thread thread_;
};

Result to_result(const PGresult* r) {
  const Libpq& pq = libpq();
  Result out;
  int columns = pq.nfields(r);
  for (int c = 0; c < columns; ++c) out.columns.emplace_back(pq.fname(r, c));
  int rows = pq.ntuples(r);
  out.rows.reserve(static_cast<size_t>(rows));
  for (int i = 0; i < rows; ++i) {
    Row values;
    values.reserve(static_cast<size_t>(columns));
    for (int c = 0; c < columns; ++c) {
      if (pq.getisnull(r, i, c)) values.emplace_back(std::nullopt);
      else values.emplace_back(std::string(pq.getvalue(r, i, c), static_cast<size_t>(pq.getlength(r, i, c))));
    }
    out.rows.push_back(std::move(values));
  }
  return out;
}

// Runs `sql` (one or more statements; the result is the last one's). A failed statement
// becomes Error naming the database and its SQLSTATE, or Interrupted when the watch
// cancelled it; a dropped connection says so.
Result run_sql(PGconn* conn, const Dsn& dsn, CancelWatch& watch, const std::string& sql) {
  const Libpq& pq = libpq();
  std::unique_ptr<PGresult, void (*)(PGresult*)> r(pq.exec(conn, sql.c_str()), pq.clear);
  ExecStatusType st = r ? pq.result_status(r.get()) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY)
    return to_result(r.get());
  std::string why = watch.fired();
  if (!why.empty()) throw Interrupted("statement on " + dsn.display() + " " + why);
  if (pq.status(conn) == CONNECTION_BAD)
    throw Error("lost the connection to " + dsn.display() + ": " +
                util::trim(pq.error_message(conn)));
  if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH)
    throw Error("SQL on " + dsn.display() + " started a COPY with the client, which a step cannot serve",
                "use COPY ... FROM/TO a server file, or pg.restore for data");
  std::string msg = util::trim(r ? pq.result_error_message(r.get()) : pq.error_message(conn));
  const char* state = r ? pq.result_error_field(r.get(), PG_DIAG_SQLSTATE) : nullptr;
  throw Error("SQL failed on " + dsn.display() + ": " + msg +
              (state && *state ? std::string(" (SQLSTATE ") + state + ")" : std::string()));
}

// Ends an open transaction after a failure; a second error here would hide the first.
void rollback_quietly(PGconn* conn) {
  const Libpq& pq = libpq();
  if (PGresult* r = pq.exec(conn, "ROLLBACK")) pq.clear(r);
}

}  // namespace

PgConn::PgConn(const Dsn& dsn, util::Deadline deadline)
    : impl_(std::make_unique<Impl>()), dsn_(dsn), deadline_(deadline) {
  const Libpq& pq = libpq();
  impl_->pg = pq.connectdb(dsn.conninfo_with_password().c_str());
  if (!impl_->pg || pq.status(impl_->pg) != CONNECTION_OK) {
    std::string msg = impl_->pg ? util::trim(pq.error_message(impl_->pg)) : "out of memory";
    if (!dsn.password_.empty()) msg = util::replace_all(msg, dsn.password_, "***");
    throw Error("cannot connect to " + dsn.display() + ": " + msg,
                "check the DSN, that the server runs and accepts this user (pg_hba.conf), "
                "and the password");
  }
  pq.set_notice_processor(impl_->pg, ignore_notice, nullptr);
}

PgConn::~PgConn() = default;

Result PgConn::exec(const std::string& sql) {
  CancelWatch watch(impl_->pg, deadline_);
  return run_sql(impl_->pg, dsn_, watch, sql);
}

Result PgConn::query_readonly(const std::string& sql) {
  CancelWatch watch(impl_->pg, deadline_);
  run_sql(impl_->pg, dsn_, watch, "BEGIN READ ONLY");
  try {
    Result r = run_sql(impl_->pg, dsn_, watch, sql);
    run_sql(impl_->pg, dsn_, watch, "COMMIT");
    return r;
  } catch (...) {
    rollback_quietly(impl_->pg);
    throw;
  }
}

Result PgConn::exec_transaction(const std::string& sql, const std::string& verify,
                                const std::function<std::string(const Result&)>& check) {
  CancelWatch watch(impl_->pg, deadline_);
  run_sql(impl_->pg, dsn_, watch, "BEGIN");
  try {
    Result r = run_sql(impl_->pg, dsn_, watch, sql);
    if (!verify.empty()) {
      r = run_sql(impl_->pg, dsn_, watch, verify);
      std::string problem = check ? check(r) : std::string();
      if (!problem.empty()) throw Error(problem);
    }
    run_sql(impl_->pg, dsn_, watch, "COMMIT");
    return r;
  } catch (...) {
    rollback_quietly(impl_->pg);
    throw;
  }
}

int PgConn::server_version_num() { return libpq().server_version(impl_->pg); }

std::string PgConn::quote_ident(const std::string& name) {
  return escaped(libpq().escape_identifier(impl_->pg, name.c_str(), name.size()), name);
}

std::string PgConn::quote_literal(const std::string& value) {
  return escaped(libpq().escape_literal(impl_->pg, value.c_str(), value.size()), "a literal");
}

std::string PgConn::escaped(char* text, const std::string& what) {
  if (!text)
    throw Error("cannot quote " + what + " for " + dsn_.display() + ": " +
                util::trim(libpq().error_message(impl_->pg)));
  std::string out(text);
  libpq().freemem(text);
  return out;
}

}  // namespace cutover::steps::pg
