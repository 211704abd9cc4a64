/* Products with a long sum through the tall path (tensor/gemm_tall.h),
 * against a naive loop in double: whole and partial tiles of rows and
 * columns (masked loads at the right edge), sums that are not whole
 * passes, padded strides, alpha and beta; which products take the path;
 * one thread against two. The operands are plain mallocs of exactly their
 * size, so that a read past an edge shows under AddressSanitizer. */
#include "support.h"
#include "tensor/gemm_tall.h"
#include <string.h>

TestSuite(gemm_tall, .init = tg_test_setup, .fini = tg_test_teardown);

/* c [m, n] (row stride ldc) += g^T x, for g [k, m] and x [k, n] with row
 * strides lda and ldb. */
typedef struct tall_case {
    int64_t m, n, k, lda, ldb, ldc;
    float alpha, beta;
} tall_case;

typedef struct operands {
    float *g, *x, *c;
    tg_matrix a, b, out;
} operands;

static float *random_floats(int64_t count, tg_rng *rng)
{
    float *v = malloc(sizeof(float) * (size_t)count);
    cr_assert_not_null(v);
    for (int64_t i = 0; i < count; i++)
        v[i] = (float)tg_rng_normal(rng);
    return v;
}

/* Random operands; a is g's transpose as a view (columns contiguous). */
static operands make(const tall_case *t, uint64_t seed)
{
    tg_rng rng = tg_rng_new(seed);
    operands o;
    o.g = random_floats(t->k * t->lda, &rng);
    o.x = random_floats(t->k * t->ldb, &rng);
    o.c = random_floats(t->m * t->ldc, &rng);
    o.a = (tg_matrix){ o.g, t->m, t->k, 1, t->lda };
    o.b = (tg_matrix){ o.x, t->k, t->n, t->ldb, 1 };
    o.out = (tg_matrix){ o.c, t->m, t->n, t->ldc, 1 };
    return o;
}

static void release(operands *o)
{
    free(o->g);
    free(o->x);
    free(o->c);
}

static void check(const tall_case *t)
{
    operands o = make(t, (uint64_t)(t->m * 7919 + t->n * 31 + t->k));
    float *before = malloc(sizeof(float) * (size_t)(t->m * t->ldc));
    cr_assert_not_null(before);
    if (t->beta == 0.0f) /* beta 0 ignores c, NaN included */
        for (int64_t i = 0; i < t->m * t->ldc; i++)
            if (i % t->ldc < t->n)
                o.c[i] = NAN;
    memcpy(before, o.c, sizeof(float) * (size_t)(t->m * t->ldc));
    uint64_t count = tg_gemm_tall_count();
    if (!__builtin_cpu_supports("avx512f")) { /* BLIS does it instead */
        cr_assert_not(tg_gemm_tall(&o.a, &o.b, &o.out, t->alpha, t->beta), "taken without AVX-512");
        free(before);
        release(&o);
        return;
    }
    cr_assert(tg_gemm_tall(&o.a, &o.b, &o.out, t->alpha, t->beta), "[%lld, %lld] over %lld rows: not taken",
              (long long)t->m, (long long)t->n, (long long)t->k);
    cr_assert_eq(tg_gemm_tall_count(), count + 1);
    for (int64_t i = 0; i < t->m; i++)
        for (int64_t j = 0; j < t->ldc; j++) {
            float got = o.c[i * t->ldc + j];
            if (j >= t->n) { /* the padding is never written */
                cr_assert_eq(got, before[i * t->ldc + j], "padding [%lld, %lld] written", (long long)i, (long long)j);
                continue;
            }
            double sum = 0;
            for (int64_t r = 0; r < t->k; r++)
                sum += (double)o.g[r * t->lda + i] * (double)o.x[r * t->ldb + j];
            double expected = t->alpha * sum + (t->beta != 0.0f ? t->beta * (double)before[i * t->ldc + j] : 0.0);
            cr_assert(fabs(got - expected) <= 1e-4 * fmax(1.0, fabs(expected)),
                      "[%lld, %lld] of [%lld, %lld] over %lld rows: got %.7g, expected %.7g", (long long)i,
                      (long long)j, (long long)t->m, (long long)t->n, (long long)t->k, (double)got, expected);
        }
    free(before);
    release(&o);
}

