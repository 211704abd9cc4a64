#define _POSIX_C_SOURCE 200809L
#include "rnn_step.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- Allocation counting (the programs are linked with --wrap=malloc & co) ---- */

static atomic_long allocations;
void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__real_aligned_alloc(size_t alignment, size_t size);
void *__wrap_malloc(size_t size) { atomic_fetch_add(&allocations, 1); return __real_malloc(size); }
void *__wrap_calloc(size_t n, size_t size) { atomic_fetch_add(&allocations, 1); return __real_calloc(n, size); }
void *__wrap_realloc(void *p, size_t size) { atomic_fetch_add(&allocations, 1); return __real_realloc(p, size); }
void *__wrap_aligned_alloc(size_t a, size_t size) { atomic_fetch_add(&allocations, 1); return __real_aligned_alloc(a, size); }

/* ---- Clock ----------------------------------------------------------------------- */

static clockid_t step_clock = CLOCK_MONOTONIC;

void bench_use_cpu_time(void) { step_clock = CLOCK_PROCESS_CPUTIME_ID; }

double bench_now(void)
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

double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int bench_split_list(char *text, char **items, int max)
{
    int n = 0;
    for (char *item = strtok(text, ","); item && n < max; item = strtok(NULL, ","))
        items[n++] = item;
    return n;
}

/* ---- The model ------------------------------------------------------------------- */

int rnn_bench_build(rnn_bench *b, const char *cell, rnn_shape shape)
{
    *b = (rnn_bench){ .shape = shape };
    tg_rnn *(*make)(tg_model *, const char *, tg_rnn_config);
    if (strcmp(cell, "lstm") == 0) {
        make = tg_lstm_new, b->forward = tg_lstm_forward, b->gates = 4;
    } else if (strcmp(cell, "gru") == 0) {
        make = tg_gru_new, b->forward = tg_gru_forward, b->gates = 3;
    } else if (strcmp(cell, "rnn") == 0) {
        make = tg_rnn_new, b->forward = tg_rnn_forward, b->gates = 1;
    } else {
        return -1;
    }
    b->model = tg_model_new(1);
    tg_rnn_config rc = { .input = shape.input, .hidden = shape.hidden, .gru = TG_GRU_PYTORCH };
    b->layer = make(b->model, "rnn", rc);
    b->head = tg_linear_new(b->model, "head",
                            (tg_linear_config){ .input = shape.hidden, .output = RNN_STEP_VOCAB });
    b->adam = tg_adam_new(b->model, (tg_adam_config){ .lr = 1e-3 });
    tg_rng rng = tg_rng_new(7);
    b->x = tg_tensor_randn(TG_SHAPE(shape.steps, shape.batch, shape.input), &rng);
    b->targets = tg_tensor_empty(TG_SHAPE(shape.steps, shape.batch));
    for (int64_t i = 0; b->targets && i < b->targets->numel; i++)
        b->targets->data[i] = (float)tg_rng_below(&rng, RNN_STEP_VOCAB);
    return b->layer && b->head && b->adam && b->x && b->targets ? 0 : -1;
}

void rnn_bench_free(rnn_bench *b)
{
    tg_batch_split_free(b->split);
    tg_optimizer_free(b->adam);
    tg_model_free(b->model);
    tg_tensor_free(b->x);
    tg_tensor_free(b->targets);
    *b = (rnn_bench){ 0 };
}

/* Records what the step left in the graph, then resets it. */
static void end_step(rnn_bench *b)
{
    b->tape_ops = tg_graph_size();
    b->arena_bytes = tg_arena_used(tg_arena_thread());
    tg_graph_reset();
}

int rnn_bench_split(rnn_bench *b, int parts)
{
    b->split = tg_batch_split_new(parts, 7);
    return b->split ? 0 : -1;
}

/* Forward and backward of the batch rows [begin, end), its loss weighted
 * by its share of the batch. */
static int forward_backward(rnn_bench *b, int64_t begin, int64_t end)
{
    tg_tensor *x = b->x, *targets = b->targets;
    if (end - begin < b->shape.batch) {
        x = tg_narrow(x, 1, begin, end - begin);
        targets = tg_narrow(targets, 1, begin, end - begin);
    }
    tg_rnn_result r = b->forward(b->layer, x, NULL);
    tg_tensor *loss = tg_cross_entropy(tg_linear_forward(b->head, r.output), targets, NULL);
    if (end - begin < b->shape.batch)
        loss = tg_mul_scalar(loss, (float)(end - begin) / (float)b->shape.batch);
    return loss ? tg_backward(loss) : -1;
}

static int part_step(void *ctx, int part, int parts)
{
    rnn_bench *b = ctx;
    int64_t batch = b->shape.batch;
    return forward_backward(b, batch * part / parts, batch * (part + 1) / parts);
}

int rnn_bench_train_step(rnn_bench *b)
{
    tg_model_zero_grad(b->model);
    int rc = b->split ? tg_batch_split_run(b->split, part_step, b) : forward_backward(b, 0, b->shape.batch);
    rc = rc == 0 && tg_optimizer_step(b->adam) == 0 ? 0 : -1;
    end_step(b);
    return rc;
}

int rnn_bench_infer_step(rnn_bench *b)
{
    tg_no_grad_begin();
    tg_rnn_result r = b->forward(b->layer, b->x, NULL);
    tg_tensor *logits = tg_linear_forward(b->head, r.output);
    tg_no_grad_end();
    end_step(b);
    return logits ? 0 : -1;
}

double rnn_bench_gemm_flops(const rnn_bench *b, bool infer)
{
    const rnn_shape *s = &b->shape;
    double tb = (double)s->steps * (double)s->batch, gh = (double)b->gates * (double)s->hidden;
    double projection = 2 * tb * (double)s->input * gh;
    double recurrent = 2 * tb * (double)s->hidden * gh;
    double head = 2 * tb * (double)s->hidden * RNN_STEP_VOCAB;
    if (infer)
        return projection + recurrent + head;
    /* backward: no input gradient for the projection; two products elsewhere */
    return 2 * projection + 3 * recurrent + 3 * head;
}

/* ---- Timing ------------------------------------------------------------------------ */

step_timing rnn_bench_time(rnn_bench *b, bool infer, double seconds)
{
    int (*step)(rnn_bench *) = infer ? rnn_bench_infer_step : rnn_bench_train_step;
    step_timing timing = { 0 };
    for (int i = 0; i < 3; i++) /* warm up: arena, gradients, optimizer state */
        if (step(b) != 0)
            return timing;
    enum { MAX_RUNS = 200 };
    double times[MAX_RUNS];
    long mallocs = 0;
    double total = 0;
    int runs = 0;
    for (double start = bench_now(); runs < MAX_RUNS && (runs < 5 || bench_now() - start < seconds);
         runs++) {
        long before = atomic_load(&allocations);
        double t = bench_now();
        if (step(b) != 0)
            return timing;
        times[runs] = bench_now() - t;
        total += times[runs];
        mallocs += atomic_load(&allocations) - before;
    }
    timing.ms_mean = 1e3 * total / runs;
    timing.ms_median = 1e3 * bench_median(times, runs);
    timing.runs = runs;
    timing.mallocs_per_step = (double)mallocs / runs;
    return timing;
}
