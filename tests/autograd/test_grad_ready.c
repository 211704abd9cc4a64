/*
 * tests/autograd/test_grad_ready.c: the notice that a leaf's gradient is
 * final (tg_set_grad_ready_notice): once per leaf, in the order backward
 * finishes them, with the complete gradient (postponed products added).
 */
#include "support.h"

TestSuite(grad_ready, .init = tg_test_setup, .fini = tg_test_teardown);

enum { MAX_SEEN = 16 };

typedef struct seen {
    int count;
    tg_tensor *leaf[MAX_SEEN];
    tg_tensor *grad_then[MAX_SEEN]; /* copies of tg_grad(leaf) at the notice */
} seen;

static void record(tg_tensor *leaf, void *ctx)
{
    seen *s = ctx;
    cr_assert_lt(s->count, MAX_SEEN);
    const tg_tensor *g = tg_grad(leaf);
    s->grad_then[s->count] = g ? tg_tensor_clone(g) : NULL;
    s->leaf[s->count++] = leaf;
}

static int position(const seen *s, const tg_tensor *leaf)
{
    int at = -1;
    for (int i = 0; i < s->count; i++)
        if (s->leaf[i] == leaf) {
            cr_assert_eq(at, -1, "leaf announced twice");
            at = i;
        }
    return at;
}

static void seen_free(seen *s)
{
    for (int i = 0; i < s->count; i++)
        tg_tensor_free(s->grad_then[i]);
}

/* An RNN over T steps and a linear head on its last state: the head's
 * parameters are finished first, the RNN's (read at step 0, their
 * products postponed and added in chunks) last; at its notice each
 * gradient equals the one backward ends with. */
static void check_rnn(int64_t steps, int64_t batch)
{
    tg_model *model = tg_model_new(3);
    tg_rnn *rnn = tg_rnn_new(model, "rnn", (tg_rnn_config){ .input = 5, .hidden = 8 });
    tg_linear *head = tg_linear_new(model, "head", (tg_linear_config){ .input = 8, .output = 2 });
    cr_assert(rnn && head, "%s", tg_error_message());
    tg_rng rng = tg_rng_new(9);
    tg_tensor *x = tg_tensor_randn(TG_SHAPE(steps, batch, 5), &rng);
    seen s = { 0 };
    tg_set_grad_ready_notice(record, &s);
    tg_rnn_result r = tg_rnn_forward(rnn, x, NULL);
    tg_tensor *loss = tg_sum(tg_square(tg_linear_forward(head, r.h[steps - 1])), TG_ALL_AXES, false);
    cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
    tg_set_grad_ready_notice(NULL, NULL);

    int n = tg_model_parameter_count(model);
    cr_assert_eq(s.count, n, "%d notices for %d parameters", s.count, n);
    for (int i = 0; i < n; i++) {
        tg_tensor *p = tg_model_parameter(model, i);
        int at = position(&s, p);
        cr_assert_geq(at, 0, "%s was not announced", tg_model_parameter_name(model, i));
        cr_assert_not_null(s.grad_then[at]);
        tg_assert_values(tg_grad(p), s.grad_then[at]->data, p->numel, 0.0f);
    }
    cr_assert_lt(position(&s, head->weight), position(&s, tg_model_find(model, "rnn.weight_hh_l0")));
    cr_assert_lt(position(&s, head->bias), position(&s, tg_model_find(model, "rnn.weight_ih_l0")));
    seen_free(&s);
    tg_tensor_free(x);
    tg_model_free(model);
}

Test(grad_ready, rnn_parameters_are_announced_once_with_their_final_gradient)
{
    check_rnn(6, 3);
}

/* 300 steps of 8 rows: the weights' postponed products fill several
 * chunks, and the last ones are added only at the notice. */
Test(grad_ready, postponed_products_are_added_before_the_notice)
{
    check_rnn(300, 8);
}

Test(grad_ready, a_leaf_no_gradient_reaches_is_announced_with_none)
{
    tg_tensor *a = tg_tensor_from_array(TG_SHAPE(2), (float[]){ 1, 2 });
    tg_tensor *b = tg_tensor_from_array(TG_SHAPE(2), (float[]){ 3, 4 });
    tg_set_requires_grad(a, true);
    tg_set_requires_grad(b, true);
    seen s = { 0 };
    tg_set_grad_ready_notice(record, &s);
    tg_tensor *unused = tg_mul(b, b); /* read, but not part of the loss */
    cr_assert_not_null(unused);
    tg_tensor *loss = tg_sum(tg_mul(a, a), TG_ALL_AXES, false);
    cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
    tg_set_grad_ready_notice(NULL, NULL);
    cr_assert_eq(s.count, 2);
    cr_assert_eq(s.leaf[0], a);
    cr_assert_eq(s.leaf[1], b);
    tg_assert_values(s.grad_then[0], ((float[]){ 2, 4 }), 2, 0.0f);
    cr_assert_null(s.grad_then[1]);
    seen_free(&s);
    tg_tensor_free(a);
    tg_tensor_free(b);
}

Test(grad_ready, no_notice_once_it_is_turned_off)
{
    tg_tensor *a = tg_tensor_from_array(TG_SHAPE(2), (float[]){ 1, 2 });
    tg_set_requires_grad(a, true);
    seen s = { 0 };
    tg_set_grad_ready_notice(record, &s);
    tg_set_grad_ready_notice(NULL, NULL);
    cr_assert_eq(tg_backward(tg_sum(tg_mul(a, a), TG_ALL_AXES, false)), 0, "%s", tg_error_message());
    cr_assert_eq(s.count, 0);
    tg_tensor_free(a);
}
