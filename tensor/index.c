#include "tensor/index.h"

#include <math.h>
#include <string.h>

#include "tensor/elementwise.h"
#include "tensor/iterate.h"
#include "tensor/kernel.h"

/* Views on the stack: kernels below take thousands of slices and must not
 * grow the arena for each. */
static tg_tensor select_view(const tg_tensor *t, int d, int64_t i)
{
    tg_tensor v = *t;
    v.data = (void *)((char *)t->data + i * t->stride[d] * (int64_t)tg_dtype_size(t->dtype));
    for (int k = d; k < t->ndim - 1; k++) {
        v.shape[k] = t->shape[k + 1];
        v.stride[k] = t->stride[k + 1];
    }
    v.ndim = t->ndim - 1;
    v.numel = t->shape[d] ? t->numel / t->shape[d] : 0;
    v.ext = NULL;
    v.flags = 0;
    return v;
}

static tg_tensor narrow_view(const tg_tensor *t, int d, int64_t start, int64_t length)
{
    tg_tensor v = *t;
    v.data = (void *)((char *)t->data + start * t->stride[d] * (int64_t)tg_dtype_size(t->dtype));
    v.shape[d] = length;
    v.numel = t->shape[d] ? t->numel / t->shape[d] * length : 0;
    v.ext = NULL;
    v.flags = 0;
    return v;
}

static int index_error(const char *op, const tg_tensor *index, int64_t position, float value,
                       int64_t limit)
{
    char shape[TG_SHAPE_STR_MAX];
    tg_shape_format(shape, sizeof shape, index);
    if (value != floorf(value) || !isfinite(value))
        return tg_error_set("%s: index %g at position %lld of index tensor %s is not a whole number",
                            op, value, (long long)position, shape);
    return tg_error_set("%s: index %lld at position %lld of index tensor %s is out of range [0, %lld)",
                        op, (long long)value, (long long)position, shape, (long long)limit);
}

static int check_int64_indices(const tg_tensor *index, int64_t limit, const char *op)
{
    int64_t stride[1][TG_MAX_DIMS];
    memcpy(stride[0], index->stride, sizeof(int64_t) * (size_t)index->ndim);
    float *base[1] = { index->data };
    tg_iter_plan plan;
    tg_iter_plan_strided(&plan, index->ndim, index->shape, 1, stride, base);
    int64_t offset[TG_ITER_MAX_OPERANDS], at[TG_MAX_DIMS];
    tg_iter_offsets(&plan, 0, offset);
    tg_iter_unravel(&plan, 0, at);
    for (int64_t r = 0; r < plan.rows; r++) {
        const int64_t *v = index->i64 + offset[0];
        for (int64_t i = 0; i < plan.inner; i++) {
            int64_t x = v[i * plan.inner_stride[0]];
            if (x < 0 || x >= limit) {
                char shape[TG_SHAPE_STR_MAX];
                return tg_error_set("%s: index %lld at position %lld of index tensor %s is out of "
                                    "range [0, %lld)", op, (long long)x,
                                    (long long)(r * plan.inner + i),
                                    tg_shape_format(shape, sizeof shape, index), (long long)limit);
            }
        }
        tg_iter_next(&plan, at, offset);
    }
    return 0;
}

int tg_check_indices(const tg_tensor *index, int64_t limit, const char *op)
{
    if (!index)
        return tg_error_null_input("check_indices");
    if (index->dtype == TG_INT64)
        return check_int64_indices(index, limit, op);
    int64_t stride[1][TG_MAX_DIMS];
    memcpy(stride[0], index->stride, sizeof(int64_t) * (size_t)index->ndim);
    float *base[1] = { index->data };
    tg_iter_plan plan;
    tg_iter_plan_strided(&plan, index->ndim, index->shape, 1, stride, base);
    int64_t offset[TG_ITER_MAX_OPERANDS], at[TG_MAX_DIMS];
    tg_iter_offsets(&plan, 0, offset);
    tg_iter_unravel(&plan, 0, at);
    for (int64_t r = 0; r < plan.rows; r++) {
        const float *v = plan.base[0] + offset[0];
        for (int64_t i = 0; i < plan.inner; i++) {
            float x = v[i * plan.inner_stride[0]];
            if (!(x >= 0.0f && x < (float)limit && x == floorf(x)))
                return index_error(op, index, r * plan.inner + i, x, limit);
        }
        tg_iter_next(&plan, at, offset);
    }
    return 0;
}

static int64_t index_at(const tg_tensor *index, int64_t i) { return tg_index_value(index, i * index->stride[0]); }

/* Shared checks of index_select and index_add: a 1-d index into axis d of
 * `indexed`, and `other` equal to `indexed` but with size L at d. */
