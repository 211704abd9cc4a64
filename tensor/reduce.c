#include "tensor/reduce.h"

#include <math.h>
#include <string.h>

#include "tensor/elementwise.h"
#include "tensor/fastmath.h"
#include "tensor/iterate.h"
#include "tensor/kernel.h"
#include "tensor/parallel.h"

#define PARALLEL_MIN_ELEMENTS 32768

typedef enum reduce_kind {
    REDUCE_SUM,         /* out += scale * x */
    REDUCE_MAX,
    REDUCE_MIN,
    REDUCE_SQUARED_DEV, /* out += (x - aux)^2 */
    REDUCE_EXP_SHIFTED, /* out += exp(x - aux), aux the row's max */
    REDUCE_ABS_POW,     /* out += |x|^param */
    REDUCE_MAX_ABS,
} reduce_kind;

static inline float shift_of(float m) { return isfinite(m) ? m : 0.0f; }

static inline float term(reduce_kind kind, float x, float aux, float param)
{
    switch (kind) {
    case REDUCE_SQUARED_DEV:
        return (x - aux) * (x - aux);
    case REDUCE_EXP_SHIFTED:
        return tg_fast_expf(x - shift_of(aux));
    case REDUCE_ABS_POW:
        return param == 2.0f ? x * x : (param == 1.0f ? fabsf(x) : powf(fabsf(x), param));
    case REDUCE_MAX_ABS:
        return fabsf(x);
    default:
        return x;
    }
}

static inline bool is_sum(reduce_kind kind) { return kind != REDUCE_MAX && kind != REDUCE_MIN && kind != REDUCE_MAX_ABS; }

/* NaN wins, as in PyTorch. */
static inline float pick(reduce_kind kind, float current, float v)
{
    if (v != v)
        return v;
    if (kind == REDUCE_MIN)
        return v < current ? v : current;
    return v > current ? v : current;
}

/* Reduces a run of x (with aux broadcast along it at stride as) into *out. */
static void reduce_run_to_scalar(reduce_kind kind, float scale, float param, int64_t n, float *out,
                                 const float *x, int64_t xs, const float *aux, int64_t as)
{
    if (is_sum(kind)) {
        double acc[4] = { 0, 0, 0, 0 };
        int64_t i = 0;
        if (kind == REDUCE_SUM && xs == 1) {
            for (; i + 4 <= n; i += 4)
                for (int k = 0; k < 4; k++)
                    acc[k] += x[i + k];
        }
        for (; i < n; i++)
            acc[i & 3] += term(kind, x[i * xs], aux ? aux[i * as] : 0.0f, param);
        *out += scale * (float)((acc[0] + acc[1]) + (acc[2] + acc[3]));
        return;
    }
    float m = *out;
    for (int64_t i = 0; i < n; i++)
        m = pick(kind, m, term(kind, x[i * xs], 0.0f, param));
    *out = m;
}

/* Combines a run of x into a run of out element by element. */
static void reduce_run_elementwise(reduce_kind kind, float scale, float param, int64_t n, float *out,
                                   int64_t os, const float *x, int64_t xs, const float *aux,
                                   int64_t as)
{
    if (kind == REDUCE_SUM && os == 1 && xs == 1) {
        for (int64_t i = 0; i < n; i++)
            out[i] += scale * x[i];
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        float v = term(kind, x[i * xs], aux ? aux[i * as] : 0.0f, param);
        out[i * os] = is_sum(kind) ? out[i * os] + scale * v : pick(kind, out[i * os], v);
    }
}

