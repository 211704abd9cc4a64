/* Creation of owned and graph tensors, and the seeded random generator. */
#include "support.h"
#include <tensor/kernel.h>

TestSuite(creation, .init = tg_test_setup, .fini = tg_test_teardown);
TestSuite(rng, .init = tg_test_setup, .fini = tg_test_teardown);

Test(creation, zeros_ones_full_fill_every_element)
{
    tg_tensor *z = tg_tensor_zeros(TG_SHAPE(2, 3));
    tg_tensor *o = tg_tensor_ones(TG_SHAPE(3));
    tg_tensor *f = tg_tensor_full(TG_SHAPE(2, 1, 2), -2.5f);
    tg_assert_shape(z, 2, 3);
    tg_assert_values(z, ((float[]){ 0, 0, 0, 0, 0, 0 }), 6, 0);
    tg_assert_values(o, ((float[]){ 1, 1, 1 }), 3, 0);
    tg_assert_shape(f, 2, 1, 2);
    tg_assert_values(f, ((float[]){ -2.5f, -2.5f, -2.5f, -2.5f }), 4, 0);
    cr_assert(z->flags & TG_TENSOR_OWNED);
    cr_assert(tg_tensor_is_contiguous(f));
    tg_tensor_free(z);
    tg_tensor_free(o);
    tg_tensor_free(f);
}

Test(creation, scalar_and_empty_shapes)
{
    tg_tensor *s = tg_tensor_full(TG_SCALAR, 7.0f);
    cr_assert_eq(s->ndim, 0);
    cr_assert_eq(s->numel, 1);
    cr_assert_float_eq(tg_tensor_item(s), 7.0f, 0);
    tg_tensor *e = tg_tensor_zeros(TG_SHAPE(3, 0, 2));
    cr_assert_not_null(e);
    cr_assert_eq(e->numel, 0);
    tg_tensor_free(s);
    tg_tensor_free(e);
}

Test(creation, arange_matches_python_ranges)
{
    tg_tensor *a = tg_tensor_arange(0, 5, 1);
    tg_assert_values(a, ((float[]){ 0, 1, 2, 3, 4 }), 5, 0);
    tg_tensor *b = tg_tensor_arange(1, 2, 0.25f); /* stop is excluded */
    tg_assert_values(b, ((float[]){ 1, 1.25f, 1.5f, 1.75f }), 4, 0);
    tg_tensor *c = tg_tensor_arange(3, -3, -2);
    tg_assert_values(c, ((float[]){ 3, 1, -1 }), 3, 0);
    tg_tensor *d = tg_tensor_arange(5, 0, 1); /* empty, as torch.arange(5, 0) */
    cr_assert_not_null(d);
    cr_assert_eq(d->numel, 0);
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_tensor_free(c);
    tg_tensor_free(d);
}

Test(creation, linspace_includes_both_ends)
{
    tg_tensor *a = tg_tensor_linspace(-1, 1, 5);
    tg_assert_values(a, ((float[]){ -1, -0.5f, 0, 0.5f, 1 }), 5, 1e-7);
    tg_tensor *b = tg_tensor_linspace(0, 1, 3);
    tg_assert_values(b, ((float[]){ 0, 0.5f, 1 }), 3, 0);
    tg_tensor *one = tg_tensor_linspace(2, 9, 1);
    tg_assert_values(one, ((float[]){ 2 }), 1, 0);
    tg_tensor *none = tg_tensor_linspace(2, 9, 0);
    cr_assert_eq(none->numel, 0);
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_tensor_free(one);
    tg_tensor_free(none);
}

Test(creation, eye_has_ones_on_the_diagonal)
{
    tg_tensor *e = tg_tensor_eye(3);
    tg_assert_shape(e, 3, 3);
    tg_assert_values(e, ((float[]){ 1, 0, 0, 0, 1, 0, 0, 0, 1 }), 9, 0);
    tg_tensor_free(e);
}

Test(creation, from_array_copies_the_values)
{
    float values[4] = { 1, 2, 3, 4 };
    tg_tensor *t = tg_tensor_from_array(TG_SHAPE(2, 2), values);
    values[0] = 100;
    tg_assert_values(t, ((float[]){ 1, 2, 3, 4 }), 4, 0);
    cr_assert_neq(t->data, values);
    tg_tensor_free(t);
}

