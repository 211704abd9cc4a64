/*
 * bench_bmm: batched products of many small matrices (attention, per-step
 * decoders): tapegrad's tg_matmul against raw BLIS and torch.bmm.
 *
 *   tapegrad   tg_matmul on [B, M, K] x [B, K, N] (grad mode off, the graph
 *              rewound after each call), the op a model calls
 *   BLIS       one bli_sgemm per batch element on the same buffers: what a
 *              plain loop over BLIS gives
 *   torch      torch.bmm on the same shapes and layouts, from
 *              bench/bmm_torch.py run by this program between its own
 *              rounds, with BLIS_ARCH_TYPE (the kernel set tapegrad uses),
 *              OMP_NUM_THREADS and BLIS_NUM_THREADS set before it starts
 *
 * "b^T" rows take b as the transpose of a contiguous [B, N, K] tensor
 * (q @ keys^T in attention). Rounds alternate between the sides; each figure
 * is the median over rounds of the median time of one call. On a busy
 * machine compare the ratios of one run, not figures across runs.
 *
 *   bench_bmm [--threads N] [--rounds R] [--no-torch] [--torch-script PATH]
 */
#include <blis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tapegrad.h>
#include <tensor/kernel.h>

#define MAX_ROUNDS 15
#define MAX_CASES 8

typedef struct bmm_case {
    const char *name;
    int64_t batch, m, k, n;
    bool b_transposed;
} bmm_case;

static const bmm_case cases[] = {
    { "[1,128]x[128,13]", 64, 1, 128, 13, false },
    { "[13,128]x[128,64]", 64, 13, 128, 64, false },
    { "q k^T [1,256]x[256,20]", 64, 1, 256, 20, true },
    { "a v [1,20]x[20,256]", 64, 1, 20, 256, false },
    { "[1,256]x[256,20]", 64, 1, 256, 20, false },
    { "[20,64]x[64,20]", 64, 20, 64, 20, true },
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

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

typedef struct operands {
    tg_tensor *a, *b, *b_store, *out; /* b is a view of b_store when transposed */
} operands;

static operands make_operands(const bmm_case *c, tg_rng *rng)
{
    operands o;
    o.a = tg_tensor_uniform(TG_SHAPE(c->batch, c->m, c->k), -1, 1, rng);
    if (c->b_transposed) {
        o.b_store = tg_tensor_uniform(TG_SHAPE(c->batch, c->n, c->k), -1, 1, rng);
        o.b = tg_view_transpose(o.b_store, 1, 2);
    } else {
        o.b_store = tg_tensor_uniform(TG_SHAPE(c->batch, c->k, c->n), -1, 1, rng);
        o.b = o.b_store;
    }
    o.out = tg_tensor_zeros(TG_SHAPE(c->batch, c->m, c->n));
    return o;
}

typedef void (*call_fn)(const operands *o, const bmm_case *c);

/* Median seconds of one call over 7 samples of about 2 ms each (the calls
 * per sample set from a first, untimed call). */
static double time_calls(call_fn call, const operands *o, const bmm_case *c)
{
    double t0 = now();
    call(o, c);
    double once = now() - t0;
    int calls = once > 2e-3 ? 1 : (int)(2e-3 / (once > 1e-7 ? once : 1e-7));
    double samples[7];
    for (int s = 0; s < 7; s++) {
        t0 = now();
        for (int i = 0; i < calls; i++)
            call(o, c);
        samples[s] = (now() - t0) / calls;
    }
    return median(samples, 7);
}

static void call_tapegrad(const operands *o, const bmm_case *c)
{
    (void)c;
    tg_graph_mark mark = tg_graph_get_mark();
    if (!tg_matmul(o->a, o->b)) {
        fprintf(stderr, "bench_bmm: %s\n", tg_error_message());
        exit(1);
    }
    tg_graph_rewind(mark);
}

static void call_blis(const operands *o, const bmm_case *c)
{
    float one = 1.0f, zero = 0.0f;
    const tg_tensor *a = o->a, *b = o->b, *out = o->out;
    for (int64_t e = 0; e < c->batch; e++)
        bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, c->m, c->n, c->k, &one, a->data + e * a->stride[0],
                  a->stride[1], a->stride[2], b->data + e * b->stride[0], b->stride[1], b->stride[2], &zero,
                  out->data + e * out->stride[0], out->stride[1], out->stride[2]);
}

