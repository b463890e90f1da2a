// A small real HTTP/1.1 server for tests: listens on 127.0.0.1 on a free port, answers each
// connection in its own thread with a handler the test sets, and closes the connection after
// one response. Good enough for health checks, webhooks and slow answers:
//
//   HttpServer server;
//   server.set_handler(HttpServer::fail_first(3, HttpResponseSpec{503, "starting"},
//                                             HttpResponseSpec::json(200, {{"status", "ok"}})));
//   std::string url = server.url("/health");      // http://127.0.0.1:PORT/health
//   ... server.requests() == 4 ...
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace cutover::testing {

/// A request as the server received it (header names lower-cased).
struct HttpRequestSeen {
  std::string method;
  std::string target;   // path and query: "/health?x=1"
  std::map<std::string, std::string> headers;
  std::string body;
};

/// What the handler answers.
struct HttpResponseSpec {
  HttpResponseSpec() = default;
  /// A plain answer: `status` with `body`.
  HttpResponseSpec(int status, std::string body) : status(status), body(std::move(body)) {}

  int status = 200;
  std::string body;
  std::map<std::string, std::string> headers;  // Content-Length and Connection are added
  /// Wait this long before answering (to provoke client timeouts); cut short when the
  /// server stops.
  std::chrono::milliseconds delay{0};

  /// A JSON answer with Content-Type: application/json.
  static HttpResponseSpec json(int status, const nlohmann::json& body);
};

/// The server (see the header comment). Stops and joins its threads on destruction.
class HttpServer {
 public:
  using Handler = std::function<HttpResponseSpec(const HttpRequestSeen&)>;

  /// Starts listening at once; the default handler answers 200 "ok". Throws std::runtime_error
  /// when the socket cannot be set up.
  HttpServer();
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Replaces the handler (thread-safe; applies to the next request).
  void set_handler(Handler h);
  /// The port it listens on.
  int port() const { return port_; }
  /// "http://127.0.0.1:PORT" + path.
  std::string url(const std::string& path = "/") const;
  /// Requests answered (or being answered) so far.
  int requests() const { return count_.load(); }
  /// Copies of every request received so far, in order.
  std::vector<HttpRequestSeen> seen() const;
  /// Stops accepting, cuts delays short and joins every thread (idempotent).
  void stop();

  /// A handler that answers `failing` to the first `n` requests and `healthy` afterwards.
  static Handler fail_first(int n, HttpResponseSpec failing, HttpResponseSpec healthy);

 private:
  void accept_loop();
  void serve(int fd);

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> count_{0};
  mutable std::mutex mu_;
  Handler handler_;
  std::vector<HttpRequestSeen> seen_;
  std::vector<std::thread> workers_;
  std::thread acceptor_;
};

/// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, close).
int free_port();

}  // namespace cutover::testing