Test(creation, clone_of_a_view_is_contiguous_and_independent)
{
    tg_tensor *t = tg_tensor_arange(0, 12, 1);
    /* [3,4] transposed then every other column: [[0,4,8],[2,6,10]] */
    tg_tensor *v = tg_view_slice(tg_view_transpose(tg_view_reshape(t, TG_SHAPE(3, 4)), 0, 1), 0, 0, 4, 2);
    cr_assert(!tg_tensor_is_contiguous(v));
    tg_tensor *c = tg_tensor_clone(v);
    tg_assert_shape(c, 2, 3);
    cr_assert(tg_tensor_is_contiguous(c));
    cr_assert(c->flags & TG_TENSOR_OWNED);
    tg_assert_values(c, ((float[]){ 0, 4, 8, 2, 6, 10 }), 6, 0);
    t->data[0] = 99;
    cr_assert_float_eq(c->data[0], 0.0f, 0);
    /* An expanded view clones into real, separate elements. */
    tg_tensor *e = tg_tensor_clone(tg_view_expand(tg_view_reshape(t, TG_SHAPE(1, 12)), TG_SHAPE(2, 12)));
    tg_assert_shape(e, 2, 12);
    e->data[0] = 5;
    cr_assert_float_eq(e->data[12], 99.0f, 0);
    tg_tensor_free(t);
    tg_tensor_free(c);
    tg_tensor_free(e);
}

Test(creation, graph_tensors_live_in_the_arena)
{
    tg_tensor *z = tg_zeros(TG_SHAPE(2, 2));
    tg_tensor *o = tg_ones(TG_SHAPE(3));
    tg_tensor *f = tg_full(TG_SHAPE(2), 4.0f);
    tg_tensor *a = tg_from_array(TG_SHAPE(2), (float[]){ 5, 6 });
    tg_tensor *l = tg_zeros_like(a);
    tg_assert_values(z, ((float[]){ 0, 0, 0, 0 }), 4, 0);
    tg_assert_values(o, ((float[]){ 1, 1, 1 }), 3, 0);
    tg_assert_values(f, ((float[]){ 4, 4 }), 2, 0);
    tg_assert_values(a, ((float[]){ 5, 6 }), 2, 0);
    tg_assert_values(l, ((float[]){ 0, 0 }), 2, 0);
    cr_assert_eq(z->flags & TG_TENSOR_OWNED, 0);
    cr_assert_gt(tg_arena_used(tg_arena_thread()), 0);
    /* Freeing a graph tensor is refused with a message, not a crash. */
    tg_tensor_free(z);
    tg_assert_error("tensor_free");
}

Test(creation, copy_to_graph_makes_a_contiguous_copy)
{
    tg_tensor *t = tg_tensor_from_array(TG_SHAPE(2, 2), (float[]){ 1, 2, 3, 4 });
    tg_tensor *g = tg_copy_to_graph(tg_view_transpose(t, 0, 1));
    cr_assert(tg_tensor_is_contiguous(g));
    cr_assert_neq(g->data, t->data);
    tg_assert_values(g, ((float[]){ 1, 3, 2, 4 }), 4, 0);
    tg_tensor_free(t);
}

Test(creation, in_place_fill_and_copy_write_through_views)
{
    tg_tensor *t = tg_tensor_zeros(TG_SHAPE(2, 3));
    cr_assert_eq(tg_tensor_fill_(tg_view_select(t, 1, 1), 7.0f), 0);
    tg_assert_values(t, ((float[]){ 0, 7, 0, 0, 7, 0 }), 6, 0);
    tg_tensor *row = tg_tensor_from_array(TG_SHAPE(3), (float[]){ 1, 2, 3 });
    cr_assert_eq(tg_tensor_copy_(t, row), 0); /* broadcasts over the rows */
    tg_assert_values(t, ((float[]){ 1, 2, 3, 1, 2, 3 }), 6, 0);
    tg_tensor_free(t);
    tg_tensor_free(row);
}