/* Folds rows [r0, r1) of the plan into its operand 0 (the output). */
static void reduce_rows(const tg_iter_plan *plan, bool has_aux, int64_t r0, int64_t r1,
                        reduce_kind kind, float scale, float param)
{
    int64_t offset[TG_ITER_MAX_OPERANDS], index[TG_MAX_DIMS];
    tg_iter_offsets(plan, r0, offset);
    tg_iter_unravel(plan, r0, index);
    int64_t as = has_aux ? plan->inner_stride[2] : 0;
    for (int64_t r = r0; r < r1; r++) {
        float *o = plan->base[0] + offset[0];
        const float *xv = plan->base[1] + offset[1];
        const float *av = has_aux ? plan->base[2] + offset[2] : NULL;
        if (plan->inner_stride[0] == 0)
            reduce_run_to_scalar(kind, scale, param, plan->inner, o, xv, plan->inner_stride[1], av, as);
        else
            reduce_run_elementwise(kind, scale, param, plan->inner, o, plan->inner_stride[0], xv,
                                   plan->inner_stride[1], av, as);
        tg_iter_next(plan, index, offset);
    }
}

/* Float additions into each output element per block of a cascaded sum.
 * Adding n floats one after another into one accumulator errs by up to n
 * roundings; a cascade adds CASCADE_BLOCK terms into a zeroed partial, then
 * adds the partials pairwise, so the error grows like CASCADE_BLOCK +
 * log2(n / CASCADE_BLOCK) roundings. Bias gradients (a sum over T x B
 * rows) are the case this is for; PyTorch cascades its sums as well. */
#define CASCADE_BLOCK 32

static int reduce_into(const char *op, tg_tensor *out, const tg_tensor *x, const tg_tensor *aux,
                       reduce_kind kind, float scale, float param);

/* Plan over x with operand 0 a contiguous buffer of out's shape. */
static int plan_with_scratch(const char *op, tg_iter_plan *plan, tg_tensor *scratch, const tg_tensor *x,
                             const tg_tensor *aux)
{
    int64_t stride[3][TG_MAX_DIMS];
    if (tg_broadcast_strides(scratch, x->ndim, x->shape, stride[0], op) != 0)
        return -1;
    memcpy(stride[1], x->stride, sizeof(int64_t) * (size_t)x->ndim);
    float *base[3] = { scratch->data, x->data, NULL };
    if (aux) {
        if (tg_broadcast_strides(aux, x->ndim, x->shape, stride[2], op) != 0)
            return -1;
        base[2] = aux->data;
    }
    tg_iter_plan_strided(plan, x->ndim, x->shape, aux ? 3 : 2, stride, base);
    return 0;
}

/* Rows of the plan that add about CASCADE_BLOCK terms into each of n outputs:
 * a row adds one term into each of `inner` outputs, or (reducing its run in
 * double) one term into one output. */
static int64_t cascade_rows(const tg_iter_plan *plan, int64_t n)
{
    int64_t per_row = plan->inner_stride[0] == 0 ? 1 : plan->inner;
    int64_t rows = CASCADE_BLOCK * n / per_row;
    return rows > 0 ? rows : 1;
}

/* out += scale * (cascaded sum of terms of x), for a sum with more rows than
 * one block. Partial sums live in this thread's arena, as a binary counter:
 * level k holds the sum of 2^k blocks, and a finished block is added to the
 * full levels below the first empty one, like a carry. */
