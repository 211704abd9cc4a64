/*
 * Padding, windows, convolution and pooling (autograd/ops.h).
 *
 * Two ops carry rules of their own, each written with ops: a constant pad
 * (its gradient is a narrow of the output's gradient) and unfold/fold,
 * each the other's gradient. Everything else is composed of ops: the other
 * pad modes are index selections, conv1d is pad, unfold, reshape (the
 * im2col copy) and matmul, the pools are unfold and amax or mean.
 */
#include <float.h>
#include <string.h>

#include "autograd/autograd.h"
#include "autograd/ops.h"
#include "tensor/kernel.h"
#include "tensor/view_tracked.h"

/* ---- pad ----------------------------------------------------------------------------------- */

static int pad_constant_backward(tg_node *node, tg_tensor *grad)
{
    tg_tensor *x = node->in[0];
    const int64_t *before = node->saved;
    tg_tensor *g = grad;
    for (int d = 0; d < x->ndim && g; d++)
        if (g->shape[d] != x->shape[d])
            g = tg_narrow(g, d, before[d], x->shape[d]);
    return g ? tg_grad_accumulate(x, g) : -1;
}

static const tg_op pad_op = { "pad", pad_constant_backward, TG_OP_UNREAD_ALL };

static tg_tensor *pad_constant(tg_tensor *x, const int64_t *before, tg_shape shape, float value)
{
    tg_tensor *out = tg_empty(shape);
    if (!out || tg_kernel_pad_constant(out, x, before, value) != 0)
        return NULL;
    tg_node *node;
    if (tg_record(&pad_op, out, &x, 1, &node) != 0)
        return NULL;
    if (node) {
        int64_t *saved = tg_node_save(node, sizeof(int64_t) * TG_MAX_DIMS);
        if (!saved)
            return NULL;
        memcpy(saved, before, sizeof(int64_t) * (size_t)x->ndim);
    }
    return out;
}

/* The source position of output position i (from -before) of an axis of
 * size n, for the index-selecting modes. */
static int64_t pad_source(tg_pad_mode mode, int64_t i, int64_t n)
{
    switch (mode) {
    case TG_PAD_REFLECT:
        i = i < 0 ? -i : i;
        return i >= n ? 2 * (n - 1) - i : i;
    case TG_PAD_REPLICATE:
        return i < 0 ? 0 : (i >= n ? n - 1 : i);
    default: /* TG_PAD_CIRCULAR */
        return ((i % n) + n) % n;
    }
}

static const char *const pad_mode_names[] = { "constant", "reflect", "replicate", "circular" };

/* Checks one axis's padding for mode; 0 or -1 with an error. */
static int check_pad_axis(const tg_tensor *x, int d, int64_t before, int64_t after, tg_pad_mode mode)
{
    char shape[TG_SHAPE_STR_MAX];
    tg_shape_format(shape, sizeof shape, x);
    int64_t n = x->shape[d], worst = before > after ? before : after;
    if (before < 0 || after < 0)
        return tg_error_set("pad: %s: padding (%lld, %lld) of dimension %d is negative", shape,
                            (long long)before, (long long)after, d);
    if (worst == 0 || mode == TG_PAD_CONSTANT)
        return 0;
    int64_t limit = mode == TG_PAD_REFLECT ? n - 1 : (mode == TG_PAD_CIRCULAR ? n : INT64_MAX);
    if (n == 0 || worst > limit)
        return tg_error_set("pad: %s: %s padding (%lld, %lld) of dimension %d needs %s (size %lld)",
                            shape, pad_mode_names[mode], (long long)before, (long long)after, d,
                            mode == TG_PAD_REFLECT ? "a size above each padding"
                                                   : "a size of at least each padding, and not 0",
                            (long long)n);
    return 0;
}

