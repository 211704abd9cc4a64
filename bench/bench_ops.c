/*
 * bench_ops: how close tapegrad's kernels come to what the machine gives.
 *
 *   matmul       tg_kernel_matmul vs bli_sgemm called directly on the same
 *                buffers and strides (goal: library >= 95% of BLIS); thin
 *                products with an unchanged b use tapegrad's packed-weight
 *                path, ", new B" rows the path of a b written in between;
 *                ", x64" rows time 64 products in a row, as a sequence's
 *                steps run them: with one row of a, each reads b once, so
 *                GF/s is b's bytes per second / 2 (b of 0.5 MB and 1 MB
 *                here: in and just past L2 cache)
 *   elementwise  16M-float kernels in GB/s vs a plain C copy loop over the
 *                same number of floats (goal: >= 70% of the copy loop)
 *   reduce       tg_kernel_sum_to in GB/s read vs a plain C loop adding the
 *                rows of x into one row of floats, one after another (goal:
 *                >= 70% of that loop); the kernel is single-threaded
 *   tiny op      recording and back-propagating tg_mul_scalar on a
 *                1-element tensor, per op of a 100000-op chain (goal: < 0.3 us)
 *
 * Both sides of each comparison run with the same thread count; runs
 * alternate between the two sides and each figure is the median.
 *
 *   bench_ops [--threads N]   (default: 1, then 2)
 *             [--quick]       fewer repetitions
 */
#include <blis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tapegrad.h>
#include <tensor/kernel.h>

#define MAX_REPS 31

static int reps_scale = 1; /* --quick divides repetitions by 3 */

static double clock_seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now(void) { return clock_seconds(CLOCK_MONOTONIC); }

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    return v[n / 2];
}

/* A side of a comparison: one timed run. */
typedef void (*run_fn)(void *ctx);

/* Timings of a comparison: median seconds of each side, and the median
 * over runs of ref/lib, the library's speed relative to the reference.
 * Runs alternate, so each ratio compares two neighbouring runs: on a
 * machine that is busy with other work, that ratio is steadier than the
 * ratio of the two medians. */
typedef struct timing {
    double lib, ref, speed;
} timing;

static timing time_pair(run_fn lib, run_fn ref, void *ctx, int reps)
{
    double a[MAX_REPS], b[MAX_REPS], q[MAX_REPS];
    reps = reps / reps_scale < 3 ? 3 : reps / reps_scale;
    if (reps > MAX_REPS)
        reps = MAX_REPS;
    lib(ctx); /* warm-up */
    ref(ctx);
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        lib(ctx);
        double t1 = now();
        ref(ctx);
        double t2 = now();
        a[r] = t1 - t0;
        b[r] = t2 - t1;
        q[r] = b[r] / a[r];
    }
    return (timing){ median(a, reps), median(b, reps), median(q, reps) };
}

/* One line of the table: rates of both sides, and the library's share of
 * the reference's rate (`ratio`) against the goal. */
static void row(const char *section, const char *name, int threads, double lib, double ref,
                const char *unit, double ratio, double goal)
{
    printf("%-12s %-26s %7d %10.2f %10.2f %-6s %6.1f%%  %s\n", section, name, threads, lib, ref, unit,
           100.0 * ratio, ratio >= goal ? "ok" : "BELOW GOAL");
}

/* ---- Matmul ---------------------------------------------------------------- */

typedef struct gemm_case {
    int64_t m, k, n;
    bool ta, tb;  /* operand stored transposed (a view for the library) */
    bool new_b;   /* b counts as rewritten before every product */
    int repeat;   /* products per timed run */
} gemm_case;

typedef struct gemm_ctx {
    tg_tensor *out;
    const tg_tensor *a, *b; /* [m,k] and [k,n], views when transposed */
    bool new_b;
    int repeat;
} gemm_ctx;

/* Products with few rows reuse a packed copy of b while b is unchanged
 * (tensor/gemm_small.h), as a recurrent layer's weight is between optimizer
 * steps; with new_b, b is marked written before each product, so every
 * call goes the way a product with a fresh b goes. */
