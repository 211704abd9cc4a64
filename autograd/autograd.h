/*
 * autograd/autograd.h: the tape, backward, and how to add a new op.
 *
 * Who it is for: every user (tapegrad.h includes it), and authors of new
 * ops, whose backward rules written with ops need nothing else. Rules
 * written with raw kernels use the op author's header autograd/kernel.h.
 *
 * Every differentiable op (autograd/ops.h) computes its output with a
 * tensor/ kernel and, when an input requires a gradient and grad mode is
 * on, records a node on this thread's tape. The tape is a list in execution
 * order (a Wengert list): tg_backward walks it once, in reverse, with no
 * recursion and no sorting, so a graph of any depth (a recurrent net
 * unrolled over thousands of steps, a chain of a million ops) is fine.
 *
 * Memory: op outputs, the nodes and all intermediate gradients live in this
 * thread's arena (tensor/arena.h). tg_graph_reset() frees them all at once
 * and keeps the memory for the next step, so a training loop of the form
 *
 *     for (step ...) {
 *         tg_tensor *loss = my_forward(model, batch);   // records the tape
 *         tg_backward(loss);                            // fills leaf grads
 *         my_update(params);                            // optimizer
 *         tg_graph_reset();                             // frees the step
 *     }
 *
 * calls malloc only in its first steps. Leaves (parameters: owned tensors
 * with requires_grad) keep their gradients in owned memory across resets.
 *
 * Carrying state across steps (truncated backpropagation through time):
 * a graph tensor dies at tg_graph_reset, and its history must not be kept.
 * Copy the value into an owned tensor, which also detaches it:
 *
 *     tg_tensor *h_carry = tg_tensor_zeros(TG_SHAPE(B, H));  // once
 *     ...
 *     tg_tensor_copy_(h_carry, h_n);   // each step, before tg_graph_reset
 *
 * (tg_tensor_clone(h_n) does the same into a new owned tensor.)
 *
 * All state here is per thread: two threads train two models
 * independently, each on its own tape and arena.
 */
#ifndef TG_AUTOGRAD_H
#define TG_AUTOGRAD_H

#include <stdbool.h>
#include <stddef.h>

#include "tensor/tensor.h"
#include "tensor/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Gradients of tensors --------------------------------------------------- */

/* Marks a leaf tensor (owned, or a graph tensor made by tg_zeros & co) as
 * needing a gradient. An op's output is not a leaf, and an int64 tensor
 * has no gradient: errors. */
int tg_set_requires_grad(tg_tensor *t, bool requires_grad);
bool tg_requires_grad(const tg_tensor *t);
/* True for tensors not produced by a recorded op. */
bool tg_is_leaf(const tg_tensor *t);
/* Keeps the gradient of an intermediate (non-leaf) tensor readable with
 * tg_grad after backward, like torch's retain_grad. Each backward computes
 * it afresh: unlike a leaf's, it does not add up over backward calls. */
int tg_retain_grad(tg_tensor *t);
/* The gradient accumulated in t by backward: for a leaf, or a tensor whose
 * gradient is retained. NULL when no gradient reached it since the last
 * zero-grad (as PyTorch's None): nothing, not an error, so no message is
 * recorded; an op given that NULL records "<op>: an input is NULL, and no
 * error was recorded before it (...)". Owned by t; do not free. */
tg_tensor *tg_grad(const tg_tensor *t);
/* Forgets t's gradient (tg_grad gives NULL until the next backward); the
 * memory is kept for reuse. */
void tg_zero_grad(tg_tensor *t);

/* ---- Recording ---------------------------------------------------------------- */

/* Grad mode (default on). Off, ops compute without recording. Returns the
 * previous setting. Per thread. */
bool tg_set_grad_enabled(bool enabled);
bool tg_grad_enabled(void);
/* A no-grad scope: begin/end pairs nest. */
void tg_no_grad_begin(void);
void tg_no_grad_end(void);

/* A graph view of t's data with no history: gradients stop here. */
tg_tensor *tg_detach(tg_tensor *t);

