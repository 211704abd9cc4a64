/*
 * bench_rnn: time one training step of a recurrent network.
 *
 * One step = zero-grad, forward through one recurrent layer (time first),
 * a Linear head at every step over V = 65 classes, cross-entropy, backward,
 * Adam update, graph reset. Inference (INF) = forward only, no gradients.
 * The step itself is in bench/rnn_step.c, shared with bench/scaling.
 *
 *     bench_rnn [--cells rnn,lstm,gru] [--configs S,M,L,XL,INF] [--threads 1,2] [--json]
 *               [--cpu-time] [--busy] [--split]
 *
 * Every (cell, config, threads) runs in a fresh child process, so peak RSS
 * is that configuration's own. Each prints a JSON line; the parent prints a
 * table (or, with --json, the JSON lines only). ms/step is the median
 * step's time; mean, the average, counts also the few slow steps (on a
 * busy machine, those that waited for a descheduled thread). GEMM GFLOP/s
 * counts the matrix products a step needs, at the median; "of peak"
 * divides it by the best bli_sgemm speed on a 1024 square measured in the
 * same run with the same thread count. With one thread the footer also
 * gives the core's multiply-add ceiling (vector FMAs alone): how far any
 * product could go beyond BLIS. The GRU uses PyTorch's
 * formulation, like torch.nn.GRU.
 *
 * --busy measures everything twice: as usual, then with another process
 * spinning on one core the whole time (as a second program on the machine
 * would), the "busy" column saying which. Compare the two thread counts
 * within each half, by the wall clock (without --cpu-time): CPU time would
 * not show the time a step waits for a core.
 *
 * --split adds, for every thread count above 1, training steps that cut
 * the batch into parts, each part's whole forward and backward on one
 * thread (tg_batch_split): mode "split". Two parts per thread while each
 * keeps at least 8 rows, else one: when another program slows one thread
 * down, the others take the parts it has not started (with one part per
 * thread, the step waits for the slow thread's whole half), but a part of
 * 4 rows makes products too thin (measured in BENCHMARKS.md).
 */
#define _POSIX_C_SOURCE 200809L
#include <blis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__AVX512F__) || defined(__FMA__)
#include <immintrin.h>
#endif

#include <tapegrad.h>

#include "rnn_step.h"

typedef struct config {
    const char *name;
    rnn_shape shape;
    bool infer;
} config;

static const config configs[] = {
    { "S", { 64, 32, 64, 128 }, false },   { "M", { 64, 32, 256, 256 }, false },
    { "L", { 100, 16, 512, 512 }, false }, { "XL", { 64, 64, 1024, 1024 }, false },
    { "INF", { 64, 1, 256, 256 }, true },
};

/* ---- Child: one configuration ------------------------------------------------ */

/* Parts of a split batch: two per thread while each keeps 8 rows. */
static int split_parts(int threads, int64_t batch)
{
    return batch >= 16 * (int64_t)threads ? 2 * threads : threads;
}

static int run_child(const char *cell, const char *config_name, int threads, bool split)
{
    const config *c = NULL;
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++)
        if (strcmp(configs[i].name, config_name) == 0)
            c = &configs[i];
    if (!c)
        return 2;
    tg_set_num_threads(threads);
    rnn_bench b;
    if (rnn_bench_build(&b, cell, c->shape) != 0 || (split && rnn_bench_split(&b, split_parts(threads, c->shape.batch)) != 0)) {
        fprintf(stderr, "bench_rnn: %s: %s\n", cell, tg_error_message());
        return 1;
    }
    step_timing timing = rnn_bench_time(&b, c->infer, 3.0);
    if (timing.runs == 0) {
        fprintf(stderr, "bench_rnn: %s\n", tg_error_message());
        return 1;
    }
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    printf("{\"cell\":\"%s\",\"config\":\"%s\",\"threads\":%d,\"mode\":\"%s\",\"ms_median\":%.3f,"
           "\"ms_mean\":%.3f,\"runs\":%d,\"gemm_gflops\":%.1f,\"mallocs_per_step\":%.2f,"
           "\"peak_rss_mb\":%.1f}\n",
           cell, c->name, threads, c->infer ? "infer" : split ? "split" : "train", timing.ms_median,
           timing.ms_mean, timing.runs,
           rnn_bench_gemm_flops(&b, c->infer) / timing.ms_median * 1e-6, timing.mallocs_per_step,
           usage.ru_maxrss / 1024.0);
    rnn_bench_free(&b);
    tg_graph_release();
    return 0;
}

