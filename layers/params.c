#include "layers/params.h"

int tg_layer_add_parameters(tg_model *model, const char *op, const char *prefix, int n,
                            const char *const *names, const tg_shape *shapes, tg_tensor **out)
{
    char name[TG_NAME_MAX];
    for (int i = 0; i < n; i++) {
        if (tg_model_join_name(name, prefix, names[i]) != 0)
            return -1;
        if (tg_model_find(model, name))
            return tg_error_set("%s: a parameter named \"%s\" already exists", op, name);
    }
    for (int i = 0; i < n; i++) {
        tg_model_join_name(name, prefix, names[i]);
        if (!(out[i] = tg_model_add_parameter(model, name, shapes[i])))
            return -1;
    }
    return 0;
}

int tg_layer_init_uniform(tg_model *model, tg_tensor *t, float bound)
{
    return tg_tensor_uniform_(t, -bound, bound, tg_model_rng(model));
}
