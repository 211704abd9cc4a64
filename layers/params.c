#include "layers/params.h"
#include "tensor/kernel.h"

#include <stdio.h>

int tg_layer_add_parameters(tg_model *model, const char *op, const char *prefix, int n,
                            const char *const *names, const tg_shape *shapes, tg_tensor **out)
{
    char name[TG_NAME_MAX];
    double floats = 0;
    for (int i = 0; i < n; i++) {
        if (tg_model_join_name(name, prefix, names[i]) != 0)
            return -1;
        if (tg_model_find(model, name))
            return tg_error_set("%s: a parameter named \"%s\" already exists", op, name);
        double numel = 1;
        for (int d = 0; d < shapes[i].ndim; d++)
            numel *= (double)shapes[i].dim[d];
        floats += numel;
    }
    /* Each parameter gets a gradient of its size at the first backward. */
    if (tg_memory_check(op, "the parameters and their gradients",
                        2.0 * floats * (double)sizeof(float)) != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        tg_model_join_name(name, prefix, names[i]);
        bool earlier = tg_error_occurred();
        if (!(out[i] = tg_model_add_parameter(model, name, shapes[i]))) {
            if (earlier)
                return -1;
            /* Name the layer and parameter first, then what failed below. */
            char below[TG_ERROR_MAX];
            snprintf(below, sizeof below, "%s", tg_error_message());
            tg_error_clear();
            return tg_error_set("%s: parameter \"%s\": %s", op, name, below);
        }
    }
    return 0;
}

int tg_layer_init_uniform(tg_model *model, tg_tensor *t, float bound)
{
    return tg_tensor_uniform_(t, -bound, bound, tg_model_rng(model));
}

tg_qweight *tg_layer_quantize_weight(tg_model *model, const tg_tensor *weight, int64_t segment)
{
    for (int i = 0; i < tg_model_parameter_count(model); i++)
        if (tg_model_parameter(model, i) == weight)
            return tg_model_quantize_parameter(model, tg_model_parameter_name(model, i), segment);
    tg_error_set("quantize: a layer's weight is not a parameter of the model it was given");
    return NULL;
}
