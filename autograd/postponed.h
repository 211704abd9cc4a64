/*
 * autograd/postponed.h: weight gradients summed in a few deep products
 * (internal).
 *
 * A weight used at every step of an unrolled recurrence receives one
 * gradient contribution a_t^T b_t per step, each a thin product (a_t has
 * only the batch's rows). Backward rules hand these to tg_postpone_product
 * instead. They are added as one product over many steps' rows, which runs
 * far faster than many thin ones: a chunk of up to 1024 rows as soon as one
 * is full (its rows are then still in cache), the rest when the weight's
 * gradient is next needed (before the backward rule of the op that made
 * the weight, or at the end of backward).
 */
#ifndef TG_POSTPONED_H
#define TG_POSTPONED_H

#include "autograd/autograd.h"
#include "tensor/tensor.h"

/* Postpones x's gradient += a^T b, where x is node's input number `input`,
 * for a [R, O] and b [R, I] (x [O, I]). a and b must stay valid until the
 * flush (graph tensors do). Once x's products hold more rows than one
 * chunk, the oldest chunk is added at once. In anomaly mode adding checks
 * x's gradient and names the node's op. a is a view of the gradient of
 * node's output: the product is one of its readers until it is added
 * (grad.c's count), and it goes back to the arena then if it was the last. */
int tg_postpone_product(const tg_node *node, int input, const tg_tensor *a, const tg_tensor *b);
/* Adds x's postponed products, if any, to its gradient now. */
int tg_postponed_flush(tg_tensor *x);
/* Adds every postponed product. */
int tg_postponed_flush_all(void);
/* Forgets every postponed product (after a failed backward). */
void tg_postponed_discard(void);

#endif