Test(gemm_tall, whole_tiles_match_a_naive_loop)
{
    check(&(tall_case){ 128, 64, 2048, 128, 64, 64, 1, 0 });
    check(&(tall_case){ 66, 128, 1024, 66, 128, 128, 1, 1 });
}

/* Rows not a multiple of the tile's 6, columns past a multiple of 64 (1,
 * 17, 36 and 47 of them, loaded through masks), sums that end inside a
 * pass, and strides wider than the matrices. */
Test(gemm_tall, partial_tiles_and_padded_strides_match_a_naive_loop)
{
    check(&(tall_case){ 65, 128, 300, 70, 131, 130, 1, 0 });
    check(&(tall_case){ 64, 65, 257, 64, 65, 65, 1, 1 });
    check(&(tall_case){ 97, 81, 383, 101, 81, 90, 2, 0 });
    check(&(tall_case){ 91, 100, 512, 91, 100, 100, -0.5f, 1 });
    check(&(tall_case){ 256, 16, 640, 256, 16, 16, 1, 0 });
    check(&(tall_case){ 89, 47, 384, 89, 47, 47, 1, 0 });
}

Test(gemm_tall, alpha_and_beta_scale_and_accumulate)
{
    check(&(tall_case){ 70, 96, 400, 70, 96, 96, 0.25f, 1 });
    check(&(tall_case){ 70, 96, 400, 70, 96, 96, 1, 0.5f });
    check(&(tall_case){ 70, 96, 400, 70, 96, 96, 3, -2 });
}

/* Short sums, large results and other layouts are left to the other
 * paths: nothing is done and c is untouched. */
Test(gemm_tall, products_it_does_not_suit_are_left_untouched)
{
    static const tall_case declined[] = {
        { 128, 64, 255, 128, 64, 64, 1, 0 },    /* a short sum */
        { 1024, 512, 512, 1024, 512, 512, 1, 0 }, /* a large result */
        { 257, 1024, 256, 257, 1024, 1024, 1, 0 }, /* just past 1 MB */
        { 32, 64, 1024, 32, 64, 64, 1, 0 },      /* a small result */
    };
    for (size_t i = 0; i < sizeof declined / sizeof declined[0]; i++) {
        operands o = make(&declined[i], 5 + i);
        float first = o.c[0];
        cr_assert_not(tg_gemm_tall(&o.a, &o.b, &o.out, 1, 0), "case %zu was taken", i);
        cr_assert_eq(o.c[0], first);
        release(&o);
    }
    if (!__builtin_cpu_supports("avx512f"))
        return;
    tall_case largest = { 256, 1024, 256, 256, 1024, 1024, 1, 0 };
    operands o = make(&largest, 9);
    cr_assert(tg_gemm_tall(&o.a, &o.b, &o.out, 1, 0), "a result of 1 MB was not taken");
    tg_matrix rows_of_a = { o.g, 256, 256, 256, 1 }, columns_of_b = { o.x, 256, 1024, 1, 256 };
    cr_assert_not(tg_gemm_tall(&rows_of_a, &o.b, &o.out, 1, 0), "a with contiguous rows was taken");
    cr_assert_not(tg_gemm_tall(&o.a, &columns_of_b, &o.out, 1, 0), "b with contiguous columns was taken");
    release(&o);
}

/* Two threads split c's rows, or, for a result wider than it is tall, its
 * column blocks; either way each element sums in the same order. */
static void check_two_threads(const tall_case *t)
{
    operands o = make(t, 3);
    size_t bytes = sizeof(float) * (size_t)(t->m * t->ldc);
    float *one = malloc(bytes);
    cr_assert_not_null(one);
    if (!tg_gemm_tall(&o.a, &o.b, &o.out, 1, 0)) {
        cr_assert_not(__builtin_cpu_supports("avx512f"), "not taken");
    } else {
        memcpy(one, o.c, bytes);
        tg_set_num_threads(2);
        cr_assert(tg_gemm_tall(&o.a, &o.b, &o.out, 1, 0));
        tg_set_num_threads(1);
        cr_assert_eq(memcmp(one, o.c, bytes), 0, "[%lld, %lld]: two threads differ from one", (long long)t->m,
                     (long long)t->n);
    }
    free(one);
    release(&o);
}

