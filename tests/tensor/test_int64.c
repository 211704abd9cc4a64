/* int64 tensors: creation, element access, printing, copies, views,
 * conversion, the index kernels taking them, and the error every float
 * kernel gives when handed one. */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include <stdio.h>
#include <stdlib.h>

#include "support.h"
#include "tensor/elementwise.h"
#include "tensor/index.h"
#include "tensor/matmul.h"
#include "tensor/reduce.h"
#include <tensor/kernel.h>

TestSuite(int64, .init = tg_test_setup, .fini = tg_test_teardown);

/* 2^53 + 1 is not a float (nor a double): it survives only as an int64. */
#define BIG ((int64_t)9007199254740993)

Test(int64, a_zeroed_struct_and_every_old_constructor_are_float32)
{
    tg_tensor t = { 0 };
    cr_assert_eq(t.dtype, TG_FLOAT32);
    cr_assert_eq(tg_zeros(TG_SHAPE(2))->dtype, TG_FLOAT32);
    tg_tensor *owned = tg_tensor_ones(TG_SHAPE(2));
    cr_assert_eq(owned->dtype, TG_FLOAT32);
    tg_tensor_free(owned);
    cr_assert_str_eq(tg_dtype_name(TG_INT64), "int64");
    cr_assert_str_eq(tg_dtype_name(TG_FLOAT32), "float32");
    cr_assert_eq(tg_dtype_size(TG_INT64), 8);
    cr_assert_eq(tg_dtype_size(TG_FLOAT32), 4);
}

Test(int64, owned_and_graph_creation_hold_exact_values)
{
    const int64_t values[] = { -3, 0, BIG, INT64_MAX, INT64_MIN + 1, 7 };
    tg_tensor *owned = tg_tensor_from_int64(TG_SHAPE(2, 3), values);
    tg_assert_int64_values(owned, values, 6);
    tg_assert_shape(owned, 2, 3);
    cr_assert(owned->flags & TG_TENSOR_OWNED);
    tg_tensor *graph = tg_from_int64(TG_SHAPE(3, 2), values);
    tg_assert_int64_values(graph, values, 6);
    cr_assert_not(graph->flags & TG_TENSOR_OWNED);

    tg_tensor *zeros = tg_tensor_zeros_dtype(TG_SHAPE(5), TG_INT64);
    tg_assert_int64_values(zeros, ((int64_t[]){ 0, 0, 0, 0, 0 }), 5);
    tg_assert_int64_values(tg_zeros_dtype(TG_SHAPE(1, 2), TG_INT64), ((int64_t[]){ 0, 0 }), 2);
    tg_tensor *fzeros = tg_tensor_zeros_dtype(TG_SHAPE(2), TG_FLOAT32);
    tg_assert_values(fzeros, ((float[]){ 0, 0 }), 2, 0);
    tg_tensor *empty = tg_tensor_empty_dtype(TG_SHAPE(4), TG_INT64);
    cr_assert_eq(empty->dtype, TG_INT64);
    empty->i64[3] = BIG; /* writable over its whole length */
    cr_assert_eq(tg_tensor_get_int64(empty, (int64_t[]){ 3 }), BIG);
    cr_assert_eq(tg_empty_dtype(TG_SHAPE(3), TG_INT64)->dtype, TG_INT64);

    cr_assert_null(tg_tensor_from_int64(TG_SHAPE(2), NULL));
    tg_assert_error("tensor_from_int64: values is NULL");
    tg_tensor_free(owned);
    tg_tensor_free(zeros);
    tg_tensor_free(fzeros);
    tg_tensor_free(empty);
}

