#include "optim/finite.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>

#include "autograd/autograd.h"

/* Finds t's first element (in row-major order) that is not finite: its
 * position and value. False when every element is finite. */
static bool find_non_finite(const tg_tensor *t, int64_t *at, float *value)
{
    bool contiguous = tg_tensor_is_contiguous(t);
    int64_t index[TG_MAX_DIMS] = { 0 };
    for (int64_t i = 0; i < t->numel; i++) {
        float v = contiguous ? t->data[i] : tg_tensor_get(t, index);
        if (!isfinite(v)) {
            *at = i;
            *value = v;
            return true;
        }
        for (int d = t->ndim - 1; d >= 0 && ++index[d] == t->shape[d]; d--)
            index[d] = 0;
    }
    return false;
}

static const char *kind_of(float value)
{
    return isnan(value) ? "NaN" : value > 0 ? "Inf" : "-Inf";
}

/* Puts "check_finite: step N: " in front of the recorded message. */
static int prefix_recorded_error(int64_t step)
{
    char message[TG_ERROR_MAX];
    snprintf(message, sizeof message, "%s", tg_error_message());
    tg_error_clear();
    return tg_error_set("check_finite: step %" PRId64 ": %s", step, message);
}

int tg_check_finite(const tg_model *model, const tg_tensor *loss, int64_t step)
{
    if (tg_error_occurred())
        return prefix_recorded_error(step);
    if (!model || !loss)
        return tg_error_null_input("check_finite");
    int64_t at;
    float value;
    if (find_non_finite(loss, &at, &value)) {
        if (loss->numel == 1)
            return tg_error_set("check_finite: step %" PRId64 ": the loss is %s", step,
                                kind_of(value));
        return tg_error_set("check_finite: step %" PRId64 ": the loss holds %s at element %" PRId64,
                            step, kind_of(value), at);
    }
    for (int i = 0; i < tg_model_parameter_count(model); i++) {
        const tg_tensor *g = tg_grad(tg_model_parameter(model, i));
        if (!g || !find_non_finite(g, &at, &value))
            continue;
        char shape[TG_SHAPE_STR_MAX];
        return tg_error_set("check_finite: step %" PRId64 ": the gradient of %s %s holds %s at "
                            "element %" PRId64, step, tg_model_parameter_name(model, i),
                            tg_shape_format(shape, sizeof shape, g), kind_of(value), at);
    }
    return 0;
}
