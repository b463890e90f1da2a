// The two ends of a `transfer` (steps/transfer_steps.cpp): a file on this machine, or on an
// SSH host reached through hosts::SshHost's streaming upload/download. The step moves bytes
// from a source Endpoint to a destination Endpoint without holding the file in memory.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "hosts/host.h"
#include "util/cancel.h"

namespace cutover::util {
class Sha256;
}

namespace cutover::steps {

/// One side of a transfer. Every method throws Error naming the host and path on failure.
class Endpoint {
 public:
  virtual ~Endpoint() = default;

  /// The host the file is on.
  virtual hosts::Host& host() = 0;
  /// True when the bytes are on this machine (read and hashed here directly).
  virtual bool local() const = 0;

  /// Streams the bytes of `path` from `offset` to its end into `sink`; returns their count.
  virtual uint64_t read(const std::string& path, uint64_t offset,
                        const std::function<void(const char*, size_t)>& sink,
                        const util::Deadline& deadline) = 0;

  /// Writes `path` from `offset` on (0 = create/truncate; else keep the first `offset`
  /// bytes) with what `source` yields until it returns 0, then fsyncs it and sets `mode`.
  /// Returns the bytes written. Where the endpoint can hash the whole written file on its
  /// host while the fsync runs (an SSH host), it stores that sha256 in `*landed` when given;
  /// else leaves it empty.
  virtual uint64_t write(const std::string& path, uint64_t offset, uint32_t mode,
                         const std::function<size_t(char*, size_t)>& source,
                         const util::Deadline& deadline, std::string* landed) = 0;

  /// sha256 (hex) of the first `length` bytes of `path`. On a local endpoint the bytes are
  /// also fed to `also` when given (so that a resumed transfer need not read them again).
  virtual std::string prefix_sha256(const std::string& path, uint64_t length,
                                    util::Sha256* also) = 0;

  /// sha256 (hex) of the whole of `path`, `size` bytes long (an SSH host hashes a large file
  /// with a faster tool than a small one).
  virtual std::string sha256(const std::string& path, uint64_t size) = 0;
};

/// A local file written from an offset on: the destination side of a download.
class LocalFileWriter {
 public:
  /// Opens `path` (created 0600; truncated when offset is 0, else cut to `offset` bytes).
  LocalFileWriter(std::string path, uint64_t offset);
  ~LocalFileWriter();
  LocalFileWriter(const LocalFileWriter&) = delete;
  LocalFileWriter& operator=(const LocalFileWriter&) = delete;
  /// Appends bytes; throws Error on failure.
  void write(const char* data, size_t len);
  /// Sets the mode and fsyncs; throws Error on failure.
  void finish(uint32_t mode);

 private:
  std::string path_;
  uint64_t pos_;
  int fd_ = -1;
};

/// Feeds a local file's bytes from `from` to its end to `into`; returns how many. Throws
/// Error when it cannot be read.
uint64_t hash_local_from(const std::string& path, uint64_t from, util::Sha256& into);

/// The Endpoint for `host`: SSH streaming when it is an SshHost, local file I/O when it is
/// the local machine. Throws Error for any other kind of host.
std::unique_ptr<Endpoint> make_endpoint(hosts::Host& host);

/// A `HOST:/path` operand split in two; host is "" for a local path. A ':' counts only
/// before the first '/', as with scp (write "./a:b" for a local name with a colon).
struct Operand {
  std::string host;
  std::string path;
};
Operand parse_operand(const std::string& text);

}  // namespace cutover::steps
