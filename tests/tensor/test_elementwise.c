/* Elementwise kernels: every unary and binary operation against a
 * reference in double precision, NumPy broadcasting, accumulate mode, NaN
 * propagation, and the threaded paths against a naive loop. */
#include "support.h"
#include <tensor/kernel.h>

TestSuite(unary, .init = tg_test_setup, .fini = tg_test_teardown);
TestSuite(binary, .init = tg_test_setup, .fini = tg_test_teardown);
TestSuite(map, .init = tg_test_setup, .fini = tg_test_teardown);

/* ---- Unary --------------------------------------------------------------- */

static double ref_neg(double x, const float *p) { (void)p; return -x; }
static double ref_abs(double x, const float *p) { (void)p; return fabs(x); }
static double ref_exp(double x, const float *p) { (void)p; return exp(x); }
static double ref_log(double x, const float *p) { (void)p; return log(x); }
static double ref_log1p(double x, const float *p) { (void)p; return log1p(x); }
static double ref_sqrt(double x, const float *p) { (void)p; return sqrt(x); }
static double ref_rsqrt(double x, const float *p) { (void)p; return 1 / sqrt(x); }
static double ref_square(double x, const float *p) { (void)p; return x * x; }
static double ref_reciprocal(double x, const float *p) { (void)p; return 1 / x; }
static double ref_sign(double x, const float *p) { (void)p; return x > 0 ? 1 : (x < 0 ? -1 : 0); }
static double ref_tanh(double x, const float *p) { (void)p; return tanh(x); }
static double ref_sigmoid(double x, const float *p) { (void)p; return 1 / (1 + exp(-x)); }
static double ref_relu(double x, const float *p) { (void)p; return x > 0 ? x : 0; }
static double ref_leaky_relu(double x, const float *p) { return x > 0 ? x : x * p[0]; }
static double ref_gelu(double x, const float *p) { (void)p; return 0.5 * x * (1 + erf(x / sqrt(2.0))); }
static double ref_softplus(double x, const float *p) { (void)p; return log1p(exp(x)); }
static double ref_sin(double x, const float *p) { (void)p; return sin(x); }
static double ref_cos(double x, const float *p) { (void)p; return cos(x); }
static double ref_erf(double x, const float *p) { (void)p; return erf(x); }
static double ref_pow_scalar(double x, const float *p) { return pow(x, p[0]); }
static double ref_clamp(double x, const float *p) { return x < p[0] ? p[0] : (x > p[1] ? p[1] : x); }
static double ref_add_scalar(double x, const float *p) { return x + p[0]; }
static double ref_mul_scalar(double x, const float *p) { return x * p[0]; }
static double ref_rsub_scalar(double x, const float *p) { return p[0] - x; }
static double ref_rdiv_scalar(double x, const float *p) { return p[0] / x; }
static double ref_rpow_scalar(double x, const float *p) { return pow(p[0], x); }
static double ref_eq_scalar(double x, const float *p) { return x == p[0]; }
static double ref_ne_scalar(double x, const float *p) { return x != p[0]; }
static double ref_lt_scalar(double x, const float *p) { return x < p[0]; }
static double ref_le_scalar(double x, const float *p) { return x <= p[0]; }
static double ref_gt_scalar(double x, const float *p) { return x > p[0]; }
static double ref_ge_scalar(double x, const float *p) { return x >= p[0]; }

