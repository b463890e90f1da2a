#include "executor/doctor.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <regex>
#include <set>

#include "checkpoints/lock.h"
#include "checkpoints/state.h"
#include "executor/interpolate.h"
#include "executor/known_errors.h"
#include "executor/run_env.h"
#include "executor/runs.h"
#include "hosts/ssh_host.h"
#include "steps/pg_conn.h"
#include "steps/pg_tools.h"
#include "steps/tree_io.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/process.h"
#include "util/redact.h"
#include "util/strings.h"
#include "util/units.h"

namespace cutover::executor {

namespace {

namespace pg = steps::pg;

// Steps whose `with` names a database, and the tools they run on this machine.
const std::set<std::string> kPgTypes = {"pg.dump", "pg.restore", "pg.sql", "pg.query", "check.pg"};

std::string hint_for(const std::string& detail, const std::string& fallback = {}) {
  auto hints = match_known_errors(detail);
  if (hints.empty()) return fallback;
  return hints.front().cause + " " + hints.front().fix;
}

DoctorRow row(std::string check, std::string status, std::string detail, std::string hint = {}) {
  return {std::move(check), std::move(status), util::redact(detail), util::redact(hint)};
}

DoctorRow fail_row(const std::string& check, const std::string& detail, const std::string& own_hint = {}) {
  return row(check, "fail", detail, hint_for(detail, own_hint));
}

// "pg_dump (PostgreSQL) 15.4 (Debian…)" -> "15.4"; "" when the output holds no version.
std::string version_in(const std::string& text) {
  std::smatch m;
  static const std::regex re(R"((\d+)(\.\d+)+|\b(\d+)\b)");
  std::string first_line = text.substr(0, text.find('\n'));
  if (std::regex_search(first_line, m, re)) return m.str(0);
  return "";
}

// Runs `tool ARG` briefly and returns its version text ("" if it printed none). Throws Error.
std::string tool_version(const std::string& path, const std::string& arg = "--version") {
  util::ProcessSpec spec;
  spec.argv = {path};
  if (!arg.empty()) spec.argv.push_back(arg);
  spec.deadline = util::Deadline::after(std::chrono::seconds(10));
  auto r = util::run_process(spec);
  if (r.timed_out || r.spawn_failed) throw Error(path + " " + arg + ": " + r.describe());
  return version_in(r.out.empty() ? r.err : r.out);
}

struct Env {
  const Plan& plan;
  std::map<std::string, std::string> secrets;
  std::vector<std::string> missing_secrets;
  Scope scope;
};

void resolve_secrets(Env& env) {
  for (const auto& [name, src] : env.plan.secrets) {
    if (!src.env.empty()) {
      const char* v = std::getenv(src.env.c_str());
      if (v) env.secrets[name] = v;
      else env.missing_secrets.push_back("secrets." + name + ": environment variable " + src.env + " is not set");
    } else if (!src.file.empty()) {
      try {
        std::string v = util::read_file(util::join_path(env.plan.dir, src.file));
        while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
        env.secrets[name] = v;
      } catch (const std::exception& e) {
        env.missing_secrets.push_back("secrets." + name + ": " + e.what());
      }
    }
    if (env.secrets.count(name)) util::register_secret(env.secrets[name]);
  }
  env.scope.vars = &env.plan.vars;
  env.scope.secret = [&env](const std::string& n) -> std::string {
    // A missing secret is reported once (the "secrets" row); the checks go on without it.
    auto it = env.secrets.find(n);
    if (it == env.secrets.end()) {
      if (env.plan.secrets.count(n)) return "";
      throw Error("unknown secret '" + n + "'");
    }
    return it->second;
  };
  env.scope.run = {{"id", "doctor"}, {"dir", "/tmp"}};
  env.scope.plan = {{"name", env.plan.name}, {"dir", env.plan.dir}};
  env.scope.unknown_outputs_ok = true;
}

// ---- tools ------------------------------------------------------------------------------

void check_tool(std::vector<DoctorRow>& rows, const std::string& tool, bool needed,
                const std::string& why = {}) {
  std::string path = find_executable(tool);
  if (path.empty()) {
    std::string detail = tool + ": command not found in PATH" + (why.empty() ? "" : " (" + why + ")");
    if (needed) rows.push_back(fail_row("tool " + tool, detail));
    else rows.push_back(row("tool " + tool, "warn", detail, "only needed by plans that use it"));
    return;
  }
  try {
    std::string v = tool_version(path, tool == "ssh" ? "-V" : "--version");
    rows.push_back(row("tool " + tool, "ok", path + (v.empty() ? "" : " " + v)));
  } catch (const Error& e) {
    rows.push_back(fail_row("tool " + tool, e.what()));
  }
}

// ---- databases ----------------------------------------------------------------------------

struct DbTarget {
  pg::Dsn dsn;
  std::set<std::string> tools;   // client tools the steps on it run
  bool dumped = false;           // a pg.dump reads it: its size counts for the disk check
  std::vector<std::string> steps;
};

void collect_db(std::map<std::string, DbTarget>& dbs, std::vector<DoctorRow>& rows, const StepSpec& s,
                const json& with, const std::string& dsn_key, const std::string& pw_key) {
  if (!with.contains(dsn_key) || !with[dsn_key].is_string()) return;
  std::string text = with[dsn_key].get<std::string>();
  if (text.find("(known after apply)") != std::string::npos) {
    rows.push_back(row("database of step " + s.id, "warn", "the DSN depends on an earlier step's outputs",
                       "checked when the step runs"));
    return;
  }
  std::string pw = with.contains(pw_key) && with[pw_key].is_string() ? with[pw_key].get<std::string>() : "";
  try {
    pg::Dsn dsn = pg::Dsn::parse(text, pw);
    auto [it, inserted] = dbs.emplace(dsn.display(), DbTarget{dsn, {}, false, {}});
    it->second.steps.push_back(s.id);
    if (s.type == "pg.dump") {
      it->second.tools.insert("pg_dump");
      it->second.dumped = true;
    }
    if (s.type == "pg.restore") it->second.tools.insert("pg_restore");
  } catch (const Error& e) {
    rows.push_back(fail_row("database of step " + s.id, e.what()));
  }
}

uint64_t check_database(std::vector<DoctorRow>& rows, const DbTarget& db, int timeout_s) {
  std::string name = "database " + db.dsn.display();
  uint64_t size = 0;
  try {
    pg::PgConn conn(db.dsn, util::Deadline::after(std::chrono::seconds(timeout_s)));
    int num = conn.server_version_num();
    if (db.dumped) size = pg::database_size(conn);
    rows.push_back(row(name, "ok", "PostgreSQL " + pg::version_text(num) +
                                       (db.dumped ? ", " + util::format_bytes(size) : "") +
                                       " (steps " + util::join(db.steps, ", ") + ")"));
    for (const auto& tool : db.tools) {
      std::string check = "tool " + tool + " vs " + db.dsn.display();
      try {
        int major = pg::tool_major(tool);
        int server = pg::server_major(num);
        if (major >= server)
          rows.push_back(row(check, "ok", tool + " " + std::to_string(major) + " >= server " + std::to_string(server)));
        else
          rows.push_back(row(check, "fail",
                             tool + " " + std::to_string(major) + " is older than the server (" + std::to_string(server) +
                                 "): aborting because of server version mismatch",
                             "install postgresql-client-" + std::to_string(server) + " (pg_dump must be the server's major version or newer)"));
      } catch (const Error& e) {
        rows.push_back(fail_row(check, e.what(), e.hint()));
      }
    }
  } catch (const Error& e) {
    rows.push_back(fail_row(name, e.what(), e.hint()));
  }
  return size;
}

// ---- hosts ------------------------------------------------------------------------------

// A plain TCP connect with a timeout: tells "unreachable" apart from SSH-level problems.
std::string tcp_probe(const std::string& address, int port, int timeout_s) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(address.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) return "could not resolve host " + address + ": " + gai_strerror(rc);
  std::string err = "no address for " + address;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) continue;
    int c = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (c != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int n = ::poll(&p, 1, timeout_s * 1000);
      if (n == 0) {
        err = "connect to " + address + ":" + std::to_string(port) + " timed out";
      } else {
        int so = 0;
        socklen_t len = sizeof so;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len);
        c = so == 0 ? 0 : -1;
        if (so) err = "connect to " + address + ":" + std::to_string(port) + ": " + std::strerror(so);
      }
    } else if (c != 0) {
      err = "connect to " + address + ":" + std::to_string(port) + ": " + std::strerror(errno);
    }
    ::close(fd);
    if (c == 0) {
      ::freeaddrinfo(res);
      return "";
    }
  }
  ::freeaddrinfo(res);
  return err;
}

