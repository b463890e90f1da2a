// A throwaway OpenSSH server for tests: /usr/sbin/sshd on 127.0.0.1 at a free port, with
// freshly generated host keys, a temp config and an authorized ed25519 client key. Stopped
// (with every connection it serves) when the object goes away.
#pragma once

#include <string>
#include <vector>

#include "hosts/ssh_host.h"

namespace cutover::test {

class Sshd {
 public:
  struct Config {
    std::vector<std::string> host_key_types{"ed25519"};  // ssh-keygen -t values
    bool password_auth = false;
    std::vector<std::string> extra_config;  // more sshd_config lines, e.g. "SetEnv A=B"
  };

  /// True when /usr/sbin/sshd and ssh-keygen exist (tests skip otherwise).
  static bool available();

  /// Generates keys, writes the config and starts sshd; throws std::runtime_error (with the
  /// server's log) if it does not accept connections within 10 s.
  explicit Sshd(Config config);
  Sshd() : Sshd(Config{}) {}
  ~Sshd();
  Sshd(const Sshd&) = delete;
  Sshd& operator=(const Sshd&) = delete;

  int port() const { return port_; }
  /// The temp folder holding keys, config and log (also usable as scratch space).
  const std::string& dir() const { return dir_; }
  /// The user the tests log in as (the current one).
  std::string user() const;
  /// An ed25519 client key authorized for every user.
  const std::string& client_key() const { return client_key_; }

  /// Generates a client key `name` in dir() (ssh-keygen -t TYPE, optional passphrase),
  /// authorizing it when asked. Returns the private key path.
  std::string make_client_key(const std::string& name, const std::string& type,
                              const std::string& passphrase = "", bool authorize = true);
  /// The server's public host key of `type` ("ssh-ed25519 AAAA...").
  std::string host_public_key(const std::string& type) const;
  /// SHA256:<base64> fingerprint of the server's host key of `type`.
  std::string host_fingerprint(const std::string& type) const;
  /// Writes a known_hosts file at `path` with `lines` (`[127.0.0.1]:PORT KEY`), hashing the
  /// host names when asked (ssh-keygen -H). Returns `path`.
  std::string write_known_hosts(const std::string& path, const std::vector<std::string>& keys,
                                bool hashed = false) const;
  /// The known_hosts line for a public key ("[127.0.0.1]:PORT ssh-ed25519 AAAA...").
  std::string known_hosts_line(const std::string& public_key) const;

  /// Options for an SshHost named "remote" that logs in with client_key(), checking the host
  /// key strictly against a known_hosts file holding the server's ed25519 key.
  hosts::SshOptions options() const;

  /// Kills every connection the server serves (SIGKILL to its per-connection processes).
  /// Returns how many processes were killed.
  int drop_connections();
  /// The server's log so far.
  std::string log() const;

  /// Creates (once, as root) a local user for password tests; returns its name, or "" when
  /// that is not possible (not root, useradd missing).
  static std::string password_user(const std::string& password);

 private:
  void start();
  void stop();

  Config config_;
  std::string dir_;
  std::string client_key_;
  int port_ = 0;
  int pid_ = -1;
};

}  // namespace cutover::test