Test(creation, inspection_helpers)
{
    tg_tensor *t = tg_tensor_arange(0, 24, 1);
    tg_tensor *v = tg_view_reshape(t, TG_SHAPE(2, 3, 4));
    cr_assert_float_eq(tg_tensor_get(v, (int64_t[]){ 1, 2, 3 }), 23.0f, 0);
    cr_assert_eq(tg_tensor_offset(tg_view_select(v, 0, 1)), 12);
    char buf[TG_SHAPE_STR_MAX];
    cr_assert_str_eq(tg_shape_format(buf, sizeof buf, v), "[2,3,4]");
    cr_assert_str_eq(tg_shape_format(buf, sizeof buf, tg_view_select(tg_view_select(tg_view_select(v, 0, 0), 0, 0), 0, 0)), "[]");
    float out[24];
    cr_assert_eq(tg_tensor_to_array(tg_view_transpose(v, 0, 2), out), 0);
    /* element [i,j,k] of the transpose is v[k,j,i] = 12k + 4j + i */
    cr_assert_float_eq(out[0 * 6 + 1 * 2 + 1], 12 + 4 + 0, 0);
    cr_assert_float_eq(out[3 * 6 + 2 * 2 + 0], 0 + 8 + 3, 0);
    tg_tensor_free(t);
}

/* ---- Random numbers ------------------------------------------------------ */

/* The first outputs of xoshiro256** seeded through splitmix64 with 42,
 * computed by a separate reference implementation. */
Test(rng, matches_the_reference_generator)
{
    tg_rng rng = tg_rng_new(42);
    cr_assert_eq(tg_rng_next_u64(&rng), 0x15780b2e0c2ec716ull);
    cr_assert_eq(tg_rng_next_u64(&rng), 0x6104d9866d113a7eull);
    cr_assert_eq(tg_rng_next_u64(&rng), 0xae17533239e499a1ull);
    tg_rng_seed(&rng, 42);
    double u = tg_rng_uniform(&rng); /* (bits >> 11) * 2^-53 */
    cr_assert_float_eq(u, 0.08386297105988216, 1e-16);
    tg_rng again = tg_rng_new(42);
    tg_tensor *r = tg_tensor_rand(TG_SHAPE(3), &again);
    tg_assert_values(r, ((float[]){ 0.08386297f, 0.37898025f, 0.68004341f }), 3, 1e-7);
    tg_tensor_free(r);
}

static void expect_equal_tensors(const tg_tensor *a, const tg_tensor *b, bool equal)
{
    cr_assert_eq(a->numel, b->numel);
    bool same = memcmp(a->data, b->data, sizeof(float) * (size_t)a->numel) == 0;
    cr_assert_eq(same, equal, "tensors are %s", same ? "equal" : "different");
}

Test(rng, same_seed_same_numbers_other_seed_others)
{
    tg_tensor *(*makers[])(tg_shape, tg_rng *) = { tg_tensor_rand, tg_tensor_randn };
    for (int m = 0; m < 2; m++) {
        tg_rng r1 = tg_rng_new(7), r2 = tg_rng_new(7), r3 = tg_rng_new(8);
        tg_tensor *a = makers[m](TG_SHAPE(5, 7), &r1);
        tg_tensor *b = makers[m](TG_SHAPE(5, 7), &r2);
        tg_tensor *c = makers[m](TG_SHAPE(5, 7), &r3);
        expect_equal_tensors(a, b, true);
        expect_equal_tensors(a, c, false);
        /* The generator moved on: the next draw differs from the first. */
        tg_tensor *d = makers[m](TG_SHAPE(5, 7), &r1);
        expect_equal_tensors(a, d, false);
        tg_tensor_free(a);
        tg_tensor_free(b);
        tg_tensor_free(c);
        tg_tensor_free(d);
    }
    tg_rng r1 = tg_rng_new(3), r2 = tg_rng_new(3);
    tg_tensor *u1 = tg_tensor_uniform(TG_SHAPE(9), -2, 5, &r1), *u2 = tg_tensor_uniform(TG_SHAPE(9), -2, 5, &r2);
    tg_tensor *n1 = tg_tensor_normal(TG_SHAPE(9), 1, 3, &r1), *n2 = tg_tensor_normal(TG_SHAPE(9), 1, 3, &r2);
    tg_tensor *b1 = tg_tensor_bernoulli(TG_SHAPE(9), 0.5f, &r1), *b2 = tg_tensor_bernoulli(TG_SHAPE(9), 0.5f, &r2);
    expect_equal_tensors(u1, u2, true);
    expect_equal_tensors(n1, n2, true);
    expect_equal_tensors(b1, b2, true);
    tg_tensor *list[] = { u1, u2, n1, n2, b1, b2 };
    for (int i = 0; i < 6; i++)
        tg_tensor_free(list[i]);
}

