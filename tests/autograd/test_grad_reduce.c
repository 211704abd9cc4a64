/* Gradients of the reductions against central differences, over several
 * sets of axes with and without keepdim, on size-1 axes, 0-d tensors and
 * non-contiguous views; ties and zero norms by hand; forward values. */
#include "autograd/check.h"

TestSuite(grad_reduce, .init = tg_test_setup, .fini = tg_test_teardown);

typedef tg_tensor *(*reduce_fn)(tg_tensor *x, tg_axes axes, bool keepdim);

static tg_tensor *var_unbiased(tg_tensor *x, tg_axes axes, bool keepdim) { return tg_var(x, axes, 1.0f, keepdim); }
static tg_tensor *var_biased(tg_tensor *x, tg_axes axes, bool keepdim) { return tg_var(x, axes, 0.0f, keepdim); }
static tg_tensor *norm_1(tg_tensor *x, tg_axes axes, bool keepdim) { return tg_norm(x, 1.0f, axes, keepdim); }
static tg_tensor *norm_2(tg_tensor *x, tg_axes axes, bool keepdim) { return tg_norm(x, 2.0f, axes, keepdim); }
static tg_tensor *norm_3(tg_tensor *x, tg_axes axes, bool keepdim) { return tg_norm(x, 3.0f, axes, keepdim); }
static tg_tensor *norm_inf(tg_tensor *x, tg_axes axes, bool keepdim) { return tg_norm(x, INFINITY, axes, keepdim); }

typedef struct reduce_case {
    const char *name;
    reduce_fn op;
    fill fill;
    bool needs_two; /* unbiased variance: at least two elements per group */
} reduce_case;

static const reduce_case reduce_cases[] = {
    { "sum", tg_sum, FILL_ANY, false },
    { "mean", tg_mean, FILL_ANY, false },
    { "amax", tg_amax, FILL_LADDER, false },
    { "amin", tg_amin, FILL_LADDER, false },
    { "var correction 1", var_unbiased, FILL_ANY, true },
    { "var correction 0", var_biased, FILL_ANY, false },
    { "logsumexp", tg_logsumexp, FILL_ANY, false },
    { "norm 1", norm_1, FILL_LADDER_SIGNED, false },
    { "norm 2", norm_2, FILL_LADDER_SIGNED, false },
    { "norm 3", norm_3, FILL_LADDER_SIGNED, false },
    { "norm inf", norm_inf, FILL_LADDER_SIGNED, false },
};
#define REDUCE_CASES ((int)(sizeof reduce_cases / sizeof reduce_cases[0]))

typedef struct reduction {
    operand x;
    tg_axes axes;
    bool keepdim;
    bool single; /* some group holds one element */
} reduction;

static const reduction reductions[] = {
    { { "[2,3,4] axis 1", TG_SHAPE(2, 3, 4), view_same }, TG_AXES(1), false, false },
    { { "[2,3,4] axes 0,2 keepdim", TG_SHAPE(2, 3, 4), view_same }, TG_AXES(0, 2), true, false },
    { { "[2,3,4] axis -1 keepdim", TG_SHAPE(2, 3, 4), view_same }, TG_AXES(-1), true, false },
    { { "[2,3,4] all axes", TG_SHAPE(2, 3, 4), view_same }, TG_ALL_AXES, false, false },
    { { "[3,1,2] size-1 axis", TG_SHAPE(3, 1, 2), view_same }, TG_AXES(1), false, true },
    { { "[3,1,2] axes 0,1 keepdim", TG_SHAPE(3, 1, 2), view_same }, TG_AXES(0, 1), true, false },
    { { "0-d", TG_SCALAR, view_same }, TG_ALL_AXES, false, true },
    { { "transposed [4,3] axis 0", TG_SHAPE(4, 3), view_transposed }, TG_AXES(0), false, false },
    { { "step-sliced [3,9] axis 1", TG_SHAPE(3, 9), view_step_sliced }, TG_AXES(1), true, false },
    /* Reduced along the expanded axis, amax and amin see three-way ties. */
    { { "expanded [1,4] axis 0", TG_SHAPE(1, 4), view_expanded }, TG_AXES(0), false, false },
    { { "expanded [1,4] axis 1", TG_SHAPE(1, 4), view_expanded }, TG_AXES(1), false, false },
    { { "permuted [2,3,4] axes 0,2", TG_SHAPE(2, 3, 4), view_permuted }, TG_AXES(0, 2), false, false },
};
#define REDUCTIONS ((int)(sizeof reductions / sizeof reductions[0]))