tg_tensor *tg_pad(tg_tensor *x, const int64_t *pad, int n_pad, tg_pad_mode mode, float value)
{
    if (tg_check_inputs("pad", 1, &x) != 0)
        return NULL;
    char shape[TG_SHAPE_STR_MAX];
    if ((unsigned)mode > TG_PAD_CIRCULAR) {
        tg_error_set("pad: %s: unknown mode %d", tg_shape_format(shape, sizeof shape, x), (int)mode);
        return NULL;
    }
    if (n_pad < 0 || n_pad % 2 != 0 || n_pad / 2 > x->ndim || (n_pad > 0 && !pad)) {
        tg_error_set("pad: %s: %d padding sizes: needs (before, after) pairs for at most %d dimensions",
                     tg_shape_format(shape, sizeof shape, x), n_pad, x->ndim);
        return NULL;
    }
    int64_t before[TG_MAX_DIMS] = { 0 };
    tg_shape out_shape = tg_tensor_shape(x);
    for (int p = 0; p < n_pad / 2; p++) {
        int d = x->ndim - 1 - p;
        if (check_pad_axis(x, d, pad[2 * p], pad[2 * p + 1], mode) != 0)
            return NULL;
        before[d] = pad[2 * p];
        out_shape.dim[d] += pad[2 * p] + pad[2 * p + 1];
    }
    if (tg_shape_numel(out_shape, "pad") < 0)
        return NULL;
    if (mode == TG_PAD_CONSTANT)
        return pad_constant(x, before, out_shape, value);
    /* One index selection per padded axis: its gradient adds each copy back. */
    tg_tensor *y = x;
    for (int d = 0; d < x->ndim && y; d++) {
        if (out_shape.dim[d] == x->shape[d])
            continue;
        tg_tensor *index = tg_empty(TG_SHAPE(out_shape.dim[d]));
        if (!index)
            return NULL;
        for (int64_t i = 0; i < out_shape.dim[d]; i++)
            index->data[i] = (float)pad_source(mode, i - before[d], x->shape[d]);
        y = tg_index_select(y, d, index);
    }
    return y;
}

/* ---- unfold and fold: each the other's gradient ------------------------------------------- *
 * iparam: dim, step, and (fold) the window count of its input. */

static int unfold_backward(tg_node *node, tg_tensor *grad)
{
    tg_tensor *x = node->in[0];
    int dim = (int)node->iparam[0];
    tg_tensor *g = tg_fold(grad, dim, x->shape[dim], node->iparam[1]);
    return g ? tg_grad_accumulate(x, g) : -1;
}

static int fold_backward(tg_node *node, tg_tensor *grad)
{
    tg_tensor *x = node->in[0];
    int dim = (int)node->iparam[0];
    tg_tensor *g = tg_unfold(grad, dim, x->shape[x->ndim - 1], node->iparam[1]);
    g = tg_narrow(g, dim, 0, x->shape[dim]); /* windows past x's count read unused tails */
    return g ? tg_grad_accumulate(x, g) : -1;
}

static const tg_op unfold_op = { "unfold", unfold_backward, TG_OP_UNREAD_ALL };
static const tg_op fold_op = { "fold", fold_backward, TG_OP_UNREAD_ALL };

static tg_tensor *record_window_op(const tg_op *op, tg_tensor *out, tg_tensor *x, int dim, int64_t step)
{
    tg_node *node;
    if (!out || tg_record(op, out, &x, 1, &node) != 0)
        return NULL;
    if (node) {
        node->iparam[0] = dim;
        node->iparam[1] = step;
    }
    return out;
}

tg_tensor *tg_unfold(tg_tensor *x, int dim, int64_t size, int64_t step)
{
    tg_tensor *out = tg_view_unfold_tracked(x, dim, size, step, "unfold");
    return out ? record_window_op(&unfold_op, out, x, tg_normalize_dim(dim, x->ndim, "unfold"), step) : NULL;
}

