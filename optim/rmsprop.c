/* RMSprop with momentum and the centered variant, as torch.optim.RMSprop. */
#include "optim/optimizer_impl.h"

#include <math.h>

typedef struct rmsprop {
    tg_optimizer base;
    tg_rmsprop_config config; /* resolved */
} rmsprop;

/* The row function's scalars. */
enum { LR, ALPHA, KEEP /* 1 - alpha */, EPS, L2, MOMENTUM, HAS_MOMENTUM, CENTERED, SIGN };

static void rmsprop_hyper(const tg_optimizer *opt, double step, float *h)
{
    (void)step;
    const tg_rmsprop_config *c = &((const rmsprop *)opt)->config;
    h[LR] = (float)opt->lr;
    h[ALPHA] = (float)c->alpha;
    h[KEEP] = (float)(1.0 - c->alpha);
    h[EPS] = (float)c->eps;
    h[L2] = (float)c->weight_decay;
    h[MOMENTUM] = (float)c->momentum;
    h[HAS_MOMENTUM] = c->momentum != 0;
    h[CENTERED] = c->centered;
    h[SIGN] = c->maximize ? -1.0f : 1.0f;
}

/* buf (momentum) and avg (centered) are NULL when not in use. */
static inline void rmsprop_update(const float *h, float *p, float g, float *sq, float *buf,
                                  float *avg)
{
    g = h[SIGN] * g;
    if (h[L2] != 0.0f)
        g = g + h[L2] * *p;
    *sq = *sq * h[ALPHA] + h[KEEP] * g * g;
    float denom;
    if (avg) {
        /* The variance of the gradient instead of its second moment. */
        *avg = *avg * h[ALPHA] + h[KEEP] * g;
        denom = sqrtf(*sq + -*avg * *avg) + h[EPS];
    } else {
        denom = sqrtf(*sq) + h[EPS];
    }
    if (buf) {
        *buf = *buf * h[MOMENTUM] + g / denom;
        *p = *p + -h[LR] * *buf;
    } else {
        *p = *p + -h[LR] * g / denom;
    }
}

/* Slots: square_avg, then momentum_buffer (with momentum), then grad_avg
 * (when centered). */
static void rmsprop_row(const tg_map_row *r)
{
    const float *h = r->param, *g = r->in[0];
    float *p = r->out, *sq = tg_optim_state(r, 1);
    const int kb = 2, ka = h[HAS_MOMENTUM] != 0.0f ? 3 : 2;
    float *buf = h[HAS_MOMENTUM] != 0.0f ? tg_optim_state(r, kb) : NULL;
    float *avg = h[CENTERED] != 0.0f ? tg_optim_state(r, ka) : NULL;
    TG_OPTIM_LOOP(r, rmsprop_update(h, &p[i * ps], g[i * s[0]], &sq[i * s[1]],
                                    buf ? &buf[i * s[kb]] : NULL,
                                    avg ? &avg[i * s[ka]] : NULL));
}

tg_optimizer *tg_rmsprop_new(tg_model *model, tg_rmsprop_config config)
{
    static const char op[] = "rmsprop_new";
    if (!model)
        return tg_null_input("rmsprop_new");
    tg_rmsprop_config c = config;
    c.lr = tg_optim_value(config.lr, 1e-2);
    c.alpha = tg_optim_value(config.alpha, 0.99);
    c.eps = tg_optim_value(config.eps, 1e-8);
    c.weight_decay = tg_optim_value(config.weight_decay, 0);
    c.momentum = tg_optim_value(config.momentum, 0);
    if (tg_optim_check(op, "alpha", c.alpha, 0, HUGE_VAL, true) ||
        tg_optim_check(op, "eps", c.eps, 0, HUGE_VAL, true) ||
        tg_optim_check(op, "weight_decay", c.weight_decay, 0, HUGE_VAL, true) ||
        tg_optim_check(op, "momentum", c.momentum, 0, HUGE_VAL, true))
        return NULL;
    const char *slots[3] = { "square_avg" };
    int n = 1;
    if (c.momentum != 0)
        slots[n++] = "momentum_buffer";
    if (c.centered)
        slots[n++] = "grad_avg";
    rmsprop *r = (rmsprop *)tg_optimizer_create(sizeof(rmsprop), "rmsprop", op, model, c.lr, n,
                                                slots, rmsprop_row, rmsprop_hyper);
    if (!r)
        return NULL;
    r->config = c;
    return &r->base;
}
