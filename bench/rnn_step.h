/*
 * bench/rnn_step.h: the recurrent step the benchmark programs time.
 *
 * One training step = zero-grad, forward through one recurrent layer (time
 * first), a Linear head at every step over RNN_STEP_VOCAB classes,
 * cross-entropy, backward, Adam update, graph reset. Inference = forward
 * only with grad mode off. The GRU uses PyTorch's formulation, like
 * torch.nn.GRU. Shared by bench_rnn and scaling, which are linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=aligned_alloc so
 * that allocations can be counted.
 */
#ifndef BENCH_RNN_STEP_H
#define BENCH_RNN_STEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tapegrad.h>

enum { RNN_STEP_VOCAB = 65 };

typedef struct rnn_shape {
    int64_t steps, batch, input, hidden;
} rnn_shape;

typedef struct rnn_bench {
    tg_model *model;
    tg_rnn *layer;
    tg_rnn_result (*forward)(tg_rnn *, tg_tensor *, const tg_rnn_options *);
    tg_linear *head;
    tg_optimizer *adam;
    tg_batch_split *split; /* NULL: the whole batch in one pass */
    tg_tensor *x, *targets;
    rnn_shape shape;
    int gates;            /* weight blocks per cell: 1 (rnn), 3 (gru), 4 (lstm) */
    size_t tape_ops;      /* ops the last step recorded */
    size_t arena_bytes;   /* graph memory the last step used */
} rnn_bench;

/* Builds the model and its data for cell "rnn", "lstm" or "gru"; -1 (with
 * tapegrad's error message set, or for an unknown cell) on failure. */
int rnn_bench_build(rnn_bench *b, const char *cell, rnn_shape shape);
void rnn_bench_free(rnn_bench *b);

/* From now on a training step cuts the batch into `parts`, each with its
 * whole pass on one thread (tg_batch_split); 0 or -1. */
int rnn_bench_split(rnn_bench *b, int parts);

int rnn_bench_train_step(rnn_bench *b);
int rnn_bench_infer_step(rnn_bench *b);

/* Floating-point operations of the matrix products one step needs. */
double rnn_bench_gemm_flops(const rnn_bench *b, bool infer);

typedef struct step_timing {
    double ms_median;
    double ms_mean; /* counts the few slow steps the median leaves out */
    int runs;
    double mallocs_per_step;
} step_timing;

/* Three warm-up steps, then steps until `seconds` have passed (at least 5,
 * at most 200); the median and mean times and the allocations per timed
 * step. A failed step ends it with runs = 0. */
step_timing rnn_bench_time(rnn_bench *b, bool infer, double seconds);

/* Timing reads the process's CPU time instead of wall time from now on:
 * on a busy machine, with one thread, it shows the cost of the work. */
void bench_use_cpu_time(void);
/* Seconds on the benchmark clock. */
double bench_now(void);
/* Median of v[0..n) (sorts v). */
double bench_median(double *v, int n);
/* Splits a comma-separated flag value in place into at most max items;
 * returns the count. */
int bench_split_list(char *text, char **items, int max);

#endif
