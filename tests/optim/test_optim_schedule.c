/* Learning-rate schedules against hand-computed sequences. */
#include "optim_support.h"

#include <optim/schedule.h>

TestSuite(optim_schedule, .init = tg_test_setup, .fini = optim_fini);

typedef struct fixture {
    tg_model *model;
    tg_optimizer *opt;
} fixture;

/* An SGD optimizer with learning rate lr over a one-parameter model. */
static fixture make(double lr)
{
    fixture f = { .model = tg_model_new(0) };
    tg_model_add_parameter(f.model, "w", TG_SHAPE(1));
    f.opt = tg_sgd_new(f.model, (tg_sgd_config){ .lr = lr });
    cr_assert_not_null(f.opt, "%s", tg_error_message());
    return f;
}

static void done(fixture f, tg_schedule *s)
{
    tg_schedule_free(s);
    tg_optimizer_free(f.opt);
    tg_model_free(f.model);
}

/* Asserts the optimizer's lr before the first call and after each of n-1
 * calls (metric i for call i when metrics is not NULL). */
static void assert_sequence(fixture f, tg_schedule *s, const double *expected, int n,
                            const double *metrics)
{
    cr_assert_not_null(s, "%s", tg_error_message());
    for (int e = 0; e < n; e++) {
        if (e > 0) {
            int rc = metrics ? tg_schedule_step_metric(s, metrics[e]) : tg_schedule_step(s);
            cr_assert_eq(rc, 0, "%s", tg_error_message());
        }
        double lr = tg_optimizer_lr(f.opt);
        cr_assert(fabs(lr - expected[e]) <= 1e-12 * fabs(expected[e]) + 1e-15,
                  "call %d: lr %.17g, expected %.17g", e, lr, expected[e]);
        cr_assert_eq(tg_schedule_lr(s), lr);
        cr_assert_eq(tg_schedule_epoch(s), e);
    }
}

Test(optim_schedule, step_multiplies_by_gamma_every_step_size_calls)
{
    fixture f = make(0.1);
    tg_schedule *s = tg_schedule_new(
        f.opt, (tg_schedule_config){ .kind = TG_SCHEDULE_STEP, .step_size = 3, .gamma = 0.5 });
    assert_sequence(f, s, (double[]){ 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025 }, 8, NULL);
    done(f, s);
}

Test(optim_schedule, step_gamma_defaults_to_0_1)
{
    fixture f = make(1);
    tg_schedule *s =
        tg_schedule_new(f.opt, (tg_schedule_config){ .kind = TG_SCHEDULE_STEP, .step_size = 2 });
    assert_sequence(f, s, (double[]){ 1, 1, 0.1, 0.1, 0.01 }, 5, NULL);
    done(f, s);
}

Test(optim_schedule, multistep_multiplies_at_each_milestone)
{
    fixture f = make(1);
    tg_schedule *s = tg_schedule_new(
        f.opt, (tg_schedule_config){ .kind = TG_SCHEDULE_MULTISTEP, .milestones = { 2, 5 } });
    assert_sequence(f, s, (double[]){ 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01 }, 7, NULL);
    done(f, s);
}

Test(optim_schedule, exponential_multiplies_every_call)
{
    fixture f = make(2);
    tg_schedule *s = tg_schedule_new(
        f.opt, (tg_schedule_config){ .kind = TG_SCHEDULE_EXPONENTIAL, .gamma = 0.5 });
    assert_sequence(f, s, (double[]){ 2, 1, 0.5, 0.25, 0.125 }, 5, NULL);
    done(f, s);
}

Test(optim_schedule, cosine_anneals_to_eta_min_then_rises_as_pytorchs)
{
    /* 0.1 + (1.1 - 0.1) (1 + cos(pi e / 4)) / 2; cos(pi/4) = 0.70710678 */
    fixture f = make(1.1);
    tg_schedule *s = tg_schedule_new(
        f.opt, (tg_schedule_config){ .kind = TG_SCHEDULE_COSINE, .t_max = 4, .eta_min = 0.1 });
    assert_sequence(f, s,
                    (double[]){ 1.1, 0.1 + 1.70710678118654752 / 2, 0.6,
                                0.1 + 0.29289321881345248 / 2, 0.1,
                                0.1 + 0.29289321881345248 / 2 },
                    6, NULL);
    done(f, s);
}

Test(optim_schedule, linear_warmup_then_cosine)
{
    /* warm-up: 0.25 + 0.75 e / 4, then cosine over 2 calls from the base 1 */
    fixture f = make(1);
    tg_schedule *s = tg_schedule_new(f.opt, (tg_schedule_config){ .kind = TG_SCHEDULE_COSINE,
                                                                 .t_max = 2,
                                                                 .warmup_steps = 4,
                                                                 .warmup_start_factor = 0.25 });
    assert_sequence(f, s, (double[]){ 0.25, 0.4375, 0.625, 0.8125, 1.0, 0.5, 0.0 }, 7, NULL);
    done(f, s);
}

