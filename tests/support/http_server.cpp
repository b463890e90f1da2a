#include "tests/support/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace cutover::testing {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

const char* reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

// Reads until `want` bytes are in `buf` or the peer closes; polls so stop() is noticed.
bool read_more(int fd, std::string& buf, const std::atomic<bool>& stopping) {
  char chunk[8192];
  for (;;) {
    if (stopping.load()) return false;
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, 50);
    if (r < 0 && errno != EINTR) return false;
    if (r <= 0) continue;
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buf.append(chunk, static_cast<size_t>(n));
    return true;
  }
}

void send_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return;  // the client gave up (timed out): nothing to do
    }
    off += static_cast<size_t>(n);
  }
}

}  // namespace

HttpResponseSpec HttpResponseSpec::json(int status, const nlohmann::json& body) {
  HttpResponseSpec r;
  r.status = status;
  r.body = body.dump();
  r.headers["Content-Type"] = "application/json";
  return r;
}

HttpServer::HttpServer() {
  handler_ = [](const HttpRequestSeen&) { return HttpResponseSpec{200, "ok"}; };
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    int e = errno;
    ::close(listen_fd_);
    throw std::runtime_error(std::string("bind/listen: ") + std::strerror(e));
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::set_handler(Handler h) {
  std::lock_guard<std::mutex> lock(mu_);
  handler_ = std::move(h);
}

std::string HttpServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<HttpRequestSeen> HttpServer::seen() const {
  std::lock_guard<std::mutex> lock(mu_);
  return seen_;
}

void HttpServer::stop() {
  if (stopping_.exchange(true)) return;
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> workers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    workers.swap(workers_);
  }
  for (auto& t : workers) t.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
}

void HttpServer::accept_loop() {
  while (!stopping_.load()) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard<std::mutex> lock(mu_);
    workers_.emplace_back([this, fd] {
      serve(fd);
      ::close(fd);
    });
  }
}

void HttpServer::serve(int fd) {
  std::string buf;
  size_t head_end;
  while ((head_end = buf.find("\r\n\r\n")) == std::string::npos)
    if (!read_more(fd, buf, stopping_) || buf.size() > (1u << 20)) return;

  HttpRequestSeen req;
  std::string head = buf.substr(0, head_end);
  size_t line_end = head.find("\r\n");
  std::string first = head.substr(0, line_end);
  size_t sp1 = first.find(' '), sp2 = first.rfind(' ');
  if (sp1 == std::string::npos || sp2 <= sp1) return;
  req.method = first.substr(0, sp1);
  req.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t e = head.find("\r\n", pos);
    if (e == std::string::npos) e = head.size();
    std::string line = head.substr(pos, e - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos)
      req.headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
    pos = e + 2;
  }
  size_t want = 0;
  if (req.headers.count("content-length")) want = std::stoul(req.headers["content-length"]);
  req.body = buf.substr(head_end + 4);
  while (req.body.size() < want) {
    if (!read_more(fd, req.body, stopping_)) return;
  }
  req.body.resize(std::min(req.body.size(), want));

  count_.fetch_add(1);
  Handler handler;
  {
    std::lock_guard<std::mutex> lock(mu_);
    seen_.push_back(req);
    handler = handler_;
  }
  HttpResponseSpec resp = handler(req);
  auto wake = std::chrono::steady_clock::now() + resp.delay;
  while (std::chrono::steady_clock::now() < wake && !stopping_.load())
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (stopping_.load() && resp.delay.count() > 0) return;

  std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " " + reason(resp.status) + "\r\n";
  for (const auto& [k, v] : resp.headers) out += k + ": " + v + "\r\n";
  out += "Content-Length: " + std::to_string(resp.body.size()) + "\r\nConnection: close\r\n\r\n";
  if (req.method != "HEAD") out += resp.body;
  send_all(fd, out);
}

HttpServer::Handler HttpServer::fail_first(int n, HttpResponseSpec failing, HttpResponseSpec healthy) {
  auto calls = std::make_shared<std::atomic<int>>(0);
  return [=](const HttpRequestSeen&) { return calls->fetch_add(1) < n ? failing : healthy; };
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("bind failed");
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace cutover::testing