typedef struct reduce_check {
    const reduce_case *c;
    const reduction *r;
} reduce_check;

static tg_tensor *apply_reduce(tg_tensor *const *in, void *user)
{
    const reduce_check *k = user;
    return k->c->op(k->r->x.view(in[0]), k->r->axes, k->r->keepdim);
}

/* reduce(x, keepdim) * x: x is used directly and through the reduction. */
static tg_tensor *apply_reduce_times_input(tg_tensor *const *in, void *user)
{
    const reduce_check *k = user;
    return tg_mul(k->c->op(in[0], k->r->axes, true), in[0]);
}

Test(grad_reduce, every_reduction_over_every_layout)
{
    for (int i = 0; i < REDUCE_CASES; i++) {
        for (int j = 0; j < REDUCTIONS; j++) {
            if (reduce_cases[i].needs_two && reductions[j].single)
                continue;
            tg_tensor *x = make_leaf(reductions[j].x.leaf, reduce_cases[i].fill, 400 + (uint64_t)j);
            reduce_check k = { &reduce_cases[i], &reductions[j] };
            char what[128];
            snprintf(what, sizeof what, "%s over %s", reduce_cases[i].name, reductions[j].x.name);
            assert_gradcheck(apply_reduce, &k, &x, 1, what);
        }
    }
}

Test(grad_reduce, every_reduction_with_its_input_used_twice)
{
    const reduction r = { { "[3,4] axis 1", TG_SHAPE(3, 4), view_same }, TG_AXES(1), true, false };
    for (int i = 0; i < REDUCE_CASES; i++) {
        tg_tensor *x = make_leaf(r.x.leaf, reduce_cases[i].fill, 17);
        reduce_check k = { &reduce_cases[i], &r };
        assert_gradcheck(apply_reduce_times_input, &k, &x, 1, reduce_cases[i].name);
    }
}

static tg_tensor *apply_sum_all(tg_tensor *const *in, void *user)
{
    (void)user;
    return tg_add(tg_sum_all(view_transposed(in[0])), tg_mean_all(tg_square(in[0])));
}

Test(grad_reduce, sum_all_and_mean_all)
{
    tg_tensor *x = make_leaf(TG_SHAPE(4, 3), FILL_ANY, 5);
    assert_gradcheck(apply_sum_all, NULL, &x, 1, "sum_all + mean_all");
    tg_tensor *y = tg_sum_all(x);
    cr_assert_eq(y->ndim, 0);
    cr_assert_eq(tg_mean_all(x)->ndim, 0);
}

/* ---- max and min along one axis --------------------------------------------------- */

typedef struct indexed_check {
    bool is_max;
    operand x;
    int dim;
    bool keepdim;
} indexed_check;

static tg_tensor *apply_indexed(tg_tensor *const *in, void *user)
{
    const indexed_check *k = user;
    tg_tensor *v = k->x.view(in[0]);
    return k->is_max ? tg_max(v, k->dim, k->keepdim, NULL) : tg_min(v, k->dim, k->keepdim, NULL);
}

