/* Bad input, one test per kind: each call returns NULL or -1 with one
 * message naming the operation and the shapes, and nothing aborts. */
#include <signal.h>

#include "support.h"
#include <tensor/kernel.h>

TestSuite(errors, .init = tg_test_setup, .fini = tg_test_teardown);

/* Asserts that `call` returned the failure value and recorded `fragment`,
 * then clears the error for the next case. */
#define expect_failure(failed, fragment)                                                       \
    do {                                                                                       \
        cr_assert((failed), "the call did not fail: %s", tg_error_message());                  \
        tg_assert_error(fragment);                                                             \
        tg_error_clear();                                                                      \
    } while (0)

Test(errors, shape_mismatch)
{
    tg_tensor *a = tg_zeros(TG_SHAPE(2, 3)), *b = tg_zeros(TG_SHAPE(4));
    tg_tensor *out = tg_empty(TG_SHAPE(2, 3));
    expect_failure(tg_kernel_binary(TG_BINARY_ADD, out, a, b, false) == -1, "add: shape [4] does not broadcast to [2,3]");
    expect_failure(tg_kernel_unary(TG_UNARY_EXP, tg_empty(TG_SHAPE(3, 2)), a, NULL, false) == -1,
                   "exp: shape [2,3] does not broadcast to [3,2]");
    expect_failure(tg_kernel_where(out, tg_zeros(TG_SHAPE(5)), a, a) == -1, "where: shape [5]");
    /* one element, but more dimensions than the output */
    expect_failure(tg_kernel_binary(TG_BINARY_MUL, b, b, tg_ones(TG_SHAPE(1, 1)), false) == -1,
                   "mul: shape [1,1] does not broadcast to [4]");
    tg_shape s;
    expect_failure(!tg_broadcast_shapes(TG_SHAPE(2, 3), TG_SHAPE(3, 2), &s, "add"),
                   "add: shapes [2,3] and [3,2] do not broadcast (dimension 0: 2 vs 3)");
    expect_failure(tg_kernel_matmul(tg_empty(TG_SHAPE(2, 5)), a, tg_zeros(TG_SHAPE(4, 5)), 1, 0) == -1,
                   "matmul: [2,3] x [4,5]: inner dimensions 3 and 4 differ");
    expect_failure(tg_kernel_matmul(tg_empty(TG_SHAPE(2, 4)), a, tg_zeros(TG_SHAPE(3, 5)), 1, 0) == -1,
                   "matmul: output [2,4] should be [2,5]");
    expect_failure(tg_kernel_matmul(tg_empty(TG_SHAPE(2, 2, 5)), tg_zeros(TG_SHAPE(2, 2, 3)),
                                    tg_zeros(TG_SHAPE(3, 3, 5)), 1, 0) == -1,
                   "matmul: shapes [2] and [3] do not broadcast");
    expect_failure(tg_kernel_sum_to(tg_empty(TG_SHAPE(2)), a, 1, false) == -1, "sum: shape [2] does not broadcast to [2,3]");
    expect_failure(tg_kernel_max_to(tg_empty(TG_SHAPE(3, 3)), a) == -1, "max: shape [3,3]");
    expect_failure(tg_kernel_softmax(tg_empty(TG_SHAPE(3, 2)), a, 1, false) == -1,
                   "softmax: output [3,2] does not fit input [2,3]");
    expect_failure(tg_kernel_arg_reduce(tg_empty(TG_SHAPE(2, 3)), tg_empty_dtype(TG_SHAPE(2, 1), TG_INT64), a, 1, true) == -1,
                   "argmax: output [2,3] does not fit input [2,3] reduced along dimension 1");
    expect_failure(tg_kernel_arg_reduce(tg_empty(TG_SHAPE(2, 1)), tg_empty(TG_SHAPE(2, 1)), a, 1, true) == -1,
                   "argmax: float32 tensor [2,1] given where int64 is needed");
    expect_failure(tg_kernel_concat(tg_empty(TG_SHAPE(2, 5)), (const tg_tensor *[]){ a, tg_zeros(TG_SHAPE(3, 2)) }, 2, 1) == -1,
                   "concat: input 1 [3,2] does not fit output [2,5] along dimension 1");
    expect_failure(tg_kernel_concat(tg_empty(TG_SHAPE(2, 5)), (const tg_tensor *[]){ a }, 1, 1) == -1,
                   "concat: the inputs fill 3 of the 5 entries of output [2,5]");
    expect_failure(tg_kernel_index_select(tg_empty(TG_SHAPE(2, 3)), a, 1, tg_zeros(TG_SHAPE(2))) == -1,
                   "index_select: [2,3] indexed along dimension 1 by 2 indices cannot match [2,3]");
    expect_failure(tg_tensor_copy_(tg_zeros(TG_SHAPE(3)), a) == -1, "copy: shape [2,3] does not broadcast to [3]");
    expect_failure(tg_view_expand(a, TG_SHAPE(2, 4)) == NULL, "expand: [2,3] to [2,4]: dimension 1 of size 3 cannot become 4");
}