static void gemm_library(void *p)
{
    gemm_ctx *c = p;
    for (int r = 0; r < c->repeat; r++) {
        if (c->new_b)
            tg_tensor_mark_written(c->b);
        tg_kernel_matmul(c->out, c->a, c->b, 1.0f, 0.0f);
    }
}

static void gemm_blis(void *p)
{
    gemm_ctx *c = p;
    float one = 1.0f, zero = 0.0f;
    const tg_tensor *a = c->a, *b = c->b;
    for (int r = 0; r < c->repeat; r++)
        bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, c->out->shape[0], c->out->shape[1], a->shape[1], &one,
                  a->data, a->stride[0], a->stride[1], b->data, b->stride[0], b->stride[1], &zero,
                  c->out->data, c->out->stride[0], c->out->stride[1]);
}

static void bench_matmul(int threads)
{
    const gemm_case cases[] = {
        { 256, 256, 256, false, false, false, 1 },   { 512, 512, 512, false, false, false, 1 },
        { 1024, 1024, 1024, false, false, false, 1 }, { 32, 512, 128, false, false, false, 1 },
        { 32, 512, 128, false, false, true, 1 },     { 16, 2048, 512, false, false, false, 1 },
        { 16, 2048, 512, false, false, true, 1 },    { 64, 4096, 1024, false, false, false, 1 },
        { 64, 4096, 1024, false, false, true, 1 },   { 512, 512, 512, true, false, false, 1 },
        { 512, 512, 512, false, true, false, 1 },    { 64, 4096, 1024, false, true, false, 1 },
        { 64, 4096, 1024, false, true, true, 1 },    { 1, 256, 512, false, false, false, 64 },
        { 1, 256, 1024, false, false, false, 64 },
    };
    tg_rng rng = tg_rng_new(1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gemm_case g = cases[i];
        tg_tensor *a = tg_tensor_randn(g.ta ? TG_SHAPE(g.k, g.m) : TG_SHAPE(g.m, g.k), &rng);
        tg_tensor *b = tg_tensor_randn(g.tb ? TG_SHAPE(g.n, g.k) : TG_SHAPE(g.k, g.n), &rng);
        tg_tensor *out = tg_tensor_zeros(TG_SHAPE(g.m, g.n));
        gemm_ctx ctx = { out, g.ta ? tg_view_transpose(a, 0, 1) : a, g.tb ? tg_view_transpose(b, 0, 1) : b,
                         g.new_b, g.repeat };
        double flops = 2.0 * (double)g.m * (double)g.k * (double)g.n * g.repeat;
        int reps = flops > 1e9 ? 9 : 31;
        timing t = time_pair(gemm_library, gemm_blis, &ctx, reps);
        char name[64], repeated[16] = "";
        if (g.repeat > 1)
            snprintf(repeated, sizeof repeated, ", x%d", g.repeat);
        snprintf(name, sizeof name, "%lldx%lldx%lld%s%s%s%s", (long long)g.m, (long long)g.k, (long long)g.n,
                 g.ta ? " A^T" : "", g.tb ? " B^T" : "", g.new_b ? ", new B" : "", repeated);
        row("matmul", name, threads, flops / t.lib * 1e-9, flops / t.ref * 1e-9, "GF/s", t.speed, 0.95);
        tg_tensor_free(a);
        tg_tensor_free(b);
        tg_tensor_free(out);
        tg_graph_reset();
    }
}

/* ---- Elementwise ----------------------------------------------------------- */

#define ELEMENTS (16 * 1024 * 1024)

typedef struct map_ctx {
    int kind; /* index into the cases below */
    tg_tensor *out, *x, *y, *row;
    int threads;
} map_ctx;

enum { MAP_ADD, MAP_MUL, MAP_TANH, MAP_SIGMOID, MAP_EXP, MAP_COPY, MAP_ADD_ROW };

