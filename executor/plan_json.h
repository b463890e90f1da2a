// The resolved plan as JSON: runs/<id>/plan.json, `plan --out FILE`, and what resume and
// rollback rebuild a run from. Values stay uninterpolated, so secrets appear only as
// ${secrets.NAME} references.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "executor/plan.h"

namespace cutover::executor {

/// The plan as JSON (profile, --var and vars files already merged).
nlohmann::json plan_to_json(const Plan& plan);

/// Rebuilds a plan from plan_to_json's output; throws Error if it is not one.
Plan plan_from_json(const nlohmann::json& j);

/// sha256 of the resolved plan and of every file it reads (templates, SQL, vars, sources).
/// `read` reads an input file (the work tree, or git at --rev); an unreadable input is hashed
/// as its error text, so a missing file changes the digest.
std::string plan_digest(const Plan& plan,
                        const std::function<std::string(const std::string&)>& read = {});

}  // namespace cutover::executor