/* ---- Backward ----------------------------------------------------------------- */

/* Back-propagates from a one-element tensor (a loss), accumulating into the
 * gradients of every leaf that requires one. Returns 0, or -1 with an
 * error (e.g. loss does not require grad, or anomaly mode found a NaN).
 *
 * A backward uses up the part of the graph it went through, as PyTorch's
 * does: a second backward through the same ops is an error ("... was
 * already used by a backward") unless the first kept the graph with
 * retain_graph (tg_backward_with). Every op refuses to run backward when a
 * tensor it saved was written in place since (tg_tensor_fill_,
 * tg_tensor_copy_, an optimizer step), and backward refuses a tensor from
 * before tg_graph_reset. */
int tg_backward(tg_tensor *loss);
/* Back-propagates from any tensor given the gradient of the objective with
 * respect to it (same shape as out). */
int tg_backward_with_grad(tg_tensor *out, const tg_tensor *grad);

typedef struct tg_backward_config {
    /* The gradient of the objective with respect to out (out's shape); NULL
     * for a one-element out, whose gradient is then 1. */
    const tg_tensor *grad;
    /* Keep the graph usable for another backward through it. */
    bool retain_graph;
    /* Record the backward itself, so that the gradients it computes are
     * graph tensors that can be differentiated again (gradient penalties,
     * Hessian-vector products, to any order). Implies retain_graph. A
     * leaf's gradient is then also kept as a graph tensor: tg_grad gives
     * that one until tg_graph_reset, the leaf's own buffer afterwards
     * (same values). */
    bool create_graph;
} tg_backward_config;

/* tg_backward with settings: tg_backward_with(loss, (tg_backward_config){
 * .retain_graph = true }). */
int tg_backward_with(tg_tensor *out, tg_backward_config config);

/* ---- Gradients as results (torch.autograd.grad) ------------------------------- */

#define TG_GRAD_MAX_OUTPUTS 16

typedef struct tg_grad_config {
    /* grad_outputs[k] is the gradient with respect to outputs[k] (its
     * shape; it may itself have history). NULL, or a NULL entry: the
     * output must have one element, whose gradient is 1. */
    tg_tensor *const *grad_outputs;
    bool retain_graph;  /* as in tg_backward_config */
    bool create_graph;  /* the results are graph tensors with history */
    /* An input that no output depends on gets NULL instead of an error. */
    bool allow_unused;
} tg_grad_config;

/* The gradients of the sum of the outputs (each weighted by its
 * grad_outputs entry) with respect to each input, into grads[i]: graph
 * tensors, valid until tg_graph_reset. Nothing is added to any tensor's
 * own gradient (tg_grad is unchanged). Inputs may be leaves or
 * intermediates that require a gradient. With .create_graph the results
 * can be differentiated again:
 *
 *     // a Hessian-vector product H v of loss(w)
 *     tg_tensor *g;
 *     tg_autograd_grad(&loss, 1, &w, 1, &g, (tg_grad_config){ .create_graph = true });
 *     tg_tensor *hv;
 *     tg_autograd_grad((tg_tensor *[]){ tg_sum_all(tg_mul(g, v)) }, 1, &w, 1, &hv,
 *                      (tg_grad_config){ 0 });
 *
 * Returns 0, or -1 with an error (every grads[i] NULL then). */
int tg_autograd_grad(tg_tensor *const *outputs, int n_outputs, tg_tensor *const *inputs, int n_inputs,
                     tg_tensor **grads, tg_grad_config config);

/* A notice that a leaf's gradient is final, for starting work on it while
 * backward goes on (dist/dist.h starts each bucket's allreduce this way).
 * With a notice set, every backward on this thread calls fn(leaf, ctx)
 * once for each leaf requiring a gradient that a node before the starting
 * point reads, as soon as backward has run that leaf's last reader (the
 * first node of the tape that reads it): nothing is added to its gradient
 * after that in this backward, postponed products included. tg_grad(leaf)
 * is then final for this backward; it is NULL when no gradient flowed to
 * the leaf. Leaves are announced in the order backward finishes them. fn
 * runs with grad mode off and must not record ops or change leaf
 * gradients other than the one it was given. fn NULL (the default) turns
 * the notice off; it costs nothing then. Per thread. */
