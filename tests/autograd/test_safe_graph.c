/* Graph mistakes that must fail loudly, never give a wrong answer: a graph
 * tensor used after tg_graph_reset, a saved tensor written in place before
 * backward, a second backward through a graph that was not retained, and
 * a raw view (tensor/kernel.h) of a tensor that requires a gradient. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include <tapegrad.h>

#include "support.h"
#include <tensor/kernel.h>

TestSuite(safe_graph, .init = tg_test_setup, .fini = tg_test_teardown);

static void assert_error_starts(const char *prefix)
{
    cr_assert(strncmp(tg_error_message(), prefix, strlen(prefix)) == 0, "expected \"%s...\", got \"%s\"",
              prefix, tg_error_message());
    tg_error_clear();
}

/* ---- Graph tensors from before a reset ------------------------------------------- */

Test(safe_graph, a_tensor_from_before_the_reset_is_refused_by_every_kind_of_op)
{
    tg_tensor *w = tg_test_owned_leaf(TG_SHAPE(2, 2), (float[]){ 1, 2, 3, 4 });
    tg_tensor *h = tg_tanh(w);
    tg_tensor *loss = tg_sum_all(h);
    cr_assert_not_null(loss);
    tg_graph_reset();
    /* The same steps again, so the arena hands out the same sizes. */
    tg_tensor *fresh = tg_sum_all(tg_tanh(w));
    cr_assert_not_null(fresh, "%s", tg_error_message());

    cr_assert_null(tg_mul(h, w));
    assert_error_starts("mul: input 0 is a graph tensor from before tg_graph_reset");
    cr_assert_null(tg_exp(h));
    assert_error_starts("exp: input 0 is a graph tensor from before tg_graph_reset");
    cr_assert_null(tg_sum(h, TG_AXES(0), false));
    assert_error_starts("sum: input 0 is a graph tensor from before tg_graph_reset");
    cr_assert_null(tg_matmul(w, h));
    assert_error_starts("matmul: input 1 is a graph tensor from before tg_graph_reset");
    cr_assert_null(tg_transpose(h, 0, 1));
    assert_error_starts("transpose: input 0 is a graph tensor from before tg_graph_reset");
    cr_assert_null(tg_view_reshape(h, TG_SHAPE(4)));
    assert_error_starts("view_reshape: the tensor is a graph tensor from before tg_graph_reset");
    cr_assert_null(tg_softmax(h, 0));
    assert_error_starts("softmax: input 0 is a graph tensor from before tg_graph_reset");
    cr_assert_null(tg_concat((tg_tensor *[]){ w, h }, 2, 0));
    assert_error_starts("concat: input 1 is a graph tensor from before tg_graph_reset");
    cr_assert(isnan(tg_tensor_item(loss)));
    assert_error_starts("tensor_item: the tensor is a graph tensor from before tg_graph_reset");
    cr_assert_null(tg_tensor_clone(h));
    assert_error_starts("tensor_clone: the tensor is a graph tensor from before tg_graph_reset");

    cr_assert_eq(tg_backward(loss), -1);
    assert_error_starts("backward: the loss is a graph tensor from before tg_graph_reset");
    cr_assert_null(tg_grad(w), "nothing reached the leaf");
    /* The new graph is untouched by the refusals. */
    cr_assert_eq(tg_backward(fresh), 0, "%s", tg_error_message());
    cr_assert_not_null(tg_grad(w));
    tg_tensor_free(w);
}

Test(safe_graph, owned_tensors_and_tensors_built_by_hand_never_go_stale)
{
    tg_tensor *w = tg_tensor_ones(TG_SHAPE(3));
    float values[3] = { 1, 2, 3 };
    tg_storage storage = { .base = values, .size = 3 };
    tg_tensor by_hand = { .data = values, .shape = { 3 }, .stride = { 1 }, .numel = 3, .ndim = 1,
                          .storage = &storage };
    tg_graph_reset();
    cr_assert(!tg_tensor_is_stale(w));
    cr_assert(!tg_tensor_is_stale(&by_hand));
    tg_tensor *sum = tg_add(w, &by_hand);
    cr_assert_not_null(sum, "%s", tg_error_message());
    cr_assert_float_eq(sum->data[2], 4.0f, 0.0f);
    tg_tensor_free(w);
}

