/* The tape: recording, backward, leaves, grad mode, graph reset. */
#include "support.h"

TestSuite(tape, .init = tg_test_setup, .fini = tg_test_teardown);

Test(tape, backward_of_a_product_gives_the_other_factor)
{
    tg_tensor *a = tg_tensor_from_array(TG_SHAPE(3), (float[]){ 1, 2, 3 });
    tg_tensor *b = tg_tensor_from_array(TG_SHAPE(3), (float[]){ 4, 5, 6 });
    tg_set_requires_grad(a, true);
    tg_set_requires_grad(b, true);
    tg_tensor *loss = tg_sum_all(tg_mul(a, b));
    cr_assert_float_eq(tg_tensor_item(loss), 32.0f, 1e-6);
    cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(a), ((float[]){ 4, 5, 6 }), 3, 1e-6);
    tg_assert_values(tg_grad(b), ((float[]){ 1, 2, 3 }), 3, 1e-6);
    tg_tensor_free(a);
    tg_tensor_free(b);
}

Test(tape, a_tensor_used_twice_gets_both_contributions)
{
    tg_tensor *x = tg_tensor_from_array(TG_SHAPE(2), (float[]){ 3, -1 });
    tg_set_requires_grad(x, true);
    /* d/dx (x*x + x) = 2x + 1 */
    tg_tensor *loss = tg_sum_all(tg_add(tg_mul(x, x), x));
    cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(x), ((float[]){ 7, -1 }), 2, 1e-6);
    tg_tensor_free(x);
}

Test(tape, a_chain_of_a_million_ops_runs_backward_without_recursion)
{
    tg_tensor *x = tg_tensor_full(TG_SCALAR, 1.0f);
    tg_set_requires_grad(x, true);
    tg_tensor *y = x;
    const int n = 1000000;
    for (int i = 0; i < n; i++)
        y = tg_mul_scalar(y, 1.0f);
    cr_assert_not_null(y, "%s", tg_error_message());
    cr_assert_eq(tg_graph_size(), (size_t)n);
    cr_assert_eq(tg_backward(y), 0, "%s", tg_error_message());
    cr_assert_float_eq(tg_tensor_item(tg_grad(x)), 1.0f, 1e-6);
    tg_tensor_free(x);
}

static tg_tensor *owned_leaf(tg_shape shape, const float *values)
{
    tg_tensor *t = tg_tensor_from_array(shape, values);
    cr_assert_eq(tg_set_requires_grad(t, true), 0, "%s", tg_error_message());
    return t;
}

Test(tape, leaves_accumulate_over_two_backward_calls)
{
    tg_tensor *x = owned_leaf(TG_SHAPE(2), (float[]){ 1, -3 });
    /* Twice through the same graph: the intermediate's gradient starts again
     * from zero, the leaf's adds up. */
    tg_tensor *loss = tg_sum_all(tg_square(tg_mul_scalar(x, 2.0f))); /* d/dx = 8x */
    cr_assert_eq(tg_backward_with(loss, (tg_backward_config){ .retain_graph = true }), 0, "%s",
                 tg_error_message());
    tg_assert_values(tg_grad(x), ((float[]){ 8, -24 }), 2, 0.0f);
    cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(x), ((float[]){ 16, -48 }), 2, 0.0f);
    /* And over a new graph after a reset: leaf gradients outlive it. */
    tg_graph_reset();
    cr_assert_eq(tg_backward(tg_sum_all(x)), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(x), ((float[]){ 17, -47 }), 2, 0.0f);
    tg_tensor_free(x);
}

Test(tape, zero_grad_forgets_until_the_next_backward)
{
    tg_tensor *x = owned_leaf(TG_SHAPE(2), (float[]){ 1, 2 });
    cr_assert_null(tg_grad(x), "no gradient before any backward");
    cr_assert_eq(tg_backward(tg_sum_all(tg_mul_scalar(x, 3.0f))), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(x), ((float[]){ 3, 3 }), 2, 0.0f);
    tg_zero_grad(x);
    cr_assert_null(tg_grad(x));
    /* A graph that does not reach x leaves it without a gradient. */
    tg_tensor *y = owned_leaf(TG_SHAPE(1), (float[]){ 5 });
    cr_assert_eq(tg_backward(tg_sum_all(y)), 0, "%s", tg_error_message());
    cr_assert_null(tg_grad(x));
    cr_assert_eq(tg_backward(tg_sum_all(tg_mul(x, x))), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(x), ((float[]){ 2, 4 }), 2, 0.0f);
    tg_tensor_free(x);
    tg_tensor_free(y);
}

