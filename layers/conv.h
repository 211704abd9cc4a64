/*
 * layers/conv.h: a 1-d convolution layer (torch.nn.Conv1d), over tg_conv1d.
 *
 * Parameters, registered in the model under the layer's prefix:
 *   prefix.weight  [output, input / groups, kernel]
 *   prefix.bias    [output]        (unless no_bias)
 * Initialised as PyTorch does, from the model's generator: weight and bias
 * from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = input / groups * kernel.
 *
 *     tg_conv1d_layer *conv = tg_conv1d_layer_new(model, "conv",
 *         (tg_conv1d_config){ .input = 16, .output = 32, .kernel = 3, .padding = 1 });
 *     tg_tensor *y = tg_conv1d_layer_forward(conv, x);   // x [N, 16, L] -> [N, 32, L]
 */
#ifndef TG_LAYERS_CONV_H
#define TG_LAYERS_CONV_H

#include <stdbool.h>
#include <stdint.h>

#include "layers/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tg_conv1d_config {
    int64_t input;    /* channels in; required */
    int64_t output;   /* channels out; required */
    int64_t kernel;   /* kernel length; required */
    int64_t stride;   /* default 1 */
    int64_t padding;  /* zeros on both ends; default 0 */
    int64_t dilation; /* default 1 */
    int64_t groups;   /* default 1; divides input and output */
    bool no_bias;     /* true: no bias (torch's bias=False) */
} tg_conv1d_config;

typedef struct tg_conv1d_layer {
    tg_tensor *weight; /* [output, input / groups, kernel], owned by the model */
    tg_tensor *bias;   /* [output], or NULL with no_bias */
    tg_conv1d_config config;
} tg_conv1d_layer;

/* A new layer owned by the model (freed by tg_model_free). NULL with an
 * error when a size is not positive, a setting is negative, groups does not
 * divide the channels, or a parameter name is taken. */
tg_conv1d_layer *tg_conv1d_layer_new(tg_model *model, const char *prefix, tg_conv1d_config config);

/* x [N, input, L] (or [input, L]) -> [N, output, L_out] (tg_conv1d). */
tg_tensor *tg_conv1d_layer_forward(const tg_conv1d_layer *conv, tg_tensor *x);

#ifdef __cplusplus
}
#endif

#endif