static int reduce_cascade(const char *op, tg_tensor *out, const tg_tensor *x, const tg_tensor *aux,
                          reduce_kind kind, float scale, float param)
{
    tg_arena *arena = tg_arena_thread();
    tg_arena_mark mark = tg_arena_get_mark(arena);
    int rc = -1;
    tg_tensor *total = tg_empty(tg_tensor_shape(out));
    tg_iter_plan plan;
    if (!total || plan_with_scratch(op, &plan, total, x, aux) != 0)
        goto done;
    const int64_t n = out->numel, block = cascade_rows(&plan, n);
    int levels = 1;
    for (int64_t blocks = (plan.rows + block - 1) / block; blocks > 1; blocks >>= 1)
        levels++;
    float *buffer = tg_arena_alloc(arena, sizeof(float) * (size_t)n * (size_t)(levels + 1));
    if (!buffer)
        goto done;
    float *level[64], *work = buffer + (size_t)n * (size_t)levels;
    bool full[64] = { false };
    for (int k = 0; k < levels; k++)
        level[k] = buffer + (size_t)n * (size_t)k;
    for (int64_t r0 = 0; r0 < plan.rows; r0 += block) {
        memset(work, 0, sizeof(float) * (size_t)n);
        plan.base[0] = work;
        reduce_rows(&plan, aux != NULL, r0, r0 + block < plan.rows ? r0 + block : plan.rows, kind,
                    1.0f, param);
        int k = 0;
        for (; full[k]; k++) {
            for (int64_t i = 0; i < n; i++)
                work[i] += level[k][i];
            full[k] = false;
        }
        float *freed = level[k];
        level[k] = work;
        full[k] = true;
        work = freed;
    }
    memset(total->data, 0, sizeof(float) * (size_t)n);
    for (int k = 0; k < levels; k++)
        if (full[k])
            for (int64_t i = 0; i < n; i++)
                total->data[i] += level[k][i];
    rc = reduce_into(op, out, total, NULL, REDUCE_SUM, scale, 0.0f);
done:
    tg_arena_rewind(arena, mark);
    return rc;
}

/* Folds x into out, which already holds the running values (the identity
 * at first). out's shape broadcasts to x's; aux (optional) has out's shape.
 * Sums of many terms per output are cascaded (reduce_cascade). */
static int reduce_into(const char *op, tg_tensor *out, const tg_tensor *x, const tg_tensor *aux,
                       reduce_kind kind, float scale, float param)
{
    int64_t stride[3][TG_MAX_DIMS];
    if (tg_broadcast_strides(out, x->ndim, x->shape, stride[0], op) != 0)
        return -1;
    memcpy(stride[1], x->stride, sizeof(int64_t) * (size_t)x->ndim);
    int operands = 2;
    float *base[3] = { out->data, x->data, NULL };
    if (aux) {
        if (tg_broadcast_strides(aux, x->ndim, x->shape, stride[2], op) != 0)
            return -1;
        base[2] = aux->data;
        operands = 3;
    }
    tg_iter_plan plan;
    tg_iter_plan_strided(&plan, x->ndim, x->shape, operands, stride, base);
    if (plan.rows == 0 || plan.inner == 0)
        return 0;
    if (is_sum(kind) && plan.rows > cascade_rows(&plan, out->numel))
        return reduce_cascade(op, out, x, aux, kind, scale, param);
    reduce_rows(&plan, aux != NULL, 0, plan.rows, kind, scale, param);
    return 0;
}

static int check_operands(const char *op, const tg_tensor *out, const tg_tensor *x)
{
    if (!out || !x || tg_check_float(op, 2, (const tg_tensor *const[]){ x, out }) != 0)
        return -1;
    int64_t stride[TG_MAX_DIMS];
    if (tg_broadcast_strides(out, x->ndim, x->shape, stride, op) != 0)
        return -1;
    return tg_check_writable(out, op);
}

int tg_kernel_sum_to(tg_tensor *out, const tg_tensor *x, float scale, bool accumulate)
{
    if (check_operands("sum", out, x) != 0)
        return -1;
    if (!accumulate && tg_kernel_fill(out, 0.0f) != 0)
        return -1;
    return reduce_into("sum", out, x, NULL, REDUCE_SUM, scale, 0.0f);
}

static int reduce_extreme(const char *op, tg_tensor *out, const tg_tensor *x, reduce_kind kind)
{
    if (check_operands(op, out, x) != 0)
        return -1;
    if (x->numel == 0 && out->numel > 0) {
        char shape[TG_SHAPE_STR_MAX];
        return tg_error_set("%s: %s: cannot reduce over an empty dimension", op,
                            tg_shape_format(shape, sizeof shape, x));
    }
    if (tg_kernel_fill(out, kind == REDUCE_MIN ? INFINITY : -INFINITY) != 0)
        return -1;
    return reduce_into(op, out, x, NULL, kind, 1.0f, 0.0f);
}

