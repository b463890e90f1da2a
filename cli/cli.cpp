#include "cli/cli.h"

#include <cstdio>

namespace cutover::cli {

int main(int argc, char** argv) {
  std::fprintf(stderr, "cutover: not built yet\n");
  return 1;
}

}  // namespace cutover::cli
