/*
 * tensor/matmul.h: matrix products through BLIS.
 *
 * Who it is for: people writing ops (reached through tensor/kernel.h, not
 * tapegrad.h); users multiply with autograd's tg_matmul.
 *
 * tg_kernel_matmul hands BLIS each matrix's row and column strides, so
 * transposed and sliced views are multiplied in place, without copies.
 * Only operands BLIS cannot describe (expanded, stride-0 axes) are copied.
 * The BLIS kernel set the products use is chosen as tensor/threads.h says.
 * Shapes BLIS runs far below its peak go to tapegrad's own kernels: few
 * rows against a weight (tensor/gemm_small.h), batches of tiny matrices
 * (tensor/gemm_tiny.h), and a weight's gradient summed over many rows
 * (tensor/gemm_tall.h), also when those rows lie in pieces. The reference
 * mode (tensor/reference.h) sends every product to BLIS.
 */
#ifndef TG_MATMUL_H
#define TG_MATMUL_H

#include "tensor/tensor.h"
#include "tensor/threads.h"

#ifdef __cplusplus
extern "C" {
#endif

/* out = alpha * (a @ b) + beta * out, for a [..., M, K] and b [..., K, N]
 * with batch axes broadcast; out is [batch..., M, N]. With beta = 0, out's
 * previous contents are ignored (NaN included); with K = 0 the product is
 * empty and out becomes beta * out. Both operands need at
 * least 2 dimensions (autograd's tg_matmul also takes vectors). */
int tg_kernel_matmul(tg_tensor *out, const tg_tensor *a, const tg_tensor *b, float alpha, float beta);

/* out = a @ b + addend, the addend broadcasting to out's shape (it must
 * not overlap out). A product the small-product kernels take (few rows,
 * tensor/gemm_small.h) adds the addend as it stores its result; any other
 * copies the addend into out and adds the product: the same bits either
 * way. */
int tg_kernel_matmul_add(tg_tensor *out, const tg_tensor *a, const tg_tensor *b, const tg_tensor *addend);

/* out = a[0]^T @ b[0] + ... + a[count-1]^T @ b[count-1] (+ out, when
 * accumulate), for a[p] [R_p, M] and b[p] [R_p, N] and out [M, N]: one
 * product summed over every piece's rows in turn, as a weight's gradient
 * over the steps of a sequence is. The tall path (tensor/gemm_tall.h)
 * reads the pieces where they lie; otherwise, and in the reference mode,
 * the pieces are copied together into graph memory and multiplied as one. */
int tg_kernel_matmul_tn_sum(tg_tensor *out, int count, const tg_tensor *const *a, const tg_tensor *const *b,
                            bool accumulate);
/* The shape of a @ b, or an error naming op and both shapes. */
int tg_matmul_shape(const tg_tensor *a, const tg_tensor *b, tg_shape *out, const char *op);


#ifdef __cplusplus
}
#endif

#endif
