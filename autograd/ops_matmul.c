/*
 * Matrix-product ops. Backward rules are GEMMs that accumulate straight
 * into the gradient buffers (beta = 1 after the first contribution): no
 * temporaries, except when an operand was broadcast over batch axes.
 */
#include <string.h>

#include "autograd/autograd.h"
#include "autograd/kernel.h"
#include "autograd/postponed.h"
#include "autograd/ops.h"
#include "tensor/reference.h"

/* t with its last two axes swapped, as a stack view. */
static tg_tensor transposed(const tg_tensor *t)
{
    tg_tensor v = *t;
    int a = t->ndim - 2, b = t->ndim - 1;
    v.shape[a] = t->shape[b];
    v.shape[b] = t->shape[a];
    v.stride[a] = t->stride[b];
    v.stride[b] = t->stride[a];
    v.ext = NULL;
    v.flags = 0;
    return v;
}

/* t [..., M, K] as a matrix [prod(...) * M, K] when its leading axes step
 * like extra rows; false otherwise. */
static bool as_rows(const tg_tensor *t, tg_tensor *rows)
{
    int last = t->ndim - 1;
    int64_t count = t->ndim >= 2 ? t->shape[last - 1] : 1;
    int64_t next = t->ndim >= 2 ? t->stride[last - 1] * t->shape[last - 1] : 0;
    for (int d = t->ndim - 3; d >= 0; d--) {
        if (t->shape[d] == 1)
            continue;
        if (t->stride[d] != next)
            return false;
        next *= t->shape[d];
        count *= t->shape[d];
    }
    *rows = *t;
    rows->ndim = 2;
    rows->shape[0] = count;
    rows->shape[1] = t->shape[last];
    rows->stride[0] = t->ndim >= 2 ? t->stride[last - 1] : t->shape[last];
    rows->stride[1] = t->stride[last];
    rows->ext = NULL;
    rows->flags = 0;
    return true;
}

/* Gradients of a @ b (both at least 2-d) given the product's gradient. */
static int product_backward(tg_tensor *a, tg_tensor *b, tg_tensor *grad)
{
    if (tg_grad_matmul(a, grad, tg_transpose(b, -2, -1)) != 0)
        return -1;
    if (!tg_grad_needed(b))
        return 0;
    /* A 2-d b shared by every batch: one GEMM over all rows at once. */
    tg_tensor a_rows, g_rows;
    if (!tg_grad_creating() && !tg_reference_mode() && b->ndim == 2 && a->ndim > 2 && as_rows(a, &a_rows) && as_rows(grad, &g_rows)) {
        tg_tensor a_rows_t = transposed(&a_rows);
        return tg_grad_matmul(b, &a_rows_t, &g_rows);
    }
    return tg_grad_matmul(b, tg_transpose(a, -2, -1), grad);
}

static int matmul_backward(tg_node *node, tg_tensor *grad)
{
    return product_backward(node->in[0], node->in[1], grad);
}

static const tg_op matmul_op = { "matmul", matmul_backward, TG_OP_OUTPUT_UNREAD };

static tg_tensor *matmul2(tg_tensor *a, tg_tensor *b)
{
    tg_shape shape;
    if (tg_matmul_shape(a, b, &shape, "matmul") != 0)
        return NULL;
    tg_tensor *out = tg_empty(shape);
    if (!out || tg_kernel_matmul(out, a, b, 1.0f, 0.0f) != 0)
        return NULL;
    tg_tensor *in[2] = { a, b };
    return tg_record(&matmul_op, out, in, 2, NULL) == 0 ? out : NULL;
}