std::string str_of(const std::string& text, const Scope& scope) {
  if (text.empty()) return text;
  json v = interpolate_string(text, scope, SecretMode::reveal);
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// files.snapshot and files.restore run GNU tar and GNU find on their host: the same check
// the steps make before they start, made now.
const std::set<std::string> kTreeTypes = {"files.snapshot", "files.restore"};

void check_tree_tools(std::vector<DoctorRow>& rows, hosts::Host& host, const std::string& name) {
  const std::string check = "tools for files.* on " + name;
  try {
    rows.push_back(row(check, "ok", steps::require_tree_tools(host, "files.*")));
  } catch (const Interrupted&) {
    throw;
  } catch (const Error& e) {
    rows.push_back(fail_row(check, e.what(), e.hint()));
  }
}

void check_host(std::vector<DoctorRow>& rows, const HostSpec& spec, const Scope& scope, int timeout_s,
                bool tree_tools) {
  const std::string base = "host " + spec.name;
  hosts::SshOptions o;
  try {
    o.name = spec.name;
    o.address = str_of(spec.address, scope);
    o.port = spec.port;
    o.user = str_of(spec.user, scope);
    o.identity_file = str_of(spec.identity_file, scope);
    o.passphrase = str_of(spec.passphrase, scope);
    o.password = str_of(spec.password, scope);
    o.agent = spec.agent;
    o.host_key = str_of(spec.host_key, scope);
    o.known_hosts = str_of(spec.known_hosts, scope);
    o.connect_timeout_s = timeout_s;
  } catch (const Error& e) {
    rows.push_back(fail_row(base, e.what()));
    return;
  }
  std::string where = o.user + "@" + o.address + ":" + std::to_string(o.port);
  std::string err = tcp_probe(o.address, o.port, timeout_s);
  if (!err.empty()) {
    rows.push_back(fail_row(base + ": reachable", err));
    return;
  }
  rows.push_back(row(base + ": reachable", "ok", where));
  try {
    auto host = hosts::make_ssh_host(o);
    host->connect();
    rows.push_back(row(base + ": host key", "ok", host->host_key_fingerprint() + " (" + o.host_key + ")"));
    rows.push_back(row(base + ": auth", "ok", "authenticated as " + o.user));
    if (tree_tools) check_tree_tools(rows, *host, spec.name);
    host->disconnect();
  } catch (const Error& e) {
    std::string msg = e.what();
    static const std::regex key_re("host key|known_hosts|fingerprint|hostkey", std::regex::icase);
    static const std::regex auth_re("auth|password|publickey|identity|agent|passphrase|RSA", std::regex::icase);
    if (std::regex_search(msg, key_re)) {
      rows.push_back(fail_row(base + ": host key", msg, e.hint()));
    } else if (std::regex_search(msg, auth_re)) {
      rows.push_back(row(base + ": host key", "ok", "verified (" + o.host_key + ")"));
      rows.push_back(fail_row(base + ": auth", msg, e.hint()));
    } else {
      rows.push_back(fail_row(base + ": ssh", msg, e.hint()));
    }
  }
}

// ---- state ------------------------------------------------------------------------------

void check_state(std::vector<DoctorRow>& rows, const std::string& state, const std::string& plan_name,
                 uint64_t needed_bytes) {
  if (util::starts_with(state, "postgresql://") || util::starts_with(state, "postgres://")) {
    rows.push_back(row("state", "warn", "shared PostgreSQL state is not examined by doctor"));
    return;
  }
  struct stat st {};
  std::string disk_path = state;
  if (::stat(state.c_str(), &st) != 0) {
    rows.push_back(row("state folder", "ok", state + " does not exist yet (created on the first run, mode 0700)"));
    disk_path = util::dirname(state.find('/') == std::string::npos ? "./" + state : state);
    if (disk_path.empty()) disk_path = ".";
  } else if (!S_ISDIR(st.st_mode)) {
    rows.push_back(row("state folder", "fail", state + " exists but is not a folder", "move it away or pass --state DIR"));
    return;
  } else if (::access(state.c_str(), W_OK | X_OK) != 0) {
    rows.push_back(fail_row("state folder", state + ": permission denied (not writable)"));
  } else if ((st.st_mode & 0777) != 0700) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 0777);
    rows.push_back(row("state folder", "warn", state + " has mode " + mode + ", expected 0700 (it holds dumps and journals)",
                       "chmod 700 " + util::shell_quote(state)));
  } else {
    rows.push_back(row("state folder", "ok", state + " (writable, mode 0700)"));
  }
  struct statvfs sv {};
  if (::statvfs(disk_path.c_str(), &sv) == 0) {
    uint64_t free_b = static_cast<uint64_t>(sv.f_bavail) * sv.f_frsize;
    std::string detail = util::format_bytes(free_b) + " free at " + disk_path;
    if (needed_bytes == 0) rows.push_back(row("disk space", "ok", detail));
    else if (free_b < needed_bytes)
      rows.push_back(row("disk space", "fail", detail + "; the plan's dumps may need up to " + util::format_bytes(needed_bytes),
                         hint_for("no space left on device", "free space or pass --state on a bigger disk")));
    else if (free_b < needed_bytes * 2)
      rows.push_back(row("disk space", "warn", detail + "; the plan's dumps may need up to " + util::format_bytes(needed_bytes),
                         "dumps are compressed, but leave room for the target's safety dump too"));
    else rows.push_back(row("disk space", "ok", detail + " (dumps need up to " + util::format_bytes(needed_bytes) + ")"));
  }
  if (::stat(state.c_str(), &st) != 0) {
    rows.push_back(row("lock", "ok", "not held"));
    rows.push_back(row("runs", "ok", "no run needs attention"));
    return;
  }
  try {
    bool any = false;
    for (const auto& l : checkpoints::held_locks(state)) {
      if (!plan_name.empty() && l.plan != plan_name) continue;
      any = true;
      rows.push_back(row("lock " + l.plan, "warn", "held by " + l.describe(),
                         "a run is in progress; wait for it (--lock-timeout) or, if its holder is gone, see `cutover status`"));
    }
    if (!any) rows.push_back(row("lock", "ok", "not held"));
  } catch (const std::exception& e) {
    rows.push_back(fail_row("lock", e.what()));
  }
  try {
    auto store = checkpoints::open_local_state(state);
    auto pending = runs_needing_attention(*store, plan_name);
    if (pending.empty()) rows.push_back(row("runs", "ok", "no run needs attention"));
    for (const auto& r : pending) {
      std::string hint = r.status == "rollback_incomplete" ? "fix the undo error, then `cutover rollback " + r.run_id + "`"
                         : r.status == "corrupt"           ? r.warning
                                                           : "`cutover resume " + r.run_id + "` or `cutover rollback " + r.run_id + "`";
      rows.push_back(row("run " + r.run_id, "fail", "plan " + r.plan_name + " is " + r.status + "; apply refuses until it is settled",
                         hint));
    }
  } catch (const std::exception& e) {
    rows.push_back(fail_row("runs", e.what()));
  }
}

}  // namespace

