/* A training step in steady state calls malloc zero times: the graph lives
 * in the arena, reused after tg_graph_reset, and leaf gradients are made
 * once. tests/malloc_count.h counts every call the library makes. */
#include <stdlib.h>

#include "autograd/tiny_net.h"
#include "malloc_count.h"
#include "tensor/gemm_small.h"
#include <tensor/kernel.h>

TestSuite(tape_memory, .init = tg_test_setup, .fini = tg_test_teardown);

Test(tape_memory, a_training_step_in_steady_state_calls_malloc_zero_times)
{
    net n = net_new(3);
    float first = 0.0f, last = 0.0f;
    size_t reserved = 0;
    long before = 0;
    for (int step = 0; step <= 20; step++) {
        if (step == 10) {
            before = atomic_load(&allocations);
            reserved = tg_arena_reserved(tg_arena_thread());
        }
        last = train_step(&n, 0.5f);
        cr_assert(!isnan(last), "step %d: %s", step, tg_error_message());
        if (step == 0)
            first = last;
    }
    long during = atomic_load(&allocations) - before;
    cr_assert_eq(during, 0, "%ld allocations in steps 10 to 20", during);
    cr_assert_eq(tg_arena_reserved(tg_arena_thread()), reserved, "the arena grew");
    cr_assert_lt(last, 0.8f * first, "the loss did not fall: %g, then %g", first, last);
    net_free(&n);
}

