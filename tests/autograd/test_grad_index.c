/* Index ops: index_select, gather and scatter_add against central
 * differences (repeated indices accumulate), on contiguous and
 * non-contiguous inputs; one_hot's values; gradients by hand. */
#include "autograd/check.h"

TestSuite(grad_index, .init = tg_test_setup, .fini = tg_test_teardown);

typedef struct index_case {
    const char *name;
    operand x;
    int dim;
    tg_shape index_shape;
    const float *index;
} index_case;

static tg_tensor *index_of(const index_case *c) { return tg_from_array(c->index_shape, c->index); }

static tg_tensor *apply_index_select(tg_tensor *const *in, void *user)
{
    const index_case *c = user;
    return tg_index_select(c->x.view(in[0]), c->dim, index_of(c));
}

Test(grad_index, index_select_with_repeated_indices_and_views)
{
    const index_case cases[] = {
        { "rows, repeated", { "x", TG_SHAPE(4, 3), view_same }, 0, TG_SHAPE(4), (float[]){ 2, 0, 2, 3 } },
        { "columns, repeated", { "x", TG_SHAPE(4, 3), view_same }, 1, TG_SHAPE(2), (float[]){ 1, 1 } },
        { "last axis of 3-d", { "x", TG_SHAPE(2, 3, 4), view_same }, -1, TG_SHAPE(5), (float[]){ 3, 0, 1, 3, 3 } },
        { "transposed", { "x", TG_SHAPE(4, 3), view_transposed }, 0, TG_SHAPE(3), (float[]){ 2, 2, 0 } },
        { "step-sliced", { "x", TG_SHAPE(3, 9), view_step_sliced }, 1, TG_SHAPE(3), (float[]){ 3, 0, 3 } },
        { "expanded", { "x", TG_SHAPE(1, 4), view_expanded }, 0, TG_SHAPE(2), (float[]){ 1, 2 } },
    };
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
        tg_tensor *x = make_leaf(cases[i].x.leaf, FILL_ANY, 1100 + (uint64_t)i);
        assert_gradcheck(apply_index_select, (void *)&cases[i], &x, 1, cases[i].name);
    }
}

Test(grad_index, index_select_gradient_adds_up_repeats_by_hand)
{
    tg_tensor *x = leaf_of(TG_SHAPE(3, 2), (float[]){ 1, 2, 3, 4, 5, 6 });
    tg_tensor *index = tg_from_array(TG_SHAPE(4), (float[]){ 2, 0, 2, 2 });
    tg_tensor *y = tg_index_select(x, 0, index);
    tg_assert_values(y, ((float[]){ 5, 6, 1, 2, 5, 6, 5, 6 }), 8, 0.0f);
    cr_assert(!tg_requires_grad(index));
    cr_assert_eq(tg_backward(tg_sum_all(tg_mul(y, y))), 0, "%s", tg_error_message());
    /* d/dx sum(y^2) = 2 y, added back to each row as often as it was taken. */
    tg_assert_values(tg_grad(x), ((float[]){ 2, 4, 0, 0, 30, 36 }), 6, 0.0f);
}

static tg_tensor *apply_gather(tg_tensor *const *in, void *user)
{
    const index_case *c = user;
    return tg_gather(c->x.view(in[0]), c->dim, index_of(c));
}

Test(grad_index, gather_with_repeated_indices_and_views)
{
    const index_case cases[] = {
        { "along 1", { "x", TG_SHAPE(3, 4), view_same }, 1, TG_SHAPE(3, 2), (float[]){ 0, 3, 1, 1, 2, 0 } },
        { "along 0, smaller index", { "x", TG_SHAPE(3, 4), view_same }, 0, TG_SHAPE(2, 3),
          (float[]){ 2, 2, 0, 1, 0, 2 } },
        { "along -1 of 3-d", { "x", TG_SHAPE(2, 2, 3), view_same }, -1, TG_SHAPE(2, 2, 1), (float[]){ 2, 0, 1, 1 } },
        { "transposed", { "x", TG_SHAPE(4, 3), view_transposed }, 1, TG_SHAPE(3, 3),
          (float[]){ 3, 3, 0, 1, 2, 1, 0, 0, 0 } },
        { "step-sliced", { "x", TG_SHAPE(3, 9), view_step_sliced }, 1, TG_SHAPE(3, 1), (float[]){ 3, 1, 0 } },
    };
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
        tg_tensor *x = make_leaf(cases[i].x.leaf, FILL_ANY, 1200 + (uint64_t)i);
        assert_gradcheck(apply_gather, (void *)&cases[i], &x, 1, cases[i].name);
    }
}

