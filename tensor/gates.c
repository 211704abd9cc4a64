/*
 * The fused steps of the recurrent cells (tensor/gates.h). Each kernel
 * walks the B rows; a row's H units run in one loop, which the compiler
 * vectorises when every operand is contiguous along the units (the
 * layers' case) and which takes the strides otherwise. The loops are
 * marked `omp simd`: no output of a unit is read by another unit, which
 * the compiler cannot prove for a dozen pointers.
 */
#include "tensor/gates.h"

#include <string.h>

#include "tensor/fastmath.h"
#include "tensor/iterate.h"
#include "tensor/kernel.h"
#include "tensor/parallel.h"

/* A 2-d operand: its first element and its two strides. */
typedef struct plane {
    float *p;
    int64_t rs, cs;
} plane;

/* Rows and units of a step, and its operands. */
typedef struct step {
    int64_t rows, h;
    plane out, d_out[3];
    const float *grad, *act;
    float *act_out;
    plane in[3];
    bool accumulate[3];
} step;

/* t seen as [rows, cols] (broadcast when it is smaller); false with an
 * error naming op when it does not broadcast. */
static bool plane_of(const tg_tensor *t, int64_t rows, int64_t cols, const char *op, plane *out)
{
    int64_t stride[2];
    if (tg_broadcast_strides(t, 2, (const int64_t[]){ rows, cols }, stride, op) != 0)
        return false;
    *out = (plane){ t->data, stride[0], stride[1] };
    return true;
}

/* A gradient target: [rows, cols] exactly, written element by element. */
static bool target_of(tg_tensor *t, int64_t rows, int64_t cols, const char *op, plane *out)
{
    if (!t) {
        *out = (plane){ NULL, 0, 1 }; /* stride 1 keeps the contiguous path */
        return true;
    }
    if (t->ndim != 2 || t->shape[0] != rows || t->shape[1] != cols) {
        char s[TG_SHAPE_STR_MAX];
        tg_error_set("%s: gradient target %s is not [%lld,%lld]", op, tg_shape_format(s, sizeof s, t),
                     (long long)rows, (long long)cols);
        return false;
    }
    if (tg_check_float(op, 1, (const tg_tensor *const[]){ t }) != 0 || tg_check_writable(t, op) != 0)
        return false;
    *out = (plane){ t->data, t->stride[0], t->stride[1] };
    return true;
}

/* The first and one past the last address t's elements reach (t not empty). */
static void address_range(const tg_tensor *t, uintptr_t *first, uintptr_t *end)
{
    int64_t low = 0, high = 0; /* elements from t->data */
    for (int d = 0; d < t->ndim; d++) {
        int64_t reach = (t->shape[d] - 1) * t->stride[d];
        if (reach < 0)
            low += reach;
        else
            high += reach;
    }
    uintptr_t at = (uintptr_t)t->data;
    *first = at - (uintptr_t)(-low) * sizeof(float);
    *end = at + (uintptr_t)(high + 1) * sizeof(float);
}

static bool share_memory(const tg_tensor *a, const tg_tensor *b)
{
    if (a->numel == 0 || b->numel == 0)
        return false;
    uintptr_t a_first, a_end, b_first, b_end;
    address_range(a, &a_first, &a_end);
    address_range(b, &b_first, &b_end);
    return a_first < b_end && b_first < a_end;
}

/* Gradient targets that share memory (views of one gradient) are all
 * added to. A backward writes its targets block of units by block, so a
 * target overwritten in a later block would wipe out what an earlier block
 * added to another target in the same memory: it is zeroed first instead. */
static int add_to_shared_targets(tg_tensor *const *targets, bool *accumulate, int n)
{
    for (int i = 0; i < n; i++) {
        if (!targets[i] || accumulate[i])
            continue;
        for (int j = 0; j < n && !accumulate[i]; j++) {
            if (j == i || !targets[j] || !share_memory(targets[i], targets[j]))
                continue;
            if (tg_kernel_fill(targets[i], 0.0f) != 0)
                return -1;
            accumulate[i] = true;
        }
    }
    return 0;
}

/* A step's rows handed to threads. */
typedef struct rows_work {
    void (*fn)(const step *, int64_t, int64_t);
    const step *s;
} rows_work;

static void run_chunk(void *context, int64_t begin, int64_t end)
{
    const rows_work *w = context;
    w->fn(w->s, begin, end);
}

