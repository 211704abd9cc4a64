/*
 * tensor/index.h: indexing, concatenation and one-hot kernels.
 *
 * Who it is for: people writing ops (reached through tensor/kernel.h, not
 * tapegrad.h); users index with autograd's ops (tg_gather, tg_concat, ...).
 *
 * Index tensors are int64 tensors, or float32 tensors holding whole numbers
 * (exact up to 2^24; what tapegrad took before it had int64). Every index is
 * checked: a non-integer or out-of-range value is an error naming the
 * operation, the value, its position and the dimension's size. The indexed
 * tensors and the outputs are float32, except concat's, which joins tensors
 * of out's dtype. Kernels return 0 or -1.
 */
#ifndef TG_INDEX_H
#define TG_INDEX_H

#include <stdbool.h>

#include "tensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* out = x with axis dim taken at the positions in index (1-d, length L):
 * out has x's shape with size L at dim. */
int tg_kernel_index_select(tg_tensor *out, const tg_tensor *x, int dim, const tg_tensor *index);
/* out.select(dim, index[i]) += src.select(dim, i) for every i, in order. */
int tg_kernel_index_add(tg_tensor *out, int dim, const tg_tensor *index, const tg_tensor *src);
/* out[..., i, ...] = x[..., index[..., i, ...], ...] along dim; index and
 * out share a shape no larger than x's off dim (torch.gather). */
int tg_kernel_gather(tg_tensor *out, const tg_tensor *x, int dim, const tg_tensor *index);
/* out[..., index[..., i, ...], ...] += src[..., i, ...] along dim
 * (torch.scatter_add_); index and src share a shape. */
int tg_kernel_scatter_add(tg_tensor *out, int dim, const tg_tensor *index, const tg_tensor *src);
/* out = one-hot rows: out has index's shape plus a last axis of classes. */
int tg_kernel_one_hot(tg_tensor *out, const tg_tensor *index, int64_t classes);
/* out = the inputs joined along dim (their other axes must match out's). */
int tg_kernel_concat(tg_tensor *out, const tg_tensor *const *inputs, int n, int dim);

/* Checks that every value of index is a whole number in [0, limit). */
int tg_check_indices(const tg_tensor *index, int64_t limit, const char *op);
/* The index value at element offset `at` of an index of either dtype
 * (int64, or float32 whole numbers, checked before). */
static inline int64_t tg_index_value(const tg_tensor *index, int64_t at)
{
    return index->dtype == TG_INT64 ? index->i64[at] : (int64_t)index->data[at];
}

#ifdef __cplusplus
}
#endif

#endif
