#include "autograd/gradcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/autograd.h"
#include "autograd/kernel.h"
#include "autograd/ops.h"
#include "tensor/view_tracked.h"

/* sum(w * fn(inputs)) in double, without recording; NAN when fn fails. */
static double objective(tg_gradcheck_fn fn, void *user, tg_tensor *const *inputs, const tg_tensor *w)
{
    tg_graph_mark mark = tg_graph_get_mark();
    tg_no_grad_begin();
    tg_tensor *y = fn(inputs, user);
    tg_no_grad_end();
    double total = NAN;
    if (y && y->numel == w->numel) {
        tg_tensor *c = tg_view_contiguous_tracked(y);
        total = 0.0;
        for (int64_t i = 0; c && i < c->numel; i++)
            total += (double)w->data[i] * (double)c->data[i];
    }
    tg_graph_rewind(mark);
    return total;
}

/* Counts one element's comparison into result, keeping the one closest to
 * failing (or failing worst). */
static void compare(tg_gradcheck_result *result, const tg_gradcheck_config *cfg, double *worst_ratio, int k,
                    int64_t i, double analytic, double numeric)
{
    double error = fabs(analytic - numeric);
    double allowed = cfg->atol + cfg->rtol * fabs(numeric);
    double ratio = isnan(error) ? INFINITY : error / allowed;
    result->checked++;
    if (error > result->max_abs_error || isnan(error))
        result->max_abs_error = isnan(error) ? INFINITY : error;
    if (ratio > *worst_ratio) {
        *worst_ratio = ratio;
        result->worst_input = k;
        result->worst_index = i;
        result->analytic = analytic;
        result->numeric = numeric;
    }
    if (!(error <= allowed))
        result->passed = false;
}

static void describe(tg_gradcheck_result *result)
{
    snprintf(result->message, sizeof result->message,
             "%s: %lld elements; worst: input %d element %lld, analytic %.6g vs numeric %.6g",
             result->passed ? "passed" : "FAILED", (long long)result->checked, result->worst_input,
             (long long)result->worst_index, result->analytic, result->numeric);
}

/* config with its defaults filled in, checked; op names the checker. */
static int settings(const tg_gradcheck_config *config, const char *op, tg_gradcheck_config *cfg)
{
    *cfg = config ? *config : (tg_gradcheck_config){ 0 };
    cfg->eps = tg_setting(cfg->eps, 1e-3);
    cfg->atol = tg_setting(cfg->atol, 1e-3);
    cfg->rtol = tg_setting(cfg->rtol, 1e-2);
    if (!(cfg->eps > 0 && isfinite(cfg->eps)) || !(cfg->atol >= 0) || !(cfg->rtol >= 0))
        return tg_error_set("%s: eps = %g, atol = %g, rtol = %g: eps must be positive and the "
                            "tolerances not negative (0 means the default)", op, cfg->eps, cfg->atol,
                            cfg->rtol);
    return 0;
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
    tg_gradcheck_config cfg;
    if (settings(config, "gradcheck", &cfg) != 0)
        return -1;
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
            compare(result, &cfg, &worst_ratio, k, i, analytic[k][i], numeric);
        }
    }
    if (rc == 0)
        describe(result);
    for (int k = 0; analytic && k < n; k++)
        free(analytic[k]);
    free(analytic);
    tg_tensor_free(w);
    tg_graph_rewind(mark);
    return rc;
}

/* ---- Second derivatives ----------------------------------------------------------------- *
 * The variables are the inputs that require a gradient and the weight w of
 * the output; g_k = d sum(w * fn) / d input_k, and the checked function is
 * S = sum_k <g_k, v_k> for fixed random v_k. Its gradient with respect to
 * each variable comes from differentiating the recorded backward (H v, and
 * the backward's dependence on w), against central differences of S, each
 * S computed with a first-order backward. */

typedef struct second_order {
    tg_gradcheck_fn fn;
    void *user;
    tg_tensor *vars[TG_GRAD_MAX_OUTPUTS + 1]; /* the differentiable inputs, then w */
    tg_tensor *v[TG_GRAD_MAX_OUTPUTS];
    int n_inputs, n_vars;                      /* vars[n_vars - 1] is w */
} second_order;

/* The first-order gradients g_k of sum(w * fn) (NULL where none flows). */
static int first_gradients(second_order *so, tg_tensor *const *inputs, bool create, tg_tensor **g)
{
    tg_tensor *y = so->fn(inputs, so->user);
    if (!y)
        return tg_error_occurred() ? -1 : tg_error_set("gradgradcheck: fn returned NULL");
    tg_tensor *w = so->vars[so->n_vars - 1];
    if (!tg_tensor_same_shape(y, w))
        return tg_error_set("gradgradcheck: fn gave outputs of different shapes");
    if (!tg_requires_grad(y)) {
        for (int k = 0; k < so->n_inputs; k++)
            g[k] = NULL;
        return 0;
    }
    return tg_autograd_grad(&y, 1, so->vars, so->n_inputs, g,
                            (tg_grad_config){ .grad_outputs = &w, .create_graph = create, .allow_unused = true });
}

/* S = sum_k <g_k, v_k> as a tensor (NULL when no gradient flows). */
static tg_tensor *contracted(second_order *so, tg_tensor *const *g)
{
    tg_tensor *total = NULL;
    for (int k = 0; k < so->n_inputs; k++) {
        if (!g[k])
            continue;
        tg_tensor *term = tg_sum_all(tg_mul(g[k], so->v[k]));
        total = total ? tg_add(total, term) : term;
    }
    return total;
}

