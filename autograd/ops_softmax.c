/*
 * softmax and log_softmax along one axis.
 *   softmax:      dx = y * (g - sum(g * y))
 *   log_softmax:  dx = g - exp(y) * sum(g)
 * with the sums taken along the axis.
 */
#include <math.h>

#include "autograd/autograd.h"
#include "autograd/formula.h"
#include "autograd/kernel.h"
#include "autograd/ops.h"

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
