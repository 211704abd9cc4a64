/*
 * layers/cell.h: the recurrent cells' parameters and step (internal to
 * layers/). The layers of layers/rnn.c and the single-step cells share them.
 */
#ifndef TG_CELL_H
#define TG_CELL_H

#include "layers/rnn.h"

typedef enum tg_cell_kind {
    TG_CELL_RNN,
    TG_CELL_LSTM,
    TG_CELL_GRU,
} tg_cell_kind;

/* "rnn", "lstm" or "gru", for error messages. */
const char *tg_cell_name(tg_cell_kind kind);

/* -1 with an error naming op when the config's nonlinearity or GRU
 * formulation is not one of its enum's values. */
int tg_cell_check_kinds(const tg_rnn_config *config, const char *op);

/* The parameters of one layer and direction, in PyTorch's layout. */
typedef struct tg_cell_params {
    tg_tensor *weight_ih; /* [G*hidden, in]; NULL once quantised */
    tg_tensor *weight_hh; /* [G*hidden, hidden]; NULL once quantised */
    tg_tensor *bias_ih;   /* [G*hidden], or NULL without biases */
    tg_tensor *bias_hh;
    tg_qweight *qweight_ih; /* once quantised: the int8 weights (the model's); else NULL */
    tg_qweight *qweight_hh;
} tg_cell_params;

/* Replaces the set's weights by int8 weights packed by gate (segments of
 * hidden rows); done already is fine. 0, or -1 with an error. */
int tg_cell_quantize(tg_model *model, tg_cell_params *params, int64_t hidden);

/* Registers n sets of cell parameters, set k named weight_ih<suffixes[k]>
 * and so on with inputs[k] input features, and initialises them as
 * layers/rnn.h says. All or nothing; -1 with an error naming op. */
int tg_cell_add_parameters(tg_model *model, const char *op, const char *prefix, tg_cell_kind kind,
                           const tg_rnn_config *config, int n, const char *const *suffixes,
                           const int64_t *inputs, tg_cell_params *out);

/* What the steps of one forward pass read: views and sums of the
 * parameters, made once per forward. */
typedef struct tg_cell_plan {
    tg_cell_kind kind;
    tg_rnn_nonlinearity nonlinearity;
    tg_gru_formulation gru;
    int64_t hidden;
    tg_tensor *weight_ih;
    tg_tensor *input_bias; /* every bias that adds to a pre-activation, or NULL */
    tg_tensor *weight_hh;  /* all rows; the seed's GRU: the r and z rows */
    tg_tensor *weight_hn;  /* the seed's GRU: the n rows */
    /* int8 layers: the weights above are NULL and these are used instead */
    const tg_qweight *qweight_ih;
    tg_qweight qweight_hh, qweight_hn; /* views of the rows, as weight_hh and weight_hn */
    tg_tensor *hidden_bias; /* PyTorch's GRU: b_hh, added to W_hh h (r multiplies b_hn); else NULL */
} tg_cell_plan;

int tg_cell_plan_make(tg_cell_plan *plan, tg_cell_kind kind, const tg_rnn_config *config,
                      const tg_cell_params *params);

/* The input projection of every step at once: x [..., in] -> [..., G*hidden]. */
tg_tensor *tg_cell_project(const tg_cell_plan *plan, tg_tensor *x);

/* One step from the step's projection [B, G*hidden] and the previous state;
 * h NULL on error. The elementwise part after the products is one fused op
 * (tg_lstm_gates, tg_gru_gates, tg_gru_seed_gates), or in the reference
 * mode (tensor/reference.h) the same formula composed of separate ops. */
tg_rnn_state tg_cell_step(const tg_cell_plan *plan, tg_tensor *projected, tg_rnn_state prev);

#endif
