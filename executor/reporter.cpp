#include "executor/reporter.h"

#include <cmath>

#include "util/redact.h"
#include "util/units.h"

namespace cutover::executor {

using nlohmann::json;

namespace {
const char* kGreen = "32";
const char* kRed = "31";
const char* kYellow = "33";
const char* kDim = "2";
const char* kBold = "1";

std::string seconds_text(double s) {
  return util::format_duration(std::chrono::milliseconds(static_cast<long long>(std::llround(s * 1000))));
}

std::string indent(const std::string& text, const std::string& pad) {
  std::string out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    if (!(nl == std::string::npos && line.empty())) out += pad + line + "\n";
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return out;
}
}  // namespace

Reporter::Reporter(ReporterOptions opts)
    : opts_(opts), out_(opts.mode == OutputMode::json ? stderr : stdout) {}

Reporter::~Reporter() { clear_bar(); }

std::string Reporter::paint(const std::string& text, const char* code) const {
  if (!opts_.color) return text;
  return std::string("\033[") + code + "m" + text + "\033[0m";
}

void Reporter::clear_bar() {
  if (bar_shown_) {
    std::fputs("\r\033[K", out_);
    bar_shown_ = false;
  }
}

void Reporter::human(const std::string& text) {
  clear_bar();
  std::fputs(util::redact(text).c_str(), out_);
  std::fflush(out_);
}

void Reporter::note(const std::string& text) {
  if (opts_.verbosity < 0) return;
  human(text + "\n");
}

void Reporter::warn(const std::string& text) { human(paint("warning: ", kYellow) + text + "\n"); }

void Reporter::plan_line(const json& item, const std::string& text) {
  if (opts_.mode == OutputMode::json) {
    std::fputs((util::redact_json(item).dump() + "\n").c_str(), stdout);
    std::fflush(stdout);
  }
  human(text);
}

void Reporter::event(const json& rec) {
  if (opts_.mode == OutputMode::json) {
    std::fputs((util::redact_json(rec).dump() + "\n").c_str(), stdout);
    std::fflush(stdout);
  }
  const std::string ev = rec.value("event", "");
  const std::string id = rec.value("step", "");
  const std::string type = rec.value("type", "");
  std::string label = id + (type.empty() ? "" : " " + paint("(" + type + ")", kDim));
  if (ev == "run.start") {
    total_steps_ = rec.value("steps", 0);
    std::string kind = rec.value("kind", "apply");
    std::string what = kind == "rollback" ? "to r" + std::to_string(rec.value("to", 0))
                                          : std::to_string(total_steps_) + " steps";
    if (opts_.verbosity >= 0)
      human(paint("cutover " + kind, kBold) + " " + rec.value("plan", "") + "  run " +
            rec.value("run_id", "") + "  (" + what + ")\n");
  } else if (ev == "run.resume") {
    human("resuming run " + rec.value("run_id", "") + "\n");
  } else if (ev == "step.apply") {
    current_step_ = id;
    progress_start_ = last_progress_ = std::chrono::steady_clock::now();
    if (!rec.value("adopted", false) && opts_.verbosity >= 0 && (opts_.verbosity > 0 || !opts_.terminal))
      human(paint("  … ", kDim) + "[" + std::to_string(rec.value("index", 0) + 1) + "/" +
            std::to_string(total_steps_) + "] " + label + "\n");
  } else if (ev == "step.done") {
    if (opts_.verbosity >= 0)
      human(paint("  ✓ ", kGreen) + label + "  " + paint(seconds_text(rec.value("seconds", 0.0)), kDim) +
            (rec.contains("summary") ? "  " + rec.value("summary", "") : "") + "\n");
  } else if (ev == "step.fail") {
    std::string text = paint("  ✗ ", kRed) + label + "  " + paint(seconds_text(rec.value("seconds", 0.0)), kDim) + "\n";
    text += indent(rec.value("error", ""), "      " + paint("error: ", kRed));
    if (!rec.value("hint", "").empty()) text += indent(rec.value("hint", ""), "      hint: ");
    human(text);
  } else if (ev == "rollback.start") {
    human(paint("rolling back", kYellow) + " " + std::to_string(rec.value("steps", 0)) +
          " step(s), newest first\n");
  } else if (ev == "step.undo") {
    current_step_ = id;
    progress_start_ = last_progress_ = std::chrono::steady_clock::now();
  } else if (ev == "step.undone") {
    human(paint("  ↩ ", kYellow) + "undone " + label + "  " + paint(seconds_text(rec.value("seconds", 0.0)), kDim) +
          (rec.value("verified", false) ? "  verified" : "") + "\n");
  } else if (ev == "step.undo_fail") {
    human(paint("  ✗ ", kRed) + "undo failed " + label + "\n" +
          indent(rec.value("error", ""), "      " + paint("error: ", kRed)));
  } else if (ev == "step.skip") {
    human(paint("  - ", kDim) + id + ": " + rec.value("reason", "") + "\n");
  } else if (ev == "rehearsal.verified") {
    human(paint("rehearsal verified:", kGreen) + " every step was undone and its fingerprint matched; applying again\n");
  } else if (ev == "run.end") {
    std::string status = rec.value("status", "");
    const char* colour = status == "succeeded" ? kGreen : status == "rolled_back" ? kYellow : kRed;
    human(paint(status, colour) + " in " + seconds_text(rec.value("seconds", 0.0)) +
          (rec.contains("revision") ? "  release r" + std::to_string(rec.value("revision", 0)) : "") + "\n");
  }
}

void Reporter::update(uint64_t done, uint64_t total, const std::string& what) {
  auto now = std::chrono::steady_clock::now();
  double elapsed = std::chrono::duration<double>(now - progress_start_).count();
  double rate = elapsed > 0 ? done / elapsed : 0;
  if (opts_.mode == OutputMode::json) {
    if (now - last_progress_ < std::chrono::milliseconds(500) && done != total) return;
    last_progress_ = now;
    json ev = {{"event", "progress"}, {"step", current_step_}, {"bytes", done}, {"rate", std::llround(rate)}};
    if (total) ev["total"] = total;
    if (!what.empty()) ev["what"] = what;
    std::fputs((ev.dump() + "\n").c_str(), stdout);
    std::fflush(stdout);
    return;
  }
  std::string text = current_step_ + ": " + (what.empty() ? "" : what + " ") + util::format_bytes(done);
  if (total) {
    int pct = static_cast<int>(total ? (100.0 * done / total) : 0);
    if (pct > 100) pct = 100;
    if (opts_.color) {
      int filled = pct / 5;
      text = "[" + std::string(static_cast<size_t>(filled), '#') + std::string(static_cast<size_t>(20 - filled), '.') + "] " + text;
    }
    text += " / " + util::format_bytes(total) + " (" + std::to_string(pct) + "%)";
    if (rate > 0 && done < total) {
      long long eta = std::llround((total - done) / rate);
      text += ", ETA " + util::format_duration(std::chrono::seconds(eta));
    }
  }
  text += ", " + util::format_bytes(static_cast<uint64_t>(rate)) + "/s";
  if (opts_.terminal && opts_.color) {
    if (now - last_progress_ < std::chrono::milliseconds(100)) return;
    last_progress_ = now;
    std::fputs(("\r\033[K    " + util::redact(text)).c_str(), out_);
    std::fflush(out_);
    bar_shown_ = true;
  } else {
    if (now - last_progress_ < std::chrono::seconds(3)) return;
    last_progress_ = now;
    human("    " + text + "\n");
  }
}

}  // namespace cutover::executor