Test(errors, wrong_rank)
{
    tg_tensor *m = tg_zeros(TG_SHAPE(2, 3)), *v = tg_zeros(TG_SHAPE(3));
    expect_failure(tg_kernel_matmul(tg_empty(TG_SHAPE(2)), m, v, 1, 0) == -1,
                   "matmul: [2,3] x [3]: both operands need at least 2 dimensions");
    expect_failure(tg_kernel_index_select(tg_empty(TG_SHAPE(2, 3)), m, 0, tg_zeros(TG_SHAPE(2, 1))) == -1,
                   "index_select: the index must be 1-d, got [2,1]");
    expect_failure(tg_kernel_gather(tg_empty(TG_SHAPE(2)), m, 1, tg_zeros(TG_SHAPE(2))) == -1,
                   "gather: index [2] must have the rank of [2,3]");
    expect_failure(tg_kernel_one_hot(tg_empty(TG_SHAPE(3)), v, 4) == -1, "one_hot: output [3] does not fit index [3] with 4 classes");
    expect_failure(tg_view_expand(m, TG_SHAPE(3)) == NULL, "expand: [2,3] to [3]: the target needs at least as many dimensions");
    tg_shape nine = { .ndim = 9, .dim = { 1, 1, 1, 1, 1, 1, 1, 1 } };
    expect_failure(tg_empty(nine) == NULL, "empty: 9 dimensions; tapegrad supports 0 to 8");
    expect_failure(tg_view_reshape(m, nine) == NULL, "reshape: 9 dimensions");
    tg_tensor *eight = tg_view_reshape(v, TG_SHAPE(1, 1, 1, 1, 1, 1, 1, 3));
    cr_assert_not_null(eight);
    expect_failure(tg_view_unsqueeze(eight, 0) == NULL, "unsqueeze: the tensor already has 8 dimensions");
    expect_failure(isnan(tg_tensor_item(m)), "tensor_item: tensor [2,3] has 6 elements, not 1");
}

Test(errors, dimension_out_of_range)
{
    tg_tensor *m = tg_zeros(TG_SHAPE(2, 3));
    expect_failure(tg_view_transpose(m, 0, 2) == NULL, "transpose: dimension 2 out of range for a tensor with 2 dimensions");
    expect_failure(tg_view_select(m, -3, 0) == NULL, "select: dimension -3 out of range");
    expect_failure(tg_view_slice(m, 5, 0, 1, 1) == NULL, "slice: dimension 5 out of range");
    expect_failure(tg_view_unsqueeze(m, 3) == NULL, "unsqueeze: dimension 3 out of range for a tensor with 3 dimensions");
    expect_failure(tg_view_permute(m, (int[]){ 0, 0 }) == NULL, "permute: dimension 0 appears twice");
    expect_failure(tg_kernel_softmax(tg_empty(TG_SHAPE(2, 3)), m, 2, true) == -1, "log_softmax: dimension 2 out of range");
    tg_shape kept, result;
    expect_failure(tg_reduce_shapes(m, TG_AXES(0, 7), false, &kept, &result, "sum") == -1, "sum: dimension 7 out of range");
}

