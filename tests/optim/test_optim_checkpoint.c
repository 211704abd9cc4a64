/* Checkpoints: a run stopped and resumed ends bit-identical to a run that
 * never stopped; a failed load changes nothing; the file holds what the
 * header says. */
#include "optim_support.h"

#include <criterion/parameterized.h>

#include <io/safetensors.h>
#include <layers/dropout.h>
#include <optim/checkpoint.h>
#include <optim/clip.h>

TestSuite(optim_checkpoint, .init = optim_setup, .fini = optim_teardown);

enum { SAMPLES = 64, INPUTS = 4, HIDDEN = 16, BATCH = 16 };

/* A training run: everything that must survive a restart. */
typedef struct run {
    tg_model *model;
    tg_optimizer *opt;
    tg_schedule *sched;
    tg_rng data_rng;
    tg_tensor *x, *y; /* the data set, the same in every run */
} run;

typedef struct run_config {
    char name[16];
    bool adam; /* else SGD with Nesterov momentum */
    tg_schedule_config schedule;
} run_config;

static run_config configs[] = {
    { "adam_cosine", true,
      { .kind = TG_SCHEDULE_COSINE, .t_max = 30, .warmup_steps = 5, .eta_min = 1e-4 } },
    { "sgd_plateau", false,
      { .kind = TG_SCHEDULE_PLATEAU, .patience = 1, .factor = 0.5, .cooldown = 1 } },
};

/* A run whose generators start from `seed`: different seeds give
 * different initial weights, batch orders, dropout masks and noise. */
static run start(const run_config *c, uint64_t seed)
{
    run r = { .model = tg_model_new(seed), .data_rng = tg_rng_new(seed + 1) };
    tg_manual_seed(seed + 2);
    tg_rng *init = tg_model_rng(r.model);
    tg_tensor_normal_(tg_model_add_parameter(r.model, "fc1.weight", TG_SHAPE(HIDDEN, INPUTS)), 0,
                      0.5f, init);
    tg_model_add_parameter(r.model, "fc1.bias", TG_SHAPE(HIDDEN));
    tg_tensor_normal_(tg_model_add_parameter(r.model, "fc2.weight", TG_SHAPE(1, HIDDEN)), 0, 0.5f,
                      init);
    tg_model_add_parameter(r.model, "fc2.bias", TG_SHAPE(1));
    r.opt = c->adam ? tg_adam_new(r.model, (tg_adam_config){ .lr = 0.01, .amsgrad = true })
                    : tg_sgd_new(r.model, (tg_sgd_config){ .lr = 0.05, .momentum = 0.9,
                                                          .nesterov = true });
    r.sched = tg_schedule_new(r.opt, c->schedule);
    cr_assert_not_null(r.sched, "%s", tg_error_message());
    tg_rng data = tg_rng_new(99);
    r.x = tg_tensor_randn(TG_SHAPE(SAMPLES, INPUTS), &data);
    r.y = tg_tensor_clone(tg_sin(tg_sum(r.x, TG_AXES(1), true)));
    return r;
}

static void stop(run *r)
{
    tg_schedule_free(r->sched);
    tg_optimizer_free(r->opt);
    tg_model_free(r->model);
    tg_tensor_free(r->x);
    tg_tensor_free(r->y);
}

/* One step: a random batch (data_rng), input noise (the default
 * generator), dropout (the model's generator), clipping, the optimizer and
 * the schedule. */
static void train_step(run *r)
{
    float index[BATCH];
    for (int i = 0; i < BATCH; i++)
        index[i] = (float)tg_rng_below(&r->data_rng, SAMPLES);
    tg_tensor *rows = tg_from_array(TG_SHAPE(BATCH), index);
    tg_tensor *x = tg_add(tg_index_select(r->x, 0, rows),
                          tg_mul_scalar(tg_randn(TG_SHAPE(BATCH, INPUTS), tg_rng_default()), 0.1f));
    tg_model *m = r->model;
    tg_tensor *h = tg_tanh(tg_affine(x, tg_model_find(m, "fc1.weight"), tg_model_find(m, "fc1.bias")));
    h = tg_dropout(m, h, 0.2f);
    tg_tensor *out = tg_affine(h, tg_model_find(m, "fc2.weight"), tg_model_find(m, "fc2.bias"));
    tg_tensor *loss = tg_mean_all(tg_square(tg_sub(out, tg_index_select(r->y, 0, rows))));
    cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
    tg_clip_grad_norm(m, 0.5f);
    cr_assert_eq(tg_optimizer_step(r->opt), 0);
    tg_optimizer_zero_grad(r->opt);
    cr_assert_eq(tg_schedule_step_metric(r->sched, tg_tensor_item(loss)), 0);
    tg_graph_reset();
}

