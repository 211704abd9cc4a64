/*
 * Shape ops: views of their input where strides allow (no copy). In first
 * order the gradient of a view lives inside its input's gradient buffer
 * (tg_node.grad_view) and backward skips the op; otherwise, and in a
 * backward that creates a graph, the rules below route the gradient back
 * with the inverse view.
 */
#include <string.h>

#include "autograd/autograd.h"
#include "autograd/kernel.h"
#include "autograd/ops.h"
#include "tensor/view_tracked.h"

/* Records op on out (a view or copy of x); *node is NULL when nothing was
 * recorded, including when out is NULL. */
static tg_tensor *record1(const tg_op *op, tg_tensor *out, tg_tensor *x, tg_node **node)
{
    if (node)
        *node = NULL;
    if (!out)
        return NULL;
    return tg_record(op, out, &x, 1, node) == 0 ? out : NULL;
}

/* ---- Same elements, new shape: reshape, flatten, squeeze, unsqueeze, clone --------- */

static int reshape_backward(tg_node *node, tg_tensor *grad)
{
    tg_tensor *x = node->in[0];
    return tg_grad_accumulate(x, tg_reshape(grad, tg_tensor_shape(x)));
}

/* The output's gradient in place: the input's gradient seen in the output's
 * shape, when that gradient is contiguous (autograd.h, tg_op.grad_view). */
static tg_tensor *reshaped_grad(const tg_node *node, tg_tensor *input_grad)
{
    if (!tg_tensor_is_contiguous(input_grad))
        return NULL;
    return tg_view_reshape(input_grad, tg_tensor_shape(node->out));
}

/* Records an op whose output holds x's elements in x's row-major order. */
static tg_tensor *record_reshaped(const tg_op *op, tg_tensor *out, tg_tensor *x)
{
    tg_node *node;
    out = record1(op, out, x, &node);
    if (node)
        node->grad_view = reshaped_grad;
    return out;
}

static const tg_op reshape_op = { "reshape", reshape_backward, TG_OP_UNREAD_ALL };
static const tg_op squeeze_op = { "squeeze", reshape_backward, TG_OP_UNREAD_ALL };
static const tg_op unsqueeze_op = { "unsqueeze", reshape_backward, TG_OP_UNREAD_ALL };
static const tg_op contiguous_op = { "contiguous", reshape_backward, TG_OP_UNREAD_ALL };
static const tg_op clone_op = { "clone", reshape_backward, TG_OP_UNREAD_ALL };

tg_tensor *tg_reshape(tg_tensor *x, tg_shape shape)
{
    if (tg_check_inputs("reshape", 1, &x) != 0)
        return NULL;
    /* Try a view first without leaving an error behind. */
    bool viewable = tg_tensor_is_contiguous(x);
    tg_tensor *out = viewable ? tg_view_reshape_tracked(x, shape) : NULL;
    if (!viewable) {
        tg_tensor *copy = tg_copy_to_graph(x);
        out = copy ? tg_view_reshape_tracked(copy, shape) : NULL;
    }
    return record_reshaped(&reshape_op, out, x);
}

tg_tensor *tg_flatten(tg_tensor *x, int start_dim, int end_dim)
{
    if (tg_check_inputs("flatten", 1, &x) != 0)
        return NULL;
    if (x->ndim == 0)
        return tg_reshape(x, TG_SHAPE(1));
    int s = tg_normalize_dim(start_dim, x->ndim, "flatten");
    int e = s < 0 ? -1 : tg_normalize_dim(end_dim, x->ndim, "flatten");
    if (e < 0)
        return NULL;
    if (s > e) {
        tg_error_set("flatten: start dimension %d is after end dimension %d", start_dim, end_dim);
        return NULL;
    }
    tg_shape shape = { .ndim = 0 };
    for (int d = 0; d < x->ndim; d++) {
        if (d > s && d <= e)
            shape.dim[shape.ndim - 1] *= x->shape[d];
        else
            shape.dim[shape.ndim++] = x->shape[d];
    }
    return tg_reshape(x, shape);
}

