// A throwaway PostgreSQL cluster for tests: initdb into a temp folder owned by `postgres`
// (initdb and postgres refuse to run as root), a free loopback port, the socket in the data
// folder; started by the constructor and stopped (immediate) by the destructor (~1 s).
// Authentication: the superuser `postgres` is trusted over the Unix socket; role `app`
// (CREATEDB, owner of the test databases) must give its password (scram-sha-256) over TCP,
// so every step under test handles a real password.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace cutover::testing {

/// Row count and content checksum of one table.
struct TableStat {
  long long rows = 0;
  std::string md5;
  bool operator==(const TableStat& o) const { return rows == o.rows && md5 == o.md5; }
  bool operator!=(const TableStat& o) const { return !(*this == o); }
};

class PgCluster {
 public:
  /// Starts the cluster; throws std::runtime_error with initdb/pg_ctl output on failure.
  PgCluster();
  /// Stops the server and removes its folder.
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  /// One cluster per test process, started on first use (initdb + start take about a second);
  /// each test uses databases of its own.
  static PgCluster& shared();

  /// The password of role `app`.
  static constexpr const char* kPassword = "s3cret-Pa55-for-app";

  int port() const { return port_; }
  /// postgresql://app@127.0.0.1:PORT/DB (no password: it goes in the step's `password`).
  std::string dsn(const std::string& db) const;

  /// Runs SQL as the superuser over the socket (psql -X -At -v ON_ERROR_STOP=1, one -c per
  /// call); returns stdout. Throws std::runtime_error with psql's stderr on failure.
  std::string psql(const std::string& db, const std::string& sql) const;
  /// Runs a SQL script (stdin) as `app`.
  std::string psql_script(const std::string& db, const std::string& script) const;
  /// Creates an empty database owned by `app`.
  void create_db(const std::string& db) const;
  /// True if the database exists.
  bool db_exists(const std::string& db) const;
  /// Drops a database (if it exists).
  void drop_db(const std::string& db) const;

  /// Per-table row count and md5 of the rows sorted as text ("schema.table" -> stat).
  std::map<std::string, TableStat> table_stats(const std::string& db) const;
  /// `pg_dump -s` of the database, without its comment and \restrict lines.
  std::string schema_dump(const std::string& db) const;

  /// Seeds `db` (dropped and created afresh) with several tables linked by foreign keys, sequences,
  /// a view and about `rows` rows in the biggest table.
  void seed(const std::string& db, int rows = 100000) const;

  /// pg_dump -Fc -Z `level` of the database, as the superuser over the socket, into `path`.
  void custom_dump(const std::string& db, int level, const std::string& path) const;

  const std::string& dir() const { return dir_; }

 private:
  std::string run_as_postgres(const std::string& cmd) const;
  std::string dir_;
  std::string data_;
  int port_ = 0;
  bool started_ = false;
};

}  // namespace cutover::testing
