#include "cli/cli.h"

int main(int argc, char** argv) { return cutover::cli::main(argc, argv); }
