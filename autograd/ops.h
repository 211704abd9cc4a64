/*
 * autograd/ops.h: differentiable operations.
 *
 * Who it is for: every user (tapegrad.h includes it). These are also the
 * views with gradients (tg_reshape, tg_slice, ...): the raw views of
 * tensor/kernel.h refuse a tensor that requires a gradient.
 *
 * Each op computes its result with a tensor/ kernel into a new graph tensor
 * and records itself on the tape when an input requires a gradient
 * (autograd/autograd.h). Results live until tg_graph_reset(); never free
 * them. Inputs broadcast with NumPy's rules wherever shapes may differ.
 *
 * On bad input an op returns NULL and records an error naming itself and
 * the shapes; given a NULL input it returns NULL and keeps the message
 * already recorded (or, when there is none, records that the input was
 * NULL: see tensor/error.h), so one check after a whole forward pass is
 * enough:
 *
 *     tg_tensor *y = tg_tanh(tg_add(tg_matmul(x, w), b));
 *     if (!y) fprintf(stderr, "%s\n", tg_error_message());
 *
 * Ops compute on float32 tensors; an int64 tensor given to one is an error
 * ("add: int64 tensor [2,3] given where float32 is needed"). Index tensors
 * (gather, index_select, scatter_add, one_hot) are int64 tensors, or float32
 * tensors holding whole numbers (tensor/index.h); the indices of max, min,
 * argmax and argmin are int64. The shape ops (reshape, permute, slice, ...,
 * concat, stack) take int64 tensors too. Ops marked "no gradient" give
 * results that never require one.
 */
#ifndef TG_OPS_H
#define TG_OPS_H

#include <stdbool.h>

#include "tensor/quantize.h"
#include "tensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Elementwise, one input ---------------------------------------------------- */

tg_tensor *tg_neg(tg_tensor *x);
tg_tensor *tg_abs(tg_tensor *x);
tg_tensor *tg_exp(tg_tensor *x);
tg_tensor *tg_log(tg_tensor *x);
tg_tensor *tg_log1p(tg_tensor *x);
tg_tensor *tg_sqrt(tg_tensor *x);
tg_tensor *tg_rsqrt(tg_tensor *x);
tg_tensor *tg_square(tg_tensor *x);
tg_tensor *tg_reciprocal(tg_tensor *x);
tg_tensor *tg_sign(tg_tensor *x); /* gradient 0 */
tg_tensor *tg_tanh(tg_tensor *x);
tg_tensor *tg_sigmoid(tg_tensor *x);
tg_tensor *tg_relu(tg_tensor *x);
tg_tensor *tg_leaky_relu(tg_tensor *x, float negative_slope);
tg_tensor *tg_gelu(tg_tensor *x); /* exact (erf) form, torch's default */
tg_tensor *tg_softplus(tg_tensor *x);
tg_tensor *tg_sin(tg_tensor *x);
tg_tensor *tg_cos(tg_tensor *x);
tg_tensor *tg_erf(tg_tensor *x);
tg_tensor *tg_pow_scalar(tg_tensor *x, float exponent);
tg_tensor *tg_clamp(tg_tensor *x, float min, float max);
tg_tensor *tg_add_scalar(tg_tensor *x, float s);
tg_tensor *tg_sub_scalar(tg_tensor *x, float s);   /* x - s */
tg_tensor *tg_mul_scalar(tg_tensor *x, float s);
tg_tensor *tg_div_scalar(tg_tensor *x, float s);   /* x / s */
tg_tensor *tg_scalar_sub(float s, tg_tensor *x);   /* s - x */
tg_tensor *tg_scalar_div(float s, tg_tensor *x);   /* s / x */
tg_tensor *tg_scalar_pow(float s, tg_tensor *x);   /* s ^ x */
/* Comparisons with a scalar: 1 where true, 0 elsewhere; no gradient. */
tg_tensor *tg_eq_scalar(tg_tensor *x, float s);
tg_tensor *tg_ne_scalar(tg_tensor *x, float s);
tg_tensor *tg_lt_scalar(tg_tensor *x, float s);
tg_tensor *tg_le_scalar(tg_tensor *x, float s);
tg_tensor *tg_gt_scalar(tg_tensor *x, float s);
tg_tensor *tg_ge_scalar(tg_tensor *x, float s);