Test(tape, intermediate_gradients_are_kept_only_on_request)
{
    tg_tensor *x = owned_leaf(TG_SHAPE(3), (float[]){ 0.5f, -1, 2 });
    tg_tensor *w = tg_from_array(TG_SHAPE(3), (float[]){ 1, 2, 3 });
    tg_tensor *h = tg_mul(x, x);
    tg_tensor *z = tg_tanh(h);
    cr_assert_eq(tg_retain_grad(h), 0, "%s", tg_error_message());
    cr_assert(!tg_is_leaf(h) && tg_is_leaf(x));
    tg_tensor *loss = tg_sum_all(tg_mul(z, w));
    cr_assert_eq(tg_backward_with(loss, (tg_backward_config){ .retain_graph = true }), 0, "%s",
                 tg_error_message());
    float dh[3], dx[3];
    for (int i = 0; i < 3; i++) {
        float t = tanhf(x->data[i] * x->data[i]);
        dh[i] = w->data[i] * (1 - t * t);
        dx[i] = dh[i] * 2 * x->data[i];
    }
    tg_assert_values(tg_grad(h), dh, 3, 1e-6f);
    tg_assert_values(tg_grad(x), dx, 3, 1e-6f);
    cr_assert_null(tg_grad(z), "z's gradient was not retained");
    /* A second backward recomputes h's gradient rather than adding to it. */
    cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(h), dh, 3, 1e-6f);
    /* Only a tensor that requires a gradient can keep one. */
    cr_assert_eq(tg_retain_grad(w), -1);
    tg_assert_error("retain_grad: the tensor does not require a gradient");
    tg_tensor_free(x);
}

Test(tape, no_grad_scopes_nest_and_record_nothing)
{
    tg_tensor *x = owned_leaf(TG_SHAPE(2), (float[]){ 1, 2 });
    size_t before = tg_graph_size();
    tg_no_grad_begin();
    tg_no_grad_begin();
    tg_tensor *a = tg_exp(x);
    tg_no_grad_end();
    cr_assert(!tg_grad_enabled(), "still inside the outer scope");
    tg_tensor *b = tg_add(a, x);
    tg_no_grad_end();
    cr_assert(tg_grad_enabled());
    cr_assert_eq(tg_graph_size(), before);
    cr_assert(!tg_requires_grad(a) && !tg_requires_grad(b));
    tg_assert_values(b, ((float[]){ expf(1) + 1, expf(2) + 2 }), 2, 1e-6f);
    cr_assert_eq(tg_backward(tg_sum_all(b)), -1);
    tg_assert_error("does not require a gradient");
    tg_error_clear();
    /* The global switch, and scopes inside it. */
    cr_assert(tg_set_grad_enabled(false));
    tg_no_grad_begin();
    tg_no_grad_end();
    cr_assert(!tg_grad_enabled());
    tg_tensor *c = tg_exp(x);
    cr_assert(c && !tg_requires_grad(c));
    cr_assert(!tg_set_grad_enabled(true));
    cr_assert(tg_requires_grad(tg_exp(x)));
    cr_assert_eq(tg_graph_size(), before + 1);
    tg_tensor_free(x);
}

Test(tape, detach_stops_gradients)
{
    tg_tensor *x = owned_leaf(TG_SHAPE(2), (float[]){ 2, 3 });
    tg_tensor *y = tg_mul(x, x);
    tg_tensor *d = tg_detach(y);
    cr_assert(tg_is_leaf(d) && !tg_requires_grad(d));
    cr_assert_eq(d->data, y->data, "a detached tensor shares its data");
    /* d/dx (stop(x^2) * x) = x^2, not 3 x^2. */
    cr_assert_eq(tg_backward(tg_sum_all(tg_mul(d, x))), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(x), ((float[]){ 4, 9 }), 2, 0.0f);
    /* A detached tensor can start a new leaf. */
    cr_assert_eq(tg_set_requires_grad(d, true), 0, "%s", tg_error_message());
    cr_assert_eq(tg_backward(tg_sum_all(tg_mul(d, d))), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(d), ((float[]){ 8, 18 }), 2, 0.0f);
    tg_assert_values(tg_grad(x), ((float[]){ 4, 9 }), 2, 0.0f);
    tg_tensor_free(x);
}

