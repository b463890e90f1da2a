// Hosts reached over SSH (SPEC §3 `hosts:`, §8). SshHost implements the Host interface with
// libssh2: file operations over SFTP, commands over exec channels, sha256 and glob by running
// `sha256sum` / `sh` remotely. It also offers the streaming upload/download the `transfer` step
// needs (large pipelined SFTP writes and read-ahead reads, from an offset, for resume).
//
// One SshHost is one connection, opened by connect() (call it before any step runs so that a
// host-key or authentication problem stops the run before anything changes) or lazily by the
// first operation. A connection that drops is reopened by the next operation, verifying the
// host key again. Not thread-safe: one thread uses a host at a time.
//
// libssh2 1.10 limits (SPEC §8): RSA keys are refused, as identity files, agent identities and
// host keys, because 1.10 can only sign and verify with SHA-1 `ssh-rsa`, which OpenSSH >= 8.8
// rejects. The check happens before any connection is made where it can (key files,
// known_hosts entries); docs/hosts.md explains the fix.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "hosts/host.h"
#include "util/cancel.h"

namespace cutover::hosts {

/// How to reach and authenticate to one SSH host: the plan's `hosts.NAME` with secrets resolved.
struct SshOptions {
  std::string name;              // the plan's host name, used in every message
  std::string address;           // DNS name or IP address
  int port = 22;
  std::string user;
  std::string identity_file;     // private key file ("~/" expanded); "" = none
  std::string passphrase;        // for an encrypted identity file (a secret)
  std::string password;          // password authentication (a secret); "" = none
  bool agent = false;            // try the identities of $SSH_AUTH_SOCK
  std::string host_key = "strict";  // strict | accept-new | SHA256:<base64 fingerprint>
  std::string known_hosts;       // "" = ~/.ssh/known_hosts
  int connect_timeout_s = 15;    // DNS + TCP connect + handshake
  int keepalive_s = 15;          // SSH keepalive interval while waiting on the server
};

/// Statistics of one SshHost, for tests and reports.
struct SshStats {
  uint64_t connects = 0;         // successful connections (1 + reconnects)
  uint64_t bytes_uploaded = 0;   // file bytes acknowledged by upload()
  uint64_t bytes_downloaded = 0; // file bytes received by download()
};

/// A remote machine over SSH. Every method throws cutover::Error naming the host (and path)
/// on failure, Interrupted on SIGINT/SIGTERM; exec() reports the command's own failure in
/// its result instead.
class SshHost final : public Host {
 public:
  /// Checks the options (throws Error with a hint for an RSA identity file, a bad host_key
  /// value...) without connecting.
  explicit SshHost(SshOptions options);
  ~SshHost() override;
  SshHost(const SshHost&) = delete;
  SshHost& operator=(const SshHost&) = delete;

  /// Connects, verifies the host key and authenticates, unless already connected. Throws
  /// Error naming host, address and user, with a hint, for DNS, connect, host-key and
  /// authentication failures.
  void connect();
  /// Closes the connection (the next operation reconnects). Never throws.
  void disconnect() noexcept;
  /// SHA256:<base64> fingerprint of the server's host key (connects if needed).
  std::string host_key_fingerprint();
  /// The options this host was built from.
  const SshOptions& options() const;
  /// Counters since construction.
  const SshStats& stats() const;

  std::string name() const override;
  bool is_local() const override { return false; }
  FileInfo stat(const std::string& path) override;
  std::string read_file(const std::string& path) override;
  void write_file(const std::string& path, const std::string& data, uint32_t mode,
                  const std::optional<Owner>& owner = std::nullopt) override;
  void remove(const std::string& path) override;
  void rename(const std::string& from, const std::string& to) override;
  void chmod(const std::string& path, uint32_t mode) override;
  void chown(const std::string& path, uint32_t uid, uint32_t gid) override;
  void make_dirs(const std::string& path, uint32_t mode = 0755) override;
  void symlink(const std::string& target, const std::string& link) override;
  std::vector<std::string> list_dir(const std::string& path) override;
  std::vector<std::string> glob(const std::string& pattern) override;
  uint64_t free_bytes(const std::string& path) override;
  std::string sha256(const std::string& path) override;
  ExecResult exec(const ExecRequest& req) override;

  /// sha256 of a file of about `size` bytes: from kBulkHashFrom on, hashed with the host's
  /// python3 where it has one, which reads large files faster than `openssl dgst`.
  std::string sha256(const std::string& path, uint64_t size);

  /// sha256 (hex) of the first `length` bytes of a remote file (`head -c | sha256sum`).
  std::string sha256_prefix(const std::string& path, uint64_t length);

  /// Writes remote file `path` from byte `offset` on (0 = create or truncate; otherwise the
  /// file must hold at least `offset` bytes, which are kept), with bytes pulled from `source`
  /// until it returns 0, in >= 1 MiB pipelined SFTP writes. Then fsyncs the file
  /// (fsync@openssh.com) and sets `mode`. Returns the bytes written. A dropped connection
  /// throws Error; what the server acknowledged is in the file, so a later call can resume.
  /// With `landed_sha256`, the whole file (kept prefix included) is also read back and hashed
  /// on the host while the fsync runs; the hex digest is stored there, or "" when that could
  /// not be done (then hash the file afterwards).
  uint64_t upload(const std::string& path, uint64_t offset, uint32_t mode,
                  const std::function<size_t(char* buf, size_t cap)>& source,
                  const util::Deadline& deadline = {}, std::string* landed_sha256 = nullptr);

  /// Reads remote file `path` from byte `offset` to its end, handing each block to `sink`.
  /// Returns the bytes read.
  uint64_t download(const std::string& path, uint64_t offset,
                    const std::function<void(const char* data, size_t len)>& sink,
                    const util::Deadline& deadline = {});

  struct Impl;

 private:
  // write_file() of a file this user may write but not give back: rewritten in place.
  void write_in_place(const std::string& path, const std::string& data);
  uint64_t upload_impl(const std::string& path, uint64_t offset, uint32_t mode,
                       const std::function<size_t(char*, size_t)>& source,
                       const util::Deadline& deadline, std::string* landed_sha256);
  uint64_t download_impl(const std::string& path, uint64_t offset,
                         const std::function<void(const char*, size_t)>& sink,
                         const util::Deadline& deadline);

  std::unique_ptr<Impl> impl_;
};

/// An SshHost that is not connected yet (it connects at first use). Throws Error for options
/// that can never work (RSA identity file, unreadable key, bad host_key value).
std::unique_ptr<SshHost> make_ssh_host(const SshOptions& options);

/// An SshHost, connected: host key verified and authenticated. Throws Error with a hint.
std::unique_ptr<SshHost> connect_ssh(const SshOptions& options);

}  // namespace cutover::hosts
