/* Shape ops (views where possible, copies where not): gradients against
 * central differences on contiguous and non-contiguous inputs, views of
 * views, inputs used twice; shapes and values by hand. The checker's
 * random output weights make any misrouted element fail. */
#include "autograd/check.h"

TestSuite(grad_shape, .init = tg_test_setup, .fini = tg_test_teardown);

typedef struct shape_case {
    const char *name;
    tg_shape leaf;
    tg_tensor *(*fn)(tg_tensor *x);
} shape_case;

static tg_tensor *apply_case(tg_tensor *const *in, void *user)
{
    const shape_case *c = user;
    return c->fn(in[0]);
}

static void check_cases(const shape_case *cases, int n)
{
    for (int i = 0; i < n; i++) {
        tg_tensor *x = make_leaf(cases[i].leaf, FILL_ANY, 1000 + (uint64_t)i);
        assert_gradcheck(apply_case, (void *)&cases[i], &x, 1, cases[i].name);
    }
}

#define CHECK_CASES(cases) check_cases(cases, (int)(sizeof cases / sizeof cases[0]))

/* ---- reshape, flatten, squeeze, unsqueeze, contiguous, clone ------------------------- */

static tg_tensor *reshape_rows(tg_tensor *x) { return tg_reshape(x, TG_SHAPE(6, 4)); }
static tg_tensor *reshape_inferred(tg_tensor *x) { return tg_reshape(x, TG_SHAPE(-1, 2)); }
static tg_tensor *reshape_transposed(tg_tensor *x) { return tg_reshape(view_transposed(x), TG_SHAPE(12)); }
static tg_tensor *reshape_sliced(tg_tensor *x) { return tg_reshape(view_step_sliced(x), TG_SHAPE(2, 6)); }
static tg_tensor *reshape_expanded(tg_tensor *x) { return tg_reshape(view_expanded(x), TG_SHAPE(4, 3)); }
static tg_tensor *reshape_scalar(tg_tensor *x) { return tg_reshape(x, TG_SHAPE(1, 1)); }
static tg_tensor *reshape_to_scalar(tg_tensor *x) { return tg_reshape(x, TG_SCALAR); }
static tg_tensor *flatten_all(tg_tensor *x) { return tg_flatten(x, 0, -1); }
static tg_tensor *flatten_inner(tg_tensor *x) { return tg_flatten(x, 1, 2); }
static tg_tensor *flatten_permuted(tg_tensor *x) { return tg_flatten(view_permuted(x), 0, 1); }
static tg_tensor *flatten_scalar(tg_tensor *x) { return tg_flatten(x, 0, 0); }
static tg_tensor *squeeze_middle(tg_tensor *x) { return tg_squeeze(x, 1); }
static tg_tensor *unsqueeze_then_mul(tg_tensor *x) { return tg_mul(tg_unsqueeze(x, 0), tg_unsqueeze(x, -1)); }
static tg_tensor *unsqueeze_transposed(tg_tensor *x) { return tg_unsqueeze(view_transposed(x), 1); }
static tg_tensor *contiguous_transposed(tg_tensor *x) { return tg_contiguous(view_transposed(x)); }
static tg_tensor *contiguous_sliced(tg_tensor *x) { return tg_mul(tg_contiguous(view_step_sliced(x)), tg_narrow(x, 1, 0, 1)); }
static tg_tensor *clone_times_input(tg_tensor *x) { return tg_mul(tg_clone(x), x); }

Test(grad_shape, reshape_flatten_squeeze_unsqueeze_contiguous_clone)
{
    const shape_case cases[] = {
        { "reshape [2,3,4] to [6,4]", TG_SHAPE(2, 3, 4), reshape_rows },
        { "reshape with -1", TG_SHAPE(2, 3, 4), reshape_inferred },
        { "reshape transposed (a copy)", TG_SHAPE(4, 3), reshape_transposed },
        { "reshape step-sliced (a copy)", TG_SHAPE(3, 9), reshape_sliced },
        { "reshape expanded (a copy)", TG_SHAPE(1, 4), reshape_expanded },
        { "reshape 0-d to [1,1]", TG_SCALAR, reshape_scalar },
        { "reshape [1,1,1] to 0-d", TG_SHAPE(1, 1, 1), reshape_to_scalar },
        { "flatten all", TG_SHAPE(2, 3, 4), flatten_all },
        { "flatten axes 1..2", TG_SHAPE(2, 3, 4), flatten_inner },
        { "flatten permuted", TG_SHAPE(2, 3, 4), flatten_permuted },
        { "flatten 0-d", TG_SCALAR, flatten_scalar },
        { "squeeze", TG_SHAPE(3, 1, 2), squeeze_middle },
        { "unsqueeze twice, times itself", TG_SHAPE(3), unsqueeze_then_mul },
        { "unsqueeze transposed", TG_SHAPE(4, 3), unsqueeze_transposed },
        { "contiguous transposed", TG_SHAPE(4, 3), contiguous_transposed },
        { "contiguous sliced, times a column", TG_SHAPE(3, 9), contiguous_sliced },
        { "clone times input", TG_SHAPE(2, 3), clone_times_input },
    };
    CHECK_CASES(cases);
}

