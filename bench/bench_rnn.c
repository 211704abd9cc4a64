/*
 * bench_rnn: time one training step of a recurrent network.
 *
 * One step = zero-grad, forward through one recurrent layer (time first),
 * a Linear head at every step over V = 65 classes, cross-entropy, backward,
 * Adam update, graph reset. Inference (INF) = forward only, no gradients.
 *
 *     bench_rnn [--cells rnn,lstm,gru] [--configs S,M,L,XL,INF] [--threads 1,2] [--json]
 *               [--cpu-time]
 *
 * Every (cell, config, threads) runs in a fresh child process, so peak RSS
 * is that configuration's own. Each prints a JSON line; the parent prints a
 * table (or, with --json, the JSON lines only). GEMM GFLOP/s counts the
 * matrix products a step needs; "of peak" divides it by the best
 * bli_sgemm speed on a 1024 square measured in the same run with the same
 * thread count. The GRU uses PyTorch's formulation, like torch.nn.GRU.
 */
#define _POSIX_C_SOURCE 200809L
#include <blis.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <tapegrad.h>

enum { VOCAB = 65 };

typedef struct config {
    const char *name;
    int64_t steps, batch, input, hidden;
    bool infer;
} config;

static const config configs[] = {
    { "S", 64, 32, 64, 128, false },   { "M", 64, 32, 256, 256, false },
    { "L", 100, 16, 512, 512, false }, { "XL", 64, 64, 1024, 1024, false },
    { "INF", 64, 1, 256, 256, true },
};

/* ---- malloc counting (the program is linked with --wrap=malloc & co) ---- */

static atomic_long allocations;
void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__real_aligned_alloc(size_t alignment, size_t size);
void *__wrap_malloc(size_t size) { atomic_fetch_add(&allocations, 1); return __real_malloc(size); }
void *__wrap_calloc(size_t n, size_t size) { atomic_fetch_add(&allocations, 1); return __real_calloc(n, size); }
void *__wrap_realloc(void *p, size_t size) { atomic_fetch_add(&allocations, 1); return __real_realloc(p, size); }
void *__wrap_aligned_alloc(size_t a, size_t size) { atomic_fetch_add(&allocations, 1); return __real_aligned_alloc(a, size); }

/* --cpu-time measures the process's CPU time instead of wall time: on a
 * busy machine, with one thread, it shows the cost of the work itself. */
static clockid_t step_clock = CLOCK_MONOTONIC;

