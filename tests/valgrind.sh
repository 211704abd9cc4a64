#!/usr/bin/env bash
# Valgrind's memcheck over every example in --quick mode and over the test
# programs, in a build of its own: RelWithDebInfo (the optimised code, with
# line numbers), no sanitizers (valgrind cannot run ASan binaries) and no
# -march=native (valgrind does not decode AVX-512; the library's runtime
# dispatch still takes its AVX2 paths).
#
# Fails on any invalid read or write, use of an uninitialised value, bad
# free or definitely lost block in an example, a test program or any
# process they fork, Criterion's per-test workers included
# (--trace-children=yes). Criterion passes a test whose worker memcheck
# flagged, so the verdict comes from memcheck's reports, one per process,
# kept in BUILD_DIR/memcheck/. "Possibly lost" blocks are not errors: BLIS
# keeps its memory pools until exit through interior pointers.
#
# Usage: bash tests/valgrind.sh BUILD_DIR [--all]
#   without --all (CI): the examples and the test programs listed in
#   ci_tests below, about 3 minutes on two cores;
#   --all: the examples and every test program, about 11 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/jobs.sh
build=${1:?usage: bash tests/valgrind.sh BUILD_DIR [--all]}
all=${2:-}
case $all in
    "" | --all) ;;
    *) echo "usage: bash tests/valgrind.sh BUILD_DIR [--all]" >&2; exit 2 ;;
esac
jobs=$(nproc)
root=$(pwd)

# ---- What runs --------------------------------------------------------------------
#
# The examples: each in its --quick configuration, writing under a
# temporary directory. The four whose --quick run is long (autocomplete_rnn,
# compare_cells, vanishing_gradient, custom_layer) train for 10 steps
# instead of 120 to 150: every section and code path still runs, and
# memcheck checks paths, not repetitions. autocomplete_rnn also reads only
# the first 4,000 lines of its corpus: under memcheck its --quick run takes
# ten minutes, most of them validating on the 111,000-character held-out
# tail. Longest first.
# g2p_seq2seq is left out: its quick run takes a minute natively, most of
# an hour under memcheck; the sanitizer build runs it.
examples="autocomplete_rnn compare_cells vanishing_gradient custom_layer first_steps
          sentiment_lstm stock_gru training_loop hessian_free"
example_args() { # EXAMPLE OUT_DIR
    case $1 in
        first_steps) ;;
        training_loop) echo "--steps 101 --out $2" ;;
        autocomplete_rnn) echo "--quick --steps 10 --data $2/corpus.txt --out $2" ;;
        compare_cells | vanishing_gradient | custom_layer) echo "--quick --steps 10 --out $2" ;;
        *) echo "--quick --out $2" ;;
    esac
}

# The test programs: Criterion runs each test in a process of its own, and
# memcheck starts afresh in each (about 1.3 CPU-seconds), so the whole
# suite takes about 9 minutes on two cores, more than CI's budget allows
# beside the other checks. CI runs the programs where memcheck sees what
# the sanitizer build cannot: the products handed to BLIS (not
# instrumented) with every layout of operands, and the readers and writers
# of files, every byte of which is untrusted (jansson, not instrumented,
# parses the checkpoint headers). The examples above drive the layers,
# cells, optimizers, plots and checkpoints. --all runs the rest too.
ci_tests="test_matmul test_gemm_small test_grad_matmul test_fuzz_replay test_parallel test_batch_split
          $(cd tests/io && ls test_*.c | sed 's/\.c$//')"

# Never under memcheck: they run the example programs through the shell,
# so memcheck would check only their harness (the examples are checked in
# their own runs above).
never="test_autocomplete_rnn test_compare_cells test_custom_layer test_sentiment_lstm
       test_stock_gru test_vanishing_gradient"
# Tests left out, as a Criterion --filter per program:
# - crash_save kills a training run at random moments of 1 to 150 ms, which
#   under memcheck's slowdown all fall before the run's first save;
# - limits caps the address space, which under memcheck also holds
#   valgrind's shadow memory, and BLIS aborts when it cannot allocate its
#   packing buffers;
# - parallel's caller sharing its CPU with a spinning thread: memcheck runs
#   one thread at a time, and a thread waiting for its turn sleeps, so no
#   thread ever looks preempted.
# AddressSanitizer and LeakSanitizer check them in the sanitizer build.
filter_test_crash_save='!(crash_save/a_run_killed_at_50_random_moments*)'
filter_test_limits='!(limits/a_refused_allocation_is_an_error_not_a_crash)'
filter_test_parallel='!(parallel/a_caller_that_shares_its_cpu_works_alone_for_a_while)'