/* Runs fn over rows [0, s->rows), split between threads when large. */
static void run_rows(void (*fn)(const step *, int64_t, int64_t), const step *s)
{
    if (s->rows * s->h < TG_PARALLEL_MIN_ELEMENTS || s->rows < 2) {
        fn(s, 0, s->rows);
        return;
    }
    tg_parallel_for(s->rows, 1, run_chunk, &(rows_work){ fn, s });
}

/* Units per block: the blocks of a row stay in L1. */
#define BLOCK 64

static inline const float *at(plane x, int64_t row, int64_t unit) { return x.p + row * x.rs + unit * x.cs; }

/* n elements of x from (row, unit) as a contiguous run: in place when x is
 * contiguous along units, else gathered into buf. */
static const float *run_of(plane x, int64_t row, int64_t unit, int64_t n, float *buf)
{
    const float *p = at(x, row, unit);
    if (x.cs == 1)
        return p;
    for (int64_t j = 0; j < n; j++)
        buf[j] = p[j * x.cs];
    return buf;
}

/* target's n elements from (row, unit) = v, or += v; nothing without a target. */
static void put(plane target, int64_t row, int64_t unit, bool accumulate, const float *v, int64_t n)
{
    if (!target.p)
        return;
    float *p = target.p + row * target.rs + unit * target.cs;
    int64_t cs = target.cs;
    if (cs == 1 && accumulate)
        for (int64_t j = 0; j < n; j++)
            p[j] += v[j];
    else if (cs == 1)
        memcpy(p, v, sizeof *v * (size_t)n);
    else if (accumulate)
        for (int64_t j = 0; j < n; j++)
            p[j * cs] += v[j];
    else
        for (int64_t j = 0; j < n; j++)
            p[j * cs] = v[j];
}

/* Where a backward writes n elements of gradient target t (of s->d_out)
 * from (row, unit): straight into the target when this is its first
 * contribution and it runs contiguously along units, else into scratch,
 * which put_scratch then adds (or copies) in. */
static float *grad_run(const step *s, int t, int64_t row, int64_t unit, float *scratch)
{
    plane target = s->d_out[t];
    if (target.p && target.cs == 1 && !s->accumulate[t])
        return target.p + row * target.rs + unit;
    return scratch;
}

/* Puts a run written into scratch (by grad_run's choice) into target t. */
static void put_scratch(const step *s, int t, int64_t row, int64_t unit, const float *run, const float *scratch,
                        int64_t n)
{
    if (run == scratch)
        put(s->d_out[t], row, unit, s->accumulate[t], scratch, n);
}

/* Where a forward writes activation k of `count` for row's units from
 * unit on: straight into the saved activations ([rows, count * h]), or
 * into scratch when nothing is saved (no gradient will be taken). */
static float *act_run(const step *s, int64_t row, int count, int k, int64_t unit, float *scratch)
{
    return s->act_out ? s->act_out + (row * count + k) * s->h + unit : scratch;
}

/* Calls body(s, row, unit, n) for every block of units of rows [begin, end). */
#define FOR_BLOCKS(s, begin, end, row, unit, n)                                     \
    for (int64_t row = (begin); row < (end); row++)                                 \
        for (int64_t unit = 0, n = (s)->h < BLOCK ? (s)->h : BLOCK; unit < (s)->h;  \
             unit += BLOCK, n = (s)->h - unit < BLOCK ? (s)->h - unit : BLOCK)

/* Asks the cache for `runs` runs of n floats, run k at first + k * stride,
 * to read them or, when `write`, to write them. */
static void prefetch_runs(const float *first, int runs, int64_t stride, int64_t n, bool write)
{
    for (int k = 0; k < runs; k++)
        for (int64_t j = 0; j < n; j += 16) {
            if (write)
                __builtin_prefetch(first + k * stride + j, 1);
            else
                __builtin_prefetch(first + k * stride + j);
        }
}

/* The same for `runs` runs of row `row` of x, run k at unit k * h + unit
 * on: nothing past the last row, or when x is absent or strided along
 * units. */
static void prefetch_plane(const step *s, plane x, int64_t row, int runs, int64_t unit, int64_t n, bool write)
{
    if (row < s->rows && x.p && x.cs == 1)
        prefetch_runs(at(x, row, unit), runs, s->h, n, write);
}

