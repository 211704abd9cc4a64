/*
 * tests/autograd/test_batch_split.c: splitting a batch between threads
 * (tg_batch_split): the parts' gradients add up to one pass over the whole
 * batch, bit for bit the same on one thread and two, accumulate like
 * backward, and a failing part changes nothing.
 */
#define _XOPEN_SOURCE 700 /* nftw, for tests/scratch.h */
#include <stdatomic.h>
#include <threads.h>
#include <time.h>

#include "scratch.h"
#include "support.h"

static void setup(void)
{
    tg_test_setup();
    tg_set_num_threads(2);
}

static void teardown(void)
{
    tg_set_num_threads(1);
    tg_test_teardown();
}

TestSuite(batch_split, .init = setup, .fini = teardown);

enum { STEPS = 6, BATCH = 7, INPUT = 5, HIDDEN = 8, CLASSES = 4 };

/* An LSTM with a Linear head at every step, its data, and what the parts
 * report. */
typedef struct net {
    tg_model *model;
    tg_rnn *lstm;
    tg_linear *head;
    tg_tensor *x, *targets;
    float dropout;
    float loss[4];
    bool draw_in_part; /* each part records tg_rng_next_u64 of its generator */
    uint64_t drawn[4];
} net;

static net net_new(uint64_t seed)
{
    net n = { .model = tg_model_new(seed) };
    n.lstm = tg_lstm_new(n.model, "lstm", (tg_rnn_config){ .input = INPUT, .hidden = HIDDEN });
    n.head = tg_linear_new(n.model, "head", (tg_linear_config){ .input = HIDDEN, .output = CLASSES });
    tg_rng rng = tg_rng_new(seed + 1);
    n.x = tg_tensor_randn(TG_SHAPE(STEPS, BATCH, INPUT), &rng);
    n.targets = tg_tensor_empty(TG_SHAPE(STEPS, BATCH));
    cr_assert(n.lstm && n.head && n.x && n.targets, "%s", tg_error_message());
    for (int64_t i = 0; i < n.targets->numel; i++)
        n.targets->data[i] = (float)tg_rng_below(&rng, CLASSES);
    return n;
}

static void net_free(net *n)
{
    tg_model_free(n->model);
    tg_tensor_free(n->x);
    tg_tensor_free(n->targets);
}

/* Mean cross-entropy over the batch rows [begin, end), weighted by their
 * share of the batch. */
static tg_tensor *rows_loss(net *n, int64_t begin, int64_t end)
{
    tg_tensor *x = tg_narrow(n->x, 1, begin, end - begin);
    if (n->dropout > 0)
        x = tg_dropout(n->model, x, n->dropout);
    tg_rnn_result r = tg_lstm_forward(n->lstm, x, NULL);
    tg_tensor *logits = tg_linear_forward(n->head, r.output);
    tg_tensor *loss = tg_cross_entropy(logits, tg_narrow(n->targets, 1, begin, end - begin), NULL);
    return tg_mul_scalar(loss, (float)(end - begin) / (float)BATCH);
}

static int part_step(void *ctx, int part, int parts)
{
    net *n = ctx;
    if (n->draw_in_part)
        n->drawn[part] = tg_rng_next_u64(tg_batch_split_rng());
    tg_tensor *loss = rows_loss(n, BATCH * part / parts, BATCH * (part + 1) / parts);
    if (!loss)
        return -1;
    n->loss[part] = loss->data[0];
    return tg_backward(loss);
}

/* Copies of every parameter's gradient (NULL where it has none). */
static void copy_grads(const tg_model *model, tg_tensor **out)
{
    for (int i = 0; i < tg_model_parameter_count(model); i++) {
        const tg_tensor *g = tg_grad(tg_model_parameter(model, i));
        out[i] = g ? tg_tensor_clone(g) : NULL;
    }
}

static void free_grads(const tg_model *model, tg_tensor **grads)
{
    for (int i = 0; i < tg_model_parameter_count(model); i++)
        tg_tensor_free(grads[i]);
}

