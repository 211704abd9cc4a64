/*
 * Backward: one reverse walk of the tape from the outputs, running each
 * op's rule once its output's gradient is complete (autograd/autograd.h).
 */
#include <stdio.h>
#include <string.h>

#include "autograd/autograd.h"
#include "autograd/postponed.h"
#include "autograd/grad_ready.h"
#include "autograd/meta.h"
#include "autograd/ops.h"
#include "autograd/split.h"
#include "tensor/kernel.h"

/* Gradients of intermediates from an earlier backward over the same graph
 * start again from zero; leaves keep accumulating, as in PyTorch. A
 * recorded gradient is a graph tensor, never a buffer to write into. */
static void forget_intermediate_grads(void)
{
    size_t count = tg_tape_count();
    for (size_t i = 0; i < count; i++) {
        tg_autograd_meta *m = tg_meta(tg_tape_node((int64_t)i)->out);
        if (m->aliased || m->borrowed || m->recorded) { /* made again, when needed */
            m->grad = NULL;
            m->aliased = m->borrowed = m->recorded = false;
        }
        m->readers = 0;
        m->state = TG_GRAD_FRESH;
        m->zero_pending = false;
    }
}

int tg_anomaly_check_input_grad(const tg_node *node, int input)
{
    tg_autograd_meta *m = tg_meta(node->in[input]);
    if (!m || !m->grad || m->state != TG_GRAD_VALID)
        return 0;
    tg_grad_settle(m);
    float value;
    int64_t at = tg_first_non_finite(m->grad, &value);
    if (at >= 0)
        return tg_report_anomaly(node->op->name, node->in, node->n_in, input, m->grad, at, value);
    return 0;
}

static int check_input_grads(const tg_node *node)
{
    for (int i = 0; i < node->n_in; i++)
        if (tg_anomaly_check_input_grad(node, i) != 0)
            return -1;
    return 0;
}

/* 0 when node may run its backward: its graph was not used up by an
 * earlier backward, and nothing it reads was written in place since it
 * was recorded. -1 with an error naming the op otherwise. */
static int check_node_usable(const tg_node *node, const tg_autograd_meta *m)
{
    char shapes[4 * TG_SHAPE_STR_MAX];
    if (m->consumed)
        return tg_error_set("backward: the graph through '%s' on %s was already used by a "
                            "backward; pass .retain_graph = true (tg_backward_with) to the first "
                            "to back-propagate through it again", node->op->name,
                            tg_format_input_shapes(shapes, sizeof shapes, node->in, node->n_in));
    unsigned unread = node->op->unread;
    for (int i = 0; i <= node->n_in; i++) {
        bool output = i == node->n_in;
        const tg_tensor *t = output ? node->out : node->in[i];
        unsigned bit = output ? TG_OP_OUTPUT_UNREAD : 1u << (i < 30 ? i : 30);
        if (!t || (unread & bit) || t->storage->version == m->versions[i])
            continue;
        char shape[TG_SHAPE_STR_MAX], what[32];
        if (output)
            snprintf(what, sizeof what, "its output");
        else
            snprintf(what, sizeof what, "its input %d", i);
        return tg_error_set("backward of '%s' on %s: %s %s was written in place (tg_tensor_fill_, "
                            "tg_tensor_copy_, an optimizer step, ...) after the op saved it, so its "
                            "gradient would be wrong; write it after backward, or clone it first",
                            node->op->name, tg_format_input_shapes(shapes, sizeof shapes, node->in, node->n_in),
                            what, tg_shape_format(shape, sizeof shape, t));
    }
    return 0;
}

/* How a walk runs. */
typedef struct walk {
    bool retain_graph;
    bool creating;
    bool anomaly;
} walk;

/* Runs node's backward rule, when a gradient reached its output. */
static int backward_node(tg_node *node, const walk *w)
{
    tg_autograd_meta *nm = tg_meta(node->out);
    /* Products postponed for this tensor complete its gradient first. */
    if (nm->postponed_rows > 0 && tg_postponed_flush(node->out) != 0)
        return -1;
    if (nm->state != TG_GRAD_VALID || nm->aliased)
        return 0; /* no gradient flows through this op, or it is already in place */
    tg_grad_settle(nm); /* its views may have left parts of it unwritten */
    if (check_node_usable(node, nm) != 0)
        return -1;
    nm->consumed = !w->retain_graph;
    tg_pass_at(node);
    if (node->op->backward(node, nm->grad) != 0) {
        if (!tg_error_occurred())
            tg_error_set("backward of '%s' failed", node->op->name);
        return -1;
    }
    if (w->anomaly && check_input_grads(node) != 0)
        return -1;
    tg_grad_release(nm); /* its rule has read it */
    return 0;
}

