// files.snapshot and files.restore on this machine, against real folders: a snapshot keeps
// bytes, modes, owners, symlinks, hard links and empty folders; a restore with clean makes a
// changed folder hold exactly the snapshot; undo puts the folder back exactly as it was.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <random>

#include "checkpoints/artifact_store.h"
#include "steps/tar_index.h"
#include "tests/support/step_harness.h"
#include "tests/support/tree_state.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/process.h"

using cutover::Error;
using nlohmann::json;
namespace t = cutover::testing;
namespace e2e = cutover::test;

namespace {

bool root() { return ::geteuid() == 0; }

void owned(const std::string& path, uid_t uid, gid_t gid) {
  if (root()) REQUIRE(::lchown(path.c_str(), uid, gid) == 0);
}

void mode(const std::string& path, mode_t m) { REQUIRE(::chmod(path.c_str(), m) == 0); }

void mkdir_p(const std::string& path, mode_t m = 0755) {
  cutover::util::make_dirs(path, 0755);
  mode(path, m);
}

void link_to(const std::string& target, const std::string& link) {
  REQUIRE(::symlink(target.c_str(), link.c_str()) == 0);
}

// The app folder a snapshot is taken of: nested files, odd modes, other owners, a symlink
// inside and one pointing elsewhere, a hard link, an empty folder, a long name.
void make_source(const std::string& src) {
  mkdir_p(src, 0750);
  t::write_file(src + "/index.html", "<h1>v2</h1>\n", 0644);
  t::write_file(src + "/secret.key", "k3y\n", 0600);
  owned(src + "/secret.key", 1234, 2345);
  mkdir_p(src + "/uploads/2024", 0775);
  owned(src + "/uploads", 1234, 2345);
  t::write_file(src + "/uploads/2024/photo.jpg", std::string(5000, '\xff') + "jpeg", 0640);
  owned(src + "/uploads/2024/photo.jpg", 1234, 2345);
  mkdir_p(src + "/cache/empty", 0700);
  t::write_file(src + "/bin-tool", "#!/bin/sh\necho hi\n", 04755);
  link_to("index.html", src + "/current");
  link_to("/etc/ssl/certs", src + "/certs");
  REQUIRE(::link((src + "/index.html").c_str(), (src + "/index-hardlink.html").c_str()) == 0);
  std::string long_dir = src + "/" + std::string(120, 'd');
  mkdir_p(long_dir);
  t::write_file(long_dir + "/" + std::string(110, 'f') + ".txt", "long\n", 0644);
}

// The same folder after a botched manual edit: a file changed, one deleted, files added,
// a folder where the snapshot has a file and a link where it has a folder.
void change_dest(const std::string& dest) {
  t::write_file(dest + "/index.html", "<h1>v3 hotfix</h1>\n", 0666);
  cutover::util::remove_all(dest + "/secret.key");
  t::write_file(dest + "/added.txt", "new\n", 0644);
  mkdir_p(dest + "/added-dir/sub");
  t::write_file(dest + "/added-dir/sub/f", "x", 0600);
  cutover::util::remove_all(dest + "/bin-tool");
  mkdir_p(dest + "/bin-tool/inside");
  cutover::util::remove_all(dest + "/uploads");
  link_to("/tmp", dest + "/uploads");
  mode(dest, 0777);
  owned(dest + "/index.html", 4321, 4321);
}

json apply_step(t::StepHarness& h, const std::string& type, const json& with) {
  auto step = h.make(type, with);
  json cp = step->checkpoint(h.ctx());
  return step->apply(h.ctx(), cp);
}

}  // namespace

