/* A training step in steady state calls malloc zero times: the graph lives
 * in the arena, reused after tg_graph_reset, and leaf gradients are made
 * once. This program is linked with malloc, calloc, realloc and
 * aligned_alloc wrapped (tests/CMakeLists.txt), so every call the library
 * makes is counted; calls from inside BLIS and the OpenMP runtime (shared
 * libraries) are not. */
#include <stdatomic.h>
#include <stdlib.h>

#include "support.h"

static atomic_long allocations;

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *p, size_t size);
void *__real_aligned_alloc(size_t alignment, size_t size);

void *__wrap_malloc(size_t size)
{
    atomic_fetch_add(&allocations, 1);
    return __real_malloc(size);
}

void *__wrap_calloc(size_t count, size_t size)
{
    atomic_fetch_add(&allocations, 1);
    return __real_calloc(count, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    atomic_fetch_add(&allocations, 1);
    return __real_realloc(p, size);
}

void *__wrap_aligned_alloc(size_t alignment, size_t size)
{
    atomic_fetch_add(&allocations, 1);
    return __real_aligned_alloc(alignment, size);
}

TestSuite(tape_memory, .init = tg_test_setup, .fini = tg_test_teardown);

enum { BATCH = 16, INPUTS = 8, HIDDEN = 32, CLASSES = 4, PARAMS = 4 };

typedef struct net {
    tg_tensor *param[PARAMS]; /* w1 [HIDDEN, INPUTS], b1 [HIDDEN], w2 [CLASSES, HIDDEN], b2 [CLASSES] */
    tg_tensor *x, *labels;
} net;

static net net_new(uint64_t seed)
{
    tg_rng rng = tg_rng_new(seed);
    net n = {
        .param = { tg_tensor_normal(TG_SHAPE(HIDDEN, INPUTS), 0, 0.3f, &rng), tg_tensor_zeros(TG_SHAPE(HIDDEN)),
                   tg_tensor_normal(TG_SHAPE(CLASSES, HIDDEN), 0, 0.3f, &rng), tg_tensor_zeros(TG_SHAPE(CLASSES)) },
        .x = tg_tensor_randn(TG_SHAPE(BATCH, INPUTS), &rng),
        .labels = tg_tensor_empty(TG_SHAPE(BATCH, 1)),
    };
    for (int i = 0; i < PARAMS; i++)
        tg_set_requires_grad(n.param[i], true);
    for (int i = 0; i < BATCH; i++) /* the class is the sign pattern of two inputs */
        n.labels->data[i] = (float)((n.x->data[i * INPUTS] > 0) * 2 + (n.x->data[i * INPUTS + 1] > 0));
    return n;
}

static void net_free(net *n)
{
    for (int i = 0; i < PARAMS; i++)
        tg_tensor_free(n->param[i]);
    tg_tensor_free(n->x);
    tg_tensor_free(n->labels);
}

/* Forward (cross-entropy plus weight decay), backward, SGD in place, reset.
 * Returns the loss. */
static float train_step(net *n, float lr)
{
    tg_tensor **p = n->param;
    tg_tensor *h = tg_tanh(tg_affine(n->x, p[0], p[1]));
    tg_tensor *logits = tg_add(tg_matmul(h, tg_transpose(p[2], 0, 1)), p[3]);
    tg_tensor *nll = tg_neg(tg_mean_all(tg_gather(tg_log_softmax(logits, 1), 1, n->labels)));
    tg_tensor *decay = tg_mul_scalar(tg_sum_all(tg_square(p[0])), 1e-3f);
    tg_tensor *loss = tg_add(nll, decay);
    cr_assert_not_null(loss, "%s", tg_error_message());
    cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
    float value = tg_tensor_item(loss);
    for (int i = 0; i < PARAMS; i++) {
        cr_assert_eq(tg_kernel_scale(p[i], tg_grad(p[i]), -lr, true), 0, "%s", tg_error_message());
        tg_zero_grad(p[i]);
    }
    tg_graph_reset();
    return value;
}

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
        if (step == 0)
            first = last;
    }
    long during = atomic_load(&allocations) - before;
    cr_assert_eq(during, 0, "%ld allocations in steps 10 to 20", during);
    cr_assert_eq(tg_arena_reserved(tg_arena_thread()), reserved, "the arena grew");
    cr_assert_lt(last, 0.8f * first, "the loss did not fall: %g, then %g", first, last);
    net_free(&n);
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
