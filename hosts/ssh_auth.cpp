#include "hosts/ssh_auth.h"

#include <libssh2.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "hosts/ssh_known_hosts.h"
#include "hosts/ssh_session.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace cutover::hosts::ssh_detail {
namespace {

const char kRsaHint[] =
    "create an ed25519 key (ssh-keygen -t ed25519) and add its .pub to the server's "
    "~/.ssh/authorized_keys; or, on a server you control and accepting SHA-1, add "
    "'PubkeyAcceptedAlgorithms +ssh-rsa' to its sshd_config";

// Reads an SSH wire-format string (uint32 length + bytes) from `blob` at `pos`.
bool read_string(const std::string& blob, size_t& pos, std::string& out) {
  if (pos + 4 > blob.size()) return false;
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<unsigned char>(blob[pos + i]);
  pos += 4;
  if (n > blob.size() - pos) return false;
  out = blob.substr(pos, n);
  pos += n;
  return true;
}

std::string blob_type(const std::string& blob) {
  size_t pos = 0;
  std::string type;
  return read_string(blob, pos, type) ? type : "";
}

// The body of an OpenSSH private key: "openssh-key-v1\0", cipher, kdf, kdf options, key
// count, then the public key blob (never encrypted).
void parse_openssh_key(const std::string& pem, IdentityInfo& info) {
  std::string body;
  bool in = false;
  for (const auto& line : util::split(pem, '\n')) {
    if (util::starts_with(line, "-----BEGIN")) in = true;
    else if (util::starts_with(line, "-----END")) break;
    else if (in) body += util::trim(line);
  }
  std::string blob = base64_decode(body);
  const std::string magic("openssh-key-v1\0", 15);
  if (blob.compare(0, magic.size(), magic) != 0) return;
  size_t pos = magic.size();
  std::string cipher, kdf, kdf_opts, pub;
  if (!read_string(blob, pos, cipher) || !read_string(blob, pos, kdf) ||
      !read_string(blob, pos, kdf_opts) || pos + 4 > blob.size())
    return;
  pos += 4;
  info.encrypted = cipher != "none";
  if (read_string(blob, pos, pub)) info.type = blob_type(pub);
}

bool offers(const std::string& methods, const char* method) {
  for (const auto& m : util::split(methods, ','))
    if (m == method) return true;
  return false;
}

// Keyboard-interactive with the password as the answer to every prompt (servers with
// `UsePAM yes` often offer only this for passwords).
extern "C" void kbd_callback(const char*, int, const char*, int, int num_prompts,
                             const LIBSSH2_USERAUTH_KBDINT_PROMPT*,
                             LIBSSH2_USERAUTH_KBDINT_RESPONSE* responses, void** abstract) {
  const auto* password = static_cast<const std::string*>(*abstract);
  for (int i = 0; i < num_prompts; ++i) {
    responses[i].text = static_cast<char*>(std::malloc(password->size() + 1));
    std::memcpy(responses[i].text, password->c_str(), password->size() + 1);
    responses[i].length = static_cast<unsigned int>(password->size());
  }
}

// The identity files to try: the configured one, or OpenSSH's defaults that exist.
std::vector<std::string> identity_files(const SshOptions& o) {
  if (!o.identity_file.empty()) return {util::expand_home(o.identity_file)};
  std::vector<std::string> out;
  if (!o.agent && o.password.empty())
    for (const char* p : {"~/.ssh/id_ed25519", "~/.ssh/id_ecdsa"})
      if (util::exists(util::expand_home(p))) out.push_back(util::expand_home(p));
  return out;
}

}  // namespace

IdentityInfo inspect_identity(const std::string& path) {
  IdentityInfo info;
  info.path = util::expand_home(path);
  std::string pem = util::read_file(info.path);
  if (pem.find("BEGIN OPENSSH PRIVATE KEY") != std::string::npos) {
    parse_openssh_key(pem, info);
  } else if (pem.find("BEGIN RSA PRIVATE KEY") != std::string::npos) {
    info.type = "ssh-rsa";
  } else if (pem.find("BEGIN EC PRIVATE KEY") != std::string::npos) {
    info.type = "ecdsa";
  } else if (pem.find("BEGIN DSA PRIVATE KEY") != std::string::npos) {
    info.type = "ssh-dss";
  }
  if (pem.find("ENCRYPTED") != std::string::npos) info.encrypted = true;
  if (info.type.empty() && util::exists(info.path + ".pub")) {
    std::string pub = util::read_file(info.path + ".pub");
    info.type = pub.substr(0, pub.find(' '));
  }
  return info;
}

