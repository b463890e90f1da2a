#include "hosts/ssh_session.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "hosts/ssh_auth.h"
#include "hosts/ssh_known_hosts.h"
#include "util/error.h"

namespace cutover::hosts {
namespace {

// libssh2_sftp_write() allocates a packet of about 30 KB for every 30000 bytes it sends and
// frees it when the host acknowledges it, first in, first out. With glibc's defaults the
// freed top of the heap went back to the kernel over and over and was faulted in again:
// 50,500 page faults for a 1 GiB upload, and about a second of the client's CPU (user time
// 3.6 -> 2.8 s, system 0.9 -> 0.5 s; the bytes in 4.8 -> 3.5 s, bench/transfer_bench.sh).
// Keeping up to 8 MiB of free heap ends that (1,350 faults); buffers under 4 MiB, like the
// transfer's, come from the heap rather than from a fresh mmap each time. The peak RSS of
// the 1 GiB transfer did not move (15 MiB). Process-wide, set once with the first session.
void tune_malloc_for_sftp() {
#ifdef __GLIBC__
  ::mallopt(M_TRIM_THRESHOLD, 8 << 20);
  ::mallopt(M_MMAP_THRESHOLD, 4 << 20);
#endif
}

void init_libssh2() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (libssh2_init(0) != 0) throw Error("cannot initialise libssh2");
    tune_malloc_for_sftp();
  });
}

// Waits for a non-blocking connect() to finish; returns 0 or an errno value.
int finish_connect(int fd, int timeout_ms) {
  pollfd p{fd, POLLOUT, 0};
  while (true) {
    int rc = ::poll(&p, 1, timeout_ms > 250 ? 250 : timeout_ms);
    if (rc < 0 && errno != EINTR) return errno;
    if (rc > 0) break;
    if (util::interrupted()) throw Interrupted("interrupted while connecting");
    timeout_ms -= 250;
    if (timeout_ms <= 0) return ETIMEDOUT;
  }
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  return err;
}

}  // namespace

SshSession::SshSession(const SshOptions& options) : opt_(options) {}

SshSession::~SshSession() { close(); }

std::string SshSession::who() const {
  return "host " + opt_.name + " (" + opt_.user + "@" + opt_.address + ":" +
         std::to_string(opt_.port) + ")";
}

std::string SshSession::reconnect_hint() {
  return "the connection dropped (network, server restart, sshd killed); run again: cutover "
         "reconnects, and `transfer` resumes from its partial file";
}

std::string SshSession::last_error() const {
  if (!session_) return "not connected";
  char* msg = nullptr;
  int len = 0;
  int rc = libssh2_session_last_error(session_, &msg, &len, 0);
  std::string text = msg && len > 0 ? std::string(msg, static_cast<size_t>(len)) : "unknown";
  return text + " (libssh2 error " + std::to_string(rc) + ")";
}

bool SshSession::note_failure(long long rc) {
  if (rc >= 0 || rc == LIBSSH2_ERROR_EAGAIN || rc == LIBSSH2_ERROR_SFTP_PROTOCOL) return false;
  broken_ = true;
  return true;
}

void SshSession::connect_socket() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string port = std::to_string(opt_.port);
  int gai = ::getaddrinfo(opt_.address.c_str(), port.c_str(), &hints, &res);
  if (gai != 0)
    throw Error(who() + ": cannot resolve '" + opt_.address + "': " + gai_strerror(gai),
                "check hosts." + opt_.name + ".address and this machine's DNS (getent hosts " +
                    opt_.address + ")");
  int last_err = 0;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                      ai->ai_protocol);
    if (fd < 0) {
      last_err = errno;
      continue;
    }
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    int err = rc == 0 ? 0 : errno == EINPROGRESS ? finish_connect(fd, opt_.connect_timeout_s * 1000)
                                                 : errno;
    if (err == 0) {
      fd_ = fd;
      break;
    }
    last_err = err;
    ::close(fd);
  }
  ::freeaddrinfo(res);
  if (fd_ < 0)
    throw Error(who() + ": cannot connect to " + opt_.address + " port " + port + ": " +
                    std::strerror(last_err),
                last_err == ETIMEDOUT
                    ? "no answer within " + std::to_string(opt_.connect_timeout_s) +
                          "s: check the address, the port and firewalls"
                    : "is sshd running and listening on port " + port + "? (hosts." +
                          opt_.name + ".port)");
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(fd_, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  // Unacknowledged data for this long means the peer is gone: fail instead of hanging
  // (keepalives guarantee there is data in flight while we wait on the server).
  unsigned int user_timeout_ms = 60000;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
}