typedef struct scatter_case {
    index_case c;
    operand src;
} scatter_case;

static tg_tensor *apply_scatter_add(tg_tensor *const *in, void *user)
{
    const scatter_case *s = user;
    return tg_scatter_add(s->c.x.view(in[0]), s->c.dim, index_of(&s->c), s->src.view(in[1]));
}

Test(grad_index, scatter_add_to_both_inputs)
{
    const scatter_case cases[] = {
        { { "along 1, repeated", { "x", TG_SHAPE(3, 4), view_same }, 1, TG_SHAPE(3, 2),
            (float[]){ 0, 0, 3, 1, 2, 2 } },
          { "src", TG_SHAPE(3, 2), view_same } },
        { { "along 0", { "x", TG_SHAPE(3, 4), view_same }, 0, TG_SHAPE(2, 4), (float[]){ 2, 0, 0, 1, 2, 2, 1, 0 } },
          { "src", TG_SHAPE(2, 4), view_same } },
        { { "transposed x and src", { "x", TG_SHAPE(4, 3), view_transposed }, 1, TG_SHAPE(3, 3),
            (float[]){ 1, 1, 0, 3, 2, 3, 0, 0, 2 } },
          { "src", TG_SHAPE(3, 3), view_transposed } },
        { { "expanded src", { "x", TG_SHAPE(3, 4), view_same }, 1, TG_SHAPE(3, 4),
            (float[]){ 0, 1, 2, 3, 3, 3, 3, 3, 1, 0, 1, 0 } },
          { "src", TG_SHAPE(1, 4), view_expanded } },
    };
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
        tg_tensor *in[2] = { make_leaf(cases[i].c.x.leaf, FILL_ANY, 1300 + (uint64_t)i),
                             make_leaf(cases[i].src.leaf, FILL_ANY, 1310 + (uint64_t)i) };
        assert_gradcheck(apply_scatter_add, (void *)&cases[i], in, 2, cases[i].c.name);
    }
}

/* x reaches each op twice: as the indexed tensor and directly (or as
 * scatter_add's src as well as its destination). */
static tg_tensor *apply_index_ops_to_x_twice(tg_tensor *const *in, void *user)
{
    (void)user;
    tg_tensor *x = in[0];
    tg_tensor *order = tg_from_array(TG_SHAPE(3), (float[]){ 2, 0, 1 });
    tg_tensor *index = tg_from_array(TG_SHAPE(3, 3), (float[]){ 1, 1, 0, 2, 0, 2, 0, 1, 1 });
    tg_tensor *selected = tg_mul(tg_index_select(x, 1, order), x);
    tg_tensor *gathered = tg_mul(tg_gather(x, 0, index), x);
    tg_tensor *scattered = tg_scatter_add(x, 1, index, x);
    return tg_add(tg_add(selected, gathered), tg_square(scattered));
}

Test(grad_index, index_ops_with_their_input_used_twice)
{
    tg_tensor *x = make_leaf(TG_SHAPE(3, 3), FILL_ANY, 9);
    assert_gradcheck(apply_index_ops_to_x_twice, NULL, &x, 1, "index ops on x, times x");
}

