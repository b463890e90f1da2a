#include "steps/pg_tools.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "checkpoints/artifact_store.h"
#include "steps/pg_archive.h"
#include "steps/pg_data_loader.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/redact.h"
#include "util/strings.h"
#include "util/units.h"

namespace cutover::steps::pg {
namespace {

// The last `n` bytes of a tool's stderr, trimmed, for error messages.
std::string tail(const std::string& s, size_t n = 1500) {
  std::string t = util::trim(s);
  if (t.size() > n) t = "..." + t.substr(t.size() - n);
  return t;
}

// Rate-limited progress: at most ~4 updates a second.
class Throttle {
 public:
  bool due() {
    auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(250)) return false;
    last_ = now;
    return true;
  }

 private:
  std::chrono::steady_clock::time_point last_{};
};

// A bounded byte queue between the thread reading an artifact and run_process's stdin_reader.
class ByteQueue {
 public:
  explicit ByteQueue(size_t cap) : cap_(cap) {}

  /// Blocks while full; false when the consumer has gone (abort()).
  bool push(std::string chunk) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return aborted_ || size_ < cap_; });
    if (aborted_) return false;
    size_ += chunk.size();
    chunks_.push_back(std::move(chunk));
    cv_.notify_all();
    return true;
  }
  /// End of data.
  void close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    cv_.notify_all();
  }
  /// Copies up to `cap` bytes; 0 at the end of data or after abort().
  size_t pop(char* buf, size_t cap) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return aborted_ || closed_ || !chunks_.empty(); });
    if (aborted_ || chunks_.empty()) return 0;
    size_t n = 0;
    while (n < cap && !chunks_.empty()) {
      std::string& c = chunks_.front();
      size_t take = std::min(cap - n, c.size() - offset_);
      std::memcpy(buf + n, c.data() + offset_, take);
      n += take;
      offset_ += take;
      if (offset_ == c.size()) {
        size_ -= c.size();
        chunks_.pop_front();
        offset_ = 0;
      }
    }
    cv_.notify_all();
    return n;
  }
  /// The consumer is gone: wake and stop the producer.
  void abort() {
    std::lock_guard<std::mutex> lock(mu_);
    aborted_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> chunks_;
  size_t offset_ = 0, size_ = 0, cap_;
  bool closed_ = false, aborted_ = false;
};

struct ConsumerGone {};

}  // namespace

util::ProcessResult run_tool(Context& ctx, const Dsn& dsn, util::ProcessSpec spec) {
  const std::string tool = util::basename(spec.argv.at(0));
  for (const auto& [k, v] : dsn.tool_env()) spec.env[k] = v;
  if (spec.deadline.at == std::chrono::steady_clock::time_point::max()) spec.deadline = ctx.deadline;
  util::ProcessResult r = util::run_process(spec);
  if (r.interrupted) throw Interrupted(tool + " on " + dsn.display() + " was interrupted");
  if (r.timed_out) throw Interrupted(tool + " on " + dsn.display() + " timed out (step timeout)");
  if (!r.ok()) {
    std::string err = tail(r.err);
    if (!dsn.password().empty()) err = util::replace_all(err, dsn.password(), "***");
    err = util::redact(err);
    throw Error(tool + " failed (" + r.describe() + ") on " + dsn.display() +
                    (err.empty() ? "" : ": " + err),
                r.spawn_failed ? "install the PostgreSQL client tools (postgresql-client)" : "");
  }
  return r;
}

namespace {

struct ToolInfo {
  std::string path;
  int major = 0;  // 0: not known from where the tool lives; ask `--version`
};

// The newest /usr/lib/postgresql/N/bin/TOOL, or {} when there is none.
ToolInfo newest_versioned(const std::string& tool) {
  ToolInfo best;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string candidate = entry.path().string() + "/bin/" + tool;
    int major = std::stoi(name);
    if (major > best.major && ::access(candidate.c_str(), X_OK) == 0) best = {candidate, major};
  }
  return best;
}

