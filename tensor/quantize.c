/* int8 weights and the int8 product: see tensor/quantize.h. */
#include "tensor/quantize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "tensor/kernel.h"
#include "tensor/reference.h"

/* The packed layout: each segment's rows in blocks of 16 (the last one
 * padded with zero rows); a block is K4/4 groups of 64 bytes, a group
 * holding 4 consecutive columns of each of the 16 rows (row-major within
 * the group): one vpdpbusd multiplies a group by 4 input bytes broadcast
 * to every lane. K4 is cols rounded up to 4, the columns past cols zero.
 * The blocks of a segment go in panels of PANEL_BLOCKS (the last may be
 * narrower), interleaved by group: group g of every block of the panel,
 * then group g + 1. A product of one input row reads a whole panel at
 * once, so it streams one contiguous run of memory rather than 8, which
 * the hardware prefetcher follows (a batch-of-one step's weight comes from
 * L2, and this is what bounds it). */
enum { BLOCK_ROWS = 16, PANEL_BLOCKS = 8 };

static int64_t padded_cols(int64_t cols) { return (cols + 3) / 4 * 4; }
static int64_t blocks_per_segment(int64_t segment) { return (segment + BLOCK_ROWS - 1) / BLOCK_ROWS; }

static size_t packed_bytes(const tg_qweight *w)
{
    return (size_t)(w->rows / w->segment * blocks_per_segment(w->segment)) * BLOCK_ROWS *
           (size_t)padded_cols(w->cols);
}

/* Blocks in the panel that starts at block p of a segment of nb blocks. */
static int panel_width(int64_t p, int64_t nb) { return (int)(nb - p < PANEL_BLOCKS ? nb - p : PANEL_BLOCKS); }

/* Fills row_sum and packed from values. */
static void pack(tg_qweight *w)
{
    int64_t k4 = padded_cols(w->cols), nb = blocks_per_segment(w->segment);
    int64_t block_bytes = BLOCK_ROWS * k4;
    memset(w->packed, 0, packed_bytes(w));
    for (int64_t r = 0; r < w->rows; r++) {
        const int8_t *row = w->values + r * w->cols;
        int32_t sum = 0;
        int64_t segment = r / w->segment, in_segment = r % w->segment;
        int64_t block = in_segment / BLOCK_ROWS, lane = in_segment % BLOCK_ROWS;
        int64_t panel = block / PANEL_BLOCKS * PANEL_BLOCKS;
        int width = panel_width(panel, nb);
        int8_t *dst = w->packed + (segment * nb + panel) * block_bytes + (block - panel) * 64 + lane * 4;
        for (int64_t k = 0; k < w->cols; k++) {
            sum += row[k];
            dst[k / 4 * 64 * width + k % 4] = row[k];
        }
        w->row_sum[r] = sum;
    }
}

static tg_qweight *qweight_new(int64_t rows, int64_t cols, int64_t segment, const char *op)
{
    tg_qweight *w = calloc(1, sizeof *w);
    if (w) {
        *w = (tg_qweight){ .rows = rows, .cols = cols, .segment = segment, .owned = true };
        w->values = malloc((size_t)(rows * cols));
        w->scale = malloc((size_t)rows * sizeof *w->scale);
        w->row_sum = malloc((size_t)rows * sizeof *w->row_sum);
        w->packed = malloc(packed_bytes(w));
    }
    if (!w || !w->values || !w->scale || !w->row_sum || !w->packed) {
        tg_qweight_free(w);
        tg_error_set("%s: out of memory for an int8 weight [%lld,%lld]", op, (long long)rows,
                     (long long)cols);
        return NULL;
    }
    return w;
}

