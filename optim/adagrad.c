/* Adagrad with learning-rate decay, as torch.optim.Adagrad. */
#include "optim/optimizer_impl.h"

#include <math.h>

typedef struct adagrad {
    tg_optimizer base;
    tg_adagrad_config config; /* resolved */
} adagrad;

/* The row function's scalars. */
enum { CLR /* the decayed learning rate */, EPS, L2, SIGN };

static void adagrad_hyper(const tg_optimizer *opt, double step, float *h)
{
    const tg_adagrad_config *c = &((const adagrad *)opt)->config;
    h[CLR] = (float)(opt->lr / (1.0 + (step - 1.0) * c->lr_decay));
    h[EPS] = (float)c->eps;
    h[L2] = (float)c->weight_decay;
    h[SIGN] = c->maximize ? -1.0f : 1.0f;
}

static inline void adagrad_update(const float *h, float *p, float g, float *sum)
{
    g = h[SIGN] * g;
    if (h[L2] != 0.0f)
        g = g + h[L2] * *p;
    *sum = *sum + g * g;
    *p = *p + -h[CLR] * g / (sqrtf(*sum) + h[EPS]);
}

static void adagrad_row(const tg_map_row *r)
{
    const float *h = r->param, *g = r->in[0];
    float *p = r->out, *sum = tg_optim_state(r, 1);
    TG_OPTIM_LOOP(r, adagrad_update(h, &p[i * ps], g[i * s[0]], &sum[i * s[1]]));
}

tg_optimizer *tg_adagrad_new(tg_model *model, tg_adagrad_config config)
{
    static const char op[] = "adagrad_new";
    if (!model)
        return tg_null_input("adagrad_new");
    tg_adagrad_config c = config;
    c.lr = tg_optim_value(config.lr, 1e-2);
    c.lr_decay = tg_optim_value(config.lr_decay, 0);
    c.weight_decay = tg_optim_value(config.weight_decay, 0);
    c.initial_accumulator_value = tg_optim_value(config.initial_accumulator_value, 0);
    c.eps = tg_optim_value(config.eps, 1e-10);
    if (tg_optim_check(op, "lr_decay", c.lr_decay, 0, HUGE_VAL, true) ||
        tg_optim_check(op, "weight_decay", c.weight_decay, 0, HUGE_VAL, true) ||
        tg_optim_check(op, "initial_accumulator_value", c.initial_accumulator_value, 0,
                       HUGE_VAL, true) ||
        tg_optim_check(op, "eps", c.eps, 0, HUGE_VAL, true))
        return NULL;
    static const char *const slots[] = { "sum" };
    adagrad *a = (adagrad *)tg_optimizer_create(sizeof(adagrad), "adagrad", op, model, c.lr, 1,
                                                slots, adagrad_row, adagrad_hyper);
    if (!a)
        return NULL;
    a->config = c;
    for (int i = 0; i < a->base.n_params; i++)
        tg_tensor_fill_(tg_optimizer_slot(&a->base, i, 0), (float)c.initial_accumulator_value);
    return &a->base;
}
