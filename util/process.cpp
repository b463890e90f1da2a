#include "util/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/error.h"

extern char** environ;

namespace cutover::util {
namespace {

void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

void append_capped(std::string& dst, const char* data, size_t n, size_t cap) {
  if (dst.size() >= cap) return;
  dst.append(data, std::min(n, cap - dst.size()));
}

// The file execvp would run for `name`: a name with a slash is used as is, otherwise the
// first executable match along `path`; an unresolved name is returned unchanged so that
// execve reports ENOENT for it.
std::string resolve_program(const std::string& name, const std::string& path) {
  if (name.empty() || name.find('/') != std::string::npos) return name;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return name;
}

}  // namespace

std::string ProcessResult::describe() const {
  if (spawn_failed) return "could not start: " + err;
  if (interrupted) return "interrupted";
  if (timed_out) return "timed out";
  if (signal) return "killed by signal " + std::to_string(signal);
  return "exit " + std::to_string(exit_code);
}

ProcessResult run_process(const ProcessSpec& spec) {
  ProcessResult res;
  if (spec.argv.empty()) throw Error("run_process: empty argv");
  int out_pipe[2], err_pipe[2], in_pipe[2], exec_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) || pipe2(err_pipe, O_CLOEXEC) || pipe2(in_pipe, O_CLOEXEC) ||
      pipe2(exec_pipe, O_CLOEXEC))
    throw Error(std::string("cannot create pipe: ") + std::strerror(errno));

  // Build the environment before fork: only async-signal-safe calls in the child.
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (eq) env[std::string(*e, static_cast<size_t>(eq - *e))] = eq + 1;
  }
  for (const auto& k : spec.env_remove) env.erase(k);
  for (const auto& [k, v] : spec.env) env[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, argv;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = spec.argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // Resolve the program against the child's PATH here: between fork and exec only
  // async-signal-safe calls are allowed (another thread may hold the malloc lock), so the
  // child does a plain execve.
  std::string path_env = env.count("PATH") ? env["PATH"] : "/usr/local/bin:/usr/bin:/bin";
  std::string program = resolve_program(spec.argv.empty() ? "" : spec.argv[0], path_env);

  pid_t pid = fork();
  if (pid < 0) throw Error(std::string("cannot fork: ") + std::strerror(errno));
  if (pid == 0) {
    setpgid(0, 0);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    if (!spec.cwd.empty() && chdir(spec.cwd.c_str()) != 0) {
      int e = errno;
      (void)!write(exec_pipe[1], &e, sizeof e);
      _exit(127);
    }
    execve(program.c_str(), argv.data(), envp.data());
    int e = errno;
    (void)!write(exec_pipe[1], &e, sizeof e);
    _exit(127);
  }
  setpgid(pid, pid);
  close(out_pipe[1]);
  close(err_pipe[1]);
  close(in_pipe[0]);
  close(exec_pipe[1]);

  int exec_errno = 0;
  if (read(exec_pipe[0], &exec_errno, sizeof exec_errno) == sizeof exec_errno) {
    close(exec_pipe[0]);
    close(out_pipe[0]);
    close(err_pipe[0]);
    close(in_pipe[1]);
    waitpid(pid, nullptr, 0);
    res.spawn_failed = true;
    res.exit_code = 127;
    res.err = spec.argv[0] + ": " + std::strerror(exec_errno);
    return res;
  }
  close(exec_pipe[0]);

  int in_fd = in_pipe[1];
  set_nonblock(out_pipe[0]);
  set_nonblock(err_pipe[0]);
  set_nonblock(in_fd);
  bool have_stdin = !spec.stdin_data.empty() || static_cast<bool>(spec.stdin_reader);
  if (!have_stdin) {
    close(in_fd);
    in_fd = -1;
  }
  size_t stdin_off = 0;
  std::string in_buf;
  size_t in_buf_off = 0;
  bool reader_eof = false;

  int out_fd = out_pipe[0], err_fd = err_pipe[0];
  bool exited = false;
  int status = 0;
  int kill_stage = 0;  // 0 none, 1 SIGTERM sent, 2 SIGKILL sent
  auto kill_at = std::chrono::steady_clock::time_point::max();
  auto drain_until = std::chrono::steady_clock::time_point::max();
  std::vector<char> buf(1 << 16);

  while (out_fd >= 0 || err_fd >= 0 || !exited) {
    if (!exited) {
      pid_t w = waitpid(pid, &status, WNOHANG);
      if (w == pid) {
        exited = true;
        // Grandchildren may keep the pipes open: read what is there, briefly.
        drain_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
        if (in_fd >= 0) {
          close(in_fd);
          in_fd = -1;
        }
      }
    }
    if (exited && std::chrono::steady_clock::now() > drain_until) break;
    if (!exited && kill_stage == 0) {
      bool intr = spec.honour_interrupt && interrupted();
      if (intr || spec.deadline.expired()) {
        (intr ? res.interrupted : res.timed_out) = true;
        kill(-pid, SIGTERM);
        kill_stage = 1;
        kill_at = std::chrono::steady_clock::now() + std::chrono::seconds(3);
      }
    } else if (!exited && kill_stage == 1 && std::chrono::steady_clock::now() >= kill_at) {
      kill(-pid, SIGKILL);
      kill_stage = 2;
    }

    pollfd fds[3];
    int n = 0;
    if (out_fd >= 0) fds[n++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0) fds[n++] = {err_fd, POLLIN, 0};
    if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
    if (n == 0) {
      if (!exited) {
        usleep(10000);
        continue;
      }
      break;
    }
    int pr = poll(fds, n, 50);
    if (pr < 0 && errno != EINTR) break;
    for (int i = 0; i < n && pr > 0; ++i) {
      if (!fds[i].revents) continue;
      int fd = fds[i].fd;
      if (fd == in_fd) {
        if (fds[i].revents & (POLLERR | POLLHUP)) {
          close(in_fd);
          in_fd = -1;
          continue;
        }
        const char* p;
        size_t left;
        if (spec.stdin_reader) {
          if (in_buf_off >= in_buf.size() && !reader_eof) {
            in_buf.resize(1 << 20);
            size_t got = spec.stdin_reader(in_buf.data(), in_buf.size());
            in_buf.resize(got);
            in_buf_off = 0;
            if (got == 0) reader_eof = true;
          }
          p = in_buf.data() + in_buf_off;
          left = in_buf.size() - in_buf_off;
        } else {
          p = spec.stdin_data.data() + stdin_off;
          left = spec.stdin_data.size() - stdin_off;
        }
        if (left == 0) {
          close(in_fd);
          in_fd = -1;
          continue;
        }
        ssize_t w = write(in_fd, p, left);
        if (w > 0) (spec.stdin_reader ? in_buf_off : stdin_off) += static_cast<size_t>(w);
        else if (w < 0 && errno != EAGAIN && errno != EINTR) {
          close(in_fd);
          in_fd = -1;
        }
        continue;
      }
      ssize_t r = read(fd, buf.data(), buf.size());
      if (r > 0) {
        if (fd == out_fd) {
          if (spec.on_stdout) spec.on_stdout(buf.data(), static_cast<size_t>(r));
          else append_capped(res.out, buf.data(), static_cast<size_t>(r), spec.capture_limit);
        } else {
          if (spec.on_stderr) spec.on_stderr(buf.data(), static_cast<size_t>(r));
          append_capped(res.err, buf.data(), static_cast<size_t>(r), spec.capture_limit);
        }
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        close(fd);
        (fd == out_fd ? out_fd : err_fd) = -1;
      }
    }
  }
  if (out_fd >= 0) close(out_fd);
  if (err_fd >= 0) close(err_fd);
  if (in_fd >= 0) close(in_fd);
  if (!exited) waitpid(pid, &status, 0);
  if (WIFEXITED(status)) res.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) res.signal = WTERMSIG(status);
  // Make sure nothing of the group outlives a killed run.
  if (kill_stage > 0) kill(-pid, SIGKILL);
  return res;
}

}  // namespace cutover::util
