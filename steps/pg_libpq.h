// libpq, opened with dlopen on the first connection rather than linked: libpq brings about 25
// shared libraries (Kerberos, LDAP, GnuTLS) whose loading cost every start of cutover, pg
// step or not, about 20-30 ms (SPEC §9: `plan` of 1,000 steps in 100 ms). Compiled against
// libpq-fe.h; only pg_conn.cpp and pg_data_loader.cpp call it.
#pragma once

#include <libpq-fe.h>

namespace cutover::steps::pg {

/// The libpq functions cutover calls, resolved from CUTOVER_LIBPQ_SONAME.
struct Libpq {
  decltype(&::PQconnectdb) connectdb;
  decltype(&::PQstatus) status;
  decltype(&::PQerrorMessage) error_message;
  decltype(&::PQfinish) finish;
  decltype(&::PQsetNoticeProcessor) set_notice_processor;
  decltype(&::PQserverVersion) server_version;
  decltype(&::PQexec) exec;
  decltype(&::PQresultStatus) result_status;
  decltype(&::PQresultErrorMessage) result_error_message;
  decltype(&::PQresultErrorField) result_error_field;
  decltype(&::PQclear) clear;
  decltype(&::PQntuples) ntuples;
  decltype(&::PQnfields) nfields;
  decltype(&::PQfname) fname;
  decltype(&::PQgetvalue) getvalue;
  decltype(&::PQgetlength) getlength;
  decltype(&::PQgetisnull) getisnull;
  decltype(&::PQcmdTuples) cmd_tuples;
  decltype(&::PQescapeLiteral) escape_literal;
  decltype(&::PQescapeIdentifier) escape_identifier;
  decltype(&::PQfreemem) freemem;
  decltype(&::PQgetCancel) get_cancel;
  decltype(&::PQcancel) cancel;
  decltype(&::PQfreeCancel) free_cancel;
  decltype(&::PQsetnonblocking) setnonblocking;
  decltype(&::PQflush) flush;
  decltype(&::PQsocket) socket;
  decltype(&::PQconsumeInput) consume_input;
  decltype(&::PQputCopyData) put_copy_data;
  decltype(&::PQputCopyEnd) put_copy_end;
  decltype(&::PQgetResult) get_result;
};

/// The loaded library; throws Error (with an install hint) when it cannot be opened.
const Libpq& libpq();

}  // namespace cutover::steps::pg