Test(errors, index_out_of_range_or_not_whole)
{
    tg_tensor *m = tg_zeros(TG_SHAPE(2, 3));
    expect_failure(tg_view_select(m, 1, 3) == NULL, "select: [2,3]: index 3 out of range for dimension 1 of size 3");
    expect_failure(tg_view_select(m, 0, -1) == NULL, "select: [2,3]: index -1 out of range");
    expect_failure(tg_view_narrow(m, 1, 2, 2) == NULL,
                   "narrow: [2,3]: start 2 and length 2 do not fit in dimension 1 of size 3");
    expect_failure(tg_view_slice(m, 1, 0, 3, 0) == NULL, "slice: step 0 must be at least 1");
    expect_failure(isnan(tg_tensor_get(m, (int64_t[]){ 0, 3 })), "tensor_get: index 3 out of range for dimension 1 of [2,3]");
    tg_tensor *out = tg_empty(TG_SHAPE(2, 2));
    expect_failure(tg_kernel_index_select(out, m, 1, tg_from_array(TG_SHAPE(2), (float[]){ 0, 3 })) == -1,
                   "index_select: index 3 at position 1 of index tensor [2] is out of range [0, 3)");
    expect_failure(tg_kernel_index_select(out, m, 1, tg_from_array(TG_SHAPE(2), (float[]){ -1, 0 })) == -1,
                   "index_select: index -1 at position 0 of index tensor [2] is out of range [0, 3)");
    expect_failure(tg_kernel_index_select(out, m, 1, tg_from_array(TG_SHAPE(2), (float[]){ 0, 1.5f })) == -1,
                   "index_select: index 1.5 at position 1 of index tensor [2] is not a whole number");
    expect_failure(tg_kernel_gather(tg_empty(TG_SHAPE(1, 1)), m, 1, tg_from_array(TG_SHAPE(1, 1), (float[]){ NAN })) == -1,
                   "gather: index nan at position 0 of index tensor [1,1] is not a whole number");
    expect_failure(tg_kernel_scatter_add(m, 0, tg_from_array(TG_SHAPE(1, 1), (float[]){ 2 }), tg_ones(TG_SHAPE(1, 1))) == -1,
                   "scatter_add: index 2 at position 0 of index tensor [1,1] is out of range [0, 2)");
    expect_failure(tg_kernel_gather(tg_empty(TG_SHAPE(3, 1)), m, 1, tg_zeros(TG_SHAPE(3, 1))) == -1,
                   "gather: index [3,1] is larger than [2,3] in dimension 0");
    expect_failure(tg_kernel_one_hot(tg_empty(TG_SHAPE(1, 4)), tg_from_array(TG_SHAPE(1), (float[]){ 4 }), 4) == -1,
                   "one_hot: index 4 at position 0 of index tensor [1] is out of range [0, 4)");
    expect_failure(tg_kernel_index_add(m, 0, tg_from_array(TG_SHAPE(1), (float[]){ 5 }), tg_ones(TG_SHAPE(1, 3))) == -1,
                   "index_add: index 5");
    /* nothing was written by the failed calls */
    tg_assert_values(m, ((float[]){ 0, 0, 0, 0, 0, 0 }), 6, 0);
}

Test(errors, reshape_to_a_wrong_size)
{
    tg_tensor *m = tg_zeros(TG_SHAPE(2, 3));
    expect_failure(tg_view_reshape(m, TG_SHAPE(4, 2)) == NULL, "reshape: [2,3] to [4,2]: 6 elements cannot become 8");
    expect_failure(tg_view_reshape(m, TG_SHAPE(4, -1)) == NULL, "reshape: [2,3] to [4,-1]: cannot infer the size of dimension 1");
    expect_failure(tg_view_reshape(m, TG_SHAPE(-1, -1)) == NULL, "reshape: [2,3] to [-1,-1]: bad size -1");
    expect_failure(tg_view_reshape(m, TG_SHAPE(0, -1)) == NULL, "reshape: [2,3] to [0,-1]: cannot infer");
    expect_failure(tg_view_reshape(m, TG_SHAPE(-2, 3)) == NULL, "reshape: [2,3] to [-2,3]: bad size -2");
}

