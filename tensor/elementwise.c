#include "tensor/elementwise.h"

#include <assert.h>
#include <math.h>

#include "tensor/fastmath.h"
#include "tensor/iterate.h"
#include "tensor/kernel.h"
#include "tensor/parallel.h"

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

/* One tg_map spread over threads. */
typedef struct map_work {
    const tg_iter_plan *plan;
    tg_map_fn fn;
    tg_map_row row;
} map_work;

static void run_chunk(void *context, int64_t begin, int64_t end)
{
    const map_work *work = context;
    run_range(work->plan, begin, end, work->fn, work->row);
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
    if (total < TG_PARALLEL_MIN_ELEMENTS) {
        run_range(&plan, 0, total, fn, row);
        return 0;
    }
    /* Chunk edges on multiples of 16 elements keep vector loops aligned. */
    tg_parallel_for(total, 16, run_chunk, &(map_work){ &plan, fn, row });
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

TG_MAP_ROW_1(row_copy, a)

/* The forward column of tensor/elementwise_table.h, in x (or a and b) and p. */
#define P0 (p[0])
#define P1 (p[1])
#define UNARY_FORWARD_ROW(kind, name, forward, ...)                                        \
    static inline float forward_##kind(float x, const float *p)                           \
    {                                                                                     \
        (void)p;                                                                          \
        return forward;                                                                   \
    }                                                                                     \
    TG_MAP_ROW_1(row_##kind, forward_##kind(a, p))
TG_UNARY_TABLE(UNARY_FORWARD_ROW)
TG_UNARY_COMPARISON_TABLE(UNARY_FORWARD_ROW)

#define UNARY_ENTRY(kind, name, ...) [TG_UNARY_##kind] = { name, row_##kind },
static const struct {
    const char *name;
    tg_map_fn fn;
} unary_ops[] = { TG_UNARY_TABLE(UNARY_ENTRY) TG_UNARY_COMPARISON_TABLE(UNARY_ENTRY) };
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

#define BINARY_FORWARD_ROW(kind, name, forward, ...) TG_MAP_ROW_2(row_##kind, forward)
TG_BINARY_TABLE(BINARY_FORWARD_ROW)
TG_BINARY_COMPARISON_TABLE(BINARY_FORWARD_ROW)

#define BINARY_ENTRY(kind, name, ...) [TG_BINARY_##kind] = { name, row_##kind },
static const struct {
    const char *name;
    tg_map_fn fn;
} binary_ops[] = { TG_BINARY_TABLE(BINARY_ENTRY) TG_BINARY_COMPARISON_TABLE(BINARY_ENTRY) };
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
    return tg_map("scale", out, 1, &x, row_MUL_SCALAR, &alpha, accumulate);
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