static void assert_grads_close(const tg_model *model, tg_tensor **expected, float tol)
{
    for (int i = 0; i < tg_model_parameter_count(model); i++) {
        const tg_tensor *g = tg_grad(tg_model_parameter(model, i));
        cr_assert_not_null(g, "no gradient for %s", tg_model_parameter_name(model, i));
        tg_assert_values(g, expected[i]->data, expected[i]->numel, tol);
    }
}

static void assert_grads_equal(const tg_model *model, tg_tensor **expected)
{
    for (int i = 0; i < tg_model_parameter_count(model); i++) {
        const tg_tensor *g = tg_grad(tg_model_parameter(model, i));
        cr_assert_not_null(g);
        cr_assert_eq(memcmp(g->data, expected[i]->data, sizeof(float) * (size_t)g->numel), 0,
                     "%s differs", tg_model_parameter_name(model, i));
    }
}

/* The gradients of one backward over the whole batch, and its loss. */
static float one_pass(net *n, tg_tensor **grads)
{
    tg_model_zero_grad(n->model);
    tg_tensor *loss = rows_loss(n, 0, BATCH);
    cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
    float value = loss->data[0];
    copy_grads(n->model, grads);
    tg_graph_reset();
    return value;
}

static void split_run(net *n, int parts, uint64_t seed)
{
    tg_batch_split *split = tg_batch_split_new(parts, seed);
    cr_assert_not_null(split, "%s", tg_error_message());
    tg_model_zero_grad(n->model);
    cr_assert_eq(tg_batch_split_run(split, part_step, n), 0, "%s", tg_error_message());
    tg_batch_split_free(split);
}

Test(batch_split, parts_add_up_to_one_pass_over_the_batch)
{
    net n = net_new(3);
    tg_tensor *whole[8];
    float loss = one_pass(&n, whole);
    for (int parts = 1; parts <= 3; parts++) {
        split_run(&n, parts, 1);
        assert_grads_close(n.model, whole, 2e-6f);
        float sum = 0;
        for (int p = 0; p < parts; p++)
            sum += n.loss[p];
        cr_assert_float_eq(sum, loss, 1e-5f, "parts %d: loss %g, one pass %g", parts, sum, loss);
        cr_assert_eq(tg_graph_size(), 0, "a part's graph outlived it");
    }
    free_grads(n.model, whole);
    net_free(&n);
}

Test(batch_split, same_bits_on_one_thread_and_two)
{
    net n = net_new(5);
    tg_tensor *two[8];
    split_run(&n, 2, 1);
    copy_grads(n.model, two);
    tg_set_num_threads(1);
    split_run(&n, 2, 1);
    assert_grads_equal(n.model, two);
    free_grads(n.model, two);
    net_free(&n);
}

Test(batch_split, adds_to_the_gradients_leaves_hold)
{
    net n = net_new(7);
    tg_tensor *whole[8];
    one_pass(&n, whole);
    tg_batch_split *split = tg_batch_split_new(2, 1);
    for (int run = 0; run < 2; run++) /* no zero_grad between: they add up */
        cr_assert_eq(tg_batch_split_run(split, part_step, &n), 0, "%s", tg_error_message());
    tg_batch_split_free(split);
    for (int i = 0; i < tg_model_parameter_count(n.model); i++) {
        tg_tensor *twice = tg_tensor_clone(whole[i]);
        for (int64_t k = 0; k < twice->numel; k++)
            twice->data[k] *= 3; /* the one pass's gradient, still there, and two runs */
        tg_assert_values(tg_grad(tg_model_parameter(n.model, i)), twice->data, twice->numel, 1e-5f);
        tg_tensor_free(twice);
    }
    free_grads(n.model, whole);
    net_free(&n);
}

