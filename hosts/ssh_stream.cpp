// SshHost: streaming upload and download for the `transfer` step (SPEC §5, §9).
//
// Throughput over SFTP is set by how much data is in flight. libssh2_sftp_write() cuts the
// buffer it is given into 30000-byte SFTP WRITE packets, sends them all and returns as soon as
// the first ones are acknowledged, counting only acknowledged bytes: the caller must pass
// the unacknowledged rest again, followed by new data. upload() keeps a 1.5 MiB window over
// the source for that and refills it (read + hash, about a millisecond per MiB) while 512 KiB
// are still in flight, so the pipe never drains. More in flight than OpenSSH's 2 MiB channel
// window is slower, not faster: the old 4 MiB window sent 1 GiB in 6.3 s against 5.0 s now
// (medians of 5 alternating runs); letting the window drain before each 1 MiB refill took 9 s;
// 32 KiB writes run at a third of the speed.
// libssh2_sftp_read() reads ahead up to four times the buffer it is given: 1 MiB buffers.
//
// With `landed_sha256` the host hashes the copy while the fsync runs (RemoteHash below).
#include <cstring>
#include <optional>
#include <vector>

#include "hosts/ssh_host.h"
#include "hosts/ssh_host_impl.h"
#include "util/error.h"
#include "util/strings.h"

namespace cutover::hosts {
namespace {

constexpr size_t kChunk = 1u << 20;               // download: libssh2_sftp_read's buffer
constexpr size_t kWindow = kSftpWriteWindow;      // upload: at most 1.5 MiB in flight
constexpr size_t kRefillBelow = 1u << 19;         // read more when less than this is unacked

// Hashes the uploaded file on the host while its fsync runs. Both used to follow the last
// byte one after the other (about 1 s each per GiB here); the read-back is CPU and page cache,
// the fsync is the disk, so they overlap well. A second channel of the same connection runs
// the hash command on the file; pump() and finish() collect its answer without blocking the
// SFTP calls in between (libssh2 queues the other channel's data while they wait).
//
// (Hashing while the bytes are still arriving was tried twice: on a host whose CPUs are busy
// with sshd it slowed the upload by more than it saved. The second time, with today's window,
// GNU `tail -f` fed the hash as sftp-server wrote: the bytes of 1 GiB took 7.1-7.4 s against
// 4.9-6.1 s, and fsync + hash after them still 1.0-1.1 s against 1.2-1.4 s (three alternating
// runs). Starting writeback early, `sync -f` twice during the upload, made both phases slower.)
//
// Best effort: when the command cannot run, the answer is "" and the transfer step hashes
// the copy itself afterwards; a digest that does not match is also checked again there.
class RemoteHash {
 public:
  RemoteHash(SshSession& s, const std::string& path, uint64_t size) : s_(s), guard_{s, nullptr} {
    const char* hash = size >= kBulkHashFrom ? kBulkHashCommand : kHashCommand;
    const std::string command =
        "exec /bin/sh -c " + util::shell_quote(std::string(hash) + " < " +
                                               util::shell_quote(path) + " 2>/dev/null");
    LIBSSH2_SESSION* raw = s_.raw();
    ch_ = guard_.ch = static_cast<LIBSSH2_CHANNEL*>(
        s_.call_ptr([&] { return static_cast<void*>(libssh2_channel_open_session(raw)); }));
    if (!ch_ || s_.call([&] { return libssh2_channel_exec(ch_, command.c_str()); }) != 0 ||
        s_.call([&] { return libssh2_channel_send_eof(ch_); }) != 0)
      dead_ = true;
  }

  /// The file's sha256 as the host computed it, or "" when it could not be had.
  std::string finish(const util::Deadline& deadline) {
    try {
      while (!dead_ && !libssh2_channel_eof(ch_))
        if (!pump()) s_.wait(deadline);
      if (dead_ ||
          s_.call([&] { return libssh2_channel_close(ch_); }, deadline) != 0 ||
          s_.call([&] { return libssh2_channel_wait_closed(ch_); }, deadline) != 0 ||
          libssh2_channel_get_exit_status(ch_) != 0)
        return "";
    } catch (const Interrupted&) {
      throw;  // SIGINT or the step's deadline: stop the step, not just this answer
    } catch (const Error&) {
      return "";
    }
    std::string hex = out_.substr(0, out_.find_first_of(" \t\n"));
    return hex.size() == 64 ? hex : "";
  }

 private:
  // Reads what the command printed, without blocking; returns whether anything came.
  bool pump() {
    bool moved = false;
    char buf[256];
    for (int stream : {0, SSH_EXTENDED_DATA_STDERR}) {
      while (true) {
        long long n = libssh2_channel_read_ex(ch_, stream, buf, sizeof buf);
        if (n == LIBSSH2_ERROR_EAGAIN || n == 0) break;
        if (n < 0) {
          s_.note_failure(n);
          dead_ = true;
          return false;
        }
        if (stream == 0 && out_.size() < 4096) out_.append(buf, static_cast<size_t>(n));
        moved = true;
      }
    }
    return moved;
  }

