/*
 * tensor/iterate.h: walking strided tensors row by row (internal).
 *
 * A plan describes several operands of one shape (each with its own
 * strides) as `rows` runs of `inner` elements. Axes of size 1 are dropped
 * and neighbouring axes that are contiguous in every operand are merged, so
 * contiguous tensors become a single row and a kernel's innermost loop is as
 * long as it can be.
 */
#ifndef TG_ITERATE_H
#define TG_ITERATE_H

#include <stdint.h>

#include "tensor/tensor.h"

#define TG_ITER_MAX_OPERANDS 5

typedef struct tg_iter_plan {
    int operands;
    int outer_ndim;
    int64_t outer_shape[TG_MAX_DIMS];
    int64_t outer_stride[TG_ITER_MAX_OPERANDS][TG_MAX_DIMS];
    int64_t rows;  /* product of outer_shape */
    int64_t inner; /* length of each row */
    int64_t inner_stride[TG_ITER_MAX_OPERANDS];
    float *base[TG_ITER_MAX_OPERANDS];
} tg_iter_plan;

/* Plan for operands that share `shape`, with explicit strides per operand. */
void tg_iter_plan_strided(tg_iter_plan *plan, int ndim, const int64_t *shape, int operands,
                          int64_t stride[][TG_MAX_DIMS], float *const *base);

/* Plan over operand 0's shape; the other operands broadcast to it (NumPy
 * rules). Error naming `op` when one does not broadcast. */
int tg_iter_plan_broadcast(tg_iter_plan *plan, const char *op, int operands,
                           const tg_tensor *const *tensors);

/* Strides of t seen as a tensor of `shape` (NumPy broadcasting: stride 0 on
 * new and size-1 axes). Error naming `op` when t does not broadcast. */
int tg_broadcast_strides(const tg_tensor *t, int ndim, const int64_t *shape, int64_t *stride,
                         const char *op);

/* Every kernel calls this before writing out: 0 when out can be written
 * element by element (and the write is recorded, tg_tensor_mark_written),
 * or an error naming `op` when an expanded (stride-0) axis makes several
 * elements one. */
int tg_check_writable(const tg_tensor *out, const char *op);

/* Index (per outer axis) and element offsets (per operand) of a row. */
void tg_iter_unravel(const tg_iter_plan *plan, int64_t row, int64_t *index);
void tg_iter_offsets(const tg_iter_plan *plan, int64_t row, int64_t *offset);
/* Advances index and offsets to the next row. */
void tg_iter_next(const tg_iter_plan *plan, int64_t *index, int64_t *offset);

#endif