Test(optim_schedule, warmup_alone_starts_at_a_third_and_can_start_at_zero)
{
    fixture f = make(3);
    tg_schedule *s = tg_schedule_new(f.opt, (tg_schedule_config){ .warmup_steps = 2 });
    assert_sequence(f, s, (double[]){ 1, 2, 3, 3 }, 4, NULL);
    tg_schedule_free(s);
    tg_optimizer_set_lr(f.opt, 3);
    s = tg_schedule_new(f.opt,
                        (tg_schedule_config){ .warmup_steps = 3, .warmup_start_factor = TG_ZERO });
    assert_sequence(f, s, (double[]){ 0, 1, 2, 3, 3 }, 5, NULL);
    done(f, s);
}

Test(optim_schedule, warmup_then_step_counts_from_the_end_of_the_warmup)
{
    fixture f = make(1);
    tg_schedule *s = tg_schedule_new(f.opt, (tg_schedule_config){ .kind = TG_SCHEDULE_STEP,
                                                                 .step_size = 2,
                                                                 .warmup_steps = 2,
                                                                 .warmup_start_factor = 0.5 });
    assert_sequence(f, s, (double[]){ 0.5, 0.75, 1, 1, 0.1, 0.1, 0.01 }, 7, NULL);
    done(f, s);
}

Test(optim_schedule, plateau_reduces_after_patience_bad_calls)
{
    /* patience 2: the third call without improvement on the best (9)
     * reduces; 8.9995 is not below 9 (1 - 1e-4) = 8.9991, so it is bad. */
    fixture f = make(1);
    tg_schedule *s = tg_schedule_new(
        f.opt, (tg_schedule_config){ .kind = TG_SCHEDULE_PLATEAU, .patience = 2, .factor = 0.5 });
    assert_sequence(f, s, (double[]){ 1, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25 }, 9,
                    (double[]){ 0, 10, 9, 9, 8.9995, 9, 9, 9, 9 });
    done(f, s);
}

Test(optim_schedule, plateau_patience_defaults_to_10_and_tg_zero_gives_0)
{
    fixture f = make(1);
    tg_schedule *s = tg_schedule_new(f.opt, (tg_schedule_config){ .kind = TG_SCHEDULE_PLATEAU });
    double lr[13] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0.1 }, metric[13] = { 0 };
    for (int i = 1; i < 13; i++)
        metric[i] = 5; /* the first is an improvement on +inf, then 11 bad calls */
    assert_sequence(f, s, lr, 13, metric);
    tg_schedule_free(s);
    tg_optimizer_set_lr(f.opt, 1);
    s = tg_schedule_new(f.opt,
                        (tg_schedule_config){ .kind = TG_SCHEDULE_PLATEAU, .patience = TG_ZERO });
    assert_sequence(f, s, (double[]){ 1, 1, 0.1, 0.01 }, 4, (double[]){ 0, 5, 5, 5 });
    done(f, s);
}

Test(optim_schedule, plateau_cooldown_ignores_bad_calls_after_a_reduction)
{
    /* patience 0, cooldown 2: reduce, then two calls in cooldown, then reduce. */
    fixture f = make(1);
    tg_schedule *s = tg_schedule_new(f.opt, (tg_schedule_config){ .kind = TG_SCHEDULE_PLATEAU,
                                                                 .patience = TG_ZERO,
                                                                 .cooldown = 2,
                                                                 .factor = 0.5 });
    assert_sequence(f, s, (double[]){ 1, 1, 0.5, 0.5, 0.5, 0.25 }, 6,
                    (double[]){ 0, 3, 3, 3, 3, 3 });
    done(f, s);
}

Test(optim_schedule, plateau_mode_max_with_an_absolute_threshold_and_min_lr)
{
    /* best 0.5; 0.55 is not above 0.5 + 0.1: bad; 0.7 is better. min_lr
     * 0.3 stops the reduction at 0.3, then a change below eps is skipped. */
    fixture f = make(1);
    tg_schedule *s = tg_schedule_new(f.opt, (tg_schedule_config){ .kind = TG_SCHEDULE_PLATEAU,
                                                                 .mode_max = true,
                                                                 .threshold = 0.1,
                                                                 .threshold_abs = true,
                                                                 .patience = TG_ZERO,
                                                                 .factor = 0.5,
                                                                 .min_lr = 0.3 });
    assert_sequence(f, s, (double[]){ 1, 1, 0.5, 0.5, 0.3, 0.3 }, 6,
                    (double[]){ 0, 0.5, 0.55, 0.7, 0.7, 0.1 });
    done(f, s);
}

