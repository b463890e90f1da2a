// `transfer`: copies one file between this machine and an SSH host (SPEC §5), resumably and
// verified end to end.
//
// The bytes go to DEST.cutover-part next to the destination. When a part file is already
// there (a dropped connection, an interrupted run, a retry), its sha256 is compared with the
// same-length prefix of the source and, if equal, only the rest is sent. After the last byte
// the source is hashed where it lies (here for an upload, on the host for a download) and the
// part file where it landed (python3, openssl or sha256sum over SSH), and the two must match. Only
// then is a prior DEST kept aside as DEST.cutover-prev-RUNID (a hard link: DEST itself is
// never missing) and the part file renamed over DEST.
//
// Checkpoint: {"host", "dest", "part", "backup", "prior": "file"|"absent"}. Undo renames the
// kept-aside file back over DEST (or removes DEST when there was none) and removes the part
// file; it is safe after a partial apply and idempotent. The kept-aside file stays after a
// successful run so that `rollback --to` can still put it back.
#include <chrono>
#include <cstdio>
#include <future>

#include "hosts/host.h"
#include "steps/families.h"
#include "steps/fingerprint.h"
#include "steps/transfer_io.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/units.h"

namespace cutover::steps {
namespace {

const char* const kType = "transfer";

const char* const kSchema = R"json({
  "type": "object",
  "additionalProperties": false,
  "required": ["src", "dest"],
  "properties": {
    "src": {"type": "string", "description": "File to copy: a local path (relative to the plan folder), or HOST:/absolute/path on a plan host."},
    "dest": {"type": "string", "description": "Where the file goes: HOST:/absolute/path when src is local, a local path when src is on a host. Exactly one side names a host. Its folder must exist."},
    "verify": {"type": "boolean", "default": true, "description": "Compare the sha256 of the source (as it is when the copy ends) with that of the copy (hashed where it landed) before it replaces dest."},
    "resume": {"type": "boolean", "default": true, "description": "Continue a partial copy (DEST.cutover-part) left by a dropped connection, after checking that its bytes match the start of the source."},
    "mode": {"type": ["string", "integer"], "description": "Permission bits of dest as octal text, e.g. \"0640\". Default: the source file's."}
  }
})json";

// Follows symlinks so that a link to the latest dump transfers the dump.
std::string resolve_links(hosts::Host& host, std::string path) {
  for (int i = 0; i < 40; ++i) {
    hosts::FileInfo fi = host.stat(path);
    if (!fi.is_symlink) return path;
    path = !fi.link_target.empty() && fi.link_target[0] == '/'
               ? fi.link_target
               : util::dirname(path) + "/" + fi.link_target;
  }
  throw Error("transfer: too many levels of symlinks at " + path);
}

std::string seconds_text(std::chrono::steady_clock::time_point from,
                         std::chrono::steady_clock::time_point to) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", std::chrono::duration<double>(to - from).count());
  return text;
}

uint32_t parse_mode(const json& v) {
  std::string text = v.is_number_integer() ? std::to_string(v.get<long long>())
                                           : v.is_string() ? v.get<std::string>() : "";
  if (text.empty() || text.size() > 4 || text.find_first_not_of("01234567") != std::string::npos)
    throw Error("transfer: with.mode must be octal text like \"0644\"");
  return static_cast<uint32_t>(std::stoul(text, nullptr, 8));
}

class Transfer final : public Step {
 public:
  explicit Transfer(const StepConfig& c) {
    const json& w = c.params;
    auto str = [&](const char* key) {
      if (!w.contains(key) || !w[key].is_string())
        throw Error(std::string(kType) + ": with." + key + " is required (a string)");
      return w[key].get<std::string>();
    };
    auto flag = [&](const char* key) {
      if (!w.contains(key) || w[key].is_null()) return true;
      if (!w[key].is_boolean())
        throw Error(std::string(kType) + ": with." + key + " must be true or false");
      return w[key].get<bool>();
    };
    src_ = parse_operand(str("src"));
    dest_ = parse_operand(str("dest"));
    verify_ = flag("verify");
    resume_ = flag("resume");
    if (w.contains("mode") && !w["mode"].is_null()) mode_ = static_cast<int>(parse_mode(w["mode"]));
    if (src_.host.empty() == dest_.host.empty())
      throw Error(std::string(kType) + ": exactly one of with.src and with.dest must be "
                  "HOST:/path (the other a local path)",
                  "for example src: ./backup.dump, dest: new:/var/backups/backup.dump");
    for (const Operand* op : {&src_, &dest_})
      if (!op->host.empty() && (op->path.empty() || op->path[0] != '/'))
        throw Error(std::string(kType) + ": " + op->host + ":" + op->path +
                    ": give an absolute path on the host");
  }