tg_tensor *tg_fold(tg_tensor *x, int dim, int64_t length, int64_t step)
{
    if (tg_check_inputs("fold", 1, &x) != 0)
        return NULL;
    char shape[TG_SHAPE_STR_MAX];
    if (x->ndim < 2) {
        tg_error_set("fold: %s: needs the windows' axis and a last axis of window entries",
                     tg_shape_format(shape, sizeof shape, x));
        return NULL;
    }
    int d = tg_normalize_dim(dim, x->ndim - 1, "fold");
    if (d < 0)
        return NULL;
    int64_t windows = x->shape[d], size = x->shape[x->ndim - 1];
    if (step < 1 || length < 0 || (windows > 0 && (windows - 1) * step + size > length)) {
        tg_error_set("fold: %s: %lld windows of %lld elements, %lld apart, do not fit in length %lld",
                     tg_shape_format(shape, sizeof shape, x), (long long)windows, (long long)size,
                     (long long)step, (long long)length);
        return NULL;
    }
    tg_shape out_shape = tg_tensor_shape(x);
    out_shape.ndim--;
    out_shape.dim[d] = length;
    tg_tensor *out = tg_empty(out_shape);
    if (!out || tg_kernel_fold(out, x, d, step) != 0)
        return NULL;
    return record_window_op(&fold_op, out, x, d, step);
}

/* ---- conv1d ------------------------------------------------------------------------------------ */

/* Fills the defaults of a conv1d setting; -1 with an error when negative. */
static int conv_setting(int64_t *value, int64_t fallback, const char *name, const tg_tensor *x,
                        const tg_tensor *w)
{
    if (*value < 0) {
        char sx[TG_SHAPE_STR_MAX], sw[TG_SHAPE_STR_MAX];
        return tg_error_set("conv1d: input %s, weight %s: %s %lld is negative",
                            tg_shape_format(sx, sizeof sx, x), tg_shape_format(sw, sizeof sw, w), name,
                            (long long)*value);
    }
    if (*value == 0)
        *value = fallback;
    return 0;
}

static int check_conv(const tg_tensor *x, const tg_tensor *w, const tg_tensor *bias, tg_conv1d_options *o)
{
    char sx[TG_SHAPE_STR_MAX], sw[TG_SHAPE_STR_MAX], sb[TG_SHAPE_STR_MAX];
    tg_shape_format(sx, sizeof sx, x);
    tg_shape_format(sw, sizeof sw, w);
    if (conv_setting(&o->stride, 1, "stride", x, w) || conv_setting(&o->padding, 0, "padding", x, w) ||
        conv_setting(&o->dilation, 1, "dilation", x, w) || conv_setting(&o->groups, 1, "groups", x, w))
        return -1;
    if (x->ndim != 3)
        return tg_error_set("conv1d: input %s: expected [N, C_in, L] or [C_in, L]", sx);
    if (w->ndim != 3 || w->shape[2] < 1)
        return tg_error_set("conv1d: weight %s: expected [C_out, C_in / groups, K] with K >= 1", sw);
    int64_t c_in = x->shape[1], c_out = w->shape[0], g = o->groups;
    if (c_in % g != 0 || c_out % g != 0 || w->shape[1] * g != c_in)
        return tg_error_set("conv1d: input %s, weight %s, groups %lld: input channels %lld and output "
                            "channels %lld must be multiples of the groups, and the weight's second "
                            "axis %lld must be input channels / groups",
                            sx, sw, (long long)g, (long long)c_in, (long long)c_out,
                            (long long)w->shape[1]);
    if (bias && (bias->ndim != 1 || bias->shape[0] != c_out))
        return tg_error_set("conv1d: bias %s: expected [%lld] for weight %s",
                            tg_shape_format(sb, sizeof sb, bias), (long long)c_out, sw);
    int64_t length = x->shape[2] + 2 * o->padding, span = o->dilation * (w->shape[2] - 1) + 1;
    if (span > length)
        return tg_error_set("conv1d: input %s, weight %s: the padded length %lld is shorter than the "
                            "kernel's span %lld (kernel %lld, dilation %lld)",
                            sx, sw, (long long)length, (long long)span, (long long)w->shape[2],
                            (long long)o->dilation);
    return 0;
}

