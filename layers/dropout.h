/*
 * layers/dropout.h: dropout (torch.nn.functional.dropout).
 *
 * In training mode (tg_model_set_training) each element is zeroed with
 * probability p and the others are scaled by 1 / (1 - p), so the expected
 * value is unchanged and evaluation needs no rescaling. In evaluation mode,
 * or with p = 0, the input passes through unchanged. The random mask comes
 * from the model's generator, so a seeded model drops the same elements on
 * every run (inside a part of a batch split, from the part's generator:
 * tg_batch_split_rng).
 *
 *     h = tg_dropout(model, h, 0.2f);
 */
#ifndef TG_DROPOUT_H
#define TG_DROPOUT_H

#include "layers/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* x with dropout applied: a graph tensor, or x itself when inactive. p = 1
 * gives zeros. NULL with an error when p is outside [0, 1]. */
tg_tensor *tg_dropout(tg_model *model, tg_tensor *x, float p);

#ifdef __cplusplus
}
#endif

#endif
