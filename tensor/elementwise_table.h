/*
 * tensor/elementwise_table.h: every elementwise op in one table.
 *
 * Who it is for: people writing ops (reached through tensor/elementwise.h
 * and tensor/kernel.h, not tapegrad.h), and a reader looking for an
 * elementwise op's formulas.
 *
 * One row per op: its kind, its name, its forward formula and, for the
 * differentiable ones, what its backward reads and its gradient formulas,
 * side by side. tensor/ compiles the forward column (tensor/elementwise.c)
 * and knows nothing of the rest; autograd/ compiles the gradient column
 * (autograd/ops_elementwise.c, with the words of autograd/formula.h), so a
 * differentiable op without a gradient formula does not compile.
 *
 * Unary: forward in x and the parameters p; gradient of x in g (the
 * output's gradient), x and y (the output). READS_X / READS_Y / READS_XY /
 * READS_NONE say which of x and y the gradient reads (tg_op.unread).
 * Binary: forward in a and b; gradients of a and of b in g, a and b.
 */
#ifndef TG_ELEMENTWISE_TABLE_H
#define TG_ELEMENTWISE_TABLE_H

/* X(KIND, name, forward, reads, gradient) */
#define TG_UNARY_TABLE(X)                                                                        \
    X(NEG, "neg", -x, READS_NONE, NEG(g))                                                        \
    X(ABS, "abs", fabsf(x), READS_X, MUL(g, SIGN(x)))                                            \
    X(EXP, "exp", tg_fast_expf(x), READS_Y, MUL(g, y))                                           \
    X(LOG, "log", logf(x), READS_X, DIV(g, x))                                                   \
    X(LOG1P, "log1p", log1pf(x), READS_X, DIV(g, SHIFT(x, 1.0f)))                                \
    X(SQRT, "sqrt", sqrtf(x), READS_Y, DIV(SCALE(g, 0.5f), y))                                   \
    X(RSQRT, "rsqrt", 1.0f / sqrtf(x), READS_Y, MUL(SCALE(g, -0.5f), MUL(y, SQUARE(y))))         \
    X(SQUARE, "square", x * x, READS_X, MUL(SCALE(g, 2.0f), x))                                  \
    X(RECIPROCAL, "reciprocal", 1.0f / x, READS_Y, NEG(MUL(g, SQUARE(y))))                       \
    X(SIGN, "sign", sign(x), READS_NONE, ZERO(g))                                                \
    X(TANH, "tanh", tg_fast_tanhf(x), READS_Y, MUL(g, RSUB(1.0f, SQUARE(y))))                   \
    X(SIGMOID, "sigmoid", tg_fast_sigmoidf(x), READS_Y, MUL(g, MUL(y, RSUB(1.0f, y))))           \
    X(RELU, "relu", x > 0.0f ? x : (x != x ? x : 0.0f), READS_X, MUL(g, POSITIVE(x)))           \
    /* p[0]: the negative slope */                                                               \
    X(LEAKY_RELU, "leaky_relu", x > 0.0f ? x : x * P0, READS_X, MUL(g, LEAKY_SLOPE(x, P0)))      \
    /* exact: x Phi(x), torch's default; d/dx = Phi(x) + x phi(x) */                             \
    X(GELU, "gelu", gelu(x), READS_X,                                                            \
      MUL(g, ADD(SCALE(SHIFT(ERF(SCALE(x, 0.70710678118654752f)), 1.0f), 0.5f),                  \
                 MUL(x, SCALE(EXP(SCALE(SQUARE(x), -0.5f)), 0.39894228040143268f)))))            \
    /* log(1 + exp(x)), stable */                                                                \
    X(SOFTPLUS, "softplus", softplus(x), READS_X, MUL(g, SIGMOID(x)))                            \
    X(SIN, "sin", sinf(x), READS_X, MUL(g, COS(x)))                                              \
    X(COS, "cos", cosf(x), READS_X, NEG(MUL(g, SIN(x))))                                         \
    /* 2/sqrt(pi) exp(-x^2) */                                                                   \
    X(ERF, "erf", erff(x), READS_X, MUL(g, SCALE(EXP(NEG(SQUARE(x))), 1.1283791670955126f)))     \
    /* x ^ p[0] */                                                                               \
    X(POW_SCALAR, "pow_scalar", powf(x, P0), READS_X,                                            \
      P0 == 0.0f ? ZERO(g) : MUL(SCALE(g, P0), POWS(x, P0 - 1.0f)))                             \
    /* min(max(x, p[0]), p[1]) */                                                                \
    X(CLAMP, "clamp", x < P0 ? P0 : (x > P1 ? P1 : x), READS_X, MUL(g, BETWEEN(x, P0, P1)))      \
    X(ADD_SCALAR, "add_scalar", x + P0, READS_NONE, g)                                           \
    X(MUL_SCALAR, "mul_scalar", x * P0, READS_NONE, SCALE(g, P0))                                \
    X(RSUB_SCALAR, "rsub_scalar", P0 - x, READS_NONE, NEG(g))                                    \
    X(RDIV_SCALAR, "rdiv_scalar", P0 / x, READS_XY, NEG(DIV(MUL(g, y), x)))                      \
    X(RPOW_SCALAR, "rpow_scalar", powf(P0, x), READS_Y, SCALE(MUL(g, y), logf(P0)))

