#include "layers/linear.h"

#include <math.h>
#include <stdlib.h>

#include "autograd/ops.h"
#include "layers/params.h"

static int quantize(tg_model *model, void *linear) { return tg_linear_quantize(model, linear); }

tg_linear *tg_linear_new(tg_model *model, const char *prefix, tg_linear_config config)
{
    if (!model)
        return tg_null_input("linear_new");
    if (config.input < 1 || config.output < 1) {
        tg_error_set("linear_new: input %lld and output %lld must both be positive",
                     (long long)config.input, (long long)config.output);
        return NULL;
    }
    tg_linear *linear = calloc(1, sizeof *linear);
    if (!linear) {
        tg_error_set("linear_new: out of memory");
        return NULL;
    }
    linear->config = config;
    const char *names[] = { "weight", "bias" };
    tg_shape shapes[] = { TG_SHAPE(config.output, config.input), TG_SHAPE(config.output) };
    tg_tensor *params[2] = { NULL, NULL };
    if (tg_layer_add_parameters(model, "linear_new", prefix, config.no_bias ? 1 : 2, names, shapes,
                                params) != 0 ||
        tg_model_own_quantizable(model, linear, free, quantize) != 0) {
        free(linear);
        return NULL;
    }
    linear->weight = params[0];
    linear->bias = params[1];
    float bound = 1.0f / sqrtf((float)config.input);
    tg_layer_init_uniform(model, linear->weight, bound);
    if (linear->bias)
        tg_layer_init_uniform(model, linear->bias, bound);
    return linear;
}

tg_tensor *tg_linear_forward(const tg_linear *linear, tg_tensor *x)
{
    if (!linear || !x)
        return tg_null_input("linear_forward");
    if (x->ndim < 1 || x->shape[x->ndim - 1] != linear->config.input) {
        char shape[TG_SHAPE_STR_MAX];
        tg_error_set("linear: input %s: the last dimension must be %lld",
                     tg_shape_format(shape, sizeof shape, x), (long long)linear->config.input);
        return NULL;
    }
    if (linear->qweight)
        return tg_affine_int8(x, linear->qweight, linear->bias);
    return tg_affine(x, linear->weight, linear->bias);
}

int tg_linear_quantize(tg_model *model, tg_linear *linear)
{
    if (!model || !linear)
        return tg_error_null_input("linear_quantize");
    if (linear->qweight)
        return 0;
    linear->qweight = tg_layer_quantize_weight(model, linear->weight, 0);
    if (!linear->qweight)
        return -1;
    linear->weight = NULL;
    return 0;
}
