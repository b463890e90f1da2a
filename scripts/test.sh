#!/usr/bin/env bash
# Installs what is missing, builds the sanitizer test build and runs every test with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
# Leak checking is off: libssh2 and libcurl keep libcrypto allocations for the process lifetime
# (reported as leaks at exit). Memory errors and undefined behaviour still fail the test.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd build-test
ctest --output-on-failure -j 2 --timeout 900 "$@"
