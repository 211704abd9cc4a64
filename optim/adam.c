/* Adam and AdamW (with AMSGrad), as torch.optim.Adam and torch.optim.AdamW. */
#include "optim/optimizer_impl.h"

#include <math.h>

typedef struct adam {
    tg_optimizer base;
    tg_adam_config config; /* resolved */
    bool decoupled;        /* AdamW: weight decay shrinks p, not the gradient */
} adam;

/* The row function's scalars. */
enum {
    STEP_SIZE,  /* lr / (1 - beta1^t) */
    BETA1,
    KEEP1,      /* 1 - beta1 */
    BETA2,
    KEEP2,      /* 1 - beta2 */
    BC2_SQRT,   /* sqrt(1 - beta2^t) */
    EPS,
    L2,         /* Adam's weight decay, added to the gradient */
    SHRINK,     /* AdamW's factor 1 - lr * weight_decay on p */
    SIGN
};

static void adam_hyper(const tg_optimizer *opt, double step, float *h)
{
    const adam *a = (const adam *)opt;
    const tg_adam_config *c = &a->config;
    double beta1 = c->betas[0], beta2 = c->betas[1];
    h[STEP_SIZE] = (float)(opt->lr / (1.0 - pow(beta1, step)));
    h[BETA1] = (float)beta1;
    h[KEEP1] = (float)(1.0 - beta1);
    h[BETA2] = (float)beta2;
    h[KEEP2] = (float)(1.0 - beta2);
    h[BC2_SQRT] = (float)sqrt(1.0 - pow(beta2, step));
    h[EPS] = (float)c->eps;
    h[L2] = a->decoupled ? 0.0f : (float)c->weight_decay;
    h[SHRINK] = a->decoupled ? (float)(1.0 - opt->lr * c->weight_decay) : 1.0f;
    h[SIGN] = c->maximize ? -1.0f : 1.0f;
}

/* Updates the moments from the gradient; returns the second moment to use. */
static inline float moments(const float *h, float *p, float g, float *m, float *v)
{
    g = h[SIGN] * g;
    if (h[L2] != 0.0f)
        g = g + h[L2] * *p;
    if (h[SHRINK] != 1.0f)
        *p = *p * h[SHRINK];
    *m = *m * h[BETA1] + h[KEEP1] * g;
    *v = *v * h[BETA2] + h[KEEP2] * g * g;
    return *v;
}

static inline void apply(const float *h, float *p, float m, float v)
{
    float denom = sqrtf(v) / h[BC2_SQRT] + h[EPS];
    *p = *p + -h[STEP_SIZE] * m / denom;
}

static inline void adam_update(const float *h, float *p, float g, float *m, float *v)
{
    apply(h, p, *m, moments(h, p, g, m, v));
}

/* AMSGrad: the largest second moment so far replaces v in the step. */
static inline void amsgrad_update(const float *h, float *p, float g, float *m, float *v,
                                  float *vmax)
{
    float now = moments(h, p, g, m, v);
    *vmax = *vmax >= now ? *vmax : now;
    apply(h, p, *m, *vmax);
}

static void adam_row(const tg_map_row *r)
{
    const float *h = r->param, *g = r->in[0];
    float *p = r->out, *m = tg_optim_state(r, 1), *v = tg_optim_state(r, 2);
    TG_OPTIM_LOOP(r, adam_update(h, &p[i * ps], g[i * s[0]], &m[i * s[1]], &v[i * s[2]]));
}

static void amsgrad_row(const tg_map_row *r)
{
    const float *h = r->param, *g = r->in[0];
    float *p = r->out, *m = tg_optim_state(r, 1), *v = tg_optim_state(r, 2);
    float *vmax = tg_optim_state(r, 3);
    TG_OPTIM_LOOP(r, amsgrad_update(h, &p[i * ps], g[i * s[0]], &m[i * s[1]], &v[i * s[2]],
                                    &vmax[i * s[3]]));
}

static tg_optimizer *create(tg_model *model, tg_adam_config config, bool decoupled)
{
    const char *op = decoupled ? "adamw_new" : "adam_new";
    if (!model)
        return tg_null_input(op);
    tg_adam_config c = config;
    c.lr = tg_optim_value(config.lr, 1e-3);
    c.betas[0] = tg_optim_value(config.betas[0], 0.9);
    c.betas[1] = tg_optim_value(config.betas[1], 0.999);
    c.eps = tg_optim_value(config.eps, 1e-8);
    c.weight_decay = tg_optim_value(config.weight_decay, decoupled ? 1e-2 : 0);
    if (tg_optim_check(op, "betas[0]", c.betas[0], 0, 1, true) ||
        tg_optim_check(op, "betas[1]", c.betas[1], 0, 1, true) ||
        tg_optim_check(op, "eps", c.eps, 0, HUGE_VAL, true) ||
        tg_optim_check(op, "weight_decay", c.weight_decay, 0, HUGE_VAL, true))
        return NULL;
    static const char *const slots[] = { "exp_avg", "exp_avg_sq", "max_exp_avg_sq" };
    adam *a = (adam *)tg_optimizer_create(sizeof(adam), decoupled ? "adamw" : "adam", op, model,
                                          c.lr, c.amsgrad ? 3 : 2, slots,
                                          c.amsgrad ? amsgrad_row : adam_row, adam_hyper);
    if (!a)
        return NULL;
    a->config = c;
    a->decoupled = decoupled;
    return &a->base;
}

tg_optimizer *tg_adam_new(tg_model *model, tg_adam_config config)
{
    return create(model, config, false);
}

tg_optimizer *tg_adamw_new(tg_model *model, tg_adam_config config)
{
    return create(model, config, true);
}