Test(grad_index, scatter_add_and_gather_by_hand)
{
    tg_tensor *x = leaf_of(TG_SHAPE(2, 3), (float[]){ 0, 0, 0, 10, 10, 10 });
    tg_tensor *src = leaf_of(TG_SHAPE(2, 2), (float[]){ 1, 2, 3, 4 });
    tg_tensor *index = tg_from_array(TG_SHAPE(2, 2), (float[]){ 2, 2, 0, 1 });
    tg_tensor *y = tg_scatter_add(x, 1, index, src);
    tg_assert_values(y, ((float[]){ 0, 0, 3, 13, 14, 10 }), 6, 0.0f);
    tg_assert_values(x, ((float[]){ 0, 0, 0, 10, 10, 10 }), 6, 0.0f); /* not in place */
    tg_tensor *w = tg_from_array(TG_SHAPE(2, 3), (float[]){ 1, 2, 3, 4, 5, 6 });
    cr_assert_eq(tg_backward(tg_sum_all(tg_mul(y, w))), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(x), ((float[]){ 1, 2, 3, 4, 5, 6 }), 6, 0.0f);
    tg_assert_values(tg_grad(src), ((float[]){ 3, 3, 4, 5 }), 4, 0.0f);
    tg_tensor *g = tg_gather(w, 1, index);
    tg_assert_values(g, ((float[]){ 3, 3, 4, 5 }), 4, 0.0f);
}

Test(grad_index, one_hot_values_and_no_gradient)
{
    tg_tensor *index = tg_from_array(TG_SHAPE(2, 2), (float[]){ 2, 0, 1, 2 });
    cr_assert_eq(tg_set_requires_grad(index, true), 0);
    tg_tensor *y = tg_one_hot(index, 3);
    tg_assert_shape(y, 2, 2, 3);
    tg_assert_values(y, ((float[]){ 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1 }), 12, 0.0f);
    cr_assert(!tg_requires_grad(y));
    tg_tensor *t = tg_transpose(index, 0, 1); /* a strided index */
    tg_assert_values(tg_one_hot(t, 3), ((float[]){ 0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 1 }), 12, 0.0f);
}

/* int64 indices give what whole-number float indices give, values and
 * gradients, also through a strided int64 view. */
static tg_tensor *apply_index_ops_with_int64(tg_tensor *const *in, void *user)
{
    (void)user;
    tg_tensor *x = in[0], *src = in[1];
    /* [2, 0, 1] as every second element */
    tg_tensor *order = tg_slice(tg_from_int64(TG_SHAPE(6), (int64_t[]){ 2, 9, 0, 9, 1, 9 }), 0, 0, 6, 2);
    /* [[1, 2], [0, 0], [2, 1]] stored transposed */
    tg_tensor *index = tg_transpose(tg_from_int64(TG_SHAPE(2, 3), (int64_t[]){ 1, 0, 2, 2, 0, 1 }), 0, 1);
    tg_tensor *selected = tg_index_select(x, 1, order);
    tg_tensor *gathered = tg_gather(x, 1, index);
    tg_tensor *scattered = tg_scatter_add(x, 1, index, src);
    return tg_add(tg_sum(tg_mul(selected, x), TG_AXES(1), true),
                  tg_add(tg_sum(tg_square(gathered), TG_AXES(1), true), tg_square(scattered)));
}

Test(grad_index, int64_indices_through_index_select_gather_and_scatter_add)
{
    tg_tensor *in[2] = { make_leaf(TG_SHAPE(3, 3), FILL_ANY, 21), make_leaf(TG_SHAPE(3, 2), FILL_ANY, 22) };
    assert_gradcheck(apply_index_ops_with_int64, NULL, in, 2, "int64 indices");

    tg_tensor *x = leaf_of(TG_SHAPE(2, 3), (float[]){ 1, 2, 3, 4, 5, 6 });
    tg_tensor *ids = tg_from_int64(TG_SHAPE(2, 2), (int64_t[]){ 2, 0, 1, 1 });
    tg_tensor *floats = tg_from_array(TG_SHAPE(2, 2), (float[]){ 2, 0, 1, 1 });
    tg_assert_values(tg_gather(x, 1, ids), ((float[]){ 3, 1, 5, 5 }), 4, 0.0f);
    tg_assert_values(tg_gather(x, 1, floats), ((float[]){ 3, 1, 5, 5 }), 4, 0.0f);
    tg_assert_values(tg_index_select(x, 1, tg_select(ids, 0, 0)), ((float[]){ 3, 1, 6, 4 }), 4, 0.0f);
    tg_tensor *w = tg_from_array(TG_SHAPE(2, 2), (float[]){ 1, 2, 3, 4 });
    cr_assert_eq(tg_backward(tg_sum_all(tg_mul(tg_gather(x, 1, ids), w))), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(x), ((float[]){ 2, 0, 1, 0, 7, 0 }), 6, 0.0f);
    tg_assert_values(tg_one_hot(tg_select(ids, 1, 0), 3), ((float[]){ 0, 0, 1, 0, 1, 0 }), 6, 0.0f);
}

