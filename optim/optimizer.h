/*
 * optim/optimizer.h: optimizers that update a model's parameters.
 *
 * SGD, Adam, AdamW, RMSprop and Adagrad, with PyTorch 1.13's update
 * formulas and defaults, so the same hyper-parameters mean the same thing.
 * All of them share one interface:
 *
 *     tg_optimizer *opt = tg_adam_new(model, (tg_adam_config){ .lr = 3e-3 });
 *     for (step ...) {
 *         tg_tensor *loss = forward(model, batch);
 *         tg_backward(loss);
 *         tg_optimizer_step(opt);        // uses tg_grad(p) of every parameter
 *         tg_optimizer_zero_grad(opt);
 *         tg_graph_reset();
 *     }
 *     tg_optimizer_free(opt);
 *
 * An optimizer takes the model's parameters as they are when it is created
 * (parameters added later are not updated) and must not outlive the model.
 * A parameter whose gradient is NULL (tg_grad: none since the last
 * zero-grad) is skipped, as PyTorch skips p.grad None: its state and step
 * count do not move.
 *
 * Updates run outside the graph: one fused elementwise pass per parameter
 * that reads the gradient and updates the parameter and its state in place.
 * Every state tensor is allocated when the optimizer is created, so a step
 * allocates nothing.
 *
 * Configuration: a struct with designated initialisers, by tapegrad's one
 * rule for settings (tensor/error.h): a field left at zero means the
 * documented default (PyTorch's); where PyTorch's default is not zero but
 * zero is a meaningful value (Adam's beta1 or eps, AdamW's weight decay,
 * RMSprop's alpha...), write TG_ZERO to ask for zero; negative and NaN
 * values, and others PyTorch rejects, make the constructor return NULL with
 * an error such as "adam_new: betas[0] = 1: must be in [0, 1)" or
 * "adam_new: lr = -1: must be a finite value >= 0".
 *
 * State: every optimizer keeps, per parameter, a step count named
 * "step.<parameter>" (a 0-d float tensor, as PyTorch's state["step"]; exact
 * up to 2^24 steps) and its moments under PyTorch's names:
 *   sgd       momentum_buffer (only with momentum)
 *   adam(w)   exp_avg, exp_avg_sq, max_exp_avg_sq (only with amsgrad)
 *   rmsprop   square_avg, momentum_buffer (only with momentum),
 *             grad_avg (only when centered)
 *   adagrad   sum
 * e.g. "exp_avg.encoder.weight_ih_l0". The state tensors are listed by
 * tg_optimizer_state_*: a checkpoint saves them and writes saved values back
 * into them (optim/checkpoint.h does both).
 */
#ifndef TG_OPTIMIZER_H
#define TG_OPTIMIZER_H

#include <stdbool.h>
#include <stdint.h>

#include "layers/model.h"
#include "tensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tg_optimizer tg_optimizer;

/* ---- The optimizers ------------------------------------------------------- */

/* torch.optim.SGD. Per parameter, with g the gradient:
 *   g += weight_decay * p
 *   buf = g on the first step, else momentum * buf + (1 - dampening) * g
 *   g = nesterov ? g + momentum * buf : buf          (only with momentum)
 *   p -= lr * g                                                          */
typedef struct tg_sgd_config {
    double lr;           /* required: PyTorch has no default either */
    double momentum;     /* default 0 */
    double dampening;    /* default 0 */
    double weight_decay; /* default 0 (L2 penalty added to the gradient) */
    bool nesterov;       /* needs momentum > 0 and dampening 0 */
    bool maximize;       /* ascend instead of descend */
} tg_sgd_config;

tg_optimizer *tg_sgd_new(tg_model *model, tg_sgd_config config);

/* torch.optim.Adam and torch.optim.AdamW. Per parameter, at step t:
 *   Adam:  g += weight_decay * p        AdamW: p *= 1 - lr * weight_decay
 *   m = beta1 * m + (1 - beta1) * g
 *   v = beta2 * v + (1 - beta2) * g^2
 *   vmax = max(vmax, v), used instead of v          (only with amsgrad)
 *   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)    */
