#include "steps/tar_index.h"

#include <algorithm>
#include <cstring>

#include "util/error.h"

namespace cutover::steps {
namespace {

constexpr size_t kBlock = 512;
constexpr uint64_t kMaxExtra = 1u << 20;  // a long name or pax header beyond this is refused

uint64_t padded(uint64_t n) { return (n + kBlock - 1) / kBlock * kBlock; }

// A numeric header field: octal text, or GNU base-256 when the first byte's high bit is set.
uint64_t number(const char* f, size_t len) {
  const auto* u = reinterpret_cast<const unsigned char*>(f);
  if (u[0] & 0x80) {
    uint64_t v = u[0] & 0x3f;
    for (size_t i = 1; i < len; ++i) v = (v << 8) | u[i];
    return v;
  }
  uint64_t v = 0;
  size_t i = 0;
  while (i < len && (f[i] == ' ' || f[i] == '\0')) ++i;
  for (; i < len && f[i] >= '0' && f[i] <= '7'; ++i) v = v * 8 + static_cast<uint64_t>(f[i] - '0');
  return v;
}

std::string field(const char* f, size_t len) { return std::string(f, strnlen(f, len)); }

std::string normalise(std::string p) {
  while (p.rfind("./", 0) == 0) p.erase(0, 2);
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  if (p == "." || p == "./") p.clear();
  return p;
}

// "..", or a name that climbs out of where it is extracted.
bool escapes(const std::string& p) {
  if (!p.empty() && p[0] == '/') return true;
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    if (p.compare(start, end - start, "..") == 0 && end - start == 2) return true;
    start = end + 1;
  }
  return false;
}

// pax records: "LEN key=value\n" repeated.
template <class Pax>
void pax_records(const std::string& data, Pax& pax) {
  size_t pos = 0;
  while (pos < data.size()) {
    size_t sp = data.find(' ', pos);
    if (sp == std::string::npos) break;
    uint64_t len = std::strtoull(data.c_str() + pos, nullptr, 10);
    if (len == 0 || pos + len > data.size()) throw Error("snapshot: malformed pax header");
    std::string rec = data.substr(sp + 1, pos + len - sp - 2);  // without the final '\n'
    size_t eq = rec.find('=');
    if (eq != std::string::npos) {
      std::string key = rec.substr(0, eq), value = rec.substr(eq + 1);
      uint64_t n = std::strtoull(value.c_str(), nullptr, 10);
      if (key == "path")
        pax.path = value;
      else if (key == "linkpath")
        pax.link = value;
      else if (key == "size")
        pax.has_size = true, pax.size = n;
      else if (key == "uid")
        pax.has_uid = true, pax.uid = n;
      else if (key == "gid")
        pax.has_gid = true, pax.gid = n;
    }
    pos += len;
  }
}

}  // namespace

void TarIndex::feed(const char* data, size_t len) {
  while (len > 0 && !end_seen_) {
    if (skip_ > 0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(skip_, len));
      if (collecting_ && collect_left_ > 0) {
        size_t take = static_cast<size_t>(std::min<uint64_t>(collect_left_, n));
        extra_.append(data, take);
        collect_left_ -= take;
      }
      skip_ -= n;
      data += n;
      len -= n;
      if (skip_ == 0 && collecting_) member_done();
      continue;
    }
    size_t n = std::min(kBlock - block_.size(), len);
    block_.append(data, n);
    data += n;
    len -= n;
    if (block_.size() == kBlock) {
      header(block_.data());
      block_.clear();
    }
  }
}

void TarIndex::member_done() {
  if (collecting_ == 'L')
    long_name_ = extra_.c_str();
  else if (collecting_ == 'K')
    long_link_ = extra_.c_str();
  else if (collecting_ == 'x')
    pax_records(extra_, pax_);
  collecting_ = 0;
  extra_.clear();
}

