#include "tensor/gemm_tiny.h"

#include <immintrin.h>

#include "tensor/cpu.h"

/* Products above this many multiply-adds go to BLIS, whose packing then
 * pays for itself. */
#define TINY_MAX_WORK (64 * 64 * 64)

bool tg_gemm_tiny_suits(const tg_matrix *a, const tg_matrix *b, const tg_matrix *c)
{
    if (!tg_cpu_has_avx512() || (double)c->m * (double)c->n * (double)a->n > TINY_MAX_WORK)
        return false;
    if (c->cs == 1 || c->n == 1) {
        if (b->cs == 1 || b->n == 1)
            return true; /* rows of b */
    }
    return b->rs == 1 && (a->cs == 1 || a->n == 1); /* columns of b, rows of a */
}

/* c's tile value * alpha (+ beta * c), stored through mask. */
__attribute__((target("avx512f"), always_inline)) static inline void
store_tile(float *out, __m512 value, __mmask16 mask, float alpha, float beta)
{
    value = _mm512_mul_ps(value, _mm512_set1_ps(alpha));
    if (beta != 0.0f)
        value = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(mask, out), value);
    _mm512_mask_storeu_ps(out, mask, value);
}

/* Rows of b contiguous: c[0..R, 0..16 V) from rows i of a, with the last
 * vector masked to `last`. */
__attribute__((target("avx512f,fma"), always_inline)) static inline void
row_tile(const int R, const int V, const tg_matrix *a, const tg_matrix *b, const tg_matrix *c, int64_t i,
         int64_t j, __mmask16 last, float alpha, float beta)
{
    __m512 acc[4][4];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++)
            acc[r][v] = _mm512_setzero_ps();
    const float *arow = a->data + i * a->rs, *bcol = b->data + j;
    for (int64_t k = 0; k < a->n; k++) {
        __m512 bv[4];
        for (int v = 0; v < V; v++)
            bv[v] = _mm512_maskz_loadu_ps(v == V - 1 ? last : (__mmask16)0xFFFF, bcol + k * b->rs + 16 * v);
        for (int r = 0; r < R; r++) {
            __m512 x = _mm512_set1_ps(arow[r * a->rs + k * a->cs]);
            for (int v = 0; v < V; v++)
                acc[r][v] = _mm512_fmadd_ps(x, bv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++)
            store_tile(c->data + (i + r) * c->rs + j + 16 * v, acc[r][v], v == V - 1 ? last : (__mmask16)0xFFFF,
                       alpha, beta);
}

__attribute__((target("avx512f,fma"))) static void
rows_of_b(const tg_matrix *a, const tg_matrix *b, const tg_matrix *c, float alpha, float beta)
{
    for (int64_t j = 0; j < c->n; j += 64) {
        int64_t width = c->n - j < 64 ? c->n - j : 64;
        int V = (int)((width + 15) / 16);
        int tail = (int)(width - 16 * (V - 1));
        __mmask16 last = (__mmask16)(tail == 16 ? 0xFFFF : (1u << tail) - 1);
        for (int64_t i = 0; i < c->m; i += 4) {
            int R = (int)(c->m - i < 4 ? c->m - i : 4);
            switch (R * 4 + V - 1) {
#define TILE(r, v) case r * 4 + v - 1: row_tile(r, v, a, b, c, i, j, last, alpha, beta); break;
                TILE(1, 1) TILE(1, 2) TILE(1, 3) TILE(1, 4) TILE(2, 1) TILE(2, 2) TILE(2, 3) TILE(2, 4)
                TILE(3, 1) TILE(3, 2) TILE(3, 3) TILE(3, 4) TILE(4, 1) TILE(4, 2) TILE(4, 3) TILE(4, 4)
#undef TILE
            }
        }
    }
}

/* Columns of b and rows of a contiguous: c[i..i+R, j..j+C) as dot
 * products along k, 16 at a time. */
__attribute__((target("avx512f,fma"), always_inline)) static inline void
dot_tile(const int R, const int C, const tg_matrix *a, const tg_matrix *b, const tg_matrix *c, int64_t i,
         int64_t j, float alpha, float beta)
{
    __m512 acc[4][4];
    for (int r = 0; r < R; r++)
        for (int q = 0; q < C; q++)
            acc[r][q] = _mm512_setzero_ps();
    for (int64_t k = 0; k < a->n; k += 16) {
        int64_t left = a->n - k;
        __mmask16 mask = (__mmask16)(left >= 16 ? 0xFFFF : (1u << left) - 1);
        __m512 av[4];
        for (int r = 0; r < R; r++)
            av[r] = _mm512_maskz_loadu_ps(mask, a->data + (i + r) * a->rs + k);
        for (int q = 0; q < C; q++) {
            __m512 bv = _mm512_maskz_loadu_ps(mask, b->data + (j + q) * b->cs + k);
            for (int r = 0; r < R; r++)
                acc[r][q] = _mm512_fmadd_ps(av[r], bv, acc[r][q]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int q = 0; q < C; q++) {
            float *out = c->data + (i + r) * c->rs + (j + q) * c->cs;
            float value = alpha * _mm512_reduce_add_ps(acc[r][q]);
            *out = beta != 0.0f ? value + beta * *out : value;
        }
}

__attribute__((target("avx512f,fma"))) static void
columns_of_b(const tg_matrix *a, const tg_matrix *b, const tg_matrix *c, float alpha, float beta)
{
    for (int64_t i = 0; i < c->m; i += 4) {
        int R = (int)(c->m - i < 4 ? c->m - i : 4);
        for (int64_t j = 0; j < c->n; j += 4) {
            int C = (int)(c->n - j < 4 ? c->n - j : 4);
            switch (R * 4 + C - 1) {
#define TILE(r, q) case r * 4 + q - 1: dot_tile(r, q, a, b, c, i, j, alpha, beta); break;
                TILE(1, 1) TILE(1, 2) TILE(1, 3) TILE(1, 4) TILE(2, 1) TILE(2, 2) TILE(2, 3) TILE(2, 4)
                TILE(3, 1) TILE(3, 2) TILE(3, 3) TILE(3, 4) TILE(4, 1) TILE(4, 2) TILE(4, 3) TILE(4, 4)
#undef TILE
            }
        }
    }
}

static _Thread_local uint64_t products;

uint64_t tg_gemm_tiny_count(void) { return products; }

void tg_gemm_tiny(const tg_matrix *a, const tg_matrix *b, const tg_matrix *c, float alpha, float beta)
{
    products++;
    if ((c->cs == 1 || c->n == 1) && (b->cs == 1 || b->n == 1))
        rows_of_b(a, b, c, alpha, beta);
    else
        columns_of_b(a, b, c, alpha, beta);
}
