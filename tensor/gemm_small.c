#include "tensor/gemm_small.h"

#include <immintrin.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#include "tensor/cpu.h"
#include "tensor/parallel.h"

/* Rows a product is multiplied with at once: its rows of a stay in cache
 * while it walks every panel of b. */
#define SMALL_ROWS_MAX 96
/* A product with more rows runs as blocks of SMALL_ROWS_MAX rows, each
 * walking every panel, where that measured faster than BLIS (see
 * suits_many_rows): an input projection or a classifier head over all
 * steps at once. */
#define MANY_ROWS_PANEL_BYTES (4 << 20)
#define MANY_ROWS_NARROW 96
#define MANY_ROWS_SHALLOW 128
#define MANY_ROWS_SHALLOW_WIDTH 512
#define MANY_ROWS_DEEP 256
/* Columns of b per panel and rows of a per kernel call, per instruction set;
 * KC is the depth of one pass, so that a kernel's rows of a stay in L1. */
#define NR_AVX512 48
#define MR_AVX512 8
#define NR_AVX2 24
#define MR_AVX2 4
#define KC 384
/* Panels a single row is multiplied with at once (row_avx512). */
#define ROW_PANELS 4
/* Below this many multiply-adds one thread does the whole product. */
#define THREADED_MIN (1 << 19)
/* The same while the helper threads sleep (50 to 100 microseconds of work
 * on one thread), unless the weight was also in one of the last
 * RECURRING_WITHIN products: a recurrence's steps, which keep a woken
 * helper awake for the steps that follow. Waking one costs the caller
 * about 10 microseconds (tensor/parallel.h), which a product used once in
 * a while does not win back, and with another process on the other core
 * the woken helper may run its chunk late while the caller waits. At
 * batch-of-one the helper sleeps through each sequence's recurrence. The
 * RNN's head (2^20 multiply-adds) woke it, and it shared the next input
 * projection (2^22): two threads took 1.08x to 1.12x one thread's time
 * quiet, up to 2.02x with a core busy. Left asleep for the head, it woke
 * for the input projection: 1.6x to 1.7x with a core busy. Both alone:
 * 1.00x to 1.08x (BENCHMARKS.md). */
#define THREADED_MIN_WAKING (1 << 23)
#define RECURRING_WITHIN 4
/* From this size on a weight is split between threads even for one row:
 * each thread then streams its part from its own L2 cache. One thread
 * alone reads a weight of 1 MB, just past L2, at 58% to 71% of the speed
 * of one of 0.5 MB; split on two threads it ran 1.2x to 1.8x as fast, but
 * 0.5 MB split 0.7x to 0.8x (bench_ops, ", x64" rows): below about that,
 * handing work to a thread costs more than it saves. Batch-of-one steps
 * on two threads (BENCHMARKS.md): the LSTM at H = 256 (1 MB) took 0.66x
 * the time, the GRU (768 KB) 0.90x, the RNN (256 KB) split 1.24x. */
#define LARGE_WEIGHT_BYTES (768 << 10)
#define CACHE_ENTRIES 16

typedef enum isa { ISA_UNKNOWN, ISA_NONE, ISA_AVX2, ISA_AVX512 } isa;

static isa detect_isa(void)
{
#if defined(__x86_64__)
    if (tg_cpu_has_avx512())
        return ISA_AVX512;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return ISA_AVX2;
#endif
    return ISA_NONE;
}

static isa cpu_isa(void)
{
    /* Every thread finds the same answer; atomic, so that two finding it at once is no data race. */
    static _Atomic int found = ISA_UNKNOWN;
    int known = atomic_load_explicit(&found, memory_order_relaxed);
    if (known == ISA_UNKNOWN) {
        known = (int)detect_isa();
        atomic_store_explicit(&found, known, memory_order_relaxed);
    }
    return (isa)known;
}

/* ---- Packing ---------------------------------------------------------------------- *
 * b [k, n] becomes ceil(n / nr) panels; panel j holds columns j*nr..j*nr+nr-1
 * as k rows of nr contiguous floats, zero-padded past column n. */

/* Rows [k, k + 8) of 8 contiguous columns of b, cs apart, into 8 rows of a
 * panel nr floats wide: an 8 x 8 transpose in registers. Packing runs only
 * where the AVX2 or AVX-512 kernels do, so AVX is there. */
