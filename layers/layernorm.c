#include "layers/layernorm.h"

#include <stdlib.h>

#include "autograd/ops.h"
#include "layers/params.h"

tg_layernorm *tg_layernorm_new(tg_model *model, const char *prefix, tg_layernorm_config config)
{
    if (!model)
        return tg_null_input("layernorm_new");
    if (config.eps == 0.0f)
        config.eps = 1e-5f;
    if (config.dim < 1 || !(config.eps > 0.0f)) {
        tg_error_set("layernorm_new: dim %lld must be positive and eps %g positive",
                     (long long)config.dim, (double)config.eps);
        return NULL;
    }
    tg_layernorm *norm = calloc(1, sizeof *norm);
    if (!norm) {
        tg_error_set("layernorm_new: out of memory");
        return NULL;
    }
    norm->config = config;
    const char *names[] = { "weight", "bias" };
    tg_shape shapes[] = { TG_SHAPE(config.dim), TG_SHAPE(config.dim) };
    tg_tensor *params[2] = { NULL, NULL };
    if (tg_layer_add_parameters(model, "layernorm_new", prefix, config.no_affine ? 0 : 2, names,
                                shapes, params) != 0 ||
        tg_model_own(model, norm, free) != 0) {
        free(norm);
        return NULL;
    }
    norm->weight = params[0];
    norm->bias = params[1];
    if (norm->weight)
        tg_tensor_fill_(norm->weight, 1.0f);
    return norm;
}

tg_tensor *tg_layernorm_forward(const tg_layernorm *norm, tg_tensor *x)
{
    if (!norm || !x)
        return tg_null_input("layernorm_forward");
    if (x->ndim < 1 || x->shape[x->ndim - 1] != norm->config.dim) {
        char shape[TG_SHAPE_STR_MAX];
        tg_error_set("layernorm: input %s: the last dimension must be %lld",
                     tg_shape_format(shape, sizeof shape, x), (long long)norm->config.dim);
        return NULL;
    }
    tg_tensor *centred = tg_sub(x, tg_mean(x, TG_AXES(-1), true));
    tg_tensor *variance = tg_mean(tg_square(centred), TG_AXES(-1), true);
    tg_tensor *y = tg_mul(centred, tg_rsqrt(tg_add_scalar(variance, norm->config.eps)));
    if (!norm->weight)
        return y;
    return tg_add(tg_mul(y, norm->weight), norm->bias);
}
