// The `transfer` step against a real sshd: 200 MiB each way with sha256 verified end to end,
// resuming after the connection is killed mid-copy without sending again what had arrived,
// and checkpoint → apply → undo putting the prior destination back exactly.
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>

#include "checkpoints/artifact_store.h"
#include "hosts/ssh_host.h"
#include "hosts/ssh_host_impl.h"
#include "steps/fingerprint.h"
#include "steps/registry.h"
#include "tests/support/sshd.h"
#include "tests/support/step_harness.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/hash.h"

using namespace cutover;
using cutover::test::Sshd;
using nlohmann::json;

namespace {

struct HookProgress : steps::Progress {
  std::function<void(uint64_t)> hook;
  uint64_t last = 0, total = 0;
  void update(uint64_t done, uint64_t t, const std::string&) override {
    last = done, total = t;
    if (hook) hook(done);
  }
};

// `size` bytes of a pattern that differs with `seed`.
std::string patterned(size_t size, size_t seed) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>((i * 131 + seed) & 0xff);
  return data;
}

// Runs the host's large-file hash command itself on `path`: a test of the command, which the
// fallback to openssl in SshHost::sha256 would otherwise hide.
hosts::ExecResult run_bulk_hash(hosts::SshHost& ssh, const std::string& path) {
  hosts::ExecRequest bulk;
  bulk.shell = std::string(hosts::kBulkHashCommand) + " < " + path;
  return ssh.exec(bulk);
}

// A step Context over the local machine and one SSH host called "remote".
struct Harness {
  explicit Harness(hosts::Host& remote)
      : dir(util::make_temp_dir("cutover-transfer-")),
        local(hosts::make_local_host()),
        artifacts(dir + "/artifacts") {
    run.run_id = "20260101T000000-test";
    run.run_dir = dir;
    run.plan_dir = dir;
    run.state_dir = dir;
    ctx = std::make_unique<steps::Context>(steps::Context{
        *local, artifacts, run, progress, {},
        [this, &remote](const std::string& name) -> hosts::Host& {
          if (name == "local") return *local;
          if (name == "remote") return remote;
          throw Error("unknown host " + name);
        },
        [this](const std::string& line) { log.push_back(line); },
        nullptr, nullptr});  // no template rendering; plan inputs from the file system
  }
  ~Harness() { util::remove_all(dir); }

  std::unique_ptr<steps::Step> make(const json& with) {
    const steps::StepType* t = steps::find_step_type("transfer");
    REQUIRE(t);
    return t->make(steps::StepConfig{"copy", "transfer", "", with});
  }

  std::string dir;
  std::unique_ptr<hosts::Host> local;
  checkpoints::ArtifactStore artifacts;
  steps::RunInfo run;
  HookProgress progress;
  std::vector<std::string> log;
  std::unique_ptr<steps::Context> ctx;

  bool logged(const std::string& text) const {
    for (const auto& line : log)
      if (line.find(text) != std::string::npos) return true;
    return false;
  }
};

// A file of `mib` MiB of incompressible bytes; returns its sha256.
std::string make_big_file(const std::string& path, int mib) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  REQUIRE(f);
  std::vector<uint64_t> block((1u << 20) / 8);
  uint64_t x = 0x9E3779B97F4A7C15ull;
  util::Sha256 h;
  for (int i = 0; i < mib; ++i) {
    for (auto& w : block) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      w = x;
    }
    std::fwrite(block.data(), 1, 1u << 20, f);
    h.update(block.data(), 1u << 20);
  }
  std::fclose(f);
  return h.hex();
}

constexpr int kMiB = 200;
constexpr uint64_t kSize = uint64_t(kMiB) << 20;

// A progress hook that overwrites the first 4 KiB of `path` with 'z' once more than half of
// the copy has moved, before its end, and sets `did`.
std::function<void(uint64_t)> overwrite_at_half(const std::string& path, bool& did) {
  return [path, &did](uint64_t done) {
    if (did || done < kSize / 2 || done >= kSize) return;
    std::FILE* f = std::fopen(path.c_str(), "r+b");
    REQUIRE(f);
    std::fwrite(std::string(4096, 'z').data(), 1, 4096, f);
    std::fclose(f);
    did = true;
  };
}

