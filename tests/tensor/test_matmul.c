/* tg_kernel_matmul against a naive triple loop on awkward shapes and
 * layouts: degenerate sizes, views BLIS takes in place, views it cannot
 * take (copied), batches with broadcasting, alpha and beta; and tg_kernel_matmul_tn_sum,
 * one product summed over pieces of rows. */
#include "support.h"
#include <tensor/gemm_tall.h>
#include <tensor/kernel.h>

TestSuite(matmul, .init = tg_test_setup, .fini = tg_test_teardown);

/* Address of the element of t at a multi-index over `ndim` axes aligned
 * to the right, with NumPy broadcasting (size-1 and missing axes). */
static const float *at(const tg_tensor *t, int ndim, const int64_t *index)
{
    const float *p = t->data;
    for (int d = 0; d < t->ndim; d++) {
        int64_t i = index[ndim - t->ndim + d];
        p += (t->shape[d] == 1 ? 0 : i) * t->stride[d];
    }
    return p;
}

/* alpha * a @ b + beta * before, element by element in double. */
static void naive_matmul(const tg_tensor *a, const tg_tensor *b, const tg_tensor *before, float alpha,
                         float beta, double *expected, const tg_tensor *out)
{
    int nd = out->ndim;
    int64_t K = a->shape[a->ndim - 1];
    int64_t index[TG_MAX_DIMS] = { 0 };
    for (int64_t e = 0; e < out->numel; e++) {
        int64_t rest = e;
        for (int d = nd - 1; d >= 0; d--) {
            index[d] = rest % out->shape[d];
            rest /= out->shape[d];
        }
        /* a's row and b's column start at k = 0 and step by their strides */
        int64_t ia[TG_MAX_DIMS], ib[TG_MAX_DIMS];
        memcpy(ia, index, sizeof ia);
        memcpy(ib, index, sizeof ib);
        ia[nd - 1] = 0;
        ib[nd - 2] = 0;
        const float *pa = at(a, nd, ia), *pb = at(b, nd, ib);
        int64_t sa = a->stride[a->ndim - 1], sb = b->stride[b->ndim - 2];
        double s = 0;
        for (int64_t k = 0; k < K; k++)
            s += (double)pa[k * sa] * (double)pb[k * sb];
        expected[e] = alpha * s + (beta != 0.0f ? beta * (double)before->data[e] : 0.0);
    }
}

/* Runs the kernel into a fresh contiguous output pre-filled with `fill`
 * and compares with the naive loop. */
static void check(const tg_tensor *a, const tg_tensor *b, float alpha, float beta, float fill)
{
    tg_shape shape;
    cr_assert_eq(tg_matmul_shape(a, b, &shape, "matmul"), 0, "%s", tg_error_message());
    tg_tensor *out = tg_full(shape, fill);
    tg_tensor *before = tg_copy_to_graph(out);
    cr_assert_eq(tg_kernel_matmul(out, a, b, alpha, beta), 0, "%s", tg_error_message());
    double *expected = malloc(sizeof(double) * (size_t)(out->numel ? out->numel : 1));
    naive_matmul(a, b, before, alpha, beta, expected, out);
    for (int64_t e = 0; e < out->numel; e++)
        cr_assert(fabs(out->data[e] - expected[e]) <= 1e-5 * fmax(1.0, fabs(expected[e])),
                  "element %lld: got %.7g, expected %.7g", (long long)e, out->data[e], expected[e]);
    free(expected);
}

static tg_tensor *random_tensor(tg_shape shape, uint64_t seed)
{
    tg_rng rng = tg_rng_new(seed);
    return tg_randn(shape, &rng);
}

Test(matmul, degenerate_and_non_square_shapes)
{
    const int64_t shapes[][3] = { { 1, 1, 1 }, { 1, 7, 1 }, { 1, 5, 6 }, { 6, 5, 1 }, { 4, 1, 3 },
                                  { 3, 5, 2 }, { 2, 9, 7 }, { 17, 33, 9 } };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t M = shapes[s][0], K = shapes[s][1], N = shapes[s][2];
        check(random_tensor(TG_SHAPE(M, K), s), random_tensor(TG_SHAPE(K, N), 100 + s), 1.0f, 0.0f, 0.0f);
    }
}

