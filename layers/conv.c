#include "layers/conv.h"

#include <math.h>
#include <stdlib.h>

#include "autograd/ops.h"
#include "layers/params.h"

tg_conv1d_layer *tg_conv1d_layer_new(tg_model *model, const char *prefix, tg_conv1d_config config)
{
    if (!model)
        return tg_null_input("conv1d_new");
    tg_conv1d_config c = config;
    c.groups = c.groups ? c.groups : 1;
    if (c.input < 1 || c.output < 1 || c.kernel < 1 || c.stride < 0 || c.padding < 0 || c.dilation < 0 ||
        c.groups < 1 || c.input % c.groups != 0 || c.output % c.groups != 0) {
        tg_error_set("conv1d_new: input %lld, output %lld, kernel %lld, stride %lld, padding %lld, dilation "
                     "%lld, groups %lld: sizes must be positive, settings not negative, and groups must "
                     "divide input and output",
                     (long long)config.input, (long long)config.output, (long long)config.kernel,
                     (long long)config.stride, (long long)config.padding, (long long)config.dilation,
                     (long long)config.groups);
        return NULL;
    }
    tg_conv1d_layer *conv = calloc(1, sizeof *conv);
    if (!conv) {
        tg_error_set("conv1d_new: out of memory");
        return NULL;
    }
    conv->config = c;
    const char *names[] = { "weight", "bias" };
    tg_shape shapes[] = { TG_SHAPE(c.output, c.input / c.groups, c.kernel), TG_SHAPE(c.output) };
    tg_tensor *params[2] = { NULL, NULL };
    if (tg_layer_add_parameters(model, "conv1d_new", prefix, c.no_bias ? 1 : 2, names, shapes, params) != 0 ||
        tg_model_own(model, conv, free) != 0) {
        free(conv);
        return NULL;
    }
    conv->weight = params[0];
    conv->bias = params[1];
    float bound = 1.0f / sqrtf((float)(c.input / c.groups * c.kernel));
    tg_layer_init_uniform(model, conv->weight, bound);
    if (conv->bias)
        tg_layer_init_uniform(model, conv->bias, bound);
    return conv;
}

tg_tensor *tg_conv1d_layer_forward(const tg_conv1d_layer *conv, tg_tensor *x)
{
    if (!conv || !x)
        return tg_null_input("conv1d_forward");
    const tg_conv1d_config *c = &conv->config;
    return tg_conv1d(x, conv->weight, conv->bias,
                     (tg_conv1d_options){ .stride = c->stride, .padding = c->padding, .dilation = c->dilation,
                                          .groups = c->groups });
}
