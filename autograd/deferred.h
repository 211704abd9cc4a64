/*
 * autograd/deferred.h: weight gradients summed in one product (internal).
 *
 * A weight used at every step of an unrolled recurrence receives one
 * gradient contribution a_t^T b_t per step, each a thin product (a_t has
 * only the batch's rows). Backward rules hand these to tg_defer_product
 * instead; when the weight's gradient is next needed (before the backward
 * rule of the op that made the weight, or at the end of backward) they are
 * added as one product over all steps' rows, which runs far faster than
 * many thin ones.
 */
#ifndef TG_DEFERRED_H
#define TG_DEFERRED_H

#include "autograd/autograd.h"
#include "tensor/tensor.h"

/* Postpones x's gradient += a^T b, where x is node's input number `input`,
 * for a [R, O] and b [R, I] (x [O, I]). a and b must stay valid until the
 * flush (graph tensors do). In anomaly mode the flush checks x's gradient
 * and names the node's op. */
int tg_defer_product(const tg_node *node, int input, const tg_tensor *a, const tg_tensor *b);
/* Adds x's postponed products, if any, to its gradient now. */
int tg_deferred_flush(tg_tensor *x);
/* Adds every postponed product. */
int tg_deferred_flush_all(void);
/* Products postponed so far (and not yet added). */
size_t tg_deferred_count(void);
/* Whether a product postponed since the count was `since` reads t's memory.
 * Backward asks this of an op's output gradient after the op's backward:
 * only that rule could have postponed a product reading it. */
bool tg_deferred_reads(const tg_tensor *t, size_t since);
/* Forgets every postponed product (after a failed backward). */
void tg_deferred_discard(void);

#endif
