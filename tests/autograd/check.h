/*
 * tests/autograd/check.h: helpers for the gradient tests.
 *
 * Leaves are graph tensors (freed by the teardown's tg_graph_release) filled
 * from a seeded generator and requiring a gradient. Operands reach an op
 * through a view built inside the checked function, so a transposed,
 * step-sliced or expanded operand is checked all the way back to its leaf.
 */
#ifndef TG_TEST_AUTOGRAD_CHECK_H
#define TG_TEST_AUTOGRAD_CHECK_H

#include <stdio.h>

#include "support.h"

/* ---- Leaves ------------------------------------------------------------------- */

typedef enum fill {
    FILL_ANY,      /* uniform in [-1.5, 1.5] */
    FILL_POSITIVE, /* uniform in [0.5, 2]: the domain of log, sqrt, pow */
    FILL_NONZERO,  /* |v| uniform in [0.5, 1.5], either sign */
    /* Distinct values 0.1 apart, each 0.05 from a multiple of 0.1, shuffled:
     * no ties, and no value within a difference step of a kink at 0, 0.5 ... */
    FILL_LADDER,
    /* The same on multiples of 0.1, so a FILL_LADDER tensor never ties with it. */
    FILL_LADDER_EVEN,
    /* Distinct magnitudes 0.3, 0.4, ..., shuffled, each with a random sign. */
    FILL_LADDER_SIGNED,
} fill;

static inline tg_tensor *make_leaf(tg_shape shape, fill kind, uint64_t seed)
{
    tg_rng rng = tg_rng_new(seed);
    tg_tensor *t = tg_empty(shape);
    cr_assert_not_null(t, "%s", tg_error_message());
    int64_t n = t->numel;
    if (kind == FILL_LADDER || kind == FILL_LADDER_EVEN || kind == FILL_LADDER_SIGNED) {
        int64_t order[n > 0 ? n : 1];
        for (int64_t i = 0; i < n; i++)
            order[i] = i;
        tg_rng_shuffle(&rng, order, n);
        for (int64_t i = 0; i < n; i++) {
            if (kind == FILL_LADDER_SIGNED)
                t->data[i] = (0.3f + 0.1f * (float)order[i]) * (tg_rng_uniform(&rng) < 0.5 ? -1.0f : 1.0f);
            else
                t->data[i] = 0.1f * (float)(order[i] - n / 2) + (kind == FILL_LADDER ? 0.05f : 0.0f);
        }
    } else if (kind == FILL_NONZERO) {
        for (int64_t i = 0; i < n; i++) {
            float magnitude = 0.5f + (float)tg_rng_uniform(&rng);
            t->data[i] = tg_rng_uniform(&rng) < 0.5 ? -magnitude : magnitude;
        }
    } else {
        float low = kind == FILL_POSITIVE ? 0.5f : -1.5f, high = kind == FILL_POSITIVE ? 2.0f : 1.5f;
        tg_rng_fill_uniform(&rng, t->data, n, low, high);
    }
    cr_assert_eq(tg_set_requires_grad(t, true), 0, "%s", tg_error_message());
    return t;
}

/* A leaf holding the given values (row-major). */
static inline tg_tensor *leaf_of(tg_shape shape, const float *values)
{
    tg_tensor *t = tg_from_array(shape, values);
    cr_assert_not_null(t, "%s", tg_error_message());
    cr_assert_eq(tg_set_requires_grad(t, true), 0, "%s", tg_error_message());
    return t;
}

/* ---- Operands: a leaf shape and the view an op sees ----------------------------- */

typedef tg_tensor *(*view_fn)(tg_tensor *leaf);

typedef struct operand {
    const char *name;
    tg_shape leaf;
    view_fn view;
} operand;

