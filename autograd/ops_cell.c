/*
 * The recurrent cells' fused steps as ops (kernels in tensor/gates.h): one
 * node for the elementwise part of a step, which composed of separate ops
 * takes about ten. The forward saves the activated gates; in first order
 * the backward is one kernel pass over them. In a backward that creates a
 * graph, and in the reference mode, the same gradient is written with ops
 * (the gates activated again from the op's inputs), so that it can be
 * differentiated again.
 */
#include "autograd/autograd.h"
#include "autograd/kernel.h"
#include "autograd/meta.h"
#include "autograd/ops.h"
#include "tensor/reference.h"

/* Whether tg_record will record an op with these inputs, so that the
 * forward saves its activations only then. */
static bool recording(tg_tensor *const *in, int n)
{
    if (!tg_grad_enabled())
        return false;
    for (int i = 0; i < n; i++)
        if (tg_requires_grad(in[i]))
            return true;
    return false;
}

/* Whether t broadcasts to [rows, cols] (NumPy rules) without growing it. */
static bool broadcasts_to(const tg_tensor *t, int64_t rows, int64_t cols)
{
    const int64_t target[2] = { rows, cols };
    if (t->ndim > 2)
        return false;
    for (int d = 0; d < t->ndim; d++) {
        int64_t size = t->shape[d], want = target[2 - t->ndim + d];
        if (size != want && size != 1)
            return false;
    }
    return true;
}

/* 0 when the op's first n_gates inputs are one 2-d shape [B, count * H]
 * and the others broadcast to [B, H]; otherwise an error naming op and
 * the shapes. */
static int check_shapes(const char *op, tg_tensor *const *in, int n, int n_gates, int count, const char *expected)
{
    bool fits = in[0]->ndim == 2 && in[0]->shape[1] % count == 0;
    for (int k = 1; fits && k < n; k++)
        fits = k < n_gates ? tg_tensor_same_shape(in[k], in[0])
                           : broadcasts_to(in[k], in[0]->shape[0], in[0]->shape[1] / count);
    if (fits)
        return 0;
    char shapes[4 * TG_SHAPE_STR_MAX];
    return tg_error_set("%s: %s: expected %s", op, tg_format_input_shapes(shapes, sizeof shapes, in, n), expected);
}

/* sigmoid's slope from its value: y (1 - y) */
static tg_tensor *sigmoid_slope(tg_tensor *y) { return tg_mul(y, tg_scalar_sub(1.0f, y)); }
/* tanh's slope from its value: 1 - y^2 */
static tg_tensor *tanh_slope(tg_tensor *y) { return tg_scalar_sub(1.0f, tg_square(y)); }

/* x's gradient += the parts joined along the gate axis. */
static int accumulate_gates(tg_tensor *x, tg_tensor **parts, int n)
{
    if (!tg_grad_needed(x))
        return 0;
    return tg_grad_accumulate(x, tg_concat(parts, n, 1));
}

static int accumulate_if_needed(tg_tensor *x, tg_tensor *(*contribution)(tg_tensor *, tg_tensor *), tg_tensor *a,
                                tg_tensor *b)
{
    return tg_grad_needed(x) ? tg_grad_accumulate(x, contribution(a, b)) : 0;
}

/* The buffer a kernel writes a state input's gradient into: the gradient
 * itself when the state is the full [B, H], else a [B, H] scratch summed
 * into it afterwards (the state was broadcast). */
typedef struct state_grad {
    tg_tensor *target, *full;
    bool accumulate; /* how the kernel writes `full` */
    bool target_accumulate;
} state_grad;

static int state_grad_begin(state_grad *s, tg_tensor *x, int64_t rows, int64_t h)
{
    *s = (state_grad){ 0 };
    if (!tg_grad_needed(x))
        return 0;
    if (!(s->target = tg_grad_target(x, &s->target_accumulate)))
        return -1;
    if (x->ndim == 2 && x->shape[0] == rows && x->shape[1] == h) {
        s->full = s->target;
        s->accumulate = s->target_accumulate;
        return 0;
    }
    s->full = tg_empty(TG_SHAPE(rows, h));
    return s->full ? 0 : -1;
}

