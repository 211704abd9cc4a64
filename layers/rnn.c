/*
 * Recurrent layers: stacking, directions, variable lengths and batch-first
 * layout around the cell step of layers/cell.c. See layers/rnn.h.
 */
#include <stdio.h>
#include <stdlib.h>

#include "autograd/ops.h"
#include "layers/cell.h"
#include "layers/dropout.h"
#include "tensor/kernel.h"

struct tg_recurrent {
    tg_model *model; /* for the training flag and dropout's generator */
    tg_cell_kind kind;
    tg_rnn_config config;
    int directions;
    tg_cell_params *params; /* layers * directions, PyTorch's order */
};

static void recurrent_free(void *object)
{
    struct tg_recurrent *r = object;
    free(r->params);
    free(r);
}

/* Registers every layer's and direction's parameters, in PyTorch's order. */
static int add_parameters(struct tg_recurrent *r, const char *prefix, const char *op)
{
    int n = r->config.layers * r->directions;
    char (*suffixes)[24] = malloc(sizeof *suffixes * (size_t)n);
    const char **suffix_list = malloc(sizeof *suffix_list * (size_t)n);
    int64_t *inputs = malloc(sizeof *inputs * (size_t)n);
    int rc = suffixes && suffix_list && inputs ? 0 : tg_error_set("%s: out of memory", op);
    for (int k = 0; rc == 0 && k < n; k++) {
        int layer = k / r->directions;
        snprintf(suffixes[k], sizeof suffixes[k], "_l%d%s", layer, k % r->directions ? "_reverse" : "");
        suffix_list[k] = suffixes[k];
        inputs[k] = layer == 0 ? r->config.input : r->config.hidden * r->directions;
    }
    if (rc == 0)
        rc = tg_cell_add_parameters(r->model, op, prefix, r->kind, &r->config, n, suffix_list, inputs,
                                    r->params);
    free(suffixes);
    free(suffix_list);
    free(inputs);
    return rc;
}

int tg_rnn_quantize(tg_model *model, tg_rnn *rnn)
{
    if (!model || !rnn)
        return tg_error_null_input("rnn_quantize");
    if (model != rnn->model)
        return tg_error_set("%s_quantize: the layer belongs to another model",
                            tg_cell_name(rnn->kind));
    for (int k = 0; k < rnn->config.layers * rnn->directions; k++)
        if (tg_cell_quantize(model, &rnn->params[k], rnn->config.hidden) != 0)
            return -1;
    return 0;
}

int tg_lstm_quantize(tg_model *model, tg_lstm *lstm) { return tg_rnn_quantize(model, lstm); }
int tg_gru_quantize(tg_model *model, tg_gru *gru) { return tg_rnn_quantize(model, gru); }

static int quantize(tg_model *model, void *object) { return tg_rnn_quantize(model, object); }

static struct tg_recurrent *recurrent_new(tg_model *model, const char *prefix, tg_rnn_config config,
                                          tg_cell_kind kind)
{
    if (!model)
        return tg_null_input(tg_cell_name(kind));
    char op[32];
    snprintf(op, sizeof op, "%s_new", tg_cell_name(kind));
    if (config.layers == 0)
        config.layers = 1;
    if (config.input < 1 || config.hidden < 1 || config.layers < 1 ||
        !(config.dropout >= 0.0f && config.dropout < 1.0f)) {
        tg_error_set("%s: input %lld, hidden %lld and layers %d must be positive and dropout %g "
                     "in [0, 1)", op, (long long)config.input, (long long)config.hidden,
                     config.layers, (double)config.dropout);
        return NULL;
    }
    if (tg_cell_check_kinds(&config, op) != 0)
        return NULL;
    int directions = config.bidirectional ? 2 : 1;
    struct tg_recurrent *r = calloc(1, sizeof *r);
    tg_cell_params *params = calloc((size_t)(config.layers * directions), sizeof *params);
    if (!r || !params) {
        tg_error_set("%s: out of memory", op);
    } else {
        *r = (struct tg_recurrent){ model, kind, config, directions, params };
        if (add_parameters(r, prefix, op) == 0 && tg_model_own_quantizable(model, r, recurrent_free, quantize) == 0)
            return r;
    }
    free(params);
    free(r);
    return NULL;
}

tg_rnn *tg_rnn_new(tg_model *model, const char *prefix, tg_rnn_config config)
{
    return recurrent_new(model, prefix, config, TG_CELL_RNN);
}

tg_lstm *tg_lstm_new(tg_model *model, const char *prefix, tg_rnn_config config)
{
    return recurrent_new(model, prefix, config, TG_CELL_LSTM);
}

tg_gru *tg_gru_new(tg_model *model, const char *prefix, tg_rnn_config config)
{
    return recurrent_new(model, prefix, config, TG_CELL_GRU);
}

tg_rnn_config tg_rnn_get_config(const tg_rnn *rnn)
{
    return rnn ? rnn->config : (tg_rnn_config){ 0 };
}

/* ---- Forward -------------------------------------------------------------------------- */

