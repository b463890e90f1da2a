// The command line (SPEC §2). One file per command in cli/; this is the entry point.
#pragma once

namespace cutover::cli {

/// Parses argv, runs the command and returns the process exit code (SPEC §2). Catches every
/// error once and maps it to an exit code.
int main(int argc, char** argv);

}  // namespace cutover::cli