void SshSession::handshake() {
  session_ = libssh2_session_init_ex(nullptr, nullptr, nullptr, nullptr);
  if (!session_) throw Error(who() + ": cannot create an SSH session");
  libssh2_session_set_blocking(session_, 0);

  std::string known_name = ssh_detail::known_hosts_name(opt_.address, opt_.port);
  ssh_detail::HostKeyPolicy policy = ssh_detail::host_key_policy(opt_);
  ssh_detail::KnownTypes known;
  if (policy.mode != ssh_detail::HostKeyPolicy::pin)
    known = ssh_detail::known_types(session_, policy.file, known_name);
  if (known.rsa_only)
    throw Error(who() + ": " + policy.file + " knows only an RSA host key for " + known_name +
                    ", which cutover cannot verify: libssh2 1.10 handles RSA host keys only "
                    "with SHA-1 ssh-rsa",
                "give the server an ed25519 host key (ssh-keygen -A; HostKey "
                "/etc/ssh/ssh_host_ed25519_key in sshd_config) and add it to known_hosts "
                "(ssh-keyscan -t ed25519)");
  // libssh2 would negotiate ECDSA ahead of ed25519: ask for what known_hosts holds first.
  std::string pref = ssh_detail::hostkey_preference(known);
  libssh2_session_method_pref(session_, LIBSSH2_METHOD_HOSTKEY, pref.c_str());

  util::Deadline dl = util::Deadline::after(std::chrono::seconds(opt_.connect_timeout_s));
  long long rc;
  try {
    rc = call([&] { return libssh2_session_handshake(session_, fd_); }, dl);
  } catch (const Interrupted&) {
    if (util::interrupted()) throw;
    throw Error(who() + ": no SSH handshake within " + std::to_string(opt_.connect_timeout_s) +
                    "s",
                "is this port an SSH server? (hosts." + opt_.name + ".port)");
  }
  if (rc == LIBSSH2_ERROR_KEX_FAILURE)
    throw Error(who() + ": cannot agree on keys with the server (host key types offered by "
                    "cutover: " + pref + "): " + last_error(),
                "if the server has only an RSA host key: libssh2 1.10 verifies RSA only with "
                "SHA-1; add an ed25519 host key to the server (ssh-keygen -A), or allow "
                "'HostKeyAlgorithms +ssh-rsa' in its sshd_config");
  if (rc != 0)
    throw Error(who() + ": SSH handshake failed: " + last_error(),
                "is this port an SSH server? check the server's log");
  fingerprint_ = ssh_detail::verify_host_key(session_, opt_, who());
}

void SshSession::authenticate() { ssh_detail::authenticate(*this, opt_); }

void SshSession::open() {
  close();
  init_libssh2();
  try {
    connect_socket();
    handshake();
    authenticate();
    libssh2_keepalive_config(session_, 1, static_cast<unsigned>(opt_.keepalive_s));
  } catch (...) {
    close();
    throw;
  }
  broken_ = false;
}

void SshSession::close() noexcept {
  if (broken_ && fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);  // every later send/recv fails fast
  util::Deadline dl = util::Deadline::after(std::chrono::seconds(2));
  try {
    if (sftp_) call([&] { return libssh2_sftp_shutdown(sftp_); }, dl, Interruptible::no);
  } catch (...) {
  }
  sftp_ = nullptr;
  if (session_) {
    try {
      if (!broken_)
        call([&] { return libssh2_session_disconnect(session_, "cutover done"); }, dl,
             Interruptible::no);
    } catch (...) {
    }
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
    for (int i = 0; i < 10 && libssh2_session_free(session_) == LIBSSH2_ERROR_EAGAIN; ++i) {
    }
    session_ = nullptr;
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  broken_ = false;
  fingerprint_.clear();
}

LIBSSH2_SFTP* SshSession::sftp() {
  if (!sftp_) {
    sftp_ = static_cast<LIBSSH2_SFTP*>(
        call_ptr([&] { return static_cast<void*>(libssh2_sftp_init(session_)); }));
    if (!sftp_) {
      std::string err = last_error();
      note_failure(libssh2_session_last_errno(session_));
      throw Error(who() + ": cannot start SFTP: " + err,
                  "the server needs an SFTP subsystem (Subsystem sftp internal-sftp or "
                  "/usr/lib/openssh/sftp-server in sshd_config)");
    }
  }
  return sftp_;
}

void SshSession::wait(const util::Deadline& deadline, Interruptible intr) {
  if (intr == Interruptible::yes && util::interrupted()) {
    broken_ = true;
    throw Interrupted(who() + ": interrupted");
  }
  if (deadline.expired()) {
    broken_ = true;
    throw Interrupted(who() + ": timed out");
  }
  int dir = libssh2_session_block_directions(session_);
  pollfd p{fd_, 0, 0};
  if (dir & LIBSSH2_SESSION_BLOCK_INBOUND) p.events |= POLLIN;
  if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND) p.events |= POLLOUT;
  if (!p.events) p.events = POLLIN;
  ::poll(&p, 1, static_cast<int>(deadline.remaining_ms(250)));
  if (!(dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)) {
    int next = 0;
    libssh2_keepalive_send(session_, &next);
  }
}

long long SshSession::call(const std::function<long long()>& fn, const util::Deadline& deadline,
                           Interruptible intr) {
  while (true) {
    long long rc = fn();
    if (rc != LIBSSH2_ERROR_EAGAIN) return rc;
    wait(deadline, intr);
  }
}

void* SshSession::call_ptr(const std::function<void*()>& fn, const util::Deadline& deadline,
                           Interruptible intr) {
  while (true) {
    void* p = fn();
    if (p || libssh2_session_last_errno(session_) != LIBSSH2_ERROR_EAGAIN) return p;
    wait(deadline, intr);
  }
}

}  // namespace cutover::hosts
