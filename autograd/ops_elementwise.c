/*
 * Elementwise ops: forward through tensor/elementwise.h, backward by the
 * gradient formulas of tensor/elementwise_table.h (each compiled by
 * autograd/formula.h into a fused row and into ops).
 */
#include <math.h>
#include <threads.h>

#include "autograd/autograd.h"
#include "autograd/formula.h"
#include "autograd/kernel.h"
#include "autograd/ops.h"

/* ---- One input ------------------------------------------------------------------ *
 * A gradient formula reads g (the output's gradient), x and y = f(x). */

#define READS_NONE TG_OP_UNREAD_ALL
#define READS_X TG_OP_OUTPUT_UNREAD
#define READS_Y 0x1u
#define READS_XY 0u

#define UNARY_FORMULA(kind, name, forward, reads, gradient) \
    TG_FORMULA(unary_grad_##kind, g, x, y, gradient)
TG_UNARY_TABLE(UNARY_FORMULA)

static const struct {
    const tg_formula *gradient;
    unsigned unread;
} unary_backward_of[TG_UNARY_COUNT] = {
#define UNARY_BACKWARD(kind, name, forward, reads, gradient) \
    [TG_UNARY_##kind] = { &unary_grad_##kind, reads },
    TG_UNARY_TABLE(UNARY_BACKWARD)
};

static int unary_backward(tg_node *node, tg_tensor *grad)
{
    tg_unary_op op = (tg_unary_op)node->iparam[0];
    tg_tensor *in[3] = { grad, node->in[0], node->out };
    return tg_grad_formula(node->in[0], unary_backward_of[op].gradient, in, node->fparam);
}

/* One tg_op per unary kind, so that errors and anomaly reports name it. */
static tg_op unary_ops[TG_UNARY_COUNT];
static once_flag unary_ops_once = ONCE_FLAG_INIT;

static void init_unary_ops(void)
{
    for (int op = 0; op < TG_UNARY_COUNT; op++)
        unary_ops[op] = (tg_op){ tg_unary_name((tg_unary_op)op), unary_backward, unary_backward_of[op].unread };
}

static const tg_op *unary_op(tg_unary_op op)
{
    call_once(&unary_ops_once, init_unary_ops);
    return &unary_ops[op];
}

static tg_tensor *unary(tg_unary_op op, tg_tensor *x, float p0, float p1)
{
    if (tg_check_inputs(tg_unary_name(op), 1, &x) != 0)
        return NULL;
    const float param[2] = { p0, p1 };
    tg_tensor *out = tg_empty(tg_tensor_shape(x));
    if (!out || tg_kernel_unary(op, out, x, param, false) != 0)
        return NULL;
    if (!unary_backward_of[op].gradient) /* comparisons: no gradient */
        return out;
    tg_node *node;
    if (tg_record(unary_op(op), out, &x, 1, &node) != 0)
        return NULL;
    if (node) {
        node->iparam[0] = op;
        node->fparam[0] = p0;
        node->fparam[1] = p1;
    }
    return out;
}

tg_tensor *tg_neg(tg_tensor *x) { return unary(TG_UNARY_NEG, x, 0, 0); }
tg_tensor *tg_abs(tg_tensor *x) { return unary(TG_UNARY_ABS, x, 0, 0); }
tg_tensor *tg_exp(tg_tensor *x) { return unary(TG_UNARY_EXP, x, 0, 0); }
tg_tensor *tg_log(tg_tensor *x) { return unary(TG_UNARY_LOG, x, 0, 0); }
tg_tensor *tg_log1p(tg_tensor *x) { return unary(TG_UNARY_LOG1P, x, 0, 0); }
tg_tensor *tg_sqrt(tg_tensor *x) { return unary(TG_UNARY_SQRT, x, 0, 0); }
tg_tensor *tg_rsqrt(tg_tensor *x) { return unary(TG_UNARY_RSQRT, x, 0, 0); }
tg_tensor *tg_square(tg_tensor *x) { return unary(TG_UNARY_SQUARE, x, 0, 0); }
tg_tensor *tg_reciprocal(tg_tensor *x) { return unary(TG_UNARY_RECIPROCAL, x, 0, 0); }
tg_tensor *tg_sign(tg_tensor *x) { return unary(TG_UNARY_SIGN, x, 0, 0); }
tg_tensor *tg_tanh(tg_tensor *x) { return unary(TG_UNARY_TANH, x, 0, 0); }
tg_tensor *tg_sigmoid(tg_tensor *x) { return unary(TG_UNARY_SIGMOID, x, 0, 0); }
tg_tensor *tg_relu(tg_tensor *x) { return unary(TG_UNARY_RELU, x, 0, 0); }
tg_tensor *tg_leaky_relu(tg_tensor *x, float slope) { return unary(TG_UNARY_LEAKY_RELU, x, slope, 0); }
tg_tensor *tg_gelu(tg_tensor *x) { return unary(TG_UNARY_GELU, x, 0, 0); }
tg_tensor *tg_softplus(tg_tensor *x) { return unary(TG_UNARY_SOFTPLUS, x, 0, 0); }
tg_tensor *tg_sin(tg_tensor *x) { return unary(TG_UNARY_SIN, x, 0, 0); }
tg_tensor *tg_cos(tg_tensor *x) { return unary(TG_UNARY_COS, x, 0, 0); }
tg_tensor *tg_erf(tg_tensor *x) { return unary(TG_UNARY_ERF, x, 0, 0); }
tg_tensor *tg_pow_scalar(tg_tensor *x, float e) { return unary(TG_UNARY_POW_SCALAR, x, e, 0); }
tg_tensor *tg_add_scalar(tg_tensor *x, float s) { return unary(TG_UNARY_ADD_SCALAR, x, s, 0); }
tg_tensor *tg_sub_scalar(tg_tensor *x, float s) { return unary(TG_UNARY_ADD_SCALAR, x, -s, 0); }
tg_tensor *tg_mul_scalar(tg_tensor *x, float s) { return unary(TG_UNARY_MUL_SCALAR, x, s, 0); }
tg_tensor *tg_div_scalar(tg_tensor *x, float s) { return unary(TG_UNARY_MUL_SCALAR, x, 1.0f / s, 0); }
tg_tensor *tg_scalar_sub(float s, tg_tensor *x) { return unary(TG_UNARY_RSUB_SCALAR, x, s, 0); }
tg_tensor *tg_scalar_div(float s, tg_tensor *x) { return unary(TG_UNARY_RDIV_SCALAR, x, s, 0); }
tg_tensor *tg_scalar_pow(float s, tg_tensor *x) { return unary(TG_UNARY_RPOW_SCALAR, x, s, 0); }
tg_tensor *tg_eq_scalar(tg_tensor *x, float s) { return unary(TG_UNARY_EQ_SCALAR, x, s, 0); }
tg_tensor *tg_ne_scalar(tg_tensor *x, float s) { return unary(TG_UNARY_NE_SCALAR, x, s, 0); }
tg_tensor *tg_lt_scalar(tg_tensor *x, float s) { return unary(TG_UNARY_LT_SCALAR, x, s, 0); }
tg_tensor *tg_le_scalar(tg_tensor *x, float s) { return unary(TG_UNARY_LE_SCALAR, x, s, 0); }
tg_tensor *tg_gt_scalar(tg_tensor *x, float s) { return unary(TG_UNARY_GT_SCALAR, x, s, 0); }
tg_tensor *tg_ge_scalar(tg_tensor *x, float s) { return unary(TG_UNARY_GE_SCALAR, x, s, 0); }

tg_tensor *tg_clamp(tg_tensor *x, float min, float max)
{
    if (x && !(min <= max)) {
        tg_error_set("clamp: min %g is greater than max %g", min, max);
        return NULL;
    }
    return unary(TG_UNARY_CLAMP, x, min, max);
}

/* ---- Two inputs ------------------------------------------------------------------ *
 * Gradient formulas read g, a and b. */

static tg_tensor *binary_forward(tg_binary_op op, tg_tensor *a, tg_tensor *b)
{
    if (tg_check_inputs(tg_binary_name(op), 2, (tg_tensor *[]){ a, b }) != 0)
        return NULL;
    tg_shape shape;
    if (!tg_broadcast_shapes(tg_tensor_shape(a), tg_tensor_shape(b), &shape, tg_binary_name(op)))
        return NULL;
    tg_tensor *out = tg_empty(shape);
    if (!out || tg_kernel_binary(op, out, a, b, false) != 0)
        return NULL;
    return out;
}

#define BINARY_FORMULAS(kind, name, forward, unread, gradient_a, gradient_b) \
    TG_FORMULA(binary_grad_a_##kind, g, a, b, gradient_a)                  \
    TG_FORMULA(binary_grad_b_##kind, g, a, b, gradient_b)                  \
    static int binary_backward_##kind(tg_node *node, tg_tensor *grad)       \
    {                                                                      \
        tg_tensor *in[3] = { grad, node->in[0], node->in[1] };             \
        if (tg_grad_formula(node->in[0], &binary_grad_a_##kind, in, NULL) != 0) \
            return -1;                                                     \
        return tg_grad_formula(node->in[1], &binary_grad_b_##kind, in, NULL); \
    }                                                                      \
    static const tg_op binary_op_##kind = { name, binary_backward_##kind, unread };
TG_BINARY_TABLE(BINARY_FORMULAS)

static tg_tensor *binary(const tg_op *op, tg_binary_op kind, tg_tensor *a, tg_tensor *b)
{
    tg_tensor *out = binary_forward(kind, a, b);
    if (!out)
        return NULL;
    tg_tensor *in[2] = { a, b };
    return tg_record(op, out, in, 2, NULL) == 0 ? out : NULL;
}

tg_tensor *tg_add(tg_tensor *a, tg_tensor *b) { return binary(&binary_op_ADD, TG_BINARY_ADD, a, b); }
tg_tensor *tg_sub(tg_tensor *a, tg_tensor *b) { return binary(&binary_op_SUB, TG_BINARY_SUB, a, b); }
tg_tensor *tg_mul(tg_tensor *a, tg_tensor *b) { return binary(&binary_op_MUL, TG_BINARY_MUL, a, b); }
tg_tensor *tg_div(tg_tensor *a, tg_tensor *b) { return binary(&binary_op_DIV, TG_BINARY_DIV, a, b); }
tg_tensor *tg_pow(tg_tensor *a, tg_tensor *b) { return binary(&binary_op_POW, TG_BINARY_POW, a, b); }
tg_tensor *tg_maximum(tg_tensor *a, tg_tensor *b) { return binary(&binary_op_MAXIMUM, TG_BINARY_MAXIMUM, a, b); }
tg_tensor *tg_minimum(tg_tensor *a, tg_tensor *b) { return binary(&binary_op_MINIMUM, TG_BINARY_MINIMUM, a, b); }
tg_tensor *tg_eq(tg_tensor *a, tg_tensor *b) { return binary_forward(TG_BINARY_EQ, a, b); }
tg_tensor *tg_ne(tg_tensor *a, tg_tensor *b) { return binary_forward(TG_BINARY_NE, a, b); }
tg_tensor *tg_lt(tg_tensor *a, tg_tensor *b) { return binary_forward(TG_BINARY_LT, a, b); }
tg_tensor *tg_le(tg_tensor *a, tg_tensor *b) { return binary_forward(TG_BINARY_LE, a, b); }
tg_tensor *tg_gt(tg_tensor *a, tg_tensor *b) { return binary_forward(TG_BINARY_GT, a, b); }
tg_tensor *tg_ge(tg_tensor *a, tg_tensor *b) { return binary_forward(TG_BINARY_GE, a, b); }

/* ---- where ------------------------------------------------------------------------ *
 * The mask takes no gradient: it is recorded only so backward can read it. */

TG_FORMULA(where_grad_true, g, mask, unused, WHERE(mask, g, ZERO(g)))
TG_FORMULA(where_grad_false, g, mask, unused, WHERE(mask, ZERO(g), g))

static int where_backward(tg_node *node, tg_tensor *grad)
{
    tg_tensor *in[3] = { grad, node->in[0], node->in[0] };
    if (tg_grad_formula(node->in[1], &where_grad_true, in, NULL) != 0)
        return -1;
    return tg_grad_formula(node->in[2], &where_grad_false, in, NULL);
}

static const tg_op where_op = { "where", where_backward, 0x6 | TG_OP_OUTPUT_UNREAD };

tg_tensor *tg_where(tg_tensor *mask, tg_tensor *a, tg_tensor *b)
{
    if (tg_check_inputs("where", 3, (tg_tensor *[]){ mask, a, b }) != 0)
        return NULL;
    tg_shape ab, shape;
    if (!tg_broadcast_shapes(tg_tensor_shape(a), tg_tensor_shape(b), &ab, "where") ||
        !tg_broadcast_shapes(tg_tensor_shape(mask), ab, &shape, "where"))
        return NULL;
    tg_tensor *out = tg_empty(shape);
    if (!out || tg_kernel_where(out, mask, a, b) != 0)
        return NULL;
    tg_tensor *in[3] = { mask, a, b };
    return tg_record(&where_op, out, in, 3, NULL) == 0 ? out : NULL;
}