std::string find_executable(const std::string& name) {
  if (name.empty()) return "";
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  for (const auto& dir : util::split(path ? path : "/usr/bin:/bin", ':')) {
    std::string full = (dir.empty() ? "." : dir) + "/" + name;
    struct stat st {};
    if (::stat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(full.c_str(), X_OK) == 0) return full;
  }
  return "";
}

std::vector<std::string> tools_needed(const Plan& plan) {
  std::set<std::string> out;
  for (const auto& s : plan.steps) {
    if (s.type == "pg.dump") out.insert("pg_dump");
    if (s.type == "pg.restore") out.insert({"pg_restore", "psql"});
    if (s.type == "git.checkout" && (s.on.empty() || s.on == "local")) out.insert("git");
    if (s.type == "check.command" && (s.on.empty() || s.on == "local") && s.with.contains("command") &&
        s.with["command"].is_string() && s.with["command"].get<std::string>().find("${") == std::string::npos)
      out.insert(s.with["command"].get<std::string>());
  }
  return {out.begin(), out.end()};
}

std::vector<DoctorRow> run_doctor(const DoctorInput& in) {
  std::vector<DoctorRow> rows;
  uint64_t dump_bytes = 0;
  if (!in.plan) {
    for (const char* t : {"pg_dump", "pg_restore", "psql", "git", "ssh"}) check_tool(rows, t, false);
    check_state(rows, in.state, "", 0);
    return rows;
  }
  const Plan& plan = *in.plan;
  Env env{plan, {}, {}, {}};
  resolve_secrets(env);
  for (const auto& m : env.missing_secrets) rows.push_back(fail_row("secrets", m, "export it, or fix the secret's source"));

  for (const auto& t : tools_needed(plan)) check_tool(rows, t, true, "the plan's steps run it");
  if (!plan.hosts.empty()) check_tool(rows, "ssh", false, "cutover uses libssh2; ssh is handy for troubleshooting");

  std::map<std::string, DbTarget> dbs;
  for (const auto& s : plan.steps) {
    if (!kPgTypes.count(s.type)) continue;
    json with;
    try {
      with = interpolate(s.with, env.scope, SecretMode::reveal, shell_keys_of(s.type));
    } catch (const std::exception& e) {
      rows.push_back(fail_row("step " + s.id, e.what()));
      continue;
    }
    collect_db(dbs, rows, s, with, "dsn", "password");
    if (with.contains("compare_with") && with["compare_with"].is_object())
      collect_db(dbs, rows, s, with["compare_with"], "dsn", "password");
  }
  for (const auto& [name, db] : dbs) dump_bytes += check_database(rows, db, in.connect_timeout_s);

  std::set<std::string> used_hosts, tree_hosts;
  for (const auto& s : plan.steps) {
    std::string on = s.on.empty() ? "local" : s.on;
    if (on != "local") used_hosts.insert(on);
    if (kTreeTypes.count(s.type)) tree_hosts.insert(on);
  }
  if (tree_hosts.count("local")) check_tree_tools(rows, *hosts::make_local_host(), "local");
  for (const auto& [name, spec] : plan.hosts) {
    if (!used_hosts.count(name)) {
      rows.push_back(row("host " + name, "ok", "not used by any step: not contacted"));
      continue;
    }
    check_host(rows, spec, env.scope, in.connect_timeout_s, tree_hosts.count(name) > 0);
  }
  check_state(rows, in.state, plan.name, dump_bytes);
  return rows;
}

}  // namespace cutover::executor
