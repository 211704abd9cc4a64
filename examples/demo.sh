#!/usr/bin/env bash
# Installs what is missing, builds, and runs the main demo: the first three
# worked examples in their default mode (text auto-completion with an RNN,
# sentiment analysis with an LSTM, next-day price prediction with a GRU),
# a few minutes on two cores. Each writes its PNG and CSV files to
# out/<example>/; the charts are listed at the end.
# Usage: bash examples/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/deps.sh
tapegrad_install_deps

examples="autocomplete_rnn sentiment_lstm stock_gru"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$(nproc)" --target $examples >/dev/null

for example in $examples; do
    printf '\n################ %s ################\n\n' "$example"
    ./build/release/examples/"$example"
done

printf '\nThe charts the examples wrote (CSV files beside them):\n'
for example in $examples; do
    for png in out/"$example"/*.png; do
        echo "  $png"
    done
done
