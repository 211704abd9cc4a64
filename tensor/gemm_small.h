/*
 * tensor/gemm_small.h: matrix products with a packed weight (internal).
 *
 * A recurrent step multiplies a batch of states (16 to 64 rows) by the same
 * weight at every step. BLIS packs that weight again in every call and its
 * kernels are tuned for large squares, so it runs such thin products at a
 * third of the machine's speed. Here the weight is packed once into panels
 * laid out for an AVX-512 (or AVX2) kernel and kept in a per-thread cache,
 * validated by its storage's version: the packed copy is rebuilt only when
 * the weight has been written (an optimizer step), and reused by every
 * step in between. A product with many rows (an input projection or a
 * head over all steps at once) runs as blocks of rows, each walking every
 * panel, when the packed weight is small enough to stay in L2 cache
 * between blocks; BLIS, which blocks for larger ones, takes the rest.
 * Which path a product takes depends on its shapes and layouts only,
 * never on what ran before, so results are reproducible bit for bit (a
 * resumed run equals an uninterrupted one).
 */
#ifndef TG_GEMM_SMALL_H
#define TG_GEMM_SMALL_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor/tensor.h"

/* A matrix: m x n elements at data, row stride rs, column stride cs. */
typedef struct tg_matrix {
    float *data;
    int64_t m, n, rs, cs;
} tg_matrix;

/* m *= factor, element by element: the kernels here take beta 0 or 1, and
 * scale c first for any other. */
void tg_matrix_scale(const tg_matrix *m, float factor);

/* c = alpha * a @ b + beta * d through the packed path, when the shapes,
 * the layouts and the CPU suit it; false (nothing done) otherwise. d is c
 * itself when NULL; another d (beta 0 or 1) has c's shape and contiguous
 * rows, and a row stride of 0 adds one row to every row of c. Adding d as
 * the product is stored saves copying it into c first, with the same
 * result bit for bit. b_storage is the storage behind b, whose version
 * keys the cache. */
bool tg_gemm_small(const tg_matrix *a, const tg_matrix *b, const tg_storage *b_storage,
                   const tg_matrix *c, const tg_matrix *d, float alpha, float beta);

/* Frees this thread's packed copies (also done at thread exit). */
void tg_gemm_small_release_thread(void);

/* Products this thread computed through the packed path (for tests and
 * benchmarks). */
uint64_t tg_gemm_small_count(void);

#endif