/* Asks the cache for the next row's units [unit, unit + n) of each of the
 * `gates` gates of x: a layer's input projection, computed for every step
 * before the first and long out of cache by this one. Each block reads
 * `gates` runs far apart in a row. LSTM S steps ran 0.964x to 0.976x with
 * it (three paired runs, 6 to 12 pairs each); the GRU's three gates ran
 * 1.053x (6 pairs, each slower), so only the LSTM asks. */
static void prefetch_next_row(const step *s, int64_t row, int gates, int64_t unit, int64_t n)
{
    prefetch_plane(s, s->in[0], row + 1, gates, unit, n, false);
}

/* Asks the cache for what a backward's block of the next row reads and
 * writes, all long out of cache: its `count` saved activations (from the
 * forward), and its `gates` runs of gradient targets 0 and 1 (parts of
 * buffers nothing has touched in this pass). Reads and writes both:
 * LSTM S steps ran 0.958x with both (two paired runs of 8 pairs), 1.002x
 * with either alone. The GRU's backward ran 0.994x at S and 0.997x at M
 * (8 pairs each), within the noise, so only the LSTM asks. */
static void prefetch_next_back_row(const step *s, int64_t row, int count, int gates, int64_t unit, int64_t n)
{
    if (row + 1 >= s->rows)
        return;
    prefetch_runs(s->act + (row + 1) * count * s->h + unit, count, s->h, n, false);
    for (int t = 0; t < 2; t++)
        prefetch_plane(s, s->d_out[t], row + 1, gates, unit, n, true);
}

/* ---- LSTM ---------------------------------------------------------------------------------- */

static void lstm_rows(const step *s, int64_t begin, int64_t end)
{
    int64_t h = s->h;
    float buf[9][BLOCK], scratch[5][BLOCK];
    FOR_BLOCKS(s, begin, end, b, u, n) {
        const float *x[4], *hg[4];
        for (int k = 0; k < 4; k++) {
            x[k] = run_of(s->in[0], b, k * h + u, n, buf[k]);
            hg[k] = run_of(s->in[1], b, k * h + u, n, buf[4 + k]);
        }
        const float *c_prev = run_of(s->in[2], b, u, n, buf[8]);
        prefetch_next_row(s, b, 4, u, n);
        float *out_h = s->out.p + b * h + u, *out_c = s->out.p + (s->rows + b) * h + u;
        float *act[5];
        for (int k = 0; k < 5; k++)
            act[k] = act_run(s, b, 5, k, u, scratch[k]);
#pragma omp simd
        for (int64_t j = 0; j < n; j++) {
            float i = tg_fast_sigmoidf(x[0][j] + hg[0][j]), f = tg_fast_sigmoidf(x[1][j] + hg[1][j]);
            float g = tg_fast_tanhf(x[2][j] + hg[2][j]), o = tg_fast_sigmoidf(x[3][j] + hg[3][j]);
            float c = f * c_prev[j] + i * g;
            float tc = tg_fast_tanhf(c);
            out_c[j] = c;
            out_h[j] = o * tc;
            act[0][j] = i, act[1][j] = f, act[2][j] = g, act[3][j] = o, act[4][j] = tc;
        }
    }
}

int tg_kernel_lstm_gates(tg_tensor *out, float *act, const tg_tensor *x_gates, const tg_tensor *h_gates,
                         const tg_tensor *c_prev)
{
    const char *op = "lstm_gates";
    if (tg_check_float(op, 4, (const tg_tensor *const[]){ out, x_gates, h_gates, c_prev }) != 0 ||
        tg_check_writable(out, op) != 0)
        return -1;
    step s = { .rows = x_gates->shape[0], .h = x_gates->shape[1] / 4, .act_out = act };
    s.out = (plane){ out->data, 0, 1 };
    s.in[0] = (plane){ x_gates->data, x_gates->stride[0], x_gates->stride[1] };
    s.in[1] = (plane){ h_gates->data, h_gates->stride[0], h_gates->stride[1] };
    if (!plane_of(c_prev, s.rows, s.h, op, &s.in[2]))
        return -1;
    run_rows(lstm_rows, &s);
    return 0;
}