Test(grad_reduce, max_and_min_along_an_axis)
{
    const struct {
        operand x;
        int dim;
        bool keepdim;
    } cases[] = {
        { { "[2,3,4]", TG_SHAPE(2, 3, 4), view_same }, 1, false },
        { { "[2,3,4]", TG_SHAPE(2, 3, 4), view_same }, -1, true },
        { { "[3,1,2]", TG_SHAPE(3, 1, 2), view_same }, 1, false },
        { { "transposed [4,3]", TG_SHAPE(4, 3), view_transposed }, 0, false },
        { { "step-sliced [3,9]", TG_SHAPE(3, 9), view_step_sliced }, 1, true },
        { { "permuted [2,3,4]", TG_SHAPE(2, 3, 4), view_permuted }, 2, false },
    };
    for (int m = 0; m < 2; m++) {
        for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
            tg_tensor *x = make_leaf(cases[i].x.leaf, FILL_LADDER, 40 + (uint64_t)i);
            indexed_check k = { m == 0, cases[i].x, cases[i].dim, cases[i].keepdim };
            char what[96];
            snprintf(what, sizeof what, "%s along %d of %s", m == 0 ? "max" : "min", cases[i].dim,
                     cases[i].x.name);
            assert_gradcheck(apply_indexed, &k, &x, 1, what);
        }
    }
}

Test(grad_reduce, max_and_min_indices_match_a_naive_scan)
{
    tg_tensor *x = make_leaf(TG_SHAPE(3, 5), FILL_LADDER, 3);
    tg_tensor *imax, *imin;
    tg_tensor *vmax = tg_max(x, 1, false, &imax), *vmin = tg_min(x, 1, true, &imin);
    tg_assert_shape(vmax, 3);
    tg_assert_shape(imin, 3, 1);
    float values_max[3], values_min[3];
    int64_t index_max[3], index_min[3];
    for (int r = 0; r < 3; r++) {
        int best = 0, worst = 0;
        for (int c = 1; c < 5; c++) {
            best = x->data[r * 5 + c] > x->data[r * 5 + best] ? c : best;
            worst = x->data[r * 5 + c] < x->data[r * 5 + worst] ? c : worst;
        }
        values_max[r] = x->data[r * 5 + best];
        values_min[r] = x->data[r * 5 + worst];
        index_max[r] = best;
        index_min[r] = worst;
    }
    tg_assert_values(vmax, values_max, 3, 0.0f);
    tg_assert_values(vmin, values_min, 3, 0.0f);
    tg_assert_int64_values(imax, index_max, 3);
    tg_assert_int64_values(imin, index_min, 3);
    cr_assert(!tg_requires_grad(imax) && !tg_requires_grad(imin));
    tg_assert_int64_values(tg_argmax(x, 1, false), index_max, 3);
    tg_assert_int64_values(tg_argmin(x, -1, false), index_min, 3);
    cr_assert(!tg_requires_grad(tg_argmax(x, 0, false)));
    /* read as floats, as before the indices were int64 */
    cr_assert_eq(tg_tensor_item(tg_argmax(tg_select(x, 0, 1), 0, false)), (float)index_max[1]);
}

/* ---- Ties, zero norms, forward values by hand ---------------------------------------- */

Test(grad_reduce, ties_share_the_gradient_and_indexed_max_takes_the_first)
{
    tg_tensor *x = leaf_of(TG_SHAPE(2, 3), (float[]){ 1, 3, 3, -2, -2, 0 });
    /* amax over axis 1: row 0 ties between 3 and 3, row 1 has one max (0). */
    cr_assert_eq(tg_backward(tg_sum_all(tg_amax(x, TG_AXES(1), false))), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(x), ((float[]){ 0, 0.5f, 0.5f, 0, 0, 1 }), 6, 0.0f);
    tg_zero_grad(x);
    /* amin over all: -2 twice. */
    cr_assert_eq(tg_backward(tg_amin(x, TG_ALL_AXES, false)), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(x), ((float[]){ 0, 0, 0, 0.5f, 0.5f, 0 }), 6, 0.0f);
    tg_zero_grad(x);
    /* max along axis 1 with indices: the first of the tied elements. */
    cr_assert_eq(tg_backward(tg_sum_all(tg_max(x, 1, false, NULL))), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(x), ((float[]){ 0, 1, 0, 0, 0, 1 }), 6, 0.0f);
    tg_zero_grad(x);
    cr_assert_eq(tg_backward(tg_sum_all(tg_min(x, 1, false, NULL))), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(x), ((float[]){ 1, 0, 0, 1, 0, 0 }), 6, 0.0f);
    tg_zero_grad(x);
    /* The infinity norm of [3, -3, 1]: the two largest magnitudes share, with their signs. */
    tg_tensor *y = leaf_of(TG_SHAPE(3), (float[]){ 3, -3, 1 });
    cr_assert_eq(tg_backward(tg_norm(y, INFINITY, TG_ALL_AXES, false)), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(y), ((float[]){ 0.5f, -0.5f, 0 }), 3, 0.0f);
}

