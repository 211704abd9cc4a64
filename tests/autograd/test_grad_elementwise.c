/* Gradients of the elementwise ops against central differences: every op
 * on contiguous, size-1, 0-d, transposed, step-sliced, expanded and
 * permuted operands; binary ops under broadcasting in both directions and
 * with a 0-d operand; and an input used twice. */
#include "autograd/check.h"

TestSuite(grad_elementwise, .init = tg_test_setup, .fini = tg_test_teardown);

/* ---- One input -------------------------------------------------------------------- */

static tg_tensor *leaky_relu(tg_tensor *x) { return tg_leaky_relu(x, 0.1f); }
static tg_tensor *pow_3(tg_tensor *x) { return tg_pow_scalar(x, 3.0f); }
static tg_tensor *pow_minus_half(tg_tensor *x) { return tg_pow_scalar(x, -0.5f); }
static tg_tensor *pow_0(tg_tensor *x) { return tg_pow_scalar(x, 0.0f); }
static tg_tensor *clamp(tg_tensor *x) { return tg_clamp(x, -0.5f, 0.5f); }
static tg_tensor *add_scalar(tg_tensor *x) { return tg_add_scalar(x, 0.7f); }
static tg_tensor *sub_scalar(tg_tensor *x) { return tg_sub_scalar(x, 0.7f); }
static tg_tensor *mul_scalar(tg_tensor *x) { return tg_mul_scalar(x, -1.3f); }
static tg_tensor *div_scalar(tg_tensor *x) { return tg_div_scalar(x, 0.8f); }
static tg_tensor *scalar_sub(tg_tensor *x) { return tg_scalar_sub(2.0f, x); }
static tg_tensor *scalar_div(tg_tensor *x) { return tg_scalar_div(2.0f, x); }
static tg_tensor *scalar_pow(tg_tensor *x) { return tg_scalar_pow(2.5f, x); }

typedef struct unary_case {
    const char *name;
    tg_tensor *(*op)(tg_tensor *);
    fill fill;
} unary_case;

static const unary_case unary_cases[] = {
    { "neg", tg_neg, FILL_ANY },
    { "abs", tg_abs, FILL_LADDER },
    { "exp", tg_exp, FILL_ANY },
    { "log", tg_log, FILL_POSITIVE },
    { "log1p", tg_log1p, FILL_POSITIVE },
    { "sqrt", tg_sqrt, FILL_POSITIVE },
    { "rsqrt", tg_rsqrt, FILL_POSITIVE },
    { "square", tg_square, FILL_ANY },
    { "reciprocal", tg_reciprocal, FILL_NONZERO },
    { "sign", tg_sign, FILL_LADDER },
    { "tanh", tg_tanh, FILL_ANY },
    { "sigmoid", tg_sigmoid, FILL_ANY },
    { "relu", tg_relu, FILL_LADDER },
    { "leaky_relu", leaky_relu, FILL_LADDER },
    { "gelu", tg_gelu, FILL_ANY },
    { "softplus", tg_softplus, FILL_ANY },
    { "sin", tg_sin, FILL_ANY },
    { "cos", tg_cos, FILL_ANY },
    { "pow_scalar 3", pow_3, FILL_ANY },
    { "pow_scalar -0.5", pow_minus_half, FILL_POSITIVE },
    { "pow_scalar 0", pow_0, FILL_POSITIVE },
    { "clamp", clamp, FILL_LADDER },
    { "add_scalar", add_scalar, FILL_ANY },
    { "sub_scalar", sub_scalar, FILL_ANY },
    { "mul_scalar", mul_scalar, FILL_ANY },
    { "div_scalar", div_scalar, FILL_ANY },
    { "scalar_sub", scalar_sub, FILL_ANY },
    { "scalar_div", scalar_div, FILL_NONZERO },
    { "scalar_pow", scalar_pow, FILL_ANY },
};
#define UNARY_CASES ((int)(sizeof unary_cases / sizeof unary_cases[0]))

typedef struct unary_check {
    const unary_case *c;
    const operand *x;
} unary_check;

static tg_tensor *apply_unary(tg_tensor *const *in, void *user)
{
    const unary_check *k = user;
    return k->c->op(k->x->view(in[0]));
}

/* op(x) * x: x reaches the product directly and through op. */
static tg_tensor *apply_unary_times_input(tg_tensor *const *in, void *user)
{
    const unary_check *k = user;
    return tg_mul(k->c->op(in[0]), in[0]);
}