static int check_index_along(const char *op, const tg_tensor *indexed, int d, const tg_tensor *index,
                             const tg_tensor *other)
{
    char a[TG_SHAPE_STR_MAX], b[TG_SHAPE_STR_MAX];
    if (index->ndim != 1)
        return tg_error_set("%s: the index must be 1-d, got %s", op,
                            tg_shape_format(a, sizeof a, index));
    bool fits = other->ndim == indexed->ndim;
    for (int k = 0; fits && k < indexed->ndim; k++)
        fits = other->shape[k] == (k == d ? index->shape[0] : indexed->shape[k]);
    if (!fits)
        return tg_error_set("%s: %s indexed along dimension %d by %lld indices cannot match %s", op,
                            tg_shape_format(a, sizeof a, indexed), d, (long long)index->shape[0],
                            tg_shape_format(b, sizeof b, other));
    return tg_check_indices(index, indexed->shape[d], op);
}

int tg_kernel_index_select(tg_tensor *out, const tg_tensor *x, int dim, const tg_tensor *index)
{
    if (!out || !x || !index)
        return tg_error_null_input("kernel_index_select");
    int d = tg_normalize_dim(dim, x->ndim, "index_select");
    if (d < 0 || tg_check_float("index_select", 2, (const tg_tensor *const[]){ x, out }) != 0 ||
        check_index_along("index_select", x, d, index, out) != 0)
        return -1;
    int64_t n = index->shape[0];
    bool rows = d == 0 && tg_tensor_is_contiguous(x) && tg_tensor_is_contiguous(out);
    int64_t row = x->shape[0] ? x->numel / x->shape[0] : 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t j = index_at(index, i);
        if (rows) {
            memcpy(out->data + i * row, x->data + j * row, sizeof(float) * (size_t)row);
            continue;
        }
        tg_tensor dst = select_view(out, d, i), src = select_view(x, d, j);
        if (tg_kernel_copy(&dst, &src, false) != 0)
            return -1;
    }
    if (rows)
        tg_tensor_mark_written(out);
    return 0;
}

int tg_kernel_index_add(tg_tensor *out, int dim, const tg_tensor *index, const tg_tensor *src)
{
    if (!out || !index || !src)
        return tg_error_null_input("kernel_index_add");
    int d = tg_normalize_dim(dim, out->ndim, "index_add");
    if (d < 0 || tg_check_float("index_add", 2, (const tg_tensor *const[]){ out, src }) != 0 ||
        check_index_along("index_add", out, d, index, src) != 0)
        return -1;
    for (int64_t i = 0; i < index->shape[0]; i++) {
        tg_tensor dst = select_view(out, d, index_at(index, i)), from = select_view(src, d, i);
        if (tg_kernel_copy(&dst, &from, true) != 0)
            return -1;
    }
    return 0;
}

/* gather and scatter_add walk index's shape with three operands: the
 * tensor read or written by position (`values`, same shape as index), the
 * index, and the indexed tensor with its stride along dim zeroed; the
 * index value times that stride finds the element. */
static int gather_scatter(const char *op, tg_tensor *indexed, int dim, const tg_tensor *index,
                          tg_tensor *values, bool scatter)
{
    char a[TG_SHAPE_STR_MAX], b[TG_SHAPE_STR_MAX];
    int d = tg_normalize_dim(dim, indexed->ndim, op);
    if (d < 0 || tg_check_float(op, 2, (const tg_tensor *const[]){ indexed, values }) != 0)
        return -1;
    if (index->ndim != indexed->ndim || !tg_tensor_same_shape(index, values))
        return tg_error_set("%s: index %s must have the rank of %s and the shape of %s", op,
                            tg_shape_format(a, sizeof a, index), tg_shape_format(b, sizeof b, indexed),
                            scatter ? "src" : "the output");
    for (int k = 0; k < indexed->ndim; k++)
        if (k != d && index->shape[k] > indexed->shape[k])
            return tg_error_set("%s: index %s is larger than %s in dimension %d", op,
                                tg_shape_format(a, sizeof a, index),
                                tg_shape_format(b, sizeof b, indexed), k);
    if (tg_check_writable(scatter ? indexed : values, op) != 0 ||
        tg_check_indices(index, indexed->shape[d], op) != 0)
        return -1;
    int64_t stride[3][TG_MAX_DIMS];
    memcpy(stride[0], values->stride, sizeof(int64_t) * (size_t)index->ndim);
    memcpy(stride[1], index->stride, sizeof(int64_t) * (size_t)index->ndim);
    memcpy(stride[2], indexed->stride, sizeof(int64_t) * (size_t)index->ndim);
    stride[2][d] = 0;
    float *base[3] = { values->data, index->data, indexed->data };
    tg_iter_plan plan;
    tg_iter_plan_strided(&plan, index->ndim, index->shape, 3, stride, base);
    const int64_t along = indexed->stride[d];
    int64_t offset[TG_ITER_MAX_OPERANDS], at[TG_MAX_DIMS];
    tg_iter_offsets(&plan, 0, offset);
    tg_iter_unravel(&plan, 0, at);
    for (int64_t r = 0; r < plan.rows; r++) {
        float *v = plan.base[0] + offset[0];
        float *x = plan.base[2] + offset[2];
        for (int64_t i = 0; i < plan.inner; i++) {
            int64_t ix = tg_index_value(index, offset[1] + i * plan.inner_stride[1]);
            float *element = x + i * plan.inner_stride[2] + ix * along;
            if (scatter)
                *element += v[i * plan.inner_stride[0]];
            else
                v[i * plan.inner_stride[0]] = *element;
        }
        tg_iter_next(&plan, at, offset);
    }
    return 0;
}