static const struct {
    tg_unary_op op;
    double (*ref)(double, const float *);
    float param[2];
    bool positive; /* defined only for x > 0 */
} unary_cases[] = {
    { TG_UNARY_NEG, ref_neg, { 0 }, false },
    { TG_UNARY_ABS, ref_abs, { 0 }, false },
    { TG_UNARY_EXP, ref_exp, { 0 }, false },
    { TG_UNARY_LOG, ref_log, { 0 }, true },
    { TG_UNARY_LOG1P, ref_log1p, { 0 }, true },
    { TG_UNARY_SQRT, ref_sqrt, { 0 }, true },
    { TG_UNARY_RSQRT, ref_rsqrt, { 0 }, true },
    { TG_UNARY_SQUARE, ref_square, { 0 }, false },
    { TG_UNARY_RECIPROCAL, ref_reciprocal, { 0 }, true },
    { TG_UNARY_SIGN, ref_sign, { 0 }, false },
    { TG_UNARY_TANH, ref_tanh, { 0 }, false },
    { TG_UNARY_SIGMOID, ref_sigmoid, { 0 }, false },
    { TG_UNARY_RELU, ref_relu, { 0 }, false },
    { TG_UNARY_LEAKY_RELU, ref_leaky_relu, { 0.1f }, false },
    { TG_UNARY_GELU, ref_gelu, { 0 }, false },
    { TG_UNARY_SOFTPLUS, ref_softplus, { 0 }, false },
    { TG_UNARY_SIN, ref_sin, { 0 }, false },
    { TG_UNARY_COS, ref_cos, { 0 }, false },
    { TG_UNARY_ERF, ref_erf, { 0 }, false },
    { TG_UNARY_POW_SCALAR, ref_pow_scalar, { 2.5f }, true },
    { TG_UNARY_CLAMP, ref_clamp, { -1.0f, 0.75f }, false },
    { TG_UNARY_ADD_SCALAR, ref_add_scalar, { 1.5f }, false },
    { TG_UNARY_MUL_SCALAR, ref_mul_scalar, { -3.0f }, false },
    { TG_UNARY_RSUB_SCALAR, ref_rsub_scalar, { 2.0f }, false },
    { TG_UNARY_RDIV_SCALAR, ref_rdiv_scalar, { 3.0f }, true },
    { TG_UNARY_RPOW_SCALAR, ref_rpow_scalar, { 2.0f }, false },
    { TG_UNARY_EQ_SCALAR, ref_eq_scalar, { 0.5f }, false },
    { TG_UNARY_NE_SCALAR, ref_ne_scalar, { 0.5f }, false },
    { TG_UNARY_LT_SCALAR, ref_lt_scalar, { 0.5f }, false },
    { TG_UNARY_LE_SCALAR, ref_le_scalar, { 0.5f }, false },
    { TG_UNARY_GT_SCALAR, ref_gt_scalar, { 0.5f }, false },
    { TG_UNARY_GE_SCALAR, ref_ge_scalar, { 0.5f }, false },
};

#define N_INPUTS 12
static const float any_inputs[N_INPUTS] = { -7.5f, -3, -1, -0.5f, -0.125f, 0, 0.125f, 0.5f, 1, 2, 3.25f, 9 };
static const float positive_inputs[N_INPUTS] = { 0.001f, 0.01f, 0.125f, 0.3f, 0.5f, 0.9f,
                                                 1, 1.5f, 2, 3.25f, 10, 1000 };

Test(unary, every_operation_matches_its_reference)
{
    cr_assert_eq(sizeof unary_cases / sizeof unary_cases[0], TG_UNARY_COUNT);
    for (size_t c = 0; c < TG_UNARY_COUNT; c++) {
        cr_assert_eq(unary_cases[c].op, (tg_unary_op)c);
        const float *in = unary_cases[c].positive ? positive_inputs : any_inputs;
        tg_tensor *x = tg_from_array(TG_SHAPE(3, 4), in);
        tg_tensor *out = tg_empty(TG_SHAPE(3, 4));
        cr_assert_eq(tg_kernel_unary(unary_cases[c].op, out, x, unary_cases[c].param, false), 0, "%s: %s",
                     tg_unary_name(unary_cases[c].op), tg_error_message());
        for (int i = 0; i < N_INPUTS; i++) {
            double want = unary_cases[c].ref(in[i], unary_cases[c].param);
            double tol = 2e-6 * fmax(1.0, fabs(want));
            cr_assert(fabs(out->data[i] - want) <= tol, "%s(%g) = %.9g, expected %.9g",
                      tg_unary_name(unary_cases[c].op), in[i], out->data[i], want);
        }
    }
}

