/* int8 weights and the int8 product (tensor/quantize.h, tg_affine_int8):
 * the quantised values, the VNNI path against the plain C path bit for
 * bit, both against the float product within the bound the quantisation
 * steps give, row views, checkpoint values, and the errors. */
#include <math.h>

#include "support.h"
#include <tensor/kernel.h>

TestSuite(quantize, .init = tg_test_setup, .fini = tg_test_teardown);

Test(quantize, rows_get_their_own_symmetric_scale)
{
    const float w[] = { 1.0f, -0.5f, 0.25f, 0.0f, 0.0f, 0.0f, 2.0f, 1.0f, -2.0f };
    tg_tensor *t = tg_tensor_from_array(TG_SHAPE(3, 3), w);
    tg_qweight *q = tg_qweight_quantize(t, 0);
    cr_assert_not_null(q, "%s", tg_error_message());
    /* -0.5 * 127 = -63.5 and 0.5 * 127 = 63.5 round to even, 31.75 to 32 */
    const int8_t expected[] = { 127, -64, 32, 0, 0, 0, 127, 64, -127 };
    for (int i = 0; i < 9; i++)
        cr_assert_eq(q->values[i], expected[i], "value %d: %d", i, q->values[i]);
    cr_assert_float_eq(q->scale[0], 1.0f / 127.0f, 1e-9f);
    cr_assert_eq(q->scale[1], 0.0f);
    cr_assert_float_eq(q->scale[2], 2.0f / 127.0f, 1e-9f);
    cr_assert_eq(q->row_sum[0], 95);
    cr_assert_eq(q->row_sum[2], 64);
    tg_tensor *back = tg_qweight_dequantize(q);
    for (int i = 0; i < 9; i++)
        cr_assert(fabsf(back->data[i] - w[i]) <= 0.5f * q->scale[i / 3] + 1e-7f, "element %d", i);
    tg_tensor_free(back);
    tg_qweight_free(q);
    tg_tensor_free(t);
}

/* out = x q^T through the kernel, in the current mode; accumulate adds to out0. */
static tg_tensor *product(const tg_tensor *x, const tg_qweight *q, const tg_tensor *out0)
{
    tg_tensor *out = tg_tensor_zeros(TG_SHAPE(x->shape[0], q->rows));
    void *scratch = malloc(tg_int8_scratch_bytes(x->shape[0], q->cols));
    cr_assert_eq(tg_kernel_affine_int8(out, x, q, out0, scratch), 0, "%s", tg_error_message());
    free(scratch);
    return out;
}

/* x [n, k] times a random weight [m, k] (segments of `segment` rows): the
 * two paths agree exactly, and each output is within the quantisation
 * bound of the float product (float64 here) plus the addend. */
static void check_product(int64_t n, int64_t k, int64_t m, int64_t segment, bool accumulate)
{
    tg_rng rng = tg_rng_new((uint64_t)(n * 7919 + k * 104729 + m));
    tg_tensor *x = tg_tensor_randn(TG_SHAPE(n, k), &rng);
    tg_tensor *w = tg_tensor_randn(TG_SHAPE(m, k), &rng);
    tg_tensor *out0 = accumulate ? tg_tensor_randn(TG_SHAPE(n, m), &rng) : NULL;
    tg_qweight *q = tg_qweight_quantize(w, segment);
    cr_assert_not_null(q, "%s", tg_error_message());
    tg_set_reference_mode(true);
    tg_tensor *plain = product(x, q, out0);
    cr_assert_str_eq(tg_int8_kernel_name(), "plain C");
    tg_set_reference_mode(false);
    tg_tensor *fast = product(x, q, out0);
    for (int64_t i = 0; i < n * m; i++)
        cr_assert_eq(fast->data[i], plain->data[i], "n %lld k %lld m %lld: output %lld: %.9g and %.9g",
                     (long long)n, (long long)k, (long long)m, (long long)i,
                     (double)fast->data[i], (double)plain->data[i]);
    for (int64_t i = 0; i < n; i++) {
        double max_x = 0, sum_x = 0;
        for (int64_t p = 0; p < k; p++) {
            max_x = fmax(max_x, fabs(x->data[i * k + p]));
            sum_x += fabs(x->data[i * k + p]);
        }
        double t = max_x / 127;
        for (int64_t r = 0; r < m; r++) {
            double exact = out0 ? out0->data[i * m + r] : 0, sum_w = 0, s = q->scale[r];
            for (int64_t p = 0; p < k; p++) {
                exact += (double)x->data[i * k + p] * w->data[r * k + p];
                sum_w += fabs(w->data[r * k + p]);
            }
            double bound = s / 2 * sum_x + t / 2 * sum_w + s * t / 4 * (double)k;
            cr_assert(fabs(plain->data[i * m + r] - exact) <= bound * 1.0001 + 1e-5,
                      "row %lld out %lld: %g against %g, bound %g", (long long)i, (long long)r,
                      (double)plain->data[i * m + r], exact, bound);
        }
    }
    tg_qweight_free(q);
    tg_tensor_free(x);
    tg_tensor_free(w);
    tg_tensor_free(out0);
    tg_tensor_free(plain);
    tg_tensor_free(fast);
}

