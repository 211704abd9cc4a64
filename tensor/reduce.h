/*
 * tensor/reduce.h: reductions, softmax and arg-max.
 *
 * Who it is for: people writing ops (reached through tensor/kernel.h, not
 * tapegrad.h); users reduce with autograd's ops (tg_sum, tg_softmax, ...).
 *
 * Reductions work "to a shape": `out` has x's shape with size 1 on every
 * reduced axis (leading axes may also be missing). That one form serves
 * reductions over any set of axes (with keepdim or not, a view away) and
 * the gradient of broadcasting, which sums a gradient back to an input's
 * shape. Sums add each contiguous run of reduced elements in double
 * precision; sums across runs (a column sum, a bias gradient over T x B
 * rows) cascade: blocks of 32 terms per output, then the blocks' partials
 * pairwise, so the float error grows with log2 of the count rather than
 * with the count (over 6,400 rows it is below PyTorch's float32 sum's).
 * Partials live in the thread's arena for the call. Each function returns
 * 0, or -1 with an error naming the operation and the shapes.
 */
#ifndef TG_REDUCE_H
#define TG_REDUCE_H

#include <stdbool.h>

#include "tensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* out (+)= scale * sum of x over the axes where out has size 1. */
int tg_kernel_sum_to(tg_tensor *out, const tg_tensor *x, float scale, bool accumulate);
/* out = max (min) of x over the axes where out has size 1; NaN wins. */
int tg_kernel_max_to(tg_tensor *out, const tg_tensor *x);
int tg_kernel_min_to(tg_tensor *out, const tg_tensor *x);
/* out = variance over the reduced axes, dividing by (count - correction). */
int tg_kernel_var_to(tg_tensor *out, const tg_tensor *x, float correction);
/* out = log(sum(exp(x))) over the reduced axes, computed stably. */
int tg_kernel_logsumexp_to(tg_tensor *out, const tg_tensor *x);
/* out = (sum |x|^p)^(1/p) over the reduced axes; p = INFINITY gives max |x|. */
int tg_kernel_norm_to(tg_tensor *out, const tg_tensor *x, float p);

/* Along axis dim: the max (or min) values (float32) and their first
 * indices (int64). values and indices have x's shape with size 1 at dim. */
int tg_kernel_arg_reduce(tg_tensor *values, tg_tensor *indices, const tg_tensor *x, int dim,
                         bool is_max);

/* out = softmax (or log_softmax) of x along dim; out has x's shape. */
int tg_kernel_softmax(tg_tensor *out, const tg_tensor *x, int dim, bool log);

/* Log-softmax over the last axis of x [..., C], at one class per row:
 * picked[r] = x[r, index[r]] - lse[r], lse[r] = log(sum(exp(x[r, :]))).
 * Everything contiguous; index int64 (or float32 whole numbers), checked
 * to be in [0, C) by the caller; picked and lse one value per row. */
int tg_kernel_log_softmax_pick(tg_tensor *picked, tg_tensor *lse, const tg_tensor *x, const tg_tensor *index);
/* Its gradient for x: gx (=, or += with accumulate) g[r] * (one_hot(index[r])
 * - exp(x[r, :] - lse[r])). */
int tg_kernel_log_softmax_pick_grad(tg_tensor *gx, const tg_tensor *x, const tg_tensor *lse,
                                    const tg_tensor *index, const tg_tensor *g, bool accumulate);

/* The shapes of reducing x over `axes`: `kept` keeps every axis (size 1
 * where reduced), `result` drops the reduced ones unless keepdim. */
int tg_reduce_shapes(const tg_tensor *x, tg_axes axes, bool keepdim, tg_shape *kept,
                     tg_shape *result, const char *op);

#ifdef __cplusplus
}
#endif

#endif