Test(unary, names_and_hand_values)
{
    cr_assert_str_eq(tg_unary_name(TG_UNARY_TANH), "tanh");
    cr_assert_str_eq(tg_unary_name(TG_UNARY_LEAKY_RELU), "leaky_relu");
    tg_tensor *x = tg_from_array(TG_SHAPE(4), (float[]){ -2, 0, 1, 4 });
    tg_tensor *out = tg_empty(TG_SHAPE(4));
    tg_kernel_unary(TG_UNARY_SQUARE, out, x, NULL, false);
    tg_assert_values(out, ((float[]){ 4, 0, 1, 16 }), 4, 0);
    tg_kernel_unary(TG_UNARY_CLAMP, out, x, (float[]){ -1, 2 }, false);
    tg_assert_values(out, ((float[]){ -1, 0, 1, 2 }), 4, 0);
    tg_kernel_unary(TG_UNARY_SIGMOID, out, x, NULL, false);
    tg_assert_values(out, ((float[]){ 0.11920292f, 0.5f, 0.73105858f, 0.98201379f }), 4, 1e-6);
    tg_kernel_unary(TG_UNARY_GELU, out, x, NULL, false);
    tg_assert_values(out, ((float[]){ -0.04550026f, 0, 0.84134475f, 3.99987331f }), 4, 1e-6);
}

/* Distance in units in the last place between two floats of one sign. */
static int64_t ulp_distance(float a, float b)
{
    int32_t ia, ib;
    memcpy(&ia, &a, sizeof ia);
    memcpy(&ib, &b, sizeof ib);
    if (ia < 0)
        ia = INT32_MIN - ia;
    if (ib < 0)
        ib = INT32_MIN - ib;
    return llabs((long long)ia - ib);
}

/* exp, tanh and sigmoid use their own vectorisable code: sweep the whole
 * float range against libm in double, rounded to float. */
Test(unary, fast_exp_tanh_sigmoid_are_within_two_ulp)
{
    const int n = 40001;
    tg_tensor *x = tg_empty(TG_SHAPE(n));
    for (int i = 0; i < n; i++)
        x->data[i] = -110.0f + 200.0f * (float)i / (float)(n - 1);
    tg_tensor *out = tg_empty(TG_SHAPE(n));
    const struct {
        tg_unary_op op;
        double (*ref)(double, const float *);
    } cases[] = { { TG_UNARY_EXP, ref_exp }, { TG_UNARY_TANH, ref_tanh }, { TG_UNARY_SIGMOID, ref_sigmoid } };
    for (int c = 0; c < 3; c++) {
        tg_kernel_unary(cases[c].op, out, x, NULL, false);
        for (int i = 0; i < n; i++) {
            float want = (float)cases[c].ref(x->data[i], NULL);
            cr_assert(ulp_distance(out->data[i], want) <= 2, "%s(%.9g) = %.9g, expected %.9g",
                      tg_unary_name(cases[c].op), x->data[i], out->data[i], want);
        }
    }
    /* Ends of the range and special values. */
    tg_tensor *s = tg_from_array(TG_SHAPE(5), (float[]){ 89.0f, -104.0f, INFINITY, -INFINITY, NAN });
    tg_tensor *o = tg_empty(TG_SHAPE(5));
    tg_kernel_unary(TG_UNARY_EXP, o, s, NULL, false);
    tg_assert_values(o, ((float[]){ INFINITY, 0, INFINITY, 0, NAN }), 5, 0);
    tg_kernel_unary(TG_UNARY_TANH, o, s, NULL, false);
    tg_assert_values(o, ((float[]){ 1, -1, 1, -1, NAN }), 5, 0);
    tg_kernel_unary(TG_UNARY_SIGMOID, o, s, NULL, false);
    tg_assert_values(o, ((float[]){ 1, 0, 1, 0, NAN }), 5, 0);
    tg_tensor *zeros = tg_from_array(TG_SHAPE(2), (float[]){ 0.0f, -0.0f });
    tg_kernel_unary(TG_UNARY_TANH, o = tg_empty(TG_SHAPE(2)), zeros, NULL, false);
    cr_assert(o->data[0] == 0 && !signbit(o->data[0]) && signbit(o->data[1]), "tanh keeps the sign of zero");
}