static tg_checkpoint checkpoint_of(run *r, int64_t step)
{
    return (tg_checkpoint){ .model = r->model, .optimizer = r->opt, .schedule = r->sched,
                            .step = step, .epoch = step / 4,
                            .rngs = { { "data", &r->data_rng } } };
}

static void assert_same_tensor(const tg_tensor *a, const tg_tensor *b, const char *name)
{
    cr_assert(tg_tensor_same_shape(a, b), "%s: shapes differ", name);
    cr_assert(memcmp(a->data, b->data, sizeof(float) * (size_t)a->numel) == 0,
              "%s differs", name);
}

ParameterizedTestParameters(optim_checkpoint, resumed_run_is_bit_identical)
{
    return cr_make_param_array(run_config, configs, sizeof configs / sizeof configs[0]);
}

ParameterizedTest(run_config *c, optim_checkpoint, resumed_run_is_bit_identical)
{
    const int n = 17, m = 23;
    const char *path = optim_path("run.ckpt");

    run whole = start(c, 1);
    for (int step = 0; step < n + m; step++)
        train_step(&whole);

    run first = start(c, 1);
    for (int step = 0; step < n; step++)
        train_step(&first);
    tg_checkpoint ck = checkpoint_of(&first, n);
    cr_assert_eq(tg_checkpoint_save(path, &ck), 0, "%s", tg_error_message());
    stop(&first);

    /* A new process in all but name: other seeds everywhere, then the load. */
    run resumed = start(c, 777);
    ck = checkpoint_of(&resumed, 0);
    cr_assert_eq(tg_checkpoint_load(path, &ck), 0, "%s", tg_error_message());
    cr_assert_eq(ck.step, n);
    cr_assert_eq(ck.epoch, n / 4);
    for (int64_t step = ck.step; step < n + m; step++)
        train_step(&resumed);

    for (int i = 0; i < tg_model_parameter_count(whole.model); i++)
        assert_same_tensor(tg_model_parameter(resumed.model, i), tg_model_parameter(whole.model, i),
                           tg_model_parameter_name(whole.model, i));
    for (int i = 0; i < tg_optimizer_state_count(whole.opt); i++)
        assert_same_tensor(tg_optimizer_state_tensor(resumed.opt, i),
                           tg_optimizer_state_tensor(whole.opt, i),
                           tg_optimizer_state_name(whole.opt, i));
    cr_assert_eq(tg_optimizer_lr(resumed.opt), tg_optimizer_lr(whole.opt));
    cr_assert_eq(tg_optimizer_steps(resumed.opt), n + m);
    cr_assert_eq(tg_schedule_epoch(resumed.sched), n + m);
    cr_assert(memcmp(&resumed.data_rng, &whole.data_rng, sizeof(tg_rng)) == 0);
    /* And training did move the weights: the comparison is not vacuous. */
    run fresh = start(c, 1);
    cr_assert(memcmp(tg_model_parameter(fresh.model, 0)->data,
                     tg_model_parameter(whole.model, 0)->data, sizeof(float) * HIDDEN * INPUTS) != 0);
    stop(&fresh);
    stop(&whole);
    stop(&resumed);
}

Test(optim_checkpoint, a_run_resumed_without_the_data_generator_diverges)
{
    /* The counter-test of the above: restoring everything but the batch
     * order gives different weights, so bit-identity needs every piece. */
    const char *path = optim_path("run.ckpt");
    run whole = start(&configs[0], 1), first = start(&configs[0], 1);
    for (int step = 0; step < 10; step++) {
        train_step(&whole);
        if (step < 5)
            train_step(&first);
    }
    tg_checkpoint ck = checkpoint_of(&first, 5);
    cr_assert_eq(tg_checkpoint_save(path, &ck), 0, "%s", tg_error_message());
    run resumed = start(&configs[0], 777);
    ck = (tg_checkpoint){ .model = resumed.model, .optimizer = resumed.opt,
                          .schedule = resumed.sched };
    cr_assert_eq(tg_checkpoint_load(path, &ck), 0, "%s", tg_error_message());
    for (int step = 5; step < 10; step++)
        train_step(&resumed);
    cr_assert(memcmp(tg_model_parameter(resumed.model, 0)->data,
                     tg_model_parameter(whole.model, 0)->data, sizeof(float) * HIDDEN * INPUTS) != 0);
    stop(&first);
    stop(&whole);
    stop(&resumed);
}

