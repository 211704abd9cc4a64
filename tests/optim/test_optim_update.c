/* Optimizers: one or two updates checked against values worked out by hand,
 * defaults, validation, skipped parameters and named state. */
#include "optim_support.h"

#include <stdlib.h>

#include <optim/optimizer.h>

TestSuite(optim_update, .init = tg_test_setup, .fini = optim_fini);

/* A model with one parameter "w" holding `values`. */
static tg_model *model_of(const float *values, int n, tg_tensor **w)
{
    tg_model *model = tg_model_new(0);
    *w = tg_model_add_parameter(model, "w", TG_SHAPE(n));
    cr_assert_not_null(*w, "%s", tg_error_message());
    float *data = (*w)->data;
    for (int i = 0; i < n; i++)
        data[i] = values[i];
    return model;
}

static void set_grad(tg_tensor *w, const float *g)
{
    optim_set_grad(w, tg_from_array(tg_tensor_shape(w), g));
}

static void step_with(tg_optimizer *opt, tg_tensor *w, const float *g)
{
    set_grad(w, g);
    cr_assert_eq(tg_optimizer_step(opt), 0, "%s", tg_error_message());
}

Test(optim_update, sgd_without_momentum_subtracts_lr_times_the_gradient)
{
    tg_tensor *w;
    tg_model *model = model_of((float[]){ 1, -2, 3 }, 3, &w);
    tg_optimizer *opt = tg_sgd_new(model, (tg_sgd_config){ .lr = 0.1 });
    cr_assert_not_null(opt, "%s", tg_error_message());
    cr_assert_eq(tg_optimizer_state_count(opt), 1); /* only the step count */
    step_with(opt, w, (float[]){ 1, 2, -1 });
    tg_assert_values(w, ((float[]){ 0.9f, -2.2f, 3.1f }), 3, 1e-6);
    tg_optimizer_free(opt);
    tg_model_free(model);
}

Test(optim_update, sgd_momentum_starts_from_the_first_gradient_then_dampens)
{
    tg_tensor *w;
    tg_model *model = model_of((float[]){ 1, -2, 3 }, 3, &w);
    tg_optimizer *opt =
        tg_sgd_new(model, (tg_sgd_config){ .lr = 0.1, .momentum = 0.9, .dampening = 0.5 });
    cr_assert_not_null(opt, "%s", tg_error_message());
    /* buf = g1 = [1, 2, -1]; w = [1, -2, 3] - 0.1 buf */
    step_with(opt, w, (float[]){ 1, 2, -1 });
    tg_assert_values(w, ((float[]){ 0.9f, -2.2f, 3.1f }), 3, 1e-6);
    /* buf = 0.9 [1, 2, -1] + 0.5 [0.5, -1, 2] = [1.15, 1.3, 0.1] */
    step_with(opt, w, (float[]){ 0.5f, -1, 2 });
    tg_assert_values(tg_optimizer_state_find(opt, "momentum_buffer.w"),
                     ((float[]){ 1.15f, 1.3f, 0.1f }), 3, 1e-6);
    tg_assert_values(w, ((float[]){ 0.785f, -2.33f, 3.09f }), 3, 1e-6);
    tg_optimizer_free(opt);
    tg_model_free(model);
}

Test(optim_update, sgd_nesterov_with_weight_decay)
{
    tg_tensor *w;
    tg_model *model = model_of((float[]){ 1, -2, 3 }, 3, &w);
    tg_optimizer *opt = tg_sgd_new(model, (tg_sgd_config){ .lr = 0.1, .momentum = 0.9,
                                                           .weight_decay = 0.1, .nesterov = true });
    cr_assert_not_null(opt, "%s", tg_error_message());
    /* d = g + 0.1 w = [1.1, 1.8, -0.7]; buf = d; d += 0.9 buf -> 1.9 d;
     * w -= 0.1 * 1.9 d = [0.791, -2.342, 3.133] */
    step_with(opt, w, (float[]){ 1, 2, -1 });
    tg_assert_values(w, ((float[]){ 0.791f, -2.342f, 3.133f }), 3, 1e-6);
    /* d = [0.5, -1, 2] + 0.1 w = [0.5791, -1.2342, 2.3133];
     * buf = 0.9 [1.1, 1.8, -0.7] + d = [1.5691, 0.3858, 1.6833];
     * w -= 0.1 (d + 0.9 buf) = w - [0.199129, -0.088698, 0.382827] */
    step_with(opt, w, (float[]){ 0.5f, -1, 2 });
    tg_assert_values(w, ((float[]){ 0.591871f, -2.253302f, 2.750173f }), 3, 1e-6);
    tg_optimizer_free(opt);
    tg_model_free(model);
}

