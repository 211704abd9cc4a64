/*
 * tests/autograd/tiny_net.h: a small two-layer classifier and its training
 * step, for the memory and thread tests. Its first weight is large enough
 * for the packed small-product path (with its per-thread cache). Nothing
 * here asserts, so that it may run on threads other than the test's own.
 */
#ifndef TG_TEST_AUTOGRAD_TINY_NET_H
#define TG_TEST_AUTOGRAD_TINY_NET_H

#include "support.h"
#include <tensor/kernel.h>

enum { BATCH = 16, INPUTS = 64, HIDDEN = 64, CLASSES = 4, PARAMS = 4 };

typedef struct net {
    tg_tensor *param[PARAMS]; /* w1 [HIDDEN, INPUTS], b1 [HIDDEN], w2 [CLASSES, HIDDEN], b2 [CLASSES] */
    tg_tensor *x, *labels;    /* x [BATCH, INPUTS], labels [BATCH, 1] */
} net;

/* Parameters and a batch from seed; the class of a row is the sign
 * pattern of its first two inputs. */
static inline net net_new(uint64_t seed)
{
    tg_rng rng = tg_rng_new(seed);
    net n = {
        .param = { tg_tensor_normal(TG_SHAPE(HIDDEN, INPUTS), 0, 0.3f, &rng), tg_tensor_zeros(TG_SHAPE(HIDDEN)),
                   tg_tensor_normal(TG_SHAPE(CLASSES, HIDDEN), 0, 0.3f, &rng), tg_tensor_zeros(TG_SHAPE(CLASSES)) },
        .x = tg_tensor_randn(TG_SHAPE(BATCH, INPUTS), &rng),
        .labels = tg_tensor_empty(TG_SHAPE(BATCH, 1)),
    };
    for (int i = 0; i < PARAMS; i++)
        tg_set_requires_grad(n.param[i], true);
    for (int i = 0; i < BATCH; i++)
        n.labels->data[i] = (float)((n.x->data[i * INPUTS] > 0) * 2 + (n.x->data[i * INPUTS + 1] > 0));
    return n;
}

static inline void net_free(net *n)
{
    for (int i = 0; i < PARAMS; i++)
        tg_tensor_free(n->param[i]);
    tg_tensor_free(n->x);
    tg_tensor_free(n->labels);
}

/* Forward (cross-entropy plus weight decay), backward, SGD in place, graph
 * reset. Returns the loss, or NAN with the error recorded. */
static inline float train_step(net *n, float lr)
{
    tg_tensor **p = n->param;
    tg_tensor *h = tg_tanh(tg_affine(n->x, p[0], p[1]));
    tg_tensor *logits = tg_add(tg_matmul(h, tg_transpose(p[2], 0, 1)), p[3]);
    tg_tensor *nll = tg_neg(tg_mean_all(tg_gather(tg_log_softmax(logits, 1), 1, n->labels)));
    tg_tensor *decay = tg_mul_scalar(tg_sum_all(tg_square(p[0])), 1e-3f);
    tg_tensor *loss = tg_add(nll, decay);
    if (!loss || tg_backward(loss) != 0)
        return NAN;
    float value = tg_tensor_item(loss);
    for (int i = 0; i < PARAMS; i++) {
        if (tg_kernel_scale(p[i], tg_grad(p[i]), -lr, true) != 0)
            return NAN;
        tg_zero_grad(p[i]);
    }
    tg_graph_reset();
    return value;
}

#endif