tg_tensor *tg_matmul(tg_tensor *a, tg_tensor *b)
{
    if (tg_check_inputs("matmul", 2, (tg_tensor *[]){ a, b }) != 0)
        return NULL;
    char sa[TG_SHAPE_STR_MAX], sb[TG_SHAPE_STR_MAX];
    if (a->ndim == 0 || b->ndim == 0) {
        tg_error_set("matmul: %s x %s: operands need at least 1 dimension",
                     tg_shape_format(sa, sizeof sa, a), tg_shape_format(sb, sizeof sb, b));
        return NULL;
    }
    /* Checked here so that the message shows the shapes as given, vectors
     * included. */
    int64_t ka = a->shape[a->ndim - 1], kb = b->shape[b->ndim == 1 ? 0 : b->ndim - 2];
    if (ka != kb) {
        tg_error_set("matmul: %s x %s: inner dimensions %lld and %lld differ",
                     tg_shape_format(sa, sizeof sa, a), tg_shape_format(sb, sizeof sb, b),
                     (long long)ka, (long long)kb);
        return NULL;
    }
    /* Vectors become a row (left) or a column (right), dropped afterwards:
     * the row's axis first, so that a vector times a vector ends 0-d. */
    bool row = a->ndim == 1, column = b->ndim == 1;
    tg_tensor *x = row ? tg_unsqueeze(a, 0) : a;
    tg_tensor *y = column ? tg_unsqueeze(b, 1) : b;
    tg_tensor *out = matmul2(x, y);
    if (row)
        out = tg_squeeze(out, -2);
    if (column)
        out = tg_squeeze(out, -1);
    return out;
}

/* Checks that an addend (addmm's c, affine's bias) broadcasts to the
 * result's shape without growing it; an error naming op otherwise. */
static int check_addend(const tg_tensor *addend, tg_shape result, const char *op, const char *what)
{
    int lead = result.ndim - addend->ndim;
    bool fits = lead >= 0;
    for (int d = 0; fits && d < addend->ndim; d++)
        fits = addend->shape[d] == 1 || addend->shape[d] == result.dim[lead + d];
    if (fits)
        return 0;
    char sa[TG_SHAPE_STR_MAX], sr[TG_SHAPE_STR_MAX];
    tg_tensor r = { .ndim = result.ndim };
    memcpy(r.shape, result.dim, sizeof(int64_t) * (size_t)result.ndim);
    return tg_error_set("%s: %s %s does not broadcast to the result %s", op, what,
                        tg_shape_format(sa, sizeof sa, addend), tg_shape_format(sr, sizeof sr, &r));
}

/* ---- addmm --------------------------------------------------------------------------- */

static int addmm_backward(tg_node *node, tg_tensor *grad)
{
    if (tg_grad_accumulate(node->in[0], grad) != 0)
        return -1;
    return product_backward(node->in[1], node->in[2], grad);
}

static const tg_op addmm_op = { "addmm", addmm_backward, 0x1 | TG_OP_OUTPUT_UNREAD };

tg_tensor *tg_addmm(tg_tensor *c, tg_tensor *a, tg_tensor *b)
{
    if (tg_check_inputs("addmm", 3, (tg_tensor *[]){ c, a, b }) != 0)
        return NULL;
    tg_shape shape;
    if (tg_matmul_shape(a, b, &shape, "addmm") != 0 || check_addend(c, shape, "addmm", "c") != 0)
        return NULL;
    tg_tensor *out = tg_empty(shape);
    if (!out || tg_kernel_copy(out, c, false) != 0 || tg_kernel_matmul(out, a, b, 1.0f, 1.0f) != 0)
        return NULL;
    tg_tensor *in[3] = { c, a, b };
    return tg_record(&addmm_op, out, in, 3, NULL) == 0 ? out : NULL;
}

/* ---- affine ----------------------------------------------------------------------------- *
 * out [..., O] = x [..., I] @ weight [O, I]^T + bias. Rows of x fold into
 * one GEMM. The weight's gradient g^T x is postponed (autograd/postponed.h),
 * so a weight applied at every step gets it from one GEMM over all of
 * them. */

/* x's gradient [..., I] += g_rows [R, O] @ weight [O, I], straight into the
 * gradient when its leading axes fold into rows (it may be a strided view
 * inside another tensor's gradient), else through a temporary. */
static int add_rows_product(tg_tensor *x, const tg_tensor *g_rows, const tg_tensor *weight)
{
    bool accumulate;
    tg_tensor *target = tg_grad_target(x, &accumulate);
    if (!target)
        return -1;
    tg_tensor rows;
    if (as_rows(target, &rows))
        return tg_kernel_matmul(&rows, g_rows, weight, 1.0f, accumulate ? 1.0f : 0.0f);
    tg_tensor *product = tg_empty(tg_tensor_shape(x));
    if (!product || !as_rows(product, &rows) || tg_kernel_matmul(&rows, g_rows, weight, 1.0f, 0.0f) != 0)
        return -1;
    return tg_kernel_copy(target, product, accumulate);
}