/* Comparisons with the scalar p[0]: 1 where true, 0 elsewhere; no gradient.
 * X(KIND, name, forward) */
#define TG_UNARY_COMPARISON_TABLE(X)                                                             \
    X(EQ_SCALAR, "eq_scalar", (float)(x == P0))                                                  \
    X(NE_SCALAR, "ne_scalar", (float)(x != P0))                                                  \
    X(LT_SCALAR, "lt_scalar", (float)(x < P0))                                                   \
    X(LE_SCALAR, "le_scalar", (float)(x <= P0))                                                  \
    X(GT_SCALAR, "gt_scalar", (float)(x > P0))                                                   \
    X(GE_SCALAR, "ge_scalar", (float)(x >= P0))

/* X(KIND, name, forward, unread, gradient of a, gradient of b); unread as
 * in tg_op.unread (the output is bit 31). On ties maximum and minimum
 * split the gradient evenly, as PyTorch does. */
#define TG_BINARY_TABLE(X)                                                                       \
    X(ADD, "add", a + b, TG_OP_UNREAD_ALL, g, g)                                                 \
    X(SUB, "sub", a - b, TG_OP_UNREAD_ALL, g, NEG(g))                                            \
    X(MUL, "mul", a * b, TG_OP_OUTPUT_UNREAD, MUL(g, b), MUL(g, a))                              \
    X(DIV, "div", a / b, TG_OP_OUTPUT_UNREAD, DIV(g, b), NEG(DIV(MUL(g, a), SQUARE(b))))         \
    X(POW, "pow", powf(a, b), TG_OP_OUTPUT_UNREAD,                                               \
      WHERE(b, MUL(MUL(g, b), POW(a, SHIFT(b, -1.0f))), ZERO(g)),                                \
      WHERE(a, MUL(MUL(g, POW(a, b)), LOG(a)), ZERO(g)))                                         \
    X(MAXIMUM, "maximum", maximum(a, b), TG_OP_OUTPUT_UNREAD, MUL(g, SHARE_GT(a, b)),            \
      MUL(g, SHARE_GT(b, a)))                                                                    \
    X(MINIMUM, "minimum", minimum(a, b), TG_OP_OUTPUT_UNREAD, MUL(g, SHARE_LT(a, b)),            \
      MUL(g, SHARE_LT(b, a)))

/* Comparisons: 1 where true, 0 elsewhere; no gradient. X(KIND, name, forward) */
#define TG_BINARY_COMPARISON_TABLE(X)                                                            \
    X(EQ, "eq", (float)(a == b))                                                                 \
    X(NE, "ne", (float)(a != b))                                                                 \
    X(LT, "lt", (float)(a < b))                                                                  \
    X(LE, "le", (float)(a <= b))                                                                 \
    X(GT, "gt", (float)(a > b))                                                                  \
    X(GE, "ge", (float)(a >= b))

#endif