Test(grad_elementwise, every_unary_op_on_every_layout)
{
    const operand layouts[] = UNARY_OPERANDS;
    for (int i = 0; i < UNARY_CASES; i++) {
        for (int j = 0; j < (int)(sizeof layouts / sizeof layouts[0]); j++) {
            tg_tensor *x = make_leaf(layouts[j].leaf, unary_cases[i].fill, 100 + (uint64_t)j);
            unary_check k = { &unary_cases[i], &layouts[j] };
            char what[128];
            snprintf(what, sizeof what, "%s on %s", unary_cases[i].name, layouts[j].name);
            assert_gradcheck(apply_unary, &k, &x, 1, what);
        }
    }
}

Test(grad_elementwise, every_unary_op_with_its_input_used_twice)
{
    const operand x_operand = { "x", TG_SHAPE(2, 3), view_same };
    for (int i = 0; i < UNARY_CASES; i++) {
        tg_tensor *x = make_leaf(TG_SHAPE(2, 3), unary_cases[i].fill, 7);
        unary_check k = { &unary_cases[i], &x_operand };
        assert_gradcheck(apply_unary_times_input, &k, &x, 1, unary_cases[i].name);
    }
}

Test(grad_elementwise, relu_and_abs_gradients_are_exact_by_hand)
{
    tg_tensor *x = leaf_of(TG_SHAPE(4), (float[]){ -2.0f, -0.5f, 0.5f, 3.0f });
    cr_assert_eq(tg_backward(tg_sum_all(tg_add(tg_relu(x), tg_mul_scalar(tg_abs(x), 10.0f)))), 0,
                 "%s", tg_error_message());
    tg_assert_values(tg_grad(x), ((float[]){ -10.0f, -10.0f, 11.0f, 11.0f }), 4, 0.0f);
}

/* ---- Two inputs -------------------------------------------------------------------- */

typedef struct binary_case {
    const char *name;
    tg_tensor *(*op)(tg_tensor *, tg_tensor *);
    fill fill_a, fill_b;
} binary_case;

static const binary_case binary_cases[] = {
    { "add", tg_add, FILL_ANY, FILL_ANY },
    { "sub", tg_sub, FILL_ANY, FILL_ANY },
    { "mul", tg_mul, FILL_ANY, FILL_ANY },
    { "div", tg_div, FILL_ANY, FILL_NONZERO },
    { "pow", tg_pow, FILL_POSITIVE, FILL_ANY },
    /* Two ladders that never tie: every pair differs by at least 0.05. */
    { "maximum", tg_maximum, FILL_LADDER, FILL_LADDER_EVEN },
    { "minimum", tg_minimum, FILL_LADDER, FILL_LADDER_EVEN },
};
#define BINARY_CASES ((int)(sizeof binary_cases / sizeof binary_cases[0]))

typedef struct operand_pair {
    const char *name;
    operand a, b;
} operand_pair;

static const operand_pair binary_layouts[] = {
    { "same shape", { "a", TG_SHAPE(3, 4), view_same }, { "b", TG_SHAPE(3, 4), view_same } },
    { "b broadcast", { "a", TG_SHAPE(3, 4), view_same }, { "b", TG_SHAPE(4), view_same } },
    { "a broadcast", { "a", TG_SHAPE(4), view_same }, { "b", TG_SHAPE(3, 4), view_same } },
    { "both broadcast", { "a", TG_SHAPE(3, 1), view_same }, { "b", TG_SHAPE(1, 4), view_same } },
    { "3-d with size-1 axis", { "a", TG_SHAPE(2, 3, 4), view_same }, { "b", TG_SHAPE(3, 1), view_same } },
    { "0-d b", { "a", TG_SHAPE(2, 3), view_same }, { "b", TG_SCALAR, view_same } },
    { "0-d a", { "a", TG_SCALAR, view_same }, { "b", TG_SHAPE(2, 3), view_same } },
    { "both 0-d", { "a", TG_SCALAR, view_same }, { "b", TG_SCALAR, view_same } },
    { "transposed with step-sliced", { "a", TG_SHAPE(4, 3), view_transposed },
      { "b", TG_SHAPE(3, 9), view_step_sliced } },
    { "expanded with transposed", { "a", TG_SHAPE(1, 4), view_expanded },
      { "b", TG_SHAPE(4, 3), view_transposed } },
    { "permuted with broadcast", { "a", TG_SHAPE(2, 3, 4), view_permuted },
      { "b", TG_SHAPE(2, 1), view_same } },
};
#define BINARY_LAYOUTS ((int)(sizeof binary_layouts / sizeof binary_layouts[0]))

typedef struct binary_check {
    const binary_case *c;
    const operand_pair *layout;
} binary_check;

static tg_tensor *apply_binary(tg_tensor *const *in, void *user)
{
    const binary_check *k = user;
    return k->c->op(k->layout->a.view(in[0]), k->layout->b.view(in[1]));
}

