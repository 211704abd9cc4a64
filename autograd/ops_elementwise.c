/*
 * Elementwise ops: forward through tensor/elementwise.h, backward rules
 * as elementwise row functions. In every backward row below, `a` is the
 * gradient of the output and `b`, `c` are the values named beside it.
 */
#include <math.h>
#include <threads.h>

#include "autograd/autograd.h"
#include "autograd/ops.h"
#include "tensor/fastmath.h"

/* ---- One input ------------------------------------------------------------------ *
 * Backward rows take (grad, x, y) where y = f(x). */

static inline float sign_of(float v) { return (float)((v > 0.0f) - (v < 0.0f)); }

/* d/dx x Phi(x) = Phi(x) + x phi(x) */
static inline float gelu_slope(float x)
{
    float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
    float pdf = 0.39894228040143268f * tg_fast_expf(-0.5f * x * x);
    return cdf + x * pdf;
}

TG_MAP_ROW_3(back_zero, 0.0f)
TG_MAP_ROW_3(back_identity, a)
TG_MAP_ROW_3(back_neg, -a)
TG_MAP_ROW_3(back_abs, a * sign_of(b))
TG_MAP_ROW_3(back_exp, a * c)
TG_MAP_ROW_3(back_log, a / b)
TG_MAP_ROW_3(back_log1p, a / (1.0f + b))
TG_MAP_ROW_3(back_sqrt, a * 0.5f / c)
TG_MAP_ROW_3(back_rsqrt, a * -0.5f * c * c * c)
TG_MAP_ROW_3(back_square, 2.0f * a * b)
TG_MAP_ROW_3(back_reciprocal, -a * c * c)
TG_MAP_ROW_3(back_tanh, a * (1.0f - c * c))
TG_MAP_ROW_3(back_sigmoid, a * c * (1.0f - c))
TG_MAP_ROW_3(back_relu, b > 0.0f ? a : 0.0f)
TG_MAP_ROW_3(back_leaky_relu, b > 0.0f ? a : a * p[0])
TG_MAP_ROW_3(back_gelu, a * gelu_slope(b))
TG_MAP_ROW_3(back_softplus, a * tg_fast_sigmoidf(b))
TG_MAP_ROW_3(back_sin, a * cosf(b))
TG_MAP_ROW_3(back_cos, -a * sinf(b))
TG_MAP_ROW_3(back_pow_scalar, p[0] == 0.0f ? 0.0f : a * p[0] * powf(b, p[0] - 1.0f))
TG_MAP_ROW_3(back_clamp, b >= p[0] && b <= p[1] ? a : 0.0f)
TG_MAP_ROW_3(back_mul_scalar, a * p[0])
TG_MAP_ROW_3(back_rdiv_scalar, -a * c / b)
TG_MAP_ROW_3(back_rpow_scalar, a * c * logf(p[0]))

/* Backward rows per unary op; NULL for ops without a gradient. */
static const tg_map_fn unary_backward_rows[TG_UNARY_COUNT] = {
    [TG_UNARY_NEG] = back_neg,
    [TG_UNARY_ABS] = back_abs,
    [TG_UNARY_EXP] = back_exp,
    [TG_UNARY_LOG] = back_log,
    [TG_UNARY_LOG1P] = back_log1p,
    [TG_UNARY_SQRT] = back_sqrt,
    [TG_UNARY_RSQRT] = back_rsqrt,
    [TG_UNARY_SQUARE] = back_square,
    [TG_UNARY_RECIPROCAL] = back_reciprocal,
    [TG_UNARY_SIGN] = back_zero,
    [TG_UNARY_TANH] = back_tanh,
    [TG_UNARY_SIGMOID] = back_sigmoid,
    [TG_UNARY_RELU] = back_relu,
    [TG_UNARY_LEAKY_RELU] = back_leaky_relu,
    [TG_UNARY_GELU] = back_gelu,
    [TG_UNARY_SOFTPLUS] = back_softplus,
    [TG_UNARY_SIN] = back_sin,
    [TG_UNARY_COS] = back_cos,
    [TG_UNARY_POW_SCALAR] = back_pow_scalar,
    [TG_UNARY_CLAMP] = back_clamp,
    [TG_UNARY_ADD_SCALAR] = back_identity,
    [TG_UNARY_MUL_SCALAR] = back_mul_scalar,
    [TG_UNARY_RSUB_SCALAR] = back_neg,
    [TG_UNARY_RDIV_SCALAR] = back_rdiv_scalar,
    [TG_UNARY_RPOW_SCALAR] = back_rpow_scalar,
};

/* What each backward row does not read (tg_op.unread): x is input 0, y
 * the output. */
