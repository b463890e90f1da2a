#include "steps/pg_libpq.h"

#include "util/library.h"

namespace cutover::steps::pg {

// Loaded once; a failure is not cached (a later call tries again, after an install).
const Libpq& libpq() {
  static const Libpq kLib = [] {
    util::SharedLibrary so(CUTOVER_LIBPQ_SONAME, "libpq",
                           "install the PostgreSQL client library: apt-get install libpq5");
    Libpq lib;
    so.bind(lib.connectdb, "PQconnectdb");
    so.bind(lib.status, "PQstatus");
    so.bind(lib.error_message, "PQerrorMessage");
    so.bind(lib.finish, "PQfinish");
    so.bind(lib.set_notice_processor, "PQsetNoticeProcessor");
    so.bind(lib.server_version, "PQserverVersion");
    so.bind(lib.exec, "PQexec");
    so.bind(lib.result_status, "PQresultStatus");
    so.bind(lib.result_error_message, "PQresultErrorMessage");
    so.bind(lib.result_error_field, "PQresultErrorField");
    so.bind(lib.clear, "PQclear");
    so.bind(lib.ntuples, "PQntuples");
    so.bind(lib.nfields, "PQnfields");
    so.bind(lib.fname, "PQfname");
    so.bind(lib.getvalue, "PQgetvalue");
    so.bind(lib.getlength, "PQgetlength");
    so.bind(lib.getisnull, "PQgetisnull");
    so.bind(lib.cmd_tuples, "PQcmdTuples");
    so.bind(lib.escape_literal, "PQescapeLiteral");
    so.bind(lib.escape_identifier, "PQescapeIdentifier");
    so.bind(lib.freemem, "PQfreemem");
    so.bind(lib.get_cancel, "PQgetCancel");
    so.bind(lib.cancel, "PQcancel");
    so.bind(lib.free_cancel, "PQfreeCancel");
    so.bind(lib.setnonblocking, "PQsetnonblocking");
    so.bind(lib.flush, "PQflush");
    so.bind(lib.socket, "PQsocket");
    so.bind(lib.consume_input, "PQconsumeInput");
    so.bind(lib.put_copy_data, "PQputCopyData");
    so.bind(lib.put_copy_end, "PQputCopyEnd");
    so.bind(lib.get_result, "PQgetResult");
    return lib;
  }();
  return kLib;
}

}  // namespace cutover::steps::pg
