/* New differentiable ops defined from outside the library, through the
 * installed headers (autograd/autograd.h, and the op author's
 * autograd/kernel.h for rules written with kernels): forward with tg_map and a
 * TG_MAP_ROW_* row function, tg_record, a saved context, and backward rules
 * built on tg_grad_map, tg_grad_accumulate and tg_grad_target (first order
 * only: checked with tg_gradcheck, and a deliberately wrong rule must fail
 * it), and one written with ops, which differentiates again. */
#include <tapegrad.h>

#include "autograd/check.h"
#include <autograd/kernel.h>

TestSuite(custom_op, .init = tg_test_setup, .fini = tg_test_teardown);

/* ---- softclip(x, limit) = limit * tanh(x / limit), the limit saved ------------- */

typedef struct softclip_context {
    float limit;
} softclip_context;

TG_MAP_ROW_1(row_softclip, p[0] * tanhf(a / p[0]))
/* grad, y (limit in p[0]): d/dx = 1 - (y / limit)^2 */
TG_MAP_ROW_2(row_softclip_backward, a * (1.0f - (b / p[0]) * (b / p[0])))

static int softclip_backward(tg_node *node, tg_tensor *grad)
{
    const softclip_context *context = node->saved;
    const tg_tensor *in[2] = { grad, node->out };
    return tg_grad_map(node->in[0], grad, 2, in, row_softclip_backward, &context->limit);
}

static const tg_op softclip_op = { .name = "softclip", .backward = softclip_backward };

static tg_tensor *softclip(tg_tensor *x, float limit)
{
    if (!x)
        return NULL;
    tg_tensor *out = tg_empty(tg_tensor_shape(x));
    if (!out || tg_map("softclip", out, 1, (const tg_tensor *[]){ x }, row_softclip, &limit, false) != 0)
        return NULL;
    tg_node *node;
    if (tg_record(&softclip_op, out, &x, 1, &node) != 0)
        return NULL;
    if (node) {
        softclip_context *context = tg_node_save(node, sizeof *context);
        if (!context)
            return NULL;
        context->limit = limit;
    }
    return out;
}

/* ---- fma(x, w, b) = x * w + b, all three broadcast ------------------------------- */

TG_MAP_ROW_3(row_fma, a * b + c)
TG_MAP_ROW_2(row_times, a * b) /* grad, the other factor */

static int fma_backward(tg_node *node, tg_tensor *grad)
{
    tg_tensor *x = node->in[0], *w = node->in[1], *b = node->in[2];
    if (tg_grad_map(x, grad, 2, (const tg_tensor *[]){ grad, w }, row_times, NULL) != 0 ||
        tg_grad_map(w, grad, 2, (const tg_tensor *[]){ grad, x }, row_times, NULL) != 0)
        return -1;
    return tg_grad_accumulate(b, grad);
}

static const tg_op fma_op = { .name = "fma", .backward = fma_backward };

static tg_tensor *fma3(tg_tensor *x, tg_tensor *w, tg_tensor *b)
{
    if (!x || !w || !b)
        return NULL;
    tg_shape xw, shape;
    if (!tg_broadcast_shapes(tg_tensor_shape(x), tg_tensor_shape(w), &xw, "fma") ||
        !tg_broadcast_shapes(xw, tg_tensor_shape(b), &shape, "fma"))
        return NULL;
    tg_tensor *out = tg_empty(shape);
    if (!out || tg_map("fma", out, 3, (const tg_tensor *[]){ x, w, b }, row_fma, NULL, false) != 0)
        return NULL;
    tg_tensor *in[3] = { x, w, b };
    return tg_record(&fma_op, out, in, 3, NULL) == 0 ? out : NULL;
}

/* ---- cumsum along the last axis: loops over contiguous memory --------------------- */

static int cumsum_backward(tg_node *node, tg_tensor *grad)
{
    /* dx_i = sum of g_j for j >= i along the axis, computed by loops over
     * contiguous memory and handed to the target (which may be strided)
     * with a kernel. */
    bool accumulate;
    tg_tensor *target = tg_grad_target(node->in[0], &accumulate);
    if (!target)
        return tg_requires_grad(node->in[0]) ? -1 : 0;
    const tg_tensor *g = tg_view_contiguous(grad);
    tg_tensor *dx = g ? tg_empty(tg_tensor_shape(grad)) : NULL;
    if (!dx)
        return -1;
    int64_t n = grad->ndim ? grad->shape[grad->ndim - 1] : 1;
    for (int64_t row = 0; n && row < grad->numel / n; row++) {
        float total = 0.0f;
        for (int64_t i = n - 1; i >= 0; i--)
            dx->data[row * n + i] = total += g->data[row * n + i];
    }
    return tg_kernel_copy(target, dx, accumulate);
}

