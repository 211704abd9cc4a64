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
