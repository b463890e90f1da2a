// Run reports (SPEC §7): report.json in the run folder (schema: schemas/report.schema.json),
// and the --report/--junit/--html copies the operator asked for.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "executor/run_summary.h"
#include "executor/runner.h"

namespace cutover::executor {

/// The report of a run as JSON (redacted).
nlohmann::json build_report(const RunSummary& summary);

/// Appends the steps of the resolved plan (runs/<id>/plan.json) that the report does not
/// hold, with status "skipped" (an apply that stopped before them). Other kinds: unchanged.
void add_unreached_steps(nlohmann::json& report, const nlohmann::json& plan);

/// Writes report.json into `run_dir`, and --report/--junit/--html where asked.
void write_reports(const RunSummary& summary, const std::string& run_dir, const RunOptions& opts);

/// JUnit XML: one test case per step (executor/report_junit.cpp). Steps with status "skipped"
/// or "pending" are <skipped/>; failed ones (failed, undo_failed, interrupted) <failure>..
std::string junit_report(const nlohmann::json& report);

/// One self-contained HTML page with a timeline of the run (executor/report_html.cpp).
std::string html_report(const nlohmann::json& report);

}  // namespace cutover::executor
