#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/CMakeLists.txt) with clang and
# runs each for SECONDS seconds, as many at once as there are cores, each
# from its committed seed corpus (tests/fuzz/corpus/<target>) plus what
# earlier runs in BUILD_DIR found. Prints the executions and the coverage
# (edges reached, of those instrumented) per target.
#
# A crash, a leak, a timeout or a broken invariant (fuzz_checks.h) fails
# the run, and libFuzzer saves the input as
# tests/fuzz/regressions/<target>/<kind>-<sha1>: commit it with the fix;
# tests/reliability/test_fuzz_replay.c replays it in every build.
#
# Usage: bash tests/fuzz/fuzz.sh BUILD_DIR SECONDS
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/jobs.sh
build=$1
seconds=$2
targets="safetensors csv text vocab checkpoint_meta save_path"

cmake -S tests/fuzz -B "$build" -DCMAKE_C_COMPILER=clang >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null

run_target() {
    local target=$1
    mkdir -p "$build/corpus/$target" "tests/fuzz/regressions/$target"
    "$build/fuzz_$target" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="tests/fuzz/regressions/$target/" \
        "$build/corpus/$target" "tests/fuzz/corpus/$target" >"$build/$target.log" 2>&1
}

# Cores at a time; each target's exit status in $build/<target>.status.
for target in $targets; do
    wait_for_slot "$(nproc)"
    (run_target "$target" && echo 0 || echo $?) >"$build/$target.status" &
done
wait

failed=0
for target in $targets; do
    log="$build/$target.log"
    executions=$(sed -n 's/^stat::number_of_executed_units: //p' "$log")
    coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    edges=$(sed -n 's/.*(\([0-9]*\) inline 8-bit counters).*/\1/p' "$log" | head -1)
    printf '  %-12s %10s executions in %ss, %s of %s edges\n' "$target" "${executions:-?}" \
        "$seconds" "${coverage:-?}" "${edges:-?}"
    if [ "$(cat "$build/$target.status")" != 0 ]; then
        echo "fuzz_$target failed; its input is in tests/fuzz/regressions/$target/:" >&2
        grep -E -A12 'ERROR|broken invariant|Test unit written' "$log" | head -40 >&2
        failed=1
    fi
done
exit "$failed"
