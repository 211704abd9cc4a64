/* softmax and log_softmax: gradients against central differences along
 * every axis and on views; values by hand and from identities; the
 * cross-entropy gradient softmax - one_hot. */
#include "autograd/check.h"

TestSuite(grad_softmax, .init = tg_test_setup, .fini = tg_test_teardown);

typedef struct softmax_case {
    operand x;
    int dim;
} softmax_case;

typedef struct softmax_check {
    const softmax_case *c;
    bool log;
} softmax_check;

static tg_tensor *apply_softmax(tg_tensor *const *in, void *user)
{
    const softmax_check *k = user;
    tg_tensor *x = k->c->x.view(in[0]);
    return k->log ? tg_log_softmax(x, k->c->dim) : tg_softmax(x, k->c->dim);
}

static tg_tensor *apply_softmax_times_input(tg_tensor *const *in, void *user)
{
    const softmax_check *k = user;
    tg_tensor *x = in[0];
    return tg_mul(k->log ? tg_log_softmax(x, k->c->dim) : tg_softmax(x, k->c->dim), x);
}

Test(grad_softmax, along_every_axis_and_on_views)
{
    const softmax_case cases[] = {
        { { "[3,4]", TG_SHAPE(3, 4), view_same }, 0 },
        { { "[3,4]", TG_SHAPE(3, 4), view_same }, 1 },
        { { "[3,4]", TG_SHAPE(3, 4), view_same }, -1 },
        { { "[5]", TG_SHAPE(5), view_same }, 0 },
        { { "[2,3,4]", TG_SHAPE(2, 3, 4), view_same }, 1 },
        { { "[3,1,2] along its size-1 axis", TG_SHAPE(3, 1, 2), view_same }, 1 },
        { { "transposed [4,3]", TG_SHAPE(4, 3), view_transposed }, 0 },
        { { "step-sliced [3,9]", TG_SHAPE(3, 9), view_step_sliced }, 1 },
        { { "expanded [1,4]", TG_SHAPE(1, 4), view_expanded }, 1 },
        { { "expanded [1,4] along the expanded axis", TG_SHAPE(1, 4), view_expanded }, 0 },
        { { "permuted [2,3,4]", TG_SHAPE(2, 3, 4), view_permuted }, 2 },
    };
    for (int log = 0; log < 2; log++) {
        for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
            tg_tensor *x = make_leaf(cases[i].x.leaf, FILL_ANY, 1400 + (uint64_t)i);
            softmax_check k = { &cases[i], log == 1 };
            char what[128];
            snprintf(what, sizeof what, "%s along %d of %s", log ? "log_softmax" : "softmax",
                     cases[i].dim, cases[i].x.name);
            assert_gradcheck(apply_softmax, &k, &x, 1, what);
        }
    }
}

Test(grad_softmax, with_the_input_used_twice)
{
    const softmax_case c = { { "[3,4]", TG_SHAPE(3, 4), view_same }, 1 };
    for (int log = 0; log < 2; log++) {
        tg_tensor *x = make_leaf(c.x.leaf, FILL_ANY, 3);
        softmax_check k = { &c, log == 1 };
        assert_gradcheck(apply_softmax_times_input, &k, &x, 1, log ? "log_softmax(x) * x" : "softmax(x) * x");
    }
}

Test(grad_softmax, values_by_hand)
{
    tg_tensor *x = leaf_of(TG_SHAPE(2, 3), (float[]){ 1, 2, 3, 1000, 1001, 1000 });
    /* Row 0: exp(k) / (e + e^2 + e^3); row 1 is shifted by 1000 (stable). */
    float d = expf(1) + expf(2) + expf(3), e = 2 + expf(1);
    tg_assert_values(tg_softmax(x, 1),
                     ((float[]){ expf(1) / d, expf(2) / d, expf(3) / d, 1 / e, expf(1) / e, 1 / e }), 6, 1e-6f);
    float l = logf(d), m = logf(e);
    tg_assert_values(tg_log_softmax(x, -1), ((float[]){ 1 - l, 2 - l, 3 - l, -m, 1 - m, -m }), 6, 1e-4f);
    /* Along axis 0 the first column is [1, 1000]: all weight on the second row. */
    tg_assert_values(tg_softmax(x, 0), ((float[]){ 0, 0, 0, 1, 1, 1 }), 6, 1e-6f);
}

