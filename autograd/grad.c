/*
 * Gradient buffers: where backward rules put what they compute, and when a
 * buffer goes back to the arena.
 *
 * A backward rule adds its inputs' gradients through the functions here
 * (autograd/autograd.h, "Writing a backward rule"). Each has two paths:
 *   - first order: kernels write straight into the gradient buffer, adding
 *     to it after the first contribution (no temporaries);
 *   - a pass that creates a graph (create_graph): the contribution is made
 *     with recorded ops and added to the gradient with a recorded add, so
 *     the gradient is a graph tensor that can be differentiated again.
 */
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#include "autograd/autograd.h"
#include "autograd/kernel.h"
#include "autograd/postponed.h"
#include "autograd/meta.h"
#include "autograd/thread_list.h"
#include "autograd/ops.h"
#include "tensor/reference.h"

/* ---- The running pass ---------------------------------------------------------------- */

static _Thread_local struct {
    bool creating;         /* the backward is recorded (create_graph) */
    bool capturing;        /* only captured leaves get gradients (tg_autograd_grad) */
    const tg_node *node;   /* whose rule runs, for messages */
    uint64_t number;       /* numbers passes, to set a leaf's own gradient aside once */
    tg_thread_list leaves; /* tg_tensor *: leaves whose own gradient was set aside */
} pass;

static tg_tensor **pass_leaves(void) { return pass.leaves.items; }

void tg_pass_begin(bool creating, bool capturing)
{
    pass.creating = creating;
    pass.capturing = capturing;
    pass.node = NULL;
    pass.number++;
    pass.leaves.count = 0;
}

void tg_pass_at(const tg_node *node) { pass.node = node; }
bool tg_pass_capturing(void) { return pass.capturing; }
bool tg_grad_creating(void) { return pass.creating; }

bool tg_grad_needed(const tg_tensor *x)
{
    const tg_autograd_meta *m = tg_meta(x);
    if (!m || !m->requires_grad)
        return false;
    return !pass.capturing || m->node >= 0 || m->captured;
}

/* A leaf reached by a creating or capturing pass gathers this pass's
 * gradient in m->grad; its own buffer waits aside until the pass ends. */
static int set_leaf_grad_aside(tg_tensor *leaf, tg_autograd_meta *m)
{
    if (m->set_aside_pass == pass.number)
        return 0;
    if (tg_thread_list_room(&pass.leaves, TG_LIST_PASS_LEAVES, sizeof leaf, 64,
                            "backward: listing the leaves of a pass") != 0)
        return -1;
    pass_leaves()[pass.leaves.count++] = leaf;
    m->set_aside_pass = pass.number;
    m->set_aside = m->grad;
    m->set_aside_state = m->state;
    m->grad = NULL;
    m->state = TG_GRAD_FRESH;
    m->recorded = false;
    return 0;
}

tg_tensor *tg_pass_leaf_grad(tg_tensor *leaf)
{
    tg_autograd_meta *m = tg_meta(leaf);
    if (!m || m->set_aside_pass != pass.number || m->state != TG_GRAD_VALID)
        return NULL;
    return m->grad;
}

/* A creating pass leaves a leaf's gradient in its own buffer, as a first-
 * order backward would (adding to what it held), and the graph tensor of
 * it beside. */
static int keep_leaf_graph_grad(tg_tensor *leaf, tg_autograd_meta *m)
{
    tg_tensor *graph = m->grad, *own = m->set_aside;
    bool had = m->set_aside_state == TG_GRAD_VALID && own;
    if (had)
        graph = tg_add(tg_copy_to_graph(own), graph);
    if (!own)
        own = tg_tensor_empty(tg_tensor_shape(leaf));
    m->grad = own;
    m->state = TG_GRAD_VALID;
    m->recorded = false;
    if (!graph || !own || tg_kernel_copy(own, graph, false) != 0)
        return -1;
    m->graph_grad = graph;
    m->graph_generation = tg_arena_generation(tg_arena_thread());
    return 0;
}

int tg_pass_end(bool failed)
{
    int rc = 0;
    for (size_t i = 0; i < pass.leaves.count; i++) {
        tg_tensor *leaf = pass_leaves()[i];
        tg_autograd_meta *m = tg_meta(leaf);
        if (!failed && pass.creating && !pass.capturing && m->state == TG_GRAD_VALID) {
            if (keep_leaf_graph_grad(leaf, m) != 0)
                rc = -1;
        } else {
            m->grad = m->set_aside;
            m->state = m->set_aside_state;
            m->recorded = false;
        }
        m->set_aside = NULL;
        m->set_aside_pass = 0;
    }
    pass.leaves.count = 0;
    pass.creating = pass.capturing = false;
    pass.node = NULL;
    return rc;
}

