#!/usr/bin/env bash
# Installs what is missing, builds, and runs every check: the tests in an
# optimised build, then in a build with AddressSanitizer and
# UndefinedBehaviorSanitizer; each libFuzzer target for 45 seconds
# (tests/fuzz/fuzz.sh); valgrind's memcheck over the examples in --quick
# mode and the test programs chosen in tests/valgrind.sh (--all there runs
# every one). Warnings are errors. Usage: bash tests/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/deps.sh
# clang builds the fuzz targets; libclang-rt-dev holds libFuzzer and
# clang's sanitizer runtimes (only recommended by clang, so not installed
# with it here). Open MPI runs the distributed tests; iproute2 gives the
# network namespaces of tests/dist/netns.sh; openssh-client is the launcher
# mpirun uses for a hostfile (tests/dist/test_dist_faults.c).
tapegrad_install_deps clang libclang-rt-dev valgrind openmpi-bin libopenmpi-dev iproute2 openssh-client

jobs=$(nproc)
# Each step's heading says when it starts, to keep CI's budget in sight.
step() { printf '== %s (at %d:%02d) ==\n' "$1" $((SECONDS / 60)) $((SECONDS % 60)); }
run_suite() {
    local dir=$1; shift
    cmake -S . -B "$dir" -DTAPEGRAD_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j "$jobs" >/dev/null
    (cd "$dir" && ctest --output-on-failure)
}

step "Optimised build"
run_suite build/release -DCMAKE_BUILD_TYPE=Release
step "Two simulated hosts: one rank in each of two network namespaces (as root)"
bash tests/dist/netns.sh build/release
step "AddressSanitizer + UndefinedBehaviorSanitizer build"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite build/sanitize -DCMAKE_BUILD_TYPE=Debug -DTAPEGRAD_SANITIZE=ON
step "libFuzzer targets, 45 s each"
bash tests/fuzz/fuzz.sh build/fuzz 45
step "Valgrind memcheck: the examples (--quick) and test programs"
bash tests/valgrind.sh build/valgrind
printf 'All checks passed in %d:%02d: both test builds, the fuzz targets and memcheck.\n' \
    $((SECONDS / 60)) $((SECONDS % 60))