typedef void (*tg_grad_ready_fn)(tg_tensor *leaf, void *ctx);
void tg_set_grad_ready_notice(tg_grad_ready_fn fn, void *ctx);

/* ---- Splitting a batch between threads ---------------------------------------- */

/*
 * Data parallelism inside one process, for networks whose ops are too small
 * to split: the batch is cut into parts, and each part runs its whole
 * forward and backward (every timestep of a recurrence) on one of the
 * pool's threads (tensor/threads.h), with no hand-over between threads
 * inside it. A recurrent step's products at batch 32 are too small to
 * share; half the batch's whole pass is not.
 *
 *     static int part_step(void *ctx, int part, int parts)
 *     {
 *         batch *b = ctx;
 *         int64_t begin = b->size * part / parts, end = b->size * (part + 1) / parts;
 *         tg_tensor *x = tg_narrow(b->x, 1, begin, end - begin);   // time first
 *         tg_tensor *loss = ... forward of x, mean over the part ...;
 *         loss = tg_mul_scalar(loss, (float)(end - begin) / (float)b->size);
 *         b->loss[part] = loss ? loss->data[0] : 0;  // the part's graph goes when it returns
 *         return loss ? tg_backward(loss) : -1;
 *     }
 *
 *     tg_batch_split *split = tg_batch_split_new(2 * tg_get_num_threads(), 42);
 *     ...
 *     tg_model_zero_grad(model);
 *     if (tg_batch_split_run(split, part_step, &b) != 0) ... tg_error_message() ...
 *     tg_optimizer_step(adam);
 *
 * While a part runs, the gradients of owned leaves (parameters, and tensors
 * made by tg_tensor_* that require a gradient) go to buffers of the part's
 * own. Once every part is done, they are added to the leaves' gradients
 * (tg_grad) in part order, part 0 first, as a tg_backward over the whole
 * batch would accumulate them; a gradient notice set on the calling thread
 * (tg_set_grad_ready_notice) then announces each leaf once, its gradient
 * final. Results depend on the number of parts, never on which threads ran
 * which parts. Parts are handed out as threads come free, so more parts
 * than threads (two per thread) keep a step from waiting for a thread that
 * another program slows down, at the price of smaller products. While a
 * thread runs parts it is bound to a CPU of its own, so that another
 * program keeping a core busy cannot leave two parts sharing the other
 * (tg_parallel_for_bound in tensor/parallel.h); the caller's CPUs come
 * back when the run returns. If a
 * part fails, no leaf's gradient changes and the run
 * fails with the first failing part's error: "batch_split: part 1 of 2:
 * ...".
 *
 * A part runs with the caller's grad mode. It records its own graph, which
 * is freed when fn returns (copy out what you need, like the loss's value).
 * It may read any tensor that nobody writes meanwhile (the caller's graph
 * tensors too), record ops, and run backward (tg_backward,
 * tg_autograd_grad) on its graph. A graph tensor that requires a gradient
 * but was recorded outside the part (by the caller, or by another part)
 * is refused with an error naming the op: pass its value through
 * tg_detach. A part must not write tensors another part reads, call
 * tg_graph_reset, free or change a shared leaf, or draw from a generator
 * other parts use: tg_batch_split_rng gives
 * each part one (dropout uses it inside a part instead of the model's). A
 * split whose parts are all run on one thread (one thread, or a late
 * helper) gives the same result.
 */
typedef struct tg_batch_split tg_batch_split;

/* One part's work: forward and backward of part `part` of `parts`. 0, or
 * -1 with an error set. */
typedef int (*tg_part_fn)(void *ctx, int part, int parts);