static void count_first_readers(tg_autograd_meta *m);

/* ---- Gradient buffers (first order) ---------------------------------------------------- */

/* grad (a gradient buffer) set to zero; NULL with an error when it cannot be. */
static tg_tensor *zero_filled(tg_tensor *grad)
{
    if (tg_tensor_is_contiguous(grad)) {
        memset(grad->data, 0, sizeof(float) * (size_t)grad->numel);
        tg_tensor_mark_written(grad);
        return grad;
    }
    return tg_kernel_fill(grad, 0.0f) == 0 ? grad : NULL;
}

/* ---- Gradients zeroed lazily ----------------------------------------------------------- *
 * A view's gradient lies inside its input's (alias_input_grad), and the
 * input's gradient starts from zero. Zeroing all of it first would cost a
 * pass over memory, and each view would then add to its part: a recurrent
 * layer's input projection, seen one step at a time, would be zeroed whole
 * and then read back and written again, step by step. So a fresh input
 * gradient with its own contiguous buffer is zeroed lazily. While the parts
 * its views take first join into one run of elements, each view writes its
 * part as a first contribution (no adding), and the run grows. What lies
 * outside the run is zeroed only when something else reads or adds to the
 * gradient (tg_grad_settle). Once the run covers the whole gradient,
 * nothing is left to zero. */

static bool may_zero_lazily(const tg_autograd_meta *m, const tg_tensor *grad)
{
    return m->node >= 0 && !m->retain_grad && !m->aliased && !m->borrowed && tg_tensor_is_contiguous(grad);
}

void tg_grad_settle(tg_autograd_meta *m)
{
    if (!m->zero_pending)
        return;
    m->zero_pending = false;
    float *data = m->grad->data;
    memset(data, 0, sizeof(float) * (size_t)m->written_begin);
    memset(data + m->written_end, 0, sizeof(float) * (size_t)(m->grad->numel - m->written_end));
    tg_tensor_mark_written(m->grad);
}

/* The gradient of x, an op's input, for a view of it to lie inside: zeroed
 * when it is fresh, or to be zeroed lazily when it may be. */
static tg_tensor *input_grad_for_view(tg_tensor *x)
{
    tg_autograd_meta *m = tg_meta(x);
    if (m->zero_pending)
        return m->grad;
    bool accumulate;
    tg_tensor *grad = tg_grad_target(x, &accumulate);
    if (!grad || accumulate)
        return grad;
    if (!may_zero_lazily(m, grad))
        return zero_filled(grad);
    m->zero_pending = true;
    m->written_begin = m->written_end = 0;
    return grad;
}

/* Whether a view, inside the gradient of m's tensor, is the first to write
 * its part: true when the gradient is zeroed lazily and the part joins the
 * run written so far, which grows by it. Any other part settles the
 * gradient first, and is added to. */
static bool claims_fresh_part(tg_autograd_meta *m, const tg_tensor *view)
{
    if (!m->zero_pending)
        return false;
    int64_t begin = view->data - m->grad->data, end = begin + view->numel;
    bool contiguous = tg_tensor_is_contiguous(view);
    if (contiguous && m->written_begin == m->written_end) {
        m->written_begin = begin;
        m->written_end = end;
    } else if (contiguous && end == m->written_begin) {
        m->written_begin = begin;
    } else if (contiguous && begin == m->written_end) {
        m->written_end = end;
    } else {
        tg_grad_settle(m);
        return false;
    }
    if (m->written_begin == 0 && m->written_end == m->grad->numel)
        m->zero_pending = false; /* written whole */
    return true;
}

/* The gradient of a view output as the same view of its input's gradient,
 * when the op allows it; NULL otherwise (the output gets its own buffer, as
 * it must when retained: tg_grad then shows its own part alone). *fresh
 * says whether the view is the first to write its part. */
static tg_tensor *alias_input_grad(tg_autograd_meta *m, bool *fresh)
{
    *fresh = false;
    if (m->node < 0 || m->retain_grad || tg_reference_mode())
        return NULL;
    const tg_node *node = tg_tape_node(m->node);
    if (!node->grad_view || node->n_in < 1 || !tg_grad_needed(node->in[0]))
        return NULL;
    tg_tensor *input_grad = input_grad_for_view(node->in[0]);
    tg_tensor *view = input_grad ? node->grad_view(node, input_grad) : NULL;
    if (view)
        *fresh = claims_fresh_part(tg_meta(node->in[0]), view);
    return view;
}

