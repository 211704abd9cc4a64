/*
 * scaling: how the cost of a training step grows with its size.
 *
 * The training step of bench_rnn (bench/rnn_step.h) on the S configuration
 * (T=64, B=32, I=64, H=128), with one dimension changed at a time:
 *
 *   T   64, 256, 1024     cost per timestep should stay flat: the tape is a
 *                         list walked once backward, its overhead per op
 *                         does not depend on its length
 *   B   8, 32, 128        more rows per product: GFLOP/s should rise
 *   H   64, 128, 256, 512 larger products: GFLOP/s should rise
 *
 * Columns: ms per step (median), us per timestep, that relative to the
 * sweep's first row, tape ops and graph (arena) KB per timestep, GEMM
 * GFLOP/s, mallocs per steady-state step.
 *
 *     scaling [--cells rnn,lstm,gru] [--sweeps T,B,H] [--threads N] [--seconds S]
 *             [--cpu-time] [--json]
 *
 * Every point runs in this process, one after another, on one thread by
 * default; --cpu-time times the process's CPU time (for a busy machine).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tapegrad.h>

#include "rnn_step.h"

static const rnn_shape base = { .steps = 64, .batch = 32, .input = 64, .hidden = 128 };

typedef struct sweep {
    const char *name;
    int64_t values[4];
    int count;
} sweep;

static const sweep sweeps[] = {
    { "T", { 64, 256, 1024 }, 3 },
    { "B", { 8, 32, 128 }, 3 },
    { "H", { 64, 128, 256, 512 }, 4 },
};

static rnn_shape shape_with(const char *dimension, int64_t value)
{
    rnn_shape s = base;
    int64_t *target = strcmp(dimension, "T") == 0   ? &s.steps
                    : strcmp(dimension, "B") == 0   ? &s.batch
                                                    : &s.hidden;
    *target = value;
    return s;
}

typedef struct options {
    bool json;
    double seconds;
    int threads;
} options;

/* Runs one sweep for one cell; prints a row per point. -1 on failure. */
static int run_sweep(const char *cell, const sweep *sw, const options *o)
{
    double first_us = 0;
    for (int i = 0; i < sw->count; i++) {
        rnn_bench b;
        rnn_shape s = shape_with(sw->name, sw->values[i]);
        step_timing t = { 0 };
        if (rnn_bench_build(&b, cell, s) == 0)
            t = rnn_bench_time(&b, false, o->seconds);
        if (t.runs == 0) {
            fprintf(stderr, "scaling: %s %s=%lld: %s\n", cell, sw->name, (long long)sw->values[i],
                    tg_error_message());
            rnn_bench_free(&b);
            return -1;
        }
        double steps = (double)s.steps;
        double us_per_timestep = 1e3 * t.ms_median / steps;
        first_us = i == 0 ? us_per_timestep : first_us;
        double relative = us_per_timestep / first_us;
        double ops = (double)b.tape_ops / steps, kb = (double)b.arena_bytes / 1024.0 / steps;
        double gflops = rnn_bench_gemm_flops(&b, false) / t.ms_median * 1e-6;
        if (o->json)
            printf("{\"cell\":\"%s\",\"sweep\":\"%s\",\"steps\":%lld,\"batch\":%lld,\"input\":%lld,"
                   "\"hidden\":%lld,\"threads\":%d,\"mode\":\"train\",\"ms_median\":%.3f,\"runs\":%d,"
                   "\"us_per_timestep\":%.2f,\"relative\":%.3f,\"tape_ops_per_timestep\":%.2f,"
                   "\"arena_kb_per_timestep\":%.1f,\"gemm_gflops\":%.1f,\"mallocs_per_step\":%.2f}\n",
                   cell, sw->name, (long long)s.steps, (long long)s.batch, (long long)s.input,
                   (long long)s.hidden, o->threads, t.ms_median, t.runs, us_per_timestep, relative,
                   ops, kb, gflops, t.mallocs_per_step);
        else
            printf("%-5s %-2s %5lld %4lld %4lld %4lld %9.2f %9.2f %7.2f %8.1f %9.1f %8.1f %8.2f\n",
                   cell, sw->name, (long long)s.steps, (long long)s.batch, (long long)s.input,
                   (long long)s.hidden, t.ms_median, us_per_timestep, relative, ops, kb, gflops,
                   t.mallocs_per_step);
        fflush(stdout);
        rnn_bench_free(&b);
        tg_graph_release();
    }
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: scaling [--cells rnn,lstm,gru] [--sweeps T,B,H] [--threads N] "
                    "[--seconds S] [--cpu-time] [--json]\n");
    return 2;
}

int main(int argc, char **argv)
{
    char cells_arg[64] = "rnn,lstm,gru", sweeps_arg[64] = "T,B,H";
    options o = { .seconds = 2.0, .threads = 1 };
    for (int i = 1; i < argc; i++) {
        char *list = strcmp(argv[i], "--cells") == 0 ? cells_arg
                   : strcmp(argv[i], "--sweeps") == 0 ? sweeps_arg
                                                      : NULL;
        bool has_value = i + 1 < argc;
        if (strcmp(argv[i], "--json") == 0)
            o.json = true;
        else if (strcmp(argv[i], "--cpu-time") == 0)
            bench_use_cpu_time();
        else if (strcmp(argv[i], "--threads") == 0 && has_value)
            o.threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seconds") == 0 && has_value)
            o.seconds = atof(argv[++i]);
        else if (list && has_value && strlen(argv[i + 1]) < 64)
            strcpy(list, argv[++i]);
        else
            return usage();
    }
    if (o.threads < 1 || !(o.seconds > 0))
        return usage();
    tg_set_num_threads(o.threads);
    char *cells[8], *names[8];
    int n_cells = bench_split_list(cells_arg, cells, 8), n_sweeps = bench_split_list(sweeps_arg, names, 8);
    if (!o.json)
        printf("%-5s %-2s %5s %4s %4s %4s %9s %9s %7s %8s %9s %8s %8s\n", "cell", "sw", "T", "B", "I",
               "H", "ms/step", "us/tstep", "rel", "ops/ts", "KB/ts", "GFLOP/s", "mallocs");
    for (int k = 0; k < n_cells; k++)
        if (strcmp(cells[k], "rnn") != 0 && strcmp(cells[k], "lstm") != 0 && strcmp(cells[k], "gru") != 0) {
            fprintf(stderr, "scaling: unknown cell '%s' (rnn, lstm or gru)\n", cells[k]);
            return 2;
        }
    int rc = 0;
    for (int k = 0; k < n_cells; k++)
        for (int w = 0; w < n_sweeps; w++) {
            const sweep *sw = NULL;
            for (size_t j = 0; j < sizeof sweeps / sizeof sweeps[0]; j++)
                if (strcmp(sweeps[j].name, names[w]) == 0)
                    sw = &sweeps[j];
            if (!sw) {
                fprintf(stderr, "scaling: unknown sweep '%s' (T, B or H)\n", names[w]);
                return 2;
            }
            rc |= run_sweep(cells[k], sw, &o);
        }
    return rc ? 1 : 0;
}
