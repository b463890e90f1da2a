#include "steps/pg_libpq.h"

#include <dlfcn.h>

#include <string>
#include <type_traits>

#include "util/error.h"

namespace cutover::steps::pg {

// Loaded once; a failure is not cached (a later call tries again, after an install).
const Libpq& libpq() {
  static const Libpq kLib = [] {
    void* handle = ::dlopen(CUTOVER_LIBPQ_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!handle)
      throw Error(std::string("cannot load libpq: ") + ::dlerror(),
                  "install the PostgreSQL client library: apt-get install libpq5");
    Libpq lib;
    auto resolve = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(handle, name));
      if (!fn) throw Error(std::string("cannot load libpq: " CUTOVER_LIBPQ_SONAME " has no ") + name);
    };
    resolve(lib.connectdb, "PQconnectdb");
    resolve(lib.status, "PQstatus");
    resolve(lib.error_message, "PQerrorMessage");
    resolve(lib.finish, "PQfinish");
    resolve(lib.set_notice_processor, "PQsetNoticeProcessor");
    resolve(lib.server_version, "PQserverVersion");
    resolve(lib.exec, "PQexec");
    resolve(lib.result_status, "PQresultStatus");
    resolve(lib.result_error_message, "PQresultErrorMessage");
    resolve(lib.result_error_field, "PQresultErrorField");
    resolve(lib.clear, "PQclear");
    resolve(lib.ntuples, "PQntuples");
    resolve(lib.nfields, "PQnfields");
    resolve(lib.fname, "PQfname");
    resolve(lib.getvalue, "PQgetvalue");
    resolve(lib.getlength, "PQgetlength");
    resolve(lib.getisnull, "PQgetisnull");
    resolve(lib.cmd_tuples, "PQcmdTuples");
    resolve(lib.escape_literal, "PQescapeLiteral");
    resolve(lib.escape_identifier, "PQescapeIdentifier");
    resolve(lib.freemem, "PQfreemem");
    resolve(lib.get_cancel, "PQgetCancel");
    resolve(lib.cancel, "PQcancel");
    resolve(lib.free_cancel, "PQfreeCancel");
    resolve(lib.setnonblocking, "PQsetnonblocking");
    resolve(lib.flush, "PQflush");
    resolve(lib.socket, "PQsocket");
    resolve(lib.consume_input, "PQconsumeInput");
    resolve(lib.put_copy_data, "PQputCopyData");
    resolve(lib.put_copy_end, "PQputCopyEnd");
    resolve(lib.get_result, "PQgetResult");
    return lib;
  }();
  return kLib;
}

}  // namespace cutover::steps::pg