/* Back-propagates grads[k] from outputs[k], k < n: one walk from the last
 * of them. */
static int run_walk(tg_tensor *const *outputs, tg_tensor *const *grads, int n, const walk *w)
{
    forget_intermediate_grads();
    int64_t last = -1;
    for (int k = 0; k < n; k++) {
        if (tg_grad_accumulate(outputs[k], grads[k]) != 0)
            return -1;
        if (tg_meta(outputs[k])->node > last)
            last = tg_meta(outputs[k])->node;
    }
    bool notices = !w->creating && !tg_pass_capturing();
    if (notices && tg_grad_ready_begin(last) != 0)
        return -1;
    for (int64_t i = last; i >= 0; i--)
        if (backward_node(tg_tape_node(i), w) != 0 || (notices && tg_grad_ready_passed(i) != 0))
            return -1;
    return tg_postponed_flush_all();
}

/* A pass: the walk with grad mode set for it, cleaned up after. */
static int run_pass(tg_tensor *const *outputs, tg_tensor *const *grads, int n, const walk *w, bool capturing)
{
    bool previous = tg_set_grad_enabled(w->creating);
    tg_pass_begin(w->creating, capturing);
    int rc = run_walk(outputs, grads, n, w);
    if (rc != 0)
        tg_postponed_discard();
    tg_grad_ready_end();
    if (!capturing && tg_pass_end(rc != 0) != 0)
        rc = -1;
    tg_set_grad_enabled(previous);
    return rc;
}

/* ---- Checking what backward is given ---------------------------------------------------- */

/* The gradient to start from for output `out`: `grad`, checked against
 * out's shape, or (NULL) ones for a one-element out. */
static tg_tensor *start_gradient(const char *op, tg_tensor *out, tg_tensor *grad)
{
    char a[TG_SHAPE_STR_MAX], b[TG_SHAPE_STR_MAX];
    if (tg_tensor_check_live(out, op, grad ? "the tensor" : "the loss") != 0 ||
        tg_part_check_own(out, op, grad ? "the tensor" : "the loss") != 0 ||
        (grad && tg_tensor_check_live(grad, op, "the gradient") != 0))
        return NULL;
    if (!tg_requires_grad(out)) {
        tg_error_set("%s: the tensor does not require a gradient (no leaf that requires one went "
                     "into it, or it was computed with grad mode off)", op);
        return NULL;
    }
    if (!grad) {
        if (out->numel != 1) {
            tg_error_set("%s: the loss %s has %lld elements; give a one-element tensor, or use "
                         "tg_backward_with_grad", op, tg_shape_format(a, sizeof a, out), (long long)out->numel);
            return NULL;
        }
        return tg_ones(tg_tensor_shape(out));
    }
    if (!tg_tensor_same_shape(out, grad)) {
        tg_error_set("%s: gradient %s does not match the tensor %s", op,
                     tg_shape_format(b, sizeof b, grad), tg_shape_format(a, sizeof a, out));
        return NULL;
    }
    return grad;
}

/* ---- Backward ------------------------------------------------------------------------------ */

int tg_backward_with(tg_tensor *out, tg_backward_config config)
{
    if (!out)
        return tg_error_null_input("backward");
    tg_tensor *grad = start_gradient("backward", out, (tg_tensor *)config.grad);
    if (!grad)
        return -1;
    /* As in PyTorch, a graph that was differentiated with a recorded
     * backward stays usable: the new graph reads it. */
    walk w = { .retain_graph = config.retain_graph || config.create_graph,
               .creating = config.create_graph, .anomaly = tg_anomaly_mode() };
    return run_pass(&out, &grad, 1, &w, false);
}

int tg_backward(tg_tensor *loss) { return tg_backward_with(loss, (tg_backward_config){ 0 }); }

int tg_backward_with_grad(tg_tensor *out, const tg_tensor *grad)
{
    if (!grad)
        return tg_error_null_input("backward_with_grad");
    return tg_backward_with(out, (tg_backward_config){ .grad = grad });
}