static int state_grad_end(const state_grad *s)
{
    if (s->full == s->target)
        return 0;
    return tg_kernel_sum_to(s->target, s->full, 1.0f, s->target_accumulate);
}

/* A gate input's gradient buffer (the input is the full [B, G*H]), or NULL
 * with *rc 0 when it needs none. */
static tg_tensor *gate_grad(tg_tensor *x, bool *accumulate, int *rc)
{
    *accumulate = false;
    *rc = 0;
    if (!tg_grad_needed(x))
        return NULL;
    tg_tensor *target = tg_grad_target(x, accumulate);
    *rc = target ? 0 : -1;
    return target;
}

/* Runs the forward: out of `shape`, the activations (`saved` floats per
 * row) into a graph tensor that the node keeps, when it is recorded. */
typedef int (*forward_kernel)(tg_tensor *out, float *act, tg_tensor *const *in);

static tg_tensor *run(const tg_op *op, tg_shape shape, int64_t saved, tg_tensor *const *in, int n,
                      forward_kernel kernel)
{
    tg_tensor *out = tg_empty(shape);
    bool record = recording(in, n);
    tg_tensor *act = record ? tg_empty(TG_SHAPE(in[0]->shape[0], saved)) : NULL;
    if (!out || (record && !act) || kernel(out, act ? act->data : NULL, in) != 0)
        return NULL;
    tg_node *node;
    if (tg_record(op, out, in, n, &node) != 0)
        return NULL;
    if (node)
        node->saved = act;
    return out;
}

/* ---- LSTM ---------------------------------------------------------------------------------- */

static int lstm_backward_with_ops(tg_node *node, tg_tensor *grad)
{
    tg_tensor *x = node->in[0], *hg = node->in[1], *c_prev = node->in[2];
    int64_t h = grad->shape[2];
    tg_tensor *gates = tg_add(x, hg);
    tg_tensor *i = tg_sigmoid(tg_narrow(gates, 1, 0, h));
    tg_tensor *f = tg_sigmoid(tg_narrow(gates, 1, h, h));
    tg_tensor *g = tg_tanh(tg_narrow(gates, 1, 2 * h, h));
    tg_tensor *o = tg_sigmoid(tg_narrow(gates, 1, 3 * h, h));
    tg_tensor *tc = tg_tanh(tg_select(node->out, 0, 1));
    tg_tensor *grad_h = tg_select(grad, 0, 0);
    /* dc = grad_c + grad_h o (1 - tanh(c)^2) */
    tg_tensor *dc = tg_add(tg_select(grad, 0, 1), tg_mul(tg_mul(grad_h, o), tanh_slope(tc)));
    if (tg_grad_needed(x) || tg_grad_needed(hg)) {
        tg_tensor *parts[4] = { tg_mul(tg_mul(dc, g), sigmoid_slope(i)),
                                tg_mul(tg_mul(dc, c_prev), sigmoid_slope(f)),
                                tg_mul(tg_mul(dc, i), tanh_slope(g)),
                                tg_mul(tg_mul(grad_h, tc), sigmoid_slope(o)) };
        tg_tensor *d_gates = tg_concat(parts, 4, 1);
        if ((tg_grad_needed(x) && tg_grad_accumulate(x, d_gates) != 0) ||
            (tg_grad_needed(hg) && tg_grad_accumulate(hg, d_gates) != 0))
            return -1;
    }
    return accumulate_if_needed(c_prev, tg_mul, dc, f);
}

