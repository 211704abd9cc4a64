#include "layers/embedding.h"

#include <stdlib.h>
#include <string.h>

#include "autograd/ops.h"
#include "layers/params.h"
#include "tensor/kernel.h"

tg_embedding *tg_embedding_new(tg_model *model, const char *prefix, tg_embedding_config config)
{
    if (!model)
        return tg_null_input("embedding_new");
    if (config.count < 1 || config.dim < 1) {
        tg_error_set("embedding_new: count %lld and dim %lld must both be positive",
                     (long long)config.count, (long long)config.dim);
        return NULL;
    }
    if (config.use_padding_idx) {
        if (config.padding_idx < -config.count || config.padding_idx >= config.count) {
            tg_error_set("embedding_new: padding_idx %lld is outside [-%lld, %lld)",
                         (long long)config.padding_idx, (long long)config.count,
                         (long long)config.count);
            return NULL;
        }
        if (config.padding_idx < 0)
            config.padding_idx += config.count;
    }
    tg_embedding *embedding = calloc(1, sizeof *embedding);
    if (!embedding) {
        tg_error_set("embedding_new: out of memory");
        return NULL;
    }
    embedding->config = config;
    const char *names[] = { "weight" };
    tg_shape shapes[] = { TG_SHAPE(config.count, config.dim) };
    if (tg_layer_add_parameters(model, "embedding_new", prefix, 1, names, shapes,
                                &embedding->weight) != 0 ||
        tg_model_own(model, embedding, free) != 0) {
        free(embedding);
        return NULL;
    }
    tg_tensor_normal_(embedding->weight, 0.0f, 1.0f, tg_model_rng(model));
    if (config.use_padding_idx)
        memset(embedding->weight->data + config.padding_idx * config.dim, 0,
               sizeof(float) * (size_t)config.dim);
    return embedding;
}

/* [..., 1] for indices [...]: 0 where an index is padding_idx, else 1. The
 * indices are checked whole numbers in range. */
static tg_tensor *padding_mask(tg_tensor *indices, int64_t padding_idx)
{
    tg_tensor *flat = tg_view_contiguous(indices);
    tg_shape shape = tg_tensor_shape(indices);
    shape.dim[shape.ndim++] = 1;
    tg_tensor *keep = tg_empty(shape);
    if (!flat || !keep)
        return NULL;
    for (int64_t i = 0; i < flat->numel; i++) {
        int64_t index = flat->dtype == TG_INT64 ? flat->i64[i] : (int64_t)flat->data[i];
        keep->data[i] = index == padding_idx ? 0.0f : 1.0f;
    }
    return keep;
}

tg_tensor *tg_embedding_forward(const tg_embedding *embedding, tg_tensor *indices)
{
    if (!embedding || !indices)
        return tg_null_input("embedding_forward");
    const tg_embedding_config *config = &embedding->config;
    if (indices->ndim >= TG_MAX_DIMS) {
        tg_error_set("embedding: indices of %d dimensions: at most %d", indices->ndim,
                     TG_MAX_DIMS - 1);
        return NULL;
    }
    if (tg_check_indices(indices, config->count, "embedding") != 0)
        return NULL;
    tg_shape shape = tg_tensor_shape(indices);
    shape.dim[shape.ndim++] = config->dim;
    tg_tensor *rows = tg_index_select(embedding->weight, 0, tg_reshape(indices, TG_SHAPE(-1)));
    tg_tensor *out = tg_reshape(rows, shape);
    if (!config->use_padding_idx)
        return out;
    /* Padding positions read zeros and send no gradient to their row. */
    return tg_mul(out, padding_mask(indices, config->padding_idx));
}
