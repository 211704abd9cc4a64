#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#include "autograd/autograd.h"
#include "autograd/deferred.h"
#include "autograd/grad_ready.h"
#include "autograd/meta.h"
#include "tensor/gemm_small.h"
#include "tensor/reduce.h"

/* ---- Per-thread state ---------------------------------------------------------- */

typedef struct tape {
    tg_node **nodes; /* execution order; the nodes themselves live in the arena */
    size_t count, capacity;
    int no_grad_depth;
    bool grad_disabled;
} tape;

static _Thread_local tape thread_tape;
static atomic_bool anomaly_mode;

static tss_t tape_key;
static once_flag tape_key_once = ONCE_FLAG_INIT;

static void free_nodes_at_thread_exit(void *nodes) { free(nodes); }
static void create_tape_key(void) { tss_create(&tape_key, free_nodes_at_thread_exit); }

static int push_node(tg_node *node)
{
    tape *t = &thread_tape;
    if (t->count == t->capacity) {
        size_t capacity = t->capacity ? t->capacity * 2 : 1024;
        tg_node **grown = realloc(t->nodes, capacity * sizeof *grown);
        if (!grown)
            return tg_error_set("%s: out of memory growing the tape to %zu ops", node->op->name,
                                capacity);
        call_once(&tape_key_once, create_tape_key);
        tss_set(tape_key, grown);
        t->nodes = grown;
        t->capacity = capacity;
    }
    t->nodes[t->count++] = node;
    return 0;
}

/* ---- Metadata -------------------------------------------------------------------- */

static void release_owned_meta(tg_tensor_ext *ext)
{
    tg_autograd_meta *m = (tg_autograd_meta *)ext;
    if (m->grad && (m->grad->flags & TG_TENSOR_OWNED))
        tg_tensor_free(m->grad);
    free(m);
}

tg_autograd_meta *tg_meta(const tg_tensor *t) { return t ? (tg_autograd_meta *)t->ext : NULL; }

/* The metadata of t, created on first need: malloc'd for owned tensors
 * (freed with them), in the arena for graph tensors. */
static tg_autograd_meta *meta_for(tg_tensor *t)
{
    if (t->ext)
        return (tg_autograd_meta *)t->ext;
    tg_autograd_meta *m;
    if (t->flags & TG_TENSOR_OWNED) {
        m = calloc(1, sizeof *m);
        if (!m) {
            tg_error_set("requires_grad: out of memory");
            return NULL;
        }
        m->ext.release = release_owned_meta;
    } else {
        m = tg_arena_calloc(tg_arena_thread(), sizeof *m);
        if (!m)
            return NULL;
    }
    m->node = -1;
    t->ext = &m->ext;
    return m;
}

int tg_set_requires_grad(tg_tensor *t, bool requires_grad)
{
    if (!t)
        return tg_error_null_input("set_requires_grad");
    tg_autograd_meta *m = tg_meta(t);
    if (m && m->node >= 0)
        return tg_error_set("set_requires_grad: the tensor is the output of '%s', not a leaf; "
                            "use tg_detach to start a new leaf",
                            thread_tape.nodes[m->node]->op->name);
    if (!m && !requires_grad)
        return 0;
    if (requires_grad && t->dtype != TG_FLOAT32) {
        char shape[TG_SHAPE_STR_MAX];
        return tg_error_set("set_requires_grad: int64 tensor %s: only float32 tensors have "
                            "gradients", tg_shape_format(shape, sizeof shape, t));
    }
    if (!(m = meta_for(t)))
        return -1;
    m->requires_grad = requires_grad;
    return 0;
}

bool tg_requires_grad(const tg_tensor *t)
{
    tg_autograd_meta *m = tg_meta(t);
    return m && m->requires_grad;
}

bool tg_is_leaf(const tg_tensor *t)
{
    tg_autograd_meta *m = tg_meta(t);
    return !m || m->node < 0;
}

