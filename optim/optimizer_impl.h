/*
 * optim/optimizer_impl.h: what an optimizer provides to the shared code
 * (internal to optim/).
 *
 * An optimizer is a struct whose first member is a tg_optimizer, created by
 * tg_optimizer_create with its state slots, its row function and its
 * `hyper` function. tg_optimizer_step (optimizer.c) does the iteration that
 * every optimizer shares: for each parameter with a gradient, count the
 * step, ask `hyper` for the row function's scalar parameters, and run the
 * row function over the parameter with tg_map.
 *
 * The row function receives the parameter as tg_map's output and, as its
 * inputs, the gradient followed by the state slots. It updates the state
 * slots in place (tg_optim_state): each element of a row is read and written
 * by the same iteration, so this is safe, and it keeps an update to one
 * pass over memory with no temporaries.
 */
#ifndef TG_OPTIMIZER_IMPL_H
#define TG_OPTIMIZER_IMPL_H

#include <stddef.h>

#include "optim/optimizer.h"
#include "tensor/kernel.h"

/* State tensors per parameter besides the step count. */
#define TG_OPTIM_MAX_SLOTS (TG_MAP_MAX_INPUTS - 1)
/* Scalars a row function may receive. */
#define TG_OPTIM_MAX_HYPER 16
/* Longest state name: the longest slot name, a dot, a parameter name. */
#define TG_OPTIM_NAME_MAX (TG_NAME_MAX + 32)

/* Fills the row function's scalars for one parameter at step count `step`
 * (already counted: 1 on the first update). */
typedef void (*tg_optim_hyper_fn)(const tg_optimizer *opt, double step, float *hyper);

struct tg_optimizer {
    const char *name;
    double lr;
    int64_t steps;
    int n_params;
    tg_tensor **params;
    const tg_model *model;       /* whose parameters params are */
    uint64_t parameters_removed; /* the model's count when they were taken */
    int n_slots;
    tg_tensor **state; /* per parameter: the step count, then n_slots slots */
    char (*state_names)[TG_OPTIM_NAME_MAX];
    tg_map_fn row;
    tg_optim_hyper_fn hyper;
};

/* Allocates an optimizer of `size` bytes (the derived struct) over the
 * model's parameters with zero-filled state slots. NULL with an error
 * naming `op` on failure. */
tg_optimizer *tg_optimizer_create(size_t size, const char *name, const char *op, tg_model *model,
                                  double lr, int n_slots, const char *const *slot_names,
                                  tg_map_fn row, tg_optim_hyper_fn hyper);
/* The state slot `slot` (0-based, after the step count) of parameter i. */
tg_tensor *tg_optimizer_slot(const tg_optimizer *opt, int i, int slot);

/* A config field by the settings rule (tg_setting, tensor/error.h). */
static inline double tg_optim_value(double value, double fallback)
{
    return tg_setting(value, fallback);
}

/* Checks that a resolved config value lies in [low, high] (high excluded
 * when `open`); -1 with an error naming op and field otherwise. */
int tg_optim_check(const char *op, const char *field, double value, double low, double high,
                   bool open);

/* A state slot handed to tg_map as input k (see the comment above). */
static inline float *tg_optim_state(const tg_map_row *r, int k) { return (float *)r->in[k]; }

/* True when the output and every input of the row are contiguous. */
static inline bool tg_optim_row_contiguous(const tg_map_row *r)
{
    if (r->out_stride != 1)
        return false;
    for (int k = 0; k < TG_MAP_MAX_INPUTS; k++)
        if (r->in[k] && r->in_stride[k] != 1)
            return false;
    return true;
}

/* Runs BODY for i in [0, r->n). In BODY, element i of the parameter is at
 * [i * ps] and element i of input k (0: the gradient, then the state slots)
 * at [i * s[k]]. The contiguous case gets its own copy of the loop with
 * constant strides, which the compiler vectorises. */
#define TG_OPTIM_LOOP(r, BODY)                                                                 \
    do {                                                                                       \
        const int64_t n_ = (r)->n;                                                             \
        if (tg_optim_row_contiguous(r)) {                                                      \
            const int64_t ps = 1, s[TG_MAP_MAX_INPUTS] = { 1, 1, 1, 1 };                        \
            for (int64_t i = 0; i < n_; i++) {                                                 \
                BODY;                                                                          \
            }                                                                                  \
        } else {                                                                               \
            const int64_t ps = (r)->out_stride, *s = (r)->in_stride;                           \
            for (int64_t i = 0; i < n_; i++) {                                                 \
                BODY;                                                                          \
            }                                                                                  \
        }                                                                                      \
    } while (0)

#endif