static inline tg_tensor *view_same(tg_tensor *x) { return x; }
/* Last two axes swapped: [4,3] is seen as [3,4]. */
static inline tg_tensor *view_transposed(tg_tensor *x) { return tg_transpose(x, -1, -2); }
/* Every other element of the last axis from 1: [3,9] is seen as [3,4]. */
static inline tg_tensor *view_step_sliced(tg_tensor *x)
{
    return tg_slice(x, -1, 1, x->shape[x->ndim - 1], 2);
}
/* The first axis (of size 1) broadcast to 3: [1,4] is seen as [3,4]. */
static inline tg_tensor *view_expanded(tg_tensor *x)
{
    tg_shape shape = tg_tensor_shape(x);
    shape.dim[0] = 3;
    return tg_expand(x, shape);
}
/* Axes (2, 0, 1): [2,3,4] is seen as [4,2,3]. */
static inline tg_tensor *view_permuted(tg_tensor *x) { return tg_permute(x, (int[]){ 2, 0, 1 }); }

/* Seven layouts of one operand, for ops that take any shape. */
#define UNARY_OPERANDS                                                                   \
    {                                                                                    \
        { "contiguous [3,4]", TG_SHAPE(3, 4), view_same },                               \
        { "size-1 axis [2,1,3]", TG_SHAPE(2, 1, 3), view_same },                         \
        { "0-d", TG_SCALAR, view_same },                                                 \
        { "transposed [4,3]", TG_SHAPE(4, 3), view_transposed },                         \
        { "step-sliced [3,9]", TG_SHAPE(3, 9), view_step_sliced },                       \
        { "expanded [1,4]", TG_SHAPE(1, 4), view_expanded },                             \
        { "permuted [2,3,4]", TG_SHAPE(2, 3, 4), view_permuted },                        \
    }

/* ---- Running the checker -------------------------------------------------------- */

/* Tolerances tighter than tg_gradcheck's defaults, so that a backward rule
 * off by 1% fails. The step balances float32 rounding in the differences
 * (worse for smaller steps) against the truncation error of a central
 * difference (eps^2 f'''/6, worse for larger ones); both stay below a third
 * of the tolerance for these small, O(1) functions. Inputs stay at least
 * 0.05 from kinks and ties, ten steps away. */
static const tg_gradcheck_config tight = { .eps = 5e-3, .atol = 2e-4, .rtol = 2e-3 };
/* Second derivatives are differences of gradients that are themselves sums
 * rounded to float: for the wider products here that rounding alone reaches
 * 4e-4, so the absolute tolerance is 1e-3. */
static const tg_gradcheck_config tight_second = { .eps = 5e-3, .atol = 1e-3, .rtol = 5e-3 };

/* Fails the test, naming `what` and `order` (which checker), unless the
 * checker ran (rc 0), compared elements and every one passed. */
static inline void assert_check_passed(int rc, const tg_gradcheck_result *result, const char *what,
                                       const char *order)
{
    cr_assert_eq(rc, 0, "%s: the %s check did not run: %s", what, order, tg_error_message());
    cr_assert(result->passed, "%s, %s: %s", what, order, result->message);
    cr_assert_gt(result->checked, 0, "%s: no %s was checked", what, order);
    cr_assert(!tg_error_occurred(), "%s: %s", what, tg_error_message());
}

/* tg_gradcheck alone with the tight tolerances, for a backward rule written
 * with kernels (first order only). */
static inline void assert_first_order_gradcheck(tg_gradcheck_fn fn, void *user, tg_tensor *const *inputs,
                                                int n, const char *what)
{
    tg_gradcheck_result result;
    int rc = tg_gradcheck(fn, user, inputs, n, &tight, &result);
    assert_check_passed(rc, &result, what, "first derivative");
}

/* Runs tg_gradcheck and then tg_gradgradcheck (the same op's backward,
 * differentiated again) with the tight tolerances, and fails the test,
 * naming `what`, unless every element of both passed. */
static inline void assert_gradcheck(tg_gradcheck_fn fn, void *user, tg_tensor *const *inputs, int n,
                                    const char *what)
{
    assert_first_order_gradcheck(fn, user, inputs, n, what);
    tg_gradcheck_result result;
    int rc = tg_gradgradcheck(fn, user, inputs, n, &tight_second, &result);
    assert_check_passed(rc, &result, what, "second derivative");
}

#endif
