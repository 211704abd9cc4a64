/* Anomaly mode: the first op whose output (forward) or input gradient
 * (backward) holds a NaN or an Inf is named, with its shapes. */
#include "support.h"

static void anomaly_on(void)
{
    tg_test_setup();
    tg_set_anomaly_mode(true);
}

static void anomaly_off(void)
{
    tg_set_anomaly_mode(false);
    tg_test_teardown();
}

TestSuite(anomaly, .init = anomaly_on, .fini = anomaly_off);

static tg_tensor *leaf(tg_shape shape, const float *values)
{
    tg_tensor *t = tg_from_array(shape, values);
    cr_assert_eq(tg_set_requires_grad(t, true), 0, "%s", tg_error_message());
    return t;
}

Test(anomaly, forward_nan_names_the_first_op_and_its_shapes)
{
    tg_tensor *x = leaf(TG_SHAPE(3), (float[]){ 1, -1, 2 });
    tg_tensor *y = tg_exp(tg_log(tg_mul_scalar(x, 2.0f)));
    cr_assert_null(y);
    cr_assert_str_eq(tg_error_message(),
                     "anomaly: forward of 'log' on [3] produced NaN at element 1 of its output [3]");
}

Test(anomaly, forward_inf_of_a_broadcast_op)
{
    tg_tensor *a = leaf(TG_SHAPE(2, 2), (float[]){ 1, 2, 3, 4 });
    tg_tensor *b = tg_from_array(TG_SHAPE(2), (float[]){ 2, 0 });
    cr_assert_not_null(tg_sqrt(a), "%s", tg_error_message());
    cr_assert_null(tg_div(a, b));
    cr_assert_str_eq(tg_error_message(),
                     "anomaly: forward of 'div' on [2,2], [2] produced Inf at element 1 of its output [2,2]");
}

Test(anomaly, forward_checks_also_run_without_recording)
{
    tg_tensor *x = tg_from_array(TG_SHAPE(2), (float[]){ 4, -4 });
    tg_no_grad_begin();
    cr_assert_null(tg_sqrt(x));
    tg_no_grad_end();
    tg_assert_error("anomaly: forward of 'sqrt' on [2] produced NaN at element 1");
}

Test(anomaly, backward_inf_names_the_op_and_the_input)
{
    /* sqrt is finite at 0, its derivative 1 / (2 sqrt(x)) is not. */
    tg_tensor *x = leaf(TG_SHAPE(2, 2), (float[]){ 4, 0, 1, 9 });
    tg_tensor *w = leaf(TG_SHAPE(2), (float[]){ 1, 2 });
    tg_tensor *loss = tg_sum_all(tg_mul(w, tg_sqrt(x)));
    cr_assert_not_null(loss, "%s", tg_error_message());
    cr_assert_eq(tg_backward(loss), -1);
    cr_assert_str_eq(tg_error_message(), "anomaly: backward of 'sqrt' on [2,2] produced Inf at element 1 "
                                         "of the gradient of input 0 [2,2]");
    /* The ops after it in the forward order ran their backward rules. */
    tg_assert_values(tg_grad(w), ((float[]){ 3, 3 }), 2, 1e-6f);
}

Test(anomaly, backward_nan_of_a_reduction)
{
    /* The 1.5-norm at a zero element: 0 * |0|^(-0.5) is NaN. */
    tg_tensor *x = leaf(TG_SHAPE(3), (float[]){ 1, 0, -2 });
    tg_tensor *loss = tg_norm(x, 1.5f, TG_ALL_AXES, false);
    cr_assert_not_null(loss, "%s", tg_error_message());
    cr_assert_eq(tg_backward(loss), -1);
    cr_assert_str_eq(tg_error_message(), "anomaly: backward of 'norm' on [3] produced NaN at element 1 "
                                         "of the gradient of input 0 [3]");
}

Test(anomaly, backward_inf_in_a_weight_gradient)
{
    /* Finite forward (3e38 * 1e-3 * 100), but the weight's gradient
     * 100 * 3e38 overflows. */
    tg_tensor *x = leaf(TG_SHAPE(1, 1), (float[]){ 3e38f });
    tg_tensor *w = leaf(TG_SHAPE(1, 1), (float[]){ 1e-3f });
    tg_tensor *loss = tg_sum_all(tg_mul_scalar(tg_affine(x, w, NULL), 100.0f));
    cr_assert_not_null(loss, "%s", tg_error_message());
    cr_assert_eq(tg_backward(loss), -1);
    cr_assert_str_eq(tg_error_message(), "anomaly: backward of 'affine' on [1,1], [1,1] produced Inf at "
                                         "element 0 of the gradient of input 1 [1,1]");
}

Test(anomaly, off_lets_non_finite_values_through)
{
    tg_set_anomaly_mode(false);
    cr_assert(!tg_anomaly_mode());
    tg_tensor *x = leaf(TG_SHAPE(2), (float[]){ 0, -1 });
    tg_tensor *y = tg_sqrt(x);
    cr_assert_not_null(y);
    cr_assert(isnan(y->data[1]));
    cr_assert_eq(tg_backward(tg_sum_all(tg_slice(y, 0, 0, 1, 1))), 0, "%s", tg_error_message());
    cr_assert(isinf(tg_grad(x)->data[0]));
    cr_assert(!tg_error_occurred());
}
