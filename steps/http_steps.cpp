// http.check (read-only: poll a URL until it answers as expected) and http.request (send a
// request that changes something, with an optional undo request). Both talk HTTP through
// steps/http_client.h and run on the machine cutover runs on.
#include <cctype>
#include <chrono>
#include <optional>
#include <set>
#include <thread>

#include "steps/families.h"
#include "steps/http_client.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"
#include "util/units.h"

namespace cutover::steps {
namespace {

using std::chrono::milliseconds;

const char* const kCheckSchema = R"({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "additionalProperties": false,
  "required": ["url"],
  "properties": {
    "url": {"type": "string", "minLength": 1, "description": "URL to request (http or https)."},
    "method": {"type": "string", "default": "GET", "description": "HTTP method (default GET)."},
    "headers": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]},
                "description": "Request headers, name: value (values may use ${secrets.NAME})."},
    "body": {"type": ["string", "object", "array"],
             "description": "Request body; a map or list is sent as JSON with Content-Type: application/json."},
    "expect": {
      "type": "object", "additionalProperties": false,
      "description": "What the answer must look like.",
      "properties": {
        "status": {"type": ["integer", "array"], "items": {"type": "integer"}, "minItems": 1,
                   "description": "Accepted HTTP status, or a list of them (default 200)."},
        "body_contains": {"type": "string", "description": "Text the response body must contain."},
        "json": {"type": "object", "patternProperties": {"^/": {}}, "additionalProperties": false,
                 "description": "JSON pointer -> expected value, e.g. {/status: ok}; compared with type (\"3\" is not 3)."}
      }
    },
    "attempts": {"type": "integer", "minimum": 1, "default": 1,
                 "description": "How many times to try before failing (default 1)."},
    "interval": {"type": ["string", "number"], "description": "Pause between attempts (duration, default 1s)."},
    "timeout": {"type": ["string", "number"], "description": "Time limit of each attempt, connect included (duration, default 10s)."},
    "tls_verify": {"type": "boolean", "default": true, "description": "Verify the server's TLS certificate and name (default true)."},
    "ca_file": {"type": "string", "description": "PEM file of CA certificates to trust (relative to the plan's folder)."}
  }
})";

const char* const kRequestSchema = R"({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "additionalProperties": false,
  "required": ["url"],
  "properties": {
    "url": {"type": "string", "minLength": 1, "description": "URL to send the request to."},
    "method": {"type": "string", "default": "POST", "description": "HTTP method (default POST)."},
    "headers": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]},
                "description": "Request headers, name: value (values may use ${secrets.NAME})."},
    "body": {"type": ["string", "object", "array"],
             "description": "Request body; a map or list is sent as JSON with Content-Type: application/json."},
    "expect_status": {"type": ["integer", "array"], "items": {"type": "integer"}, "minItems": 1,
                      "description": "Accepted HTTP status or list of them (default: any 2xx)."},
    "timeout": {"type": ["string", "number"], "description": "Time limit of the request (duration, default 30s)."},
    "tls_verify": {"type": "boolean", "default": true, "description": "Verify the server's TLS certificate and name (default true)."},
    "ca_file": {"type": "string", "description": "PEM file of CA certificates to trust (relative to the plan's folder)."},
    "undo": {
      "type": "object", "additionalProperties": false,
      "description": "The request that undoes this one, sent on rollback; it must be safe to send even if the forward request never arrived.",
      "properties": {
        "url": {"type": "string", "description": "URL of the undo request (default: the step's url)."},
        "method": {"type": "string", "description": "HTTP method of the undo request (default POST)."},
        "headers": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]},
                    "description": "Headers of the undo request (default: the step's headers)."},
        "body": {"type": ["string", "object", "array"], "description": "Body of the undo request."},
        "expect_status": {"type": ["integer", "array"], "items": {"type": "integer"}, "minItems": 1,
                          "description": "Accepted status of the undo request (default: any 2xx)."}
      }
    }
  }
})";

[[noreturn]] void bad(const std::string& step, const std::string& what) {
  throw Error(step + ": " + what);
}