/* One round of torch.bmm over every case: seconds per call into t[]. */
static bool time_torch(const char *script, int threads, double *t)
{
    char command[1024];
    int len = snprintf(command, sizeof command, "/usr/bin/python3 %s %d", script, threads);
    for (int i = 0; i < N_CASES; i++)
        len += snprintf(command + len, sizeof command - (size_t)len, " %lld,%lld,%lld,%lld,%d",
                        (long long)cases[i].batch, (long long)cases[i].m, (long long)cases[i].k,
                        (long long)cases[i].n, cases[i].b_transposed);
    FILE *p = popen(command, "r");
    if (!p)
        return false;
    int got = 0;
    while (got < N_CASES && fscanf(p, "%lf", &t[got]) == 1)
        got++;
    return pclose(p) == 0 && got == N_CASES;
}

int main(int argc, char **argv)
{
    int threads = 1, rounds = 5;
    bool torch = true;
    const char *script = BENCH_DIR "/bmm_torch.py";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-torch"))
            torch = false;
        else if (!strcmp(argv[i], "--torch-script") && i + 1 < argc)
            script = argv[++i];
        else {
            fprintf(stderr, "usage: bench_bmm [--threads N] [--rounds R] [--no-torch] [--torch-script PATH]\n");
            return 2;
        }
    }
    if (threads < 1 || rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "bench_bmm: threads >= 1 and rounds 1..%d\n", MAX_ROUNDS);
        return 2;
    }
    tg_set_num_threads(threads);
    tg_blas_kernel_set(); /* picks and exports BLIS_ARCH_TYPE, which the torch child inherits */
    char value[16];
    snprintf(value, sizeof value, "%d", threads);
    setenv("OMP_NUM_THREADS", value, 1);
    setenv("BLIS_NUM_THREADS", value, 1);

    tg_no_grad_begin();
    tg_rng rng = tg_rng_new(1);
    operands ops[N_CASES];
    for (int i = 0; i < N_CASES; i++)
        ops[i] = make_operands(&cases[i], &rng);
    double tg[N_CASES][MAX_ROUNDS], bl[N_CASES][MAX_ROUNDS], pt[N_CASES][MAX_ROUNDS];
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < N_CASES; i++) {
            tg[i][r] = time_calls(call_tapegrad, &ops[i], &cases[i]);
            bl[i][r] = time_calls(call_blis, &ops[i], &cases[i]);
        }
        double t[N_CASES];
        if (torch && !time_torch(script, threads, t)) {
            fprintf(stderr, "bench_bmm: the torch column failed (%s); showing tapegrad and BLIS\n", script);
            torch = false;
        }
        for (int i = 0; torch && i < N_CASES; i++)
            pt[i][r] = t[i];
    }
    printf("batch 64, %d thread(s), kernel set %s, median of %d rounds, us per call\n", threads,
           tg_blas_kernel_set(), rounds);
    printf("%-24s %10s %10s %10s %12s %12s\n", "product (per element)", "tapegrad", "BLIS loop", "torch.bmm",
           "BLIS/tg", "torch/tg");
    for (int i = 0; i < N_CASES; i++) {
        double t = median(tg[i], rounds) * 1e6, b = median(bl[i], rounds) * 1e6;
        double p = torch ? median(pt[i], rounds) * 1e6 : 0.0;
        printf("%-24s %10.1f %10.1f ", cases[i].name, t, b);
        if (torch)
            printf("%10.1f %12.2f %12.2f\n", p, b / t, p / t);
        else
            printf("%10s %12.2f %12s\n", "-", b / t, "-");
    }
    for (int i = 0; i < N_CASES; i++) {
        tg_tensor_free(ops[i].a);
        tg_tensor_free(ops[i].b_store);
        tg_tensor_free(ops[i].out);
    }
    tg_graph_release();
    return 0;
}