void TarIndex::header(const char* h) {
  if (std::all_of(h, h + kBlock, [](char c) { return c == '\0'; })) {
    if (++zero_blocks_ == 2) end_seen_ = true;
    return;
  }
  zero_blocks_ = 0;
  // The checksum covers the header with its own field read as spaces.
  uint64_t sum = 0;
  for (size_t i = 0; i < kBlock; ++i)
    sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
  if (sum != number(h + 148, 8)) throw Error("snapshot: not a tar stream (bad header checksum)");

  char flag = h[156];
  uint64_t size = number(h + 124, 12);
  if (flag == 'L' || flag == 'K' || flag == 'x' || flag == 'g') {
    if (size > kMaxExtra) throw Error("snapshot: a tar header is too long");
    collecting_ = flag == 'g' ? 'g' : flag;
    collect_left_ = flag == 'g' ? 0 : size;
    skip_ = padded(size);
    if (skip_ == 0) member_done();
    return;
  }

  TarEntry e;
  std::string name = field(h, 100), link = field(h + 157, 100);
  bool ustar = std::memcmp(h + 257, "ustar\0", 6) == 0;  // POSIX: name has a prefix field
  if (ustar && h[345]) name = field(h + 345, 155) + "/" + name;
  if (!long_name_.empty()) name = long_name_;
  if (!long_link_.empty()) link = long_link_;
  if (!pax_.path.empty()) name = pax_.path;
  if (!pax_.link.empty()) link = pax_.link;
  if (pax_.has_size) size = pax_.size;

  e.path = normalise(name);
  e.mode = static_cast<uint32_t>(number(h + 100, 8) & 07777);
  e.uid = static_cast<uint32_t>(pax_.has_uid ? pax_.uid : number(h + 108, 8));
  e.gid = static_cast<uint32_t>(pax_.has_gid ? pax_.gid : number(h + 116, 8));
  long_name_.clear(), long_link_.clear();
  pax_ = Pax{};
  uint64_t data = size;
  switch (flag) {
    case '0':
    case '\0':
    case '7':
    case 'S':
      e.type = 'f';
      e.size = size;
      break;
    case '1':
      e.type = 'f';
      e.hardlink = true;
      e.link = normalise(link);
      data = 0;
      break;
    case '2':
      e.type = 'l';
      e.link = link;
      data = 0;
      break;
    case '3':
      e.type = 'c';
      data = 0;
      break;
    case '4':
      e.type = 'b';
      data = 0;
      break;
    case '5':
      e.type = 'd';
      data = 0;
      break;
    case '6':
      e.type = 'p';
      data = 0;
      break;
    default:
      throw Error(std::string("snapshot: unsupported tar member type '") + flag + "' for " +
                  e.path);
  }
  if (!name.empty() && name.back() == '/' && e.type == 'f' && !e.hardlink) e.type = 'd';
  check(e);
  ++count_;
  if (e.type == 'f' && !e.hardlink) ++files_, bytes_ += e.size;
  if (e.type == 'l') symlinks_.insert(e.path);
  skip_ = padded(data);
  if (keep_) entries_.push_back(std::move(e));
}

void TarIndex::check(const TarEntry& e) {
  auto refuse = [&](const std::string& why) {
    throw Error("snapshot member '" + e.path + "' " + why + ": refused",
                "a snapshot made by files.snapshot never holds such a member; the artifact "
                "does not come from it");
  };
  if (escapes(e.path)) refuse("would be written outside the destination");
  if (e.hardlink && (e.link.empty() || escapes(e.link)))
    refuse("is a hard link to '" + e.link + "' outside the destination");
  // No member may be reached through a symlink of the same archive.
  for (const std::string* p : {&e.path, &e.link}) {
    if (p == &e.link && !e.hardlink) break;
    for (size_t slash = p->find('/'); slash != std::string::npos; slash = p->find('/', slash + 1))
      if (symlinks_.count(p->substr(0, slash)))
        refuse("passes through the symlink '" + p->substr(0, slash) + "'");
  }
}

}  // namespace cutover::steps