Test(optim_update, adam_moves_by_lr_times_the_sign_of_a_constant_gradient)
{
    /* With a constant g, m_t / (1 - b1^t) = g and v_t / (1 - b2^t) = g^2, so
     * every step is lr * g / (|g| + eps). */
    tg_tensor *w;
    tg_model *model = model_of((float[]){ 1, -2, 3 }, 3, &w);
    tg_optimizer *opt = tg_adam_new(model, (tg_adam_config){ .lr = 0.1 });
    cr_assert_not_null(opt, "%s", tg_error_message());
    for (int t = 0; t < 3; t++)
        step_with(opt, w, (float[]){ 4, -0.5f, 1e-3f });
    /* 1e-3 / (1e-3 + 1e-8) = 0.99999: the eps shows in the last place. */
    tg_assert_values(w, ((float[]){ 0.7f, -1.7f, 3.0f - 0.3f * 0.99999f }), 3, 1e-6);
    /* m = (1 - 0.9^3) g, v = (1 - 0.999^3) g^2 */
    tg_assert_values(tg_optimizer_state_find(opt, "exp_avg.w"),
                     ((float[]){ 0.271f * 4, 0.271f * -0.5f, 0.271f * 1e-3f }), 3, 1e-6);
    tg_assert_values(tg_optimizer_state_find(opt, "exp_avg_sq.w"),
                     ((float[]){ 0.002997001f * 16, 0.002997001f * 0.25f, 0.002997001f * 1e-6f }),
                     3, 1e-6);
    tg_assert_values(tg_optimizer_state_find(opt, "step.w"), ((float[]){ 3 }), 1, 0);
    tg_optimizer_free(opt);
    tg_model_free(model);
}

Test(optim_update, amsgrad_keeps_the_largest_second_moment)
{
    /* lr 0.1. Step 1, g = 2: m = 0.2, v = 0.004, w = 1 - 0.1 = 0.9.
     * Step 2, g = 0: m = 0.18, v = 0.003996 < vmax = 0.004;
     * w = 0.9 - (0.1 / 0.19) * 0.18 / sqrt(vmax / 0.001999) = 0.8330277
     * (plain Adam divides by sqrt(v / 0.001999): 0.8329942). */
    tg_tensor *w;
    tg_model *model = model_of((float[]){ 1 }, 1, &w);
    tg_optimizer *ams = tg_adam_new(model, (tg_adam_config){ .lr = 0.1, .amsgrad = true });
    cr_assert_not_null(ams, "%s", tg_error_message());
    step_with(ams, w, (float[]){ 2 });
    tg_assert_values(w, ((float[]){ 0.9f }), 1, 1e-6);
    step_with(ams, w, (float[]){ 0 });
    tg_assert_values(w, ((float[]){ 0.8330277f }), 1, 2e-7);
    tg_assert_values(tg_optimizer_state_find(ams, "max_exp_avg_sq.w"), ((float[]){ 0.004f }), 1,
                     1e-9);
    tg_optimizer_free(ams);

    ((float *)w->data)[0] = 1;
    tg_optimizer *plain = tg_adam_new(model, (tg_adam_config){ .lr = 0.1 });
    step_with(plain, w, (float[]){ 2 });
    step_with(plain, w, (float[]){ 0 });
    tg_assert_values(w, ((float[]){ 0.8329942f }), 1, 2e-7);
    tg_optimizer_free(plain);
    tg_model_free(model);
}

Test(optim_update, adam_adds_weight_decay_to_the_gradient_adamw_shrinks_the_weight)
{
    /* Adam, wd 0.5: g' = g + 0.5 w = [0 + 0.5, -1 + 1] = [0.5, 0]: the second
     * weight sees a zero gradient and stays (0 / (0 + eps) = 0). */
    tg_tensor *w;
    tg_model *model = model_of((float[]){ 1, 2 }, 2, &w);
    tg_optimizer *adam =
        tg_adam_new(model, (tg_adam_config){ .lr = 0.1, .weight_decay = 0.5 });
    step_with(adam, w, (float[]){ 0, -1 });
    tg_assert_values(w, ((float[]){ 0.9f, 2.0f }), 2, 1e-6);
    tg_optimizer_free(adam);

    /* AdamW, wd 0.5: w *= 1 - 0.1 * 0.5, then w -= 0.1 sign(g) where g != 0. */
    float *data = w->data;
    data[0] = 1, data[1] = 2;
    tg_optimizer *adamw =
        tg_adamw_new(model, (tg_adam_config){ .lr = 0.1, .weight_decay = 0.5 });
    step_with(adamw, w, (float[]){ 0, -1 });
    tg_assert_values(w, ((float[]){ 0.95f, 1.9f + 0.1f }), 2, 1e-6);
    tg_optimizer_free(adamw);
    tg_model_free(model);
}

