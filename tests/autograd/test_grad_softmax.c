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
