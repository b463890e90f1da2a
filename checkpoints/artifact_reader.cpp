#include "checkpoints/artifact_reader.h"

#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "checkpoints/artifact_store.h"
#include "util/error.h"
#include "util/hash.h"

namespace cutover::checkpoints {

struct ArtifactReader::State {
  std::string id, path, root;
  int fd = -1;
  ZSTD_DCtx* dctx = nullptr;
  std::vector<char> in;  // stored bytes read but not yet decompressed: in[pos, len)
  size_t pos = 0, len = 0;
  bool file_eof = false;
  bool frame_done = true;  // zstd: the last call ended a frame (nothing buffered inside)
  bool finished = false;
  util::Sha256 sha;

  ~State() {
    if (dctx) ZSTD_freeDCtx(dctx);
    if (fd >= 0) ::close(fd);
  }

  // Reads the next block of stored bytes into `in`; false at the end of the file.
  bool fill() {
    for (;;) {
      ssize_t n = ::read(fd, in.data(), in.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw Error("cannot read artifact " + path + ": " + std::strerror(errno));
      pos = 0;
      len = static_cast<size_t>(n);
      if (n == 0) {
        file_eof = true;
        return false;
      }
      sha.update(in.data(), len);
      return true;
    }
  }

  void finish() {
    finished = true;
    if (dctx && !frame_done)
      throw Error("artifact " + id + " is truncated (its zstd stream ends mid-frame)");
    std::string got = "sha256:" + sha.hex();
    if (got != id)
      throw Error("artifact " + id + " is corrupt: its bytes hash to " + got,
                  "the store at " + root + " was modified; restore it from a backup");
  }
};

ArtifactReader::ArtifactReader(const ArtifactStore& store, const std::string& id)
    : s_(std::make_unique<State>()) {
  s_->id = id;
  s_->path = store.path(id);  // throws for a malformed id
  s_->root = store.root();
  s_->fd = ::open(s_->path.c_str(), O_RDONLY | O_CLOEXEC);
  if (s_->fd < 0) throw Error("artifact " + id + " is missing from the store (" + s_->path + ")");
  ::posix_fadvise(s_->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  nlohmann::json meta = store.meta(id);
  if (meta.is_object()) {
    raw_size_ = meta.value("raw_bytes", uint64_t{0});
    if (meta.value("compression", "none") == "zstd") s_->dctx = ZSTD_createDCtx();
  }
  s_->in.resize(1u << 20);
}

ArtifactReader::~ArtifactReader() = default;

size_t ArtifactReader::read(char* buf, size_t cap) {
  State& s = *s_;
  if (s.finished || cap == 0) return 0;
  if (!s.dctx) {
    if (s.pos == s.len && !s.fill()) {
      s.finish();
      return 0;
    }
    size_t n = std::min(cap, s.len - s.pos);
    std::memcpy(buf, s.in.data() + s.pos, n);
    s.pos += n;
    done_ += n;
    return n;
  }
  for (;;) {
    if (s.pos == s.len && !s.file_eof) s.fill();
    ZSTD_inBuffer in{s.in.data() + s.pos, s.len - s.pos, 0};
    ZSTD_outBuffer out{buf, cap, 0};
    size_t rc = ZSTD_decompressStream(s.dctx, &out, &in);
    if (ZSTD_isError(rc))
      throw Error("artifact " + s.id + " is corrupt (zstd: " + ZSTD_getErrorName(rc) + ")");
    s.pos += in.pos;
    // A call that neither read nor wrote says nothing about the frame (after the end of the
    // last frame it asks for the next one's header).
    if (in.pos > 0 || out.pos > 0) s.frame_done = rc == 0;
    if (out.pos > 0) {
      done_ += out.pos;
      return out.pos;
    }
    // No output: more input is needed, or everything has been delivered.
    if (s.file_eof && s.pos == s.len) {
      s.finish();
      return 0;
    }
  }
}

}  // namespace cutover::checkpoints
