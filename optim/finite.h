/*
 * optim/finite.h: stopping a training run whose loss or gradients stopped
 * being finite.
 *
 * A loss that becomes NaN or Inf poisons every parameter at the next
 * optimizer step, and a checkpoint saved after that step keeps the poison.
 * One check between backward and the step stops the run at the first bad
 * step, before anything is changed, with a message that names the step:
 *
 *     tg_tensor *loss = forward(model, batch);
 *     if (tg_backward(loss) != 0 || tg_check_finite(model, loss, step) != 0) {
 *         fprintf(stderr, "%s\n", tg_error_message());  // the last good checkpoint stays
 *         break;
 *     }
 *     tg_optimizer_step(opt);
 *     tg_checkpoint_save(path, &ck);
 *
 * Messages:
 *     check_finite: step 17: the loss is NaN
 *     check_finite: step 17: the gradient of rnn.weight_hh_l0 [32,8] holds Inf at element 5
 * In anomaly mode (autograd/autograd.h) the op that first made a NaN or Inf
 * has already failed the forward or backward pass with a message naming
 * it; the check then keeps that message and puts the step in front:
 *     check_finite: step 17: anomaly: forward of 'log' on [4,1] produced NaN at element 2 of its output [4,1]
 * The same holds for any other error recorded before the check (a bad
 * shape in the forward pass, ...): the message says at which step.
 *
 * The check reads the loss and every gradient once and allocates nothing.
 */
#ifndef TG_FINITE_H
#define TG_FINITE_H

#include <stdint.h>

#include "layers/model.h"
#include "tensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 0 when no error is recorded, every element of loss is finite and so is
 * every gradient of the model's parameters (those without a gradient are
 * skipped). Otherwise -1 with the message above: the recorded error with
 * "check_finite: step N: " in front, or the first non-finite value found.
 * A NULL model or loss without a recorded error returns -1 silently. */
int tg_check_finite(const tg_model *model, const tg_tensor *loss, int64_t step);

#ifdef __cplusplus
}
#endif

#endif
