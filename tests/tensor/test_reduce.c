/* Reductions to a shape, arg-reductions and softmax, against naive loops. */
#include "support.h"
#include <tensor/kernel.h>

TestSuite(reduce, .init = tg_test_setup, .fini = tg_test_teardown);
TestSuite(softmax, .init = tg_test_setup, .fini = tg_test_teardown);

/* x[i,j,k] = a small non-integer pattern, in a [2,3,4] graph tensor. */
static tg_tensor *pattern(void)
{
    tg_tensor *x = tg_empty(TG_SHAPE(2, 3, 4));
    for (int i = 0; i < 24; i++)
        x->data[i] = (float)((i * 7) % 11) - 4.5f;
    return x;
}

Test(reduce, sum_over_each_set_of_axes)
{
    tg_tensor *x = pattern();
    /* every subset of {0,1,2}: the kept shape has 1 where reduced */
    for (int mask = 0; mask < 8; mask++) {
        tg_shape kept = TG_SHAPE(mask & 1 ? 1 : 2, mask & 2 ? 1 : 3, mask & 4 ? 1 : 4);
        tg_tensor *out = tg_empty(kept);
        cr_assert_eq(tg_kernel_sum_to(out, x, 1.0f, false), 0, "%s", tg_error_message());
        double expected[24] = { 0 };
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < 4; k++) {
                    int oi = mask & 1 ? 0 : i, oj = mask & 2 ? 0 : j, ok = mask & 4 ? 0 : k;
                    expected[(oi * kept.dim[1] + oj) * kept.dim[2] + ok] += x->data[(i * 3 + j) * 4 + k];
                }
        for (int64_t e = 0; e < out->numel; e++)
            cr_assert_float_eq(out->data[e], (float)expected[e], 1e-5, "mask %d element %lld", mask,
                               (long long)e);
    }
}

Test(reduce, sum_to_a_shape_with_missing_leading_axes_scale_and_accumulate)
{
    tg_tensor *x = tg_from_array(TG_SHAPE(2, 3), (float[]){ 1, 2, 3, 4, 5, 6 });
    tg_tensor *cols = tg_empty(TG_SHAPE(3)); /* the gradient of a broadcast [3] */
    cr_assert_eq(tg_kernel_sum_to(cols, x, 0.5f, false), 0);
    tg_assert_values(cols, ((float[]){ 2.5f, 3.5f, 4.5f }), 3, 0);
    cr_assert_eq(tg_kernel_sum_to(cols, x, 1.0f, true), 0);
    tg_assert_values(cols, ((float[]){ 7.5f, 10.5f, 13.5f }), 3, 0);
    tg_tensor *all = tg_empty(TG_SCALAR);
    cr_assert_eq(tg_kernel_sum_to(all, x, 1.0f, false), 0);
    tg_assert_values(all, ((float[]){ 21 }), 1, 0);
    /* summing to the same shape copies (times scale) */
    tg_tensor *same = tg_empty(TG_SHAPE(2, 3));
    cr_assert_eq(tg_kernel_sum_to(same, x, 2.0f, false), 0);
    tg_assert_values(same, ((float[]){ 2, 4, 6, 8, 10, 12 }), 6, 0);
}

Test(reduce, sum_of_a_transposed_view)
{
    tg_tensor *x = tg_from_array(TG_SHAPE(2, 3), (float[]){ 1, 2, 3, 4, 5, 6 });
    tg_tensor *out = tg_empty(TG_SHAPE(3, 1));
    cr_assert_eq(tg_kernel_sum_to(out, tg_view_transpose(x, 0, 1), 1.0f, false), 0);
    tg_assert_values(out, ((float[]){ 5, 7, 9 }), 3, 0);
    tg_tensor *strided_out = tg_view_slice(tg_zeros(TG_SHAPE(1, 6)), 1, 0, 6, 2); /* [1,3] stride 2 */
    cr_assert_eq(tg_kernel_sum_to(strided_out, x, 1.0f, false), 0);
    tg_assert_values(strided_out, ((float[]){ 5, 7, 9 }), 3, 0);
}