int tg_retain_grad(tg_tensor *t)
{
    if (!t)
        return tg_error_null_input("retain_grad");
    tg_autograd_meta *m = tg_meta(t);
    if (!m || !m->requires_grad)
        return tg_error_set("retain_grad: the tensor does not require a gradient");
    m->retain_grad = true;
    return 0;
}

tg_tensor *tg_grad(const tg_tensor *t)
{
    tg_autograd_meta *m = tg_meta(t);
    if (!m || !m->grad || m->state != TG_GRAD_VALID)
        return NULL;
    if (m->node >= 0 && !m->retain_grad)
        return NULL;
    return m->grad;
}

void tg_zero_grad(tg_tensor *t)
{
    tg_autograd_meta *m = tg_meta(t);
    if (m && m->grad)
        m->state = TG_GRAD_FRESH;
}

/* ---- Grad mode, detach ------------------------------------------------------------- */

bool tg_set_grad_enabled(bool enabled)
{
    bool previous = !thread_tape.grad_disabled;
    thread_tape.grad_disabled = !enabled;
    return previous;
}

bool tg_grad_enabled(void) { return !thread_tape.grad_disabled && thread_tape.no_grad_depth == 0; }

void tg_no_grad_begin(void) { thread_tape.no_grad_depth++; }

void tg_no_grad_end(void)
{
    if (thread_tape.no_grad_depth > 0)
        thread_tape.no_grad_depth--;
}

tg_tensor *tg_detach(tg_tensor *t) { return tg_view_alias(t); }

void tg_set_anomaly_mode(bool enabled) { atomic_store(&anomaly_mode, enabled); }
bool tg_anomaly_mode(void) { return atomic_load(&anomaly_mode); }

/* Position of the first NaN or Inf of t in row-major order (its value in
 * *value), or -1. */
static int64_t first_non_finite(const tg_tensor *t, float *value)
{
    if (t->dtype != TG_FLOAT32) /* integers are always finite */
        return -1;
    tg_arena *arena = tg_arena_thread();
    tg_arena_mark mark = tg_arena_get_mark(arena);
    const tg_tensor *c = tg_view_contiguous(t);
    int64_t found = -1;
    for (int64_t i = 0; c && i < c->numel && found < 0; i++)
        if (!isfinite(c->data[i])) {
            found = i;
            *value = c->data[i];
        }
    tg_arena_rewind(arena, mark);
    return found;
}

/* "[2,3], [3]": the shapes of an op's inputs (NULL ones skipped). */
static char *format_input_shapes(char *buf, size_t size, tg_tensor *const *inputs, int n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used < size; i++) {
        char shape[TG_SHAPE_STR_MAX];
        if (inputs[i])
            used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "",
                                     tg_shape_format(shape, sizeof shape, inputs[i]));
    }
    return buf;
}

/* Forward: `t` is the op's output. Backward: `t` is the gradient it
 * produced for input `input`. */
static int report_anomaly(const char *op, tg_tensor *const *inputs, int n_in, int input,
                          const tg_tensor *t, int64_t at, float value)
{
    char in[4 * TG_SHAPE_STR_MAX], shape[TG_SHAPE_STR_MAX];
    format_input_shapes(in, sizeof in, inputs, n_in);
    tg_shape_format(shape, sizeof shape, t);
    const char *what = isnan(value) ? "NaN" : "Inf";
    if (input < 0)
        return tg_error_set("anomaly: forward of '%s' on %s produced %s at element %lld of its "
                            "output %s", op, in, what, (long long)at, shape);
    return tg_error_set("anomaly: backward of '%s' on %s produced %s at element %lld of the "
                        "gradient of input %d %s", op, in, what, (long long)at, input, shape);
}

/* ---- Recording ---------------------------------------------------------------------- */

