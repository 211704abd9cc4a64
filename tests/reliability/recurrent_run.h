/*
 * tests/reliability/recurrent_run.h: a small recurrent training run with
 * everything a resumed run must restore, for the crash, resume,
 * non-finite and thread tests.
 *
 * A 2-layer LSTM (or GRU) with dropout between its layers reads sequences
 * [SEQ, INPUT] (batch first) and a linear head predicts one number. Adam
 * with a cosine schedule and gradient clipping trains it. The data set is
 * visited in a new random order every epoch; a checkpoint keeps the order
 * generator as it was when the current epoch's order was drawn
 * ("rng.epoch_order"), so a run resumed in the middle of an epoch visits
 * the rest of it in the same order. Nothing here asserts, so that it may
 * run in a child process or on another thread.
 */
#ifndef TG_TEST_RECURRENT_RUN_H
#define TG_TEST_RECURRENT_RUN_H

#include <stdint.h>
#include <string.h>

#include <tapegrad.h>

enum { RUN_SAMPLES = 24, RUN_BATCH = 4, RUN_SEQ = 6, RUN_INPUT = 3, RUN_HIDDEN = 8, RUN_LAYERS = 2,
       RUN_STEPS_PER_EPOCH = RUN_SAMPLES / RUN_BATCH };

typedef enum run_cell { RUN_LSTM, RUN_GRU } run_cell;

typedef struct recurrent_run {
    tg_model *model;
    tg_rnn *rnn;
    tg_linear *head;
    tg_optimizer *opt;
    tg_schedule *sched;
    tg_rng order_rng;                /* draws each epoch's order */
    tg_rng epoch_rng;                /* order_rng before the current epoch's draw */
    int64_t order[RUN_SAMPLES];      /* the current epoch's order */
    int64_t step;                    /* steps done */
    tg_tensor *x, *y;                /* the data set: [SAMPLES, SEQ, INPUT], [SAMPLES, 1] */
} recurrent_run;

/* Draws the order of the epoch that the next step belongs to. */
static inline void run_draw_order(recurrent_run *r)
{
    r->epoch_rng = r->order_rng;
    for (int i = 0; i < RUN_SAMPLES; i++)
        r->order[i] = i;
    tg_rng_shuffle(&r->order_rng, r->order, RUN_SAMPLES);
}

/* A run whose model and generators start from seed; the data set is the
 * same for every seed. NULL model on error. */
static inline recurrent_run run_new(uint64_t seed, run_cell cell)
{
    recurrent_run r = { .model = tg_model_new(seed), .order_rng = tg_rng_new(seed + 1) };
    tg_manual_seed(seed + 2);
    tg_rnn_config config = { .input = RUN_INPUT, .hidden = RUN_HIDDEN, .layers = RUN_LAYERS,
                             .dropout = 0.25f, .batch_first = true };
    r.rnn = cell == RUN_LSTM ? tg_lstm_new(r.model, "rnn", config) : tg_gru_new(r.model, "rnn", config);
    r.head = tg_linear_new(r.model, "head", (tg_linear_config){ .input = RUN_HIDDEN, .output = 1 });
    r.opt = tg_adam_new(r.model, (tg_adam_config){ .lr = 0.02 });
    r.sched = tg_schedule_new(r.opt, (tg_schedule_config){ .kind = TG_SCHEDULE_COSINE,
                                                           .t_max = 500, .warmup_steps = 5 });
    tg_rng data = tg_rng_new(1234);
    r.x = tg_tensor_randn(TG_SHAPE(RUN_SAMPLES, RUN_SEQ, RUN_INPUT), &data);
    r.y = tg_tensor_clone(tg_mul_scalar(tg_sum(tg_reshape(r.x, TG_SHAPE(RUN_SAMPLES, -1)),
                                               TG_AXES(1), true), 0.2f));
    tg_graph_reset();
    run_draw_order(&r);
    if (!r.rnn || !r.head || !r.opt || !r.sched || !r.y) {
        tg_model_free(r.model);
        r.model = NULL;
    }
    return r;
}

static inline void run_free(recurrent_run *r)
{
    tg_schedule_free(r->sched);
    tg_optimizer_free(r->opt);
    tg_model_free(r->model);
    tg_tensor_free(r->x);
    tg_tensor_free(r->y);
}