tg_tensor *tg_grad_target(tg_tensor *x, bool *accumulate)
{
    tg_autograd_meta *m = tg_meta(x);
    if (!tg_grad_needed(x))
        return NULL;
    bool first = m->state != TG_GRAD_VALID;
    if (pass.creating) {
        tg_error_set("backward of '%s': its rule writes gradients with kernels (tg_grad_target), "
                     "which cannot be recorded; write it with tg_grad_accumulate and ops to "
                     "differentiate it again", pass.node ? pass.node->op->name : "?");
        return NULL;
    }
    if (m->node < 0 && pass.capturing && set_leaf_grad_aside(x, m) != 0)
        return NULL;
    if (m->node < 0)
        m->graph_grad = NULL; /* the own buffer changes: the graph copy is out of date */
    tg_grad_settle(m); /* added to as a whole from here */
    bool fresh_part;
    if (!m->grad && (m->grad = alias_input_grad(m, &fresh_part)) != NULL) {
        m->aliased = true;
        /* The input's gradient is zero, or zeroed lazily outside the parts
         * written first: the view's first writer overwrites its part then. */
        m->state = fresh_part ? TG_GRAD_FRESH : TG_GRAD_VALID;
    }
    if (!m->grad) {
        tg_shape shape = tg_tensor_shape(x);
        bool own = (x->flags & TG_TENSOR_OWNED) && !pass.capturing;
        m->grad = own ? tg_tensor_empty(shape) : tg_empty(shape);
        if (!m->grad)
            return NULL;
        m->state = TG_GRAD_FRESH;
    }
    *accumulate = m->state == TG_GRAD_VALID;
    m->state = TG_GRAD_VALID;
    if (first)
        count_first_readers(m);
    return m->grad;
}

tg_tensor *tg_grad_target_zeroed(tg_tensor *x)
{
    bool accumulate;
    tg_tensor *target = tg_grad_target(x, &accumulate);
    return !target || accumulate ? target : zero_filled(target);
}

/* ---- Recorded gradients (a pass that creates a graph) ------------------------------------ */

/* c brought to `shape` with ops: summed over the axes along which it is
 * larger (x was broadcast in the forward), expanded along those where it
 * is smaller (a formula that reads only a reduced gradient). */
static tg_tensor *sum_to_shape(tg_tensor *c, tg_shape shape)
{
    if (!c || tg_shape_equal(tg_tensor_shape(c), shape))
        return c;
    tg_shape common;
    if (!tg_broadcast_shapes(tg_tensor_shape(c), shape, &common, "backward"))
        return NULL;
    if (!tg_shape_equal(common, tg_tensor_shape(c)))
        c = tg_expand(c, common);
    if (!c || tg_shape_equal(tg_tensor_shape(c), shape))
        return c;
    tg_axes axes = { .n = 0 };
    int lead = c->ndim - shape.ndim;
    for (int d = 0; d < c->ndim; d++)
        if (d < lead || (shape.dim[d - lead] == 1 && c->shape[d] != 1))
            axes.axis[axes.n++] = d;
    tg_tensor *summed = axes.n ? tg_sum(c, axes, true) : c;
    return tg_reshape(summed, shape);
}

/* x's gradient += contribution, recorded. */
static int accumulate_recorded(tg_tensor *x, tg_tensor *contribution)
{
    tg_autograd_meta *m = tg_meta(x);
    if (m->node < 0 && set_leaf_grad_aside(x, m) != 0)
        return -1;
    tg_tensor *c = sum_to_shape(contribution, tg_tensor_shape(x));
    if (c && m->state == TG_GRAD_VALID && m->grad)
        c = tg_add(m->grad, c);
    if (!c)
        return -1;
    m->grad = c;
    m->recorded = true;
    m->state = TG_GRAD_VALID;
    return 0;
}

/* ---- What backward rules call ---------------------------------------------------------- */

int tg_grad_accumulate(tg_tensor *x, tg_tensor *contribution)
{
    if (!tg_grad_needed(x))
        return 0;
    if (!contribution)
        return -1;
    if (pass.creating)
        return accumulate_recorded(x, contribution);
    bool accumulate;
    tg_tensor *target = tg_grad_target(x, &accumulate);
    if (!target)
        return -1;
    /* A contribution of x's shape, or one that broadcasts up to it, is
     * copied in; one larger along axes x was broadcast over is summed. */
    tg_shape common;
    if (!tg_broadcast_shapes(tg_tensor_shape(contribution), tg_tensor_shape(x), &common, "backward"))
        return -1;
    if (tg_shape_equal(common, tg_tensor_shape(x)))
        return tg_kernel_copy(target, contribution, accumulate);
    if (!tg_shape_equal(common, tg_tensor_shape(contribution)))
        contribution = tg_expand(contribution, common);
    return contribution ? tg_kernel_sum_to(target, contribution, 1.0f, accumulate) : -1;
}