/* An owned input that requires a gradient gets it from the parts' slices. */
Test(batch_split, owned_input_gets_its_gradient)
{
    net n = net_new(9);
    cr_assert_eq(tg_set_requires_grad(n.x, true), 0);
    tg_tensor *whole[8];
    one_pass(&n, whole);
    tg_tensor *x_grad = tg_tensor_clone(tg_grad(n.x));
    tg_zero_grad(n.x);
    split_run(&n, 2, 1);
    tg_assert_values(tg_grad(n.x), x_grad->data, x_grad->numel, 1e-6f);
    tg_tensor_free(x_grad);
    free_grads(n.model, whole);
    net_free(&n);
}

static int fail_in_part_one(void *ctx, int part, int parts)
{
    if (part == 1) {
        tg_tensor *a = tg_zeros(TG_SHAPE(2, 3)), *b = tg_zeros(TG_SHAPE(2, 3));
        return tg_matmul(a, b) ? 0 : -1;
    }
    return part_step(ctx, part, parts);
}

Test(batch_split, failing_part_changes_no_gradient)
{
    net n = net_new(11);
    tg_tensor *whole[8];
    one_pass(&n, whole);
    tg_batch_split *split = tg_batch_split_new(2, 1);
    cr_assert_eq(tg_batch_split_run(split, fail_in_part_one, &n), -1);
    cr_assert_str_eq(tg_error_message(),
                     "batch_split: part 1 of 2: matmul: [2,3] x [2,3]: inner dimensions 3 and 2 differ");
    assert_grads_equal(n.model, whole);
    /* The split works again after a failed run. */
    tg_model_zero_grad(n.model);
    cr_assert_eq(tg_batch_split_run(split, part_step, &n), 0, "%s", tg_error_message());
    assert_grads_close(n.model, whole, 2e-6f);
    tg_batch_split_free(split);
    free_grads(n.model, whole);
    net_free(&n);
}

static int run_nested(void *ctx, int part, int parts)
{
    (void)part, (void)parts;
    return tg_batch_split_run(ctx, part_step, NULL);
}

Test(batch_split, bad_arguments_are_refused)
{
    cr_assert_null(tg_batch_split_new(0, 1));
    cr_assert_str_eq(tg_error_message(), "batch_split: 0 parts; give 1 to 256");
    tg_error_clear();
    cr_assert_null(tg_batch_split_new(TG_BATCH_SPLIT_MAX_PARTS + 1, 1));
    cr_assert_str_eq(tg_error_message(), "batch_split: 257 parts; give 1 to 256");
    tg_error_clear();
    cr_assert_eq(tg_batch_split_run(NULL, part_step, NULL), -1);
    cr_assert(strstr(tg_error_message(), "batch_split") != NULL, "%s", tg_error_message());
    tg_batch_split *split = tg_batch_split_new(2, 1);
    tg_error_clear();
    cr_assert_eq(tg_batch_split_run(split, NULL, NULL), -1);
    tg_error_clear();
    cr_assert_eq(tg_batch_split_run(split, run_nested, split), -1);
    cr_assert_str_eq(tg_error_message(), "batch_split: part 0 of 2: batch_split: called inside a part of a "
                                         "split; a part runs on one thread");
    cr_assert_null(tg_batch_split_rng());
    tg_batch_split_free(split);
    tg_batch_split_free(NULL);
}

typedef struct announced {
    int count;
    tg_tensor *leaf[16];
    float first[16]; /* the gradient's first element at the notice */
} announced;

static void record(tg_tensor *leaf, void *ctx)
{
    announced *a = ctx;
    cr_assert_lt(a->count, 16);
    cr_assert_not_null(tg_grad(leaf));
    a->first[a->count] = tg_grad(leaf)->data[0];
    a->leaf[a->count++] = leaf;
}

/* A notice on the calling thread hears of each parameter once, after the
 * merge, never of a part's own gradient. */
