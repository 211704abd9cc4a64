#include "tensor/conv.h"

#include "tensor/elementwise.h"
#include "tensor/kernel.h"
#include "tensor/view_tracked.h"

int64_t tg_window_count(int64_t length, int64_t size, int64_t step)
{
    return size > length ? 0 : (length - size) / step + 1;
}

tg_tensor *tg_view_unfold(const tg_tensor *t, int dim, int64_t size, int64_t step, const char *op)
{
    return tg_view_refused(t, op, "tg_unfold, which records the view, or tg_detach")
               ? NULL
               : tg_view_unfold_tracked(t, dim, size, step, op);
}

tg_tensor *tg_view_unfold_tracked(const tg_tensor *t, int dim, int64_t size, int64_t step, const char *op)
{
    if (!t)
        return tg_null_input(op);
    if (tg_tensor_check_live(t, op, "the tensor") != 0)
        return NULL;
    char shape[TG_SHAPE_STR_MAX];
    int d = tg_normalize_dim(dim, t->ndim, op);
    if (d < 0)
        return NULL;
    if (t->ndim >= TG_MAX_DIMS) {
        tg_error_set("%s: %s already has %d dimensions", op, tg_shape_format(shape, sizeof shape, t),
                     TG_MAX_DIMS);
        return NULL;
    }
    if (size < 1 || step < 1 || size > t->shape[d]) {
        tg_error_set("%s: %s: a window of %lld elements, %lld apart, along dimension %d of size %lld: "
                     "the window must hold 1 to %lld elements and the step be at least 1",
                     op, tg_shape_format(shape, sizeof shape, t), (long long)size, (long long)step, d,
                     (long long)t->shape[d], (long long)t->shape[d]);
        return NULL;
    }
    tg_tensor *v = tg_view_alias_tracked(t);
    if (!v)
        return NULL;
    v->shape[t->ndim] = size;
    v->stride[t->ndim] = t->stride[d];
    v->shape[d] = tg_window_count(t->shape[d], size, step);
    v->stride[d] = t->stride[d] * step;
    v->ndim = t->ndim + 1;
    v->numel = t->numel / t->shape[d] * v->shape[d] * size;
    return v;
}

int tg_kernel_fold(tg_tensor *out, const tg_tensor *x, int dim, int64_t step)
{
    if (!out || !x)
        return -1;
    if (tg_kernel_fill(out, 0.0f) != 0)
        return -1;
    int64_t windows = x->shape[dim], size = x->shape[x->ndim - 1];
    if (windows == 0 || x->numel == 0)
        return 0;
    for (int64_t k = 0; k < size; k++) {
        /* The positions window offset k was read from: k, k + step, ... */
        tg_tensor part = *out;
        part.data = out->data + k * out->stride[dim];
        part.shape[dim] = windows;
        part.stride[dim] = out->stride[dim] * step;
        part.numel = out->numel / out->shape[dim] * windows;
        part.ext = NULL;
        part.flags = 0;
        tg_tensor column = *x; /* x[..., k] */
        column.data = x->data + k * x->stride[x->ndim - 1];
        column.ndim = x->ndim - 1;
        column.numel = x->numel / size;
        column.ext = NULL;
        column.flags = 0;
        if (tg_kernel_copy(&part, &column, true) != 0)
            return -1;
    }
    return 0;
}

int tg_kernel_pad_constant(tg_tensor *out, const tg_tensor *x, const int64_t *before, float value)
{
    if (!out || !x)
        return -1;
    if (tg_kernel_fill(out, value) != 0)
        return -1;
    if (x->numel == 0)
        return 0;
    tg_tensor inner = *out;
    for (int d = 0; d < out->ndim; d++) {
        inner.data += before[d] * out->stride[d];
        inner.shape[d] = x->shape[d];
    }
    inner.numel = x->numel;
    inner.ext = NULL;
    inner.flags = 0;
    return tg_kernel_copy(&inner, x, false);
}