Test(grad_elementwise, every_binary_op_under_broadcasting_and_views)
{
    for (int i = 0; i < BINARY_CASES; i++) {
        for (int j = 0; j < BINARY_LAYOUTS; j++) {
            const binary_case *c = &binary_cases[i];
            tg_tensor *in[2] = { make_leaf(binary_layouts[j].a.leaf, c->fill_a, 200 + (uint64_t)j),
                                 make_leaf(binary_layouts[j].b.leaf, c->fill_b, 300 + (uint64_t)j) };
            binary_check k = { c, &binary_layouts[j] };
            char what[128];
            snprintf(what, sizeof what, "%s, %s", c->name, binary_layouts[j].name);
            assert_gradcheck(apply_binary, &k, in, 2, what);
        }
    }
}

static tg_tensor *apply_binary_to_itself(tg_tensor *const *in, void *user)
{
    const binary_case *c = user;
    return c->op(in[0], in[0]);
}

/* op(x, op(x, y)): x is both operands of one node, and an operand of another. */
static tg_tensor *apply_binary_nested(tg_tensor *const *in, void *user)
{
    const binary_case *c = user;
    return c->op(in[0], c->op(in[0], in[1]));
}

Test(grad_elementwise, every_binary_op_with_an_input_used_twice)
{
    for (int i = 0; i < BINARY_CASES; i++) {
        const binary_case *c = &binary_cases[i];
        /* Both roles at once: x must suit both operands' domains. */
        fill both = c->fill_a == FILL_POSITIVE || c->fill_b == FILL_NONZERO ? FILL_POSITIVE : c->fill_a;
        tg_tensor *x = make_leaf(TG_SHAPE(2, 3), both, 11);
        char what[128];
        snprintf(what, sizeof what, "%s(x, x)", c->name);
        assert_gradcheck(apply_binary_to_itself, (void *)c, &x, 1, what);
    }
    for (int i = 0; i < BINARY_CASES; i++) {
        const binary_case *c = &binary_cases[i];
        if (c->op == tg_maximum || c->op == tg_minimum || c->op == tg_pow)
            continue; /* op(x, y) would tie with x or leave pow's domain */
        tg_tensor *in[2] = { make_leaf(TG_SHAPE(2, 3), c->fill_b, 12),
                             make_leaf(TG_SHAPE(3), c->fill_b, 13) };
        char what[128];
        snprintf(what, sizeof what, "%s(x, %s(x, y))", c->name, c->name);
        assert_gradcheck(apply_binary_nested, (void *)c, in, 2, what);
    }
}

Test(grad_elementwise, maximum_and_minimum_split_ties_evenly)
{
    tg_tensor *a = leaf_of(TG_SHAPE(3), (float[]){ 1.0f, 2.0f, 3.0f });
    tg_tensor *b = leaf_of(TG_SHAPE(3), (float[]){ 0.0f, 2.0f, 5.0f });
    tg_tensor *loss = tg_sum_all(tg_add(tg_maximum(a, b), tg_mul_scalar(tg_minimum(a, b), 10.0f)));
    cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(a), ((float[]){ 1.0f, 5.5f, 10.0f }), 3, 0.0f);
    tg_assert_values(tg_grad(b), ((float[]){ 10.0f, 5.5f, 1.0f }), 3, 0.0f);
}

Test(grad_elementwise, broadcast_gradients_sum_back_by_hand)
{
    /* a [2,3] * b [3]: da = b broadcast, db = column sums of a. */
    tg_tensor *a = leaf_of(TG_SHAPE(2, 3), (float[]){ 1, 2, 3, 4, 5, 6 });
    tg_tensor *b = leaf_of(TG_SHAPE(3), (float[]){ 10, 20, 30 });
    tg_tensor *s = leaf_of(TG_SCALAR, (float[]){ 2 });
    cr_assert_eq(tg_backward(tg_sum_all(tg_mul(tg_mul(a, b), s))), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(a), ((float[]){ 20, 40, 60, 20, 40, 60 }), 6, 0.0f);
    tg_assert_values(tg_grad(b), ((float[]){ 10, 14, 18 }), 3, 0.0f);
    /* ds = sum(a * b) = 10 + 40 + 90 + 40 + 100 + 180 */
    tg_assert_values(tg_grad(s), ((float[]){ 460 }), 1, 0.0f);
    cr_assert_eq(tg_grad(s)->ndim, 0);
}

/* ---- where, comparisons ------------------------------------------------------------- */

typedef struct where_check {
    tg_shape mask;
    bool same_input;
} where_check;

/* where(x > 0.05, a, b), the mask made from a ladder that never touches
 * 0.05, so it does not move under the finite differences of a and b. */
static tg_tensor *apply_where(tg_tensor *const *in, void *user)
{
    const where_check *k = user;
    tg_tensor *mask = tg_gt_scalar(tg_detach(in[0]), 0.05f);
    return tg_where(mask, in[1], k->same_input ? in[1] : in[2]);
}

