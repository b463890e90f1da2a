// check.tcp, wait and confirm: steps that act on this machine only (a socket, the clock, the
// operator's terminal). All three poll the interrupt flag so Ctrl-C is never stuck behind them.
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "steps/check_steps.h"
#include "steps/file_state.h"
#include "util/error.h"
#include "util/strings.h"
#include "util/units.h"

namespace cutover::steps {
namespace {

constexpr int kPollSliceMs = 100;

std::chrono::milliseconds duration_param(const json& with, const std::string& type,
                                         const std::string& key, bool required,
                                         std::chrono::milliseconds def) {
  auto it = with.find(key);
  if (it == with.end() || it->is_null()) {
    if (required) throw Error(type + ": with." + key + " is required");
    return def;
  }
  std::optional<std::chrono::milliseconds> d;
  if (it->is_string())
    d = util::parse_duration(it->get<std::string>());
  else if (it->is_number() && it->get<double>() >= 0)
    d = std::chrono::milliseconds(static_cast<long long>(it->get<double>() * 1000));
  if (!d) throw Error(type + ": with." + key + " must be a duration such as 500ms, 30s or 5m");
  return *d;
}

void check_interrupt(const util::Deadline& deadline, const std::string& what) {
  if (util::interrupted()) throw Interrupted(what + ": interrupted");
  if (deadline.expired()) throw Interrupted(what + ": timed out (the step's timeout)");
}

// ---------------------------------------------------------------------------------------

class CheckTcp final : public Step {
 public:
  explicit CheckTcp(const StepConfig& c) {
    host_ = string_param(c.params, "check.tcp", "host", true);
    const json& port = c.params.value("port", json());
    if (port.is_number_integer())
      port_ = port.get<long>();
    else if (port.is_string() && !port.get<std::string>().empty() &&
             port.get<std::string>().find_first_not_of("0123456789") == std::string::npos)
      port_ = std::stol(port.get<std::string>());
    if (port_ < 1 || port_ > 65535)
      throw Error("check.tcp: with.port must be a port number (1-65535)");
    std::string expect = string_param(c.params, "check.tcp", "expect", false, "open");
    if (expect != "open" && expect != "closed")
      throw Error("check.tcp: with.expect must be open or closed, not '" + expect + "'");
    expect_open_ = expect == "open";
    timeout_ = duration_param(c.params, "check.tcp", "timeout", false, std::chrono::seconds(5));
  }

  Preview plan(Context& ctx) override {
    Preview p;
    p.summary = run(ctx);
    return p;
  }
  json apply(Context& ctx, const json&) override {
    std::string s = run(ctx);
    if (ctx.log) ctx.log(s);
    return json::object();
  }

 private:
  std::string run(Context& ctx) {
    std::string target = host_ + ":" + std::to_string(port_);
    std::string why;
    bool open = probe(ctx, why);
    if (open != expect_open_) {
      if (expect_open_)
        throw Error("check.tcp: " + target + " is not accepting connections (" + why + ")",
                    "is the service running and listening on that address?");
      throw Error("check.tcp: " + target + " is open but must be closed",
                  "something is already listening there (Address already in use ahead?)");
    }
    return "ok: " + target + (open ? " is open" : " is closed");
  }

  // True when a connection to any of the host's addresses succeeds within the timeout.
  bool probe(Context& ctx, std::string& why) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    std::string port = std::to_string(port_);
    int rc = ::getaddrinfo(host_.c_str(), port.c_str(), &hints, &res);
    if (rc != 0) {
      if (!expect_open_) {
        why = gai_strerror(rc);
        return false;
      }
      throw Error("check.tcp: cannot resolve " + host_ + ": " + gai_strerror(rc));
    }
    auto end = std::chrono::steady_clock::now() + timeout_;
    bool open = false;
    for (addrinfo* ai = res; ai && !open; ai = ai->ai_next) {
      int fd =
          ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
      if (fd < 0) {
        why = std::strerror(errno);
        continue;
      }
      if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        open = true;
      } else if (errno != EINPROGRESS) {
        why = std::strerror(errno);
      } else {
        for (;;) {
          check_interrupt(ctx.deadline, "check.tcp");
          auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          end - std::chrono::steady_clock::now())
                          .count();
          if (left <= 0) {
            why = "no answer within " + util::format_duration(timeout_);
            break;
          }
          pollfd pfd{fd, POLLOUT, 0};
          int n = ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left, kPollSliceMs)));
          if (n < 0 && errno != EINTR) {
            why = std::strerror(errno);
            break;
          }
          if (n > 0) {
            int err = 0;
            socklen_t len = sizeof err;
            ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err == 0)
              open = true;
            else
              why = std::strerror(err);
            break;
          }
        }
      }
      ::close(fd);
    }
    ::freeaddrinfo(res);
    return open;
  }

  std::string host_;
  long port_ = 0;
  bool expect_open_ = true;
  std::chrono::milliseconds timeout_;
};

