/*
 * autograd/formula.h: elementwise gradient formulas written once (internal).
 *
 * A formula is one expression in three variables and the parameters p,
 * for example the gradient of tanh, g (1 - y^2):
 *
 *     TG_FORMULA(tanh_grad, g, x, y, MUL(g, RSUB(1.0f, SQUARE(y))))
 *
 * The words below (MUL, RSUB, ...) choose by the type of their operands:
 * on floats they are arithmetic, on tensors they are ops. TG_FORMULA
 * compiles the same text twice, into a tg_formula (autograd/kernel.h):
 *   - a row function over floats, which tg_map fuses into one pass that
 *     adds straight into the gradient (the first-order path);
 *   - a function over tensors, made of differentiable ops, which a
 *     backward that creates a graph records, so that the gradient can be
 *     differentiated again.
 * A formula's first variable is the gradient of the op's output.
 */
#ifndef TG_FORMULA_H
#define TG_FORMULA_H

#include <math.h>

#include "autograd/kernel.h"
#include "autograd/ops.h"
#include "tensor/fastmath.h"

/* ---- Scalar meanings ---------------------------------------------------------------- */

static inline float tg_fs_mul(float a, float b) { return a * b; }
static inline float tg_fs_div(float a, float b) { return a / b; }
static inline float tg_fs_add(float a, float b) { return a + b; }
static inline float tg_fs_sub(float a, float b) { return a - b; }
static inline float tg_fs_neg(float a) { return -a; }
static inline float tg_fs_rsub(float s, float a) { return s - a; }
static inline float tg_fs_square(float a) { return a * a; }
static inline float tg_fs_exp(float a) { return tg_fast_expf(a); }
static inline float tg_fs_log(float a) { return logf(a); }
static inline float tg_fs_sin(float a) { return sinf(a); }
static inline float tg_fs_cos(float a) { return cosf(a); }
static inline float tg_fs_sigmoid(float a) { return tg_fast_sigmoidf(a); }
static inline float tg_fs_erf(float a) { return erff(a); }
static inline float tg_fs_pow(float a, float b) { return powf(a, b); }
static inline float tg_fs_sign(float a) { return (float)((a > 0.0f) - (a < 0.0f)); }
static inline float tg_fs_positive(float a) { return a > 0.0f ? 1.0f : 0.0f; }
static inline float tg_fs_between(float a, float lo, float hi) { return a >= lo && a <= hi ? 1.0f : 0.0f; }
static inline float tg_fs_leaky_slope(float a, float s) { return a > 0.0f ? 1.0f : s; }
static inline float tg_fs_zero(float a) { (void)a; return 0.0f; }
static inline float tg_fs_nonzero(float a) { return a != 0.0f ? 1.0f : 0.0f; }
static inline float tg_fs_share_gt(float a, float b) { return a > b ? 1.0f : (a == b ? 0.5f : 0.0f); }
static inline float tg_fs_share_lt(float a, float b) { return a < b ? 1.0f : (a == b ? 0.5f : 0.0f); }
static inline float tg_fs_where(float m, float a, float b) { return m != 0.0f ? a : b; }

/* ---- Tensor meanings: differentiable ops (indicators have no gradient) -------------- */

static inline tg_tensor *tg_ft_positive(tg_tensor *a) { return tg_gt_scalar(a, 0.0f); }
static inline tg_tensor *tg_ft_between(tg_tensor *a, float lo, float hi)
{
    return tg_mul(tg_ge_scalar(a, lo), tg_le_scalar(a, hi));
}
/* 1 where a > 0, s elsewhere */
static inline tg_tensor *tg_ft_leaky_slope(tg_tensor *a, float s)
{
    return tg_add_scalar(tg_mul_scalar(tg_gt_scalar(a, 0.0f), 1.0f - s), s);
}
static inline tg_tensor *tg_ft_zero(tg_tensor *a) { return a ? tg_zeros_like(a) : NULL; }
static inline tg_tensor *tg_ft_nonzero(tg_tensor *a) { return tg_ne_scalar(a, 0.0f); }
static inline tg_tensor *tg_ft_share_gt(tg_tensor *a, tg_tensor *b)
{
    return tg_add(tg_gt(a, b), tg_mul_scalar(tg_eq(a, b), 0.5f));
}
static inline tg_tensor *tg_ft_share_lt(tg_tensor *a, tg_tensor *b)
{
    return tg_add(tg_lt(a, b), tg_mul_scalar(tg_eq(a, b), 0.5f));
}

