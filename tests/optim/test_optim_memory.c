/* A training step with the optimizer, clipping, the schedule and the
 * progress bar calls malloc zero times once it is in steady state: the
 * optimizers allocate their state when created. tests/malloc_count.h
 * counts every call the library makes. */
#include "optim_support.h"

#include <criterion/parameterized.h>

#include <optim/clip.h>
#include <optim/progress.h>
#include <optim/schedule.h>

#include "malloc_count.h"

TestSuite(optim_memory, .init = tg_test_setup, .fini = optim_fini);

static optim_case cases[] = {
    { "sgd_nesterov", SGD, .sgd = { .lr = 0.01, .momentum = 0.9, .nesterov = true } },
    { "adam_amsgrad", ADAM, .adam = { .amsgrad = true, .weight_decay = 0.1 } },
    { "adamw", ADAMW, .adam = { 0 } },
    { "rmsprop_centered", RMSPROP, .rmsprop = { .momentum = 0.5, .centered = true } },
    { "adagrad", ADAGRAD, .adagrad = { .lr_decay = 0.01 } },
};

ParameterizedTestParameters(optim_memory, steady_steps_allocate_nothing)
{
    return cr_make_param_array(optim_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(optim_case *c, optim_memory, steady_steps_allocate_nothing)
{
    tg_model *model = tg_model_new(0);
    tg_tensor *w = tg_model_add_parameter(model, "w", TG_SHAPE(8, 4));
    tg_tensor *b = tg_model_add_parameter(model, "b", TG_SHAPE(4));
    tg_tensor_normal_(w, 0, 1, tg_model_rng(model));
    tg_tensor *x = tg_tensor_randn(TG_SHAPE(16, 8), tg_model_rng(model));
    tg_optimizer *opt = optim_make(c, model);
    tg_schedule *sched = tg_schedule_new(
        opt, (tg_schedule_config){ .kind = TG_SCHEDULE_COSINE, .t_max = 20, .warmup_steps = 3 });
    FILE *sink = fopen("/dev/null", "w");
    tg_progress *bar = tg_progress_new(
        (tg_progress_config){ .total = 20, .out = sink, .mode = TG_PROGRESS_LINES, .every = 1 });
    cr_assert(opt && sched && sink && bar, "%s", tg_error_message());
    long before = 0;
    float first = 0, loss = 0;
    for (int step = 0; step < 20; step++) {
        if (step == 5)
            before = atomic_load(&allocations);
        tg_tensor *y = tg_tanh(tg_add(tg_matmul(x, w), b));
        tg_tensor *l = tg_mean_all(tg_square(tg_sub_scalar(y, 0.5f)));
        cr_assert_eq(tg_backward(l), 0, "%s", tg_error_message());
        loss = tg_tensor_item(l);
        first = step == 0 ? loss : first;
        tg_clip_grad_norm(model, 1.0f);
        cr_assert_eq(tg_optimizer_step(opt), 0);
        tg_optimizer_zero_grad(opt);
        tg_schedule_step(sched);
        tg_progress_update(bar, step + 1, loss);
        tg_graph_reset();
    }
    long during = atomic_load(&allocations) - before;
    cr_assert_eq(during, 0, "%s: %ld allocations in steps 5 to 19", c->name, during);
    cr_assert_lt(loss, first, "the loss did not fall");
    tg_progress_free(bar);
    fclose(sink);
    tg_schedule_free(sched);
    tg_optimizer_free(opt);
    tg_tensor_free(x);
    tg_model_free(model);
}

Test(optim_memory, the_counter_sees_an_optimizer_allocate_its_state)
{
    /* Without this, a broken wrap would make the test above pass vacuously. */
    tg_model *model = tg_model_new(0);
    tg_model_add_parameter(model, "w", TG_SHAPE(3));
    long before = atomic_load(&allocations);
    tg_optimizer *opt = tg_adam_new(model, (tg_adam_config){ 0 });
    cr_assert_geq(atomic_load(&allocations) - before, 4, "the optimizer and its state");
    tg_optimizer_free(opt);
    tg_model_free(model);
}
