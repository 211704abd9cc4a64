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

/* exp(x) = 2^n * exp(r), r = x - n ln2 in [-ln2/2, ln2/2]; exp(r) by the
 * Cephes polynomial; 2^n applied as two factors so that results near the
 * ends of the range (denormals, overflow) come out as libm's. n is read
 * from the bits of the rounding sum, with no float-to-int conversion: that
 * keeps NaN defined and the loop free of masks. */
static inline float tg_fast_expf(float x)
{
    /* Outside these bounds the result is 0 or inf anyway; comparisons keep NaN. */
    x = x > 89.0f ? 89.0f : x;
    x = x < -104.0f ? -104.0f : x;
    const float shifter = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float t = x * 1.44269504088896341f + shifter;
    float fn = t - shifter;
    float r = x - fn * 0.693359375f;
    r = r - fn * -2.12194440e-4f;
    float poly = 1.9875691500e-4f;
    poly = poly * r + 1.3981999507e-3f;
    poly = poly * r + 8.3334519073e-3f;
    poly = poly * r + 4.1665795894e-2f;
    poly = poly * r + 1.6666665459e-1f;
    poly = poly * r + 5.0000001201e-1f;
    float er = poly * r * r + r + 1.0f;
    /* n sits in the low mantissa bits of t, offset by the shifter's. */
    uint32_t n = tg_float_to_bits(t) - tg_float_to_bits(shifter);
    uint32_t n1 = (uint32_t)((int32_t)n >> 1); /* n = n1 + n2, both in exponent range */
    uint32_t n2 = n - n1;
    float scale1 = tg_bits_to_float((n1 + 127u) << 23);
    float scale2 = tg_bits_to_float((n2 + 127u) << 23);
    return er * scale1 * scale2;
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
    const float shifter = 12582912.0f;
    float t = y * 1.44269504088896341f + shifter;
    float fn = t - shifter;
    float r = y - fn * 0.693359375f;
    r = r - fn * -2.12194440e-4f;
    float poly = 1.0f / 5040.0f;
    poly = poly * r + 1.0f / 720.0f;
    poly = poly * r + 1.0f / 120.0f;
    poly = poly * r + 1.0f / 24.0f;
    poly = poly * r + 1.0f / 6.0f;
    poly = poly * r + 0.5f;
    float m_r = poly * r * r + r; /* expm1(r) */
    uint32_t n = tg_float_to_bits(t) - tg_float_to_bits(shifter);
    float scale = tg_bits_to_float((n + 127u) << 23); /* 2^n, n in [-29, 0] */
    float m = scale * m_r + (scale - 1.0f);
    return copysignf(fabsf(m) / (2.0f + m), x);
}

#endif
