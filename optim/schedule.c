#include "optim/schedule.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optim/optimizer_impl.h"

struct tg_schedule {
    tg_optimizer *opt;
    tg_schedule_config c; /* resolved */
    int n_milestones;
    double base_lr, lr;
    int64_t epoch;
    /* PLATEAU */
    double best;
    int64_t bad_epochs, cooldown_counter;
};

static const char *const kind_names[] = { "CONSTANT",    "STEP",   "MULTISTEP",
                                          "EXPONENTIAL", "COSINE", "PLATEAU" };

/* ---- The learning rate as a function of the call count ----------------- */

static const double pi = 3.14159265358979323846;

/* LinearLR's closed form, for e < warmup_steps. */
static double warmup_lr(const tg_schedule *s, int64_t e)
{
    double f = s->c.warmup_start_factor;
    return s->base_lr * (f + (1.0 - f) * (double)e / (double)s->c.warmup_steps);
}

/* The closed form of the main schedule, k calls after the warm-up. */
static double main_lr(const tg_schedule *s, int64_t k)
{
    const tg_schedule_config *c = &s->c;
    switch (c->kind) {
    case TG_SCHEDULE_STEP:
        return s->base_lr * pow(c->gamma, (double)(k / c->step_size));
    case TG_SCHEDULE_MULTISTEP: {
        int passed = 0;
        while (passed < s->n_milestones && c->milestones[passed] <= k)
            passed++;
        return s->base_lr * pow(c->gamma, passed);
    }
    case TG_SCHEDULE_EXPONENTIAL:
        return s->base_lr * pow(c->gamma, (double)k);
    case TG_SCHEDULE_COSINE:
        return c->eta_min +
               (s->base_lr - c->eta_min) * (1.0 + cos(pi * (double)k / (double)c->t_max)) / 2.0;
    default:
        return s->base_lr;
    }
}

/* Sets the lr of the schedule and of its optimizer. */
static int set_lr(tg_schedule *s, double lr)
{
    if (tg_optimizer_set_lr(s->opt, lr) != 0)
        return -1;
    s->lr = lr;
    return 0;
}

/* ---- ReduceLROnPlateau ------------------------------------------------- */

static bool is_better(const tg_schedule *s, double a)
{
    const tg_schedule_config *c = &s->c;
    if (c->threshold_abs)
        return c->mode_max ? a > s->best + c->threshold : a < s->best - c->threshold;
    return c->mode_max ? a > s->best * (1.0 + c->threshold) : a < s->best * (1.0 - c->threshold);
}

static int plateau_update(tg_schedule *s, double metric)
{
    if (is_better(s, metric)) {
        s->best = metric;
        s->bad_epochs = 0;
    } else {
        s->bad_epochs++;
    }
    if (s->cooldown_counter > 0) {
        s->cooldown_counter--;
        s->bad_epochs = 0; /* bad calls during the cooldown do not count */
    }
    if (s->bad_epochs > s->c.patience) {
        s->cooldown_counter = s->c.cooldown;
        s->bad_epochs = 0;
        double reduced = fmax(s->lr * s->c.factor, s->c.min_lr);
        if (s->lr - reduced > s->c.eps)
            return set_lr(s, reduced);
    }
    return 0;
}

/* ---- Calls ------------------------------------------------------------- */

int tg_schedule_step_metric(tg_schedule *s, double metric)
{
    if (!s)
        return tg_error_null_input("schedule_step_metric");
    s->epoch++;
    int64_t w = s->c.warmup_steps;
    if (s->epoch < w)
        return set_lr(s, warmup_lr(s, s->epoch));
    if (s->c.kind != TG_SCHEDULE_PLATEAU)
        return set_lr(s, main_lr(s, s->epoch - w));
    if (s->epoch == w && set_lr(s, s->base_lr) != 0)
        return -1;
    return plateau_update(s, metric);
}

int tg_schedule_step(tg_schedule *s)
{
    if (!s)
        return tg_error_null_input("schedule_step");
    if (s->c.kind == TG_SCHEDULE_PLATEAU)
        return tg_error_set("schedule_step: PLATEAU needs the metric it watches: call "
                            "tg_schedule_step_metric");
    return tg_schedule_step_metric(s, NAN);
}

double tg_schedule_lr(const tg_schedule *s) { return s ? s->lr : NAN; }

int64_t tg_schedule_epoch(const tg_schedule *s) { return s ? s->epoch : -1; }

/* ---- Creation ---------------------------------------------------------- */