__attribute__((target("avx"))) static void transpose_8x8(const float *src, int64_t cs, float *dst, int nr)
{
    __m256 r[8], t[8], s[8];
    for (int i = 0; i < 8; i++)
        r[i] = _mm256_loadu_ps(src + i * cs);
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int h = 0; h < 8; h += 4) { /* the first four rows, then the last four */
        s[h] = _mm256_shuffle_ps(t[h], t[h + 2], 0x44);
        s[h + 1] = _mm256_shuffle_ps(t[h], t[h + 2], 0xEE);
        s[h + 2] = _mm256_shuffle_ps(t[h + 1], t[h + 3], 0x44);
        s[h + 3] = _mm256_shuffle_ps(t[h + 1], t[h + 3], 0xEE);
    }
    for (int j = 0; j < 4; j++) {
        _mm256_storeu_ps(dst + j * nr, _mm256_permute2f128_ps(s[j], s[j + 4], 0x20));
        _mm256_storeu_ps(dst + (j + 4) * nr, _mm256_permute2f128_ps(s[j], s[j + 4], 0x31));
    }
}

/* `rows` rows of the panel's `width` columns (column c at src + c * cs,
 * its elements rs apart) into block, nr floats a row, zeros past width.
 * Contiguous columns go 8 x 8 through registers; what is left (other
 * strides, the edges) element by element. */
static void pack_transposed_block(const float *src, int64_t rs, int64_t cs, int64_t rows, int64_t width,
                                  int nr, float *block)
{
    int64_t fast_columns = rs == 1 ? width / 8 * 8 : 0, fast_rows = rows / 8 * 8;
    for (int64_t c = 0; c < fast_columns; c += 8)
        for (int64_t k = 0; k < fast_rows; k += 8)
            transpose_8x8(src + c * cs + k, cs, block + k * nr + c, nr);
    for (int64_t c = 0; c < nr; c++) {
        int64_t k = c < fast_columns ? fast_rows : 0;
        if (c >= width)
            for (; k < rows; k++)
                block[k * nr + c] = 0.0f;
        else
            for (; k < rows; k++)
                block[k * nr + c] = src[c * cs + k * rs];
    }
}

static void pack_panel(const tg_matrix *b, int64_t j, int nr, float *dst)
{
    int64_t n0 = j * nr, width = b->n - n0 < nr ? b->n - n0 : nr;
    const float *src = b->data + n0 * b->cs;
    if (b->cs == 1) { /* rows of b are contiguous: copy them in pieces */
        for (int64_t k = 0; k < b->m; k++) {
            memcpy(dst + k * nr, src + k * b->rs, sizeof(float) * (size_t)width);
            memset(dst + k * nr + width, 0, sizeof(float) * (size_t)(nr - width));
        }
        return;
    }
    /* Columns are contiguous (a transposed weight): transpose blocks of 64
     * rows, so that the destination block stays in L1 while it fills. */
    for (int64_t k0 = 0; k0 < b->m; k0 += 64) {
        int64_t rows = b->m - k0 < 64 ? b->m - k0 : 64;
        pack_transposed_block(src + k0 * b->rs, b->rs, b->cs, rows, width, nr, dst + k0 * nr);
    }
}

typedef struct pack_work {
    const tg_matrix *b;
    int nr;
    float *dst;
} pack_work;

static void pack_panels(void *context, int64_t first, int64_t end)
{
    const pack_work *w = context;
    for (int64_t j = first; j < end; j++)
        pack_panel(w->b, j, w->nr, w->dst + j * w->b->m * w->nr);
}

static void pack(const tg_matrix *b, int nr, float *dst, bool threaded)
{
    int64_t panels = (b->n + nr - 1) / nr;
    pack_work w = { b, nr, dst };
    if (threaded)
        tg_parallel_for(panels, 1, pack_panels, &w);
    else
        pack_panels(&w, 0, panels);
}

/* ---- Kernels ------------------------------------------------------------------------ *
 * c[0..mr, 0..ncols) = alpha * a[0..mr, 0..kc) @ panel[0..kc, 0..nr) + add,
 * with the rows of a broadcast one element at a time; add (NULL: nothing)
 * is c itself to accumulate, or an addend read as the result is stored.
 * mr and nv (the vectors of the panel it uses, vectors_for) are
 * compile-time constants in each instantiation, so the accumulators stay
 * in registers. */