/* ---- Elementwise, two inputs (broadcast) ------------------------------------- */

tg_tensor *tg_add(tg_tensor *a, tg_tensor *b);
tg_tensor *tg_sub(tg_tensor *a, tg_tensor *b);
tg_tensor *tg_mul(tg_tensor *a, tg_tensor *b);
tg_tensor *tg_div(tg_tensor *a, tg_tensor *b);
tg_tensor *tg_pow(tg_tensor *a, tg_tensor *b);
/* On ties the gradient is split evenly, as in PyTorch. */
tg_tensor *tg_maximum(tg_tensor *a, tg_tensor *b);
tg_tensor *tg_minimum(tg_tensor *a, tg_tensor *b);
/* Comparisons: 1 where true, 0 elsewhere; no gradient. */
tg_tensor *tg_eq(tg_tensor *a, tg_tensor *b);
tg_tensor *tg_ne(tg_tensor *a, tg_tensor *b);
tg_tensor *tg_lt(tg_tensor *a, tg_tensor *b);
tg_tensor *tg_le(tg_tensor *a, tg_tensor *b);
tg_tensor *tg_gt(tg_tensor *a, tg_tensor *b);
tg_tensor *tg_ge(tg_tensor *a, tg_tensor *b);
/* mask != 0 ? a : b, all three broadcast; no gradient to mask. */
tg_tensor *tg_where(tg_tensor *mask, tg_tensor *a, tg_tensor *b);

/* ---- Reductions ------------------------------------------------------------------ *
 * Over a set of axes (TG_AXES(0, 2), or TG_ALL_AXES); keepdim keeps them
 * with size 1. */

tg_tensor *tg_sum(tg_tensor *x, tg_axes axes, bool keepdim);
tg_tensor *tg_mean(tg_tensor *x, tg_axes axes, bool keepdim);
/* Max / min over axes; ties share the gradient evenly (torch.amax). */
tg_tensor *tg_amax(tg_tensor *x, tg_axes axes, bool keepdim);
tg_tensor *tg_amin(tg_tensor *x, tg_axes axes, bool keepdim);
/* Max / min along one axis with the index of the first extreme (torch.max
 * with a dim). *indices (may be NULL) receives the indices, an int64
 * tensor: no gradient.
 * The gradient goes to the chosen element. */
tg_tensor *tg_max(tg_tensor *x, int dim, bool keepdim, tg_tensor **indices);
tg_tensor *tg_min(tg_tensor *x, int dim, bool keepdim, tg_tensor **indices);
/* Variance, dividing by count - correction (1: unbiased, torch's default). */
tg_tensor *tg_var(tg_tensor *x, tg_axes axes, float correction, bool keepdim);
tg_tensor *tg_logsumexp(tg_tensor *x, tg_axes axes, bool keepdim);
/* p-norm, p > 0 or INFINITY; the gradient at a zero norm is 0. */
tg_tensor *tg_norm(tg_tensor *x, float p, tg_axes axes, bool keepdim);
/* Sum and mean of every element: 0-d results. */
tg_tensor *tg_sum_all(tg_tensor *x);
tg_tensor *tg_mean_all(tg_tensor *x);
/* Indices of the max / min along dim, an int64 tensor; no gradient.
 * tg_tensor_item and tg_tensor_get read them as floats, as before int64
 * existed; tg_tensor_item_int64 reads them exactly. */
tg_tensor *tg_argmax(tg_tensor *x, int dim, bool keepdim);
tg_tensor *tg_argmin(tg_tensor *x, int dim, bool keepdim);

/* ---- Matrix products ---------------------------------------------------------- */

/* a @ b, as torch.matmul: 2-d x 2-d; batched [..., M, K] x [..., K, N] with
 * batch axes broadcast; a 1-d operand is a row (left) or column (right)
 * vector whose axis is dropped from the result. */
