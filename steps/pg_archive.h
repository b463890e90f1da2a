// Reads the data section of a pg_dump custom-format archive as it streams, without pg_restore.
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
// It reads only what it fully understands, and was tested against: archive version 1.14
// (pg_dump 12 to 15), uncompressed (pg.dump writes -Z0 and compresses in the store), data
// entries of those two kinds. For anything else it throws Unsupported before it has written a byte, and the
// caller runs pg_restore instead.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace cutover::steps::pg {

class ArchiveText {
 public:
  /// The archive is one ArchiveText does not read; pg_restore must.
  struct Unsupported : std::runtime_error {
    using std::runtime_error::runtime_error;
  };
  using Sink = std::function<void(const char*, size_t)>;

  /// `sink` receives the data section as SQL text (session settings first).
  explicit ArchiveText(Sink sink) : sink_(std::move(sink)) {}

  /// Takes the archive's next bytes. Throws Unsupported (only before any output), or Error for
  /// a malformed archive.
  void feed(const char* data, size_t n);
  /// The archive has ended: throws Error if it ended before every data entry was read.
  void finish();

 private:
  struct Entry {
    int id = 0;
    bool has_block = false;
    std::string desc, defn, copy;
  };
  enum class State { head, block_header, chunk_length, chunk, rest };

  bool read_head();  // false: more bytes needed
  void next_entry();

  Sink sink_;
  State state_ = State::head;
  std::string in_;   // bytes not yet consumed
  size_t pos_ = 0;   // consumed prefix of in_
  int int_size_ = 4;
  std::vector<Entry> entries_;  // the data section, in order
  size_t next_ = 0;             // the entry whose block comes next
  bool skipping_ = false;       // inside a block no entry asked for
  uint64_t chunk_left_ = 0;
  std::string out_;
};

}  // namespace cutover::steps::pg