Test(optim_checkpoint, the_file_holds_parameters_state_and_text_metadata)
{
    const char *path = optim_path("run.ckpt");
    run r = start(&configs[0], 3);
    for (int step = 0; step < 3; step++)
        train_step(&r);
    r.data_rng = (tg_rng){ { 1, 0xabcdef, UINT64_MAX, 42 } };
    tg_checkpoint ck = checkpoint_of(&r, 3);
    tg_string_pair user[] = { { "dataset", "sin of sums" }, { "best", "0.25" } };
    ck.user = user;
    ck.n_user = 2;
    cr_assert_eq(tg_checkpoint_save(path, &ck), 0, "%s", tg_error_message());

    tg_safetensors *file = tg_safetensors_load(path);
    cr_assert_not_null(file, "%s", tg_error_message());
    /* 4 parameters + per parameter: step, exp_avg, exp_avg_sq, max_exp_avg_sq */
    cr_assert_eq(tg_safetensors_count(file), 4 + 4 * 4);
    assert_same_tensor(tg_safetensors_get(file, "fc1.weight"), tg_model_find(r.model, "fc1.weight"),
                       "fc1.weight");
    assert_same_tensor(tg_safetensors_get(file, "optim.exp_avg_sq.fc2.bias"),
                       tg_optimizer_state_find(r.opt, "exp_avg_sq.fc2.bias"), "exp_avg_sq");
    tg_assert_values(tg_safetensors_get(file, "optim.step.fc1.bias"), ((float[]){ 3 }), 1, 0);
    cr_assert_str_eq(tg_safetensors_metadata(file, "step"), "3");
    cr_assert_str_eq(tg_safetensors_metadata(file, "epoch"), "0");
    cr_assert_str_eq(tg_safetensors_metadata(file, "optimizer"), "adam");
    /* warm-up: 0.01 (1/3 + 2/3 * 3/5); %.17g reads back exactly */
    double lr = strtod(tg_safetensors_metadata(file, "optimizer.lr"), NULL);
    cr_assert_eq(lr, tg_optimizer_lr(r.opt));
    cr_assert(fabs(lr - 0.01 * (1.0 / 3 + 0.4)) < 1e-15, "%.17g", lr);
    cr_assert_str_eq(tg_safetensors_metadata(file, "optimizer.steps"), "3");
    cr_assert_str_eq(tg_safetensors_metadata(file, "schedule.last_epoch"), "3");
    cr_assert_str_eq(tg_safetensors_metadata(file, "rng.data"),
                     "0000000000000001 0000000000abcdef ffffffffffffffff 000000000000002a");
    cr_assert_str_eq(tg_checkpoint_user(file, "dataset"), "sin of sums");
    cr_assert_str_eq(tg_checkpoint_user(file, "best"), "0.25");
    cr_assert_null(tg_checkpoint_user(file, "nothing"));
    tg_safetensors_free(file);
    stop(&r);
}

/* Copies of every parameter and state value, to see that nothing changed. */
static float *snapshot(const run *r)
{
    int64_t n = tg_model_numel(r->model);
    for (int i = 0; i < tg_optimizer_state_count(r->opt); i++)
        n += tg_optimizer_state_tensor(r->opt, i)->numel;
    float *copy = malloc(sizeof(float) * (size_t)n), *at = copy;
    for (int i = 0; i < tg_model_parameter_count(r->model); i++) {
        tg_tensor_to_array(tg_model_parameter(r->model, i), at);
        at += tg_model_parameter(r->model, i)->numel;
    }
    for (int i = 0; i < tg_optimizer_state_count(r->opt); i++) {
        tg_tensor_to_array(tg_optimizer_state_tensor(r->opt, i), at);
        at += tg_optimizer_state_tensor(r->opt, i)->numel;
    }
    return copy;
}

