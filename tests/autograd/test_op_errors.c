/* Bad input through the ops: each kind returns NULL with one message
 * naming the op and the shapes; a NULL input returns NULL without a
 * message of its own, so a chain of ops reports only its first failure. */
#include "support.h"

TestSuite(op_errors, .init = tg_test_setup, .fini = tg_test_teardown);

static tg_tensor *tensor(tg_shape shape)
{
    tg_tensor *t = tg_ones(shape);
    cr_assert_not_null(t, "%s", tg_error_message());
    tg_set_requires_grad(t, true);
    return t;
}

/* Asserts that result is NULL and that the one recorded message holds
 * every fragment; then clears it for the next case. */
#define assert_fails(result, ...)                                                          \
    do {                                                                                   \
        cr_assert_null((result), "expected NULL");                                        \
        const char *fragments_[] = { __VA_ARGS__ };                                        \
        for (size_t i_ = 0; i_ < sizeof fragments_ / sizeof fragments_[0]; i_++)           \
            tg_assert_error(fragments_[i_]);                                               \
        tg_error_clear();                                                                  \
    } while (0)

Test(op_errors, shape_mismatch)
{
    tg_tensor *a = tensor(TG_SHAPE(2, 3)), *b = tensor(TG_SHAPE(4));
    assert_fails(tg_add(a, b), "add:", "[2,3]", "[4]");
    assert_fails(tg_where(tensor(TG_SHAPE(5)), a, a), "where:", "[5]", "[2,3]");
    assert_fails(tg_matmul(a, tensor(TG_SHAPE(4, 5))), "matmul: [2,3] x [4,5]: inner dimensions 3 and 4 differ");
    assert_fails(tg_matmul(b, a), "matmul: [4] x [2,3]");
    assert_fails(tg_addmm(tensor(TG_SHAPE(5)), a, tensor(TG_SHAPE(3, 2))), "addmm:", "[5]", "[2,2]");
    assert_fails(tg_affine(a, tensor(TG_SHAPE(2, 3)), tensor(TG_SHAPE(3))), "affine:", "[3]", "[2,2]");
    assert_fails(tg_concat((tg_tensor *[]){ a, tensor(TG_SHAPE(2, 2)) }, 2, 0), "concat:", "[2,2]", "[2,3]");
    assert_fails(tg_stack((tg_tensor *[]){ a, tensor(TG_SHAPE(3, 2)) }, 2, 0), "stack:", "[3,2]", "[2,3]");
    assert_fails(tg_expand(a, TG_SHAPE(2, 4)), "expand:", "[2,3]", "[2,4]");
    cr_assert_eq(tg_split(a, 1, (int64_t[]){ 1, 1 }, 2, (tg_tensor *[2]){ 0 }), -1);
    tg_assert_error("split:");
    tg_assert_error("[2,3]");
    tg_error_clear();
    cr_assert_eq(tg_backward_with_grad(tg_exp(a), b), -1);
    tg_assert_error("backward: gradient [4] does not match the tensor [2,3]");
}

Test(op_errors, wrong_rank)
{
    tg_tensor *x = tensor(TG_SHAPE(2, 3));
    assert_fails(tg_affine(x, tensor(TG_SHAPE(3)), NULL), "affine:", "[2,3]", "[3]");
    assert_fails(tg_matmul(tensor(TG_SCALAR), x), "matmul: [] x [2,3]");
    assert_fails(tg_addmm(x, tensor(TG_SHAPE(3)), tensor(TG_SHAPE(3, 2))), "addmm:", "[3]", "[3,2]");
    assert_fails(tg_index_select(x, 0, tg_zeros(TG_SHAPE(1, 1))), "index_select:", "[1,1]");
    assert_fails(tg_gather(x, 1, tg_zeros(TG_SHAPE(2))), "gather:", "[2]", "[2,3]");
    assert_fails(tg_squeeze(x, 0), "squeeze:", "[2,3]");
    assert_fails(tg_sum(x, TG_AXES(2), false), "sum:", "dimension 2");
    assert_fails(tg_softmax(x, -3), "softmax:", "dimension -3");
}

