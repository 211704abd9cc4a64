/*
 * Reduction ops. Each computes into a "kept" view of its output (every
 * axis kept, size 1 where reduced), which is also how its backward rule
 * sees the output's gradient (kept_grad): broadcast against x, it spreads
 * back over the reduced axes. The rules are written with ops and the
 * formulas of autograd/formula.h.
 */
#include <math.h>
#include <string.h>

#include "autograd/autograd.h"
#include "autograd/formula.h"
#include "autograd/kernel.h"
#include "autograd/ops.h"

/* t's memory (contiguous) seen with shape `kept`. */
static tg_tensor kept_view(const tg_tensor *t, tg_shape kept)
{
    tg_tensor v = *t;
    v.ndim = kept.ndim;
    memcpy(v.shape, kept.dim, sizeof(int64_t) * (size_t)kept.ndim);
    tg_contiguous_strides(&kept, v.stride);
    v.ext = NULL;
    v.flags = 0;
    return v;
}

/* The kept shape of a node: its input's shape with the axes in the
 * node's bit mask (iparam[0]) set to 1. */
static tg_shape node_kept_shape(const tg_node *node)
{
    tg_shape kept = tg_tensor_shape(node->in[0]);
    for (int d = 0; d < kept.ndim; d++)
        if (node->iparam[0] & (1 << d))
            kept.dim[d] = 1;
    return kept;
}

/* The reduced axes of a node, from its bit mask. */
static tg_axes node_axes(const tg_node *node)
{
    tg_axes axes = { .n = 0 };
    for (int d = 0; d < node->in[0]->ndim; d++)
        if (node->iparam[0] & (1 << d))
            axes.axis[axes.n++] = d;
    return axes;
}

/* t summed over the node's reduced axes, kept (t itself when none is). */
static tg_tensor *sum_kept(const tg_node *node, tg_tensor *t)
{
    tg_axes axes = node_axes(node);
    return axes.n ? tg_sum(t, axes, true) : t;
}

static int64_t axes_mask(const tg_tensor *x, tg_shape kept)
{
    int64_t mask = 0;
    for (int d = 0; d < kept.ndim; d++)
        if (kept.dim[d] == 1 && x->shape[d] != 1)
            mask |= 1 << d;
    return mask;
}

typedef int (*reduce_kernel)(tg_tensor *out, const tg_tensor *x, float param);

/* Shared forward: shapes, output, kernel, record. */
static tg_tensor *reduce_op(const tg_op *op, tg_tensor *x, tg_axes axes, bool keepdim,
                            reduce_kernel kernel, float param)
{
    if (tg_check_inputs(op->name, 1, &x) != 0)
        return NULL;
    tg_shape kept, result;
    if (tg_reduce_shapes(x, axes, keepdim, &kept, &result, op->name) != 0)
        return NULL;
    tg_tensor *out = tg_empty(result);
    if (!out)
        return NULL;
    tg_tensor out_kept = kept_view(out, kept);
    if (kernel(&out_kept, x, param) != 0)
        return NULL;
    tg_node *node;
    if (tg_record(op, out, &x, 1, &node) != 0)
        return NULL;
    if (node) {
        node->iparam[0] = axes_mask(x, kept);
        node->fparam[0] = param;
    }
    return out;
}

/* ---- sum and mean ------------------------------------------------------------------ */

static int sum_kernel(tg_tensor *out, const tg_tensor *x, float unused)
{
    (void)unused;
    return tg_kernel_sum_to(out, x, 1.0f, false);
}

static int mean_kernel(tg_tensor *out, const tg_tensor *x, float unused)
{
    (void)unused;
    if (x->numel == 0) /* the mean of nothing is NaN, as in PyTorch */
        return tg_kernel_fill(out, NAN);
    return tg_kernel_sum_to(out, x, (float)out->numel / (float)x->numel, false);
}

/* The output's gradient (and output) with the reduced axes kept, as ops. */
static tg_tensor *kept(const tg_node *node, tg_tensor *t) { return tg_reshape(t, node_kept_shape(node)); }

/* g spread over x, times p[0] (x only gives the shape). */
TG_FORMULA(spread_grad, g, x, unused, SCALE(g, P0))

static int spread_backward(tg_node *node, tg_tensor *grad, float scale)
{
    tg_tensor *x = node->in[0];
    return tg_grad_formula(x, &spread_grad, (tg_tensor *[]){ kept(node, grad), x, x }, &scale);
}

static int sum_backward(tg_node *node, tg_tensor *grad) { return spread_backward(node, grad, 1.0f); }

