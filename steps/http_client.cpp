#include "steps/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "util/error.h"
#include "util/library.h"
#include "util/strings.h"
#include "util/units.h"

namespace cutover::steps {
namespace {

// libcurl is opened on first use rather than linked: with the libraries only it needs
// (nghttp2, librtmp, libpsl, brotli) it cost every cutover command six shared objects to map
// and relocate at start-up, and only http steps use it (SPEC §9: `cutover plan` of 1,000
// steps within 100 ms). CUTOVER_LIBCURL_SONAME is the library the build compiled against
// (CMakeLists.txt).
struct LibCurl {
  decltype(&::curl_global_init) global_init = nullptr;
  decltype(&::curl_easy_init) easy_init = nullptr;
  decltype(&::curl_easy_cleanup) easy_cleanup = nullptr;
  decltype(&::curl_easy_setopt) easy_setopt = nullptr;
  decltype(&::curl_easy_perform) easy_perform = nullptr;
  decltype(&::curl_easy_getinfo) easy_getinfo = nullptr;
  decltype(&::curl_easy_strerror) easy_strerror = nullptr;
  decltype(&::curl_slist_append) slist_append = nullptr;
  decltype(&::curl_slist_free_all) slist_free_all = nullptr;
};

// The loaded and globally initialised library; throws Error when it cannot be loaded (and
// tries again on the next call).
const LibCurl& curl() {
  static const LibCurl kLib = [] {
    util::SharedLibrary so(CUTOVER_LIBCURL_SONAME, "libcurl");
    LibCurl lib;
    so.bind(lib.global_init, "curl_global_init");
    so.bind(lib.easy_init, "curl_easy_init");
    so.bind(lib.easy_cleanup, "curl_easy_cleanup");
    so.bind(lib.easy_setopt, "curl_easy_setopt");
    so.bind(lib.easy_perform, "curl_easy_perform");
    so.bind(lib.easy_getinfo, "curl_easy_getinfo");
    so.bind(lib.easy_strerror, "curl_easy_strerror");
    so.bind(lib.slist_append, "curl_slist_append");
    so.bind(lib.slist_free_all, "curl_slist_free_all");
    lib.global_init(CURL_GLOBAL_DEFAULT);
    return lib;
  }();
  return kLib;
}

struct Transfer {
  const HttpRequest* request;
  HttpResponse* response;
  bool aborted = false;  // by SIGINT or the step deadline
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  std::string& body = t->response->body;
  size_t room = t->request->body_limit > body.size() ? t->request->body_limit - body.size() : 0;
  if (len > room) t->response->body_truncated = true;
  body.append(data, std::min(len, room));
  return len;  // keep reading (and discarding) past the cap: the status is still good
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(data, size * n);
  size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    t->response->headers[name] = util::trim(line.substr(colon + 1));
  }
  return size * n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (util::interrupted() || t->request->deadline.expired()) {
    t->aborted = true;
    return 1;
  }
  return 0;
}

// "2s", "500ms", "1m30s": as a plan would write it (format_duration prints "2.0s").
std::string plan_duration(std::chrono::milliseconds d) {
  long long ms = d.count();
  if (ms % 1000 != 0 || ms < 1000) return ms < 1000 ? std::to_string(ms) + "ms" : util::format_duration(d);
  long long s = ms / 1000;
  if (s < 60) return std::to_string(s) + "s";
  if (s % 60 == 0 && s < 3600) return std::to_string(s / 60) + "m";
  return util::format_duration(d);
}

struct Easy {
  CURL* h = curl().easy_init();
  curl_slist* headers = nullptr;
  ~Easy() {
    if (headers) curl().slist_free_all(headers);
    if (h) curl().easy_cleanup(h);
  }
};

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

}  // namespace

HttpResponse http_send(const HttpRequest& request) {
  HttpResponse response;
  Transfer transfer{&request, &response};
  Easy easy;
  if (!easy.h) throw Error("cannot initialise libcurl");
  CURL* h = easy.h;
  char errbuf[CURL_ERROR_SIZE] = {0};

  // The effective timeout is the attempt's own, cut short by the step's deadline.
  long long timeout_ms = std::max<long long>(1, request.deadline.remaining_ms(request.timeout.count()));
  const std::string method = upper(request.method.empty() ? "GET" : request.method);

  curl().easy_setopt(h, CURLOPT_URL, request.url.c_str());
  curl().easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl().easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl().easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms));
  curl().easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl().easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl().easy_setopt(h, CURLOPT_USERAGENT, "cutover");
  curl().easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl().easy_setopt(h, CURLOPT_WRITEDATA, &transfer);
  curl().easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl().easy_setopt(h, CURLOPT_HEADERDATA, &transfer);
  curl().easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl().easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl().easy_setopt(h, CURLOPT_XFERINFODATA, &transfer);
  curl().easy_setopt(h, CURLOPT_SSL_VERIFYPEER, request.tls_verify ? 1L : 0L);
  curl().easy_setopt(h, CURLOPT_SSL_VERIFYHOST, request.tls_verify ? 2L : 0L);
  if (!request.ca_file.empty()) curl().easy_setopt(h, CURLOPT_CAINFO, request.ca_file.c_str());

  if (method == "HEAD") {
    curl().easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (method != "GET") {
    curl().easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  if (!request.body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    curl().easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
    curl().easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
    if (method == "GET") curl().easy_setopt(h, CURLOPT_CUSTOMREQUEST, "GET");
  }
  for (const auto& [name, value] : request.headers)
    easy.headers = curl().slist_append(easy.headers, (name + ": " + value).c_str());
  // No "Expect: 100-continue" round trip for bodies.
  easy.headers = curl().slist_append(easy.headers, "Expect:");
  curl().easy_setopt(h, CURLOPT_HTTPHEADER, easy.headers);

  CURLcode rc = curl().easy_perform(h);
  if (rc == CURLE_OK) {
    curl().easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
    return response;
  }
  response.body.clear();
  std::string detail = errbuf[0] ? errbuf : curl().easy_strerror(rc);
  switch (rc) {
    case CURLE_ABORTED_BY_CALLBACK:
      response.failure = HttpResponse::Failure::interrupted;
      response.error = util::interrupted() ? "interrupted" : "step timed out";
      break;
    case CURLE_OPERATION_TIMEDOUT:
      // The step deadline may have cut the attempt short: say which limit was hit.
      if (request.deadline.expired()) {
        response.failure = HttpResponse::Failure::interrupted;
        response.error = "step timed out";
      } else {
        response.failure = HttpResponse::Failure::timeout;
        response.error = "timed out after " +
                         plan_duration(std::chrono::milliseconds(timeout_ms));
      }
      break;
    case CURLE_COULDNT_CONNECT: {
      // libcurl 7.88's text ("Couldn't connect to server") hides the reason: ask errno.
      long os_errno = 0;
      curl().easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
      response.failure = HttpResponse::Failure::connect;
      if (os_errno == ECONNREFUSED || detail.find("refused") != std::string::npos)
        response.error = "connection refused";
      else if (os_errno != 0)
        response.error = "could not connect: " + std::string(std::strerror(static_cast<int>(os_errno)));
      else
        response.error = "could not connect: " + detail;
      break;
    }
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      response.failure = HttpResponse::Failure::resolve;
      response.error = "could not resolve host: " + detail;
      break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
      response.failure = HttpResponse::Failure::tls;
      response.error = "TLS: " + detail;
      break;
    default:
      response.failure = HttpResponse::Failure::other;
      response.error = detail;
      break;
  }
  return response;
}

}  // namespace cutover::steps
