// init: writes a starter plan from a template (cli/init_templates.cpp). On a terminal it asks
// the template's questions, each with a default in brackets (an empty answer takes it); with
// stdin not a terminal it takes every default, so CI and scripts can run it unattended.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "cli/init_templates.h"
#include "cli/options.h"
#include "util/fs.h"
#include "util/strings.h"

namespace cutover::cli {

namespace {

bool valid_plan_name(const std::string& s) {
  static const std::regex re("[a-z0-9][a-z0-9._-]*");
  return std::regex_match(s, re);
}

// Asks every question on the terminal; returns key -> answer.
std::map<std::string, std::string> ask(const InitTemplate& t, bool interactive) {
  std::map<std::string, std::string> answers;
  if (interactive)
    std::printf("cutover init: template %s — %s\nPress Enter to take the [default].\n\n", t.name.c_str(),
                t.summary.c_str());
  int n = 0;
  for (const auto& q : t.questions) {
    ++n;
    std::string answer = q.def;
    while (interactive) {
      std::printf("%d) %s [%s]: ", n, q.question.c_str(), q.def.c_str());
      std::fflush(stdout);
      std::string line;
      if (!std::getline(std::cin, line)) {  // end of input: defaults from here on
        std::printf("\n");
        interactive = false;
        break;
      }
      line = util::trim(line);
      answer = line.empty() ? q.def : line;
      if (q.key == "plan_name" && !valid_plan_name(answer)) {
        std::printf("   a plan name is lower case letters, digits, '.', '_' and '-', starting with a letter or digit\n");
        continue;
      }
      break;
    }
    answers[q.key] = answer;
  }
  return answers;
}

std::string render(const InitTemplate& t, const std::map<std::string, std::string>& answers) {
  std::string text = t.text;
  for (const auto& [key, value] : answers) {
    // Plan names are checked against their pattern; everything else goes in quoted, which is
    // valid YAML for any text (JSON strings are YAML double-quoted scalars).
    std::string yaml = key == "plan_name" ? value : nlohmann::json(value).dump();
    text = util::replace_all(text, "{{" + key + "}}", yaml);
  }
  return text;
}

void ignore_state_folder(const std::string& dir) {
  std::string path = util::join_path(dir, ".gitignore");
  std::string text = util::exists(path) ? util::read_file(path) : "";
  for (const auto& line : util::split(text, '\n')) {
    std::string l = util::trim(line);
    if (l == ".cutover/" || l == ".cutover" || l == "/.cutover/" || l == "/.cutover") return;
  }
  if (!text.empty() && text.back() != '\n') text += "\n";
  text += "# cutover's state folder: journals, dumps, locks (cutover init)\n.cutover/\n";
  util::write_file_atomic(path, text, 0644);
}

}  // namespace

int cmd_init(const Options& o) {
  std::string name = o.template_name.empty() ? "server-move" : o.template_name;
  const InitTemplate* t = find_init_template(name);
  if (!t) {
    std::vector<std::string> names;
    for (const auto& x : init_templates()) names.push_back(x.name);
    std::string near = util::closest(name, names);
    throw Fatal(ExitCode::usage, "unknown template '" + name + "'" +
                                     (near.empty() ? "" : " (did you mean '" + near + "'?)") +
                                     "; templates: " + util::join(names, ", "));
  }
  std::string dir = o.dir.empty() ? "." : o.dir;
  std::string plan_path = util::join_path(dir, "plan.yaml");
  if (util::exists(plan_path))
    throw Fatal(ExitCode::usage, plan_path + " already exists; not overwriting it (remove it, or pick another DIR)");

  auto answers = ask(*t, ::isatty(0) == 1);
  if (!valid_plan_name(answers["plan_name"]))
    throw Fatal(ExitCode::usage, "plan name '" + answers["plan_name"] + "' must match [a-z0-9][a-z0-9._-]*");
  util::make_dirs(dir, 0755);
  if (util::exists(plan_path))  // appeared while we asked
    throw Fatal(ExitCode::usage, plan_path + " already exists; not overwriting it");
  util::write_file_atomic(plan_path, render(*t, answers), 0644);
  ignore_state_folder(dir);

  std::printf("wrote %s (template %s)\n", plan_path.c_str(), t->name.c_str());
  std::printf("next:  cutover validate %s\n       cutover plan %s\n", plan_path.c_str(), plan_path.c_str());
  return 0;
}

}  // namespace cutover::cli
