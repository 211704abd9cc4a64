/* SGD with momentum, dampening, Nesterov and weight decay, as torch.optim.SGD. */
#include "optim/optimizer_impl.h"

#include <math.h>

typedef struct sgd {
    tg_optimizer base;
    tg_sgd_config config; /* resolved */
} sgd;

/* The row function's scalars. */
enum { LR, MOMENTUM, KEEP /* 1 - dampening */, DECAY, FIRST, NESTEROV, SIGN };

static void sgd_hyper(const tg_optimizer *opt, double step, float *h)
{
    const tg_sgd_config *c = &((const sgd *)opt)->config;
    h[LR] = (float)opt->lr;
    h[MOMENTUM] = (float)c->momentum;
    h[KEEP] = (float)(1.0 - c->dampening);
    h[DECAY] = (float)c->weight_decay;
    h[FIRST] = step == 1.0;
    h[NESTEROV] = c->nesterov;
    h[SIGN] = c->maximize ? -1.0f : 1.0f;
}

/* The gradient with the ascent sign and the L2 penalty. */
static inline float direction(const float *h, float p, float g)
{
    float d = h[SIGN] * g;
    return h[DECAY] != 0.0f ? d + h[DECAY] * p : d;
}

static inline void momentum_update(const float *h, float *p, float g, float *buf)
{
    float d = direction(h, *p, g);
    /* PyTorch starts the buffer as a copy of the first gradient. */
    *buf = h[FIRST] != 0.0f ? d : *buf * h[MOMENTUM] + h[KEEP] * d;
    d = h[NESTEROV] != 0.0f ? d + h[MOMENTUM] * *buf : *buf;
    *p = *p - h[LR] * d;
}

static void sgd_row(const tg_map_row *r)
{
    const float *h = r->param, *g = r->in[0];
    float *p = r->out;
    TG_OPTIM_LOOP(r, p[i * ps] = p[i * ps] - h[LR] * direction(h, p[i * ps], g[i * s[0]]));
}

static void sgd_momentum_row(const tg_map_row *r)
{
    const float *h = r->param, *g = r->in[0];
    float *p = r->out, *buf = tg_optim_state(r, 1);
    TG_OPTIM_LOOP(r, momentum_update(h, &p[i * ps], g[i * s[0]], &buf[i * s[1]]));
}

tg_optimizer *tg_sgd_new(tg_model *model, tg_sgd_config config)
{
    static const char op[] = "sgd_new";
    if (!model)
        return tg_null_input(op);
    if (config.lr == 0) {
        tg_error_set("%s: lr is required (PyTorch has no default either)", op);
        return NULL;
    }
    tg_sgd_config c = config;
    c.lr = tg_optim_value(config.lr, 0);
    c.momentum = tg_optim_value(config.momentum, 0);
    c.dampening = tg_optim_value(config.dampening, 0);
    c.weight_decay = tg_optim_value(config.weight_decay, 0);
    if (tg_optim_check(op, "momentum", c.momentum, 0, HUGE_VAL, true) ||
        tg_optim_check(op, "dampening", c.dampening, -HUGE_VAL, HUGE_VAL, true) ||
        tg_optim_check(op, "weight_decay", c.weight_decay, 0, HUGE_VAL, true))
        return NULL;
    if (c.nesterov && (c.momentum <= 0 || c.dampening != 0)) {
        tg_error_set("%s: Nesterov momentum needs momentum > 0 and dampening 0", op);
        return NULL;
    }
    bool momentum = c.momentum != 0;
    static const char *const slots[] = { "momentum_buffer" };
    sgd *s = (sgd *)tg_optimizer_create(sizeof(sgd), "sgd", op, model, c.lr, momentum ? 1 : 0,
                                        slots, momentum ? sgd_momentum_row : sgd_row, sgd_hyper);
    if (s)
        s->config = c;
    return s ? &s->base : NULL;
}