Test(unary, nan_propagates)
{
    const tg_unary_op ops[] = { TG_UNARY_NEG, TG_UNARY_ABS, TG_UNARY_EXP, TG_UNARY_LOG, TG_UNARY_SQRT,
                                TG_UNARY_TANH, TG_UNARY_SIGMOID, TG_UNARY_RELU, TG_UNARY_LEAKY_RELU,
                                TG_UNARY_GELU, TG_UNARY_SOFTPLUS, TG_UNARY_SIGN, TG_UNARY_SQUARE };
    tg_tensor *x = tg_from_array(TG_SHAPE(2), (float[]){ NAN, 1 });
    tg_tensor *out = tg_empty(TG_SHAPE(2));
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        tg_kernel_unary(ops[k], out, x, (float[]){ 0.1f, 0 }, false);
        cr_assert(isnan(out->data[0]), "%s(NaN) = %g", tg_unary_name(ops[k]), out->data[0]);
        cr_assert(!isnan(out->data[1]));
    }
    /* Comparisons with NaN are false, except "not equal". */
    tg_kernel_unary(TG_UNARY_EQ_SCALAR, out, x, (float[]){ NAN }, false);
    tg_assert_values(out, ((float[]){ 0, 0 }), 2, 0);
    tg_kernel_unary(TG_UNARY_NE_SCALAR, out, x, (float[]){ 1 }, false);
    tg_assert_values(out, ((float[]){ 1, 0 }), 2, 0);
}

Test(unary, softplus_is_stable_for_large_inputs)
{
    tg_tensor *x = tg_from_array(TG_SHAPE(3), (float[]){ 100, -100, 30 });
    tg_tensor *out = tg_empty(TG_SHAPE(3));
    tg_kernel_unary(TG_UNARY_SOFTPLUS, out, x, NULL, false);
    cr_assert_float_eq(out->data[0], 100.0f, 1e-5);
    cr_assert(out->data[1] > 0 && fabsf(out->data[1] - 3.7200760e-44f) < 1e-45f, "%g", out->data[1]);
    cr_assert_float_eq(out->data[2], 30.0f, 1e-5);
}

Test(unary, accumulate_adds_to_the_output)
{
    tg_tensor *x = tg_from_array(TG_SHAPE(3), (float[]){ 1, 2, 3 });
    tg_tensor *out = tg_from_array(TG_SHAPE(3), (float[]){ 10, 20, 30 });
    cr_assert_eq(tg_kernel_unary(TG_UNARY_SQUARE, out, x, NULL, true), 0);
    tg_assert_values(out, ((float[]){ 11, 24, 39 }), 3, 0);
    cr_assert_eq(tg_kernel_scale(out, x, 2.0f, true), 0);
    tg_assert_values(out, ((float[]){ 13, 28, 45 }), 3, 0);
    cr_assert_eq(tg_kernel_copy(out, x, true), 0);
    tg_assert_values(out, ((float[]){ 14, 30, 48 }), 3, 0);
    cr_assert_eq(tg_kernel_scale(out, x, -1.0f, false), 0);
    tg_assert_values(out, ((float[]){ -1, -2, -3 }), 3, 0);
}

Test(unary, strided_input_and_output)
{
    tg_tensor *x = tg_from_array(TG_SHAPE(2, 3), (float[]){ 1, 2, 3, 4, 5, 6 });
    tg_tensor *buffer = tg_zeros(TG_SHAPE(3, 4));
    tg_tensor *out = tg_view_slice(buffer, 1, 0, 4, 2); /* [3,2] with column stride 2 */
    cr_assert_eq(tg_kernel_unary(TG_UNARY_NEG, out, tg_view_transpose(x, 0, 1), NULL, false), 0);
    tg_assert_values(buffer, ((float[]){ -1, 0, -4, 0, -2, 0, -5, 0, -3, 0, -6, 0 }), 12, 0);
}

/* ---- Binary -------------------------------------------------------------- */