Test(grad_softmax, log_softmax_is_x_minus_logsumexp)
{
    tg_tensor *x = make_leaf(TG_SHAPE(3, 5), FILL_ANY, 21);
    tg_tensor *a = tg_log_softmax(x, 0);
    tg_tensor *b = tg_sub(x, tg_logsumexp(x, TG_AXES(0), true));
    tg_tensor *b_values = tg_copy_to_graph(b);
    tg_assert_values(a, b_values->data, 15, 1e-6f);
    tg_tensor *s = tg_sum(tg_softmax(x, 0), TG_AXES(0), false);
    tg_assert_values(s, ((float[]){ 1, 1, 1, 1, 1 }), 5, 1e-6f);
}

Test(grad_softmax, cross_entropy_gradient_is_softmax_minus_one_hot)
{
    const int n = 4, classes = 3;
    tg_tensor *logits = make_leaf(TG_SHAPE(4, 3), FILL_ANY, 5);
    tg_tensor *targets = tg_from_array(TG_SHAPE(4, 1), (float[]){ 2, 0, 1, 2 });
    tg_tensor *picked = tg_gather(tg_log_softmax(logits, 1), 1, targets);
    tg_tensor *loss = tg_neg(tg_mean_all(picked));
    cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
    float expected[12];
    for (int i = 0; i < n; i++) {
        double total = 0;
        for (int j = 0; j < classes; j++)
            total += exp((double)logits->data[i * classes + j]);
        for (int j = 0; j < classes; j++) {
            double p = exp((double)logits->data[i * classes + j]) / total;
            expected[i * classes + j] = (float)((p - (j == (int)targets->data[i])) / n);
        }
    }
    tg_assert_values(tg_grad(logits), expected, 12, 1e-6f);
}

/* ---- log_softmax_pick ------------------------------------------------------------------- */

/* A class for each row of x [..., C]: (7 r + 3) mod C, as int64. */
static tg_tensor *classes_of_rows(const tg_tensor *x)
{
    int64_t classes = x->shape[x->ndim - 1], rows = x->numel / classes, values[64];
    cr_assert_leq(rows, 64);
    for (int64_t r = 0; r < rows; r++)
        values[r] = (7 * r + 3) % classes;
    tg_shape shape = tg_tensor_shape(x);
    shape.ndim--;
    return tg_from_int64(shape, values);
}

static tg_tensor *apply_pick(tg_tensor *const *in, void *user)
{
    tg_tensor *x = ((const operand *)user)->view(in[0]);
    return tg_log_softmax_pick(x, classes_of_rows(x));
}

static tg_tensor *apply_pick_plus_input(tg_tensor *const *in, void *user)
{
    (void)user;
    tg_tensor *x = in[0];
    return tg_add(tg_sum_all(tg_log_softmax_pick(x, classes_of_rows(x))), tg_sum_all(tg_square(x)));
}

Test(grad_softmax, log_softmax_pick_on_shapes_and_views)
{
    const operand cases[] = {
        { "[3,4]", TG_SHAPE(3, 4), view_same },
        { "[2,3,4]", TG_SHAPE(2, 3, 4), view_same },
        { "[5], one row", TG_SHAPE(5), view_same },
        { "one class [3,1]", TG_SHAPE(3, 1), view_same },
        { "transposed [4,3]", TG_SHAPE(4, 3), view_transposed },
        { "step-sliced [3,9]", TG_SHAPE(3, 9), view_step_sliced },
        { "expanded [1,4]", TG_SHAPE(1, 4), view_expanded },
        { "permuted [2,3,4]", TG_SHAPE(2, 3, 4), view_permuted },
    };
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
        tg_tensor *x = make_leaf(cases[i].leaf, FILL_ANY, 1500 + (uint64_t)i);
        char what[96];
        snprintf(what, sizeof what, "log_softmax_pick of %s", cases[i].name);
        assert_gradcheck(apply_pick, (void *)&cases[i], &x, 1, what);
    }
}