Test(grad_shape, reshape_flatten_and_contiguous_shapes_by_hand)
{
    tg_tensor *x = make_leaf(TG_SHAPE(2, 3, 4), FILL_ANY, 1);
    tg_assert_shape(tg_flatten(x, 1, -1), 2, 12);
    tg_assert_shape(tg_flatten(x, 0, 1), 6, 4);
    tg_assert_shape(tg_reshape(x, TG_SHAPE(4, -1)), 4, 6);
    tg_assert_shape(tg_flatten(make_leaf(TG_SCALAR, FILL_ANY, 2), 0, -1), 1);
    cr_assert_eq(tg_contiguous(x), x, "a contiguous tensor is returned as is");
    tg_tensor *t = tg_contiguous(tg_transpose(x, 0, 2));
    tg_assert_shape(t, 4, 3, 2);
    cr_assert(tg_tensor_is_contiguous(t));
    /* t[k, j, i] = x[i, j, k] */
    cr_assert_eq(t->data[(3 * 3 + 1) * 2 + 1], x->data[(1 * 3 + 1) * 4 + 3]);
    cr_assert_neq(tg_clone(x)->data, x->data, "clone copies");
}

/* ---- permute, transpose, slice, narrow, select, expand -------------------------------- */

static tg_tensor *permute_201(tg_tensor *x) { return tg_permute(x, (int[]){ 2, 0, 1 }); }
static tg_tensor *permute_negative(tg_tensor *x) { return tg_permute(x, (int[]){ -1, 0, -2 }); }
static tg_tensor *permute_twice(tg_tensor *x) { return tg_permute(tg_permute(x, (int[]){ 1, 2, 0 }), (int[]){ 1, 0, 2 }); }
static tg_tensor *permute_sliced(tg_tensor *x) { return tg_permute(view_step_sliced(x), (int[]){ 1, 0 }); }
static tg_tensor *transpose_outer(tg_tensor *x) { return tg_transpose(x, 0, 2); }
static tg_tensor *transpose_size_one(tg_tensor *x) { return tg_transpose(x, -1, -2); }
static tg_tensor *slice_step_3(tg_tensor *x) { return tg_slice(x, 1, 0, 8, 3); }
static tg_tensor *slice_negative_start(tg_tensor *x) { return tg_slice(x, -1, -3, 100, 1); }
static tg_tensor *slice_rows(tg_tensor *x) { return tg_slice(x, 0, 1, 3, 1); }
static tg_tensor *slice_of_transposed(tg_tensor *x) { return tg_slice(view_transposed(x), 1, 1, 4, 2); }
static tg_tensor *slice_of_slice(tg_tensor *x) { return tg_slice(tg_slice(x, 1, 1, 9, 2), 1, 1, 4, 2); }
static tg_tensor *slices_overlapping(tg_tensor *x) { return tg_mul(tg_slice(x, 1, 0, 4, 1), tg_slice(x, 1, 2, 6, 1)); }
static tg_tensor *narrow_rows(tg_tensor *x) { return tg_narrow(x, 0, 1, 2); }
static tg_tensor *narrow_transposed(tg_tensor *x) { return tg_narrow(view_transposed(x), -1, 1, 2); }
static tg_tensor *select_row(tg_tensor *x) { return tg_select(x, 0, 1); }
static tg_tensor *select_last_axis(tg_tensor *x) { return tg_select(x, -1, 2); }
static tg_tensor *select_sliced(tg_tensor *x) { return tg_select(view_step_sliced(x), 1, 3); }
static tg_tensor *select_to_scalar(tg_tensor *x) { return tg_select(x, 0, 2); }
static tg_tensor *select_negative(tg_tensor *x) { return tg_select(x, -1, -3); }
static tg_tensor *select_every_row(tg_tensor *x)
{
    return tg_add(tg_mul(tg_select(x, 0, 0), tg_select(x, 0, 1)), tg_select(x, 0, 2));
}
static tg_tensor *expand_column(tg_tensor *x) { return tg_expand(x, TG_SHAPE(3, 4)); }
static tg_tensor *expand_new_axes(tg_tensor *x) { return tg_expand(x, TG_SHAPE(2, 3, 4)); }
static tg_tensor *expand_scalar(tg_tensor *x) { return tg_expand(x, TG_SHAPE(2, 3)); }
static tg_tensor *expand_keeping(tg_tensor *x) { return tg_expand(x, TG_SHAPE(2, -1, 5)); }
static tg_tensor *expand_transposed(tg_tensor *x) { return tg_expand(view_transposed(x), TG_SHAPE(3, 4)); }

