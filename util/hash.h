// SHA-256 (OpenSSL EVP, streaming) and CRC32C (the journal's per-record checksum).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace cutover::util {

/// Streaming SHA-256. hex() finalises; update() after hex() throws.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  void update(const void* data, size_t len);
  void update(const std::string& s) { update(s.data(), s.size()); }
  /// The 64-character lowercase hex digest.
  std::string hex();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// SHA-256 of a string, lowercase hex.
std::string sha256_hex(const std::string& data);

/// SHA-256 of a local file, streamed; throws Error naming the path.
std::string sha256_file(const std::string& path);

/// CRC32C (Castagnoli) of a byte range.
uint32_t crc32c(const void* data, size_t len, uint32_t crc = 0);

}  // namespace cutover::util
