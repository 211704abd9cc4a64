/*
 * bench_int8: batch-of-one inference, fp32 against int8 (tg_quantize_dynamic),
 * side by side in one process.
 *
 * The step is bench_rnn's INF (bench/rnn_step.c): T = 64 steps of one
 * sequence, input 256, hidden 256, through one recurrent layer and a Linear
 * head over 65 classes, forward only with grad mode off. Two copies of the
 * same model are built; one is quantised. The two are timed in alternating
 * rounds (each round: warm-up, then steps for `seconds`), and the table
 * shows each one's median over the rounds and the speed-up (fp32 / int8),
 * so that a noisy machine affects both alike.
 *
 *     bench_int8 [--cells rnn,lstm,gru] [--rounds 3] [--seconds 1] [--threads 1]
 *                [--cpu-time] [--json]
 *
 * With --json it prints one JSON line per cell. The int8 product's path
 * ("avx512-vnni" or "plain C", tensor/quantize.h) is printed too.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tapegrad.h>

#include "rnn_step.h"

enum { MAX_ROUNDS = 15 };

int main(int argc, char **argv)
{
    char cells_arg[64] = "rnn,lstm,gru";
    int rounds = 3, threads = 1;
    double seconds = 1.0;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--cells") == 0 && i + 1 < argc)
            snprintf(cells_arg, sizeof cells_arg, "%s", argv[++i]);
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--cpu-time") == 0)
            bench_use_cpu_time();
        else if (strcmp(argv[i], "--json") == 0)
            json = true;
        else {
            fprintf(stderr, "usage: bench_int8 [--cells rnn,lstm,gru] [--rounds 3] [--seconds 1] "
                            "[--threads 1] [--cpu-time] [--json]\n");
            return 2;
        }
    }
    if (rounds < 1 || rounds > MAX_ROUNDS || threads < 1 || !(seconds > 0)) {
        fprintf(stderr, "bench_int8: rounds must be in [1, %d], threads positive, seconds > 0\n",
                MAX_ROUNDS);
        return 2;
    }
    tg_set_num_threads(threads);
    char *cells[3];
    int n_cells = bench_split_list(cells_arg, cells, 3);
    const rnn_shape shape = { 64, 1, 256, 256 }; /* bench_rnn's INF */
    if (!json)
        printf("batch-of-one inference (T %lld, B %lld, I %lld, H %lld, head %d), %d thread(s), "
               "int8 path: %s; medians of %d rounds\n\n"
               "| cell | fp32 ms | int8 ms | fp32 / int8 |\n|---|---|---|---|\n",
               (long long)shape.steps, (long long)shape.batch, (long long)shape.input,
               (long long)shape.hidden, RNN_STEP_VOCAB, threads, tg_int8_kernel_name(), rounds);
    for (int c = 0; c < n_cells; c++) {
        rnn_bench fp32, int8;
        if (rnn_bench_build(&fp32, cells[c], shape) != 0 || rnn_bench_build(&int8, cells[c], shape) != 0 ||
            tg_quantize_dynamic(int8.model) != 0) {
            fprintf(stderr, "bench_int8: %s: %s\n", cells[c], tg_error_message());
            return 1;
        }
        double ms[2][MAX_ROUNDS];
        for (int r = 0; r < rounds; r++) {
            rnn_bench *both[2] = { &fp32, &int8 };
            for (int k = 0; k < 2; k++) {
                step_timing t = rnn_bench_time(both[k], true, seconds);
                if (t.runs == 0) {
                    fprintf(stderr, "bench_int8: %s: %s\n", cells[c], tg_error_message());
                    return 1;
                }
                ms[k][r] = t.ms_median;
            }
        }
        double fp32_ms = bench_median(ms[0], rounds), int8_ms = bench_median(ms[1], rounds);
        if (json)
            printf("{\"cell\":\"%s\",\"config\":\"INF\",\"threads\":%d,\"fp32_ms\":%.4f,"
                   "\"int8_ms\":%.4f,\"int8_path\":\"%s\"}\n",
                   cells[c], threads, fp32_ms, int8_ms, tg_int8_kernel_name());
        else
            printf("| %s | %.3f | %.3f | %.2fx |\n", cells[c], fp32_ms, int8_ms, fp32_ms / int8_ms);
        fflush(stdout);
        rnn_bench_free(&fp32);
        rnn_bench_free(&int8);
    }
    tg_graph_release();
    return 0;
}
