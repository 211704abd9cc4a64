/* Views share their base tensor's memory: reshape, permute, transpose,
 * slice, narrow, select, expand, squeeze, unsqueeze, contiguous. */
#include "support.h"
#include <tensor/kernel.h>

TestSuite(views, .init = tg_test_setup, .fini = tg_test_teardown);

/* 0, 1, ..., n-1 as an owned tensor of the given shape. */
static tg_tensor *iota(tg_shape shape)
{
    tg_tensor *t = tg_tensor_empty(shape);
    for (int64_t i = 0; i < t->numel; i++)
        t->data[i] = (float)i;
    return t;
}

static void assert_strides(const tg_tensor *t, int ndim, const int64_t *stride)
{
    cr_assert_eq(t->ndim, ndim);
    for (int d = 0; d < ndim; d++)
        cr_assert_eq(t->stride[d], stride[d], "stride %d is %lld, expected %lld", d,
                     (long long)t->stride[d], (long long)stride[d]);
}

Test(views, reshape_of_a_contiguous_tensor_shares_its_data)
{
    tg_tensor *t = iota(TG_SHAPE(2, 3, 4));
    tg_tensor *v = tg_view_reshape(t, TG_SHAPE(4, -1));
    cr_assert_not_null(v, "%s", tg_error_message());
    tg_assert_shape(v, 4, 6);
    cr_assert_eq(v->data, t->data);
    cr_assert_eq(v->storage, t->storage);
    assert_strides(v, 2, (int64_t[]){ 6, 1 });
    v->data[7] = -1; /* writes reach the base */
    cr_assert_eq(t->data[7], -1.0f);
    tg_tensor *flat = tg_view_reshape(t, TG_SHAPE(-1));
    tg_assert_shape(flat, 24);
    tg_tensor_free(t);
}

Test(views, reshape_of_a_strided_view_when_strides_allow)
{
    tg_tensor *t = iota(TG_SHAPE(4, 6));
    /* Rows 0 and 2: strides (12, 1). The last axis may be split... */
    tg_tensor *rows = tg_view_slice(t, 0, 0, 4, 2);
    tg_tensor *v = tg_view_reshape(rows, TG_SHAPE(2, 3, 2));
    cr_assert_not_null(v, "%s", tg_error_message());
    cr_assert_eq(v->data, t->data);
    assert_strides(v, 3, (int64_t[]){ 12, 2, 1 });
    tg_assert_values(v, ((float[]){ 0, 1, 2, 3, 4, 5, 12, 13, 14, 15, 16, 17 }), 12, 0);
    /* ...but the rows cannot be joined into one axis without a copy. */
    cr_assert_null(tg_view_reshape(rows, TG_SHAPE(12)));
    tg_assert_error("reshape: [2,6] to [12]");
    tg_assert_error("without a copy");
    tg_tensor_free(t);
}

Test(views, reshape_of_a_transpose_splits_but_does_not_merge)
{
    tg_tensor *t = iota(TG_SHAPE(4, 6));
    tg_tensor *tr = tg_view_transpose(t, 0, 1); /* [6,4], strides (1,6) */
    tg_tensor *v = tg_view_reshape(tr, TG_SHAPE(2, 3, 4));
    cr_assert_not_null(v, "%s", tg_error_message());
    assert_strides(v, 3, (int64_t[]){ 3, 1, 6 });
    cr_assert_eq(v->data, t->data);
    /* v[i,j,k] = t[k, 3i+j] = 6k + 3i + j */
    cr_assert_eq(tg_tensor_get(v, (int64_t[]){ 1, 2, 3 }), 6 * 3 + 3 + 2.0f);
    cr_assert_null(tg_view_reshape(tr, TG_SHAPE(24)));
    tg_assert_error("reshape");
    tg_tensor_free(t);
}

