// SshHost: commands over exec channels, and what is built on them (sha256, checks).
//
// The command line sent is
//   printf 'cutover-pid:%s\n' "$$" >&2 && cd -- DIR && exec env K=V ... /bin/sh -c 'CMD'
// sshd puts each session's shell in a process group of its own (setsid), so the pid printed
// first on stderr (and stripped from it) names the whole group: on a timeout or SIGINT a
// second channel runs `kill -TERM -PGID`, because libssh2 1.10 cannot send a signal and
// closing the channel alone leaves the command running. Environment variables go through
// `env` since sshd refuses setenv requests unless AcceptEnv allows them.
#include <csignal>
#include <cstring>
#include <vector>

#include "hosts/ssh_host.h"
#include "hosts/ssh_host_impl.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/strings.h"

namespace cutover::hosts {
namespace {

constexpr size_t kCaptureLimit = 16u << 20;
constexpr size_t kStdinBlock = 256u << 10;
const char kPidMarker[] = "cutover-pid:";

std::string build_command(const ExecRequest& req) {
  std::string cmd = "printf '" + std::string(kPidMarker) + "%s\\n' \"$$\" >&2 && ";
  if (!req.cwd.empty()) cmd += "cd -- " + util::shell_quote(req.cwd) + " && ";
  cmd += "exec ";
  if (!req.env.empty()) {
    cmd += "env";
    for (const auto& [k, v] : req.env) cmd += " " + util::shell_quote(k + "=" + v);
    cmd += " ";
  }
  if (req.argv.empty()) {
    cmd += "/bin/sh -c " + util::shell_quote(req.shell);
  } else {
    std::vector<std::string> words;
    for (const auto& a : req.argv) words.push_back(util::shell_quote(a));
    cmd += util::join(words, " ");
  }
  return cmd;
}

int signal_number(const std::string& name) {
  static const std::pair<const char*, int> kSignals[] = {
      {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"ILL", SIGILL},
      {"ABRT", SIGABRT}, {"FPE", SIGFPE},   {"KILL", SIGKILL}, {"SEGV", SIGSEGV},
      {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM}, {"USR1", SIGUSR1},
      {"USR2", SIGUSR2}, {"BUS", SIGBUS}};
  for (const auto& [n, v] : kSignals)
    if (name == n) return v;
  return SIGTERM;
}

// Captures a stream up to the limit and forwards it to the caller's callback.
struct Stream {
  std::string* capture;
  const std::function<void(const char*, size_t)>* callback;
  void deliver(const char* d, size_t n) const {
    if (n == 0) return;
    if (*callback) (*callback)(d, n);
    if (capture && capture->size() < kCaptureLimit)
      capture->append(d, std::min(n, kCaptureLimit - capture->size()));
  }
};

[[noreturn]] void lost(SshSession& s, long long rc, const std::string& what) {
  std::string err = s.last_error();
  s.note_failure(rc);
  throw Error(s.who() + ": " + what + ": " + err, SshSession::reconnect_hint());
}

void kill_group(SshHost::Impl& host, const std::string& pid) {
  if (pid.empty() || !host.session.usable()) return;
  ExecRequest req;
  req.shell = "kill -TERM -" + pid + " 2>/dev/null; sleep 1; kill -KILL -" + pid +
              " 2>/dev/null; true";
  req.deadline = util::Deadline::after(std::chrono::seconds(5));
  try {
    host.run(req.shell, req.deadline);
  } catch (...) {
  }
}

ExecResult exec_on(SshHost::Impl& host, const ExecRequest& req) {
  SshSession& s = host.ensure();
  LIBSSH2_SESSION* raw = s.raw();
  auto* ch = static_cast<LIBSSH2_CHANNEL*>(
      s.call_ptr([&] { return static_cast<void*>(libssh2_channel_open_session(raw)); }));
  if (!ch) lost(s, libssh2_session_last_errno(raw), "cannot open a channel");
  ChannelGuard guard{s, ch};
  const std::string command = build_command(req);
  long long rc = s.call([&] { return libssh2_channel_exec(ch, command.c_str()); });
  if (rc != 0) lost(s, rc, "cannot start a command");

  ExecResult r;
  Stream out{req.on_stdout && !req.capture_streamed_stdout ? nullptr : &r.out, &req.on_stdout};
  Stream err{&r.err, &req.on_stderr};
  std::string pid, err_head;  // stderr is held back until the pid line is complete
  bool pid_done = false;
  size_t in_off = 0;
  bool eof_sent = false;
  // Streamed stdin (req.stdin_reader): one block at a time, pulled when the last is sent.
  const bool streamed = static_cast<bool>(req.stdin_reader);
  std::string block;
  bool reader_eof = !streamed;
  util::Deadline grace;
  std::vector<char> buf(64 * 1024);
  while (true) {
    bool progressed = false;
    if (!eof_sent && libssh2_channel_eof(ch)) eof_sent = true;  // nobody reads stdin now
    if (!eof_sent && streamed && in_off >= block.size() && !reader_eof) {
      block.resize(kStdinBlock);
      block.resize(req.stdin_reader(block.data(), block.size()));
      in_off = 0;
      reader_eof = block.empty();
    }
    const std::string& in = streamed ? block : req.stdin_data;
    if (!eof_sent && in_off < in.size()) {
      // libssh2 sends one packet (<= 32 KiB) per call: write until it would block, so
      // that the window stays full between the reads below.
      while (in_off < in.size()) {
        long long n = libssh2_channel_write(ch, in.data() + in_off, in.size() - in_off);
        if (n > 0) {
          in_off += static_cast<size_t>(n), progressed = true;
          continue;
        }
        // The command stopped reading (it exited, or closed stdin): its status tells why.
        if (n == LIBSSH2_ERROR_CHANNEL_CLOSED || n == LIBSSH2_ERROR_CHANNEL_EOF_SENT)
          eof_sent = true;
        else if (n != LIBSSH2_ERROR_EAGAIN && s.note_failure(n)) lost(s, n, "connection lost");
        else if (n != LIBSSH2_ERROR_EAGAIN) eof_sent = true;
        break;
      }
    } else if (!eof_sent) {
      long long n = libssh2_channel_send_eof(ch);
      if (n != LIBSSH2_ERROR_EAGAIN) eof_sent = true, progressed = true;
    }
    for (int stream : {0, SSH_EXTENDED_DATA_STDERR}) {
      long long n = libssh2_channel_read_ex(ch, stream, buf.data(), buf.size());
      if (n == LIBSSH2_ERROR_EAGAIN || n == 0) continue;
      if (n < 0) lost(s, n, "connection lost while running a command");
      progressed = true;
      if (stream == 0) {
        out.deliver(buf.data(), static_cast<size_t>(n));
        continue;
      }
      if (pid_done) {
        err.deliver(buf.data(), static_cast<size_t>(n));
        continue;
      }
      err_head.append(buf.data(), static_cast<size_t>(n));
      size_t nl = err_head.find('\n');
      if (nl == std::string::npos && err_head.size() < 64) continue;
      pid_done = true;
      size_t skip = 0;
      if (nl != std::string::npos && util::starts_with(err_head, kPidMarker)) {
        pid = err_head.substr(sizeof kPidMarker - 1, nl - (sizeof kPidMarker - 1));
        skip = nl + 1;
      }
      err.deliver(err_head.data() + skip, err_head.size() - skip);
    }
    if (progressed) continue;
    if (libssh2_channel_eof(ch)) break;
    if (!r.timed_out && !r.interrupted) {
      if (req.deadline.expired()) r.timed_out = true;
      else if (util::interrupted()) r.interrupted = true;
      // A slow host may not have printed the pid yet: wait a little for it.
      if (r.timed_out || r.interrupted)
        grace = util::Deadline::after(std::chrono::seconds(5));
    }
    if ((r.timed_out || r.interrupted) && (pid_done || grace.expired())) {
      kill_group(host, pid);
      return r;  // the guard frees the channel; the command's group is gone
    }
    s.wait({}, Interruptible::no);
  }
  if (!pid_done) err.deliver(err_head.data(), err_head.size());
  util::Deadline close_dl = util::Deadline::after(std::chrono::seconds(30));
  rc = s.call([&] { return libssh2_channel_close(ch); }, close_dl, Interruptible::no);
  if (rc == 0)
    rc = s.call([&] { return libssh2_channel_wait_closed(ch); }, close_dl, Interruptible::no);
  if (rc != 0) lost(s, rc, "connection lost while closing a command's channel");
  r.exit_code = libssh2_channel_get_exit_status(ch);
  char* sig = nullptr;
  size_t sig_len = 0;
  libssh2_channel_get_exit_signal(ch, &sig, &sig_len, nullptr, nullptr, nullptr, nullptr);
  if (sig) {
    r.signal = signal_number(std::string(sig, sig_len));
    r.exit_code = -1;
    libssh2_free(raw, sig);
  }
  return r;
}

std::string first_word(const std::string& text) {
  size_t end = text.find_first_of(" \t\n");
  return text.substr(0, end);
}

}  // namespace

ExecResult SshHost::Impl::run(const std::string& command, const util::Deadline& deadline,
                              const std::string& stdin_data) {
  ExecRequest req;
  req.shell = command;
  req.deadline = deadline;
  req.stdin_data = stdin_data;
  return exec_on(*this, req);
}

std::string SshHost::Impl::run_ok(const std::string& command, const std::string& what) {
  ExecResult r = run(command);
  if (r.interrupted) throw Interrupted("host " + options.name + ": " + what + ": interrupted");
  if (!r.ok())
    throw Error("host " + options.name + ": " + what + ": " + r.describe() +
                (r.err.empty() ? "" : ": " + util::trim(r.err)));
  return r.out;
}

ExecResult SshHost::exec(const ExecRequest& req) { return exec_on(*impl_, req); }

const char kHashCommand[] =
    "if command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r; else sha256sum; fi";
// /usr/bin/python3, not the PATH's: a pyenv shim there takes 0.4 s to start. -I -S: none of
// the user's environment or site packages.
const char kBulkHashCommand[] =
    "if [ -x /usr/bin/python3 ]; then /usr/bin/python3 -I -S -c \"import hashlib, sys; "
    "h = hashlib.sha256(); b = bytearray(1 << 20); m = memoryview(b); r = sys.stdin.buffer.raw; "
    "[h.update(m[:n]) for n in iter(lambda: r.readinto(b), 0)]; print(h.hexdigest())\"; "
    "elif command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r; else sha256sum; fi";

std::string SshHost::sha256(const std::string& path) { return sha256(path, 0); }

std::string SshHost::sha256(const std::string& path, uint64_t size) {
  const char* hash = size >= kBulkHashFrom ? kBulkHashCommand : kHashCommand;
  std::string q = util::shell_quote(!path.empty() && path[0] == '/' ? path : "./" + path);
  ExecResult r = impl_->run("[ -f " + q + " ] || { echo 'not a regular file' >&2; exit 2; }; " +
                            hash + " < " + q);
  if (r.interrupted) throw Interrupted("host " + name() + ": interrupted");
  if (r.ok()) {
    std::string hex = first_word(r.out);
    if (hex.size() == 64) return hex;
  }
  // A python3 that cannot run the bulk hash (exit 2 is "not a regular file"): the usual tools.
  if (hash == kBulkHashCommand && r.exit_code != 2) return sha256(path, 0);
  if (r.exit_code != 127)
    throw Error("host " + name() + ": cannot hash " + path + ": " + r.describe() + " " +
                util::trim(r.err));
  // Neither tool there: hash the bytes here.
  util::Sha256 h;
  download(path, 0, [&](const char* d, size_t n) { h.update(d, n); });
  return h.hex();
}

std::string SshHost::sha256_prefix(const std::string& path, uint64_t length) {
  std::string q = util::shell_quote(!path.empty() && path[0] == '/' ? path : "./" + path);
  auto hash_with = [&](const char* hash) {
    return first_word(impl_->run_ok("[ -f " + q + " ] && head -c " + std::to_string(length) +
                                        " < " + q + " | { " + hash + "; }",
                                    "cannot hash the first " + std::to_string(length) +
                                        " bytes of " + path));
  };
  if (length >= kBulkHashFrom) {
    try {
      return hash_with(kBulkHashCommand);
    } catch (const Interrupted&) {
      throw;
    } catch (const Error&) {
      // a python3 that cannot run it: the usual tools say what is wrong, if anything is
    }
  }
  return hash_with(kHashCommand);
}

}  // namespace cutover::hosts