/* A split into `parts` (1 to TG_BATCH_SPLIT_MAX_PARTS). Each run draws the
 * parts' generators from a generator seeded with `seed`. NULL with an error
 * when parts is out of range or memory runs out. */
#define TG_BATCH_SPLIT_MAX_PARTS 256
tg_batch_split *tg_batch_split_new(int parts, uint64_t seed);
/* Runs fn for every part, on up to tg_get_num_threads() threads, and adds
 * the parts' leaf gradients to the leaves'. 0, or -1 with an error (also
 * when called from inside a part). */
int tg_batch_split_run(tg_batch_split *split, tg_part_fn fn, void *ctx);
/* The generator of the part running on this thread; NULL outside a part. */
tg_rng *tg_batch_split_rng(void);
/* The generator each run of the split draws its parts' generators from
 * (seeded by tg_batch_split_new). Saved with a checkpoint (the rngs of
 * optim/checkpoint.h), it lets a resumed run give its parts the generators,
 * and so the dropout masks, of an uninterrupted run. NULL, with an error,
 * for a NULL split. */
tg_rng *tg_batch_split_generator(tg_batch_split *split);
/* Frees the split and the parts' gradient buffers. NULL is fine. */
void tg_batch_split_free(tg_batch_split *split);

/* ---- The graph ---------------------------------------------------------------- */

/* Forgets everything recorded on this thread and frees every graph tensor
 * (the arena is reset, its memory kept for reuse). Owned tensors and leaf
 * gradients are untouched. */
void tg_graph_reset(void);
/* Like tg_graph_reset, and returns this thread's graph memory to the system
 * (for the end of a program, or a thread that is done training). */
void tg_graph_release(void);
/* Number of ops on this thread's tape. */
size_t tg_graph_size(void);

/* A point in this thread's graph; rewinding to it forgets every op and
 * graph tensor created after it (for evaluations inside a step that must
 * not grow the graph). Tensors from after the mark become invalid, and so
 * does graph memory that autograd attached after it to older graph
 * tensors: do not rewind past a backward, tg_set_requires_grad or
 * tg_retain_grad that touched graph tensors from before the mark. */
typedef struct tg_graph_mark {
    size_t nodes;
    tg_arena_mark arena;
} tg_graph_mark;

tg_graph_mark tg_graph_get_mark(void);
void tg_graph_rewind(tg_graph_mark mark);

/* ---- Anomaly mode ------------------------------------------------------------- */

/* When on, every op checks its output (forward) and every backward rule
 * the gradients it produced; the first NaN or Inf fails with an error
 * naming the op, the direction and the shapes:
 *     anomaly: forward of 'log' on [3] produced NaN at element 1 of its output [3]
 *     anomaly: backward of 'sqrt' on [2,2] produced Inf at element 1 of the
 *              gradient of input 0 [2,2]
 * The forward check runs in no-grad mode too. The setting is process-wide
 * (every thread). Slow: for debugging. */
void tg_set_anomaly_mode(bool enabled);
bool tg_anomaly_mode(void);