int tg_kernel_gather(tg_tensor *out, const tg_tensor *x, int dim, const tg_tensor *index)
{
    if (!out || !x || !index)
        return tg_error_null_input("kernel_gather");
    return gather_scatter("gather", (tg_tensor *)x, dim, index, out, false);
}

int tg_kernel_scatter_add(tg_tensor *out, int dim, const tg_tensor *index, const tg_tensor *src)
{
    if (!out || !index || !src)
        return tg_error_null_input("kernel_scatter_add");
    return gather_scatter("scatter_add", out, dim, index, (tg_tensor *)src, true);
}

int tg_kernel_one_hot(tg_tensor *out, const tg_tensor *index, int64_t classes)
{
    if (!out || !index)
        return tg_error_null_input("kernel_one_hot");
    char a[TG_SHAPE_STR_MAX], b[TG_SHAPE_STR_MAX];
    bool fits = out->ndim == index->ndim + 1 && out->shape[index->ndim] == classes;
    for (int k = 0; fits && k < index->ndim; k++)
        fits = out->shape[k] == index->shape[k];
    if (!fits)
        return tg_error_set("one_hot: output %s does not fit index %s with %lld classes",
                            tg_shape_format(a, sizeof a, out), tg_shape_format(b, sizeof b, index),
                            (long long)classes);
    if (tg_check_dtype(out, TG_FLOAT32, "one_hot") != 0)
        return -1;
    if (tg_check_indices(index, classes, "one_hot") != 0 || tg_kernel_fill(out, 0.0f) != 0)
        return -1;
    /* Walk index and out (its last axis zeroed, like gather) together. */
    int64_t stride[2][TG_MAX_DIMS];
    memcpy(stride[0], index->stride, sizeof(int64_t) * (size_t)index->ndim);
    memcpy(stride[1], out->stride, sizeof(int64_t) * (size_t)index->ndim);
    float *base[2] = { index->data, out->data };
    tg_iter_plan plan;
    tg_iter_plan_strided(&plan, index->ndim, index->shape, 2, stride, base);
    const int64_t along = out->stride[index->ndim];
    int64_t offset[TG_ITER_MAX_OPERANDS], at[TG_MAX_DIMS];
    tg_iter_offsets(&plan, 0, offset);
    tg_iter_unravel(&plan, 0, at);
    for (int64_t r = 0; r < plan.rows; r++) {
        for (int64_t i = 0; i < plan.inner; i++) {
            int64_t c = tg_index_value(index, offset[0] + i * plan.inner_stride[0]);
            plan.base[1][offset[1] + i * plan.inner_stride[1] + c * along] = 1.0f;
        }
        tg_iter_next(&plan, at, offset);
    }
    return 0;
}

int tg_kernel_concat(tg_tensor *out, const tg_tensor *const *inputs, int n, int dim)
{
    if (!out || !inputs)
        return tg_error_null_input("kernel_concat");
    int d = tg_normalize_dim(dim, out->ndim, "concat");
    if (d < 0)
        return -1;
    int64_t start = 0;
    for (int i = 0; i < n; i++) {
        const tg_tensor *x = inputs[i];
        if (!x || tg_check_dtype(x, out->dtype, "concat") != 0)
            return -1;
        char a[TG_SHAPE_STR_MAX], b[TG_SHAPE_STR_MAX];
        bool fits = x->ndim == out->ndim && start + x->shape[d] <= out->shape[d];
        for (int k = 0; fits && k < out->ndim; k++)
            fits = k == d || x->shape[k] == out->shape[k];
        if (!fits)
            return tg_error_set("concat: input %d %s does not fit output %s along dimension %d", i,
                                tg_shape_format(a, sizeof a, x), tg_shape_format(b, sizeof b, out), d);
        tg_tensor part = narrow_view(out, d, start, x->shape[d]);
        if (tg_kernel_copy(&part, x, false) != 0)
            return -1;
        start += x->shape[d];
    }
    if (start != out->shape[d]) {
        char b[TG_SHAPE_STR_MAX];
        return tg_error_set("concat: the inputs fill %lld of the %lld entries of output %s along "
                            "dimension %d", (long long)start, (long long)out->shape[d],
                            tg_shape_format(b, sizeof b, out), d);
    }
    return 0;
}