static void lstm_back_rows(const step *s, int64_t begin, int64_t end)
{
    int64_t h = s->h;
    float buf[BLOCK], scratch[9][BLOCK];
    FOR_BLOCKS(s, begin, end, b, u, n) {
        const float *grad_h = s->grad + b * h + u, *grad_c = s->grad + (s->rows + b) * h + u;
        const float *a = s->act + b * 5 * h + u;
        const float *c_prev = run_of(s->in[0], b, u, n, buf);
        prefetch_next_back_row(s, b, 5, 4, u, n);
        prefetch_plane(s, s->in[0], b + 1, 1, u, n, false);
        float *dx[4], *dh[4], *dc_prev = grad_run(s, 2, b, u, scratch[8]);
        for (int k = 0; k < 4; k++) {
            dx[k] = grad_run(s, 0, b, k * h + u, scratch[k]);
            dh[k] = grad_run(s, 1, b, k * h + u, scratch[4 + k]);
        }
#pragma omp simd
        for (int64_t j = 0; j < n; j++) {
            float i = a[j], f = a[h + j], g = a[2 * h + j], o = a[3 * h + j], tc = a[4 * h + j];
            float dc = grad_c[j] + grad_h[j] * o * (1.0f - tc * tc);
            float d[4] = { dc * g * i * (1.0f - i), dc * c_prev[j] * f * (1.0f - f), dc * i * (1.0f - g * g),
                           grad_h[j] * tc * o * (1.0f - o) };
            for (int k = 0; k < 4; k++)
                dx[k][j] = d[k], dh[k][j] = d[k];
            dc_prev[j] = dc * f;
        }
        for (int k = 0; k < 4; k++) {
            put_scratch(s, 0, b, k * h + u, dx[k], scratch[k], n);
            put_scratch(s, 1, b, k * h + u, dh[k], scratch[4 + k], n);
        }
        put_scratch(s, 2, b, u, dc_prev, scratch[8], n);
    }
}

int tg_kernel_lstm_gates_backward(tg_tensor *d_x_gates, bool accumulate_x, tg_tensor *d_h_gates,
                                  bool accumulate_h, tg_tensor *d_c_prev, bool accumulate_c,
                                  const tg_tensor *grad, const float *act, const tg_tensor *c_prev)
{
    const char *op = "lstm_gates backward";
    if (tg_check_float(op, 2, (const tg_tensor *const[]){ grad, c_prev }) != 0)
        return -1;
    step s = { .rows = grad->shape[1], .h = grad->shape[2], .grad = grad->data, .act = act,
               .accumulate = { accumulate_x, accumulate_h, accumulate_c } };
    if (!plane_of(c_prev, s.rows, s.h, op, &s.in[0]) || !target_of(d_x_gates, s.rows, 4 * s.h, op, &s.d_out[0]) ||
        !target_of(d_h_gates, s.rows, 4 * s.h, op, &s.d_out[1]) ||
        !target_of(d_c_prev, s.rows, s.h, op, &s.d_out[2]) ||
        add_to_shared_targets((tg_tensor *const[]){ d_x_gates, d_h_gates, d_c_prev }, s.accumulate, 3) != 0)
        return -1;
    run_rows(lstm_back_rows, &s);
    return 0;
}

/* ---- GRU, PyTorch's formulation ---------------------------------------------------------- */

static void gru_rows(const step *s, int64_t begin, int64_t end)
{
    int64_t h = s->h;
    float buf[7][BLOCK], scratch[3][BLOCK];
    FOR_BLOCKS(s, begin, end, b, u, n) {
        const float *xr = run_of(s->in[0], b, u, n, buf[0]), *xz = run_of(s->in[0], b, h + u, n, buf[1]);
        const float *xn = run_of(s->in[0], b, 2 * h + u, n, buf[2]);
        const float *hr = run_of(s->in[1], b, u, n, buf[3]), *hz = run_of(s->in[1], b, h + u, n, buf[4]);
        const float *hn = run_of(s->in[1], b, 2 * h + u, n, buf[5]);
        const float *h_prev = run_of(s->in[2], b, u, n, buf[6]);
        float *out = s->out.p + b * h + u;
        float *act[3];
        for (int k = 0; k < 3; k++)
            act[k] = act_run(s, b, 3, k, u, scratch[k]);
#pragma omp simd
        for (int64_t j = 0; j < n; j++) {
            float r = tg_fast_sigmoidf(xr[j] + hr[j]);
            float z = tg_fast_sigmoidf(xz[j] + hz[j]);
            float nn = tg_fast_tanhf(xn[j] + r * hn[j]);
            out[j] = nn + z * (h_prev[j] - nn);
            act[0][j] = r, act[1][j] = z, act[2][j] = nn;
        }
    }
}

