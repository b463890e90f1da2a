#include "steps/pg_archive.h"

#include <algorithm>

#include "util/error.h"

// The format, as PostgreSQL's pg_backup_archiver.c and pg_backup_custom.c write it:
//   header  "PGDMP", version major, minor, revision, int size, offset size, format (1: custom),
//           compression level (an int), 7 ints of creation time, database name, server
//           version, pg_dump version
//   toc     count, then per entry: dump id, had-dumper, table oid, oid, tag, desc, section,
//           defn, drop statement, copy statement, namespace, tablespace, table access
//           method, owner, "false" (WITH OIDS), dependencies up to a null string, and the
//           custom format's data offset (a flag byte: 1 not set, 2 set, 3 no data; then
//           offset-size bytes)
//   blocks  per entry with data, in toc order: type byte (1: table data), dump id, then
//           chunks (length int, bytes) up to a zero length
// The rows' last chunk is pg_dump's end-of-data line (a backslash and a dot, then newlines),
// printed as it is (an archive without it fails at the server: the next COPY is no row).
// An int is a sign byte and int-size bytes, least significant first; a string is an int
// length (negative: null) and the bytes.
namespace cutover::steps::pg {
namespace {

constexpr int kSectionNone = 1;
constexpr int kSectionPreData = 2;
constexpr int kSectionData = 3;
// A table of contents is a few KiB per table; past this, pg_restore reads the archive.
constexpr size_t kMaxToc = 64u << 20;
constexpr int kBlockData = 1;
constexpr int kOffsetNoData = 3;

struct NeedMore {};

// A block header (type byte, dump id) or a chunk length is never longer than this.
constexpr size_t kMaxHeader = 2 * (1 + 8);

}  // namespace

// Reads ints and strings from bytes in memory, throwing NeedMore at their end.
class ArchiveReader::Cursor {
 public:
  Cursor(const char* data, size_t size, int int_size) : p_(data), size_(size), int_size_(int_size) {}
  size_t pos() const { return pos_; }
  void set_int_size(int n) { int_size_ = n; }

  unsigned char byte() {
    if (pos_ >= size_) throw NeedMore{};
    return static_cast<unsigned char>(p_[pos_++]);
  }
  std::string bytes(size_t n) {
    if (size_ - pos_ < n) throw NeedMore{};
    std::string out(p_ + pos_, n);
    pos_ += n;
    return out;
  }
  long long integer() {
    bool negative = byte() != 0;
    unsigned long long v = 0;
    for (int i = 0; i < int_size_; ++i) v |= static_cast<unsigned long long>(byte()) << (8 * i);
    long long r = static_cast<long long>(v);
    return negative ? -r : r;
  }
  // A string; `null` says whether it was the null string.
  std::string str(bool* null = nullptr) {
    long long n = integer();
    if (null) *null = n < 0;
    if (n < 0) return "";
    if (n > (1ll << 30)) throw Error("pg_dump archive: a string of " + std::to_string(n) + " bytes in its table of contents");
    return bytes(static_cast<size_t>(n));
  }

