/* Indexing kernels: index_select, index_add, gather, scatter_add, one_hot,
 * concat. Expected values are worked by hand (gather and scatter_add follow
 * torch's documented examples). */
#include "support.h"
#include <tensor/kernel.h>

TestSuite(index, .init = tg_test_setup, .fini = tg_test_teardown);

static tg_tensor *iota(tg_shape shape)
{
    tg_tensor *t = tg_empty(shape);
    for (int64_t i = 0; i < t->numel; i++)
        t->data[i] = (float)i;
    return t;
}

Test(index, index_select_rows_columns_and_views)
{
    tg_tensor *x = iota(TG_SHAPE(4, 3));
    tg_tensor *idx = tg_from_array(TG_SHAPE(3), (float[]){ 3, 0, 3 });
    tg_tensor *rows = tg_empty(TG_SHAPE(3, 3));
    cr_assert_eq(tg_kernel_index_select(rows, x, 0, idx), 0, "%s", tg_error_message());
    tg_assert_values(rows, ((float[]){ 9, 10, 11, 0, 1, 2, 9, 10, 11 }), 9, 0);
    tg_tensor *cidx = tg_from_array(TG_SHAPE(2), (float[]){ 2, 1 });
    tg_tensor *cols = tg_empty(TG_SHAPE(4, 2));
    cr_assert_eq(tg_kernel_index_select(cols, x, -1, cidx), 0, "%s", tg_error_message());
    tg_assert_values(cols, ((float[]){ 2, 1, 5, 4, 8, 7, 11, 10 }), 8, 0);
    /* a transposed source and a strided index */
    tg_tensor *xt = tg_view_transpose(x, 0, 1); /* [3,4] */
    tg_tensor *sidx = tg_view_slice(tg_from_array(TG_SHAPE(4), (float[]){ 2, -1, 0, -1 }), 0, 0, 4, 2);
    tg_tensor *picked = tg_empty(TG_SHAPE(2, 4));
    cr_assert_eq(tg_kernel_index_select(picked, xt, 0, sidx), 0, "%s", tg_error_message());
    tg_assert_values(picked, ((float[]){ 2, 5, 8, 11, 0, 3, 6, 9 }), 8, 0);
    /* an empty index selects nothing */
    tg_tensor *none = tg_empty(TG_SHAPE(0, 3));
    cr_assert_eq(tg_kernel_index_select(none, x, 0, tg_empty(TG_SHAPE(0))), 0, "%s", tg_error_message());
}

Test(index, index_add_accumulates_repeated_positions)
{
    tg_tensor *out = tg_zeros(TG_SHAPE(3, 2));
    tg_tensor *idx = tg_from_array(TG_SHAPE(4), (float[]){ 0, 2, 0, 0 });
    tg_tensor *src = tg_from_array(TG_SHAPE(4, 2), (float[]){ 1, 2, 3, 4, 5, 6, 7, 8 });
    cr_assert_eq(tg_kernel_index_add(out, 0, idx, src), 0, "%s", tg_error_message());
    tg_assert_values(out, ((float[]){ 13, 16, 0, 0, 3, 4 }), 6, 0);
    tg_tensor *cols = tg_zeros(TG_SHAPE(2, 2));
    tg_tensor *cidx = tg_from_array(TG_SHAPE(3), (float[]){ 1, 1, 0 });
    tg_tensor *csrc = tg_from_array(TG_SHAPE(2, 3), (float[]){ 1, 2, 3, 4, 5, 6 });
    cr_assert_eq(tg_kernel_index_add(cols, 1, cidx, csrc), 0, "%s", tg_error_message());
    tg_assert_values(cols, ((float[]){ 3, 3, 6, 9 }), 4, 0);
}

Test(index, gather_along_each_axis)
{
    tg_tensor *t = tg_from_array(TG_SHAPE(2, 2), (float[]){ 1, 2, 3, 4 });
    tg_tensor *idx = tg_from_array(TG_SHAPE(2, 2), (float[]){ 0, 0, 1, 0 });
    tg_tensor *out = tg_empty(TG_SHAPE(2, 2));
    cr_assert_eq(tg_kernel_gather(out, t, 1, idx), 0, "%s", tg_error_message());
    tg_assert_values(out, ((float[]){ 1, 1, 4, 3 }), 4, 0);
    /* along dim 0 with an index smaller than x off dim: out[i][j] = x[idx[i][j]][j] */
    tg_tensor *x = iota(TG_SHAPE(3, 4));
    tg_tensor *i0 = tg_from_array(TG_SHAPE(2, 3), (float[]){ 2, 0, 1, 1, 1, 0 });
    tg_tensor *o0 = tg_empty(TG_SHAPE(2, 3));
    cr_assert_eq(tg_kernel_gather(o0, x, 0, i0), 0, "%s", tg_error_message());
    tg_assert_values(o0, ((float[]){ 8, 1, 6, 4, 5, 2 }), 6, 0);
    /* a transposed source: picking per row of x^T */
    tg_tensor *it = tg_from_array(TG_SHAPE(4, 1), (float[]){ 0, 1, 2, 1 });
    tg_tensor *ot = tg_empty(TG_SHAPE(4, 1));
    cr_assert_eq(tg_kernel_gather(ot, tg_view_transpose(x, 0, 1), 1, it), 0, "%s", tg_error_message());
    tg_assert_values(ot, ((float[]){ 0, 5, 10, 7 }), 4, 0);
}

