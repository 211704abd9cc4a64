/*
 * tensor/gemm_tiny.h: products of small matrices without BLIS (internal).
 *
 * A batched product of many small matrices (attention over a few dozen
 * positions, a decoder's step) spends its time in BLIS's fixed cost per
 * call (checking, partitioning, packing), a few microseconds, not in the
 * arithmetic. These kernels read a and b where they lie, with no packing,
 * and keep the result's tiles in registers:
 *   - rows of b contiguous: a tile of up to 4 rows by 64 columns of c, each
 *     step over k broadcasting one element of a against a row of b;
 *   - columns of b contiguous (b a transposed view, as keys^T), rows of a
 *     contiguous: dot products along k, 4 rows by 4 columns at a time.
 * Each element of c sums over k in order, so the result does not depend on
 * the batch size or the thread count.
 */
#ifndef TG_GEMM_TINY_H
#define TG_GEMM_TINY_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor/gemm_small.h"

/* Whether a product of these shapes and layouts (the same for every batch
 * element) takes the tiny path on this CPU. */
bool tg_gemm_tiny_suits(const tg_matrix *a, const tg_matrix *b, const tg_matrix *c);

/* c = alpha * a @ b + beta * c (beta = 0 ignores c), for matrices that
 * tg_gemm_tiny_suits. */
void tg_gemm_tiny(const tg_matrix *a, const tg_matrix *b, const tg_matrix *c, float alpha, float beta);

/* Products this thread computed through the tiny kernels (for tests). */
uint64_t tg_gemm_tiny_count(void);

#endif
