/* Tapes, arenas and errors are per thread: two threads, each training its
 * own model, get bit for bit what the same two runs give one after the
 * other on one thread. */
#include <string.h>
#include <threads.h>

#include "autograd/tiny_net.h"
#include "tensor/gemm_small.h"
#include "two_threads.h"

TestSuite(tape_threads, .init = tg_test_setup, .fini = tg_test_teardown);

enum { STEPS = 40 };

typedef struct run {
    uint64_t seed;
    float loss[STEPS];
    float param[HIDDEN * INPUTS + HIDDEN + CLASSES * HIDDEN + CLASSES]; /* final values, in order */
    char error[TG_ERROR_MAX];
    uint64_t packed; /* products through the packed path */
} run;

/* Trains a model from run->seed and records its losses and final
 * parameters; frees everything, the thread's graph memory included. */
static int train(void *arg)
{
    run *r = arg;
    net n = net_new(r->seed);
    uint64_t packed = tg_gemm_small_count();
    for (int step = 0; step < STEPS; step++)
        r->loss[step] = train_step(&n, 0.5f);
    r->packed = tg_gemm_small_count() - packed;
    float *out = r->param;
    for (int i = 0; i < PARAMS; i++) {
        tg_tensor_to_array(n.param[i], out);
        out += n.param[i]->numel;
    }
    snprintf(r->error, sizeof r->error, "%s", tg_error_message());
    net_free(&n);
    tg_graph_release();
    return 0;
}

Test(tape_threads, two_threads_train_as_one_thread_would)
{
    static run alone[2] = { { .seed = 1 }, { .seed = 2 } }, together[2] = { { .seed = 1 }, { .seed = 2 } };
    run_in_turn_then_at_once(train, (void *[]){ &alone[0], &alone[1] }, (void *[]){ &together[0], &together[1] });
    for (int t = 0; t < 2; t++) {
        cr_assert_str_empty(alone[t].error, "%s", alone[t].error);
        cr_assert_str_empty(together[t].error, "%s", together[t].error);
        cr_assert(alone[t].loss[STEPS - 1] < 0.8f * alone[t].loss[0], "model %d did not learn", t);
        cr_assert(memcmp(alone[t].loss, together[t].loss, sizeof alone[t].loss) == 0, "model %d: losses differ", t);
        cr_assert(memcmp(alone[t].param, together[t].param, sizeof alone[t].param) == 0,
                  "model %d: parameters differ", t);
    }
#if defined(__x86_64__)
    /* Each thread's packed copies of the weight are its own. */
    if (__builtin_cpu_supports("avx512f") || (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")))
        cr_assert(together[0].packed > 0 && together[1].packed > 0, "the packed path was not taken");
#endif
    /* The two models differ from each other: the comparison is not vacuous. */
    cr_assert(memcmp(alone[0].param, alone[1].param, sizeof alone[0].param) != 0);
}

/* An error on one thread is not seen by another. */
static int fail(void *arg)
{
    (void)arg;
    tg_reshape(tg_zeros(TG_SHAPE(2)), TG_SHAPE(3));
    int seen = tg_error_occurred();
    tg_graph_release();
    return seen;
}

Test(tape_threads, errors_and_graphs_stay_on_their_thread)
{
    tg_tensor *x = tg_tensor_ones(TG_SHAPE(2));
    tg_set_requires_grad(x, true);
    tg_tensor *y = tg_exp(x);
    thrd_t thread;
    int seen = 0;
    cr_assert_eq(thrd_create(&thread, fail, NULL), thrd_success);
    cr_assert_eq(thrd_join(thread, &seen), thrd_success);
    cr_assert_eq(seen, 1, "the other thread saw its own error");
    cr_assert(!tg_error_occurred(), "%s", tg_error_message());
    cr_assert_eq(tg_graph_size(), 1, "the other thread's ops were not recorded here");
    cr_assert_eq(tg_backward(tg_sum_all(y)), 0, "%s", tg_error_message());
    tg_tensor_free(x);
}