Test(grad_index, int64_tensors_have_no_gradient_and_pass_through_shape_ops)
{
    tg_tensor *ids = tg_from_int64(TG_SHAPE(2, 3), (int64_t[]){ 0, 1, 2, 3, 4, 5 });
    cr_assert_eq(tg_set_requires_grad(ids, true), -1);
    tg_assert_error("set_requires_grad: int64 tensor [2,3]: only float32 tensors have gradients");
    tg_error_clear();
    cr_assert_eq(tg_set_requires_grad(ids, false), 0);
    tg_tensor *t = tg_transpose(ids, 0, 1);
    tg_assert_int64_values(tg_reshape(t, TG_SHAPE(6)), ((int64_t[]){ 0, 3, 1, 4, 2, 5 }), 6); /* a copy */
    tg_assert_int64_values(tg_flatten(tg_unsqueeze(ids, 0), 0, -1), ((int64_t[]){ 0, 1, 2, 3, 4, 5 }), 6);
    tg_assert_int64_values(tg_contiguous(tg_narrow(ids, 1, 1, 2)), ((int64_t[]){ 1, 2, 4, 5 }), 4);
    tg_assert_int64_values(tg_clone(tg_select(ids, 1, 2)), ((int64_t[]){ 2, 5 }), 2);
    tg_assert_int64_values(tg_expand(tg_slice(ids, 1, 0, 1, 1), TG_SHAPE(2, 2)), ((int64_t[]){ 0, 0, 3, 3 }), 4);
    tg_tensor *bos = tg_from_int64(TG_SHAPE(2, 1), (int64_t[]){ 7, 7 });
    tg_tensor *joined = tg_concat((tg_tensor *[]){ bos, ids }, 2, 1);
    tg_assert_int64_values(joined, ((int64_t[]){ 7, 0, 1, 2, 7, 3, 4, 5 }), 8);
    tg_assert_int64_values(tg_stack((tg_tensor *[]){ bos, bos }, 2, 0), ((int64_t[]){ 7, 7, 7, 7 }), 4);
    /* anomaly mode does not read int64 bits as floats (these are a NaN's) */
    tg_set_anomaly_mode(true);
    tg_tensor *nan_bits = tg_from_int64(TG_SHAPE(2, 1), (int64_t[]){ 0x7FC00000, -1 });
    tg_tensor *checked = tg_concat((tg_tensor *[]){ nan_bits, bos }, 2, 1);
    tg_set_anomaly_mode(false);
    tg_assert_int64_values(checked, ((int64_t[]){ 0x7FC00000, 7, -1, 7 }), 4);
    cr_assert_null(tg_concat((tg_tensor *[]){ bos, tg_zeros(TG_SHAPE(2, 1)) }, 2, 1));
    tg_assert_error("concat: float32 tensor [2,1] given where int64 is needed");
    tg_error_clear();
    /* every arithmetic op refuses them, naming itself */
    tg_tensor *x = tg_ones(TG_SHAPE(2, 3));
    cr_assert_null(tg_add(x, ids));
    tg_assert_error("add: int64 tensor [2,3] given where float32 is needed");
    tg_error_clear();
    cr_assert_null(tg_matmul(tg_transpose(ids, 0, 1), x));
    tg_assert_error("matmul: int64 tensor [3,2] given where float32 is needed");
    tg_error_clear();
    cr_assert_null(tg_softmax(ids, -1));
    tg_assert_error("softmax: int64 tensor [2,3] given where float32 is needed");
    tg_error_clear();
    cr_assert_null(tg_sum(ids, TG_AXES(0), false));
    tg_assert_error("sum: int64 tensor [2,3] given where float32 is needed");
    tg_error_clear();
    cr_assert_null(tg_gather(ids, 1, ids));
    tg_assert_error("gather: int64 tensor [2,3] given where float32 is needed");
}