Test(op_errors, null_inputs_return_null_and_the_first_names_itself)
{
    tg_tensor *x = tensor(TG_SHAPE(2, 2)), *index = tg_zeros(TG_SHAPE(2, 2));
    tg_tensor *(*const unary[])(tg_tensor *) = {
        tg_neg, tg_abs, tg_exp, tg_log, tg_log1p, tg_sqrt, tg_rsqrt, tg_square, tg_reciprocal, tg_sign,
        tg_tanh, tg_sigmoid, tg_relu, tg_gelu, tg_softplus, tg_sin, tg_cos, tg_sum_all, tg_mean_all,
        tg_contiguous, tg_clone, tg_detach,
    };
    for (size_t i = 0; i < sizeof unary / sizeof unary[0]; i++)
        cr_assert_null(unary[i](NULL), "unary op %zu", i);
    tg_tensor *(*const with_scalar[])(tg_tensor *, float) = {
        tg_leaky_relu, tg_pow_scalar, tg_add_scalar, tg_sub_scalar, tg_mul_scalar, tg_div_scalar,
        tg_eq_scalar, tg_ne_scalar, tg_lt_scalar, tg_le_scalar, tg_gt_scalar, tg_ge_scalar,
    };
    for (size_t i = 0; i < sizeof with_scalar / sizeof with_scalar[0]; i++)
        cr_assert_null(with_scalar[i](NULL, 1.0f), "scalar op %zu", i);
    cr_assert_null(tg_scalar_sub(1, NULL));
    cr_assert_null(tg_scalar_div(1, NULL));
    cr_assert_null(tg_scalar_pow(1, NULL));
    cr_assert_null(tg_clamp(NULL, 0, 1));
    tg_tensor *(*const binary[])(tg_tensor *, tg_tensor *) = {
        tg_add, tg_sub, tg_mul, tg_div, tg_pow, tg_maximum, tg_minimum,
        tg_eq, tg_ne, tg_lt, tg_le, tg_gt, tg_ge, tg_matmul,
    };
    for (size_t i = 0; i < sizeof binary / sizeof binary[0]; i++) {
        cr_assert_null(binary[i](NULL, x), "binary op %zu", i);
        cr_assert_null(binary[i](x, NULL), "binary op %zu", i);
    }
    tg_tensor *(*const reduce[])(tg_tensor *, tg_axes, bool) = { tg_sum, tg_mean, tg_amax, tg_amin, tg_logsumexp };
    for (size_t i = 0; i < sizeof reduce / sizeof reduce[0]; i++)
        cr_assert_null(reduce[i](NULL, TG_AXES(0), false), "reduction %zu", i);
    tg_tensor *indices = x;
    cr_assert_null(tg_max(NULL, 0, false, &indices));
    cr_assert_null(indices, "the indices are NULL too");
    cr_assert_null(tg_min(NULL, 0, false, NULL));
    cr_assert_null(tg_var(NULL, TG_ALL_AXES, 1, false));
    cr_assert_null(tg_norm(NULL, 2, TG_ALL_AXES, false));
    cr_assert_null(tg_argmax(NULL, 0, false));
    cr_assert_null(tg_argmin(NULL, 0, false));
    cr_assert_null(tg_where(NULL, x, x));
    cr_assert_null(tg_where(x, NULL, x));
    cr_assert_null(tg_where(x, x, NULL));
    cr_assert_null(tg_addmm(NULL, x, x));
    cr_assert_null(tg_addmm(x, NULL, x));
    cr_assert_null(tg_addmm(x, x, NULL));
    cr_assert_null(tg_affine(NULL, x, x));
    cr_assert_null(tg_affine(x, NULL, x));
    cr_assert_null(tg_reshape(NULL, TG_SHAPE(4)));
    cr_assert_null(tg_flatten(NULL, 0, -1));
    cr_assert_null(tg_permute(NULL, (int[]){ 1, 0 }));
    cr_assert_null(tg_transpose(NULL, 0, 1));
    cr_assert_null(tg_slice(NULL, 0, 0, 1, 1));
    cr_assert_null(tg_narrow(NULL, 0, 0, 1));
    cr_assert_null(tg_select(NULL, 0, 0));
    cr_assert_null(tg_expand(NULL, TG_SHAPE(2, 2)));
    cr_assert_null(tg_squeeze(NULL, 0));
    cr_assert_null(tg_unsqueeze(NULL, 0));
    cr_assert_null(tg_concat((tg_tensor *[]){ x, NULL }, 2, 0));
    cr_assert_null(tg_stack((tg_tensor *[]){ NULL, x }, 2, 0));
    tg_tensor *pieces[2];
    cr_assert_eq(tg_split(NULL, 0, (int64_t[]){ 1, 1 }, 2, pieces), -1);
    cr_assert_eq(tg_chunk(NULL, 2, 0, pieces), -1);
    cr_assert_null(tg_index_select(NULL, 0, tg_zeros(TG_SHAPE(1))));
    cr_assert_null(tg_index_select(x, 0, NULL));
    cr_assert_null(tg_gather(NULL, 0, index));
    cr_assert_null(tg_gather(x, 0, NULL));
    cr_assert_null(tg_scatter_add(NULL, 0, index, x));
    cr_assert_null(tg_scatter_add(x, 0, NULL, x));
    cr_assert_null(tg_scatter_add(x, 0, index, NULL));
    cr_assert_null(tg_one_hot(NULL, 3));
    cr_assert_null(tg_softmax(NULL, 0));
    cr_assert_null(tg_log_softmax(NULL, 0));
    cr_assert_eq(tg_backward(NULL), -1);
    cr_assert_eq(tg_backward_with_grad(NULL, x), -1);
    cr_assert_eq(tg_backward_with_grad(x, NULL), -1);
    tg_assert_error("neg: an input is NULL, and no error was recorded before it");
}

