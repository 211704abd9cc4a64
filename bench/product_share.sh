#!/usr/bin/env bash
# How much of bench_rnn's one-thread training step is matrix products, and
# how fast those products run on their own: the share of the BLIS peak the
# step could reach if everything else (gates, softmax, copies, Adam, the
# tape) took no time at all. Sampled with perf (Debian: linux-perf) over
# one bench_rnn child per configuration.
#
#   bash bench/product_share.sh BUILD_DIR [CELLS] [CONFIGS]
#   e.g. bash bench/product_share.sh build/release rnn,lstm,gru S,M
#
# Samples count as products when they fall in BLIS or in tapegrad's own
# product kernels (tensor/gemm_small.c, gemm_tiny.c, gemm_tall.c). The
# step's setup (building the model, warm-up) is sampled too, which makes
# the products' share a little lower than in the timed steps alone.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(cd "$1" && pwd)
cells=${2:-rnn,lstm,gru}
configs=${3:-S,M}
bench=$build/bench/bench_rnn
command -v perf >/dev/null || { echo "product_share.sh: needs perf (apt-get install linux-perf)" >&2; exit 1; }
samples=$(mktemp)
trap 'rm -f "$samples"' EXIT

# The value of "key": in a one-line JSON object.
json_field() { sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$1"; }

peak_line=$("$bench" --peak 1)
peak=$(json_field "$peak_line" peak_gflops)
ceiling=$(json_field "$peak_line" fma_gflops)
product_symbols='tall_tile|tall_part|pass_rows|pack_block|tg_gemm_tall|rows_avx512|row_avx512|rows_avx2|multiply_chunk|multiply_panel|multiply_row_panels|pack_panel|tg_gemm_small|tg_gemm_tiny|gemm_chunk|blis_gemm'
printf '%-5s %-4s %9s %9s %8s %10s %12s %12s\n' cell cfg ms/step GFLOP/s "of peak" "products" \
    "their GFLOP/s" "their share"
for cell in ${cells//,/ }; do
    for config in ${configs//,/ }; do
        line=$(perf record -q -F 2000 -o "$samples" "$bench" --run "$cell" "$config" 1 --cpu-time 2>/dev/null | head -1)
        gflops=$(json_field "$line" gemm_gflops)
        products=$(perf report -i "$samples" --no-children --sort dso,symbol -g none 2>/dev/null |
            awk -v symbols="$product_symbols" '
                /^#/ || !/%/ { next }
                { share = $1; sub("%", "", share); all += share
                  if ($2 ~ /libblis/ || $0 ~ symbols) products += share }
                END { printf "%.3f", products / all }')
        awk -v cell="$cell" -v config="$config" -v ms="$(json_field "$line" ms_median)" \
            -v gflops="$gflops" -v peak="$peak" -v products="$products" 'BEGIN {
                own = gflops / products
                printf "%-5s %-4s %9.2f %9.1f %7.0f%% %9.0f%% %12.1f %11.0f%%\n",
                       cell, config, ms, gflops, 100 * gflops / peak, 100 * products, own, 100 * own / peak }'
    done
done
echo "(BLIS sgemm peak with 1 thread: $peak GFLOP/s; the core's multiply-add ceiling: $ceiling;"
echo " \"their share\" is the step's ceiling with nothing but its products)"
