// The test runner. Before anything runs (test discovery included, so the build fails), test
// names are checked against what ctest can hold: catch_discover_tests splits a name at ';'
// into two tests that both fail, and a name starting with '-' reads as an option.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <csignal>
#include <cstdio>

int main(int argc, char* argv[]) {
  int bad = 0;
  for (const auto& test : Catch::getRegistryHub().getTestCaseRegistry().getAllTests()) {
    const std::string& name = test.getTestCaseInfo().name;
    if (name.find(';') != std::string::npos || (!name.empty() && name[0] == '-')) {
      std::fprintf(stderr, "%s:%zu: test name \"%s\" has a ';' or starts with '-': ctest cannot run it\n",
                   test.getTestCaseInfo().lineInfo.file, test.getTestCaseInfo().lineInfo.line, name.c_str());
      ++bad;
    }
  }
  if (bad) return 1;
  // As cutover's main does: a child that exits before reading all its stdin (pg_restore -l
  // stops after the table of contents) is an EPIPE to handle, not a signal that kills the run.
  std::signal(SIGPIPE, SIG_IGN);
  return Catch::Session().run(argc, argv);
}
