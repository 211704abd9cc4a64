/*
 * layers/linear.h: a fully connected layer, y = x W^T + b (torch.nn.Linear).
 *
 * Parameters, registered in the model under the layer's prefix:
 *   prefix.weight  [output, input]
 *   prefix.bias    [output]        (unless no_bias)
 * Initialised as PyTorch does, from the model's generator: weight and bias
 * from U(-1/sqrt(input), 1/sqrt(input)).
 *
 *     tg_linear *head = tg_linear_new(model, "head", (tg_linear_config){ .input = 128, .output = 65 });
 *     tg_tensor *logits = tg_linear_forward(head, h);   // h [..., 128] -> [..., 65]
 */
#ifndef TG_LINEAR_H
#define TG_LINEAR_H

#include <stdbool.h>
#include <stdint.h>

#include "layers/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tg_linear_config {
    int64_t input;  /* features in; required */
    int64_t output; /* features out; required */
    bool no_bias;   /* true: no bias (torch's bias=False) */
} tg_linear_config;

typedef struct tg_linear {
    tg_tensor *weight;   /* [output, input], owned by the model; NULL once quantised */
    tg_tensor *bias;     /* [output], or NULL with no_bias */
    tg_qweight *qweight; /* once quantised: the int8 weight, owned by the model; else NULL */
    tg_linear_config config;
} tg_linear;

/* A new layer owned by the model (freed by tg_model_free). NULL with an
 * error when a size is not positive or a parameter name is taken; nothing
 * is registered then. */
tg_linear *tg_linear_new(tg_model *model, const char *prefix, tg_linear_config config);

/* x [..., input] -> [..., output], a graph tensor. Any number of leading
 * axes fold into one matrix product. NULL with an error when x's last axis
 * is not `input`. */
tg_tensor *tg_linear_forward(const tg_linear *linear, tg_tensor *x);

/* Makes the layer an int8 layer for inference (torch.nn.quantized.dynamic.
 * Linear): the weight becomes int8 per output row ("prefix.weight", see
 * tg_model_quantize_parameter), the bias stays float, and
 * tg_linear_forward computes x W^T + b through tg_affine_int8, so it must
 * run under tg_no_grad_begin() when x or the bias requires a gradient.
 * tg_quantize_dynamic (layers/model.h) does this for every layer. 0 (also
 * when quantised already), or -1 with an error, the layer unchanged. */
int tg_linear_quantize(tg_model *model, tg_linear *linear);

#ifdef __cplusplus
}
#endif

#endif