Test(reduce, sums_accumulate_in_double_precision)
{
    /* 2^24 + 1000 ones: a float accumulator would stay at 2^24. */
    tg_tensor *x = tg_ones(TG_SHAPE(1001));
    x->data[0] = 16777216.0f;
    tg_tensor *out = tg_empty(TG_SCALAR);
    tg_kernel_sum_to(out, x, 1.0f, false);
    cr_assert_eq(out->data[0], 16778216.0f, "%.1f", out->data[0]);
}

Test(reduce, max_and_min_with_nan_winning)
{
    tg_tensor *x = tg_from_array(TG_SHAPE(3, 3), (float[]){ 1, -INFINITY, 3, -2, NAN, 0, -5, -6, -7 });
    tg_tensor *rows = tg_empty(TG_SHAPE(3, 1));
    cr_assert_eq(tg_kernel_max_to(rows, x), 0);
    tg_assert_values(rows, ((float[]){ 3, NAN, -5 }), 3, 0);
    cr_assert_eq(tg_kernel_min_to(rows, x), 0);
    tg_assert_values(rows, ((float[]){ -INFINITY, NAN, -7 }), 3, 0);
    tg_tensor *cols = tg_empty(TG_SHAPE(1, 3));
    cr_assert_eq(tg_kernel_max_to(cols, x), 0);
    tg_assert_values(cols, ((float[]){ 1, NAN, 3 }), 3, 0);
    tg_tensor *all = tg_empty(TG_SCALAR);
    tg_tensor *finite = tg_from_array(TG_SHAPE(2, 2), (float[]){ -3, -1, -2, -8 });
    cr_assert_eq(tg_kernel_max_to(all, finite), 0);
    tg_assert_values(all, ((float[]){ -1 }), 1, 0);
    cr_assert_eq(tg_kernel_min_to(all, finite), 0);
    tg_assert_values(all, ((float[]){ -8 }), 1, 0);
}

Test(reduce, variance_with_and_without_correction)
{
    tg_tensor *x = tg_from_array(TG_SHAPE(2, 4), (float[]){ 1, 2, 3, 4, 2, 2, 2, 10 });
    tg_tensor *rows = tg_empty(TG_SHAPE(2, 1));
    cr_assert_eq(tg_kernel_var_to(rows, x, 1.0f), 0);
    /* row 0: mean 2.5, squared deviations 5; row 1: mean 4, 4+4+4+36 = 48 */
    tg_assert_values(rows, ((float[]){ 5.0f / 3, 16 }), 2, 1e-6);
    cr_assert_eq(tg_kernel_var_to(rows, x, 0.0f), 0);
    tg_assert_values(rows, ((float[]){ 1.25f, 12 }), 2, 1e-6);
    tg_tensor *cols = tg_empty(TG_SHAPE(4));
    cr_assert_eq(tg_kernel_var_to(cols, x, 1.0f), 0);
    tg_assert_values(cols, ((float[]){ 0.5f, 0, 0.5f, 18 }), 4, 1e-6);
}

Test(reduce, logsumexp_is_stable)
{
    tg_tensor *x = tg_from_array(TG_SHAPE(4, 2), (float[]){ 1000, 1000, -1000, -1000, 0, 1, -INFINITY, -INFINITY });
    tg_tensor *out = tg_empty(TG_SHAPE(4, 1));
    cr_assert_eq(tg_kernel_logsumexp_to(out, x), 0);
    tg_assert_values(out, ((float[]){ 1000 + 0.69314718f, -1000 + 0.69314718f, 1.31326169f, -INFINITY }), 4, 1e-6);
    tg_tensor *y = tg_from_array(TG_SHAPE(2), (float[]){ INFINITY, 0 });
    tg_tensor *s = tg_empty(TG_SCALAR);
    cr_assert_eq(tg_kernel_logsumexp_to(s, y), 0);
    cr_assert(isinf(s->data[0]) && s->data[0] > 0);
}

