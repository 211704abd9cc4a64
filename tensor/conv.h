/*
 * tensor/conv.h: sliding windows and padding, the kernels under padding,
 * unfold, convolution and pooling (autograd/ops.h, "Padding, windows and
 * convolution").
 *
 * Who it is for: people writing ops (reached through tensor/kernel.h, not
 * tapegrad.h); users call autograd's tg_unfold, tg_pad and tg_conv1d.
 *
 * An unfold is a view: window w of size `size` along dim starts at element
 * w * step, and the windows are read through strides, without a copy.
 * Fold is its adjoint: it adds every window's entries back at the positions
 * they were read from, so fold(unfold(x)) counts each element of x once per
 * window that holds it. Kernels return 0 or -1 with an error naming `op`.
 */
#ifndef TG_CONV_H
#define TG_CONV_H

#include "tensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Number of windows of `size` elements, `step` apart, in `length`
 * elements: (length - size) / step + 1, or 0 when size > length. */
int64_t tg_window_count(int64_t length, int64_t size, int64_t step);

/* The windows along dim as a view: t's shape with dim's size replaced by
 * the number of windows and a new last axis of `size` (torch.Tensor.unfold).
 * size >= 1 and no larger than dim's size, step >= 1. A tensor that requires
 * a gradient is refused, as by every raw view (tensor/kernel.h, "Views
 * without gradients"); autograd's tg_unfold records the same view. */
tg_tensor *tg_view_unfold(const tg_tensor *t, int dim, int64_t size, int64_t step, const char *op);

/* out = 0, then for every window w and offset k:
 * out[..., w * step + k (at dim), ...] += x[..., w (at dim), ..., k].
 * x is [..., windows at dim, ..., size]; out has x's shape less the last
 * axis, with `length` at dim. */
int tg_kernel_fold(tg_tensor *out, const tg_tensor *x, int dim, int64_t step);

/* out = x surrounded by `value`: out's axis d holds before[d] values, then
 * x's axis d, then the rest. out has x's rank. */
int tg_kernel_pad_constant(tg_tensor *out, const tg_tensor *x, const int64_t *before, float value);

#ifdef __cplusplus
}
#endif

#endif
