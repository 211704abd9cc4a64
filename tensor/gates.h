/*
 * tensor/gates.h: the elementwise part of a recurrent cell's step in one
 * pass, and its gradient in one pass (autograd/ops_cell.c makes them ops).
 *
 * Who it is for: people writing ops (reached through tensor/kernel.h, not
 * tapegrad.h); a model uses tg_lstm_gates and the GRU's ops of
 * autograd/ops.h, which record their gradients.
 *
 * B rows, H units. Gate pre-activations are 2-d [B, G*H] with any strides,
 * the G gates side by side along the second axis in PyTorch's order.
 * States (c_prev, h_prev) and the GRU's z and n_pre broadcast to [B, H]
 * (NumPy rules) and may have any strides. `grad` (the gradient of the
 * output) and `act` (what the forward saves for the gradient) are
 * contiguous. Gradient targets ("d_" arguments) are the full [B, G*H]
 * or [B, H], not broadcast, with any strides (a caller sums one down to a
 * broadcast input's shape); NULL for one not wanted. With `accumulate` the
 * kernel adds to a target, otherwise it overwrites it. Targets may share
 * memory (views of one gradient): each adds its part, and one to be
 * overwritten is zeroed first.
 *
 * Activations are tensor/fastmath.h's sigmoid and tanh, and every product
 * and sum is rounded as the same formula written with separate kernels
 * (tensor/elementwise.h) would round it, so the outputs are those of the
 * plain composition. Kernels return 0, or -1 with an error naming op.
 */
#ifndef TG_GATES_H
#define TG_GATES_H

#include <stdbool.h>

#include "tensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* LSTM from the input's and the state's gate pre-activations x_gates and
 * h_gates, both [B, 4H] (i f g o), added as PyTorch's fused cell adds
 * them: with gates = x_gates + h_gates,
 *     i = sigmoid(gi), f = sigmoid(gf), g = tanh(gg), o = sigmoid(go),
 *     c = f c_prev + i g, h = o tanh(c).
 * out [2, B, H] holds h (out[0]) and c (out[1]); act [B, 5H] (or NULL)
 * receives i, f, g, o and tanh(c). */
int tg_kernel_lstm_gates(tg_tensor *out, float *act, const tg_tensor *x_gates, const tg_tensor *h_gates,
                         const tg_tensor *c_prev);
/* From grad [2, B, H] (of h, of c), act and c_prev:
 *     dc = grad_c + grad_h o (1 - tanh(c)^2),
 *     d_gates = [dc g i (1 - i), dc c_prev f (1 - f), dc i (1 - g^2),
 *                grad_h tanh(c) o (1 - o)],  d_c_prev = dc f,
 * d_gates into both d_x_gates and d_h_gates. */
int tg_kernel_lstm_gates_backward(tg_tensor *d_x_gates, bool accumulate_x, tg_tensor *d_h_gates,
                                  bool accumulate_h, tg_tensor *d_c_prev, bool accumulate_c,
                                  const tg_tensor *grad, const float *act, const tg_tensor *c_prev);

/* GRU in PyTorch's formulation, from the input's and the state's gate
 * pre-activations x_gates and h_gates, both [B, 3H] (r z n):
 *     r = sigmoid(xr + hr), z = sigmoid(xz + hz), n = tanh(xn + r hn),
 *     h = n + z (h_prev - n).
 * out [B, H]; act [B, 3H] (or NULL) receives r, z and n. */
int tg_kernel_gru_gates(tg_tensor *out, float *act, const tg_tensor *x_gates, const tg_tensor *h_gates,
                        const tg_tensor *h_prev);
/* From grad [B, H], act, h_gates and h_prev, with
 *     dn = grad (1 - z) (1 - n^2), dz = grad (h_prev - n) z (1 - z),
 *     dr = dn hn r (1 - r):
 * d_x_gates = [dr, dz, dn], d_h_gates = [dr, dz, dn r],
 * d_h_prev = grad z. */
int tg_kernel_gru_gates_backward(tg_tensor *d_x_gates, bool accumulate_x, tg_tensor *d_h_gates,
                                 bool accumulate_h, tg_tensor *d_h_prev, bool accumulate_prev,
                                 const tg_tensor *grad, const float *act, const tg_tensor *h_gates,
                                 const tg_tensor *h_prev);

/* GRU in the seed's formulation, after both products:
 *     n = tanh(n_pre), h = h_prev + z (n - h_prev).
 * out [B, H]; act [B, H] (or NULL) receives n. */
int tg_kernel_gru_seed_gates(tg_tensor *out, float *act, const tg_tensor *n_pre, const tg_tensor *z,
                             const tg_tensor *h_prev);
/* d_n_pre = grad z (1 - n^2), d_z = grad (n - h_prev),
 * d_h_prev = grad - grad z (all [B, H]). */
int tg_kernel_gru_seed_gates_backward(tg_tensor *d_n_pre, bool accumulate_n, tg_tensor *d_z,
                                      bool accumulate_z, tg_tensor *d_h_prev, bool accumulate_prev,
                                      const tg_tensor *grad, const float *act, const tg_tensor *z,
                                      const tg_tensor *h_prev);

#ifdef __cplusplus
}
#endif

#endif