/* The same rule with ops, for a backward that creates a graph: x's
 * gradient g @ weight, weight's g^T x over all rows, the bias's g. */
static int affine_backward_with_ops(tg_tensor *x, tg_tensor *weight, tg_tensor *bias, tg_tensor *grad)
{
    int64_t in = weight->shape[1], out = weight->shape[0];
    if (tg_grad_matmul(x, grad, weight) != 0)
        return -1;
    tg_tensor *g_rows = tg_reshape(grad, TG_SHAPE(-1, out));
    if (tg_grad_matmul(weight, tg_transpose(g_rows, 0, 1), tg_reshape(x, TG_SHAPE(-1, in))) != 0)
        return -1;
    return bias ? tg_grad_accumulate(bias, grad) : 0;
}

static int affine_backward(tg_node *node, tg_tensor *grad)
{
    tg_tensor *x = node->in[0], *weight = node->in[1], *bias = node->in[2];
    if (tg_grad_creating() || tg_reference_mode())
        return affine_backward_with_ops(x, weight, bias, grad);
    tg_tensor *rows = node->saved; /* x as [R, I], contiguous when x was not */
    tg_tensor g_rows;
    as_rows(grad, &g_rows);
    if (tg_grad_needed(x) && add_rows_product(x, &g_rows, weight) != 0)
        return -1;
    if (tg_grad_needed(weight)) {
        /* weight's gradient += g^T x, postponed to join the other steps'. */
        tg_tensor *g_saved = tg_view_alias(&g_rows);
        if (!g_saved || tg_postpone_product(node, 1, g_saved, rows) != 0)
            return -1;
    }
    return bias ? tg_grad_accumulate(bias, grad) : 0;
}

static const tg_op affine_op = { "affine", affine_backward, 0x4 | TG_OP_OUTPUT_UNREAD };

/* out (as out_rows [R, O]) = x_rows @ weight_t + bias. A bias of one row,
 * or of out's shape with rows that fold, is added as the product is stored
 * where the kernel can (tensor/matmul.h); any other broadcast is copied
 * into out first. */
static int product_plus_bias(tg_tensor *out, tg_tensor *out_rows, const tg_tensor *x_rows,
                             const tg_tensor *weight_t, const tg_tensor *bias)
{
    tg_tensor bias_rows;
    if (bias->ndim == 1)
        return tg_kernel_matmul_add(out_rows, x_rows, weight_t, bias);
    if (tg_tensor_same_shape(bias, out) && as_rows(bias, &bias_rows))
        return tg_kernel_matmul_add(out_rows, x_rows, weight_t, &bias_rows);
    if (tg_kernel_copy(out, bias, false) != 0)
        return -1;
    return tg_kernel_matmul(out_rows, x_rows, weight_t, 1.0f, 1.0f);
}

tg_tensor *tg_affine(tg_tensor *x, tg_tensor *weight, tg_tensor *bias)
{
    if (tg_check_inputs("affine", 2, (tg_tensor *[]){ x, weight }) != 0 ||
        (bias && tg_check_inputs("affine", 1, &bias) != 0))
        return NULL;
    char sx[TG_SHAPE_STR_MAX], sw[TG_SHAPE_STR_MAX];
    if (x->ndim < 1 || weight->ndim != 2 || x->shape[x->ndim - 1] != weight->shape[1]) {
        tg_error_set("affine: input %s and weight %s: the weight must be [out, in] with in = the "
                     "input's last dimension", tg_shape_format(sx, sizeof sx, x),
                     tg_shape_format(sw, sizeof sw, weight));
        return NULL;
    }
    tg_shape shape = tg_tensor_shape(x);
    shape.dim[shape.ndim - 1] = weight->shape[0];
    if (bias && check_addend(bias, shape, "affine", "bias") != 0)
        return NULL;
    tg_tensor *out = tg_empty(shape);
    if (!out)
        return NULL;
    /* x as rows [R, I]; a copy when its leading axes do not fold. */
    tg_tensor x_rows, out_rows;
    if (!as_rows(x, &x_rows)) {
        tg_tensor *copy = tg_copy_to_graph(x);
        if (!copy)
            return NULL;
        as_rows(copy, &x_rows);
    }
    as_rows(out, &out_rows);
    tg_tensor weight_t = transposed(weight);
    if ((bias ? product_plus_bias(out, &out_rows, &x_rows, &weight_t, bias)
              : tg_kernel_matmul(&out_rows, &x_rows, &weight_t, 1.0f, 0.0f)) != 0)
        return NULL;
    tg_node *node;
    tg_tensor *in[3] = { x, weight, bias };
    if (tg_record(&affine_op, out, in, 3, &node) != 0)
        return NULL;
    if (node) {
        tg_tensor *saved = tg_view_alias(&x_rows);
        if (!saved)
            return NULL;
        node->saved = saved;
    }
    return out;
}