milliseconds duration_param(const json& p, const char* key, milliseconds fallback, const char* step) {
  if (!p.contains(key) || p[key].is_null()) return fallback;
  const json& v = p[key];
  std::optional<milliseconds> d;
  if (v.is_number()) d = milliseconds(static_cast<long long>(v.get<double>() * 1000));
  else if (v.is_string()) d = util::parse_duration(v.get<std::string>());
  if (!d) bad(step, std::string("`") + key + "` is not a duration (500ms, 2s, 1m)");
  return *d;
}

std::string scalar_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// The request part shared by both types (and by http.request's undo).
HttpRequest parse_request(const json& p, const char* step, const std::string& default_method) {
  HttpRequest r;
  if (!p.contains("url") || !p["url"].is_string() || p["url"].get<std::string>().empty())
    bad(step, "`url` is required");
  r.url = p["url"].get<std::string>();
  r.method = p.contains("method") && p["method"].is_string() ? p["method"].get<std::string>()
                                                             : default_method;
  if (p.contains("headers") && p["headers"].is_object())
    for (const auto& [k, v] : p["headers"].items()) r.headers[k] = scalar_text(v);
  if (p.contains("body") && !p["body"].is_null()) {
    if (p["body"].is_string()) {
      r.body = p["body"].get<std::string>();
    } else {
      r.body = p["body"].dump();
      bool has_type = false;
      for (const auto& [k, v] : r.headers) {
        std::string name = util::trim(k);
        for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        has_type |= name == "content-type";
      }
      if (!has_type) r.headers["Content-Type"] = "application/json";
    }
  }
  if (p.contains("tls_verify") && p["tls_verify"].is_boolean()) r.tls_verify = p["tls_verify"].get<bool>();
  if (p.contains("ca_file") && p["ca_file"].is_string()) r.ca_file = p["ca_file"].get<std::string>();
  return r;
}

std::set<long> status_set(const json& v, const char* step) {
  std::set<long> out;
  if (v.is_number_integer()) out.insert(v.get<long>());
  else if (v.is_array())
    for (const auto& s : v) {
      if (!s.is_number_integer()) bad(step, "expected status must be a number or a list of numbers");
      out.insert(s.get<long>());
    }
  else bad(step, "expected status must be a number or a list of numbers");
  return out;
}

// "200", "one of 200, 204", "2xx".
std::string describe_statuses(const std::set<long>& s) {
  if (s.empty()) return "2xx";
  std::vector<std::string> parts;
  for (long v : s) parts.push_back(std::to_string(v));
  return s.size() == 1 ? parts[0] : "one of " + util::join(parts, ", ");
}

bool status_ok(const std::set<long>& s, long status) {
  return s.empty() ? status >= 200 && status < 300 : s.count(status) > 0;
}

std::string resolve_path(const Context& ctx, const std::string& path) {
  if (path.empty() || path[0] == '/' || ctx.run.plan_dir.empty()) return path;
  return util::join_path(ctx.run.plan_dir, path);
}

std::string shown(const HttpRequest& r) {
  std::string m = r.method;
  for (auto& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return m + " " + r.url;
}

// Sleeps up to `d`, waking early for SIGINT or the deadline (then throws Interrupted).
void pause(milliseconds d, const util::Deadline& deadline, const std::string& what) {
  auto wake = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < wake) {
    if (util::interrupted()) throw Interrupted(what + ": interrupted");
    if (deadline.expired()) throw Interrupted(what + ": step timed out");
    std::this_thread::sleep_for(milliseconds(20));
  }
}

HttpResponse send(const Context& ctx, HttpRequest r) {
  r.deadline = ctx.deadline;
  r.ca_file = resolve_path(ctx, r.ca_file);
  if (util::interrupted()) throw Interrupted(shown(r) + ": interrupted");
  if (ctx.deadline.expired()) throw Interrupted(shown(r) + ": step timed out");
  HttpResponse resp = http_send(r);
  if (resp.failure == HttpResponse::Failure::interrupted) throw Interrupted(shown(r) + ": " + resp.error);
  return resp;
}