Test(safe_graph, a_graph_tensor_goes_stale_at_the_reset_and_only_then)
{
    tg_tensor *z = tg_zeros(TG_SHAPE(2));
    tg_tensor *v = tg_view_reshape(z, TG_SHAPE(1, 2));
    cr_assert(!tg_tensor_is_stale(z) && !tg_tensor_is_stale(v));
    tg_graph_mark mark = tg_graph_get_mark();
    cr_assert_not_null(tg_ones(TG_SHAPE(3)));
    tg_graph_rewind(mark);
    cr_assert(!tg_tensor_is_stale(z) && !tg_tensor_is_stale(v), "a rewind keeps what came before it");
    tg_graph_reset();
    cr_assert(tg_tensor_is_stale(z) && tg_tensor_is_stale(v));
}

/* ---- Saved tensors written in place ----------------------------------------------- */

Test(safe_graph, a_leaf_written_in_place_before_backward_is_refused)
{
    /* loss = sum(w^2) at w = 2 has gradient 4; after fill_(w, 5) a silent
     * backward would give 10. */
    tg_tensor *w = tg_test_owned_leaf(TG_SHAPE(1), (float[]){ 2 });
    tg_tensor *loss = tg_sum_all(tg_square(w));
    cr_assert_eq(tg_tensor_fill_(w, 5.0f), 0);
    cr_assert_eq(tg_backward(loss), -1);
    cr_assert_str_eq(tg_error_message(),
                     "backward of 'square' on [1]: its input 0 [1] was written in place "
                     "(tg_tensor_fill_, tg_tensor_copy_, an optimizer step, ...) after the op "
                     "saved it, so its gradient would be wrong; write it after backward, or "
                     "clone it first");
    tg_error_clear();
    cr_assert_null(tg_grad(w), "a refused backward leaves no gradient behind");
    tg_tensor_free(w);
}

Test(safe_graph, an_optimizer_step_between_forward_and_backward_is_refused)
{
    tg_model *model = tg_model_new(7);
    tg_linear *layer = tg_linear_new(model, "fc", (tg_linear_config){ .input = 3, .output = 2 });
    tg_optimizer *opt = tg_sgd_new(model, (tg_sgd_config){ .lr = 0.1f });
    cr_assert(model && layer && opt, "%s", tg_error_message());
    tg_tensor *x = tg_ones(TG_SHAPE(4, 3));
    tg_tensor *loss = tg_sum_all(tg_square(tg_linear_forward(layer, x)));
    cr_assert_eq(tg_backward_with(loss, (tg_backward_config){ .retain_graph = true }), 0, "%s",
                 tg_error_message());
    cr_assert_eq(tg_optimizer_step(opt), 0, "%s", tg_error_message());
    /* The weight the product saved has changed: its input gradient is stale. */
    cr_assert_eq(tg_backward(loss), -1);
    assert_error_starts("backward of 'affine' on [4,3], [2,3], [2]: its input 1 [2,3] was written in place");
    tg_optimizer_free(opt);
    tg_model_free(model);
}

Test(safe_graph, writing_what_backward_does_not_read_is_allowed)
{
    /* add reads neither operand, and tanh reads only its output. */
    tg_tensor *a = tg_test_owned_leaf(TG_SHAPE(2), (float[]){ 1, 2 });
    tg_tensor *b = tg_test_owned_leaf(TG_SHAPE(2), (float[]){ 0.5f, -0.5f });
    tg_tensor *loss = tg_sum_all(tg_tanh(tg_add(a, b)));
    cr_assert_eq(tg_tensor_fill_(a, 9.0f), 0);
    cr_assert_eq(tg_tensor_fill_(b, 9.0f), 0);
    cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
    float t0 = tanhf(1.5f), t1 = tanhf(1.5f);
    tg_assert_values(tg_grad(a), ((float[]){ 1 - t0 * t0, 1 - t1 * t1 }), 2, 1e-6f);
    tg_tensor_free(a);
    tg_tensor_free(b);
}

