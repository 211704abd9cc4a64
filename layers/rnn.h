/*
 * layers/rnn.h: recurrent layers (RNN, LSTM, GRU) and single-step cells.
 *
 * A recurrent layer unrolls its cell over time as ordinary differentiable
 * ops, so backpropagation through time is the tape's reverse walk: nothing
 * here computes a gradient by hand.
 *
 * ---- The cells -------------------------------------------------------------
 *
 * For each step t, with x_t the input and h_{t-1} the previous state (σ is
 * the logistic sigmoid, ⊙ the elementwise product, W_i* the rows of
 * weight_ih and W_h* those of weight_hh for one gate):
 *
 * RNN (nonlinearity tanh, or relu), as the seed and torch.nn.RNN:
 *   h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
 *
 * LSTM, as the seed and torch.nn.LSTM (gates in PyTorch's order i, f, g, o):
 *   i = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)       input gate
 *   f = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)       forget gate
 *   g = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)    candidate C~_t
 *   o = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)       output gate
 *   c_t = f ⊙ c_{t-1} + i ⊙ g
 *   h_t = o ⊙ tanh(c_t)
 * The seed's W_f [h_{t-1}, x_t] + b_f is W_hf h_{t-1} + W_if x_t with
 * b_f = b_if + b_hf: the same function, in PyTorch's layout.
 *
 * GRU (gates in PyTorch's order r, z, n). Reset and update gates:
 *   r = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
 *   z = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
 * then, by default (TG_GRU_SEED), the seed's equations:
 *   n   = tanh(W_in x_t + b_in + W_hn (r ⊙ h_{t-1}) + b_hn)
 *   h_t = (1 - z) ⊙ h_{t-1} + z ⊙ n
 * or, with .gru = TG_GRU_PYTORCH, torch.nn.GRU's equations:
 *   n   = tanh(W_in x_t + b_in + r ⊙ (W_hn h_{t-1} + b_hn))
 *   h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}
 * The two differ in where the reset gate acts (on h before the recurrent
 * product, or on the product after it) and in which of the two terms z
 * weights, so the same weights give different results: load weights from
 * torch.nn.GRU into a TG_GRU_PYTORCH layer to get torch's outputs.
 * A GRU (layer or cell) records its formulation in the model's metadata,
 * key TG_GRU_METADATA_PREFIX + its prefix, value "seed" or "pytorch", so
 * its checkpoints say which they hold; tg_model_load refuses a file of the
 * other formulation, or a file without the key (such as a torch.nn.GRU
 * checkpoint) into a TG_GRU_SEED GRU (see layers/model_io.h).
 *
 * ---- Parameters --------------------------------------------------------------
 *
 * Registered in the model under the layer's prefix with PyTorch's names and
 * shapes, so state dicts move between the two. G is 1 (RNN), 4 (LSTM) or
 * 3 (GRU); for layer k (from 0), with in = input for k = 0 and
 * hidden * directions above:
 *   prefix.weight_ih_lk  [G*hidden, in]
 *   prefix.weight_hh_lk  [G*hidden, hidden]
 *   prefix.bias_ih_lk    [G*hidden]        (unless no_bias)
 *   prefix.bias_hh_lk    [G*hidden]        (unless no_bias)
 * and the same with the suffix _reverse for the second direction, in
 * PyTorch's order (layer 0 forward, layer 0 reverse, layer 1, ...).
 *
 * Initialisation, as PyTorch, from the model's generator: every parameter
 * from U(-1/sqrt(hidden), 1/sqrt(hidden)). With forget_bias_one (LSTM), the
 * forget-gate slice [hidden, 2*hidden) of every bias_ih is then set to 1
 * and the same slice of every bias_hh to 0, so the forget gate's total bias
 * starts at exactly 1 (f = σ(1 + ...) ≈ 0.73): the state is kept by default
 * and gradients reach far back from the first step. (Without biases,
 * no_bias, there is nothing to set.)
 *
 * ---- Shapes and options ------------------------------------------------------
 *
 * x is [T, B, input] (time first, PyTorch's default) or, with batch_first,
 * [B, T, input]. The output is [T, B, D*hidden] (or [B, T, D*hidden]),
 * D = 2 when bidirectional, with the forward direction in the first hidden
 * features and the reverse in the second. h_n (and c_n) are
 * [layers*D, B, hidden] in PyTorch's order: index k*D + d for layer k,
 * direction d (0 forward, 1 reverse), whatever batch_first says.
 *
 * Variable-length batches: give lengths[b] for each sequence b (0 to T),
 * as an array or a tensor.
 * Steps t >= lengths[b] are padding: the state of sequence b stays as it
 * was and its output there is zero, so h_n holds each sequence's state
 * after its last real step. The reverse direction starts at each sequence's
 * own last real step (from h0) and runs down to step 0, as PyTorch does with
 * pack_padded_sequence. The masks are made once per forward; steps shorter
 * than every sequence run without them.
 *
 * Dropout (between layers) acts on each layer's output except the last's,
 * in training mode only, with the model's generator.
 *
 * Carrying the state from one batch to the next (truncated BPTT): copy
 * h_n (and c_n) into owned tensors before tg_graph_reset, which also cuts
 * the history, and give them as h0 (and c0) to the next forward:
 *
 *     tg_tensor *h = tg_tensor_zeros(TG_SHAPE(layers * D, B, hidden));  // once
 *     ...
 *     tg_rnn_result r = tg_lstm_forward(lstm, x, &(tg_rnn_options){ .h0 = h, .c0 = c });
 *     ...backward, update...
 *     tg_tensor_copy_(h, r.h_n);
 *     tg_tensor_copy_(c, r.c_n);
 *     tg_graph_reset();
 *
 * ---- Speed --------------------------------------------------------------------
 *
 * Per layer and direction, one matrix product projects the inputs of every
 * step at once, with every bias that adds to a pre-activation folded in;
 * each step then does one recurrent product whose addend is that step's
 * slice of the projection (the GRU does two: its r and z rows, then its n
 * rows), and elementwise ops on views of the gates. Everything lives in the
 * graph's arena.
 */
