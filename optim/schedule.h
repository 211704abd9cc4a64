/*
 * optim/schedule.h: learning-rate schedules, as PyTorch's lr_scheduler.
 *
 * A schedule sets its optimizer's learning rate. Create it after the
 * optimizer (whose lr becomes the schedule's base lr) and call
 * tg_schedule_step after every optimizer step, or after every epoch: the
 * schedule counts calls, and you choose what a call means.
 *
 *     tg_optimizer *opt = tg_adam_new(model, (tg_adam_config){ .lr = 1e-3 });
 *     tg_schedule *sched = tg_schedule_new(opt, (tg_schedule_config){
 *         .kind = TG_SCHEDULE_COSINE, .t_max = 900, .warmup_steps = 100 });
 *     for (step ...) { ...; tg_optimizer_step(opt); tg_schedule_step(sched); }
 *
 * With e the number of calls so far (PyTorch's last_epoch) and base the
 * base lr, the learning rate is
 *   STEP         base * gamma^floor(e / step_size)          StepLR
 *   MULTISTEP    base * gamma^(milestones <= e)             MultiStepLR
 *   EXPONENTIAL  base * gamma^e                             ExponentialLR
 *   COSINE       eta_min + (base - eta_min) (1 + cos(pi e / t_max)) / 2
 *                                                           CosineAnnealingLR
 *   CONSTANT     base
 *   PLATEAU      ReduceLROnPlateau: starts at base and is multiplied by
 *                factor (not below min_lr) when the metric given to
 *                tg_schedule_step_metric has not improved for more than
 *                patience calls; after a reduction, cooldown calls are not
 *                counted. "Improved" in mode min (max) means below
 *                best * (1 - threshold) (above best * (1 + threshold)), or
 *                below best - threshold (above best + threshold) with
 *                threshold_abs. A reduction smaller than eps is skipped.
 *
 * Linear warm-up combines with any kind, as PyTorch's
 * SequentialLR([LinearLR(start_factor, total_iters=W), main], milestones=[W]):
 * for e < W the lr is base * (f + (1 - f) e / W), where f is
 * warmup_start_factor; from e = W on, the schedule above runs with e - W
 * in place of e. During the warm-up, metrics given to a PLATEAU schedule
 * are ignored.
 *
 * The values are the closed forms of PyTorch's schedulers, computed in
 * double: they equal PyTorch's sequences to the last few bits.
 *
 * State: the schedule's state is a few named numbers (base_lr, lr,
 * last_epoch and, for PLATEAU, best, num_bad_epochs, cooldown_counter), read
 * and restored by name (optim/checkpoint.h saves them as text, exactly).
 */
#ifndef TG_SCHEDULE_H
#define TG_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

#include "optim/optimizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tg_schedule_kind {
    TG_SCHEDULE_CONSTANT,
    TG_SCHEDULE_STEP,
    TG_SCHEDULE_MULTISTEP,
    TG_SCHEDULE_EXPONENTIAL,
    TG_SCHEDULE_COSINE,
    TG_SCHEDULE_PLATEAU,
} tg_schedule_kind;

#define TG_SCHEDULE_MAX_MILESTONES 16

typedef struct tg_schedule_config {
    tg_schedule_kind kind;      /* default CONSTANT */
    /* STEP, MULTISTEP, EXPONENTIAL */
    double gamma;               /* default 0.1; required for EXPONENTIAL */
    int64_t step_size;          /* STEP: required */
    int64_t milestones[TG_SCHEDULE_MAX_MILESTONES]; /* MULTISTEP: increasing; the list
                                                      ends at the first 0 */
    /* COSINE */
    int64_t t_max;              /* required */
    double eta_min;             /* default 0 */
    /* PLATEAU */
    bool mode_max;              /* default false: mode "min" (a loss) */
    double factor;              /* default 0.1; must be below 1 */
    int64_t patience;           /* default 10; TG_ZERO for 0 */
    double threshold;           /* default 1e-4; TG_ZERO for 0 */
    bool threshold_abs;         /* threshold_mode "abs" (default "rel") */
    int64_t cooldown;           /* default 0 */
    double min_lr;              /* default 0 */
    double eps;                 /* default 1e-8; TG_ZERO for 0 */
    /* Linear warm-up, with any kind */
    int64_t warmup_steps;       /* default 0: none */
    double warmup_start_factor; /* default 1/3 (LinearLR's); TG_ZERO for 0 */
} tg_schedule_config;

typedef struct tg_schedule tg_schedule;

/* A schedule for opt (which must outlive it); sets opt's lr to the value
 * for e = 0. NULL with an error on a bad config, e.g.
 * "schedule_new: STEP: step_size is required". NULL opt: NULL silently. */
tg_schedule *tg_schedule_new(tg_optimizer *opt, tg_schedule_config config);
void tg_schedule_free(tg_schedule *sched);

/* Counts one call and sets the optimizer's lr. A PLATEAU schedule needs its
 * metric: tg_schedule_step on one is an error. Returns 0 or -1. */
int tg_schedule_step(tg_schedule *sched);
/* The same with the metric a PLATEAU schedule watches (ignored by other
 * kinds, so one loop can drive any schedule). */
int tg_schedule_step_metric(tg_schedule *sched, double metric);

/* The current learning rate (what the optimizer has). */
double tg_schedule_lr(const tg_schedule *sched);
/* Calls so far (PyTorch's last_epoch). */
int64_t tg_schedule_epoch(const tg_schedule *sched);

/* Named state, for checkpoints. */
int tg_schedule_state_count(const tg_schedule *sched);
const char *tg_schedule_state_name(const tg_schedule *sched, int index);
double tg_schedule_state_value(const tg_schedule *sched, int index);
/* Restores one value by name (and the optimizer's lr with "lr"). -1 with an
 * error for an unknown name or a value out of range. */
int tg_schedule_set_state(tg_schedule *sched, const char *name, double value);

#ifdef __cplusplus
}
#endif

#endif
