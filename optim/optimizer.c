#include "optim/optimizer_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/autograd.h"
#include "tensor/kernel.h"

int tg_optim_check(const char *op, const char *field, double value, double low, double high,
                   bool open)
{
    bool ok = isfinite(value) && value >= low && (open ? value < high : value <= high);
    if (ok)
        return 0;
    return tg_error_set("%s: %s = %g: must be in [%g, %g%s", op, field, value, low, high,
                        open ? ")" : "]");
}

/* Per parameter: 1 (the step count) + n_slots state tensors. */
static int per_param(const tg_optimizer *opt) { return 1 + opt->n_slots; }

tg_tensor *tg_optimizer_slot(const tg_optimizer *opt, int i, int slot)
{
    return opt->state[i * per_param(opt) + 1 + slot];
}

/* Creates the state tensors and their names for parameter i. */
static int create_state(tg_optimizer *opt, const tg_model *model, int i,
                        const char *const *slot_names, const char *op)
{
    const char *param = tg_model_parameter_name(model, i);
    for (int k = 0; k < per_param(opt); k++) {
        int index = i * per_param(opt) + k;
        const char *slot = k == 0 ? "step" : slot_names[k - 1];
        snprintf(opt->state_names[index], TG_OPTIM_NAME_MAX, "%s.%s", slot, param);
        tg_shape shape = k == 0 ? TG_SCALAR : tg_tensor_shape(opt->params[i]);
        opt->state[index] = tg_tensor_zeros(shape);
        if (!opt->state[index])
            return tg_error_set("%s: out of memory for the state of %s", op, param);
    }
    return 0;
}

tg_optimizer *tg_optimizer_create(size_t size, const char *name, const char *op, tg_model *model,
                                  double lr, int n_slots, const char *const *slot_names,
                                  tg_map_fn row, tg_optim_hyper_fn hyper)
{
    if (!model)
        return tg_null_input("optimizer_create");
    if (!isfinite(lr) || lr < 0) {
        tg_error_set("%s: lr = %g: must be a finite value >= 0", op, lr);
        return NULL;
    }
    tg_optimizer *opt = calloc(1, size);
    if (!opt) {
        tg_error_set("%s: out of memory", op);
        return NULL;
    }
    *opt = (tg_optimizer){ .name = name, .lr = lr, .n_slots = n_slots, .row = row, .hyper = hyper };
    int n = tg_model_parameter_count(model);
    size_t n_state = (size_t)n * (size_t)per_param(opt) + 1;
    opt->params = calloc((size_t)n + 1, sizeof *opt->params);
    opt->state = calloc(n_state, sizeof *opt->state);
    opt->state_names = calloc(n_state, sizeof *opt->state_names);
    if (!opt->params || !opt->state || !opt->state_names) {
        tg_optimizer_free(opt);
        tg_error_set("%s: out of memory", op);
        return NULL;
    }
    opt->n_params = n;
    opt->model = model;
    opt->parameters_removed = tg_model_parameters_removed(model);
    for (int i = 0; i < n; i++) {
        opt->params[i] = tg_model_parameter(model, i);
        if (create_state(opt, model, i, slot_names, op) != 0) {
            tg_optimizer_free(opt);
            return NULL;
        }
    }
    return opt;
}

void tg_optimizer_free(tg_optimizer *opt)
{
    if (!opt)
        return;
    if (opt->state)
        for (int i = 0; i < opt->n_params * per_param(opt); i++)
            tg_tensor_free(opt->state[i]);
    free(opt->state);
    free(opt->state_names);
    free(opt->params);
    free(opt);
}

/* 0 while the parameters this optimizer holds are still the model's;
 * -1 with an error naming op once some have left it (and been freed). */
static int check_parameters_live(const tg_optimizer *opt, const char *op)
{
    if (tg_model_parameters_removed(opt->model) == opt->parameters_removed)
        return 0;
    return tg_error_set("%s: %s: the model's parameters changed after this optimizer was made "
                        "(tg_quantize_dynamic freed its float weights): a quantised model does "
                        "not train", op, opt->name);
}