int tg_check_inputs(const char *op, int n, tg_tensor *const *inputs)
{
    if (!inputs)
        return tg_error_null_input(op);
    for (int i = 0; i < n; i++) {
        if (!inputs[i])
            return tg_error_null_input(op);
        if (tg_tensor_is_stale(inputs[i])) {
            char what[32];
            snprintf(what, sizeof what, "input %d", i);
            return tg_tensor_check_live(inputs[i], op, what);
        }
    }
    return 0;
}

int tg_record(const tg_op *op, tg_tensor *out, tg_tensor *const *inputs, int n_in, tg_node **node_out)
{
    if (node_out)
        *node_out = NULL;
    if (!out || !op)
        return -1;
    for (int i = 0; i < n_in; i++)
        if (inputs[i] && tg_tensor_check_live(inputs[i], op->name, "an input") != 0)
            return -1;
    if (tg_tensor_check_live(out, op->name, "the output") != 0)
        return -1;
    if (tg_anomaly_mode()) {
        float value;
        int64_t at = first_non_finite(out, &value);
        if (at >= 0)
            return report_anomaly(op->name, inputs, n_in, -1, out, at, value);
    }
    if (!tg_grad_enabled())
        return 0;
    bool needed = false;
    for (int i = 0; i < n_in && !needed; i++)
        needed = tg_requires_grad(inputs[i]);
    if (!needed)
        return 0;
    if (out->ext || (out->flags & TG_TENSOR_OWNED))
        return tg_error_set("%s: the output must be a new graph tensor (from tg_empty or a view)",
                            op->name);

    /* The node, the output's metadata, the storage versions of the inputs
     * and the output, and the list of inputs in one block: one arena
     * allocation per recorded op. */
    struct record {
        tg_node node;
        tg_autograd_meta meta;
        tg_tensor *in[];
    } *r = tg_arena_calloc(tg_arena_thread(), sizeof *r + (sizeof r->in[0] + sizeof(uint64_t)) *
                                                              (size_t)n_in + sizeof(uint64_t));
    if (!r)
        return -1;
    tg_node *node = &r->node;
    memcpy(r->in, inputs, sizeof r->in[0] * (size_t)n_in);
    uint64_t *versions = (uint64_t *)(r->in + n_in);
    for (int i = 0; i < n_in; i++)
        versions[i] = inputs[i] ? inputs[i]->storage->version : 0;
    versions[n_in] = out->storage->version;
    r->meta.versions = versions;
    node->op = op;
    node->out = out;
    node->in = r->in;
    node->n_in = n_in;
    r->meta.requires_grad = true;
    r->meta.node = (int64_t)thread_tape.count;
    out->ext = &r->meta.ext;
    if (push_node(node) != 0)
        return -1;
    if (node_out)
        *node_out = node;
    return 0;
}

void *tg_node_save(tg_node *node, size_t bytes)
{
    if (!node)
        return tg_null_input("node_save");
    node->saved = tg_arena_calloc(tg_arena_thread(), bytes);
    return node->saved;
}

/* ---- Gradient buffers ------------------------------------------------------------------ */

/* The gradient of a view output as the same view of its input's gradient,
 * when the op allows it; NULL otherwise (the output gets its own buffer, as
 * it must when retained: tg_grad then shows its own part alone). */
static tg_tensor *alias_input_grad(tg_autograd_meta *m)
{
    if (m->node < 0 || m->retain_grad)
        return NULL;
    const tg_node *node = thread_tape.nodes[m->node];
    if (!node->grad_view || node->n_in < 1 || !tg_requires_grad(node->in[0]))
        return NULL;
    tg_tensor *input_grad = tg_grad_target_zeroed(node->in[0]);
    return input_grad ? node->grad_view(node, input_grad) : NULL;
}