static int mean_backward(tg_node *node, tg_tensor *grad)
{
    const tg_tensor *x = node->in[0];
    return spread_backward(node, grad, (float)node->out->numel / (float)x->numel);
}

static const tg_op sum_op = { "sum", sum_backward, TG_OP_UNREAD_ALL };
static const tg_op mean_op = { "mean", mean_backward, TG_OP_UNREAD_ALL };

tg_tensor *tg_sum(tg_tensor *x, tg_axes axes, bool keepdim) { return reduce_op(&sum_op, x, axes, keepdim, sum_kernel, 0); }
tg_tensor *tg_mean(tg_tensor *x, tg_axes axes, bool keepdim) { return reduce_op(&mean_op, x, axes, keepdim, mean_kernel, 0); }
tg_tensor *tg_sum_all(tg_tensor *x) { return tg_sum(x, TG_ALL_AXES, false); }
tg_tensor *tg_mean_all(tg_tensor *x) { return tg_mean(x, TG_ALL_AXES, false); }

/* ---- amax and amin: ties share the gradient ---------------------------------------- */

static int max_kernel(tg_tensor *out, const tg_tensor *x, float unused)
{
    (void)unused;
    return tg_kernel_max_to(out, x);
}

static int min_kernel(tg_tensor *out, const tg_tensor *x, float unused)
{
    (void)unused;
    return tg_kernel_min_to(out, x);
}

/* Ties share the gradient: g * weight / total, where weight marks the
 * chosen elements (x's shape) and total sums |weight| over each group. */
TG_FORMULA(share_grad, g, weight, total, WHERE(weight, DIV(MUL(g, weight), total), ZERO(g)))

static int share_backward(tg_node *node, tg_tensor *grad, tg_tensor *weight, tg_tensor *abs_weight)
{
    tg_tensor *total = sum_kept(node, abs_weight);
    return tg_grad_formula(node->in[0], &share_grad, (tg_tensor *[]){ kept(node, grad), weight, total }, NULL);
}

static int extreme_backward(tg_node *node, tg_tensor *grad)
{
    tg_tensor *mask = tg_eq(node->in[0], kept(node, node->out));
    return share_backward(node, grad, mask, mask);
}

static const tg_op amax_op = { "amax", extreme_backward, 0 };
static const tg_op amin_op = { "amin", extreme_backward, 0 };

tg_tensor *tg_amax(tg_tensor *x, tg_axes axes, bool keepdim) { return reduce_op(&amax_op, x, axes, keepdim, max_kernel, 0); }
tg_tensor *tg_amin(tg_tensor *x, tg_axes axes, bool keepdim) { return reduce_op(&amin_op, x, axes, keepdim, min_kernel, 0); }

/* ---- var, logsumexp, norm ------------------------------------------------------------ */

static int var_kernel(tg_tensor *out, const tg_tensor *x, float correction)
{
    return tg_kernel_var_to(out, x, correction);
}

TG_FORMULA(var_grad, g, x, mean, MUL(g, SCALE(SUB(x, mean), P0)))

static int var_backward(tg_node *node, tg_tensor *grad)
{
    tg_tensor *x = node->in[0];
    tg_tensor *total = sum_kept(node, x);
    int64_t count = x->numel / (total ? total->numel : 1);
    tg_tensor *mean = tg_mul_scalar(total, 1.0f / (float)count);
    float scale = 2.0f / ((float)count - node->fparam[0]);
    return tg_grad_formula(x, &var_grad, (tg_tensor *[]){ kept(node, grad), x, mean }, &scale);
}

static int logsumexp_kernel(tg_tensor *out, const tg_tensor *x, float unused)
{
    (void)unused;
    return tg_kernel_logsumexp_to(out, x);
}

TG_FORMULA(logsumexp_grad, g, x, y, MUL(g, EXP(SUB(x, y))))

static int logsumexp_backward(tg_node *node, tg_tensor *grad)
{
    tg_tensor *x = node->in[0];
    return tg_grad_formula(x, &logsumexp_grad, (tg_tensor *[]){ kept(node, grad), x, kept(node, node->out) },
                           NULL);
}

static int norm_kernel(tg_tensor *out, const tg_tensor *x, float p) { return tg_kernel_norm_to(out, x, p); }

/* The gradient at a zero norm is 0, as in PyTorch. */
TG_FORMULA(norm2_grad, g, x, y, WHERE(y, DIV(MUL(g, x), y), ZERO(g)))
TG_FORMULA(norm1_grad, g, x, y, WHERE(y, MUL(g, SIGN(x)), ZERO(g)))
/* g x |x|^(p-2) / y^(p-1) */
TG_FORMULA(normp_grad, g, x, y,
           WHERE(y, DIV(MUL(MUL(g, x), POWS(MUL(x, SIGN(x)), P0 - 2.0f)), POWS(y, P0 - 1.0f)), ZERO(g)))

