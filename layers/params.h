/*
 * layers/params.h: registering a layer's parameters (internal to layers/).
 */
#ifndef TG_LAYER_PARAMS_H
#define TG_LAYER_PARAMS_H

#include "layers/model.h"

/* Registers n zero-filled parameters "prefix.names[i]" of shapes[i] into
 * out[i]. All or nothing: when a name is taken or too long, nothing is
 * registered and -1 is returned with an error naming `op`. */
int tg_layer_add_parameters(tg_model *model, const char *op, const char *prefix, int n,
                            const char *const *names, const tg_shape *shapes, tg_tensor **out);

/* Replaces the model's float parameter `weight` by its int8 form (see
 * tg_model_quantize_parameter) and returns it; NULL with an error. */
tg_qweight *tg_layer_quantize_weight(tg_model *model, const tg_tensor *weight, int64_t segment);

/* Fills t from U(-bound, bound) with the model's generator. */
int tg_layer_init_uniform(tg_model *model, tg_tensor *t, float bound);

#endif