static const tg_op cumsum_op = { .name = "cumsum", .backward = cumsum_backward };

static tg_tensor *cumsum(tg_tensor *x)
{
    if (!x)
        return NULL;
    /* The values of x, contiguous: a raw view needs x detached, since x
     * may require a gradient. */
    tg_tensor *c = tg_view_contiguous(tg_detach(x));
    tg_tensor *out = c ? tg_empty(tg_tensor_shape(x)) : NULL;
    if (!out)
        return NULL;
    int64_t n = x->ndim ? x->shape[x->ndim - 1] : 1;
    for (int64_t row = 0; n && row < x->numel / n; row++) {
        float total = 0.0f;
        for (int64_t i = 0; i < n; i++)
            out->data[row * n + i] = total += c->data[row * n + i];
    }
    return tg_record(&cumsum_op, out, &x, 1, NULL) == 0 ? out : NULL;
}

/* ---- Checks --------------------------------------------------------------------------- */

static tg_tensor *apply_softclip(tg_tensor *const *in, void *user)
{
    (void)user;
    /* Used twice, and on a transposed view. */
    return tg_add(tg_mul(softclip(in[0], 1.5f), in[0]), softclip(view_transposed(in[1]), 0.7f));
}

Test(custom_op, softclip_with_a_saved_context)
{
    tg_tensor *in[2] = { make_leaf(TG_SHAPE(3, 4), FILL_ANY, 1), make_leaf(TG_SHAPE(4, 3), FILL_ANY, 2) };
    assert_first_order_gradcheck(apply_softclip, NULL, in, 2, "softclip");
    tg_tensor *y = softclip(in[0], 1.5f);
    float expected[12];
    for (int i = 0; i < 12; i++)
        expected[i] = 1.5f * tanhf(in[0]->data[i] / 1.5f);
    tg_assert_values(y, expected, 12, 1e-6f);
}

typedef struct fma_case {
    operand x, w, b;
} fma_case;

static tg_tensor *apply_fma(tg_tensor *const *in, void *user)
{
    const fma_case *c = user;
    return fma3(c->x.view(in[0]), c->w.view(in[1]), c->b.view(in[2]));
}

Test(custom_op, fma_under_broadcasting_and_views)
{
    const fma_case cases[] = {
        { { "x", TG_SHAPE(3, 4), view_same }, { "w", TG_SHAPE(4), view_same }, { "b", TG_SHAPE(3, 1), view_same } },
        { { "x", TG_SCALAR, view_same }, { "w", TG_SHAPE(2, 3), view_same }, { "b", TG_SCALAR, view_same } },
        { { "x", TG_SHAPE(4, 3), view_transposed }, { "w", TG_SHAPE(3, 9), view_step_sliced },
          { "b", TG_SHAPE(1, 4), view_expanded } },
    };
    for (int i = 0; i < 3; i++) {
        tg_tensor *in[3] = { make_leaf(cases[i].x.leaf, FILL_ANY, 10 + (uint64_t)i),
                             make_leaf(cases[i].w.leaf, FILL_ANY, 20 + (uint64_t)i),
                             make_leaf(cases[i].b.leaf, FILL_ANY, 30 + (uint64_t)i) };
        char what[32];
        snprintf(what, sizeof what, "fma case %d", i);
        assert_first_order_gradcheck(apply_fma, (void *)&cases[i], in, 3, what);
    }
}

static tg_tensor *apply_cumsum(tg_tensor *const *in, void *user)
{
    (void)user;
    /* Used twice: the rule must add to the gradient the first use left. */
    return tg_mul(cumsum(view_transposed(in[0])), cumsum(tg_square(view_transposed(in[0]))));
}

Test(custom_op, cumsum_writing_the_gradient_buffer_directly)
{
    tg_tensor *x = make_leaf(TG_SHAPE(4, 3), FILL_ANY, 3);
    assert_first_order_gradcheck(apply_cumsum, NULL, &x, 1, "cumsum");
    tg_tensor *y = cumsum(leaf_of(TG_SHAPE(2, 3), (float[]){ 1, 2, 3, 4, 5, 6 }));
    tg_assert_values(y, ((float[]){ 1, 3, 6, 4, 9, 15 }), 6, 0.0f);
}