typedef struct tg_adam_config {
    double lr;           /* default 1e-3 */
    double betas[2];     /* default 0.9 and 0.999; TG_ZERO for 0 */
    double eps;          /* default 1e-8; TG_ZERO for 0 */
    double weight_decay; /* default 0 for Adam, 1e-2 for AdamW: there 0 means
                            1e-2, as PyTorch's default; TG_ZERO for none */
    bool amsgrad;
    bool maximize;
} tg_adam_config;

tg_optimizer *tg_adam_new(tg_model *model, tg_adam_config config);
tg_optimizer *tg_adamw_new(tg_model *model, tg_adam_config config);

/* torch.optim.RMSprop. Per parameter:
 *   g += weight_decay * p
 *   sq = alpha * sq + (1 - alpha) * g^2
 *   centered: ga = alpha * ga + (1 - alpha) * g;  d = sqrt(sq - ga^2) + eps
 *   else:                                          d = sqrt(sq) + eps
 *   momentum: buf = momentum * buf + g / d;  p -= lr * buf
 *   else:                                    p -= lr * g / d              */
typedef struct tg_rmsprop_config {
    double lr;           /* default 1e-2 */
    double alpha;        /* default 0.99; TG_ZERO for 0 */
    double eps;          /* default 1e-8; TG_ZERO for 0 */
    double weight_decay; /* default 0 */
    double momentum;     /* default 0 */
    bool centered;
    bool maximize;
} tg_rmsprop_config;

tg_optimizer *tg_rmsprop_new(tg_model *model, tg_rmsprop_config config);

/* torch.optim.Adagrad. Per parameter, at step t:
 *   g += weight_decay * p
 *   sum += g^2          (sum starts at initial_accumulator_value)
 *   p -= lr / (1 + (t - 1) * lr_decay) * g / (sqrt(sum) + eps)           */
typedef struct tg_adagrad_config {
    double lr;                        /* default 1e-2 */
    double lr_decay;                  /* default 0 */
    double weight_decay;              /* default 0 */
    double initial_accumulator_value; /* default 0 */
    double eps;                       /* default 1e-10; TG_ZERO for 0 */
    bool maximize;
} tg_adagrad_config;

tg_optimizer *tg_adagrad_new(tg_model *model, tg_adagrad_config config);

/* ---- The shared interface ------------------------------------------------- */

/* Updates every parameter that has a gradient. Returns 0, or -1 with an
 * error: NULL, or parameters that left the model after the optimizer was
 * made (tg_quantize_dynamic; zero_grad then records the same error). */
int tg_optimizer_step(tg_optimizer *opt);
/* Forgets the gradient of every parameter of the optimizer (tg_zero_grad). */
void tg_optimizer_zero_grad(tg_optimizer *opt);
/* Frees the optimizer and its state. NULL is ignored. */
void tg_optimizer_free(tg_optimizer *opt);

/* "sgd", "adam", "adamw", "rmsprop" or "adagrad". */
const char *tg_optimizer_name(const tg_optimizer *opt);
/* The learning rate of the next step; schedules (optim/schedule.h) set it. */
double tg_optimizer_lr(const tg_optimizer *opt);
/* -1 with an error when lr is negative or not finite. */
int tg_optimizer_set_lr(tg_optimizer *opt, double lr);
/* Number of tg_optimizer_step calls so far (restored from checkpoints). */
int64_t tg_optimizer_steps(const tg_optimizer *opt);
int tg_optimizer_set_steps(tg_optimizer *opt, int64_t steps);

/* The parameters the optimizer updates, in the model's order. */
int tg_optimizer_parameter_count(const tg_optimizer *opt);
tg_tensor *tg_optimizer_parameter(const tg_optimizer *opt, int index);

/* ---- Named state ------------------------------------------------------------ */

/* State tensors, per parameter in order: "step.<name>", then the moments.
 * The tensors belong to the optimizer: read them, or copy saved values into
 * them (tg_tensor_copy_) to restore a state. */
int tg_optimizer_state_count(const tg_optimizer *opt);
const char *tg_optimizer_state_name(const tg_optimizer *opt, int index);
tg_tensor *tg_optimizer_state_tensor(const tg_optimizer *opt, int index);
/* The state tensor called name, or NULL (no error). */
tg_tensor *tg_optimizer_state_find(const tg_optimizer *opt, const char *name);

#ifdef __cplusplus
}
#endif

#endif