Test(op_errors, index_out_of_range)
{
    tg_tensor *x = tensor(TG_SHAPE(2, 3));
    assert_fails(tg_select(x, 0, 5), "select:", "[2,3]", "index 5");
    assert_fails(tg_select(x, 1, -4), "select:", "[2,3]", "index -4");
    assert_fails(tg_narrow(x, 1, 2, 2), "narrow:", "[2,3]");
    assert_fails(tg_index_select(x, 1, tg_from_array(TG_SHAPE(2), (float[]){ 0, 3 })), "index_select:",
                 "index 3", "[2]", "[0, 3)");
    assert_fails(tg_gather(x, 0, tg_from_array(TG_SHAPE(1, 2), (float[]){ 1, 2 })), "gather:", "index 2",
                 "[1,2]", "[0, 2)");
    assert_fails(tg_scatter_add(x, 1, tg_from_array(TG_SHAPE(1, 1), (float[]){ 1.5f }), tg_zeros(TG_SHAPE(1, 1))),
                 "scatter_add:", "1.5", "not a whole number");
    assert_fails(tg_one_hot(tg_from_array(TG_SHAPE(2), (float[]){ 0, 4 }), 4), "one_hot:", "index 4", "[2]");
    assert_fails(tg_max(x, 2, false, NULL), "max:", "dimension 2");
}

Test(op_errors, reshape_to_a_wrong_size)
{
    tg_tensor *x = tensor(TG_SHAPE(2, 3));
    assert_fails(tg_reshape(x, TG_SHAPE(4)), "reshape: [2,3] to [4]: 6 elements cannot become 4");
    assert_fails(tg_reshape(tg_transpose(x, 0, 1), TG_SHAPE(5, -1)), "reshape: [3,2] to [5,-1]");
    assert_fails(tg_reshape(x, TG_SHAPE(-1, -1)), "reshape: [2,3] to [-1,-1]");
    assert_fails(tg_flatten(x, 1, 0), "flatten:");
}

Test(op_errors, element_count_overflow)
{
    const int64_t big = INT64_C(1) << 40;
    tg_tensor *x = tensor(TG_SHAPE(1, 1));
    assert_fails(tg_expand(x, TG_SHAPE(big, big)), "expand:", "overflows", "[1099511627776,1099511627776]");
    assert_fails(tg_reshape(x, TG_SHAPE(big, big, -1)), "reshape:", "overflows",
                 "[1,1] to [1099511627776,1099511627776,-1]");
    assert_fails(tg_zeros(TG_SHAPE(big, big)), "overflows", "[1099511627776,1099511627776]");
}

static tg_tensor *ten_ops(tg_tensor *y, tg_tensor *w)
{
    y = tg_exp(y);
    y = tg_matmul(y, w);
    y = tg_transpose(y, 0, 1);
    y = tg_softmax(y, 0);
    y = tg_add(y, w);
    y = tg_concat((tg_tensor *[]){ y, w }, 2, 0);
    y = tg_slice(y, 0, 0, 2, 1);
    y = tg_affine(y, w, NULL);
    y = tg_sum(y, TG_AXES(1), false);
    return tg_mean_all(y);
}

Test(op_errors, a_null_along_a_chain_of_ops_gives_only_the_first_message)
{
    tg_tensor *x = tensor(TG_SHAPE(2, 3)), *w = tensor(TG_SHAPE(2, 2));
    tg_tensor *loss = ten_ops(tg_reshape(x, TG_SHAPE(2, 2)), w);
    cr_assert_null(loss);
    cr_assert_eq(tg_backward(loss), -1);
    cr_assert_str_eq(tg_error_message(), "reshape: [2,3] to [2,2]: 6 elements cannot become 4");
    /* A NULL with no error before it is named by the first op it reaches. */
    tg_error_clear();
    cr_assert_null(ten_ops(NULL, w));
    tg_assert_error("an input is NULL, and no error was recorded before it");
    /* The same chain on good input works. */
    cr_assert_not_null(ten_ops(tg_reshape(tg_narrow(x, 1, 0, 2), TG_SHAPE(2, 2)), w), "%s", tg_error_message());
}
