#include "tensor/iterate.h"
#include "tensor/kernel.h"

#include <string.h>

void tg_iter_plan_strided(tg_iter_plan *plan, int ndim, const int64_t *shape, int operands,
                          int64_t stride[][TG_MAX_DIMS], float *const *base)
{
    /* Keep the axes of size other than 1, outermost first. */
    int64_t dims[TG_MAX_DIMS];
    int64_t st[TG_ITER_MAX_OPERANDS][TG_MAX_DIMS];
    int n = 0;
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        numel *= shape[d];
        if (shape[d] == 1)
            continue;
        dims[n] = shape[d];
        for (int k = 0; k < operands; k++)
            st[k][n] = stride[k][d];
        n++;
    }
    /* Merge an axis into the next inner one when every operand steps over
     * both as over one. */
    int m = 0; /* merged axes, written back in place */
    for (int d = 0; d < n; d++) {
        if (m > 0) {
            bool mergeable = true;
            for (int k = 0; k < operands && mergeable; k++)
                mergeable = st[k][m - 1] == st[k][d] * dims[d];
            if (mergeable) {
                dims[m - 1] *= dims[d];
                for (int k = 0; k < operands; k++)
                    st[k][m - 1] = st[k][d];
                continue;
            }
        }
        dims[m] = dims[d];
        for (int k = 0; k < operands; k++)
            st[k][m] = st[k][d];
        m++;
    }

    memset(plan, 0, sizeof *plan);
    plan->operands = operands;
    for (int k = 0; k < operands; k++)
        plan->base[k] = base[k];
    if (numel == 0) {
        plan->rows = 0;
        plan->inner = 0;
        return;
    }
    if (m == 0) { /* a single element */
        plan->rows = 1;
        plan->inner = 1;
        for (int k = 0; k < operands; k++)
            plan->inner_stride[k] = 1;
        return;
    }
    plan->inner = dims[m - 1];
    for (int k = 0; k < operands; k++)
        plan->inner_stride[k] = st[k][m - 1];
    plan->outer_ndim = m - 1;
    plan->rows = 1;
    for (int d = 0; d < m - 1; d++) {
        plan->outer_shape[d] = dims[d];
        plan->rows *= dims[d];
        for (int k = 0; k < operands; k++)
            plan->outer_stride[k][d] = st[k][d];
    }
}

int tg_broadcast_strides(const tg_tensor *t, int ndim, const int64_t *shape, int64_t *stride,
                         const char *op)
{
    int lead = ndim - t->ndim;
    bool ok = lead >= 0;
    for (int d = 0; ok && d < ndim; d++) {
        if (d < lead) {
            stride[d] = 0;
            continue;
        }
        int64_t size = t->shape[d - lead];
        if (size == shape[d])
            stride[d] = size == 1 ? 0 : t->stride[d - lead];
        else if (size == 1)
            stride[d] = 0;
        else
            ok = false;
    }
    if (!ok) {
        char a[TG_SHAPE_STR_MAX], b[TG_SHAPE_STR_MAX];
        tg_tensor target = { .ndim = ndim };
        memcpy(target.shape, shape, sizeof(int64_t) * (size_t)ndim);
        return tg_error_set("%s: shape %s does not broadcast to %s", op,
                            tg_shape_format(a, sizeof a, t), tg_shape_format(b, sizeof b, &target));
    }
    return 0;
}

int tg_check_writable(const tg_tensor *out, const char *op)
{
    if (out->numel == 0)
        return 0;
    for (int d = 0; d < out->ndim; d++)
        if (out->stride[d] == 0 && out->shape[d] > 1) {
            char shape[TG_SHAPE_STR_MAX];
            return tg_error_set("%s: output %s has expanded axes, so its elements overlap", op,
                                tg_shape_format(shape, sizeof shape, out));
        }
    tg_tensor_mark_written(out);
    return 0;
}

/* The common case without the general planner: operand 0 contiguous and
 * every other operand either contiguous of the same shape or a single
 * element, so the whole tensor is one row. False when that does not hold. */
static bool plan_single_row(tg_iter_plan *plan, int operands, const tg_tensor *const *tensors)
{
    const tg_tensor *out = tensors[0];
    if (!tg_tensor_is_contiguous(out))
        return false;
    for (int k = 1; k < operands; k++) {
        const tg_tensor *t = tensors[k];
        if (t->numel == 1 && t->ndim <= out->ndim) {
            plan->inner_stride[k] = 0;
        } else {
            if (t->ndim != out->ndim || !tg_tensor_is_contiguous(t))
                return false;
            for (int d = 0; d < t->ndim; d++)
                if (t->shape[d] != out->shape[d])
                    return false;
            plan->inner_stride[k] = 1;
        }
        plan->base[k] = t->data;
    }
    plan->operands = operands;
    plan->outer_ndim = 0;
    plan->rows = 1;
    plan->inner = out->numel;
    plan->inner_stride[0] = 1;
    plan->base[0] = out->data;
    return true;
}

int tg_iter_plan_broadcast(tg_iter_plan *plan, const char *op, int operands,
                           const tg_tensor *const *tensors)
{
    if (plan_single_row(plan, operands, tensors))
        return 0;
    const tg_tensor *out = tensors[0];
    int64_t stride[TG_ITER_MAX_OPERANDS][TG_MAX_DIMS];
    float *base[TG_ITER_MAX_OPERANDS];
    for (int k = 0; k < operands; k++) {
        if (tg_broadcast_strides(tensors[k], out->ndim, out->shape, stride[k], op) != 0)
            return -1;
        base[k] = tensors[k]->data;
    }
    tg_iter_plan_strided(plan, out->ndim, out->shape, operands, stride, base);
    return 0;
}

void tg_iter_unravel(const tg_iter_plan *plan, int64_t row, int64_t *index)
{
    for (int d = plan->outer_ndim - 1; d >= 0; d--) {
        index[d] = row % plan->outer_shape[d];
        row /= plan->outer_shape[d];
    }
}

void tg_iter_offsets(const tg_iter_plan *plan, int64_t row, int64_t *offset)
{
    int64_t index[TG_MAX_DIMS];
    tg_iter_unravel(plan, row, index);
    for (int k = 0; k < plan->operands; k++) {
        offset[k] = 0;
        for (int d = 0; d < plan->outer_ndim; d++)
            offset[k] += index[d] * plan->outer_stride[k][d];
    }
}

void tg_iter_next(const tg_iter_plan *plan, int64_t *index, int64_t *offset)
{
    for (int d = plan->outer_ndim - 1; d >= 0; d--) {
        index[d]++;
        for (int k = 0; k < plan->operands; k++)
            offset[k] += plan->outer_stride[k][d];
        if (index[d] < plan->outer_shape[d])
            return;
        for (int k = 0; k < plan->operands; k++)
            offset[k] -= index[d] * plan->outer_stride[k][d];
        index[d] = 0;
    }
}
