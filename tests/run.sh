#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test twice: an optimised
# build, then a build with AddressSanitizer and UndefinedBehaviorSanitizer.
# Warnings are errors. Usage: bash tests/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/deps.sh
tapegrad_install_deps

jobs=$(nproc)
run_suite() {
    local dir=$1; shift
    cmake -S . -B "$dir" -DTAPEGRAD_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j "$jobs" >/dev/null
    (cd "$dir" && ctest --output-on-failure)
}

echo "== Optimised build =="
run_suite build/release -DCMAKE_BUILD_TYPE=Release
echo "== AddressSanitizer + UndefinedBehaviorSanitizer build =="
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite build/sanitize -DCMAKE_BUILD_TYPE=Debug -DTAPEGRAD_SANITIZE=ON
echo "All tests passed in both builds."