Test(reduce, norms_of_several_orders)
{
    tg_tensor *x = tg_from_array(TG_SHAPE(2, 3), (float[]){ 3, -4, 0, 1, -2, 2 });
    tg_tensor *out = tg_empty(TG_SHAPE(2, 1));
    cr_assert_eq(tg_kernel_norm_to(out, x, 2.0f), 0);
    tg_assert_values(out, ((float[]){ 5, 3 }), 2, 1e-6);
    cr_assert_eq(tg_kernel_norm_to(out, x, 1.0f), 0);
    tg_assert_values(out, ((float[]){ 7, 5 }), 2, 1e-6);
    cr_assert_eq(tg_kernel_norm_to(out, x, 3.0f), 0);
    tg_assert_values(out, ((float[]){ cbrtf(91), cbrtf(17) }), 2, 1e-6);
    cr_assert_eq(tg_kernel_norm_to(out, x, INFINITY), 0);
    tg_assert_values(out, ((float[]){ 4, 2 }), 2, 0);
}

Test(reduce, arg_max_and_min_give_first_indices)
{
    tg_tensor *x = tg_from_array(TG_SHAPE(2, 4), (float[]){ 1, 7, 7, -3, 5, 5, -1, -1 });
    tg_tensor *v = tg_empty(TG_SHAPE(2, 1)), *i = tg_empty_dtype(TG_SHAPE(2, 1), TG_INT64);
    cr_assert_eq(tg_kernel_arg_reduce(v, i, x, 1, true), 0);
    tg_assert_values(v, ((float[]){ 7, 5 }), 2, 0);
    tg_assert_int64_values(i, ((int64_t[]){ 1, 0 }), 2);
    cr_assert_eq(tg_kernel_arg_reduce(v, i, x, -1, false), 0);
    tg_assert_values(v, ((float[]){ -3, -1 }), 2, 0);
    tg_assert_int64_values(i, ((int64_t[]){ 3, 2 }), 2);
    tg_tensor *cv = tg_empty(TG_SHAPE(1, 4)), *ci = tg_empty_dtype(TG_SHAPE(1, 4), TG_INT64);
    cr_assert_eq(tg_kernel_arg_reduce(cv, ci, x, 0, true), 0);
    tg_assert_values(cv, ((float[]){ 5, 7, 7, -1 }), 4, 0);
    tg_assert_int64_values(ci, ((int64_t[]){ 1, 0, 0, 1 }), 4);
    /* indices into a strided (transposed) output */
    tg_tensor *ti = tg_view_transpose(tg_empty_dtype(TG_SHAPE(1, 2), TG_INT64), 0, 1);
    cr_assert_eq(tg_kernel_arg_reduce(v, ti, x, 1, true), 0);
    tg_assert_int64_values(ti, ((int64_t[]){ 1, 0 }), 2);
    /* NaN wins, at its first position */
    tg_tensor *n = tg_from_array(TG_SHAPE(1, 4), (float[]){ 1, NAN, 9, NAN });
    tg_tensor *nv = tg_empty(TG_SHAPE(1, 1)), *ni = tg_empty_dtype(TG_SHAPE(1, 1), TG_INT64);
    cr_assert_eq(tg_kernel_arg_reduce(nv, ni, n, 1, true), 0);
    cr_assert(isnan(nv->data[0]));
    cr_assert_eq(ni->i64[0], 1);
}

Test(reduce, reduce_shapes_with_and_without_keepdim)
{
    tg_tensor *x = tg_empty(TG_SHAPE(2, 3, 4, 5));
    tg_shape kept, result;
    cr_assert_eq(tg_reduce_shapes(x, TG_AXES(1, -1), false, &kept, &result, "sum"), 0);
    cr_assert(tg_shape_equal(kept, TG_SHAPE(2, 1, 4, 1)));
    cr_assert(tg_shape_equal(result, TG_SHAPE(2, 4)));
    cr_assert_eq(tg_reduce_shapes(x, TG_AXES(1, -1), true, &kept, &result, "sum"), 0);
    cr_assert(tg_shape_equal(result, TG_SHAPE(2, 1, 4, 1)));
    cr_assert_eq(tg_reduce_shapes(x, TG_ALL_AXES, false, &kept, &result, "sum"), 0);
    cr_assert_eq(result.ndim, 0);
    cr_assert(tg_shape_equal(kept, TG_SHAPE(1, 1, 1, 1)));
    cr_assert_eq(tg_reduce_shapes(x, TG_AXES(2, -2), false, &kept, &result, "mean"), -1);
    tg_assert_error("mean: axis -2 is named twice");
}