 private:
  const char* p_;
  size_t size_;
  size_t pos_ = 0;
  int int_size_;
};

std::string copy_table(const std::string& sql) {
  std::string table;
  bool quoted = false;
  for (size_t i = 5; i < sql.size() && (quoted || sql[i] != ' '); ++i) {
    if (sql[i] == '"') quoted = !quoted;
    table += sql[i];
  }
  return table;
}

bool ArchiveReader::read_head() {
  Cursor c(head_.data(), head_.size(), 4);
  std::vector<Entry> data;
  Settings settings;
  try {
    if (c.bytes(5) != "PGDMP") throw Unsupported("not a pg_dump custom archive");
    int major = c.byte(), minor = c.byte();
    c.byte();  // revision
    if (major != 1 || minor != 14)
      throw Unsupported("archive version " + std::to_string(major) + "." + std::to_string(minor));
    int_size_ = c.byte();
    int off_size = c.byte();
    if (int_size_ < 4 || int_size_ > 8 || off_size < 1 || off_size > 8)
      throw Unsupported("int size " + std::to_string(int_size_));
    c.set_int_size(int_size_);
    if (c.byte() != 1) throw Unsupported("not the custom format");
    if (c.integer() != 0) throw Unsupported("compressed by pg_dump");  // the level
    for (int i = 0; i < 7; ++i) c.integer();  // when it was made
    c.str();                                  // database name
    c.str();                                  // server version
    c.str();                                  // pg_dump version
    long long count = c.integer();
    // As pg_restore does, an entry of no section (a comment, a grant) belongs to the section
    // of the entry before it.
    long long current = kSectionPreData;
    for (long long i = 0; i < count; ++i) {
      Entry e;
      e.id = static_cast<int>(c.integer());
      c.integer();  // had dumper
      c.str();      // table oid
      c.str();      // oid
      c.str();      // tag
      e.desc = c.str();
      long long section = c.integer();
      e.defn = c.str();
      c.str();  // drop statement
      e.copy = c.str();
      for (int k = 0; k < 5; ++k) c.str();  // namespace, tablespace, access method, owner, with oids
      bool null = false;
      do c.str(&null);
      while (!null);  // dependencies
      int flag = c.byte();
      for (int k = 0; k < off_size; ++k) c.byte();
      e.has_block = flag != kOffsetNoData;

      std::string* setting = e.desc == "ENCODING"     ? &settings.encoding
                             : e.desc == "STDSTRINGS" ? &settings.std_strings
                             : e.desc == "SEARCHPATH" ? &settings.search_path
                                                      : nullptr;
      if (setting) {
        *setting = e.defn;
        continue;
      }
      if (section != kSectionNone) current = section;
      if (current != kSectionData) {
        if (e.has_block) throw Unsupported("data outside the data section (" + e.desc + ")");
        continue;
      }
      bool known = (e.desc == "TABLE DATA" && (!e.has_block || !e.copy.empty())) ||
                   (e.desc == "SEQUENCE SET" && !e.has_block);
      if (!known) throw Unsupported("data entry " + e.desc);
      data.push_back(std::move(e));
    }
  } catch (const NeedMore&) {
    if (head_.size() > kMaxToc) throw Unsupported("a table of contents over 64 MiB");
    return false;
  }
  head_end_ = c.pos();
  on_head(settings);
  entries_ = std::move(data);
  state_ = State::block_header;
  next_entry();
  return true;
}

// Hands on the entries without a block up to the next one with a block.
void ArchiveReader::next_entry() {
  while (next_ < entries_.size() && !entries_[next_].has_block) on_entry(entries_[next_++]);
  if (next_ == entries_.size()) state_ = State::rest;
}

void ArchiveReader::feed(const char* data, size_t n) {
  if (state_ == State::head) {
    head_.append(data, n);
    if (!read_head()) return;
    std::string rest = head_.substr(head_end_);
    std::string().swap(head_);
    scan(rest.data(), rest.size());
  } else {
    scan(data, n);
  }
  on_fed();
}

// The blocks: rows go to on_rows straight from the caller's bytes; only a header cut by the
// end of a feed() is kept (in part_) until the next.
void ArchiveReader::scan(const char* p, size_t n) {
  while (state_ != State::rest) {
    if (state_ == State::chunk) {
      if (n == 0) return;
      size_t take = static_cast<size_t>(std::min<uint64_t>(chunk_left_, n));
      if (!skipping_) on_rows(p, take);
      p += take;
      n -= take;
      chunk_left_ -= take;
      if (chunk_left_ == 0) state_ = State::chunk_length;
      continue;
    }
    if (part_.empty()) {
      Cursor c(p, n, int_size_);
      if (!read_header(c)) {
        part_.assign(p, n);
        return;
      }
      p += c.pos();
      n -= c.pos();
    } else {
      size_t had = part_.size(), add = std::min(n, kMaxHeader);
      part_.append(p, add);
      Cursor c(part_.data(), part_.size(), int_size_);
      if (!read_header(c)) return;  // all of the input is in part_: a header is shorter
      size_t used = c.pos() - had;
      p += used;
      n -= used;
      part_.clear();
    }
  }
}

bool ArchiveReader::read_header(Cursor& c) {
  try {
    if (state_ == State::block_header) {
      int type = c.byte();
      int id = static_cast<int>(c.integer());
      if (type != kBlockData)
        throw Error("pg_dump archive: a block of type " + std::to_string(type) +
                    " where table data was expected");
      skipping_ = id != entries_[next_].id;  // as pg_restore does, pass over others
      if (!skipping_) on_block(entries_[next_]);
      state_ = State::chunk_length;
      return true;
    }
    long long len = c.integer();
    if (len < 0) throw Error("pg_dump archive: a data chunk of negative length");
    if (len > 0) {
      chunk_left_ = static_cast<uint64_t>(len);
      state_ = State::chunk;
    } else if (skipping_) {
      state_ = State::block_header;
    } else {  // the rows ended with pg_dump's end-of-data line
      on_block_end(entries_[next_++]);
      state_ = State::block_header;
      next_entry();
    }
    return true;
  } catch (const NeedMore&) {
    return false;
  }
}

void ArchiveReader::finish() {
  if (state_ == State::head) throw Error("pg_dump archive: it ended inside its table of contents");
  if (state_ != State::rest)
    throw Error("pg_dump archive: it ended before the data of entry " +
                std::to_string(entries_[next_].id) + " (" + entries_[next_].desc + ")");
}

void ArchiveText::on_head(const Settings& s) {
  if (s.encoding.empty() || s.std_strings.empty() || s.search_path.empty())
    throw Unsupported("no encoding, standard_conforming_strings or search_path entry");
  // The session settings pg_restore starts its script with.
  out_ += "SET statement_timeout = 0;\nSET lock_timeout = 0;\n"
          "SET idle_in_transaction_session_timeout = 0;\n";
  // The first two as pg_restore prints them from the entries' quoted values; the search path
  // entry is the statement itself.
  auto quoted = [](const std::string& defn) {
    size_t a = defn.find('\''), b = defn.find('\'', a + 1);
    return a == std::string::npos || b == std::string::npos ? "" : defn.substr(a + 1, b - a - 1);
  };
  const std::string enc = quoted(s.encoding), std_on = quoted(s.std_strings);
  if (enc.empty() || enc.find_first_of("\\;") != std::string::npos || (std_on != "on" && std_on != "off"))
    throw Unsupported("an encoding or standard_conforming_strings entry it does not read");
  out_ += "SET client_encoding = '" + enc + "';\nSET standard_conforming_strings = " + std_on +
          ";\n" + s.search_path;
  if (out_.back() != '\n') out_ += '\n';
  out_ += "SET check_function_bodies = false;\nSET xmloption = content;\n"
          "SET client_min_messages = warning;\nSET row_security = off;\n\n";
}

void ArchiveText::on_entry(const Entry& e) {
  if (e.defn.empty()) return;
  out_ += e.defn;
  if (out_.back() != '\n') out_ += '\n';
}

void ArchiveText::on_fed() {
  if (out_.empty()) return;
  sink_(out_.data(), out_.size());
  out_.clear();
}

void ArchiveRows::on_block(const Entry&) {
  newlines_ = 0;
  length_ = 0;
  tail_.clear();
}

void ArchiveRows::on_rows(const char* data, size_t n) {
  newlines_ += std::count(data, data + n, '\n');
  length_ += n;
  // tail_ stays the block's last bytes, at least 16 of them (or all, if fewer).
  if (n >= 16) {
    tail_.assign(data + n - 16, 16);
  } else {
    tail_.append(data, n);
    if (tail_.size() > 64) tail_.erase(0, tail_.size() - 16);
  }
}

// A block is rows, each ending in a newline (COPY escapes those inside values), then a line
// holding only "\." and a few empty lines: the rows are the newlines before that line.
void ArchiveRows::on_block_end(const Entry& e) {
  size_t text = tail_.size();
  while (text > 0 && tail_[text - 1] == '\n') --text;
  const size_t line_ends = tail_.size() - text;  // the marker's and the empty lines'
  const bool whole = tail_.size() == length_;    // tail_ is the whole block
  bool marked = line_ends >= 1 && text >= 2 && tail_.compare(text - 2, 2, "\\.") == 0 &&
                (text == 2 ? whole : tail_[text - 3] == '\n');
  if (!marked) {
    ok_ = false;
    return;
  }
  counts_[copy_table(e.copy)] += newlines_ - static_cast<long long>(line_ends);
}

std::map<std::string, long long> ArchiveRows::counts() const {
  return ok_ ? counts_ : std::map<std::string, long long>{};
}

}  // namespace cutover::steps::pg