// Where `tool` is run from. Debian's /usr/bin/pg_dump (pg_restore, psql) is pg_wrapper, a Perl
// script that chooses a version at every call: 60-90 ms per spawn here, three or four spawns
// per dump and restore. For a server it does not know as a local cluster it runs the newest
// installed version, so when PATH leads to the wrapper that binary is run directly (and its
// major version is the folder's name). Any other tool on PATH is run as found.
ToolInfo locate(const std::string& tool) {
  const char* path = std::getenv("PATH");
  for (const auto& dir : util::split(path ? path : "", ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + tool;
    if (::access(candidate.c_str(), X_OK) != 0) continue;
    std::error_code ec;
    auto target = std::filesystem::canonical(candidate, ec);
    if (!ec && target.filename() == "pg_wrapper") {
      ToolInfo direct = newest_versioned(tool);
      if (!direct.path.empty()) return direct;
    }
    return {candidate, 0};
  }
  return {tool, 0};  // not found: spawning it fails with the install hint
}

// The client tools do not change while cutover runs: each is located (and its version
// asked, when needed) once per process.
std::mutex g_tools_mu;
std::map<std::string, ToolInfo> g_tools;

ToolInfo tool_info(const std::string& tool) {
  {
    std::lock_guard<std::mutex> lock(g_tools_mu);
    auto it = g_tools.find(tool);
    if (it != g_tools.end()) return it->second;
  }
  ToolInfo info = locate(tool);
  std::lock_guard<std::mutex> lock(g_tools_mu);
  return g_tools.emplace(tool, info).first->second;
}

int ask_version(const std::string& tool, const std::string& path) {
  util::ProcessSpec spec;
  spec.argv = {path, "--version"};
  spec.deadline = util::Deadline::after(std::chrono::seconds(20));
  util::ProcessResult r = util::run_process(spec);
  if (!r.ok()) throw Error("cannot run " + tool + " --version: " + r.describe(),
                           "install the PostgreSQL client tools (postgresql-client)");
  // "pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"
  auto p = r.out.find(") ");
  std::string v = p == std::string::npos ? r.out : r.out.substr(p + 2);
  try {
    return std::stoi(v);
  } catch (...) {
    throw Error("cannot read the version of " + tool + " from '" + util::trim(r.out) + "'");
  }
}

}  // namespace

std::string tool_path(const std::string& tool) { return tool_info(tool).path; }

int tool_major(const std::string& tool) {
  ToolInfo info = tool_info(tool);
  if (info.major > 0) return info.major;
  int major = ask_version(tool, info.path);
  std::lock_guard<std::mutex> lock(g_tools_mu);
  g_tools[tool].major = major;
  return major;
}

int server_major(int num) { return num >= 100000 ? num / 10000 : num / 100; }

std::string version_text(int num) {
  if (num >= 100000) return std::to_string(num / 10000) + "." + std::to_string(num % 10000);
  return std::to_string(num / 10000) + "." + std::to_string(num / 100 % 100) + "." +
         std::to_string(num % 100);
}

void require_tool_version(const std::string& tool, int server_num, const Dsn& dsn) {
  int have = tool_major(tool), need = server_major(server_num);
  if (have < need)
    throw Error(tool + " " + std::to_string(have) + " is older than the server " +
                    dsn.display() + " (PostgreSQL " + version_text(server_num) + ")",
                "install postgresql-client-" + std::to_string(need) +
                    " or newer; pg_dump refuses servers of a newer major version");
}

std::string scratch_dir(Context& ctx, const std::string& prefix) {
  if (!ctx.run.run_dir.empty()) {
    util::make_dirs(ctx.run.run_dir, 0700);
    std::string dir = std::filesystem::absolute(ctx.run.run_dir).string();
    return util::make_temp_dir(dir + "/" + prefix);
  }
  return util::make_temp_dir(prefix);
}

