/* Batched products of small matrices through the tiny kernels
 * (tensor/gemm_tiny.h), against a naive loop: both layouts of b, edge sizes
 * (rows not a multiple of 4, columns past 64 or not a multiple of 16, depth
 * not a multiple of 16), alpha and beta (beta = 0 ignoring NaN in out),
 * broadcast batches, strided outputs, one and two threads. */
#include "support.h"
#include "tensor/gemm_tiny.h"
#include <tensor/kernel.h>

TestSuite(gemm_tiny, .init = tg_test_setup, .fini = tg_test_teardown);

/* out[e] = alpha * a[e] @ b[e] + beta * out0[e] for every batch element, in
 * double; a's or b's batch axis may be broadcast (size 1). */
static void naive(const tg_tensor *a, const tg_tensor *b, float alpha, float beta, const tg_tensor *out0,
                  float *out)
{
    int64_t batch = out0->shape[0], m = out0->shape[1], n = out0->shape[2], k = a->shape[2];
    for (int64_t e = 0; e < batch; e++)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0;
                for (int64_t p = 0; p < k; p++)
                    s += (double)tg_tensor_get(a, (int64_t[]){ a->shape[0] == 1 ? 0 : e, i, p }) *
                         (double)tg_tensor_get(b, (int64_t[]){ b->shape[0] == 1 ? 0 : e, p, j });
                float before = tg_tensor_get(out0, (int64_t[]){ e, i, j });
                out[(e * m + i) * n + j] = (float)(alpha * s + (beta != 0.0f ? beta * before : 0.0));
            }
}

typedef struct tiny_case {
    int64_t batch, m, k, n;
    bool b_transposed; /* b is the transpose of a contiguous [batch, n, k] */
    bool b_shared;     /* b's batch axis has size 1 (broadcast) */
    bool out_transposed; /* out is the transpose of a contiguous [batch, n, m] */
    float alpha, beta;
    bool blis; /* a layout or broadcast that goes to BLIS instead */
} tiny_case;

static void check(const tiny_case *c)
{
    tg_rng rng = tg_rng_new((uint64_t)(c->m * 1000003 + c->k * 1009 + c->n * 7 + c->b_transposed));
    tg_tensor *a = tg_randn(TG_SHAPE(c->batch, c->m, c->k), &rng);
    int64_t b_batch = c->b_shared ? 1 : c->batch;
    tg_tensor *b = c->b_transposed ? tg_view_transpose(tg_randn(TG_SHAPE(b_batch, c->n, c->k), &rng), 1, 2)
                                   : tg_randn(TG_SHAPE(b_batch, c->k, c->n), &rng);
    tg_tensor *out = c->out_transposed ? tg_view_transpose(tg_randn(TG_SHAPE(c->batch, c->n, c->m), &rng), 1, 2)
                                       : tg_randn(TG_SHAPE(c->batch, c->m, c->n), &rng);
    if (c->beta == 0.0f)
        tg_kernel_fill(out, NAN);
    tg_tensor *out0 = tg_copy_to_graph(out);
    float *expected = malloc(sizeof(float) * (size_t)out->numel);
    naive(a, b, c->alpha, c->beta, out0, expected);
    uint64_t before = tg_gemm_tiny_count();
    cr_assert_eq(tg_kernel_matmul(out, a, b, c->alpha, c->beta), 0, "%s", tg_error_message());
    if (tg_get_num_threads() == 1 && __builtin_cpu_supports("avx512f"))
        cr_assert_eq(tg_gemm_tiny_count() - before, c->blis ? 0 : (uint64_t)c->batch, "[%lld,%lld]x[%lld,%lld]: the tiny path ran %d times", (long long)c->m, (long long)c->k, (long long)c->k, (long long)c->n, (int)(tg_gemm_tiny_count() - before));
    tg_assert_values(out, expected, out->numel, 1e-4f);
    free(expected);
}

static const tiny_case cases[] = {
    { 64, 1, 128, 13, false, false, false, 1, 0, false },
    { 64, 13, 128, 64, false, false, false, 1, 0, false },
    { 8, 1, 256, 20, true, false, false, 1, 0, false },
    { 8, 1, 20, 256, false, false, false, 1, 0, false },
    { 5, 7, 33, 70, false, false, false, 0.5f, 1, false },
    { 5, 6, 17, 9, true, false, false, 2, -0.5f, false },
    { 3, 5, 16, 5, true, false, true, 1, 1, false },
    { 4, 9, 3, 31, false, true, false, 1, 0, true },
    { 4, 3, 40, 17, false, false, true, 1, 0.25f, true },
    { 6, 4, 1, 48, false, false, false, 1, 0, false },
    { 6, 4, 5, 1, false, false, false, 1, 1, false },
    { 2, 1, 64, 1, true, false, false, 1, 0, false },
};

Test(gemm_tiny, every_layout_and_edge_size_matches_a_naive_loop)
{
    for (int threads = 1; threads <= 2; threads++) {
        tg_set_num_threads(threads);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            check(&cases[i]);
    }
}

Test(gemm_tiny, a_large_batch_is_split_between_threads_with_the_same_result)
{
    /* 256 x 16 x 64 x 32 multiply-adds: past the threshold for a team */
    tg_rng rng = tg_rng_new(3);
    tg_tensor *a = tg_randn(TG_SHAPE(256, 16, 64), &rng), *b = tg_randn(TG_SHAPE(256, 64, 32), &rng);
    tg_tensor *one = tg_empty(TG_SHAPE(256, 16, 32)), *two = tg_empty(TG_SHAPE(256, 16, 32));
    tg_set_num_threads(1);
    cr_assert_eq(tg_kernel_matmul(one, a, b, 1, 0), 0);
    tg_set_num_threads(2);
    cr_assert_eq(tg_kernel_matmul(two, a, b, 1, 0), 0);
    cr_assert_arr_eq(one->data, two->data, sizeof(float) * (size_t)one->numel, "thread counts differ");
    /* and each element equals its own 2-d product */
    tg_tensor *a7 = tg_view_select(a, 0, 7), *b7 = tg_view_select(b, 0, 7);
    float expected[16 * 32];
    for (int64_t i = 0; i < 16; i++)
        for (int64_t j = 0; j < 32; j++) {
            double s = 0;
            for (int64_t p = 0; p < 64; p++)
                s += (double)a7->data[i * 64 + p] * (double)b7->data[p * 32 + j];
            expected[i * 32 + j] = (float)s;
        }
    tg_assert_values(tg_view_select(two, 0, 7), expected, 16 * 32, 1e-4f);
}

Test(gemm_tiny, suits_small_products_of_either_layout_only)
{
    if (!__builtin_cpu_supports("avx512f"))
        cr_skip_test("the tiny kernels need AVX-512");
    float x[4];
    tg_matrix rows = { x, 4, 8, 8, 1 }, cols = { x, 8, 4, 1, 8 }, c = { x, 4, 4, 4, 1 };
    tg_matrix strided = { x, 8, 4, 2, 16 }, big_a = { x, 128, 128, 128, 1 }, big_b = { x, 128, 128, 128, 1 };
    tg_matrix big_c = { x, 128, 128, 128, 1 };
    cr_assert(tg_gemm_tiny_suits(&rows, &(tg_matrix){ x, 8, 4, 4, 1 }, &c));
    cr_assert(tg_gemm_tiny_suits(&rows, &cols, &c));
    cr_assert_not(tg_gemm_tiny_suits(&rows, &strided, &c));
    cr_assert_not(tg_gemm_tiny_suits(&big_a, &big_b, &big_c));
}