int tg_kernel_max_to(tg_tensor *out, const tg_tensor *x) { return reduce_extreme("max", out, x, REDUCE_MAX); }
int tg_kernel_min_to(tg_tensor *out, const tg_tensor *x) { return reduce_extreme("min", out, x, REDUCE_MIN); }

/* Number of x's elements folded into each element of out. */
static int64_t reduction_count(const tg_tensor *out, const tg_tensor *x)
{
    return out->numel ? x->numel / out->numel : 0;
}

TG_MAP_ROW_1(row_divide_by_param, a / p[0])

int tg_kernel_var_to(tg_tensor *out, const tg_tensor *x, float correction)
{
    if (check_operands("var", out, x) != 0)
        return -1;
    tg_arena *arena = tg_arena_thread();
    tg_arena_mark mark = tg_arena_get_mark(arena);
    int64_t count = reduction_count(out, x);
    tg_tensor *mean = tg_empty(tg_tensor_shape(out));
    int rc = -1;
    if (mean && tg_kernel_sum_to(mean, x, count ? 1.0f / (float)count : 0.0f, false) == 0 &&
        tg_kernel_fill(out, 0.0f) == 0 &&
        reduce_into("var", out, x, mean, REDUCE_SQUARED_DEV, 1.0f, 0.0f) == 0) {
        float divisor = (float)count - correction;
        rc = tg_map("var", out, 1, (const tg_tensor *const[]){ out }, row_divide_by_param, &divisor,
                    false);
    }
    tg_arena_rewind(arena, mark);
    return rc;
}

TG_MAP_ROW_2(row_log_plus_shift, logf(a) + shift_of(b))

int tg_kernel_logsumexp_to(tg_tensor *out, const tg_tensor *x)
{
    if (check_operands("logsumexp", out, x) != 0)
        return -1;
    tg_arena *arena = tg_arena_thread();
    tg_arena_mark mark = tg_arena_get_mark(arena);
    tg_tensor *max = tg_empty(tg_tensor_shape(out));
    int rc = -1;
    if (max && reduce_extreme("logsumexp", max, x, REDUCE_MAX) == 0 && tg_kernel_fill(out, 0.0f) == 0 &&
        reduce_into("logsumexp", out, x, max, REDUCE_EXP_SHIFTED, 1.0f, 0.0f) == 0) {
        const tg_tensor *in[2] = { out, max };
        rc = tg_map("logsumexp", out, 2, in, row_log_plus_shift, NULL, false);
    }
    tg_arena_rewind(arena, mark);
    return rc;
}

TG_MAP_ROW_1(row_root, p[0] == 2.0f ? sqrtf(a) : (p[0] == 1.0f ? a : powf(a, 1.0f / p[0])))

int tg_kernel_norm_to(tg_tensor *out, const tg_tensor *x, float p)
{
    if (check_operands("norm", out, x) != 0)
        return -1;
    if (!(p > 0.0f)) {
        char shape[TG_SHAPE_STR_MAX];
        return tg_error_set("norm: %s: order p = %g must be positive (or INFINITY)",
                            tg_shape_format(shape, sizeof shape, x), p);
    }
    if (isinf(p)) {
        if (tg_kernel_fill(out, 0.0f) != 0)
            return -1;
        return reduce_into("norm", out, x, NULL, REDUCE_MAX_ABS, 1.0f, 0.0f);
    }
    if (tg_kernel_fill(out, 0.0f) != 0 || reduce_into("norm", out, x, NULL, REDUCE_ABS_POW, 1.0f, p) != 0)
        return -1;
    return tg_map("norm", out, 1, (const tg_tensor *const[]){ out }, row_root, &p, false);
}