void check_auth_options(const SshOptions& o) {
  std::string field = "hosts." + o.name;
  std::vector<std::string> ids = identity_files(o);
  if (ids.empty() && !o.agent && o.password.empty())
    throw Error(field + ": no way to authenticate as " + o.user + " (no identity_file, agent or "
                "password, and no ~/.ssh/id_ed25519 or ~/.ssh/id_ecdsa)",
                "set " + field + ".identity_file: ~/.ssh/id_ed25519 (or agent: true, or "
                "password: ${secrets.NAME})");
  for (const auto& path : ids) {
    IdentityInfo id;
    try {
      id = inspect_identity(path);
    } catch (const Error& e) {
      throw Error(field + ".identity_file: " + e.what(),
                  "check the path; the key must be readable by the user running cutover");
    }
    if (id.type == "ssh-rsa" || id.type == "ssh-dss")
      throw Error(field + ".identity_file: " + path + " is an " +
                      (id.type == "ssh-rsa" ? "RSA" : "DSA") +
                      " key, which cutover cannot use: libssh2 1.10 signs only with SHA-1 "
                      "(ssh-rsa), which OpenSSH 8.8 and later refuse",
                  kRsaHint);
    if (id.encrypted && o.passphrase.empty())
      throw Error(field + ".identity_file: " + path + " is protected by a passphrase, and none "
                  "is given",
                  "set " + field + ".passphrase: ${secrets.NAME}");
  }
}