tg_tensor *tg_matmul(tg_tensor *a, tg_tensor *b);
/* a [B, M, K] @ b [B, K, N] -> [B, M, N], as torch.bmm: both 3-d with one
 * batch size (no broadcasting). Many small products (attention, a
 * decoder's step) run through unpacked kernels (tensor/gemm_tiny.h) rather
 * than one BLIS call each; tg_matmul takes the same path. */
tg_tensor *tg_bmm(tg_tensor *a, tg_tensor *b);
/* c + a @ b, with c broadcast to the product's shape (torch.addmm, also for
 * batched a). One GEMM accumulates onto c: no separate addition. */
tg_tensor *tg_addmm(tg_tensor *c, tg_tensor *a, tg_tensor *b);
/* x @ weight^T + bias, as torch.nn.functional.linear: x [..., in], weight
 * [out, in]; bias (or NULL) broadcasts to the result [..., out], so it may
 * be a vector [out] or a full addend (a recurrent step adds its input
 * projection this way). Leading axes of x fold into one GEMM; the weight's
 * gradient is one GEMM over all rows. */
tg_tensor *tg_affine(tg_tensor *x, tg_tensor *weight, tg_tensor *bias);
/* x @ weight^T + addend with an int8 weight (tensor/quantize.h: weights
 * quantised per output row, x quantised per row as the product runs), for
 * inference: the same shapes and broadcasting as tg_affine. It has no
 * gradient: with grad mode on and x or addend requiring a gradient it
 * returns NULL with an error saying to run it under tg_no_grad_begin(). */
tg_tensor *tg_affine_int8(tg_tensor *x, const tg_qweight *weight, tg_tensor *addend);

/* ---- Shapes (views where possible) ---------------------------------------------- */

/* One entry may be -1. A view when strides allow, else a copy. */
tg_tensor *tg_reshape(tg_tensor *x, tg_shape shape);
/* Axes start_dim..end_dim merged into one. */
tg_tensor *tg_flatten(tg_tensor *x, int start_dim, int end_dim);
tg_tensor *tg_permute(tg_tensor *x, const int *order);
tg_tensor *tg_transpose(tg_tensor *x, int dim0, int dim1);
/* Python-style slice start:stop:step along dim (negative bounds count from
 * the end; bounds clamp; step >= 1). */
tg_tensor *tg_slice(tg_tensor *x, int dim, int64_t start, int64_t stop, int64_t step);
tg_tensor *tg_narrow(tg_tensor *x, int dim, int64_t start, int64_t length);
/* The entries at `index` along dim, which is dropped (a negative index
 * counts from the end). */
tg_tensor *tg_select(tg_tensor *x, int dim, int64_t index);
/* Size-1 axes broadcast to shape (-1 keeps a size); gradient sums back. */
tg_tensor *tg_expand(tg_tensor *x, tg_shape shape);
tg_tensor *tg_squeeze(tg_tensor *x, int dim);
tg_tensor *tg_unsqueeze(tg_tensor *x, int dim);
/* x itself when contiguous, else a contiguous copy. */
tg_tensor *tg_contiguous(tg_tensor *x);
/* A copy (new memory) that keeps the history. */
tg_tensor *tg_clone(tg_tensor *x);
tg_tensor *tg_concat(tg_tensor *const *xs, int n, int dim);
/* Joins n tensors of one shape along a new axis dim. */
tg_tensor *tg_stack(tg_tensor *const *xs, int n, int dim);
/* Views of consecutive pieces along dim with the given sizes (summing to
 * the axis size) into out[0..n-1]. Returns 0 or -1. */
int tg_split(tg_tensor *x, int dim, const int64_t *sizes, int n, tg_tensor **out);
/* `chunks` views of equal size along dim (the last may be smaller, as
 * torch.chunk); returns how many were made, or -1. */
int tg_chunk(tg_tensor *x, int chunks, int dim, tg_tensor **out);

/* ---- Indexing ------------------------------------------------------------------ */

/* Entries of x along dim at the positions of a 1-d index. */
tg_tensor *tg_index_select(tg_tensor *x, int dim, tg_tensor *index);
tg_tensor *tg_gather(tg_tensor *x, int dim, tg_tensor *index);
/* x + src added along dim at the positions of a 1-d index (torch.index_add,
 * not in place): the gradient of index_select. */
