/*
 * The recurrent cells: parameters, the one step each kind takes, and the
 * single-step cell objects of layers/rnn.h. Equations: layers/rnn.h.
 */
#include "layers/cell.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "autograd/ops.h"
#include "layers/params.h"
#include "tensor/kernel.h"
#include "tensor/reference.h"

const char *tg_cell_name(tg_cell_kind kind)
{
    return kind == TG_CELL_LSTM ? "lstm" : kind == TG_CELL_GRU ? "gru" : "rnn";
}

static int64_t gate_count(tg_cell_kind kind)
{
    return kind == TG_CELL_LSTM ? 4 : kind == TG_CELL_GRU ? 3 : 1;
}

/* ---- Parameters ------------------------------------------------------------------- */

enum { PARAMS_PER_SET = 4 };

static void init_params(tg_model *model, tg_cell_kind kind, const tg_rnn_config *config,
                        tg_cell_params *p)
{
    float bound = 1.0f / sqrtf((float)config->hidden);
    tg_tensor *all[PARAMS_PER_SET] = { p->weight_ih, p->weight_hh, p->bias_ih, p->bias_hh };
    for (int i = 0; i < PARAMS_PER_SET; i++)
        if (all[i])
            tg_layer_init_uniform(model, all[i], bound);
    if (kind == TG_CELL_LSTM && config->forget_bias_one && p->bias_ih) {
        int64_t h = config->hidden;
        for (int64_t j = h; j < 2 * h; j++) {
            p->bias_ih->data[j] = 1.0f;
            p->bias_hh->data[j] = 0.0f;
        }
        tg_tensor_mark_written(p->bias_ih);
        tg_tensor_mark_written(p->bias_hh);
    }
}

const char *tg_gru_formulation_name(tg_gru_formulation formulation)
{
    return formulation == TG_GRU_PYTORCH ? "pytorch" : "seed";
}

/* The model's metadata says which equations the GRU at prefix uses, so that
 * its checkpoints carry it (layers/model_io.c checks it on load). */
static int record_gru_formulation(tg_model *model, const char *prefix,
                                  tg_gru_formulation formulation)
{
    char key[TG_NAME_MAX + 32];
    snprintf(key, sizeof key, "%s%s", TG_GRU_METADATA_PREFIX, prefix ? prefix : "");
    return tg_model_set_metadata(model, key, tg_gru_formulation_name(formulation));
}

int tg_cell_add_parameters(tg_model *model, const char *op, const char *prefix, tg_cell_kind kind,
                           const tg_rnn_config *config, int n, const char *const *suffixes,
                           const int64_t *inputs, tg_cell_params *out)
{
    static const char *const bases[PARAMS_PER_SET] = { "weight_ih", "weight_hh", "bias_ih", "bias_hh" };
    int per_set = config->no_bias ? 2 : PARAMS_PER_SET;
    int total = n * per_set;
    char (*names)[TG_NAME_MAX] = malloc(sizeof *names * (size_t)total);
    const char **name_list = malloc(sizeof *name_list * (size_t)total);
    tg_shape *shapes = malloc(sizeof *shapes * (size_t)total);
    tg_tensor **params = calloc((size_t)total, sizeof *params);
    int rc = names && name_list && shapes && params ? 0 : tg_error_set("%s: out of memory", op);
    int64_t rows = gate_count(kind) * config->hidden;
    for (int k = 0; rc == 0 && k < n; k++) {
        const tg_shape set_shapes[PARAMS_PER_SET] = { TG_SHAPE(rows, inputs[k]),
                                                      TG_SHAPE(rows, config->hidden),
                                                      TG_SHAPE(rows), TG_SHAPE(rows) };
        for (int i = 0; i < per_set; i++) {
            int at = k * per_set + i;
            snprintf(names[at], TG_NAME_MAX, "%s%s", bases[i], suffixes[k]);
            name_list[at] = names[at];
            shapes[at] = set_shapes[i];
        }
    }
    if (rc == 0)
        rc = tg_layer_add_parameters(model, op, prefix, total, name_list, shapes, params);
    if (rc == 0 && kind == TG_CELL_GRU)
        rc = record_gru_formulation(model, prefix, config->gru);
    for (int k = 0; rc == 0 && k < n; k++) {
        tg_tensor **set = params + k * per_set;
        out[k] = (tg_cell_params){ .weight_ih = set[0], .weight_hh = set[1],
                                   .bias_ih = per_set > 2 ? set[2] : NULL,
                                   .bias_hh = per_set > 2 ? set[3] : NULL };
        init_params(model, kind, config, &out[k]);
    }
    free(names);
    free(name_list);
    free(shapes);
    free(params);
    return rc;
}