// ---------------------------------------------------------------------------------------

class Wait final : public Step {
 public:
  explicit Wait(const StepConfig& c)
      : duration_(duration_param(c.params, "wait", "duration", true, {})) {}

  Preview plan(Context& ctx) override {
    Preview p;
    p.summary = "wait " + util::format_duration(duration_);
    return p;
  }
  json apply(Context& ctx, const json&) override {
    auto end = std::chrono::steady_clock::now() + duration_;
    while (std::chrono::steady_clock::now() < end) {
      check_interrupt(ctx.deadline, "wait");
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(kPollSliceMs)));
    }
    return json::object();
  }

 private:
  std::chrono::milliseconds duration_;
};

// ---------------------------------------------------------------------------------------

class Confirm final : public Step {
 public:
  explicit Confirm(const StepConfig& c)
      : message_(string_param(c.params, "confirm", "message", true)) {}

  Preview plan(Context& ctx) override {
    Preview p;
    p.summary = "ask: " + message_ + (ctx.run.auto_approve ? " (approved by --auto-approve)" : "");
    return p;
  }

  json apply(Context& ctx, const json&) override {
    if (ctx.run.auto_approve) {
      if (ctx.log) ctx.log("confirm: \"" + message_ + "\" approved by --auto-approve");
      return json::object();
    }
    if (!ctx.run.interactive)
      throw Error("confirm step needs --auto-approve when not on a terminal",
                  "run on a terminal to answer, or pass --auto-approve");
    std::string answer = util::trim(ask(ctx));
    for (auto& ch : answer) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (answer != "y" && answer != "yes")
      throw Error("confirm: not confirmed (\"" + message_ + "\")");
    return json::object();
  }

 private:
  std::string ask(Context& ctx) {
    int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd < 0)
      throw Error(std::string("confirm: cannot open /dev/tty: ") + std::strerror(errno),
                  "pass --auto-approve to run without a terminal");
    std::string prompt = message_ + " [y/N] ";
    (void)!::write(fd, prompt.data(), prompt.size());
    std::string line;
    try {
      for (;;) {
        check_interrupt(ctx.deadline, "confirm");
        pollfd pfd{fd, POLLIN, 0};
        int n = ::poll(&pfd, 1, kPollSliceMs);
        if (n < 0 && errno != EINTR) throw Error(std::string("confirm: ") + std::strerror(errno));
        if (n <= 0) continue;
        char c;
        ssize_t r = ::read(fd, &c, 1);
        if (r <= 0 || c == '\n') break;
        line += c;
      }
    } catch (...) {
      ::close(fd);
      throw;
    }
    ::close(fd);
    return line;
  }

  std::string message_;
};

}  // namespace

std::unique_ptr<Step> make_check_tcp(const StepConfig& c) { return std::make_unique<CheckTcp>(c); }
std::unique_ptr<Step> make_wait(const StepConfig& c) { return std::make_unique<Wait>(c); }
std::unique_ptr<Step> make_confirm(const StepConfig& c) { return std::make_unique<Confirm>(c); }

const char* tcp_schema() {
  return R"json({
  "type": "object", "additionalProperties": false, "required": ["host", "port"],
  "properties": {
    "host": {"type": "string", "description": "Host name or address to connect to, from this machine."},
    "port": {"type": ["integer", "string"], "description": "TCP port (1-65535)."},
    "expect": {"type": "string", "enum": ["open", "closed"], "default": "open", "description": "open: a connection must succeed; closed: it must be refused (e.g. the port is free before a service moves there)."},
    "timeout": {"type": ["string", "number"], "default": "5s", "description": "How long to wait for the connection, as a duration (500ms, 5s)."}
  }
})json";
}

const char* wait_schema() {
  return R"json({
  "type": "object", "additionalProperties": false, "required": ["duration"],
  "properties": {
    "duration": {"type": ["string", "number"], "description": "How long to pause, as a duration (500ms, 30s, 5m). Ctrl-C interrupts it."}
  }
})json";
}

const char* confirm_schema() {
  return R"json({
  "type": "object", "additionalProperties": false, "required": ["message"],
  "properties": {
    "message": {"type": "string", "description": "The question asked on the terminal, answered with y or n. Without a terminal the run needs --auto-approve."}
  }
})json";
}

}  // namespace cutover::steps