std::vector<std::string> dump_argv(const DumpOptions& o) {
  std::vector<std::string> argv = {tool_path("pg_dump")};
  if (o.format == "custom") argv.insert(argv.end(), {"-Fc", "-Z0"});
  else if (o.format == "plain") argv.push_back("-Fp");
  else if (o.format == "directory") {
    argv.insert(argv.end(), {"-Fd", "-Z0"});
    if (o.jobs > 1) argv.push_back("-j" + std::to_string(o.jobs));
  } else {
    throw Error("unknown pg_dump format '" + o.format + "' (custom, directory or plain)");
  }
  for (const auto& s : o.schemas) argv.insert(argv.end(), {"-n", s});
  for (const auto& t : o.tables) argv.insert(argv.end(), {"-t", t});
  for (const auto& t : o.exclude_tables) argv.insert(argv.end(), {"-T", t});
  return argv;
}

namespace {

// Counts the rows pg_dump dumps when they cannot be counted in its output (an archive
// ArchiveRows does not read: large objects, say): in pg_dump's own snapshot and while it
// runs. This connection opens a repeatable-read transaction and exports its snapshot,
// pg_dump is started with --snapshot, and start() counts every user table in the same
// snapshot on a thread (on the source, whose pages are already hinted; counting the target
// after the restore reads every page again and writes hint bits: 0.3 s of a 3 s pgbench copy
// here). Any failure (a standby, a row-security policy, a lost connection) just means no
// counts: the restore counts instead. The counts run without parallel workers: pg_dump's
// COPY already keeps one core busy, and workers fighting it for the other made a 2M-row dump
// ~0.4 s slower (8 of 9 paired runs); counting at all made it ~0.3 s slower than counting
// newlines in pg_dump's output.
class SnapshotCounter {
 public:
  // `conn` (to the database being dumped) holds the transaction until this is destroyed.
  SnapshotCounter(PgConn& conn, bool wanted) : conn_(conn) {
    if (!wanted) return;
    try {
      conn_.exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
      open_ = true;
      conn_.exec("SET LOCAL row_security = off");  // as pg_dump: fail rather than count fewer
      conn_.exec("SET LOCAL max_parallel_workers_per_gather = 0");
      snapshot_ = conn_.exec("SELECT pg_export_snapshot()").first().value_or("");
    } catch (const Interrupted&) {
      throw;
    } catch (const Error&) {
      snapshot_.clear();
    }
  }
  ~SnapshotCounter() {
    if (thread_.joinable()) thread_.join();
    if (open_) {
      try {
        conn_.exec("ROLLBACK");
      } catch (...) {
      }
    }
  }
  SnapshotCounter(const SnapshotCounter&) = delete;
  SnapshotCounter& operator=(const SnapshotCounter&) = delete;

  /// The exported snapshot for pg_dump --snapshot, or "" (no counting).
  const std::string& snapshot() const { return snapshot_; }

  /// Starts counting, once.
  void start() {
    if (snapshot_.empty() || thread_.joinable()) return;
    thread_ = std::thread([this] {
      try {
        for (const auto& table : user_tables(conn_))
          counts_[table] = std::stoll(
              conn_.exec("SELECT count(*) FROM ONLY " + table).first().value_or("0"));
        ok_ = true;
      } catch (...) {
      }
    });
  }

  /// After pg_dump succeeded: {"schema.table": rows, ...}, or empty when counting failed or
  /// never started.
  nlohmann::json finish() {
    if (thread_.joinable()) thread_.join();
    nlohmann::json out = nlohmann::json::object();
    if (ok_)
      for (const auto& [table, n] : counts_) out[table] = n;
    return out;
  }

 private:
  PgConn& conn_;
  bool open_ = false;  // a transaction is open on conn_
  std::string snapshot_;
  std::thread thread_;
  std::map<std::string, long long> counts_;
  bool ok_ = false;
};

}  // namespace