/* out[0 .. min(left, 16)) = alpha * value + add[...] (add NULL: nothing):
 * the columns past the matrix's edge are masked off. */
__attribute__((target("avx512f,fma"), always_inline)) static inline void
store_avx512(float *out, __m512 value, int left, const float *add, float alpha)
{
    __mmask16 mask = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
    if (alpha != 1.0f)
        value = _mm512_mul_ps(value, _mm512_set1_ps(alpha));
    if (add)
        value = _mm512_add_ps(value, _mm512_maskz_loadu_ps(mask, add));
    _mm512_mask_storeu_ps(out, mask, value);
}

/* How many of a panel's three vectors (of `lanes` columns each) its ncols
 * columns need. A panel at the matrix's edge is zero-padded to a whole
 * panel; the vectors past the edge are neither loaded nor multiplied
 * (with AVX-512, n = 128 leaves a last panel of 32 columns: two vectors of
 * three; a 65-class head one of 17, also two). */
static inline int vectors_for(int ncols, int lanes)
{
    int vectors = (ncols + lanes - 1) / lanes;
    return vectors < 3 ? vectors : 3;
}

__attribute__((target("avx512f,fma"), always_inline)) static inline void
kernel_avx512(const int mr, const int nv, int64_t kc, const float *a, int64_t lda, const float *panel,
              float *c, int64_t ldc, int ncols, const float *add, int64_t ld_add, float alpha)
{
    __m512 acc[MR_AVX512][3];
    for (int i = 0; i < mr; i++)
        for (int v = 0; v < nv; v++)
            acc[i][v] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kc; k++) {
        const float *p = panel + k * NR_AVX512;
        __m512 b[3];
        for (int v = 0; v < nv; v++)
            b[v] = _mm512_load_ps(p + 16 * v);
        for (int i = 0; i < mr; i++) {
            __m512 x = _mm512_set1_ps(a[i * lda + k]);
            for (int v = 0; v < nv; v++)
                acc[i][v] = _mm512_fmadd_ps(x, b[v], acc[i][v]);
        }
    }
    for (int i = 0; i < mr; i++)
        for (int v = 0; v < nv; v++)
            store_avx512(c + i * ldc + 16 * v, acc[i][v], ncols - 16 * v, add ? add + i * ld_add + 16 * v : NULL,
                         alpha);
}

__attribute__((target("avx512f,fma"))) static void
rows_avx512(int mr, int64_t kc, const float *a, int64_t lda, const float *panel, float *c,
            int64_t ldc, int ncols, const float *add, int64_t ld_add, float alpha)
{
    switch (mr * 4 + vectors_for(ncols, 16)) {
#define CASE(R, V) case R * 4 + V: kernel_avx512(R, V, kc, a, lda, panel, c, ldc, ncols, add, ld_add, alpha); break;
#define CASES(R) CASE(R, 3) CASE(R, 2) CASE(R, 1)
        CASES(8) CASES(7) CASES(6) CASES(5) CASES(4) CASES(3) CASES(2) CASES(1)
#undef CASES
#undef CASE
    }
}

/* The vectors of panel p of `count` that row_kernel_avx512 uses: all three,
 * but nv in the last one. */
static inline int row_panel_vectors(int p, int count, int nv) { return p == count - 1 ? nv : 3; }

/* c[0, 0..ncols) = alpha * a[0, 0..kc) @ `count` consecutive panels + add,
 * `panel_floats` apart, the last of them with nv vectors of 16.
 * One row against one panel leaves only three accumulator chains, too few
 * to hide the multiply-add's latency: a single row (a batch of one) then
 * runs at half the speed the cache can feed. Four panels at once give
 * twelve chains. Each column still sums over k in order, so the result
 * equals the one-panel kernel's bit for bit. */
__attribute__((target("avx512f,fma"), always_inline)) static inline void
row_kernel_avx512(const int count, const int nv, int64_t kc, const float *a, const float *panel,
                  int64_t panel_floats, float *c, int ncols, const float *add, float alpha)
{
    __m512 acc[ROW_PANELS][3];
    for (int p = 0; p < count; p++)
        for (int v = 0; v < row_panel_vectors(p, count, nv); v++)
            acc[p][v] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kc; k++) {
        __m512 x = _mm512_set1_ps(a[k]);
        for (int p = 0; p < count; p++) {
            const float *b = panel + p * panel_floats + k * NR_AVX512;
            for (int v = 0; v < row_panel_vectors(p, count, nv); v++)
                acc[p][v] = _mm512_fmadd_ps(x, _mm512_load_ps(b + 16 * v), acc[p][v]);
        }
    }
    for (int p = 0; p < count; p++)
        for (int v = 0; v < row_panel_vectors(p, count, nv); v++)
            store_avx512(c + NR_AVX512 * p + 16 * v, acc[p][v], ncols - NR_AVX512 * p - 16 * v,
                         add ? add + NR_AVX512 * p + 16 * v : NULL, alpha);
}