Test(index, scatter_add_sums_collisions)
{
    tg_tensor *src = tg_from_array(TG_SHAPE(2, 5), (float[]){ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 });
    tg_tensor *idx = tg_from_array(TG_SHAPE(2, 5), (float[]){ 0, 1, 2, 0, 0, 0, 1, 2, 2, 2 });
    tg_tensor *out = tg_zeros(TG_SHAPE(3, 5));
    cr_assert_eq(tg_kernel_scatter_add(out, 0, idx, src), 0, "%s", tg_error_message());
    tg_assert_values(out, ((float[]){ 7, 0, 0, 4, 5, 0, 9, 0, 0, 0, 0, 0, 11, 9, 10 }), 15, 0);
    /* adds to what is there */
    tg_tensor *row = tg_ones(TG_SHAPE(1, 3));
    tg_tensor *ri = tg_from_array(TG_SHAPE(1, 2), (float[]){ 2, 2 });
    tg_tensor *rs = tg_from_array(TG_SHAPE(1, 2), (float[]){ 5, 6 });
    cr_assert_eq(tg_kernel_scatter_add(row, 1, ri, rs), 0, "%s", tg_error_message());
    tg_assert_values(row, ((float[]){ 1, 1, 12 }), 3, 0);
}

Test(index, one_hot_rows)
{
    tg_tensor *idx = tg_from_array(TG_SHAPE(2, 2), (float[]){ 0, 3, 2, 0 });
    tg_tensor *out = tg_full(TG_SHAPE(2, 2, 4), 9.0f);
    cr_assert_eq(tg_kernel_one_hot(out, idx, 4), 0, "%s", tg_error_message());
    tg_assert_values(out, ((float[]){ 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0 }), 16, 0);
    tg_tensor *scalar = tg_from_array(TG_SCALAR, (float[]){ 1 });
    tg_tensor *o1 = tg_empty(TG_SHAPE(3));
    cr_assert_eq(tg_kernel_one_hot(o1, scalar, 3), 0, "%s", tg_error_message());
    tg_assert_values(o1, ((float[]){ 0, 1, 0 }), 3, 0);
}

Test(index, concat_along_first_and_last_axes)
{
    tg_tensor *a = iota(TG_SHAPE(2, 2));
    tg_tensor *b = tg_from_array(TG_SHAPE(1, 2), (float[]){ 9, 8 });
    tg_tensor *rows = tg_empty(TG_SHAPE(3, 2));
    cr_assert_eq(tg_kernel_concat(rows, (const tg_tensor *[]){ a, b }, 2, 0), 0, "%s", tg_error_message());
    tg_assert_values(rows, ((float[]){ 0, 1, 2, 3, 9, 8 }), 6, 0);
    /* along the last axis, with a transposed input and an empty one */
    tg_tensor *c = tg_from_array(TG_SHAPE(2, 1), (float[]){ 5, 6 });
    tg_tensor *empty = tg_empty(TG_SHAPE(2, 0));
    tg_tensor *cols = tg_empty(TG_SHAPE(2, 3));
    const tg_tensor *parts[] = { tg_view_transpose(a, 0, 1), empty, c };
    cr_assert_eq(tg_kernel_concat(cols, parts, 3, -1), 0, "%s", tg_error_message());
    tg_assert_values(cols, ((float[]){ 0, 2, 5, 1, 3, 6 }), 6, 0);
}

Test(index, check_indices_accepts_whole_numbers_in_range)
{
    tg_tensor *ok = tg_from_array(TG_SHAPE(3), (float[]){ 0, 4, 2 });
    cr_assert_eq(tg_check_indices(ok, 5, "test"), 0);
    cr_assert(!tg_error_occurred());
    cr_assert_eq(tg_check_indices(ok, 4, "test"), -1);
    tg_assert_error("test: index 4 at position 1 of index tensor [3] is out of range [0, 4)");
}