tg_qweight *tg_qweight_quantize(const tg_tensor *w, int64_t segment)
{
    if (!w)
        return tg_null_input("qweight_quantize");
    char shape[TG_SHAPE_STR_MAX];
    if (tg_check_float("qweight_quantize", 1, &w) != 0)
        return NULL;
    int64_t rows = w->ndim == 2 ? w->shape[0] : 0, cols = w->ndim == 2 ? w->shape[1] : 0;
    if (segment == 0)
        segment = rows;
    if (w->ndim != 2 || rows < 1 || cols < 1 || cols > TG_QWEIGHT_MAX_COLS || segment < 1 ||
        rows % segment != 0) {
        tg_error_set("qweight_quantize: weight %s: expected a non-empty matrix with at most %d "
                     "columns, in segments of %lld rows", tg_shape_format(shape, sizeof shape, w),
                     TG_QWEIGHT_MAX_COLS, (long long)segment);
        return NULL;
    }
    tg_qweight *q = qweight_new(rows, cols, segment, "qweight_quantize");
    if (!q)
        return NULL;
    for (int64_t r = 0; r < rows; r++) {
        const float *row = w->data + r * w->stride[0];
        float max = 0.0f;
        for (int64_t k = 0; k < cols; k++) {
            float a = fabsf(row[k * w->stride[1]]);
            if (!isfinite(a)) {
                tg_qweight_free(q);
                tg_error_set("qweight_quantize: weight %s holds %g at [%lld,%lld]",
                             tg_shape_format(shape, sizeof shape, w), (double)row[k * w->stride[1]],
                             (long long)r, (long long)k);
                return NULL;
            }
            max = a > max ? a : max;
        }
        float inverse = max > 0.0f ? 127.0f / max : 0.0f;
        q->scale[r] = max / 127.0f;
        for (int64_t k = 0; k < cols; k++) {
            float v = nearbyintf(row[k * w->stride[1]] * inverse);
            q->values[r * cols + k] = (int8_t)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v);
        }
    }
    pack(q);
    return q;
}

int tg_qweight_check(const tg_qweight *w, const tg_tensor *values, const tg_tensor *scale,
                     const char *op)
{
    if (!w || !values || !scale)
        return tg_error_null_input(op);
    char sv[TG_SHAPE_STR_MAX], ss[TG_SHAPE_STR_MAX];
    if (values->dtype != TG_INT64 || scale->dtype != TG_FLOAT32 || values->ndim != 2 ||
        values->shape[0] != w->rows || values->shape[1] != w->cols || scale->ndim != 1 ||
        scale->shape[0] != w->rows)
        return tg_error_set("%s: int8 values %s %s and scales %s %s: expected int64 [%lld,%lld] "
                            "and float32 [%lld]", op, tg_dtype_name(values->dtype),
                            tg_shape_format(sv, sizeof sv, values), tg_dtype_name(scale->dtype),
                            tg_shape_format(ss, sizeof ss, scale), (long long)w->rows,
                            (long long)w->cols, (long long)w->rows);
    for (int64_t r = 0; r < w->rows; r++) {
        float s = scale->data[r * scale->stride[0]];
        if (!isfinite(s) || s < 0.0f)
            return tg_error_set("%s: scale %g of row %lld: scales must be finite and not "
                                "negative", op, (double)s, (long long)r);
        for (int64_t k = 0; k < w->cols; k++) {
            int64_t v = values->i64[r * values->stride[0] + k * values->stride[1]];
            if (v < INT8_MIN || v > INT8_MAX)
                return tg_error_set("%s: value %lld at [%lld,%lld] is outside int8's range", op,
                                    (long long)v, (long long)r, (long long)k);
        }
    }
    return 0;
}

int tg_qweight_assign(tg_qweight *w, const tg_tensor *values, const tg_tensor *scale, const char *op)
{
    if (tg_qweight_check(w, values, scale, op) != 0)
        return -1;
    for (int64_t r = 0; r < w->rows; r++) {
        w->scale[r] = scale->data[r * scale->stride[0]];
        for (int64_t k = 0; k < w->cols; k++)
            w->values[r * w->cols + k] =
                (int8_t)values->i64[r * values->stride[0] + k * values->stride[1]];
    }
    pack(w);
    return 0;
}

