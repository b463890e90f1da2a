// The journal's on-disk contract (checkpoints/journal.h): every record durable and checked,
// a torn tail dropped, damage before the tail refused.
#include <catch2/catch.hpp>
#include <fstream>

#include "checkpoints/journal.h"
#include "tests/support/e2e.h"
#include "util/fs.h"

using cutover::checkpoints::JournalCorrupt;
using cutover::checkpoints::JournalWriter;
using cutover::checkpoints::read_journal;

namespace {
std::string write_sample(const std::string& path, int records) {
  JournalWriter w(path);
  for (int i = 0; i < records; ++i) w.append({{"event", "step.done"}, {"step", "s" + std::to_string(i)}});
  return cutover::util::read_file(path);
}
}  // namespace

TEST_CASE("journal records carry seq, time and a CRC32C, and read back in order", "[journal]") {
  cutover::test::TempDir t;
  std::string path = t / "journal.jsonl";
  write_sample(path, 3);
  auto jc = read_journal(path);
  REQUIRE(jc.records.size() == 4);  // the version record + 3
  CHECK(jc.records[0]["event"] == "journal");
  CHECK(jc.records[0]["version"] == 1);
  for (size_t i = 0; i < jc.records.size(); ++i) CHECK(jc.records[i]["seq"] == i + 1);
  CHECK(jc.records[3]["step"] == "s2");
  CHECK_FALSE(jc.torn_tail);
  CHECK(cutover::test::file_mode(path) == 0600);
}

TEST_CASE("a journal cut at every length reads as its complete records, the torn tail dropped",
          "[journal]") {
  cutover::test::TempDir t;
  std::string full = write_sample(t / "full.jsonl", 4);
  std::vector<size_t> line_ends;
  for (size_t i = 0; i < full.size(); ++i)
    if (full[i] == '\n') line_ends.push_back(i + 1);
  for (size_t len = 1; len <= full.size(); ++len) {
    std::string path = t / ("cut-" + std::to_string(len));
    std::ofstream(path, std::ios::binary) << full.substr(0, len);
    size_t complete = 0;
    while (complete < line_ends.size() && line_ends[complete] <= len) ++complete;
    INFO("length " << len);
    if (complete == 0) {
      // Not even the version record survived: nothing to trust, nothing to undo.
      auto jc = read_journal(path);
      CHECK(jc.records.empty());
      CHECK(jc.torn_tail);
      continue;
    }
    auto jc = read_journal(path);
    CHECK(jc.records.size() == complete);
    CHECK(jc.torn_tail == (len != line_ends[complete - 1]));
    // Appending after a torn tail truncates it first: the journal stays readable.
    JournalWriter w(path);
    w.append({{"event", "run.resume"}});
    auto again = read_journal(path);
    CHECK(again.records.size() == complete + 1);
    CHECK_FALSE(again.torn_tail);
    CHECK(again.records.back()["seq"] == complete + 1);
  }
}

TEST_CASE("a damaged record before the last is corruption, named by line", "[journal]") {
  cutover::test::TempDir t;
  std::string path = t / "journal.jsonl";
  std::string text = write_sample(path, 3);
  size_t second = text.find('\n') + 1;
  text[second + 12] ^= 0x01;  // one bit flipped inside record 2
  std::ofstream(path, std::ios::binary) << text;
  try {
    read_journal(path);
    FAIL("damage was not detected");
  } catch (const JournalCorrupt& e) {
    CHECK(std::string(e.what()).find("journal.jsonl:2: damaged record followed by valid ones") != std::string::npos);
  }
  CHECK_THROWS_AS(JournalWriter(path), JournalCorrupt);  // never appended to blindly
}

TEST_CASE("a file that is not a version-1 journal is refused", "[journal]") {
  cutover::test::TempDir t;
  std::string path = t / "journal.jsonl";
  std::ofstream(path) << cutover::checkpoints::encode_record({{"seq", 1}, {"event", "journal"}, {"version", 2}}) << "\n";
  CHECK_THROWS_AS(read_journal(path), JournalCorrupt);
}

TEST_CASE("a deferred record is on file at once, in order with the synced ones", "[journal]") {
  // Deferred records skip their own fdatasync, never the write: another process (`cutover
  // status`, a resume after SIGKILL) reads them immediately, with seq in order.
  cutover::test::TempDir t;
  std::string path = t / "journal.jsonl";
  JournalWriter w(path);
  w.append({{"event", "step.apply"}, {"step", "a"}});
  w.append({{"event", "step.done"}, {"step", "a"}}, JournalWriter::Sync::deferred);
  auto jc = read_journal(path);
  REQUIRE(jc.records.size() == 3);
  CHECK(jc.records[2]["event"] == "step.done");
  CHECK(jc.records[2]["seq"] == 3);
  w.append({{"event", "step.apply"}, {"step", "b"}});
  jc = read_journal(path);
  REQUIRE(jc.records.size() == 4);
  CHECK(jc.records[3]["seq"] == 4);
  CHECK_FALSE(jc.torn_tail);
}