/* ---- One forward's plan ---------------------------------------------------------------- */

int tg_cell_quantize(tg_model *model, tg_cell_params *params, int64_t hidden)
{
    if (!params->qweight_ih) {
        params->qweight_ih = tg_layer_quantize_weight(model, params->weight_ih, hidden);
        if (!params->qweight_ih)
            return -1;
        params->weight_ih = NULL;
    }
    if (!params->qweight_hh) {
        params->qweight_hh = tg_layer_quantize_weight(model, params->weight_hh, hidden);
        if (!params->qweight_hh)
            return -1;
        params->weight_hh = NULL;
    }
    return 0;
}

int tg_cell_plan_make(tg_cell_plan *plan, tg_cell_kind kind, const tg_rnn_config *config,
                      const tg_cell_params *params)
{
    int64_t h = config->hidden;
    *plan = (tg_cell_plan){ .kind = kind, .nonlinearity = config->nonlinearity,
                            .gru = config->gru, .hidden = h, .weight_ih = params->weight_ih,
                            .weight_hh = params->weight_hh, .qweight_ih = params->qweight_ih };
    bool bias = params->bias_ih != NULL;
    bool seed_gru = kind == TG_CELL_GRU && config->gru == TG_GRU_SEED;
    if (params->qweight_hh) {
        const tg_qweight *q = params->qweight_hh;
        int64_t first = seed_gru ? 2 * h : q->rows;
        if (tg_qweight_rows(q, 0, first, &plan->qweight_hh) != 0 ||
            (seed_gru && tg_qweight_rows(q, first, h, &plan->qweight_hn) != 0))
            return -1;
    } else if (seed_gru) {
        plan->weight_hh = tg_narrow(params->weight_hh, 0, 0, 2 * h);
        plan->weight_hn = tg_narrow(params->weight_hh, 0, 2 * h, h);
        if (!plan->weight_hh || !plan->weight_hn)
            return -1;
    }
    if (!bias)
        return 0;
    if (kind == TG_CELL_GRU && config->gru == TG_GRU_PYTORCH) {
        /* As torch.nn.GRU: W_ih x + b_ih and W_hh h + b_hh apart (r multiplies b_hn). */
        plan->input_bias = params->bias_ih;
        plan->hidden_bias = params->bias_hh;
        return 0;
    }
    plan->input_bias = tg_add(params->bias_ih, params->bias_hh);
    return plan->input_bias ? 0 : -1;
}

/* x w^T + addend with the float weight w, or with q when the layer is int8. */
static tg_tensor *product(tg_tensor *x, tg_tensor *w, const tg_qweight *q, tg_tensor *addend)
{
    return w ? tg_affine(x, w, addend) : tg_affine_int8(x, q, addend);
}

tg_tensor *tg_cell_project(const tg_cell_plan *plan, tg_tensor *x)
{
    return product(x, plan->weight_ih, plan->qweight_ih, plan->input_bias);
}

/* ---- Steps: `projected` holds W_ih x_t plus the folded biases ------------------------------- */

static tg_rnn_state rnn_step(const tg_cell_plan *plan, tg_tensor *projected, tg_rnn_state prev)
{
    tg_tensor *pre = product(prev.h, plan->weight_hh, &plan->qweight_hh, projected);
    return (tg_rnn_state){ plan->nonlinearity == TG_RNN_RELU ? tg_relu(pre) : tg_tanh(pre), NULL };
}

static tg_rnn_state lstm_step(const tg_cell_plan *plan, tg_tensor *projected, tg_rnn_state prev)
{
    tg_tensor *h_gates = product(prev.h, plan->weight_hh, &plan->qweight_hh, NULL); /* [B, 4H]: i f g o */
    if (!tg_reference_mode()) {
        tg_tensor *hc = tg_lstm_gates(projected, h_gates, prev.c);
        return (tg_rnn_state){ tg_select(hc, 0, 0), tg_select(hc, 0, 1) };
    }
    int64_t h = plan->hidden;
    tg_tensor *gates = tg_add(projected, h_gates);
    tg_tensor *sig = tg_sigmoid(gates); /* one pass over all four; the g slice is unused */
    tg_tensor *i = tg_narrow(sig, 1, 0, h);
    tg_tensor *f = tg_narrow(sig, 1, h, h);
    tg_tensor *g = tg_tanh(tg_narrow(gates, 1, 2 * h, h));
    tg_tensor *o = tg_narrow(sig, 1, 3 * h, h);
    tg_tensor *c = tg_add(tg_mul(f, prev.c), tg_mul(i, g));
    return (tg_rnn_state){ tg_mul(o, tg_tanh(c)), c };
}