static int lstm_backward(tg_node *node, tg_tensor *grad)
{
    if (tg_grad_creating() || tg_reference_mode())
        return lstm_backward_with_ops(node, grad);
    tg_tensor *x = node->in[0], *hg = node->in[1], *c_prev = node->in[2];
    bool accumulate_x, accumulate_h;
    int rc_x, rc_h;
    /* Asked for in the order the kernel writes them, so that an input
     * given twice is overwritten first and added to after. */
    tg_tensor *d_x = gate_grad(x, &accumulate_x, &rc_x);
    tg_tensor *d_h = gate_grad(hg, &accumulate_h, &rc_h);
    state_grad dc;
    if (rc_x != 0 || rc_h != 0 || state_grad_begin(&dc, c_prev, grad->shape[1], grad->shape[2]) != 0)
        return -1;
    const tg_tensor *act = node->saved;
    if (tg_kernel_lstm_gates_backward(d_x, accumulate_x, d_h, accumulate_h, dc.full, dc.accumulate, grad, act->data,
                                      c_prev) != 0)
        return -1;
    return state_grad_end(&dc);
}

static const tg_op lstm_op = { "lstm_gates", lstm_backward, 0 };

static int lstm_forward(tg_tensor *out, float *act, tg_tensor *const *in)
{
    return tg_kernel_lstm_gates(out, act, in[0], in[1], in[2]);
}

tg_tensor *tg_lstm_gates(tg_tensor *x_gates, tg_tensor *h_gates, tg_tensor *c_prev)
{
    tg_tensor *in[3] = { x_gates, h_gates, c_prev };
    const char *expected = "x_gates and h_gates [B, 4H] and c_prev broadcasting to [B, H]";
    if (tg_check_inputs("lstm_gates", 3, in) != 0 || check_shapes("lstm_gates", in, 3, 2, 4, expected) != 0)
        return NULL;
    int64_t rows = x_gates->shape[0], h = x_gates->shape[1] / 4;
    return run(&lstm_op, TG_SHAPE(2, rows, h), 5 * h, in, 3, lstm_forward);
}

/* ---- GRU, PyTorch's formulation ---------------------------------------------------------- */

static int gru_backward_with_ops(tg_node *node, tg_tensor *grad)
{
    tg_tensor *x = node->in[0], *hg = node->in[1], *h_prev = node->in[2];
    int64_t h = grad->shape[1];
    tg_tensor *r = tg_sigmoid(tg_add(tg_narrow(x, 1, 0, h), tg_narrow(hg, 1, 0, h)));
    tg_tensor *z = tg_sigmoid(tg_add(tg_narrow(x, 1, h, h), tg_narrow(hg, 1, h, h)));
    tg_tensor *hn = tg_narrow(hg, 1, 2 * h, h);
    tg_tensor *n = tg_tanh(tg_add(tg_narrow(x, 1, 2 * h, h), tg_mul(r, hn)));
    /* dn = grad (1 - z) (1 - n^2), dz = grad (h_prev - n) z (1 - z), dr = dn hn r (1 - r) */
    tg_tensor *dn = tg_mul(tg_mul(grad, tg_scalar_sub(1.0f, z)), tanh_slope(n));
    tg_tensor *dz = tg_mul(tg_mul(grad, tg_sub(h_prev, n)), sigmoid_slope(z));
    tg_tensor *dr = tg_mul(tg_mul(dn, hn), sigmoid_slope(r));
    if (accumulate_gates(x, (tg_tensor *[]){ dr, dz, dn }, 3) != 0)
        return -1;
    if (tg_grad_needed(hg) && accumulate_gates(hg, (tg_tensor *[]){ dr, dz, tg_mul(dn, r) }, 3) != 0)
        return -1;
    return accumulate_if_needed(h_prev, tg_mul, grad, z);
}

static int gru_backward(tg_node *node, tg_tensor *grad)
{
    if (tg_grad_creating() || tg_reference_mode())
        return gru_backward_with_ops(node, grad);
    tg_tensor *x = node->in[0], *hg = node->in[1], *h_prev = node->in[2];
    bool accumulate_x, accumulate_h;
    int rc_x, rc_h;
    /* Asked for in the order the kernel writes them, so that an input
     * given twice is overwritten first and added to after. */
    tg_tensor *d_x = gate_grad(x, &accumulate_x, &rc_x);
    tg_tensor *d_h = gate_grad(hg, &accumulate_h, &rc_h);
    state_grad dp;
    if (rc_x != 0 || rc_h != 0 || state_grad_begin(&dp, h_prev, grad->shape[0], grad->shape[1]) != 0)
        return -1;
    const tg_tensor *act = node->saved;
    if (tg_kernel_gru_gates_backward(d_x, accumulate_x, d_h, accumulate_h, dp.full, dp.accumulate, grad, act->data,
                                     hg, h_prev) != 0)
        return -1;
    return state_grad_end(&dp);
}

