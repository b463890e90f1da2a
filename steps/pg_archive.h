// Reads a pg_dump custom-format archive as it streams, without pg_restore.
//
// pg.restore's parallel load used to run `pg_restore --section=data -f -` only to turn the
// archive's data blocks into COPY text for DataLoader. That process and its two pipes cost
// about a seventh of a core while the server backends parsing the rows want both (2M varied
// rows: the load took 0.5-0.6 s less with pg_restore's output replayed from a file, in four
// alternating runs). ArchiveText does the same conversion in-process: it reads the header and
// the table of contents, then turns each TABLE DATA block into its COPY statement and rows,
// and each SEQUENCE SET entry into its setval(), in table-of-contents order, as pg_restore
// prints them.
//
// ArchiveRows reads the same stream as pg_dump writes it and counts each table's rows, so
// that pg.dump records them without asking the server to count (see dump_to_store).
//
// Both read only what they fully understand, and were tested against: archive version 1.14
// (pg_dump 12 to 15), uncompressed (pg.dump writes -Z0 and compresses in the store), data
// entries of those two kinds. For anything else they throw Unsupported before producing
// anything, and the caller does without (pg_restore reads the rows; the server counts them).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace cutover::steps::pg {

/// The table a COPY statement loads, as pg_dump names it:
/// "COPY public.events (id, at) FROM stdin;" -> public.events; "COPY s."a b" ..." -> s."a b".
std::string copy_table(const std::string& copy_sql);

/// Walks the archive's structure and hands its data section to the hooks below.
class ArchiveReader {
 public:
  /// The archive is one this reader does not read.
  struct Unsupported : std::runtime_error {
    using std::runtime_error::runtime_error;
  };
  virtual ~ArchiveReader() = default;

  /// Takes the archive's next bytes. Throws Unsupported (only before any hook saw data), or
  /// Error for a malformed archive.
  void feed(const char* data, size_t n);
  /// The archive has ended: throws Error if it ended before every data entry was read.
  void finish();

 protected:
  struct Entry {
    int id = 0;
    bool has_block = false;
    std::string desc, defn, copy;
  };
  /// The definitions of the ENCODING, STDSTRINGS and SEARCHPATH entries ("" if absent).
  struct Settings {
    std::string encoding, std_strings, search_path;
  };

  /// The table of contents has been read.
  virtual void on_head(const Settings&) {}
  /// A data entry without a block (a SEQUENCE SET), in order among the blocks.
  virtual void on_entry(const Entry&) {}
  /// A TABLE DATA block: its start, its bytes (rows, then pg_dump's end-of-data line), its end.
  virtual void on_block(const Entry&) {}
  virtual void on_rows(const char* data, size_t n) = 0;
  virtual void on_block_end(const Entry&) {}
  /// feed() has handed on everything it took.
  virtual void on_fed() {}

 private:
  enum class State { head, block_header, chunk_length, chunk, rest };
  class Cursor;

  bool read_head();           // false: more bytes needed
  void scan(const char* p, size_t n);
  bool read_header(Cursor&);  // a block header or chunk length; false: more bytes needed
  void next_entry();

  State state_ = State::head;
  std::string head_;  // the archive up to the end of its table of contents, while it arrives
  size_t head_end_ = 0;
  std::string part_;  // a block header or chunk length cut by the end of a feed()
  int int_size_ = 4;
  std::vector<Entry> entries_;  // the data section, in order
  size_t next_ = 0;             // the entry whose block comes next
  bool skipping_ = false;       // inside a block no entry asked for
  uint64_t chunk_left_ = 0;
};

/// The data section as the SQL text pg_restore prints for it (session settings first).
class ArchiveText final : public ArchiveReader {
 public:
  using Sink = std::function<void(const char*, size_t)>;
  explicit ArchiveText(Sink sink) : sink_(std::move(sink)) {}

 private:
  void on_head(const Settings&) override;
  void on_entry(const Entry& e) override;
  void on_block(const Entry& e) override { out_ += e.copy; }
  void on_rows(const char* data, size_t n) override { out_.append(data, n); }
  void on_fed() override;

  Sink sink_;
  std::string out_;
};

/// The rows of each table in the archive, counted as its blocks stream past.
class ArchiveRows final : public ArchiveReader {
 public:
  /// After finish(): rows per table (named as by copy_table), or empty if some block did not
  /// end with pg_dump's end-of-data line (then nothing here can be trusted).
  std::map<std::string, long long> counts() const;

 private:
  void on_block(const Entry& e) override;
  void on_rows(const char* data, size_t n) override;
  void on_block_end(const Entry& e) override;

  std::map<std::string, long long> counts_;
  bool ok_ = true;
  long long newlines_ = 0;  // in the current block
  uint64_t length_ = 0;     // of the current block
  std::string tail_;        // its last bytes
};

}  // namespace cutover::steps::pg