tg_tensor *tg_grad_target(tg_tensor *x, bool *accumulate)
{
    tg_autograd_meta *m = tg_meta(x);
    if (!m || !m->requires_grad)
        return NULL;
    if (!m->grad && (m->grad = alias_input_grad(m)) != NULL) {
        m->aliased = true;
        m->state = TG_GRAD_VALID; /* the input's gradient starts from zero */
    }
    if (!m->grad) {
        tg_shape shape = tg_tensor_shape(x);
        m->grad = (x->flags & TG_TENSOR_OWNED) ? tg_tensor_empty(shape) : tg_empty(shape);
        if (!m->grad)
            return NULL;
        m->state = TG_GRAD_FRESH;
    }
    *accumulate = m->state == TG_GRAD_VALID;
    m->state = TG_GRAD_VALID;
    return m->grad;
}

tg_tensor *tg_grad_target_zeroed(tg_tensor *x)
{
    bool accumulate;
    tg_tensor *target = tg_grad_target(x, &accumulate);
    if (!target || accumulate)
        return target;
    if (tg_tensor_is_contiguous(target)) {
        memset(target->data, 0, sizeof(float) * (size_t)target->numel);
        tg_tensor_mark_written(target);
        return target;
    }
    return tg_kernel_fill(target, 0.0f) == 0 ? target : NULL;
}

/* A gradient computation that failed leaves an error; one that was not
 * needed (x requires no gradient) is not a failure. */
static bool grad_needed(const tg_tensor *x) { return tg_requires_grad(x); }

int tg_grad_map(tg_tensor *x, const tg_tensor *like, int n_in, const tg_tensor *const *inputs,
                tg_map_fn fn, const float *param)
{
    if (!grad_needed(x))
        return 0;
    bool accumulate;
    tg_tensor *target = tg_grad_target(x, &accumulate);
    if (!target)
        return -1;
    if (tg_tensor_same_shape(x, like))
        return tg_map("backward", target, n_in, inputs, fn, param, accumulate);
    /* x was broadcast: evaluate over like's shape, then sum down. */
    tg_arena *arena = tg_arena_thread();
    tg_arena_mark mark = tg_arena_get_mark(arena);
    tg_tensor *full = tg_empty(tg_tensor_shape(like));
    int rc = -1;
    if (full && tg_map("backward", full, n_in, inputs, fn, param, false) == 0)
        rc = tg_kernel_sum_to(target, full, 1.0f, accumulate);
    tg_arena_rewind(arena, mark);
    return rc;
}

int tg_grad_accumulate(tg_tensor *x, const tg_tensor *contribution)
{
    if (!grad_needed(x))
        return 0;
    bool accumulate;
    tg_tensor *target = tg_grad_target(x, &accumulate);
    if (!target || !contribution)
        return -1;
    if (tg_tensor_same_shape(x, contribution))
        return tg_kernel_copy(target, contribution, accumulate);
    return tg_kernel_sum_to(target, contribution, 1.0f, accumulate);
}

/* Whether x's gradient may be part of the gradient of node's output: x is
 * an intermediate with no gradient buffer yet, neither of the two is
 * retained (a retained gradient is the tensor's own), and part has x's
 * layout. */
static bool may_borrow(const tg_node *node, const tg_tensor *x, const tg_tensor *part)
{
    const tg_autograd_meta *m = tg_meta(x), *lender = tg_meta(node->out);
    return m && m->requires_grad && !m->grad && m->node >= 0 && !m->retain_grad && !lender->retain_grad &&
           !(x->flags & TG_TENSOR_OWNED) && tg_tensor_same_shape(x, part) && tg_tensor_is_contiguous(part);
}

int tg_grad_accumulate_part(tg_node *node, tg_tensor *x, const tg_tensor *part)
{
    if (!node || !part || !may_borrow(node, x, part))
        return tg_grad_accumulate(x, part);
    tg_autograd_meta *m = tg_meta(x);
    m->grad = tg_view_alias(part);
    if (!m->grad)
        return -1;
    m->state = TG_GRAD_VALID;
    m->borrowed = true;
    tg_meta(node->out)->lent = true;
    return 0;
}

