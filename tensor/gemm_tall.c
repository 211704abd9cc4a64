#include "tensor/gemm_tall.h"

#include <immintrin.h>
#include <string.h>

#include "tensor/cpu.h"
#include "tensor/parallel.h"
#include "tensor/threads.h"

/* A tile of c: TALL_MR rows by TALL_NV vectors of 16 columns. Its 24
 * accumulators leave registers for b's row piece and a broadcast. */
#define TALL_MR 6
#define TALL_NV 4
#define TALL_NR (16 * TALL_NV)
/* Rows of the sum per pass: b's [TALL_KC, TALL_NR] block (32 KB) stays in
 * L1 while every row tile of c passes over it. */
#define TALL_KC 128
/* Rows of the sum ahead of the kernel whose elements of a it asks the
 * cache for: the kernel uses one cache line of each of a's rows, which lie
 * a whole row of g apart. In a training step's products (operands no
 * longer in cache) this took 0% to 11% off, and brought the largest
 * results ([768, 256] and [1024, 256]) from 0.96x to 1.04x BLIS and more;
 * 8 rows ahead took off less. */
#define TALL_PREFETCH_ROWS 24
/* Shorter sums, and smaller results, are left to BLIS and the other paths. */
#define TALL_K_MIN 256
#define TALL_C_MIN 4096
/* Results of at most 1 MB (L2 cache's size here), which each pass reads
 * and writes once more. Up to there this path ran 1.1x to 1.5x as fast as
 * BLIS (one thread, sums of 1,024 to 4,096 rows: [128, 64] to [1024, 256],
 * and a character head's [65, 128] to [65, 1024]); past it slower:
 * [2048, 512] 0.96x, [4096, 1024] 0.55x. */
#define TALL_C_MAX_BYTES (1 << 20)
/* Below this many multiply-adds one thread does the whole product. */
#define TALL_THREADED_MIN (1 << 19)

static _Thread_local uint64_t products;

uint64_t tg_gemm_tall_count(void) { return products; }

/* c[0..mr, 0..ncols) (+)= alpha * sum over k < kc of g_rows[k][i..i + mr)^T
 * block[k, 0..ncols): row k of the sum has g's mr elements contiguous at
 * g_rows[k] + i, and x's in a packed block of rows TALL_NR floats apart,
 * zero past ncols. g_rows holds TALL_PREFETCH_ROWS more rows past kc, for
 * the prefetch. mr and nv (vectors of 16 columns, enough for ncols) are
 * compile-time constants in each instantiation, so the accumulators stay
 * in registers. Stores past ncols are masked off. */
__attribute__((target("avx512f,fma"), always_inline)) static inline void
tall_kernel(const int mr, const int nv, int64_t kc, const float *const *g_rows, int64_t i, const float *block,
            float *c, int64_t ldc, int ncols, bool accumulate, float alpha)
{
    __m512 acc[TALL_MR][TALL_NV];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++)
            acc[r][v] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kc; k++) {
        const float *g_row = g_rows[k] + i, *x_row = block + k * TALL_NR;
        _mm_prefetch((const char *)(g_rows[k + TALL_PREFETCH_ROWS] + i), _MM_HINT_T0);
        __m512 x[TALL_NV];
        for (int v = 0; v < nv; v++)
            x[v] = _mm512_load_ps(x_row + 16 * v);
        for (int r = 0; r < mr; r++) {
            __m512 g = _mm512_set1_ps(g_row[r]);
            for (int v = 0; v < nv; v++)
                acc[r][v] = _mm512_fmadd_ps(g, x[v], acc[r][v]);
        }
    }
    __m512 scale = _mm512_set1_ps(alpha);
    for (int v = 0; v < nv; v++) {
        int left = ncols - 16 * v;
        __mmask16 mask = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        for (int r = 0; r < mr; r++) {
            float *out = c + r * ldc + 16 * v;
            __m512 value = _mm512_mul_ps(acc[r][v], scale);
            if (accumulate)
                value = _mm512_add_ps(value, _mm512_maskz_loadu_ps(mask, out));
            _mm512_mask_storeu_ps(out, mask, value);
        }
    }
}

