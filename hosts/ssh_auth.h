// SSH user authentication for SshSession: identity file, ssh-agent, password (and
// keyboard-interactive answered with the password). Identity files are inspected before any
// connection is made, so that an RSA key (which libssh2 1.10 can only use with SHA-1
// `ssh-rsa`, refused by OpenSSH >= 8.8) or a missing passphrase stops the run early.
// Internal to hosts/ssh*. No message ever contains a passphrase or password.
#pragma once

#include <string>

#include "hosts/ssh_host.h"

namespace cutover::hosts {
class SshSession;
}

namespace cutover::hosts::ssh_detail {

/// What a private key file holds, read without decrypting it.
struct IdentityInfo {
  std::string path;       // "~/" expanded
  std::string type;       // "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa", "" = unknown
  bool encrypted = false;
};

/// Reads a private key file's type and whether it is encrypted; throws Error when the file
/// cannot be read.
IdentityInfo inspect_identity(const std::string& path);

/// Checks the options' authentication settings before connecting: some method is given,
/// the identity file is readable, not RSA, and has a passphrase if it needs one. Throws Error
/// with a hint.
void check_auth_options(const SshOptions& options);

/// Authenticates the open session with the configured methods, in the order identity file,
/// agent, password. Throws Error naming host and user, with a hint, when all fail.
void authenticate(SshSession& session, const SshOptions& options);

}  // namespace cutover::hosts::ssh_detail
