/*
 * tests/layers/layer_check.h: helpers shared by the layer tests.
 */
#ifndef TG_TEST_LAYER_CHECK_H
#define TG_TEST_LAYER_CHECK_H

#include "support.h"

/* Asserts that tg_gradcheck of fn over inputs passes. */
static inline void check_gradients(tg_gradcheck_fn fn, void *user, tg_tensor *const *inputs, int n)
{
    tg_gradcheck_result result;
    cr_assert_eq(tg_gradcheck(fn, user, inputs, n, NULL, &result), 0, "%s", tg_error_message());
    cr_assert(result.passed, "%s", result.message);
    cr_assert_gt(result.checked, 0);
}

/* extra[0..n_extra) followed by every parameter of the model, into out;
 * returns the count. */
static inline int with_parameters(tg_tensor **out, tg_tensor *const *extra, int n_extra,
                                  const tg_model *model)
{
    int n = 0;
    for (int i = 0; i < n_extra; i++)
        out[n++] = extra[i];
    for (int i = 0; i < tg_model_parameter_count(model); i++)
        out[n++] = tg_model_parameter(model, i);
    return n;
}

/* An owned tensor of U(-1, 1) values that requires a gradient. */
static inline tg_tensor *random_input(tg_shape shape, tg_rng *rng)
{
    tg_tensor *t = tg_tensor_uniform(shape, -1.0f, 1.0f, rng);
    tg_set_requires_grad(t, true);
    return t;
}

/* All of t's values, row-major, in a malloc'd array. */
static inline float *values_of(const tg_tensor *t)
{
    cr_assert_not_null(t, "%s", tg_error_message());
    float *v = malloc(sizeof(float) * (size_t)(t->numel ? t->numel : 1));
    tg_tensor_to_array(t, v);
    return v;
}

#endif
