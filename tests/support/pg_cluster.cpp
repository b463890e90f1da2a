#include "tests/support/pg_cluster.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdexcept>

#include "util/fs.h"
#include "util/process.h"
#include "util/strings.h"

namespace cutover::testing {
namespace {

const char* kBin = "/usr/lib/postgresql/15/bin";

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

util::ProcessResult run(const std::vector<std::string>& argv, const std::string& stdin_data = {},
                        std::map<std::string, std::string> env = {}) {
  util::ProcessSpec spec;
  spec.argv = argv;
  spec.stdin_data = stdin_data;
  spec.env = std::move(env);
  spec.honour_interrupt = false;
  spec.deadline = util::Deadline::after(std::chrono::minutes(5));
  return util::run_process(spec);
}

std::string must(const util::ProcessResult& r, const std::string& what) {
  if (!r.ok()) throw std::runtime_error(what + " failed (" + r.describe() + "): " + r.err + r.out);
  return r.out;
}

}  // namespace

std::string PgCluster::run_as_postgres(const std::string& cmd) const {
  std::vector<std::string> argv;
  if (::geteuid() == 0) argv = {"runuser", "-u", "postgres", "--"};
  argv.insert(argv.end(), {"/bin/sh", "-c", cmd});
  return must(run(argv), cmd);
}

PgCluster::PgCluster() {
  dir_ = util::make_temp_dir("cutover-pg-");
  data_ = dir_ + "/data";
  if (::geteuid() == 0) must(run({"chown", "postgres:postgres", dir_}), "chown");
  ::chmod(dir_.c_str(), 0755);
  port_ = free_port();
  run_as_postgres(std::string(kBin) + "/initdb -D " + util::shell_quote(data_) +
                  " -U postgres -A trust -E UTF8 --locale=C --no-sync >/dev/null");
  std::string hba =
      "local all all trust\n"
      "host all postgres 127.0.0.1/32 trust\n"
      "host all all 127.0.0.1/32 scram-sha-256\n";
  std::string conf =
      "\nport = " + std::to_string(port_) +
      "\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '" + data_ +
      "'\nfsync = off\nfull_page_writes = off\nsynchronous_commit = off\n"
      "shared_buffers = 64MB\nmax_connections = 40\nlog_min_messages = warning\n";
  run_as_postgres("cat > " + util::shell_quote(data_ + "/pg_hba.conf") + " <<'EOF'\n" + hba +
                  "EOF\ncat >> " + util::shell_quote(data_ + "/postgresql.conf") + " <<'EOF'\n" +
                  conf + "EOF\n");
  run_as_postgres(std::string(kBin) + "/pg_ctl -D " + util::shell_quote(data_) + " -l " +
                  util::shell_quote(dir_ + "/server.log") + " -w -t 60 start >/dev/null");
  started_ = true;
  // On stdin, not argv: tests that scan every process's argv for the password run alongside
  // other test processes starting their own clusters.
  must(run({"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", data_, "-p", std::to_string(port_),
            "-U", "postgres", "-d", "postgres", "-f", "-"},
           std::string("CREATE ROLE app LOGIN CREATEDB PASSWORD '") + kPassword + "';\n"),
       "psql CREATE ROLE");
}

PgCluster::~PgCluster() {
  try {
    if (started_)
      run_as_postgres(std::string(kBin) + "/pg_ctl -D " + util::shell_quote(data_) +
                      " -m immediate -w stop >/dev/null");
  } catch (...) {
  }
  try {
    util::remove_all(dir_);
  } catch (...) {
  }
}

std::string PgCluster::dsn(const std::string& db) const {
  return "postgresql://app@127.0.0.1:" + std::to_string(port_) + "/" + db;
}

std::string PgCluster::psql(const std::string& db, const std::string& sql) const {
  return must(run({"psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", data_, "-p",
                   std::to_string(port_), "-U", "postgres", "-d", db, "-c", sql}),
              "psql " + sql.substr(0, 200));
}

std::string PgCluster::psql_script(const std::string& db, const std::string& script) const {
  return must(run({"psql", "-X", "-At", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                   std::to_string(port_), "-U", "app", "-d", db, "-f", "-"},
                  script, {{"PGPASSWORD", kPassword}}),
              "psql script");
}

void PgCluster::create_db(const std::string& db) const {
  psql("postgres", "CREATE DATABASE \"" + db + "\" OWNER app TEMPLATE template0");
}

bool PgCluster::db_exists(const std::string& db) const {
  return util::trim(psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = '" + db +
                                         "'")) == "1";
}

