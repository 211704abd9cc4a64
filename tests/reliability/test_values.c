/* Integers and settings at their edges: sizes and steps that would
 * overflow, settings out of range, thread counts past any use. Each class
 * is refused with a message, or computed without undefined behaviour. */
#include "reliability.h"

#include <math.h>

TestSuite(values, .init = rel_setup, .fini = rel_teardown);

Test(values, a_slice_step_near_int64_max_takes_one_element)
{
    tg_tensor *x = tg_tensor_from_array(TG_SHAPE(5), (float[]){ 0, 1, 2, 3, 4 });
    tg_tensor *s = tg_slice(x, 0, 1, 5, INT64_MAX);
    cr_assert_not_null(s, "%s", tg_error_message());
    cr_assert_eq(tg_tensor_shape(s).dim[0], 1);
    cr_assert_float_eq(tg_tensor_item(s), 1.0f, 0);
    s = tg_slice(x, 0, INT64_MIN, INT64_MAX, INT64_MAX - 1);
    cr_assert_eq(tg_tensor_shape(s).dim[0], 1);
    cr_assert_float_eq(tg_tensor_item(s), 0.0f, 0);
    cr_assert_eq(tg_tensor_shape(tg_slice(x, 0, 4, 2, INT64_MAX)).dim[0], 0);
    cr_assert_eq(tg_tensor_shape(tg_slice(x, 0, 0, 5, 2)).dim[0], 3);
    /* and its gradient lands on the one element taken */
    tg_set_requires_grad(x, true);
    cr_assert_eq(tg_backward(tg_sum_all(tg_slice(x, 0, 3, 5, INT64_MAX))), 0, "%s", tg_error_message());
    float g[5];
    tg_tensor_to_array(tg_grad(x), g);
    cr_assert_arr_eq(g, ((float[]){ 0, 0, 0, 1, 0 }), sizeof g);
    tg_tensor_free(x);
}

Test(values, axes_counts_other_than_all_or_a_list_are_refused)
{
    tg_tensor *x = tg_zeros(TG_SHAPE(2, 3));
    cr_assert_null(tg_sum(x, (tg_axes){ .n = -2 }, false));
    cr_assert_str_eq(tg_error_message(), "sum: -2 axes: give TG_ALL_AXES (n = -1) or 0 to 8 axes");
    tg_error_clear();
    cr_assert_null(tg_mean(x, (tg_axes){ .n = 9 }, false));
    tg_assert_error("mean: 9 axes given; at most 8");
    tg_error_clear();
    cr_assert_eq(tg_sum(x, TG_ALL_AXES, false)->numel, 1);
}

Test(values, thread_counts_are_capped_at_a_multiple_of_the_cores)
{
    int most = tg_max_num_threads();
    cr_assert_geq(most, TG_MAX_THREADS_PER_CORE);
    cr_assert_eq(most % TG_MAX_THREADS_PER_CORE, 0);
    cr_assert_eq(tg_set_num_threads(10000), most);
    cr_assert_eq(tg_get_num_threads(), most);
    cr_assert_eq(tg_set_num_threads(-5), 1);
    cr_assert_eq(tg_set_num_threads(INT32_MAX), most);
    cr_assert_eq(tg_set_num_threads(1), 1);
}

/* Settings follow one rule (tensor/error.h): 0 is the default, TG_ZERO is
 * zero, negative and NaN are refused. */