Test(tape_memory, a_step_through_the_packed_small_product_path_calls_malloc_zero_times)
{
    /* Few rows times a large weight, updated every step: the packed copy of
     * the weight is rebuilt in place. */
    tg_rng rng = tg_rng_new(5);
    tg_tensor *x = tg_tensor_randn(TG_SHAPE(4, 64), &rng);
    tg_tensor *w = tg_tensor_normal(TG_SHAPE(64, 64), 0, 0.1f, &rng);
    tg_set_requires_grad(w, true);
    long before = 0;
    uint64_t packed = 0;
    for (int step = 0; step <= 20; step++) {
        if (step == 10) {
            before = atomic_load(&allocations);
            packed = tg_gemm_small_count();
        }
        tg_tensor *h = tg_tanh(tg_matmul(tg_tanh(tg_matmul(x, w)), w));
        cr_assert_eq(tg_backward(tg_mean_all(tg_square(h))), 0, "%s", tg_error_message());
        cr_assert_eq(tg_kernel_scale(w, tg_grad(w), -0.1f, true), 0, "%s", tg_error_message());
        tg_zero_grad(w);
        tg_graph_reset();
    }
    long during = atomic_load(&allocations) - before;
    cr_assert_eq(during, 0, "%ld allocations in steps 10 to 20", during);
#if defined(__x86_64__)
    /* The packed path exists on CPUs with AVX2 and FMA, or AVX-512. */
    if (__builtin_cpu_supports("avx512f") || (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")))
        cr_assert_gt(tg_gemm_small_count() - packed, 0, "the packed path was not taken");
#endif
    tg_tensor_free(x);
    tg_tensor_free(w);
}

Test(tape_memory, the_counter_sees_the_library_allocate)
{
    /* Without this, a broken wrap would make the test above pass vacuously. */
    long before = atomic_load(&allocations);
    tg_tensor *t = tg_tensor_zeros(TG_SHAPE(3));
    tg_set_requires_grad(t, true);
    cr_assert_geq(atomic_load(&allocations) - before, 2, "a new owned tensor with autograd state");
    before = atomic_load(&allocations);
    tg_graph_release();
    cr_assert_not_null(tg_zeros(TG_SHAPE(4)));
    cr_assert_geq(atomic_load(&allocations) - before, 2, "a new arena and its first chunk");
    tg_tensor_free(t);
}

/* The elementwise recurrence h_t = tanh(h_{t-1} * w + x_t) of the tests
 * below, over STEPS steps of N values: w (requires a gradient) and the
 * inputs xs are owned, the states graph tensors. */
enum { STEPS = 200, N = 4096 };

typedef struct recurrence {
    tg_tensor *w, *xs;
    tg_tensor *states[STEPS];
} recurrence;

static void recurrence_run(recurrence *r, uint64_t seed)
{
    tg_rng rng = tg_rng_new(seed);
    r->w = tg_tensor_uniform(TG_SHAPE(N), 0.5f, 1.0f, &rng);
    r->xs = tg_tensor_randn(TG_SHAPE(STEPS, N), &rng);
    tg_set_requires_grad(r->w, true);
    tg_tensor *h = tg_zeros(TG_SHAPE(N));
    for (int t = 0; t < STEPS; t++)
        h = r->states[t] = tg_tanh(tg_add(tg_mul(h, r->w), tg_select(r->xs, 0, t)));
}

/* Runs backward from loss; returns the arena bytes it added. */
static size_t backward_bytes(tg_tensor *loss)
{
    size_t forward = tg_arena_used(tg_arena_thread());
    cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
    return tg_arena_used(tg_arena_thread()) - forward;
}

/* w's gradient (owned); resets the graph and frees the recurrence. */
static tg_tensor *recurrence_finish(recurrence *r)
{
    tg_tensor *grad = tg_tensor_clone(tg_grad(r->w));
    tg_graph_reset();
    tg_tensor_free(r->w);
    tg_tensor_free(r->xs);
    return grad;
}

/* The loss is the mean of the last state; every fifth state is retained
 * when `retain`. Returns w's gradient and the bytes backward added. */
static tg_tensor *last_state_grad(bool retain, size_t *bytes)
{
    recurrence r;
    recurrence_run(&r, 11);
    int n_kept = 0;
    for (int t = 0; retain && t < STEPS; t += 5, n_kept++)
        cr_assert_eq(tg_retain_grad(r.states[t]), 0);
    *bytes = backward_bytes(tg_mean_all(r.states[STEPS - 1]));
    for (int i = 0; i < n_kept; i++) {
        tg_tensor *g = tg_grad(r.states[5 * i]);
        cr_assert_not_null(g, "retained state %d lost its gradient", 5 * i);
        for (int64_t j = 0; j < N; j++)
            cr_assert(isfinite(g->data[j]), "state %d element %lld", 5 * i, (long long)j);
    }
    if (n_kept > 0) /* the earliest states' gradients vanish; the latest's cannot */
        cr_assert_neq(tg_grad(r.states[5 * (n_kept - 1)])->data[0], 0.0f);
    return recurrence_finish(&r);
}

/* Backward gives each intermediate's gradient buffer back once its op is
 * done with it, so the next step's gradients reuse it: backward over 200
 * steps adds about one step's gradients to the arena, not 200. The
 * gradients are the same bits as with buffers that are kept (retained). */
Test(tape_memory, backward_through_a_long_recurrence_reuses_one_step_of_gradient_memory)
{
    const size_t one_buffer = sizeof(float) * N;
    size_t lean, kept;
    tg_tensor *g_lean = last_state_grad(false, &lean);
    tg_tensor *g_kept = last_state_grad(true, &kept);
    cr_assert_lt(lean, 8 * one_buffer, "backward added %zu bytes: %.1f buffers of one step's size",
                 lean, (double)lean / (double)one_buffer);
    cr_assert_gt(kept, 40 * one_buffer, "retained gradients are kept: %zu bytes", kept);
    cr_assert_eq(memcmp(g_lean->data, g_kept->data, one_buffer), 0);
    tg_tensor_free(g_lean);
    tg_tensor_free(g_kept);
}

/* h_t = tanh(affine(h_{t-1}, w, x_t)) over 200 steps of a 64-row batch.
 * The weight's postponed gradient products are added a chunk (1024 rows)
 * at a time as soon as one is full, and the step gradients they read go
 * back to the arena then: backward holds a chunk's worth of them, not 200
 * steps'. Returns the arena bytes backward added. */
static size_t affine_recurrence_backward_bytes(void)
{
    const int64_t steps = 200, batch = 64, hidden = 64;
    tg_rng rng = tg_rng_new(12);
    tg_tensor *w = tg_tensor_uniform(TG_SHAPE(hidden, hidden), -0.1f, 0.1f, &rng);
    tg_tensor *xs = tg_tensor_randn(TG_SHAPE(steps, batch, hidden), &rng);
    tg_set_requires_grad(w, true);
    tg_tensor *h = tg_zeros(TG_SHAPE(batch, hidden));
    for (int64_t t = 0; t < steps; t++)
        h = tg_tanh(tg_affine(h, w, tg_select(xs, 0, t)));
    tg_tensor *loss = tg_mean_all(h);
    size_t forward = tg_arena_used(tg_arena_thread());
    cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
    size_t bytes = tg_arena_used(tg_arena_thread()) - forward;
    cr_assert_not_null(tg_grad(w));
    tg_graph_reset();
    tg_tensor_free(w);
    tg_tensor_free(xs);
    return bytes;
}

Test(tape_memory, postponed_weight_gradients_release_their_step_gradients_chunk_by_chunk)
{
    const size_t one_step = sizeof(float) * 64 * 64;
    size_t bytes = affine_recurrence_backward_bytes();
    /* 16 steps fill a chunk; the gather buffers take about as much again. */
    cr_assert_lt(bytes, 60 * one_step, "backward added %zu bytes: %.1f steps' gradients", bytes,
                 (double)bytes / (double)one_step);
}

/* The loss is the mean of all states, stacked (or summed step by step
 * when not `stacked`). Returns w's gradient and the bytes backward added. */
static tg_tensor *all_states_grad(bool stacked, size_t *bytes)
{
    recurrence r;
    recurrence_run(&r, 13);
    tg_tensor *loss;
    if (stacked) {
        loss = tg_mean_all(tg_stack(r.states, STEPS, 0));
    } else {
        tg_tensor *sum = tg_sum_all(r.states[0]);
        for (int t = 1; t < STEPS; t++)
            sum = tg_add(sum, tg_sum_all(r.states[t]));
        loss = tg_mul_scalar(sum, 1.0f / (float)(STEPS * N));
    }
    *bytes = backward_bytes(loss);
    return recurrence_finish(&r);
}

/* The stacked states take their gradients as parts of the stack's:
 * backward adds the stack's gradient and about one step's more, not a
 * second copy of every step's. */
Test(tape_memory, stacked_step_outputs_take_their_gradients_from_the_stack_gradient)
{
    const size_t one_step = sizeof(float) * N;
    size_t stacked_bytes, summed_bytes;
    tg_tensor *g_stacked = all_states_grad(true, &stacked_bytes);
    tg_tensor *g_summed = all_states_grad(false, &summed_bytes);
    cr_assert_lt(stacked_bytes, 212 * one_step, "backward added %.1f steps' gradients",
                 (double)stacked_bytes / (double)one_step);
    for (int64_t i = 0; i < g_stacked->numel; i++)
        cr_assert_float_eq(g_stacked->data[i], g_summed->data[i], 1e-6f * (1 + fabsf(g_summed->data[i])),
                           "element %lld", (long long)i);
    tg_tensor_free(g_stacked);
    tg_tensor_free(g_summed);
}