tg_tensor *tg_squeeze(tg_tensor *x, int dim)
{
    return record_reshaped(&squeeze_op, tg_view_squeeze_tracked(x, dim), x);
}

tg_tensor *tg_unsqueeze(tg_tensor *x, int dim)
{
    return record_reshaped(&unsqueeze_op, tg_view_unsqueeze_tracked(x, dim), x);
}

tg_tensor *tg_contiguous(tg_tensor *x)
{
    if (tg_check_inputs("contiguous", 1, &x) != 0)
        return NULL;
    if (tg_tensor_is_contiguous(x))
        return x;
    return record_reshaped(&contiguous_op, tg_copy_to_graph(x), x);
}

tg_tensor *tg_clone(tg_tensor *x) { return record_reshaped(&clone_op, tg_copy_to_graph(x), x); }

/* ---- permute and transpose ---------------------------------------------------------------- *
 * The order is packed in iparam[0], 4 bits per axis. */

static int permute_backward(tg_node *node, tg_tensor *grad)
{
    int inverse[TG_MAX_DIMS]; /* grad seen in x's axis order */
    for (int d = 0; d < grad->ndim; d++)
        inverse[(node->iparam[0] >> (4 * d)) & 15] = d;
    return tg_grad_accumulate(node->in[0], tg_permute(grad, inverse));
}

static tg_tensor *permuted_grad(const tg_node *node, tg_tensor *input_grad)
{
    int order[TG_MAX_DIMS];
    for (int d = 0; d < node->out->ndim; d++)
        order[d] = (int)((node->iparam[0] >> (4 * d)) & 15);
    return tg_view_permute(input_grad, order);
}

static const tg_op permute_op = { "permute", permute_backward, TG_OP_UNREAD_ALL };

tg_tensor *tg_permute(tg_tensor *x, const int *order)
{
    tg_node *node;
    tg_tensor *out = record1(&permute_op, tg_view_permute_tracked(x, order), x, &node);
    if (node) {
        for (int d = 0; d < x->ndim; d++)
            node->iparam[0] |= (int64_t)tg_normalize_dim(order[d], x->ndim, "permute") << (4 * d);
        node->grad_view = permuted_grad;
    }
    return out;
}

tg_tensor *tg_transpose(tg_tensor *x, int dim0, int dim1)
{
    if (tg_check_inputs("transpose", 1, &x) != 0)
        return NULL;
    int a = tg_normalize_dim(dim0, x->ndim, "transpose");
    int b = a < 0 ? -1 : tg_normalize_dim(dim1, x->ndim, "transpose");
    if (b < 0)
        return NULL;
    int order[TG_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++)
        order[d] = d;
    order[a] = b;
    order[b] = a;
    return tg_permute(x, order);
}

/* ---- slice, narrow, select: part of x ------------------------------------------------------ *
 * iparam: dim, start, step (select: dim, index, 0). */

static int slice_backward(tg_node *node, tg_tensor *grad)
{
    return tg_grad_slice(node->in[0], (int)node->iparam[0], node->iparam[1], node->iparam[2], grad);
}

static tg_tensor *sliced_grad(const tg_node *node, tg_tensor *input_grad)
{
    int dim = (int)node->iparam[0];
    int64_t start = node->iparam[1], step = node->iparam[2];
    if (step == 0)
        return tg_view_select(input_grad, dim, start);
    int64_t length = node->out->shape[dim];
    return tg_view_slice(input_grad, dim, start, length ? start + (length - 1) * step + 1 : start, step);
}

static const tg_op slice_op = { "slice", slice_backward, TG_OP_UNREAD_ALL };
static const tg_op select_op = { "select", slice_backward, TG_OP_UNREAD_ALL };

static tg_tensor *record_part(const tg_op *op, tg_tensor *out, tg_tensor *x, int dim, int64_t start,
                              int64_t step)
{
    tg_node *node;
    out = record1(op, out, x, &node);
    if (node) {
        node->iparam[0] = tg_normalize_dim(dim, x->ndim, op->name);
        node->iparam[1] = start;
        node->iparam[2] = step;
        node->grad_view = sliced_grad;
    }
    return out;
}

