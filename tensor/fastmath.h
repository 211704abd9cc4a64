/*
 * tensor/fastmath.h: exp, tanh and sigmoid written so the compiler can
 * vectorise loops that call them (libm's versions are opaque calls).
 *
 * Accuracy is within 2 ulp of the correctly rounded result over the whole
 * float range; NaN propagates, overflow gives inf and underflow 0, as libm.
 * Internal to tapegrad's kernels (tensor/ and autograd/).
 */
#ifndef TG_FASTMATH_H
#define TG_FASTMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float tg_bits_to_float(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline uint32_t tg_float_to_bits(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits;
}

/* a * b + c, fused where the target has an FMA instruction: strict ISO C
 * builds do not contract the expression themselves, and the polynomials
 * below are mostly multiply-adds. */
#ifdef FP_FAST_FMAF
#define TG_FMAF(a, b, c) fmaf((a), (b), (c))
#else
#define TG_FMAF(a, b, c) ((a) * (b) + (c))
#endif

#define TG_EXP_SHIFTER 12582912.0f /* 1.5 * 2^23: adding it rounds to an integer */

/* Range reduction for exp: x = n ln2 + r with |r| <= ln2/2, ln2 in two parts
 * (Cody-Waite). Returns the rounding sum, whose low mantissa bits hold n
 * (tg_exp_n): no float-to-int conversion, which keeps NaN defined and the
 * vector loop free of masks. */
static inline float tg_exp_reduce(float x, float *r)
{
    float t = TG_FMAF(x, 1.44269504088896341f, TG_EXP_SHIFTER);
    float fn = t - TG_EXP_SHIFTER;
    *r = TG_FMAF(fn, 2.12194440e-4f, TG_FMAF(fn, -0.693359375f, x));
    return t;
}

static inline uint32_t tg_exp_n(float t) { return tg_float_to_bits(t) - tg_float_to_bits(TG_EXP_SHIFTER); }

/* 2^n for n in the normal exponent range [-126, 127]. */
static inline float tg_exp2_int(uint32_t n) { return tg_bits_to_float((n + 127u) << 23); }

/* exp(x) = 2^n * exp(r); exp(r) by the Cephes polynomial; 2^n applied as
 * two factors so that results near the ends of the range (denormals,
 * overflow) come out as libm's. */
static inline float tg_fast_expf(float x)
{
    /* Outside these bounds the result is 0 or inf anyway; comparisons keep NaN. */
    x = x > 89.0f ? 89.0f : x;
    x = x < -104.0f ? -104.0f : x;
    float r;
    uint32_t n = tg_exp_n(tg_exp_reduce(x, &r));
    float poly = 1.9875691500e-4f;
    poly = TG_FMAF(poly, r, 1.3981999507e-3f);
    poly = TG_FMAF(poly, r, 8.3334519073e-3f);
    poly = TG_FMAF(poly, r, 4.1665795894e-2f);
    poly = TG_FMAF(poly, r, 1.6666665459e-1f);
    poly = TG_FMAF(poly, r, 5.0000001201e-1f);
    float er = TG_FMAF(poly * r, r, r) + 1.0f;
    uint32_t n1 = (uint32_t)((int32_t)n >> 1); /* n = n1 + n2, both in exponent range */
    return er * tg_exp2_int(n1) * tg_exp2_int(n - n1);
}

/* 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below: exp never overflows, so
 * tiny results come out as denormals instead of 0. */
static inline float tg_fast_sigmoidf(float x)
{
    float e = tg_fast_expf(-fabsf(x));
    return (x < 0.0f ? e : 1.0f) / (1.0f + e);
}

/* tanh|x| = -m / (2 + m) with m = expm1(-2|x|), then x's sign. m is
 * computed as exp is, with expm1's Taylor polynomial on the reduced
 * argument, so it is accurate near 0 and one formula serves every x: no
 * second branch, a third fewer operations than a polynomial beside exp. */
static inline float tg_fast_tanhf(float x)
{
    float y = -2.0f * fabsf(x);
    y = y < -20.0f ? -20.0f : y; /* tanh is 1 in float beyond |x| = 9.1 */
    float r;
    float scale = tg_exp2_int(tg_exp_n(tg_exp_reduce(y, &r))); /* n in [-29, 0] */
    float poly = 1.0f / 5040.0f;
    poly = TG_FMAF(poly, r, 1.0f / 720.0f);
    poly = TG_FMAF(poly, r, 1.0f / 120.0f);
    poly = TG_FMAF(poly, r, 1.0f / 24.0f);
    poly = TG_FMAF(poly, r, 1.0f / 6.0f);
    poly = TG_FMAF(poly, r, 0.5f);
    float m_r = TG_FMAF(poly * r, r, r); /* expm1(r) */
    float m = TG_FMAF(scale, m_r, scale - 1.0f);
    return copysignf(fabsf(m) / (2.0f + m), x);
}

#endif
