/* Products with few rows through the packed path (tensor/gemm_small.h),
 * against a naive loop: layouts, edge sizes, alpha and beta, threads, and
 * the cached packed copy following writes to the weight. */
#include "support.h"
#include "tensor/gemm_small.h"
#include <tensor/kernel.h>

TestSuite(gemm_small, .init = tg_test_setup, .fini = tg_test_teardown);

/* out = alpha * a @ b + beta * out0, in double. */
static void naive(const tg_tensor *a, const tg_tensor *b, float alpha, float beta, const float *out0,
                  float *out)
{
    int64_t m = a->shape[0], k = a->shape[1], n = b->shape[1];
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++)
                s += (double)a->data[i * a->stride[0] + p * a->stride[1]] *
                     (double)b->data[p * b->stride[0] + j * b->stride[1]];
            out[i * n + j] = (float)(alpha * s + (beta != 0.0f ? beta * out0[i * n + j] : 0.0));
        }
}

/* Multiplies a [m, k] by a weight w used as b = w^T (transposed, as a
 * recurrent step does) or as b = w [k, n], twice; checks both results. */
static void check_product(int64_t m, int64_t k, int64_t n, bool transposed, float alpha, float beta)
{
    tg_rng rng = tg_rng_new((uint64_t)(m * 1000003 + k * 1009 + n));
    tg_tensor *a = tg_tensor_randn(TG_SHAPE(m, k), &rng);
    tg_tensor *w = transposed ? tg_tensor_randn(TG_SHAPE(n, k), &rng) : tg_tensor_randn(TG_SHAPE(k, n), &rng);
    tg_tensor *b = transposed ? tg_view_transpose(w, 0, 1) : w;
    tg_tensor *out0 = tg_tensor_randn(TG_SHAPE(m, n), &rng);
    float *expected = malloc(sizeof(float) * (size_t)(m * n));
    naive(a, b, alpha, beta, out0->data, expected);
    uint64_t before = tg_gemm_small_count();
    for (int use = 0; use < 2; use++) {
        tg_tensor *out = tg_tensor_clone(out0);
        cr_assert_eq(tg_kernel_matmul(out, a, b, alpha, beta), 0, "%s", tg_error_message());
        tg_assert_values(out, expected, m * n, 1e-4f);
        tg_tensor_free(out);
    }
    /* Both uses take the packed path: it depends on the shapes alone. */
    cr_assert_eq(tg_gemm_small_count(), before + 2, "m %lld k %lld n %lld", (long long)m,
                 (long long)k, (long long)n);
    free(expected);
    tg_tensor_free(a);
    tg_tensor_free(w);
    tg_tensor_free(out0);
}

Test(gemm_small, every_row_count_up_to_a_kernel_and_beyond_matches_a_naive_loop)
{
    /* Past 96 rows: blocks of 96, the last one partial or whole. */
    const int64_t rows[] = { 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 64, 96, 97, 192, 1001 };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        check_product(rows[i], 64, 100, true, 1.0f, 0.0f);
        check_product(rows[i], 64, 100, false, 1.0f, 0.0f);
    }
}

Test(gemm_small, widths_that_are_not_whole_panels_and_depths_past_one_pass)
{
    const int64_t widths[] = { 16, 17, 24, 47, 48, 49, 95, 130 };
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++)
        check_product(8, 300, widths[i], true, 1.0f, 0.0f);
    check_product(16, 777, 64, true, 1.0f, 0.0f);  /* depth beyond one 384-deep pass */
    check_product(16, 1025, 96, false, 1.0f, 0.0f);
}

/* One row (a batch of one) takes the panels up to four at a time: widths
 * that leave 1 to 4 panels in the last group, partial last panels, depths
 * past one pass, both directions of the back-and-forth walk (each product
 * is done twice), and scaling. */