int tg_kernel_gru_gates(tg_tensor *out, float *act, const tg_tensor *x_gates, const tg_tensor *h_gates,
                        const tg_tensor *h_prev)
{
    const char *op = "gru_gates";
    if (tg_check_float(op, 4, (const tg_tensor *const[]){ out, x_gates, h_gates, h_prev }) != 0 ||
        tg_check_writable(out, op) != 0)
        return -1;
    step s = { .rows = x_gates->shape[0], .h = x_gates->shape[1] / 3, .act_out = act };
    s.out = (plane){ out->data, s.h, 1 };
    s.in[0] = (plane){ x_gates->data, x_gates->stride[0], x_gates->stride[1] };
    s.in[1] = (plane){ h_gates->data, h_gates->stride[0], h_gates->stride[1] };
    if (!plane_of(h_prev, s.rows, s.h, op, &s.in[2]))
        return -1;
    run_rows(gru_rows, &s);
    return 0;
}

static void gru_back_rows(const step *s, int64_t begin, int64_t end)
{
    int64_t h = s->h;
    float buf[2][BLOCK], scratch[7][BLOCK];
    FOR_BLOCKS(s, begin, end, b, u, n) {
        const float *grad = s->grad + b * h + u, *a = s->act + b * 3 * h + u;
        const float *hn = run_of(s->in[0], b, 2 * h + u, n, buf[0]), *h_prev = run_of(s->in[1], b, u, n, buf[1]);
        float *dx[3], *dh[3], *d_prev = grad_run(s, 2, b, u, scratch[6]);
        for (int k = 0; k < 3; k++) {
            dx[k] = grad_run(s, 0, b, k * h + u, scratch[k]);
            dh[k] = grad_run(s, 1, b, k * h + u, scratch[3 + k]);
        }
#pragma omp simd
        for (int64_t j = 0; j < n; j++) {
            float r = a[j], z = a[h + j], nn = a[2 * h + j], g = grad[j];
            float dn = g * (1.0f - z) * (1.0f - nn * nn);
            float dr = dn * hn[j] * r * (1.0f - r), dz = g * (h_prev[j] - nn) * z * (1.0f - z);
            dx[0][j] = dr, dx[1][j] = dz, dx[2][j] = dn;
            dh[0][j] = dr, dh[1][j] = dz, dh[2][j] = dn * r;
            d_prev[j] = g * z;
        }
        for (int k = 0; k < 3; k++) {
            put_scratch(s, 0, b, k * h + u, dx[k], scratch[k], n);
            put_scratch(s, 1, b, k * h + u, dh[k], scratch[3 + k], n);
        }
        put_scratch(s, 2, b, u, d_prev, scratch[6], n);
    }
}

int tg_kernel_gru_gates_backward(tg_tensor *d_x_gates, bool accumulate_x, tg_tensor *d_h_gates,
                                 bool accumulate_h, tg_tensor *d_h_prev, bool accumulate_prev,
                                 const tg_tensor *grad, const float *act, const tg_tensor *h_gates,
                                 const tg_tensor *h_prev)
{
    const char *op = "gru_gates backward";
    if (tg_check_float(op, 3, (const tg_tensor *const[]){ grad, h_gates, h_prev }) != 0)
        return -1;
    step s = { .rows = grad->shape[0], .h = grad->shape[1], .grad = grad->data, .act = act,
               .accumulate = { accumulate_x, accumulate_h, accumulate_prev } };
    s.in[0] = (plane){ h_gates->data, h_gates->stride[0], h_gates->stride[1] };
    if (!plane_of(h_prev, s.rows, s.h, op, &s.in[1]) || !target_of(d_x_gates, s.rows, 3 * s.h, op, &s.d_out[0]) ||
        !target_of(d_h_gates, s.rows, 3 * s.h, op, &s.d_out[1]) ||
        !target_of(d_h_prev, s.rows, s.h, op, &s.d_out[2]) ||
        add_to_shared_targets((tg_tensor *const[]){ d_x_gates, d_h_gates, d_h_prev }, s.accumulate, 3) != 0)
        return -1;
    run_rows(gru_back_rows, &s);
    return 0;
}