Test(custom_op, a_custom_op_records_only_when_a_gradient_is_needed)
{
    tg_tensor *c = tg_from_array(TG_SHAPE(2), (float[]){ 1, 2 });
    size_t before = tg_graph_size();
    cr_assert(!tg_requires_grad(softclip(c, 1.0f)));
    tg_tensor *x = leaf_of(TG_SHAPE(2), (float[]){ 1, 2 });
    tg_no_grad_begin();
    cr_assert(!tg_requires_grad(softclip(x, 1.0f)));
    tg_no_grad_end();
    cr_assert_eq(tg_graph_size(), before);
    cr_assert(tg_requires_grad(softclip(x, 1.0f)));
    cr_assert_eq(tg_graph_size(), before + 1);
    /* A NULL input passes through silently, a bad shape names the op. */
    cr_assert_null(fma3(NULL, x, x));
    cr_assert(!tg_error_occurred());
    cr_assert_null(fma3(x, tg_zeros(TG_SHAPE(3)), x));
    tg_assert_error("fma: shapes [2] and [3] do not broadcast");
}

/* ---- A wrong backward rule ------------------------------------------------------------- */

TG_MAP_ROW_1(row_cube_value, a * a * a)
/* grad, x: 3 x^2, wrong by one gradient wherever x > 1. */
TG_MAP_ROW_2(row_cube_wrong_backward, a * (3.0f * b * b + (b > 1.0f ? 1.0f : 0.0f)))

static int wrong_cube_backward(tg_node *node, tg_tensor *grad)
{
    const tg_tensor *in[2] = { grad, node->in[0] };
    return tg_grad_map(node->in[0], grad, 2, in, row_cube_wrong_backward, NULL);
}

static const tg_op wrong_cube_op = { .name = "wrong_cube", .backward = wrong_cube_backward };

static tg_tensor *wrong_cube(tg_tensor *x)
{
    tg_tensor *out = tg_empty(tg_tensor_shape(x));
    if (!out || tg_map("wrong_cube", out, 1, (const tg_tensor *[]){ x }, row_cube_value, NULL, false) != 0)
        return NULL;
    return tg_record(&wrong_cube_op, out, &x, 1, NULL) == 0 ? out : NULL;
}

static tg_tensor *apply_wrong_cube(tg_tensor *const *in, void *user)
{
    (void)user;
    return tg_add(wrong_cube(in[0]), wrong_cube(in[1]));
}

Test(custom_op, gradcheck_locates_the_element_a_wrong_rule_gets_wrong)
{
    tg_tensor *a = leaf_of(TG_SHAPE(3), (float[]){ 0.5f, -0.2f, 0.9f });
    tg_tensor *b = leaf_of(TG_SHAPE(2, 3), (float[]){ 0.1f, 0.3f, -0.7f, 0.2f, 1.2f, 0.4f });
    tg_tensor *in[2] = { a, b };
    tg_gradcheck_result result;
    cr_assert_eq(tg_gradcheck(apply_wrong_cube, NULL, in, 2, NULL, &result), 0, "%s", tg_error_message());
    cr_assert(!result.passed, "%s", result.message);
    cr_assert_eq(result.checked, 9);
    cr_assert_eq(result.worst_input, 1);
    cr_assert_eq(result.worst_index, 4);
    /* The analytic value is w (3 x^2 + 1) and the numeric one w 3 x^2 at
     * x = 1.2, with w the output weight, in [0.5, 1.5]. */
    double w = result.analytic - result.numeric;
    cr_assert(w > 0.45 && w < 1.55, "analytic %g vs numeric %g", result.analytic, result.numeric);
    cr_assert(fabs(result.numeric - w * 3.0 * 1.2 * 1.2) < 1e-2, "numeric %g", result.numeric);
    cr_assert(strstr(result.message, "FAILED") && strstr(result.message, "input 1 element 4"), "%s",
              result.message);
    /* The same check of a correct rule passes. */
    tg_tensor *x = leaf_of(TG_SHAPE(3), (float[]){ 0.5f, -0.2f, 0.9f });
    tg_tensor *y = leaf_of(TG_SHAPE(2, 3), (float[]){ 0.1f, 0.3f, -0.7f, 0.2f, 0.6f, 0.4f });
    cr_assert_eq(tg_gradcheck(apply_wrong_cube, NULL, (tg_tensor *[]){ x, y }, 2, NULL, &result), 0);
    cr_assert(result.passed, "%s", result.message);
}

static tg_tensor *apply_identity(tg_tensor *const *in, void *user)
{
    (void)user;
    return tg_mul_scalar(in[0], 2.0f);
}

