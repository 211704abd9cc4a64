/* The gradient of a view (select, narrow, reshape) lies inside its input's
 * gradient, which is zeroed lazily: the views write their parts first, and
 * what none of them wrote is zeroed before anything else reads or adds to
 * it (autograd/grad.c, "Gradients zeroed lazily"). Every test fills graph
 * memory with 1e6 (or NaN) first, as a buffer reused from an earlier step
 * would hold, so a part left unzeroed shows in the gradients. */
#include "support.h"

TestSuite(view_grads, .init = tg_test_setup, .fini = tg_test_teardown);

/* x, [4, 3], requiring a gradient, and h = 2 x: the intermediate whose
 * gradient the views share. */
typedef struct step_graph {
    tg_tensor *x, *h;
} step_graph;

/* Graph memory filled with `junk`, then x and h. */
static step_graph new_step_graph(float junk)
{
    cr_assert_not_null(tg_full(TG_SHAPE(1 << 14), junk), "%s", tg_error_message());
    tg_graph_reset();
    tg_tensor *x = tg_test_owned_leaf(TG_SHAPE(4, 3), (float[]){ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 });
    return (step_graph){ x, tg_mul_scalar(x, 2.0f) };
}

/* (t + 1) sum(h[t]): step t's part of the gradient of h is t + 1. */
static tg_tensor *weighted_step(tg_tensor *h, int t)
{
    return tg_mul_scalar(tg_sum_all(tg_select(h, 0, t)), (float)(t + 1));
}

/* The sum of the weighted steps, recorded in the order given: backward
 * reaches them in the reverse order. */
static tg_tensor *sum_of_steps(tg_tensor *h, const int *steps, int n)
{
    tg_tensor *loss = weighted_step(h, steps[0]);
    for (int k = 1; k < n; k++)
        loss = tg_add(loss, weighted_step(h, steps[k]));
    return loss;
}

/* x's gradient, 2 d(loss)/dh, when step t's rows of d(loss)/dh are
 * per_step[t]. */
static void assert_step_grads(const tg_tensor *x, const float per_step[4])
{
    float expected[12];
    for (int i = 0; i < 12; i++)
        expected[i] = 2.0f * per_step[i / 3];
    tg_assert_values(tg_grad(x), expected, 12, 0.0f);
}

static void backward_over_steps(const int *steps, int n, const float per_step[4])
{
    step_graph st = new_step_graph(1e6f);
    tg_tensor *x = st.x, *h = st.h;
    cr_assert_eq(tg_backward(sum_of_steps(h, steps, n)), 0, "%s", tg_error_message());
    assert_step_grads(x, per_step);
    tg_tensor_free(x);
}

Test(view_grads, every_step_gets_its_part_in_either_order)
{
    backward_over_steps((int[]){ 0, 1, 2, 3 }, 4, (float[]){ 1, 2, 3, 4 });
    tg_graph_reset();
    backward_over_steps((int[]){ 3, 2, 1, 0 }, 4, (float[]){ 1, 2, 3, 4 });
}

Test(view_grads, steps_no_view_reads_get_zero)
{
    /* Adjacent parts, the rest zeroed when h's own backward reads it. */
    backward_over_steps((int[]){ 2, 3 }, 2, (float[]){ 0, 0, 3, 4 });
    tg_graph_reset();
    /* A gap between the parts: the second one zeroes the rest first. */
    backward_over_steps((int[]){ 1, 3 }, 2, (float[]){ 0, 2, 0, 4 });
    tg_graph_reset();
    backward_over_steps((int[]){ 0 }, 1, (float[]){ 1, 0, 0, 0 });
}

Test(view_grads, a_step_read_twice_gets_both_parts)
{
    backward_over_steps((int[]){ 2, 2, 3 }, 3, (float[]){ 0, 0, 6, 4 });
    tg_graph_reset();
    backward_over_steps((int[]){ 1, 2, 1, 0 }, 4, (float[]){ 1, 4, 3, 0 });
}

Test(view_grads, a_direct_use_of_the_input_adds_to_the_parts_either_way)
{
    for (int direct_first = 0; direct_first < 2; direct_first++) {
        step_graph st = new_step_graph(1e6f);
        tg_tensor *x = st.x, *h = st.h;
        /* 10 sum(h), recorded before the steps (its backward runs after
         * theirs) or after them (before). */
        tg_tensor *direct = direct_first ? tg_mul_scalar(tg_sum_all(h), 10.0f) : NULL;
        tg_tensor *loss = sum_of_steps(h, (int[]){ 2, 3 }, 2);
        if (!direct_first)
            direct = tg_mul_scalar(tg_sum_all(h), 10.0f);
        cr_assert_eq(tg_backward(tg_add(loss, direct)), 0, "%s", tg_error_message());
        assert_step_grads(x, (float[]){ 10, 10, 13, 14 });
        tg_tensor_free(x);
        tg_graph_reset();
    }
}

