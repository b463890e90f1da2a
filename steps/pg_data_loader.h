// Parallel loading of a dump's data section. pg_restore loads each table over one connection,
// and on a large table of json, numeric or date/time values the server backend parsing that
// COPY is the bottleneck (one core). The loader reads the data section as pg_restore prints it
// (ArchiveText's text, or `pg_restore --section=data -f -` for archives it does not read) and
// spreads the rows of such tables over several
// connections, so several backends parse at once; other tables load over one connection.
// Everything else in the data section (SET, setval, large objects) runs in order on the first
// connection; session settings run on all of them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "steps/pg_conn.h"
#include "util/cancel.h"

namespace cutover::steps::pg {

class DataLoader {
 public:
  /// Opens `connections` connections to `target` (at least 1). Throws Error if one fails.
  DataLoader(const Dsn& target, int connections, util::Deadline deadline);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  /// Takes the next bytes of the script. Throws Error naming the table or statement when the
  /// server refuses something, Interrupted on SIGINT/SIGTERM or the deadline.
  void feed(const char* data, size_t n);
  /// The script has ended: throws Error if it stopped inside a COPY or a statement.
  void finish();

  /// Bytes on disk of the connected database's tables whose rows the loader would spread
  /// (pg.dump records it in the artifact's meta as `costly_bytes`).
  static uint64_t costly_bytes(PgConn& db);
  /// Below this many costly bytes, one pg_restore is as fast as spreading the rows.
  static constexpr uint64_t kSpreadMin = 64ull << 20;

  /// True if some table of the connected database has columns whose rows the loader would
  /// spread over several connections (otherwise a plain pg_restore loads as fast).
  static bool would_spread(PgConn& target);

  /// Rows loaded per table ("schema.table" as the dump names it), from the servers' COPY counts.
  const std::map<std::string, long long>& rows() const { return rows_; }

 private:
  struct Conn;
  size_t lines(const char* p, size_t n);  // handles the whole lines; returns their length
  void line(const std::string& text);
  void statement(const std::string& sql);
  void begin_copy(const std::string& sql);
  void send(const char* data, size_t n);
  void end_copy();
  void check_cancel() const;
  bool costly_to_parse(const std::string& table);

  std::vector<std::unique_ptr<Conn>> conns_;
  util::Deadline deadline_;
  std::string display_;
  std::string buf_;        // a line cut by the end of the last feed()
  std::string stmt_;       // a statement spanning lines
  std::string table_;      // the table of the COPY in progress ("" outside a COPY)
  size_t active_ = 1;      // connections loading the current table: the first active_
  size_t next_ = 0;        // round-robin position
  std::map<std::string, long long> rows_;
};

}  // namespace cutover::steps::pg
