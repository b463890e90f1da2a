// The server-free parts of SSH support: transfer operands, known_hosts names and host-key
// preferences, fingerprints' base64, option checks that stop a run before connecting.
#include <catch2/catch.hpp>

#include "hosts/ssh_host.h"
#include "hosts/ssh_known_hosts.h"
#include "steps/transfer_io.h"
#include "util/error.h"

using namespace cutover;
namespace sd = cutover::hosts::ssh_detail;

TEST_CASE("transfer operands: HOST:/path only before the first slash, as scp", "[ssh]") {
  auto op = steps::parse_operand("new:/var/backups/db.dump");
  CHECK(op.host == "new");
  CHECK(op.path == "/var/backups/db.dump");
  CHECK(steps::parse_operand("/tmp/a:b").host.empty());
  CHECK(steps::parse_operand("./a:b").host.empty());
  CHECK(steps::parse_operand("backup.dump").path == "backup.dump");
  CHECK(steps::parse_operand(":x").host.empty());
}

TEST_CASE("known_hosts names and host-key preferences", "[ssh]") {
  CHECK(sd::known_hosts_name("10.0.0.2", 22) == "10.0.0.2");
  CHECK(sd::known_hosts_name("127.0.0.1", 2222) == "[127.0.0.1]:2222");
  CHECK(sd::hostkey_preference({}) ==
        "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521");
  sd::KnownTypes ecdsa;
  ecdsa.methods = {"ecdsa-sha2-nistp256"};
  CHECK(sd::hostkey_preference(ecdsa) ==
        "ecdsa-sha2-nistp256,ssh-ed25519,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521");
}

TEST_CASE("base64 as OpenSSH prints fingerprints", "[ssh]") {
  const unsigned char zero32[32] = {};
  CHECK(sd::base64_nopad(zero32, 32) == "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
  const unsigned char abc[] = {'a', 'b', 'c', 'd'};
  CHECK(sd::base64_nopad(abc, 4) == "YWJjZA");
  CHECK(sd::base64_decode("YWJjZA==") == "abcd");
  CHECK(sd::base64_decode("not*base64").empty());
}

TEST_CASE("host_key values are checked without connecting", "[ssh]") {
  hosts::SshOptions o;
  o.name = "new";
  o.host_key = "accept-new";
  CHECK(sd::host_key_policy(o).mode == sd::HostKeyPolicy::accept_new);
  o.host_key = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
  auto p = sd::host_key_policy(o);
  CHECK(p.mode == sd::HostKeyPolicy::pin);
  CHECK(p.pinned == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU");
  o.host_key = "yes";
  CHECK_THROWS_WITH(sd::host_key_policy(o), Catch::Contains("hosts.new.host_key: unknown value"));
  o.host_key = "strict";
  o.address = "10.0.0.2";
  o.user = "deploy";
  o.identity_file = "/nonexistent/id_ed25519";
  CHECK_THROWS_WITH(hosts::make_ssh_host(o), Catch::Contains("hosts.new.identity_file"));
}