/* What every layer and direction of one forward pass shares. */
typedef struct pass {
    const struct tg_recurrent *r;
    int64_t steps, batch;
    int time_dim;             /* 0, or 1 with batch_first */
    tg_tensor *masks;         /* [T, B, 1]: 1 on real steps, 0 on padding; NULL without lengths */
    const int64_t *lengths;   /* B lengths (options->lengths or lengths_tensor), or NULL */
    int64_t shortest;         /* steps before this need no mask */
    tg_tensor *zeros;         /* [B, H], the default initial state */
    const tg_rnn_options *options;
    tg_tensor **outputs;      /* scratch: one direction's outputs by step */
} pass;

static bool shape_is(const tg_tensor *t, int64_t d0, int64_t d1, int64_t d2)
{
    return t->ndim == 3 && t->shape[0] == d0 && t->shape[1] == d1 && t->shape[2] == d2;
}

static int check_input(const pass *p, const tg_tensor *x, const tg_rnn_options *o)
{
    const struct tg_recurrent *r = p->r;
    const char *name = tg_cell_name(r->kind);
    char sx[TG_SHAPE_STR_MAX], s[TG_SHAPE_STR_MAX];
    if (x->ndim != 3 || x->shape[2] != r->config.input || x->shape[0] < 1 || x->shape[1] < 1)
        return tg_error_set("%s: input %s: expected %s with %lld features and no empty axis", name,
                            tg_shape_format(sx, sizeof sx, x),
                            r->config.batch_first ? "[B, T, input]" : "[T, B, input]",
                            (long long)r->config.input);
    int64_t states = (int64_t)r->config.layers * r->directions;
    tg_tensor *given[2] = { o->h0, o->c0 };
    for (int k = 0; k < 2; k++)
        if (given[k] && !shape_is(given[k], states, p->batch, r->config.hidden))
            return tg_error_set("%s: input %s, %s %s: expected [%lld, %lld, %lld]", name,
                                tg_shape_format(sx, sizeof sx, x), k ? "c0" : "h0",
                                tg_shape_format(s, sizeof s, given[k]), (long long)states,
                                (long long)p->batch, (long long)r->config.hidden);
    if (o->c0 && r->kind != TG_CELL_LSTM)
        return tg_error_set("%s: c0 is given, but only an LSTM has a cell state", name);
    return 0;
}

/* Sets p->lengths from the options' array or tensor, checked. */
static int read_lengths(pass *p, const tg_tensor *x)
{
    const tg_rnn_options *o = p->options;
    const char *name = tg_cell_name(p->r->kind);
    char sx[TG_SHAPE_STR_MAX], s[TG_SHAPE_STR_MAX];
    const tg_tensor *t = o->lengths_tensor;
    if (o->lengths && t)
        return tg_error_set("%s: both lengths and lengths_tensor are given; give one", name);
    p->lengths = o->lengths;
    if (t) {
        if (t->ndim != 1 || t->shape[0] != p->batch)
            return tg_error_set("%s: input %s, lengths_tensor %s: expected [%lld]", name,
                                tg_shape_format(sx, sizeof sx, x), tg_shape_format(s, sizeof s, t),
                                (long long)p->batch);
        tg_tensor *whole = tg_to_dtype(t, TG_INT64);
        if (!whole)
            return -1;
        for (int64_t b = 0; t->dtype == TG_FLOAT32 && b < p->batch; b++)
            if ((float)whole->i64[b] != t->data[b * t->stride[0]])
                return tg_error_set("%s: lengths_tensor[%lld] = %g is not a whole number", name,
                                    (long long)b, (double)t->data[b * t->stride[0]]);
        p->lengths = whole->i64;
    }
    for (int64_t b = 0; p->lengths && b < p->batch; b++)
        if (p->lengths[b] < 0 || p->lengths[b] > p->steps)
            return tg_error_set("%s: input %s: lengths[%lld] = %lld is outside [0, %lld]", name,
                                tg_shape_format(sx, sizeof sx, x), (long long)b,
                                (long long)p->lengths[b], (long long)p->steps);
    return 0;
}

/* The masks of every step from the lengths, made once per forward. */
static int make_masks(pass *p, const int64_t *lengths)
{
    p->shortest = p->steps;
    if (!lengths)
        return 0;
    p->masks = tg_empty(TG_SHAPE(p->steps, p->batch, 1));
    if (!p->masks)
        return -1;
    for (int64_t b = 0; b < p->batch; b++)
        p->shortest = lengths[b] < p->shortest ? lengths[b] : p->shortest;
    for (int64_t t = 0; t < p->steps; t++)
        for (int64_t b = 0; b < p->batch; b++)
            p->masks->data[t * p->batch + b] = t < lengths[b] ? 1.0f : 0.0f;
    return 0;
}

