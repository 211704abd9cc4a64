/* The best epoch's weights kept aside, and when to stop. */
#include "optim/early_stop.h"

#include <math.h>
#include <stdlib.h>

#include "tensor/error.h"

struct tg_early_stop {
    tg_model *model;
    tg_early_stop_config config;
    tg_tensor **best;  /* a copy of each parameter, in the model's order */
    int count;
    int64_t best_epoch, last_epoch;
    double best_score, best_tie;
};

tg_early_stop *tg_early_stop_new(tg_model *model, tg_early_stop_config config)
{
    if (!model)
        return NULL;
    if (config.patience < 0 || (config.goal != TG_GOAL_MIN && config.goal != TG_GOAL_MAX) ||
        (config.tie_goal != TG_GOAL_MIN && config.tie_goal != TG_GOAL_MAX)) {
        tg_error_set("early_stop_new: patience %d must be >= 0, and each goal TG_GOAL_MIN or "
                     "TG_GOAL_MAX", config.patience);
        return NULL;
    }
    tg_early_stop *stop = calloc(1, sizeof *stop);
    int count = tg_model_parameter_count(model);
    tg_tensor **best = calloc((size_t)(count > 0 ? count : 1), sizeof *best);
    bool ok = stop && best;
    for (int i = 0; ok && i < count; i++)
        ok = (best[i] = tg_tensor_clone(tg_model_parameter(model, i))) != NULL;
    if (!ok) {
        for (int i = 0; best && i < count; i++)
            tg_tensor_free(best[i]);
        free(best);
        free(stop);
        tg_error_set("early_stop_new: out of memory for a copy of %d parameters", count);
        return NULL;
    }
    *stop = (tg_early_stop){ model, config, best, count, -1, -1, NAN, NAN };
    return stop;
}

void tg_early_stop_free(tg_early_stop *stop)
{
    if (!stop)
        return;
    for (int i = 0; i < stop->count; i++)
        tg_tensor_free(stop->best[i]);
    free(stop->best);
    free(stop);
}

/* True when a is better than b for goal (false when either is NaN). */
static bool better(double a, double b, tg_goal goal)
{
    return goal == TG_GOAL_MAX ? a > b : a < b;
}

bool tg_early_stop_update(tg_early_stop *stop, int64_t epoch, double score, double tie)
{
    if (!stop)
        return false;
    stop->last_epoch = epoch;
    bool first = stop->best_epoch < 0 && !isnan(score);
    if (!first && !better(score, stop->best_score, stop->config.goal) &&
        !(score == stop->best_score && better(tie, stop->best_tie, stop->config.tie_goal)))
        return false;
    stop->best_epoch = epoch;
    stop->best_score = score;
    stop->best_tie = tie;
    for (int i = 0; i < stop->count; i++)
        tg_tensor_copy_(stop->best[i], tg_model_parameter(stop->model, i));
    return true;
}

bool tg_early_stop_should_stop(const tg_early_stop *stop)
{
    return stop && stop->config.patience > 0 && stop->best_epoch >= 0 &&
           stop->last_epoch - stop->best_epoch >= stop->config.patience;
}

int64_t tg_early_stop_best_epoch(const tg_early_stop *stop) { return stop ? stop->best_epoch : -1; }
double tg_early_stop_best_score(const tg_early_stop *stop) { return stop ? stop->best_score : NAN; }
double tg_early_stop_best_tie(const tg_early_stop *stop) { return stop ? stop->best_tie : NAN; }

int tg_early_stop_restore(tg_early_stop *stop)
{
    if (!stop)
        return -1;
    if (stop->best_epoch < 0)
        return tg_error_set("early_stop_restore: no epoch has been reported yet");
    for (int i = 0; i < stop->count; i++)
        tg_tensor_copy_(tg_model_parameter(stop->model, i), stop->best[i]);
    return 0;
}