Test(grad_softmax, log_softmax_pick_with_the_input_used_twice)
{
    tg_tensor *x = make_leaf(TG_SHAPE(3, 5), FILL_ANY, 7);
    assert_gradcheck(apply_pick_plus_input, NULL, &x, 1, "log_softmax_pick(x) + x^2");
}

/* The values and the gradient are log_softmax's and gather's, bit for bit,
 * on one thread and on two (rows split between them). */
Test(grad_softmax, log_softmax_pick_is_gather_of_log_softmax_bit_for_bit)
{
    const tg_shape shapes[] = { TG_SHAPE(5, 7, 65), TG_SHAPE(700, 65) };
    for (int threads = 1; threads <= 2; threads++) {
        tg_set_num_threads(threads);
        for (int k = 0; k < 2; k++) {
            tg_rng rng = tg_rng_new(40 + (uint64_t)k);
            tg_tensor *x = tg_tensor_randn(shapes[k], &rng), *weight = NULL, *index = NULL;
            int64_t classes = x->shape[x->ndim - 1], rows = x->numel / classes;
            tg_shape row_shape = tg_tensor_shape(x);
            row_shape.ndim--;
            weight = tg_tensor_randn(row_shape, &rng);
            index = tg_tensor_empty_dtype(row_shape, TG_INT64);
            for (int64_t r = 0; r < rows; r++)
                index->i64[r] = (int64_t)tg_rng_below(&rng, (uint64_t)classes);
            cr_assert_eq(tg_set_requires_grad(x, true), 0);
            tg_tensor *fused = tg_log_softmax_pick(x, index);
            cr_assert_eq(tg_backward(tg_sum_all(tg_mul(fused, weight))), 0, "%s", tg_error_message());
            tg_tensor *fused_grad = tg_tensor_clone(tg_grad(x));
            tg_zero_grad(x);
            tg_tensor *plain = tg_squeeze(tg_gather(tg_log_softmax(x, -1), -1, tg_unsqueeze(index, -1)), -1);
            cr_assert_eq(tg_backward(tg_sum_all(tg_mul(plain, weight))), 0, "%s", tg_error_message());
            cr_assert_eq(memcmp(fused->data, plain->data, sizeof(float) * (size_t)rows), 0,
                         "values differ (%d threads)", threads);
            cr_assert_eq(memcmp(fused_grad->data, tg_grad(x)->data, sizeof(float) * (size_t)x->numel), 0,
                         "gradients differ (%d threads)", threads);
            tg_graph_reset();
            tg_tensor_free(fused_grad);
            tg_tensor_free(x);
            tg_tensor_free(weight);
            tg_tensor_free(index);
        }
    }
    tg_set_num_threads(1);
}

Test(grad_softmax, log_softmax_pick_refuses_bad_inputs)
{
    tg_tensor *x = make_leaf(TG_SHAPE(2, 3), FILL_ANY, 9);
    cr_assert_null(tg_log_softmax_pick(x, tg_from_int64(TG_SHAPE(3), (int64_t[]){ 0, 1, 2 })));
    tg_assert_error("log_softmax_pick: x [2,3] and index [3]: x needs a class axis (last, at least one "
                    "class) and index x's shape without it");
    tg_error_clear();
    cr_assert_null(tg_log_softmax_pick(x, tg_from_int64(TG_SHAPE(2), (int64_t[]){ 0, 3 })));
    tg_assert_error("log_softmax_pick: index 3 at position 1 of index tensor [2] is out of range [0, 3)");
    tg_error_clear();
    cr_assert_null(tg_log_softmax_pick(x, tg_from_array(TG_SHAPE(2), (float[]){ 0, 1.5f })));
    tg_assert_error("log_softmax_pick: index 1.5 at position 1 of index tensor [2]");
    tg_error_clear();
    cr_assert_null(tg_log_softmax_pick(tg_zeros(TG_SHAPE(2, 0)), tg_from_int64(TG_SHAPE(2), (int64_t[]){ 0, 0 })));
    tg_assert_error("log_softmax_pick: x [2,0] and index [2]: x needs a class axis");
    tg_error_clear();
    cr_assert_null(tg_log_softmax_pick(NULL, NULL));
}