/* Initial state k (layer * directions + direction): the given one or zeros. */
static tg_rnn_state initial_state(const pass *p, int k)
{
    const tg_rnn_options *o = p->options;
    tg_rnn_state s = { o->h0 ? tg_select(o->h0, 0, k) : p->zeros, NULL };
    if (p->r->kind == TG_CELL_LSTM)
        s.c = o->c0 ? tg_select(o->c0, 0, k) : p->zeros;
    return s;
}

/* One layer in one direction over every step. Fills p->outputs[t] and, when
 * states is not NULL, states[t] with the state after step t; returns the
 * final state (h NULL on error). */
static tg_rnn_state run_direction(pass *p, int k, tg_tensor *input, bool reverse, tg_tensor **states)
{
    const struct tg_recurrent *r = p->r;
    tg_rnn_state state = initial_state(p, k), failed = { NULL, NULL };
    tg_cell_plan plan;
    if (tg_cell_plan_make(&plan, r->kind, &r->config, &r->params[k]) != 0)
        return failed;
    tg_tensor *projected = tg_cell_project(&plan, input); /* every step's input at once */
    for (int64_t s = 0; s < p->steps; s++) {
        int64_t t = reverse ? p->steps - 1 - s : s;
        tg_rnn_state next = tg_cell_step(&plan, tg_select(projected, p->time_dim, t), state);
        tg_tensor *out = next.h;
        if (t >= p->shortest) {
            /* Padded sequences keep their state and output zeros. */
            tg_tensor *mask = tg_view_select(p->masks, 0, t);
            next.h = tg_where(mask, next.h, state.h);
            if (next.c)
                next.c = tg_where(mask, next.c, state.c);
            out = tg_mul(next.h, mask);
        }
        if (!out)
            return failed;
        p->outputs[t] = out;
        if (states)
            states[t] = next.h;
        state = next;
    }
    return state;
}

static tg_rnn_result recurrent_forward(struct tg_recurrent *r, tg_tensor *x,
                                       const tg_rnn_options *options)
{
    tg_rnn_result result = { 0 };
    if (!r || !x)
        return result;
    const tg_rnn_options defaults = { 0 };
    const tg_rnn_config *c = &r->config;
    pass p = { .r = r, .time_dim = c->batch_first ? 1 : 0,
               .options = options ? options : &defaults };
    p.steps = x->ndim == 3 ? x->shape[p.time_dim] : 0;
    p.batch = x->ndim == 3 ? x->shape[1 - p.time_dim] : 0;
    if (check_input(&p, x, p.options) != 0 || read_lengths(&p, x) != 0 ||
        make_masks(&p, p.lengths) != 0)
        return result;
    int states = c->layers * r->directions;
    tg_arena *arena = tg_arena_thread();
    tg_tensor **h_n = tg_arena_alloc(arena, sizeof(tg_tensor *) * (size_t)states);
    tg_tensor **c_n = tg_arena_alloc(arena, sizeof(tg_tensor *) * (size_t)states);
    tg_tensor **by_step = tg_arena_alloc(arena, sizeof(tg_tensor *) * (size_t)p.steps * 3);
    p.zeros = tg_zeros(TG_SHAPE(p.batch, c->hidden));
    if (!h_n || !c_n || !by_step || !p.zeros)
        return result;
    p.outputs = by_step;
    result.h = by_step + p.steps;
    result.h_reverse = r->directions == 2 ? by_step + 2 * p.steps : NULL;
    result.steps = p.steps;

    tg_tensor *input = x;
    for (int layer = 0; layer < c->layers; layer++) {
        if (layer > 0)
            input = tg_dropout(r->model, input, c->dropout);
        bool top = layer == c->layers - 1;
        tg_tensor *directions[2];
        for (int d = 0; d < r->directions; d++) {
            int k = layer * r->directions + d;
            tg_tensor **states = top ? (d ? result.h_reverse : result.h) : NULL;
            tg_rnn_state final = run_direction(&p, k, input, d == 1, states);
            if (!final.h)
                return (tg_rnn_result){ 0 };
            h_n[k] = final.h;
            c_n[k] = final.c;
            directions[d] = tg_stack(p.outputs, (int)p.steps, p.time_dim);
        }
        input = r->directions == 2 ? tg_concat(directions, 2, 2) : directions[0];
    }
    result.output = input;
    result.h_n = tg_stack(h_n, states, 0);
    result.c_n = r->kind == TG_CELL_LSTM ? tg_stack(c_n, states, 0) : NULL;
    if (!result.output || !result.h_n || (r->kind == TG_CELL_LSTM && !result.c_n))
        return (tg_rnn_result){ 0 };
    return result;
}

tg_rnn_result tg_rnn_forward(tg_rnn *rnn, tg_tensor *x, const tg_rnn_options *options)
{
    return recurrent_forward(rnn, x, options);
}

tg_rnn_result tg_lstm_forward(tg_lstm *lstm, tg_tensor *x, const tg_rnn_options *options)
{
    return recurrent_forward(lstm, x, options);
}

tg_rnn_result tg_gru_forward(tg_gru *gru, tg_tensor *x, const tg_rnn_options *options)
{
    return recurrent_forward(gru, x, options);
}