Test(safe_graph, an_op_output_written_in_place_is_refused_where_backward_reads_it)
{
    tg_tensor *x = tg_test_owned_leaf(TG_SHAPE(2), (float[]){ 0.1f, 0.2f });
    tg_tensor *y = tg_sigmoid(x); /* backward reads y */
    tg_tensor *loss = tg_sum_all(y);
    cr_assert_eq(tg_tensor_fill_(y, 0.0f), 0);
    cr_assert_eq(tg_backward(loss), -1);
    assert_error_starts("backward of 'sigmoid' on [2]: its output [2] was written in place");
    tg_tensor_free(x);
}

/* ---- Backward twice ---------------------------------------------------------------------- */

Test(safe_graph, a_second_backward_needs_the_graph_retained)
{
    tg_tensor *x = tg_test_owned_leaf(TG_SHAPE(2), (float[]){ 1, -3 });
    tg_tensor *loss = tg_sum_all(tg_square(x)); /* d/dx = 2x */
    cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
    cr_assert_eq(tg_backward(loss), -1);
    cr_assert_str_eq(tg_error_message(),
                     "backward: the graph through 'sum' on [2] was already used by a backward; "
                     "pass .retain_graph = true (tg_backward_with) to the first to "
                     "back-propagate through it again");
    tg_error_clear();
    tg_assert_values(tg_grad(x), ((float[]){ 2, -6 }), 2, 0.0f);

    /* Retained, twice adds up as in PyTorch; the second use then uses it up. */
    tg_zero_grad(x);
    loss = tg_sum_all(tg_square(x));
    tg_backward_config keep = { .retain_graph = true };
    cr_assert_eq(tg_backward_with(loss, keep), 0, "%s", tg_error_message());
    cr_assert_eq(tg_backward_with(loss, keep), 0, "%s", tg_error_message());
    cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(x), ((float[]){ 6, -18 }), 2, 0.0f);
    cr_assert_eq(tg_backward(loss), -1);
    tg_error_clear();
    tg_tensor_free(x);
}

Test(safe_graph, a_second_loss_sharing_part_of_a_used_graph_is_refused)
{
    tg_tensor *x = tg_test_owned_leaf(TG_SHAPE(2), (float[]){ 1, 2 });
    tg_tensor *h = tg_exp(x);
    cr_assert_eq(tg_backward(tg_sum_all(h)), 0, "%s", tg_error_message());
    cr_assert_eq(tg_backward(tg_mean_all(h)), -1);
    assert_error_starts("backward: the graph through 'exp' on [2] was already used by a backward");
    tg_tensor_free(x);
}

/* ---- Raw views of a tensor that requires a gradient ------------------------------------ *
 * The views of tensor/kernel.h make no node, so a view of a tensor that
 * requires a gradient would drop it; each refuses, naming the op that
 * records the view. The advice holds: the op gives the gradient back. */

static const float W34[12] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };

/* w [3,4] = 0..11, an owned leaf requiring a gradient. */
static tg_tensor *tracked(void) { return tg_test_owned_leaf(TG_SHAPE(3, 4), W34); }

/* made is NULL, with "<view>: tensor [3,4] is tracked by autograd (requires
 * a gradient); use <use>". */
static void assert_refused(const tg_tensor *made, const char *view, const char *use)
{
    char expected[256];
    snprintf(expected, sizeof expected,
             "%s: tensor [3,4] is tracked by autograd (requires a gradient); use %s", view, use);
    cr_assert_null(made, "%s made a view of a tensor that requires a gradient", view);
    cr_assert_str_eq(tg_error_message(), expected);
    tg_error_clear();
}

/* The leaf under `out` gets d/dw sum(out^2) by backward; it must equal
 * `expected` (12 values, w's layout). */
static void assert_square_sum_grad(tg_tensor *out, tg_tensor *leaf, const float *expected)
{
    cr_assert_not_null(out, "%s", tg_error_message());
    tg_tensor *loss = tg_sum_all(tg_square(out));
    cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(leaf), expected, 12, 0.0f);
}