Test(optim_update, adamw_defaults_to_weight_decay_0_01_and_tg_zero_turns_it_off)
{
    tg_tensor *w;
    tg_model *model = model_of((float[]){ 2 }, 1, &w);
    tg_optimizer *opt = tg_adamw_new(model, (tg_adam_config){ 0 });
    step_with(opt, w, (float[]){ 1 });
    /* w * (1 - 1e-3 * 1e-2) - 1e-3 */
    tg_assert_values(w, ((float[]){ 2.0f * (1 - 1e-5f) - 1e-3f }), 1, 1e-7);
    tg_optimizer_free(opt);

    ((float *)w->data)[0] = 2;
    opt = tg_adamw_new(model, (tg_adam_config){ .weight_decay = TG_ZERO });
    step_with(opt, w, (float[]){ 1 });
    tg_assert_values(w, ((float[]){ 2.0f - 1e-3f }), 1, 1e-7);
    tg_optimizer_free(opt);
    tg_model_free(model);
}

Test(optim_update, maximize_ascends)
{
    tg_tensor *w;
    tg_model *model = model_of((float[]){ 1 }, 1, &w);
    tg_optimizer *opt = tg_sgd_new(model, (tg_sgd_config){ .lr = 0.5, .maximize = true });
    step_with(opt, w, (float[]){ 2 });
    tg_assert_values(w, ((float[]){ 2 }), 1, 1e-7);
    tg_optimizer_free(opt);
    tg_model_free(model);
}

Test(optim_update, rmsprop_default_first_step_is_ten_lr_times_the_sign)
{
    /* sq = 0.01 g^2, so g / sqrt(sq) = 10 sign(g). */
    tg_tensor *w;
    tg_model *model = model_of((float[]){ 1, 1 }, 2, &w);
    tg_optimizer *opt = tg_rmsprop_new(model, (tg_rmsprop_config){ 0 });
    cr_assert_not_null(opt, "%s", tg_error_message());
    step_with(opt, w, (float[]){ 3, -0.25f });
    tg_assert_values(w, ((float[]){ 0.9f, 1.1f }), 2, 1e-6);
    tg_assert_values(tg_optimizer_state_find(opt, "square_avg.w"),
                     ((float[]){ 0.09f, 0.000625f }), 2, 1e-7);
    tg_optimizer_free(opt);
    tg_model_free(model);
}

Test(optim_update, rmsprop_centered_with_momentum)
{
    /* lr 0.01, alpha 0.99, momentum 0.5, w = 1.
     * g = 2:  sq = 0.04, ga = 0.02, d = sqrt(0.04 - 0.0004) = 0.1989975,
     *         buf = 2 / d = 10.050378, w = 1 - 0.01 buf = 0.8994962
     * g = -1: sq = 0.0496, ga = 0.0098, d = sqrt(0.0496 - 0.00009604) = 0.2224949,
     *         buf = 0.5 * 10.050378 - 1 / d = 0.5307031, w = 0.8941892 */
    tg_tensor *w;
    tg_model *model = model_of((float[]){ 1 }, 1, &w);
    tg_optimizer *opt = tg_rmsprop_new(
        model, (tg_rmsprop_config){ .lr = 0.01, .momentum = 0.5, .centered = true });
    cr_assert_not_null(opt, "%s", tg_error_message());
    cr_assert_str_eq(tg_optimizer_state_name(opt, 1), "square_avg.w");
    cr_assert_str_eq(tg_optimizer_state_name(opt, 2), "momentum_buffer.w");
    cr_assert_str_eq(tg_optimizer_state_name(opt, 3), "grad_avg.w");
    step_with(opt, w, (float[]){ 2 });
    tg_assert_values(w, ((float[]){ 0.8994962f }), 1, 1e-6);
    step_with(opt, w, (float[]){ -1 });
    tg_assert_values(tg_optimizer_state_find(opt, "grad_avg.w"), ((float[]){ 0.0098f }), 1, 1e-8);
    tg_assert_values(tg_optimizer_state_find(opt, "momentum_buffer.w"), ((float[]){ 0.5307031f }),
                     1, 1e-5);
    tg_assert_values(w, ((float[]){ 0.8941892f }), 1, 1e-6);
    tg_optimizer_free(opt);
    tg_model_free(model);
}