Test(rng, the_thread_count_does_not_change_the_numbers)
{
    int previous = tg_get_num_threads();
    tg_set_num_threads(1);
    tg_rng r1 = tg_rng_new(11);
    tg_tensor *a = tg_tensor_randn(TG_SHAPE(300, 300), &r1);
    tg_set_num_threads(2);
    tg_rng r2 = tg_rng_new(11);
    tg_tensor *b = tg_tensor_randn(TG_SHAPE(300, 300), &r2);
    tg_set_num_threads(previous);
    expect_equal_tensors(a, b, true);
    tg_tensor_free(a);
    tg_tensor_free(b);
}

/* Mean and variance of n samples, in double precision. */
static void moments(const tg_tensor *t, double *mean, double *var)
{
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < t->numel; i++)
        s += t->data[i];
    *mean = s / (double)t->numel;
    for (int64_t i = 0; i < t->numel; i++)
        s2 += (t->data[i] - *mean) * (t->data[i] - *mean);
    *var = s2 / (double)(t->numel - 1);
}

/* Bounds are 5 standard errors: a correct generator fails about once in
 * two million runs (and the seed is fixed). */
#define N_SAMPLES 200000

Test(rng, sample_moments_are_within_statistical_bounds)
{
    tg_rng rng = tg_rng_new(2024);
    double mean, var, n = N_SAMPLES;

    tg_tensor *u = tg_tensor_uniform(TG_SHAPE(N_SAMPLES), -1, 3, &rng); /* mean 1, var 16/12 */
    moments(u, &mean, &var);
    cr_assert(fabs(mean - 1.0) < 5 * sqrt(16.0 / 12 / n), "uniform mean %g", mean);
    cr_assert(fabs(var - 16.0 / 12) < 5 * sqrt(16.0 * 16 / 180 / n), "uniform var %g", var);
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < u->numel; i++) {
        lo = fminf(lo, u->data[i]);
        hi = fmaxf(hi, u->data[i]);
    }
    cr_assert(lo >= -1.0f && hi < 3.0f && lo < -0.99f && hi > 2.99f, "range [%g, %g]", lo, hi);

    tg_tensor *g = tg_tensor_normal(TG_SHAPE(N_SAMPLES), 2, 0.5f, &rng); /* var 0.25 */
    moments(g, &mean, &var);
    cr_assert(fabs(mean - 2.0) < 5 * 0.5 / sqrt(n), "normal mean %g", mean);
    cr_assert(fabs(var - 0.25) < 5 * 0.25 * sqrt(2.0 / n), "normal var %g", var);
    int64_t beyond = 0; /* P(|z| > 2) = 0.0455 */
    for (int64_t i = 0; i < g->numel; i++)
        beyond += fabsf(g->data[i] - 2.0f) > 1.0f;
    double p2 = 0.04550026;
    cr_assert(fabs((double)beyond / n - p2) < 5 * sqrt(p2 * (1 - p2) / n), "tail %lld", (long long)beyond);

    tg_tensor *b = tg_tensor_bernoulli(TG_SHAPE(N_SAMPLES), 0.3f, &rng);
    moments(b, &mean, &var);
    cr_assert(fabs(mean - 0.3) < 5 * sqrt(0.21 / n), "bernoulli mean %g", mean);
    for (int64_t i = 0; i < b->numel; i++)
        cr_assert(b->data[i] == 0.0f || b->data[i] == 1.0f);

    tg_tensor *r = tg_randn(TG_SHAPE(N_SAMPLES), &rng); /* graph versions draw the same law */
    moments(r, &mean, &var);
    cr_assert(fabs(mean) < 5 / sqrt(n) && fabs(var - 1) < 5 * sqrt(2.0 / n), "randn %g %g", mean, var);
    tg_tensor *q = tg_rand(TG_SHAPE(N_SAMPLES), &rng);
    moments(q, &mean, &var);
    cr_assert(fabs(mean - 0.5) < 5 * sqrt(1.0 / 12 / n), "rand mean %g", mean);
    tg_tensor *c = tg_bernoulli(TG_SHAPE(N_SAMPLES), 0.9f, &rng);
    moments(c, &mean, &var);
    cr_assert(fabs(mean - 0.9) < 5 * sqrt(0.09 / n), "bernoulli mean %g", mean);

    tg_tensor_free(u);
    tg_tensor_free(g);
    tg_tensor_free(b);
}