Test(errors, element_counts_that_overflow)
{
    const int64_t big = (int64_t)1 << 62;
    expect_failure(tg_tensor_zeros(TG_SHAPE(big, 4)) == NULL,
                   "tensor_full: shape [4611686018427387904,4]: the number of elements overflows");
    expect_failure(tg_empty(TG_SHAPE(4, big, 4)) == NULL, "empty: shape [4,4611686018427387904,4]: the number of elements overflows");
    /* fits in int64 but not in memory's address space */
    expect_failure(tg_tensor_empty(TG_SHAPE((int64_t)1 << 31, (int64_t)1 << 31)) == NULL,
                   "tensor_empty: shape [2147483648,2147483648]: 4611686018427387904 elements is more than memory can address");
    expect_failure(tg_tensor_eye((int64_t)1 << 40) == NULL, "tensor_eye: shape [1099511627776,1099511627776]: the number of elements overflows");
    expect_failure(tg_tensor_zeros(TG_SHAPE(3, -2)) == NULL, "tensor_full: shape [3,-2]: dimension 1 has negative size -2");
    tg_tensor *one = tg_zeros(TG_SHAPE(1, 1));
    expect_failure(tg_view_expand(one, TG_SHAPE(big, big)) == NULL, "expand: shape [4611686018427387904,4611686018427387904]: the number of elements overflows");
    expect_failure(tg_view_reshape(one, TG_SHAPE(big, big, 0)) == NULL, "reshape: [1,1] to [4611686018427387904,4611686018427387904,0]: the number of elements overflows");
    expect_failure(tg_tensor_arange(0, 1e30f, 1) == NULL, "tensor_arange: start 0, stop 1e+30, step 1");
    expect_failure(tg_tensor_arange(0, 1, 0) == NULL, "tensor_arange: start 0, stop 1, step 0: step must be non-zero");
    expect_failure(tg_tensor_linspace(0, 1, INT64_MAX) == NULL, "tensor_linspace: shape [9223372036854775807]: 9223372036854775807 elements is more than memory can address");
    expect_failure(tg_tensor_linspace(0, 1, -1) == NULL, "tensor_linspace: negative count -1");
}

Test(errors, null_inputs_fail_and_are_named)
{
    tg_tensor *m = tg_zeros(TG_SHAPE(2, 2));
    cr_assert_eq(tg_kernel_unary(TG_UNARY_NEG, m, NULL, NULL, false), -1);
    cr_assert_eq(tg_kernel_unary(TG_UNARY_NEG, NULL, m, NULL, false), -1);
    cr_assert_eq(tg_kernel_binary(TG_BINARY_ADD, m, m, NULL, false), -1);
    cr_assert_eq(tg_kernel_where(m, NULL, m, m), -1);
    cr_assert_eq(tg_kernel_copy(m, NULL, false), -1);
    cr_assert_eq(tg_kernel_matmul(m, NULL, m, 1, 0), -1);
    cr_assert_eq(tg_kernel_sum_to(m, NULL, 1, false), -1);
    cr_assert_eq(tg_kernel_var_to(NULL, m, 1), -1);
    cr_assert_eq(tg_kernel_logsumexp_to(m, NULL), -1);
    cr_assert_eq(tg_kernel_norm_to(m, NULL, 2), -1);
    cr_assert_eq(tg_kernel_arg_reduce(m, m, NULL, 0, true), -1);
    cr_assert_eq(tg_kernel_softmax(m, NULL, 0, false), -1);
    cr_assert_eq(tg_kernel_index_select(m, m, 0, NULL), -1);
    cr_assert_eq(tg_kernel_gather(m, NULL, 0, m), -1);
    cr_assert_eq(tg_kernel_scatter_add(m, 0, NULL, m), -1);
    cr_assert_eq(tg_kernel_one_hot(m, NULL, 2), -1);
    cr_assert_eq(tg_kernel_concat(m, (const tg_tensor *[]){ m, NULL }, 2, 0), -1);
    cr_assert_eq(tg_tensor_copy_(NULL, m), -1);
    cr_assert_eq(tg_tensor_fill_(NULL, 1), -1);
    cr_assert_null(tg_view_reshape(NULL, TG_SHAPE(4)));
    cr_assert_null(tg_view_permute(NULL, (int[]){ 1, 0 }));
    cr_assert_null(tg_view_transpose(NULL, 0, 1));
    cr_assert_null(tg_view_slice(NULL, 0, 0, 1, 1));
    cr_assert_null(tg_view_narrow(NULL, 0, 0, 1));
    cr_assert_null(tg_view_select(NULL, 0, 0));
    cr_assert_null(tg_view_expand(NULL, TG_SHAPE(2, 2)));
    cr_assert_null(tg_view_squeeze(NULL, 0));
    cr_assert_null(tg_view_unsqueeze(NULL, 0));
    cr_assert_null(tg_view_contiguous(NULL));
    cr_assert_null(tg_tensor_clone(NULL));
    cr_assert_null(tg_copy_to_graph(NULL));
    cr_assert_null(tg_zeros_like(NULL));
    cr_assert(isnan(tg_tensor_item(NULL)));
    cr_assert_eq(tg_tensor_to_array(NULL, (float[4]){ 0 }), -1);
    tg_tensor_free(NULL);
    tg_assert_error("an input is NULL, and no error was recorded before it");
}

