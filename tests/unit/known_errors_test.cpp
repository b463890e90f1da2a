// The known-errors base: every entry compiles, and each matches the real error lines it is
// for (taken from the tools' own output) and not ordinary text.
#include <catch2/catch.hpp>
#include <fstream>
#include <set>

#include "executor/known_errors.h"

using cutover::executor::known_errors;
using cutover::executor::match_known_errors;

namespace {

// ids of every entry matching `text`, in the base's order.
std::vector<std::string> ids(const std::string& text) {
  std::vector<std::string> out;
  for (const auto& h : match_known_errors(text)) out.push_back(h.id);
  return out;
}

std::string first(const std::string& text) {
  auto v = ids(text);
  return v.empty() ? "" : v[0];
}

}  // namespace

TEST_CASE("the known-errors base loads: unique ids, a cause and a fix for each", "[known-errors]") {
  const auto& all = known_errors();
  REQUIRE(all.size() >= 14);
  std::set<std::string> seen;
  for (const auto& e : all) {
    INFO(e.id);
    CHECK(seen.insert(e.id).second);
    CHECK_FALSE(e.pattern.empty());
    CHECK_FALSE(e.cause.empty());
    CHECK_FALSE(e.fix.empty());
  }
}

TEST_CASE("each known error matches a realistic error line", "[known-errors]") {
  struct Case {
    const char* id;
    const char* line;
  };
  const Case cases[] = {
      {"port-in-use", "OSError: [Errno 98] Address already in use"},
      {"port-in-use", "nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address in use)"},
      {"port-in-use", "Error: listen EADDRINUSE: address already in use :::3000"},
      {"connection-refused",
       "psql: error: connection to server at \"127.0.0.1\", port 5433 failed: Connection refused"},
      {"connection-refused", "GET http://127.0.0.1:8080/health: connection refused (after 10 attempts)"},
      {"pg-password-auth-failed",
       "pg_dump: error: connection to server at \"10.0.0.2\", port 5432 failed: FATAL:  password "
       "authentication failed for user \"hive\""},
      {"pg-password-auth-failed", "fe_sendauth: no password supplied"},
      {"pg-no-hba-entry",
       "FATAL:  no pg_hba.conf entry for host \"10.0.0.9\", user \"hive\", database \"hivesync\", no encryption"},
      {"ssh-auth-failed", "deploy@10.0.0.2: Permission denied (publickey)."},
      {"ssh-auth-failed", "ssh new (deploy@10.0.0.2:22): authentication failed: Authentication failed (username/public key)"},
      {"rsa-key-refused", "ssh new: RSA user key ~/.ssh/id_rsa refused: libssh2 signs only with ssh-rsa (SHA-1)"},
      {"rsa-key-refused", "sign_and_send_pubkey: no mutual signature algorithm"},
      {"host-key-mismatch", "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @"},
      {"host-key-mismatch", "ssh new: host key verification failed: SHA256:abc is not SHA256:def in known_hosts"},
      {"host-key-unknown", "ssh new: host key unknown: 10.0.0.2 is not in /root/.ssh/known_hosts"},
      {"no-space-left", "pg_dump: error: could not write to output file: No space left on device"},
      {"no-space-left", "ERROR:  could not extend file \"base/16384/16385\": wrote only 4096 of 8192 bytes"},
      {"permission-denied", "cannot open /etc/hivesync/app.conf: Permission denied"},
      {"permission-denied", "mkdir: cannot create directory '/opt/app': Operation not permitted"},
      {"pg-dump-version-mismatch",
       "pg_dump: error: aborting because of server version mismatch\npg_dump: detail: server "
       "version: 16.1; pg_dump version: 15.5"},
      {"pg-role-missing", "pg_restore: error: could not execute query: ERROR:  role \"hive\" does not exist"},
      {"pg-database-missing",
       "psql: error: connection to server on socket \"/tmp/.s.PGSQL.5432\" failed: FATAL:  database "
       "\"hivesync\" does not exist"},
      {"pg-too-many-connections", "FATAL:  sorry, too many clients already"},
      {"dns-failure", "curl: (6) Could not resolve host: api.example.test"},
      {"dns-failure", "ssh: Could not resolve hostname newvm: Name or service not known"},
      {"dns-failure", "psql: error: could not translate host name \"db.internal\" to address: Temporary failure in name resolution"},
      {"tls-verification-failed",
       "GET https://staging.example.test/health: TLS: SSL certificate problem: self-signed certificate"},
      {"tls-verification-failed", "ssl.SSLCertVerificationError: certificate verify failed: unable to get local issuer certificate"},
      {"timeout", "GET http://127.0.0.1:8080/health: timed out after 2s"},
      {"timeout", "ssh: connect to host 10.0.0.2 port 22: Connection timed out"},
      {"systemd-unavailable", "System has not been booted with systemd as init system (PID 1). Can't operate."},
      {"unit-not-found", "Failed to stop hivesync-api.service: Unit hivesync-api.service not loaded."},
      {"unit-not-found", "Failed to start hivesync.service: Unit hivesync.service not found."},
      {"compose-missing", "docker: 'compose' is not a docker command."},
      {"compose-missing", "state unknown: docker compose ps: exit 125: unknown flag: --project-directory"},
      {"command-not-found", "sh: 1: pg_dump: not found"},
      {"command-not-found", "bash: pm2: command not found"},
  };
  for (const auto& c : cases) {
    INFO(c.line);
    auto got = ids(c.line);
    CHECK(std::find(got.begin(), got.end(), c.id) != got.end());
  }
}

TEST_CASE("the most specific known error comes first", "[known-errors]") {
  // "Permission denied (publickey)" is an SSH login problem, not a file permission one.
  CHECK(ids("deploy@10.0.0.2: Permission denied (publickey).") == std::vector<std::string>{"ssh-auth-failed"});
  CHECK(first("Error: listen EADDRINUSE: address already in use :::3000") == "port-in-use");
  CHECK(first("FATAL: password authentication failed for user \"hive\"") == "pg-password-auth-failed");
}

TEST_CASE("ordinary output matches no known error", "[known-errors]") {
  CHECK(ids("").empty());
  CHECK(ids("step backup-db done in 1.2s\nwrote 12 files\nserver version: 15.5").empty());
  CHECK(ids("GET http://127.0.0.1/health: status 503, expected 200").empty());
}

TEST_CASE("known errors are found in long multi-line output, each once", "[known-errors]") {
  std::string text(100000, 'x');
  text += "\nline\nbind: Address already in use\nagain: address already in use\n";
  CHECK(ids(text) == std::vector<std::string>{"port-in-use"});
  std::string huge_line(200000, 'a');  // a pathological line must not blow the regex stack
  CHECK(ids(huge_line + "\nConnection refused") == std::vector<std::string>{"connection-refused"});
}

TEST_CASE("docs/known-errors.md lists every entry of the base", "[known-errors]") {
  std::ifstream in(std::string(CUTOVER_SOURCE_DIR) + "/docs/known-errors.md");
  REQUIRE(in.good());
  std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const auto& e : known_errors()) {
    INFO(e.id);
    CHECK(doc.find("`" + e.id + "`") != std::string::npos);
  }
}