/* The core's multiply-add ceiling in GFLOP/s: independent chains of
 * vector FMAs (as wide as this build's target has), no memory traffic.
 * Twelve chains cover the FMA latency of both pipes. No product can run
 * faster on one thread, BLIS's or ours. 0 when the build targets no FMA
 * instructions (-DTAPEGRAD_NATIVE=OFF): it has no ceiling worth quoting. */
static double fma_ceiling_gflops(void)
{
#if defined(__AVX512F__)
    typedef __m512 lane_t;
#define LANE_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define LANE_SET(x) _mm512_set1_ps(x)
#define LANE_FIRST(v) _mm512_cvtss_f32(v)
#elif defined(__FMA__)
    typedef __m256 lane_t;
#define LANE_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define LANE_SET(x) _mm256_set1_ps(x)
#define LANE_FIRST(v) _mm256_cvtss_f32(v)
#endif
#ifdef LANE_FMA
    enum { CHAINS = 12, ROUNDS = 20000000 };
    lane_t acc[CHAINS], scale = LANE_SET(0.999999f), add = LANE_SET(1e-7f);
    for (int i = 0; i < CHAINS; i++)
        acc[i] = LANE_SET((float)i);
    double best = 0;
    for (int r = 0; r < 5; r++) {
        double t = bench_now();
        for (long k = 0; k < ROUNDS; k++)
            for (int i = 0; i < CHAINS; i++)
                acc[i] = LANE_FMA(acc[i], scale, add);
        double gflops = 2.0 * ROUNDS * CHAINS * (sizeof(lane_t) / sizeof(float)) / (bench_now() - t) * 1e-9;
        best = gflops > best ? gflops : best;
    }
    volatile float sink = 0; /* the chains are read, so the loop is kept */
    for (int i = 0; i < CHAINS; i++)
        sink += LANE_FIRST(acc[i]);
    return best;
#undef LANE_FMA
#undef LANE_SET
#undef LANE_FIRST
#else
    return 0;
#endif
}

/* Best GFLOP/s of bli_sgemm on a 1024 square with `threads` threads, and
 * (one thread) the core's multiply-add ceiling beside it. */
static int run_peak_child(int threads)
{
    tg_set_num_threads(threads); /* also chooses the BLIS kernel set */
    const int n = 1024;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n),
          *c = malloc(sizeof(float) * n * n);
    for (int i = 0; i < n * n; i++)
        a[i] = b[i] = 1.0f / (float)(1 + i % 7);
    float one = 1.0f, zero = 0.0f;
    rntm_t rntm = BLIS_RNTM_INITIALIZER;
    bli_rntm_set_num_threads(threads, &rntm);
    double best = 0;
    for (int r = 0; r < 20; r++) {
        double t = bench_now();
        bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, n, n, n, &one, a, n, 1, b, n, 1, &zero, c,
                     n, 1, NULL, &rntm);
        double gflops = 2.0 * n * n * n / (bench_now() - t) * 1e-9;
        best = gflops > best ? gflops : best;
    }
    printf("{\"peak_gflops\":%.1f,\"fma_gflops\":%.1f,\"threads\":%d,\"kernel_set\":\"%s\"}\n", best,
           threads == 1 ? fma_ceiling_gflops() : 0.0, threads, tg_blas_kernel_set());
    free(a);
    free(b);
    free(c);
    return 0;
}

/* ---- Parent ----------------------------------------------------------------------- */

/* Runs this program with args and returns its first output line (malloc'd). */
static char *run_self(const char *self, const char *const *args)
{
    char command[1024];
    int used = snprintf(command, sizeof command, "'%s'", self);
    for (int i = 0; args[i]; i++)
        used += snprintf(command + used, sizeof command - (size_t)used, " %s", args[i]);
    FILE *pipe = popen(command, "r");
    if (!pipe)
        return NULL;
    char *line = NULL;
    size_t size = 0;
    if (getline(&line, &size, pipe) < 0) {
        free(line);
        line = NULL;
    }
    pclose(pipe);
    return line;
}

/* A process that keeps one core busy until killed. */
static pid_t start_busy_loop(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        for (volatile unsigned long spin = 0;; spin++)
            ;
    }
    return pid;
}

static void stop_busy_loop(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

static double json_number(const char *line, const char *key)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *at = line ? strstr(line, pattern) : NULL;
    return at ? strtod(at + strlen(pattern), NULL) : -1.0;
}