Test(gemm_tall, two_threads_give_the_same_product_as_one)
{
    check_two_threads(&(tall_case){ 512, 128, 1024, 512, 128, 128, 1, 0 });
    check_two_threads(&(tall_case){ 65, 520, 1024, 65, 520, 520, 1, 0 });
}

/* ---- A sum over pieces of rows (tg_gemm_tall_pieces) --------------------------------- */

/* Pieces of a sum, each piece's g [rows, m] and x [rows, n] a malloc of its
 * own with a padded row stride, and the same rows copied one under the
 * other, for the one-matrix path. */
typedef struct pieces {
    int count;
    int64_t m, n, rows;
    tg_matrix g[16], x[16];
    float *g_all, *x_all;
} pieces;

static pieces make_pieces(int count, const int64_t *rows, int64_t m, int64_t n, uint64_t seed)
{
    tg_rng rng = tg_rng_new(seed);
    pieces p = { .count = count, .m = m, .n = n };
    for (int i = 0; i < count; i++)
        p.rows += rows[i];
    p.g_all = malloc(sizeof(float) * (size_t)(p.rows * m));
    p.x_all = malloc(sizeof(float) * (size_t)(p.rows * n));
    cr_assert(p.g_all && p.x_all);
    int64_t at = 0;
    for (int i = 0; i < count; i++) {
        int64_t g_stride = m + i % 3, x_stride = n + 2 * (i % 2);
        /* A piece of no rows still gets an address of its own. */
        p.g[i] = (tg_matrix){ random_floats(rows[i] * g_stride + 1, &rng), rows[i], m, g_stride, 1 };
        p.x[i] = (tg_matrix){ random_floats(rows[i] * x_stride + 1, &rng), rows[i], n, x_stride, 1 };
        for (int64_t r = 0; r < rows[i]; r++, at++) {
            memcpy(p.g_all + at * m, p.g[i].data + r * g_stride, sizeof(float) * (size_t)m);
            memcpy(p.x_all + at * n, p.x[i].data + r * x_stride, sizeof(float) * (size_t)n);
        }
    }
    return p;
}

static void release_pieces(pieces *p)
{
    for (int i = 0; i < p->count; i++) {
        free(p->g[i].data);
        free(p->x[i].data);
    }
    free(p->g_all);
    free(p->x_all);
}

/* The pieces' sum, with alpha and beta, on `threads` threads: bit for bit
 * the one-matrix path's over the rows copied together (each element sums
 * the same rows in the same order), and within rounding of a double sum. */
static void check_pieces(const pieces *p, float alpha, float beta, int threads)
{
    size_t bytes = sizeof(float) * (size_t)(p->m * p->n);
    tg_rng rng = tg_rng_new(11);
    float *c = random_floats(p->m * p->n, &rng), *c_all = malloc(bytes), *before = malloc(bytes);
    cr_assert(c_all && before);
    memcpy(c_all, c, bytes);
    memcpy(before, c, bytes);
    tg_matrix out = { c, p->m, p->n, p->n, 1 }, out_all = { c_all, p->m, p->n, p->n, 1 };
    tg_matrix a_all = { p->g_all, p->m, p->rows, 1, p->m }, b_all = { p->x_all, p->rows, p->n, p->n, 1 };
    tg_set_num_threads(threads);
    bool taken = tg_gemm_tall_pieces(p->count, p->g, p->x, &out, alpha, beta);
    bool taken_all = tg_gemm_tall(&a_all, &b_all, &out_all, alpha, beta);
    tg_set_num_threads(1);
    cr_assert_eq(taken, __builtin_cpu_supports("avx512f") != 0, "taken: %d", taken);
    cr_assert_eq(taken_all, taken);
    if (taken) {
        cr_assert_eq(memcmp(c, c_all, bytes), 0, "%d pieces of %lld rows differ from the rows copied together",
                     p->count, (long long)p->rows);
        for (int64_t i = 0; i < p->m; i++)
            for (int64_t j = 0; j < p->n; j++) {
                double sum = 0;
                for (int64_t r = 0; r < p->rows; r++)
                    sum += (double)p->g_all[r * p->m + i] * (double)p->x_all[r * p->n + j];
                double expected = alpha * sum + (beta != 0.0f ? beta * (double)before[i * p->n + j] : 0.0);
                cr_assert(fabs(c[i * p->n + j] - expected) <= 1e-4 * fmax(1.0, fabs(expected)),
                          "[%lld, %lld]: got %.7g, expected %.7g", (long long)i, (long long)j,
                          (double)c[i * p->n + j], expected);
            }
    }
    free(c);
    free(c_all);
    free(before);
}