// What apply threw; "" when it did not throw.
std::string apply_error(steps::Step& step, steps::Context& ctx, const json& cp) {
  try {
    step.apply(ctx, cp);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("ssh: transfer copies 200 MiB both ways, verified, and resumes after a drop", "[ssh]") {
  if (!Sshd::available()) {
    WARN("skipped: /usr/sbin/sshd is not installed");
    return;
  }
  Sshd sshd;
  auto remote = hosts::connect_ssh(sshd.options());
  Harness h(*remote);
  const std::string src = h.dir + "/big.bin";
  const std::string sha = make_big_file(src, kMiB);
  const std::string rdest = sshd.dir() + "/big.remote";

  SECTION("upload: a dropped connection is resumed, then undo removes the new file") {
    auto step = h.make({{"src", src}, {"dest", "remote:" + rdest}});
    json cp = step->checkpoint(*h.ctx);
    json fp = step->fingerprint(*h.ctx);
    CHECK(fp[steps::file_resource(*remote, rdest)] == "absent");

    bool dropped = false;
    h.progress.hook = [&](uint64_t done) {
      if (!dropped && done > kSize / 2) dropped = sshd.drop_connections() > 0;
    };
    CHECK_THROWS_AS(step->apply(*h.ctx, cp), Error);
    REQUIRE(dropped);
    h.progress.hook = nullptr;
    CHECK_FALSE(remote->stat(rdest).exists);
    uint64_t arrived = remote->stat(rdest + ".cutover-part").size;
    CHECK(arrived > 0);

    uint64_t before = remote->stats().bytes_uploaded;
    h.log.clear();
    json out = step->apply(*h.ctx, cp);  // reconnects and resumes
    uint64_t resent = remote->stats().bytes_uploaded - before;
    CHECK(out["bytes"] == kSize);
    CHECK(out["sha256"] == sha);
    CHECK(out["resumed_from"] == arrived);
    CHECK(out["transferred"] == kSize - arrived);
    CHECK(resent == kSize - arrived);
    CHECK(resent < kSize);
    CHECK(remote->sha256(rdest) == sha);
    CHECK_FALSE(remote->stat(rdest + ".cutover-part").exists);
    CHECK(h.progress.last == kSize);
    // The host hashed the whole copy (kept prefix included) during the fsync, and that
    // digest matched: no second read of the copy.
    CHECK(h.logged("then fsync on remote and sha256 of the copy in"));
    CHECK_FALSE(h.logged("sha256 of the copy on remote read in"));

    step->undo(*h.ctx, cp);
    step->undo(*h.ctx, cp);  // idempotent
    CHECK(step->fingerprint(*h.ctx) == fp);
  }

  SECTION("upload over an existing file: undo puts the prior bytes and mode back") {
    remote->write_file(rdest, "prior content\n", 0640);
    auto step = h.make({{"src", src}, {"dest", "remote:" + rdest}, {"mode", "0600"}});
    json cp = step->checkpoint(*h.ctx);
    json fp = step->fingerprint(*h.ctx);
    json out = step->apply(*h.ctx, cp);
    CHECK(out["transferred"] == kSize);
    CHECK(remote->sha256(rdest) == sha);
    CHECK(remote->stat(rdest).mode == 0600);
    step->undo(*h.ctx, cp);
    CHECK(remote->read_file(rdest) == "prior content\n");
    CHECK(remote->stat(rdest).mode == 0640);
    CHECK(step->fingerprint(*h.ctx) == fp);
    CHECK_FALSE(remote->stat(rdest + ".cutover-prev-" + h.run.run_id).exists);
  }

  SECTION("download: a dropped connection is resumed and the copy verifies") {
    REQUIRE(std::system(("cp " + src + " " + rdest).c_str()) == 0);
    const std::string ldest = h.dir + "/back.bin";
    auto step = h.make({{"src", "remote:" + rdest}, {"dest", ldest}});
    json cp = step->checkpoint(*h.ctx);
    bool dropped = false;
    h.progress.hook = [&](uint64_t done) {
      if (!dropped && done > kSize / 3) dropped = sshd.drop_connections() > 0;
    };
    CHECK_THROWS_AS(step->apply(*h.ctx, cp), Error);
    REQUIRE(dropped);
    h.progress.hook = nullptr;
    uint64_t before = remote->stats().bytes_downloaded;
    h.log.clear();
    json out = step->apply(*h.ctx, cp);
    CHECK(out["sha256"] == sha);
    CHECK(out["resumed_from"] > 0);
    // The local copy was hashed during its fsync, the source on the host meanwhile, and the
    // two matched.
    CHECK(h.logged("then fsync here and sha256 of the copy and of the source on remote in"));
    CHECK_FALSE(h.logged("sha256 of the copy on local read in"));
    CHECK(remote->stats().bytes_downloaded - before < kSize);
    CHECK(util::sha256_file(ldest) == sha);
    step->undo(*h.ctx, cp);
    CHECK_FALSE(util::exists(ldest));
  }

  SECTION("download: a source rewritten on the host after its first bytes came fails the step") {
    REQUIRE(std::system(("cp " + src + " " + rdest).c_str()) == 0);
    const std::string ldest = h.dir + "/back.bin";
    auto step = h.make({{"src", "remote:" + rdest}, {"dest", ldest}});
    json cp = step->checkpoint(*h.ctx);
    bool rewritten = false;
    h.progress.hook = overwrite_at_half(rdest, rewritten);  // the host's file: the sshd's folder
    std::string e = apply_error(*step, *h.ctx, cp);
    REQUIRE(rewritten);
    CHECK_THAT(e, Catch::Contains("sha256 mismatch") &&
                      Catch::Contains("source " + util::sha256_file(rdest)) &&
                      Catch::Contains("copy " + sha));
    CHECK_FALSE(util::exists(ldest + ".cutover-part"));
    CHECK_FALSE(util::exists(ldest));
  }

  SECTION("bytes damaged on the host after they arrived fail the step; the copy is removed") {
    // The host's file is the sshd's folder here: overwrite 4 KiB that have already arrived
    // while the rest is still being sent.
    auto step = h.make({{"src", src}, {"dest", "remote:" + rdest}});
    json cp = step->checkpoint(*h.ctx);
    json fp = step->fingerprint(*h.ctx);
    bool damaged = false;
    h.progress.hook = overwrite_at_half(rdest + ".cutover-part", damaged);
    std::string e = apply_error(*step, *h.ctx, cp);
    REQUIRE(damaged);
    CHECK_THAT(e, Catch::Contains("sha256 mismatch") && Catch::Contains("source " + sha));
    // The digest taken during the fsync did not match, so the whole copy was read again.
    CHECK(h.logged("sha256 of the copy on remote read in"));
    CHECK_FALSE(remote->stat(rdest + ".cutover-part").exists);
    CHECK_FALSE(remote->stat(rdest).exists);
    step->undo(*h.ctx, cp);
    CHECK(step->fingerprint(*h.ctx) == fp);
  }

  SECTION("a source rewritten after its first bytes were sent fails the step, not a torn copy") {
    // The source is hashed after its last byte is sent: the copy must equal the source as it
    // is then, so a write into bytes already sent is caught.
    auto step = h.make({{"src", src}, {"dest", "remote:" + rdest}});
    json cp = step->checkpoint(*h.ctx);
    json fp = step->fingerprint(*h.ctx);
    bool rewritten = false;
    h.progress.hook = overwrite_at_half(src, rewritten);
    std::string e = apply_error(*step, *h.ctx, cp);
    REQUIRE(rewritten);
    CHECK_THAT(e, Catch::Contains("sha256 mismatch") &&
                      Catch::Contains("source " + util::sha256_file(src)));
    CHECK_FALSE(remote->stat(rdest + ".cutover-part").exists);
    CHECK_FALSE(remote->stat(rdest).exists);
    step->undo(*h.ctx, cp);
    CHECK(step->fingerprint(*h.ctx) == fp);
  }

  SECTION("a partial file that does not match the source is sent again in full") {
    remote->write_file(rdest + ".cutover-part", std::string(4096, 'z'), 0600);
    auto step = h.make({{"src", src}, {"dest", "remote:" + rdest}});
    json cp = step->checkpoint(*h.ctx);
    json out = step->apply(*h.ctx, cp);
    CHECK(out["resumed_from"] == 0);
    CHECK(remote->sha256(rdest) == sha);
  }
}

TEST_CASE("ssh: transfer parameters are checked when the step is built", "[ssh]") {
  const steps::StepType* t = steps::find_step_type("transfer");
  REQUIRE(t);
  auto make = [&](const json& with) { return t->make(steps::StepConfig{"x", "transfer", "", with}); };
  CHECK_THROWS_WITH(make({{"src", "/a"}, {"dest", "/b"}}), Catch::Contains("exactly one of"));
  CHECK_THROWS_WITH(make({{"src", "h:/a"}, {"dest", "g:/b"}}), Catch::Contains("exactly one of"));
  CHECK_THROWS_WITH(make({{"src", "/a"}, {"dest", "h:rel"}}), Catch::Contains("absolute path"));
  CHECK_NOTHROW(make({{"src", "./a:b"}, {"dest", "h:/b"}}));
}

TEST_CASE("ssh: the host's large-file hasher agrees with the small-file one at read boundaries",
          "[ssh]") {
  if (!Sshd::available()) {
    WARN("skipped: /usr/sbin/sshd is not installed");
    return;
  }
  Sshd sshd;
  auto remote = hosts::connect_ssh(sshd.options());
  auto* ssh = dynamic_cast<hosts::SshHost*>(remote.get());
  REQUIRE(ssh);
  // The size given picks the command: python3's 1 MiB reads from kBulkHashFrom on.
  constexpr size_t M = 1u << 20;
  for (size_t size : {size_t{0}, size_t{1}, M - 1, M, M + 1, 3 * M + 7}) {
    const std::string data = patterned(size, size);
    const std::string path = sshd.dir() + "/hash-" + std::to_string(size) + ".bin";
    util::write_file_atomic(path, data, 0644);
    const std::string want = util::sha256_hex(data);
    CAPTURE(size);
    CHECK(ssh->sha256(path) == want);
    hosts::ExecResult r = run_bulk_hash(*ssh, path);
    CHECK(r.ok());
    CHECK(r.out == want + "\n");
    CHECK(ssh->sha256(path, hosts::kBulkHashFrom) == want);
    CHECK(ssh->sha256_prefix(path, hosts::kBulkHashFrom) == want);  // head -c reads it all
  }
  CHECK_THROWS_WITH(ssh->sha256(sshd.dir(), hosts::kBulkHashFrom),
                    Catch::Contains("not a regular file"));
}

TEST_CASE("ssh: a host whose python3 cannot start hashes large files with its other tools",
          "[ssh]") {
  if (!Sshd::available()) {
    WARN("skipped: /usr/sbin/sshd is not installed");
    return;
  }
  // A libexpat that is not a library, first on the library path of every command the server
  // runs: /usr/bin/python3 needs it and fails to start (exit 127); sh and openssl do not.
  cutover::testing::TempDir libs("cutover-broken-libs-");
  util::write_file_atomic(libs / "libexpat.so.1", "not a library\n", 0644);
  Sshd::Config config;
  config.extra_config = {"SetEnv LD_LIBRARY_PATH=" + libs.path()};
  Sshd sshd(config);
  auto remote = hosts::connect_ssh(sshd.options());
  auto* ssh = dynamic_cast<hosts::SshHost*>(remote.get());
  REQUIRE(ssh);

  const std::string data = patterned(3 * (1u << 20) + 7, 7);
  const std::string path = sshd.dir() + "/large.bin";
  util::write_file_atomic(path, data, 0644);
  const std::string want = util::sha256_hex(data);

  // The bulk command really fails there, so what follows goes through the fallback.
  hosts::ExecResult r = run_bulk_hash(*ssh, path);
  CHECK(r.exit_code == 127);
  CHECK(r.out.empty());

  CHECK(ssh->sha256(path, hosts::kBulkHashFrom) == want);
  CHECK(ssh->sha256_prefix(path, hosts::kBulkHashFrom) == want);
  CHECK(ssh->sha256_prefix(path, 1u << 20) == util::sha256_hex(data.substr(0, 1u << 20)));
  CHECK_THROWS_WITH(ssh->sha256(sshd.dir(), hosts::kBulkHashFrom),
                    Catch::Contains("not a regular file"));
}