tg_tensor *tg_slice(tg_tensor *x, int dim, int64_t start, int64_t stop, int64_t step)
{
    tg_tensor *out = tg_view_slice_tracked(x, dim, start, stop, step);
    if (!out)
        return NULL;
    /* The first index taken, by the view's rules (from the end, clamped). */
    int d = tg_normalize_dim(dim, x->ndim, "slice");
    int64_t size = x->shape[d];
    int64_t first = start < 0 ? start + size : start;
    first = first < 0 ? 0 : (first > size ? size : first);
    return record_part(&slice_op, out, x, d, first, step);
}

tg_tensor *tg_narrow(tg_tensor *x, int dim, int64_t start, int64_t length)
{
    return record_part(&slice_op, tg_view_narrow_tracked(x, dim, start, length), x, dim, start, 1);
}

tg_tensor *tg_select(tg_tensor *x, int dim, int64_t index)
{
    if (tg_check_inputs("select", 1, &x) != 0)
        return NULL;
    /* A negative index counts from the end, as in Python. */
    int d = tg_normalize_dim(dim, x->ndim, "select");
    if (d < 0)
        return NULL;
    if (index < 0 && index >= -x->shape[d])
        index += x->shape[d];
    return record_part(&select_op, tg_view_select_tracked(x, d, index), x, d, index, 0);
}

/* ---- expand ------------------------------------------------------------------------------------ */

static int expand_backward(tg_node *node, tg_tensor *grad) { return tg_grad_accumulate(node->in[0], grad); }

static const tg_op expand_op = { "expand", expand_backward, TG_OP_UNREAD_ALL };

tg_tensor *tg_expand(tg_tensor *x, tg_shape shape)
{
    return record1(&expand_op, tg_view_expand_tracked(x, shape), x, NULL);
}

/* ---- concat and stack ---------------------------------------------------------------------------- */

static int concat_backward(tg_node *node, tg_tensor *grad)
{
    int dim = (int)node->iparam[0];
    int64_t start = 0;
    for (int i = 0; i < node->n_in; i++) {
        tg_tensor *x = node->in[i];
        if (tg_grad_accumulate_part(node, x, tg_narrow(grad, dim, start, x->shape[dim])) != 0)
            return -1;
        start += x->shape[dim];
    }
    return 0;
}

static int stack_backward(tg_node *node, tg_tensor *grad)
{
    int dim = (int)node->iparam[0];
    for (int i = 0; i < node->n_in; i++)
        if (tg_grad_accumulate_part(node, node->in[i], tg_select(grad, dim, i)) != 0)
            return -1;
    return 0;
}

static const tg_op concat_op = { "concat", concat_backward, TG_OP_UNREAD_ALL };
static const tg_op stack_op = { "stack", stack_backward, TG_OP_UNREAD_ALL };

static int check_list(tg_tensor *const *xs, int n, const char *op)
{
    if (!xs)
        return tg_error_set("%s: the list of tensors is NULL", op);
    if (n < 1)
        return tg_error_set("%s: needs at least one tensor, got %d", op, n);
    return tg_check_inputs(op, n, xs);
}

static tg_tensor *join(const tg_op *op, tg_tensor *const *xs, int n, int dim, tg_shape shape, int kernel_dim,
                       const tg_tensor *const *parts)
{
    tg_tensor *out = tg_empty_dtype(shape, xs[0]->dtype);
    if (!out || tg_kernel_concat(out, parts, n, kernel_dim) != 0)
        return NULL;
    tg_node *node;
    if (tg_record(op, out, xs, n, &node) != 0)
        return NULL;
    if (node)
        node->iparam[0] = dim;
    return out;
}

