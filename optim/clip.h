/*
 * optim/clip.h: gradient clipping, as torch.nn.utils.clip_grad_norm_ and
 * clip_grad_value_.
 *
 * Exploding gradients are the recurrent network's problem; clipping is one
 * line between backward and the optimizer step:
 *
 *     tg_backward(loss);
 *     float norm = tg_clip_grad_norm(model, 1.0f);   // norm before clipping
 *     tg_optimizer_step(opt);
 *
 * Every function works on the gradients of the model's parameters
 * (tg_grad), skipping parameters whose gradient is NULL, and changes them in
 * place outside the graph. They allocate nothing that outlives the call.
 */
#ifndef TG_CLIP_H
#define TG_CLIP_H

#include "layers/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The norm of all gradients together, as if concatenated into one vector:
 * (sum |g|^p)^(1/p), or max |g| for norm_type INFINITY. 0 when no parameter
 * has a gradient. -1 with an error when norm_type is not positive; -1
 * silently for a NULL model. NaN or Inf gradients give a NaN or Inf norm. */
float tg_grad_norm(const tg_model *model, float norm_type);

/* Scales every gradient by max_norm / (total + 1e-6) when that is below 1,
 * where total is the 2-norm of all gradients together, and returns total
 * (before clipping). A NaN or Inf total is returned, and the gradients are
 * scaled by the resulting NaN or 0, as PyTorch does (check the returned
 * norm to stop a diverging run). -1 with an error when max_norm is negative
 * or NaN; -1 silently for a NULL model. */
float tg_clip_grad_norm(tg_model *model, float max_norm);
/* The same with another norm: norm_type p > 0, or INFINITY for max |g|. */
float tg_clip_grad_norm_p(tg_model *model, float max_norm, float norm_type);

/* Clamps every gradient element into [-clip_value, clip_value]. Returns 0,
 * or -1 with an error when clip_value is negative or NaN (-1 silently for a
 * NULL model). */
int tg_clip_grad_value(tg_model *model, float clip_value);

#ifdef __cplusplus
}
#endif

#endif
