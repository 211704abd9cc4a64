/*
 * layers/layernorm.h: layer normalisation over the last axis
 * (torch.nn.LayerNorm with a one-number normalized_shape).
 *
 *   y = (x - mean) / sqrt(var + eps) * weight + bias
 *
 * where mean and the biased variance are taken over the last axis of x.
 * Parameters, registered under the layer's prefix unless no_affine:
 *   prefix.weight  [dim]   initialised to ones
 *   prefix.bias    [dim]   initialised to zeros
 */
#ifndef TG_LAYERNORM_H
#define TG_LAYERNORM_H

#include <stdbool.h>
#include <stdint.h>

#include "layers/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tg_layernorm_config {
    int64_t dim;    /* size of the last axis; required */
    float eps;      /* added to the variance; default 1e-5 */
    bool no_affine; /* true: no weight and bias (torch's elementwise_affine=False) */
} tg_layernorm_config;

typedef struct tg_layernorm {
    tg_tensor *weight; /* [dim], or NULL with no_affine; owned by the model */
    tg_tensor *bias;   /* [dim], or NULL */
    tg_layernorm_config config; /* eps filled in */
} tg_layernorm;

/* A new layer owned by the model. NULL with an error when dim is not
 * positive, eps is negative or a parameter name is taken. */
tg_layernorm *tg_layernorm_new(tg_model *model, const char *prefix, tg_layernorm_config config);

/* x [..., dim] normalised over its last axis: a graph tensor of x's shape.
 * NULL with an error when x's last axis is not dim. */
tg_tensor *tg_layernorm_forward(const tg_layernorm *norm, tg_tensor *x);

#ifdef __cplusplus
}
#endif

#endif