Test(gemm_small, a_single_row_takes_the_panels_in_groups)
{
    const int64_t widths[] = { 64, 96, 144, 192, 200, 240, 250, 1000 };
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
        check_product(1, 64, widths[i], true, 1.0f, 0.0f);
        check_product(1, 64, widths[i], false, 1.0f, 0.0f);
    }
    check_product(1, 777, 300, true, 1.0f, 0.0f);
    check_product(1, 1025, 200, false, -0.5f, 1.0f);
    check_product(1, 256, 1024, true, 2.0f, 0.25f);
}

/* A batch of one gives the same bits as that row within a larger batch:
 * each column sums over k in the same order on both paths. */
Test(gemm_small, a_single_row_equals_its_row_in_a_batch_bit_for_bit)
{
    tg_rng rng = tg_rng_new(9);
    const int64_t k = 777, n = 1000;
    tg_tensor *batch = tg_tensor_randn(TG_SHAPE(5, k), &rng);
    tg_tensor *w = tg_tensor_randn(TG_SHAPE(n, k), &rng);
    tg_tensor *b = tg_view_transpose(w, 0, 1);
    tg_tensor *row = tg_tensor_empty(TG_SHAPE(1, k));
    memcpy(row->data, batch->data + 2 * k, sizeof(float) * (size_t)k);
    tg_tensor *out_batch = tg_tensor_zeros(TG_SHAPE(5, n)), *out_row = tg_tensor_zeros(TG_SHAPE(1, n));
    cr_assert_eq(tg_kernel_matmul(out_batch, batch, b, 1.0f, 0.0f), 0, "%s", tg_error_message());
    cr_assert_eq(tg_kernel_matmul(out_row, row, b, 1.0f, 0.0f), 0, "%s", tg_error_message());
    cr_assert_eq(memcmp(out_row->data, out_batch->data + 2 * n, sizeof(float) * (size_t)n), 0);
    tg_tensor_free(batch);
    tg_tensor_free(w);
    tg_tensor_free(row);
    tg_tensor_free(out_batch);
    tg_tensor_free(out_row);
}

Test(gemm_small, alpha_and_beta_scale_and_accumulate)
{
    check_product(12, 64, 80, true, 1.0f, 1.0f);
    check_product(12, 64, 80, false, 2.5f, 1.0f);
    check_product(12, 64, 80, true, -0.5f, 0.25f);
    check_product(12, 64, 80, false, 1.0f, -3.0f);
}

/* The last panel is multiplied only as far as its columns reach: 1, 2 or
 * 3 vectors, of 16 columns with AVX-512 and of 8 with AVX2 (which memcheck's
 * run of this program takes). The widths put its edge on each side of
 * every vector boundary of both, for a kernel of 8 rows, a partial one (5),
 * a batch (32) and a single row (whose last group of panels ends in the
 * partial one). The result is a view into a wider buffer, so that a write
 * past its edge shows as a changed neighbour. */
Test(gemm_small, a_last_panel_is_multiplied_as_far_as_its_columns_reach)
{
    const int64_t rows[] = { 1, 5, 8, 32 }, last_columns[] = { 1, 15, 16, 17, 31, 32, 33, 47, 48 };
    const int64_t k = 70, pad = 20;
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++)
        for (size_t l = 0; l < sizeof last_columns / sizeof last_columns[0]; l++) {
            int64_t m = rows[r], n = 96 + last_columns[l];
            tg_rng rng = tg_rng_new((uint64_t)(m * 100 + n));
            tg_tensor *a = tg_tensor_randn(TG_SHAPE(m, k), &rng);
            tg_tensor *w = tg_tensor_randn(TG_SHAPE(n, k), &rng);
            tg_tensor *b = tg_view_transpose(w, 0, 1);
            tg_tensor *wide = tg_tensor_randn(TG_SHAPE(m, n + pad), &rng);
            tg_tensor *before = tg_tensor_clone(wide);
            tg_tensor *out = tg_view_narrow(wide, 1, 0, n);
            float *expected = malloc(sizeof(float) * (size_t)(m * n)), *start = malloc(sizeof(float) * (size_t)(m * n));
            for (int64_t i = 0; i < m; i++)
                memcpy(start + i * n, wide->data + i * (n + pad), sizeof(float) * (size_t)n);
            naive(a, b, 1.5f, 1.0f, start, expected);
            uint64_t products = tg_gemm_small_count();
            cr_assert_eq(tg_kernel_matmul(out, a, b, 1.5f, 1.0f), 0, "%s", tg_error_message());
            cr_assert_eq(tg_gemm_small_count(), products + 1, "m %lld n %lld", (long long)m, (long long)n);
            for (int64_t i = 0; i < m; i++) {
                for (int64_t j = 0; j < n; j++)
                    cr_assert_float_eq(wide->data[i * (n + pad) + j], expected[i * n + j], 1e-4f,
                                       "m %lld n %lld: [%lld, %lld]", (long long)m, (long long)n,
                                       (long long)i, (long long)j);
                for (int64_t j = n; j < n + pad; j++)
                    cr_assert_eq(wide->data[i * (n + pad) + j], before->data[i * (n + pad) + j],
                                 "m %lld n %lld: column %lld past the edge was written", (long long)m,
                                 (long long)n, (long long)j);
            }
            free(expected);
            free(start);
            tg_tensor_free(a);
            tg_tensor_free(w);
            tg_tensor_free(wide);
            tg_tensor_free(before);
        }
}