Test(grad_shape, permute_transpose_slice_narrow_select_expand)
{
    const shape_case cases[] = {
        { "permute (2,0,1)", TG_SHAPE(2, 3, 4), permute_201 },
        { "permute with negative axes", TG_SHAPE(2, 3, 4), permute_negative },
        { "permute of permute", TG_SHAPE(2, 3, 4), permute_twice },
        { "permute step-sliced", TG_SHAPE(3, 9), permute_sliced },
        { "transpose 0,2", TG_SHAPE(2, 3, 4), transpose_outer },
        { "transpose with a size-1 axis", TG_SHAPE(3, 1), transpose_size_one },
        { "slice step 3", TG_SHAPE(2, 8), slice_step_3 },
        { "slice negative start, clamped stop", TG_SHAPE(2, 5), slice_negative_start },
        { "slice rows", TG_SHAPE(4, 3), slice_rows },
        { "slice of transposed", TG_SHAPE(4, 3), slice_of_transposed },
        { "slice of slice", TG_SHAPE(2, 9), slice_of_slice },
        { "overlapping slices multiplied", TG_SHAPE(2, 6), slices_overlapping },
        { "narrow rows", TG_SHAPE(4, 3), narrow_rows },
        { "narrow transposed", TG_SHAPE(4, 3), narrow_transposed },
        { "select a row", TG_SHAPE(3, 4), select_row },
        { "select along the last axis", TG_SHAPE(2, 3, 4), select_last_axis },
        { "select step-sliced", TG_SHAPE(3, 9), select_sliced },
        { "select to 0-d", TG_SHAPE(4), select_to_scalar },
        { "select with a negative index", TG_SHAPE(3, 4), select_negative },
        { "select every row", TG_SHAPE(3, 4), select_every_row },
        { "expand [3,1]", TG_SHAPE(3, 1), expand_column },
        { "expand [4] with new axes", TG_SHAPE(4), expand_new_axes },
        { "expand 0-d", TG_SCALAR, expand_scalar },
        { "expand keeping a size with -1", TG_SHAPE(3, 1), expand_keeping },
        { "expand transposed", TG_SHAPE(1, 3), expand_transposed },
    };
    CHECK_CASES(cases);
}

Test(grad_shape, slice_gradient_lands_on_the_taken_elements)
{
    tg_tensor *x = leaf_of(TG_SHAPE(7), (float[]){ 0, 1, 2, 3, 4, 5, 6 });
    tg_tensor *s = tg_slice(x, 0, -6, 7, 2); /* elements 1, 3, 5 */
    tg_assert_values(s, ((float[]){ 1, 3, 5 }), 3, 0.0f);
    tg_tensor *w = tg_from_array(TG_SHAPE(3), (float[]){ 10, 20, 30 });
    cr_assert_eq(tg_backward(tg_sum_all(tg_mul(s, w))), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(x), ((float[]){ 0, 10, 0, 20, 0, 30, 0 }), 7, 0.0f);
}

Test(grad_shape, select_counts_a_negative_index_from_the_end)
{
    tg_tensor *x = leaf_of(TG_SHAPE(2, 3), (float[]){ 0, 1, 2, 3, 4, 5 });
    tg_assert_values(tg_select(x, 1, -1), ((float[]){ 2, 5 }), 2, 0.0f);
    tg_assert_values(tg_select(x, -2, -2), ((float[]){ 0, 1, 2 }), 3, 0.0f);
    cr_assert_eq(tg_backward(tg_sum_all(tg_select(x, 1, -3))), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(x), ((float[]){ 1, 0, 0, 1, 0, 0 }), 6, 0.0f);
}

/* ---- concat, stack, split, chunk ------------------------------------------------------- */

