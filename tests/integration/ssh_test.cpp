// SshHost against a real OpenSSH server (tests/support/sshd.h): file and command round trips,
// host-key checking in every mode, and authentication failures that explain themselves.
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>

#include "hosts/ssh_host.h"
#include "tests/support/sshd.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/process.h"

using namespace std::string_literals;
using cutover::Error;
using cutover::hosts::ExecRequest;
using cutover::hosts::SshHost;
using cutover::hosts::SshOptions;
using cutover::test::Sshd;

namespace {

#define REQUIRE_SSHD()                                            \
  if (!Sshd::available()) {                                       \
    WARN("skipped: /usr/sbin/sshd or ssh-keygen is not installed"); \
    return;                                                       \
  }

// The Error a connect() throws, as "message || hint".
std::string connect_error(const SshOptions& o) {
  try {
    cutover::hosts::connect_ssh(o);
  } catch (const Error& e) {
    return std::string(e.what()) + " || " + e.hint();
  }
  return "";
}

std::string file_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("ssh: files and commands round-trip through SshHost", "[ssh]") {
  REQUIRE_SSHD();
  Sshd sshd;
  auto host = cutover::hosts::connect_ssh(sshd.options());
  const std::string d = sshd.dir() + "/work";
  CHECK(host->name() == "remote");
  CHECK_FALSE(host->is_local());

  host->make_dirs(d + "/a/b", 0750);
  CHECK(host->stat(d + "/a/b").is_dir);
  CHECK(host->stat(d + "/a/b").mode == 0750);
  CHECK_FALSE(host->stat(d + "/missing").exists);
  CHECK_FALSE(host->stat(d + "/missing/deeper").exists);

  std::string data(300000, 'x');
  data += "\n\0binary\xff"s;
  host->write_file(d + "/f.bin", data, 0640);
  CHECK(host->read_file(d + "/f.bin") == data);
  auto fi = host->stat(d + "/f.bin");
  CHECK(fi.is_regular);
  CHECK(fi.mode == 0640);
  CHECK(fi.size == data.size());
  CHECK(host->sha256(d + "/f.bin") == cutover::util::sha256_hex(data));
  CHECK(host->sha256_prefix(d + "/f.bin", 10) == cutover::util::sha256_hex(data.substr(0, 10)));

  // Replacing an existing file keeps it atomic and leaves no temp behind.
  host->write_file(d + "/f.bin", "new\n", 0600);
  CHECK(host->read_file(d + "/f.bin") == "new\n");
  CHECK(host->stat(d + "/f.bin").mode == 0600);
  host->write_file(d + "/g", "g\n", 0644);
  host->rename(d + "/g", d + "/f.bin");  // replaces
  CHECK(host->read_file(d + "/f.bin") == "g\n");
  host->rename(d + "/f.bin", d + "/h");  // to a free name
  CHECK_FALSE(host->stat(d + "/f.bin").exists);
  host->chmod(d + "/h", 0604);
  CHECK(host->stat(d + "/h").mode == 0604);

  host->symlink("h", d + "/link");
  auto li = host->stat(d + "/link");
  CHECK(li.is_symlink);
  CHECK(li.link_target == "h");
  CHECK(host->list_dir(d) == std::vector<std::string>{"a", "h", "link"});

  host->write_file(d + "/x 1.conf", "1", 0644);
  host->write_file(d + "/x2.conf", "2", 0644);
  CHECK(host->glob(d + "/x*.conf") == std::vector<std::string>{d + "/x 1.conf", d + "/x2.conf"});
  CHECK(host->glob(d + "/x 1.conf") == std::vector<std::string>{d + "/x 1.conf"});
  CHECK(host->glob(d + "/nothing*").empty());
  CHECK(host->free_bytes(d) > 0);

  host->remove(d + "/a");  // a tree
  host->remove(d + "/link");
  host->remove(d + "/absent");
  CHECK_FALSE(host->stat(d + "/a").exists);
  CHECK(host->stat(d + "/h").exists);
  CHECK(host->list_dir(d) == std::vector<std::string>{"h", "x 1.conf", "x2.conf"});

  SECTION("exec: output, exit status, env, cwd, stdin") {
    ExecRequest req;
    req.shell = "echo out; echo err >&2; printf '%s|' \"$GREETING\"; pwd; cat; exit 3";
    req.env = {{"GREETING", "it's me"}};
    req.cwd = d;
    req.stdin_data = "from stdin";
    std::string streamed;
    req.on_stdout = [&](const char* p, size_t n) { streamed.append(p, n); };
    auto r = host->exec(req);
    CHECK(r.exit_code == 3);
    CHECK_FALSE(r.ok());
    CHECK(r.out == "out\nit's me|" + d + "\nfrom stdin");
    CHECK(streamed == r.out);
    CHECK(r.err == "err\n");

    ExecRequest argv;
    argv.argv = {"printf", "%s;", "a b", "$HOME", "'q'"};
    auto r2 = host->exec(argv);
    CHECK(r2.ok());
    CHECK(r2.out == "a b;$HOME;'q';");
  }

  SECTION("exec: a timeout kills the remote command") {
    ExecRequest req;
    // An odd duration: other tests running at the same time start `sleep 30` and `sleep 300`.
    req.shell = "echo started; sleep 29.5 & wait; echo never";
    req.deadline = cutover::util::Deadline::after(std::chrono::milliseconds(2000));
    auto t0 = std::chrono::steady_clock::now();
    auto r = host->exec(req);
    CHECK(r.timed_out);
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(15));
    ExecRequest ps;
    ps.shell = "for i in 1 2 3 4 5 6 7 8 9 10; do ps -eo args | grep -qx 'sleep 29.5' || "
               "{ echo gone; exit; }; sleep 0.2; done; echo running";
    CHECK(host->exec(ps).out == "gone\n");
  }

