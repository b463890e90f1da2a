// Loads and validates a plan file (SPEC §3). yaml-cpp stays inside yaml_reader.cpp and
// valijson inside validate.cpp. Every problem is collected and reported at once.
#pragma once

#include <string>

#include "executor/plan.h"

namespace cutover::executor {

/// Reads, parses, schema-checks and semantically checks the plan at `path`, applying the
/// profile, --var and --vars-file of `opts`. Throws PlanInvalid with every diagnostic found.
Plan load_plan(const std::string& path, const LoadOptions& opts = {});

/// Same, from text already in memory (`path` names it in diagnostics).
Plan load_plan_text(const std::string& path, const std::string& text, const LoadOptions& opts = {});

/// The plan JSON Schema (schemas/plan.schema.json) with every step type's `with` schema
/// merged in, as printed by `cutover schema`.
std::string plan_schema();

/// Formats diagnostics for a terminal: each one-line form, then the source line and a caret.
std::string format_diagnostics(const std::vector<Diagnostic>& diags, const std::string& source);

}  // namespace cutover::executor