Test(batch_split, notice_announces_each_merged_gradient_once)
{
    net n = net_new(13);
    announced a = { 0 };
    tg_set_grad_ready_notice(record, &a);
    split_run(&n, 2, 1);
    tg_set_grad_ready_notice(NULL, NULL);
    int params = tg_model_parameter_count(n.model);
    cr_assert_eq(a.count, params, "%d notices for %d parameters", a.count, params);
    for (int i = 0; i < params; i++) {
        tg_tensor *p = tg_model_parameter(n.model, i);
        int times = 0;
        for (int k = 0; k < a.count; k++)
            if (a.leaf[k] == p) {
                times++;
                cr_assert_eq(a.first[k], tg_grad(p)->data[0], "announced before its gradient was final");
            }
        cr_assert_eq(times, 1, "%s announced %d times", tg_model_parameter_name(n.model, i), times);
    }
    net_free(&n);
}

/* Dropout inside a part draws from the part's generator: each part its
 * own stream, the same for the same seed whatever thread ran it. */
Test(batch_split, parts_draw_from_generators_of_their_own)
{
    net n = net_new(15);
    n.dropout = 0.3f;
    n.draw_in_part = true;
    tg_tensor *first[8];
    split_run(&n, 2, 42);
    copy_grads(n.model, first);
    uint64_t drawn0 = n.drawn[0], drawn1 = n.drawn[1];
    cr_assert_neq(drawn0, drawn1, "the parts share a generator");
    tg_set_num_threads(1);
    split_run(&n, 2, 42);
    cr_assert_eq(n.drawn[0], drawn0);
    cr_assert_eq(n.drawn[1], drawn1);
    assert_grads_equal(n.model, first);
    split_run(&n, 2, 43);
    cr_assert_neq(n.drawn[0], drawn0, "another seed, the same stream");
    free_grads(n.model, first);
    net_free(&n);
}

static int record_grad_mode(void *ctx, int part, int parts)
{
    (void)parts;
    ((bool *)ctx)[part] = tg_grad_enabled();
    return 0;
}

Test(batch_split, parts_run_with_the_callers_grad_mode)
{
    tg_batch_split *split = tg_batch_split_new(2, 1);
    bool enabled[2] = { true, true };
    tg_no_grad_begin();
    cr_assert_eq(tg_batch_split_run(split, record_grad_mode, enabled), 0);
    tg_no_grad_end();
    cr_assert(!enabled[0] && !enabled[1]);
    cr_assert_eq(tg_batch_split_run(split, record_grad_mode, enabled), 0);
    cr_assert(enabled[0] && enabled[1]);
    tg_batch_split_free(split);
}

/* tg_autograd_grad inside a part returns the part's gradients and leaves
 * the leaves' own alone: nothing is merged. */
static int grads_as_results(void *ctx, int part, int parts)
{
    net *n = ctx;
    tg_tensor *loss = rows_loss(n, BATCH * part / parts, BATCH * (part + 1) / parts);
    tg_tensor *weight = tg_model_find(n->model, "head.weight"), *g;
    if (tg_autograd_grad(&loss, 1, &weight, 1, &g, (tg_grad_config){ 0 }) != 0)
        return -1;
    n->loss[part] = g->data[0];
    return 0;
}

Test(batch_split, autograd_grad_in_a_part_merges_nothing)
{
    net n = net_new(17);
    tg_model_zero_grad(n.model);
    tg_batch_split *split = tg_batch_split_new(2, 1);
    cr_assert_eq(tg_batch_split_run(split, grads_as_results, &n), 0, "%s", tg_error_message());
    tg_batch_split_free(split);
    cr_assert_neq(n.loss[0], 0.0f);
    for (int i = 0; i < tg_model_parameter_count(n.model); i++)
        cr_assert_null(tg_grad(tg_model_parameter(n.model, i)));
    net_free(&n);
}

/* What the caller recorded before the run is still there after it. */
Test(batch_split, callers_graph_survives_the_run)
{
    net n = net_new(19);
    tg_tensor *w = tg_test_owned_leaf(TG_SHAPE(2), (float[]){ 1, 2 });
    tg_tensor *y = tg_sum_all(tg_square(w));
    size_t recorded = tg_graph_size();
    split_run(&n, 2, 1);
    cr_assert_eq(tg_graph_size(), recorded);
    cr_assert_eq(tg_backward(y), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(w), ((float[]){ 2, 4 }), 2, 0);
    tg_tensor_free(w);
    net_free(&n);
}