Test(matmul, hand_computed_product)
{
    tg_tensor *a = tg_from_array(TG_SHAPE(2, 3), (float[]){ 1, 2, 3, 4, 5, 6 });
    tg_tensor *b = tg_from_array(TG_SHAPE(3, 2), (float[]){ 7, 8, 9, 10, 11, 12 });
    tg_tensor *out = tg_empty(TG_SHAPE(2, 2));
    cr_assert_eq(tg_kernel_matmul(out, a, b, 1.0f, 0.0f), 0);
    tg_assert_values(out, ((float[]){ 58, 64, 139, 154 }), 4, 0);
}

Test(matmul, transposed_operands_and_output)
{
    tg_tensor *a = random_tensor(TG_SHAPE(5, 3), 1); /* a^T is [3,5] */
    tg_tensor *b = random_tensor(TG_SHAPE(4, 5), 2); /* b^T is [5,4] */
    check(tg_view_transpose(a, 0, 1), tg_view_transpose(b, 0, 1), 1.0f, 0.0f, 0.0f);
    check(tg_view_transpose(a, 0, 1), random_tensor(TG_SHAPE(5, 4), 3), 1.0f, 0.0f, 0.0f);
    /* into a transposed output: out^T = b^T a^T */
    tg_tensor *buffer = tg_empty(TG_SHAPE(4, 3));
    tg_tensor *out = tg_view_transpose(buffer, 0, 1);
    tg_tensor *at_ = tg_view_transpose(a, 0, 1), *bt = tg_view_transpose(b, 0, 1);
    cr_assert_eq(tg_kernel_matmul(out, at_, bt, 1.0f, 0.0f), 0, "%s", tg_error_message());
    double expected[12];
    naive_matmul(at_, bt, NULL, 1.0f, 0.0f, expected, out);
    float got[12];
    tg_tensor_to_array(out, got);
    for (int e = 0; e < 12; e++)
        cr_assert(fabs(got[e] - expected[e]) < 1e-5, "element %d", e);
}

Test(matmul, sliced_and_step_sliced_views)
{
    tg_tensor *big = random_tensor(TG_SHAPE(8, 10), 4);
    tg_tensor *rhs = random_tensor(TG_SHAPE(10, 12), 5);
    /* a block: strides (10, 1), taken in place */
    check(tg_view_narrow(tg_view_narrow(big, 0, 1, 3), 1, 2, 5), tg_view_narrow(rhs, 0, 3, 5), 1.0f, 0.0f, 0.0f);
    /* every other row and every third column: strides (20, 3) */
    tg_tensor *a = tg_view_slice(tg_view_slice(big, 0, 0, 8, 2), 1, 0, 10, 3); /* [4,4] */
    check(a, tg_view_slice(rhs, 0, 1, 9, 2), 1.0f, 0.0f, 0.0f);
    /* columns with step 2 of a [8,5] block: strides (5,2) overlap as BLIS
     * sees them, so the kernel copies */
    tg_tensor *narrow = tg_copy_to_graph(tg_view_narrow(big, 1, 0, 5));
    tg_tensor *cols = tg_view_slice(narrow, 1, 0, 5, 2); /* [8,3] */
    check(cols, tg_view_slice(tg_view_transpose(rhs, 0, 1), 0, 0, 6, 2), 1.0f, 0.0f, 0.0f); /* strides (2,12) */
    check(tg_view_transpose(cols, 0, 1), random_tensor(TG_SHAPE(8, 2), 6), 1.0f, 0.0f, 0.0f);
}

