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
    int64_t deferred_rows; /* rows of products waiting to be added to grad (autograd/deferred.h) */
    uint64_t ready_pass; /* the backward pass that listed this leaf for its notice (grad_ready.c) */
    /* For an op's output: the storage versions of the op's inputs and of
     * the output itself (last) when it was recorded; backward refuses to
     * run the op if one it reads has been written since. */
    const uint64_t *versions;
    tg_grad_state state;
    bool requires_grad;
    bool consumed;     /* its op's backward ran, and the graph was not retained */
    bool retain_grad;
    bool aliased;      /* grad is a view inside the gradient of the op's input */
    bool borrowed;     /* grad is a part of a consumer's output gradient (tg_grad_accumulate_part) */
    bool lent;         /* parts of grad are inputs' gradients: it stays until the reset */
} tg_autograd_meta;

tg_autograd_meta *tg_meta(const tg_tensor *t);
/* Gives m's gradient buffer back to the arena, unless it is not the
 * tensor's own to give: retained, a view inside another gradient (aliased
 * or borrowed), or lent to the inputs of the tensor's op. The caller knows
 * that nothing reads it any more. */
void tg_meta_give_back_grad(tg_autograd_meta *m);

struct tg_node;
/* Anomaly mode's check of the gradient of one of node's inputs: 0, or -1
 * with the report naming the op. */
int tg_anomaly_check_input_grad(const struct tg_node *node, int input);

#endif