Test(optim_update, adagrad_accumulates_squares_and_decays_the_rate)
{
    /* lr 0.1, lr_decay 0.5, accumulator from 0.5, g = 2 twice:
     * sum = 4.5, w = 1 - 0.1 * 2 / sqrt(4.5) = 0.9057191
     * sum = 8.5, w -= 0.1 / (1 + 0.5) * 2 / sqrt(8.5) -> 0.8599861 */
    tg_tensor *w;
    tg_model *model = model_of((float[]){ 1 }, 1, &w);
    tg_optimizer *opt = tg_adagrad_new(model, (tg_adagrad_config){
                                                  .lr = 0.1,
                                                  .lr_decay = 0.5,
                                                  .initial_accumulator_value = 0.5,
                                              });
    cr_assert_not_null(opt, "%s", tg_error_message());
    tg_assert_values(tg_optimizer_state_find(opt, "sum.w"), ((float[]){ 0.5f }), 1, 0);
    step_with(opt, w, (float[]){ 2 });
    tg_assert_values(w, ((float[]){ 0.9057191f }), 1, 1e-6);
    step_with(opt, w, (float[]){ 2 });
    tg_assert_values(w, ((float[]){ 0.8599861f }), 1, 1e-6);
    tg_assert_values(tg_optimizer_state_find(opt, "sum.w"), ((float[]){ 8.5f }), 1, 1e-7);
    tg_optimizer_free(opt);
    tg_model_free(model);
}

Test(optim_update, a_parameter_without_gradient_is_skipped_with_its_state)
{
    tg_model *model = tg_model_new(0);
    tg_tensor *a = tg_model_add_parameter(model, "a", TG_SHAPE(2));
    tg_tensor *b = tg_model_add_parameter(model, "b", TG_SHAPE(2));
    tg_optimizer *opt = tg_adam_new(model, (tg_adam_config){ .lr = 0.1 });
    cr_assert_eq(tg_optimizer_state_count(opt), 6);
    cr_assert_str_eq(tg_optimizer_state_name(opt, 3), "step.b");
    step_with(opt, a, (float[]){ 1, -1 }); /* b has no gradient */
    tg_assert_values(a, ((float[]){ -0.1f, 0.1f }), 2, 1e-6);
    tg_assert_values(b, ((float[]){ 0, 0 }), 2, 0);
    tg_assert_values(tg_optimizer_state_find(opt, "step.a"), ((float[]){ 1 }), 1, 0);
    tg_assert_values(tg_optimizer_state_find(opt, "step.b"), ((float[]){ 0 }), 1, 0);
    tg_assert_values(tg_optimizer_state_find(opt, "exp_avg.b"), ((float[]){ 0, 0 }), 2, 0);
    cr_assert_eq(tg_optimizer_steps(opt), 1);
    tg_optimizer_zero_grad(opt);
    cr_assert_null(tg_grad(a));
    tg_optimizer_free(opt);
    tg_model_free(model);
}

Test(optim_update, the_learning_rate_can_be_read_and_changed)
{
    tg_tensor *w;
    tg_model *model = model_of((float[]){ 1 }, 1, &w);
    tg_optimizer *opt = tg_rmsprop_new(model, (tg_rmsprop_config){ 0 });
    cr_assert_eq(tg_optimizer_lr(opt), 1e-2);
    cr_assert_str_eq(tg_optimizer_name(opt), "rmsprop");
    cr_assert_eq(tg_optimizer_set_lr(opt, 0.5), 0);
    cr_assert_eq(tg_optimizer_lr(opt), 0.5);
    cr_assert_eq(tg_optimizer_set_lr(opt, -1), -1);
    tg_assert_error("rmsprop: lr = -1");
    cr_assert_eq(tg_optimizer_lr(opt), 0.5);
    tg_optimizer_free(opt);
    tg_model_free(model);
}