TEST_CASE(
    "files.snapshot then files.restore with clean: dest becomes the snapshot, undo brings it back "
    "exactly",
    "[snapshot-steps][steps-builtin]") {
  t::StepHarness h;
  const std::string src = h.path("app"), dest = h.path("live");
  make_source(src);
  const auto src_state = e2e::tree_state(src);

  json snap = apply_step(h, "files.snapshot", {{"paths", {src}}});
  CHECK(snap["artifact"].get<std::string>().rfind("sha256:", 0) == 0);
  CHECK(snap["files"] == 5);  // the hard link is a link, not a second file
  CHECK(snap["bytes"].get<uint64_t>() > 5000);
  CHECK(h.artifacts().meta(snap["artifact"])["compression"] == "zstd");

  // dest starts as a copy of the snapshot, then drifts.
  apply_step(h, "files.restore", {{"artifact", snap["artifact"]}, {"dest", dest}});
  CHECK(e2e::tree_diff(src_state, e2e::tree_state(dest)) == "");
  change_dest(dest);
  const auto before = e2e::tree_state(dest);

  auto restore =
      h.make("files.restore", {{"artifact", snap["artifact"]}, {"dest", dest}, {"clean", true}});
  cutover::steps::Preview p = restore->plan(h.ctx());
  INFO(p.summary << "\n" << p.detail);
  CHECK(p.changes);
  CHECK_THAT(p.summary, Catch::Contains("restore 5 files"));
  CHECK_THAT(p.detail, Catch::Contains("- added-dir\n"));
  CHECK_THAT(p.detail, Catch::Contains("- added.txt\n"));
  CHECK_THAT(p.detail, Catch::Contains("- bin-tool\n"));  // a folder where a file belongs
  CHECK_THAT(p.detail, Catch::Contains("+ secret.key\n"));
  CHECK_THAT(p.detail, Catch::Contains("+ uploads/2024/photo.jpg\n"));
  CHECK(e2e::tree_state(dest) == before);  // the dry run changed nothing

  json cp = restore->checkpoint(h.ctx());
  CHECK(cp["prior"] == "dir");
  json fp = restore->fingerprint(h.ctx());
  json out = restore->apply(h.ctx(), cp);
  CHECK(out["files"] == 5);
  CHECK(out["removed"].get<int>() >= 5);
  const auto restored = e2e::tree_state(dest);
  INFO(e2e::tree_diff(src_state, restored));
  CHECK(restored == src_state);  // bytes, modes (setuid too), owners, links, empty folders
  CHECK(restore->fingerprint(h.ctx()) != fp);

  restore->undo(h.ctx(), cp);
  const auto undone = e2e::tree_state(dest);
  INFO(e2e::tree_diff(before, undone));
  CHECK(undone == before);
  CHECK(restore->fingerprint(h.ctx()) == fp);

  restore->undo(h.ctx(), cp);  // idempotent
  CHECK(e2e::tree_state(dest) == before);
}

TEST_CASE("files.restore without clean keeps files the snapshot does not have",
          "[snapshot-steps][steps-builtin]") {
  t::StepHarness h;
  const std::string src = h.path("src"), dest = h.path("dest");
  mkdir_p(src);
  t::write_file(src + "/a.conf", "a=1\n", 0644);
  mkdir_p(dest);
  t::write_file(dest + "/a.conf", "a=0\n", 0644);
  t::write_file(dest + "/local-only.conf", "keep me\n", 0600);
  json snap = apply_step(h, "files.snapshot", {{"paths", src}});
  json out = apply_step(h, "files.restore", {{"artifact", snap["artifact"]}, {"dest", dest}});
  CHECK(t::read_file(dest + "/a.conf") == "a=1\n");
  CHECK(t::read_file(dest + "/local-only.conf") == "keep me\n");
  CHECK(out["removed"] == 0);
}

TEST_CASE("files.restore into a folder that does not exist: undo removes every folder it created",
          "[snapshot-steps][steps-builtin]") {
  t::StepHarness h;
  const std::string src = h.path("src");
  mkdir_p(src, 0710);
  t::write_file(src + "/f", "data", 0644);
  json snap = apply_step(h, "files.snapshot", {{"paths", {src}}});

  const std::string dest = h.path("new/deeper/site");
  auto restore = h.make("files.restore", {{"artifact", snap["artifact"]}, {"dest", dest}});
  CHECK_THAT(restore->plan(h.ctx()).summary, Catch::Contains("does not exist yet"));
  json cp = restore->checkpoint(h.ctx());
  CHECK(cp["prior"] == "absent");
  CHECK(cp["created"] == h.path("new"));
  json fp = restore->fingerprint(h.ctx());
  CHECK(fp.begin().value() == "absent");
  restore->apply(h.ctx(), cp);
  CHECK(t::read_file(dest + "/f") == "data");
  CHECK(t::file_mode(dest) == 0710);  // the snapshot's root folder mode
  restore->undo(h.ctx(), cp);
  CHECK_FALSE(t::exists(h.path("new")));
  CHECK(restore->fingerprint(h.ctx()) == fp);
  restore->undo(h.ctx(), cp);
}