tg_tensor *tg_conv1d(tg_tensor *x, tg_tensor *weight, tg_tensor *bias, tg_conv1d_options options)
{
    if (tg_check_inputs("conv1d", 2, (tg_tensor *[]){ x, weight }) != 0 ||
        (bias && tg_check_inputs("conv1d", 1, &bias) != 0))
        return NULL;
    if (x->ndim == 2) { /* unbatched [C_in, L] */
        tg_tensor *y = tg_conv1d(tg_unsqueeze(x, 0), weight, bias, options);
        return y ? tg_squeeze(y, 0) : NULL;
    }
    tg_conv1d_options o = options;
    if (check_conv(x, weight, bias, &o) != 0)
        return NULL;
    int64_t n = x->shape[0], g = o.groups, c_group = x->shape[1] / g, c_out = weight->shape[0];
    int64_t k = weight->shape[2], span = o.dilation * (k - 1) + 1;
    tg_tensor *xp = o.padding ? tg_pad(x, (int64_t[]){ o.padding, o.padding }, 2, TG_PAD_CONSTANT, 0.0f) : x;
    /* [N, G, C_in/G, L_out, span] windows, then every dilation-th tap: [..., K] */
    tg_tensor *win = tg_unfold(tg_reshape(xp, TG_SHAPE(n, g, c_group, -1)), 3, span, o.stride);
    if (win && o.dilation > 1)
        win = tg_slice(win, 4, 0, span, o.dilation);
    if (!win)
        return NULL;
    int64_t l_out = win->shape[3];
    /* im2col [N, G, L_out, C_in/G * K] (the one copy) times the weight [G, C_in/G * K, C_out/G]:
     * for one group, a single GEMM of N * L_out rows */
    tg_tensor *cols = tg_reshape(tg_permute(win, (int[]){ 0, 1, 3, 2, 4 }), TG_SHAPE(n, g, l_out, c_group * k));
    tg_tensor *w = tg_transpose(tg_reshape(weight, TG_SHAPE(g, c_out / g, c_group * k)), 1, 2);
    tg_tensor *y = tg_permute(tg_matmul(cols, w), (int[]){ 0, 1, 3, 2 }); /* [N, G, C_out/G, L_out] */
    y = bias ? tg_add(y, tg_reshape(bias, TG_SHAPE(g, c_out / g, 1))) : tg_contiguous(y);
    return tg_reshape(y, TG_SHAPE(n, c_out, l_out));
}

/* ---- pools: a reduction over windows ------------------------------------------------------------ */

static tg_tensor *pool_windows(tg_tensor *x, tg_pool1d_options o, float pad_value, const char *op)
{
    if (tg_check_inputs(op, 1, &x) != 0)
        return NULL;
    char sx[TG_SHAPE_STR_MAX];
    tg_shape_format(sx, sizeof sx, x);
    if (x->ndim != 2 && x->ndim != 3) {
        tg_error_set("%s: input %s: expected [N, C, L] or [C, L]", op, sx);
        return NULL;
    }
    int64_t stride = o.stride ? o.stride : o.kernel;
    if (o.kernel < 1 || stride < 1 || o.padding < 0 || o.padding > o.kernel / 2) {
        tg_error_set("%s: input %s: kernel %lld, stride %lld, padding %lld: needs kernel >= 1, stride >= 0 "
                     "and padding from 0 to kernel / 2",
                     op, sx, (long long)o.kernel, (long long)o.stride, (long long)o.padding);
        return NULL;
    }
    int64_t length = x->shape[x->ndim - 1] + 2 * o.padding;
    if (o.kernel > length) {
        tg_error_set("%s: input %s: the padded length %lld is shorter than the kernel %lld", op, sx,
                     (long long)length, (long long)o.kernel);
        return NULL;
    }
    tg_tensor *xp = o.padding ? tg_pad(x, (int64_t[]){ o.padding, o.padding }, 2, TG_PAD_CONSTANT, pad_value) : x;
    return tg_unfold(xp, -1, o.kernel, stride);
}

tg_tensor *tg_max_pool1d(tg_tensor *x, tg_pool1d_options options)
{
    /* The lowest float rather than -Inf keeps anomaly mode quiet; a window
     * always holds an element of x, which wins. */
    return tg_amax(pool_windows(x, options, -FLT_MAX, "max_pool1d"), TG_AXES(-1), false);
}

tg_tensor *tg_avg_pool1d(tg_tensor *x, tg_pool1d_options options)
{
    return tg_mean(pool_windows(x, options, 0.0f, "avg_pool1d"), TG_AXES(-1), false);
}