/* The loss of the current step's batch, recorded on the tape (input noise
 * from this thread's default generator, dropout from the model's). NULL on
 * error. */
static inline tg_tensor *run_loss(recurrent_run *r)
{
    float rows[RUN_BATCH];
    for (int i = 0; i < RUN_BATCH; i++)
        rows[i] = (float)r->order[r->step % RUN_STEPS_PER_EPOCH * RUN_BATCH + i];
    tg_tensor *index = tg_from_array(TG_SHAPE(RUN_BATCH), rows);
    tg_tensor *noise = tg_randn(TG_SHAPE(RUN_BATCH, RUN_SEQ, RUN_INPUT), tg_rng_default());
    tg_tensor *x = tg_add(tg_index_select(r->x, 0, index), tg_mul_scalar(noise, 0.05f));
    tg_rnn_result out = tg_rnn_forward(r->rnn, x, NULL);
    tg_tensor *last = tg_select(out.h_n, 0, RUN_LAYERS - 1);
    tg_tensor *prediction = tg_linear_forward(r->head, last);
    return tg_mse_loss(prediction, tg_index_select(r->y, 0, index), TG_REDUCTION_MEAN);
}

/* Clipping, the optimizer and the schedule, after backward; then the next
 * epoch's order when an epoch ends. */
static inline int run_update(recurrent_run *r)
{
    tg_clip_grad_norm(r->model, 1.0f);
    int rc = tg_optimizer_step(r->opt);
    tg_optimizer_zero_grad(r->opt);
    if (rc == 0)
        rc = tg_schedule_step(r->sched);
    tg_graph_reset();
    if (++r->step % RUN_STEPS_PER_EPOCH == 0)
        run_draw_order(r);
    return rc;
}

/* One whole training step. 0, or -1 with the error recorded. */
static inline int run_step(recurrent_run *r)
{
    tg_tensor *loss = run_loss(r);
    if (!loss || tg_backward(loss) != 0) {
        tg_graph_reset();
        return -1;
    }
    return run_update(r);
}

static inline tg_checkpoint run_checkpoint(recurrent_run *r)
{
    return (tg_checkpoint){ .model = r->model, .optimizer = r->opt, .schedule = r->sched,
                            .step = r->step, .epoch = r->step / RUN_STEPS_PER_EPOCH,
                            .rngs = { { "epoch_order", &r->epoch_rng } } };
}

static inline int run_save(recurrent_run *r, const char *path)
{
    tg_checkpoint ck = run_checkpoint(r);
    return tg_checkpoint_save(path, &ck);
}

/* Restores the run from path, the current epoch's order included. */
static inline int run_load(recurrent_run *r, const char *path)
{
    tg_checkpoint ck = run_checkpoint(r);
    if (tg_checkpoint_load(path, &ck) != 0)
        return -1;
    r->step = ck.step;
    /* The current epoch's order again; order_rng ends where it was. */
    r->order_rng = r->epoch_rng;
    run_draw_order(r);
    return 0;
}

/* FNV-1a over bytes, continued from h. */
static inline uint64_t run_hash_bytes(uint64_t h, const void *bytes, size_t n)
{
    const unsigned char *p = bytes;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* A digest of everything that decides the rest of the run: parameters,
 * optimizer state, learning rate, step, and every generator. */
static inline uint64_t run_hash(recurrent_run *r)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < tg_model_parameter_count(r->model); i++) {
        const tg_tensor *p = tg_model_parameter(r->model, i);
        h = run_hash_bytes(h, p->data, sizeof(float) * (size_t)p->numel);
    }
    for (int i = 0; i < tg_optimizer_state_count(r->opt); i++) {
        const tg_tensor *s = tg_optimizer_state_tensor(r->opt, i);
        h = run_hash_bytes(h, s->data, sizeof(float) * (size_t)s->numel);
    }
    double lr = tg_optimizer_lr(r->opt);
    h = run_hash_bytes(h, &lr, sizeof lr);
    h = run_hash_bytes(h, &r->step, sizeof r->step);
    h = run_hash_bytes(h, &r->order_rng, sizeof r->order_rng);
    h = run_hash_bytes(h, r->order, sizeof r->order);
    h = run_hash_bytes(h, tg_model_rng(r->model), sizeof(tg_rng));
    return run_hash_bytes(h, tg_rng_default(), sizeof(tg_rng));
}

#endif