Test(tape, backward_with_a_non_scalar_upstream_gradient)
{
    tg_tensor *x = owned_leaf(TG_SHAPE(2, 3), (float[]){ 1, 2, 3, 4, 5, 6 });
    tg_tensor *y = tg_square(x);
    tg_tensor *g = tg_from_array(TG_SHAPE(2, 3), (float[]){ 1, 0, -1, 2, 0.5f, 0 });
    cr_assert_eq(tg_backward_with(y, (tg_backward_config){ .grad = g, .retain_graph = true }), 0,
                 "%s", tg_error_message());
    tg_assert_values(tg_grad(x), ((float[]){ 2, 0, -6, 16, 5, 0 }), 6, 0.0f);
    /* A strided upstream gradient: the transpose of a [3,2] tensor. */
    tg_zero_grad(x);
    tg_tensor *gt = tg_from_array(TG_SHAPE(3, 2), (float[]){ 1, 2, 0, 0.5f, -1, 0 });
    cr_assert_eq(tg_backward_with_grad(y, tg_transpose(gt, 0, 1)), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(x), ((float[]){ 2, 0, -6, 16, 5, 0 }), 6, 0.0f);
    tg_tensor_free(x);
}

Test(tape, backward_refuses_what_it_cannot_differentiate)
{
    tg_tensor *x = owned_leaf(TG_SHAPE(2, 3), (float[]){ 1, 2, 3, 4, 5, 6 });
    tg_tensor *c = tg_from_array(TG_SCALAR, (float[]){ 1 });
    cr_assert_eq(tg_backward(tg_exp(c)), -1);
    tg_assert_error("backward: the tensor does not require a gradient");
    tg_error_clear();
    cr_assert_eq(tg_backward(tg_exp(x)), -1);
    tg_assert_error("backward: the loss [2,3] has 6 elements; give a one-element tensor, or use "
                    "tg_backward_with_grad");
    tg_error_clear();
    cr_assert_eq(tg_set_requires_grad(tg_exp(x), false), -1);
    tg_assert_error("set_requires_grad: the tensor is the output of 'exp', not a leaf");
    cr_assert_null(tg_grad(x));
    tg_tensor_free(x);
}

Test(tape, rewinding_forgets_what_came_after_the_mark)
{
    tg_tensor *x = owned_leaf(TG_SHAPE(2), (float[]){ 1, 2 });
    tg_tensor *y = tg_mul_scalar(x, 3.0f);
    size_t ops = tg_graph_size();
    size_t used = tg_arena_used(tg_arena_thread());
    tg_graph_mark mark = tg_graph_get_mark();
    for (int i = 0; i < 100; i++)
        cr_assert_not_null(tg_exp(tg_matmul(tg_unsqueeze(y, 0), tg_unsqueeze(y, 1))));
    cr_assert_eq(tg_graph_size(), ops + 400);
    tg_graph_rewind(mark);
    cr_assert_eq(tg_graph_size(), ops);
    cr_assert_eq(tg_arena_used(tg_arena_thread()), used);
    /* The graph before the mark still runs backward, and grows again. */
    tg_tensor *loss = tg_sum_all(tg_square(y)); /* d/dx = 18 x */
    cr_assert_eq(tg_graph_size(), ops + 2);
    cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(x), ((float[]){ 18, 36 }), 2, 0.0f);
    tg_tensor_free(x);
}

Test(tape, graph_reset_frees_the_graph_and_keeps_leaf_gradients)
{
    tg_tensor *x = owned_leaf(TG_SHAPE(2), (float[]){ 1, 2 });
    cr_assert_eq(tg_backward(tg_sum_all(tg_mul(x, x))), 0, "%s", tg_error_message());
    cr_assert_gt(tg_graph_size(), 0);
    tg_graph_reset();
    cr_assert_eq(tg_graph_size(), 0);
    cr_assert_eq(tg_arena_used(tg_arena_thread()), 0);
    tg_assert_values(tg_grad(x), ((float[]){ 2, 4 }), 2, 0.0f);
    tg_tensor_free(x);
}

/* A leaf that stops requiring a gradient between forward and backward gets
 * none, whatever op read it. */
