/*
 * layers/embedding.h: a lookup table of vectors (torch.nn.Embedding).
 *
 * Parameter, registered in the model under the layer's prefix:
 *   prefix.weight  [count, dim]   initialised from N(0, 1), as PyTorch
 *
 * With a padding index, that row starts at zero, the lookup of that index
 * gives a zero vector, and the row receives a zero gradient, so it stays
 * zero through training (as PyTorch's padding_idx).
 *
 *     tg_embedding *emb = tg_embedding_new(model, "emb", (tg_embedding_config){
 *         .count = 5000, .dim = 64, .use_padding_idx = true, .padding_idx = 0 });
 *     tg_tensor *vectors = tg_embedding_forward(emb, tokens);  // [T, B] -> [T, B, 64]
 */
#ifndef TG_EMBEDDING_H
#define TG_EMBEDDING_H

#include <stdbool.h>
#include <stdint.h>

#include "layers/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tg_embedding_config {
    int64_t count;        /* number of rows (vocabulary size); required */
    int64_t dim;          /* length of each vector; required */
    bool use_padding_idx; /* true: padding_idx is the padding row */
    int64_t padding_idx;  /* in [-count, count); negative counts from the end */
} tg_embedding_config;

typedef struct tg_embedding {
    tg_tensor *weight;   /* [count, dim], owned by the model */
    tg_embedding_config config; /* padding_idx normalised to [0, count) */
} tg_embedding;

/* A new layer owned by the model. NULL with an error when a size is not
 * positive, the padding index is out of range or a parameter name is taken;
 * nothing is registered then. */
tg_embedding *tg_embedding_new(tg_model *model, const char *prefix, tg_embedding_config config);

/* The rows named by `indices` (an int64 tensor, or a float tensor of whole
 * numbers; any shape S) as a graph tensor of shape S + [dim]. NULL with an
 * error naming the first index that is not a whole number in [0, count). */
tg_tensor *tg_embedding_forward(const tg_embedding *embedding, tg_tensor *indices);

#ifdef __cplusplus
}
#endif

#endif