/* ---- Along one axis ----------------------------------------------------------- *
 * The kernels below visit every position of x with `dim` collapsed to size
 * 1 and scan the axis from there. Operand 0 of the plan is x, then the
 * outputs; axis_stride holds each operand's stride along the axis. */

typedef struct axis_walk {
    tg_iter_plan plan;
    int64_t length;                              /* size of the axis */
    int64_t axis_stride[TG_ITER_MAX_OPERANDS];
} axis_walk;

/* Outputs have x's shape, except that with `collapsed` their axis has size 1.
 * The caller checks the dtypes. */
static int axis_walk_init(axis_walk *w, const char *op, const tg_tensor *x, int dim, int outputs,
                          tg_tensor *const *out, bool collapsed)
{
    int d = tg_normalize_dim(dim, x->ndim, op);
    if (d < 0)
        return -1;
    int64_t shape[TG_MAX_DIMS];
    memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    shape[d] = 1;
    int64_t stride[TG_ITER_MAX_OPERANDS][TG_MAX_DIMS];
    float *base[TG_ITER_MAX_OPERANDS] = { x->data };
    memcpy(stride[0], x->stride, sizeof(int64_t) * (size_t)x->ndim);
    w->axis_stride[0] = x->stride[d];
    for (int k = 0; k < outputs; k++) {
        if (tg_check_writable(out[k], op) != 0)
            return -1;
        bool same = out[k]->ndim == x->ndim;
        for (int a = 0; same && a < x->ndim; a++)
            same = out[k]->shape[a] == (a == d && collapsed ? 1 : x->shape[a]);
        if (!same) {
            char xs[TG_SHAPE_STR_MAX], os[TG_SHAPE_STR_MAX];
            return tg_error_set("%s: output %s does not fit input %s reduced along dimension %d",
                                op, tg_shape_format(os, sizeof os, out[k]),
                                tg_shape_format(xs, sizeof xs, x), d);
        }
        memcpy(stride[k + 1], out[k]->stride, sizeof(int64_t) * (size_t)x->ndim);
        base[k + 1] = out[k]->data;
        w->axis_stride[k + 1] = out[k]->stride[d];
    }
    tg_iter_plan_strided(&w->plan, x->ndim, shape, 1 + outputs, stride, base);
    w->length = x->shape[d];
    return 0;
}

/* Element offsets of position p (row-major over the collapsed shape) per
 * operand. */
static void axis_walk_position(const axis_walk *w, int64_t p, int64_t *at)
{
    int64_t row = p / w->plan.inner, j = p % w->plan.inner;
    tg_iter_offsets(&w->plan, row, at);
    for (int k = 0; k < w->plan.operands; k++)
        at[k] += j * w->plan.inner_stride[k];
}

static int64_t axis_walk_positions(const axis_walk *w) { return w->plan.rows * w->plan.inner; }

int tg_kernel_arg_reduce(tg_tensor *values, tg_tensor *indices, const tg_tensor *x, int dim,
                         bool is_max)
{
    const char *op = is_max ? "argmax" : "argmin";
    if (!values || !indices || !x ||
        tg_check_float(op, 2, (const tg_tensor *const[]){ x, values }) != 0 ||
        tg_check_dtype(indices, TG_INT64, op) != 0)
        return -1;
    axis_walk w;
    tg_tensor *outs[2] = { values, indices };
    if (axis_walk_init(&w, op, x, dim, 2, outs, true) != 0)
        return -1;
    int64_t positions = axis_walk_positions(&w);
    if (w.length == 0 && positions > 0) {
        char shape[TG_SHAPE_STR_MAX];
        return tg_error_set("%s: %s: cannot reduce over an empty dimension", op,
                            tg_shape_format(shape, sizeof shape, x));
    }
    const int64_t xs = w.axis_stride[0];
    for (int64_t p = 0; p < positions; p++) {
        int64_t at[TG_ITER_MAX_OPERANDS];
        axis_walk_position(&w, p, at);
        const float *row = x->data + at[0];
        float best = row[0];
        int64_t best_index = 0;
        for (int64_t i = 1; i < w.length && best == best; i++) {
            float v = row[i * xs];
            if (v != v || (is_max ? v > best : v < best)) {
                best = v;
                best_index = i;
            }
        }
        values->data[at[1]] = best;
        indices->i64[at[2]] = best_index;
    }
    return 0;
}

