#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#include "autograd/autograd.h"
#include "autograd/postponed.h"
#include "autograd/grad_ready.h"
#include "autograd/meta.h"
#include "autograd/split.h"
#include "autograd/thread_list.h"
#include "tensor/gemm_small.h"
#include "tensor/kernel.h"
#include "tensor/view_tracked.h"

/* ---- Per-thread state ---------------------------------------------------------- */

typedef struct tape {
    tg_thread_list nodes; /* tg_node *, in execution order; the nodes live in the arena */
    int no_grad_depth;
    bool grad_disabled;
} tape;

static _Thread_local tape thread_tape;
static atomic_bool anomaly_mode;

static tg_node **tape_nodes(void) { return thread_tape.nodes.items; }

static int push_node(tg_node *node)
{
    if (tg_thread_list_room(&thread_tape.nodes, TG_LIST_TAPE, sizeof node, 1024, node->op->name) != 0)
        return -1;
    tape_nodes()[thread_tape.nodes.count++] = node;
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

tg_autograd_meta *tg_meta(const tg_tensor *t)
{
    tg_autograd_meta *m = t ? (tg_autograd_meta *)t->ext : NULL;
    /* Inside a part of a batch split, an owned leaf's gradient is the part's own. */
    if (m && m->node < 0 && m->requires_grad && (t->flags & TG_TENSOR_OWNED) && tg_running_part)
        return tg_part_leaf_meta(t);
    return m;
}

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
        m->part = tg_running_part;
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
                            tape_nodes()[m->node]->op->name);
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
    /* Raw views (tensor/kernel.h) refuse it from now on: they would drop
     * its gradient. */
    if (requires_grad)
        t->flags |= TG_TENSOR_TRACKED;
    else
        t->flags &= ~TG_TENSOR_TRACKED;
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
    /* After a backward that created a graph, its graph tensor of the
     * gradient, until the reset (the generation is compared first: the
     * pointer is not followed once the arena moved on). */
    if (m->graph_grad && m->graph_generation == tg_arena_generation(tg_arena_thread()))
        return m->graph_grad;
    return m->grad;
}

void tg_zero_grad(tg_tensor *t)
{
    tg_autograd_meta *m = tg_meta(t);
    if (m && m->grad)
        m->state = TG_GRAD_FRESH;
    if (m)
        m->graph_grad = NULL;
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

tg_tensor *tg_detach(tg_tensor *t) { return tg_view_alias_tracked(t); }

tg_node *tg_tape_node(int64_t i) { return tape_nodes()[i]; }
size_t tg_tape_count(void) { return thread_tape.nodes.count; }

void tg_set_anomaly_mode(bool enabled) { atomic_store(&anomaly_mode, enabled); }
bool tg_anomaly_mode(void) { return atomic_load(&anomaly_mode); }

int64_t tg_first_non_finite(const tg_tensor *t, float *value)
{
    if (t->dtype != TG_FLOAT32) /* integers are always finite */
        return -1;
    tg_arena *arena = tg_arena_thread();
    tg_arena_mark mark = tg_arena_get_mark(arena);
    const tg_tensor *c = tg_view_contiguous_tracked(t);
    int64_t found = -1;
    for (int64_t i = 0; c && i < c->numel && found < 0; i++)
        if (!isfinite(c->data[i])) {
            found = i;
            *value = c->data[i];
        }
    tg_arena_rewind(arena, mark);
    return found;
}

char *tg_format_input_shapes(char *buf, size_t size, tg_tensor *const *inputs, int n)
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

int tg_report_anomaly(const char *op, tg_tensor *const *inputs, int n_in, int input,
                          const tg_tensor *t, int64_t at, float value)
{
    char in[4 * TG_SHAPE_STR_MAX], shape[TG_SHAPE_STR_MAX];
    tg_format_input_shapes(in, sizeof in, inputs, n_in);
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
        if (inputs[i] && (tg_tensor_check_live(inputs[i], op->name, "an input") != 0 ||
                          tg_part_check_own(inputs[i], op->name, "an input") != 0))
            return -1;
    if (tg_tensor_check_live(out, op->name, "the output") != 0)
        return -1;
    if (tg_anomaly_mode()) {
        float value;
        int64_t at = tg_first_non_finite(out, &value);
        if (at >= 0)
            return tg_report_anomaly(op->name, inputs, n_in, -1, out, at, value);
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
    r->meta.node = (int64_t)thread_tape.nodes.count;
    r->meta.part = tg_running_part;
    out->ext = &r->meta.ext;
    out->flags |= TG_TENSOR_TRACKED;
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

/* ---- The graph ---------------------------------------------------------------------------- */

void tg_graph_reset(void)
{
    thread_tape.nodes.count = 0;
    tg_arena_reset(tg_arena_thread());
}

void tg_graph_release(void)
{
    tg_thread_list_free(&thread_tape.nodes, TG_LIST_TAPE);
    tg_arena_release_thread();
    tg_gemm_small_release_thread();
}

size_t tg_graph_size(void) { return thread_tape.nodes.count; }

tg_graph_mark tg_graph_get_mark(void)
{
    return (tg_graph_mark){ .nodes = thread_tape.nodes.count, .arena = tg_arena_get_mark(tg_arena_thread()) };
}

void tg_graph_rewind(tg_graph_mark mark)
{
    if (mark.nodes < thread_tape.nodes.count)
        thread_tape.nodes.count = mark.nodes;
    tg_arena_rewind(tg_arena_thread(), mark.arena);
}