#define READS_X TG_OP_OUTPUT_UNREAD
#define READS_Y 0x1u
static const unsigned unary_unread[TG_UNARY_COUNT] = {
    [TG_UNARY_NEG] = TG_OP_UNREAD_ALL,  [TG_UNARY_ABS] = READS_X,
    [TG_UNARY_EXP] = READS_Y,           [TG_UNARY_LOG] = READS_X,
    [TG_UNARY_LOG1P] = READS_X,         [TG_UNARY_SQRT] = READS_Y,
    [TG_UNARY_RSQRT] = READS_Y,         [TG_UNARY_SQUARE] = READS_X,
    [TG_UNARY_RECIPROCAL] = READS_Y,    [TG_UNARY_SIGN] = TG_OP_UNREAD_ALL,
    [TG_UNARY_TANH] = READS_Y,          [TG_UNARY_SIGMOID] = READS_Y,
    [TG_UNARY_RELU] = READS_X,          [TG_UNARY_LEAKY_RELU] = READS_X,
    [TG_UNARY_GELU] = READS_X,          [TG_UNARY_SOFTPLUS] = READS_X,
    [TG_UNARY_SIN] = READS_X,           [TG_UNARY_COS] = READS_X,
    [TG_UNARY_POW_SCALAR] = READS_X,    [TG_UNARY_CLAMP] = READS_X,
    [TG_UNARY_ADD_SCALAR] = TG_OP_UNREAD_ALL, [TG_UNARY_MUL_SCALAR] = TG_OP_UNREAD_ALL,
    [TG_UNARY_RSUB_SCALAR] = TG_OP_UNREAD_ALL, [TG_UNARY_RDIV_SCALAR] = 0,
    [TG_UNARY_RPOW_SCALAR] = READS_Y,
};

static int unary_backward(tg_node *node, const tg_tensor *grad)
{
    tg_unary_op op = (tg_unary_op)node->iparam[0];
    const tg_tensor *in[3] = { grad, node->in[0], node->out };
    return tg_grad_map(node->in[0], grad, 3, in, unary_backward_rows[op], node->fparam);
}

/* One tg_op per unary kind, so that errors and anomaly reports name it. */
static tg_op unary_ops[TG_UNARY_COUNT];
static once_flag unary_ops_once = ONCE_FLAG_INIT;