std::map<std::string, long long> recorded_rows(Context& ctx, const std::string& id) {
  std::map<std::string, long long> out;
  nlohmann::json meta = ctx.artifacts.meta(id);
  if (!meta.contains("table_rows") || !meta["table_rows"].is_object()) return out;
  for (const auto& [table, n] : meta["table_rows"].items())
    if (n.is_number_integer()) out[table] = n.get<long long>();
  return out;
}

DumpResult dump_to_store(Context& ctx, const Dsn& dsn, PgConn& conn, const DumpOptions& opts,
                         uint64_t total) {
  auto writer = ctx.artifacts.writer("pg.dump " + opts.format, checkpoints::Compression::zstd);
  const std::string what = "pg_dump " + dsn.display();
  Throttle throttle;
  auto sink = [&](const char* d, size_t n) {
    writer->write(d, n);
    if (throttle.due()) ctx.progress.update(writer->raw_bytes(), total, what);
  };
  util::ProcessSpec spec;
  spec.argv = dump_argv(opts);
  if (opts.format == "directory") {
    // pg_dump -Fd writes a folder; it enters the store as one tar stream.
    std::string dir = scratch_dir(ctx, "pgdump");
    std::string out = dir + "/dump";
    spec.argv.insert(spec.argv.end(), {"-f", out, "-d", dsn.conninfo()});
    try {
      run_tool(ctx, dsn, spec);
      util::ProcessSpec tar;
      tar.argv = {"tar", "-C", out, "-cf", "-", "."};
      tar.on_stdout = sink;
      run_tool(ctx, dsn, tar);
    } catch (...) {
      util::remove_all(dir);
      throw;
    }
    util::remove_all(dir);
  } else {
    // The rows are counted in pg_dump's output as it streams; for an archive that cannot be
    // read so, and only for a whole database, in pg_dump's snapshot (SnapshotCounter).
    std::unique_ptr<ArchiveRows> rows;
    if (opts.format == "custom") {
      // Tells pg.restore, before it reads a byte, whether spreading rows will pay.
      writer->annotate("costly_bytes", DataLoader::costly_bytes(conn));
      if (opts.count_rows) rows = std::make_unique<ArchiveRows>();
    }
    const bool whole = opts.schemas.empty() && opts.tables.empty() && opts.exclude_tables.empty();
    SnapshotCounter counter(conn, opts.count_rows && whole);
    if (!rows) counter.start();  // plain SQL: the server counts
    if (!counter.snapshot().empty()) spec.argv.push_back("--snapshot=" + counter.snapshot());
    spec.argv.insert(spec.argv.end(), {"-d", dsn.conninfo()});
    spec.on_stdout = [&](const char* d, size_t n) {
      sink(d, n);
      if (!rows) return;
      try {
        rows->feed(d, n);
      } catch (const ArchiveReader::Unsupported&) {
        rows.reset();
        counter.start();
      } catch (const std::exception&) {
        rows.reset();  // counting never fails the dump; pg_dump's own failure is the one to report
      }
    };
    run_tool(ctx, dsn, spec);
    nlohmann::json counts = counter.finish();
    if (rows) {
      try {
        rows->finish();
        for (const auto& [table, n] : rows->counts()) counts[table] = n;
      } catch (const std::exception&) {
        // pg_dump succeeded: the archive is fine, and the restore counts instead.
      }
    }
    if (!counts.empty()) writer->annotate("table_rows", counts);
  }
  DumpResult res;
  res.raw_bytes = writer->raw_bytes();
  res.artifact = writer->commit();
  res.stored_bytes = writer->stored_bytes();
  ctx.progress.update(res.raw_bytes, res.raw_bytes, what);
  return res;
}

namespace {

// Reads an artifact on a thread of its own into a bounded queue, holding the last chunk back
// until the stored bytes are verified: a corrupt artifact always ends the reader's input early.
class ArtifactFeed {
 public:
  ArtifactFeed(Context& ctx, const std::string& id) : queue_(8u << 20) {
    producer_ = std::thread([this, &ctx, id] {
      std::string pending;
      try {
        ctx.artifacts.read(id, [&](const char* d, size_t n) {
          if (!pending.empty() && !queue_.push(std::move(pending))) throw ConsumerGone{};
          pending.assign(d, n);
        });
        if (!pending.empty()) queue_.push(std::move(pending));
      } catch (const ConsumerGone&) {
      } catch (...) {
        error_ = std::current_exception();
      }
      queue_.close();
    });
  }
  ~ArtifactFeed() { stop(); }
  ArtifactFeed(const ArtifactFeed&) = delete;
  ArtifactFeed& operator=(const ArtifactFeed&) = delete;