static tg_tensor *concat_rows(tg_tensor *x)
{
    tg_tensor *parts[3] = { tg_narrow(x, 0, 3, 1), tg_narrow(x, 0, 0, 2), tg_narrow(x, 0, 1, 3) };
    return tg_concat(parts, 3, 0);
}
static tg_tensor *concat_views(tg_tensor *x)
{
    tg_tensor *parts[3] = { view_transposed(x), tg_exp(view_transposed(x)), tg_slice(view_transposed(x), 1, 0, 4, 2) };
    return tg_concat(parts, 3, -1);
}
static tg_tensor *concat_twice(tg_tensor *x) { return tg_concat((tg_tensor *[]){ x, x }, 2, 1); }
static tg_tensor *concat_middle(tg_tensor *x)
{
    return tg_concat((tg_tensor *[]){ tg_square(x), x }, 2, 1);
}
static tg_tensor *stack_first(tg_tensor *x)
{
    return tg_stack((tg_tensor *[]){ tg_select(x, 0, 1), tg_select(x, 0, 0), tg_select(x, 0, 2) }, 3, 0);
}
static tg_tensor *stack_middle(tg_tensor *x) { return tg_stack((tg_tensor *[]){ x, tg_sin(x) }, 2, 1); }
static tg_tensor *stack_last_views(tg_tensor *x)
{
    return tg_stack((tg_tensor *[]){ view_transposed(x), tg_square(view_transposed(x)), view_transposed(x) }, 3, -1);
}
/* u and v get their gradients as parts of the stacks' (no copy), and then
 * more: from w, recorded before the stacks, and v from appearing twice;
 * inner gets one from the outer stack and more through exp. */
static tg_tensor *stack_parts_then_more(tg_tensor *x)
{
    tg_tensor *u = tg_sin(x), *v = tg_square(x);
    tg_tensor *w = tg_mul(u, v);
    tg_tensor *inner = tg_stack((tg_tensor *[]){ u, v, v }, 3, 0);
    tg_tensor *outer = tg_stack((tg_tensor *[]){ inner, tg_exp(inner) }, 2, 0);
    return tg_mul(outer, w);
}
static tg_tensor *concat_parts_then_more(tg_tensor *x)
{
    tg_tensor *u = tg_sin(x), *v = tg_square(x);
    tg_tensor *w = tg_mul(u, v);
    tg_tensor *first = tg_concat((tg_tensor *[]){ u, v, w, u }, 4, 0);
    return tg_mul(first, tg_concat((tg_tensor *[]){ w, w, u, v }, 4, 0));
}
static tg_tensor *split_and_swap(tg_tensor *x)
{
    tg_tensor *pieces[2];
    if (tg_split(x, 0, (int64_t[]){ 2, 3 }, 2, pieces) != 0)
        return NULL;
    return tg_concat((tg_tensor *[]){ tg_exp(pieces[1]), tg_square(pieces[0]) }, 2, 0);
}
static tg_tensor *split_transposed(tg_tensor *x)
{
    tg_tensor *pieces[3];
    if (tg_split(view_transposed(x), 1, (int64_t[]){ 1, 0, 3 }, 3, pieces) != 0)
        return NULL;
    return tg_mul(pieces[0], pieces[2]);
}
static tg_tensor *chunk_and_weigh(tg_tensor *x)
{
    tg_tensor *chunks[3];
    if (tg_chunk(x, 3, 0, chunks) != 3)
        return NULL;
    return tg_concat((tg_tensor *[]){ chunks[2], tg_square(chunks[0]), tg_mul_scalar(chunks[1], 3) }, 3, 0);
}

Test(grad_shape, concat_stack_split_chunk)
{
    const shape_case cases[] = {
        { "concat of narrowed rows", TG_SHAPE(4, 3), concat_rows },
        { "concat of views along -1", TG_SHAPE(4, 3), concat_views },
        { "concat of x with itself", TG_SHAPE(2, 3), concat_twice },
        { "concat along a middle axis", TG_SHAPE(2, 3, 2), concat_middle },
        { "stack along 0", TG_SHAPE(3, 4), stack_first },
        { "stack along 1", TG_SHAPE(2, 3), stack_middle },
        { "stack of views along -1", TG_SHAPE(4, 3), stack_last_views },
        { "stacked parts get more gradient", TG_SHAPE(4, 3), stack_parts_then_more },
        { "concatenated parts get more gradient", TG_SHAPE(4, 3), concat_parts_then_more },
        { "split and swap", TG_SHAPE(5, 3), split_and_swap },
        { "split transposed, with an empty piece", TG_SHAPE(4, 3), split_transposed },
        { "chunk and weigh", TG_SHAPE(7, 2), chunk_and_weigh },
    };
    CHECK_CASES(cases);
}