class HttpCheck final : public Step {
 public:
  explicit HttpCheck(const StepConfig& c) {
    const char* step = "http.check";
    request_ = parse_request(c.params, step, "GET");
    request_.timeout = duration_param(c.params, "timeout", milliseconds(10000), step);
    interval_ = duration_param(c.params, "interval", milliseconds(1000), step);
    if (c.params.contains("attempts")) {
      if (!c.params["attempts"].is_number_integer() || c.params["attempts"].get<long>() < 1)
        bad(step, "`attempts` must be a whole number of at least 1");
      attempts_ = c.params["attempts"].get<int>();
    }
    json expect = c.params.value("expect", json::object());
    if (!expect.is_object()) bad(step, "`expect` must be a map");
    statuses_ = expect.contains("status") ? status_set(expect["status"], step) : std::set<long>{200};
    if (expect.contains("body_contains")) body_contains_ = scalar_text(expect["body_contains"]);
    if (expect.contains("json")) {
      if (!expect["json"].is_object()) bad(step, "`expect.json` must map JSON pointers to values");
      for (const auto& [ptr, value] : expect["json"].items()) {
        try {
          json_.emplace_back(json::json_pointer(ptr), value);
        } catch (const json::exception&) {
          bad(step, "`expect.json`: '" + ptr + "' is not a JSON pointer (like /status or /items/0/name)");
        }
      }
    }
  }

  Preview plan(Context& ctx) override {
    json out = run(ctx);
    Preview p;
    p.summary = shown(request_) + ": status " + std::to_string(out["status"].get<long>()) + " as expected";
    p.outputs = out;
    return p;
  }

  json apply(Context& ctx, const json&) override { return run(ctx); }

 private:
  json run(Context& ctx) {
    std::string last;
    for (int attempt = 1; attempt <= attempts_; ++attempt) {
      HttpResponse resp = send(ctx, request_);
      last = mismatch(resp);
      if (last.empty()) return {{"status", resp.status}, {"attempts", attempt}};
      if (ctx.log)
        ctx.log(shown(request_) + ": attempt " + std::to_string(attempt) + "/" +
                std::to_string(attempts_) + ": " + last);
      if (attempt < attempts_) pause(interval_, ctx.deadline, shown(request_));
    }
    std::string after = attempts_ > 1 ? " (after " + std::to_string(attempts_) + " attempts)" : "";
    throw Error(shown(request_) + ": " + last + after);
  }

  // What differs from the expectation, or "" when the answer is as expected.
  std::string mismatch(const HttpResponse& resp) const {
    if (!resp.ok()) return resp.error;
    if (!status_ok(statuses_, resp.status))
      return "status " + std::to_string(resp.status) + ", expected " + describe_statuses(statuses_);
    if (!body_contains_.empty() && resp.body.find(body_contains_) == std::string::npos)
      return "body does not contain " + json(body_contains_).dump();
    if (json_.empty()) return "";
    json doc = json::parse(resp.body, nullptr, false);
    if (doc.is_discarded()) {
      std::string head = resp.body.substr(0, 80);
      return "body is not JSON: " + json(head).dump();
    }
    for (const auto& [ptr, want] : json_) {
      if (!doc.contains(ptr)) return ptr.to_string() + " is missing, expected " + want.dump();
      const json& got = doc.at(ptr);
      if (got != want) return ptr.to_string() + " is " + got.dump() + ", expected " + want.dump();
    }
    return "";
  }

  HttpRequest request_;
  int attempts_ = 1;
  milliseconds interval_{1000};
  std::set<long> statuses_;
  std::string body_contains_;
  std::vector<std::pair<json::json_pointer, json>> json_;
};