  /// Up to `cap` bytes; 0 at the end (or when reading failed: see finish()).
  size_t pop(char* buf, size_t cap) { return queue_.pop(buf, cap); }
  /// Stops reading; rethrows why reading failed (a corrupt or missing artifact), if it did.
  void finish() {
    stop();
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void stop() {
    queue_.abort();
    if (producer_.joinable()) producer_.join();
  }
  ByteQueue queue_;
  std::exception_ptr error_;
  std::thread producer_;
};

// Streams artifact `id` (verified as run_tool_with_artifact does) into `sink` on this thread.
void read_artifact(Context& ctx, const std::string& id, const std::string& what,
                   const std::function<void(const char*, size_t)>& sink) {
  uint64_t total = ctx.artifacts.meta(id).value("raw_bytes", uint64_t{0});
  ArtifactFeed feed(ctx, id);
  std::vector<char> buf(1u << 20);
  uint64_t fed = 0;
  Throttle throttle;
  try {
    while (size_t n = feed.pop(buf.data(), buf.size())) {
      sink(buf.data(), n);
      fed += n;
      if (!what.empty() && throttle.due()) ctx.progress.update(fed, total, what);
    }
  } catch (...) {
    feed.finish();
    throw;
  }
  feed.finish();
  if (!what.empty()) ctx.progress.update(fed, total, what);
}

}  // namespace

util::ProcessResult run_tool_with_artifact(Context& ctx, const Dsn& dsn, util::ProcessSpec spec,
                                           const std::string& id, const std::string& what,
                                           const std::atomic<bool>* cut) {
  uint64_t total = ctx.artifacts.meta(id).value("raw_bytes", uint64_t{0});
  ArtifactFeed feed(ctx, id);
  uint64_t fed = 0;
  Throttle throttle;
  spec.stdin_reader = [&](char* buf, size_t cap) -> size_t {
    if (cut && *cut) return 0;
    size_t n = feed.pop(buf, cap);
    fed += n;
    if (!what.empty() && throttle.due()) ctx.progress.update(fed, total, what);
    return n;
  };
  util::ProcessResult r;
  try {
    r = run_tool(ctx, dsn, spec);
  } catch (...) {
    feed.finish();  // the artifact's failure, if it failed, is the cause
    throw;
  }
  feed.finish();
  if (!what.empty()) ctx.progress.update(fed, total, what);
  return r;
}

std::string artifact_format(Context& ctx, const std::string& id) {
  if (!ctx.artifacts.exists(id))
    throw Error("artifact " + id + " is not in the artifact store (" + ctx.artifacts.root() + ")");
  std::string kind = ctx.artifacts.meta(id).value("kind", "");
  for (const char* f : {"custom", "directory", "plain"})
    if (kind == std::string("pg.dump ") + f) return f;
  throw Error("artifact " + id + " is not a pg.dump artifact (kind '" + kind + "')",
              "pass the `artifact` output of a pg.dump step");
}

RowLoad row_load(const nlohmann::json& meta, const RestoreOptions& opts) {
  if (opts.single_transaction || opts.jobs <= 1) return RowLoad::one_pg_restore;
  if (!meta.contains("costly_bytes") || !meta["costly_bytes"].is_number_unsigned())
    return RowLoad::ask_schema;
  return meta["costly_bytes"].get<uint64_t>() < DataLoader::kSpreadMin ? RowLoad::one_pg_restore
                                                                      : RowLoad::spread;
}

namespace {

// The rows of artifact `id` into `loader` through `pg_restore --section=data -f -`.
void load_rows_with_pg_restore(Context& ctx, const Dsn& target, const std::string& id,
                               const std::string& what, DataLoader& loader) {
  std::exception_ptr failed;
  std::atomic<bool> cut{false};
  util::ProcessSpec data;
  data.argv = {tool_path("pg_restore"), "--section=data", "-f", "-"};
  data.on_stdout = [&](const char* d, size_t n) {
    if (failed) return;  // drain pg_restore; its input is cut off
    try {
      loader.feed(d, n);
    } catch (...) {
      failed = std::current_exception();
      cut = true;
    }
  };
  try {
    run_tool_with_artifact(ctx, target, data, id, what, &cut);
  } catch (...) {
    if (failed) std::rethrow_exception(failed);  // the cause, not pg_restore's broken input
    throw;
  }
  if (failed) std::rethrow_exception(failed);
}

}  // namespace

RestoreResult restore_into_db(Context& ctx, const Dsn& target, const std::string& id,
                              const RestoreOptions& opts) {
  const std::string format = artifact_format(ctx, id);
  const std::string what = "restore " + target.display();
  ctx.log("restoring " + id + " (" + format + ") into " + target.display());
  RestoreResult result;
  if (format == "plain") {
    util::ProcessSpec spec;
    spec.argv = {tool_path("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction",
                 "-d", target.conninfo(), "-f", "-"};
    spec.capture_limit = 1u << 20;
    run_tool_with_artifact(ctx, target, spec, id, what);
    return result;
  }
  std::vector<std::string> argv = {tool_path("pg_restore"), "--exit-on-error"};
  if (opts.no_owner) argv.insert(argv.end(), {"--no-owner", "--no-privileges"});
  const RowLoad load = format == "custom" ? row_load(ctx.artifacts.meta(id), opts) : RowLoad::spread;
  if (format == "custom" && load == RowLoad::one_pg_restore) {
    // One pg_restore in one transaction: asked for, or nothing to gain from several
    // connections (and faster than by hand then: the index builds need no commit-status
    // lookups for rows of their own transaction; measured on pgbench's tables).
    if (!opts.single_transaction)
      ctx.log("one pg_restore loads the rows: no big table of costly-to-parse columns");
    util::ProcessSpec spec;
    spec.argv = argv;
    spec.argv.insert(spec.argv.end(), {"--single-transaction", "-d", target.conninfo()});
    run_tool_with_artifact(ctx, target, spec, id, what);
    return result;
  }
  if (format == "custom") {
    // Schema first, then the rows over several connections, then indexes and constraints
    // (built once, over loaded tables). pg_restore reads only the archive's table of contents
    // for the first and last part, so those passes stop early.
    auto section = [&](const char* name) {
      util::ProcessSpec spec;
      spec.argv = argv;
      spec.argv.insert(spec.argv.end(), {std::string("--section=") + name, "-d", target.conninfo()});
      return spec;
    };
    // When the artifact says the rows will be spread, the loader connects while pg_restore
    // creates the schema.
    std::future<std::unique_ptr<DataLoader>> connecting;
    auto connect = [&] { return std::make_unique<DataLoader>(target, opts.jobs, ctx.deadline); };
    if (load == RowLoad::spread) connecting = std::async(std::launch::async, connect);
    run_tool_with_artifact(ctx, target, section("pre-data"), id, "");
    bool spread = load == RowLoad::spread;
    if (load == RowLoad::ask_schema) {
      PgConn conn(target, ctx.deadline);
      spread = DataLoader::would_spread(conn);
    }
    if (!spread) {
      // Nothing to gain from several connections: one pg_restore loads the rows and builds
      // the indexes, as fast as by hand.
      util::ProcessSpec rest = section("data");
      rest.argv.insert(rest.argv.end() - 2, "--section=post-data");
      run_tool_with_artifact(ctx, target, rest, id, what);
      return result;
    }
    ctx.log("loading rows over " + std::to_string(opts.jobs) + " connections");
    std::unique_ptr<DataLoader> connected = connecting.valid() ? connecting.get() : connect();
    DataLoader& loader = *connected;
    try {
      // The archive's data blocks straight into the loader (steps/pg_archive.h)...
      ArchiveText text([&](const char* d, size_t n) { loader.feed(d, n); });
      read_artifact(ctx, id, what, [&](const char* d, size_t n) { text.feed(d, n); });
      text.finish();
    } catch (const ArchiveText::Unsupported& e) {
      // ...or, for an archive it does not read (it has not fed the loader then), through
      // pg_restore's script.
      ctx.log(std::string("pg_restore reads the rows: ") + e.what());
      load_rows_with_pg_restore(ctx, target, id, what, loader);
    }
    loader.finish();
    ctx.log("building indexes and constraints of " + target.display());
    run_tool_with_artifact(ctx, target, section("post-data"), id, "");
    result.counted = true;
    result.rows = loader.rows();
    return result;
  }
  // Directory dumps need files: unpack into the run's scratch folder.
  std::string dir = scratch_dir(ctx, "pgrestore");
  try {
    std::string input = dir + "/dump";
    util::make_dirs(input, 0700);
    util::ProcessSpec tar;
    tar.argv = {"tar", "--no-same-owner", "-C", input, "-xf", "-"};
    run_tool_with_artifact(ctx, target, tar, id, what + " (unpack)");
    argv.push_back("-Fd");
    if (opts.jobs > 1 && !opts.single_transaction) argv.push_back("-j" + std::to_string(opts.jobs));
    else argv.push_back("--single-transaction");
    argv.insert(argv.end(), {"-d", target.conninfo(), input});
    util::ProcessSpec spec;
    spec.argv = argv;
    run_tool(ctx, target, spec);
  } catch (...) {
    util::remove_all(dir);
    throw;
  }
  util::remove_all(dir);
  return result;
}

std::string sql_text(const nlohmann::json& value, const std::string& plan_dir) {
  if (value.is_null()) return "";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("file") && value["file"].is_string()) {
    std::string path = util::join_path(plan_dir.empty() ? "." : plan_dir,
                                       value["file"].get<std::string>());
    return util::read_file(path);
  }
  throw Error("SQL must be a string or {file: path}");
}

}  // namespace cutover::steps::pg