  SshSession& s_;
  ChannelGuard guard_;  // frees the channel
  LIBSSH2_CHANNEL* ch_ = nullptr;
  std::string out_;
  bool dead_ = false;
};

// An exception between libssh2 calls (the source or sink threw) leaves requests in flight on
// the SFTP channel: drop the connection rather than reuse a channel in an unknown state.
template <class F>
uint64_t guarded(SshSession& s, F&& f) {
  try {
    return f();
  } catch (...) {
    s.mark_broken();
    throw;
  }
}

}  // namespace

uint64_t SshHost::upload(const std::string& path, uint64_t offset, uint32_t mode,
                         const std::function<size_t(char*, size_t)>& source,
                         const util::Deadline& deadline, std::string* landed_sha256) {
  return guarded(impl_->session,
                 [&] { return upload_impl(path, offset, mode, source, deadline, landed_sha256); });
}

uint64_t SshHost::download(const std::string& path, uint64_t offset,
                           const std::function<void(const char*, size_t)>& sink,
                           const util::Deadline& deadline) {
  return guarded(impl_->session, [&] { return download_impl(path, offset, sink, deadline); });
}

uint64_t SshHost::upload_impl(const std::string& path, uint64_t offset, uint32_t mode,
                              const std::function<size_t(char*, size_t)>& source,
                              const util::Deadline& deadline, std::string* landed_sha256) {
  unsigned long flags = LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT;
  if (offset == 0) flags |= LIBSSH2_FXF_TRUNC;
  auto h = sftp_open(*impl_, path, flags, 0600, LIBSSH2_SFTP_OPENFILE,
                     "cannot open for writing", deadline);
  if (offset) libssh2_sftp_seek64(h->get(), offset);
  SshSession& s = impl_->session;

  std::vector<char> buf(kWindow);
  size_t start = 0, end = 0;  // buf[start, end): unacknowledged bytes, then unsent ones
  bool source_done = false;
  uint64_t written = 0;
  while (true) {
    if (!source_done && end - start < kRefillBelow) {
      if (start > 0) {
        std::memmove(buf.data(), buf.data() + start, end - start);
        end -= start;
        start = 0;
      }
      while (!source_done && end < buf.size()) {
        size_t n = source(buf.data() + end, buf.size() - end);
        if (n == 0) source_done = true;
        end += n;
      }
    }
    if (start == end) break;
    long long n = s.call(
        [&] { return libssh2_sftp_write(h->get(), buf.data() + start, end - start); }, deadline);
    if (n < 0) impl_->fail("cannot write", path, n);
    start += static_cast<size_t>(n);
    written += static_cast<uint64_t>(n);
    impl_->stats.bytes_uploaded += static_cast<uint64_t>(n);
  }
  std::optional<RemoteHash> landed;
  if (landed_sha256) landed.emplace(s, path, offset + written);  // reads it while fsync writes it
  long long rc = s.call([&] { return libssh2_sftp_fsync(h->get()); }, deadline);
  if (rc != 0 && impl_->sftp_status(rc) != LIBSSH2_FX_OP_UNSUPPORTED)
    impl_->fail("cannot fsync", path, rc);
  LIBSSH2_SFTP_ATTRIBUTES a{};
  a.flags = LIBSSH2_SFTP_ATTR_PERMISSIONS;
  a.permissions = mode & 07777;
  rc = s.call([&] { return libssh2_sftp_fsetstat(h->get(), &a); }, deadline);
  if (rc != 0) impl_->fail("cannot set the mode of", path, rc);
  rc = h->close();
  if (rc != 0) impl_->fail("cannot close", path, rc);
  if (landed) *landed_sha256 = landed->finish(deadline);
  return written;
}

uint64_t SshHost::download_impl(const std::string& path, uint64_t offset,
                                const std::function<void(const char*, size_t)>& sink,
                                const util::Deadline& deadline) {
  auto h = sftp_open(*impl_, path, LIBSSH2_FXF_READ, 0, LIBSSH2_SFTP_OPENFILE, "cannot open",
                     deadline);
  if (offset) libssh2_sftp_seek64(h->get(), offset);
  std::vector<char> buf(kChunk);
  uint64_t got = 0;
  while (true) {
    long long n = impl_->session.call(
        [&] { return libssh2_sftp_read(h->get(), buf.data(), buf.size()); }, deadline);
    if (n < 0) impl_->fail("cannot read", path, n);
    if (n == 0) break;
    sink(buf.data(), static_cast<size_t>(n));
    got += static_cast<uint64_t>(n);
    impl_->stats.bytes_downloaded += static_cast<uint64_t>(n);
  }
  return got;
}

}  // namespace cutover::hosts