static double bin_ref(tg_binary_op op, double a, double b)
{
    switch (op) {
    case TG_BINARY_ADD: return a + b;
    case TG_BINARY_SUB: return a - b;
    case TG_BINARY_MUL: return a * b;
    case TG_BINARY_DIV: return a / b;
    case TG_BINARY_POW: return pow(a, b);
    case TG_BINARY_MAXIMUM: return a > b ? a : b;
    case TG_BINARY_MINIMUM: return a < b ? a : b;
    case TG_BINARY_EQ: return a == b;
    case TG_BINARY_NE: return a != b;
    case TG_BINARY_LT: return a < b;
    case TG_BINARY_LE: return a <= b;
    case TG_BINARY_GT: return a > b;
    case TG_BINARY_GE: return a >= b;
    default: return NAN;
    }
}

Test(binary, every_operation_matches_its_reference)
{
    const float a[6] = { 0.5f, 2, 3, 1.5f, 4, 2 };
    const float b[6] = { 2, 2, -1, 0.25f, 4.5f, 3 };
    tg_tensor *ta = tg_from_array(TG_SHAPE(2, 3), a), *tb = tg_from_array(TG_SHAPE(2, 3), b);
    tg_tensor *out = tg_empty(TG_SHAPE(2, 3));
    for (int op = 0; op < TG_BINARY_COUNT; op++) {
        cr_assert_eq(tg_kernel_binary((tg_binary_op)op, out, ta, tb, false), 0, "%s", tg_error_message());
        for (int i = 0; i < 6; i++) {
            double want = bin_ref((tg_binary_op)op, a[i], b[i]);
            cr_assert(fabs(out->data[i] - want) <= 1e-6 * fmax(1, fabs(want)), "%s(%g, %g) = %g, expected %g",
                      tg_binary_name((tg_binary_op)op), a[i], b[i], out->data[i], want);
        }
    }
    cr_assert_str_eq(tg_binary_name(TG_BINARY_MAXIMUM), "maximum");
}

Test(binary, numpy_broadcasting)
{
    /* [2,3] + [3] */
    tg_tensor *m = tg_from_array(TG_SHAPE(2, 3), (float[]){ 1, 2, 3, 4, 5, 6 });
    tg_tensor *row = tg_from_array(TG_SHAPE(3), (float[]){ 10, 20, 30 });
    tg_tensor *out = tg_empty(TG_SHAPE(2, 3));
    cr_assert_eq(tg_kernel_binary(TG_BINARY_ADD, out, m, row, false), 0);
    tg_assert_values(out, ((float[]){ 11, 22, 33, 14, 25, 36 }), 6, 0);
    /* [2,1] * [1,3] gives an outer product */
    tg_tensor *col = tg_from_array(TG_SHAPE(2, 1), (float[]){ 2, 3 });
    tg_tensor *r13 = tg_from_array(TG_SHAPE(1, 3), (float[]){ 1, 10, 100 });
    cr_assert_eq(tg_kernel_binary(TG_BINARY_MUL, out, col, r13, false), 0);
    tg_assert_values(out, ((float[]){ 2, 20, 200, 3, 30, 300 }), 6, 0);
    /* a 0-d scalar against a matrix, on either side */
    tg_tensor *s = tg_from_array(TG_SCALAR, (float[]){ 12 });
    cr_assert_eq(tg_kernel_binary(TG_BINARY_SUB, out, s, m, false), 0);
    tg_assert_values(out, ((float[]){ 11, 10, 9, 8, 7, 6 }), 6, 0);
    cr_assert_eq(tg_kernel_binary(TG_BINARY_DIV, out, m, s, false), 0);
    tg_assert_values(out, ((float[]){ 1 / 12.f, 2 / 12.f, 3 / 12.f, 4 / 12.f, 5 / 12.f, 6 / 12.f }), 6, 1e-7);
    /* [4,1,3] and [2,1] to [4,2,3]: a naive loop decides */
    tg_tensor *x = tg_empty(TG_SHAPE(4, 1, 3));
    for (int i = 0; i < 12; i++)
        x->data[i] = (float)i;
    tg_tensor *y = tg_from_array(TG_SHAPE(2, 1), (float[]){ 100, 200 });
    tg_tensor *big = tg_empty(TG_SHAPE(4, 2, 3));
    cr_assert_eq(tg_kernel_binary(TG_BINARY_SUB, big, x, y, false), 0);
    float expected[24];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 3; k++)
                expected[(i * 2 + j) * 3 + k] = x->data[i * 3 + k] - y->data[j];
    tg_assert_values(big, expected, 24, 0);
}

