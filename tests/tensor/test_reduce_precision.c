/* Sums of many terms against float64 references: reductions cascade their
 * sums (tensor/reduce.c), so a bias gradient summed over T x B = 6,400 rows
 * is within 2x of PyTorch's float32 error (tests/fixtures/generate_reduce.py
 * wrote PyTorch's sums of the same matrix). */
#include <math.h>

#include "fixtures/reduce/torch_sums.h"
#include "support.h"
#include <tensor/kernel.h>

TestSuite(reduce_precision, .init = tg_test_setup, .fini = tg_test_teardown);

/* The matrix of generate_reduce.py: same LCG, same constants. */
static tg_tensor *lcg_matrix(void)
{
    tg_tensor *x = tg_empty(TG_SHAPE(TORCH_SUMS_ROWS, TORCH_SUMS_COLS));
    uint64_t state = 16;
    for (int64_t i = 0; i < x->numel; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        x->data[i] = (float)((double)((int64_t)(state >> 40) - (1 << 22)) / 8388608.0);
    }
    return x;
}

/* Root mean square of got - want over n values. */
static double rms_error(const float *got, const double *want, int n)
{
    double s = 0.0;
    for (int i = 0; i < n; i++)
        s += ((double)got[i] - want[i]) * ((double)got[i] - want[i]);
    return sqrt(s / n);
}

Test(reduce_precision, column_sums_of_6400_rows_within_2x_of_pytorch)
{
    tg_tensor *x = lcg_matrix();
    enum { N = TORCH_SUMS_ROWS, C = TORCH_SUMS_COLS };
    double exact[C] = { 0 };
    float naive[C] = { 0 };
    for (int i = 0; i < N; i++)
        for (int j = 0; j < C; j++) {
            exact[j] += x->data[i * C + j];
            naive[j] += x->data[i * C + j];
        }
    tg_tensor *out = tg_empty(TG_SHAPE(C));
    cr_assert_eq(tg_kernel_sum_to(out, x, 1.0f, false), 0, "%s", tg_error_message());
    double ours = rms_error(out->data, exact, C), torch = rms_error(torch_sums, exact, C),
           plain = rms_error(naive, exact, C);
    /* the data are those of the fixture: PyTorch's sums are close */
    cr_assert(torch > 0.0 && torch < 1e-3, "PyTorch's error %g", torch);
    cr_assert(ours <= 2.0 * torch, "error %g, PyTorch's %g", ours, torch);
    cr_assert(ours * 4.0 <= plain, "error %g, naive accumulation's %g", ours, plain);
}

Test(reduce_precision, bias_gradient_shape_time_by_batch)
{
    /* [T, B, H] to [1, 1, H], as broadcasting's gradient sums a bias */
    tg_tensor *x = tg_view_reshape(lcg_matrix(), TG_SHAPE(64, 100, TORCH_SUMS_COLS));
    cr_assert_not_null(x, "%s", tg_error_message());
    tg_tensor *out = tg_empty(TG_SHAPE(1, 1, TORCH_SUMS_COLS));
    cr_assert_eq(tg_kernel_sum_to(out, x, 1.0f, false), 0, "%s", tg_error_message());
    tg_tensor *flat = tg_empty(TG_SHAPE(TORCH_SUMS_COLS));
    cr_assert_eq(tg_kernel_sum_to(flat, lcg_matrix(), 1.0f, false), 0);
    for (int j = 0; j < TORCH_SUMS_COLS; j++)
        cr_assert_eq(out->data[j], flat->data[j], "column %d", j);
}

/* x[i] = a value near 1 with a varying tail, so that long float sums round. */
static float wobble(int64_t i) { return 1.0f + (float)((i * 7919) % 1000) * 1e-4f; }