  SECTION("exec: a signal is told apart from an exit code") {
    ExecRequest req;
    req.shell = "kill -TERM $$";
    auto r = host->exec(req);
    CHECK(r.signal == 15);
    CHECK(r.describe() == "killed by signal 15");
  }

  SECTION("a dropped connection is reopened by the next operation") {
    CHECK(host->stats().connects == 1);
    CHECK(sshd.drop_connections() > 0);
    CHECK_THROWS_AS(host->read_file(d + "/h"), Error);
    CHECK(host->read_file(d + "/h") == "g\n");
    CHECK(host->stats().connects == 2);
  }
}

TEST_CASE("ssh: host keys are checked before anything else happens", "[ssh]") {
  REQUIRE_SSHD();
  Sshd sshd(Sshd::Config{{"ed25519", "ecdsa"}, false, {}});
  SshOptions o = sshd.options();
  const std::string kh = sshd.dir() + "/kh";

  SECTION("strict: the known ed25519 key matches although the server also has ECDSA") {
    o.known_hosts = sshd.write_known_hosts(kh, {sshd.host_public_key("ed25519")});
    auto host = cutover::hosts::connect_ssh(o);
    CHECK(host->host_key_fingerprint() == sshd.host_fingerprint("ed25519"));
  }
  SECTION("strict: a hashed known_hosts entry matches, for ECDSA too") {
    o.known_hosts = sshd.write_known_hosts(kh, {sshd.host_public_key("ecdsa")}, true);
    CHECK(file_text(kh).find("|1|") != std::string::npos);
    CHECK(cutover::hosts::connect_ssh(o)->host_key_fingerprint() == sshd.host_fingerprint("ecdsa"));
  }
  SECTION("strict: an unknown host stops with the fingerprint and a hint; nothing is recorded") {
    o.known_hosts = sshd.write_known_hosts(kh, {});
    std::string before = file_text(kh);
    std::string e = connect_error(o);
    CHECK_THAT(e, Catch::Contains("host remote (" + o.user + "@127.0.0.1:"));
    CHECK_THAT(e, Catch::Contains("unknown host key " + sshd.host_fingerprint("ed25519")));
    CHECK_THAT(e, Catch::Contains("ssh-keyscan -p " + std::to_string(sshd.port())));
    CHECK(file_text(kh) == before);
  }
  SECTION("strict: a missing known_hosts file is an unknown host") {
    o.known_hosts = sshd.dir() + "/no/such/known_hosts";
    CHECK_THAT(connect_error(o), Catch::Contains("unknown host key"));
    CHECK_FALSE(cutover::util::exists(o.known_hosts));
  }
  SECTION("accept-new records an unknown key, then checks it") {
    o.known_hosts = sshd.dir() + "/new/known_hosts";
    o.host_key = "accept-new";
    cutover::hosts::connect_ssh(o);
    std::string text = file_text(o.known_hosts);
    CHECK_THAT(text, Catch::StartsWith("[127.0.0.1]:" + std::to_string(sshd.port()) + " ssh-ed25519 "));
    o.host_key = "strict";
    CHECK_NOTHROW(cutover::hosts::connect_ssh(o));
    CHECK(file_text(o.known_hosts) == text);
  }
  SECTION("a changed key stops, even with accept-new") {
    Sshd other;
    o.known_hosts = sshd.write_known_hosts(kh, {other.host_public_key("ed25519")});
    for (const char* mode : {"strict", "accept-new"}) {
      o.host_key = mode;
      std::string e = connect_error(o);
      CHECK_THAT(e, Catch::Contains("HOST KEY CHANGED"));
      CHECK_THAT(e, Catch::Contains("ssh-keygen -R"));
    }
  }
  SECTION("a pinned fingerprint must match") {
    o.known_hosts = sshd.dir() + "/unused";
    o.host_key = sshd.host_fingerprint("ed25519");
    CHECK_NOTHROW(cutover::hosts::connect_ssh(o));
    o.host_key = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
    std::string e = connect_error(o);
    CHECK_THAT(e, Catch::Contains("host key mismatch"));
    CHECK_THAT(e, Catch::Contains(sshd.host_fingerprint("ed25519")));
    o.host_key = "SHA256:nonsense";
    CHECK_THROWS_WITH(cutover::hosts::make_ssh_host(o), Catch::Contains("not a SHA256 fingerprint"));
  }
}

