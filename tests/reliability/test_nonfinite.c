/* A loss or gradient that stops being finite stops the training loop at
 * that step, with a message naming the step (and, in anomaly mode, the
 * op), and the last good checkpoint stays on disk (tg_check_finite). */
#include "reliability.h"

#include "recurrent_run.h"
#include <tensor/kernel.h>

TestSuite(nonfinite, .init = rel_setup, .fini = rel_teardown);

/* ---- tg_check_finite ------------------------------------------------------------- */

/* A model with one parameter w = values, and the loss sum(f(w)) after
 * backward, where f is sqrt or the identity. */
static tg_model *model_with_gradient(const float *values, bool use_sqrt, tg_tensor **loss)
{
    tg_model *model = tg_model_new(1);
    tg_tensor *w = tg_model_add_parameter(model, "w", TG_SHAPE(2));
    memcpy(w->data, values, sizeof(float) * 2);
    tg_tensor_mark_written(w);
    *loss = tg_sum_all(use_sqrt ? tg_sqrt(w) : tg_mul_scalar(w, 1.0f));
    cr_assert_eq(tg_backward(*loss), 0, "%s", tg_error_message());
    return model;
}

Test(nonfinite, finite_values_pass)
{
    tg_tensor *loss;
    tg_model *model = model_with_gradient((float[]){ 4, 9 }, true, &loss);
    cr_assert_eq(tg_check_finite(model, loss, 0), 0, "%s", tg_error_message());
    cr_assert_not(tg_error_occurred());
    tg_model_free(model);
}

Test(nonfinite, a_non_finite_loss_is_named_with_the_step)
{
    tg_tensor *loss;
    tg_model *model = model_with_gradient((float[]){ 1, 2 }, false, &loss);
    const float bad[] = { NAN, INFINITY, -INFINITY };
    const char *expected[] = { "check_finite: step 7: the loss is NaN",
                               "check_finite: step 7: the loss is Inf",
                               "check_finite: step 7: the loss is -Inf" };
    for (int i = 0; i < 3; i++) {
        tg_tensor *value = tg_full(TG_SCALAR, bad[i]);
        cr_assert_eq(tg_check_finite(model, value, 7), -1);
        cr_assert_str_eq(tg_error_message(), expected[i]);
        tg_error_clear();
    }
    /* A loss of several elements (reduction NONE), read as a view. */
    tg_tensor *losses = tg_transpose(tg_from_array(TG_SHAPE(2, 2), (float[]){ 1, 2, NAN, 4 }), 0, 1);
    cr_assert_eq(tg_check_finite(model, losses, 8), -1);
    cr_assert_str_eq(tg_error_message(), "check_finite: step 8: the loss holds NaN at element 1");
    tg_model_free(model);
}

Test(nonfinite, a_non_finite_gradient_is_named_with_its_parameter)
{
    /* sqrt is finite at 0; its derivative 1 / (2 sqrt(x)) is not. */
    tg_tensor *loss;
    tg_model *model = model_with_gradient((float[]){ 4, 0 }, true, &loss);
    cr_assert_eq(tg_check_finite(model, loss, 12), -1);
    cr_assert_str_eq(tg_error_message(),
                     "check_finite: step 12: the gradient of w [2] holds Inf at element 1");
    tg_model_free(model);
}

Test(nonfinite, an_error_already_recorded_gets_the_step_in_front)
{
    tg_tensor *loss;
    tg_model *model = model_with_gradient((float[]){ 1, 2 }, false, &loss);
    tg_set_anomaly_mode(true);
    tg_tensor *bad = tg_log(tg_neg(tg_model_find(model, "w")));
    tg_set_anomaly_mode(false);
    cr_assert_null(bad);
    cr_assert_eq(tg_check_finite(model, bad, 3), -1);
    cr_assert_str_eq(tg_error_message(), "check_finite: step 3: anomaly: forward of 'log' on [2] "
                                         "produced NaN at element 0 of its output [2]");
    tg_model_free(model);
}

Test(nonfinite, null_input_fails_with_a_message_naming_it)
{
    tg_tensor *loss;
    tg_model *model = model_with_gradient((float[]){ 1, 2 }, false, &loss);
    cr_assert_eq(tg_check_finite(NULL, loss, 0), -1);
    cr_assert_eq(tg_check_finite(model, NULL, 0), -1);
    tg_assert_error("check_finite: an input is NULL");
    tg_model_free(model);
}