/* ---- The words ------------------------------------------------------------------------ */

#define TG_F1_(a, scalar, tensor) _Generic((a), tg_tensor *: tensor, default: scalar)

#define MUL(a, b) TG_F1_(a, tg_fs_mul, tg_mul)(a, b)
#define DIV(a, b) TG_F1_(a, tg_fs_div, tg_div)(a, b)
#define ADD(a, b) TG_F1_(a, tg_fs_add, tg_add)(a, b)
#define SUB(a, b) TG_F1_(a, tg_fs_sub, tg_sub)(a, b)
#define POW(a, b) TG_F1_(a, tg_fs_pow, tg_pow)(a, b)
#define NEG(a) TG_F1_(a, tg_fs_neg, tg_neg)(a)
#define SQUARE(a) TG_F1_(a, tg_fs_square, tg_square)(a)
#define EXP(a) TG_F1_(a, tg_fs_exp, tg_exp)(a)
#define LOG(a) TG_F1_(a, tg_fs_log, tg_log)(a)
#define SIN(a) TG_F1_(a, tg_fs_sin, tg_sin)(a)
#define COS(a) TG_F1_(a, tg_fs_cos, tg_cos)(a)
#define SIGMOID(a) TG_F1_(a, tg_fs_sigmoid, tg_sigmoid)(a)
#define ERF(a) TG_F1_(a, tg_fs_erf, tg_erf)(a)
/* a * s, a + s, s - a, a ^ s for a float s */
#define SCALE(a, s) TG_F1_(a, tg_fs_mul, tg_mul_scalar)(a, s)
#define SHIFT(a, s) TG_F1_(a, tg_fs_add, tg_add_scalar)(a, s)
#define RSUB(s, a) TG_F1_(a, tg_fs_rsub, tg_scalar_sub)(s, a)
#define POWS(a, s) TG_F1_(a, tg_fs_pow, tg_pow_scalar)(a, s)
/* Indicators and selections: no gradient flows through the condition. */
#define SIGN(a) TG_F1_(a, tg_fs_sign, tg_sign)(a)
#define POSITIVE(a) TG_F1_(a, tg_fs_positive, tg_ft_positive)(a)
#define BETWEEN(a, lo, hi) TG_F1_(a, tg_fs_between, tg_ft_between)(a, lo, hi)
#define LEAKY_SLOPE(a, s) TG_F1_(a, tg_fs_leaky_slope, tg_ft_leaky_slope)(a, s)
#define ZERO(a) TG_F1_(a, tg_fs_zero, tg_ft_zero)(a)
#define NONZERO(a) TG_F1_(a, tg_fs_nonzero, tg_ft_nonzero)(a)
#define SHARE_GT(a, b) TG_F1_(a, tg_fs_share_gt, tg_ft_share_gt)(a, b)
#define SHARE_LT(a, b) TG_F1_(a, tg_fs_share_lt, tg_ft_share_lt)(a, b)
#define WHERE(m, a, b) TG_F1_(m, tg_fs_where, tg_where)(m, a, b)
#define P0 (p[0])
#define P1 (p[1])

/* Defines the tg_formula `name` from EXPR in the variables v0, v1, v2 (the
 * first is the output's gradient) and p. */
#define TG_FORMULA(name, v0, v1, v2, EXPR)                                                 \
    static inline float name##_scalar(float v0, float v1, float v2, const float *p)         \
    {                                                                                      \
        (void)v0, (void)v1, (void)v2, (void)p;                                             \
        return EXPR;                                                                       \
    }                                                                                      \
    TG_MAP_ROW_3(name##_row, name##_scalar(a, b, c, p))                                    \
    static tg_tensor *name##_ops(tg_tensor *const *inputs, const float *p)                 \
    {                                                                                      \
        tg_tensor *v0 = inputs[0], *v1 = inputs[1], *v2 = inputs[2];                       \
        (void)v0, (void)v1, (void)v2, (void)p;                                             \
        return EXPR;                                                                       \
    }                                                                                      \
    static const tg_formula name = { #name, 3, name##_row, name##_ops };

#endif