TEST_CASE("ssh: a server with only an RSA host key is refused with the fix", "[ssh]") {
  REQUIRE_SSHD();
  Sshd sshd(Sshd::Config{{"rsa"}, false, {}});
  SshOptions o = sshd.options();
  o.known_hosts = sshd.write_known_hosts(sshd.dir() + "/kh", {sshd.host_public_key("rsa")});
  std::string e = connect_error(o);
  CHECK_THAT(e, Catch::Contains("knows only an RSA host key"));
  CHECK_THAT(e, Catch::Contains("ed25519"));
  o.host_key = "accept-new";
  o.known_hosts = sshd.dir() + "/kh2";
  e = connect_error(o);
  CHECK_THAT(e, Catch::Contains("cannot agree on keys"));
  CHECK_THAT(e, Catch::Contains("HostKeyAlgorithms +ssh-rsa"));
}

TEST_CASE("ssh: authentication methods and their failures", "[ssh]") {
  REQUIRE_SSHD();
  Sshd sshd(Sshd::Config{{"ed25519"}, true, {}});
  SshOptions o = sshd.options();

  SECTION("passphrase-protected ed25519 and ECDSA keys") {
    o.identity_file = sshd.make_client_key("enc", "ed25519", "s3cret-phrase");
    o.passphrase = "s3cret-phrase";
    CHECK_NOTHROW(cutover::hosts::connect_ssh(o));
    o.identity_file = sshd.make_client_key("ec", "ecdsa");
    o.passphrase = "";
    CHECK_NOTHROW(cutover::hosts::connect_ssh(o));
  }
  SECTION("a passphrase-protected key without passphrase stops before connecting") {
    o.identity_file = sshd.make_client_key("enc", "ed25519", "s3cret-phrase");
    CHECK_THROWS_WITH(cutover::hosts::make_ssh_host(o), Catch::Contains("protected by a passphrase"));
  }
  SECTION("a wrong passphrase names the key, not the passphrase") {
    o.identity_file = sshd.make_client_key("enc", "ed25519", "s3cret-phrase");
    o.passphrase = "wrong-phrase";
    std::string e = connect_error(o);
    CHECK_THAT(e, Catch::Contains("authentication failed for user " + o.user));
    CHECK_THAT(e, Catch::Contains("wrong passphrase"));
    CHECK_THAT(e, !Catch::Contains("wrong-phrase"));
  }
  SECTION("a key the server does not know") {
    o.identity_file = sshd.make_client_key("stranger", "ed25519", "", false);
    std::string e = connect_error(o);
    CHECK_THAT(e, Catch::Contains("host remote (" + o.user + "@127.0.0.1:"));
    CHECK_THAT(e, Catch::Contains("the server did not accept the key"));
    CHECK_THAT(e, Catch::Contains("authorized_keys"));
  }
  SECTION("an RSA key is refused before connecting, with the fix") {
    o.identity_file = sshd.make_client_key("rsa", "rsa");
    o.port = 1;  // nothing listens: the check must not need the server
    std::string e;
    try {
      cutover::hosts::connect_ssh(o);
    } catch (const Error& err) {
      e = std::string(err.what()) + " || " + err.hint();
    }
    CHECK_THAT(e, Catch::Contains("is an RSA key"));
    CHECK_THAT(e, Catch::Contains("SHA-1"));
    CHECK_THAT(e, Catch::Contains("ssh-keygen -t ed25519"));
    CHECK_THAT(e, Catch::Contains("PubkeyAcceptedAlgorithms +ssh-rsa"));
  }
  SECTION("password: right and wrong, never echoed") {
    std::string user = Sshd::password_user("Right-Pass-1");
    if (user.empty()) {
      WARN("skipped: password tests need root and useradd to create a local user");
      return;
    }
    o.user = user;
    o.identity_file = "";
    o.password = "Right-Pass-1";
    auto host = cutover::hosts::connect_ssh(o);
    ExecRequest req;
    req.argv = {"id", "-un"};
    CHECK(host->exec(req).out == user + "\n");
    o.password = "Wrong-Pass-2";
    std::string e = connect_error(o);
    CHECK_THAT(e, Catch::Contains("host remote (" + user + "@127.0.0.1:"));
    CHECK_THAT(e, Catch::Contains("rejected the password"));
    CHECK_THAT(e, Catch::Contains("hosts.remote.password"));
    CHECK_THAT(e, !Catch::Contains("Wrong-Pass-2"));
  }
  SECTION("ssh-agent: the agent's key logs in; an agent without an accepted key is a clear failure") {
    // A private agent on a socket in the test folder, holding a passphrase-protected key:
    // the plan gives no identity file and no passphrase, only `agent: true`.
    const std::string sock = sshd.dir() + "/agent.sock";
    const std::string key = sshd.make_client_key("agent-key", "ed25519", "agent-phrase");
    cutover::util::ProcessSpec start;
    start.argv = {"ssh-agent", "-a", sock};
    auto started = cutover::util::run_process(start);
    REQUIRE(started.ok());
    std::string agent_pid;
    auto at = started.out.find("SSH_AGENT_PID=");
    if (at != std::string::npos) agent_pid = started.out.substr(at + 14, started.out.find(';', at) - at - 14);
    struct KillAgent {
      std::string pid;
      ~KillAgent() {
        if (!pid.empty()) ::kill(std::stoi(pid), SIGTERM);
        ::unsetenv("SSH_AUTH_SOCK");
      }
    } kill_agent{agent_pid};
    ::setenv("SSH_AUTH_SOCK", sock.c_str(), 1);
    o.identity_file = "";
    o.agent = true;

    // Empty agent: refused, naming the agent.
    std::string e = connect_error(o);
    CHECK_THAT(e, Catch::Contains("authentication failed for user " + o.user));
    CHECK_THAT(e, Catch::Contains("agent"));

    cutover::util::ProcessSpec add;
    add.argv = {"ssh-add", key};
    add.env["SSH_AUTH_SOCK"] = sock;
    add.env["SSH_ASKPASS"] = sshd.dir() + "/askpass.sh";
    add.env["SSH_ASKPASS_REQUIRE"] = "force";
    add.env["DISPLAY"] = ":0";
    {
      std::ofstream askpass(sshd.dir() + "/askpass.sh");
      askpass << "#!/bin/sh\necho agent-phrase\n";
    }
    ::chmod((sshd.dir() + "/askpass.sh").c_str(), 0700);
    auto added = cutover::util::run_process(add);
    INFO(added.err);
    REQUIRE(added.ok());

    auto host = cutover::hosts::connect_ssh(o);
    ExecRequest req;
    req.argv = {"id", "-un"};
    CHECK(host->exec(req).out == o.user + "\n");
  }
  SECTION("DNS and connection failures name host and user") {
    o.address = "no-such-host.invalid";
    std::string e = connect_error(o);
    CHECK_THAT(e, Catch::Contains("host remote (" + o.user + "@no-such-host.invalid:"));
    CHECK_THAT(e, Catch::Contains("cannot resolve"));
    o.address = "127.0.0.1";
    o.port = 1;
    e = connect_error(o);
    CHECK_THAT(e, Catch::Contains("cannot connect to 127.0.0.1 port 1"));
    CHECK_THAT(e, Catch::Contains("is sshd running"));
  }
}