static double now(void)
{
    struct timespec t;
    clock_gettime(step_clock, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* GEMM work of one step, in floating-point operations. */
static double gemm_flops(const config *c, int gates)
{
    double tb = (double)c->steps * (double)c->batch, gh = (double)gates * (double)c->hidden;
    double projection = 2 * tb * (double)c->input * gh;
    double recurrent = 2 * tb * (double)c->hidden * gh;
    double head = 2 * tb * (double)c->hidden * VOCAB;
    if (c->infer)
        return projection + recurrent + head;
    /* backward: no input gradient for the projection; two products elsewhere */
    return 2 * projection + 3 * recurrent + 3 * head;
}

/* ---- Child: one configuration ------------------------------------------------ */

typedef struct bench_model {
    tg_model *model;
    tg_rnn *layer;
    tg_linear *head;
    tg_optimizer *adam;
    tg_tensor *x, *targets;
    const char *cell;
    const config *c;
} bench_model;

static int build(bench_model *m, const char *cell, const config *c)
{
    *m = (bench_model){ .cell = cell, .c = c, .model = tg_model_new(1) };
    tg_rnn_config rc = { .input = c->input, .hidden = c->hidden, .gru = TG_GRU_PYTORCH };
    m->layer = strcmp(cell, "lstm") == 0 ? tg_lstm_new(m->model, "rnn", rc)
             : strcmp(cell, "gru") == 0  ? tg_gru_new(m->model, "rnn", rc)
                                         : tg_rnn_new(m->model, "rnn", rc);
    m->head = tg_linear_new(m->model, "head", (tg_linear_config){ .input = c->hidden, .output = VOCAB });
    m->adam = tg_adam_new(m->model, (tg_adam_config){ .lr = 1e-3 });
    tg_rng rng = tg_rng_new(7);
    m->x = tg_tensor_randn(TG_SHAPE(c->steps, c->batch, c->input), &rng);
    m->targets = tg_tensor_empty(TG_SHAPE(c->steps, c->batch));
    for (int64_t i = 0; m->targets && i < m->targets->numel; i++)
        m->targets->data[i] = (float)tg_rng_below(&rng, VOCAB);
    return m->layer && m->head && m->adam && m->x && m->targets ? 0 : -1;
}

static int train_step(bench_model *m)
{
    tg_model_zero_grad(m->model);
    tg_rnn_result r = strcmp(m->cell, "lstm") == 0 ? tg_lstm_forward(m->layer, m->x, NULL)
                    : strcmp(m->cell, "gru") == 0  ? tg_gru_forward(m->layer, m->x, NULL)
                                                   : tg_rnn_forward(m->layer, m->x, NULL);
    tg_tensor *loss = tg_cross_entropy(tg_linear_forward(m->head, r.output), m->targets, NULL);
    int rc = loss && tg_backward(loss) == 0 && tg_optimizer_step(m->adam) == 0 ? 0 : -1;
    tg_graph_reset();
    return rc;
}

static int infer_step(bench_model *m)
{
    tg_no_grad_begin();
    tg_rnn_result r = strcmp(m->cell, "lstm") == 0 ? tg_lstm_forward(m->layer, m->x, NULL)
                    : strcmp(m->cell, "gru") == 0  ? tg_gru_forward(m->layer, m->x, NULL)
                                                   : tg_rnn_forward(m->layer, m->x, NULL);
    tg_tensor *logits = tg_linear_forward(m->head, r.output);
    tg_no_grad_end();
    tg_graph_reset();
    return logits ? 0 : -1;
}

static int run_child(const char *cell, const char *config_name, int threads)
{
    const config *c = NULL;
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++)
        if (strcmp(configs[i].name, config_name) == 0)
            c = &configs[i];
    if (!c)
        return 2;
    tg_set_num_threads(threads);
    bench_model m;
    if (build(&m, cell, c) != 0) {
        fprintf(stderr, "bench_rnn: %s\n", tg_error_message());
        return 1;
    }
    int (*step)(bench_model *) = c->infer ? infer_step : train_step;
    for (int i = 0; i < 3; i++) /* warm up: arena, gradients, optimizer state */
        if (step(&m) != 0) {
            fprintf(stderr, "bench_rnn: %s\n", tg_error_message());
            return 1;
        }
    enum { MAX_RUNS = 200 };
    double times[MAX_RUNS];
    long mallocs = 0;
    int runs = 0;
    for (double start = now(); runs < MAX_RUNS && (runs < 5 || now() - start < 3.0); runs++) {
        long before = atomic_load(&allocations);
        double t = now();
        step(&m);
        times[runs] = now() - t;
        mallocs += atomic_load(&allocations) - before;
    }
    double ms = 1e3 * median(times, runs);
    int gates = strcmp(cell, "lstm") == 0 ? 4 : strcmp(cell, "gru") == 0 ? 3 : 1;
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    printf("{\"cell\":\"%s\",\"config\":\"%s\",\"threads\":%d,\"mode\":\"%s\",\"ms_median\":%.3f,"
           "\"runs\":%d,\"gemm_gflops\":%.1f,\"mallocs_per_step\":%.2f,\"peak_rss_mb\":%.1f}\n",
           cell, c->name, threads, c->infer ? "infer" : "train", ms, runs,
           gemm_flops(c, gates) / ms * 1e-6, (double)mallocs / runs, usage.ru_maxrss / 1024.0);
    tg_optimizer_free(m.adam);
    tg_model_free(m.model);
    tg_tensor_free(m.x);
    tg_tensor_free(m.targets);
    tg_graph_release();
    return 0;
}

/* Best GFLOP/s of bli_sgemm on a 1024 square with `threads` threads. */
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
        double t = now();
        bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, n, n, n, &one, a, n, 1, b, n, 1, &zero, c,
                     n, 1, NULL, &rntm);
        double gflops = 2.0 * n * n * n / (now() - t) * 1e-9;
        best = gflops > best ? gflops : best;
    }
    printf("{\"peak_gflops\":%.1f,\"threads\":%d,\"kernel_set\":\"%s\"}\n", best, threads,
           tg_blas_kernel_set());
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