int tg_optimizer_step(tg_optimizer *opt)
{
    if (!opt)
        return tg_error_null_input("optimizer_step");
    if (check_parameters_live(opt, "optimizer_step") != 0)
        return -1;
    for (int i = 0; i < opt->n_params; i++) {
        tg_tensor *p = opt->params[i];
        tg_tensor *g = tg_grad(p);
        if (!g)
            continue;
        /* The count is a float, as PyTorch's state["step"]. */
        float *count = opt->state[i * per_param(opt)]->data;
        *count += 1.0f;
        float hyper[TG_OPTIM_MAX_HYPER];
        opt->hyper(opt, *count, hyper);
        const tg_tensor *inputs[TG_MAP_MAX_INPUTS] = { g };
        for (int k = 0; k < opt->n_slots; k++)
            inputs[1 + k] = tg_optimizer_slot(opt, i, k);
        if (tg_map(opt->name, p, 1 + opt->n_slots, inputs, opt->row, hyper, false) != 0)
            return -1;
    }
    opt->steps++;
    return 0;
}

void tg_optimizer_zero_grad(tg_optimizer *opt)
{
    if (!opt || check_parameters_live(opt, "optimizer_zero_grad") != 0)
        return;
    for (int i = 0; i < opt->n_params; i++)
        tg_zero_grad(opt->params[i]);
}

const char *tg_optimizer_name(const tg_optimizer *opt) { return opt ? opt->name : NULL; }

double tg_optimizer_lr(const tg_optimizer *opt) { return opt ? opt->lr : NAN; }

int tg_optimizer_set_lr(tg_optimizer *opt, double lr)
{
    if (!opt)
        return tg_error_null_input("optimizer_set_lr");
    if (!isfinite(lr) || lr < 0)
        return tg_error_set("%s: lr = %g: must be a finite value >= 0", opt->name, lr);
    opt->lr = lr;
    return 0;
}

int64_t tg_optimizer_steps(const tg_optimizer *opt) { return opt ? opt->steps : -1; }

int tg_optimizer_set_steps(tg_optimizer *opt, int64_t steps)
{
    if (!opt)
        return tg_error_null_input("optimizer_set_steps");
    if (steps < 0)
        return tg_error_set("%s: steps = %lld: must be >= 0", opt->name, (long long)steps);
    opt->steps = steps;
    return 0;
}

int tg_optimizer_parameter_count(const tg_optimizer *opt) { return opt ? opt->n_params : 0; }

tg_tensor *tg_optimizer_parameter(const tg_optimizer *opt, int index)
{
    if (!opt)
        return tg_null_input("optimizer_parameter");
    if (check_parameters_live(opt, "optimizer_parameter") != 0)
        return NULL;
    if (index < 0 || index >= opt->n_params) {
        tg_error_set("%s: parameter %d: out of range [0, %d)", opt->name, index, opt->n_params);
        return NULL;
    }
    return opt->params[index];
}

int tg_optimizer_state_count(const tg_optimizer *opt)
{
    return opt ? opt->n_params * per_param(opt) : 0;
}

/* index in range, else an error. */
static bool state_index_ok(const tg_optimizer *opt, int index)
{
    if (index >= 0 && index < tg_optimizer_state_count(opt))
        return true;
    tg_error_set("%s: state %d: out of range [0, %d)", opt->name, index,
                 tg_optimizer_state_count(opt));
    return false;
}

const char *tg_optimizer_state_name(const tg_optimizer *opt, int index)
{
    return opt && state_index_ok(opt, index) ? opt->state_names[index] : NULL;
}

tg_tensor *tg_optimizer_state_tensor(const tg_optimizer *opt, int index)
{
    return opt && state_index_ok(opt, index) ? opt->state[index] : NULL;
}

tg_tensor *tg_optimizer_state_find(const tg_optimizer *opt, const char *name)
{
    if (!opt || !name)
        return tg_null_input("optimizer_state_find");
    for (int i = 0; i < tg_optimizer_state_count(opt); i++)
        if (strcmp(opt->state_names[i], name) == 0)
            return opt->state[i];
    return NULL;
}
