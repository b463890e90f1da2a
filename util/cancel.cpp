#include "util/cancel.h"

#include <csignal>

namespace cutover::util {
namespace {
std::atomic<int> g_signal{0};
std::atomic<bool> g_deferred{false};

extern "C" void on_signal(int sig) { g_signal.store(sig); }
}  // namespace

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: blocking calls return EINTR and see the flag
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

bool interrupted() { return !g_deferred.load() && g_signal.load() != 0; }
void defer_interrupts(bool on) { g_deferred.store(on); }
int interrupt_signal() { return g_signal.load(); }
void clear_interrupt() { g_signal.store(0); }

Deadline Deadline::after(std::chrono::milliseconds d) {
  Deadline dl;
  dl.at = std::chrono::steady_clock::now() + d;
  return dl;
}

long long Deadline::remaining_ms(long long cap) const {
  if (at == std::chrono::steady_clock::time_point::max()) return cap;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  at - std::chrono::steady_clock::now())
                  .count();
  if (left < 0) return 0;
  return left < cap ? left : cap;
}

}  // namespace cutover::util