Test(int64, graph_tensors_of_every_size_fit_their_block)
{
    /* Small ones live in the block's header; neighbours must stay intact. */
    for (int64_t n = 0; n < 40; n++) {
        tg_tensor *a = tg_empty_dtype(TG_SHAPE(n), TG_INT64), *b = tg_empty_dtype(TG_SHAPE(n), TG_INT64);
        for (int64_t i = 0; i < n; i++) {
            a->i64[i] = -i;
            b->i64[i] = BIG + i;
        }
        for (int64_t i = 0; i < n; i++)
            cr_assert(a->i64[i] == -i && b->i64[i] == BIG + i, "n %lld, element %lld", (long long)n,
                      (long long)i);
        cr_assert(tg_give_back(b));
    }
}

Test(int64, element_access_exact_and_converted)
{
    tg_tensor *t = tg_from_int64(TG_SHAPE(2, 2), (int64_t[]){ 1, BIG, -5, 16777217 });
    cr_assert_eq(tg_tensor_get_int64(t, (int64_t[]){ 0, 1 }), BIG);
    cr_assert_eq(tg_tensor_get(t, (int64_t[]){ 1, 0 }), -5.0f);
    /* the float accessors round as a conversion does */
    cr_assert_eq(tg_tensor_get(t, (int64_t[]){ 1, 1 }), 16777216.0f);
    float f[4];
    cr_assert_eq(tg_tensor_to_array(t, f), 0);
    cr_assert(f[0] == 1.0f && f[1] == (float)BIG && f[2] == -5.0f);
    tg_tensor *one = tg_from_int64(TG_SHAPE(1, 1), (int64_t[]){ BIG });
    cr_assert_eq(tg_tensor_item_int64(one), BIG);
    cr_assert_eq(tg_tensor_item(one), (float)BIG);

    cr_assert_eq(tg_tensor_get_int64(t, (int64_t[]){ 2, 0 }), TG_INT64_ERROR);
    tg_assert_error("tensor_get_int64: index 2 out of range for dimension 0 of [2,2]");
    tg_error_clear();
    cr_assert_eq(tg_tensor_item_int64(t), TG_INT64_ERROR);
    tg_assert_error("tensor_item_int64: tensor [2,2] has 4 elements, not 1");
    tg_error_clear();
    /* and the other way: float32 where int64 is needed */
    tg_tensor *x = tg_zeros(TG_SHAPE(3));
    cr_assert_eq(tg_tensor_item_int64(x), TG_INT64_ERROR);
    tg_assert_error("tensor_item_int64: float32 tensor [3] given where int64 is needed");
    tg_error_clear();
    int64_t out[3];
    cr_assert_eq(tg_tensor_to_int64_array(x, out), -1);
    tg_assert_error("tensor_to_int64_array: float32 tensor [3] given where int64 is needed");
}

Test(int64, prints_whole_values_and_its_dtype)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    tg_tensor *t = tg_from_int64(TG_SHAPE(2, 2), (int64_t[]){ 3, -12, BIG, 0 });
    tg_tensor_fprint(f, t, "ids");
    tg_tensor_fprint(f, tg_view_transpose(t, 0, 1), NULL);
    fclose(f);
    cr_assert_str_eq(text, "ids: tensor [2,2] int64\n"
                           "[[               3,              -12],\n"
                           " [9007199254740993,                0]]\n"
                           "tensor [2,2] int64\n"
                           "[[               3, 9007199254740993],\n"
                           " [             -12,                0]]\n");
    free(text);
}

