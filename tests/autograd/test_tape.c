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
