/* Optimizers and schedules against PyTorch 1.13's values, from the fixtures
 * written by tests/fixtures/generate_optim.py (same configurations). */
#include "optim_support.h"

#include <criterion/parameterized.h>

#include <io/safetensors.h>
#include <optim/schedule.h>

TestSuite(optim_fixtures, .init = tg_test_setup, .fini = optim_fini);

#define STEPS 6

/* ---- Optimizers -------------------------------------------------------- */

static optim_case optim_cases[] = {
    { "sgd", SGD, .sgd = { .lr = 0.1 } },
    { "sgd_momentum", SGD, .sgd = { .lr = 0.05, .momentum = 0.9, .dampening = 0.1,
                                    .weight_decay = 0.01 } },
    { "sgd_nesterov_maximize", SGD, .sgd = { .lr = 0.05, .momentum = 0.8, .nesterov = true,
                                             .weight_decay = 0.1, .maximize = true } },
    { "adam", ADAM, .adam = { .lr = 0.01 } },
    { "adam_amsgrad_decay", ADAM, .adam = { .lr = 0.01, .betas = { 0.8, 0.99 }, .eps = 1e-6,
                                            .weight_decay = 0.1, .amsgrad = true } },
    { "adamw", ADAMW, .adam = { .lr = 0.01, .weight_decay = 0.1 } },
    { "adamw_amsgrad_maximize", ADAMW, .adam = { .lr = 0.02, .amsgrad = true,
                                                 .maximize = true } },
    { "rmsprop", RMSPROP, .rmsprop = { .lr = 0.01 } },
    { "rmsprop_centered_momentum", RMSPROP, .rmsprop = { .lr = 0.01, .alpha = 0.9, .eps = 1e-6,
                                                         .weight_decay = 0.1, .momentum = 0.5,
                                                         .centered = true } },
    { "adagrad", ADAGRAD, .adagrad = { .lr = 0.1 } },
    { "adagrad_decay", ADAGRAD, .adagrad = { .lr = 0.1, .lr_decay = 0.1, .weight_decay = 0.05,
                                             .initial_accumulator_value = 0.2, .eps = 1e-8 } },
};

/* The fixture tensor "<case>/<part>/<param>", or NULL when absent. */
static const tg_tensor *get(const tg_safetensors *file, const char *c, const char *part,
                            const char *param)
{
    char name[256];
    snprintf(name, sizeof name, "%s/%s/%s", c, part, param);
    return tg_safetensors_get(file, name);
}

ParameterizedTestParameters(optim_fixtures, optimizer_matches_pytorch)
{
    return cr_make_param_array(optim_case, optim_cases,
                               sizeof optim_cases / sizeof optim_cases[0]);
}

ParameterizedTest(optim_case *c, optim_fixtures, optimizer_matches_pytorch)
{
    tg_safetensors *file = tg_safetensors_load(optim_fixture("optimizers.safetensors"));
    cr_assert_not_null(file, "%s", tg_error_message());
    tg_model *model = tg_model_new(0);
    const char *names[2] = { "w", "b" };
    tg_tensor *params[2] = { tg_model_add_parameter(model, "w", TG_SHAPE(3, 4)),
                             tg_model_add_parameter(model, "b", TG_SHAPE(4)) };
    for (int k = 0; k < 2; k++)
        cr_assert_eq(tg_tensor_copy_(params[k], get(file, c->name, "init", names[k])), 0, "%s",
                     tg_error_message());
    tg_optimizer *opt = optim_make(c, model);
    cr_assert_not_null(opt, "%s: %s", c->name, tg_error_message());

    for (int t = 1; t <= STEPS; t++) {
        char grad[16], param[16];
        snprintf(grad, sizeof grad, "grad%d", t);
        snprintf(param, sizeof param, "param%d", t);
        for (int k = 0; k < 2; k++)
            optim_set_grad(params[k], get(file, c->name, grad, names[k]));
        cr_assert_eq(tg_optimizer_step(opt), 0, "%s", tg_error_message());
        for (int k = 0; k < 2; k++) {
            const tg_tensor *want = get(file, c->name, param, names[k]);
            cr_assert_not_null(want);
            float expected[12];
            tg_tensor_to_array(want, expected);
            tg_assert_values(params[k], expected, want->numel, 2e-6);
        }
    }

    /* Every state tensor PyTorch keeps, under the same name, and the same
     * moments (PyTorch's SGD keeps no step count, tapegrad always does). */
    char prefix[128];
    int n_prefix = snprintf(prefix, sizeof prefix, "%s/state/", c->name), moments = 0;
    for (int i = 0; i < tg_safetensors_count(file); i++) {
        const char *name = tg_safetensors_name(file, i);
        if (strncmp(name, prefix, (size_t)n_prefix) != 0)
            continue;
        const tg_tensor *want = tg_safetensors_tensor(file, i);
        const tg_tensor *mine = tg_optimizer_state_find(opt, name + n_prefix);
        cr_assert_not_null(mine, "no state called %s", name + n_prefix);
        float expected[12];
        tg_tensor_to_array(want, expected);
        tg_assert_values(mine, expected, want->numel, 2e-6);
        moments += strncmp(name + n_prefix, "step.", 5) != 0;
    }
    cr_assert_eq(tg_optimizer_state_count(opt) - 2, moments);
    tg_optimizer_free(opt);
    tg_model_free(model);
    tg_safetensors_free(file);
}