  Preview plan(Context& ctx) override {
    Side s = side(ctx, src_), d = side(ctx, dest_);
    hosts::FileInfo sf = s.host->stat(s.path);
    hosts::FileInfo df = d.host->stat(d.path);
    Preview p;
    p.changes = true;
    std::string size = sf.exists ? util::format_bytes(sf.size) : "source does not exist yet";
    p.summary = "copy " + label(s) + " to " + label(d) + " (" + size + ", " +
                (df.exists ? "replacing the existing file" : "new file") + ")";
    p.detail = std::string("verify sha256: ") + (verify_ ? "yes" : "no") +
               "\nresume partial copies: " + (resume_ ? "yes" : "no") + "\n";
    return p;
  }

  json checkpoint(Context& ctx) override {
    Side d = side(ctx, dest_);
    hosts::FileInfo fi = d.host->stat(d.path);
    if (fi.exists && !fi.is_regular)
      throw Error("transfer: " + label(d) + " exists and is not a regular file",
                  "name the destination file itself, e.g. " + dest_.path + "/FILENAME");
    return {{"host", d.host->name()},
            {"dest", d.path},
            {"part", d.path + ".cutover-part"},
            {"backup", d.path + ".cutover-prev-" + ctx.run.run_id},
            {"prior", fi.exists ? "file" : "absent"}};
  }

  json fingerprint(Context& ctx) override {
    Side d = side(ctx, dest_);
    return {{file_resource(*d.host, d.path), file_fingerprint(*d.host, d.path)}};
  }

  json apply(Context& ctx, const json& cp) override;

  void undo(Context& ctx, const json& cp) override {
    if (!cp.is_object()) return;
    hosts::Host& host = ctx.host_by_name(cp.at("host").get<std::string>());
    const std::string dest = cp.at("dest"), backup = cp.at("backup");
    if (host.stat(backup).exists)
      host.rename(backup, dest);  // the prior file, back in place atomically
    else if (cp.at("prior") == "absent" && host.stat(dest).is_regular)
      host.remove(dest);
    host.remove(cp.at("part").get<std::string>());
  }

 private:
  struct Side {
    hosts::Host* host;
    std::string path;
  };

  Side side(Context& ctx, const Operand& op) const {
    if (op.host.empty()) return {&ctx.host_by_name("local"), util::join_path(ctx.run.plan_dir, op.path)};
    return {&ctx.host_by_name(op.host), op.path};
  }
  static std::string label(const Side& s) {
    return s.host->is_local() ? s.path : s.host->name() + ":" + s.path;
  }

  Operand src_, dest_;
  bool verify_ = true, resume_ = true;
  int mode_ = -1;
};

