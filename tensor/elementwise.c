#include "tensor/elementwise.h"

#include <assert.h>
#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "tensor/fastmath.h"
#include "tensor/iterate.h"

/* Below this many elements a kernel runs on one thread: starting a team
 * costs a few microseconds, more than a second thread saves on a simple
 * operation over fewer elements (at 2^16, an addition breaks even and a
 * tanh runs 1.6 times faster on two threads). */
#define PARALLEL_MIN_ELEMENTS 65536

/* Elements [begin, end) of the plan in row-major order, handed to fn a row
 * at a time (the first and the last row may be partial). */
static void run_range(const tg_iter_plan *plan, int64_t begin, int64_t end, tg_map_fn fn,
                      tg_map_row row)
{
    int64_t r = begin / plan->inner, j = begin % plan->inner;
    int64_t offset[TG_ITER_MAX_OPERANDS], index[TG_MAX_DIMS];
    tg_iter_offsets(plan, r, offset);
    tg_iter_unravel(plan, r, index);
    for (int64_t done = begin; done < end; j = 0) {
        row.n = plan->inner - j < end - done ? plan->inner - j : end - done;
        row.out = plan->base[0] + offset[0] + j * plan->inner_stride[0];
        for (int k = 1; k < plan->operands; k++)
            row.in[k - 1] = plan->base[k] + offset[k] + j * plan->inner_stride[k];
        fn(&row);
        done += row.n;
        tg_iter_next(plan, index, offset);
    }
}

int tg_map(const char *op, tg_tensor *out, int n_in, const tg_tensor *const *in, tg_map_fn fn,
           const float *param, bool accumulate)
{
    assert(n_in >= 0 && n_in <= TG_MAP_MAX_INPUTS);
    if (!out)
        return -1;
    for (int k = 0; k < n_in; k++)
        if (!in[k])
            return -1;
    const tg_tensor *operands[1 + TG_MAP_MAX_INPUTS] = { out };
    for (int k = 0; k < n_in; k++)
        operands[k + 1] = in[k];
    if (tg_check_float(op, 1 + n_in, operands) != 0 || tg_check_writable(out, op) != 0)
        return -1;
    tg_iter_plan plan;
    if (tg_iter_plan_broadcast(&plan, op, 1 + n_in, operands) != 0)
        return -1;
    const int64_t total = plan.rows * plan.inner;
    if (total == 0)
        return 0;

    tg_map_row row = { .out_stride = plan.inner_stride[0], .param = param, .accumulate = accumulate };
    for (int k = 0; k < n_in; k++)
        row.in_stride[k] = plan.inner_stride[k + 1];
    int threads = total < PARALLEL_MIN_ELEMENTS ? 1 : tg_get_num_threads();
    if (threads <= 1) {
        run_range(&plan, 0, total, fn, row);
        return 0;
    }
    /* Each thread takes an equal run of elements, whatever the rows. */
#pragma omp parallel num_threads(threads)
    {
#ifdef _OPENMP
        int64_t team = omp_get_num_threads(), me = omp_get_thread_num();
#else
        int64_t team = 1, me = 0;
#endif
        /* Chunk edges on multiples of 16 elements keep vector loops aligned. */
        int64_t chunk = ((total + team - 1) / team + 15) / 16 * 16;
        int64_t begin = me * chunk, end = begin + chunk < total ? begin + chunk : total;
        if (begin < end)
            run_range(&plan, begin, end, fn, row);
    }
    return 0;
}

/* ---- Unary ------------------------------------------------------------------ */

