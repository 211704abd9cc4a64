/*
 * tensor/gemm_tall.h: products with a long sum and a small result (internal).
 *
 * A weight's gradient g^T x sums over every row the weight was applied to:
 * all steps of a sequence times the batch, 1,000 to 4,000 rows, into a
 * result no larger than the weight. a = g^T is then a transposed view (its
 * columns contiguous) and b = x has contiguous rows. A recurrent weight's
 * rows come in pieces, one per step, wherever each step left them: the sum
 * runs over the pieces in turn, without copying them together first. BLIS
 * packs both operands for such a product and runs it at half to two thirds
 * of its peak here. These kernels read a where it lies: each step of the sum
 * broadcasts six contiguous elements of a row of g against 64 floats of
 * the same row of x, into a tile of c held in registers. The sum runs in
 * passes of 128 rows; in each, a block of x's rows and 64 columns is copied
 * into one contiguous piece that stays in L1 cache while every tile of c in
 * those columns passes over it.
 *
 * Each element of c sums over the rows in order, and threads split c's
 * rows, so the result does not depend on the thread count.
 */
#ifndef TG_GEMM_TALL_H
#define TG_GEMM_TALL_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor/gemm_small.h"

/* c = alpha * a @ b + beta * c (beta = 0 ignores c) through the tall path,
 * when the shapes, the layouts and the CPU suit it; false (nothing done)
 * otherwise. */
bool tg_gemm_tall(const tg_matrix *a, const tg_matrix *b, const tg_matrix *c, float alpha, float beta);

/* c = alpha * (g[0]^T @ x[0] + ... + g[count-1]^T @ x[count-1]) + beta * c,
 * for g[p] [R_p, M] and x[p] [R_p, N] with contiguous rows (c is [M, N]):
 * one sum over the pieces' rows in turn, in order. False (nothing done)
 * when the shapes, the layouts and the CPU do not suit the tall path. */
bool tg_gemm_tall_pieces(int count, const tg_matrix *g, const tg_matrix *x, const tg_matrix *c, float alpha,
                         float beta);

/* Products this thread computed through the tall path (for tests and
 * benchmarks). */
uint64_t tg_gemm_tall_count(void);

#endif