Test(grad_shape, split_and_chunk_sizes_and_values)
{
    tg_tensor *x = leaf_of(TG_SHAPE(7), (float[]){ 0, 1, 2, 3, 4, 5, 6 });
    tg_tensor *chunks[4];
    cr_assert_eq(tg_chunk(x, 3, 0, chunks), 3);
    tg_assert_values(chunks[0], ((float[]){ 0, 1, 2 }), 3, 0.0f);
    tg_assert_values(chunks[1], ((float[]){ 3, 4, 5 }), 3, 0.0f);
    tg_assert_values(chunks[2], ((float[]){ 6 }), 1, 0.0f);
    /* torch.chunk(arange(6), 4) gives 3 chunks of 2. */
    tg_tensor *y = leaf_of(TG_SHAPE(6), (float[]){ 0, 1, 2, 3, 4, 5 });
    cr_assert_eq(tg_chunk(y, 4, 0, chunks), 3);
    tg_assert_values(chunks[2], ((float[]){ 4, 5 }), 2, 0.0f);
    tg_tensor *pieces[3];
    cr_assert_eq(tg_split(x, -1, (int64_t[]){ 4, 0, 3 }, 3, pieces), 0, "%s", tg_error_message());
    tg_assert_values(pieces[0], ((float[]){ 0, 1, 2, 3 }), 4, 0.0f);
    tg_assert_shape(pieces[1], 0);
    tg_assert_values(pieces[2], ((float[]){ 4, 5, 6 }), 3, 0.0f);
}

Test(grad_shape, stack_and_concat_values_by_hand)
{
    tg_tensor *a = leaf_of(TG_SHAPE(2), (float[]){ 1, 2 });
    tg_tensor *b = leaf_of(TG_SHAPE(2), (float[]){ 3, 4 });
    tg_tensor *s = tg_stack((tg_tensor *[]){ a, b }, 2, 1);
    tg_assert_shape(s, 2, 2);
    tg_assert_values(s, ((float[]){ 1, 3, 2, 4 }), 4, 0.0f);
    tg_tensor *c = tg_concat((tg_tensor *[]){ b, a, b }, 3, 0);
    tg_assert_values(c, ((float[]){ 3, 4, 1, 2, 3, 4 }), 6, 0.0f);
    tg_tensor *w = tg_from_array(TG_SHAPE(6), (float[]){ 1, 2, 3, 4, 5, 6 });
    cr_assert_eq(tg_backward(tg_sum_all(tg_mul(c, w))), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(a), ((float[]){ 3, 4 }), 2, 0.0f);
    tg_assert_values(tg_grad(b), ((float[]){ 6, 8 }), 2, 0.0f);
}

/* A stacked intermediate's gradient is a part of the stack's gradient, to
 * which w's backward (recorded earlier, run later) adds. The stack's own
 * gradient, when retained, stays its own; a second backward over the same
 * graph starts the intermediates over. */
static tg_tensor *stack_of_u_and_w(tg_tensor *x, tg_tensor **u, tg_tensor **w)
{
    *u = tg_mul_scalar(x, 2);
    *w = tg_mul(*u, *u);
    return tg_stack((tg_tensor *[]){ *u, *w }, 2, 0);
}

Test(grad_shape, stacked_gradients_by_hand_retained_and_twice)
{
    tg_tensor *x = leaf_of(TG_SHAPE(2), (float[]){ 0.5f, -1 });
    tg_tensor *c = tg_from_array(TG_SHAPE(2, 2), (float[]){ 1, 2, 3, 4 });
    /* ds = c; du = c[0] + 2u c[1] = (1, 2) + 2 (1, -2)(3, 4); dx = 2 du */
    const float du[] = { 7, -14 }, dx[] = { 14, -28 }, dx_twice[] = { 28, -56 };
    tg_tensor *u, *w;
    tg_tensor *s = stack_of_u_and_w(x, &u, &w);
    cr_assert_eq(tg_retain_grad(s), 0);
    cr_assert_eq(tg_backward(tg_sum_all(tg_mul(s, c))), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(s), ((float[]){ 1, 2, 3, 4 }), 4, 0.0f);
    tg_assert_values(tg_grad(x), dx, 2, 0.0f);

    tg_zero_grad(x);
    s = stack_of_u_and_w(x, &u, &w);
    cr_assert_eq(tg_retain_grad(u), 0);
    tg_tensor *loss = tg_sum_all(tg_mul(s, c));
    cr_assert_eq(tg_backward_with(loss, (tg_backward_config){ .retain_graph = true }), 0, "%s",
                 tg_error_message());
    tg_assert_values(tg_grad(u), du, 2, 0.0f);
    tg_assert_values(tg_grad(x), dx, 2, 0.0f);
    cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(u), du, 2, 0.0f);
    tg_assert_values(tg_grad(x), dx_twice, 2, 0.0f);
}