# ---- Build -------------------------------------------------------------------------
tests=""
for source in tests/*/test_*.c; do
    t=$(basename "$source" .c)
    if [[ " $(echo $never) " == *" $t "* ]] ||
        { [ "$all" != --all ] && [[ " $(echo $ci_tests) " != *" $t "* ]]; }; then
        continue
    fi
    tests="$tests $t"
done
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTAPEGRAD_NATIVE=OFF \
    -DTAPEGRAD_WERROR=ON -DTAPEGRAD_BUILD_BENCH=OFF >/dev/null
# shellcheck disable=SC2086 # lists of targets
cmake --build "$build" -j "$jobs" --target $examples $tests >/dev/null
build=$(cd "$build" && pwd)

logs=$build/memcheck
rm -rf "$logs"
mkdir -p "$logs"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Programs run through the shell or from the system (a test's popen,
# system("rm -rf ...")) run natively. BLIS 0.9's AVX2 small-matrix kernels
# (the haswell and zen sets) read one element past a matrix for some
# shapes, with any valid arguments (BLIS issues 635 and 821, fixed after
# 0.9): BLIS_ARCH_TYPE pins the AVX kernel set (sandybridge), which reads
# only the elements it is given, so that every invalid access caused by
# tapegrad's arguments to BLIS still shows.
export BLIS_ARCH_TYPE=4 OMP_NUM_THREADS=2
memcheck=(valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
          --show-leak-kinds=definite --suppressions="$root/tests/valgrind.supp"
          --trace-children=yes --trace-children-skip='/bin/*,/usr/bin/*')

# run NAME DIR COMMAND...: COMMAND under memcheck in DIR; its output in
# $logs/NAME.out, each process's report in $logs/NAME.<pid>.log, its exit
# status and wall and CPU seconds in $logs/NAME.status.
run() {
    local name=$1 dir=$2 status=0
    shift 2
    TIMEFORMAT="%0R %0U %0S"
    { time (cd "$dir" && "${memcheck[@]}" --log-file="$logs/$name.%p.log" "$@" \
        >"$logs/$name.out" 2>&1); } 2>"$logs/$name.time" || status=$?
    echo "$status $(cat "$logs/$name.time")" >"$logs/$name.status"
}

names=()
commands=()
for e in $examples; do
    mkdir -p "$out/$e"
    names+=("$e")
    commands+=("$build/examples|./$e $(example_args "$e" "$out/$e")")
done
head -n 4000 examples/data/tinyshakespeare.txt >"$out/autocomplete_rnn/corpus.txt"
for t in $tests; do
    filter=filter_$t
    names+=("$t")
    commands+=("$build/tests|./$t${!filter:+ --filter ${!filter}}")
done

start=$SECONDS
for i in "${!names[@]}"; do
    IFS='|' read -r dir command <<<"${commands[$i]}"
    read -ra words <<<"$command"
    wait_for_slot "$jobs"
    run "${names[$i]}" "$dir" "${words[@]}" &
done
wait

# ---- Verdict -----------------------------------------------------------------------
# A report without an ERROR SUMMARY is a forked child that went on into a
# program memcheck skips: it must hold nothing but memcheck's banner.
failed=0 errors=0 processes=0 cpu=0
for name in "${names[@]}"; do
    read -r status wall user sys <"$logs/$name.status"
    cpu=$((cpu + user + sys))
    bad=""
    for log in "$logs/$name".*.log; do
        processes=$((processes + 1))
        n=$(sed -n 's/^==[0-9]*== ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log")
        if [ -z "$n" ]; then
            if grep -qvE '^==[0-9]+== (Memcheck, a memory error detector|Copyright|Using Valgrind|Command:|Parent PID:|$)' "$log"; then
                bad="$bad $log"
            fi
        elif [ "$n" != 0 ]; then
            errors=$((errors + n))
            bad="$bad $log"
        fi
    done
    verdict=ok
    if [ "$status" != 0 ] || [ -n "$bad" ]; then
        verdict="FAILED (exit status $status)"
        failed=1
    fi
    printf '  %-22s %4s s %5s CPU-s  %s\n' "$name" "$wall" "$((user + sys))" "$verdict"
    if [ "$verdict" != ok ]; then
        tail -n 20 "$logs/$name.out" >&2
        for log in $bad; do
            echo "---- $log" >&2
            grep -vE '^==[0-9]+== *$' "$log" | head -n 60 >&2
        done
    fi
done
echo "memcheck: ${#names[@]} programs, $processes processes, $errors errors," \
    "$((SECONDS - start)) s ($cpu CPU-s); reports in $logs"
exit "$failed"