/* ---- Softmax ------------------------------------------------------------- */

static void naive_softmax(const float *x, float *out, int n, int stride, bool log_form)
{
    double m = -INFINITY, s = 0;
    for (int i = 0; i < n; i++)
        m = fmax(m, x[i * stride]);
    for (int i = 0; i < n; i++)
        s += exp(x[i * stride] - m);
    for (int i = 0; i < n; i++)
        out[i * stride] = log_form ? (float)(x[i * stride] - m - log(s)) : (float)(exp(x[i * stride] - m) / s);
}

Test(softmax, along_each_axis_against_a_naive_loop)
{
    tg_rng rng = tg_rng_new(3);
    tg_tensor *x = tg_randn(TG_SHAPE(3, 5), &rng);
    tg_kernel_scale(x, x, 4.0f, false);
    for (int log_form = 0; log_form < 2; log_form++) {
        tg_tensor *out = tg_empty(TG_SHAPE(3, 5));
        float expected[15];
        cr_assert_eq(tg_kernel_softmax(out, x, 1, log_form), 0);
        for (int r = 0; r < 3; r++)
            naive_softmax(x->data + r * 5, expected + r * 5, 5, 1, log_form);
        tg_assert_values(out, expected, 15, 1e-6);
        cr_assert_eq(tg_kernel_softmax(out, x, 0, log_form), 0);
        for (int c = 0; c < 5; c++)
            naive_softmax(x->data + c, expected + c, 3, 5, log_form);
        tg_assert_values(out, expected, 15, 1e-6);
    }
}

Test(softmax, large_and_infinite_inputs)
{
    tg_tensor *x = tg_from_array(TG_SHAPE(3, 3), (float[]){ 1000, 1000, 999, -INFINITY, 0, 0, 50, -50, -INFINITY });
    tg_tensor *out = tg_empty(TG_SHAPE(3, 3));
    cr_assert_eq(tg_kernel_softmax(out, x, -1, false), 0);
    float e = expf(-1.0f), z = 2 + e;
    tg_assert_values(out, ((float[]){ 1 / z, 1 / z, e / z, 0, 0.5f, 0.5f, 1, 0, 0 }), 9, 1e-6);
    cr_assert_eq(tg_kernel_softmax(out, x, -1, true), 0);
    tg_assert_values(out, ((float[]){ -logf(z), -logf(z), -1 - logf(z), -INFINITY, -0.69314718f, -0.69314718f,
                                      0, -100, -INFINITY }), 9, 1e-5);
}

Test(softmax, non_contiguous_input_and_output)
{
    tg_tensor *x = tg_from_array(TG_SHAPE(2, 3), (float[]){ 0, 1, 2, 3, 3, 3 });
    tg_tensor *out = tg_empty(TG_SHAPE(3, 2));
    /* softmax of x^T along dim 0 = softmax of x's rows, written transposed */
    cr_assert_eq(tg_kernel_softmax(tg_view_transpose(out, 0, 1), x, 1, false), 0);
    float s = 1 + expf(1) + expf(2);
    tg_assert_values(out, ((float[]){ 1 / s, 1 / 3.f, expf(1) / s, 1 / 3.f, expf(2) / s, 1 / 3.f }), 6, 1e-6);
}

Test(softmax, large_tensors_on_two_threads)
{
    int previous = tg_get_num_threads();
    tg_set_num_threads(2);
    tg_rng rng = tg_rng_new(8);
    tg_tensor *x = tg_randn(TG_SHAPE(257, 129), &rng);
    tg_tensor *out = tg_empty(TG_SHAPE(257, 129));
    cr_assert_eq(tg_kernel_softmax(out, x, 0, false), 0);
    float *expected = malloc(sizeof(float) * 257 * 129);
    for (int c = 0; c < 129; c++)
        naive_softmax(x->data + c, expected + c, 257, 129, false);
    for (int i = 0; i < 257 * 129; i++)
        cr_assert(fabsf(out->data[i] - expected[i]) < 1e-6f, "element %d", i);
    free(expected);
    tg_set_num_threads(previous);
}
