#include "autograd/gradcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/autograd.h"

/* sum(w * fn(inputs)) in double, without recording; NAN when fn fails. */
static double objective(tg_gradcheck_fn fn, void *user, tg_tensor *const *inputs, const tg_tensor *w)
{
    tg_graph_mark mark = tg_graph_get_mark();
    tg_no_grad_begin();
    tg_tensor *y = fn(inputs, user);
    tg_no_grad_end();
    double total = NAN;
    if (y && y->numel == w->numel) {
        tg_tensor *c = tg_view_contiguous(y);
        total = 0.0;
        for (int64_t i = 0; c && i < c->numel; i++)
            total += (double)w->data[i] * (double)c->data[i];
    }
    tg_graph_rewind(mark);
    return total;
}

static int check_inputs(tg_tensor *const *inputs, int n)
{
    for (int k = 0; k < n; k++) {
        if (!inputs[k])
            return tg_error_set("gradcheck: input %d is NULL", k);
        if (!tg_is_leaf(inputs[k]) || !tg_tensor_is_contiguous(inputs[k]))
            return tg_error_set("gradcheck: input %d must be a contiguous leaf tensor (let fn make "
                                "views of it)", k);
    }
    return 0;
}

/* Backward of sum(w * fn(inputs)); copies each checked input's gradient
 * into analytic[k] (zeros where none arrived). */
static int analytic_gradients(tg_gradcheck_fn fn, void *user, tg_tensor *const *inputs, int n,
                              uint64_t seed, tg_tensor **w_out, float **analytic)
{
    tg_tensor *y = fn(inputs, user);
    if (!y) {
        if (!tg_error_occurred())
            tg_error_set("gradcheck: fn returned NULL");
        return -1;
    }
    tg_rng rng = tg_rng_new(seed);
    tg_tensor *w = tg_tensor_uniform(tg_tensor_shape(y), 0.5f, 1.5f, &rng);
    if (!w)
        return -1;
    *w_out = w;
    if (tg_requires_grad(y) && tg_backward_with_grad(y, w) != 0)
        return -1;
    for (int k = 0; k < n; k++) {
        if (!tg_requires_grad(inputs[k]))
            continue;
        const tg_tensor *g = tg_grad(inputs[k]);
        if (g)
            memcpy(analytic[k], g->data, sizeof(float) * (size_t)g->numel);
        else
            memset(analytic[k], 0, sizeof(float) * (size_t)inputs[k]->numel);
    }
    return 0;
}

int tg_gradcheck(tg_gradcheck_fn fn, void *user, tg_tensor *const *inputs, int n,
                 const tg_gradcheck_config *config, tg_gradcheck_result *result)
{
    if (!fn || !inputs || !result || n < 1)
        return tg_error_set("gradcheck: needs a function, at least one input and a result");
    if (check_inputs(inputs, n) != 0)
        return -1;
    tg_gradcheck_config cfg = config ? *config : (tg_gradcheck_config){ 0 };
    cfg.eps = tg_setting(cfg.eps, 1e-3);
    cfg.atol = tg_setting(cfg.atol, 1e-3);
    cfg.rtol = tg_setting(cfg.rtol, 1e-2);
    if (!(cfg.eps > 0 && isfinite(cfg.eps)) || !(cfg.atol >= 0) || !(cfg.rtol >= 0))
        return tg_error_set("gradcheck: eps = %g, atol = %g, rtol = %g: eps must be positive and "
                            "the tolerances not negative (0 means the default)", cfg.eps,
                            cfg.atol, cfg.rtol);
    memset(result, 0, sizeof *result);
    result->passed = true;

    /* Gradient buffers are made before the mark so they outlive the rewind. */
    for (int k = 0; k < n; k++) {
        bool accumulate;
        if (tg_requires_grad(inputs[k]) && !tg_grad_target(inputs[k], &accumulate))
            return -1;
        tg_zero_grad(inputs[k]);
    }
    tg_graph_mark mark = tg_graph_get_mark();
    float **analytic = calloc((size_t)n, sizeof *analytic);
    tg_tensor *w = NULL;
    int rc = analytic ? 0 : tg_error_set("gradcheck: out of memory");
    for (int k = 0; rc == 0 && k < n; k++)
        if (!(analytic[k] = malloc(sizeof(float) * (size_t)(inputs[k]->numel + 1))))
            rc = tg_error_set("gradcheck: out of memory");
    if (rc == 0)
        rc = analytic_gradients(fn, user, inputs, n, cfg.seed, &w, analytic);

    double worst_ratio = -1.0;
    for (int k = 0; rc == 0 && k < n; k++) {
        if (!tg_requires_grad(inputs[k]))
            continue;
        float *x = inputs[k]->data;
        for (int64_t i = 0; rc == 0 && i < inputs[k]->numel; i++) {
            /* Each write is announced, so that nothing derived from the
             * input (a packed copy of a weight) outlives its old value. */
            float original = x[i];
            float up = (float)(original + cfg.eps), down = (float)(original - cfg.eps);
            x[i] = up;
            tg_tensor_mark_written(inputs[k]);
            double f_up = objective(fn, user, inputs, w);
            x[i] = down;
            tg_tensor_mark_written(inputs[k]);
            double f_down = objective(fn, user, inputs, w);
            x[i] = original;
            tg_tensor_mark_written(inputs[k]);
            if (isnan(f_up) || isnan(f_down)) {
                if (tg_error_occurred()) {
                    rc = -1;
                    break;
                }
            }
            double numeric = (f_up - f_down) / ((double)up - (double)down);
            double a = analytic[k][i], error = fabs(a - numeric);
            double allowed = cfg.atol + cfg.rtol * fabs(numeric);
            double ratio = isnan(error) ? INFINITY : error / allowed;
            result->checked++;
            if (error > result->max_abs_error || isnan(error))
                result->max_abs_error = isnan(error) ? INFINITY : error;
            if (ratio > worst_ratio) {
                worst_ratio = ratio;
                result->worst_input = k;
                result->worst_index = i;
                result->analytic = a;
                result->numeric = numeric;
            }
            if (!(error <= allowed))
                result->passed = false;
        }
    }
    if (rc == 0)
        snprintf(result->message, sizeof result->message,
                 "%s: %lld elements; worst: input %d element %lld, analytic %.6g vs numeric %.6g",
                 result->passed ? "passed" : "FAILED", (long long)result->checked,
                 result->worst_input, (long long)result->worst_index, result->analytic,
                 result->numeric);
    for (int k = 0; analytic && k < n; k++)
        free(analytic[k]);
    free(analytic);
    tg_tensor_free(w);
    tg_graph_rewind(mark);
    return rc;
}