/* x's gradient += fn(inputs) evaluated over `shape`, summed down to x's
 * shape when x was broadcast. */
static int map_into_grad(tg_tensor *x, tg_shape shape, int n_in, const tg_tensor *const *inputs, tg_map_fn fn,
                         const float *param)
{
    bool accumulate;
    tg_tensor *target = tg_grad_target(x, &accumulate);
    if (!target)
        return -1;
    if (tg_shape_equal(tg_tensor_shape(x), shape))
        return tg_map("backward", target, n_in, inputs, fn, param, accumulate);
    tg_arena *arena = tg_arena_thread();
    tg_arena_mark mark = tg_arena_get_mark(arena);
    tg_tensor *full = tg_empty(shape);
    int rc = -1;
    if (full && tg_map("backward", full, n_in, inputs, fn, param, false) == 0)
        rc = tg_kernel_sum_to(target, full, 1.0f, accumulate);
    tg_arena_rewind(arena, mark);
    return rc;
}

int tg_grad_map(tg_tensor *x, const tg_tensor *like, int n_in, const tg_tensor *const *inputs,
                tg_map_fn fn, const float *param)
{
    if (!tg_grad_needed(x))
        return 0;
    return map_into_grad(x, tg_tensor_shape(like), n_in, inputs, fn, param);
}

int tg_grad_formula(tg_tensor *x, const tg_formula *formula, tg_tensor *const *inputs, const float *param)
{
    if (!tg_grad_needed(x))
        return 0;
    if (pass.creating)
        return accumulate_recorded(x, formula->with_ops(inputs, param));
    if (tg_reference_mode()) /* unfused: the same formula as separate ops */
        return tg_grad_accumulate(x, formula->with_ops(inputs, param));
    /* The formula's value has the shape its inputs broadcast to. */
    tg_shape shape = tg_tensor_shape(inputs[0]);
    for (int i = 1; i < formula->n_in; i++)
        if (!tg_broadcast_shapes(shape, tg_tensor_shape(inputs[i]), &shape, formula->name))
            return -1;
    return map_into_grad(x, shape, formula->n_in, (const tg_tensor *const *)inputs, formula->row, param);
}

int tg_grad_matmul(tg_tensor *x, tg_tensor *a, tg_tensor *b)
{
    if (!tg_grad_needed(x))
        return 0;
    if (pass.creating)
        return accumulate_recorded(x, tg_matmul(a, b));
    bool accumulate;
    tg_tensor *target = tg_grad_target(x, &accumulate);
    if (!target)
        return -1;
    tg_shape product;
    if (tg_matmul_shape(a, b, &product, "matmul backward") != 0)
        return -1;
    if (tg_shape_equal(product, tg_tensor_shape(x)))
        return tg_kernel_matmul(target, a, b, 1.0f, accumulate ? 1.0f : 0.0f);
    /* x was broadcast over batch axes: the product, summed down. */
    tg_tensor *full = tg_empty(product);
    if (!full || tg_kernel_matmul(full, a, b, 1.0f, 0.0f) != 0)
        return -1;
    return tg_kernel_sum_to(target, full, 1.0f, accumulate);
}

/* Indices start, start + step, ... (count of them) as a float index tensor. */
static tg_tensor *strided_indices(int64_t start, int64_t step, int64_t count)
{
    tg_tensor *index = tg_empty(TG_SHAPE(count));
    for (int64_t i = 0; index && i < count; i++)
        index->data[i] = (float)(start + i * step);
    return index;
}

int tg_grad_slice(tg_tensor *x, int dim, int64_t start, int64_t step, tg_tensor *g)
{
    if (!tg_grad_needed(x))
        return 0;
    if (!g)
        return -1;
    if (pass.creating) {
        /* The part of the gradient placed into zeros, by an index_add. */
        tg_tensor *part = step == 0 ? tg_unsqueeze(g, dim) : g;
        tg_tensor *index = part ? strided_indices(start, step ? step : 1, part->shape[dim]) : NULL;
        return accumulate_recorded(x, tg_index_add(tg_zeros_like(x), dim, index, part));
    }
    tg_tensor *target = tg_grad_target_zeroed(x);
    if (!target)
        return -1;
    tg_tensor part = *target;
    part.data = target->data + start * target->stride[dim];
    part.ext = NULL;
    part.flags = 0;
    if (step == 0) { /* select: the axis is gone */
        for (int k = dim; k < target->ndim - 1; k++) {
            part.shape[k] = target->shape[k + 1];
            part.stride[k] = target->stride[k + 1];
        }
        part.ndim = target->ndim - 1;
    } else {
        part.shape[dim] = g->shape[dim];
        part.stride[dim] = target->stride[dim] * step;
    }
    part.numel = g->numel; /* the part has g's elements, not all of target's */
    return tg_kernel_copy(&part, g, true);
}