Test(binary, non_contiguous_operands)
{
    tg_tensor *m = tg_from_array(TG_SHAPE(3, 2), (float[]){ 1, 2, 3, 4, 5, 6 });
    tg_tensor *n = tg_from_array(TG_SHAPE(2, 6), (float[]){ 1, 0, 1, 0, 1, 0, 2, 0, 2, 0, 2, 0 });
    tg_tensor *out = tg_empty(TG_SHAPE(2, 3));
    /* m^T [[1,3,5],[2,4,6]] times n[:, ::2] [[1,1,1],[2,2,2]] */
    cr_assert_eq(tg_kernel_binary(TG_BINARY_MUL, out, tg_view_transpose(m, 0, 1), tg_view_slice(n, 1, 0, 6, 2), false), 0);
    tg_assert_values(out, ((float[]){ 1, 3, 5, 4, 8, 12 }), 6, 0);
    /* an expanded operand */
    tg_tensor *e = tg_view_expand(tg_from_array(TG_SHAPE(1), (float[]){ 3 }), TG_SHAPE(2, 3));
    cr_assert_eq(tg_kernel_binary(TG_BINARY_POW, out, e, tg_view_transpose(m, 0, 1), false), 0);
    tg_assert_values(out, ((float[]){ 3, 27, 243, 9, 81, 729 }), 6, 0);
}

Test(binary, accumulate_and_in_place)
{
    tg_tensor *a = tg_from_array(TG_SHAPE(3), (float[]){ 1, 2, 3 });
    tg_tensor *b = tg_from_array(TG_SHAPE(3), (float[]){ 4, 5, 6 });
    tg_tensor *out = tg_from_array(TG_SHAPE(3), (float[]){ 1, 1, 1 });
    cr_assert_eq(tg_kernel_binary(TG_BINARY_MUL, out, a, b, true), 0);
    tg_assert_values(out, ((float[]){ 5, 11, 19 }), 3, 0);
    /* out may be one of the inputs */
    cr_assert_eq(tg_kernel_binary(TG_BINARY_ADD, a, a, b, false), 0);
    tg_assert_values(a, ((float[]){ 5, 7, 9 }), 3, 0);
    cr_assert_eq(tg_kernel_binary(TG_BINARY_SUB, a, a, a, true), 0); /* a += a - a */
    tg_assert_values(a, ((float[]){ 5, 7, 9 }), 3, 0);
}

Test(binary, nan_and_infinities)
{
    tg_tensor *a = tg_from_array(TG_SHAPE(4), (float[]){ NAN, 1, 0, 1 });
    tg_tensor *b = tg_from_array(TG_SHAPE(4), (float[]){ 2, NAN, 0, 0 });
    tg_tensor *out = tg_empty(TG_SHAPE(4));
    tg_kernel_binary(TG_BINARY_MAXIMUM, out, a, b, false);
    tg_assert_values(out, ((float[]){ NAN, NAN, 0, 1 }), 4, 0);
    tg_kernel_binary(TG_BINARY_MINIMUM, out, a, b, false);
    tg_assert_values(out, ((float[]){ NAN, NAN, 0, 0 }), 4, 0);
    tg_kernel_binary(TG_BINARY_DIV, out, a, b, false);
    tg_assert_values(out, ((float[]){ NAN, NAN, NAN, INFINITY }), 4, 0);
    tg_kernel_binary(TG_BINARY_NE, out, a, b, false);
    tg_assert_values(out, ((float[]){ 1, 1, 0, 1 }), 4, 0);
    tg_kernel_binary(TG_BINARY_GE, out, a, b, false);
    tg_assert_values(out, ((float[]){ 0, 0, 1, 1 }), 4, 0);
}