/* S by a first-order backward, in double; NAN on failure. */
static double contracted_value(second_order *so, tg_tensor *const *inputs)
{
    tg_graph_mark mark = tg_graph_get_mark();
    tg_tensor *g[TG_GRAD_MAX_OUTPUTS];
    double total = NAN;
    if (first_gradients(so, inputs, false, g) == 0) {
        total = 0.0;
        for (int k = 0; k < so->n_inputs; k++) {
            tg_tensor *c = g[k] ? tg_view_contiguous_tracked(g[k]) : NULL;
            for (int64_t i = 0; c && i < c->numel; i++)
                total += (double)c->data[i] * (double)so->v[k]->data[i];
        }
    }
    tg_graph_rewind(mark);
    return total;
}

/* dS/d var for every variable, from the recorded backward, into analytic. */
static int second_derivatives(second_order *so, tg_tensor *const *inputs, float **analytic)
{
    tg_tensor *g[TG_GRAD_MAX_OUTPUTS], *d[TG_GRAD_MAX_OUTPUTS + 1] = { 0 };
    if (first_gradients(so, inputs, true, g) != 0)
        return -1;
    tg_tensor *s = contracted(so, g);
    if (s && tg_requires_grad(s) &&
        tg_autograd_grad(&s, 1, so->vars, so->n_vars, d, (tg_grad_config){ .allow_unused = true }) != 0)
        return -1;
    for (int k = 0; k < so->n_vars; k++) {
        if (d[k] && tg_tensor_to_array(d[k], analytic[k]) != 0)
            return -1;
        if (!d[k])
            memset(analytic[k], 0, sizeof(float) * (size_t)so->vars[k]->numel);
    }
    return 0;
}

/* The variables and their random directions; w from the output's shape. */
static int second_order_setup(second_order *so, tg_tensor *const *inputs, int n, uint64_t seed)
{
    tg_graph_mark mark = tg_graph_get_mark();
    tg_tensor *y;
    tg_no_grad_begin();
    y = so->fn(inputs, so->user);
    tg_no_grad_end();
    tg_shape out = y ? tg_tensor_shape(y) : TG_SCALAR;
    tg_graph_rewind(mark);
    if (!y)
        return tg_error_occurred() ? -1 : tg_error_set("gradgradcheck: fn returned NULL");
    tg_rng rng = tg_rng_new(seed);
    for (int k = 0; k < n; k++)
        if (tg_requires_grad(inputs[k])) {
            if (so->n_inputs == TG_GRAD_MAX_OUTPUTS)
                return tg_error_set("gradgradcheck: more than %d inputs require a gradient", TG_GRAD_MAX_OUTPUTS);
            so->vars[so->n_inputs] = inputs[k];
            so->v[so->n_inputs++] = tg_tensor_uniform(tg_tensor_shape(inputs[k]), -1.0f, 1.0f, &rng);
            if (!so->v[so->n_inputs - 1])
                return -1;
        }
    tg_tensor *w = tg_tensor_uniform(out, 0.5f, 1.5f, &rng);
    if (!w || tg_set_requires_grad(w, true) != 0) {
        tg_tensor_free(w);
        return -1;
    }
    so->vars[so->n_inputs] = w;
    so->n_vars = so->n_inputs + 1;
    return 0;
}

int tg_gradgradcheck(tg_gradcheck_fn fn, void *user, tg_tensor *const *inputs, int n,
                     const tg_gradcheck_config *config, tg_gradcheck_result *result)
{
    if (!fn || !inputs || !result || n < 1)
        return tg_error_set("gradgradcheck: needs a function, at least one input and a result");
    tg_gradcheck_config cfg;
    if (check_inputs(inputs, n) != 0 || settings(config, "gradgradcheck", &cfg) != 0)
        return -1;
    memset(result, 0, sizeof *result);
    result->passed = true;
    second_order so = { .fn = fn, .user = user };
    float *analytic[TG_GRAD_MAX_OUTPUTS + 1] = { 0 };
    tg_graph_mark mark = tg_graph_get_mark();
    int rc = second_order_setup(&so, inputs, n, cfg.seed);
    for (int k = 0; rc == 0 && k < so.n_vars; k++)
        if (!(analytic[k] = malloc(sizeof(float) * (size_t)(so.vars[k]->numel + 1))))
            rc = tg_error_set("gradgradcheck: out of memory");
    if (rc == 0)
        rc = second_derivatives(&so, inputs, analytic);
    tg_graph_rewind(mark);

    double worst_ratio = -1.0;
    for (int k = 0; rc == 0 && k < so.n_vars; k++) {
        float *x = so.vars[k]->data;
        for (int64_t i = 0; rc == 0 && i < so.vars[k]->numel; i++) {
            float original = x[i];
            float up = (float)(original + cfg.eps), down = (float)(original - cfg.eps);
            x[i] = up;
            tg_tensor_mark_written(so.vars[k]);
            double s_up = contracted_value(&so, inputs);
            x[i] = down;
            tg_tensor_mark_written(so.vars[k]);
            double s_down = contracted_value(&so, inputs);
            x[i] = original;
            tg_tensor_mark_written(so.vars[k]);
            if ((isnan(s_up) || isnan(s_down)) && tg_error_occurred()) {
                rc = -1;
                break;
            }
            compare(result, &cfg, &worst_ratio, k, i, analytic[k][i], (s_up - s_down) / ((double)up - (double)down));
        }
    }
    if (rc == 0)
        describe(result);
    for (int k = 0; k < so.n_vars; k++)
        free(analytic[k]);
    for (int k = 0; k < so.n_inputs; k++)
        tg_tensor_free(so.v[k]);
    if (so.n_vars)
        tg_tensor_free(so.vars[so.n_vars - 1]);
    return rc;
}