/* One tile of mr rows and ncols columns, through the instantiation that
 * fits it. */
__attribute__((target("avx512f,fma"))) static void
tall_tile(int mr, int ncols, int64_t kc, const float *const *g_rows, int64_t i, const float *block, float *c,
          int64_t ldc, bool accumulate, float alpha)
{
    switch ((ncols + 15) / 16 * 8 + mr) {
#define TILE(V, R) case V * 8 + R: tall_kernel(R, V, kc, g_rows, i, block, c, ldc, ncols, accumulate, alpha); return;
#define TILE_ROWS(V) TILE(V, 6) TILE(V, 5) TILE(V, 4) TILE(V, 3) TILE(V, 2) TILE(V, 1)
        TILE_ROWS(4) TILE_ROWS(3) TILE_ROWS(2) TILE_ROWS(1)
#undef TILE_ROWS
#undef TILE
    }
}

typedef struct tall_work {
    int count; /* pieces of the sum */
    const tg_matrix *g, *x, *c;
    int64_t rows; /* of the sum: every piece's */
    float alpha;
    bool accumulate; /* add to c's values (beta 1) */
} tall_work;

/* A row of the sum: row `row` of piece `piece`. */
typedef struct row_cursor {
    int piece;
    int64_t row;
} row_cursor;

/* The cursor's row, or the last row of the sum when it has passed the end
 * (only ever prefetched). */
static row_cursor settle(const tall_work *w, row_cursor at)
{
    while (at.piece < w->count && at.row >= w->g[at.piece].m)
        at = (row_cursor){ at.piece + 1, 0 };
    if (at.piece < w->count)
        return at;
    for (at.piece = w->count - 1; w->g[at.piece].m == 0; at.piece--)
        ;
    at.row = w->g[at.piece].m - 1;
    return at;
}

/* The addresses of the pass's kc rows of g and x, from *at on, which moves
 * past them; g's for TALL_PREFETCH_ROWS more rows after them. */
static void pass_rows(const tall_work *w, row_cursor *at, int64_t kc, const float **g_rows,
                      const float **x_rows)
{
    row_cursor r = *at;
    for (int64_t k = 0; k < kc + TALL_PREFETCH_ROWS; k++, r.row++) {
        r = settle(w, r);
        if (k == kc)
            *at = r;
        g_rows[k] = w->g[r.piece].data + r.row * w->g[r.piece].rs;
        if (k < kc)
            x_rows[k] = w->x[r.piece].data + r.row * w->x[r.piece].rs;
    }
}

/* The pass's rows of x in columns [j, j + ncols) as kc rows of TALL_NR
 * floats, zero past ncols. Rows of x a power of two apart would fall on a
 * few sets of L1 cache and evict each other; packed, they fill it evenly. */
static void pack_block(const float *const *x_rows, int64_t kc, int64_t j, int ncols, float *block)
{
    for (int64_t k = 0; k < kc; k++) {
        memcpy(block + k * TALL_NR, x_rows[k] + j, sizeof(float) * (size_t)ncols);
        if (ncols < TALL_NR)
            memset(block + k * TALL_NR + ncols, 0, sizeof(float) * (size_t)(TALL_NR - ncols));
    }
}

/* Row tiles [tile_first, tile_end) of c in its column blocks [block_first,
 * block_end), pass by pass over the sum. */