TEST_CASE("files.snapshot exclude patterns and several paths under their base names",
          "[snapshot-steps][steps-builtin]") {
  t::StepHarness h;
  const std::string app = h.path("app"), etc = h.path("etc");
  mkdir_p(app + "/logs");
  mkdir_p(app + "/cache/x");
  t::write_file(app + "/app.py", "print(1)\n", 0644);
  t::write_file(app + "/logs/today.log", "log\n", 0644);
  t::write_file(app + "/debug.log", "log\n", 0644);
  t::write_file(app + "/cache/x/blob", "c", 0644);
  mkdir_p(etc);
  t::write_file(etc + "/app.ini", "[a]\n", 0640);
  t::write_file(h.path("motd"), "hello\n", 0644);

  json snap = apply_step(h, "files.snapshot",
                         {{"paths", {app, etc, h.path("motd")}}, {"exclude", {"*.log", "cache"}}});
  CHECK(snap["files"] == 3);  // app.py, app.ini, motd

  const std::string dest = h.path("restored");
  mkdir_p(dest);
  apply_step(h, "files.restore", {{"artifact", snap["artifact"]}, {"dest", dest}});
  CHECK(t::read_file(dest + "/app/app.py") == "print(1)\n");
  CHECK(t::exists(dest + "/app/logs"));  // the folder stays, its .log file does not
  CHECK_FALSE(t::exists(dest + "/app/logs/today.log"));
  CHECK_FALSE(t::exists(dest + "/app/debug.log"));
  CHECK_FALSE(t::exists(dest + "/app/cache"));
  CHECK(t::read_file(dest + "/etc/app.ini") == "[a]\n");
  CHECK(t::file_mode(dest + "/etc/app.ini") == 0640);
  CHECK(t::read_file(dest + "/motd") == "hello\n");

  CHECK_THROWS_WITH(
      h.make("files.snapshot", {{"paths", {app, h.path("other/app")}}})->apply(h.ctx(), nullptr),
      Catch::Contains("does not exist"));
  mkdir_p(h.path("other/app"));
  CHECK_THROWS_WITH(
      h.make("files.snapshot", {{"paths", {app, h.path("other/app")}}})->apply(h.ctx(), nullptr),
      Catch::Contains("two paths have the base name 'app'"));
}

TEST_CASE("files.restore refuses an archive that would write outside dest, before touching it",
          "[snapshot-steps][steps-builtin]") {
  t::StepHarness h;
  const std::string dest = h.path("dest");
  mkdir_p(dest);
  t::write_file(dest + "/keep", "keep\n", 0644);
  const auto before = e2e::tree_state(dest);

  struct Evil {
    const char* name;
    const char* script;
    const char* expect;
  };
  const Evil cases[] = {
      {"dot-dot", "t.addfile(info('../escaped', b'x'), io.BytesIO(b'x'))",
       "outside the destination"},
      {"absolute", "t.addfile(info('/tmp/cutover-abs-escape', b'x'), io.BytesIO(b'x'))",
       "outside the destination"},
      {"through a symlink",
       "l = tarfile.TarInfo('etc'); l.type = tarfile.SYMTYPE; l.linkname = '/etc'; t.addfile(l)\n"
       "t.addfile(info('etc/cutover-evil', b'x'), io.BytesIO(b'x'))",
       "passes through the symlink 'etc'"},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      std::string py = std::string(
                           "import io, sys, tarfile\n"
                           "def info(n, d):\n"
                           "    i = tarfile.TarInfo(n); i.size = len(d); return i\n"
                           "t = tarfile.open(fileobj=sys.stdout.buffer, mode='w|', "
                           "format=tarfile.GNU_FORMAT)\n") +
                       c.script + "\nt.close()\n";
      cutover::util::ProcessSpec ps;
      ps.argv = {"python3", "-c", py};
      auto pr = cutover::util::run_process(ps);
      REQUIRE(pr.ok());
      std::string id = h.artifacts().put(pr.out, "files.snapshot");
      auto restore = h.make("files.restore", {{"artifact", id}, {"dest", dest}, {"clean", true}});
      json cp = restore->checkpoint(h.ctx());
      CHECK_THROWS_WITH(restore->apply(h.ctx(), cp), Catch::Contains(c.expect));
      CHECK(e2e::tree_state(dest) == before);
      CHECK_FALSE(t::exists(h.path("escaped")));
      CHECK_FALSE(t::exists("/etc/cutover-evil"));
      CHECK_FALSE(t::exists("/tmp/cutover-abs-escape"));
    }
  }
}