static const tg_op gru_op = { "gru_gates", gru_backward, 0 };

static int gru_forward(tg_tensor *out, float *act, tg_tensor *const *in)
{
    return tg_kernel_gru_gates(out, act, in[0], in[1], in[2]);
}

tg_tensor *tg_gru_gates(tg_tensor *x_gates, tg_tensor *h_gates, tg_tensor *h_prev)
{
    tg_tensor *in[3] = { x_gates, h_gates, h_prev };
    const char *expected = "x_gates and h_gates [B, 3H] and h_prev broadcasting to [B, H]";
    if (tg_check_inputs("gru_gates", 3, in) != 0 || check_shapes("gru_gates", in, 3, 2, 3, expected) != 0)
        return NULL;
    int64_t rows = x_gates->shape[0], h = x_gates->shape[1] / 3;
    return run(&gru_op, TG_SHAPE(rows, h), 3 * h, in, 3, gru_forward);
}

/* ---- GRU, the seed's formulation ------------------------------------------------------------- */

static int seed_backward_with_ops(tg_node *node, tg_tensor *grad)
{
    tg_tensor *n_pre = node->in[0], *z = node->in[1], *h_prev = node->in[2];
    tg_tensor *n = tg_tanh(n_pre);
    if (tg_grad_needed(n_pre) && tg_grad_accumulate(n_pre, tg_mul(tg_mul(grad, z), tanh_slope(n))) != 0)
        return -1;
    if (tg_grad_needed(z) && tg_grad_accumulate(z, tg_mul(grad, tg_sub(n, h_prev))) != 0)
        return -1;
    return accumulate_if_needed(h_prev, tg_sub, grad, tg_mul(grad, z));
}

static int seed_backward(tg_node *node, tg_tensor *grad)
{
    if (tg_grad_creating() || tg_reference_mode())
        return seed_backward_with_ops(node, grad);
    tg_tensor *n_pre = node->in[0], *z = node->in[1], *h_prev = node->in[2];
    int64_t rows = grad->shape[0], h = grad->shape[1];
    bool accumulate;
    int rc;
    tg_tensor *d_n = gate_grad(n_pre, &accumulate, &rc);
    state_grad dz, dp;
    if (rc != 0 || state_grad_begin(&dz, z, rows, h) != 0 || state_grad_begin(&dp, h_prev, rows, h) != 0)
        return -1;
    const tg_tensor *act = node->saved;
    if (tg_kernel_gru_seed_gates_backward(d_n, accumulate, dz.full, dz.accumulate, dp.full, dp.accumulate, grad,
                                          act->data, z, h_prev) != 0)
        return -1;
    return state_grad_end(&dz) == 0 && state_grad_end(&dp) == 0 ? 0 : -1;
}

static const tg_op seed_op = { "gru_seed_gates", seed_backward, 0 };

static int seed_forward(tg_tensor *out, float *act, tg_tensor *const *in)
{
    return tg_kernel_gru_seed_gates(out, act, in[0], in[1], in[2]);
}

tg_tensor *tg_gru_seed_gates(tg_tensor *n_pre, tg_tensor *z, tg_tensor *h_prev)
{
    tg_tensor *in[3] = { n_pre, z, h_prev };
    if (tg_check_inputs("gru_seed_gates", 3, in) != 0 ||
        check_shapes("gru_seed_gates", in, 3, 1, 1, "n_pre [B, H] and z and h_prev broadcasting to it") != 0)
        return NULL;
    return run(&seed_op, tg_tensor_shape(n_pre), n_pre->shape[1], in, 3, seed_forward);
}