static void init_unary_ops(void)
{
    for (int op = 0; op < TG_UNARY_COUNT; op++)
        unary_ops[op] = (tg_op){ tg_unary_name((tg_unary_op)op), unary_backward, unary_unread[op] };
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
    if (!unary_backward_rows[op]) /* comparisons: no gradient */
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

/* ---- Two inputs ------------------------------------------------------------------ */

TG_MAP_ROW_1(back_negate, -a)
TG_MAP_ROW_2(back_times, a * b)                       /* grad, other factor */
TG_MAP_ROW_2(back_over, a / b)                        /* grad, divisor */
TG_MAP_ROW_3(back_divisor, -a * b / (c * c))          /* grad, numerator, divisor */
TG_MAP_ROW_3(back_pow_base, c == 0.0f ? 0.0f : a * c * powf(b, c - 1.0f)) /* grad, base, exponent */
TG_MAP_ROW_3(back_pow_exponent, b == 0.0f ? 0.0f : a * c * logf(b))      /* grad, base, y */
TG_MAP_ROW_3(back_greater_share, b > c ? a : (b == c ? 0.5f * a : 0.0f))  /* grad, this, other */
TG_MAP_ROW_3(back_lesser_share, b < c ? a : (b == c ? 0.5f * a : 0.0f))

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

static tg_tensor *record2(const tg_op *op, tg_tensor *out, tg_tensor *a, tg_tensor *b)
{
    if (!out)
        return NULL;
    tg_tensor *in[2] = { a, b };
    return tg_record(op, out, in, 2, NULL) == 0 ? out : NULL;
}

static int add_backward(tg_node *node, const tg_tensor *grad)
{
    if (tg_grad_accumulate(node->in[0], grad) != 0)
        return -1;
    return tg_grad_accumulate(node->in[1], grad);
}

static int sub_backward(tg_node *node, const tg_tensor *grad)
{
    if (tg_grad_accumulate(node->in[0], grad) != 0)
        return -1;
    return tg_grad_map(node->in[1], grad, 1, &grad, back_negate, NULL);
}

static int mul_backward(tg_node *node, const tg_tensor *grad)
{
    tg_tensor *a = node->in[0], *b = node->in[1];
    if (tg_grad_map(a, grad, 2, (const tg_tensor *[]){ grad, b }, back_times, NULL) != 0)
        return -1;
    return tg_grad_map(b, grad, 2, (const tg_tensor *[]){ grad, a }, back_times, NULL);
}

static int div_backward(tg_node *node, const tg_tensor *grad)
{
    tg_tensor *a = node->in[0], *b = node->in[1];
    if (tg_grad_map(a, grad, 2, (const tg_tensor *[]){ grad, b }, back_over, NULL) != 0)
        return -1;
    return tg_grad_map(b, grad, 3, (const tg_tensor *[]){ grad, a, b }, back_divisor, NULL);
}

static int pow_backward(tg_node *node, const tg_tensor *grad)
{
    tg_tensor *a = node->in[0], *b = node->in[1];
    if (tg_grad_map(a, grad, 3, (const tg_tensor *[]){ grad, a, b }, back_pow_base, NULL) != 0)
        return -1;
    return tg_grad_map(b, grad, 3, (const tg_tensor *[]){ grad, a, node->out }, back_pow_exponent,
                       NULL);
}

static int maximum_backward(tg_node *node, const tg_tensor *grad)
{
    tg_tensor *a = node->in[0], *b = node->in[1];
    if (tg_grad_map(a, grad, 3, (const tg_tensor *[]){ grad, a, b }, back_greater_share, NULL) != 0)
        return -1;
    return tg_grad_map(b, grad, 3, (const tg_tensor *[]){ grad, b, a }, back_greater_share, NULL);
}

static int minimum_backward(tg_node *node, const tg_tensor *grad)
{
    tg_tensor *a = node->in[0], *b = node->in[1];
    if (tg_grad_map(a, grad, 3, (const tg_tensor *[]){ grad, a, b }, back_lesser_share, NULL) != 0)
        return -1;
    return tg_grad_map(b, grad, 3, (const tg_tensor *[]){ grad, b, a }, back_lesser_share, NULL);
}

static const tg_op add_op = { "add", add_backward, TG_OP_UNREAD_ALL };
static const tg_op sub_op = { "sub", sub_backward, TG_OP_UNREAD_ALL };
static const tg_op mul_op = { "mul", mul_backward, TG_OP_OUTPUT_UNREAD };
static const tg_op div_op = { "div", div_backward, TG_OP_OUTPUT_UNREAD };
static const tg_op pow_op = { "pow", pow_backward, 0 };
static const tg_op maximum_op = { "maximum", maximum_backward, TG_OP_OUTPUT_UNREAD };
static const tg_op minimum_op = { "minimum", minimum_backward, TG_OP_OUTPUT_UNREAD };

tg_tensor *tg_add(tg_tensor *a, tg_tensor *b) { return record2(&add_op, binary_forward(TG_BINARY_ADD, a, b), a, b); }
tg_tensor *tg_sub(tg_tensor *a, tg_tensor *b) { return record2(&sub_op, binary_forward(TG_BINARY_SUB, a, b), a, b); }
tg_tensor *tg_mul(tg_tensor *a, tg_tensor *b) { return record2(&mul_op, binary_forward(TG_BINARY_MUL, a, b), a, b); }
tg_tensor *tg_div(tg_tensor *a, tg_tensor *b) { return record2(&div_op, binary_forward(TG_BINARY_DIV, a, b), a, b); }
tg_tensor *tg_pow(tg_tensor *a, tg_tensor *b) { return record2(&pow_op, binary_forward(TG_BINARY_POW, a, b), a, b); }
tg_tensor *tg_maximum(tg_tensor *a, tg_tensor *b) { return record2(&maximum_op, binary_forward(TG_BINARY_MAXIMUM, a, b), a, b); }
tg_tensor *tg_minimum(tg_tensor *a, tg_tensor *b) { return record2(&minimum_op, binary_forward(TG_BINARY_MINIMUM, a, b), a, b); }
tg_tensor *tg_eq(tg_tensor *a, tg_tensor *b) { return binary_forward(TG_BINARY_EQ, a, b); }
tg_tensor *tg_ne(tg_tensor *a, tg_tensor *b) { return binary_forward(TG_BINARY_NE, a, b); }
tg_tensor *tg_lt(tg_tensor *a, tg_tensor *b) { return binary_forward(TG_BINARY_LT, a, b); }
tg_tensor *tg_le(tg_tensor *a, tg_tensor *b) { return binary_forward(TG_BINARY_LE, a, b); }
tg_tensor *tg_gt(tg_tensor *a, tg_tensor *b) { return binary_forward(TG_BINARY_GT, a, b); }
tg_tensor *tg_ge(tg_tensor *a, tg_tensor *b) { return binary_forward(TG_BINARY_GE, a, b); }

/* ---- where ------------------------------------------------------------------------ */

TG_MAP_ROW_2(back_where_true, b != 0.0f ? a : 0.0f)  /* grad, mask */
TG_MAP_ROW_2(back_where_false, b != 0.0f ? 0.0f : a)

static int where_backward(tg_node *node, const tg_tensor *grad)
{
    tg_tensor *mask = node->in[0];
    if (tg_grad_map(node->in[1], grad, 2, (const tg_tensor *[]){ grad, mask }, back_where_true, NULL) != 0)
        return -1;
    return tg_grad_map(node->in[2], grad, 2, (const tg_tensor *[]){ grad, mask }, back_where_false, NULL);
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
    /* The mask takes no gradient: it is recorded only so backward can read it. */
    tg_tensor *in[3] = { mask, a, b };
    return tg_record(&where_op, out, in, 3, NULL) == 0 ? out : NULL;
}