Test(custom_op, gradcheck_refuses_inputs_it_cannot_perturb)
{
    tg_tensor *x = leaf_of(TG_SHAPE(2, 3), (float[]){ 1, 2, 3, 4, 5, 6 });
    tg_gradcheck_result result;
    tg_tensor *t = tg_transpose(x, 0, 1);
    cr_assert_eq(tg_gradcheck(apply_identity, NULL, &t, 1, NULL, &result), -1);
    tg_assert_error("gradcheck: input 0 must be a contiguous leaf tensor");
    tg_error_clear();
    tg_tensor *e = tg_exp(x);
    cr_assert_eq(tg_gradcheck(apply_identity, NULL, &e, 1, NULL, &result), -1);
    tg_assert_error("gradcheck: input 0 must be a contiguous leaf tensor");
    tg_error_clear();
    cr_assert_eq(tg_gradcheck(apply_identity, NULL, (tg_tensor *[]){ NULL }, 1, NULL, &result), -1);
    tg_assert_error("gradcheck: input 0 is NULL");
}

/* ---- A rule written with ops differentiates again ------------------------------------ */

/* cube(x) = x^3, exactly as autograd.h's "Defining a new op" writes it:
 * the forward with ops in a no-grad scope, the rule with ops. */
static int cube_backward(tg_node *node, tg_tensor *grad)
{
    tg_tensor *x = node->in[0]; /* d/dx x^3 = 3 x^2 */
    return tg_grad_accumulate(x, tg_mul(grad, tg_mul_scalar(tg_square(x), 3.0f)));
}

static const tg_op cube_op = { .name = "cube", .backward = cube_backward, .unread = TG_OP_OUTPUT_UNREAD };

static tg_tensor *cube(tg_tensor *x)
{
    if (tg_check_inputs("cube", 1, &x) != 0)
        return NULL;
    tg_no_grad_begin();
    tg_tensor *out = tg_mul(x, tg_square(x));
    tg_no_grad_end();
    return out && tg_record(&cube_op, out, &x, 1, NULL) == 0 ? out : NULL;
}

static tg_tensor *apply_cube(tg_tensor *const *in, void *user)
{
    (void)user;
    return tg_mul(cube(view_transposed(in[0])), in[1]);
}

Test(custom_op, a_rule_written_with_ops_has_second_derivatives)
{
    tg_tensor *in[2] = { make_leaf(TG_SHAPE(4, 3), FILL_ANY, 5), make_leaf(TG_SHAPE(3, 4), FILL_ANY, 6) };
    assert_gradcheck(apply_cube, NULL, in, 2, "cube");
    /* d2/dx2 x^3 = 6x, through tg_autograd_grad twice. */
    tg_tensor *x = leaf_of(TG_SHAPE(2), (float[]){ 0.5f, -2.0f });
    tg_tensor *g;
    cr_assert_eq(tg_autograd_grad((tg_tensor *[]){ tg_sum_all(cube(x)) }, 1, &x, 1, &g,
                                  (tg_grad_config){ .create_graph = true }), 0, "%s", tg_error_message());
    tg_assert_values(g, ((float[]){ 0.75f, 12.0f }), 2, 1e-6f);
    tg_tensor *h;
    cr_assert_eq(tg_autograd_grad((tg_tensor *[]){ tg_sum_all(g) }, 1, &x, 1, &h, (tg_grad_config){ 0 }), 0,
                 "%s", tg_error_message());
    tg_assert_values(h, ((float[]){ 3.0f, -12.0f }), 2, 1e-6f);
}

Test(custom_op, a_rule_written_with_kernels_refuses_to_create_a_graph)
{
    tg_tensor *x = make_leaf(TG_SHAPE(3), FILL_ANY, 7);
    tg_tensor *loss = tg_sum_all(softclip(x, 1.0f));
    cr_assert_eq(tg_backward_with(loss, (tg_backward_config){ .create_graph = true }), -1);
    cr_assert_str_eq(tg_error_message(),
                     "backward of 'softclip': its rule writes gradients with kernels (tg_grad_target), "
                     "which cannot be recorded; write it with tg_grad_accumulate and ops to "
                     "differentiate it again");
    tg_error_clear();
    cr_assert_null(tg_grad(x), "a failed backward leaves the leaf's gradient as it was");
    /* A first-order backward through it still works. */
    cr_assert_eq(tg_backward(tg_sum_all(softclip(x, 1.0f))), 0, "%s", tg_error_message());
    cr_assert_not_null(tg_grad(x));
}