tg_tensor *tg_qweight_values(const tg_qweight *w)
{
    if (!w)
        return tg_null_input("qweight_values");
    tg_tensor *t = tg_tensor_empty_dtype(TG_SHAPE(w->rows, w->cols), TG_INT64);
    for (int64_t i = 0; t && i < w->rows * w->cols; i++)
        t->i64[i] = w->values[i];
    return t;
}

tg_tensor *tg_qweight_scales(const tg_qweight *w)
{
    if (!w)
        return tg_null_input("qweight_scales");
    tg_tensor *t = tg_tensor_empty(TG_SHAPE(w->rows));
    if (t)
        memcpy(t->data, w->scale, (size_t)w->rows * sizeof *w->scale);
    return t;
}

tg_tensor *tg_qweight_dequantize(const tg_qweight *w)
{
    if (!w)
        return tg_null_input("qweight_dequantize");
    tg_tensor *t = tg_tensor_empty(TG_SHAPE(w->rows, w->cols));
    for (int64_t r = 0; t && r < w->rows; r++)
        for (int64_t k = 0; k < w->cols; k++)
            t->data[r * w->cols + k] = w->scale[r] * (float)w->values[r * w->cols + k];
    return t;
}

int tg_qweight_rows(const tg_qweight *w, int64_t row0, int64_t rows, tg_qweight *view)
{
    if (!w || !view)
        return tg_error_null_input("qweight_rows");
    if (row0 < 0 || rows < 1 || row0 + rows > w->rows || row0 % w->segment != 0 ||
        rows % w->segment != 0)
        return tg_error_set("qweight_rows: rows [%lld, %lld) of an int8 weight [%lld,%lld] are "
                            "not whole segments of %lld rows", (long long)row0,
                            (long long)(row0 + rows), (long long)w->rows, (long long)w->cols,
                            (long long)w->segment);
    int64_t segment_bytes = blocks_per_segment(w->segment) * BLOCK_ROWS * padded_cols(w->cols);
    *view = (tg_qweight){ .rows = rows, .cols = w->cols, .segment = w->segment,
                          .values = w->values + row0 * w->cols, .scale = w->scale + row0,
                          .row_sum = w->row_sum + row0,
                          .packed = w->packed + row0 / w->segment * segment_bytes, .owned = false };
    return 0;
}

void tg_qweight_free(tg_qweight *w)
{
    if (!w || !w->owned)
        return;
    free(w->values);
    free(w->scale);
    free(w->row_sum);
    free(w->packed);
    free(w);
}

/* ---- The product -------------------------------------------------------------------- */

size_t tg_int8_scratch_bytes(int64_t n_rows, int64_t cols)
{
    return (size_t)n_rows * (sizeof(float) + (size_t)padded_cols(cols));
}

/* q[0..K4) = round(x / t) + 128 with t = max|x| / 127 (the padding 128,
 * which the zero columns of the weight ignore); returns t: 0 for a row of
 * zeros (q all 128), NaN when x holds NaN or an infinity. The largest |x|
 * is found on the bits (|x| orders as its bits do, and NaN and the
 * infinities sort above every finite value), a reduction the compiler
 * vectorises, unlike a float maximum that must notice NaN. */
static float quantize_row(const float *x, int64_t cols, uint8_t *q)
{
    uint32_t top = 0;
    for (int64_t k = 0; k < cols; k++) {
        uint32_t bits;
        memcpy(&bits, &x[k], sizeof bits);
        bits &= 0x7fffffffu;
        top = bits > top ? bits : top;
    }
    float max;
    memcpy(&max, &top, sizeof max);
    bool finite = top < 0x7f800000u;
    int64_t k = 0;
    if (finite && max > 0.0f) {
        float inverse = 127.0f / max;
        for (; k < cols; k++) {
            float v = nearbyintf(x[k] * inverse);
            q[k] = (uint8_t)((int32_t)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v) + 128);
        }
    }
    for (; k < padded_cols(cols); k++)
        q[k] = 128;
    return finite ? max / 127.0f : NAN;
}