Test(matmul, expanded_operands)
{
    /* every row of a is the same: stride 0 along rows */
    tg_tensor *row = random_tensor(TG_SHAPE(1, 6), 7);
    tg_tensor *a = tg_view_expand(row, TG_SHAPE(5, 6));
    check(a, random_tensor(TG_SHAPE(6, 3), 8), 1.0f, 0.0f, 0.0f);
    /* b expanded along its columns */
    tg_tensor *col = random_tensor(TG_SHAPE(6, 1), 9);
    check(random_tensor(TG_SHAPE(2, 6), 10), tg_view_expand(col, TG_SHAPE(6, 4)), 1.0f, 0.0f, 0.0f);
    /* a scalar expanded to a whole matrix */
    tg_tensor *s = tg_from_array(TG_SCALAR, (float[]){ 2 });
    check(tg_view_expand(s, TG_SHAPE(3, 4)), random_tensor(TG_SHAPE(4, 2), 11), 1.0f, 0.0f, 0.0f);
}

Test(matmul, batched_with_broadcast_batch_axes)
{
    check(random_tensor(TG_SHAPE(2, 3, 4), 1), random_tensor(TG_SHAPE(4, 5), 2), 1.0f, 0.0f, 0.0f);
    check(random_tensor(TG_SHAPE(3, 4), 3), random_tensor(TG_SHAPE(2, 4, 5), 4), 1.0f, 0.0f, 0.0f);
    check(random_tensor(TG_SHAPE(2, 1, 3, 4), 5), random_tensor(TG_SHAPE(5, 4, 6), 6), 1.0f, 0.0f, 0.0f);
    check(random_tensor(TG_SHAPE(3, 1, 2, 2), 7), random_tensor(TG_SHAPE(1, 4, 2, 3), 8), 1.0f, 0.0f, 0.0f);
    /* batch axes that are views: a permuted batch, an expanded batch */
    tg_tensor *p = tg_view_permute(random_tensor(TG_SHAPE(3, 2, 4), 9), (int[]){ 1, 0, 2 }); /* [2,3,4] */
    check(p, random_tensor(TG_SHAPE(4, 2), 10), 1.0f, 0.0f, 0.0f);
    tg_tensor *e = tg_view_expand(random_tensor(TG_SHAPE(1, 3, 4), 11), TG_SHAPE(5, 3, 4));
    check(e, random_tensor(TG_SHAPE(5, 4, 2), 12), 1.0f, 0.0f, 0.0f);
    check(e, random_tensor(TG_SHAPE(4, 2), 13), 1.0f, 0.0f, 0.0f);
    /* batch of row vectors (M = 1) and of column results (N = 1) */
    check(random_tensor(TG_SHAPE(6, 1, 4), 14), random_tensor(TG_SHAPE(4, 1), 15), 1.0f, 0.0f, 0.0f);
    check(tg_view_transpose(random_tensor(TG_SHAPE(6, 4, 1), 16), 1, 2), random_tensor(TG_SHAPE(6, 4, 3), 17), 1.0f,
          0.0f, 0.0f);
}

Test(matmul, alpha_and_beta)
{
    tg_tensor *a = random_tensor(TG_SHAPE(4, 3), 1), *b = random_tensor(TG_SHAPE(3, 5), 2);
    check(a, b, 2.0f, 0.5f, 3.0f);
    check(a, b, -1.0f, 1.0f, -2.0f);
    check(a, b, 0.0f, 2.0f, 1.5f);
    check(random_tensor(TG_SHAPE(2, 4, 3), 3), b, 0.25f, -1.0f, 1.0f); /* batched accumulate */
}

Test(matmul, beta_zero_ignores_nan_in_the_output)
{
    tg_tensor *a = random_tensor(TG_SHAPE(3, 4), 1), *b = random_tensor(TG_SHAPE(4, 2), 2);
    check(a, b, 1.0f, 0.0f, NAN);
    check(a, b, 1.0f, 0.0f, INFINITY);
    check(random_tensor(TG_SHAPE(2, 3, 4), 3), b, 1.5f, 0.0f, NAN);
}