tg_tensor *tg_concat(tg_tensor *const *xs, int n, int dim)
{
    if (check_list(xs, n, "concat") != 0)
        return NULL;
    int d = tg_normalize_dim(dim, xs[0]->ndim, "concat");
    if (d < 0)
        return NULL;
    tg_shape shape = tg_tensor_shape(xs[0]);
    shape.dim[d] = 0;
    for (int i = 0; i < n; i++) {
        bool fits = xs[i]->ndim == shape.ndim;
        for (int k = 0; fits && k < shape.ndim; k++)
            fits = k == d || xs[i]->shape[k] == shape.dim[k];
        if (!fits) {
            char a[TG_SHAPE_STR_MAX], b[TG_SHAPE_STR_MAX];
            tg_error_set("concat: tensor %d %s does not match tensor 0 %s outside dimension %d", i,
                         tg_shape_format(a, sizeof a, xs[i]), tg_shape_format(b, sizeof b, xs[0]), d);
            return NULL;
        }
        shape.dim[d] += xs[i]->shape[d];
    }
    return join(&concat_op, xs, n, d, shape, d, (const tg_tensor *const *)xs);
}

tg_tensor *tg_stack(tg_tensor *const *xs, int n, int dim)
{
    if (check_list(xs, n, "stack") != 0)
        return NULL;
    if (xs[0]->ndim >= TG_MAX_DIMS) {
        tg_error_set("stack: tensors already have %d dimensions", TG_MAX_DIMS);
        return NULL;
    }
    int d = tg_normalize_dim(dim, xs[0]->ndim + 1, "stack");
    if (d < 0)
        return NULL;
    /* Each input, unsqueezed at d, is one slice of a concatenation. */
    const tg_tensor **parts = tg_arena_alloc(tg_arena_thread(), sizeof *parts * (size_t)n);
    if (!parts)
        return NULL;
    for (int i = 0; i < n; i++) {
        if (!tg_tensor_same_shape(xs[i], xs[0])) {
            char a[TG_SHAPE_STR_MAX], b[TG_SHAPE_STR_MAX];
            tg_error_set("stack: tensor %d %s differs from tensor 0 %s", i,
                         tg_shape_format(a, sizeof a, xs[i]), tg_shape_format(b, sizeof b, xs[0]));
            return NULL;
        }
        parts[i] = tg_view_unsqueeze_tracked(xs[i], d);
        if (!parts[i])
            return NULL;
    }
    tg_shape shape = tg_tensor_shape(parts[0]);
    shape.dim[d] = n;
    return join(&stack_op, xs, n, d, shape, d, parts);
}

/* ---- split and chunk: narrow views ----------------------------------------------------------------- */

int tg_split(tg_tensor *x, int dim, const int64_t *sizes, int n, tg_tensor **out)
{
    if (tg_check_inputs("split", 1, &x) != 0)
        return -1;
    if (!sizes || !out || n < 1)
        return tg_error_set("split: needs sizes and room for at least one output");
    int d = tg_normalize_dim(dim, x->ndim, "split");
    if (d < 0)
        return -1;
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        if (sizes[i] < 0)
            return tg_error_set("split: size %d is negative (%lld)", i, (long long)sizes[i]);
        total += sizes[i];
    }
    if (total != x->shape[d]) {
        char shape[TG_SHAPE_STR_MAX];
        return tg_error_set("split: sizes sum to %lld but dimension %d of %s has %lld", (long long)total,
                            d, tg_shape_format(shape, sizeof shape, x), (long long)x->shape[d]);
    }
    int64_t start = 0;
    for (int i = 0; i < n; i++) {
        if (!(out[i] = tg_narrow(x, d, start, sizes[i])))
            return -1;
        start += sizes[i];
    }
    return 0;
}

int tg_chunk(tg_tensor *x, int chunks, int dim, tg_tensor **out)
{
    if (tg_check_inputs("chunk", 1, &x) != 0)
        return -1;
    if (chunks < 1 || !out)
        return tg_error_set("chunk: needs at least one chunk (got %d) and room for them", chunks);
    int d = tg_normalize_dim(dim, x->ndim, "chunk");
    if (d < 0)
        return -1;
    int64_t size = x->shape[d], each = (size + chunks - 1) / chunks;
    if (size == 0) {
        out[0] = tg_narrow(x, d, 0, 0);
        return out[0] ? 1 : -1;
    }
    int made = 0;
    for (int64_t start = 0; start < size; start += each) {
        int64_t length = size - start < each ? size - start : each;
        if (!(out[made++] = tg_narrow(x, d, start, length)))
            return -1;
    }
    return made;
}