Test(rng, bernoulli_extremes_are_constant)
{
    tg_rng rng = tg_rng_new(1);
    tg_tensor *zero = tg_tensor_bernoulli(TG_SHAPE(1000), 0.0f, &rng);
    tg_tensor *one = tg_tensor_bernoulli(TG_SHAPE(1000), 1.0f, &rng);
    for (int i = 0; i < 1000; i++) {
        cr_assert_eq(zero->data[i], 0.0f);
        cr_assert_eq(one->data[i], 1.0f);
    }
    tg_tensor_free(zero);
    tg_tensor_free(one);
}

Test(rng, filling_a_view_gives_the_numbers_of_a_contiguous_tensor)
{
    /* Every other column of a [4,6] buffer: a [4,3] view that is not
     * contiguous. Its values in row-major order must be those a contiguous
     * [4,3] tensor gets from the same seed. */
    tg_tensor *buffer = tg_tensor_zeros(TG_SHAPE(4, 6));
    tg_tensor *view = tg_view_slice(buffer, 1, 0, 6, 2);
    cr_assert(!tg_tensor_is_contiguous(view));
    tg_rng r1 = tg_rng_new(5), r2 = tg_rng_new(5);
    cr_assert_eq(tg_tensor_normal_(view, 1, 2, &r1), 0);
    tg_tensor *ref = tg_tensor_normal(TG_SHAPE(4, 3), 1, 2, &r2);
    float expected[12];
    memcpy(expected, ref->data, sizeof expected);
    tg_assert_values(view, expected, 12, 0);
    for (int i = 0; i < 4; i++) /* odd columns untouched */
        for (int j = 1; j < 6; j += 2)
            cr_assert_eq(buffer->data[i * 6 + j], 0.0f);

    tg_tensor *tview = tg_view_transpose(buffer, 0, 1);
    cr_assert_eq(tg_tensor_uniform_(tview, -1, 1, &r1), 0);
    tg_tensor *uref = tg_tensor_uniform(TG_SHAPE(6, 4), -1, 1, &r2);
    tg_assert_values(tview, uref->data, 24, 0);
    tg_tensor_free(buffer);
    tg_tensor_free(ref);
    tg_tensor_free(uref);
}

Test(rng, integers_below_n_are_in_range_and_shuffles_are_permutations)
{
    tg_rng rng = tg_rng_new(9);
    int counts[5] = { 0 };
    for (int i = 0; i < 50000; i++) {
        int64_t v = tg_rng_below(&rng, 5);
        cr_assert(v >= 0 && v < 5);
        counts[v]++;
    }
    for (int k = 0; k < 5; k++) /* p = 0.2 each, 5 standard errors = 447 */
        cr_assert(abs(counts[k] - 10000) < 447, "count[%d] = %d", k, counts[k]);
    cr_assert_eq(tg_rng_below(&rng, 0), 0);
    int64_t values[10];
    for (int i = 0; i < 10; i++)
        values[i] = i;
    tg_rng_shuffle(&rng, values, 10);
    bool seen[10] = { false };
    int moved = 0;
    for (int i = 0; i < 10; i++) {
        cr_assert(values[i] >= 0 && values[i] < 10 && !seen[values[i]]);
        seen[values[i]] = true;
        moved += values[i] != i;
    }
    cr_assert_gt(moved, 0);
}

Test(rng, the_default_generator_follows_manual_seed)
{
    tg_manual_seed(42);
    cr_assert_eq(tg_rng_next_u64(tg_rng_default()), 0x15780b2e0c2ec716ull);
    tg_manual_seed(42);
    cr_assert_eq(tg_rng_next_u64(tg_rng_default()), 0x15780b2e0c2ec716ull);
}