Test(int64, views_of_any_kind_read_the_right_elements)
{
    int64_t values[24];
    for (int i = 0; i < 24; i++)
        values[i] = BIG * (i % 2 ? 1 : -1) + i;
    tg_tensor *t = tg_from_int64(TG_SHAPE(2, 3, 4), values);
    tg_tensor *r = tg_view_reshape(t, TG_SHAPE(6, 4));
    cr_assert_eq(r->dtype, TG_INT64);
    cr_assert_eq(tg_tensor_get_int64(r, (int64_t[]){ 5, 3 }), values[23]);
    tg_tensor *p = tg_view_permute(t, (int[]){ 2, 0, 1 });
    cr_assert_eq(tg_tensor_get_int64(p, (int64_t[]){ 3, 1, 2 }), values[1 * 12 + 2 * 4 + 3]);
    tg_tensor *s = tg_view_slice(t, 2, 1, 4, 2); /* elements 1 and 3 of the last axis */
    tg_assert_shape(s, 2, 3, 2);
    cr_assert_eq(tg_tensor_offset(s), 1);
    cr_assert_eq(tg_tensor_get_int64(s, (int64_t[]){ 1, 2, 1 }), values[12 + 8 + 3]);
    tg_tensor *sel = tg_view_select(t, 1, 2);
    cr_assert_eq(tg_tensor_offset(sel), 8);
    cr_assert_eq(tg_tensor_get_int64(sel, (int64_t[]){ 1, 0 }), values[12 + 8]);
    tg_tensor *n = tg_view_narrow(t, 0, 1, 1);
    cr_assert_eq(tg_tensor_get_int64(n, (int64_t[]){ 0, 0, 0 }), values[12]);
    tg_tensor *e = tg_view_expand(tg_from_int64(TG_SHAPE(1, 2), (int64_t[]){ BIG, -1 }), TG_SHAPE(3, 2));
    tg_assert_int64_values(tg_view_contiguous(e), ((int64_t[]){ BIG, -1, BIG, -1, BIG, -1 }), 6);
    tg_tensor *u = tg_view_squeeze(tg_view_unsqueeze(s, 0), 0);
    cr_assert_eq(tg_tensor_get_int64(u, (int64_t[]){ 0, 0, 0 }), values[1]);
    /* a contiguous copy of the strided slice, in row-major order */
    int64_t expected[12];
    for (int i = 0; i < 12; i++)
        expected[i] = values[(i / 2) * 4 + 1 + 2 * (i % 2)];
    tg_tensor *c = tg_view_contiguous(s);
    cr_assert_neq(c, s);
    tg_assert_int64_values(c, expected, 12);
    int64_t out[12];
    cr_assert_eq(tg_tensor_to_int64_array(s, out), 0);
    cr_assert_arr_eq(out, expected, sizeof out);
}

Test(int64, clone_copy_and_conversion)
{
    tg_tensor *t = tg_from_int64(TG_SHAPE(2, 3), (int64_t[]){ 0, 1, 2, 3, 4, BIG });
    tg_tensor *tt = tg_view_transpose(t, 0, 1);
    tg_tensor *clone = tg_tensor_clone(tt);
    cr_assert(clone->flags & TG_TENSOR_OWNED);
    tg_assert_int64_values(clone, ((int64_t[]){ 0, 3, 1, 4, 2, BIG }), 6);
    tg_assert_int64_values(tg_copy_to_graph(tt), ((int64_t[]){ 0, 3, 1, 4, 2, BIG }), 6);
    /* copy_ broadcasts into a strided destination */
    tg_tensor *dst = tg_zeros_dtype(TG_SHAPE(3, 2), TG_INT64);
    cr_assert_eq(tg_tensor_copy_(tg_view_transpose(dst, 0, 1),
                                 tg_from_int64(TG_SHAPE(3), (int64_t[]){ 7, 8, BIG })), 0);
    tg_assert_int64_values(dst, ((int64_t[]){ 7, 7, 8, 8, BIG, BIG }), 6);

    tg_tensor *f = tg_tensor_to_dtype(tt, TG_FLOAT32);
    cr_assert_eq(f->dtype, TG_FLOAT32);
    tg_assert_values(f, ((float[]){ 0, 3, 1, 4, 2, (float)BIG }), 6, 0);
    tg_tensor *back = tg_to_dtype(tg_from_array(TG_SHAPE(4), (float[]){ 2.9f, -2.9f, 0.0f, 1e18f }),
                                  TG_INT64);
    tg_assert_int64_values(back, ((int64_t[]){ 2, -2, 0, (int64_t)1e18f }), 4); /* truncated, as .long() */
    cr_assert_null(tg_to_dtype(tg_from_array(TG_SHAPE(2), (float[]){ 1, NAN }), TG_INT64));
    tg_assert_error("to_dtype: [2]: value nan at position 1 is not in int64's range");
    tg_error_clear();
    cr_assert_null(tg_tensor_to_dtype(tg_from_array(TG_SHAPE(1), (float[]){ 1e19f }), TG_INT64));
    tg_assert_error("tensor_to_dtype: [1]: value 1e+19 at position 0 is not in int64's range");
    tg_error_clear();

    /* copies between dtypes are refused both ways */
    cr_assert_eq(tg_tensor_copy_(tg_zeros(TG_SHAPE(2, 3)), t), -1);
    tg_assert_error("copy: int64 tensor [2,3] given where float32 is needed");
    tg_error_clear();
    cr_assert_eq(tg_tensor_copy_(t, tg_zeros(TG_SHAPE(2, 3))), -1);
    tg_assert_error("copy: float32 tensor [2,3] given where int64 is needed");
    tg_tensor_free(clone);
    tg_tensor_free(f);
}

