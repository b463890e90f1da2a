#include "executor/template.h"

#include <algorithm>
#include <cctype>

#include "util/strings.h"

namespace cutover::executor::detail {

bool split_template(const std::string& s, std::vector<Piece>& out, std::string& error) {
  std::string lit;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] != '$') {  // a run of plain text, copied at once
      size_t next = std::min(s.find('$', i), s.size());
      lit.append(s, i, next - i);
      i = next;
      continue;
    }
    if (s.compare(i, 3, "$${") == 0) {
      lit += "${";
      i += 3;
      continue;
    }
    if (s.compare(i, 2, "${") != 0) {
      lit += s[i++];
      continue;
    }
    size_t close = s.find('}', i + 2);
    if (close == std::string::npos) {
      error = "unterminated '${' (write '$${' for a literal '${')";
      return false;
    }
    std::string body = s.substr(i + 2, close - i - 2);
    Piece ref;
    ref.is_ref = true;
    if (util::starts_with(body, "raw:")) {
      ref.raw = true;
      body = body.substr(4);
    }
    if (util::trim(body).empty()) {
      error = "empty reference '${}'";
      return false;
    }
    ref.text = body;
    if (!lit.empty()) out.push_back(Piece{false, std::move(lit), false});
    lit.clear();
    out.push_back(std::move(ref));
    i = close + 1;
  }
  if (!lit.empty()) out.push_back(Piece{false, std::move(lit), false});
  return true;
}

namespace {

bool is_identifier(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

}  // namespace

bool parse_ref(const std::string& body, Ref& out, std::string& error) {
  const std::string shown = "'${" + body + "}'";
  std::string path = body;
  out = Ref{};
  if (util::starts_with(body, "env.")) {
    size_t d = body.find(":-");
    if (d != std::string::npos) {
      out.has_default = true;
      out.fallback = body.substr(d + 2);
      path = body.substr(0, d);
    }
  }
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    size_t dot = path.find('.', start);
    parts.push_back(path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (parts.size() < 2) {
    error = "bad reference " + shown +
            " (write ${vars.X}, ${env.X}, ${secrets.X}, ${steps.ID.outputs.KEY}, ${run.id}, "
            "${run.dir}, ${plan.name} or ${plan.dir})";
    return false;
  }
  out.ns = parts[0];
  out.parts.assign(parts.begin() + 1, parts.end());
  for (const auto& p : out.parts) {
    if (p.empty()) {
      error = "bad reference " + shown + ": empty name";
      return false;
    }
  }
  const auto& ns = out.ns;
  size_t n = out.parts.size();
  if (ns == "vars") return true;
  if (ns == "env") {
    if (n == 1 && is_identifier(out.parts[0])) return true;
    error = "bad reference " + shown + ": write ${env.NAME} or ${env.NAME:-default}";
    return false;
  }
  if (ns == "secrets") {
    if (n == 1) return true;
    error = "bad reference " + shown + ": write ${secrets.NAME}";
    return false;
  }
  if (ns == "steps") {
    if (n >= 3 && out.parts[1] == "outputs") return true;
    error = "bad reference " + shown + ": write ${steps.ID.outputs.KEY}";
    return false;
  }
  if (ns == "run") {
    if (n == 1 && (out.parts[0] == "id" || out.parts[0] == "dir")) return true;
    error = "bad reference " + shown + ": only ${run.id} and ${run.dir} exist";
    return false;
  }
  if (ns == "plan") {
    if (n == 1 && (out.parts[0] == "name" || out.parts[0] == "dir")) return true;
    error = "bad reference " + shown + ": only ${plan.name} and ${plan.dir} exist";
    return false;
  }
  error = "unknown reference " + shown +
          " (references start with vars., env., secrets., steps., run. or plan.)";
  return false;
}

}  // namespace cutover::executor::detail
