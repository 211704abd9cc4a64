/* Higher-order gradients: a backward recorded with .create_graph, and
 * tg_autograd_grad, which returns gradients instead of adding them to
 * tg_grad. Second derivatives of every op are checked with
 * tg_gradgradcheck by the test_grad_* programs (tests/autograd/check.h). */
#include "support.h"
#include <tensor/kernel.h>

TestSuite(higher_order, .init = tg_test_setup, .fini = tg_test_teardown);

/* One gradient of a single output with respect to one input. */
static tg_tensor *grad_of(tg_tensor *out, tg_tensor *x, bool create)
{
    tg_tensor *g = NULL;
    cr_assert_eq(tg_autograd_grad(&out, 1, &x, 1, &g, (tg_grad_config){ .create_graph = create }), 0, "%s",
                 tg_error_message());
    return g;
}

Test(higher_order, derivatives_of_sin_to_the_fourth_order)
{
    tg_tensor *x = tg_test_owned_leaf(TG_SHAPE(3), (float[]){ 0.3f, -1.2f, 2.0f });
    tg_tensor *d1 = grad_of(tg_sum_all(tg_sin(x)), x, true);
    tg_tensor *d2 = grad_of(tg_sum_all(d1), x, true);
    tg_tensor *d3 = grad_of(tg_sum_all(d2), x, true);
    tg_tensor *d4 = grad_of(tg_sum_all(d3), x, false);
    for (int i = 0; i < 3; i++) {
        float v = x->data[i];
        cr_assert_float_eq(d1->data[i], cosf(v), 1e-6f);
        cr_assert_float_eq(d2->data[i], -sinf(v), 1e-6f);
        cr_assert_float_eq(d3->data[i], -cosf(v), 1e-6f);
        cr_assert_float_eq(d4->data[i], sinf(v), 1e-6f);
    }
    cr_assert_null(tg_grad(x), "tg_autograd_grad adds nothing to the leaf's gradient");
    tg_tensor_free(x);
}

Test(higher_order, a_recorded_backward_leaves_a_graph_gradient_that_backward_goes_through)
{
    /* loss = sum(x^3): backward with a graph gives x.grad = 3x^2 (a graph
     * tensor); backward from sum(x.grad) then adds 6x, as in PyTorch. */
    tg_tensor *x = tg_test_owned_leaf(TG_SHAPE(2), (float[]){ 2.0f, -1.0f });
    tg_tensor *loss = tg_sum_all(tg_mul(tg_square(x), x));
    cr_assert_eq(tg_backward_with(loss, (tg_backward_config){ .create_graph = true }), 0, "%s",
                 tg_error_message());
    tg_tensor *g = tg_grad(x);
    tg_assert_values(g, ((float[]){ 12.0f, 3.0f }), 2, 1e-6f);
    cr_assert(tg_requires_grad(g) && !tg_is_leaf(g), "the gradient has a history");
    cr_assert_eq(tg_backward(tg_sum_all(g)), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(x), ((float[]){ 12.0f + 12.0f, 3.0f - 6.0f }), 2, 1e-6f);
    /* After the reset the leaf's own buffer holds the values. */
    tg_graph_reset();
    tg_assert_values(tg_grad(x), ((float[]){ 24.0f, -3.0f }), 2, 1e-6f);
    tg_tensor_free(x);
}

/* gp(W) = |d/dx sum(tanh(W x))|^2 = |W^T (1 - tanh^2(W x))|^2 for a fixed x. */
static tg_tensor *gradient_penalty(tg_tensor *w, tg_tensor *x)
{
    tg_tensor *d = tg_sum_all(tg_tanh(tg_matmul(w, x)));
    tg_tensor *gx = NULL;
    if (tg_autograd_grad(&d, 1, &x, 1, &gx, (tg_grad_config){ .create_graph = true }) != 0)
        return NULL;
    return tg_sum_all(tg_square(gx));
}

Test(higher_order, a_gradient_penalty_trains_through_the_gradient)
{
    const float wv[6] = { 0.5f, -0.3f, 0.8f, 0.1f, -0.7f, 0.4f }, xv[3] = { 0.9f, -0.4f, 0.6f };
    tg_tensor *w = tg_test_owned_leaf(TG_SHAPE(2, 3), wv);
    tg_tensor *x = tg_test_owned_leaf(TG_SHAPE(3), xv);
    tg_tensor *gp = gradient_penalty(w, x);
    cr_assert_not_null(gp, "%s", tg_error_message());
    cr_assert_eq(tg_backward(gp), 0, "%s", tg_error_message());
    float analytic[6];
    cr_assert_eq(tg_tensor_to_array(tg_grad(w), analytic), 0);
    /* Central differences of gp, each computed with its own graph. */
    for (int i = 0; i < 6; i++) {
        float value[2];
        for (int side = 0; side < 2; side++) {
            w->data[i] = wv[i] + (side ? -1e-2f : 1e-2f);
            tg_tensor_mark_written(w);
            value[side] = tg_tensor_item(gradient_penalty(w, x));
            tg_graph_reset();
        }
        w->data[i] = wv[i];
        tg_tensor_mark_written(w);
        float numeric = (value[0] - value[1]) / 2e-2f;
        cr_assert(fabsf(analytic[i] - numeric) <= 2e-3f * fmaxf(1.0f, fabsf(numeric)),
                  "element %d: analytic %g, numeric %g", i, analytic[i], numeric);
    }
    tg_tensor_free(w);
    tg_tensor_free(x);
}

