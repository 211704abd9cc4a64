/*
 * autograd/gradcheck.h: checking a backward rule against finite differences.
 *
 * Who it is for: every user (tapegrad.h includes it), above all authors
 * of new ops (autograd/autograd.h, "Defining a new op").
 *
 * tg_gradcheck evaluates fn(inputs), back-propagates a fixed random weight
 * w of the output's shape (so the checked objective is sum(w * fn(inputs))
 * for outputs of any shape), and compares each input's gradient with the
 * central difference (f(x + eps) - f(x - eps)) / (2 eps), element by
 * element, for every input that requires a gradient.
 *
 * Inputs must be leaves (owned tensors, or graph tensors from tg_zeros & co)
 * with tg_set_requires_grad set on those to check; fn may build any views or
 * broadcasts of them (a transposed or expanded input is checked by having fn
 * transpose or expand it). The graph is left as it was found; the inputs'
 * gradients hold the analytic values afterwards.
 */
#ifndef TG_GRADCHECK_H
#define TG_GRADCHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef tg_tensor *(*tg_gradcheck_fn)(tg_tensor *const *inputs, void *user);

/* Each field by the settings rule (tensor/error.h): 0 is its default,
 * TG_ZERO zero (atol and rtol only), negative or NaN an error. */
typedef struct tg_gradcheck_config {
    double eps;   /* step, > 0; default 1e-3 */
    double atol;  /* pass when |analytic - numeric| <= atol + rtol * |numeric|; default 1e-3 */
    double rtol;  /* default 1e-2 */
    uint64_t seed;/* for the output weights; default 0 */
} tg_gradcheck_config;

typedef struct tg_gradcheck_result {
    bool passed;
    int64_t checked;        /* elements compared */
    double max_abs_error;   /* over all elements */
    /* The element that came closest to failing (or failed worst). */
    int worst_input;
    int64_t worst_index;    /* row-major position in that input */
    double analytic, numeric;
    char message[256];      /* one line describing the worst element */
} tg_gradcheck_result;

/* Returns 0 when the check ran (see result->passed), or -1 with an error
 * (fn failed, an input is not a contiguous leaf, ...). config may be NULL
 * for the defaults. */
int tg_gradcheck(tg_gradcheck_fn fn, void *user, tg_tensor *const *inputs, int n,
                 const tg_gradcheck_config *config, tg_gradcheck_result *result);

/* The same for second derivatives (gradgradcheck): with w the output's
 * weight and v_k fixed random directions, the gradient of
 * S = sum_k <d sum(w * fn) / d input_k, v_k> with respect to every input
 * and to w is taken by differentiating the recorded backward
 * (tg_autograd_grad with .create_graph), and compared with central
 * differences of S, each computed with a first-order backward. It checks
 * that each backward rule is itself differentiable and right: H v for the
 * inputs, and the rule's dependence on the incoming gradient for w
 * (reported as input n). */
int tg_gradgradcheck(tg_gradcheck_fn fn, void *user, tg_tensor *const *inputs, int n,
                     const tg_gradcheck_config *config, tg_gradcheck_result *result);

#ifdef __cplusplus
}
#endif

#endif
