/*
 * autograd/grad_ready.h: when backward has finished each leaf's gradient
 * (internal; the notice itself is public, autograd/autograd.h).
 *
 * The last node that backward runs for a leaf is the first node of the
 * tape that reads it: before walking, backward lists each leaf at that
 * node (a scan of the tape, done only when a notice is set), and after
 * running a node it announces the leaves listed there. Products postponed
 * for such a leaf (autograd/postponed.h) are added first, so the gradient
 * announced is complete.
 */
#ifndef TG_GRAD_READY_H
#define TG_GRAD_READY_H

#include <stddef.h>
#include <stdint.h>

#include "autograd/autograd.h"

/* Lists the leaves read by the tape's nodes 0..last, each at its first
 * reader, when this thread has a notice. 0, or -1 with an error (out of
 * memory). */
int tg_grad_ready_begin(int64_t last);
/* Backward has run (or skipped) node number `index`: announces the leaves
 * whose last reader it was. 0, or -1 with an error. */
int tg_grad_ready_passed(int64_t index);
/* This thread's notice (its context in *ctx), or NULL when none is set. */
tg_grad_ready_fn tg_grad_ready_notice(void **ctx);
/* Forgets the list (after backward, whether it failed or not). */
void tg_grad_ready_end(void);

#endif
