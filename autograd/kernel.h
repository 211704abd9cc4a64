/*
 * autograd/kernel.h: backward rules written with kernels, for people
 * writing ops.
 *
 * Who it is for: authors of new ops who need a rule faster than one
 * written with ops, and tapegrad's own ops. A rule written with ops and
 * tg_grad_accumulate (autograd/autograd.h, "Defining a new op") needs none
 * of this and can be differentiated again; the functions below write into
 * gradient buffers with raw kernels (tensor/kernel.h, which this includes),
 * so a rule using tg_grad_target or tg_grad_map is first order only: a
 * backward with .create_graph through it fails with an error naming the
 * op. tg_grad_formula keeps both: its formula is written once (see
 * autograd/formula.h) and runs fused in first order, as ops otherwise.
 */
#ifndef TG_AUTOGRAD_KERNEL_H
#define TG_AUTOGRAD_KERNEL_H

#include <stdbool.h>

#include "autograd/autograd.h"
#include "tensor/kernel.h"

#ifdef __cplusplus
extern "C" {
#endif

/* For a rule whose input x gets a part of its output's gradient unchanged
 * (stack): x's gradient += part, where part (x's shape) lies inside grad,
 * the gradient passed to node's backward. When x has no gradient yet and
 * part is contiguous, part becomes x's gradient, with no copy; the output's
 * gradient is then kept until the reset instead of being given back. */
int tg_grad_accumulate_part(tg_node *node, tg_tensor *x, tg_tensor *part);

/* First order only (a backward that creates a graph through a rule using
 * them fails). The gradient buffer of x (x's shape) to write into, or NULL
 * when x needs no gradient. *accumulate says whether the rule must add to
 * it (true) or must overwrite every element (false, the first
 * contribution). It may be strided (see "Writing a backward rule" in
 * autograd/autograd.h). */
tg_tensor *tg_grad_target(tg_tensor *x, bool *accumulate);
/* The same, zero-filled on first use, for rules that add to only part of it
 * (slices, scatters); always add to it. */
tg_tensor *tg_grad_target_zeroed(tg_tensor *x);
/* x's gradient += fn(inputs), an elementwise function evaluated over
 * `like`'s shape and summed down to x's shape when x was broadcast. */
int tg_grad_map(tg_tensor *x, const tg_tensor *like, int n_in, const tg_tensor *const *inputs,
                tg_map_fn fn, const float *param);

/* An elementwise gradient formula written twice from one text (see
 * autograd/formula.h): as a fused row function and as ops. */
typedef struct tg_formula {
    const char *name;
    int n_in;
    tg_map_fn row;
    tg_tensor *(*with_ops)(tg_tensor *const *inputs, const float *param);
} tg_formula;

/* x's gradient += formula(inputs, param), evaluated over the shape of
 * inputs[0] (the output's gradient): fused into the gradient in first
 * order, with ops when creating a graph. */
int tg_grad_formula(tg_tensor *x, const tg_formula *formula, tg_tensor *const *inputs, const float *param);

#ifdef __cplusplus
}
#endif

#endif