#ifndef TG_RNN_H
#define TG_RNN_H

#include <stdbool.h>
#include <stdint.h>

#include "layers/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tg_rnn_nonlinearity {
    TG_RNN_TANH = 0, /* default */
    TG_RNN_RELU,
} tg_rnn_nonlinearity;

typedef enum tg_gru_formulation {
    TG_GRU_SEED = 0, /* default: reset before the recurrent product; z weights the candidate */
    TG_GRU_PYTORCH,  /* torch.nn.GRU: reset after the recurrent product; z weights h_{t-1} */
} tg_gru_formulation;

/* The metadata key of a GRU's formulation is this followed by its prefix. */
#define TG_GRU_METADATA_PREFIX "tapegrad.gru."
/* The metadata value of each formulation: "seed" or "pytorch". */
const char *tg_gru_formulation_name(tg_gru_formulation formulation);

/* Configuration of a layer or cell; zero fields mean the default. */
typedef struct tg_rnn_config {
    int64_t input;      /* features per step; required */
    int64_t hidden;     /* state size; required */
    int layers;         /* stacked layers; default 1 (cells: must be 0 or 1) */
    bool bidirectional; /* a second, reverse direction per layer (layers only) */
    float dropout;      /* probability between layers, in [0, 1) (layers only) */
    bool batch_first;   /* x is [B, T, input] (layers only) */
    bool no_bias;       /* no bias_ih / bias_hh (torch's bias=False) */
    tg_rnn_nonlinearity nonlinearity; /* RNN: tanh or relu */
    tg_gru_formulation gru;           /* GRU: the seed's or PyTorch's equations */
    bool forget_bias_one; /* LSTM: forget-gate bias starts at 1 (see above);
                             the RNN and GRU have no forget gate and ignore it */
} tg_rnn_config;

/* A layer. The three names are one type; each constructor fixes the cell. */
typedef struct tg_recurrent tg_rnn;
typedef struct tg_recurrent tg_lstm;
typedef struct tg_recurrent tg_gru;

/* Per-call options of a forward pass; NULL, or zero fields, for defaults. */
typedef struct tg_rnn_options {
    tg_tensor *h0; /* initial state [layers*D, B, hidden]; default zeros */
    tg_tensor *c0; /* LSTM: initial cell state, same shape; default zeros */
    const int64_t *lengths; /* B sequence lengths in [0, T]; default all T */
    /* Or the lengths as a tensor [B]: int64, or float32 of whole numbers. */
    const tg_tensor *lengths_tensor;
} tg_rnn_options;

/* What a forward pass gives. Every tensor is a graph tensor (valid until
 * tg_graph_reset); the arrays live in the graph's arena too. */
typedef struct tg_rnn_result {
    tg_tensor *output; /* [T, B, D*hidden] (batch_first: [B, T, D*hidden]); NULL on error */
    tg_tensor *h_n;    /* [layers*D, B, hidden]: the final states */
    tg_tensor *c_n;    /* LSTM: the final cell states, same shape; otherwise NULL */
    /* h[t], t in [0, steps): the top layer's forward-direction state after
     * step t, [B, hidden]: the very tensor that step t+1 reads, so
     * tg_retain_grad(h[t]) before backward gives dLoss/dh_t. */
    tg_tensor **h;
    tg_tensor **h_reverse; /* bidirectional: the same for the reverse direction, by t; else NULL */
    int64_t steps;     /* T */
} tg_rnn_result;