static int norm_backward(tg_node *node, tg_tensor *grad)
{
    tg_tensor *x = node->in[0], *y = kept(node, node->out);
    float p = node->fparam[0];
    if (isinf(p)) {
        /* The max |x| elements share the gradient, with x's sign. */
        tg_tensor *sign = tg_sign(x);
        tg_tensor *mask = tg_eq(tg_abs(x), y);
        return share_backward(node, grad, tg_mul(mask, sign), mask);
    }
    const tg_formula *formula = p == 2.0f ? &norm2_grad : p == 1.0f ? &norm1_grad : &normp_grad;
    return tg_grad_formula(x, formula, (tg_tensor *[]){ kept(node, grad), x, y }, &p);
}

static const tg_op var_op = { "var", var_backward, TG_OP_OUTPUT_UNREAD };
static const tg_op logsumexp_op = { "logsumexp", logsumexp_backward, 0 };
static const tg_op norm_op = { "norm", norm_backward, 0 };

tg_tensor *tg_var(tg_tensor *x, tg_axes axes, float correction, bool keepdim)
{
    return reduce_op(&var_op, x, axes, keepdim, var_kernel, correction);
}

tg_tensor *tg_logsumexp(tg_tensor *x, tg_axes axes, bool keepdim)
{
    return reduce_op(&logsumexp_op, x, axes, keepdim, logsumexp_kernel, 0);
}

tg_tensor *tg_norm(tg_tensor *x, float p, tg_axes axes, bool keepdim)
{
    return reduce_op(&norm_op, x, axes, keepdim, norm_kernel, p);
}

/* ---- max and min along one axis, with indices ------------------------------------------ */

static int indexed_extreme_backward(tg_node *node, tg_tensor *grad)
{
    return tg_grad_scatter_add(node->in[0], (int)node->iparam[1], kept(node, node->saved), kept(node, grad));
}

static const tg_op max_op = { "max", indexed_extreme_backward, TG_OP_UNREAD_ALL };
static const tg_op min_op = { "min", indexed_extreme_backward, TG_OP_UNREAD_ALL };

static tg_tensor *indexed_extreme(const tg_op *op, tg_tensor *x, int dim, bool keepdim,
                                  tg_tensor **indices, bool is_max)
{
    if (indices)
        *indices = NULL;
    if (tg_check_inputs(op->name, 1, &x) != 0)
        return NULL;
    int d = tg_normalize_dim(dim, x->ndim, op->name);
    if (d < 0)
        return NULL;
    tg_shape kept, result;
    if (tg_reduce_shapes(x, TG_AXES(d), keepdim, &kept, &result, op->name) != 0)
        return NULL;
    tg_tensor *values = tg_empty(result), *index = tg_empty_dtype(result, TG_INT64);
    if (!values || !index)
        return NULL;
    tg_tensor values_kept = kept_view(values, kept), index_kept = kept_view(index, kept);
    if (tg_kernel_arg_reduce(&values_kept, &index_kept, x, d, is_max) != 0)
        return NULL;
    tg_node *node;
    if (tg_record(op, values, &x, 1, &node) != 0)
        return NULL;
    if (node) {
        node->iparam[0] = 1 << d;
        node->iparam[1] = d;
        node->saved = index;
    }
    if (indices)
        *indices = index;
    return values;
}

tg_tensor *tg_max(tg_tensor *x, int dim, bool keepdim, tg_tensor **indices)
{
    return indexed_extreme(&max_op, x, dim, keepdim, indices, true);
}

tg_tensor *tg_min(tg_tensor *x, int dim, bool keepdim, tg_tensor **indices)
{
    return indexed_extreme(&min_op, x, dim, keepdim, indices, false);
}

/* Indices only: computed without recording. */
static tg_tensor *arg_extreme(tg_tensor *x, int dim, bool keepdim, bool is_max)
{
    bool previous = tg_set_grad_enabled(false);
    tg_tensor *index = NULL;
    indexed_extreme(is_max ? &max_op : &min_op, x, dim, keepdim, &index, is_max);
    tg_set_grad_enabled(previous);
    return index;
}

tg_tensor *tg_argmax(tg_tensor *x, int dim, bool keepdim) { return arg_extreme(x, dim, keepdim, true); }
tg_tensor *tg_argmin(tg_tensor *x, int dim, bool keepdim) { return arg_extreme(x, dim, keepdim, false); }