/* Parts that read a graph tensor of the caller's: `shared` scales each
 * part's loss. With `on_two_threads`, part 0 holds its thread until part 1
 * has started, so the two run on different threads. */
typedef struct reads_caller {
    net *n;
    tg_tensor *shared;
    bool on_two_threads;
    atomic_bool part_one_started;
} reads_caller;

/* Waits up to 5 s for part 1 to start; false if it never did. */
static bool wait_for_part_one(reads_caller *r)
{
    struct timespec start, now;
    timespec_get(&start, TIME_UTC);
    while (!atomic_load(&r->part_one_started)) {
        thrd_yield();
        timespec_get(&now, TIME_UTC);
        if (now.tv_sec - start.tv_sec > 5)
            return false;
    }
    return true;
}

static int scaled_part_step(void *ctx, int part, int parts)
{
    reads_caller *r = ctx;
    if (part == 1)
        atomic_store(&r->part_one_started, true);
    if (r->on_two_threads && part == 0 && !wait_for_part_one(r))
        return tg_error_set("part 1 never started");
    tg_tensor *loss = rows_loss(r->n, BATCH * part / parts, BATCH * (part + 1) / parts);
    loss = tg_mul(loss, tg_sum_all(r->shared));
    if (!loss)
        return -1;
    r->n->loss[part] = loss->data[0];
    return tg_backward(loss);
}

/* A graph tensor of the caller's that needs no gradient is readable in
 * every part, on the caller's thread and on another. */
Test(batch_split, parts_read_the_callers_graph_tensors)
{
    net n = net_new(21);
    tg_tensor *half = tg_tensor_full(TG_SHAPE(2), 0.25f);
    tg_tensor *whole[8];
    tg_model_zero_grad(n.model);
    tg_tensor *shared = tg_mul_scalar(half, 2.0f); /* a graph tensor: 0.5, 0.5 */
    tg_tensor *loss = tg_mul(rows_loss(&n, 0, BATCH), tg_sum_all(shared));
    cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
    copy_grads(n.model, whole);
    for (int together = 0; together <= 1; together++) {
        tg_set_num_threads(together ? 2 : 1);
        reads_caller r = { .n = &n, .shared = shared };
        tg_batch_split *split = tg_batch_split_new(2, 1);
        /* The first run starts the helper thread (it may join late); the
         * second holds part 0 until the helper has taken part 1. */
        for (int run = 0; run <= together; run++) {
            r.on_two_threads = run == 1;
            tg_model_zero_grad(n.model);
            cr_assert_eq(tg_batch_split_run(split, scaled_part_step, &r), 0, "%s", tg_error_message());
            assert_grads_close(n.model, whole, 2e-6f);
        }
        tg_batch_split_free(split);
    }
    tg_graph_reset();
    tg_tensor_free(half);
    free_grads(n.model, whole);
    net_free(&n);
}

/* One that requires a gradient is refused, on whatever thread the part
 * runs: its backward would run the caller's nodes. Detached, it is read. */
Test(batch_split, parts_refuse_the_callers_graph_tensors_with_a_gradient)
{
    net n = net_new(23);
    tg_tensor *w = tg_test_owned_leaf(TG_SHAPE(2), (float[]){ 0.5f, 0.5f });
    tg_tensor *shared = tg_mul_scalar(w, 1.0f);
    for (int together = 0; together <= 1; together++) {
        tg_set_num_threads(together ? 2 : 1);
        reads_caller r = { .n = &n, .shared = shared };
        tg_batch_split *split = tg_batch_split_new(2, 1);
        tg_model_zero_grad(n.model);
        tg_error_clear();
        cr_assert_eq(tg_batch_split_run(split, scaled_part_step, &r), -1);
        cr_assert_str_eq(tg_error_message(),
                         "batch_split: part 0 of 2: sum: an input is a graph tensor that requires a "
                         "gradient, recorded outside this part of the batch split; a part may use "
                         "only the graph it records (read the value through tg_detach, or compute "
                         "it inside the part)");
        for (int i = 0; i < tg_model_parameter_count(n.model); i++)
            cr_assert_null(tg_grad(tg_model_parameter(n.model, i)));
        cr_assert_null(tg_grad(w));
        r.shared = tg_detach(shared);
        tg_error_clear();
        cr_assert_eq(tg_batch_split_run(split, scaled_part_step, &r), 0, "%s", tg_error_message());
        cr_assert_null(tg_grad(w), "the detached value carried a gradient back");
        tg_batch_split_free(split);
    }
    tg_graph_reset();
    tg_tensor_free(w);
    net_free(&n);
}