__attribute__((target("avx512f,fma"))) static void
row_avx512(int count, int64_t kc, const float *a, const float *panel, int64_t panel_floats,
           float *c, int ncols, const float *add, float alpha)
{
    switch (count * 4 + vectors_for(ncols - NR_AVX512 * (count - 1), 16)) {
#define CASE(P, V) case P * 4 + V: row_kernel_avx512(P, V, kc, a, panel, panel_floats, c, ncols, add, alpha); break;
#define CASES(P) CASE(P, 3) CASE(P, 2) CASE(P, 1)
        CASES(4) CASES(3) CASES(2) CASES(1)
#undef CASES
#undef CASE
    }
}

__attribute__((target("avx2,fma"), always_inline)) static inline void
kernel_avx2(const int mr, const int nv, int64_t kc, const float *a, int64_t lda, const float *panel,
            float *c, int64_t ldc, int ncols, const float *add, int64_t ld_add, float alpha)
{
    __m256 acc[MR_AVX2][3];
    for (int i = 0; i < mr; i++)
        for (int v = 0; v < nv; v++)
            acc[i][v] = _mm256_setzero_ps();
    for (int64_t k = 0; k < kc; k++) {
        const float *p = panel + k * NR_AVX2;
        __m256 b[3];
        for (int v = 0; v < nv; v++)
            b[v] = _mm256_load_ps(p + 8 * v);
        for (int i = 0; i < mr; i++) {
            __m256 x = _mm256_broadcast_ss(a + i * lda + k);
            for (int v = 0; v < nv; v++)
                acc[i][v] = _mm256_fmadd_ps(x, b[v], acc[i][v]);
        }
    }
    for (int i = 0; i < mr; i++)
        for (int v = 0; v < nv; v++) {
            float lanes[8];
            _mm256_storeu_ps(lanes, acc[i][v]);
            float *out = c + i * ldc + 8 * v;
            const float *in = add ? add + i * ld_add + 8 * v : NULL;
            for (int col = 0; col < 8 && 8 * v + col < ncols; col++)
                out[col] = (in ? in[col] : 0.0f) + alpha * lanes[col];
        }
}

__attribute__((target("avx2,fma"))) static void
rows_avx2(int mr, int64_t kc, const float *a, int64_t lda, const float *panel, float *c,
          int64_t ldc, int ncols, const float *add, int64_t ld_add, float alpha)
{
    switch (mr * 4 + vectors_for(ncols, 8)) {
#define CASE(R, V) case R * 4 + V: kernel_avx2(R, V, kc, a, lda, panel, c, ldc, ncols, add, ld_add, alpha); break;
#define CASES(R) CASE(R, 3) CASE(R, 2) CASE(R, 1)
        CASES(4) CASES(3) CASES(2) CASES(1)
#undef CASES
#undef CASE
    }
}

/* ---- The product ----------------------------------------------------------------------- */

typedef void (*rows_fn)(int, int64_t, const float *, int64_t, const float *, float *, int64_t, int,
                        const float *, int64_t, float);
typedef void (*row_fn)(int, int64_t, const float *, const float *, int64_t, float *, int,
                       const float *, float);

/* One instruction set's kernels: `rows` multiplies up to mr_max rows by one
 * panel of nr columns; `row`, when present, one row by up to ROW_PANELS
 * panels. */
typedef struct kernel_set {
    int nr, mr_max;
    rows_fn rows;
    row_fn row;
} kernel_set;

static const kernel_set avx512_kernels = { NR_AVX512, MR_AVX512, rows_avx512, row_avx512 };
static const kernel_set avx2_kernels = { NR_AVX2, MR_AVX2, rows_avx2, NULL };

/* What a pass over depth block k0 adds its products to, at row i and
 * column col of c: the addend d in the first block (NULL: nothing), the
 * sum so far in c after it. */