/* Lanes of the contiguous softmax row: partial maxima and sums kept apart
 * so that the loops vectorise, combined in a fixed order. */
#define SOFTMAX_LANES 16

/* Float bits as an unsigned key in the floats' order (negatives flipped
 * whole, positives with the sign bit set), so that an integer maximum, which
 * vectorises, finds the largest float. */
static inline uint32_t order_key(float v)
{
    uint32_t bits = tg_float_to_bits(v);
    return bits ^ ((bits >> 31) ? 0xFFFFFFFFu : 0x80000000u);
}

static inline float from_order_key(uint32_t key)
{
    return tg_bits_to_float(key ^ ((key >> 31) ? 0x80000000u : 0xFFFFFFFFu));
}

/* Max of x[0..n) (n >= 1), NaN if any element is NaN. */
static float row_max(const float *x, int64_t n)
{
    uint32_t best = 0, nan = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t key = order_key(x[i]), magnitude = tg_float_to_bits(x[i]) & 0x7FFFFFFFu;
        best = key > best ? key : best;
        nan |= magnitude > 0x7F800000u;
    }
    return nan ? NAN : from_order_key(best);
}

/* The sum of exp(x[i] - shift); with exps not NULL, also exps[i] = each term. */
static double row_exp_sum(const float *x, int64_t n, float shift, float *exps)
{
    float lane[SOFTMAX_LANES] = { 0 };
    int64_t i = 0;
    if (exps) {
        for (; i + SOFTMAX_LANES <= n; i += SOFTMAX_LANES)
            for (int l = 0; l < SOFTMAX_LANES; l++) {
                exps[i + l] = tg_fast_expf(x[i + l] - shift);
                lane[l] += exps[i + l];
            }
    } else {
        for (; i + SOFTMAX_LANES <= n; i += SOFTMAX_LANES)
            for (int l = 0; l < SOFTMAX_LANES; l++)
                lane[l] += tg_fast_expf(x[i + l] - shift);
    }
    double sum = 0.0;
    for (; i < n; i++) {
        float e = tg_fast_expf(x[i] - shift);
        if (exps)
            exps[i] = e;
        sum += e;
    }
    for (int l = 0; l < SOFTMAX_LANES; l++)
        sum += lane[l];
    return sum;
}

/* Softmax of one row of n contiguous elements; out may be x itself. */
static void softmax_contiguous_row(const float *x, float *out, int64_t n, bool log)
{
    float shift = shift_of(row_max(x, n));
    if (log) {
        float lse = shift + logf((float)row_exp_sum(x, n, shift, NULL));
        for (int64_t i = 0; i < n; i++)
            out[i] = x[i] - lse;
        return;
    }
    float inv = (float)(1.0 / row_exp_sum(x, n, shift, out));
    for (int64_t i = 0; i < n; i++)
        out[i] *= inv;
}

/* Softmax of one row with any strides (one element at a time). */
static void softmax_strided_row(const float *xv, int64_t xs, float *ov, int64_t os, int64_t n, bool log)
{
    float m = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        m = pick(REDUCE_MAX, m, xv[i * xs]);
    float shift = shift_of(m);
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        float e = tg_fast_expf(xv[i * xs] - shift);
        if (!log)
            ov[i * os] = e;
        sum += e;
    }
    if (log) {
        float lse = shift + logf((float)sum);
        for (int64_t i = 0; i < n; i++)
            ov[i * os] = xv[i * xs] - lse;
    } else {
        float inv = (float)(1.0 / sum);
        for (int64_t i = 0; i < n; i++)
            ov[i * os] *= inv;
    }
}