/* 2 w where mask is 1, 0 elsewhere, times `times`. */
static void twice_w_where(const int *mask, float times, float *out)
{
    for (int i = 0; i < 12; i++)
        out[i] = mask[i] ? 2.0f * W34[i] * times : 0.0f;
}

static const int ALL[12] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };

Test(safe_graph, view_reshape_refuses_a_tensor_that_requires_a_gradient)
{
    tg_tensor *w = tracked();
    cr_assert_null(tg_view_reshape(w, TG_SHAPE(4, 3)));
    cr_assert_str_eq(tg_error_message(), "view_reshape: tensor [3,4] is tracked by autograd (requires a "
                                         "gradient); use tg_reshape, which records the view, or tg_detach");
    tg_error_clear();
    /* An op's output that depends on w requires a gradient too. */
    assert_refused(tg_view_reshape(tg_mul_scalar(w, 1.0f), TG_SHAPE(12)), "view_reshape",
                   "tg_reshape, which records the view, or tg_detach");
    float expected[12];
    twice_w_where(ALL, 1.0f, expected);
    assert_square_sum_grad(tg_reshape(w, TG_SHAPE(4, 3)), w, expected);
    tg_tensor_free(w);
}

Test(safe_graph, view_permute_refuses_a_tensor_that_requires_a_gradient)
{
    tg_tensor *w = tracked();
    assert_refused(tg_view_permute(w, (int[]){ 1, 0 }), "view_permute",
                   "tg_permute, which records the view, or tg_detach");
    float expected[12];
    twice_w_where(ALL, 1.0f, expected);
    assert_square_sum_grad(tg_permute(w, (int[]){ 1, 0 }), w, expected);
    tg_tensor_free(w);
}

Test(safe_graph, view_transpose_refuses_a_tensor_that_requires_a_gradient)
{
    tg_tensor *w = tracked();
    assert_refused(tg_view_transpose(w, 0, 1), "view_transpose",
                   "tg_transpose, which records the view, or tg_detach");
    float expected[12];
    twice_w_where(ALL, 1.0f, expected);
    assert_square_sum_grad(tg_transpose(w, 0, 1), w, expected);
    tg_tensor_free(w);
}

Test(safe_graph, view_slice_refuses_a_tensor_that_requires_a_gradient)
{
    tg_tensor *w = tracked();
    assert_refused(tg_view_slice(w, 1, 1, 4, 2), "view_slice", "tg_slice, which records the view, or tg_detach");
    float expected[12]; /* columns 1 and 3 */
    twice_w_where((int[12]){ 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1 }, 1.0f, expected);
    assert_square_sum_grad(tg_slice(w, 1, 1, 4, 2), w, expected);
    tg_tensor_free(w);
}

Test(safe_graph, view_narrow_refuses_a_tensor_that_requires_a_gradient)
{
    tg_tensor *w = tracked();
    assert_refused(tg_view_narrow(w, 0, 1, 2), "view_narrow", "tg_narrow, which records the view, or tg_detach");
    float expected[12]; /* rows 1 and 2 */
    twice_w_where((int[12]){ 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1 }, 1.0f, expected);
    assert_square_sum_grad(tg_narrow(w, 0, 1, 2), w, expected);
    tg_tensor_free(w);
}

Test(safe_graph, view_select_refuses_a_tensor_that_requires_a_gradient)
{
    tg_tensor *w = tracked();
    assert_refused(tg_view_select(w, 0, 2), "view_select", "tg_select, which records the view, or tg_detach");
    float expected[12]; /* row 2 */
    twice_w_where((int[12]){ 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1 }, 1.0f, expected);
    assert_square_sum_grad(tg_select(w, 0, 2), w, expected);
    tg_tensor_free(w);
}

Test(safe_graph, view_expand_refuses_a_tensor_that_requires_a_gradient)
{
    tg_tensor *w = tracked();
    assert_refused(tg_view_expand(w, TG_SHAPE(2, 3, 4)), "view_expand",
                   "tg_expand, which records the view, or tg_detach");
    float expected[12]; /* each element read twice */
    twice_w_where(ALL, 2.0f, expected);
    assert_square_sum_grad(tg_expand(w, TG_SHAPE(2, 3, 4)), w, expected);
    tg_tensor_free(w);
}