/* out row i (+)= s_r t_i sum_k q[r,k] (p_i[k] - 128), in plain C. The
 * 128 comes off after the sum: GCC 12's vectoriser (-O3 -march=native)
 * turns sum += v[k] * (q[k] - 128) into wrong code. */
static void product_plain(float *out, int64_t n_rows, const uint8_t *q, const float *t,
                          const tg_qweight *w, const float *addend, int64_t addend_stride)
{
    int64_t k4 = padded_cols(w->cols);
    for (int64_t i = 0; i < n_rows; i++)
        for (int64_t r = 0; r < w->rows; r++) {
            const int8_t *v = w->values + r * w->cols;
            int32_t sum = 0;
            for (int64_t k = 0; k < w->cols; k++)
                sum += (int32_t)v[k] * (int32_t)q[i * k4 + k];
            sum -= 128 * w->row_sum[r];
            float a = addend ? addend[i * addend_stride + r] : 0.0f;
            out[i * w->rows + r] = fmaf((float)sum, w->scale[r] * t[i], a);
        }
}

#if defined(__x86_64__)
#define VNNI __attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline)) static inline

/* One block of 16 output rows for one input row: the sums acc, less 128
 * times the rows' sums, scaled, added to the addend a (or not) and stored at y. */
VNNI void finish_block(__m512i acc, const tg_qweight *w, int64_t r0, int lanes, float t, float *y,
                       const float *a)
{
    __mmask16 mask = (__mmask16)((1u << lanes) - 1);
    __m512i sums = _mm512_maskz_loadu_epi32(mask, w->row_sum + r0);
    __m512 exact = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc, _mm512_slli_epi32(sums, 7)));
    __m512 scale = _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, w->scale + r0), _mm512_set1_ps(t));
    __m512 prev = a ? _mm512_maskz_loadu_ps(mask, a) : _mm512_setzero_ps();
    _mm512_mask_storeu_ps(y, mask, _mm512_fmadd_ps(exact, scale, prev));
}

/* nx input rows times nb blocks of one panel at once: group g of block b
 * is at first + g * stride + b * 64; the blocks' first output row is r0,
 * and rows from end on are padding. nx and nb are constants in each use,
 * so the nx * nb sums stay in registers. */
