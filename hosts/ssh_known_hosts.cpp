#include "hosts/ssh_known_hosts.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>

#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace cutover::hosts::ssh_detail {
namespace {

const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

struct KeyType {
  int hostkey_type;  // LIBSSH2_HOSTKEY_TYPE_*
  int known_type;    // LIBSSH2_KNOWNHOST_KEY_*
  const char* method;
};

// Preference order when known_hosts says nothing: ed25519 first, as OpenSSH does.
const KeyType kTypes[] = {
    {LIBSSH2_HOSTKEY_TYPE_ED25519, LIBSSH2_KNOWNHOST_KEY_ED25519, "ssh-ed25519"},
    {LIBSSH2_HOSTKEY_TYPE_ECDSA_256, LIBSSH2_KNOWNHOST_KEY_ECDSA_256, "ecdsa-sha2-nistp256"},
    {LIBSSH2_HOSTKEY_TYPE_ECDSA_384, LIBSSH2_KNOWNHOST_KEY_ECDSA_384, "ecdsa-sha2-nistp384"},
    {LIBSSH2_HOSTKEY_TYPE_ECDSA_521, LIBSSH2_KNOWNHOST_KEY_ECDSA_521, "ecdsa-sha2-nistp521"},
};
const KeyType kWeakTypes[] = {
    {LIBSSH2_HOSTKEY_TYPE_RSA, LIBSSH2_KNOWNHOST_KEY_SSHRSA, "ssh-rsa"},
    {LIBSSH2_HOSTKEY_TYPE_DSS, LIBSSH2_KNOWNHOST_KEY_SSHDSS, "ssh-dss"},
};

const KeyType* type_of_hostkey(int hostkey_type) {
  for (const auto& t : kTypes)
    if (t.hostkey_type == hostkey_type) return &t;
  for (const auto& t : kWeakTypes)
    if (t.hostkey_type == hostkey_type) return &t;
  return nullptr;
}

using KnownHostsPtr = std::unique_ptr<LIBSSH2_KNOWNHOSTS, void (*)(LIBSSH2_KNOWNHOSTS*)>;

// Loads the file line by line: libssh2_knownhost_readfile() stops at the first line it cannot
// parse (@cert-authority markers, key types it does not know), and a user's known_hosts often
// has some. Such lines are skipped; a missing file is an empty one.
KnownHostsPtr load(LIBSSH2_SESSION* session, const std::string& file) {
  KnownHostsPtr kh(libssh2_knownhost_init(session), libssh2_knownhost_free);
  if (!kh) throw Error("cannot initialise libssh2 known_hosts");
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    std::string t = util::trim(line);
    if (t.empty() || t[0] == '#' || t[0] == '@') continue;
    libssh2_knownhost_readline(kh.get(), t.c_str(), t.size(), LIBSSH2_KNOWNHOST_FILE_OPENSSH);
  }
  return kh;
}

int check(LIBSSH2_KNOWNHOSTS* kh, const std::string& name, const char* key, size_t len,
          int known_type) {
  // Port -1: `name` is already in known_hosts form ("[addr]:port"), so that the lookup is
  // exactly OpenSSH's (libssh2 would also fall back to the bare address for other ports).
  return libssh2_knownhost_checkp(kh, name.c_str(), -1, key, len,
                                  LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
                                      known_type,
                                  nullptr);
}

// A known_hosts line ends with a newline; append ours after one if the file lacks it.
void append_line(const std::string& file, const std::string& line) {
  std::string dir = util::dirname(file);
  if (!util::exists(dir)) util::make_dirs(dir, 0700);
  int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    throw Error("cannot record the host key in " + file + ": " + std::strerror(errno),
                "make the file writable, or add the key yourself with ssh-keyscan");
  std::string text = line;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) {
    char last = '\n';
    if (::pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n') text = "\n" + text;
  }
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok) throw Error("cannot record the host key in " + file + ": " + std::strerror(errno));
}