json Transfer::apply(Context& ctx, const json& cp) {
  auto t0 = std::chrono::steady_clock::now();
  Side s = side(ctx, src_), d = side(ctx, dest_);
  s.path = resolve_links(*s.host, s.path);
  hosts::FileInfo sf = s.host->stat(s.path);
  if (!sf.exists) throw Error("transfer: the source " + label(s) + " does not exist");
  if (!sf.is_regular) throw Error("transfer: the source " + label(s) + " is not a regular file");
  const uint64_t total = sf.size;
  const uint32_t mode = mode_ >= 0 ? static_cast<uint32_t>(mode_) : (sf.mode & 07777);
  const std::string part = cp.at("part"), backup = cp.at("backup");
  auto src = make_endpoint(*s.host);
  auto dst = make_endpoint(*d.host);
  const std::string what = "transfer " + label(s) + " → " + label(d);

  // Resume: keep the part file's bytes if they are exactly the start of the source.
  util::Sha256 running;
  uint64_t offset = 0;
  hosts::FileInfo pf = d.host->stat(part);
  if (resume_ && pf.is_regular && pf.size > 0 && pf.size <= total) {
    Endpoint& here = src->local() ? *src : *dst;
    Endpoint& there = src->local() ? *dst : *src;
    const std::string& here_path = src->local() ? s.path : part;
    const std::string& there_path = src->local() ? part : s.path;
    // An upload goes on hashing the source from there; a download hashes it on its host.
    std::string here_hex =
        here.prefix_sha256(here_path, pf.size, src->local() ? &running : nullptr);
    std::string there_hex = there.prefix_sha256(there_path, pf.size, nullptr);
    if (here_hex == there_hex) {
      offset = pf.size;
      ctx.log("transfer: resuming " + label(d) + " after " + util::format_bytes(offset) +
              " already copied (prefix sha256 verified)");
    } else {
      running = util::Sha256();
      ctx.log("transfer: the partial copy " + part + " does not match the source; starting over");
    }
  }

  uint64_t done = offset;
  auto last_report = std::chrono::steady_clock::time_point{};
  auto report = [&](bool force) {
    auto now = std::chrono::steady_clock::now();
    if (!force && now - last_report < std::chrono::milliseconds(200)) return;
    last_report = now;
    ctx.progress.update(done, total, what);
  };
  report(true);
  uint64_t sent = 0;
  uint64_t hashed_bytes = 0;  // source bytes hashed from offset on (after the copy, on upload)
  std::string landed;  // the copy's sha256, hashed where it landed during the fsync
  std::string source_hex;  // a download's: the source's, hashed on its host after the copy
  // When the bytes started and stopped moving: the rest is fsync and hashing, which the log
  // reports apart from the bytes' rate.
  auto t_start = std::chrono::steady_clock::now(), t_sent = t_start;
  if (!dst->local()) {
    // To the host: pull from the local file as the host's writer asks for bytes. The source
    // is hashed once its last byte is sent, on a thread, while the host makes the copy
    // durable and hashes it: hashed as it was read, on the one thread that also encrypts, it
    // slowed the bytes (the client's CPU is what sets their pace here).
    std::future<uint64_t> hashed;
    FILE* f = std::fopen(s.path.c_str(), "rbe");
    if (!f) throw Error("transfer: cannot open " + s.path);
    std::fseek(f, static_cast<long>(offset), SEEK_SET);
    std::setvbuf(f, nullptr, _IONBF, 0);
    try {
      sent = dst->write(part, offset, mode,
                        [&](char* buf, size_t cap) {
                          if (util::interrupted()) throw Interrupted("transfer interrupted");
                          size_t n = std::fread(buf, 1, cap, f);
                          if (n == 0 && std::ferror(f)) throw Error("transfer: cannot read " + s.path);
                          if (n == 0 && !hashed.valid()) {
                            t_sent = std::chrono::steady_clock::now();
                            hashed = std::async(std::launch::async, [&] {
                              return hash_local_from(s.path, offset, running);
                            });
                          }
                          done += n;
                          report(false);
                          return n;
                        },
                        ctx.deadline, verify_ ? &landed : nullptr);
    } catch (...) {
      std::fclose(f);
      throw;  // (the hash thread, if any, is waited for as `hashed` goes)
    }
    std::fclose(f);
    // A source that grew between the last byte sent and the hash fails the size check below
    // rather than the comparison of digests.
    hashed_bytes = hashed.valid() ? hashed.get() : sent;
  } else {
    // To this machine: the source streams into the local part file. Then three things at
    // once: the fsync, the copy's sha256 here (both on threads), and with `verify` the
    // source's sha256 on its host, which the copy must equal (the session is this thread's).
    LocalFileWriter w(part, offset);
    sent = src->read(s.path, offset,
                     [&](const char* p, size_t n) {
                       w.write(p, n);
                       done += n;
                       report(false);
                     },
                     ctx.deadline);
    t_sent = std::chrono::steady_clock::now();
    auto durable = std::async(std::launch::async, [&] { w.finish(mode); });
    auto copy_hash = std::async(std::launch::async, [&part] { return util::sha256_file(part); });
    if (verify_) source_hex = src->sha256(s.path, total);
    durable.get();
    try {
      landed = copy_hash.get();
    } catch (const Error&) {
      if (!verify_) throw;
      landed.clear();  // hashed again below, and that answer decides
    }
    if (!verify_) source_hex = landed;
    hashed_bytes = sent;
  }
  report(true);
  if (offset + sent != total || hashed_bytes != sent)
    throw Error("transfer: " + label(s) + " changed size while being copied (" +
                std::to_string(total) + " bytes before, " +
                std::to_string(offset + hashed_bytes) + " read)",
                "stop whatever writes the source, then run again");
  const std::string hex = source_hex.empty() ? running.hex() : source_hex;
  auto t_copied = std::chrono::steady_clock::now();
  double moving = std::chrono::duration<double>(t_sent - t_start).count();
  char rate[32] = "-";
  if (moving > 0) std::snprintf(rate, sizeof rate, "%.1f", static_cast<double>(sent) / 1e6 / moving);
  ctx.log("transfer: " + util::format_bytes(sent) + " copied in " + seconds_text(t0, t_copied) +
          " s: the bytes in " + seconds_text(t_start, t_sent) + " s (" + rate + " MB/s), then " +
          (d.host->is_local() ? "fsync here" : "fsync on " + d.host->name()) +
          (landed.empty() ? "" : " and sha256 of the copy") +
          (d.host->is_local() && verify_ ? " and of the source on " + s.host->name() : "") +
          " in " +
          seconds_text(t_sent, t_copied) + " s");
  if (verify_) {
    // No digest from the upload, or one that does not match: read the whole copy again, and
    // that answer decides.
    if (landed != hex) {
      landed = dst->sha256(part, total);
      ctx.log("transfer: sha256 of the copy on " + d.host->name() + " read in " +
              seconds_text(t_copied, std::chrono::steady_clock::now()) + " s");
    }
    if (landed != hex) {
      d.host->remove(part);
      throw Error("transfer: sha256 mismatch after copying " + label(s) + " to " + label(d) +
                      ": source " + hex + ", copy " + landed,
                  "the copy was removed; if something writes to the source, stop it; then run "
                  "again (check the disks and the network if it happens again)");
    }
  }
  if (d.host->stat(d.path).exists && !d.host->stat(backup).exists) {
    hosts::ExecRequest ln;
    ln.argv = {"ln", "--", d.path, backup};
    hosts::ExecResult r = d.host->exec(ln);
    if (!r.ok())
      throw Error("transfer: cannot keep the prior " + label(d) + " aside as " + backup + ": " +
                  r.describe() + " " + r.err);
  }
  d.host->rename(part, d.path);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return {{"bytes", total},       {"sha256", hex},        {"seconds", seconds},
          {"transferred", sent},  {"resumed_from", offset}};
}

}  // namespace

std::vector<StepType> transfer_step_types() {
  StepType t;
  t.name = kType;
  t.summary = "Copy a file to or from an SSH host over SFTP, resumable, sha256-verified";
  t.undo = "records whether dest existed; apply keeps the prior dest aside as "
           "DEST.cutover-prev-RUNID; undo puts it back (or removes the new file)";
  t.outputs = "bytes: file size; sha256: its hash; seconds: duration; transferred: bytes sent "
              "by this attempt; resumed_from: bytes kept from a partial copy";
  t.params_schema = kSchema;
  t.kind = Kind::change;
  t.remote = false;
  t.resume = Resume::yes;
  t.make = [](const StepConfig& c) -> std::unique_ptr<Step> { return std::make_unique<Transfer>(c); };
  return {t};
}

}  // namespace cutover::steps