Test(matmul, an_empty_inner_dimension_gives_beta_times_out)
{
    tg_tensor *a = tg_empty(TG_SHAPE(3, 0)), *b = tg_empty(TG_SHAPE(0, 2));
    tg_tensor *out = tg_full(TG_SHAPE(3, 2), NAN);
    cr_assert_eq(tg_kernel_matmul(out, a, b, 1.0f, 0.0f), 0, "%s", tg_error_message());
    tg_assert_values(out, ((float[]){ 0, 0, 0, 0, 0, 0 }), 6, 0);
    tg_kernel_fill(out, 4.0f);
    cr_assert_eq(tg_kernel_matmul(out, a, b, 1.0f, 0.5f), 0, "%s", tg_error_message());
    tg_assert_values(out, ((float[]){ 2, 2, 2, 2, 2, 2 }), 6, 0);
    /* an empty result is no work at all */
    tg_tensor *none = tg_empty(TG_SHAPE(0, 2));
    cr_assert_eq(tg_kernel_matmul(none, tg_empty(TG_SHAPE(0, 3)), tg_empty(TG_SHAPE(3, 2)), 1.0f, 0.0f), 0);
}

Test(matmul, large_product_on_two_threads)
{
    int previous = tg_get_num_threads();
    tg_set_num_threads(2);
    check(random_tensor(TG_SHAPE(97, 130), 1), random_tensor(TG_SHAPE(130, 71), 2), 1.0f, 0.0f, 0.0f);
    check(random_tensor(TG_SHAPE(3, 40, 60), 3), random_tensor(TG_SHAPE(60, 50), 4), 1.0f, 1.0f, 1.0f);
    tg_set_num_threads(previous);
    cr_assert_eq(tg_get_num_threads(), previous);
    cr_assert_gt(strlen(tg_blas_kernel_set()), 0);
}

/* ---- tg_kernel_matmul_tn_sum: a product summed over pieces of rows ------------------- */

/* out = before (when accumulating) + sum over the pieces of a[p]^T b[p],
 * checked against a double sum. */
static void check_tn_sum(int count, const tg_tensor *const *a, const tg_tensor *const *b, bool accumulate)
{
    int64_t m = a[0]->shape[1], n = b[0]->shape[1];
    tg_tensor *out = random_tensor(TG_SHAPE(m, n), 5);
    tg_tensor *before = tg_copy_to_graph(out);
    cr_assert_eq(tg_kernel_matmul_tn_sum(out, count, a, b, accumulate), 0, "%s", tg_error_message());
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double expected = accumulate ? before->data[i * n + j] : 0.0;
            for (int p = 0; p < count; p++)
                for (int64_t r = 0; r < a[p]->shape[0]; r++)
                    expected += (double)a[p]->data[r * a[p]->stride[0] + i * a[p]->stride[1]] *
                                (double)b[p]->data[r * b[p]->stride[0] + j * b[p]->stride[1]];
            float got = out->data[i * n + j];
            cr_assert(fabs(got - expected) <= 1e-4 * fmax(1.0, fabs(expected)),
                      "[%lld, %lld] over %d pieces: got %.7g, expected %.7g", (long long)i, (long long)j, count,
                      (double)got, expected);
        }
}

/* Step t of g [T, B, M] and x [T, B, N] as pieces a[t] and b[t]. */
static void steps_as_pieces(int steps, const tg_tensor *g, const tg_tensor *x, const tg_tensor **a,
                            const tg_tensor **b)
{
    for (int t = 0; t < steps; t++) {
        a[t] = tg_view_select(g, 0, t);
        b[t] = tg_view_select(x, 0, t);
    }
}

/* The steps of a [T, B, M] and a [T, B, N] tensor as pieces, and the same
 * sum with one piece of b transposed (rows not contiguous: the pieces are
 * copied together), and in the reference mode. */