Test(values, settings_that_are_negative_or_nan_are_refused)
{
    tg_model *model = tg_model_new(1);
    tg_model_add_parameter(model, "w", TG_SHAPE(2));
    cr_assert_null(tg_adam_new(model, (tg_adam_config){ .lr = -1 }));
    cr_assert_str_eq(tg_error_message(), "adam_new: lr = -1: must be a finite value >= 0");
    tg_error_clear();
    cr_assert_null(tg_adamw_new(model, (tg_adam_config){ .weight_decay = -1 }));
    tg_assert_error("adamw_new: weight_decay = -1");
    tg_error_clear();
    cr_assert_null(tg_rmsprop_new(model, (tg_rmsprop_config){ .alpha = -1 }));
    tg_assert_error("rmsprop_new: alpha = -1");
    tg_error_clear();
    cr_assert_null(tg_sgd_new(model, (tg_sgd_config){ .lr = NAN }));
    tg_assert_error("sgd_new: lr = nan");
    tg_error_clear();
    tg_optimizer *sgd = tg_sgd_new(model, (tg_sgd_config){ .lr = 0.1 });
    cr_assert_null(tg_schedule_new(sgd, (tg_schedule_config){ .kind = TG_SCHEDULE_PLATEAU,
                                                              .patience = -1 }));
    tg_assert_error("schedule_new: patience = -1");
    tg_error_clear();
    cr_assert_null(tg_progress_new((tg_progress_config){ .redraw_seconds = NAN }));
    tg_assert_error("progress_new");
    tg_error_clear();
    /* TG_ZERO asks for zero: AdamW without decay leaves p alone when its
     * gradient is 0, where the default decay of 0.01 would shrink it. */
    tg_tensor *w = tg_model_find(model, "w");
    tg_tensor_fill_(w, 1.0f);
    tg_optimizer *adamw = tg_adamw_new(model, (tg_adam_config){ .lr = 0.5, .weight_decay = TG_ZERO });
    cr_assert_not_null(adamw, "%s", tg_error_message());
    tg_backward(tg_mul_scalar(tg_sum_all(w), 0.0f));
    tg_optimizer_step(adamw);
    cr_assert_float_eq(tg_tensor_get(w, (int64_t[]){ 0 }), 1.0f, 0);
    tg_optimizer *decaying = tg_adamw_new(model, (tg_adam_config){ .lr = 0.5 });
    tg_optimizer_step(decaying);
    cr_assert_float_eq(tg_tensor_get(w, (int64_t[]){ 0 }), 1.0f - 0.5f * 0.01f, 1e-6);
    tg_optimizer_free(adamw);
    tg_optimizer_free(decaying);
    tg_optimizer_free(sgd);
    tg_graph_reset();
    tg_model_free(model);
}

Test(values, enum_settings_out_of_range_are_refused)
{
    tg_model *model = tg_model_new(1);
    cr_assert_null(tg_rnn_new(model, "a", (tg_rnn_config){ .input = 1, .hidden = 1, .nonlinearity = 7 }));
    cr_assert_str_eq(tg_error_message(),
                     "rnn_new: nonlinearity 7 is neither TG_RNN_TANH (0) nor TG_RNN_RELU (1)");
    tg_error_clear();
    cr_assert_null(tg_gru_new(model, "b", (tg_rnn_config){ .input = 1, .hidden = 1, .gru = 9 }));
    cr_assert_str_eq(tg_error_message(), "gru_new: gru 9 is neither TG_GRU_SEED (0) nor TG_GRU_PYTORCH (1)");
    tg_error_clear();
    cr_assert_null(tg_gru_cell_new(model, "c", (tg_rnn_config){ .input = 1, .hidden = 1, .gru = -1 }));
    tg_assert_error("gru_cell_new: gru -1");
    tg_error_clear();
    cr_assert_eq(tg_model_parameter_count(model), 0);
    tg_model_free(model);
}

static tg_tensor *cube(tg_tensor *const *inputs, void *user)
{
    (void)user;
    return tg_mul(tg_square(inputs[0]), inputs[0]);
}

Test(values, each_gradcheck_setting_takes_its_own_default)
{
    tg_tensor *x = tg_tensor_from_array(TG_SHAPE(3), (float[]){ 0.5f, -1.0f, 2.0f });
    tg_set_requires_grad(x, true);
    tg_gradcheck_result result;
    /* Only eps given: atol and rtol keep their defaults (they used to become 0). */
    cr_assert_eq(tg_gradcheck(cube, NULL, &x, 1, &(tg_gradcheck_config){ .eps = 1e-2 }, &result), 0,
                 "%s", tg_error_message());
    cr_assert(result.passed, "%s", result.message);
    cr_assert_eq(tg_gradcheck(cube, NULL, &x, 1, &(tg_gradcheck_config){ .atol = -1 }, &result), -1);
    tg_assert_error("gradcheck: eps = 0.001, atol = -1, rtol = 0.01");
    tg_error_clear();
    cr_assert_eq(tg_gradcheck(cube, NULL, &x, 1, &(tg_gradcheck_config){ .eps = NAN }, &result), -1);
    tg_error_clear();
    /* TG_ZERO: exact agreement only, which finite differences in float miss. */
    cr_assert_eq(tg_gradcheck(cube, NULL, &x, 1,
                              &(tg_gradcheck_config){ .atol = TG_ZERO, .rtol = TG_ZERO }, &result), 0);
    cr_assert_not(result.passed);
    tg_tensor_free(x);
    tg_graph_reset();
}