static void map_library(void *p)
{
    map_ctx *c = p;
    switch (c->kind) {
    case MAP_ADD: tg_kernel_binary(TG_BINARY_ADD, c->out, c->x, c->y, false); break;
    case MAP_MUL: tg_kernel_binary(TG_BINARY_MUL, c->out, c->x, c->y, false); break;
    case MAP_TANH: tg_kernel_unary(TG_UNARY_TANH, c->out, c->x, NULL, false); break;
    case MAP_SIGMOID: tg_kernel_unary(TG_UNARY_SIGMOID, c->out, c->x, NULL, false); break;
    case MAP_EXP: tg_kernel_unary(TG_UNARY_EXP, c->out, c->x, NULL, false); break;
    case MAP_COPY: tg_kernel_copy(c->out, c->x, false); break;
    case MAP_ADD_ROW: tg_kernel_binary(TG_BINARY_ADD, c->out, c->x, c->row, false); break;
    }
}

/* The reference: out[i] = x[i] over the same number of floats, threaded as
 * the library is. */
static void copy_loop(void *p)
{
    map_ctx *c = p;
    float *restrict out = c->out->data;
    const float *restrict x = c->x->data;
#pragma omp parallel for num_threads(c->threads) schedule(static)
    for (int64_t i = 0; i < ELEMENTS; i++)
        out[i] = x[i];
}

static void bench_elementwise(int threads)
{
    const struct {
        const char *name;
        int streams; /* floats read and written per element */
    } cases[] = {
        [MAP_ADD] = { "add", 3 },   [MAP_MUL] = { "mul", 3 },         [MAP_TANH] = { "tanh", 2 },
        [MAP_SIGMOID] = { "sigmoid", 2 }, [MAP_EXP] = { "exp", 2 },   [MAP_COPY] = { "copy", 2 },
        [MAP_ADD_ROW] = { "add [4096,4096]+[4096]", 2 },
    };
    tg_rng rng = tg_rng_new(2);
    map_ctx ctx = { .threads = threads };
    ctx.x = tg_tensor_uniform(TG_SHAPE(4096, 4096), -3, 3, &rng);
    ctx.y = tg_tensor_uniform(TG_SHAPE(4096, 4096), -3, 3, &rng);
    ctx.out = tg_tensor_zeros(TG_SHAPE(4096, 4096));
    ctx.row = tg_tensor_uniform(TG_SHAPE(4096), -3, 3, &rng);
    for (int k = 0; k < (int)(sizeof cases / sizeof cases[0]); k++) {
        ctx.kind = k;
        timing t = time_pair(map_library, copy_loop, &ctx, 15);
        double bytes = (double)ELEMENTS * sizeof(float);
        row("elementwise", cases[k].name, threads, cases[k].streams * bytes / t.lib * 1e-9,
            2 * bytes / t.ref * 1e-9, "GB/s", t.speed * cases[k].streams / 2.0, 0.70);
    }
    tg_tensor_free(ctx.x);
    tg_tensor_free(ctx.y);
    tg_tensor_free(ctx.out);
    tg_tensor_free(ctx.row);
}

/* ---- Reductions ------------------------------------------------------------- */

typedef struct reduce_ctx {
    tg_tensor *out, *x;
    float *acc; /* the reference's row of sums */
} reduce_ctx;

static void sum_library(void *p)
{
    reduce_ctx *c = p;
    tg_kernel_sum_to(c->out, c->x, 1.0f, false);
}

/* The reference: x's rows added into one row of floats in order. */
static void sum_loop(void *p)
{
    reduce_ctx *c = p;
    const int64_t rows = c->x->shape[0], cols = c->x->shape[1];
    float *restrict acc = c->acc;
    const float *restrict x = c->x->data;
    memset(acc, 0, sizeof(float) * (size_t)cols);
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            acc[j] += x[i * cols + j];
}