Test(safe_graph, view_squeeze_refuses_a_tensor_that_requires_a_gradient)
{
    tg_tensor *w = tracked();
    tg_tensor *w1 = tg_unsqueeze(w, 0); /* [1,3,4], an op's output: tracked too */
    cr_assert_not_null(w1, "%s", tg_error_message());
    cr_assert_null(tg_view_squeeze(w1, 0));
    cr_assert_str_eq(tg_error_message(), "view_squeeze: tensor [1,3,4] is tracked by autograd (requires a "
                                         "gradient); use tg_squeeze, which records the view, or tg_detach");
    tg_error_clear();
    float expected[12];
    twice_w_where(ALL, 1.0f, expected);
    assert_square_sum_grad(tg_squeeze(w1, 0), w, expected);
    tg_tensor_free(w);
}

Test(safe_graph, view_unsqueeze_refuses_a_tensor_that_requires_a_gradient)
{
    tg_tensor *w = tracked();
    assert_refused(tg_view_unsqueeze(w, 0), "view_unsqueeze",
                   "tg_unsqueeze, which records the view, or tg_detach");
    float expected[12];
    twice_w_where(ALL, 1.0f, expected);
    assert_square_sum_grad(tg_unsqueeze(w, 0), w, expected);
    tg_tensor_free(w);
}

Test(safe_graph, view_alias_refuses_a_tensor_that_requires_a_gradient)
{
    tg_tensor *w = tracked();
    assert_refused(tg_view_alias(w), "view_alias", "tg_detach, which makes a view without history");
    tg_tensor *d = tg_detach(w); /* the same values, no history */
    cr_assert_not_null(d, "%s", tg_error_message());
    tg_assert_values(d, W34, 12, 0.0f);
    cr_assert(!tg_requires_grad(d));
    tg_tensor_free(w);
}

Test(safe_graph, view_contiguous_refuses_a_tensor_that_requires_a_gradient)
{
    tg_tensor *w = tracked();
    assert_refused(tg_view_contiguous(w), "view_contiguous",
                   "tg_contiguous, which records the copy, or tg_detach");
    float expected[12];
    twice_w_where(ALL, 1.0f, expected);
    assert_square_sum_grad(tg_contiguous(tg_transpose(w, 0, 1)), w, expected);
    tg_tensor_free(w);
}

Test(safe_graph, view_unfold_refuses_a_tensor_that_requires_a_gradient)
{
    tg_tensor *w = tracked();
    assert_refused(tg_view_unfold(w, 1, 2, 2, "view_unfold"), "view_unfold",
                   "tg_unfold, which records the view, or tg_detach");
    float expected[12]; /* windows [0,1] and [2,3] of each row: every element once */
    twice_w_where(ALL, 1.0f, expected);
    assert_square_sum_grad(tg_unfold(w, 1, 2, 2), w, expected);
    tg_tensor_free(w);
}

Test(safe_graph, raw_views_take_a_detached_tensor_and_one_that_no_longer_requires_a_gradient)
{
    tg_tensor *w = tracked();
    tg_tensor *v = tg_view_select(tg_detach(w), 0, 1); /* values only, no history */
    cr_assert_not_null(v, "%s", tg_error_message());
    tg_assert_values(v, ((float[]){ 4, 5, 6, 7 }), 4, 0.0f);
    cr_assert(!tg_requires_grad(v));
    cr_assert_eq(tg_set_requires_grad(w, false), 0);
    tg_tensor *t = tg_view_transpose(w, 0, 1);
    cr_assert_not_null(t, "%s", tg_error_message());
    cr_assert_eq(tg_tensor_get(t, (int64_t[]){ 3, 2 }), 11.0f);
    /* Views of plain data are untouched by all this. */
    tg_tensor *data = tg_tensor_from_array(TG_SHAPE(3, 4), W34);
    tg_assert_values(tg_view_reshape(data, TG_SHAPE(12)), W34, 12, 0.0f);
    tg_tensor_free(data);
    tg_tensor_free(w);
}