int tg_grad_index_add(tg_tensor *x, int dim, tg_tensor *index, tg_tensor *g)
{
    if (!tg_grad_needed(x))
        return 0;
    if (pass.creating)
        return accumulate_recorded(x, tg_index_add(tg_zeros_like(x), dim, index, g));
    tg_tensor *target = tg_grad_target_zeroed(x);
    return target ? tg_kernel_index_add(target, dim, index, g) : -1;
}

int tg_grad_scatter_add(tg_tensor *x, int dim, tg_tensor *index, tg_tensor *g)
{
    if (!tg_grad_needed(x))
        return 0;
    if (pass.creating)
        return accumulate_recorded(x, tg_scatter_add(tg_zeros_like(x), dim, index, g));
    tg_tensor *target = tg_grad_target_zeroed(x);
    return target ? tg_kernel_scatter_add(target, dim, index, g) : -1;
}

/* ---- Lending parts of a gradient -------------------------------------------------------- */

/* Whether x's gradient may be part of the gradient of node's output: x is
 * an intermediate with no gradient buffer yet, neither of the two is
 * retained (a retained gradient is the tensor's own), and part has x's
 * layout. */
static bool may_borrow(const tg_node *node, const tg_tensor *x, const tg_tensor *part)
{
    const tg_autograd_meta *m = tg_meta(x), *lender = tg_meta(node->out);
    return !pass.creating && !tg_reference_mode() && m && m->requires_grad && !m->grad && m->node >= 0 && !m->retain_grad &&
           !lender->retain_grad && !(x->flags & TG_TENSOR_OWNED) && tg_tensor_same_shape(x, part) &&
           tg_tensor_is_contiguous(part);
}

int tg_grad_accumulate_part(tg_node *node, tg_tensor *x, tg_tensor *part)
{
    if (!node || !part || !may_borrow(node, x, part))
        return tg_grad_accumulate(x, part);
    tg_autograd_meta *m = tg_meta(x);
    m->grad = tg_view_alias(part);
    if (!m->grad)
        return -1;
    m->state = TG_GRAD_VALID;
    m->borrowed = true;
    count_first_readers(m);
    tg_grad_hold(tg_meta(node->out)); /* lent: it stays until the reset */
    return 0;
}

/* ---- The lifetime of a gradient buffer ------------------------------------------------- *
 * An intermediate's own gradient buffer goes back to the arena as soon as
 * nothing reads it any more: the gradients still to come, which in an
 * unrolled recurrence have the same sizes step after step, take its
 * memory, so backward holds about one step's gradients at a time, as
 * PyTorch frees them. One count decides it. Its readers:
 *   - the op that made the tensor: its backward rule reads the gradient
 *     (from the first contribution until the rule has run, backward.c);
 *   - each postponed product that reads it (postponed.c);
 *   - a retained gradient (tg_retain_grad): the tensor keeps it;
 *   - a lent gradient: parts of it became its inputs' gradients
 *     (tg_grad_accumulate_part), so it stays until the reset.
 * A buffer that is not the tensor's own is never given back by it: a view
 * inside its input's gradient (aliased) or inside a consumer's (borrowed),
 * a recorded gradient (a graph tensor of a pass that creates a graph), and
 * a leaf's (owned memory). */

static bool owns_buffer(const tg_autograd_meta *m)
{
    return m->node >= 0 && !m->aliased && !m->borrowed && !m->recorded;
}

/* The readers an intermediate's gradient has from its first contribution
 * of a pass on: its op, and the tensor itself when retained. */
static void count_first_readers(tg_autograd_meta *m)
{
    if (m->node >= 0)
        m->readers += 1 + (m->retain_grad ? 1 : 0);
}

void tg_grad_hold(tg_autograd_meta *m) { m->readers++; }

void tg_grad_release(tg_autograd_meta *m)
{
    if (m->readers > 0 && --m->readers == 0 && m->grad && owns_buffer(m) && !tg_reference_mode() &&
        tg_give_back(m->grad))
        m->grad = NULL;
}