tg_tensor *tg_index_add(tg_tensor *x, int dim, tg_tensor *index, tg_tensor *src);
/* x + src scattered along dim at index (torch.scatter_add, not in place). */
tg_tensor *tg_scatter_add(tg_tensor *x, int dim, tg_tensor *index, tg_tensor *src);
/* index's shape plus a last axis of `classes`; no gradient. */
tg_tensor *tg_one_hot(tg_tensor *index, int64_t classes);

/* ---- Padding, windows and convolution ------------------------------------------ *
 * Kernels in tensor/conv.h. Bad sizes (a negative padding, a window longer
 * than its padded input, channels that do not divide into groups) are
 * errors naming the op and the shapes. */

typedef enum tg_pad_mode {
    TG_PAD_CONSTANT,  /* `value` around x */
    TG_PAD_REFLECT,   /* mirrored without the edge: [1,2,3] -> 3,2,[1,2,3],2,1; pad < size */
    TG_PAD_REPLICATE, /* the edge repeated: 1,1,[1,2,3],3,3 */
    TG_PAD_CIRCULAR,  /* wrapped around: 2,3,[1,2,3],1,2; pad <= size */
} tg_pad_mode;

/* x padded as torch.nn.functional.pad: pad holds n_pad / 2 pairs (before,
 * after), the first pair for the last axis, the next for the axis before
 * it, and so on (n_pad even, at most 2 * ndim entries, none negative).
 * `value` is used by TG_PAD_CONSTANT only. The gradient of a constant pad
 * is the narrow of the output's gradient; the other modes are index
 * selections, whose gradients add the copies back into their source. */
tg_tensor *tg_pad(tg_tensor *x, const int64_t *pad, int n_pad, tg_pad_mode mode, float value);

/* The windows of `size` elements, `step` apart, along dim, as
 * torch.Tensor.unfold: a view (no copy) with dim's size replaced by the
 * number of windows, (size_dim - size) / step + 1, and a new last axis of
 * size. Windows may overlap; the gradient adds up over them (tg_fold). */
tg_tensor *tg_unfold(tg_tensor *x, int dim, int64_t size, int64_t step);
/* The adjoint of tg_unfold: x [..., windows (at dim), ..., size] becomes
 * [..., length (at dim), ...] with every window's entries added at the
 * positions tg_unfold read them from (zeros elsewhere). The windows must fit:
 * (windows - 1) * step + size <= length. Its gradient is tg_unfold. */
tg_tensor *tg_fold(tg_tensor *x, int dim, int64_t length, int64_t step);

/* Settings of tg_conv1d; a field left 0 takes the default in brackets. */
typedef struct tg_conv1d_options {
    int64_t stride;   /* [1] */
    int64_t padding;  /* [0] zeros on both ends of the length axis */
    int64_t dilation; /* [1] spacing of the kernel's taps */
    int64_t groups;   /* [1] channels split into groups convolved apart */
} tg_conv1d_options;

/* torch.nn.functional.conv1d: x [N, C_in, L] (or [C_in, L], unbatched),
 * weight [C_out, C_in / groups, K], bias [C_out] or NULL; the result is
 * [N, C_out, L_out] with L_out = (L + 2 padding - dilation (K - 1) - 1) /
 * stride + 1. Computed as im2col (one copy of the unfolded input) and BLIS
 * products, one per group (batched over N when groups > 1), composed of
 * differentiable ops (pad, unfold, reshape, matmul), so the gradients of
 * input, weight and bias are those ops' own rules: the input's is the fold
 * (the transposed unfold) of the product of the output gradient and the
 * weight. Negative settings, channels that do not divide into the groups
 * and kernels longer than the padded input are errors. */
tg_tensor *tg_conv1d(tg_tensor *x, tg_tensor *weight, tg_tensor *bias, tg_conv1d_options options);

/* Settings of the 1-d pools; a field left 0 takes the default in brackets. */
typedef struct tg_pool1d_options {
    int64_t kernel;  /* window length, required (>= 1) */
    int64_t stride;  /* [kernel] */
    int64_t padding; /* [0] on both ends, at most kernel / 2 */
} tg_pool1d_options;