/* ---- Defining a new op -------------------------------------------------------- *
 *
 * An op is a forward function of yours plus a tg_op: its name and its
 * backward rule. The forward computes the output, a new graph tensor, then
 * calls tg_record, which adds a node to the tape when an input needs a
 * gradient. Compute it with ops inside a no-grad scope (only your node is
 * then recorded; tapegrad.h is all you include), or with raw kernels
 * (tensor/kernel.h: tg_map runs a row function of yours over any strides).
 * The backward rule receives the node and the gradient of the op's output,
 * and adds each input's gradient.
 *
 * Writing a backward rule. Write it with ops and give each input its
 * contribution with tg_grad_accumulate (or tg_grad_matmul, tg_grad_slice,
 * tg_grad_index_add, tg_grad_scatter_add, which do the same for a product,
 * a slice, an indexed add or a scatter without a temporary):
 *
 *     // cube(x) = x^3; d/dx = 3 x^2
 *     static int cube_backward(tg_node *node, tg_tensor *grad) {
 *         tg_tensor *x = node->in[0];
 *         return tg_grad_accumulate(x, tg_mul(grad, tg_mul_scalar(tg_square(x), 3.0f)));
 *     }
 *     static const tg_op cube_op = { .name = "cube", .backward = cube_backward,
 *                                    .unread = TG_OP_OUTPUT_UNREAD };
 *
 *     tg_tensor *cube(tg_tensor *x) {
 *         if (tg_check_inputs("cube", 1, &x) != 0) return NULL;
 *         tg_no_grad_begin();
 *         tg_tensor *out = tg_mul(x, tg_square(x));
 *         tg_no_grad_end();
 *         return out && tg_record(&cube_op, out, &x, 1, NULL) == 0 ? out : NULL;
 *     }
 *
 * Such a rule runs twice over: in a first-order backward its ops run
 * unrecorded (grad mode is off), and in a backward with .create_graph (or
 * tg_autograd_grad with it) they are recorded, so the rule's own result can
 * be differentiated again, to any order: check it with tg_gradgradcheck
 * (autograd/gradcheck.h) beside tg_gradcheck. A rule that writes gradient
 * buffers with kernels (tg_grad_target, tg_grad_map: autograd/kernel.h) is
 * faster but first order only: a backward that creates a graph through it
 * fails with an error naming the op. examples/custom_layer.c defines an op
 * the first way and checks both derivatives.
 *
 * What op authors ask:
 *   - May a backward allocate? Yes, graph tensors: any op, tg_empty. They
 *     live in the arena until tg_graph_reset like the forward's, so a
 *     training step still calls malloc zero times; never malloc in a rule.
 *     In first order the memory of `grad` and of what the rule made may be
 *     reused for later gradients once the rule returns, so keep no pointer
 *     to it past the call. What the rule needs from the forward goes in
 *     node->fparam / iparam, or in memory from tg_node_save.
 *   - How do I write into a strided gradient target? With ops you do not:
 *     tg_grad_accumulate adds a contribution of x's shape (or one that
 *     broadcasts to it, summed down) wherever x's gradient lives, and the
 *     tg_grad_slice / index_add / scatter_add forms add to part of it. With
 *     kernels, the buffer from tg_grad_target may be strided (when x is a
 *     view, a slice or a transpose, of a tensor that needs a gradient, it
 *     is the same view of that tensor's gradient): write it with kernels,
 *     which take any strides (tg_map, tg_kernel_copy, ...), never by
 *     indexing ->data as if contiguous; compute into a contiguous graph
 *     tensor first and tg_kernel_copy it in if your loop needs that.
 *   - When must a kernel mark storage written? Whenever it writes the
 *     ->data of a tensor that existed before the write, through anything
 *     but tapegrad's own ops and kernels (which mark for you): an input, a
 *     parameter, a tensor an op saved, a gradient buffer from
 *     tg_grad_target. Call tg_tensor_mark_written(t) (tensor/kernel.h)
 *     after the write: the storage's version changes, so a packed copy of
 *     t kept for fast products is rebuilt and backward refuses a saved
 *     tensor that was written since. A new tensor (tg_empty) filled before
 *     anything has read it, as an op's output before tg_record, needs no
 *     mark. Ops never need one.
 *   - Set tg_op.unread to the inputs (and the output) whose values the rule
 *     never reads, so that writing them in place before backward stays
 *     allowed; every other one is checked.
 */

typedef struct tg_node tg_node;

/* Adds the gradients of node's inputs given grad, the gradient of its
 * output (out's shape). In first order grad is contiguous, valid during
 * the call only (backward then gives its memory back for later gradients,
 * unless the output's gradient is retained or parts of it were lent with
 * tg_grad_accumulate_part), and the rule runs with grad mode off; in a
 * backward that creates a graph, grad is a graph tensor with history and
 * grad mode is on. Returns 0, or -1 with an error. */
typedef int (*tg_backward_fn)(tg_node *node, tg_tensor *grad);

/* For an op whose output is a view of its input 0 (no copy): the same
 * view of input 0's gradient buffer, or NULL when there is none. */