Test(reduce_precision, strided_and_interleaved_outputs_against_double)
{
    /* [A, B, C] to [1, B, 1] (each output gets its terms from every row of
     * the plan, B apart) and to [1, B, C], accumulating, with a scale */
    enum { A = 3000, B = 3, C = 5 };
    tg_tensor *x = tg_empty(TG_SHAPE(A, B, C));
    for (int64_t i = 0; i < x->numel; i++)
        x->data[i] = wobble(i);
    double per_b[B] = { 0 }, per_bc[B * C] = { 0 };
    for (int a = 0; a < A; a++)
        for (int b = 0; b < B; b++)
            for (int c = 0; c < C; c++) {
                per_b[b] += x->data[(a * B + b) * C + c];
                per_bc[b * C + c] += x->data[(a * B + b) * C + c];
            }
    tg_tensor *ob = tg_empty(TG_SHAPE(1, B, 1));
    cr_assert_eq(tg_kernel_sum_to(ob, x, 1.0f, false), 0, "%s", tg_error_message());
    for (int b = 0; b < B; b++)
        cr_assert_float_eq(ob->data[b], per_b[b], 2e-7 * per_b[b], "b = %d: %.9g vs %.9g", b,
                           ob->data[b], per_b[b]);
    tg_tensor *obc = tg_full(TG_SHAPE(1, B, C), 10.0f);
    cr_assert_eq(tg_kernel_sum_to(obc, x, 0.5f, true), 0, "%s", tg_error_message());
    for (int k = 0; k < B * C; k++) {
        double want = 10.0 + 0.5 * per_bc[k];
        cr_assert_float_eq(obc->data[k], want, 2e-7 * want, "%d: %.9g vs %.9g", k, obc->data[k], want);
    }
    /* a transposed view: x^T [C, B, A] summed over A */
    tg_tensor *xt = tg_view_permute(x, (int[]){ 2, 1, 0 });
    cr_assert_not_null(xt, "%s", tg_error_message());
    tg_tensor *ot = tg_empty(TG_SHAPE(C, B, 1));
    cr_assert_eq(tg_kernel_sum_to(ot, xt, 1.0f, false), 0, "%s", tg_error_message());
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            double want = per_bc[b * C + c];
            cr_assert_float_eq(ot->data[c * B + b], want, 2e-7 * want, "(%d, %d)", c, b);
        }
}

Test(reduce_precision, var_logsumexp_norm_over_long_columns)
{
    enum { N = 20000, C = 4 };
    tg_tensor *x = tg_empty(TG_SHAPE(N, C));
    for (int64_t i = 0; i < x->numel; i++)
        x->data[i] = wobble(i);
    double mean[C] = { 0 }, var[C] = { 0 }, lse[C] = { 0 }, sq[C] = { 0 };
    for (int i = 0; i < N; i++)
        for (int j = 0; j < C; j++) {
            double v = x->data[i * C + j];
            mean[j] += v / N;
            lse[j] += exp(v - 1.0);
            sq[j] += v * v;
        }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < C; j++)
            var[j] += (x->data[i * C + j] - mean[j]) * (x->data[i * C + j] - mean[j]) / (N - 1);
    tg_tensor *ov = tg_empty(TG_SHAPE(1, C)), *ol = tg_empty(TG_SHAPE(1, C)),
              *on = tg_empty(TG_SHAPE(1, C));
    cr_assert_eq(tg_kernel_var_to(ov, x, 1.0f), 0, "%s", tg_error_message());
    cr_assert_eq(tg_kernel_logsumexp_to(ol, x), 0, "%s", tg_error_message());
    cr_assert_eq(tg_kernel_norm_to(on, x, 2.0f), 0, "%s", tg_error_message());
    for (int j = 0; j < C; j++) {
        cr_assert_float_eq(ov->data[j], var[j], 1e-4 * var[j], "var %d: %.9g vs %.9g", j, ov->data[j], var[j]);
        double l = 1.0 + log(lse[j]), n = sqrt(sq[j]);
        /* tg_fast_expf's own error, not the sum's, bounds logsumexp */
        cr_assert_float_eq(ol->data[j], l, 1e-6 * l, "logsumexp %d: %.9g vs %.9g", j, ol->data[j], l);
        cr_assert_float_eq(on->data[j], n, 2e-7 * n, "norm %d: %.9g vs %.9g", j, on->data[j], n);
    }
}