/* ---- affine_int8 ----------------------------------------------------------------------- *
 * out [..., O] = x [..., I] @ dequantised(weight)^T + addend, through the
 * int8 product of tensor/quantize.h. Inference only: there is no backward
 * rule, so a gradient asked through it is refused here, before any work. */

tg_tensor *tg_affine_int8(tg_tensor *x, const tg_qweight *weight, tg_tensor *addend)
{
    if (tg_check_inputs("affine_int8", 1, &x) != 0 ||
        (addend && tg_check_inputs("affine_int8", 1, &addend) != 0))
        return NULL;
    if (!weight)
        return tg_null_input("affine_int8");
    char sx[TG_SHAPE_STR_MAX];
    if (x->ndim < 1 || x->shape[x->ndim - 1] != weight->cols) {
        tg_error_set("affine_int8: input %s and int8 weight [%lld,%lld]: the weight must be "
                     "[out, in] with in = the input's last dimension",
                     tg_shape_format(sx, sizeof sx, x), (long long)weight->rows,
                     (long long)weight->cols);
        return NULL;
    }
    if (tg_grad_enabled() && (tg_requires_grad(x) || (addend && tg_requires_grad(addend)))) {
        tg_error_set("affine_int8: input %s: an int8 (quantised) layer is inference-only and "
                     "passes no gradient; run it under tg_no_grad_begin()",
                     tg_shape_format(sx, sizeof sx, x));
        return NULL;
    }
    tg_shape shape = tg_tensor_shape(x);
    shape.dim[shape.ndim - 1] = weight->rows;
    if (addend && check_addend(addend, shape, "affine_int8", "addend") != 0)
        return NULL;
    tg_tensor *out = tg_empty(shape);
    if (!out)
        return NULL;
    tg_tensor x_rows, out_rows;
    if (!as_rows(x, &x_rows) || (x_rows.shape[1] > 1 && x_rows.stride[1] != 1)) {
        tg_tensor *copy = tg_copy_to_graph(x);
        if (!copy)
            return NULL;
        as_rows(copy, &x_rows);
    }
    as_rows(out, &out_rows);
    void *scratch = tg_arena_alloc(tg_arena_thread(), tg_int8_scratch_bytes(x_rows.shape[0], weight->cols));
    if (!scratch)
        return NULL;
    /* The kernel reads an addend of rows (a bias vector, or a step's slice
     * of a projection) in place; any other is first copied into out. */
    tg_tensor addend_rows;
    const tg_tensor *rows = NULL;
    if (addend) {
        if (addend->ndim == 1 && addend->shape[0] == weight->rows && addend->stride[0] == 1) {
            addend_rows = out_rows;
            addend_rows.data = addend->data;
            addend_rows.stride[0] = 0;
            rows = &addend_rows;
        } else if (tg_tensor_same_shape(addend, out) && as_rows(addend, &addend_rows) &&
                   (weight->rows == 1 || addend_rows.stride[1] == 1)) {
            rows = &addend_rows;
        } else {
            if (tg_kernel_copy(out, addend, false) != 0)
                return NULL;
            rows = &out_rows;
        }
    }
    return tg_kernel_affine_int8(&out_rows, &x_rows, weight, rows, scratch) == 0 ? out : NULL;
}