typedef tg_tensor *(*tg_grad_view_fn)(const tg_node *node, tg_tensor *input_grad);

/* In tg_op.unread: the bit of the op's output, and every bit. */
#define TG_OP_OUTPUT_UNREAD (1u << 31)
#define TG_OP_UNREAD_ALL (~0u)

typedef struct tg_op {
    const char *name;
    tg_backward_fn backward;
    /* Bit i set: the backward rule never reads input i's values (only its
     * shape; bit 30 stands for inputs 30 and up), and TG_OP_OUTPUT_UNREAD:
     * nor the output's. Backward refuses to
     * run the op when a tensor it does read was written in place (its
     * storage version changed) since the op was recorded, as PyTorch does;
     * 0, the default, checks every input and the output. */
    unsigned unread;
} tg_op;

#define TG_NODE_PARAMS 4

struct tg_node {
    const tg_op *op;
    tg_tensor *out;
    tg_tensor **in;
    int n_in;
    void *saved;                      /* the op's own context (tg_node_save) */
    float fparam[TG_NODE_PARAMS];     /* small parameters of the op */
    int64_t iparam[TG_NODE_PARAMS];
    /* Optional, for an op whose output is a view of input 0: set it after
     * tg_record, and the output's gradient lives inside input 0's (no
     * buffer, no copy) and backward skips the op. The first rule writing a
     * view's gradient may be told to overwrite it (tg_grad_target): input
     * 0's gradient is zeroed only around the parts its views write first. */
    tg_grad_view_fn grad_view;
};

/* For an op's first lines: 0 when every one of the n inputs is usable;
 * -1 when one is NULL (tg_error_null_input: the error that made it NULL
 * stays first) or is a graph tensor from before tg_graph_reset (an error
 * naming op and the input's position). */
int tg_check_inputs(const char *op, int n, tg_tensor *const *inputs);

/* Records op with output out and its inputs (NULL inputs are allowed and
 * skipped by backward), if grad mode is on and an input requires a gradient;
 * out then requires one too. *node (if node is not NULL) receives the new
 * node, or NULL when nothing was recorded; the node stays valid until
 * tg_graph_reset. In anomaly mode this is also where a forward NaN or Inf
 * is caught. Returns 0, or -1 with an error. */
int tg_record(const tg_op *op, tg_tensor *out, tg_tensor *const *inputs, int n_in, tg_node **node);
/* Zeroed memory for a node's saved context, kept until tg_graph_reset. */
void *tg_node_save(tg_node *node, size_t bytes);

/* ---- What backward rules call ---- *
 * Each adds to the gradient of x, and does nothing (returning 0) when x
 * needs none (tg_grad_needed). Contributions are summed down to x's shape
 * when x was broadcast. */

/* Whether backward wants x's gradient: x requires one and, inside
 * tg_autograd_grad, is an intermediate or one of its inputs. */
bool tg_grad_needed(const tg_tensor *x);
/* Whether the running backward records itself (.create_graph). */
bool tg_grad_creating(void);

/* x's gradient += contribution. */
int tg_grad_accumulate(tg_tensor *x, tg_tensor *contribution);
/* x's gradient += a @ b (one GEMM into the gradient in first order). */
int tg_grad_matmul(tg_tensor *x, tg_tensor *a, tg_tensor *b);
/* x's gradient, along dim, at start, start + step, ... += g (step 0: at
 * start alone, g without the axis dim): the gradient of a slice or a
 * select. */
int tg_grad_slice(tg_tensor *x, int dim, int64_t start, int64_t step, tg_tensor *g);
/* x's gradient += g added at `index` along dim (index_add: the gradient
 * of index_select), or scattered (scatter_add: the gradient of gather). */
int tg_grad_index_add(tg_tensor *x, int dim, tg_tensor *index, tg_tensor *g);
int tg_grad_scatter_add(tg_tensor *x, int dim, tg_tensor *index, tg_tensor *g);

#ifdef __cplusplus
}
#endif

#endif
