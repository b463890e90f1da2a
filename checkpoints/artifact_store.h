// Content-addressed artifact store (SPEC §6): artifacts/sha256/<ab>/<hash>, immutable,
// verified on every read. An artifact's id is "sha256:<hex>" of the bytes as stored; a
// sidecar <hash>.meta (JSON: compression, raw size, kind) is written and fsynced first.
// Artifacts are written through temp + fsync + rename + fsync(dir), so a record that names
// an artifact is only ever written after the artifact is durable.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace cutover::checkpoints {

enum class Compression { none, zstd };

/// Streams bytes into the store. sha256 is computed on the way (no second read); with
/// Compression::zstd the bytes are compressed before they are written and hashed.
/// An uncommitted writer discards its temp file.
class ArtifactWriter {
 public:
  virtual ~ArtifactWriter() = default;
  virtual void write(const void* data, size_t len) = 0;
  /// Makes the artifact durable and returns its id ("sha256:<hex>").
  virtual std::string commit() = 0;
  /// Bytes given to write() so far (before compression).
  virtual uint64_t raw_bytes() const = 0;
  /// Bytes stored (after compression), valid after commit().
  virtual uint64_t stored_bytes() const = 0;
  /// Adds a field to the meta sidecar written by commit() (what a reader may want to know
  /// before reading the bytes, e.g. pg.dump's sizes).
  virtual void annotate(const std::string& key, const nlohmann::json& value) = 0;
};

class ArtifactStore {
 public:
  /// `root` is the artifacts folder (created 0700 on first write).
  explicit ArtifactStore(std::string root);

  /// A writer for a new artifact; `kind` is a free-form label kept in the meta sidecar
  /// ("pg.dump custom", "file", "files.snapshot").
  std::unique_ptr<ArtifactWriter> writer(const std::string& kind, Compression c = Compression::none);

  /// Stores a small blob; returns its id.
  std::string put(const std::string& data, const std::string& kind = "blob");

  /// The whole artifact, decompressed and verified. Throws Error on a missing or corrupt one.
  std::string get(const std::string& id) const;

  /// Streams the artifact (decompressed) to `sink` while verifying it; throws Error at the
  /// end if the stored bytes do not match the id (the sink then must discard what it got).
  void read(const std::string& id, const std::function<void(const char*, size_t)>& sink) const;

  /// Reads the stored bytes once and checks their sha256; throws Error naming the artifact
  /// and both hashes when they differ. Call before feeding an artifact to something that
  /// cannot be undone halfway (pg_restore).
  void verify(const std::string& id) const;

  bool exists(const std::string& id) const;
  /// Path of the stored bytes.
  std::string path(const std::string& id) const;
  /// The meta sidecar ({} if none).
  nlohmann::json meta(const std::string& id) const;
  /// Bytes as stored.
  uint64_t stored_size(const std::string& id) const;
  /// Every artifact id in the store.
  std::vector<std::string> list() const;
  /// Removes an artifact and then its sidecar, durably (gc); absent is fine. Throws Error.
  void remove(const std::string& id);

  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

}  // namespace cutover::checkpoints
