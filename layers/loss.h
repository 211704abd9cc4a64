/*
 * layers/loss.h: loss functions, as compositions of differentiable ops.
 *
 * Each returns a graph tensor: a 0-d tensor with TG_REDUCTION_MEAN (the
 * default) or TG_REDUCTION_SUM, the per-element losses with
 * TG_REDUCTION_NONE. Gradients reach the input (and, for the regression
 * and binary losses, the target when it requires one). On bad input (shapes that differ, a class index out of
 * range) they return NULL with an error naming the loss and the shapes;
 * given NULL they return NULL silently.
 *
 *     tg_tensor *loss = tg_cross_entropy(logits, targets, NULL);   // mean over the batch
 *     tg_backward(loss);
 */
#ifndef TG_LOSS_H
#define TG_LOSS_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tg_reduction {
    TG_REDUCTION_MEAN = 0, /* default */
    TG_REDUCTION_SUM,
    TG_REDUCTION_NONE,
} tg_reduction;

/* ---- Regression: input and target of the same shape -------------------------- */

/* (input - target)^2 */
tg_tensor *tg_mse_loss(tg_tensor *input, tg_tensor *target, tg_reduction reduction);
/* |input - target|; the gradient at a tie is 0, as PyTorch. */
tg_tensor *tg_l1_loss(tg_tensor *input, tg_tensor *target, tg_reduction reduction);
/* Huber (torch.nn.HuberLoss), d = |input - target|:
 *   0.5 d^2 where d < delta, delta (d - 0.5 delta) elsewhere.
 * delta must be positive. */
tg_tensor *tg_huber_loss(tg_tensor *input, tg_tensor *target, float delta, tg_reduction reduction);

/* ---- Classification over class indices ------------------------------------------- */

typedef struct tg_class_loss_config {
    tg_reduction reduction;
    bool use_ignore_index; /* true: targets equal to ignore_index count for nothing */
    int64_t ignore_index;
    float label_smoothing; /* cross-entropy only, in [0, 1]: default 0 */
} tg_class_loss_config;

/* Cross-entropy of logits [..., C] against class indices target [...] (an
 * int64 tensor, or a float tensor of whole numbers, in [0, C); it gets no
 * gradient). The class axis is the LAST axis,
 * so RNN logits [T, B, C] pair with targets [T, B] directly; for [N, C] this
 * is torch.nn.functional.cross_entropy. Per element:
 *   loss = -(1 - s) log p[target] - (s / C) sum_c log p[c],   p = softmax(logits)
 * with s the label smoothing. Ignored elements give 0, and the mean is over
 * the elements not ignored (NaN when all are, as PyTorch). config may be
 * NULL for the defaults. */
tg_tensor *tg_cross_entropy(tg_tensor *logits, tg_tensor *target, const tg_class_loss_config *config);

/* Negative log-likelihood of log-probabilities [..., C] (e.g. from
 * tg_log_softmax): -log_probs[target], with ignore_index and reduction as
 * tg_cross_entropy; label smoothing must be 0. */
tg_tensor *tg_nll_loss(tg_tensor *log_probs, tg_tensor *target, const tg_class_loss_config *config);

/* ---- Binary classification ----------------------------------------------------------- */

typedef struct tg_bce_config {
    tg_reduction reduction;
    tg_tensor *pos_weight; /* weight of the positive term, broadcast against the last axis
                              (e.g. [C]); NULL for 1 */
} tg_bce_config;

/* Binary cross-entropy of logits against targets in [0, 1] of the same
 * shape, computed stably from the logits (torch's
 * binary_cross_entropy_with_logits), with p the pos_weight:
 *   loss = -p y log σ(x) - (1 - y) log(1 - σ(x))
 *        = (1 - y) x + (1 + (p - 1) y) softplus(-x)
 * config may be NULL for the defaults. */
tg_tensor *tg_bce_with_logits(tg_tensor *logits, tg_tensor *target, const tg_bce_config *config);

#ifdef __cplusplus
}
#endif

#endif