/* Max and mean over windows of the last axis of x [N, C, L] or [C, L], as
 * torch.nn.functional.max_pool1d / avg_pool1d (floor mode). max_pool1d pads
 * with the lowest float, so padding is never chosen; where a window's
 * maximum is tied, the gradient is shared evenly (torch gives it to one).
 * avg_pool1d counts padding zeros in the mean (count_include_pad). */
tg_tensor *tg_max_pool1d(tg_tensor *x, tg_pool1d_options options);
tg_tensor *tg_avg_pool1d(tg_tensor *x, tg_pool1d_options options);

/* ---- Masks --------------------------------------------------------------------------- */

/* x with `value` where mask != 0 (torch.Tensor.masked_fill, not in place):
 * mask (float32 or int64) broadcasts to x's shape, and the result has x's
 * shape. The gradient
 * reaches x where mask is 0; mask gets none. */
tg_tensor *tg_masked_fill(tg_tensor *x, tg_tensor *mask, float value);

/* ---- Softmax ------------------------------------------------------------------- */

tg_tensor *tg_softmax(tg_tensor *x, int dim);
tg_tensor *tg_log_softmax(tg_tensor *x, int dim);
/* log_softmax over x's last (class) axis, at one class per row: the
 * result has x's shape without that axis, out[...] = log_softmax(x, -1)[...,
 * index[...]]. index (int64, or float32 whole numbers) has that shape and
 * holds classes in [0, C). The same values as tg_gather of tg_log_softmax,
 * in one pass, and a backward that writes x's gradient in one pass:
 * cross_entropy's core. */
tg_tensor *tg_log_softmax_pick(tg_tensor *x, tg_tensor *index);

/* ---- Recurrent cells' gates ------------------------------------------------------ *
 * The elementwise part of one step of a cell as one op (kernels in
 * tensor/gates.h), for the layers of layers/rnn.h: B rows, H units, gate
 * pre-activations [B, G*H] (any strides) with the gates side by side in
 * PyTorch's order, states broadcasting to [B, H]. The LSTM and the GRU
 * take the input's and the state's pre-activations apart, as PyTorch's
 * fused cells do, so the step's product needs no copy of the input's. The forward saves the
 * activated gates, and the first-order backward is one pass over them; a
 * backward that creates a graph differentiates them again (second
 * derivatives, Hessian-vector products). Other shapes are errors naming the
 * op and the shapes. */

/* LSTM from the input's gates x_gates = W_ih x + b_ih + b_hh and the
 * state's h_gates = W_hh h, both [B, 4H] (i f g o), and c_prev: with
 * gates = x_gates + h_gates,
 *     c = sigmoid(f) c_prev + sigmoid(i) tanh(g),  h = sigmoid(o) tanh(c).
 * Returns [2, B, H]: h and c are its tg_select(.., 0, 0) and (.., 0, 1),
 * views with no copy. */
tg_tensor *tg_lstm_gates(tg_tensor *x_gates, tg_tensor *h_gates, tg_tensor *c_prev);
/* GRU in PyTorch's formulation (torch.nn.GRU) from the input's gates
 * x_gates = W_ih x + b_ih and the state's h_gates = W_hh h + b_hh, both
 * [B, 3H] (r z n), and h_prev:
 *     r = sigmoid(xr + hr), z = sigmoid(xz + hz), n = tanh(xn + r hn),
 *     h = n + z (h_prev - n).  Returns h [B, H]. */
tg_tensor *tg_gru_gates(tg_tensor *x_gates, tg_tensor *h_gates, tg_tensor *h_prev);
/* The seed's GRU after its second product: n_pre [B, H] = W_n [r h, x] + b,
 * z (the update gate, activated) and h_prev broadcasting to it:
 *     h = h_prev + z (tanh(n_pre) - h_prev).  Returns h [B, H]. */
tg_tensor *tg_gru_seed_gates(tg_tensor *n_pre, tg_tensor *z, tg_tensor *h_prev);

#ifdef __cplusplus
}
#endif

#endif