Test(views, reshape_handles_size_one_axes_and_scalars)
{
    tg_tensor *s = tg_tensor_full(TG_SCALAR, 3.0f);
    tg_tensor *v = tg_view_reshape(s, TG_SHAPE(1, 1));
    cr_assert_not_null(v, "%s", tg_error_message());
    tg_assert_shape(v, 1, 1);
    cr_assert_eq(v->data, s->data);
    tg_tensor *back = tg_view_reshape(v, TG_SCALAR);
    cr_assert_not_null(back, "%s", tg_error_message());
    cr_assert_eq(back->ndim, 0);
    cr_assert_eq(tg_tensor_item(back), 3.0f);
    cr_assert_not_null(tg_view_reshape(s, TG_SHAPE(-1)), "%s", tg_error_message());

    tg_tensor *t = iota(TG_SHAPE(3, 1, 4));
    tg_tensor *w = tg_view_reshape(tg_view_transpose(t, 0, 1), TG_SHAPE(3, 4)); /* [1,3,4] */
    cr_assert_not_null(w, "%s", tg_error_message());
    cr_assert_eq(w->data, t->data);
    tg_tensor_free(s);
    tg_tensor_free(t);
}

Test(views, reshape_of_an_expanded_tensor_keeps_stride_zero)
{
    tg_tensor *t = iota(TG_SHAPE(3, 1));
    tg_tensor *e = tg_view_expand(t, TG_SHAPE(3, 4));
    tg_tensor *v = tg_view_reshape(e, TG_SHAPE(3, 2, 2));
    cr_assert_not_null(v, "%s", tg_error_message());
    assert_strides(v, 3, (int64_t[]){ 1, 0, 0 });
    cr_assert_null(tg_view_reshape(e, TG_SHAPE(12)));
    tg_tensor_free(t);
}

Test(views, permute_and_transpose_reorder_strides)
{
    tg_tensor *t = iota(TG_SHAPE(2, 3, 4));
    tg_tensor *p = tg_view_permute(t, (int[]){ 2, 0, 1 });
    tg_assert_shape(p, 4, 2, 3);
    assert_strides(p, 3, (int64_t[]){ 1, 12, 4 });
    cr_assert_eq(p->data, t->data);
    /* p[k,i,j] = t[i,j,k] = 12i + 4j + k */
    float expected[24];
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                expected[k * 6 + i * 3 + j] = (float)(12 * i + 4 * j + k);
    tg_assert_values(p, expected, 24, 0);
    cr_assert(!tg_tensor_is_contiguous(p));

    tg_tensor *tr = tg_view_transpose(t, -1, 0); /* negative dims count from the end */
    tg_assert_shape(tr, 4, 3, 2);
    assert_strides(tr, 3, (int64_t[]){ 1, 4, 12 });
    tg_tensor *same = tg_view_transpose(t, 1, 1);
    assert_strides(same, 3, t->stride);
    tg_tensor_free(t);
}

Test(views, slice_with_step_and_python_bounds)
{
    tg_tensor *t = iota(TG_SHAPE(10));
    tg_tensor *a = tg_view_slice(t, 0, 1, 8, 3); /* 1, 4, 7 */
    tg_assert_values(a, ((float[]){ 1, 4, 7 }), 3, 0);
    cr_assert_eq(a->stride[0], 3);
    cr_assert_eq(a->data, t->data + 1);
    tg_tensor *b = tg_view_slice(t, 0, -3, 10, 1); /* the last three */
    tg_assert_values(b, ((float[]){ 7, 8, 9 }), 3, 0);
    tg_tensor *c = tg_view_slice(t, -1, -8, -2, 2); /* t[-8:-2:2] = 2, 4, 6 */
    tg_assert_values(c, ((float[]){ 2, 4, 6 }), 3, 0);
    tg_tensor *d = tg_view_slice(t, 0, -100, 100, 4); /* bounds clamp: 0, 4, 8 */
    tg_assert_values(d, ((float[]){ 0, 4, 8 }), 3, 0);
    tg_tensor *e = tg_view_slice(t, 0, 6, 2, 1); /* empty */
    cr_assert_not_null(e);
    cr_assert_eq(e->numel, 0);
    tg_assert_shape(e, 0);

    tg_tensor *m = iota(TG_SHAPE(4, 5));
    tg_tensor *cols = tg_view_slice(m, 1, 1, 5, 2); /* columns 1 and 3 */
    tg_assert_shape(cols, 4, 2);
    tg_assert_values(cols, ((float[]){ 1, 3, 6, 8, 11, 13, 16, 18 }), 8, 0);
    cr_assert_eq(cols->numel, 8);
    tg_tensor_free(t);
    tg_tensor_free(m);
}