/* ---- Schedules --------------------------------------------------------- */

typedef struct schedule_case {
    char name[32];
    tg_schedule_config config;
} schedule_case;

static schedule_case schedule_cases[] = {
    { "step", { .kind = TG_SCHEDULE_STEP, .step_size = 3, .gamma = 0.5 } },
    { "multistep", { .kind = TG_SCHEDULE_MULTISTEP, .milestones = { 3, 7 }, .gamma = 0.2 } },
    { "exponential", { .kind = TG_SCHEDULE_EXPONENTIAL, .gamma = 0.9 } },
    { "cosine", { .kind = TG_SCHEDULE_COSINE, .t_max = 10, .eta_min = 0.01 } },
    { "warmup_cosine", { .kind = TG_SCHEDULE_COSINE, .t_max = 10, .warmup_steps = 5,
                         .warmup_start_factor = 0.1 } },
    { "warmup_step", { .kind = TG_SCHEDULE_STEP, .step_size = 2, .gamma = 0.5,
                       .warmup_steps = 3, .warmup_start_factor = 0.25 } },
    { "warmup_exponential", { .kind = TG_SCHEDULE_EXPONENTIAL, .gamma = 0.8, .warmup_steps = 4,
                              .warmup_start_factor = 0.5 } },
    { "plateau_min", { .kind = TG_SCHEDULE_PLATEAU, .patience = 2, .factor = 0.5, .cooldown = 1,
                       .threshold = 0.01 } },
    { "plateau_max_abs", { .kind = TG_SCHEDULE_PLATEAU, .mode_max = true, .patience = 1,
                           .factor = 0.3, .threshold = 0.05, .threshold_abs = true,
                           .min_lr = 0.005 } },
};

/* Parses up to max numbers separated by spaces; returns how many. */
static int parse_numbers(const char *text, double *out, int max)
{
    int n = 0;
    for (char *end; n < max; text = end) {
        double v = strtod(text, &end);
        if (end == text)
            break;
        out[n++] = v;
    }
    return n;
}

ParameterizedTestParameters(optim_fixtures, schedule_matches_pytorch)
{
    return cr_make_param_array(schedule_case, schedule_cases,
                               sizeof schedule_cases / sizeof schedule_cases[0]);
}

ParameterizedTest(schedule_case *c, optim_fixtures, schedule_matches_pytorch)
{
    tg_safetensors *file = tg_safetensors_load(optim_fixture("schedules.safetensors"));
    cr_assert_not_null(file, "%s", tg_error_message());
    char key[64];
    snprintf(key, sizeof key, "lr/%s", c->name);
    double lr[64], metric[64];
    int n = parse_numbers(tg_safetensors_metadata(file, key), lr, 64);
    cr_assert_gt(n, 5, "%s", key);
    snprintf(key, sizeof key, "metrics/%s", c->name);
    const char *metrics = tg_safetensors_metadata(file, key);
    if (metrics)
        cr_assert_eq(parse_numbers(metrics, metric, 64), n);

    tg_model *model = tg_model_new(0);
    tg_model_add_parameter(model, "w", TG_SHAPE(1));
    tg_optimizer *opt = tg_sgd_new(model, (tg_sgd_config){ .lr = 0.1 });
    tg_schedule *s = tg_schedule_new(opt, c->config);
    cr_assert_not_null(s, "%s", tg_error_message());
    for (int e = 0; e < n; e++) {
        if (e > 0)
            cr_assert_eq(metrics ? tg_schedule_step_metric(s, metric[e]) : tg_schedule_step(s),
                         0);
        double got = tg_optimizer_lr(opt);
        cr_assert(fabs(got - lr[e]) <= 1e-13 * lr[e], "%s call %d: %.17g, PyTorch %.17g", c->name,
                  e, got, lr[e]);
    }
    tg_schedule_free(s);
    tg_optimizer_free(opt);
    tg_model_free(model);
    tg_safetensors_free(file);
}
