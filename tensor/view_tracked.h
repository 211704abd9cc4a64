/*
 * tensor/view_tracked.h: the raw views for the floor that tracks tensors
 * (internal; not installed).
 *
 * Who it is for: autograd/, which sets TG_TENSOR_TRACKED on the tensors
 * that require a gradient and records every view it makes of them. The
 * views of tensor/kernel.h refuse a tracked tensor, since the view would
 * drop its gradient; these are the same views without that refusal (every
 * other check stays), for an op that records the view itself (tg_reshape,
 * tg_detach, ...) or only reads the values (the gradient checker, anomaly
 * mode).
 */
#ifndef TG_VIEW_TRACKED_H
#define TG_VIEW_TRACKED_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor/tensor.h"

/* True, with an error, when the raw view named `view` must refuse t: t is
 * stale, or tracked ("<view>: tensor [3,4] is tracked by autograd
 * (requires a gradient); use <use>"). A NULL t is left to the view. */
bool tg_view_refused(const tg_tensor *t, const char *view, const char *use);

tg_tensor *tg_view_reshape_tracked(const tg_tensor *t, tg_shape shape);
tg_tensor *tg_view_permute_tracked(const tg_tensor *t, const int *order);
tg_tensor *tg_view_slice_tracked(const tg_tensor *t, int dim, int64_t start, int64_t stop, int64_t step);
tg_tensor *tg_view_narrow_tracked(const tg_tensor *t, int dim, int64_t start, int64_t length);
tg_tensor *tg_view_select_tracked(const tg_tensor *t, int dim, int64_t index);
tg_tensor *tg_view_expand_tracked(const tg_tensor *t, tg_shape shape);
tg_tensor *tg_view_squeeze_tracked(const tg_tensor *t, int dim);
tg_tensor *tg_view_unsqueeze_tracked(const tg_tensor *t, int dim);
tg_tensor *tg_view_alias_tracked(const tg_tensor *t);
tg_tensor *tg_view_contiguous_tracked(const tg_tensor *t);
tg_tensor *tg_view_unfold_tracked(const tg_tensor *t, int dim, int64_t size, int64_t step, const char *op);

#endif