/* Every (config, cell) with one thread count, after the same-run peak. */
static void measure(const char *self, const char *threads, char **cells, int n_cells, char **names,
                    int n_configs, const char *cpu_time, bool json, int busy, bool split)
{
    char *peak_line = run_self(self, (const char *[]){ "--peak", threads, NULL });
    double peak = json_number(peak_line, "peak_gflops"), ceiling = json_number(peak_line, "fma_gflops");
    if (json && peak_line)
        fputs(peak_line, stdout);
    free(peak_line);
    for (int c = 0; c < n_configs; c++)
        for (int k = 0; k < n_cells; k++) {
            if (split && strcmp(names[c], "INF") == 0)
                continue;
            const char *cpu = cpu_time ? cpu_time : "", *split_flag = split ? "--split" : "";
            char *line = run_self(self, (const char *[]){ "--run", cells[k], names[c], threads, cpu,
                                                         split_flag, NULL });
            if (!line) {
                fprintf(stderr, "bench_rnn: %s %s %s failed\n", cells[k], names[c], threads);
                continue;
            }
            if (json) {
                fputs(line, stdout);
            } else {
                double gflops = json_number(line, "gemm_gflops");
                printf("%-5s %-4s %3s %-5s %-4s %10.2f %8.2f %8.1f %7.0f%% %9.2f %9.1f\n", cells[k],
                       names[c], threads, strstr(line, "infer") ? "infer" : split ? "split" : "train",
                       busy ? "yes" : "no", json_number(line, "ms_median"), json_number(line, "ms_mean"),
                       gflops, 100.0 * gflops / peak,
                       json_number(line, "mallocs_per_step"), json_number(line, "peak_rss_mb"));
            }
            fflush(stdout);
            free(line);
        }
    if (json || split)
        return;
    printf("(BLIS sgemm peak with %s thread(s)%s: %.1f GFLOP/s", threads, busy ? ", one core busy" : "", peak);
    if (ceiling > 0)
        printf("; the core's multiply-add ceiling: %.1f", ceiling);
    printf(")\n");
}

int main(int argc, char **argv)
{
    if (argc >= 5 && strcmp(argv[1], "--run") == 0) {
        bool split = false;
        for (int i = 5; i < argc; i++) {
            if (strcmp(argv[i], "--cpu-time") == 0)
                bench_use_cpu_time();
            split = split || strcmp(argv[i], "--split") == 0;
        }
        return run_child(argv[2], argv[3], atoi(argv[4]), split);
    }
    if (argc == 3 && strcmp(argv[1], "--peak") == 0)
        return run_peak_child(atoi(argv[2]));

    char cells_arg[64] = "rnn,lstm,gru", configs_arg[64] = "S,M,L,XL,INF", threads_arg[64] = "1,2";
    bool json = false, busy_too = false, split_too = false;
    const char *cpu_time = NULL;
    for (int i = 1; i < argc; i++) {
        char *target = strcmp(argv[i], "--cells") == 0     ? cells_arg
                     : strcmp(argv[i], "--configs") == 0   ? configs_arg
                     : strcmp(argv[i], "--threads") == 0   ? threads_arg
                                                            : NULL;
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--cpu-time") == 0) {
            cpu_time = "--cpu-time";
        } else if (strcmp(argv[i], "--busy") == 0) {
            busy_too = true;
        } else if (strcmp(argv[i], "--split") == 0) {
            split_too = true;
        } else if (target && i + 1 < argc && strlen(argv[i + 1]) < 64) {
            strcpy(target, argv[++i]);
        } else {
            fprintf(stderr, "usage: bench_rnn [--cells rnn,lstm,gru] [--configs S,M,L,XL,INF] "
                            "[--threads 1,2] [--json] [--cpu-time] [--busy] [--split]\n");
            return 2;
        }
    }
    char *cells[8], *names[8], *threads[8];
    int n_cells = bench_split_list(cells_arg, cells, 8), n_configs = bench_split_list(configs_arg, names, 8),
        n_threads = bench_split_list(threads_arg, threads, 8);
    const char *self = "/proc/self/exe";
    char exe[1024];
    ssize_t len = readlink(self, exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        self = exe;
    }
    if (!json)
        printf("%-5s %-4s %3s %-5s %-4s %10s %8s %8s %8s %9s %9s\n", "cell", "cfg", "thr", "mode", "busy",
               "ms/step", "mean", "GFLOP/s", "of peak", "mallocs", "RSS MB");
    for (int busy = 0; busy <= (int)busy_too; busy++) {
        pid_t busy_loop = busy ? start_busy_loop() : 0;
        for (int t = 0; t < n_threads; t++) {
            measure(self, threads[t], cells, n_cells, names, n_configs, cpu_time, json, busy, false);
            if (split_too && atoi(threads[t]) > 1)
                measure(self, threads[t], cells, n_cells, names, n_configs, cpu_time, json, busy, true);
        }
        stop_busy_loop(busy_loop);
    }
    return 0;
}