/* Softmax over the positions [begin, end) of a walk. */
typedef struct softmax_work {
    const axis_walk *walk;
    const float *x;
    float *out;
    bool log;
} softmax_work;

static void softmax_positions(void *context, int64_t begin, int64_t end)
{
    const softmax_work *s = context;
    const axis_walk *w = s->walk;
    const int64_t n = w->length, xs = w->axis_stride[0], os = w->axis_stride[1];
    for (int64_t p = begin; p < end; p++) {
        int64_t at[TG_ITER_MAX_OPERANDS];
        axis_walk_position(w, p, at);
        if (xs == 1 && os == 1)
            softmax_contiguous_row(s->x + at[0], s->out + at[1], n, s->log);
        else
            softmax_strided_row(s->x + at[0], xs, s->out + at[1], os, n, s->log);
    }
}

int tg_kernel_softmax(tg_tensor *out, const tg_tensor *x, int dim, bool log)
{
    const char *op = log ? "log_softmax" : "softmax";
    if (!out || !x || tg_check_float(op, 2, (const tg_tensor *const[]){ x, out }) != 0)
        return -1;
    axis_walk w;
    if (axis_walk_init(&w, op, x, dim, 1, &out, false) != 0)
        return -1;
    const int64_t positions = axis_walk_positions(&w);
    softmax_work s = { &w, x->data, out->data, log };
    if (positions * w.length >= PARALLEL_MIN_ELEMENTS)
        tg_parallel_for(positions, 1, softmax_positions, &s);
    else
        softmax_positions(&s, 0, positions);
    return 0;
}

/* ---- Log-softmax at one class per row ------------------------------------------------- */

/* Rows of x [rows, classes] with their classes, for both directions. */
typedef struct pick_work {
    const float *x;
    const tg_tensor *index; /* [rows], contiguous: int64, or float32 whole numbers */
    int64_t classes;
    float *picked, *lse;    /* forward: [rows] each */
    const float *g;         /* backward: the gradient of picked, [rows] */
    float *gx;              /* backward: x's gradient, [rows, classes] contiguous */
    bool accumulate;
} pick_work;

/* The same arithmetic as softmax_contiguous_row's log branch: the picked
 * value is bit for bit log_softmax's. */
static void pick_rows(void *context, int64_t begin, int64_t end)
{
    const pick_work *w = context;
    for (int64_t r = begin; r < end; r++) {
        const float *x = w->x + r * w->classes;
        float shift = shift_of(row_max(x, w->classes));
        float lse = shift + logf((float)row_exp_sum(x, w->classes, shift, NULL));
        w->lse[r] = lse;
        w->picked[r] = x[tg_index_value(w->index, r)] - lse;
    }
}

/* gx = g * (one_hot(class) - exp(x - lse)), written as log_softmax's
 * gradient of a one-hot g computes it (g_c - exp(y_c) * g), so that the
 * bits match that composition's. */
static void pick_grad_rows(void *context, int64_t begin, int64_t end)
{
    const pick_work *w = context;
    const int64_t n = w->classes;
    for (int64_t r = begin; r < end; r++) {
        const float *x = w->x + r * n;
        float *gx = w->gx + r * n, g = w->g[r], lse = w->lse[r];
        int64_t picked = tg_index_value(w->index, r);
        if (w->accumulate)
            for (int64_t i = 0; i < n; i++)
                gx[i] += (i == picked ? g : 0.0f) - tg_fast_expf(x[i] - lse) * g;
        else
            for (int64_t i = 0; i < n; i++)
                gx[i] = (i == picked ? g : 0.0f) - tg_fast_expf(x[i] - lse) * g;
    }
}

