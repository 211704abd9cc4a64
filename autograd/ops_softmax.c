/*
 * softmax and log_softmax along one axis.
 *   softmax:      dx = y * (g - sum(g * y))
 *   log_softmax:  dx = g - exp(y) * sum(g)
 * with the sums taken along the axis.
 * log_softmax_pick: log_softmax over the last axis at one class per row,
 *   y = x[c] - lse;   dx = g * (one_hot(c) - exp(x - lse))
 */
#include <math.h>

#include "autograd/autograd.h"
#include "autograd/formula.h"
#include "autograd/kernel.h"
#include "autograd/ops.h"
#include "tensor/reference.h"

TG_FORMULA(softmax_grad, g, total, y, MUL(y, SUB(g, total)))          /* total = sum(g y) */
TG_FORMULA(log_softmax_grad, g, total, y, SUB(g, MUL(EXP(y), total))) /* total = sum(g) */

static int softmax_backward(tg_node *node, tg_tensor *grad)
{
    tg_tensor *y = node->out;
    tg_tensor *total = tg_sum(tg_mul(grad, y), TG_AXES((int)node->iparam[0]), true);
    return tg_grad_formula(node->in[0], &softmax_grad, (tg_tensor *[]){ grad, total, y }, NULL);
}

static int log_softmax_backward(tg_node *node, tg_tensor *grad)
{
    tg_tensor *total = tg_sum(grad, TG_AXES((int)node->iparam[0]), true);
    return tg_grad_formula(node->in[0], &log_softmax_grad, (tg_tensor *[]){ grad, total, node->out }, NULL);
}

static const tg_op softmax_op = { "softmax", softmax_backward, 0x1 };
static const tg_op log_softmax_op = { "log_softmax", log_softmax_backward, 0x1 };

static tg_tensor *softmax(const tg_op *op, tg_tensor *x, int dim, bool log)
{
    if (tg_check_inputs(op->name, 1, &x) != 0)
        return NULL;
    int d = tg_normalize_dim(dim, x->ndim, op->name);
    if (d < 0)
        return NULL;
    tg_tensor *out = tg_empty(tg_tensor_shape(x));
    if (!out || tg_kernel_softmax(out, x, d, log) != 0)
        return NULL;
    tg_node *node;
    if (tg_record(op, out, &x, 1, &node) != 0)
        return NULL;
    if (node)
        node->iparam[0] = d;
    return out;
}

tg_tensor *tg_softmax(tg_tensor *x, int dim) { return softmax(&softmax_op, x, dim, false); }
tg_tensor *tg_log_softmax(tg_tensor *x, int dim) { return softmax(&log_softmax_op, x, dim, true); }

/* ---- log_softmax_pick -------------------------------------------------------------- *
 * cross_entropy's core in one op: no [..., C] log-probabilities in the
 * forward, no zero-filled [..., C] gradient scattered into and read back
 * in the backward. */

typedef struct pick_saved {
    tg_tensor *x;     /* x, contiguous (a copy when x was not) */
    tg_tensor *index; /* contiguous */
    tg_tensor *lse;   /* log(sum(exp(x))) per row */
} pick_saved;

/* The same rule with ops, for a backward that creates a graph (and for
 * the reference mode). */
static int pick_backward_with_ops(tg_tensor *x, tg_tensor *index, tg_tensor *grad)
{
    tg_tensor *one_hot = tg_one_hot(index, x->shape[x->ndim - 1]);
    tg_tensor *dx = tg_mul(tg_sub(one_hot, tg_softmax(x, -1)), tg_unsqueeze(grad, -1));
    return tg_grad_accumulate(x, dx);
}

static int pick_backward(tg_node *node, tg_tensor *grad)
{
    tg_tensor *x = node->in[0];
    const pick_saved *saved = node->saved;
    if (!tg_grad_needed(x))
        return 0;
    if (tg_grad_creating() || tg_reference_mode())
        return pick_backward_with_ops(x, saved->index, grad);
    bool accumulate;
    tg_tensor *target = tg_grad_target(x, &accumulate);
    if (!target)
        return -1;
    if (tg_tensor_is_contiguous(target))
        return tg_kernel_log_softmax_pick_grad(target, saved->x, saved->lse, saved->index, grad, accumulate);
    tg_tensor *dx = tg_empty(tg_tensor_shape(x));
    if (!dx || tg_kernel_log_softmax_pick_grad(dx, saved->x, saved->lse, saved->index, grad, false) != 0)
        return -1;
    return tg_kernel_copy(target, dx, accumulate);
}

static const tg_op log_softmax_pick_op = { "log_softmax_pick", pick_backward, TG_OP_OUTPUT_UNREAD };

/* Checks that index has x's shape without the class axis and holds
 * classes of x. */
static int check_pick(const tg_tensor *x, const tg_tensor *index)
{
    char sx[TG_SHAPE_STR_MAX], si[TG_SHAPE_STR_MAX];
    tg_shape rows = tg_tensor_shape(x);
    rows.ndim--;
    if (x->ndim < 1 || x->shape[x->ndim - 1] < 1 || !tg_shape_equal(rows, tg_tensor_shape(index)))
        return tg_error_set("log_softmax_pick: x %s and index %s: x needs a class axis (last, at "
                            "least one class) and index x's shape without it",
                            tg_shape_format(sx, sizeof sx, x), tg_shape_format(si, sizeof si, index));
    if (tg_check_float("log_softmax_pick", 1, (const tg_tensor *const[]){ x }) != 0)
        return -1;
    return tg_check_indices(index, x->shape[x->ndim - 1], "log_softmax_pick");
}

tg_tensor *tg_log_softmax_pick(tg_tensor *x, tg_tensor *index)
{
    if (tg_check_inputs("log_softmax_pick", 2, (tg_tensor *[]){ x, index }) != 0 || check_pick(x, index) != 0)
        return NULL;
    tg_shape rows = tg_tensor_shape(x);
    rows.ndim--;
    pick_saved s = { .x = tg_view_contiguous(tg_detach(x)), .index = tg_view_contiguous(index),
                     .lse = tg_empty(rows) };
    tg_tensor *out = tg_empty(rows);
    if (!s.x || !s.index || !s.lse || !out || tg_kernel_log_softmax_pick(out, s.lse, s.x, s.index) != 0)
        return NULL;
    tg_node *node;
    if (tg_record(&log_softmax_pick_op, out, (tg_tensor *[]){ x, index }, 2, &node) != 0)
        return NULL;
    pick_saved *saved = node ? tg_node_save(node, sizeof *saved) : NULL;
    if (node && !saved)
        return NULL;
    if (saved)
        *saved = s;
    return out;
}

