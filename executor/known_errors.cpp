// yaml-cpp is allowed here only to read the embedded known-errors base (STYLE 9).
#include "executor/known_errors.h"

#include <yaml-cpp/yaml.h>

#include <map>
#include <regex>
#include <string_view>

#include "util/error.h"
#include "util/strings.h"

namespace cutover::embedded {
const std::map<std::string, std::string_view>& files();
}

namespace cutover::executor {
namespace {

constexpr const char* kBase = "data/known_errors.yaml";
constexpr size_t kMaxText = 64 * 1024;
// libstdc++'s regex recurses per character: cap each line so a pathological one cannot
// exhaust the stack.
constexpr size_t kMaxLine = 4096;

struct Compiled {
  std::vector<KnownError> entries;
  std::vector<std::regex> patterns;
};

Compiled load() {
  const auto& files = embedded::files();
  auto it = files.find(kBase);
  if (it == files.end()) throw Error(std::string("known-errors base ") + kBase + " is not embedded");
  Compiled c;
  try {
    YAML::Node root = YAML::Load(std::string(it->second));
    const YAML::Node& list = root["errors"];
    if (!list.IsSequence()) throw Error(std::string(kBase) + ": `errors` must be a list");
    for (const YAML::Node& e : list) {
      KnownError k;
      k.id = e["id"].as<std::string>();
      k.pattern = e["pattern"].as<std::string>();
      k.cause = e["cause"].as<std::string>();
      k.fix = e["fix"].as<std::string>();
      try {
        c.patterns.emplace_back(k.pattern, std::regex::ECMAScript | std::regex::icase |
                                               std::regex::optimize);
      } catch (const std::regex_error& re) {
        throw Error(std::string(kBase) + ": entry " + k.id + ": bad pattern: " + re.what());
      }
      c.entries.push_back(std::move(k));
    }
  } catch (const YAML::Exception& ye) {
    throw Error(std::string(kBase) + ": " + ye.what());
  }
  return c;
}

const Compiled& base() {
  static const Compiled kCompiled = load();
  return kCompiled;
}

}  // namespace

const std::vector<KnownError>& known_errors() { return base().entries; }

std::vector<Hint> match_known_errors(const std::string& text) {
  const Compiled& c = base();
  std::string_view view(text);
  if (view.size() > kMaxText) view = view.substr(view.size() - kMaxText);
  std::vector<std::string> lines;
  for (const auto& line : util::split(std::string(view), '\n')) {
    std::string l = line.size() > kMaxLine ? line.substr(0, kMaxLine) : line;
    if (!l.empty() && l.back() == '\r') l.pop_back();
    if (!util::trim(l).empty()) lines.push_back(std::move(l));
  }
  std::vector<Hint> hints;
  for (size_t i = 0; i < c.entries.size(); ++i) {
    for (const auto& line : lines) {
      if (std::regex_search(line, c.patterns[i])) {
        hints.push_back({c.entries[i].id, c.entries[i].cause, c.entries[i].fix});
        break;
      }
    }
  }
  return hints;
}

}  // namespace cutover::executor
