#include "layers/dropout.h"

#include "autograd/autograd.h"
#include "autograd/ops.h"

/* Inside a part of a batch split, the part's own generator: the parts run
 * at once, and the model's is one. */
static tg_rng *dropout_rng(tg_model *model)
{
    tg_rng *part = tg_batch_split_rng();
    return part ? part : tg_model_rng(model);
}

tg_tensor *tg_dropout(tg_model *model, tg_tensor *x, float p)
{
    if (!model || !x)
        return tg_null_input("dropout");
    if (!(p >= 0.0f && p <= 1.0f)) {
        tg_error_set("dropout: probability %g is outside [0, 1]", (double)p);
        return NULL;
    }
    if (!tg_model_training(model) || p == 0.0f)
        return x;
    if (p == 1.0f)
        return tg_mul_scalar(x, 0.0f);
    tg_tensor *keep = tg_bernoulli(tg_tensor_shape(x), 1.0f - p, dropout_rng(model));
    return tg_mul(x, tg_mul_scalar(keep, 1.0f / (1.0f - p)));
}
