// The PostgreSQL step family: check.pg, pg.query (steps/pg_checks.cpp), pg.sql
// (steps/pg_sql.cpp), pg.dump (steps/pg_dump.cpp), pg.restore (steps/pg_restore.cpp,
// steps/pg_merge.cpp). Shared machinery: steps/pg_conn.h, steps/pg_tools.h.
#include "steps/families.h"
#include "steps/pg_tools.h"

namespace cutover::steps {

std::vector<StepType> pg_step_types() {
  std::vector<StepType> out;
  out.push_back(pg::check_pg_type());
  out.push_back(pg::pg_query_type());
  out.push_back(pg::pg_sql_type());
  out.push_back(pg::pg_dump_type());
  out.push_back(pg::pg_restore_type());
  return out;
}

}  // namespace cutover::steps
