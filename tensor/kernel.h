/*
 * tensor/kernel.h: the tensor floor for people writing ops.
 *
 * Who it is for: authors of new ops and of tapegrad itself. A program that
 * builds and trains models needs only tapegrad.h, whose ops record their
 * gradients; nothing here does. This header adds what an op's forward and
 * backward are made of:
 *   - views without gradients (tg_view_*; tg_view_unfold in tensor/conv.h),
 *   - the raw kernels, which write into a tensor the caller provides:
 *     elementwise (tensor/elementwise.h, with tg_map for a kernel of your
 *     own), reductions and softmax (tensor/reduce.h), products
 *     (tensor/matmul.h; the int8 product below), indexing
 *     (tensor/index.h), padding and windows (tensor/conv.h), the
 *     recurrent cells' fused gates and their gradients (tensor/gates.h),
 *   - tg_tensor_mark_written, for a kernel that writes ->data itself,
 *   - giving graph memory back before the reset (tg_give_back),
 *   - the checks and shape helpers that ops share.
 * How an op's backward is written, and when a kernel must mark storage
 * written, is in autograd/autograd.h ("Defining a new op"); the pieces of
 * autograd for backward rules written with kernels are in
 * autograd/kernel.h.
 */
#ifndef TG_KERNEL_H
#define TG_KERNEL_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor/arena.h"
#include "tensor/conv.h"
#include "tensor/elementwise.h"
#include "tensor/gates.h"
#include "tensor/index.h"
#include "tensor/matmul.h"
#include "tensor/quantize.h"
#include "tensor/reduce.h"
#include "tensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Views without gradients (graph tensors sharing t's data; no copy) --- *
 * Each fills a new graph tensor of t's dtype, with no history: the
 * differentiable ops of autograd/ops.h (tg_reshape, tg_slice, ...) are the
 * same views recorded on the tape. Negative dims count from the end.
 *
 * A tensor that requires a gradient (TG_TENSOR_TRACKED: a leaf marked by
 * tg_set_requires_grad, or an op's output that depends on one) is refused,
 * since its view would silently lose the gradient. The error names the
 * view, the shape and the op that records the same view:
 *     view_reshape: tensor [3,4] is tracked by autograd (requires a
 *     gradient); use tg_reshape, which records the view, or tg_detach
 * An op's forward that only reads its input's values views the input
 * detached: tg_view_contiguous(tg_detach(x)). A view made here is never
 * tracked itself. The same holds for tg_view_unfold (tensor/conv.h),
 * whose errors name its `op`.                                            */

/* Same elements in a new shape. One entry of shape may be -1 (inferred).
 * Fails when t's strides cannot express the new shape without a copy
 * (autograd's tg_reshape copies in that case, like PyTorch's reshape). */
tg_tensor *tg_view_reshape(const tg_tensor *t, tg_shape shape);
tg_tensor *tg_view_permute(const tg_tensor *t, const int *order);
tg_tensor *tg_view_transpose(const tg_tensor *t, int dim0, int dim1);
/* Elements start, start+step, ... below stop along dim (step >= 1). */
tg_tensor *tg_view_slice(const tg_tensor *t, int dim, int64_t start, int64_t stop, int64_t step);
tg_tensor *tg_view_narrow(const tg_tensor *t, int dim, int64_t start, int64_t length);
/* Index `index` of dim, removing dim. */
tg_tensor *tg_view_select(const tg_tensor *t, int dim, int64_t index);
/* Broadcast size-1 axes (and new leading axes) to shape, with stride 0. */
tg_tensor *tg_view_expand(const tg_tensor *t, tg_shape shape);
tg_tensor *tg_view_squeeze(const tg_tensor *t, int dim);   /* dim must have size 1 */
tg_tensor *tg_view_unsqueeze(const tg_tensor *t, int dim); /* dim in [-(ndim+1), ndim] */
/* The same view in a new graph tensor struct. */
tg_tensor *tg_view_alias(const tg_tensor *t);
/* t itself when contiguous, else a contiguous copy (graph tensor). */
tg_tensor *tg_view_contiguous(const tg_tensor *t);

/* ---- The int8 product (tensor/quantize.h) ------------------------------------ */

/* Bytes of scratch memory tg_kernel_affine_int8 needs for x with n_rows
 * rows of cols elements. */
size_t tg_int8_scratch_bytes(int64_t n_rows, int64_t cols);

/* out [R, w->rows] (contiguous, float32) = x [R, w->cols] (float32, unit
 * stride along its rows) times w^T as tensor/quantize.h says, plus addend
 * [R, w->rows] (float32, unit stride along its rows, any row stride: 0
 * repeats one row; it may be out itself), or NULL. scratch:
 * tg_int8_scratch_bytes(R, cols) bytes, aligned for floats. -1 with an
 * error if the shapes do not fit. */
int tg_kernel_affine_int8(tg_tensor *out, const tg_tensor *x, const tg_qweight *w,
                          const tg_tensor *addend, void *scratch);

/* ---- Writing and giving back memory ------------------------------------------ */

/* Records that t's data was written. Every tapegrad function that writes a
 * tensor does this; call it after writing t->data yourself, so that what
 * tapegrad derives from a tensor (the packed copy of a weight kept for fast
 * products) is rebuilt. */
void tg_tensor_mark_written(const tg_tensor *t);

/* Returns the memory of t, made by one of the functions above, to the arena
 * before the reset, for a later graph tensor of the same size; t and every
 * view of it become invalid. A view, an owned tensor or a tensor on the
 * tape is left alone (false). (Backward gives back gradient buffers it is
 * done with.) */
bool tg_give_back(tg_tensor *t);

/* The arena's own give-back: a block that tg_arena_alloc(arena, bytes)
 * returned, before the next reset; a later tg_arena_alloc of the same size
 * may hand it out again. The caller must not touch the block afterwards.
 * The arena tracks a few block sizes at a time; a block of another size
 * stays unused until the reset. */
void tg_arena_give_back(tg_arena *arena, void *block, size_t bytes);

/* ---- Helpers for higher floors -------------------------------------------- */

/* Product of dims; -1 (with an error naming `op`) on a negative size or
 * int64 overflow. */
int64_t tg_shape_numel(tg_shape shape, const char *op);

/* The machine's physical memory in bytes (sysconf: pages times page size),
 * or 0 when unknown. */
uint64_t tg_memory_physical(void);
/* 0 when `bytes` fits in the machine's physical memory (or that is
 * unknown); otherwise -1 with "<op>: <what> need about X GB, more than this
 * machine's Y GB of memory". Layers call it with their estimate before
 * allocating, so an absurd size is refused at once instead of after
 * gigabytes have been filled. */
int tg_memory_check(const char *op, const char *what, double bytes);
/* Normalises a possibly negative dim against ndim; -1 with an error naming
 * `op` when out of range. */
int tg_normalize_dim(int dim, int ndim, const char *op);
/* Broadcast shape of a and b (NumPy rules); false with an error naming op. */
bool tg_broadcast_shapes(tg_shape a, tg_shape b, tg_shape *out, const char *op);
/* 0 when t's dtype is `dtype`; else -1 with the error
 * "<op>: int64 tensor [2,3] given where float32 is needed". NULL gives -1
 * without an error. */
int tg_check_dtype(const tg_tensor *t, tg_dtype dtype, const char *op);
/* The same check for n tensors (NULL entries skipped): kernels call it. */
int tg_check_float(const char *op, int n, const tg_tensor *const *tensors);
/* Fills contiguous (row-major) strides for shape; an axis of size 0 counts
 * as size 1, as in PyTorch, so no stride is 0. */
void tg_contiguous_strides(const tg_shape *shape, int64_t *stride);

/* 0, or -1 with the error "<op>: <what> is a graph tensor from before
 * tg_graph_reset ..." when t is stale (a NULL t is not stale). */
int tg_tensor_check_live(const tg_tensor *t, const char *op, const char *what);

#ifdef __cplusplus
}
#endif

#endif