class HttpRequestStep final : public Step {
 public:
  explicit HttpRequestStep(const StepConfig& c) {
    const char* step = "http.request";
    request_ = parse_request(c.params, step, "POST");
    request_.timeout = duration_param(c.params, "timeout", milliseconds(30000), step);
    if (c.params.contains("expect_status")) statuses_ = status_set(c.params["expect_status"], step);
    if (c.params.contains("undo") && c.params["undo"].is_object()) {
      json u = c.params["undo"];
      if (!u.contains("url")) u["url"] = request_.url;
      if (!u.contains("headers") && c.params.contains("headers")) u["headers"] = c.params["headers"];
      for (const char* k : {"tls_verify", "ca_file"})
        if (c.params.contains(k)) u[k] = c.params[k];
      undo_ = parse_request(u, "http.request undo", "POST");
      undo_->timeout = request_.timeout;
      if (u.contains("expect_status")) undo_statuses_ = status_set(u["expect_status"], step);
    }
  }

  Preview plan(Context& ctx) override {
    Preview p;
    p.changes = true;
    p.summary = "send " + shown(request_);
    p.detail = "would send " + shown(request_) +
               (request_.body.empty() ? "" : " (" + std::to_string(request_.body.size()) + " bytes)") +
               ", expecting status " + describe_statuses(statuses_);
    p.detail += undo_ ? "\nundo: " + shown(*undo_) : "\nundo: none";
    return p;
  }

  json checkpoint(Context& ctx) override { return json::object(); }

  json apply(Context& ctx, const json&) override {
    HttpResponse resp = send(ctx, request_);
    // Nothing reached the server: the undo request must not be sent for this apply.
    not_sent_ = resp.failure == HttpResponse::Failure::connect ||
                resp.failure == HttpResponse::Failure::resolve;
    if (!resp.ok()) throw Error(shown(request_) + ": " + resp.error);
    if (!status_ok(statuses_, resp.status))
      throw Error(shown(request_) + ": status " + std::to_string(resp.status) + ", expected " +
                  describe_statuses(statuses_) + body_excerpt(resp));
    return {{"status", resp.status}};
  }

  void undo(Context& ctx, const json&) override {
    if (!undo_) return;
    if (not_sent_) {
      if (ctx.log) ctx.log(shown(request_) + " never reached the server: undo request not sent");
      return;
    }
    HttpResponse resp = send(ctx, *undo_);
    if (!resp.ok()) throw Error("undo " + shown(*undo_) + ": " + resp.error);
    if (!status_ok(undo_statuses_, resp.status))
      throw Error("undo " + shown(*undo_) + ": status " + std::to_string(resp.status) +
                  ", expected " + describe_statuses(undo_statuses_) + body_excerpt(resp));
  }

 private:
  static std::string body_excerpt(const HttpResponse& r) {
    std::string b = util::trim(r.body.substr(0, 200));
    return b.empty() ? "" : " (body: " + b + ")";
  }

  HttpRequest request_;
  std::set<long> statuses_;  // empty: any 2xx
  std::optional<HttpRequest> undo_;
  std::set<long> undo_statuses_;
  bool not_sent_ = false;
};

}  // namespace

std::vector<StepType> http_step_types() {
  StepType check;
  check.name = "http.check";
  check.summary = "Request a URL until it answers with the expected status, text or JSON values";
  check.undo = "none: read-only check";
  check.outputs = "status: the last HTTP status; attempts: how many attempts it took";
  check.params_schema = kCheckSchema;
  check.kind = Kind::check;
  check.resume = Resume::yes;
  check.make = [](const StepConfig& c) -> std::unique_ptr<Step> { return std::make_unique<HttpCheck>(c); };

  StepType request;
  request.name = "http.request";
  request.summary = "Send an HTTP request that changes something (with an undo request for rollback)";
  request.undo = "nothing captured -> sends the `undo` request (not sent when the request never reached the server)";
  request.outputs = "status: the HTTP status";
  request.params_schema = kRequestSchema;
  request.kind = Kind::change;
  request.resume = Resume::no;
  request.undo_param = "undo";
  request.make = [](const StepConfig& c) -> std::unique_ptr<Step> { return std::make_unique<HttpRequestStep>(c); };
  return {check, request};
}

}  // namespace cutover::steps