static void run_pick(const pick_work *w, int64_t rows, tg_parallel_fn fn)
{
    if (rows * w->classes >= PARALLEL_MIN_ELEMENTS)
        tg_parallel_for(rows, 1, fn, (void *)w);
    else
        fn((void *)w, 0, rows);
}

int tg_kernel_log_softmax_pick(tg_tensor *picked, tg_tensor *lse, const tg_tensor *x, const tg_tensor *index)
{
    if (!picked || !lse || !x || !index)
        return tg_error_null_input("kernel_log_softmax_pick");
    int64_t classes = x->ndim ? x->shape[x->ndim - 1] : 0, rows = classes ? x->numel / classes : 0;
    if (!tg_tensor_is_contiguous(x) || !tg_tensor_is_contiguous(index) || !tg_tensor_is_contiguous(picked) ||
        !tg_tensor_is_contiguous(lse) || index->numel != rows || picked->numel != rows || lse->numel != rows)
        return tg_error_set("log_softmax_pick: the kernel takes contiguous tensors, one class and "
                            "one output per row of x");
    pick_work w = { .x = x->data, .index = index, .classes = classes, .picked = picked->data, .lse = lse->data };
    run_pick(&w, rows, pick_rows);
    return 0;
}

int tg_kernel_log_softmax_pick_grad(tg_tensor *gx, const tg_tensor *x, const tg_tensor *lse,
                                    const tg_tensor *index, const tg_tensor *g, bool accumulate)
{
    if (!gx || !x || !lse || !index || !g)
        return tg_error_null_input("kernel_log_softmax_pick_grad");
    int64_t classes = x->ndim ? x->shape[x->ndim - 1] : 0, rows = classes ? x->numel / classes : 0;
    if (!tg_tensor_is_contiguous(gx) || !tg_tensor_is_contiguous(x) || !tg_tensor_is_contiguous(lse) ||
        !tg_tensor_is_contiguous(index) || !tg_tensor_is_contiguous(g) || gx->numel != x->numel ||
        lse->numel != rows || index->numel != rows || g->numel != rows)
        return tg_error_set("log_softmax_pick: the gradient kernel takes contiguous tensors, x's "
                            "gradient of x's size and one value per row of x");
    pick_work w = { .x = x->data, .index = index, .classes = classes, .lse = (float *)lse->data,
                    .g = g->data, .gx = gx->data, .accumulate = accumulate };
    run_pick(&w, rows, pick_grad_rows);
    tg_tensor_mark_written(gx);
    return 0;
}

int tg_reduce_shapes(const tg_tensor *x, tg_axes axes, bool keepdim, tg_shape *kept,
                     tg_shape *result, const char *op)
{
    if (!x)
        return tg_error_null_input("reduce_shapes");
    bool reduced[TG_MAX_DIMS] = { false };
    if (axes.n < -1)
        return tg_error_set("%s: %d axes: give TG_ALL_AXES (n = -1) or 0 to %d axes", op, axes.n,
                            TG_MAX_DIMS);
    if (axes.n == -1) {
        for (int d = 0; d < x->ndim; d++)
            reduced[d] = true;
    } else {
        if (axes.n > TG_MAX_DIMS)
            return tg_error_set("%s: %d axes given; at most %d", op, axes.n, TG_MAX_DIMS);
        for (int k = 0; k < axes.n; k++) {
            int d = tg_normalize_dim(axes.axis[k], x->ndim, op);
            if (d < 0)
                return -1;
            if (reduced[d])
                return tg_error_set("%s: axis %d is named twice", op, axes.axis[k]);
            reduced[d] = true;
        }
    }
    kept->ndim = x->ndim;
    result->ndim = 0;
    for (int d = 0; d < x->ndim; d++) {
        kept->dim[d] = reduced[d] ? 1 : x->shape[d];
        if (!reduced[d] || keepdim)
            result->dim[result->ndim++] = kept->dim[d];
    }
    return 0;
}
