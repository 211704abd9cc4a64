#!/usr/bin/env python3
"""rule_check.py: one training step of two builds of bench_rnn, paired.

The check every change to tensor/ or autograd/ runs: is any configuration
slower than before? Each pair runs the base build's child and the new
build's (`bench_rnn --run CELL CONFIG 1 --cpu-time`, one thread, CPU time)
one after the other, the order swapped every pair, and the table shows the
median of the pairs' ratios new / base (below 1: the new build is faster).

Both children run on one vCPU (--cpu, 0 by default). On a shared host the
two vCPUs of a small machine can differ by 15% to 40% for minutes at a
time, and a child the scheduler puts on the other one swings a ratio by as
much. Unpinned, pairs of two builds 2% apart ran 0.66x to 1.63x; pinned,
a build against itself ran 0.97x to 1.02x.

    bench/rule_check.py BASE_BENCH NEW_BENCH [--cells rnn,lstm,gru]
        [--configs S,M,L,XL,INF] [--pairs 6] [--cpu 0]

e.g. with the base commit built in a second tree:

    bench/rule_check.py ../base/build/bench/bench_rnn build/bench/bench_rnn --configs S,M
"""
import argparse
import json
import os
import statistics
import subprocess
import sys


def step_ms(bench, cell, config, cpu):
    """The child's median step time in ms (CPU time), pinned to one vCPU."""
    command = ["taskset", "-c", str(cpu), bench, "--run", cell, config, "1", "--cpu-time"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"rule_check.py: {' '.join(command)} failed ({result.returncode}): {result.stderr.strip()}")
    return json.loads(result.stdout.strip().split("\n")[0])["ms_median"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("base")
    parser.add_argument("new")
    parser.add_argument("--cells", default="rnn,lstm,gru")
    parser.add_argument("--configs", default="S,M,L,XL,INF")
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--cpu", type=int, default=0)
    args = parser.parse_args()
    for bench in (args.base, args.new):
        if not os.access(bench, os.X_OK):
            sys.exit(f"rule_check.py: {bench} is not an executable bench_rnn")
    cases = [(cell, config) for config in args.configs.split(",") for cell in args.cells.split(",")]
    ratios = {case: [] for case in cases}
    times = {case: ([], []) for case in cases}
    for pair in range(args.pairs):
        for case in cases:
            if pair % 2 == 0:
                base = step_ms(args.base, *case, args.cpu)
                new = step_ms(args.new, *case, args.cpu)
            else:
                new = step_ms(args.new, *case, args.cpu)
                base = step_ms(args.base, *case, args.cpu)
            ratios[case].append(new / base)
            times[case][0].append(base)
            times[case][1].append(new)
    print(f"{'cell':5} {'cfg':4} {'base ms':>9} {'new ms':>9} {'new/base':>9}  pairs")
    for case in cases:
        base, new = (statistics.median(t) for t in times[case])
        pairs = " ".join(f"{r:.3f}" for r in ratios[case])
        print(f"{case[0]:5} {case[1]:4} {base:9.3f} {new:9.3f} {statistics.median(ratios[case]):9.3f}  {pairs}")


if __name__ == "__main__":
    main()
