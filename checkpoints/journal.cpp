#include "checkpoints/journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "util/fs.h"
#include "util/hash.h"

namespace cutover::checkpoints {
namespace {

constexpr int kVersion = 1;

bool decode_line(const std::string& line, json& out) {
  if (line.size() < 10 || line[8] != ' ') return false;
  std::string text = line.substr(9);
  unsigned int crc = 0;
  if (std::sscanf(line.c_str(), "%8x", &crc) != 1) return false;
  for (int i = 0; i < 8; ++i)
    if (!std::isxdigit(static_cast<unsigned char>(line[i]))) return false;
  if (util::crc32c(text.data(), text.size()) != crc) return false;
  out = json::parse(text, nullptr, false);
  return out.is_object();
}

}  // namespace

std::string utc_now() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

std::string encode_record(const json& record) {
  std::string text = record.dump(-1, ' ', false, json::error_handler_t::replace);
  char crc[16];
  std::snprintf(crc, sizeof crc, "%08x", util::crc32c(text.data(), text.size()));
  return std::string(crc) + " " + text;
}

JournalContents read_journal(const std::string& path) {
  std::string data = util::read_file(path);
  JournalContents jc;
  size_t pos = 0;
  int line_no = 0;
  long long expected_seq = 1;
  while (pos < data.size()) {
    ++line_no;
    size_t nl = data.find('\n', pos);
    bool complete = nl != std::string::npos;
    std::string line = data.substr(pos, complete ? nl - pos : std::string::npos);
    size_t next = complete ? nl + 1 : data.size();
    json rec;
    bool ok = complete && decode_line(line, rec) && rec.value("seq", 0LL) == expected_seq;
    if (ok && expected_seq == 1 &&
        (rec.value("event", "") != "journal" || rec.value("version", 0) != kVersion)) {
      throw JournalCorrupt(path + ":1: not a version " + std::to_string(kVersion) +
                           " cutover journal");
    }
    if (!ok) {
      if (next >= data.size()) {
        jc.torn_tail = true;
        jc.warning = path + ":" + std::to_string(line_no) +
                     ": last record is torn (the process died while writing it); ignored";
        break;
      }
      throw JournalCorrupt(path + ":" + std::to_string(line_no) +
                               ": damaged record followed by valid ones; nothing will be undone "
                               "from this journal automatically",
                           "inspect the journal; the checkpoints and artifacts are still there");
    }
    jc.records.push_back(std::move(rec));
    jc.valid_bytes = next;
    ++expected_seq;
    pos = next;
  }
  return jc;
}

JournalWriter::JournalWriter(const std::string& path) : path_(path) {
  bool existed = util::exists(path);
  if (existed) {
    JournalContents jc = read_journal(path);
    if (jc.torn_tail && ::truncate(path.c_str(), static_cast<off_t>(jc.valid_bytes)) != 0)
      throw Error("cannot truncate torn journal " + path + ": " + std::strerror(errno));
    next_seq_ = static_cast<long long>(jc.records.size()) + 1;
  }
  fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) throw Error("cannot open journal " + path + ": " + std::strerror(errno));
  if (!existed) {
    util::fsync_dir(util::dirname(path));
    append({{"event", "journal"}, {"version", kVersion}});
  }
}

JournalWriter::~JournalWriter() {
  if (fd_ < 0) return;
  if (unsynced_) ::fdatasync(fd_);
  ::close(fd_);
}

json JournalWriter::append(json record, Sync sync) {
  std::vector<json> one;
  one.push_back(std::move(record));
  return append_all(std::move(one), sync).front();
}

std::vector<json> JournalWriter::append_all(std::vector<json> records, Sync sync) {
  std::vector<json> written;
  std::string line;
  long long seq = next_seq_;
  std::string ts = utc_now();
  for (auto& record : records) {
    json full = {{"seq", seq++}, {"ts", ts}};
    for (auto it = record.begin(); it != record.end(); ++it) full[it.key()] = std::move(it.value());
    line += encode_record(full) + "\n";
    written.push_back(std::move(full));
  }
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error("cannot append to journal " + path_ + ": " + std::strerror(errno));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  next_seq_ = seq;
  if (sync == Sync::deferred) {
    unsynced_ = true;
    return written;
  }
  if (::fdatasync(fd_) != 0)
    throw Error("cannot fsync journal " + path_ + ": " + std::strerror(errno) +
                " (not retried: the record may not be on disk)");
  unsynced_ = false;
  return written;
}

}  // namespace cutover::checkpoints
