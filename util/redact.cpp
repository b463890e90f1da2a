#include "util/redact.h"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <set>
#include <vector>

#include "util/strings.h"

namespace cutover::util {
namespace {

std::mutex g_mutex;
std::vector<std::string> g_forms;  // longest first, so a secret's longer forms mask whole

std::string url_encode(const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
    else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

void register_secret(const std::string& value) {
  if (value.size() < 3) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  std::set<std::string> forms(g_forms.begin(), g_forms.end());
  forms.insert(value);
  forms.insert(shell_quote(value));
  std::string dumped = nlohmann::json(value).dump();
  forms.insert(dumped.substr(1, dumped.size() - 2));
  forms.insert(url_encode(value));
  g_forms.assign(forms.begin(), forms.end());
  std::sort(g_forms.begin(), g_forms.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

std::string redact(const std::string& text) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_forms.empty()) return text;
  std::string out = text;
  for (const auto& f : g_forms) {
    if (f.empty()) continue;
    size_t pos = 0;
    while ((pos = out.find(f, pos)) != std::string::npos) {
      out.replace(pos, f.size(), "***");
      pos += 3;
    }
  }
  return out;
}

nlohmann::json redact_json(const nlohmann::json& value) {
  if (value.is_string()) return redact(value.get<std::string>());
  if (value.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& v : value) out.push_back(redact_json(v));
    return out;
  }
  if (value.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (auto it = value.begin(); it != value.end(); ++it) out[redact(it.key())] = redact_json(it.value());
    return out;
  }
  return value;
}

void clear_secrets() {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_forms.clear();
}

}  // namespace cutover::util