/* New layers owned by the model (freed by tg_model_free). NULL with an
 * error when a size is not positive, dropout is outside [0, 1), or a
 * parameter name is taken; nothing is registered then. */
tg_rnn *tg_rnn_new(tg_model *model, const char *prefix, tg_rnn_config config);
tg_lstm *tg_lstm_new(tg_model *model, const char *prefix, tg_rnn_config config);
tg_gru *tg_gru_new(tg_model *model, const char *prefix, tg_rnn_config config);

/* Runs the layer over x. options may be NULL. On bad input (x not 3-d or
 * of the wrong width, a state of the wrong shape, a length outside [0, T],
 * c0 given to a layer that is not an LSTM) the result's output is NULL and
 * an error names the layer's kind and the shapes; a NULL x gives a NULL
 * output silently. The three functions are the same; use the one that
 * names your layer. */
tg_rnn_result tg_rnn_forward(tg_rnn *rnn, tg_tensor *x, const tg_rnn_options *options);
tg_rnn_result tg_lstm_forward(tg_lstm *lstm, tg_tensor *x, const tg_rnn_options *options);
tg_rnn_result tg_gru_forward(tg_gru *gru, tg_tensor *x, const tg_rnn_options *options);

/* Makes the layer an int8 layer for inference, as
 * torch.quantization.quantize_dynamic does to nn.RNN, nn.LSTM and nn.GRU:
 * every weight_ih and weight_hh becomes int8 per output row (packed by
 * gate; see tensor/quantize.h and tg_model_quantize_parameter), the biases
 * stay float, and the forward call stays the same: the input projection
 * and each step's recurrent products run through tg_affine_int8, with the
 * step's input (h_{t-1}) quantised per row as it runs; the gates'
 * elementwise math stays float. The forward must then run under
 * tg_no_grad_begin() (int8 layers pass no gradient; with grad mode on its
 * output is NULL with an error saying so). model must be the layer's.
 * tg_quantize_dynamic (layers/model.h) does this for every layer, and the
 * single-step cells below too. 0 (also when quantised already), or -1 with
 * an error. The three functions are the same. */
int tg_rnn_quantize(tg_model *model, tg_rnn *rnn);
int tg_lstm_quantize(tg_model *model, tg_lstm *lstm);
int tg_gru_quantize(tg_model *model, tg_gru *gru);

/* The configuration with defaults filled in (layers >= 1). */
tg_rnn_config tg_rnn_get_config(const tg_rnn *rnn);

/* ---- Single-step cells (torch.nn.RNNCell, LSTMCell, GRUCell) -------------------
 *
 * One step of the same cell as the layers above, for loops you write:
 *
 *     tg_lstm_cell *cell = tg_lstm_cell_new(model, "cell", (tg_rnn_config){ .input = 8, .hidden = 16 });
 *     tg_rnn_state s = { 0 };                     // zeros
 *     for (int t = 0; t < T; t++)
 *         s = tg_lstm_cell_forward(cell, x[t], s);   // s.h, s.c: [B, 16]
 *
 * Parameters as PyTorch's cells: prefix.weight_ih [G*hidden, input],
 * prefix.weight_hh [G*hidden, hidden], prefix.bias_ih, prefix.bias_hh.
 * The config's nonlinearity, gru, no_bias and forget_bias_one apply; layers
 * above 1, bidirectional, dropout and batch_first are errors.
 */

typedef struct tg_recurrent_cell tg_rnn_cell;
typedef struct tg_recurrent_cell tg_lstm_cell;
typedef struct tg_recurrent_cell tg_gru_cell;

/* A cell's state: h [B, hidden], and c [B, hidden] for the LSTM (NULL for
 * the others). In a cell's input, NULL tensors mean zeros. */
typedef struct tg_rnn_state {
    tg_tensor *h;
    tg_tensor *c;
} tg_rnn_state;

tg_rnn_cell *tg_rnn_cell_new(tg_model *model, const char *prefix, tg_rnn_config config);
tg_lstm_cell *tg_lstm_cell_new(tg_model *model, const char *prefix, tg_rnn_config config);
tg_gru_cell *tg_gru_cell_new(tg_model *model, const char *prefix, tg_rnn_config config);

/* One step: x [B, input] and the previous state give the new state (graph
 * tensors). On bad input (shapes, c given to a cell that is not an LSTM)
 * the returned h is NULL with an error; a NULL x gives a NULL h silently. */
tg_rnn_state tg_rnn_cell_forward(tg_rnn_cell *cell, tg_tensor *x, tg_rnn_state state);
tg_rnn_state tg_lstm_cell_forward(tg_lstm_cell *cell, tg_tensor *x, tg_rnn_state state);
tg_rnn_state tg_gru_cell_forward(tg_gru_cell *cell, tg_tensor *x, tg_rnn_state state);

#ifdef __cplusplus
}
#endif

#endif