VNNI void tile_vnni(const int nx, const int nb, const uint8_t *q, int64_t k4, const float *t,
                    const tg_qweight *w, const int8_t *first, int64_t stride, int64_t r0,
                    int64_t end, float *out, const float *addend, int64_t addend_stride)
{
    enum { MAX_X = 4, MAX_B = 8 };
    __m512i acc[MAX_X][MAX_B];
    for (int i = 0; i < nx; i++)
        for (int b = 0; b < nb; b++)
            acc[i][b] = _mm512_setzero_si512();
    for (int64_t g = 0; g < k4 / 4; g++) {
        __m512i v[MAX_B];
        for (int b = 0; b < nb; b++)
            v[b] = _mm512_loadu_si512(first + g * stride + b * 64);
        for (int i = 0; i < nx; i++) {
            int32_t four;
            memcpy(&four, q + i * k4 + g * 4, sizeof four);
            __m512i p = _mm512_set1_epi32(four);
            for (int b = 0; b < nb; b++)
                acc[i][b] = _mm512_dpbusd_epi32(acc[i][b], p, v[b]);
        }
    }
    for (int b = 0; b < nb; b++) {
        int64_t row = r0 + b * BLOCK_ROWS;
        int lanes = (int)(end - row < BLOCK_ROWS ? end - row : BLOCK_ROWS);
        for (int i = 0; i < nx; i++)
            finish_block(acc[i][b], w, row, lanes, t[i], out + i * w->rows + row,
                         addend ? addend + i * addend_stride + row : NULL);
    }
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void
product_vnni(float *out, int64_t n_rows, const uint8_t *q, const float *t, const tg_qweight *w,
             const float *addend, int64_t addend_stride)
{
    int64_t k4 = padded_cols(w->cols), nb = blocks_per_segment(w->segment);
    int64_t block_bytes = BLOCK_ROWS * k4;
    for (int64_t s = 0; s < w->rows / w->segment; s++)
        for (int64_t p = 0; p < nb; p += PANEL_BLOCKS) {
            int width = panel_width(p, nb);
            const int8_t *panel = w->packed + (s * nb + p) * block_bytes;
            int64_t stride = 64 * width, r0 = s * w->segment + p * BLOCK_ROWS;
            int64_t end = (s + 1) * w->segment;
/* The arguments of tile_vnni for input rows from i and the panel's blocks from b. */
#define AT(i, b)                                                                                   \
    q + (i) * k4, k4, t + (i), w, panel + (b) * 64, stride, r0 + (b) * BLOCK_ROWS, end,             \
        out + (i) * w->rows, addend ? addend + (i) * addend_stride : NULL, addend_stride
            int64_t i = 0;
            for (; i + 4 <= n_rows; i += 4) {
                int b = 0;
                for (; b + 4 <= width; b += 4)
                    tile_vnni(4, 4, AT(i, b));
                for (; b < width; b++)
                    tile_vnni(4, 1, AT(i, b));
            }
            for (; i < n_rows; i++) {
                if (width == PANEL_BLOCKS) {
                    tile_vnni(1, PANEL_BLOCKS, AT(i, 0));
                    continue;
                }
                for (int b = 0; b < width; b++)
                    tile_vnni(1, 1, AT(i, b));
            }
#undef AT
        }
}

static bool have_vnni(void)
{
    static int found = -1; /* the same answer on every thread: a benign race */
    if (found < 0) {
        __builtin_cpu_init();
        found = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                __builtin_cpu_supports("avx512vnni");
    }
    return found == 1;
}
#else
static bool have_vnni(void) { return false; }
#endif

static bool use_vnni(void) { return !tg_reference_mode() && have_vnni(); }

const char *tg_int8_kernel_name(void) { return use_vnni() ? "avx512-vnni" : "plain C"; }

int tg_kernel_affine_int8(tg_tensor *out, const tg_tensor *x, const tg_qweight *w,
                          const tg_tensor *addend, void *scratch)
{
    if (!out || !x || !w || !scratch)
        return tg_error_null_input("affine_int8");
    int64_t n_rows = x->ndim == 2 ? x->shape[0] : -1;
    if (x->ndim != 2 || x->shape[1] != w->cols || (x->shape[1] > 1 && x->stride[1] != 1) ||
        out->ndim != 2 || out->shape[0] != n_rows || out->shape[1] != w->rows ||
        !tg_tensor_is_contiguous(out) || tg_check_float("affine_int8", 1, &x) != 0 ||
        (addend && (addend->ndim != 2 || addend->shape[0] != n_rows || addend->shape[1] != w->rows ||
                    (w->rows > 1 && addend->stride[1] != 1) ||
                    tg_check_float("affine_int8", 1, &addend) != 0)) ||
        tg_check_float("affine_int8", 1, (const tg_tensor *const[]){ out }) != 0) {
        char sx[TG_SHAPE_STR_MAX], so[TG_SHAPE_STR_MAX];
        return tg_error_set("affine_int8: input %s, output %s and an int8 weight [%lld,%lld] do "
                            "not fit", tg_shape_format(sx, sizeof sx, x),
                            tg_shape_format(so, sizeof so, out), (long long)w->rows,
                            (long long)w->cols);
    }
    float *t = scratch;
    uint8_t *q = (uint8_t *)(t + n_rows);
    int64_t k4 = padded_cols(w->cols);
    for (int64_t i = 0; i < n_rows; i++)
        t[i] = quantize_row(x->data + i * x->stride[0], w->cols, q + i * k4);
#if defined(__x86_64__)
    if (use_vnni())
        product_vnni(out->data, n_rows, q, t, w, addend ? addend->data : NULL,
                     addend ? addend->stride[0] : 0);
    else
#endif
        product_plain(out->data, n_rows, q, t, w, addend ? addend->data : NULL,
                      addend ? addend->stride[0] : 0);
    tg_tensor_mark_written(out);
    return 0;
}
