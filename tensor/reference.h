/*
 * tensor/reference.h: the reference mode, with every speed path off.
 *
 * Who it is for: every user (tapegrad.h includes it), and op authors
 * whose op has a speed path of its own: the mode must turn it off.
 *
 * tapegrad's speed comes from paths that must not change a result beyond
 * float rounding: postponed weight-gradient products, gradient buffers
 * given back to the arena and lent between ops, gradient views inside
 * their input's gradient, fused gradient formulas, packed kernels for
 * products with few rows or tiny batched products, kernels of their own
 * for weight gradients over many rows, and small tensors stored inside
 * their header. The reference mode turns each off for its
 * plain counterpart (one BLIS product per product, a buffer per gradient,
 * gradient formulas run as ops), so that tests can show the two agree: CI
 * runs the layer, optimizer and PyTorch-fixture tests in both modes.
 *
 * The default is off, or on in a build configured with
 * -DTAPEGRAD_REFERENCE=ON; the environment variable TAPEGRAD_REFERENCE=1
 * (or 0), read at the first use, overrides it, and tg_set_reference_mode
 * overrides both. The setting is process-wide. Change it only between
 * training steps (after tg_graph_reset), not with a graph recorded.
 */
#ifndef TG_REFERENCE_H
#define TG_REFERENCE_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

void tg_set_reference_mode(bool on);
bool tg_reference_mode(void);

#ifdef __cplusplus
}
#endif

#endif