static void bench_reduce(int threads)
{
    const struct {
        const char *name;
        int64_t rows, cols;
        tg_shape out;
    } cases[] = {
        { "sum [6400,256]->[256]", 6400, 256, TG_SHAPE(256) },
        { "sum [4096,4096]->[4096]", 4096, 4096, TG_SHAPE(4096) },
        { "sum [4096,4096]->[4096,1]", 4096, 4096, TG_SHAPE(4096, 1) },
        { "sum [4096,4096]->[]", 4096, 4096, TG_SCALAR },
    };
    tg_rng rng = tg_rng_new(3);
    for (int k = 0; k < (int)(sizeof cases / sizeof cases[0]); k++) {
        reduce_ctx ctx;
        ctx.x = tg_tensor_uniform(TG_SHAPE(cases[k].rows, cases[k].cols), -3, 3, &rng);
        ctx.out = tg_tensor_zeros(cases[k].out);
        ctx.acc = malloc(sizeof(float) * (size_t)cases[k].cols);
        timing t = time_pair(sum_library, sum_loop, &ctx, 15);
        double bytes = (double)ctx.x->numel * sizeof(float);
        row("reduce", cases[k].name, threads, bytes / t.lib * 1e-9, bytes / t.ref * 1e-9, "GB/s",
            t.speed, 0.70);
        free(ctx.acc);
        tg_tensor_free(ctx.x);
        tg_tensor_free(ctx.out);
    }
}

/* ---- Per-op overhead ------------------------------------------------------------ */

#define CHAIN 100000

/* Wall time, and this thread's CPU time: the op's own cost, whatever else
 * the machine is running. */
static void bench_tiny_op(int threads)
{
    tg_tensor *x = tg_tensor_full(TG_SCALAR, 1.0f);
    tg_set_requires_grad(x, true);
    double wall[MAX_REPS], cpu[MAX_REPS];
    int reps = 11 / reps_scale < 3 ? 3 : 11 / reps_scale;
    for (int r = -1; r < reps; r++) { /* r = -1 warms the arena and the tape up */
        double w0 = now(), c0 = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
        tg_tensor *y = x;
        for (int i = 0; i < CHAIN; i++)
            y = tg_mul_scalar(y, 1.0f);
        if (tg_backward(y) != 0) {
            fprintf(stderr, "bench_ops: %s\n", tg_error_message());
            exit(1);
        }
        double w1 = now(), c1 = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
        tg_graph_reset();
        tg_zero_grad(x);
        if (r >= 0) {
            wall[r] = (w1 - w0) / CHAIN * 1e6;
            cpu[r] = (c1 - c0) / CHAIN * 1e6;
        }
    }
    const char *names[2] = { "mul_scalar fwd+bwd, wall", "mul_scalar fwd+bwd, cpu" };
    double us[2] = { median(wall, reps), median(cpu, reps) };
    for (int k = 0; k < 2; k++)
        printf("%-12s %-26s %7d %10.3f %10s %-6s %7s  %s\n", "tiny op", names[k], threads, us[k], "0.300",
               "us/op", "", us[k] < 0.3 ? "ok" : "BELOW GOAL");
    tg_tensor_free(x);
}

int main(int argc, char **argv)
{
    int thread_counts[2] = { 1, 2 }, n_counts = 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            thread_counts[0] = atoi(argv[++i]);
            n_counts = 1;
        } else if (strcmp(argv[i], "--quick") == 0) {
            reps_scale = 3;
        } else {
            fprintf(stderr, "usage: %s [--threads N] [--quick]\n", argv[0]);
            return 2;
        }
    }
    printf("bench_ops: BLIS kernel set %s\n", tg_blas_kernel_set());
    printf("%-12s %-26s %7s %10s %10s %-6s %7s\n", "kind", "case", "threads", "tapegrad", "reference", "unit",
           "ratio");
    for (int c = 0; c < n_counts; c++) {
        tg_set_num_threads(thread_counts[c]);
        bench_matmul(thread_counts[c]);
        bench_elementwise(thread_counts[c]);
        bench_reduce(thread_counts[c]);
        bench_tiny_op(thread_counts[c]);
    }
    tg_graph_release();
    return 0;
}