static const float *added(const tg_matrix *c, const tg_matrix *d, int64_t i, int64_t col, int64_t k0,
                          int64_t *ld)
{
    const tg_matrix *from = k0 > 0 ? c : d;
    *ld = from ? from->rs : 0;
    return from ? from->data + i * from->rs + col : NULL;
}

/* c = alpha * a @ packed panel j + d. */
static void multiply_panel(const tg_matrix *a, const float *panels, int64_t j, const tg_matrix *c,
                           const tg_matrix *d, float alpha, const kernel_set *ks)
{
    const int64_t k_total = a->n;
    const int nr = ks->nr;
    int ncols = (int)(c->n - j * nr < nr ? c->n - j * nr : nr);
    const float *panel = panels + j * k_total * nr;
    for (int64_t k0 = 0; k0 < k_total; k0 += KC) {
        int64_t kc = k_total - k0 < KC ? k_total - k0 : KC;
        for (int64_t i = 0; i < c->m; i += ks->mr_max) {
            int mr = (int)(c->m - i < ks->mr_max ? c->m - i : ks->mr_max);
            int64_t ld;
            const float *add = added(c, d, i, j * nr, k0, &ld);
            ks->rows(mr, kc, a->data + i * a->rs + k0, a->rs, panel + k0 * nr,
                     c->data + i * c->rs + j * nr, c->rs, ncols, add, ld, alpha);
        }
    }
}

/* The single row of a times panels [j, j + count). */
static void multiply_row_panels(const tg_matrix *a, const float *panels, int64_t j, int count,
                                const tg_matrix *c, const tg_matrix *d, float alpha,
                                const kernel_set *ks)
{
    const int64_t k_total = a->n, panel_floats = k_total * ks->nr;
    int64_t width = c->n - j * ks->nr;
    if (width > (int64_t)count * ks->nr)
        width = (int64_t)count * ks->nr;
    for (int64_t k0 = 0; k0 < k_total; k0 += KC) {
        int64_t kc = k_total - k0 < KC ? k_total - k0 : KC, ld;
        ks->row(count, kc, a->data + k0, panels + j * panel_floats + k0 * ks->nr, panel_floats,
                c->data + j * ks->nr, (int)width, added(c, d, 0, j * ks->nr, k0, &ld), alpha);
    }
}

/* Panels [first, end) one after another, backward when `backward`; a single
 * row takes them ROW_PANELS at a time. */
static void multiply_panels(const tg_matrix *a, const float *panels, int64_t first, int64_t end,
                            bool backward, const tg_matrix *c, const tg_matrix *d, float alpha,
                            const kernel_set *ks)
{
    if (c->m == 1 && ks->row) {
        int64_t groups = (end - first + ROW_PANELS - 1) / ROW_PANELS;
        for (int64_t g = 0; g < groups; g++) {
            int64_t j = first + (backward ? groups - 1 - g : g) * ROW_PANELS;
            int count = (int)(end - j < ROW_PANELS ? end - j : ROW_PANELS);
            multiply_row_panels(a, panels, j, count, c, d, alpha, ks);
        }
        return;
    }
    for (int64_t p = first; p < end; p++)
        multiply_panel(a, panels, backward ? first + end - 1 - p : p, c, d, alpha, ks);
}

typedef struct multiply_work {
    const tg_matrix *a, *c, *d;
    const float *panels;
    float alpha;
    bool backward;
    const kernel_set *ks;
} multiply_work;

static void multiply_chunk(void *context, int64_t first, int64_t end)
{
    const multiply_work *w = context;
    multiply_panels(w->a, w->panels, first, end, w->backward, w->c, w->d, w->alpha, w->ks);
}

/* Rows [first, first + count) of m (m itself when its row stride is 0: a
 * row added to every row). */
static tg_matrix row_range(const tg_matrix *m, int64_t first, int64_t count)
{
    return (tg_matrix){ m->data + first * m->rs, count, m->n, m->rs, m->cs };
}

