/*
 * Indexing ops. The gradient of a read by index is an add by the same
 * index: index_select <-> index_add, gather <-> scatter_add.
 */
#include "autograd/autograd.h"
#include "autograd/ops.h"
#include "tensor/kernel.h"

/* index_select: iparam[0] is dim; the index is input 1 (no gradient). */
static int index_select_backward(tg_node *node, tg_tensor *grad)
{
    return tg_grad_index_add(node->in[0], (int)node->iparam[0], node->in[1], grad);
}

static const tg_op index_select_op = { "index_select", index_select_backward, 0x1 | TG_OP_OUTPUT_UNREAD };

tg_tensor *tg_index_select(tg_tensor *x, int dim, tg_tensor *index)
{
    if (tg_check_inputs("index_select", 2, (tg_tensor *[]){ x, index }) != 0)
        return NULL;
    int d = tg_normalize_dim(dim, x->ndim, "index_select");
    if (d < 0)
        return NULL;
    if (index->ndim != 1) {
        char shape[TG_SHAPE_STR_MAX];
        tg_error_set("index_select: the index must be 1-d, got %s",
                     tg_shape_format(shape, sizeof shape, index));
        return NULL;
    }
    tg_shape shape = tg_tensor_shape(x);
    shape.dim[d] = index->shape[0];
    tg_tensor *out = tg_empty(shape);
    if (!out || tg_kernel_index_select(out, x, d, index) != 0)
        return NULL;
    tg_node *node;
    tg_tensor *in[2] = { x, index };
    if (tg_record(&index_select_op, out, in, 2, &node) != 0)
        return NULL;
    if (node)
        node->iparam[0] = d;
    return out;
}

/* gather: inputs x and index; iparam[0] is dim. */
static int gather_backward(tg_node *node, tg_tensor *grad)
{
    return tg_grad_scatter_add(node->in[0], (int)node->iparam[0], node->in[1], grad);
}

static const tg_op gather_op = { "gather", gather_backward, 0x1 | TG_OP_OUTPUT_UNREAD };

tg_tensor *tg_gather(tg_tensor *x, int dim, tg_tensor *index)
{
    if (tg_check_inputs("gather", 2, (tg_tensor *[]){ x, index }) != 0)
        return NULL;
    tg_tensor *out = tg_empty(tg_tensor_shape(index));
    if (!out || tg_kernel_gather(out, x, dim, index) != 0)
        return NULL;
    tg_node *node;
    tg_tensor *in[2] = { x, index };
    if (tg_record(&gather_op, out, in, 2, &node) != 0)
        return NULL;
    if (node)
        node->iparam[0] = tg_normalize_dim(dim, x->ndim, "gather");
    return out;
}

/* scatter_add: inputs x, index, src; out = x + src scattered. */
static int scatter_add_backward(tg_node *node, tg_tensor *grad)
{
    if (tg_grad_accumulate(node->in[0], grad) != 0)
        return -1;
    tg_tensor *src = node->in[2];
    if (!tg_grad_needed(src))
        return 0;
    return tg_grad_accumulate(src, tg_gather(grad, (int)node->iparam[0], node->in[1]));
}

static const tg_op scatter_add_op = { "scatter_add", scatter_add_backward, 0x5 | TG_OP_OUTPUT_UNREAD };

tg_tensor *tg_scatter_add(tg_tensor *x, int dim, tg_tensor *index, tg_tensor *src)
{
    if (tg_check_inputs("scatter_add", 3, (tg_tensor *[]){ x, index, src }) != 0)
        return NULL;
    tg_tensor *out = tg_copy_to_graph(x);
    if (!out || tg_kernel_scatter_add(out, dim, index, src) != 0)
        return NULL;
    tg_node *node;
    tg_tensor *in[3] = { x, index, src };
    if (tg_record(&scatter_add_op, out, in, 3, &node) != 0)
        return NULL;
    if (node)
        node->iparam[0] = tg_normalize_dim(dim, x->ndim, "scatter_add");
    return out;
}

/* index_add: inputs x, index, src; out = x + src added at index along dim. */
static int index_add_backward(tg_node *node, tg_tensor *grad)
{
    if (tg_grad_accumulate(node->in[0], grad) != 0)
        return -1;
    tg_tensor *src = node->in[2];
    if (!tg_grad_needed(src))
        return 0;
    return tg_grad_accumulate(src, tg_index_select(grad, (int)node->iparam[0], node->in[1]));
}

static const tg_op index_add_op = { "index_add", index_add_backward, 0x5 | TG_OP_OUTPUT_UNREAD };

tg_tensor *tg_index_add(tg_tensor *x, int dim, tg_tensor *index, tg_tensor *src)
{
    if (tg_check_inputs("index_add", 3, (tg_tensor *[]){ x, index, src }) != 0)
        return NULL;
    int d = tg_normalize_dim(dim, x->ndim, "index_add");
    if (d < 0)
        return NULL;
    tg_tensor *out = tg_copy_to_graph(x);
    if (!out || tg_kernel_index_add(out, d, index, src) != 0)
        return NULL;
    tg_node *node;
    tg_tensor *in[3] = { x, index, src };
    if (tg_record(&index_add_op, out, in, 3, &node) != 0)
        return NULL;
    if (node)
        node->iparam[0] = d;
    return out;
}

tg_tensor *tg_one_hot(tg_tensor *index, int64_t classes)
{
    if (tg_check_inputs("one_hot", 1, &index) != 0)
        return NULL;
    if (index->ndim >= TG_MAX_DIMS || classes < 1) {
        tg_error_set("one_hot: %lld classes for an index of %d dimensions: need at least one class "
                     "and fewer than %d dimensions", (long long)classes, index->ndim, TG_MAX_DIMS);
        return NULL;
    }
    tg_shape shape = tg_tensor_shape(index);
    shape.dim[shape.ndim++] = classes;
    tg_tensor *out = tg_empty(shape);
    if (!out || tg_kernel_one_hot(out, index, classes) != 0)
        return NULL;
    return out;
}