Test(errors, a_null_along_a_chain_keeps_the_first_message)
{
    tg_tensor *m = tg_zeros(TG_SHAPE(2, 3));
    tg_tensor *v = tg_view_unsqueeze(tg_view_transpose(tg_view_reshape(m, TG_SHAPE(5)), 0, 1), 0);
    cr_assert_null(v);
    cr_assert_str_eq(tg_error_message(), "reshape: [2,3] to [5]: 6 elements cannot become 5");
    /* a later error does not replace the first */
    cr_assert_null(tg_view_select(m, 0, 9));
    cr_assert_str_eq(tg_error_message(), "reshape: [2,3] to [5]: 6 elements cannot become 5");
    tg_error_clear();
    cr_assert(!tg_error_occurred());
    cr_assert_str_eq(tg_error_message(), "");
}

Test(errors, outputs_with_overlapping_elements_are_refused)
{
    tg_tensor *x = tg_ones(TG_SHAPE(2, 3));
    tg_tensor *expanded = tg_view_expand(tg_zeros(TG_SHAPE(1, 3)), TG_SHAPE(2, 3));
    expect_failure(tg_kernel_unary(TG_UNARY_EXP, expanded, x, NULL, false) == -1,
                   "exp: output [2,3] has expanded axes, so its elements overlap");
    expect_failure(tg_kernel_softmax(expanded, x, 1, false) == -1, "softmax: output [2,3] has expanded axes");
    expect_failure(tg_kernel_sum_to(tg_view_expand(tg_zeros(TG_SHAPE(1, 1)), TG_SHAPE(2, 1)), x, 1, false) == -1,
                   "sum: output [2,1] has expanded axes");
    expect_failure(tg_kernel_matmul(expanded, x, tg_view_expand(tg_zeros(TG_SHAPE(1, 1)), TG_SHAPE(3, 3)), 1, 0) == -1,
                   "matmul: output [2,3] has overlapping elements");
    expect_failure(tg_kernel_gather(expanded, x, 1, tg_zeros(TG_SHAPE(2, 3))) == -1, "gather: output [2,3] has expanded axes");
}

Test(errors, bad_parameters)
{
    tg_rng rng = tg_rng_new(0);
    expect_failure(tg_tensor_rand(TG_SHAPE(2), NULL) == NULL, "tensor_uniform_: the random generator is NULL");
    expect_failure(tg_randn(TG_SHAPE(2), NULL) == NULL, "randn: the random generator is NULL");
    expect_failure(tg_tensor_bernoulli(TG_SHAPE(2), 1.5f, &rng) == NULL, "tensor_bernoulli: probability 1.5 is outside [0, 1]");
    expect_failure(tg_bernoulli(TG_SHAPE(2), NAN, &rng) == NULL, "bernoulli: probability nan is outside [0, 1]");
    expect_failure(tg_tensor_from_array(TG_SHAPE(2), NULL) == NULL, "tensor_from_array: values is NULL");
    expect_failure(tg_kernel_norm_to(tg_empty(TG_SCALAR), tg_ones(TG_SHAPE(3)), -1) == -1,
                   "norm: [3]: order p = -1 must be positive");
    expect_failure(tg_kernel_unary((tg_unary_op)99, tg_empty(TG_SHAPE(1)), tg_ones(TG_SHAPE(1)), NULL, false) == -1,
                   "unary: unknown operation 99");
    expect_failure(tg_kernel_max_to(tg_empty(TG_SHAPE(2, 1)), tg_empty(TG_SHAPE(2, 0))) == -1,
                   "max: [2,0]: cannot reduce over an empty dimension");
    expect_failure(tg_tensor_to_array(tg_ones(TG_SHAPE(1)), NULL) == -1, "tensor_to_array: output array is NULL");
}

/* The debugging switch turns the first error into an abort with the
 * message on stderr. */
Test(errors, abort_mode_aborts_on_the_first_error, .signal = SIGABRT)
{
    tg_error_set_abort(true);
    tg_view_reshape(tg_zeros(TG_SHAPE(2)), TG_SHAPE(3));
}
