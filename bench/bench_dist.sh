#!/usr/bin/env bash
# Data-parallel throughput of bench_rnn's step, in one run: tapegrad's
# bench_dist on 1 and 2 ranks on this machine, on 2 ranks across the two
# network namespaces of tests/dist/netns.sh (as root), and PyTorch DDP
# (gloo) on 1 and 2 processes; one thread per rank. One line of JSON each.
#
#   bash bench/bench_dist.sh BUILD_DIR [CELLS] [CONFIGS] [STEPS]
#   e.g. bash bench/bench_dist.sh build/release rnn L,XL 10
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(cd "$1" && pwd)
cells=${2:-rnn}
configs=${3:-L,XL}
steps=${4:-10}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
bench=$build/bench/bench_dist
for cell in ${cells//,/ }; do
    for config in ${configs//,/ }; do
        args=(--cell "$cell" --config "$config" --steps "$steps")
        for ranks in 1 2; do
            printf '{"who": "tapegrad", "where": "localhost", '
            mpirun --bind-to none -np "$ranks" "$bench" "${args[@]}" | sed 's/^{//'
        done
        if [ "$(id -u)" -eq 0 ]; then
            printf '{"who": "tapegrad", "where": "namespaces", '
            NETNS_TIMEOUT=600 bash tests/dist/netns.sh "$build" "$bench" "${args[@]}" | sed -n "s/^{//p"
        fi
        for ranks in 1 2; do
            printf '{"who": "pytorch-ddp", "where": "localhost", '
            /usr/bin/python3 bench/dist_torch.py --cell "$cell" --config "$config" --ranks "$ranks" \
                --steps "$steps" | sed 's/^{//'
        done
    done
done