/* erf-based GELU: x * Phi(x). */
static inline float gelu(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

/* log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|)). */
static inline float softplus(float x)
{
    return (x > 0.0f ? x : 0.0f) + log1pf(tg_fast_expf(-fabsf(x)));
}

static inline float sign(float x) { return (float)((x > 0.0f) - (x < 0.0f)) + (x != x ? x : 0.0f); }

TG_MAP_ROW_1(row_neg, -a)
TG_MAP_ROW_1(row_abs, fabsf(a))
TG_MAP_ROW_1(row_exp, tg_fast_expf(a))
TG_MAP_ROW_1(row_log, logf(a))
TG_MAP_ROW_1(row_log1p, log1pf(a))
TG_MAP_ROW_1(row_sqrt, sqrtf(a))
TG_MAP_ROW_1(row_rsqrt, 1.0f / sqrtf(a))
TG_MAP_ROW_1(row_square, a * a)
TG_MAP_ROW_1(row_reciprocal, 1.0f / a)
TG_MAP_ROW_1(row_sign, sign(a))
TG_MAP_ROW_1(row_tanh, tg_fast_tanhf(a))
TG_MAP_ROW_1(row_sigmoid, tg_fast_sigmoidf(a))
TG_MAP_ROW_1(row_relu, a > 0.0f ? a : (a != a ? a : 0.0f))
TG_MAP_ROW_1(row_leaky_relu, a > 0.0f ? a : a * p[0])
TG_MAP_ROW_1(row_gelu, gelu(a))
TG_MAP_ROW_1(row_softplus, softplus(a))
TG_MAP_ROW_1(row_sin, sinf(a))
TG_MAP_ROW_1(row_cos, cosf(a))
TG_MAP_ROW_1(row_pow_scalar, powf(a, p[0]))
TG_MAP_ROW_1(row_clamp, a < p[0] ? p[0] : (a > p[1] ? p[1] : a))
TG_MAP_ROW_1(row_add_scalar, a + p[0])
TG_MAP_ROW_1(row_mul_scalar, a * p[0])
TG_MAP_ROW_1(row_rsub_scalar, p[0] - a)
TG_MAP_ROW_1(row_rdiv_scalar, p[0] / a)
TG_MAP_ROW_1(row_rpow_scalar, powf(p[0], a))
TG_MAP_ROW_1(row_eq_scalar, (float)(a == p[0]))
TG_MAP_ROW_1(row_ne_scalar, (float)(a != p[0]))
TG_MAP_ROW_1(row_lt_scalar, (float)(a < p[0]))
TG_MAP_ROW_1(row_le_scalar, (float)(a <= p[0]))
TG_MAP_ROW_1(row_gt_scalar, (float)(a > p[0]))
TG_MAP_ROW_1(row_ge_scalar, (float)(a >= p[0]))
TG_MAP_ROW_1(row_copy, a)

static const struct {
    const char *name;
    tg_map_fn fn;
} unary_ops[] = {
    [TG_UNARY_NEG] = { "neg", row_neg },
    [TG_UNARY_ABS] = { "abs", row_abs },
    [TG_UNARY_EXP] = { "exp", row_exp },
    [TG_UNARY_LOG] = { "log", row_log },
    [TG_UNARY_LOG1P] = { "log1p", row_log1p },
    [TG_UNARY_SQRT] = { "sqrt", row_sqrt },
    [TG_UNARY_RSQRT] = { "rsqrt", row_rsqrt },
    [TG_UNARY_SQUARE] = { "square", row_square },
    [TG_UNARY_RECIPROCAL] = { "reciprocal", row_reciprocal },
    [TG_UNARY_SIGN] = { "sign", row_sign },
    [TG_UNARY_TANH] = { "tanh", row_tanh },
    [TG_UNARY_SIGMOID] = { "sigmoid", row_sigmoid },
    [TG_UNARY_RELU] = { "relu", row_relu },
    [TG_UNARY_LEAKY_RELU] = { "leaky_relu", row_leaky_relu },
    [TG_UNARY_GELU] = { "gelu", row_gelu },
    [TG_UNARY_SOFTPLUS] = { "softplus", row_softplus },
    [TG_UNARY_SIN] = { "sin", row_sin },
    [TG_UNARY_COS] = { "cos", row_cos },
    [TG_UNARY_POW_SCALAR] = { "pow_scalar", row_pow_scalar },
    [TG_UNARY_CLAMP] = { "clamp", row_clamp },
    [TG_UNARY_ADD_SCALAR] = { "add_scalar", row_add_scalar },
    [TG_UNARY_MUL_SCALAR] = { "mul_scalar", row_mul_scalar },
    [TG_UNARY_RSUB_SCALAR] = { "rsub_scalar", row_rsub_scalar },
    [TG_UNARY_RDIV_SCALAR] = { "rdiv_scalar", row_rdiv_scalar },
    [TG_UNARY_RPOW_SCALAR] = { "rpow_scalar", row_rpow_scalar },
    [TG_UNARY_EQ_SCALAR] = { "eq_scalar", row_eq_scalar },
    [TG_UNARY_NE_SCALAR] = { "ne_scalar", row_ne_scalar },
    [TG_UNARY_LT_SCALAR] = { "lt_scalar", row_lt_scalar },
    [TG_UNARY_LE_SCALAR] = { "le_scalar", row_le_scalar },
    [TG_UNARY_GT_SCALAR] = { "gt_scalar", row_gt_scalar },
    [TG_UNARY_GE_SCALAR] = { "ge_scalar", row_ge_scalar },
};
static_assert(sizeof unary_ops / sizeof unary_ops[0] == TG_UNARY_COUNT,
              "every unary op needs a name and a row function");

const char *tg_unary_name(tg_unary_op op)
{
    return (unsigned)op < TG_UNARY_COUNT ? unary_ops[op].name : "unary";
}

int tg_kernel_unary(tg_unary_op op, tg_tensor *out, const tg_tensor *x, const float *param,
                    bool accumulate)
{
    if ((unsigned)op >= TG_UNARY_COUNT)
        return tg_error_set("unary: unknown operation %d", (int)op);
    return tg_map(unary_ops[op].name, out, 1, &x, unary_ops[op].fn, param, accumulate);
}

/* ---- Binary ----------------------------------------------------------------- */

static inline float maximum(float a, float b) { return a != a || b != b ? a + b : (a > b ? a : b); }
static inline float minimum(float a, float b) { return a != a || b != b ? a + b : (a < b ? a : b); }

TG_MAP_ROW_2(row_add, a + b)
TG_MAP_ROW_2(row_sub, a - b)
TG_MAP_ROW_2(row_mul, a * b)
TG_MAP_ROW_2(row_div, a / b)
TG_MAP_ROW_2(row_pow, powf(a, b))
TG_MAP_ROW_2(row_maximum, maximum(a, b))
TG_MAP_ROW_2(row_minimum, minimum(a, b))
TG_MAP_ROW_2(row_eq, (float)(a == b))
TG_MAP_ROW_2(row_ne, (float)(a != b))
TG_MAP_ROW_2(row_lt, (float)(a < b))
TG_MAP_ROW_2(row_le, (float)(a <= b))
TG_MAP_ROW_2(row_gt, (float)(a > b))
TG_MAP_ROW_2(row_ge, (float)(a >= b))

static const struct {
    const char *name;
    tg_map_fn fn;
} binary_ops[] = {
    [TG_BINARY_ADD] = { "add", row_add },
    [TG_BINARY_SUB] = { "sub", row_sub },
    [TG_BINARY_MUL] = { "mul", row_mul },
    [TG_BINARY_DIV] = { "div", row_div },
    [TG_BINARY_POW] = { "pow", row_pow },
    [TG_BINARY_MAXIMUM] = { "maximum", row_maximum },
    [TG_BINARY_MINIMUM] = { "minimum", row_minimum },
    [TG_BINARY_EQ] = { "eq", row_eq },
    [TG_BINARY_NE] = { "ne", row_ne },
    [TG_BINARY_LT] = { "lt", row_lt },
    [TG_BINARY_LE] = { "le", row_le },
    [TG_BINARY_GT] = { "gt", row_gt },
    [TG_BINARY_GE] = { "ge", row_ge },
};
static_assert(sizeof binary_ops / sizeof binary_ops[0] == TG_BINARY_COUNT,
              "every binary op needs a name and a row function");

const char *tg_binary_name(tg_binary_op op)
{
    return (unsigned)op < TG_BINARY_COUNT ? binary_ops[op].name : "binary";
}

int tg_kernel_binary(tg_binary_op op, tg_tensor *out, const tg_tensor *a, const tg_tensor *b,
                     bool accumulate)
{
    if ((unsigned)op >= TG_BINARY_COUNT)
        return tg_error_set("binary: unknown operation %d", (int)op);
    const tg_tensor *in[2] = { a, b };
    return tg_map(binary_ops[op].name, out, 2, in, binary_ops[op].fn, NULL, accumulate);
}

/* ---- Others ----------------------------------------------------------------- */

TG_MAP_ROW_3(row_where, a != 0.0f ? b : c)

int tg_kernel_where(tg_tensor *out, const tg_tensor *mask, const tg_tensor *a, const tg_tensor *b)
{
    const tg_tensor *in[3] = { mask, a, b };
    return tg_map("where", out, 3, in, row_where, NULL, false);
}

int tg_kernel_scale(tg_tensor *out, const tg_tensor *x, float alpha, bool accumulate)
{
    return tg_map("scale", out, 1, &x, row_mul_scalar, &alpha, accumulate);
}

/* int64 tensors have no arithmetic: a copy is all they need. */
static int copy_int64(tg_tensor *out, const tg_tensor *x)
{
    if (tg_check_dtype(x, TG_INT64, "copy") != 0 || tg_check_writable(out, "copy") != 0)
        return -1;
    const tg_tensor *operands[2] = { out, x };
    tg_iter_plan plan;
    if (tg_iter_plan_broadcast(&plan, "copy", 2, operands) != 0)
        return -1;
    int64_t offset[TG_ITER_MAX_OPERANDS], index[TG_MAX_DIMS];
    tg_iter_offsets(&plan, 0, offset);
    tg_iter_unravel(&plan, 0, index);
    const int64_t so = plan.inner_stride[0], sx = plan.inner_stride[1];
    for (int64_t r = 0; r < plan.rows; r++) {
        int64_t *o = out->i64 + offset[0];
        const int64_t *a = x->i64 + offset[1];
        for (int64_t i = 0; i < plan.inner; i++)
            o[i * so] = a[i * sx];
        tg_iter_next(&plan, index, offset);
    }
    return 0;
}

int tg_kernel_copy(tg_tensor *out, const tg_tensor *x, bool accumulate)
{
    if (out && x && out->dtype == TG_INT64 && !accumulate)
        return copy_int64(out, x);
    return tg_map("copy", out, 1, &x, row_copy, NULL, accumulate);
}

static void row_fill(const tg_map_row *r)
{
    const float v = r->param[0];
    if (r->out_stride == 1)
        for (int64_t i = 0; i < r->n; i++)
            r->out[i] = v;
    else
        for (int64_t i = 0; i < r->n; i++)
            r->out[i * r->out_stride] = v;
}

int tg_kernel_fill(tg_tensor *out, float value)
{
    return tg_map("fill", out, 0, NULL, row_fill, &value, false);
}