Test(gemm_small, two_threads_give_the_same_product_as_one)
{
    tg_set_num_threads(2);
    check_product(64, 256, 1024, true, 1.0f, 1.0f);
    check_product(32, 512, 200, false, 1.0f, 0.0f);
    check_product(1, 512, 1100, true, 1.0f, 0.0f); /* a single row, a weight split for its size */
    check_product(1, 256, 1024, false, 1.0f, 0.0f); /* a batch-of-one LSTM step's weight (1 MB) */
    check_product(1, 256, 768, true, 1.0f, 1.0f);   /* 768 KB, the smallest weight split */
    tg_set_num_threads(1);
    check_product(64, 256, 1024, true, 1.0f, 1.0f);
}

/* The packed copy of a weight follows every write to it: through a kernel,
 * an in-place copy, or direct writes announced with tg_tensor_mark_written. */
Test(gemm_small, a_written_weight_is_packed_again)
{
    tg_rng rng = tg_rng_new(3);
    const int64_t m = 8, k = 64, n = 96;
    tg_tensor *a = tg_tensor_randn(TG_SHAPE(m, k), &rng);
    tg_tensor *w = tg_tensor_randn(TG_SHAPE(n, k), &rng);
    tg_tensor *b = tg_view_transpose(w, 0, 1);
    tg_tensor *out = tg_tensor_zeros(TG_SHAPE(m, n));
    float *expected = malloc(sizeof(float) * (size_t)(m * n));
    for (int round = 0; round < 4; round++) {
        if (round == 1)
            tg_kernel_scale(w, w, -2.0f, false);
        if (round == 2)
            tg_tensor_copy_(w, tg_randn(TG_SHAPE(n, k), &rng));
        if (round == 3) {
            for (int64_t i = 0; i < w->numel; i++)
                w->data[i] = (float)(i % 13) - 6.0f;
            tg_tensor_mark_written(w);
        }
        naive(a, b, 1.0f, 0.0f, NULL, expected);
        for (int use = 0; use < 2; use++) {
            cr_assert_eq(tg_kernel_matmul(out, a, b, 1.0f, 0.0f), 0, "%s", tg_error_message());
            tg_assert_values(out, expected, m * n, 1e-4f);
        }
    }
    free(expected);
    tg_tensor_free(a);
    tg_tensor_free(w);
    tg_tensor_free(out);
}

/* A weight freed and another allocated in its place is not taken for the
 * first one: versions are unique across storages. */