Test(binary, where_selects_with_a_broadcast_mask)
{
    tg_tensor *mask = tg_from_array(TG_SHAPE(2, 1), (float[]){ 1, 0 });
    tg_tensor *a = tg_from_array(TG_SHAPE(3), (float[]){ 1, 2, 3 });
    tg_tensor *b = tg_from_array(TG_SCALAR, (float[]){ -1 });
    tg_tensor *out = tg_empty(TG_SHAPE(2, 3));
    cr_assert_eq(tg_kernel_where(out, mask, a, b), 0);
    tg_assert_values(out, ((float[]){ 1, 2, 3, -1, -1, -1 }), 6, 0);
    /* any non-zero value (NaN included) counts as true */
    tg_tensor *m2 = tg_from_array(TG_SHAPE(3), (float[]){ NAN, -0.5f, 0 });
    tg_tensor *o2 = tg_empty(TG_SHAPE(3));
    tg_kernel_where(o2, m2, a, b);
    tg_assert_values(o2, ((float[]){ 1, 2, -1 }), 3, 0);
}

Test(binary, fill)
{
    tg_tensor *t = tg_zeros(TG_SHAPE(3, 4));
    cr_assert_eq(tg_kernel_fill(tg_view_narrow(t, 1, 1, 2), 5.0f), 0);
    tg_assert_values(t, ((float[]){ 0, 5, 5, 0, 0, 5, 5, 0, 0, 5, 5, 0 }), 12, 0);
}

/* ---- The engine: threads and custom rows -------------------------------- */

TG_MAP_ROW_2(row_axpy, p[0] * a + b)

Test(map, a_custom_row_function)
{
    tg_tensor *x = tg_from_array(TG_SHAPE(2, 2), (float[]){ 1, 2, 3, 4 });
    tg_tensor *y = tg_from_array(TG_SHAPE(2), (float[]){ 10, 20 });
    tg_tensor *out = tg_empty(TG_SHAPE(2, 2));
    const float alpha = 3;
    cr_assert_eq(tg_map("axpy", out, 2, (const tg_tensor *[]){ x, y }, row_axpy, &alpha, false), 0);
    tg_assert_values(out, ((float[]){ 13, 26, 19, 32 }), 4, 0);
}

/* Large tensors split across threads, one long row or many rows; each
 * layout must give what a naive loop gives. */
Test(map, threaded_paths_match_a_naive_loop)
{
    int previous = tg_get_num_threads();
    tg_set_num_threads(2);
    const int64_t R = 301, C = 257; /* odd sizes: uneven chunks */
    tg_rng rng = tg_rng_new(1);
    tg_tensor *a = tg_rand(TG_SHAPE(R, C), &rng);
    tg_tensor *b = tg_rand(TG_SHAPE(C), &rng);
    tg_tensor *out = tg_empty(TG_SHAPE(R, C));
    /* contiguous: one row of R*C elements */
    cr_assert_eq(tg_kernel_binary(TG_BINARY_MUL, out, a, a, false), 0);
    for (int64_t i = 0; i < R * C; i++)
        cr_assert_eq(out->data[i], a->data[i] * a->data[i]);
    /* broadcast: R rows */
    cr_assert_eq(tg_kernel_binary(TG_BINARY_SUB, out, a, b, false), 0);
    for (int64_t i = 0; i < R; i++)
        for (int64_t j = 0; j < C; j++)
            cr_assert_eq(out->data[i * C + j], a->data[i * C + j] - b->data[j]);
    /* transposed input */
    tg_tensor *t = tg_empty(TG_SHAPE(C, R));
    tg_kernel_fill(t, 0.0f);
    cr_assert_eq(tg_kernel_unary(TG_UNARY_ADD_SCALAR, t, tg_view_transpose(a, 0, 1), (float[]){ 1 }, true), 0);
    for (int64_t i = 0; i < C; i++)
        for (int64_t j = 0; j < R; j++)
            cr_assert_eq(t->data[i * R + j], a->data[j * C + i] + 1.0f);
    tg_set_num_threads(previous);
}