/* ---- Gradients as results ------------------------------------------------------------------ */

/* Marks (or unmarks) the inputs whose gradients a tg_autograd_grad returns:
 * leaves are captured, intermediates retained for the walk. `retained`
 * records which intermediates were not retained before. */
static void mark_inputs(tg_tensor *const *inputs, int n, bool *retained, bool on)
{
    for (int i = 0; i < n; i++) {
        tg_autograd_meta *m = tg_meta(inputs[i]);
        if (m->node < 0) {
            m->captured = on;
        } else if (on) {
            retained[i] = m->retain_grad;
            m->retain_grad = true;
        } else {
            m->retain_grad = retained[i];
        }
    }
}

/* The gradient of input i after the walk: a leaf's captured one, or an
 * intermediate's (copied in first order: its buffer is reused by the next
 * backward). */
static tg_tensor *input_gradient(tg_tensor *input, bool creating)
{
    tg_autograd_meta *m = tg_meta(input);
    if (m->node < 0)
        return tg_pass_leaf_grad(input);
    if (m->state != TG_GRAD_VALID || !m->grad)
        return NULL;
    return creating ? m->grad : tg_copy_to_graph(m->grad);
}

static int check_grad_inputs(tg_tensor *const *inputs, int n)
{
    char shape[TG_SHAPE_STR_MAX];
    if (!inputs || n < 1)
        return tg_error_set("autograd_grad: needs at least one input, got %d", inputs ? n : 0);
    for (int i = 0; i < n; i++) {
        if (!inputs[i])
            return tg_error_null_input("autograd_grad");
        if (tg_tensor_check_live(inputs[i], "autograd_grad", "an input") != 0 ||
            tg_part_check_own(inputs[i], "autograd_grad", "an input") != 0)
            return -1;
        if (!tg_requires_grad(inputs[i]))
            return tg_error_set("autograd_grad: input %d %s does not require a gradient", i,
                                tg_shape_format(shape, sizeof shape, inputs[i]));
        for (int j = 0; j < i; j++)
            if (inputs[j] == inputs[i])
                return tg_error_set("autograd_grad: input %d is input %d again", i, j);
    }
    return 0;
}

int tg_autograd_grad(tg_tensor *const *outputs, int n_outputs, tg_tensor *const *inputs, int n_inputs,
                     tg_tensor **grads, tg_grad_config config)
{
    if (!outputs || !grads)
        return tg_error_null_input("autograd_grad");
    if (n_outputs < 1 || n_outputs > TG_GRAD_MAX_OUTPUTS)
        return tg_error_set("autograd_grad: %d outputs; give 1 to %d", n_outputs, TG_GRAD_MAX_OUTPUTS);
    if (check_grad_inputs(inputs, n_inputs) != 0)
        return -1;
    tg_tensor *start[TG_GRAD_MAX_OUTPUTS];
    for (int k = 0; k < n_outputs; k++) {
        if (!outputs[k])
            return tg_error_null_input("autograd_grad");
        start[k] = start_gradient("autograd_grad", outputs[k],
                                  config.grad_outputs ? config.grad_outputs[k] : NULL);
        if (!start[k])
            return -1;
    }
    bool retained[n_inputs];
    walk w = { .retain_graph = config.retain_graph || config.create_graph,
               .creating = config.create_graph, .anomaly = tg_anomaly_mode() };
    mark_inputs(inputs, n_inputs, retained, true);
    int rc = run_pass(outputs, start, n_outputs, &w, true);
    for (int i = 0; i < n_inputs; i++) {
        grads[i] = rc == 0 ? input_gradient(inputs[i], w.creating) : NULL;
        if (rc == 0 && !grads[i] && !config.allow_unused) {
            char shape[TG_SHAPE_STR_MAX];
            rc = tg_error_set("autograd_grad: input %d %s is not reached from the outputs; pass "
                              ".allow_unused = true to get NULL for it", i,
                              tg_shape_format(shape, sizeof shape, inputs[i]));
        }
    }
    tg_pass_end(rc != 0);
    mark_inputs(inputs, n_inputs, retained, false);
    if (rc != 0)
        for (int i = 0; i < n_inputs; i++)
            grads[i] = NULL;
    return rc;
}
