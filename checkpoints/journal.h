// The run journal: runs/<run-id>/journal.jsonl.
//
// On-disk format (version 1)
// --------------------------
// One record per line: eight lowercase hex digits of the CRC32C of the JSON text, one space,
// the JSON object (compact, no newline inside), then '\n':
//
//     1f2e3d4c {"seq":1,"ts":"2026-11-24T00:11:22.123Z","event":"journal","version":1}
//
// The first record is always {"event":"journal","version":1}; readers refuse other versions.
// Every record has "seq" (1, 2, … with no gaps), "ts" (UTC) and "event". Events are those of
// SPEC §4: run.start, step.checkpoint, step.apply, step.done, step.fail, step.undo,
// step.undone, step.undo_fail, run.resume, run.end (plus rollback.start for rollback runs).
//
// Durability: the file is opened O_APPEND|O_CLOEXEC, mode 0600; each record is written with
// one write() and then fdatasync()ed; creating the file fsyncs its folder. A failed fsync is
// never retried: the run fails (the page cache may have dropped the data: retrying would
// report success for a record that is not on disk).
// Records that only *confirm* an action (step.done, step.undone) may be appended with
// Sync::deferred: written at once (a killed process loses nothing), made durable by the next
// synced record, which fdatasync()s the whole file, or by the writer's destructor. Losing one
// to a power cut leaves the step "applied, not confirmed" — the state a crash between the
// action and its record leaves anyway, which resume and rollback already handle (verified
// undo). Every record that *precedes* a change stays synced.
//
// Recovery: a record is valid when its line ends in '\n', the CRC matches and the JSON
// parses with the expected seq. An invalid *last* line is a torn write (the process died
// mid-append): it is dropped with a warning, and truncated away before the next append.
// An invalid line followed by valid ones is corruption: reading fails and nothing is undone
// blindly — the operator must look. Rejected alternatives: a binary format (not greppable
// at 2 a.m.), one file per record (thousands of fsyncs of folders), SQLite (another moving
// part for a file that is only ever appended).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "util/error.h"

namespace cutover::checkpoints {

using nlohmann::json;

/// The journal cannot be trusted: a damaged record is followed by valid ones.
class JournalCorrupt : public Error {
 public:
  using Error::Error;
};

struct JournalContents {
  std::vector<json> records;  // every valid record, in order (the version record included)
  bool torn_tail = false;     // the last line was torn and dropped
  size_t valid_bytes = 0;     // length of the valid prefix
  std::string warning;        // says what was dropped, if anything
};

/// Reads and checks a journal. Throws JournalCorrupt (naming the line) on damage before the
/// last line, Error if the file cannot be read.
JournalContents read_journal(const std::string& path);

/// Appends records durably. Opening an existing journal truncates a torn tail first.
class JournalWriter {
 public:
  /// Creates the journal (writing the version record) or opens an existing one to append.
  explicit JournalWriter(const std::string& path);
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  enum class Sync { now, deferred };

  /// Adds seq and ts to `record`, appends it and fdatasync()s (see Sync::deferred above).
  /// Returns the record as written.
  json append(json record, Sync sync = Sync::now);

  /// Appends several records with one write() and one fdatasync(): all become durable
  /// together (step.checkpoint + step.apply, which must both be on disk before a step
  /// changes anything). A crash mid-write leaves a torn tail, dropped on reading.
  std::vector<json> append_all(std::vector<json> records, Sync sync = Sync::now);

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  long long next_seq_ = 1;
  bool unsynced_ = false;  // a deferred record is written but not yet fdatasync()ed
};

/// The text of one encoded line (without '\n'), for tests.
std::string encode_record(const json& record);

/// Current UTC time as "2026-11-24T00:11:22.123Z".
std::string utc_now();

}  // namespace cutover::checkpoints
