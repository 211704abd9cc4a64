/*
 * layers/attention.h: scaled dot-product attention, and a multi-head
 * attention layer (torch.nn.MultiheadAttention), composed of ops.
 *
 * Masks (float32 or int64) follow one rule here, the rule of
 * tg_masked_fill: a nonzero entry hides that key from that query. (torch.nn.MultiheadAttention's boolean
 * masks mean the same; torch.nn.functional.scaled_dot_product_attention's
 * boolean mask means the opposite, True = attend.) A hidden score becomes
 * the lowest float before the softmax, so a query whose keys are all
 * hidden attends to them evenly instead of producing NaN.
 *
 *     tg_tensor *weights;
 *     tg_tensor *context = tg_scaled_dot_product_attention(q, k, v, mask, &weights);
 *
 *     tg_attention *att = tg_attention_new(model, "att",
 *         (tg_attention_config){ .embed = 64, .heads = 4, .key = 128, .value = 128, .batch_first = true });
 *     tg_tensor *out = tg_attention_forward(att, query, keys, keys, &(tg_attention_masks){
 *         .key_padding = pad }, &weights);
 */
#ifndef TG_ATTENTION_H
#define TG_ATTENTION_H

#include <stdbool.h>
#include <stdint.h>

#include "layers/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* softmax(query key^T / sqrt(D), hiding masked keys) value, over batched
 * matrices: query [..., Lq, D], key [..., Lk, D], value [..., Lk, Dv] (batch
 * axes broadcast) -> [..., Lq, Dv]. mask (or NULL) broadcasts to the scores
 * [..., Lq, Lk]. *weights (if weights is not NULL) receives the attention
 * weights [..., Lq, Lk], a graph tensor with history. NULL with an error
 * naming the shapes when they do not fit. */
tg_tensor *tg_scaled_dot_product_attention(tg_tensor *query, tg_tensor *key, tg_tensor *value,
                                           tg_tensor *mask, tg_tensor **weights);

typedef struct tg_attention_config {
    int64_t embed;    /* query and output features E; required */
    int64_t heads;    /* heads, dividing embed; default 1 */
    int64_t key;      /* key features; default embed */
    int64_t value;    /* value features; default embed */
    bool no_bias;     /* true: no projection biases (torch's bias=False) */
    bool batch_first; /* true: [N, L, features]; default [L, N, features] as torch */
} tg_attention_config;

/* Parameters, named as torch.nn.MultiheadAttention's so that weights move
 * between the two:
 *   prefix.in_proj_weight [3E, E], prefix.in_proj_bias [3E]
 *     when key and value have E features; else
 *   prefix.q_proj_weight [E, E], prefix.k_proj_weight [E, key],
 *   prefix.v_proj_weight [E, value], prefix.in_proj_bias [3E];
 *   prefix.out_proj.weight [E, E], prefix.out_proj.bias [E].
 * Initialised as torch: projection weights Xavier-uniform, out_proj.weight
 * U(-1/sqrt(E), 1/sqrt(E)), biases zero. */
typedef struct tg_attention {
    tg_tensor *in_proj_weight;            /* or NULL when key or value differ from embed */
    tg_tensor *q_proj_weight, *k_proj_weight, *v_proj_weight; /* NULL with in_proj_weight */
    tg_tensor *in_proj_bias;              /* or NULL with no_bias */
    tg_tensor *out_proj_weight, *out_proj_bias;
    tg_attention_config config;
} tg_attention;

/* Which keys each query may not see (nonzero = hidden), either may be NULL. */
typedef struct tg_attention_masks {
    tg_tensor *key_padding; /* [N, Lk]: padded key positions of each sequence */
    tg_tensor *attn;        /* [Lq, Lk], or [N * heads, Lq, Lk] as torch */
} tg_attention_masks;

/* A new layer owned by the model. NULL with an error when a size is not
 * positive, heads does not divide embed, or a name is taken. */
tg_attention *tg_attention_new(tg_model *model, const char *prefix, tg_attention_config config);

/* query [Lq, N, E], key [Lk, N, key], value [Lk, N, value] (or [N, L, ...]
 * with batch_first) -> [Lq, N, E] (or [N, Lq, E]). masks may be NULL.
 * *weights (if weights is not NULL) receives the attention weights averaged
 * over the heads, [N, Lq, Lk]. NULL with an error naming the shapes when
 * they do not fit. */
tg_tensor *tg_attention_forward(const tg_attention *attention, tg_tensor *query, tg_tensor *key,
                                tg_tensor *value, const tg_attention_masks *masks, tg_tensor **weights);

#ifdef __cplusplus
}
#endif

#endif