/* n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)); h' = n + z ⊙ (h - n) */
static tg_rnn_state gru_pytorch_step(const tg_cell_plan *plan, tg_tensor *projected, tg_rnn_state prev)
{
    tg_tensor *h_gates = product(prev.h, plan->weight_hh, &plan->qweight_hh, plan->hidden_bias); /* r z n */
    if (!tg_reference_mode())
        return (tg_rnn_state){ tg_gru_gates(projected, h_gates, prev.h), NULL };
    int64_t h = plan->hidden;
    tg_tensor *rz = tg_sigmoid(tg_add(tg_narrow(projected, 1, 0, 2 * h), tg_narrow(h_gates, 1, 0, 2 * h)));
    tg_tensor *r = tg_narrow(rz, 1, 0, h);
    tg_tensor *z = tg_narrow(rz, 1, h, h);
    tg_tensor *n = tg_tanh(tg_add(tg_narrow(projected, 1, 2 * h, h), tg_mul(r, tg_narrow(h_gates, 1, 2 * h, h))));
    return (tg_rnn_state){ tg_add(n, tg_mul(z, tg_sub(prev.h, n))), NULL };
}

/* n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn); h' = h + z ⊙ (n - h) */
static tg_rnn_state gru_seed_step(const tg_cell_plan *plan, tg_tensor *projected, tg_rnn_state prev)
{
    int64_t h = plan->hidden;
    tg_tensor *rz = tg_sigmoid(product(prev.h, plan->weight_hh, &plan->qweight_hh,
                                          tg_narrow(projected, 1, 0, 2 * h)));
    tg_tensor *r = tg_narrow(rz, 1, 0, h);
    tg_tensor *z = tg_narrow(rz, 1, h, h);
    tg_tensor *n_pre = product(tg_mul(r, prev.h), plan->weight_hn, &plan->qweight_hn, tg_narrow(projected, 1, 2 * h, h));
    if (!tg_reference_mode())
        return (tg_rnn_state){ tg_gru_seed_gates(n_pre, z, prev.h), NULL };
    tg_tensor *n = tg_tanh(n_pre);
    return (tg_rnn_state){ tg_add(prev.h, tg_mul(z, tg_sub(n, prev.h))), NULL };
}

tg_rnn_state tg_cell_step(const tg_cell_plan *plan, tg_tensor *projected, tg_rnn_state prev)
{
    if (!projected) /* the products take NULL for "no addend": stop here */
        return (tg_rnn_state){ NULL, NULL };
    switch (plan->kind) {
    case TG_CELL_LSTM:
        return lstm_step(plan, projected, prev);
    case TG_CELL_GRU:
        return plan->gru == TG_GRU_PYTORCH ? gru_pytorch_step(plan, projected, prev)
                                           : gru_seed_step(plan, projected, prev);
    default:
        return rnn_step(plan, projected, prev);
    }
}

/* ---- Single-step cells ----------------------------------------------------------------------- */

struct tg_recurrent_cell {
    tg_cell_kind kind;
    tg_rnn_config config;
    tg_cell_params params;
};

int tg_cell_check_kinds(const tg_rnn_config *config, const char *op)
{
    if ((unsigned)config->nonlinearity > TG_RNN_RELU)
        return tg_error_set("%s: nonlinearity %d is neither TG_RNN_TANH (0) nor TG_RNN_RELU (1)", op,
                            (int)config->nonlinearity);
    if ((unsigned)config->gru > TG_GRU_PYTORCH)
        return tg_error_set("%s: gru %d is neither TG_GRU_SEED (0) nor TG_GRU_PYTORCH (1)", op,
                            (int)config->gru);
    return 0;
}

static int quantize_cell(tg_model *model, void *object)
{
    struct tg_recurrent_cell *cell = object;
    return tg_cell_quantize(model, &cell->params, cell->config.hidden);
}

