#include "steps/tree_io.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <set>

#include "checkpoints/artifact_reader.h"
#include "checkpoints/artifact_store.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"
#include "util/units.h"

namespace cutover::steps {
namespace {

const char kHash[] =
    "if command -v sha256sum >/dev/null 2>&1; then sha256sum; else openssl dgst -sha256 -r; fi";

// The last few lines of a command's stderr, for an error message.
std::string tail(const std::string& text, size_t lines = 6) {
  std::string t = util::trim(text);
  size_t pos = t.size();
  for (size_t i = 0; i < lines && pos != std::string::npos && pos > 0; ++i)
    pos = t.rfind('\n', pos - 1);
  return pos == std::string::npos || pos == 0 ? t : t.substr(pos + 1);
}

std::string on(const hosts::Host& host) { return host.is_local() ? "" : " on " + host.name(); }

void check_exec(const hosts::ExecResult& r, const std::string& what) {
  if (r.interrupted) throw Interrupted(what + ": interrupted");
  if (r.timed_out) throw Interrupted(what + ": timed out (the step's timeout); tar was killed");
  if (!r.ok()) {
    std::string msg = what + " failed (" + r.describe() + ")";
    if (r.exit_code == 127 && r.signal == 0) msg += ": tar not found";
    std::string t = tail(r.err);
    if (!t.empty()) msg += "\n" + t;
    throw Error(msg);
  }
}

// Progress at most every 200 ms, and at once when the total becomes known (and at the end).
class Throttle {
 public:
  Throttle(Progress& p, std::string what) : p_(p), what_(std::move(what)) {}
  void update(uint64_t done, uint64_t total, bool force = false) {
    auto now = std::chrono::steady_clock::now();
    if (!force && total == total_ && now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    total_ = total;
    p_.update(done, std::max(total, done), what_);
  }

 private:
  Progress& p_;
  std::string what_;
  std::chrono::steady_clock::time_point last_{};
  uint64_t total_ = 0;
};

std::vector<std::string> create_args(const TreeSource& src, const std::string& file) {
  std::vector<std::string> a = {"tar",          "--create",    "--file=" + file,
                                "--format=gnu", "--sort=name", "--numeric-owner"};
  // Positional in GNU tar: the patterns must come before the names they apply to.
  for (const auto& x : src.exclude) a.push_back("--exclude=" + x);
  if (src.single_folder) {
    a.insert(a.end(), {"-C", src.paths[0], "."});
  } else {
    for (const auto& p : src.paths) a.insert(a.end(), {"-C", util::dirname(p), util::basename(p)});
  }
  return a;
}

}  // namespace

std::string require_tree_tools(hosts::Host& host, const std::string& type) {
  hosts::ExecRequest req;
  req.shell = "tar --version 2>/dev/null | head -n 1; echo; find --version 2>/dev/null | head -n 1";
  req.deadline = util::Deadline::after(std::chrono::seconds(30));
  hosts::ExecResult r = host.exec(req);
  if (r.interrupted) throw Interrupted(type + ": interrupted");
  std::vector<std::string> lines = util::split(r.out, '\n');
  std::string tar = lines.empty() ? "" : util::trim(lines[0]);
  std::string find = lines.size() > 2 ? util::trim(lines[2]) : "";
  const std::string hint =
      "cutover runs GNU tar (>= 1.28) and GNU find on the host: install them (Debian/Ubuntu: "
      "apt-get install tar findutils); a check.command step can require them up front";
  if (tar.find("GNU tar") == std::string::npos)
    throw Error(type + ": GNU tar is needed on " + host.name() +
                    " (found: " + (tar.empty() ? "no tar" : "'" + tar + "'") + ")",
                hint);
  // "tar (GNU tar) 1.34": --sort=name came with 1.28.
  size_t sp = tar.rfind(' ');
  std::vector<std::string> v = util::split(tar.substr(sp + 1), '.');
  int major = v.size() > 0 ? std::atoi(v[0].c_str()) : 0;
  int minor = v.size() > 1 ? std::atoi(v[1].c_str()) : 0;
  if (major < 1 || (major == 1 && minor < 28))
    throw Error(type + ": " + host.name() + " has '" + tar + "'; 1.28 or newer is needed", hint);
  if (find.find("GNU findutils") == std::string::npos)
    throw Error(type + ": GNU find is needed on " + host.name() +
                    " (found: " + (find.empty() ? "no find" : "'" + find + "'") + ")",
                hint);
  return tar + "; " + find;
}

TreeSource tree_source(hosts::Host& host, std::vector<std::string> paths,
                       std::vector<std::string> exclude, const std::string& type) {
  TreeSource src;
  std::set<std::string> names;
  for (auto& p : paths) {
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    hosts::FileInfo fi = host.stat(p);
    if (!fi.exists) throw Error(type + ": " + p + " does not exist" + on(host));
    if (p == "/") throw Error(type + ": refusing to snapshot / as a whole; name its folders");
    if (!names.insert(util::basename(p)).second)
      throw Error(type + ": two paths have the base name '" + util::basename(p) +
                      "' (each is stored under its base name)",
                  "snapshot them in separate steps");
  }
  src.single_folder = paths.size() == 1 && host.stat(paths[0]).is_dir;
  src.paths = std::move(paths);
  src.exclude = std::move(exclude);
  return src;
}

uint64_t estimate_archive(hosts::Host& host, const TreeSource& src) {
  hosts::ExecRequest req;
  req.argv = create_args(src, "/dev/null");
  req.argv.insert(req.argv.begin() + 1, "--totals");
  req.deadline = util::Deadline::after(std::chrono::minutes(5));
  hosts::ExecResult r = host.exec(req);
  if (r.interrupted) throw Interrupted("interrupted");
  size_t pos = r.err.find("Total bytes written: ");
  if (pos == std::string::npos) return 0;
  return std::strtoull(r.err.c_str() + pos + 21, nullptr, 10);
}

ArchiveResult archive_to_store(Context& ctx, hosts::Host& host, const TreeSource& src,
                               const std::string& kind, const std::string& what) {
  auto writer = ctx.artifacts.writer(kind, checkpoints::Compression::zstd);
  TarIndex index(false);
  Throttle progress(ctx.progress, what);
  uint64_t done = 0, total = 0;
  std::exception_ptr failure;  // the sink must not throw into exec(): keep the first error
  hosts::ExecRequest req;
  // One command (each costs a login shell over SSH): first the size, which GNU tar counts
  // against /dev/null without reading file contents and prints on stderr before the second
  // tar writes its first byte, then the archive itself.
  std::vector<std::string> count = create_args(src, "/dev/null");
  count.insert(count.begin() + 1, "--totals");
  req.shell = util::shell_join(count) +
              " 2>&1 >/dev/null | grep '^Total bytes written: ' >&2; exec " +
              util::shell_join(create_args(src, "-"));
  req.deadline = ctx.deadline;
  req.capture_streamed_stdout = false;
  std::string err_head;
  req.on_stderr = [&](const char* d, size_t n) {
    if (total || err_head.size() > 4096) return;
    err_head.append(d, n);
    size_t pos = err_head.find("Total bytes written: ");
    if (pos != std::string::npos && err_head.find('\n', pos) != std::string::npos)
      total = std::strtoull(err_head.c_str() + pos + 21, nullptr, 10);
  };
  req.on_stdout = [&](const char* d, size_t n) {
    if (failure) return;
    try {
      index.feed(d, n);
      writer->write(d, n);
      done += n;
      progress.update(done, total);
    } catch (...) {
      failure = std::current_exception();
    }
  };
  progress.update(0, total, true);
  hosts::ExecResult r = host.exec(req);
  if (failure) std::rethrow_exception(failure);
  check_exec(r, "tar of " + util::join(src.paths, ", ") + on(host));
  if (!index.complete())
    throw Error("tar of " + util::join(src.paths, ", ") + on(host) + " ended early (" +
                std::to_string(done) + " bytes, no end-of-archive)");
  progress.update(done, done, true);
  ArchiveResult out;
  out.artifact = writer->commit();
  out.raw_bytes = writer->raw_bytes();
  out.stored_bytes = writer->stored_bytes();
  out.entries = index.entry_count();
  out.files = index.file_count();
  out.file_bytes = index.file_bytes();
  return out;
}

TarIndex index_artifact(Context& ctx, const std::string& id) {
  TarIndex index(true);
  ctx.artifacts.read(id, [&](const char* d, size_t n) { index.feed(d, n); });
  if (!index.complete()) throw Error("snapshot " + id + " is truncated (no end-of-archive)");
  return index;
}

std::map<std::string, char> list_tree(hosts::Host& host, const std::string& dir) {
  std::map<std::string, char> out;
  hosts::ExecRequest req;
  std::string q = util::shell_quote(dir);
  req.shell = "[ -d " + q + " ] || exit 0; find " + q + " -mindepth 1 -printf '%y %P\\0'";
  req.deadline = util::Deadline::after(std::chrono::minutes(10));
  // Parsed as it streams: a captured result is cut at 16 MiB, and a listing cut short would
  // leave files a clean restore must remove.
  std::string partial;
  req.on_stdout = [&](const char* d, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      if (d[i] != '\0') {
        partial += d[i];
        continue;
      }
      if (partial.size() >= 3) out[partial.substr(2)] = partial[0];
      partial.clear();
    }
  };
  req.capture_streamed_stdout = false;
  check_exec(host.exec(req), "listing " + dir + on(host));
  return out;
}

RestoreChanges restore_changes(const TarIndex& snapshot, const std::map<std::string, char>& now,
                               bool clean) {
  std::map<std::string, char> want;
  for (const auto& e : snapshot.entries())
    if (!e.path.empty()) want[e.path] = e.type;
  // Parents of stored paths count as folders even when the archive has no entry for them
  // (a snapshot of several paths has no root entry): tar creates them.
  for (const auto& [p, t] : std::map<std::string, char>(want))
    for (size_t s = p.find('/'); s != std::string::npos; s = p.find('/', s + 1))
      want.emplace(p.substr(0, s), 'd');
  RestoreChanges c;
  std::set<std::string> removed_dirs;  // what is inside a removed folder goes with it
  auto inside_removed = [&](const std::string& p) {
    for (size_t s = p.find('/'); s != std::string::npos; s = p.find('/', s + 1))
      if (removed_dirs.count(p.substr(0, s))) return true;
    return false;
  };
  for (const auto& [p, type] : now) {
    if (inside_removed(p)) {
      ++c.removed_total;
      continue;
    }
    auto it = want.find(p);
    // Sockets are never in a snapshot (tar skips them) and belong to running services: a
    // clean restore leaves them alone.
    bool go = it == want.end() ? clean && type != 's' : it->second != type;
    if (!go) continue;
    c.remove.push_back(p);
    ++c.removed_total;
    if (type == 'd') removed_dirs.insert(p);
  }
  for (const auto& [p, type] : want) {
    auto it = now.find(p);
    bool gone = it == now.end() || inside_removed(p) ||
                std::binary_search(c.remove.begin(), c.remove.end(), p);
    if (gone)
      c.create.push_back(p);
    else
      ++c.replace;
  }
  return c;
}

RestoreResult restore_tree(Context& ctx, hosts::Host& host, const std::string& id,
                           const std::string& dest, bool clean, const std::string& what) {
  // Listing the snapshot reads it whole and checks its sha256 (and every member name) before
  // tar sees a byte of it: a damaged snapshot must not cost the folder it would replace.
  TarIndex index = index_artifact(ctx, id);
  RestoreChanges changes = restore_changes(index, list_tree(host, dest), clean);
  if (!changes.remove.empty()) {
    std::string list;
    for (const auto& p : changes.remove) list += p + '\0';
    hosts::ExecRequest rm;
    rm.shell = "cd -- " + util::shell_quote(dest) + " && xargs -0 rm -rf --";
    rm.stdin_data = list;
    rm.deadline = ctx.deadline;
    check_exec(host.exec(rm), "removing " + std::to_string(changes.remove.size()) +
                                  " entries from " + dest + on(host));
  }

  checkpoints::ArtifactReader reader(ctx.artifacts, id);
  Throttle progress(ctx.progress, what);
  std::exception_ptr failure;
  hosts::ExecRequest req;
  req.argv = {"tar",
              "--extract",
              "--file=-",
              "--numeric-owner",
              "--same-owner",
              "--same-permissions",
              "--delay-directory-restore",
              "-C",
              dest};
  req.deadline = ctx.deadline;
  req.stdin_reader = [&](char* buf, size_t cap) -> size_t {
    if (failure) return 0;
    try {
      size_t n = reader.read(buf, cap);
      progress.update(reader.done(), reader.raw_size());
      return n;
    } catch (...) {
      failure = std::current_exception();
      return 0;  // tar sees a truncated archive and fails; the real cause is rethrown below
    }
  };
  progress.update(0, reader.raw_size(), true);
  hosts::ExecResult r = host.exec(req);
  if (failure) std::rethrow_exception(failure);
  check_exec(r, "tar -x into " + dest + on(host));
  progress.update(reader.done(), reader.raw_size(), true);
  return {index.entry_count(), index.file_count(), index.file_bytes(), changes.removed_total};
}

nlohmann::json tree_fingerprint(hosts::Host& host, const std::string& dir) {
  std::string q = util::shell_quote(dir);
  hosts::ExecRequest req;
  req.shell = "if [ ! -e " + q + " ] && [ ! -L " + q + " ]; then echo absent; exit 0; fi\n" +
              "cd -- " + q + " || exit 3\n" +
              "n=$(find . ! -type s -printf x | wc -c)\n"
              "h=$( { tar --create --file=- --format=gnu --sort=name --numeric-owner --mtime=@0 . "
              "|| echo cutover-tar-failed >&2; } | { " +
              kHash + "; } )\n" + "echo \"$n $h\"";
  req.deadline = util::Deadline::after(std::chrono::minutes(30));
  hosts::ExecResult r = host.exec(req);
  if (r.err.find("cutover-tar-failed") != std::string::npos) r.exit_code = 2;
  check_exec(r, "fingerprint of " + dir + on(host));
  std::vector<std::string> words = util::split(util::trim(r.out), ' ');
  if (words.size() == 1 && words[0] == "absent") return "absent";
  if (words.size() < 2 || words[1].size() != 64)
    throw Error("fingerprint of " + dir + on(host) + ": unexpected output '" + util::trim(r.out) +
                "'");
  return {{"entries", std::strtoull(words[0].c_str(), nullptr, 10)}, {"sha256", words[1]}};
}

std::string tree_resource(const hosts::Host& host, const std::string& dir) {
  return "dir:" + host.name() + ":" + dir;
}

}  // namespace cutover::steps