Test(grad_reduce, the_gradient_of_a_zero_norm_is_zero)
{
    const float orders[] = { 1.0f, 2.0f, 3.0f, INFINITY };
    for (int i = 0; i < 4; i++) {
        tg_tensor *x = leaf_of(TG_SHAPE(2, 2), (float[]){ 0, 0, 1, -2 });
        tg_tensor *n = tg_norm(x, orders[i], TG_AXES(1), false);
        cr_assert_eq(tg_backward(tg_sum_all(n)), 0, "%s", tg_error_message());
        float row1[4][2] = { { 1, -1 }, { 1 / sqrtf(5), -2 / sqrtf(5) },
                             { 1 / powf(9, 2.0f / 3), -4 / powf(9, 2.0f / 3) }, { 0, -1 } };
        tg_assert_values(tg_grad(x), ((float[]){ 0, 0, row1[i][0], row1[i][1] }), 4, 1e-6f);
    }
}

Test(grad_reduce, forward_values_by_hand)
{
    tg_tensor *x = leaf_of(TG_SHAPE(2, 3), (float[]){ 1, 2, 3, 4, 5, 6 });
    tg_assert_values(tg_sum(x, TG_AXES(0), false), ((float[]){ 5, 7, 9 }), 3, 1e-6f);
    tg_assert_shape(tg_sum(x, TG_AXES(0), true), 1, 3);
    tg_assert_values(tg_mean(x, TG_AXES(1), false), ((float[]){ 2, 5 }), 2, 1e-6f);
    tg_assert_values(tg_var(x, TG_AXES(1), 1.0f, false), ((float[]){ 1, 1 }), 2, 1e-6f);
    tg_assert_values(tg_var(x, TG_ALL_AXES, 0.0f, false), ((float[]){ 35.0f / 12 }), 1, 1e-6f);
    float lse = 3.0f + logf(expf(-2) + expf(-1) + 1);
    tg_assert_values(tg_logsumexp(x, TG_AXES(-1), true), ((float[]){ lse, lse + 3 }), 2, 1e-6f);
    tg_assert_shape(tg_logsumexp(x, TG_AXES(-1), true), 2, 1);
    tg_assert_values(tg_norm(x, 2.0f, TG_AXES(0), false),
                     ((float[]){ sqrtf(17), sqrtf(29), sqrtf(45) }), 3, 1e-6f);
    tg_assert_values(tg_norm(x, 1.0f, TG_ALL_AXES, false), ((float[]){ 21 }), 1, 1e-6f);
    tg_assert_values(tg_norm(x, INFINITY, TG_ALL_AXES, false), ((float[]){ 6 }), 1, 0.0f);
    tg_assert_values(tg_amax(x, TG_AXES(0), false), ((float[]){ 4, 5, 6 }), 3, 0.0f);
    tg_assert_values(tg_amin(x, TG_AXES(1), false), ((float[]){ 1, 4 }), 2, 0.0f);
    /* Over an empty axis: a sum of nothing is 0, a mean NaN, as in PyTorch. */
    tg_tensor *empty = tg_slice(x, 1, 0, 0, 1);
    tg_assert_values(tg_sum(empty, TG_AXES(1), false), ((float[]){ 0, 0 }), 2, 0.0f);
    tg_assert_values(tg_mean(empty, TG_AXES(1), false), ((float[]){ NAN, NAN }), 2, 0.0f);
}
