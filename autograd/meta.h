/*
 * autograd/meta.h: what autograd keeps per tensor (internal).
 */
#ifndef TG_META_H
#define TG_META_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor/tensor.h"

typedef enum tg_grad_state {
    TG_GRAD_FRESH, /* the buffer holds nothing yet this backward: treat as zero */
    TG_GRAD_VALID, /* the buffer holds the gradient so far */
} tg_grad_state;

typedef struct tg_autograd_meta {
    tg_tensor_ext ext; /* first: tensor/ sees only this */
    tg_tensor *grad;   /* the tensor's shape, contiguous; owned for owned tensors */
    int64_t node;      /* tape index of the op that made the tensor; -1 for a leaf */
    int64_t postponed_rows; /* rows of products waiting to be added to grad (autograd/postponed.h) */
    uint64_t ready_pass; /* the backward pass that listed this leaf for its notice (grad_ready.c) */
    /* For an op's output: the storage versions of the op's inputs and of
     * the output itself (last) when it was recorded; backward refuses to
     * run the op if one it reads has been written since. */
    const uint64_t *versions;
    /* A leaf's gradient as a graph tensor, after a backward that created a
     * graph (tg_grad gives it while graph_generation is the arena's). */
    tg_tensor *graph_grad;
    unsigned graph_generation;
    /* A leaf's own gradient, set aside while a pass that creates a graph or
     * captures gradients (tg_autograd_grad) gathers one in grad. */
    tg_tensor *set_aside;
    uint64_t set_aside_pass;
    tg_grad_state set_aside_state;
    /* Who still reads this intermediate's own gradient buffer in the
     * running backward (grad.c, "The lifetime of a gradient buffer"). */
    int32_t readers;
    /* While zero_pending, the elements of grad outside [written_begin,
     * written_end) are not zeroed yet: the tensor's views are writing it
     * part by part (grad.c, "Gradients zeroed lazily"). */
    int64_t written_begin, written_end;
    /* For a graph tensor, the batch-split part whose graph it belongs to
     * (autograd/split.h); NULL outside a split. */
    const struct tg_part *part;
    tg_grad_state state;
    bool requires_grad;
    bool recorded;     /* grad is a recorded tensor of a graph-creating pass, not a buffer */
    bool captured;     /* an input of the running tg_autograd_grad */
    bool consumed;     /* its op's backward ran, and the graph was not retained */
    bool retain_grad;
    bool aliased;      /* grad is a view inside the gradient of the op's input */
    bool borrowed;     /* grad is a part of a consumer's output gradient (tg_grad_accumulate_part) */
    bool zero_pending; /* grad is zeroed lazily: see written_begin */
} tg_autograd_meta;

tg_autograd_meta *tg_meta(const tg_tensor *t);

struct tg_node;

/* ---- The tape (tape.c) ---- */

/* Node number i of this thread's tape, and how many there are. */
struct tg_node *tg_tape_node(int64_t i);
size_t tg_tape_count(void);
/* "[2,3], [3]": the shapes of an op's inputs (NULL ones skipped). */
char *tg_format_input_shapes(char *buf, size_t size, tg_tensor *const *inputs, int n);
/* Position of the first NaN or Inf of t in row-major order (its value in
 * *value), or -1. */
int64_t tg_first_non_finite(const tg_tensor *t, float *value);
/* Anomaly mode's report on op: of its output t (input < 0), or of the
 * gradient t of its input number `input`. Returns -1. */
int tg_report_anomaly(const char *op, tg_tensor *const *inputs, int n_in, int input, const tg_tensor *t,
                      int64_t at, float value);

/* ---- The backward pass running on this thread (grad.c) ---- */

/* Starts a pass: `creating` records it (create_graph), `capturing` keeps
 * only the gradients of leaves marked captured (tg_autograd_grad). */
void tg_pass_begin(bool creating, bool capturing);
/* The node whose backward runs now, for messages. */
void tg_pass_at(const struct tg_node *node);
/* Ends the pass. For a creating pass that did not capture, each leaf it
 * reached gets its gradient back in its own buffer, the graph tensor kept
 * beside it (tg_grad gives that one until the reset); for a capturing
 * pass, each captured leaf's gradient goes to `captured` (NULL when none
 * reached it) and the leaf's own is put back. 0, or -1 with an error. */
int tg_pass_end(bool failed);
/* A captured leaf's gradient gathered by the pass, before tg_pass_end. */
tg_tensor *tg_pass_leaf_grad(tg_tensor *leaf);
bool tg_pass_capturing(void);
/* A reader of m's gradient buffer more (a postponed product reading it),
 * and one fewer: at zero the buffer goes back to the arena (grad.c). */
void tg_grad_hold(tg_autograd_meta *m);
void tg_grad_release(tg_autograd_meta *m);
/* m's gradient made whole: what its views left unwritten is zeroed, when
 * it was zeroed lazily. Anything reading m->grad itself calls it first. */
void tg_grad_settle(tg_autograd_meta *m);

/* Anomaly mode's check of the gradient of one of node's inputs: 0, or -1
 * with the report naming the op. */
int tg_anomaly_check_input_grad(const struct tg_node *node, int input);

#endif