TEST_CASE("files.restore refuses a damaged snapshot and leaves dest as it is",
          "[snapshot-steps][steps-builtin]") {
  t::StepHarness h;
  const std::string src = h.path("src"), dest = h.path("dest");
  mkdir_p(src);
  t::write_file(src + "/a", std::string(100000, 'a'), 0644);
  mkdir_p(dest);
  t::write_file(dest + "/b", "b", 0644);
  json snap = apply_step(h, "files.snapshot", {{"paths", src}});
  std::string stored = h.artifacts().path(snap["artifact"]);
  ::chmod(stored.c_str(), 0600);
  {
    std::fstream f(stored, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(20);
    f.put('\x42');
  }
  const auto before = e2e::tree_state(dest);
  auto restore =
      h.make("files.restore", {{"artifact", snap["artifact"]}, {"dest", dest}, {"clean", true}});
  json cp = restore->checkpoint(h.ctx());
  CHECK_THROWS_WITH(restore->apply(h.ctx(), cp), Catch::Contains("corrupt"));
  CHECK(e2e::tree_state(dest) == before);
}

TEST_CASE("files.snapshot and files.restore stream a few MB with progress, byte for byte",
          "[snapshot-steps][steps-builtin]") {
  t::StepHarness h;
  const std::string src = h.path("big"), dest = h.path("copy");
  mkdir_p(src);
  std::mt19937 rng(7);
  std::string noise(6 << 20, '\0');
  for (auto& c : noise) c = static_cast<char>(rng());
  t::write_file(src + "/noise.bin", noise, 0644);
  for (int i = 0; i < 300; ++i) {
    std::string d = src + "/d" + std::to_string(i % 10);
    mkdir_p(d);
    t::write_file(d + "/f" + std::to_string(i), std::string(1000 + i, 'a' + i % 26), 0644);
  }
  // Every progress update of the snapshot: the total is known before the bytes flow.
  struct Recording : cutover::steps::Progress {
    std::vector<std::pair<uint64_t, uint64_t>> updates;
    void update(uint64_t done, uint64_t total, const std::string&) override {
      updates.emplace_back(done, total);
    }
  } recording;
  cutover::steps::Context& c = h.ctx();
  cutover::steps::Context rctx{c.host,         c.artifacts, c.run,    recording,   c.deadline,
                               c.host_by_name, c.log,       c.render, c.read_input};
  auto snap = h.make("files.snapshot", {{"paths", src}});
  json out = snap->apply(rctx, snap->checkpoint(rctx));
  REQUIRE(recording.updates.size() >= 2);
  uint64_t final_total = recording.updates.back().second;
  CHECK(recording.updates.back().first == final_total);
  bool midway = false;
  for (const auto& [done, total] : recording.updates)
    if (done > 0 && done < final_total && total >= final_total * 9 / 10) midway = true;
  CHECK(midway);
  auto& progress = dynamic_cast<t::NullProgress&>(h.ctx().progress);
  CHECK(out["files"] == 301);
  // Random bytes do not compress; 300 repetitive files do.
  CHECK(out["stored_bytes"].get<uint64_t>() < out["bytes"].get<uint64_t>() + (1u << 20));

  progress.last_done = progress.last_total = 0;
  apply_step(h, "files.restore", {{"artifact", out["artifact"]}, {"dest", dest}, {"clean", true}});
  CHECK(progress.last_done > (6u << 20));
  CHECK(progress.last_done == progress.last_total);
  CHECK(e2e::tree_state(dest) == e2e::tree_state(src));
}

TEST_CASE("tar index: GNU long names, pax paths and the end of the archive",
          "[snapshot-steps][steps-builtin]") {
  std::string py =
      "import io, sys, tarfile\n"
      "out = sys.stdout.buffer\n"
      "for fmt in (tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):\n"
      "    buf = io.BytesIO()\n"
      "    t = tarfile.open(fileobj=buf, mode='w', format=fmt)\n"
      "    i = tarfile.TarInfo('./' + 'n' * 150 + '/f\\u00e9.txt'); i.size = 3; i.uid = 3000000\n"
      "    t.addfile(i, io.BytesIO(b'abc'))\n"
      "    d = tarfile.TarInfo('./dir/'); d.type = tarfile.DIRTYPE; t.addfile(d)\n"
      "    t.close()\n"
      "    v = buf.getvalue(); out.write(len(v).to_bytes(8, 'big')); out.write(v)\n";
  cutover::util::ProcessSpec ps;
  ps.argv = {"python3", "-c", py};
  auto pr = cutover::util::run_process(ps);
  REQUIRE(pr.ok());
  size_t pos = 0;
  for (int fmt = 0; fmt < 2; ++fmt) {
    uint64_t len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | static_cast<unsigned char>(pr.out[pos + i]);
    std::string tar = pr.out.substr(pos + 8, len);
    pos += 8 + len;
    cutover::steps::TarIndex index(true);
    for (size_t off = 0; off < tar.size(); off += 7)  // odd chunk sizes cross every boundary
      index.feed(tar.data() + off, std::min<size_t>(7, tar.size() - off));
    CHECK(index.complete());
    REQUIRE(index.entries().size() == 2);
    CHECK(index.entries()[0].path == std::string(150, 'n') + "/f\xc3\xa9.txt");
    CHECK(index.entries()[0].size == 3);
    CHECK(index.entries()[0].uid == 3000000);
    CHECK(index.entries()[1].path == "dir");
    CHECK(index.entries()[1].type == 'd');
    CHECK(index.file_bytes() == 3);
  }
}

TEST_CASE("files.snapshot and files.restore are registered, remote-capable and documented",
          "[snapshot-steps][steps-builtin]") {
  std::ifstream in(std::string(CUTOVER_SOURCE_DIR) + "/docs/steps/files.md");
  std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const char* name : {"files.snapshot", "files.restore"}) {
    const auto* type = cutover::steps::find_step_type(name);
    REQUIRE(type);
    CHECK(type->remote);
    CHECK_FALSE(type->summary.empty());
    CHECK_FALSE(type->undo.empty());
    json schema = json::parse(type->params_schema);
    for (const auto& [key, prop] : schema["properties"].items()) {
      INFO(name << " with." << key);
      CHECK_FALSE(prop.value("description", "").empty());
      CHECK(doc.find("| `" + key + "` |") != std::string::npos);
    }
    CHECK(doc.find(std::string("### `") + name + "`") != std::string::npos);
  }
  CHECK(cutover::steps::find_step_type("files.restore")->undo_discards_data);
}

