// pg.restore mode: merge (SPEC §5): loads every table of a custom dump into temporary staging
// tables and upserts each into the target on its primary key (or on `keys` given for tables
// without one), in one transaction. Re-running the same merge changes nothing; rows are
// never deleted; sequences only move forward.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "steps/pg_tools.h"

namespace cutover::steps::pg {

/// What a merge did.
struct MergeResult {
  long long tables = 0;  // tables of the dump merged
  long long rows = 0;    // rows inserted or changed (unchanged rows are not rewritten)
};

/// Merges artifact `id` (a custom-format pg.dump) into the existing database `target`.
/// Refuses, before changing anything, tables of the dump missing from the target and tables
/// with neither a primary key nor an entry in `keys` ({"schema.table": [cols]}), naming them.
/// Throws Error on any failure; the target is then unchanged (one transaction).
MergeResult merge_artifact(Context& ctx, const Dsn& target, const std::string& id,
                           const nlohmann::json& keys);

}  // namespace cutover::steps::pg
