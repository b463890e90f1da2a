// Pull-style reading of one artifact (checkpoints/artifact_store.h), for consumers that ask
// for bytes rather than take them: a child process's stdin (`tar -x` fed a folder snapshot),
// an archive reader. The stored bytes are decompressed on the way (zstd per the meta sidecar)
// and hashed; reaching the end checks the hash against the id, so a damaged artifact is
// reported even when the caller did not verify() it first. Call ArtifactStore::verify()
// before feeding something that cannot be undone halfway: the end check comes after the
// bytes were handed out.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace cutover::checkpoints {

class ArtifactStore;

class ArtifactReader {
 public:
  /// Opens artifact `id` of `store`; throws Error when it is missing or not an id.
  ArtifactReader(const ArtifactStore& store, const std::string& id);
  ~ArtifactReader();
  ArtifactReader(const ArtifactReader&) = delete;
  ArtifactReader& operator=(const ArtifactReader&) = delete;

  /// Fills up to `cap` bytes of `buf` with the next decompressed bytes; returns how many, 0 at
  /// the end. Throws Error for a read failure, corrupt zstd data, or (at the end) bytes that
  /// do not hash to the id.
  size_t read(char* buf, size_t cap);

  /// Decompressed size from the meta sidecar (0 when unknown), for progress.
  uint64_t raw_size() const { return raw_size_; }
  /// Decompressed bytes returned so far.
  uint64_t done() const { return done_; }

 private:
  struct State;
  std::unique_ptr<State> s_;
  uint64_t raw_size_ = 0;
  uint64_t done_ = 0;
};

}  // namespace cutover::checkpoints
