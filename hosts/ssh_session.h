// One SSH connection: a TCP socket and a libssh2 session in non-blocking mode, plus the SFTP
// channel opened on first use. Every libssh2 call goes through call()/call_ptr(), which wait
// on the socket in short slices so that SIGINT/SIGTERM, a deadline and keepalives are handled
// while the server is slow. Internal to hosts/ssh*: nothing outside includes libssh2.
#pragma once

#include <libssh2.h>
#include <libssh2_sftp.h>

#include <functional>
#include <string>

#include "hosts/ssh_host.h"
#include "util/cancel.h"

namespace cutover::hosts {

/// Whether a wait gives up when SIGINT/SIGTERM arrives (cleanup after a timeout must not).
enum class Interruptible { yes, no };

class SshSession {
 public:
  explicit SshSession(const SshOptions& options);
  ~SshSession();
  SshSession(const SshSession&) = delete;
  SshSession& operator=(const SshSession&) = delete;

  /// Resolves, connects, verifies the host key and authenticates. Throws Error with a hint;
  /// on failure the session is closed again.
  void open();
  /// Closes everything, best effort, without blocking for long. Never throws.
  void close() noexcept;
  /// True when open and no call has failed at the connection level since.
  bool usable() const { return session_ && !broken_; }

  LIBSSH2_SESSION* raw() { return session_; }
  /// The SFTP subsystem, started on first use.
  LIBSSH2_SFTP* sftp();
  /// SHA256:<base64> of the host key seen at open().
  const std::string& fingerprint() const { return fingerprint_; }

  /// Calls `fn` until it returns something other than LIBSSH2_ERROR_EAGAIN, waiting on the
  /// socket in between. Throws Interrupted on SIGINT/SIGTERM (if interruptible) or when the
  /// deadline passes; the session is then marked broken, since libssh2 cannot abandon a call.
  long long call(const std::function<long long()>& fn, const util::Deadline& deadline = {},
                 Interruptible intr = Interruptible::yes);
  /// The same for calls that return a pointer (NULL + EAGAIN = try again). NULL on failure.
  void* call_ptr(const std::function<void*()>& fn, const util::Deadline& deadline = {},
                 Interruptible intr = Interruptible::yes);
  /// Waits once for the socket to be ready in libssh2's blocked direction (<= 250 ms), and
  /// sends a keepalive when one is due. Throws like call().
  void wait(const util::Deadline& deadline, Interruptible intr = Interruptible::yes);

  /// libssh2's last error text for this session.
  std::string last_error() const;
  /// Marks the connection unusable when `rc` is a connection-level failure (not an SFTP
  /// status). Returns true if it did.
  bool note_failure(long long rc);
  /// Marks the connection unusable (a caller abandoned libssh2 work midway); the next
  /// operation reconnects.
  void mark_broken() { broken_ = true; }
  /// "host NAME (USER@ADDRESS:PORT)", for messages.
  std::string who() const;
  /// A hint for a dropped connection.
  static std::string reconnect_hint();

 private:
  void connect_socket();
  void handshake();
  void authenticate();

  const SshOptions& opt_;
  int fd_ = -1;
  LIBSSH2_SESSION* session_ = nullptr;
  LIBSSH2_SFTP* sftp_ = nullptr;
  bool broken_ = false;
  std::string fingerprint_;
};

}  // namespace cutover::hosts