Test(view_grads, column_views_get_their_columns_and_zero_elsewhere)
{
    step_graph st = new_step_graph(1e6f);
    tg_tensor *x = st.x, *h = st.h;
    /* Columns are not contiguous in h's gradient. */
    tg_tensor *loss = tg_add(tg_sum_all(tg_select(h, 1, 0)), tg_mul_scalar(tg_sum_all(tg_select(h, 1, 2)), 3.0f));
    cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(x), ((float[]){ 2, 0, 6, 2, 0, 6, 2, 0, 6, 2, 0, 6 }), 12, 0.0f);
    tg_tensor_free(x);
}

Test(view_grads, the_gradient_with_respect_to_the_input_itself_is_zero_where_no_view_reads)
{
    step_graph st = new_step_graph(1e6f);
    tg_tensor *x = st.x, *h = st.h;
    tg_tensor *loss = sum_of_steps(h, (int[]){ 2, 3 }, 2);
    tg_tensor *grad_h = NULL;
    cr_assert_eq(tg_autograd_grad(&loss, 1, &h, 1, &grad_h, (tg_grad_config){ 0 }), 0, "%s", tg_error_message());
    tg_assert_values(grad_h, ((float[]){ 0, 0, 0, 0, 0, 0, 3, 3, 3, 4, 4, 4 }), 12, 0.0f);
    cr_assert_null(tg_grad(x), "tg_autograd_grad adds nothing to x's own gradient");
    tg_tensor_free(x);
}

Test(view_grads, a_second_backward_through_the_same_graph_starts_from_zero_again)
{
    step_graph st = new_step_graph(1e6f);
    tg_tensor *x = st.x, *h = st.h;
    tg_tensor *loss = sum_of_steps(h, (int[]){ 1, 3 }, 2);
    cr_assert_eq(tg_backward_with(loss, (tg_backward_config){ .retain_graph = true }), 0, "%s", tg_error_message());
    cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
    /* x's gradient adds up over the two; h's starts from zero in each. */
    assert_step_grads(x, (float[]){ 0, 4, 0, 8 });
    tg_tensor_free(x);
}

/* ---- Ops whose rules stop early or pass nothing -------------------------------------------- */

static int failures_left;

/* The identity, whose backward fails while failures_left > 0. */
static int fail_first_backward(tg_node *node, tg_tensor *grad)
{
    if (failures_left > 0) {
        failures_left--;
        return tg_error_set("fail_first: backward refused");
    }
    return tg_grad_accumulate(node->in[0], grad);
}

static const tg_op fail_first_op = { .name = "fail_first", .backward = fail_first_backward };

/* The identity, whose rule passes no gradient to its input (as a
 * straight-through stop would). */
static int pass_nothing_backward(tg_node *node, tg_tensor *grad)
{
    (void)node;
    (void)grad;
    return 0;
}

static const tg_op pass_nothing_op = { .name = "pass_nothing", .backward = pass_nothing_backward };

static tg_tensor *identity_op(const tg_op *op, tg_tensor *x)
{
    tg_tensor *out = tg_copy_to_graph(x);
    return out && tg_record(op, out, &x, 1, NULL) == 0 ? out : NULL;
}

Test(view_grads, a_backward_that_failed_part_way_leaves_nothing_pending_for_the_next)
{
    step_graph st = new_step_graph(1e6f);
    tg_tensor *x = st.x, *h = st.h;
    /* sum(h) through the failing op, recorded before the step: the step
     * writes its part of h's gradient, then the pass stops. */
    tg_tensor *through = tg_sum_all(identity_op(&fail_first_op, h));
    tg_tensor *loss = tg_add(through, sum_of_steps(h, (int[]){ 3 }, 1));
    failures_left = 1;
    cr_assert_eq(tg_backward_with(loss, (tg_backward_config){ .retain_graph = true }), -1);
    tg_assert_error("fail_first: backward refused");
    tg_error_clear();
    tg_zero_grad(x);
    cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
    assert_step_grads(x, (float[]){ 1, 1, 1, 5 });
    tg_tensor_free(x);
}

Test(view_grads, anomaly_mode_reads_no_part_the_views_left_unwritten)
{
    /* NaN in graph memory: an unzeroed part would be reported. */
    step_graph st = new_step_graph(NAN);
    tg_tensor *x = st.x, *h = st.h;
    tg_set_anomaly_mode(true);
    /* Anomaly mode checks h's gradient once the op's rule has run; the rule
     * writes none of it. */
    tg_tensor *unused = tg_sum_all(identity_op(&pass_nothing_op, h));
    tg_tensor *loss = tg_add(unused, sum_of_steps(h, (int[]){ 3 }, 1));
    cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
    assert_step_grads(x, (float[]){ 0, 0, 0, 4 });
    tg_set_anomaly_mode(false);
    tg_tensor_free(x);
}
