#include "optim/clip.h"

#include <math.h>

#include "autograd/autograd.h"
#include "tensor/kernel.h"

/* The norm of each gradient, then the norm of those norms, as PyTorch's
 * clip_grad_norm_ (the same value as one norm over all elements). The
 * per-gradient results live in the arena only for this call. */
static float total_norm(const tg_model *model, float p, const char *op)
{
    if (!(p > 0.0f)) {
        tg_error_set("%s: norm_type = %g: must be positive (or INFINITY)", op, p);
        return -1.0f;
    }
    tg_graph_mark mark = tg_graph_get_mark();
    tg_tensor *norm = tg_empty(TG_SCALAR);
    double total = 0.0;
    for (int i = 0; norm && i < tg_model_parameter_count(model); i++) {
        const tg_tensor *g = tg_grad(tg_model_parameter(model, i));
        if (!g)
            continue;
        if (tg_kernel_norm_to(norm, g, p) != 0) {
            norm = NULL;
            break;
        }
        float n = norm->data[0];
        if (isinf(p)) {
            if (isnan(n) || n > total) /* NaN wins, as in torch.max */
                total = n;
        } else {
            total += pow(n, p);
        }
    }
    tg_graph_rewind(mark);
    if (!norm)
        return -1.0f;
    return isinf(p) ? (float)total : (float)pow(total, 1.0 / p);
}

float tg_grad_norm(const tg_model *model, float norm_type)
{
    return model ? total_norm(model, norm_type, "grad_norm") : -1.0f;
}

float tg_clip_grad_norm_p(tg_model *model, float max_norm, float norm_type)
{
    static const char op[] = "clip_grad_norm";
    if (!model)
        return -1.0f;
    if (!(max_norm >= 0.0f)) {
        tg_error_set("%s: max_norm = %g: must be >= 0", op, max_norm);
        return -1.0f;
    }
    float total = total_norm(model, norm_type, op);
    if (total < 0.0f)
        return -1.0f;
    /* In float, as PyTorch computes it from a float tensor. */
    float coef = max_norm / (total + 1e-6f);
    if (coef >= 1.0f)
        return total;
    for (int i = 0; i < tg_model_parameter_count(model); i++) {
        tg_tensor *g = tg_grad(tg_model_parameter(model, i));
        if (g && tg_kernel_scale(g, g, coef, false) != 0)
            return -1.0f;
    }
    return total;
}

float tg_clip_grad_norm(tg_model *model, float max_norm)
{
    return tg_clip_grad_norm_p(model, max_norm, 2.0f);
}

int tg_clip_grad_value(tg_model *model, float clip_value)
{
    if (!model)
        return tg_error_null_input("clip_grad_value");
    if (!(clip_value >= 0.0f))
        return tg_error_set("clip_grad_value: clip_value = %g: must be >= 0", clip_value);
    const float bounds[2] = { -clip_value, clip_value };
    for (int i = 0; i < tg_model_parameter_count(model); i++) {
        tg_tensor *g = tg_grad(tg_model_parameter(model, i));
        if (g && tg_kernel_unary(TG_UNARY_CLAMP, g, g, bounds, false) != 0)
            return -1;
    }
    return 0;
}
