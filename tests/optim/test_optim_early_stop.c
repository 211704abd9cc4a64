/* Keeping the best epoch's weights and stopping early: which epoch is the
 * best for each goal and tie-break, the weights it restores, patience. */
#include "optim_support.h"

#include <optim/early_stop.h>

TestSuite(optim_early_stop, .init = tg_test_setup, .fini = optim_fini);

/* A model of one parameter "w" [2]. */
static tg_model *one_parameter(tg_tensor **w)
{
    tg_model *model = tg_model_new(0);
    *w = tg_model_add_parameter(model, "w", TG_SHAPE(2));
    cr_assert_not_null(*w, "%s", tg_error_message());
    return model;
}

/* Sets w to (epoch, -epoch) and reports the scores; returns the update's answer. */
static bool epoch_with(tg_early_stop *stop, tg_tensor *w, int epoch, double score, double tie)
{
    w->data[0] = (float)epoch;
    w->data[1] = (float)-epoch;
    return tg_early_stop_update(stop, epoch, score, tie);
}

Test(optim_early_stop, the_lowest_score_is_kept_and_restored)
{
    tg_tensor *w;
    tg_model *model = one_parameter(&w);
    tg_early_stop *stop = tg_early_stop_new(model, (tg_early_stop_config){ 0 });
    cr_assert_not_null(stop, "%s", tg_error_message());
    cr_assert_eq(tg_early_stop_best_epoch(stop), -1);
    cr_assert_eq(tg_early_stop_restore(stop), -1);
    tg_assert_error("early_stop_restore: no epoch has been reported yet");
    tg_error_clear();
    const double losses[] = { 0.9, 0.5, 0.7, 0.5, NAN, 0.6 };
    const bool best[] = { true, true, false, false, false, false };
    for (int e = 1; e <= 6; e++) {
        cr_assert_eq(epoch_with(stop, w, e, losses[e - 1], 0), best[e - 1], "epoch %d", e);
        cr_assert(!tg_early_stop_should_stop(stop), "patience 0 never stops");
    }
    cr_assert_eq(tg_early_stop_best_epoch(stop), 2);
    cr_assert_eq(tg_early_stop_best_score(stop), 0.5);
    cr_assert_eq(tg_early_stop_restore(stop), 0);
    tg_assert_values(w, ((float[]){ 2, -2 }), 2, 0);
    tg_early_stop_free(stop);
    tg_model_free(model);
}

Test(optim_early_stop, equal_scores_are_decided_by_the_second)
{
    tg_tensor *w;
    tg_model *model = one_parameter(&w);
    /* The highest accuracy; between equal ones, the lowest loss. */
    tg_early_stop *stop = tg_early_stop_new(model, (tg_early_stop_config){
        .goal = TG_GOAL_MAX, .tie_goal = TG_GOAL_MIN });
    cr_assert(epoch_with(stop, w, 1, 0.80, 0.40));
    cr_assert(!epoch_with(stop, w, 2, 0.75, 0.10));
    cr_assert(epoch_with(stop, w, 3, 0.80, 0.35));
    cr_assert(!epoch_with(stop, w, 4, 0.80, 0.35));
    cr_assert(epoch_with(stop, w, 5, 0.85, 0.90));
    cr_assert_eq(tg_early_stop_best_epoch(stop), 5);
    cr_assert_eq(tg_early_stop_best_tie(stop), 0.90);
    w->data[0] = 100;
    cr_assert_eq(tg_early_stop_restore(stop), 0);
    tg_assert_values(w, ((float[]){ 5, -5 }), 2, 0);
    tg_early_stop_free(stop);
    tg_model_free(model);
}

Test(optim_early_stop, patience_epochs_without_a_better_score_stop_the_training)
{
    tg_tensor *w;
    tg_model *model = one_parameter(&w);
    tg_early_stop *stop = tg_early_stop_new(model, (tg_early_stop_config){ .patience = 2 });
    int stopped_after = 0;
    const double losses[] = { 1.0, 0.8, 0.9, 0.7, 0.75, 0.8, 0.1 };
    for (int e = 1; e <= 7 && !stopped_after; e++) {
        epoch_with(stop, w, e, losses[e - 1], 0);
        if (tg_early_stop_should_stop(stop))
            stopped_after = e;
    }
    /* Epoch 4 was the best; epochs 5 and 6 were not better. */
    cr_assert_eq(stopped_after, 6);
    cr_assert_eq(tg_early_stop_best_epoch(stop), 4);
    tg_early_stop_free(stop);
    tg_model_free(model);
}

Test(optim_early_stop, bad_settings_are_refused)
{
    tg_tensor *w;
    tg_model *model = one_parameter(&w);
    cr_assert_null(tg_early_stop_new(model, (tg_early_stop_config){ .patience = -1 }));
    tg_assert_error("early_stop_new: patience -1 must be >= 0, and each goal TG_GOAL_MIN or TG_GOAL_MAX");
    tg_error_clear();
    cr_assert_null(tg_early_stop_new(model, (tg_early_stop_config){ .goal = (tg_goal)7 }));
    tg_assert_error("early_stop_new");
    tg_error_clear();
    cr_assert_null(tg_early_stop_new(NULL, (tg_early_stop_config){ 0 }));
    tg_model_free(model);
}