/* Pieces of one row, of none, and pieces that end inside a pass of 128
 * rows or span one; the last rows prefetched lie in the last piece. */
Test(gemm_tall, pieces_are_summed_where_they_lie)
{
    static const int64_t rows[] = { 1, 0, 31, 100, 127, 3, 200, 5, 0 };
    pieces p = make_pieces(9, rows, 70, 90, 21);
    check_pieces(&p, 1, 0, 1);
    check_pieces(&p, 0.5f, 1, 1);
    check_pieces(&p, 1, -2, 1);
    release_pieces(&p);
}

/* A recurrent weight's chunk: 32 steps of 32 rows. */
Test(gemm_tall, steps_of_a_batch_as_pieces)
{
    int64_t rows[16];
    for (int i = 0; i < 16; i++)
        rows[i] = 32;
    pieces p = make_pieces(16, rows, 384, 128, 22);
    check_pieces(&p, 1, 1, 1);
    release_pieces(&p);
}

Test(gemm_tall, two_threads_sum_pieces_as_one_does)
{
    static const int64_t rows[] = { 300, 17, 0, 400, 250 };
    pieces tall = make_pieces(5, rows, 384, 128, 23), wide = make_pieces(5, rows, 65, 520, 24);
    check_pieces(&tall, 1, 0, 2);
    check_pieces(&wide, 1, 1, 2);
    release_pieces(&tall);
    release_pieces(&wide);
}

/* A piece that does not fit c, or whose rows are not contiguous, and a
 * sum too short over all pieces leave c untouched. */
Test(gemm_tall, pieces_it_does_not_suit_are_left_untouched)
{
    static const int64_t rows[] = { 100, 100, 100 };
    pieces p = make_pieces(3, rows, 70, 90, 25);
    float c[70 * 90];
    for (int i = 0; i < 70 * 90; i++)
        c[i] = 7.0f;
    tg_matrix out = { c, 70, 90, 90, 1 };
    tg_matrix g[3] = { p.g[0], p.g[1], p.g[2] }, x[3] = { p.x[0], p.x[1], p.x[2] };
    g[1].n = 69;
    cr_assert_not(tg_gemm_tall_pieces(3, g, x, &out, 1, 0), "a piece of g too narrow was taken");
    g[1] = p.g[1];
    x[2].m = 99;
    cr_assert_not(tg_gemm_tall_pieces(3, g, x, &out, 1, 0), "pieces of g and x with other rows were taken");
    x[2] = p.x[2];
    x[0].cs = 2;
    cr_assert_not(tg_gemm_tall_pieces(3, g, x, &out, 1, 0), "x with strided rows was taken");
    x[0] = p.x[0];
    g[2].m = x[2].m = 55; /* 255 rows in all */
    cr_assert_not(tg_gemm_tall_pieces(3, g, x, &out, 1, 0), "a sum of 255 rows was taken");
    cr_assert_not(tg_gemm_tall_pieces(0, g, x, &out, 1, 0), "no pieces were taken");
    for (int i = 0; i < 70 * 90; i++)
        cr_assert_eq(c[i], 7.0f, "c[%d] written", i);
    release_pieces(&p);
}