static void tall_part(const tall_work *w, int64_t tile_first, int64_t tile_end, int64_t block_first,
                      int64_t block_end)
{
    const tg_matrix *c = w->c;
    _Alignas(64) float block[TALL_KC * TALL_NR];
    const float *g_rows[TALL_KC + TALL_PREFETCH_ROWS], *x_rows[TALL_KC];
    row_cursor at = { 0, 0 };
    int64_t row_end = tile_end * TALL_MR < c->m ? tile_end * TALL_MR : c->m;
    for (int64_t k0 = 0; k0 < w->rows; k0 += TALL_KC) {
        int64_t kc = w->rows - k0 < TALL_KC ? w->rows - k0 : TALL_KC;
        bool accumulate = k0 > 0 || w->accumulate;
        pass_rows(w, &at, kc, g_rows, x_rows);
        for (int64_t j = block_first * TALL_NR; j < c->n && j < block_end * TALL_NR; j += TALL_NR) {
            int ncols = (int)(c->n - j < TALL_NR ? c->n - j : TALL_NR);
            pack_block(x_rows, kc, j, ncols, block);
            for (int64_t i = tile_first * TALL_MR; i < row_end; i += TALL_MR) {
                int mr = (int)(row_end - i < TALL_MR ? row_end - i : TALL_MR);
                tall_tile(mr, ncols, kc, g_rows, i, block, c->data + i * c->rs + j, c->rs, accumulate, w->alpha);
            }
        }
    }
}

static int64_t row_tiles(const tg_matrix *c) { return (c->m + TALL_MR - 1) / TALL_MR; }
static int64_t column_blocks(const tg_matrix *c) { return (c->n + TALL_NR - 1) / TALL_NR; }

static void tall_rows(void *context, int64_t first, int64_t end)
{
    const tall_work *w = context;
    tall_part(w, first, end, 0, column_blocks(w->c));
}

static void tall_columns(void *context, int64_t first, int64_t end)
{
    const tall_work *w = context;
    tall_part(w, 0, row_tiles(w->c), first, end);
}

/* The sum's rows when every piece fits c and has contiguous rows; -1
 * otherwise. */
static int64_t rows_of_pieces(int count, const tg_matrix *g, const tg_matrix *x, const tg_matrix *c)
{
    int64_t rows = 0;
    for (int p = 0; p < count; p++) {
        if (g[p].cs != 1 || x[p].cs != 1 || g[p].n != c->m || x[p].n != c->n || g[p].m != x[p].m)
            return -1;
        rows += g[p].m;
    }
    return rows;
}

bool tg_gemm_tall_pieces(int count, const tg_matrix *g, const tg_matrix *x, const tg_matrix *c, float alpha,
                         float beta)
{
    if (!tg_cpu_has_avx512() || c->cs != 1 || count < 1)
        return false;
    int64_t rows = rows_of_pieces(count, g, x, c);
    if (rows < TALL_K_MIN || c->m * c->n < TALL_C_MIN)
        return false;
    if ((double)c->m * (double)c->n * sizeof(float) > TALL_C_MAX_BYTES)
        return false;
    if (beta != 0.0f && beta != 1.0f)
        tg_matrix_scale(c, beta);
    tall_work w = { count, g, x, c, rows, alpha, beta != 0.0f };
    int threads = tg_get_num_threads();
    if (threads <= 1 || (double)c->m * (double)c->n * (double)rows < TALL_THREADED_MIN) {
        tall_rows(&w, 0, row_tiles(c));
    } else if (c->m < c->n && column_blocks(c) >= threads) {
        /* Each thread reads all of g and packs only its own columns of x:
         * the smaller operand is the one read twice. */
        tg_parallel_for(column_blocks(c), 1, tall_columns, &w);
    } else {
        tg_parallel_for(row_tiles(c), 1, tall_rows, &w);
    }
    products++;
    return true;
}

bool tg_gemm_tall(const tg_matrix *a, const tg_matrix *b, const tg_matrix *c, float alpha, float beta)
{
    if (a->rs != 1)
        return false;
    tg_matrix g = { a->data, a->n, a->m, a->cs, 1 };
    return tg_gemm_tall_pieces(1, &g, b, c, alpha, beta);
}