Test(gemm_small, a_new_weight_at_a_reused_address_is_packed_anew)
{
    tg_rng rng = tg_rng_new(4);
    tg_tensor *a = tg_tensor_randn(TG_SHAPE(4, 32), &rng);
    float *expected = malloc(sizeof(float) * 4 * 64);
    for (int round = 0; round < 3; round++) {
        tg_tensor *w = tg_tensor_randn(TG_SHAPE(32, 64), &rng);
        tg_tensor *out = tg_tensor_zeros(TG_SHAPE(4, 64));
        naive(a, w, 1.0f, 0.0f, NULL, expected);
        for (int use = 0; use < 2; use++) {
            cr_assert_eq(tg_kernel_matmul(out, a, w, 1.0f, 0.0f), 0);
            tg_assert_values(out, expected, 4 * 64, 1e-4f);
        }
        tg_tensor_free(out);
        tg_tensor_free(w);
    }
    free(expected);
    tg_tensor_free(a);
}

/* tg_kernel_matmul_add against a copy of the addend into out and a product
 * added to it (the plain path): the same bits, for an addend of out's
 * shape, one row, rows taken from a wider tensor, a depth past one pass, a
 * single row, two threads; and whether the packed path took it. */
static void check_addend(int64_t m, int64_t k, int64_t n, int addend_kind, bool packed)
{
    tg_rng rng = tg_rng_new((uint64_t)(m * 31 + k * 7 + n + addend_kind));
    tg_tensor *a = tg_tensor_randn(TG_SHAPE(m, k), &rng);
    tg_tensor *w = tg_tensor_randn(TG_SHAPE(n, k), &rng);
    tg_tensor *b = tg_view_transpose(w, 0, 1);
    tg_tensor *wide = tg_tensor_randn(TG_SHAPE(m, 3 * n), &rng);
    tg_tensor *addend = addend_kind == 0 ? tg_tensor_randn(TG_SHAPE(m, n), &rng)
                      : addend_kind == 1 ? tg_tensor_randn(TG_SHAPE(n), &rng)
                                         : tg_view_narrow(wide, 1, n, n); /* rows 3n apart */
    tg_tensor *plain = tg_tensor_empty(TG_SHAPE(m, n)), *fused = tg_tensor_empty(TG_SHAPE(m, n));
    cr_assert_eq(tg_kernel_copy(plain, addend, false), 0);
    cr_assert_eq(tg_kernel_matmul(plain, a, b, 1.0f, 1.0f), 0, "%s", tg_error_message());
    uint64_t before = tg_gemm_small_count();
    cr_assert_eq(tg_kernel_matmul_add(fused, a, b, addend), 0, "%s", tg_error_message());
    cr_assert_eq(tg_gemm_small_count() - before, packed ? 1u : 0u, "m %lld k %lld n %lld addend %d",
                 (long long)m, (long long)k, (long long)n, addend_kind);
    cr_assert_eq(memcmp(plain->data, fused->data, sizeof(float) * (size_t)(m * n)), 0,
                 "m %lld k %lld n %lld addend %d: not the plain path's bits", (long long)m, (long long)k,
                 (long long)n, addend_kind);
    if (addend_kind != 2)
        tg_tensor_free(addend);
    tg_tensor_free(a);
    tg_tensor_free(w);
    tg_tensor_free(wide);
    tg_tensor_free(plain);
    tg_tensor_free(fused);
}

Test(gemm_small, an_addend_is_added_as_the_product_is_stored)
{
    for (int kind = 0; kind < 3; kind++) {
        check_addend(32, 128, 128, kind, true);
        check_addend(8, 777, 100, kind, true);  /* depth past one pass, a partial panel */
        check_addend(1, 256, 1000, kind, true); /* one row: the panels in groups */
        check_addend(300, 64, 64, kind, true);    /* many rows, a small weight: blocks of rows */
        check_addend(300, 512, 512, kind, true);  /* many rows, a deep weight: blocks of rows */
        check_addend(300, 64, 1024, kind, false); /* many rows, shallow and wide: BLIS, after a copy */
        check_addend(200, 1024, 1100, kind, false); /* packed past 4 MB: BLIS */
    }
    tg_set_num_threads(2);
    check_addend(64, 512, 512, 0, true); /* panels split between threads */
    check_addend(1000, 64, 200, 1, true); /* blocks of rows split between threads */
    check_addend(1, 1024, 1024, 1, true);
    tg_set_num_threads(1);
}
