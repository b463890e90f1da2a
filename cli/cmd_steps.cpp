// steps, schema: the registry and the plan schema, printed.
#include <algorithm>
#include <cstdio>

#include "cli/options.h"
#include "executor/loader.h"
#include "steps/registry.h"
#include "util/strings.h"

namespace cutover::cli {

using nlohmann::json;

int cmd_steps(const Options& o) {
  const auto& types = steps::registry();
  if (o.type.empty()) {
    if (o.output == "json") {
      json out = json::array();
      for (const auto& t : types) out.push_back({{"type", t.name}, {"summary", t.summary}, {"remote", t.remote}});
      std::printf("%s\n", out.dump(2).c_str());
      return 0;
    }
    for (const auto& t : types)
      std::printf("  %-16s %s%s\n", t.name.c_str(), t.remote ? "⇄ " : "  ", t.summary.c_str());
    std::printf("\n⇄ = accepts `on: HOST`.  `cutover steps TYPE` shows a type's parameters.\n");
    return 0;
  }
  const steps::StepType* t = steps::find_step_type(o.type);
  if (!t) {
    std::vector<std::string> names;
    for (const auto& x : types) names.push_back(x.name);
    std::string near = util::closest(o.type, names);
    throw Fatal(ExitCode::usage, "unknown step type '" + o.type + "'" +
                                     (near.empty() ? "" : " (did you mean '" + near + "'?)") +
                                     "; known types: " + util::join(names, ", "));
  }
  json schema = json::parse(t->params_schema, nullptr, false);
  if (o.output == "json") {
    std::printf("%s\n", json({{"type", t->name}, {"summary", t->summary}, {"undo", t->undo},
                              {"outputs", t->outputs}, {"remote", t->remote}, {"schema", schema}})
                            .dump(2)
                            .c_str());
    return 0;
  }
  std::printf("%s — %s\n\n", t->name.c_str(), t->summary.c_str());
  std::printf("parameters (with:):\n");
  std::vector<std::string> required;
  if (schema.contains("required"))
    for (const auto& r : schema["required"]) required.push_back(r.get<std::string>());
  if (schema.contains("properties")) {
    for (auto it = schema["properties"].begin(); it != schema["properties"].end(); ++it) {
      bool req = std::find(required.begin(), required.end(), it.key()) != required.end();
      const json& p = it.value();
      std::string kind = p.contains("type") ? (p["type"].is_string() ? p["type"].get<std::string>() : p["type"].dump()) : "any";
      std::printf("  %-16s %-8s %s%s\n", it.key().c_str(), kind.c_str(), req ? "(required) " : "",
                  p.value("description", "").c_str());
      if (p.contains("default")) std::printf("  %-16s %-8s default: %s\n", "", "", p["default"].dump().c_str());
    }
  }
  std::printf("\nchange:  %s\n", t->kind == steps::Kind::check ? "none (read-only check)" : "yes");
  std::printf("undo:    %s\n", t->undo.c_str());
  std::printf("outputs: %s\n", t->outputs.c_str());
  std::printf("remote:  %s\n", t->remote ? "yes (on: HOST)" : "no (runs where cutover runs)");
  std::printf("resume:  %s\n", t->resume == steps::Resume::yes ? "applied again after a crash"
                               : t->resume == steps::Resume::if_idempotent ? "only with idempotent: true"
                                                                          : "no: an interrupted apply is rolled back");
  return 0;
}

int cmd_schema(const Options& o) {
  std::printf("%s\n", executor::plan_schema().c_str());
  return 0;
}

}  // namespace cutover::cli