namespace cutover::steps::pg {

std::string str_param(const nlohmann::json& p, const char* key, const std::string& def) {
  if (!p.is_object() || !p.contains(key) || p[key].is_null()) return def;
  const auto& v = p[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number() || v.is_boolean()) return v.dump();
  throw Error(std::string("parameter '") + key + "' must be a string");
}

int int_param(const nlohmann::json& p, const char* key, int def) {
  if (!p.is_object() || !p.contains(key) || p[key].is_null()) return def;
  const auto& v = p[key];
  if (v.is_number_integer()) return v.get<int>();
  if (v.is_string()) {
    try {
      return std::stoi(v.get<std::string>());
    } catch (...) {
    }
  }
  throw Error(std::string("parameter '") + key + "' must be an integer");
}

bool bool_param(const nlohmann::json& p, const char* key, bool def) {
  if (!p.is_object() || !p.contains(key) || p[key].is_null()) return def;
  const auto& v = p[key];
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_string() && (v == "true" || v == "false")) return v == "true";
  throw Error(std::string("parameter '") + key + "' must be true or false");
}

std::vector<std::string> list_param(const nlohmann::json& p, const char* key) {
  std::vector<std::string> out;
  if (!p.is_object() || !p.contains(key) || p[key].is_null()) return out;
  const auto& v = p[key];
  if (v.is_string()) return {v.get<std::string>()};
  if (!v.is_array()) throw Error(std::string("parameter '") + key + "' must be a list of strings");
  for (const auto& e : v) {
    if (!e.is_string()) throw Error(std::string("parameter '") + key + "' must be a list of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

}  // namespace cutover::steps::pg