Test(optim_schedule, plateau_ignores_metrics_during_the_warmup)
{
    fixture f = make(1);
    tg_schedule *s = tg_schedule_new(f.opt, (tg_schedule_config){ .kind = TG_SCHEDULE_PLATEAU,
                                                                 .patience = TG_ZERO,
                                                                 .warmup_steps = 2,
                                                                 .warmup_start_factor = 0.5 });
    /* calls 1 and 2 would be bad but fall in the warm-up; call 2 is the first
     * after it (lr back to base, metric 4 is the first best); call 3 is bad */
    assert_sequence(f, s, (double[]){ 0.5, 0.75, 1, 0.1 }, 4, (double[]){ 0, 9, 4, 4 });
    done(f, s);
}

Test(optim_schedule, state_round_trips_by_name)
{
    fixture f = make(1);
    tg_schedule_config config = { .kind = TG_SCHEDULE_PLATEAU, .patience = 1, .cooldown = 3 };
    tg_schedule *a = tg_schedule_new(f.opt, config);
    double metrics[] = { 5, 4, 6, 6, 7 };
    for (int i = 0; i < 5; i++)
        tg_schedule_step_metric(a, metrics[i]);
    cr_assert_eq(tg_schedule_state_count(a), 6);
    cr_assert_str_eq(tg_schedule_state_name(a, 3), "best");
    cr_assert_eq(tg_schedule_state_value(a, 3), 4.0);
    cr_assert_eq(tg_schedule_state_value(a, 5), 2.0); /* cooldown 3, reduced one call ago */

    fixture g = make(1);
    tg_schedule *b = tg_schedule_new(g.opt, config);
    for (int i = 0; i < tg_schedule_state_count(a); i++)
        cr_assert_eq(tg_schedule_set_state(b, tg_schedule_state_name(a, i),
                                           tg_schedule_state_value(a, i)),
                     0, "%s", tg_error_message());
    cr_assert_eq(tg_optimizer_lr(g.opt), 0.1);
    for (int i = 0; i < 6; i++) {
        tg_schedule_step_metric(a, 9);
        tg_schedule_step_metric(b, 9);
        cr_assert_eq(tg_schedule_lr(a), tg_schedule_lr(b));
    }
    cr_assert_eq(tg_schedule_set_state(b, "nonsense", 1), -1);
    tg_assert_error("schedule: no state called \"nonsense\"");
    tg_error_clear();
    cr_assert_eq(tg_schedule_set_state(b, "last_epoch", 1.5), -1);
    tg_assert_error("schedule: state last_epoch = 1.5: out of range");
    done(f, a);
    done(g, b);
}

Test(optim_schedule, bad_configs_are_errors)
{
    fixture f = make(1);
    cr_assert_null(tg_schedule_new(f.opt, (tg_schedule_config){ .kind = TG_SCHEDULE_STEP }));
    tg_assert_error("schedule_new: STEP: step_size is required");
    tg_error_clear();
    cr_assert_null(tg_schedule_new(f.opt, (tg_schedule_config){ .kind = TG_SCHEDULE_COSINE }));
    tg_assert_error("COSINE: t_max is required");
    tg_error_clear();
    cr_assert_null(
        tg_schedule_new(f.opt, (tg_schedule_config){ .kind = TG_SCHEDULE_EXPONENTIAL }));
    tg_assert_error("EXPONENTIAL: gamma is required");
    tg_error_clear();
    cr_assert_null(tg_schedule_new(
        f.opt, (tg_schedule_config){ .kind = TG_SCHEDULE_MULTISTEP, .milestones = { 5, 3 } }));
    tg_assert_error("milestones must be positive and increasing");
    tg_error_clear();
    cr_assert_null(tg_schedule_new(
        f.opt, (tg_schedule_config){ .kind = TG_SCHEDULE_PLATEAU, .factor = 1.0 }));
    tg_assert_error("schedule_new: factor = 1: must be in [0, 1)");
    tg_error_clear();
    cr_assert_null(tg_schedule_new(
        f.opt, (tg_schedule_config){ .warmup_steps = 3, .warmup_start_factor = 2 }));
    tg_assert_error("warmup_start_factor = 2");
    tg_error_clear();
    tg_schedule *plateau =
        tg_schedule_new(f.opt, (tg_schedule_config){ .kind = TG_SCHEDULE_PLATEAU });
    cr_assert_eq(tg_schedule_step(plateau), -1);
    tg_assert_error("PLATEAU needs the metric it watches");
    tg_error_clear();
    cr_assert_null(tg_schedule_new(NULL, (tg_schedule_config){ 0 }));
    cr_assert_eq(tg_schedule_step(NULL), -1);
    tg_assert_error("schedule_new: an input is NULL");
    cr_assert_eq(tg_optimizer_lr(f.opt), 1.0); /* failed creations left it alone */
    done(f, plateau);
}
