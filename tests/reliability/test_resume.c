/* A recurrent run stopped and resumed from its checkpoint ends bit-identical
 * to the run that never stopped: parameters, optimizer state, learning
 * rate, every generator and the order in which the data is visited, when
 * stopped in the middle of an epoch or at its end. (tests/optim covers the
 * same for a feed-forward model with each optimizer and schedule.) */
#include "reliability.h"

#include <criterion/parameterized.h>

#include "recurrent_run.h"

TestSuite(resume, .init = rel_setup, .fini = rel_teardown);

enum { TOTAL_STEPS = 20 };

typedef struct resume_case {
    run_cell cell;
    int64_t stop_at; /* steps before the stop */
} resume_case;

/* The two runs' parameters are equal bit for bit. */
static bool same_parameters(const recurrent_run *a, const recurrent_run *b)
{
    for (int i = 0; i < tg_model_parameter_count(a->model); i++) {
        const tg_tensor *pa = tg_model_parameter(a->model, i), *pb = tg_model_parameter(b->model, i);
        if (memcmp(pa->data, pb->data, sizeof(float) * (size_t)pa->numel) != 0)
            return false;
    }
    return true;
}

ParameterizedTestParameters(resume, a_resumed_run_ends_bit_identical)
{
    static resume_case cases[] = {
        { RUN_LSTM, 9 },  /* in the middle of the second epoch */
        { RUN_LSTM, 12 }, /* at the end of the second epoch */
        { RUN_GRU, 9 },
        { RUN_GRU, 0 },   /* before the first step */
    };
    return cr_make_param_array(resume_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(resume_case *c, resume, a_resumed_run_ends_bit_identical)
{
    const char *path = rel_path("run.ckpt");
    recurrent_run whole = run_new(1, c->cell);
    while (whole.step < TOTAL_STEPS)
        cr_assert_eq(run_step(&whole), 0, "%s", tg_error_message());
    uint64_t expected = run_hash(&whole);

    recurrent_run first = run_new(1, c->cell);
    while (first.step < c->stop_at)
        cr_assert_eq(run_step(&first), 0, "%s", tg_error_message());
    cr_assert_eq(run_save(&first, path), 0, "%s", tg_error_message());
    run_free(&first);

    /* Another seed for everything, then the checkpoint. */
    recurrent_run resumed = run_new(99, c->cell);
    cr_assert_eq(run_load(&resumed, path), 0, "%s", tg_error_message());
    cr_assert_eq(resumed.step, c->stop_at);
    while (resumed.step < TOTAL_STEPS)
        cr_assert_eq(run_step(&resumed), 0, "%s", tg_error_message());
    cr_assert(same_parameters(&resumed, &whole), "the parameters differ");
    cr_assert_eq(run_hash(&resumed), expected, "the optimizer state or a generator differs");

    /* Training moved the weights: the comparison is not vacuous. */
    recurrent_run fresh = run_new(1, c->cell);
    cr_assert_neq(run_hash(&fresh), expected);
    run_free(&fresh);
    run_free(&whole);
    run_free(&resumed);
}

Test(resume, without_the_epoch_order_a_resumed_run_diverges)
{
    /* The counter-test: restore everything but redraw the order from the
     * generator as saved, not as it was at the epoch's start. */
    const char *path = rel_path("run.ckpt");
    recurrent_run whole = run_new(1, RUN_LSTM);
    while (whole.step < TOTAL_STEPS)
        cr_assert_eq(run_step(&whole), 0, "%s", tg_error_message());
    recurrent_run first = run_new(1, RUN_LSTM);
    while (first.step < 9)
        cr_assert_eq(run_step(&first), 0, "%s", tg_error_message());
    cr_assert_eq(run_save(&first, path), 0, "%s", tg_error_message());
    tg_rng after_draw = first.order_rng;
    run_free(&first);

    recurrent_run resumed = run_new(99, RUN_LSTM);
    cr_assert_eq(run_load(&resumed, path), 0, "%s", tg_error_message());
    resumed.order_rng = after_draw;
    run_draw_order(&resumed);
    while (resumed.step < TOTAL_STEPS)
        cr_assert_eq(run_step(&resumed), 0, "%s", tg_error_message());
    cr_assert_not(same_parameters(&resumed, &whole));
    run_free(&whole);
    run_free(&resumed);
}
