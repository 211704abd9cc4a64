/*
 * layers/sample.h: drawing a token from a model's scores.
 *
 * For generating text (or any sequence) one token at a time: the logits of
 * the next token, a temperature and a top-k cut give a random draw, or the
 * likeliest token (greedy).
 *
 *     float *last = logits->data + logits->numel - V;        // the last step's V scores
 *     int64_t next = tg_sample_logits(last, V, 0.8f, 10, &rng);
 *     if (next < 0) ...tg_error_message()...
 */
#ifndef TG_SAMPLE_H
#define TG_SAMPLE_H

#include <stdint.h>

#include "tensor/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Draws an index in [0, n) from softmax(logits / temperature) over the
 * top_k largest logits only (every logit at least the k-th largest: ties
 * with it are kept too); top_k 0, or at least n, keeps all n. temperature
 * below 1 sharpens the distribution, above 1 flattens it; temperature 0
 * takes the largest logit (greedy; the first of equal ones) and draws
 * nothing from rng. One uniform number is drawn from rng otherwise.
 * Returns the index, or -1 with an error when logits or rng is NULL, n < 1,
 * temperature is negative or not finite, top_k is negative, or memory runs
 * out. */
int64_t tg_sample_logits(const float *logits, int64_t n, float temperature, int top_k, tg_rng *rng);

#ifdef __cplusplus
}
#endif

#endif