Test(tape, a_leaf_that_stopped_requiring_a_gradient_gets_none)
{
    tg_tensor *x = owned_leaf(TG_SHAPE(2, 3), (float[]){ 1, 2, 3, 4, 5, 6 });
    tg_tensor *w = owned_leaf(TG_SHAPE(2), (float[]){ 1, 1 });
    tg_tensor *terms[] = {
        tg_sum_all(tg_slice(x, 1, 0, 3, 2)), tg_sum_all(tg_select(x, 0, 1)),
        tg_sum_all(tg_max(x, 1, false, NULL)), tg_sum_all(tg_amax(x, TG_AXES(0), false)),
        tg_sum_all(tg_index_select(x, 0, tg_zeros(TG_SHAPE(1)))),
        tg_sum_all(tg_gather(x, 1, tg_zeros(TG_SHAPE(2, 1)))), tg_sum_all(tg_softmax(x, 0)),
        tg_sum_all(tg_matmul(w, x)), tg_sum_all(tg_affine(tg_transpose(x, 0, 1), tg_unsqueeze(w, 0), NULL)),
        tg_sum_all(tg_concat((tg_tensor *[]){ x, x }, 2, 0)), tg_sum_all(tg_expand(x, TG_SHAPE(2, 2, 3))),
    };
    tg_tensor *loss = tg_stack(terms, (int)(sizeof terms / sizeof terms[0]), 0);
    cr_assert_not_null(loss, "%s", tg_error_message());
    cr_assert_eq(tg_set_requires_grad(x, false), 0);
    cr_assert_eq(tg_backward(tg_sum_all(loss)), 0, "%s", tg_error_message());
    cr_assert_null(tg_grad(x));
    /* w: the matmul and the affine each give the row sums of x. */
    tg_assert_values(tg_grad(w), ((float[]){ 12, 30 }), 2, 0.0f);
    tg_tensor_free(x);
    tg_tensor_free(w);
}

/* An op whose backward rule always fails. */
static int failing_backward(tg_node *node, tg_tensor *grad)
{
    (void)node;
    (void)grad;
    return tg_error_set("failing: backward refused");
}

static const tg_op failing_op = { .name = "failing", .backward = failing_backward };

static tg_tensor *failing(tg_tensor *x)
{
    tg_tensor *out = tg_copy_to_graph(x);
    return out && tg_record(&failing_op, out, &x, 1, NULL) == 0 ? out : NULL;
}

Test(tape, a_failed_backward_leaves_nothing_behind_for_the_next)
{
    tg_tensor *w = owned_leaf(TG_SHAPE(2, 2), (float[]){ 1, 2, 3, 4 });
    tg_tensor *x = owned_leaf(TG_SHAPE(3, 2), (float[]){ 1, 0, 0, 1, 1, 1 });
    /* affine's backward runs (and may postpone w's gradient), then the
     * failing op's rule stops the pass. */
    tg_tensor *loss = tg_sum_all(tg_affine(failing(x), w, NULL));
    cr_assert_eq(tg_backward(loss), -1);
    tg_assert_error("failing: backward refused");
    tg_error_clear();
    tg_zero_grad(w);
    tg_graph_reset();
    /* Overwrite the freed graph memory, then a clean step: d/dw sum(x w^T)
     * gives every row of w the column sums of x. */
    for (int i = 0; i < 50; i++)
        tg_full(TG_SHAPE(64), 1e6f);
    tg_graph_reset();
    cr_assert_eq(tg_backward(tg_sum_all(tg_affine(x, w, NULL))), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(w), ((float[]){ 2, 2, 2, 2 }), 4, 0.0f);
    tg_tensor_free(w);
    tg_tensor_free(x);
}

Test(tape, a_retained_view_gradient_holds_only_its_own_part)
{
    tg_tensor *x = owned_leaf(TG_SHAPE(4), (float[]){ 1, 2, 3, 4 });
    tg_tensor *h = tg_mul_scalar(x, 2.0f);
    tg_tensor *v = tg_narrow(h, 0, 1, 2);   /* a view of h */
    tg_tensor *t = tg_transpose(tg_reshape(h, TG_SHAPE(2, 2)), 0, 1);
    cr_assert_eq(tg_retain_grad(h), 0);
    cr_assert_eq(tg_retain_grad(v), 0);
    cr_assert_eq(tg_retain_grad(t), 0);
    /* loss = sum(v) + 3 sum(h) + sum(t * [[10, 20], [30, 40]]) */
    tg_tensor *w = tg_from_array(TG_SHAPE(2, 2), (float[]){ 10, 20, 30, 40 });
    tg_tensor *loss = tg_add(tg_add(tg_sum_all(v), tg_mul_scalar(tg_sum_all(h), 3.0f)), tg_sum_all(tg_mul(t, w)));
    cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(v), ((float[]){ 1, 1 }), 2, 0.0f);
    tg_assert_values(tg_grad(t), ((float[]){ 10, 20, 30, 40 }), 4, 0.0f);
    /* h: 3 everywhere, 1 more on v's part, and t's weights transposed back. */
    tg_assert_values(tg_grad(h), ((float[]){ 13, 34, 24, 43 }), 4, 0.0f);
    tg_assert_values(tg_grad(x), ((float[]){ 26, 68, 48, 86 }), 4, 0.0f);
    tg_tensor_free(x);
}