/* ---- Backward --------------------------------------------------------------------------- */

/* Gradients of intermediates from an earlier backward over the same graph
 * start again from zero; leaves keep accumulating, as in PyTorch. */
static void forget_intermediate_grads(void)
{
    for (size_t i = 0; i < thread_tape.count; i++) {
        tg_autograd_meta *m = tg_meta(thread_tape.nodes[i]->out);
        if (m->aliased || m->borrowed) { /* aliased or borrowed again, when needed */
            m->grad = NULL;
            m->aliased = m->borrowed = false;
        }
        m->lent = false;
        m->state = TG_GRAD_FRESH;
    }
}

int tg_anomaly_check_input_grad(const tg_node *node, int input)
{
    tg_autograd_meta *m = tg_meta(node->in[input]);
    if (!m || !m->grad || m->state != TG_GRAD_VALID)
        return 0;
    float value;
    int64_t at = first_non_finite(m->grad, &value);
    if (at >= 0)
        return report_anomaly(node->op->name, node->in, node->n_in, input, m->grad, at, value);
    return 0;
}

static int check_input_grads(const tg_node *node)
{
    for (int i = 0; i < node->n_in; i++)
        if (tg_anomaly_check_input_grad(node, i) != 0)
            return -1;
    return 0;
}

void tg_meta_give_back_grad(tg_autograd_meta *m)
{
    if (m->grad && !m->retain_grad && !m->aliased && !m->borrowed && !m->lent && tg_give_back(m->grad))
        m->grad = NULL;
}

/* Once its op's backward has run, nothing reads an intermediate's gradient
 * again, unless it is retained, lent to its inputs, or a postponed product
 * still needs it: its buffer goes back to the arena for the gradients still
 * to come, which in an unrolled recurrence have the same sizes step after
 * step. Backward then holds about one step's gradients at a time, not the
 * whole sequence's, as PyTorch frees them. */
static void give_back_grad(tg_autograd_meta *m, uint64_t deferred_before)
{
    if (m->grad && !tg_deferred_reads(m->grad, deferred_before))
        tg_meta_give_back_grad(m);
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
                            format_input_shapes(shapes, sizeof shapes, node->in, node->n_in));
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
                            node->op->name, format_input_shapes(shapes, sizeof shapes, node->in, node->n_in),
                            what, tg_shape_format(shape, sizeof shape, t));
    }
    return 0;
}

/* Runs node's backward rule, when a gradient reached its output. */
static int backward_node(tg_node *node, bool anomaly, bool retain_graph)
{
    tg_autograd_meta *nm = tg_meta(node->out);
    /* Products postponed for this tensor complete its gradient first. */
    if (nm->deferred_rows > 0 && tg_deferred_flush(node->out) != 0)
        return -1;
    if (nm->state != TG_GRAD_VALID || nm->aliased)
        return 0; /* no gradient flows through this op, or it is already in place */
    if (check_node_usable(node, nm) != 0)
        return -1;
    nm->consumed = !retain_graph;
    uint64_t deferred_before = tg_deferred_handed_over();
    if (node->op->backward(node, nm->grad) != 0) {
        if (!tg_error_occurred())
            tg_error_set("backward of '%s' failed", node->op->name);
        return -1;
    }
    if (anomaly && check_input_grads(node) != 0)
        return -1;
    give_back_grad(nm, deferred_before);
    return 0;
}

static int run_backward(tg_tensor *out, const tg_tensor *grad, bool retain_graph)
{
    tg_autograd_meta *m = tg_meta(out);
    forget_intermediate_grads();
    if (tg_grad_accumulate(out, grad) != 0 || tg_grad_ready_begin(thread_tape.nodes, m->node) != 0)
        return -1;
    bool anomaly = tg_anomaly_mode();
    for (int64_t i = m->node; i >= 0; i--)
        if (backward_node(thread_tape.nodes[i], anomaly, retain_graph) != 0 || tg_grad_ready_passed(i) != 0)
            return -1;
    return tg_deferred_flush_all();
}

