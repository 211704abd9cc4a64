/* Gradient clipping by global norm and by value, against hand-computed values. */
#include "optim_support.h"

#include <optim/clip.h>

TestSuite(optim_clip, .init = tg_test_setup, .fini = optim_fini);

/* A model with parameters a [2] and b [1] whose gradients are ga and gb (or
 * none when NULL), and c [2] which never gets a gradient. */
static tg_model *model_with_grads(const float *ga, const float *gb)
{
    tg_model *model = tg_model_new(0);
    tg_tensor *a = tg_model_add_parameter(model, "a", TG_SHAPE(2));
    tg_tensor *b = tg_model_add_parameter(model, "b", TG_SHAPE(1));
    tg_model_add_parameter(model, "c", TG_SHAPE(2));
    /* d/da sum(a * ga) = ga */
    tg_tensor *loss = tg_sum_all(tg_mul(a, tg_from_array(TG_SHAPE(2), ga)));
    if (gb)
        loss = tg_add(loss, tg_sum_all(tg_mul(b, tg_from_array(TG_SHAPE(1), gb))));
    cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
    tg_graph_reset();
    return model;
}

static const tg_tensor *grad_of(tg_model *model, const char *name)
{
    return tg_grad(tg_model_find(model, name));
}

Test(optim_clip, the_global_norm_covers_all_gradients_together)
{
    /* |[3, 4, 12]| = 13; the 1-norm is 19 and the max 12. */
    tg_model *model = model_with_grads((float[]){ 3, -4 }, (float[]){ 12 });
    cr_assert_float_eq(tg_grad_norm(model, 2.0f), 13.0f, 1e-5);
    cr_assert_float_eq(tg_grad_norm(model, 1.0f), 19.0f, 1e-5);
    cr_assert_float_eq(tg_grad_norm(model, INFINITY), 12.0f, 0);
    tg_model_free(model);
}

Test(optim_clip, clip_norm_scales_to_max_norm_and_returns_the_norm_before)
{
    tg_model *model = model_with_grads((float[]){ 3, -4 }, (float[]){ 12 });
    float norm = tg_clip_grad_norm(model, 1.3f);
    cr_assert_float_eq(norm, 13.0f, 1e-5);
    /* coefficient 1.3 / (13 + 1e-6) = 0.1 (1 - 7.7e-8) */
    tg_assert_values(grad_of(model, "a"), ((float[]){ 0.3f, -0.4f }), 2, 1e-6);
    tg_assert_values(grad_of(model, "b"), ((float[]){ 1.2f }), 1, 1e-6);
    cr_assert_float_eq(tg_grad_norm(model, 2.0f), 1.3f, 1e-6);
    cr_assert_null(grad_of(model, "c"));
    tg_model_free(model);
}

Test(optim_clip, the_epsilon_keeps_a_norm_at_the_limit_just_below_it)
{
    /* total = max_norm = 5: coef = 5 / (5 + 1e-6) < 1, so PyTorch scales by
     * 1 - 2e-7, which float shows on 4 as 3.9999993. */
    tg_model *model = model_with_grads((float[]){ 3, 4 }, NULL);
    cr_assert_float_eq(tg_clip_grad_norm(model, 5.0f), 5.0f, 1e-6);
    const float *g = grad_of(model, "a")->data;
    cr_assert(g[1] < 4.0f && g[1] > 3.999998f, "%.9g", g[1]);
    tg_model_free(model);
}

Test(optim_clip, gradients_below_the_limit_are_untouched)
{
    tg_model *model = model_with_grads((float[]){ 3, -4 }, (float[]){ 12 });
    cr_assert_float_eq(tg_clip_grad_norm(model, 100.0f), 13.0f, 1e-5);
    tg_assert_values(grad_of(model, "a"), ((float[]){ 3, -4 }), 2, 0);
    tg_assert_values(grad_of(model, "b"), ((float[]){ 12 }), 1, 0);
    tg_model_free(model);
}

Test(optim_clip, clip_with_the_infinity_norm)
{
    /* max |g| = 12; coefficient 6 / 12 */
    tg_model *model = model_with_grads((float[]){ 3, -4 }, (float[]){ 12 });
    cr_assert_float_eq(tg_clip_grad_norm_p(model, 6.0f, INFINITY), 12.0f, 0);
    tg_assert_values(grad_of(model, "a"), ((float[]){ 1.5f, -2.0f }), 2, 1e-6);
    tg_assert_values(grad_of(model, "b"), ((float[]){ 6.0f }), 1, 1e-6);
    tg_model_free(model);
}

Test(optim_clip, no_gradient_at_all_gives_a_zero_norm)
{
    tg_model *model = tg_model_new(0);
    tg_model_add_parameter(model, "w", TG_SHAPE(3));
    cr_assert_eq(tg_clip_grad_norm(model, 1.0f), 0.0f);
    cr_assert_not(tg_error_occurred());
    tg_model_free(model);
}

Test(optim_clip, a_nan_gradient_gives_a_nan_norm)
{
    tg_model *model = model_with_grads((float[]){ NAN, 1 }, (float[]){ 2 });
    cr_assert(isnan(tg_grad_norm(model, INFINITY)));
    cr_assert(isnan(tg_clip_grad_norm(model, 1.0f)));
    tg_model_free(model);
}

Test(optim_clip, clip_value_clamps_each_element)
{
    tg_model *model = model_with_grads((float[]){ 3, -0.5f }, (float[]){ -12 });
    cr_assert_eq(tg_clip_grad_value(model, 1.0f), 0);
    tg_assert_values(grad_of(model, "a"), ((float[]){ 1, -0.5f }), 2, 0);
    tg_assert_values(grad_of(model, "b"), ((float[]){ -1 }), 1, 0);
    tg_model_free(model);
}

Test(optim_clip, bad_limits_are_errors)
{
    tg_model *model = model_with_grads((float[]){ 3, 4 }, NULL);
    cr_assert_eq(tg_clip_grad_norm(model, -1.0f), -1.0f);
    tg_assert_error("clip_grad_norm: max_norm = -1: must be >= 0");
    tg_error_clear();
    cr_assert_eq(tg_clip_grad_norm_p(model, 1.0f, 0.0f), -1.0f);
    tg_assert_error("clip_grad_norm: norm_type = 0");
    tg_error_clear();
    cr_assert_eq(tg_clip_grad_value(model, NAN), -1);
    tg_assert_error("clip_grad_value: clip_value = nan");
    tg_error_clear();
    tg_assert_values(grad_of(model, "a"), ((float[]){ 3, 4 }), 2, 0);
    cr_assert_eq(tg_clip_grad_norm(NULL, 1.0f), -1.0f);
    cr_assert_eq(tg_clip_grad_value(NULL, 1.0f), -1);
    tg_assert_error("an input is NULL");
    tg_model_free(model);
}