Test(matmul, tn_sum_over_the_steps_of_a_sequence)
{
    enum { STEPS = 12, BATCH = 32, M = 96, N = 64 };
    tg_tensor *g = random_tensor(TG_SHAPE(STEPS, BATCH, M), 1), *x = random_tensor(TG_SHAPE(STEPS, BATCH, N), 2);
    const tg_tensor *a[STEPS], *b[STEPS];
    steps_as_pieces(STEPS, g, x, a, b);
    check_tn_sum(STEPS, a, b, false);
    check_tn_sum(STEPS, a, b, true);
    check_tn_sum(1, a, b, true);
    tg_tensor *x_t = tg_view_transpose(random_tensor(TG_SHAPE(N, BATCH), 3), 0, 1);
    b[4] = x_t;
    check_tn_sum(STEPS, a, b, true);
    tg_set_reference_mode(true);
    check_tn_sum(STEPS, a, b, false);
    tg_set_reference_mode(false);
}

/* With AVX-512, pieces with contiguous rows go through the tall path and
 * nothing else: the same bits as the rows copied together and multiplied
 * by tg_kernel_matmul, which takes the same path. */
Test(matmul, tn_sum_reads_pieces_where_they_lie)
{
    enum { STEPS = 16, BATCH = 32, M = 128, N = 64 };
    tg_tensor *g = random_tensor(TG_SHAPE(STEPS, BATCH, M), 6), *x = random_tensor(TG_SHAPE(STEPS, BATCH, N), 7);
    const tg_tensor *a[STEPS], *b[STEPS];
    steps_as_pieces(STEPS, g, x, a, b);
    tg_tensor *pieces = tg_zeros(TG_SHAPE(M, N)), *whole = tg_zeros(TG_SHAPE(M, N));
    uint64_t tall = tg_gemm_tall_count();
    cr_assert_eq(tg_kernel_matmul_tn_sum(pieces, STEPS, a, b, false), 0, "%s", tg_error_message());
    cr_assert_eq(tg_gemm_tall_count() - tall, __builtin_cpu_supports("avx512f") ? 1u : 0u);
    tg_tensor *g_rows = tg_view_transpose(tg_view_reshape(g, TG_SHAPE(STEPS * BATCH, M)), 0, 1);
    cr_assert_eq(tg_kernel_matmul(whole, g_rows, tg_view_reshape(x, TG_SHAPE(STEPS * BATCH, N)), 1, 0), 0);
    cr_assert_eq(memcmp(pieces->data, whole->data, sizeof(float) * M * N), 0);
}

Test(matmul, tn_sum_refuses_pieces_that_do_not_fit)
{
    tg_tensor *out = tg_zeros(TG_SHAPE(4, 5));
    const tg_tensor *a[2] = { tg_zeros(TG_SHAPE(3, 4)), tg_zeros(TG_SHAPE(2, 4)) };
    const tg_tensor *b[2] = { tg_zeros(TG_SHAPE(3, 5)), tg_zeros(TG_SHAPE(3, 5)) };
    cr_assert_eq(tg_kernel_matmul_tn_sum(out, 2, a, b, false), -1);
    tg_assert_error("matmul_tn_sum: piece 1: a [2,4] and b [3,5] do not fit out [4,5]");
    tg_error_clear();
    cr_assert_eq(tg_kernel_matmul_tn_sum(out, 0, a, b, false), -1);
    tg_assert_error("matmul_tn_sum: 0 pieces");
    tg_error_clear();
    const tg_tensor *missing[2] = { a[0], NULL };
    cr_assert_eq(tg_kernel_matmul_tn_sum(out, 2, a, missing, false), -1);
    tg_assert_error("matmul_tn_sum");
    tg_error_clear();
    cr_assert_eq(tg_kernel_matmul_tn_sum(tg_zeros(TG_SHAPE(20)), 1, a, b, false), -1);
    tg_assert_error("matmul_tn_sum: out has 1 dimensions");
    tg_error_clear();
    /* Rows of out that overlap: every row the same 5 floats. */
    tg_tensor *row = tg_zeros(TG_SHAPE(1, 5));
    cr_assert_eq(tg_kernel_matmul_tn_sum(tg_view_expand(row, TG_SHAPE(4, 5)), 1, a, b, false), -1);
    tg_assert_error("overlapping");
    cr_assert_eq(row->data[0], 0.0f);
}