static struct tg_recurrent_cell *cell_new(tg_model *model, const char *prefix, tg_rnn_config config,
                                          tg_cell_kind kind)
{
    if (!model)
        return tg_null_input(tg_cell_name(kind));
    const char *name = tg_cell_name(kind);
    if (config.input < 1 || config.hidden < 1 || config.layers > 1 || config.bidirectional ||
        config.dropout != 0.0f || config.batch_first) {
        tg_error_set("%s_cell_new: input %lld and hidden %lld must be positive; a cell has one "
                     "layer, one direction, no dropout and no batch_first", name,
                     (long long)config.input, (long long)config.hidden);
        return NULL;
    }
    char op[32];
    snprintf(op, sizeof op, "%s_cell_new", name);
    if (tg_cell_check_kinds(&config, op) != 0)
        return NULL;
    struct tg_recurrent_cell *cell = calloc(1, sizeof *cell);
    if (!cell) {
        tg_error_set("%s_cell_new: out of memory", name);
        return NULL;
    }
    *cell = (struct tg_recurrent_cell){ .kind = kind, .config = config };
    cell->config.layers = 1;
    if (tg_cell_add_parameters(model, op, prefix, kind, &config, 1, (const char *const[]){ "" },
                               &config.input, &cell->params) != 0 ||
        tg_model_own_quantizable(model, cell, free, quantize_cell) != 0) {
        free(cell);
        return NULL;
    }
    return cell;
}

tg_rnn_cell *tg_rnn_cell_new(tg_model *model, const char *prefix, tg_rnn_config config)
{
    return cell_new(model, prefix, config, TG_CELL_RNN);
}

tg_lstm_cell *tg_lstm_cell_new(tg_model *model, const char *prefix, tg_rnn_config config)
{
    return cell_new(model, prefix, config, TG_CELL_LSTM);
}

tg_gru_cell *tg_gru_cell_new(tg_model *model, const char *prefix, tg_rnn_config config)
{
    return cell_new(model, prefix, config, TG_CELL_GRU);
}

/* True when t is NULL or [B, H]. */
static bool state_fits(const tg_tensor *t, int64_t batch, int64_t hidden)
{
    return !t || (t->ndim == 2 && t->shape[0] == batch && t->shape[1] == hidden);
}

static tg_rnn_state cell_forward(struct tg_recurrent_cell *cell, tg_tensor *x, tg_rnn_state state)
{
    tg_rnn_state failed = { NULL, NULL };
    if (!cell || !x)
        return failed;
    const char *name = tg_cell_name(cell->kind);
    int64_t hidden = cell->config.hidden;
    int64_t batch = x->ndim == 2 ? x->shape[0] : 0;
    if (x->ndim != 2 || x->shape[1] != cell->config.input || !state_fits(state.h, batch, hidden) ||
        !state_fits(state.c, batch, hidden) || (state.c && cell->kind != TG_CELL_LSTM)) {
        char sx[TG_SHAPE_STR_MAX], sh[TG_SHAPE_STR_MAX], sc[TG_SHAPE_STR_MAX];
        tg_error_set("%s_cell: input %s, h %s, c %s: expected input [B, %lld] and states [B, %lld] "
                     "or NULL (c for the LSTM only)", name, tg_shape_format(sx, sizeof sx, x),
                     state.h ? tg_shape_format(sh, sizeof sh, state.h) : "NULL",
                     state.c ? tg_shape_format(sc, sizeof sc, state.c) : "NULL",
                     (long long)cell->config.input, (long long)hidden);
        return failed;
    }
    tg_tensor *zeros = !state.h || (cell->kind == TG_CELL_LSTM && !state.c)
                           ? tg_zeros(TG_SHAPE(batch, hidden)) : NULL;
    tg_rnn_state prev = { state.h ? state.h : zeros,
                          cell->kind == TG_CELL_LSTM ? (state.c ? state.c : zeros) : NULL };
    tg_cell_plan plan;
    if (tg_cell_plan_make(&plan, cell->kind, &cell->config, &cell->params) != 0 || !prev.h)
        return failed;
    tg_rnn_state next = tg_cell_step(&plan, tg_cell_project(&plan, x), prev);
    return next.h ? next : failed;
}

tg_rnn_state tg_rnn_cell_forward(tg_rnn_cell *cell, tg_tensor *x, tg_rnn_state state)
{
    return cell_forward(cell, x, state);
}

tg_rnn_state tg_lstm_cell_forward(tg_lstm_cell *cell, tg_tensor *x, tg_rnn_state state)
{
    return cell_forward(cell, x, state);
}

tg_rnn_state tg_gru_cell_forward(tg_gru_cell *cell, tg_tensor *x, tg_rnn_state state)
{
    return cell_forward(cell, x, state);
}