static void assert_unchanged(const run *r, const float *before, double lr, tg_rng data)
{
    float *now = snapshot(r);
    int64_t n = tg_model_numel(r->model);
    for (int i = 0; i < tg_optimizer_state_count(r->opt); i++)
        n += tg_optimizer_state_tensor(r->opt, i)->numel;
    cr_assert(memcmp(now, before, sizeof(float) * (size_t)n) == 0, "values changed");
    cr_assert_eq(tg_optimizer_lr(r->opt), lr);
    cr_assert_eq(tg_schedule_epoch(r->sched), 0);
    cr_assert(memcmp(&r->data_rng, &data, sizeof data) == 0);
    free(now);
}

Test(optim_checkpoint, a_failed_load_changes_nothing)
{
    const char *path = optim_path("run.ckpt");
    run saved = start(&configs[0], 5);
    for (int step = 0; step < 8; step++)
        train_step(&saved);
    tg_checkpoint ck = checkpoint_of(&saved, 8);
    cr_assert_eq(tg_checkpoint_save(path, &ck), 0, "%s", tg_error_message());

    run other = start(&configs[1], 6); /* SGD, not Adam */
    float *before = snapshot(&other);
    double lr = tg_optimizer_lr(other.opt);
    tg_rng data = other.data_rng;
    ck = checkpoint_of(&other, 0);
    cr_assert_eq(tg_checkpoint_load(path, &ck), -1);
    tg_assert_error("the optimizer state is adam's, not sgd's");
    assert_unchanged(&other, before, lr, data);
    tg_error_clear();

    /* No optimizer asked for, but a generator the file does not have. */
    ck = (tg_checkpoint){ .model = other.model, .schedule = other.sched,
                          .rngs = { { "shuffle", &other.data_rng } } };
    cr_assert_eq(tg_checkpoint_load(path, &ck), -1);
    tg_assert_error("no \"rng.shuffle\" in the metadata");
    assert_unchanged(&other, before, lr, data);
    tg_error_clear();

    /* A PLATEAU schedule, whose state the file (from COSINE) lacks. */
    ck = (tg_checkpoint){ .model = other.model, .schedule = other.sched };
    cr_assert_eq(tg_checkpoint_load(path, &ck), -1);
    tg_assert_error("no \"schedule.best\"");
    assert_unchanged(&other, before, lr, data);
    tg_error_clear();

    /* The same kinds as the file, and a model with an extra parameter. */
    run same = start(&configs[0], 7);
    tg_model_add_parameter(same.model, "extra", TG_SHAPE(2));
    float *before_same = snapshot(&same);
    lr = tg_optimizer_lr(same.opt);
    data = same.data_rng;
    ck = checkpoint_of(&same, 0);
    cr_assert_eq(tg_checkpoint_load(path, &ck), -1);
    tg_assert_error("extra");
    assert_unchanged(&same, before_same, lr, data);
    cr_assert_eq(tg_schedule_lr(same.sched), lr);
    free(before_same);
    tg_error_clear();

    cr_assert_eq(tg_checkpoint_load(optim_path("missing.ckpt"), &ck), -1);
    tg_assert_error("missing.ckpt");
    free(before);
    stop(&saved);
    stop(&other);
    stop(&same);
}

Test(optim_checkpoint, bad_input_is_refused_before_writing)
{
    run r = start(&configs[0], 1);
    tg_checkpoint ck = checkpoint_of(&r, 0);
    ck.rngs[1] = (tg_checkpoint_rng){ "", &r.data_rng };
    cr_assert_eq(tg_checkpoint_save(optim_path("a.ckpt"), &ck), -1);
    tg_assert_error("generator 1");
    tg_error_clear();
    ck.rngs[1] = (tg_checkpoint_rng){ 0 };
    ck.n_user = 1;
    ck.user = (tg_string_pair[]){ { "key", NULL } };
    cr_assert_eq(tg_checkpoint_save(optim_path("a.ckpt"), &ck), -1);
    tg_assert_error("user entry 0: needs a key and a value");
    tg_error_clear();
    cr_assert_eq(access(optim_path("a.ckpt"), F_OK), -1);
    cr_assert_eq(tg_checkpoint_save(optim_path("no/such/dir/a.ckpt"), &(tg_checkpoint){ .model = r.model }), -1);
    tg_assert_error("no/such/dir/a.ckpt");
    tg_error_clear();
    cr_assert_eq(tg_checkpoint_save(NULL, &ck), -1);
    cr_assert_eq(tg_checkpoint_load(optim_path("a.ckpt"), NULL), -1);
    tg_assert_error("checkpoint_save: an input is NULL");
    stop(&r);
}