void PgCluster::drop_db(const std::string& db) const {
  psql("postgres", "DROP DATABASE IF EXISTS \"" + db + "\" WITH (FORCE)");
}

PgCluster& PgCluster::shared() {
  static PgCluster c;
  return c;
}

std::map<std::string, TableStat> PgCluster::table_stats(const std::string& db) const {
  std::map<std::string, TableStat> out;
  std::string list = psql(db,
                          "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) "
                          "FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', "
                          "'information_schema') ORDER BY 1");
  for (const auto& t : util::split(util::trim(list), '\n')) {
    if (t.empty()) continue;
    std::string r = util::trim(psql(
        db, "SELECT count(*) || ' ' || md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), "
            "'')) FROM " + t + " x"));
    auto sp = r.find(' ');
    out[t] = TableStat{std::stoll(r.substr(0, sp)), r.substr(sp + 1)};
  }
  return out;
}

std::string PgCluster::schema_dump(const std::string& db) const {
  std::string out = must(run({"pg_dump", "-s", "-h", data_, "-p", std::to_string(port_), "-U",
                              "postgres", "-d", db}),
                         "pg_dump -s");
  std::string kept;
  for (const auto& line : util::split(out, '\n')) {
    if (util::starts_with(line, "--") || util::starts_with(line, "\\restrict") ||
        util::starts_with(line, "\\unrestrict") || line.empty())
      continue;
    kept += line + "\n";
  }
  return kept;
}

void PgCluster::custom_dump(const std::string& db, int level, const std::string& path) const {
  must(run({"pg_dump", "-Fc", "-Z", std::to_string(level), "-f", path, "-h", data_, "-p",
            std::to_string(port_), "-U", "postgres", "-d", db}),
       "pg_dump -Fc");
}

void PgCluster::seed(const std::string& db, int rows) const {
  drop_db(db);
  create_db(db);
  std::string n = std::to_string(rows), c = std::to_string(std::max(1, rows / 10));
  psql_script(db, R"SQL(
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE,
                        created timestamptz NOT NULL);
CREATE TABLE products (id bigserial PRIMARY KEY, sku text NOT NULL UNIQUE, price numeric(10,2),
                       attrs jsonb);
CREATE TABLE orders (id bigserial PRIMARY KEY,
                     customer_id int NOT NULL REFERENCES customers(id),
                     product_id bigint REFERENCES products(id),
                     qty int NOT NULL CHECK (qty > 0), note text, placed_at timestamptz);
CREATE INDEX orders_customer_idx ON orders (customer_id);
CREATE TABLE audit_log (at timestamptz, message text);
CREATE SEQUENCE invoice_no START 1000;
CREATE VIEW customer_totals AS
  SELECT c.id, c.name, count(o.id) AS orders, sum(o.qty) AS qty
  FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.id, c.name;
INSERT INTO customers (name, email, created)
  SELECT 'customer ' || g, 'c' || g || '@example.test',
         timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute'
  FROM generate_series(1, )SQL" + c + R"SQL() g;
INSERT INTO products (sku, price, attrs)
  SELECT 'SKU-' || g, (g % 1000) / 10.0, jsonb_build_object('color', g % 7, 'tags', 'x' || g)
  FROM generate_series(1, 500) g;
INSERT INTO orders (customer_id, product_id, qty, note, placed_at)
  SELECT 1 + g % )SQL" + c + R"SQL(, 1 + g % 500, 1 + g % 7, md5(g::text),
         timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second'
  FROM generate_series(1, )SQL" + n + R"SQL() g;
INSERT INTO audit_log SELECT timestamptz '2024-02-01 00:00:00+00' + g * interval '1 hour',
  'event ' || g FROM generate_series(1, 100) g;
SELECT nextval('invoice_no') FROM generate_series(1, 5);
)SQL");
}

}  // namespace cutover::testing