Test(higher_order, autograd_grad_takes_intermediates_and_several_outputs)
{
    tg_tensor *x = tg_test_owned_leaf(TG_SHAPE(2), (float[]){ 1.0f, 3.0f });
    tg_tensor *h = tg_mul_scalar(x, 2.0f);
    tg_tensor *a = tg_sum_all(tg_square(h)), *b = tg_sum_all(h);
    tg_tensor *grads[2];
    /* d(a + b)/dh = 2h + 1 and d(a + b)/dx = 2 (2h + 1). */
    cr_assert_eq(tg_autograd_grad((tg_tensor *[]){ a, b }, 2, (tg_tensor *[]){ h, x }, 2, grads,
                                  (tg_grad_config){ .retain_graph = true }), 0, "%s", tg_error_message());
    tg_assert_values(grads[0], ((float[]){ 5.0f, 13.0f }), 2, 1e-6f);
    tg_assert_values(grads[1], ((float[]){ 10.0f, 26.0f }), 2, 1e-6f);
    cr_assert_null(tg_grad(h), "h was not retained by the caller");
    /* Weighted outputs: grad_outputs scale each one. */
    tg_tensor *weights[2] = { tg_full(TG_SCALAR, 2.0f), tg_full(TG_SCALAR, -1.0f) };
    cr_assert_eq(tg_autograd_grad((tg_tensor *[]){ a, b }, 2, &x, 1, grads,
                                  (tg_grad_config){ .grad_outputs = weights }), 0, "%s", tg_error_message());
    tg_assert_values(grads[0], ((float[]){ 14.0f, 46.0f }), 2, 1e-6f);
    tg_tensor_free(x);
}

Test(higher_order, autograd_grad_refuses_what_it_cannot_answer)
{
    tg_tensor *x = tg_test_owned_leaf(TG_SHAPE(2), (float[]){ 1.0f, 2.0f });
    tg_tensor *y = tg_test_owned_leaf(TG_SHAPE(2), (float[]){ 3.0f, 4.0f });
    tg_tensor *c = tg_tensor_ones(TG_SHAPE(2));
    tg_tensor *out = tg_sum_all(tg_square(x));
    tg_tensor *g[2] = { (tg_tensor *)1, (tg_tensor *)1 };
    cr_assert_eq(tg_autograd_grad(&out, 1, (tg_tensor *[]){ x, y }, 2, g, (tg_grad_config){ .retain_graph = true }),
                 -1);
    cr_assert_str_eq(tg_error_message(), "autograd_grad: input 1 [2] is not reached from the outputs; pass "
                                         ".allow_unused = true to get NULL for it");
    tg_error_clear();
    cr_assert(!g[0] && !g[1], "a refused call gives no results");
    cr_assert_eq(tg_autograd_grad(&out, 1, (tg_tensor *[]){ x, y }, 2, g,
                                  (tg_grad_config){ .allow_unused = true, .retain_graph = true }), 0, "%s",
                 tg_error_message());
    tg_assert_values(g[0], ((float[]){ 2.0f, 4.0f }), 2, 1e-6f);
    cr_assert_null(g[1]);
    cr_assert_eq(tg_autograd_grad(&out, 1, &c, 1, g, (tg_grad_config){ 0 }), -1);
    cr_assert_str_eq(tg_error_message(), "autograd_grad: input 0 [2] does not require a gradient");
    tg_error_clear();
    cr_assert_eq(tg_autograd_grad(&out, 1, (tg_tensor *[]){ x, x }, 2, g, (tg_grad_config){ 0 }), -1);
    cr_assert_str_eq(tg_error_message(), "autograd_grad: input 1 is input 0 again");
    tg_error_clear();
    cr_assert_null(tg_grad(x));
    cr_assert_null(tg_grad(y));
    tg_tensor_free(x);
    tg_tensor_free(y);
    tg_tensor_free(c);
}

Test(higher_order, a_first_order_backward_after_a_recorded_one_is_unchanged)
{
    /* The recorded pass must leave no recorded tensor where a later
     * first-order backward writes gradient buffers. */
    tg_tensor *x = tg_test_owned_leaf(TG_SHAPE(3), (float[]){ 0.1f, 0.2f, 0.3f });
    tg_tensor *h = tg_exp(x);
    cr_assert_eq(tg_retain_grad(h), 0);
    tg_tensor *loss = tg_sum_all(tg_mul(h, h));
    cr_assert_eq(tg_backward_with(loss, (tg_backward_config){ .create_graph = true }), 0, "%s",
                 tg_error_message());
    tg_tensor *first = tg_tensor_clone(tg_grad(h));
    tg_zero_grad(x);
    cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(h), first->data, 3, 1e-6f);
    float expected[3];
    for (int i = 0; i < 3; i++)
        expected[i] = 2.0f * expf(2.0f * x->data[i]);
    tg_assert_values(tg_grad(x), expected, 3, 1e-5f);
    tg_tensor_free(first);
    tg_tensor_free(x);
}