/* Resolves defaults and checks the config; -1 with an error. */
static int resolve(tg_schedule *s, tg_schedule_config config)
{
    static const char op[] = "schedule_new";
    tg_schedule_config *c = &s->c;
    *c = config;
    if ((unsigned)c->kind > TG_SCHEDULE_PLATEAU)
        return tg_error_set("%s: kind %d: unknown", op, (int)c->kind);
    const char *kind = kind_names[c->kind];
    if (c->kind == TG_SCHEDULE_EXPONENTIAL && c->gamma == 0)
        return tg_error_set("%s: EXPONENTIAL: gamma is required", op);
    if (c->kind == TG_SCHEDULE_STEP && c->step_size <= 0)
        return tg_error_set("%s: STEP: step_size is required (> 0)", op);
    if (c->kind == TG_SCHEDULE_COSINE && c->t_max <= 0)
        return tg_error_set("%s: COSINE: t_max is required (> 0)", op);
    c->gamma = tg_optim_value(c->gamma, 0.1);
    c->factor = tg_optim_value(c->factor, 0.1);
    c->patience = (int64_t)tg_optim_value((double)c->patience, 10);
    c->threshold = tg_optim_value(c->threshold, 1e-4);
    c->eps = tg_optim_value(c->eps, 1e-8);
    c->warmup_start_factor = tg_optim_value(c->warmup_start_factor, 1.0 / 3.0);
    for (s->n_milestones = 0; s->n_milestones < TG_SCHEDULE_MAX_MILESTONES; s->n_milestones++) {
        int64_t m = c->milestones[s->n_milestones];
        if (m == 0)
            break;
        if (m < 0 || (s->n_milestones > 0 && m <= c->milestones[s->n_milestones - 1]))
            return tg_error_set("%s: %s: milestones must be positive and increasing", op, kind);
    }
    if (c->kind == TG_SCHEDULE_MULTISTEP && s->n_milestones == 0)
        return tg_error_set("%s: MULTISTEP: milestones are required", op);
    if (tg_optim_check(op, "gamma", c->gamma, 0, HUGE_VAL, true) ||
        tg_optim_check(op, "eta_min", c->eta_min, 0, HUGE_VAL, true) ||
        tg_optim_check(op, "factor", c->factor, 0, 1, true) ||
        tg_optim_check(op, "patience", (double)c->patience, 0, HUGE_VAL, true) ||
        tg_optim_check(op, "threshold", c->threshold, 0, HUGE_VAL, true) ||
        tg_optim_check(op, "cooldown", (double)c->cooldown, 0, HUGE_VAL, true) ||
        tg_optim_check(op, "min_lr", c->min_lr, 0, HUGE_VAL, true) ||
        tg_optim_check(op, "eps", c->eps, 0, HUGE_VAL, true) ||
        tg_optim_check(op, "warmup_steps", (double)c->warmup_steps, 0, HUGE_VAL, true) ||
        tg_optim_check(op, "warmup_start_factor", c->warmup_start_factor, 0, 1, false))
        return -1;
    return 0;
}

tg_schedule *tg_schedule_new(tg_optimizer *opt, tg_schedule_config config)
{
    if (!opt)
        return tg_null_input("schedule_new");
    tg_schedule *s = calloc(1, sizeof *s);
    if (!s) {
        tg_error_set("schedule_new: out of memory");
        return NULL;
    }
    s->opt = opt;
    s->base_lr = s->lr = tg_optimizer_lr(opt);
    s->best = config.mode_max ? -INFINITY : INFINITY;
    bool warm = config.warmup_steps > 0;
    if (resolve(s, config) != 0 || (warm && set_lr(s, warmup_lr(s, 0)) != 0)) {
        free(s);
        return NULL;
    }
    return s;
}

void tg_schedule_free(tg_schedule *s) { free(s); }

/* ---- Named state ------------------------------------------------------- */

static const char *const state_names[] = { "base_lr", "lr", "last_epoch",
                                           "best", "num_bad_epochs", "cooldown_counter" };

int tg_schedule_state_count(const tg_schedule *s)
{
    if (!s)
        return 0;
    return s->c.kind == TG_SCHEDULE_PLATEAU ? 6 : 3;
}

const char *tg_schedule_state_name(const tg_schedule *s, int index)
{
    if (!s)
        return tg_null_input("schedule_state_name");
    if (index < 0 || index >= tg_schedule_state_count(s)) {
        tg_error_set("schedule: state %d: out of range [0, %d)", index,
                     tg_schedule_state_count(s));
        return NULL;
    }
    return state_names[index];
}

double tg_schedule_state_value(const tg_schedule *s, int index)
{
    if (!tg_schedule_state_name(s, index))
        return NAN;
    const double values[] = { s->base_lr,        s->lr,
                              (double)s->epoch,  s->best,
                              (double)s->bad_epochs, (double)s->cooldown_counter };
    return values[index];
}

/* A count: a whole number in [0, 2^53]. */
static bool is_count(double v) { return v >= 0 && v <= 9007199254740992.0 && v == floor(v); }

int tg_schedule_set_state(tg_schedule *s, const char *name, double value)
{
    if (!s || !name)
        return tg_error_null_input("schedule_set_state");
    int index = -1;
    for (int i = 0; i < tg_schedule_state_count(s); i++)
        if (strcmp(name, state_names[i]) == 0)
            index = i;
    if (index < 0)
        return tg_error_set("schedule: no state called \"%s\"", name);
    bool ok = index <= 1 ? isfinite(value) && value >= 0 : index == 3 ? !isnan(value) : is_count(value);
    if (!ok)
        return tg_error_set("schedule: state %s = %g: out of range", name, value);
    switch (index) {
    case 0: s->base_lr = value; return 0;
    case 1: return set_lr(s, value);
    case 2: s->epoch = (int64_t)value; return 0;
    case 3: s->best = value; return 0;
    case 4: s->bad_epochs = (int64_t)value; return 0;
    default: s->cooldown_counter = (int64_t)value; return 0;
    }
}
