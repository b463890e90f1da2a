// The PostgreSQL connection layer of the pg step family: DSN parsing (URI and key=value forms)
// and a small connection wrapper over libpq (opened on first use: steps/pg_libpq.h), so that
// no other step file calls libpq (STYLE 9).
// Passwords never travel inside a printed DSN: Dsn::display() and Dsn::conninfo() leave them
// out; only PgConn (in-process) and tool_env() (PGPASSWORD for child processes) see them.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "util/cancel.h"

namespace cutover::steps::pg {

/// A parsed connection target. Built from a plan's `dsn` (a postgresql:// URI or libpq
/// key=value text) and `password`; a password embedded in the DSN is taken out of it.
class Dsn {
 public:
  /// Parses `text`; `password` (may be empty) overrides one embedded in the DSN.
  /// Throws Error (without echoing the DSN's password) when the text is malformed.
  static Dsn parse(const std::string& text, const std::string& password = {});

  /// libpq key=value connection string WITHOUT the password (safe for child argv).
  std::string conninfo() const;
  /// "user@host:port/dbname": for plan output and error messages (never a password).
  std::string display() const;
  /// "host:port/dbname": the key of this database's fingerprint ("pg:" + resource()).
  std::string resource() const;
  /// The same server and credentials, another database.
  Dsn with_dbname(const std::string& dbname) const;
  /// The database name ("" = libpq default: the user name).
  std::string dbname() const;
  /// Environment for pg_dump/pg_restore/psql: PGPASSWORD when a password is set.
  std::map<std::string, std::string> tool_env() const;
  /// Every secret value this DSN holds (for redaction of child output).
  const std::string& password() const { return password_; }

 private:
  friend class PgConn;
  friend class DataLoader;  // its COPY connections are plain libpq
  std::string conninfo_with_password() const;
  std::vector<std::pair<std::string, std::string>> params_;  // keyword -> value, no password
  std::string password_;
};

/// One row of a query result: NULL is std::nullopt.
using Row = std::vector<std::optional<std::string>>;

/// A query result: column names and rows, all values as text.
struct Result {
  std::vector<std::string> columns;
  std::vector<Row> rows;
  /// First value of the first row, or nullopt (no rows or NULL).
  std::optional<std::string> first() const;
};

/// A libpq connection behind a pimpl. Every method throws cutover::Error naming the database (display form)
/// on failure, and cutover::Interrupted when the deadline passes or SIGINT/SIGTERM arrives
/// while a statement runs (the statement is cancelled on the server).
class PgConn {
 public:
  /// Connects; throws Error "cannot connect to user@host:port/db: ..." on failure.
  explicit PgConn(const Dsn& dsn, util::Deadline deadline = {});
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  /// Runs SQL (may hold several statements) outside any explicit transaction; returns the
  /// result of the last statement.
  Result exec(const std::string& sql);
  /// Runs SQL in a read-only transaction (checks).
  Result query_readonly(const std::string& sql);
  /// Runs `sql`, then `verify` (when not empty) in one transaction. The transaction commits
  /// only if `check(verify result)` returns "" ; otherwise it rolls back and Error is thrown
  /// with check's text as the message. Returns the verify result (or sql's).
  Result exec_transaction(const std::string& sql, const std::string& verify = {},
                          const std::function<std::string(const Result&)>& check = {});
  /// server_version_num (e.g. 150020).
  int server_version_num();
  /// Quotes an identifier ("my table" -> "\"my table\"").
  std::string quote_ident(const std::string& name);
  /// Quotes a string literal.
  std::string quote_literal(const std::string& value);
  const Dsn& dsn() const { return dsn_; }

 private:
  struct Impl;
  // Takes a PQescape* result (freed here); throws when libpq returned NULL.
  std::string escaped(char* text, const std::string& what);
  std::unique_ptr<Impl> impl_;
  Dsn dsn_;
  util::Deadline deadline_;
};

/// True when the value is PostgreSQL-truthy ("t", "true", "1", "yes", "on", non-zero number).
bool truthy(const std::optional<std::string>& value);

}  // namespace cutover::steps::pg
