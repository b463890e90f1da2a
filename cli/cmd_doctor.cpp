// doctor: the environment a plan needs, as a table (executor/doctor.h does the checking).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <optional>

#include "cli/load.h"
#include "cli/options.h"
#include "executor/doctor.h"
#include "util/redact.h"

namespace cutover::cli {

using nlohmann::json;

namespace {

// Pads to `width` display columns (counting UTF-8 code points, not bytes).
std::string pad(const std::string& s, size_t width) {
  size_t cols = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++cols;
  return cols >= width ? s : s + std::string(width - cols, ' ');
}

}  // namespace

int cmd_doctor(const Options& o) {
  std::optional<LoadedPlan> loaded;
  if (!o.plan.empty()) loaded = load_for_command(o);
  executor::DoctorInput in;
  in.plan = loaded ? &loaded->plan : nullptr;
  in.state = o.state;
  auto rows = executor::run_doctor(in);
  size_t failures = std::count_if(rows.begin(), rows.end(), [](const auto& r) { return r.status == "fail"; });
  size_t warnings = std::count_if(rows.begin(), rows.end(), [](const auto& r) { return r.status == "warn"; });

  if (o.output == "json") {
    json out = json::array();
    for (const auto& r : rows)
      out.push_back({{"check", r.check}, {"status", r.status}, {"detail", r.detail}, {"hint", r.hint}});
    std::fputs((util::redact_json(out).dump(2) + "\n").c_str(), stdout);
    return failures ? static_cast<int>(ExitCode::usage) : 0;
  }

  auto ropts = reporter_options(o);
  auto paint = [&](const std::string& status) {
    std::string text = pad(status, 6);
    if (!ropts.color) return text;
    const char* code = status == "ok" ? "32" : status == "warn" ? "33" : "31";
    return std::string("\033[") + code + "m" + text + "\033[0m";
  };
  size_t w = 5;
  for (const auto& r : rows) w = std::max(w, std::min<size_t>(r.check.size(), 48));
  std::string text = pad("CHECK", w) + "  STATUS  DETAIL\n";
  for (const auto& r : rows) {
    text += pad(r.check, w) + "  " + paint(r.status) + "  " + r.detail + "\n";
    if (!r.hint.empty()) text += pad("", w) + "          hint: " + r.hint + "\n";
  }
  text += "\n" + std::to_string(rows.size()) + " checks: " + std::to_string(failures) + " failed, " +
          std::to_string(warnings) + " warnings\n";
  std::fputs(util::redact(text).c_str(), stdout);
  return failures ? static_cast<int>(ExitCode::usage) : 0;
}

}  // namespace cutover::cli