/* ---- A training loop that meets a bad sample --------------------------------------------- */

enum { SEED = 5, BAD_STEP = 4 };

/* A run whose data set has, in the batch of BAD_STEP (in the first epoch,
 * the first time that sample is seen), a target so large that the squared
 * error overflows to Inf. */
static recurrent_run run_with_bad_sample(void)
{
    recurrent_run r = run_new(SEED, RUN_LSTM);
    int64_t sample = r.order[BAD_STEP * RUN_BATCH + 1];
    r.y->data[sample] = 3e38f;
    tg_tensor_mark_written(r.y);
    return r;
}

/* The loop of optim/finite.h: check, step, save. Returns the step at which
 * it stopped, with the message in `message`. */
static int64_t train_until_stopped(recurrent_run *r, const char *path, char *message)
{
    for (;;) {
        tg_tensor *loss = run_loss(r);
        if ((loss && tg_backward(loss) != 0) || tg_check_finite(r->model, loss, r->step) != 0) {
            snprintf(message, TG_ERROR_MAX, "%s", tg_error_message());
            tg_graph_reset();
            tg_optimizer_zero_grad(r->opt);
            return r->step;
        }
        cr_assert_eq(run_update(r), 0, "%s", tg_error_message());
        cr_assert_eq(run_save(r, path), 0, "%s", tg_error_message());
    }
}

/* The parameters of a run that trained `steps` steps on good data. */
static float *parameters_after(int64_t steps, int64_t *n)
{
    recurrent_run good = run_new(SEED, RUN_LSTM);
    while (good.step < steps)
        cr_assert_eq(run_step(&good), 0, "%s", tg_error_message());
    *n = tg_model_numel(good.model);
    float *values = malloc(sizeof(float) * (size_t)*n), *at = values;
    for (int i = 0; i < tg_model_parameter_count(good.model); i++) {
        tg_tensor_to_array(tg_model_parameter(good.model, i), at);
        at += tg_model_parameter(good.model, i)->numel;
    }
    run_free(&good);
    return values;
}

/* The model's parameters equal `expected` bit for bit. */
static void assert_parameters(const tg_model *model, const float *expected, int64_t n)
{
    cr_assert_eq(tg_model_numel(model), n);
    for (int i = 0; i < tg_model_parameter_count(model); i++) {
        const tg_tensor *p = tg_model_parameter(model, i);
        cr_assert(memcmp(p->data, expected, sizeof(float) * (size_t)p->numel) == 0,
                  "%s differs from the run that stopped before the bad step",
                  tg_model_parameter_name(model, i));
        expected += p->numel;
    }
}

static void assert_stops_with_the_last_good_checkpoint(bool anomaly, const char *expected)
{
    const char *path = rel_path("run.ckpt");
    recurrent_run r = run_with_bad_sample();
    char message[TG_ERROR_MAX];
    tg_set_anomaly_mode(anomaly);
    int64_t stopped = train_until_stopped(&r, path, message);
    tg_set_anomaly_mode(false);
    cr_assert_eq(stopped, BAD_STEP, "stopped at step %lld: %s", (long long)stopped, message);
    cr_assert_str_eq(message, expected);
    tg_error_clear();

    /* Nothing of the bad step reached the parameters, in memory or on disk. */
    int64_t n;
    float *good = parameters_after(BAD_STEP, &n);
    assert_parameters(r.model, good, n);
    recurrent_run loaded = run_new(SEED + 1, RUN_LSTM);
    cr_assert_eq(run_load(&loaded, path), 0, "%s", tg_error_message());
    cr_assert_eq(loaded.step, BAD_STEP);
    assert_parameters(loaded.model, good, n);
    free(good);
    run_free(&loaded);
    run_free(&r);
}

Test(nonfinite, an_overflowing_loss_stops_the_loop_at_its_step)
{
    assert_stops_with_the_last_good_checkpoint(false, "check_finite: step 4: the loss is Inf");
}

Test(nonfinite, in_anomaly_mode_the_message_also_names_the_op)
{
    assert_stops_with_the_last_good_checkpoint(
        true, "check_finite: step 4: anomaly: forward of 'square' on [4,1] produced Inf at "
              "element 1 of its output [4,1]");
}