Test(views, narrow_and_select)
{
    tg_tensor *t = iota(TG_SHAPE(3, 4));
    tg_tensor *n = tg_view_narrow(t, 1, 1, 2);
    tg_assert_shape(n, 3, 2);
    cr_assert_eq(n->data, t->data + 1);
    tg_assert_values(n, ((float[]){ 1, 2, 5, 6, 9, 10 }), 6, 0);
    tg_tensor *empty = tg_view_narrow(t, 0, 3, 0);
    cr_assert_not_null(empty);
    cr_assert_eq(empty->numel, 0);

    tg_tensor *row = tg_view_select(t, 0, 2);
    tg_assert_shape(row, 4);
    cr_assert_eq(row->data, t->data + 8);
    tg_assert_values(row, ((float[]){ 8, 9, 10, 11 }), 4, 0);
    tg_tensor *col = tg_view_select(t, -1, 1);
    tg_assert_shape(col, 3);
    cr_assert_eq(col->stride[0], 4);
    tg_assert_values(col, ((float[]){ 1, 5, 9 }), 3, 0);
    tg_tensor *elem = tg_view_select(col, 0, 2);
    cr_assert_eq(elem->ndim, 0);
    cr_assert_eq(tg_tensor_item(elem), 9.0f);
    tg_tensor_free(t);
}

Test(views, expand_broadcasts_with_stride_zero)
{
    tg_tensor *t = iota(TG_SHAPE(3, 1));
    tg_tensor *e = tg_view_expand(t, TG_SHAPE(2, 3, 4));
    cr_assert_not_null(e, "%s", tg_error_message());
    tg_assert_shape(e, 2, 3, 4);
    assert_strides(e, 3, (int64_t[]){ 0, 1, 0 });
    cr_assert_eq(e->data, t->data);
    cr_assert_eq(e->numel, 24);
    float expected[24];
    for (int i = 0; i < 24; i++)
        expected[i] = (float)((i / 4) % 3);
    tg_assert_values(e, expected, 24, 0);
    tg_tensor *keep = tg_view_expand(t, TG_SHAPE(-1, 5)); /* -1 keeps a size */
    tg_assert_shape(keep, 3, 5);
    cr_assert_null(tg_view_expand(t, TG_SHAPE(4, 4)));
    tg_assert_error("expand: [3,1] to [4,4]");
    tg_tensor_free(t);
}

Test(views, squeeze_and_unsqueeze)
{
    tg_tensor *t = iota(TG_SHAPE(2, 1, 3));
    tg_tensor *s = tg_view_squeeze(t, 1);
    tg_assert_shape(s, 2, 3);
    assert_strides(s, 2, (int64_t[]){ 3, 1 });
    cr_assert_eq(s->data, t->data);
    tg_tensor *u0 = tg_view_unsqueeze(s, 0);
    tg_assert_shape(u0, 1, 2, 3);
    tg_tensor *u1 = tg_view_unsqueeze(s, 1);
    tg_assert_shape(u1, 2, 1, 3);
    tg_tensor *ulast = tg_view_unsqueeze(s, -1);
    tg_assert_shape(ulast, 2, 3, 1);
    tg_tensor *umid = tg_view_unsqueeze(s, -2);
    tg_assert_shape(umid, 2, 1, 3);
    cr_assert_eq(ulast->data, t->data);
    tg_assert_values(ulast, ((float[]){ 0, 1, 2, 3, 4, 5 }), 6, 0);
    /* Unsqueezing keeps a contiguous tensor contiguous. */
    cr_assert(tg_tensor_is_contiguous(u0) && tg_tensor_is_contiguous(u1) &&
              tg_tensor_is_contiguous(ulast));
    cr_assert_null(tg_view_squeeze(t, 0));
    tg_assert_error("squeeze: [2,1,3]: dimension 0 has size 2, not 1");
    tg_tensor_free(t);
}

