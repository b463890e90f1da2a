// A small HTTP client for the http.* steps. libcurl stays inside http_client.cpp (STYLE 9).
// One request per call, no connection reuse, no redirects followed; the response body is kept
// up to a cap so that a huge answer cannot exhaust memory.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "util/cancel.h"

namespace cutover::steps {

/// One HTTP request.
struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::map<std::string, std::string> headers;
  std::string body;
  std::chrono::milliseconds timeout{10000};  // whole request, connect included
  bool tls_verify = true;
  std::string ca_file;                       // extra CA bundle (PEM); empty = system CAs
  util::Deadline deadline;                   // the step's deadline; SIGINT also aborts
  size_t body_limit = 4u << 20;              // bytes of the response body kept
};

/// What came back, or why nothing did.
struct HttpResponse {
  enum class Failure { none, timeout, connect, resolve, tls, interrupted, other };
  Failure failure = Failure::none;
  std::string error;         // "connection refused", "timed out after 2s", libcurl's text
  long status = 0;           // HTTP status (0 when failure != none)
  std::string body;          // up to body_limit bytes
  bool body_truncated = false;
  std::map<std::string, std::string> headers;  // lower-cased names; last value wins

  bool ok() const { return failure == Failure::none; }
};

/// Sends the request and returns the response. Never throws for network failures (see
/// HttpResponse::failure); throws Error only for a request libcurl cannot even set up.
/// Failure::interrupted means SIGINT or the deadline: the caller throws Interrupted.
HttpResponse http_send(const HttpRequest& request);

}  // namespace cutover::steps
