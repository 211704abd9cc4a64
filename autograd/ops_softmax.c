/*
 * softmax and log_softmax along one axis.
 *   softmax:      dx = y * (g - sum(g * y))
 *   log_softmax:  dx = g - exp(y) * sum(g)
 * with the sums taken along the axis.
 */
#include <math.h>

#include "autograd/autograd.h"
#include "autograd/ops.h"
#include "tensor/fastmath.h"
#include "tensor/reduce.h"

TG_MAP_ROW_2(row_product, a * b)
TG_MAP_ROW_3(back_softmax, c * (a - b))                  /* grad, sum(g*y), y */
TG_MAP_ROW_3(back_log_softmax, a - tg_fast_expf(c) * b)  /* grad, sum(g), y */

/* The shape of x with axis dim of size 1. */
static tg_shape collapsed(const tg_tensor *x, int dim)
{
    tg_shape s = tg_tensor_shape(x);
    s.dim[dim] = 1;
    return s;
}

static int softmax_backward(tg_node *node, const tg_tensor *grad)
{
    tg_tensor *x = node->in[0], *y = node->out;
    int dim = (int)node->iparam[0];
    tg_tensor *gy = tg_empty(tg_tensor_shape(y));
    tg_tensor *total = tg_empty(collapsed(y, dim));
    if (!gy || !total ||
        tg_map("softmax backward", gy, 2, (const tg_tensor *[]){ grad, y }, row_product, NULL, false) != 0 ||
        tg_kernel_sum_to(total, gy, 1.0f, false) != 0)
        return -1;
    return tg_grad_map(x, x, 3, (const tg_tensor *[]){ grad, total, y }, back_softmax, NULL);
}

static int log_softmax_backward(tg_node *node, const tg_tensor *grad)
{
    tg_tensor *x = node->in[0], *y = node->out;
    int dim = (int)node->iparam[0];
    tg_tensor *total = tg_empty(collapsed(y, dim));
    if (!total || tg_kernel_sum_to(total, grad, 1.0f, false) != 0)
        return -1;
    return tg_grad_map(x, x, 3, (const tg_tensor *[]){ grad, total, y }, back_log_softmax, NULL);
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