Test(optim_update, defaults_are_pytorchs)
{
    tg_tensor *w;
    tg_model *model = model_of((float[]){ 1 }, 1, &w);
    tg_optimizer *adam = tg_adam_new(model, (tg_adam_config){ 0 });
    tg_optimizer *adagrad = tg_adagrad_new(model, (tg_adagrad_config){ 0 });
    cr_assert_eq(tg_optimizer_lr(adam), 1e-3);
    cr_assert_eq(tg_optimizer_lr(adagrad), 1e-2);
    /* Adagrad's first step is lr * g / (|g| + 1e-10): visible for tiny g. */
    step_with(adagrad, w, (float[]){ 1e-9f });
    tg_assert_values(w, ((float[]){ 1.0f - 1e-2f * (1e-9f / (1e-9f + 1e-10f)) }), 1, 1e-7);
    tg_optimizer_free(adam);
    tg_optimizer_free(adagrad);
    tg_model_free(model);
}

Test(optim_update, tg_zero_asks_for_a_zero_beta1)
{
    /* beta1 = 0: m is the last gradient. */
    tg_tensor *w;
    tg_model *model = model_of((float[]){ 0 }, 1, &w);
    tg_optimizer *opt = tg_adam_new(model, (tg_adam_config){ .betas = { TG_ZERO, 0 } });
    step_with(opt, w, (float[]){ 1 });
    step_with(opt, w, (float[]){ 3 });
    tg_assert_values(tg_optimizer_state_find(opt, "exp_avg.w"), ((float[]){ 3 }), 1, 0);
    tg_optimizer_free(opt);
    tg_model_free(model);
}

Test(optim_update, invalid_hyper_parameters_are_refused_as_pytorch_refuses_them)
{
    tg_tensor *w;
    tg_model *model = model_of((float[]){ 0 }, 1, &w);
    cr_assert_null(tg_sgd_new(model, (tg_sgd_config){ .momentum = 0.9 }));
    tg_assert_error("sgd_new: lr is required");
    tg_error_clear();
    cr_assert_null(tg_sgd_new(model, (tg_sgd_config){ .lr = 0.1, .nesterov = true }));
    tg_assert_error("Nesterov momentum needs momentum > 0 and dampening 0");
    tg_error_clear();
    cr_assert_null(tg_adam_new(model, (tg_adam_config){ .betas = { 1.0, 0 } }));
    tg_assert_error("adam_new: betas[0] = 1: must be in [0, 1)");
    tg_error_clear();
    cr_assert_null(tg_adamw_new(model, (tg_adam_config){ .lr = -0.5 }));
    tg_assert_error("adamw_new: lr = -0.5");
    tg_error_clear();
    cr_assert_null(tg_rmsprop_new(model, (tg_rmsprop_config){ .eps = -2 }));
    tg_assert_error("rmsprop_new: eps = -2");
    tg_error_clear();
    cr_assert_null(tg_adagrad_new(model, (tg_adagrad_config){ .lr_decay = NAN }));
    tg_assert_error("adagrad_new: lr_decay = nan");
    tg_error_clear();
    cr_assert_null(tg_adam_new(NULL, (tg_adam_config){ 0 }));
    tg_assert_error("adam_new: an input is NULL");
    cr_assert_eq(tg_optimizer_step(NULL), -1);
    tg_model_free(model);
}

Test(optim_update, large_parameters_update_the_same_on_two_threads_as_on_one)
{
    /* Above tg_map's threading threshold the update is split across threads;
     * an elementwise update must not depend on the split. */
    const int n = 100000;
    tg_model *model = tg_model_new(0);
    tg_tensor *w = tg_model_add_parameter(model, "w", TG_SHAPE(n));
    float *start = malloc(sizeof(float) * n), *grad = malloc(sizeof(float) * n);
    tg_rng rng = tg_rng_new(7);
    tg_rng_fill_normal(&rng, start, n, 0, 1);
    tg_rng_fill_normal(&rng, grad, n, 0, 1);
    float *result[2];
    for (int threads = 1; threads <= 2; threads++) {
        tg_set_num_threads(threads);
        memcpy(w->data, start, sizeof(float) * n);
        tg_optimizer *opt = tg_adam_new(model, (tg_adam_config){ .amsgrad = true });
        step_with(opt, w, grad);
        step_with(opt, w, start);
        result[threads - 1] = malloc(sizeof(float) * n);
        memcpy(result[threads - 1], w->data, sizeof(float) * n);
        tg_optimizer_free(opt);
    }
    cr_assert(memcmp(result[0], result[1], sizeof(float) * n) == 0);
    /* And the first element moved as Adam moves: two steps of about lr. */
    cr_assert(fabsf(result[0][0] - start[0]) > 1e-3f && fabsf(result[0][0] - start[0]) < 2.1e-3f);
    free(result[0]);
    free(result[1]);
    free(start);
    free(grad);
    tg_model_free(model);
}