static int backward_of_callers_loss(void *ctx, int part, int parts)
{
    (void)part, (void)parts;
    return tg_backward(ctx);
}

Test(batch_split, parts_refuse_backward_of_the_callers_loss)
{
    tg_tensor *w = tg_test_owned_leaf(TG_SHAPE(2), (float[]){ 1, 2 });
    tg_tensor *loss = tg_sum_all(tg_square(w));
    tg_batch_split *split = tg_batch_split_new(1, 1);
    cr_assert_eq(tg_batch_split_run(split, backward_of_callers_loss, loss), -1);
    cr_assert_str_eq(tg_error_message(),
                     "batch_split: part 0 of 1: backward: the loss is a graph tensor that requires a "
                     "gradient, recorded outside this part of the batch split; a part may use only "
                     "the graph it records (read the value through tg_detach, or compute it inside "
                     "the part)");
    cr_assert_null(tg_grad(w));
    cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(w), ((float[]){ 2, 4 }), 2, 0);
    tg_batch_split_free(split);
    tg_tensor_free(w);
}

/* The split's generator saved in a checkpoint: a run resumed from it gives
 * its parts the generators (the dropout masks) of an uninterrupted run. */
Test(batch_split, a_checkpointed_generator_resumes_the_parts_draws)
{
    char dir[] = "/tmp/tg_split_XXXXXX";
    scratch_make(dir);
    const char *path = scratch_path(dir, "run.ckpt");
    net n = net_new(25);
    n.dropout = 0.3f;
    n.draw_in_part = true;
    tg_batch_split *split = tg_batch_split_new(2, 42);
    tg_checkpoint ck = { .model = n.model, .rngs = { { "split", tg_batch_split_generator(split) } } };
    cr_assert_eq(tg_batch_split_run(split, part_step, &n), 0, "%s", tg_error_message());
    cr_assert_eq(tg_checkpoint_save(path, &ck), 0, "%s", tg_error_message());
    tg_model_zero_grad(n.model);
    cr_assert_eq(tg_batch_split_run(split, part_step, &n), 0, "%s", tg_error_message());
    tg_tensor *uninterrupted[8];
    copy_grads(n.model, uninterrupted);
    uint64_t drawn[2] = { n.drawn[0], n.drawn[1] };

    tg_batch_split *resumed = tg_batch_split_new(2, 7); /* another seed: the checkpoint decides */
    tg_checkpoint restore = { .model = n.model, .rngs = { { "split", tg_batch_split_generator(resumed) } } };
    cr_assert_eq(tg_checkpoint_load(path, &restore), 0, "%s", tg_error_message());
    tg_model_zero_grad(n.model);
    cr_assert_eq(tg_batch_split_run(resumed, part_step, &n), 0, "%s", tg_error_message());
    cr_assert(n.drawn[0] == drawn[0] && n.drawn[1] == drawn[1], "the parts drew other numbers");
    assert_grads_equal(n.model, uninterrupted);

    cr_assert_null(tg_batch_split_generator(NULL));
    tg_assert_error("batch_split_generator");
    free_grads(n.model, uninterrupted);
    tg_batch_split_free(split);
    tg_batch_split_free(resumed);
    net_free(&n);
    scratch_remove(dir);
}

