// Starter plans written by `cutover init --template NAME` (SPEC §2), one per scenario of
// SPEC §1. Each template is a commented plan with {{key}} placeholders and the questions
// `init` asks on a terminal to fill them (the defaults are used when stdin is not a terminal).
#pragma once

#include <string>
#include <vector>

namespace cutover::cli {

/// One question `init` asks; the answer replaces {{key}} in the template.
struct InitQuestion {
  std::string key;       // "plan_name"
  std::string question;  // "Plan name"
  std::string def;       // default, shown in [brackets]
};

/// One starter plan.
struct InitTemplate {
  std::string name;      // "server-move"
  std::string summary;   // one line for --help and errors
  std::vector<InitQuestion> questions;
  const char* text;      // the plan, with {{key}} placeholders
};

/// Every template, in the order of SPEC §1 (server-move first: the default).
const std::vector<InitTemplate>& init_templates();

/// The template called `name`, or nullptr.
const InitTemplate* find_init_template(const std::string& name);

}  // namespace cutover::cli