/* Blocks [first, end) of SMALL_ROWS_MAX rows, each through every panel. */
static void multiply_row_blocks(void *context, int64_t first, int64_t end)
{
    const multiply_work *w = context;
    const int64_t n_panels = (w->c->n + w->ks->nr - 1) / w->ks->nr;
    for (int64_t block = first; block < end; block++) {
        int64_t row = block * SMALL_ROWS_MAX;
        int64_t rows = w->c->m - row < SMALL_ROWS_MAX ? w->c->m - row : SMALL_ROWS_MAX;
        tg_matrix a = row_range(w->a, row, rows), c = row_range(w->c, row, rows);
        tg_matrix d = w->d ? row_range(w->d, row, rows) : c;
        multiply_panels(&a, w->panels, 0, n_panels, w->backward, &c, w->d ? &d : NULL, w->alpha, w->ks);
    }
}

/* c = alpha * a @ packed b + d, the panels split between threads. Every
 * other product walks the panels (of each thread's chunk) backward: a
 * weight larger than the cache then finds the panels it used last still
 * there, where a walk in one direction would always find the oldest ones
 * evicted. The order changes no result: each panel's columns are computed
 * alone. */
static void multiply(const tg_matrix *a, const float *panels, const tg_matrix *c, const tg_matrix *d,
                     float alpha, const kernel_set *ks, bool threaded, bool backward)
{
    const int64_t n_panels = (c->n + ks->nr - 1) / ks->nr;
    multiply_work w = { a, c, d, panels, alpha, backward, ks };
    if (c->m > SMALL_ROWS_MAX) {
        /* Many rows: threads take blocks of rows, each with every panel. */
        int64_t blocks = (c->m + SMALL_ROWS_MAX - 1) / SMALL_ROWS_MAX;
        if (threaded)
            tg_parallel_for(blocks, 1, multiply_row_blocks, &w);
        else
            multiply_row_blocks(&w, 0, blocks);
        return;
    }
    if (threaded)
        tg_parallel_for(n_panels, c->m == 1 ? ROW_PANELS : 1, multiply_chunk, &w);
    else
        multiply_chunk(&w, 0, n_panels);
}

/* ---- The cache of packed weights ---------------------------------------------------------- */

typedef struct packed {
    const float *data; /* key: the matrix as given */
    int64_t k, n, rs, cs;
    const tg_storage *storage; /* validity: the storage and its version */
    uint64_t version;
    float *panels;
    size_t capacity; /* floats */
    bool ready;      /* panels hold this version */
    bool backward;   /* the next product walks the panels backward */
    uint64_t last_use;
} packed;

static _Thread_local packed cache[CACHE_ENTRIES];
static _Thread_local uint64_t clock_ticks, products;
static tss_t cache_key;
static once_flag cache_key_once = ONCE_FLAG_INIT;

static void release_cache(void *unused)
{
    (void)unused;
    for (int i = 0; i < CACHE_ENTRIES; i++) {
        free(cache[i].panels);
        cache[i] = (packed){ 0 };
    }
}

static void create_cache_key(void) { tss_create(&cache_key, release_cache); }

void tg_gemm_small_release_thread(void) { release_cache(NULL); }

uint64_t tg_gemm_small_count(void) { return products; }

/* The entry for b, or a fresh one (the least recently used) with ready
 * false. */
static packed *lookup(const tg_matrix *b)
{
    packed *oldest = &cache[0];
    for (int i = 0; i < CACHE_ENTRIES; i++) {
        packed *e = &cache[i];
        if (e->data == b->data && e->k == b->m && e->n == b->n && e->rs == b->rs && e->cs == b->cs)
            return e;
        if (e->last_use < oldest->last_use)
            oldest = e;
    }
    float *panels = oldest->panels;
    size_t capacity = oldest->capacity;
    *oldest = (packed){ .data = b->data, .k = b->m, .n = b->n, .rs = b->rs, .cs = b->cs,
                        .panels = panels, .capacity = capacity };
    return oldest;
}

/* Floats of b packed into panels nr columns wide. */
static size_t packed_floats(const tg_matrix *b, int nr)
{
    return (size_t)((b->n + nr - 1) / nr) * (size_t)nr * (size_t)b->m;
}