void authenticate(SshSession& s, const SshOptions& o) {
  LIBSSH2_SESSION* raw = s.raw();
  const std::string who = s.who();
  const auto ulen = static_cast<unsigned int>(o.user.size());
  auto* list = static_cast<char*>(s.call_ptr(
      [&] { return static_cast<void*>(libssh2_userauth_list(raw, o.user.c_str(), ulen)); }));
  if (!list) {
    if (libssh2_userauth_authenticated(raw)) return;
    s.note_failure(libssh2_session_last_errno(raw));
    throw Error(who + ": cannot start authentication: " + s.last_error(),
                "the server closed the connection; check its log (journalctl -u ssh)");
  }
  const std::string methods = list;
  std::vector<std::string> failures;
  std::string hint;
  // A connection-level failure ends the attempt at once; an auth refusal tries the next way.
  auto refused = [&](long long rc, const std::string& what, const std::string& h) {
    if (s.note_failure(rc) && rc != LIBSSH2_ERROR_AUTHENTICATION_FAILED &&
        rc != LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED && rc != LIBSSH2_ERROR_FILE &&
        rc != LIBSSH2_ERROR_PASSWORD_EXPIRED)
      throw Error(who + ": connection lost during authentication: " + s.last_error());
    failures.push_back(what);
    if (hint.empty()) hint = h;
  };

  for (const auto& path : identity_files(o)) {
    if (!offers(methods, "publickey")) {
      failures.push_back("the server does not accept keys");
      break;
    }
    // For an encrypted key, let libssh2 derive the public key from the private one: with a
    // .pub file it would report a wrong passphrase as "key not accepted".
    bool encrypted = inspect_identity(path).encrypted;
    std::string pub = !encrypted && util::exists(path + ".pub") ? path + ".pub" : "";
    long long rc = s.call([&] {
      return libssh2_userauth_publickey_fromfile_ex(
          raw, o.user.c_str(), ulen, pub.empty() ? nullptr : pub.c_str(), path.c_str(),
          o.passphrase.empty() ? nullptr : o.passphrase.c_str());
    });
    if (rc == 0) return;
    if (rc == LIBSSH2_ERROR_FILE)
      refused(rc, "cannot load the key " + path + " (wrong passphrase, or a format libssh2 "
                  "cannot read)",
              "check the secret given as hosts." + o.name + ".passphrase");
    else
      refused(rc, "the server did not accept the key " + path,
              "add " + path + ".pub to ~" + o.user + "/.ssh/authorized_keys on " + o.address +
                  " (ssh-copy-id -i " + path + " -p " + std::to_string(o.port) + " " + o.user +
                  "@" + o.address + "), or check hosts." + o.name + ".user");
  }

  if (o.agent && offers(methods, "publickey")) {
    const char* sock = std::getenv("SSH_AUTH_SOCK");
    LIBSSH2_AGENT* agent = libssh2_agent_init(raw);
    int tried = 0, rsa = 0;
    if (!agent || !sock || libssh2_agent_connect(agent) != 0) {
      failures.push_back("cannot reach ssh-agent" + std::string(sock ? "" : " (SSH_AUTH_SOCK is not set)"));
      if (hint.empty()) hint = "start ssh-agent and ssh-add your ed25519 key, or use identity_file";
    } else if (libssh2_agent_list_identities(agent) != 0) {
      failures.push_back("cannot list the identities of ssh-agent");
    } else {
      struct libssh2_agent_publickey *id = nullptr, *prev = nullptr;
      while (libssh2_agent_get_identity(agent, &id, prev) == 0) {
        prev = id;
        std::string type =
            blob_type(std::string(reinterpret_cast<const char*>(id->blob), id->blob_len));
        if (type == "ssh-rsa" || type == "ssh-dss") {
          ++rsa;
          continue;
        }
        ++tried;
        long long rc = s.call([&] { return libssh2_agent_userauth(agent, o.user.c_str(), id); });
        if (rc == 0) {
          libssh2_agent_disconnect(agent);
          libssh2_agent_free(agent);
          return;
        }
        if (s.note_failure(rc) && rc != LIBSSH2_ERROR_AUTHENTICATION_FAILED &&
            rc != LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED)
          break;
      }
      failures.push_back("the server accepted none of the agent's " + std::to_string(tried) +
                         " usable key(s)" +
                         (rsa ? " (" + std::to_string(rsa) + " RSA key(s) skipped)" : ""));
      if (hint.empty()) hint = rsa && !tried ? kRsaHint : "ssh-add the key whose .pub is in "
                               "the server's authorized_keys";
    }
    if (agent) {
      libssh2_agent_disconnect(agent);
      libssh2_agent_free(agent);
    }
  }

  if (!o.password.empty()) {
    std::string ph = "check the secret given as hosts." + o.name + ".password";
    if (offers(methods, "password")) {
      long long rc = s.call([&] {
        return libssh2_userauth_password_ex(raw, o.user.c_str(), ulen, o.password.c_str(),
                                            static_cast<unsigned int>(o.password.size()),
                                            nullptr);
      });
      if (rc == 0) return;
      refused(rc, rc == LIBSSH2_ERROR_PASSWORD_EXPIRED ? "the password has expired"
                                                        : "the server rejected the password",
              ph);
    } else if (offers(methods, "keyboard-interactive")) {
      void** abstract = libssh2_session_abstract(raw);
      void* saved = *abstract;
      *abstract = const_cast<std::string*>(&o.password);
      long long rc = s.call([&] {
        return libssh2_userauth_keyboard_interactive_ex(raw, o.user.c_str(), ulen, kbd_callback);
      });
      *abstract = saved;
      if (rc == 0) return;
      refused(rc, "the server rejected the password (keyboard-interactive)", ph);
    } else {
      failures.push_back("the server does not accept passwords");
      if (hint.empty())
        hint = "use a key (identity_file or agent), or enable PasswordAuthentication on the server";
    }
  }

  if (failures.empty()) failures.push_back("no configured method is offered by the server");
  throw Error(who + ": authentication failed for user " + o.user + ": " +
                  util::join(failures, "; ") + " (the server allows: " + methods + ")",
              hint.empty() ? "check hosts." + o.name + " (user, identity_file, agent, password)"
                           : hint);
}

}  // namespace cutover::hosts::ssh_detail
