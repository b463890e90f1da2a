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

// Reads ints and strings from a buffer, throwing NeedMore at its end.
class Cursor {
 public:
  Cursor(const std::string& s, size_t pos, int int_size) : s_(s), pos_(pos), int_size_(int_size) {}
  size_t pos() const { return pos_; }
  void set_int_size(int n) { int_size_ = n; }

  unsigned char byte() {
    if (pos_ >= s_.size()) throw NeedMore{};
    return static_cast<unsigned char>(s_[pos_++]);
  }
  std::string bytes(size_t n) {
    if (s_.size() - pos_ < n) throw NeedMore{};
    std::string out = s_.substr(pos_, n);
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
  const std::string& s_;
  size_t pos_;
  int int_size_;
};

}  // namespace

bool ArchiveText::read_head() {
  Cursor c(in_, 0, 4);
  std::vector<Entry> data;
  std::string encoding, std_strings, search_path;
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

      std::string* setting = e.desc == "ENCODING"     ? &encoding
                             : e.desc == "STDSTRINGS" ? &std_strings
                             : e.desc == "SEARCHPATH" ? &search_path
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
    if (in_.size() > kMaxToc) throw Unsupported("a table of contents over 64 MiB");
    return false;
  }
  if (encoding.empty() || std_strings.empty() || search_path.empty())
    throw Unsupported("no encoding, standard_conforming_strings or search_path entry");
  entries_ = std::move(data);
  pos_ = c.pos();
  // The session settings pg_restore starts its script with.
  out_ += "SET statement_timeout = 0;\nSET lock_timeout = 0;\n"
          "SET idle_in_transaction_session_timeout = 0;\n";
  // The first two as pg_restore prints them from the entries' quoted values; the search path
  // entry is the statement itself.
  auto quoted = [](const std::string& defn) {
    size_t a = defn.find('\''), b = defn.find('\'', a + 1);
    return a == std::string::npos || b == std::string::npos ? "" : defn.substr(a + 1, b - a - 1);
  };
  const std::string enc = quoted(encoding), std_on = quoted(std_strings);
  if (enc.empty() || enc.find_first_of("\\;") != std::string::npos || (std_on != "on" && std_on != "off"))
    throw Unsupported("an encoding or standard_conforming_strings entry it does not read");
  out_ += "SET client_encoding = '" + enc + "';\nSET standard_conforming_strings = " + std_on +
          ";\n" + search_path;
  if (out_.back() != '\n') out_ += '\n';
  out_ += "SET check_function_bodies = false;\nSET xmloption = content;\n"
          "SET client_min_messages = warning;\nSET row_security = off;\n\n";
  state_ = State::block_header;
  next_entry();
  return true;
}

// Writes the entries without a block up to the next one with a block.
void ArchiveText::next_entry() {
  while (next_ < entries_.size() && !entries_[next_].has_block) {
    const std::string& defn = entries_[next_].defn;
    if (!defn.empty()) {
      out_ += defn;
      if (out_.back() != '\n') out_ += '\n';
    }
    ++next_;
  }
  if (next_ == entries_.size()) state_ = State::rest;
}

void ArchiveText::feed(const char* data, size_t n) {
  in_.append(data, n);
  bool more = true;
  while (more) {
    switch (state_) {
      case State::head:
        more = read_head();
        break;
      case State::block_header:
      case State::chunk_length: {
        Cursor c(in_, pos_, int_size_);
        try {
          if (state_ == State::block_header) {
            int type = c.byte();
            int id = static_cast<int>(c.integer());
            if (type != kBlockData)
              throw Error("pg_dump archive: a block of type " + std::to_string(type) +
                          " where table data was expected");
            skipping_ = id != entries_[next_].id;  // as pg_restore does, pass over others
            if (!skipping_) out_ += entries_[next_].copy;
            state_ = State::chunk_length;
          } else {
            long long len = c.integer();
            if (len < 0) throw Error("pg_dump archive: a data chunk of negative length");
            if (len > 0) {
              chunk_left_ = static_cast<uint64_t>(len);
              state_ = State::chunk;
            } else if (skipping_) {
              state_ = State::block_header;
            } else {  // the rows ended with pg_dump's end-of-data line
              ++next_;
              state_ = State::block_header;
              next_entry();
            }
          }
          pos_ = c.pos();
        } catch (const NeedMore&) {
          more = false;
        }
        break;
      }
      case State::chunk: {
        size_t take = static_cast<size_t>(std::min<uint64_t>(chunk_left_, in_.size() - pos_));
        if (!skipping_) out_.append(in_.data() + pos_, take);
        pos_ += take;
        chunk_left_ -= take;
        if (chunk_left_ == 0) state_ = State::chunk_length;
        else more = false;
        break;
      }
      case State::rest:
        pos_ = in_.size();  // what follows the last entry's data: not ours to load
        more = false;
        break;
    }
  }
  if (state_ != State::head) {
    in_.erase(0, pos_);
    pos_ = 0;
  }
  if (!out_.empty()) {
    sink_(out_.data(), out_.size());
    out_.clear();
  }
}

void ArchiveText::finish() {
  if (state_ == State::head) throw Error("pg_dump archive: it ended inside its table of contents");
  if (state_ != State::rest)
    throw Error("pg_dump archive: it ended before the data of entry " +
                std::to_string(entries_[next_].id) + " (" + entries_[next_].desc + ")");
}

}  // namespace cutover::steps::pg