#define expect_refused(call, fragment)                                                         \
    do {                                                                                       \
        tg_error_clear();                                                                      \
        cr_assert_eq((call), -1, "%s did not fail", #call);                                    \
        tg_assert_error(fragment);                                                             \
    } while (0)

/* Every float kernel refuses an int64 operand, naming itself and the
 * shape, before it writes anything. */
Test(int64, float_kernels_refuse_int64_operands)
{
    tg_tensor *ids = tg_from_int64(TG_SHAPE(2, 3), (int64_t[]){ 0, 1, 2, 0, 1, 2 });
    tg_tensor *x = tg_ones(TG_SHAPE(2, 3)), *out = tg_empty(TG_SHAPE(2, 3));
    tg_tensor *rows = tg_from_int64(TG_SHAPE(2), (int64_t[]){ 1, 0 });
    tg_rng rng = tg_rng_new(1);
    expect_refused(tg_kernel_binary(TG_BINARY_ADD, out, x, ids, false),
                   "add: int64 tensor [2,3] given where float32 is needed");
    expect_refused(tg_kernel_unary(TG_UNARY_EXP, out, ids, NULL, false), "exp: int64 tensor [2,3] given");
    expect_refused(tg_kernel_binary(TG_BINARY_MUL, ids, x, x, false), "mul: int64 tensor [2,3] given");
    expect_refused(tg_kernel_fill(ids, 1.0f), "fill: int64 tensor [2,3] given");
    expect_refused(tg_tensor_uniform_(ids, 0, 1, &rng), "tensor_uniform_: int64 tensor [2,3] given");
    expect_refused(tg_kernel_copy(out, ids, true), "copy: int64 tensor [2,3] given");
    expect_refused(tg_kernel_sum_to(tg_empty(TG_SHAPE(1, 3)), ids, 1, false), "sum: int64 tensor [2,3] given");
    expect_refused(tg_kernel_softmax(out, ids, 1, false), "softmax: int64 tensor [2,3] given");
    expect_refused(tg_kernel_matmul(tg_empty(TG_SHAPE(2, 2)), ids, tg_view_transpose(x, 0, 1), 1, 0),
                   "matmul: int64 tensor [2,3] given");
    expect_refused(tg_kernel_gather(tg_empty(TG_SHAPE(2, 3)), ids, 1, ids), "gather: int64 tensor [2,3] given");
    expect_refused(tg_kernel_index_select(tg_empty(TG_SHAPE(2, 3)), ids, 0, rows),
                   "index_select: int64 tensor [2,3] given");
    expect_refused(tg_kernel_one_hot(tg_empty_dtype(TG_SHAPE(2, 3, 3), TG_INT64), ids, 3),
                   "one_hot: int64 tensor [2,3,3] given where float32 is needed");
    expect_refused(tg_kernel_concat(out, (const tg_tensor *[]){ ids }, 1, 0),
                   "concat: int64 tensor [2,3] given where float32 is needed");
    tg_error_clear();
    tg_assert_int64_values(ids, ((int64_t[]){ 0, 1, 2, 0, 1, 2 }), 6);
}

/* The index kernels read int64 indices exactly as whole-number floats. */
Test(int64, index_kernels_take_int64_indices)
{
    tg_tensor *x = tg_from_array(TG_SHAPE(3, 2), (float[]){ 1, 2, 3, 4, 5, 6 });
    tg_tensor *rows = tg_from_int64(TG_SHAPE(3), (int64_t[]){ 2, 0, 2 });
    tg_tensor *picked = tg_empty(TG_SHAPE(3, 2));
    cr_assert_eq(tg_kernel_index_select(picked, x, 0, rows), 0);
    tg_assert_values(picked, ((float[]){ 5, 6, 1, 2, 5, 6 }), 6, 0);
    /* a strided index: every second element of [1, 9, 0, 9] */
    tg_tensor *strided = tg_view_slice(tg_from_int64(TG_SHAPE(4), (int64_t[]){ 1, 9, 0, 9 }), 0, 0, 4, 2);
    tg_tensor *columns = tg_empty(TG_SHAPE(3, 2));
    cr_assert_eq(tg_kernel_index_select(columns, x, 1, strided), 0);
    tg_assert_values(columns, ((float[]){ 2, 1, 4, 3, 6, 5 }), 6, 0);
    tg_tensor *sum = tg_zeros(TG_SHAPE(3, 2));
    cr_assert_eq(tg_kernel_index_add(sum, 0, rows, picked), 0);
    tg_assert_values(sum, ((float[]){ 1, 2, 0, 0, 10, 12 }), 6, 0);

    tg_tensor *index = tg_from_int64(TG_SHAPE(3, 1), (int64_t[]){ 1, 0, 1 });
    tg_tensor *gathered = tg_empty(TG_SHAPE(3, 1));
    cr_assert_eq(tg_kernel_gather(gathered, x, 1, index), 0);
    tg_assert_values(gathered, ((float[]){ 2, 3, 6 }), 3, 0);
    tg_tensor *scattered = tg_zeros(TG_SHAPE(3, 2));
    cr_assert_eq(tg_kernel_scatter_add(scattered, 1, index, gathered), 0);
    tg_assert_values(scattered, ((float[]){ 0, 2, 3, 0, 0, 6 }), 6, 0);
    tg_tensor *hot = tg_empty(TG_SHAPE(3, 1, 3));
    cr_assert_eq(tg_kernel_one_hot(hot, index, 3), 0);
    tg_assert_values(hot, ((float[]){ 0, 1, 0, 1, 0, 0, 0, 1, 0 }), 9, 0);
    tg_tensor *joined = tg_empty_dtype(TG_SHAPE(6), TG_INT64);
    cr_assert_eq(tg_kernel_concat(joined, (const tg_tensor *[]){ rows, tg_view_reshape(index, TG_SHAPE(3)) }, 2, 0), 0);
    tg_assert_int64_values(joined, ((int64_t[]){ 2, 0, 2, 1, 0, 1 }), 6);

    /* out of range, negative and huge: named with the exact value */
    cr_assert_eq(tg_check_indices(tg_from_int64(TG_SHAPE(2), (int64_t[]){ 0, 3 }), 3, "gather"), -1);
    tg_assert_error("gather: index 3 at position 1 of index tensor [2] is out of range [0, 3)");
    tg_error_clear();
    cr_assert_eq(tg_kernel_gather(gathered, x, 1, tg_from_int64(TG_SHAPE(3, 1), (int64_t[]){ 0, -1, 0 })), -1);
    tg_assert_error("gather: index -1 at position 1 of index tensor [3,1] is out of range [0, 2)");
    tg_error_clear();
    cr_assert_eq(tg_check_indices(tg_from_int64(TG_SHAPE(1), (int64_t[]){ BIG }), 3, "embedding"), -1);
    tg_assert_error("embedding: index 9007199254740993 at position 0 of index tensor [1] is out of range [0, 3)");
}