Test(grad_elementwise, where_routes_the_gradient_by_the_mask)
{
    const struct {
        tg_shape mask, a, b;
    } cases[] = {
        { TG_SHAPE(3, 4), TG_SHAPE(3, 4), TG_SHAPE(3, 4) },
        { TG_SHAPE(3, 4), TG_SHAPE(4), TG_SHAPE(3, 1) },
        { TG_SHAPE(3, 1), TG_SCALAR, TG_SHAPE(1, 4) },
        { TG_SHAPE(2, 1, 3), TG_SHAPE(4, 1), TG_SCALAR },
    };
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
        tg_tensor *in[3] = { make_leaf(cases[i].mask, FILL_LADDER_EVEN, 1),
                             make_leaf(cases[i].a, FILL_ANY, 2), make_leaf(cases[i].b, FILL_ANY, 3) };
        tg_set_requires_grad(in[0], false);
        where_check k = { cases[i].mask, false };
        char what[64];
        snprintf(what, sizeof what, "where case %d", i);
        assert_gradcheck(apply_where, &k, in, 3, what);
    }
    tg_tensor *in[2] = { make_leaf(TG_SHAPE(2, 3), FILL_LADDER_EVEN, 4), make_leaf(TG_SHAPE(2, 3), FILL_ANY, 5) };
    tg_set_requires_grad(in[0], false);
    where_check same = { TG_SHAPE(2, 3), true };
    assert_gradcheck(apply_where, &same, in, 2, "where(mask, x, x)");
}

/* where on views: a transposed, b step-sliced, the mask expanded. */
static tg_tensor *apply_where_on_views(tg_tensor *const *in, void *user)
{
    (void)user;
    tg_tensor *mask = tg_expand(tg_gt_scalar(tg_detach(in[0]), 0.05f), TG_SHAPE(3, 4));
    return tg_where(mask, view_transposed(in[1]), view_step_sliced(in[2]));
}

Test(grad_elementwise, where_on_non_contiguous_inputs)
{
    tg_tensor *in[3] = { make_leaf(TG_SHAPE(1, 4), FILL_LADDER_EVEN, 6), make_leaf(TG_SHAPE(4, 3), FILL_ANY, 7),
                         make_leaf(TG_SHAPE(3, 9), FILL_ANY, 8) };
    tg_set_requires_grad(in[0], false);
    assert_gradcheck(apply_where_on_views, NULL, in, 3, "where on views");
}

Test(grad_elementwise, where_gradient_by_hand)
{
    tg_tensor *mask = tg_from_array(TG_SHAPE(4), (float[]){ 1, 0, 0, 1 });
    tg_tensor *a = leaf_of(TG_SHAPE(4), (float[]){ 1, 2, 3, 4 });
    tg_tensor *b = leaf_of(TG_SCALAR, (float[]){ -1 });
    tg_tensor *y = tg_where(mask, tg_mul(a, a), b);
    tg_assert_values(y, ((float[]){ 1, -1, -1, 16 }), 4, 0.0f);
    cr_assert_eq(tg_backward(tg_sum_all(y)), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(a), ((float[]){ 2, 0, 0, 8 }), 4, 0.0f);
    tg_assert_values(tg_grad(b), ((float[]){ 2 }), 1, 0.0f);
}

Test(grad_elementwise, comparisons_record_nothing_and_need_no_gradient)
{
    tg_tensor *a = leaf_of(TG_SHAPE(3), (float[]){ 1, 2, 3 });
    tg_tensor *b = leaf_of(TG_SHAPE(1), (float[]){ 2 });
    tg_tensor *(*const ops[])(tg_tensor *, tg_tensor *) = { tg_eq, tg_ne, tg_lt, tg_le, tg_gt, tg_ge };
    const float expected[6][3] = { { 0, 1, 0 }, { 1, 0, 1 }, { 1, 0, 0 },
                                   { 1, 1, 0 }, { 0, 0, 1 }, { 0, 1, 1 } };
    tg_tensor *(*const scalar_ops[])(tg_tensor *, float) = { tg_eq_scalar, tg_ne_scalar, tg_lt_scalar,
                                                              tg_le_scalar, tg_gt_scalar, tg_ge_scalar };
    size_t before = tg_graph_size();
    for (int i = 0; i < 6; i++) {
        tg_tensor *y = ops[i](a, b), *z = scalar_ops[i](a, 2.0f);
        tg_assert_values(y, expected[i], 3, 0.0f);
        tg_assert_values(z, expected[i], 3, 0.0f);
        cr_assert(!tg_requires_grad(y) && !tg_requires_grad(z), "comparison %d requires grad", i);
    }
    cr_assert_eq(tg_graph_size(), before);
}