std::string scan_hint(const SshOptions& o, const std::string& file) {
  std::string port = o.port == 22 ? "" : "-p " + std::to_string(o.port) + " ";
  return "check the fingerprint with the server's administrator (ssh-keygen -lf "
         "/etc/ssh/ssh_host_ed25519_key.pub on it), then add it: ssh-keyscan " +
         port + "-t ed25519 " + o.address + " >> " + file +
         "; or set hosts." + o.name + ".host_key to accept-new or to the SHA256: fingerprint";
}

}  // namespace

std::string base64_nopad(const unsigned char* data, size_t len) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < len; ++i) {
    acc = (acc << 8) | data[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kB64[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kB64[(acc << (6 - bits)) & 63];
  return out;
}

std::string base64_decode(const std::string& text) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=' || c == '\n' || c == '\r' || c == ' ' || c == '\t') continue;
    const char* p = std::strchr(kB64, c);
    if (!p || !c) return "";
    acc = (acc << 6) | static_cast<uint32_t>(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

HostKeyPolicy host_key_policy(const SshOptions& o) {
  HostKeyPolicy p;
  p.file = util::expand_home(o.known_hosts.empty() ? "~/.ssh/known_hosts" : o.known_hosts);
  const std::string& v = o.host_key;
  if (v.empty() || v == "strict") {
    p.mode = HostKeyPolicy::strict;
  } else if (v == "accept-new") {
    p.mode = HostKeyPolicy::accept_new;
  } else if (util::starts_with(v, "SHA256:")) {
    p.mode = HostKeyPolicy::pin;
    p.pinned = v.substr(7);
    while (!p.pinned.empty() && p.pinned.back() == '=') p.pinned.pop_back();
    if (base64_decode(p.pinned).size() != 32)
      throw Error("hosts." + o.name + ".host_key: '" + v + "' is not a SHA256 fingerprint",
                  "use the form OpenSSH prints (ssh-keygen -lf KEY.pub): SHA256:<43 base64 "
                  "characters>");
  } else {
    throw Error("hosts." + o.name + ".host_key: unknown value '" + v + "'",
                "use strict, accept-new or a SHA256:<base64> fingerprint");
  }
  return p;
}

std::string known_hosts_name(const std::string& address, int port) {
  if (port == 22) return address;
  return "[" + address + "]:" + std::to_string(port);
}

KnownTypes known_types(LIBSSH2_SESSION* session, const std::string& file,
                       const std::string& name) {
  KnownTypes out;
  if (!util::exists(file)) return out;
  KnownHostsPtr kh = load(session, file);
  // A lookup with a key that cannot match answers MISMATCH exactly when an entry of that
  // type exists for the name; this also works for hashed names, which libssh2 never reveals.
  const char dummy[] = "cutover-probe";
  for (const auto& t : kTypes)
    if (check(kh.get(), name, dummy, sizeof dummy, t.known_type) ==
        LIBSSH2_KNOWNHOST_CHECK_MISMATCH)
      out.methods.push_back(t.method);
  if (out.methods.empty()) {
    for (const auto& t : kWeakTypes)
      if (check(kh.get(), name, dummy, sizeof dummy, t.known_type) ==
          LIBSSH2_KNOWNHOST_CHECK_MISMATCH)
        out.rsa_only = true;
  }
  return out;
}

std::string hostkey_preference(const KnownTypes& known) {
  std::vector<std::string> pref = known.methods;
  for (const auto& t : kTypes) {
    bool have = false;
    for (const auto& m : pref) have = have || m == t.method;
    if (!have) pref.push_back(t.method);
  }
  return util::join(pref, ",");
}

std::string host_key_fingerprint(LIBSSH2_SESSION* session) {
  const char* hash = libssh2_hostkey_hash(session, LIBSSH2_HOSTKEY_HASH_SHA256);
  if (!hash) return "";
  return "SHA256:" + base64_nopad(reinterpret_cast<const unsigned char*>(hash), 32);
}

std::string verify_host_key(LIBSSH2_SESSION* session, const SshOptions& o,
                            const std::string& who) {
  HostKeyPolicy policy = host_key_policy(o);
  size_t len = 0;
  int hk_type = 0;
  const char* key = libssh2_session_hostkey(session, &len, &hk_type);
  std::string fp = host_key_fingerprint(session);
  if (!key || fp.empty()) throw Error(who + ": the server sent no usable host key");
  const KeyType* type = type_of_hostkey(hk_type);
  std::string type_name = type ? type->method : "unknown";
  std::string seen = fp + " (" + type_name + ")";
  if (!type || type->hostkey_type == LIBSSH2_HOSTKEY_TYPE_RSA ||
      type->hostkey_type == LIBSSH2_HOSTKEY_TYPE_DSS)
    throw Error(who + ": the server's host key type " + type_name + " is refused",
                "libssh2 1.10 verifies RSA host keys only with SHA-1; give the server an "
                "ed25519 host key (ssh-keygen -A, HostKey /etc/ssh/ssh_host_ed25519_key)");

  if (policy.mode == HostKeyPolicy::pin) {
    if (fp != "SHA256:" + policy.pinned)
      throw Error(who + ": host key mismatch: the server presented " + seen +
                      ", but hosts." + o.name + ".host_key pins SHA256:" + policy.pinned,
                  "this could be a man-in-the-middle attack, or the server's key was "
                  "replaced: confirm the new fingerprint with its administrator before "
                  "changing the pin");
    return fp;
  }

  std::string name = known_hosts_name(o.address, o.port);
  KnownHostsPtr kh = load(session, policy.file);
  int rc = check(kh.get(), name, key, len, type->known_type);
  if (rc == LIBSSH2_KNOWNHOST_CHECK_MATCH) return fp;
  if (rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH)
    throw Error(who + ": HOST KEY CHANGED: " + policy.file + " holds a different " + type_name +
                    " key for " + name + "; the server presented " + seen,
                "this could be a man-in-the-middle attack, or the server was reinstalled; if "
                "the change is expected, remove the old entry (ssh-keygen -R '" + name +
                    "' -f " + policy.file + "), then verify and add the new key");
  if (rc != LIBSSH2_KNOWNHOST_CHECK_NOTFOUND)
    throw Error(who + ": cannot check the host key against " + policy.file);

  KnownTypes known = known_types(session, policy.file, name);
  if (!known.methods.empty() || known.rsa_only)
    throw Error(who + ": HOST KEY CHANGED: " + policy.file + " holds " +
                    (known.methods.empty() ? std::string("ssh-rsa")
                                           : util::join(known.methods, ", ")) +
                    " key(s) for " + name + ", but the server presented " + seen,
                "if the server's keys were replaced on purpose, remove the old entries "
                "(ssh-keygen -R '" + name + "' -f " + policy.file +
                    "), then verify and add the new key");
  if (policy.mode == HostKeyPolicy::strict)
    throw Error(who + ": unknown host key " + seen + ": " + name + " is not in " + policy.file +
                    " (host_key: strict)",
                scan_hint(o, policy.file));

  // accept-new: record the key, as OpenSSH's StrictHostKeyChecking=accept-new does.
  struct libssh2_knownhost* entry = nullptr;
  if (libssh2_knownhost_addc(kh.get(), name.c_str(), nullptr, key, len, nullptr, 0,
                             LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
                                 type->known_type,
                             &entry) != 0)
    throw Error(who + ": cannot record the host key");
  std::vector<char> buf(16384);
  size_t out_len = 0;
  if (libssh2_knownhost_writeline(kh.get(), entry, buf.data(), buf.size(), &out_len,
                                  LIBSSH2_KNOWNHOST_FILE_OPENSSH) != 0)
    throw Error(who + ": cannot format the host key for " + policy.file);
  append_line(policy.file, std::string(buf.data(), out_len));
  return fp;
}

}  // namespace cutover::hosts::ssh_detail