/* The backward of an op whose output is a view of its input (nm->aliased
 * above) is skipped, so its node is not marked used: nothing it holds is
 * given back. */
static int backward(tg_tensor *out, const tg_tensor *grad, bool retain_graph)
{
    if (!out || !grad)
        return tg_error_null_input("backward_with_grad");
    if (tg_tensor_check_live(out, "backward", "the tensor") != 0 ||
        tg_tensor_check_live(grad, "backward", "the gradient") != 0)
        return -1;
    if (!tg_requires_grad(out))
        return tg_error_set("backward: the tensor does not require a gradient (no leaf that "
                            "requires one went into it, or it was computed with grad mode off)");
    if (!tg_tensor_same_shape(out, grad)) {
        char a[TG_SHAPE_STR_MAX], b[TG_SHAPE_STR_MAX];
        return tg_error_set("backward: gradient %s does not match the tensor %s",
                            tg_shape_format(b, sizeof b, grad), tg_shape_format(a, sizeof a, out));
    }
    bool previous = tg_set_grad_enabled(false);
    int rc = run_backward(out, grad, retain_graph);
    tg_grad_ready_end();
    if (rc != 0)
        tg_deferred_discard();
    tg_set_grad_enabled(previous);
    return rc;
}

/* Backward from a one-element tensor, whose gradient is 1. */
static int backward_from_loss(tg_tensor *loss, bool retain_graph)
{
    if (!loss)
        return tg_error_null_input("backward");
    if (tg_tensor_check_live(loss, "backward", "the loss") != 0)
        return -1;
    if (loss->numel != 1) {
        char shape[TG_SHAPE_STR_MAX];
        return tg_error_set("backward: the loss %s has %lld elements; give a one-element tensor, or "
                            "use tg_backward_with_grad", tg_shape_format(shape, sizeof shape, loss),
                            (long long)loss->numel);
    }
    float one = 1.0f;
    tg_tensor seed = { .data = &one, .ndim = loss->ndim, .numel = 1 };
    memcpy(seed.shape, loss->shape, sizeof(int64_t) * (size_t)loss->ndim);
    tg_storage storage = { .base = &one, .size = 1 };
    seed.storage = &storage;
    return backward(loss, &seed, retain_graph);
}

int tg_backward(tg_tensor *loss) { return backward_from_loss(loss, false); }

int tg_backward_with_grad(tg_tensor *out, const tg_tensor *grad) { return backward(out, grad, false); }

int tg_backward_with(tg_tensor *out, tg_backward_config config)
{
    if (!config.grad)
        return backward_from_loss(out, config.retain_graph);
    return backward(out, config.grad, config.retain_graph);
}

/* ---- The graph ---------------------------------------------------------------------------- */

void tg_graph_reset(void)
{
    thread_tape.count = 0;
    tg_arena_reset(tg_arena_thread());
}

void tg_graph_release(void)
{
    thread_tape.count = 0;
    if (thread_tape.nodes) {
        tss_set(tape_key, NULL);
        free(thread_tape.nodes);
    }
    thread_tape.nodes = NULL;
    thread_tape.capacity = 0;
    tg_arena_release_thread();
    tg_gemm_small_release_thread();
}

size_t tg_graph_size(void) { return thread_tape.count; }

tg_graph_mark tg_graph_get_mark(void)
{
    return (tg_graph_mark){ .nodes = thread_tape.count, .arena = tg_arena_get_mark(tg_arena_thread()) };
}

void tg_graph_rewind(tg_graph_mark mark)
{
    if (mark.nodes < thread_tape.count)
        thread_tape.count = mark.nodes;
    tg_arena_rewind(tg_arena_thread(), mark.arena);
}