static double json_number(const char *line, const char *key)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *at = line ? strstr(line, pattern) : NULL;
    return at ? strtod(at + strlen(pattern), NULL) : -1.0;
}

/* Splits a comma-separated flag value in place; returns the count. */
static int split_list(char *text, char **items, int max)
{
    int n = 0;
    for (char *item = strtok(text, ","); item && n < max; item = strtok(NULL, ","))
        items[n++] = item;
    return n;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && strcmp(argv[1], "--run") == 0) {
        if (argc == 6 && strcmp(argv[5], "--cpu-time") == 0)
            step_clock = CLOCK_PROCESS_CPUTIME_ID;
        return run_child(argv[2], argv[3], atoi(argv[4]));
    }
    if (argc == 3 && strcmp(argv[1], "--peak") == 0)
        return run_peak_child(atoi(argv[2]));

    char cells_arg[64] = "rnn,lstm,gru", configs_arg[64] = "S,M,L,XL,INF", threads_arg[64] = "1,2";
    bool json = false;
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
        } else if (target && i + 1 < argc && strlen(argv[i + 1]) < 64) {
            strcpy(target, argv[++i]);
        } else {
            fprintf(stderr, "usage: bench_rnn [--cells rnn,lstm,gru] [--configs S,M,L,XL,INF] "
                            "[--threads 1,2] [--json] [--cpu-time]\n");
            return 2;
        }
    }
    char *cells[8], *names[8], *threads[8];
    int n_cells = split_list(cells_arg, cells, 8), n_configs = split_list(configs_arg, names, 8),
        n_threads = split_list(threads_arg, threads, 8);
    const char *self = "/proc/self/exe";
    char exe[1024];
    ssize_t len = readlink(self, exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        self = exe;
    }
    if (!json)
        printf("%-5s %-4s %3s %-5s %10s %8s %8s %9s %9s\n", "cell", "cfg", "thr", "mode", "ms/step",
               "GFLOP/s", "of peak", "mallocs", "RSS MB");
    for (int t = 0; t < n_threads; t++) {
        char *peak_line = run_self(self, (const char *[]){ "--peak", threads[t], NULL });
        double peak = json_number(peak_line, "peak_gflops");
        if (json && peak_line)
            fputs(peak_line, stdout);
        free(peak_line);
        for (int c = 0; c < n_configs; c++)
            for (int k = 0; k < n_cells; k++) {
                char *line = run_self(self, (const char *[]){ "--run", cells[k], names[c], threads[t],
                                                             cpu_time, NULL });
                if (!line) {
                    fprintf(stderr, "bench_rnn: %s %s %s failed\n", cells[k], names[c], threads[t]);
                    continue;
                }
                if (json) {
                    fputs(line, stdout);
                } else {
                    double gflops = json_number(line, "gemm_gflops");
                    printf("%-5s %-4s %3s %-5s %10.2f %8.1f %7.0f%% %9.2f %9.1f\n", cells[k], names[c],
                           threads[t], strstr(line, "infer") ? "infer" : "train",
                           json_number(line, "ms_median"), gflops, 100.0 * gflops / peak,
                           json_number(line, "mallocs_per_step"), json_number(line, "peak_rss_mb"));
                }
                fflush(stdout);
                free(line);
            }
        if (!json)
            printf("(BLIS sgemm peak with %s thread(s): %.1f GFLOP/s)\n", threads[t], peak);
    }
    return 0;
}