TEST_CASE("files.restore undo is exact after a partial apply, and / is never a dest",
          "[snapshot-steps][steps-builtin]") {
  t::StepHarness h;
  const std::string src = h.path("src"), dest = h.path("dest");
  make_source(src);
  json snap = apply_step(h, "files.snapshot", {{"paths", src}});
  mkdir_p(dest, 0755);
  t::write_file(dest + "/old.txt", "old\n", 0644);
  mkdir_p(dest + "/uploads", 0700);
  t::write_file(dest + "/uploads/mine.png", "png", 0600);
  const auto before = e2e::tree_state(dest);

  auto restore =
      h.make("files.restore", {{"artifact", snap["artifact"]}, {"dest", dest}, {"clean", true}});
  json cp = restore->checkpoint(h.ctx());
  json fp = restore->fingerprint(h.ctx());
  // What a run killed halfway through tar -x leaves: some files removed, some written, a
  // folder's mode not yet set.
  cutover::util::remove_all(dest + "/old.txt");
  t::write_file(dest + "/index.html", "<h1>v2</h1>\n", 0644);
  mkdir_p(dest + "/uploads/2024", 0700);
  t::write_file(dest + "/uploads/2024/photo.jpg", "half a jpe", 0600);
  restore->undo(h.ctx(), cp);
  INFO(e2e::tree_diff(before, e2e::tree_state(dest)));
  CHECK(e2e::tree_state(dest) == before);
  CHECK(restore->fingerprint(h.ctx()) == fp);

  auto root_dest = h.make("files.restore", {{"artifact", snap["artifact"]}, {"dest", "/"}});
  CHECK_THROWS_WITH(root_dest->checkpoint(h.ctx()), Catch::Contains("refusing to restore into /"));
}