/* ---- GRU, the seed's formulation ------------------------------------------------------------- */

static void seed_rows(const step *s, int64_t begin, int64_t end)
{
    int64_t h = s->h;
    float buf[3][BLOCK], scratch[BLOCK];
    FOR_BLOCKS(s, begin, end, b, u, n) {
        const float *n_pre = run_of(s->in[0], b, u, n, buf[0]), *z = run_of(s->in[1], b, u, n, buf[1]);
        const float *h_prev = run_of(s->in[2], b, u, n, buf[2]);
        float *out = s->out.p + b * h + u, *act = act_run(s, b, 1, 0, u, scratch);
#pragma omp simd
        for (int64_t j = 0; j < n; j++) {
            float nn = tg_fast_tanhf(n_pre[j]);
            out[j] = h_prev[j] + z[j] * (nn - h_prev[j]);
            act[j] = nn;
        }
    }
}

int tg_kernel_gru_seed_gates(tg_tensor *out, float *act, const tg_tensor *n_pre, const tg_tensor *z,
                             const tg_tensor *h_prev)
{
    const char *op = "gru_seed_gates";
    if (tg_check_float(op, 4, (const tg_tensor *const[]){ out, n_pre, z, h_prev }) != 0 ||
        tg_check_writable(out, op) != 0)
        return -1;
    step s = { .rows = out->shape[0], .h = out->shape[1], .act_out = act };
    s.out = (plane){ out->data, s.h, 1 };
    if (!plane_of(n_pre, s.rows, s.h, op, &s.in[0]) || !plane_of(z, s.rows, s.h, op, &s.in[1]) ||
        !plane_of(h_prev, s.rows, s.h, op, &s.in[2]))
        return -1;
    run_rows(seed_rows, &s);
    return 0;
}

static void seed_back_rows(const step *s, int64_t begin, int64_t end)
{
    int64_t h = s->h;
    float buf[2][BLOCK], scratch[3][BLOCK];
    FOR_BLOCKS(s, begin, end, b, u, n) {
        const float *grad = s->grad + b * h + u, *a = s->act + b * h + u;
        const float *z = run_of(s->in[0], b, u, n, buf[0]), *h_prev = run_of(s->in[1], b, u, n, buf[1]);
        float *d[3];
        for (int k = 0; k < 3; k++)
            d[k] = grad_run(s, k, b, u, scratch[k]);
#pragma omp simd
        for (int64_t j = 0; j < n; j++) {
            float g = grad[j];
            d[0][j] = g * z[j] * (1.0f - a[j] * a[j]);
            d[1][j] = g * (a[j] - h_prev[j]);
            d[2][j] = g - g * z[j];
        }
        for (int k = 0; k < 3; k++)
            put_scratch(s, k, b, u, d[k], scratch[k], n);
    }
}

int tg_kernel_gru_seed_gates_backward(tg_tensor *d_n_pre, bool accumulate_n, tg_tensor *d_z,
                                      bool accumulate_z, tg_tensor *d_h_prev, bool accumulate_prev,
                                      const tg_tensor *grad, const float *act, const tg_tensor *z,
                                      const tg_tensor *h_prev)
{
    const char *op = "gru_seed_gates backward";
    if (tg_check_float(op, 3, (const tg_tensor *const[]){ grad, z, h_prev }) != 0)
        return -1;
    step s = { .rows = grad->shape[0], .h = grad->shape[1], .grad = grad->data, .act = act,
               .accumulate = { accumulate_n, accumulate_z, accumulate_prev } };
    if (!plane_of(z, s.rows, s.h, op, &s.in[0]) || !plane_of(h_prev, s.rows, s.h, op, &s.in[1]) ||
        !target_of(d_n_pre, s.rows, s.h, op, &s.d_out[0]) || !target_of(d_z, s.rows, s.h, op, &s.d_out[1]) ||
        !target_of(d_h_prev, s.rows, s.h, op, &s.d_out[2]) ||
        add_to_shared_targets((tg_tensor *const[]){ d_n_pre, d_z, d_h_prev }, s.accumulate, 3) != 0)
        return -1;
    run_rows(seed_back_rows, &s);
    return 0;
}