TEST_CASE("ssh: a file the SSH user may write but not give back is rewritten in place, owner kept",
          "[ssh][nonroot]") {
  REQUIRE_SSHD();
  const struct passwd* pw = ::getpwnam("nobody");
  if (::geteuid() != 0 || !pw) {
    WARN("skipped: needs root and the user nobody");
    return;
  }
  Sshd sshd;
  SshOptions o = sshd.options();
  o.user = "nobody";  // only SFTP is used below: nobody's shell (nologin) does not matter
  // sshd reads authorized_keys as the user logging in: let nobody through the folder (the
  // private keys in it stay 0600).
  REQUIRE(::chmod(sshd.dir().c_str(), 0711) == 0);
  std::string d = "/tmp/cutover-ssh-nonroot-XXXXXX";
  REQUIRE(::mkdtemp(d.data()));
  REQUIRE(::chown(d.c_str(), pw->pw_uid, pw->pw_gid) == 0);
  const std::string f = d + "/shared.env";
  cutover::util::write_file_atomic(f, "A=1\n", 0664);
  REQUIRE(::chown(f.c_str(), 0, pw->pw_gid) == 0);  // root's, writable by nobody's group
  struct stat before {};
  REQUIRE(::stat(f.c_str(), &before) == 0);

  auto host = cutover::hosts::connect_ssh(o);
  auto same_file = [&] {
    struct stat now {};
    REQUIRE(::stat(f.c_str(), &now) == 0);
    CHECK(now.st_ino == before.st_ino);
    CHECK(now.st_uid == 0);
    CHECK(now.st_gid == pw->pw_gid);
    CHECK((now.st_mode & 07777) == 0664);
  };
  host->write_file(f, "A=2\n", 0664);  // as config.set writes: the file's own mode, its owner
  CHECK(file_text(f) == "A=2\n");
  same_file();
  host->write_file(f, "A=1\n", 0664, cutover::hosts::Owner{0, pw->pw_gid});  // as undo writes
  CHECK(file_text(f) == "A=1\n");
  same_file();
  CHECK(host->list_dir(d) == std::vector<std::string>{"shared.env"});  // no temp file left
  // Giving a new file to root is still refused, naming the owner.
  CHECK_THROWS_WITH(host->write_file(d + "/new.conf", "x\n", 0644, cutover::hosts::Owner{0, 0}),
                    Catch::Contains("cannot set owner 0:0"));
  CHECK_FALSE(host->stat(d + "/new.conf").exists);
  cutover::util::remove_all(d);
}