Test(quantize, both_paths_agree_and_stay_within_the_quantisation_bound)
{
    check_product(1, 256, 1024, 256, true); /* an LSTM's recurrent step at INF */
    check_product(64, 256, 65, 0, false);   /* a head over 65 classes */
    check_product(5, 7, 3, 0, true);        /* columns not a multiple of 4, rows below 16 */
    check_product(9, 33, 150, 50, false);   /* segments not a multiple of 16 */
    check_product(4, 1, 17, 0, true);
    check_product(6, 64, 400, 200, true); /* 13 blocks a segment: a full panel and a narrower one */
}

Test(quantize, a_row_view_multiplies_like_its_rows_of_the_whole)
{
    tg_rng rng = tg_rng_new(3);
    tg_tensor *x = tg_tensor_randn(TG_SHAPE(3, 40), &rng);
    tg_tensor *w = tg_tensor_randn(TG_SHAPE(3 * 20, 40), &rng);
    tg_qweight *q = tg_qweight_quantize(w, 20);
    tg_tensor *whole = product(x, q, NULL);
    tg_qweight view;
    cr_assert_eq(tg_qweight_rows(q, 40, 20, &view), 0, "%s", tg_error_message());
    tg_tensor *part = product(x, &view, NULL);
    for (int64_t i = 0; i < 3; i++)
        for (int64_t r = 0; r < 20; r++)
            cr_assert_eq(part->data[i * 20 + r], whole->data[i * 60 + 40 + r]);
    cr_assert_eq(tg_qweight_rows(q, 10, 20, &view), -1);
    cr_assert_str_eq(tg_error_message(), "qweight_rows: rows [10, 30) of an int8 weight [60,40] "
                                         "are not whole segments of 20 rows");
    tg_qweight_free(&view); /* a view: nothing to free */
    tg_tensor_free(part);
    tg_tensor_free(whole);
    tg_qweight_free(q);
    tg_tensor_free(x);
    tg_tensor_free(w);
}

Test(quantize, zero_rows_keep_the_addend_and_non_finite_rows_give_nan)
{
    tg_rng rng = tg_rng_new(4);
    tg_tensor *w = tg_tensor_randn(TG_SHAPE(20, 8), &rng);
    tg_tensor *x = tg_tensor_zeros(TG_SHAPE(2, 8));
    x->data[8 + 3] = INFINITY;
    tg_tensor *out0 = tg_tensor_full(TG_SHAPE(2, 20), 1.5f);
    tg_qweight *q = tg_qweight_quantize(w, 0);
    for (int mode = 0; mode < 2; mode++) {
        tg_set_reference_mode(mode == 1);
        tg_tensor *out = product(x, q, out0);
        for (int r = 0; r < 20; r++) {
            cr_assert_eq(out->data[r], 1.5f);
            cr_assert(isnan(out->data[20 + r]));
        }
        tg_tensor_free(out);
    }
    tg_set_reference_mode(false);
    tg_qweight_free(q);
    tg_tensor_free(w);
    tg_tensor_free(x);
    tg_tensor_free(out0);
}