Test(views, contiguous_copies_only_when_needed)
{
    tg_tensor *t = iota(TG_SHAPE(3, 4));
    cr_assert_eq(tg_view_contiguous(t), t);
    tg_tensor *row = tg_view_select(t, 0, 1);
    cr_assert_eq(tg_view_contiguous(row), row);
    /* A size-1 axis may carry any stride and still be contiguous. */
    tg_tensor *one = tg_view_narrow(tg_view_transpose(t, 0, 1), 0, 2, 1); /* [1,3], strides (1,4) */
    tg_tensor *ct = tg_view_contiguous(one);
    cr_assert_neq(ct->data, one->data); /* column 2 is strided: copied */
    tg_assert_values(ct, ((float[]){ 2, 6, 10 }), 3, 0);
    tg_tensor *single = tg_view_narrow(row, 0, 1, 1); /* [1] */
    single->stride[0] = 1000;
    cr_assert_eq(tg_view_contiguous(single), single);

    tg_tensor *tr = tg_view_transpose(t, 0, 1);
    tg_tensor *c = tg_view_contiguous(tr);
    cr_assert_neq(c->data, t->data);
    cr_assert(tg_tensor_is_contiguous(c));
    tg_assert_values(c, ((float[]){ 0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11 }), 12, 0);
    tg_tensor_free(t);
}

Test(views, alias_is_a_new_struct_on_the_same_data)
{
    tg_tensor *t = iota(TG_SHAPE(2, 2));
    tg_tensor *a = tg_view_alias(t);
    cr_assert_neq(a, t);
    cr_assert_eq(a->data, t->data);
    cr_assert_eq(a->flags & TG_TENSOR_OWNED, 0);
    tg_assert_values(a, ((float[]){ 0, 1, 2, 3 }), 4, 0);
    tg_tensor_free(t);
}

Test(views, views_of_views_compose)
{
    tg_tensor *t = iota(TG_SHAPE(4, 6));
    /* t[1:, ::2].T[1] = t[1:, 2] = 8, 14, 20 */
    tg_tensor *v = tg_view_select(tg_view_transpose(tg_view_slice(tg_view_slice(t, 0, 1, 4, 1), 1, 0, 6, 2), 0, 1), 0, 1);
    tg_assert_values(v, ((float[]){ 8, 14, 20 }), 3, 0);
    cr_assert_eq(v->data, t->data + 8);
    cr_assert_eq(tg_tensor_offset(v), 8);
    tg_tensor_free(t);
}

Test(views, empty_tensors_have_no_zero_strides_and_are_contiguous)
{
    tg_tensor *t = tg_tensor_zeros(TG_SHAPE(3, 0, 2));
    assert_strides(t, 3, (int64_t[]){ 2, 2, 1 }); /* as torch.empty(3, 0, 2).stride() */
    cr_assert(tg_tensor_is_contiguous(t));
    cr_assert_eq(tg_view_contiguous(t), t);
    /* an expanded empty view can be copied: it has no elements to overlap */
    tg_tensor *e = tg_view_expand(tg_view_narrow(t, 0, 0, 1), TG_SHAPE(4, 0, 2));
    cr_assert_not_null(e, "%s", tg_error_message());
    tg_tensor *c = tg_tensor_clone(e);
    cr_assert_not_null(c, "%s", tg_error_message());
    tg_assert_shape(c, 4, 0, 2);
    cr_assert_eq(tg_kernel_fill(e, 1.0f), 0, "%s", tg_error_message());
    tg_tensor_free(t);
    tg_tensor_free(c);
}