/* Whether a product with more than SMALL_ROWS_MAX rows takes the packed
 * path. Measured against BLIS at 1,024 to 4,096 rows, one thread, each
 * weight packed anew (as after an optimizer step):
 * - a narrow product (two panels at most, where BLIS's 12-column tiles
 *   leave a ragged edge too): 1.5x to 1.7x BLIS for the 65 columns of a
 *   character head, at depths 128 to 4,096;
 * - a shallow one (a panel stays in L1 beside its rows of a): 1.1x to
 *   1.2x for depth 64 and 512 columns;
 * - a deep one (depth 256 and more): 1.0x to 1.2x, e.g. an LSTM's input
 *   projection [2048, 256] x [256, 1024], where BLIS also needed the bias
 *   copied into c first. Each block of rows streams the packed weight
 *   again, from L3 once it is past L2; at 16 MB ([4096, 1024] x
 *   [1024, 4096]) that no longer paid (0.98x), so 4 MB is the limit.
 * Shallow and wide ones stay with BLIS: a head's gradient [4096, 65] x
 * [65, 1024] ran at 0.77x, its tiles too shallow to repay their stores. */
static bool suits_many_rows(const tg_matrix *b, int nr)
{
    if (packed_floats(b, nr) * sizeof(float) > MANY_ROWS_PANEL_BYTES)
        return false;
    return b->n <= MANY_ROWS_NARROW || (b->m <= MANY_ROWS_SHALLOW && b->n <= MANY_ROWS_SHALLOW_WIDTH) ||
           b->m >= MANY_ROWS_DEEP;
}

/* Packs b into e unless e already holds this version; false when out of memory. */
static bool refresh(packed *e, const tg_matrix *b, const tg_storage *storage, int nr, bool threaded)
{
    if (e->ready && e->storage == storage && e->version == storage->version)
        return true;
    size_t need = packed_floats(b, nr);
    if (need > e->capacity) {
        free(e->panels);
        e->panels = aligned_alloc(64, (need * sizeof(float) + 63) / 64 * 64);
        e->capacity = e->panels ? need : 0;
        if (!e->panels)
            return false;
        call_once(&cache_key_once, create_cache_key);
        tss_set(cache_key, cache);
    }
    pack(b, nr, e->panels, threaded);
    e->storage = storage;
    e->version = storage->version;
    e->ready = true;
    return true;
}

void tg_matrix_scale(const tg_matrix *m, float factor)
{
    for (int64_t i = 0; i < m->m; i++)
        for (int64_t j = 0; j < m->n; j++)
            m->data[i * m->rs + j * m->cs] *= factor;
}

/* Whether c = a b is worth sharing between threads. Threads pay off for
 * much work, and also for a large weight with few rows: streaming it from
 * memory is then the cost, and two cores stream faster than one. Middling
 * work pays only if handing it over needs no wake (THREADED_MIN_WAKING). */
static bool worth_threads(const tg_matrix *b, const tg_matrix *c, bool recurring)
{
    double work = (double)c->m * (double)c->n * (double)b->m;
    if ((double)b->m * (double)b->n * sizeof(float) >= LARGE_WEIGHT_BYTES || work >= THREADED_MIN_WAKING)
        return true;
    return work >= THREADED_MIN && (recurring || tg_parallel_helpers_ready());
}

bool tg_gemm_small(const tg_matrix *a, const tg_matrix *b, const tg_storage *b_storage,
                   const tg_matrix *c, const tg_matrix *d, float alpha, float beta)
{
    isa set = cpu_isa();
    if (set == ISA_NONE || !b_storage || c->m < 1)
        return false;
    /* The kernel reads rows of a and d and writes rows of c contiguously. */
    if ((a->cs != 1 && a->n > 1) || (c->cs != 1 && c->n > 1))
        return false;
    d = d ? d : c;
    if (d != c && ((d->cs != 1 && d->n > 1) || d->m != c->m || d->n != c->n || (beta != 0.0f && beta != 1.0f)))
        return false;
    if (b->m < 8 || b->n < 16 || b->m * b->n < 4096)
        return false;
    const kernel_set *ks = set == ISA_AVX512 ? &avx512_kernels : &avx2_kernels;
    if (c->m > SMALL_ROWS_MAX && !suits_many_rows(b, ks->nr))
        return false;
    packed *e = lookup(b);
    bool recurring = e->last_use > 0 && clock_ticks - e->last_use < RECURRING_WITHIN;
    e->last_use = ++clock_ticks;
    bool threaded = worth_threads(b, c, recurring);
    if (!refresh(e, b, b_storage, ks->nr, threaded))
        return false;
    if (beta != 0.0f && beta != 1.0f)
        tg_matrix_scale(c, beta);
    multiply(a, e->panels, c, beta != 0.0f ? d : NULL, alpha, ks, threaded, e->backward);
    e->backward = !e->backward;
    products++;
    return true;
}