Test(quantize, values_and_scales_round_trip_and_bad_ones_are_refused)
{
    tg_rng rng = tg_rng_new(5);
    tg_tensor *w = tg_tensor_randn(TG_SHAPE(6, 10), &rng);
    tg_tensor *x = tg_tensor_randn(TG_SHAPE(2, 10), &rng);
    tg_qweight *q = tg_qweight_quantize(w, 3);
    tg_tensor *zero = tg_tensor_zeros(TG_SHAPE(6, 10));
    tg_qweight *copy = tg_qweight_quantize(zero, 3);
    tg_tensor *values = tg_qweight_values(q), *scales = tg_qweight_scales(q);
    cr_assert_eq(values->dtype, TG_INT64);
    cr_assert_eq(tg_qweight_assign(copy, values, scales, "load"), 0, "%s", tg_error_message());
    tg_tensor *a = product(x, q, NULL), *b = product(x, copy, NULL);
    for (int i = 0; i < 12; i++)
        cr_assert_eq(a->data[i], b->data[i]);
    values->i64[7] = 128;
    cr_assert_eq(tg_qweight_assign(copy, values, scales, "load"), -1);
    cr_assert_str_eq(tg_error_message(), "load: value 128 at [0,7] is outside int8's range");
    tg_error_clear();
    values->i64[7] = -128; /* I8's whole range loads */
    scales->data[4] = -1.0f;
    cr_assert_eq(tg_qweight_assign(copy, values, scales, "load"), -1);
    cr_assert_str_eq(tg_error_message(),
                     "load: scale -1 of row 4: scales must be finite and not negative");
    tg_error_clear();
    tg_tensor *c = product(x, copy, NULL); /* unchanged by the refused loads */
    for (int i = 0; i < 12; i++)
        cr_assert_eq(c->data[i], a->data[i]);
    tg_tensor *wrong = tg_tensor_zeros(TG_SHAPE(6));
    cr_assert_eq(tg_qweight_assign(copy, wrong, scales, "load"), -1);
    cr_assert_str_eq(tg_error_message(), "load: int8 values float32 [6] and scales float32 [6]: "
                                         "expected int64 [6,10] and float32 [6]");
    tg_tensor *tensors[] = { w, x, zero, values, scales, a, b, c, wrong };
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++)
        tg_tensor_free(tensors[i]);
    tg_qweight_free(q);
    tg_qweight_free(copy);
}

Test(quantize, weights_that_cannot_be_quantised_are_refused)
{
    tg_tensor *w = tg_tensor_zeros(TG_SHAPE(4, 3));
    cr_assert_null(tg_qweight_quantize(w, 3));
    cr_assert_str_eq(tg_error_message(), "qweight_quantize: weight [4,3]: expected a non-empty "
                                         "matrix with at most 65536 columns, in segments of 3 rows");
    tg_error_clear();
    w->data[5] = NAN;
    cr_assert_null(tg_qweight_quantize(w, 0));
    cr_assert_str_eq(tg_error_message(), "qweight_quantize: weight [4,3] holds nan at [1,2]");
    tg_tensor_free(w);
}

Test(quantize, the_op_broadcasts_its_addend_and_refuses_gradients)
{
    tg_rng rng = tg_rng_new(6);
    tg_tensor *w = tg_tensor_randn(TG_SHAPE(5, 4), &rng);
    tg_tensor *bias = tg_tensor_randn(TG_SHAPE(5), &rng);
    tg_tensor *x = tg_tensor_randn(TG_SHAPE(2, 3, 4), &rng);
    tg_qweight *q = tg_qweight_quantize(w, 0);
    tg_tensor *y = tg_affine_int8(x, q, bias);
    cr_assert_not_null(y, "%s", tg_error_message());
    cr_assert_eq(y->ndim, 3);
    cr_assert_eq(y->shape[2], 5);
    tg_tensor *x_rows = tg_tensor_clone(tg_reshape(x, TG_SHAPE(6, 4)));
    tg_tensor *out0 = tg_tensor_clone(tg_expand(tg_reshape(bias, TG_SHAPE(1, 5)), TG_SHAPE(6, 5)));
    tg_tensor *expected = product(x_rows, q, out0);
    for (int i = 0; i < 30; i++)
        cr_assert_eq(y->data[i], expected->data[i]);
    /* a transposed input is copied first and gives the same rows */
    tg_tensor *xt = tg_transpose(tg_contiguous(tg_transpose(x, 1, 2)), 1, 2);
    tg_tensor *yt = tg_affine_int8(xt, q, bias);
    for (int i = 0; i < 30; i++)
        cr_assert_eq(yt->data[i], expected->data[i]);
    tg_set_requires_grad(bias, true);
    cr_assert_null(tg_affine_int8(x, q, bias));
    cr_assert_str_eq(tg_error_message(), "affine_int8: input [2,3,4]: an int8 (quantised) layer is "
                                         "inference-only and passes no gradient; run it under "
                                         "tg_no_grad_begin()");
    tg_error_clear();
    tg_no_grad_begin();
    cr_assert_not_null(tg_affine_int8(x, q, bias), "%s", tg_error_message());
    tg_no_grad_end();
    cr_assert_null(tg_affine_int8(tg_reshape(x, TG_SHAPE(3, 8)), q, NULL));
    cr_assert_str_eq(tg_error_message(), "affine_int8: input [3,8] and int8 weight [5,4]: the "
                                         "weight must be [out, in] with in = the input's last dimension");
    tg_tensor *tensors[] = { w, bias, x, x_rows, out0, expected };
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++)
        tg_tensor_free(tensors[i]);
    tg_qweight_free(q);
}
