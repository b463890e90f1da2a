// What the operator sees (SPEC §7), kept apart from the log (STYLE 14). The runner feeds it
// every journal record as it is written, plus progress and free-form notes; the reporter
// renders them for a terminal (colours, a live progress bar), for a pipe (plain lines,
// progress every few seconds) or as NDJSON events on stdout (human text then goes to stderr).
#pragma once

#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "steps/step.h"

namespace cutover::executor {

enum class OutputMode { human, json };

struct ReporterOptions {
  OutputMode mode = OutputMode::human;
  bool color = false;      // colours and a live bar (a terminal, and not --no-color)
  bool terminal = false;   // the human stream is a terminal
  int verbosity = 0;       // -q: -1, -v: 1
};

class Reporter : public steps::Progress {
 public:
  explicit Reporter(ReporterOptions opts);
  ~Reporter() override;

  /// Renders one journal record (already redacted).
  void event(const nlohmann::json& record);
  /// A line of human text (redacted here).
  void note(const std::string& text);
  /// A warning line.
  void warn(const std::string& text);
  /// Progress of the current step.
  void update(uint64_t done, uint64_t total, const std::string& what) override;
  /// Prints a line of the dry run (human: as is; json: as a "plan" event).
  void plan_line(const nlohmann::json& item, const std::string& human);

  const ReporterOptions& options() const { return opts_; }

 private:
  void human(const std::string& text);
  void clear_bar();
  std::string paint(const std::string& text, const char* code) const;

  ReporterOptions opts_;
  FILE* out_;   // human text
  std::chrono::steady_clock::time_point progress_start_, last_progress_;
  std::string current_step_;
  int total_steps_ = 0;
  bool bar_shown_ = false;
};

}  // namespace cutover::executor
