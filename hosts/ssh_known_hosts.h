// Host-key checking for SshSession (SPEC §8): known_hosts lookup through libssh2_knownhost_*
// (which understands hashed `|1|` entries), the host-key algorithm preference derived from it,
// `accept-new` recording and pinned `SHA256:` fingerprints. Internal to hosts/ssh*.
#pragma once

#include <libssh2.h>

#include <string>
#include <vector>

#include "hosts/ssh_host.h"

namespace cutover::hosts::ssh_detail {

/// How the host key is checked, parsed from SshOptions::host_key.
struct HostKeyPolicy {
  enum Mode { strict, accept_new, pin } mode = strict;
  std::string pinned;       // base64 without padding, when mode == pin
  std::string file;         // known_hosts path, "~/" expanded
};

/// Parses SshOptions::host_key / known_hosts; throws Error with a hint for a bad value.
HostKeyPolicy host_key_policy(const SshOptions& options);

/// The name a known_hosts file uses for a server: "ADDRESS" for port 22, "[ADDRESS]:PORT"
/// otherwise (as OpenSSH writes it).
std::string known_hosts_name(const std::string& address, int port);

/// Host-key algorithms known_hosts holds for `name`, in preference order, RSA/DSA excluded.
struct KnownTypes {
  std::vector<std::string> methods;  // "ssh-ed25519", "ecdsa-sha2-nistp256", ...
  bool rsa_only = false;              // only ssh-rsa/ssh-dss entries exist for the host
};
KnownTypes known_types(LIBSSH2_SESSION* session, const std::string& file, const std::string& name);

/// The LIBSSH2_METHOD_HOSTKEY preference: the known types first, then the other supported
/// ones (ed25519, ECDSA); never ssh-rsa.
std::string hostkey_preference(const KnownTypes& known);

/// Verifies the host key the server presented (after the handshake) against the policy:
/// a match passes, an unknown key passes only with accept-new (and is appended to
/// known_hosts), a changed key or a wrong pin always throws Error. Returns the key's
/// SHA256:<base64> fingerprint. `who` names the host in messages.
std::string verify_host_key(LIBSSH2_SESSION* session, const SshOptions& options,
                            const std::string& who);

/// SHA256:<base64 without padding> of the session's host key, as OpenSSH prints it.
std::string host_key_fingerprint(LIBSSH2_SESSION* session);

/// Base64 (standard alphabet) without '=' padding.
std::string base64_nopad(const unsigned char* data, size_t len);

/// Decodes base64 (padding and whitespace ignored); "" if malformed.
std::string base64_decode(const std::string& text);

}  // namespace cutover::hosts::ssh_detail
