// SshHost's private state, shared by its implementation files (ssh_host.cpp: files over SFTP,
// ssh_exec.cpp: commands, ssh_stream.cpp: upload/download). Internal to hosts/ssh*.
#pragma once

#include <libssh2.h>
#include <libssh2_sftp.h>

#include <string>

#include "hosts/ssh_host.h"
#include "hosts/ssh_session.h"

namespace cutover::hosts {

struct SshHost::Impl {
  explicit Impl(SshOptions o) : options(std::move(o)), session(options) {}

  SshOptions options;
  SshSession session;
  SshStats stats;

  /// The session, (re)connected if it is not usable.
  SshSession& ensure();
  /// The SFTP subsystem of a usable session.
  LIBSSH2_SFTP* sftp() { return ensure().sftp(); }

  /// Throws Error "HOST: WHAT PATH: reason" for a failed libssh2/SFTP call `rc`, marking the
  /// connection broken when the failure is not an SFTP status.
  [[noreturn]] void fail(const std::string& what, const std::string& path, long long rc);
  /// The SFTP status code of the last failed SFTP call (LIBSSH2_FX_*), or -1.
  unsigned long sftp_status(long long rc);

  /// Runs `command` (a POSIX shell command line) and returns its result; throws Error when
  /// it cannot be started. See ExecResult for the command's own failure.
  ExecResult run(const std::string& command, const util::Deadline& deadline = {},
                 const std::string& stdin_data = {});
  /// run() that throws Error naming `what` unless the command exits 0.
  std::string run_ok(const std::string& command, const std::string& what);
};

/// A shell command reading stdin and printing its sha256 (hex first): OpenSSL's where the
/// host has it (about three times as fast as coreutils' with SHA extensions), else sha256sum.
extern const char kHashCommand[];
/// kHashCommand for large files: the host's /usr/bin/python3 where it has one (hashlib is
/// OpenSSL's SHA-256, fed 1 MiB per read where `openssl dgst` reads 8 KiB: 0.83 s per GiB
/// against 1.04-1.16 s here, and less CPU). Its ~20 ms start costs more than that saves on
/// small files, which keep kHashCommand.
extern const char kBulkHashCommand[];
constexpr uint64_t kBulkHashFrom = 64u << 20;  // files this large: kBulkHashCommand

/// The most an upload keeps in flight over SFTP: below OpenSSH's 2 MiB channel window, beyond
/// which libssh2 1.10 writes get slower instead of faster (see ssh_stream.cpp).
constexpr size_t kSftpWriteWindow = 3u << 19;  // 1.5 MiB

/// Frees a channel when the scope ends (closing it first if still open), unless the
/// connection is no longer usable (closing the session frees it then).
struct ChannelGuard {
  SshSession& s;
  LIBSSH2_CHANNEL* ch;
  ~ChannelGuard() {
    if (!ch || !s.usable()) return;
    try {
      s.call([&] { return libssh2_channel_free(ch); },
             util::Deadline::after(std::chrono::seconds(5)), Interruptible::no);
    } catch (...) {
    }
  }
};

/// An open SFTP file or folder handle, closed on destruction.
class SftpHandle {
 public:
  SftpHandle(SshHost::Impl& host, LIBSSH2_SFTP_HANDLE* h) : host_(host), h_(h) {}
  ~SftpHandle();
  SftpHandle(const SftpHandle&) = delete;
  SftpHandle& operator=(const SftpHandle&) = delete;
  LIBSSH2_SFTP_HANDLE* get() const { return h_; }
  /// Closes now, reporting failure as the return code.
  long long close();

 private:
  SshHost::Impl& host_;
  LIBSSH2_SFTP_HANDLE* h_;
};

/// Opens `path` (libssh2_sftp_open_ex flags, mode, LIBSSH2_SFTP_OPENFILE/OPENDIR); throws
/// Error naming `what` and the path on failure.
std::unique_ptr<SftpHandle> sftp_open(SshHost::Impl& host, const std::string& path,
                                      unsigned long flags, long mode, int type,
                                      const std::string& what,
                                      const util::Deadline& deadline = {});

}  // namespace cutover::hosts
