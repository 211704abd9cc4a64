/* Recurrent layers: gradients over every option, variable lengths,
 * layouts, parameters, initialisation, retained step states and errors. */
#include "layer_check.h"

TestSuite(rnn, .init = tg_test_setup, .fini = tg_test_teardown);

typedef enum kind { RNN, LSTM, GRU } kind;

static tg_rnn *make_layer(tg_model *model, const char *prefix, kind k, tg_rnn_config config)
{
    tg_rnn *layer = k == LSTM ? tg_lstm_new(model, prefix, config)
                  : k == GRU  ? tg_gru_new(model, prefix, config)
                              : tg_rnn_new(model, prefix, config);
    cr_assert_not_null(layer, "%s", tg_error_message());
    return layer;
}

/* ---- Gradient checks ------------------------------------------------------------------- */

typedef struct rnn_case {
    kind kind;
    tg_rnn_config config;
    int64_t steps, batch;
    const int64_t *lengths;
    bool initial_state;   /* h0 (and c0) are gradcheck inputs 1 (and 2) */
    bool training;        /* dropout active, with the generator reseeded each call */
    tg_model *model;
    tg_rnn *layer;
} rnn_case;

/* output, h_n and c_n flattened into one vector: every result is checked. */
static tg_tensor *rnn_objective(tg_tensor *const *in, void *user)
{
    rnn_case *c = user;
    if (c->training)
        tg_rng_seed(tg_model_rng(c->model), 99);
    tg_rnn_options options = { .lengths = c->lengths };
    if (c->initial_state) {
        options.h0 = in[1];
        options.c0 = c->kind == LSTM ? in[2] : NULL;
    }
    tg_rnn_result r = tg_rnn_forward(c->layer, in[0], &options);
    tg_tensor *parts[3] = { tg_reshape(r.output, TG_SHAPE(-1)), tg_reshape(r.h_n, TG_SHAPE(-1)),
                            r.c_n ? tg_reshape(r.c_n, TG_SHAPE(-1)) : NULL };
    return r.output ? tg_concat(parts, r.c_n ? 3 : 2, 0) : NULL;
}

static void check_case(rnn_case c)
{
    c.model = tg_model_new(11);
    tg_model_set_training(c.model, c.training);
    c.layer = make_layer(c.model, "rnn", c.kind, c.config);
    tg_rng rng = tg_rng_new(5);
    int64_t d = c.config.bidirectional ? 2 : 1, layers = c.config.layers ? c.config.layers : 1;
    tg_shape x_shape = c.config.batch_first ? TG_SHAPE(c.batch, c.steps, c.config.input)
                                            : TG_SHAPE(c.steps, c.batch, c.config.input);
    tg_tensor *extra[3] = { random_input(x_shape, &rng) };
    int n_extra = 1;
    if (c.initial_state) {
        extra[n_extra++] = random_input(TG_SHAPE(layers * d, c.batch, c.config.hidden), &rng);
        if (c.kind == LSTM)
            extra[n_extra++] = random_input(TG_SHAPE(layers * d, c.batch, c.config.hidden), &rng);
    }
    tg_tensor *inputs[64];
    int n = with_parameters(inputs, extra, n_extra, c.model);
    check_gradients(rnn_objective, &c, inputs, n);
    for (int i = 0; i < n_extra; i++)
        tg_tensor_free(extra[i]);
    tg_model_free(c.model);
}

static const int64_t unequal[3] = { 4, 1, 3 };

Test(rnn, tanh_rnn_gradients)
{
    check_case((rnn_case){ RNN, { .input = 2, .hidden = 3 }, .steps = 4, .batch = 2 });
}

Test(rnn, relu_rnn_two_layers_bidirectional_gradients)
{
    check_case((rnn_case){ RNN, { .input = 2, .hidden = 3, .layers = 2, .bidirectional = true,
                                  .nonlinearity = TG_RNN_RELU }, .steps = 3, .batch = 2 });
}

Test(rnn, rnn_lengths_and_initial_state_gradients)
{
    check_case((rnn_case){ RNN, { .input = 2, .hidden = 3, .bidirectional = true }, .steps = 4,
                           .batch = 3, .lengths = unequal, .initial_state = true });
}

Test(rnn, lstm_gradients)
{
    check_case((rnn_case){ LSTM, { .input = 3, .hidden = 2 }, .steps = 4, .batch = 2 });
}

Test(rnn, lstm_two_layers_bidirectional_lengths_initial_state_gradients)
{
    check_case((rnn_case){ LSTM, { .input = 2, .hidden = 2, .layers = 2, .bidirectional = true },
                           .steps = 4, .batch = 3, .lengths = unequal, .initial_state = true });
}

Test(rnn, lstm_batch_first_forget_bias_gradients)
{
    check_case((rnn_case){ LSTM, { .input = 2, .hidden = 3, .batch_first = true,
                                   .forget_bias_one = true }, .steps = 4, .batch = 3,
                           .lengths = unequal + 0, .initial_state = true });
}

Test(rnn, lstm_without_bias_gradients)
{
    check_case((rnn_case){ LSTM, { .input = 2, .hidden = 2, .no_bias = true, .layers = 2 },
                           .steps = 3, .batch = 2 });
}

Test(rnn, seed_gru_gradients)
{
    check_case((rnn_case){ GRU, { .input = 3, .hidden = 3 }, .steps = 4, .batch = 2 });
}

Test(rnn, seed_gru_two_layers_bidirectional_lengths_gradients)
{
    check_case((rnn_case){ GRU, { .input = 2, .hidden = 2, .layers = 2, .bidirectional = true },
                           .steps = 4, .batch = 3, .lengths = unequal, .initial_state = true });
}

Test(rnn, pytorch_gru_gradients)
{
    check_case((rnn_case){ GRU, { .input = 3, .hidden = 3, .gru = TG_GRU_PYTORCH }, .steps = 4,
                           .batch = 2, .initial_state = true });
}

Test(rnn, pytorch_gru_two_layers_bidirectional_batch_first_lengths_gradients)
{
    check_case((rnn_case){ GRU, { .input = 2, .hidden = 2, .layers = 2, .bidirectional = true,
                                  .batch_first = true, .gru = TG_GRU_PYTORCH },
                           .steps = 4, .batch = 3, .lengths = unequal });
}

Test(rnn, pytorch_gru_without_bias_gradients)
{
    check_case((rnn_case){ GRU, { .input = 2, .hidden = 2, .no_bias = true, .gru = TG_GRU_PYTORCH },
                           .steps = 3, .batch = 2 });
}

Test(rnn, dropout_between_layers_in_training_mode_gradients)
{
    check_case((rnn_case){ LSTM, { .input = 2, .hidden = 3, .layers = 2, .dropout = 0.4f },
                           .steps = 3, .batch = 2, .training = true });
    check_case((rnn_case){ GRU, { .input = 2, .hidden = 3, .layers = 2, .dropout = 0.4f,
                                  .bidirectional = true }, .steps = 3, .batch = 2, .training = true });
}

Test(rnn, dropout_in_eval_mode_gradients)
{
    check_case((rnn_case){ RNN, { .input = 2, .hidden = 3, .layers = 2, .dropout = 0.5f },
                           .steps = 3, .batch = 2, .training = false });
}

/* ---- Dropout between layers ---------------------------------------------------------- */

/* The output of a 2-layer LSTM with the given dropout and mode, from model seed 3. */
static float *two_layer_output(float dropout, bool training, const tg_tensor *x)
{
    tg_model *model = tg_model_new(3);
    tg_model_set_training(model, training);
    tg_lstm *lstm = tg_lstm_new(model, "l", (tg_rnn_config){ .input = 2, .hidden = 4, .layers = 2,
                                                              .dropout = dropout });
    float *out = values_of(tg_lstm_forward(lstm, (tg_tensor *)x, NULL).output);
    tg_model_free(model);
    return out;
}

Test(rnn, dropout_acts_only_in_training_mode)
{
    tg_rng rng = tg_rng_new(1);
    tg_tensor *x = tg_tensor_uniform(TG_SHAPE(5, 3, 2), -1, 1, &rng);
    float *plain = two_layer_output(0.0f, true, x);
    float *eval = two_layer_output(0.5f, false, x);
    float *train = two_layer_output(0.5f, true, x);
    bool differs = false;
    for (int i = 0; i < 5 * 3 * 4; i++) {
        cr_assert_float_eq(eval[i], plain[i], 1e-7, "element %d", i);
        differs |= fabsf(train[i] - plain[i]) > 1e-4f;
    }
    cr_assert(differs, "dropout in training mode changed nothing");
    free(plain);
    free(eval);
    free(train);
    tg_tensor_free(x);
}

/* ---- Variable lengths: each sequence alone, cut to its length ------------------------------ */

static void check_lengths_match_separate_runs(kind k, tg_rnn_config config)
{
    const int64_t T = 5, B = 3, lengths[3] = { 5, 2, 4 };
    int64_t d = config.bidirectional ? 2 : 1, H = config.hidden, L = config.layers;
    tg_model *model = tg_model_new(21);
    tg_rnn *layer = make_layer(model, "r", k, config);
    tg_rng rng = tg_rng_new(8);
    tg_tensor *x = tg_tensor_uniform(TG_SHAPE(T, B, config.input), -1, 1, &rng);
    tg_tensor *h0 = tg_tensor_uniform(TG_SHAPE(L * d, B, H), -1, 1, &rng);
    tg_tensor *c0 = tg_tensor_uniform(TG_SHAPE(L * d, B, H), -1, 1, &rng);
    tg_rnn_result all = tg_rnn_forward(layer, x, &(tg_rnn_options){
        .h0 = h0, .c0 = k == LSTM ? c0 : NULL, .lengths = lengths });
    float *out = values_of(all.output), *h_n = values_of(all.h_n);
    float *c_n = k == LSTM ? values_of(all.c_n) : NULL;
    for (int64_t b = 0; b < B; b++) {
        /* Sequence b alone: its real steps only, its own initial state. */
        tg_tensor *xb = tg_narrow(tg_narrow(x, 1, b, 1), 0, 0, lengths[b]);
        tg_rnn_options own = { .h0 = tg_narrow(h0, 1, b, 1),
                               .c0 = k == LSTM ? tg_narrow(c0, 1, b, 1) : NULL };
        tg_rnn_result one = tg_rnn_forward(layer, xb, &own);
        float *o = values_of(one.output), *h = values_of(one.h_n);
        for (int64_t t = 0; t < T; t++)
            for (int64_t j = 0; j < d * H; j++) {
                float expected = t < lengths[b] ? o[t * d * H + j] : 0.0f;
                cr_assert_float_eq(out[(t * B + b) * d * H + j], expected, 1e-6,
                                   "sequence %lld step %lld feature %lld", (long long)b,
                                   (long long)t, (long long)j);
            }
        for (int64_t s = 0; s < L * d; s++)
            for (int64_t j = 0; j < H; j++)
                cr_assert_float_eq(h_n[(s * B + b) * H + j], h[s * H + j], 1e-6);
        if (c_n) {
            float *c = values_of(one.c_n);
            for (int64_t s = 0; s < L * d; s++)
                for (int64_t j = 0; j < H; j++)
                    cr_assert_float_eq(c_n[(s * B + b) * H + j], c[s * H + j], 1e-6);
            free(c);
        }
        free(o);
        free(h);
    }
    free(out);
    free(h_n);
    free(c_n);
    tg_tensor_free(x);
    tg_tensor_free(h0);
    tg_tensor_free(c0);
    tg_model_free(model);
}

Test(rnn, lengths_equal_separate_runs_of_each_sequence)
{
    tg_rnn_config config = { .input = 3, .hidden = 4, .layers = 2, .bidirectional = true };
    check_lengths_match_separate_runs(RNN, config);
    check_lengths_match_separate_runs(LSTM, config);
    check_lengths_match_separate_runs(GRU, config);
    config.gru = TG_GRU_PYTORCH;
    check_lengths_match_separate_runs(GRU, config);
}

/* lengths given as a tensor (int64, strided, or whole floats) act as the array. */
Test(rnn, lengths_as_a_tensor_equal_the_array)
{
    tg_model *model = tg_model_new(3);
    tg_lstm *lstm = tg_lstm_new(model, "l", (tg_rnn_config){ .input = 2, .hidden = 3, .bidirectional = true });
    tg_rng rng = tg_rng_new(6);
    tg_tensor *x = tg_tensor_uniform(TG_SHAPE(4, 3, 2), -1, 1, &rng);
    const int64_t lengths[3] = { 4, 1, 3 };
    tg_rnn_result want = tg_lstm_forward(lstm, x, &(tg_rnn_options){ .lengths = lengths });
    float *out = values_of(want.output), *h_n = values_of(want.h_n);
    tg_tensor *given[] = {
        tg_from_int64(TG_SHAPE(3), lengths),
        tg_slice(tg_from_int64(TG_SHAPE(6), (int64_t[]){ 4, 0, 1, 0, 3, 0 }), 0, 0, 6, 2),
        tg_from_array(TG_SHAPE(3), (float[]){ 4, 1, 3 }),
    };
    for (int k = 0; k < 3; k++) {
        tg_rnn_result got = tg_lstm_forward(lstm, x, &(tg_rnn_options){ .lengths_tensor = given[k] });
        cr_assert_not_null(got.output, "%d: %s", k, tg_error_message());
        tg_assert_values(got.output, out, want.output->numel, 0.0f);
        tg_assert_values(got.h_n, h_n, want.h_n->numel, 0.0f);
    }
    struct {
        tg_rnn_options options;
        const char *message;
    } bad[] = {
        { { .lengths = lengths, .lengths_tensor = given[0] }, "lstm: both lengths and lengths_tensor are given" },
        { { .lengths_tensor = tg_from_int64(TG_SHAPE(2), lengths) }, "lstm: input [4,3,2], lengths_tensor [2]: expected [3]" },
        { { .lengths_tensor = tg_from_int64(TG_SHAPE(3), (int64_t[]){ 4, 5, 1 }) },
          "lstm: input [4,3,2]: lengths[1] = 5 is outside [0, 4]" },
        { { .lengths_tensor = tg_from_array(TG_SHAPE(3), (float[]){ 4, 1.5f, 1 }) },
          "lstm: lengths_tensor[1] = 1.5 is not a whole number" },
    };
    for (int k = 0; k < 4; k++) {
        tg_error_clear();
        cr_assert_null(tg_lstm_forward(lstm, x, &bad[k].options).output, "case %d", k);
        tg_assert_error(bad[k].message);
    }
    free(out);
    free(h_n);
    tg_tensor_free(x);
    tg_model_free(model);
}

Test(rnn, a_zero_length_keeps_the_initial_state_and_outputs_zeros)
{
    tg_model *model = tg_model_new(2);
    tg_gru *gru = tg_gru_new(model, "g", (tg_rnn_config){ .input = 2, .hidden = 3,
                                                          .bidirectional = true });
    tg_rng rng = tg_rng_new(4);
    tg_tensor *x = tg_tensor_uniform(TG_SHAPE(3, 2, 2), -1, 1, &rng);
    tg_tensor *h0 = tg_tensor_uniform(TG_SHAPE(2, 2, 3), -1, 1, &rng);
    tg_rnn_result r = tg_gru_forward(gru, x, &(tg_rnn_options){ .h0 = h0,
                                                                .lengths = (int64_t[]){ 3, 0 } });
    float *out = values_of(r.output), *h_n = values_of(r.h_n), *h0v = values_of(h0);
    for (int t = 0; t < 3; t++)
        for (int j = 0; j < 6; j++)
            cr_assert_eq(out[(t * 2 + 1) * 6 + j], 0.0f);
    for (int s = 0; s < 2; s++)
        for (int j = 0; j < 3; j++)
            cr_assert_eq(h_n[(s * 2 + 1) * 3 + j], h0v[(s * 2 + 1) * 3 + j]);
    free(out);
    free(h_n);
    free(h0v);
    tg_tensor_free(x);
    tg_tensor_free(h0);
    tg_model_free(model);
}

/* ---- Layouts ------------------------------------------------------------------------------- */

Test(rnn, batch_first_equals_time_first_on_the_transposed_input)
{
    tg_rnn_config config = { .input = 3, .hidden = 2, .layers = 2, .bidirectional = true };
    tg_model *a = tg_model_new(9), *b = tg_model_new(9);
    tg_lstm *time_first = tg_lstm_new(a, "l", config);
    config.batch_first = true;
    tg_lstm *batch_first = tg_lstm_new(b, "l", config);
    tg_rng rng = tg_rng_new(3);
    tg_tensor *x = tg_tensor_uniform(TG_SHAPE(4, 3, 3), -1, 1, &rng); /* [T, B, I] */
    const int64_t lengths[3] = { 2, 4, 3 };
    tg_rnn_result r1 = tg_lstm_forward(time_first, x, &(tg_rnn_options){ .lengths = lengths });
    tg_rnn_result r2 = tg_lstm_forward(batch_first, tg_contiguous(tg_transpose(x, 0, 1)),
                                       &(tg_rnn_options){ .lengths = lengths });
    tg_assert_shape(r2.output, 3, 4, 4);
    float *expected = values_of(tg_contiguous(tg_transpose(r1.output, 0, 1)));
    tg_assert_values(r2.output, expected, 3 * 4 * 4, 1e-6);
    free(expected);
    float *h = values_of(r1.h_n), *c = values_of(r1.c_n);
    tg_assert_values(r2.h_n, h, 4 * 3 * 2, 1e-6);
    tg_assert_values(r2.c_n, c, 4 * 3 * 2, 1e-6);
    free(h);
    free(c);
    tg_tensor_free(x);
    tg_model_free(a);
    tg_model_free(b);
}

Test(rnn, result_shapes)
{
    tg_model *model = tg_model_new(1);
    tg_gru *gru = tg_gru_new(model, "g", (tg_rnn_config){ .input = 5, .hidden = 4, .layers = 3,
                                                          .bidirectional = true });
    tg_tensor *x = tg_zeros(TG_SHAPE(7, 2, 5));
    tg_rnn_result r = tg_gru_forward(gru, x, NULL);
    cr_assert_not_null(r.output, "%s", tg_error_message());
    tg_assert_shape(r.output, 7, 2, 8);
    tg_assert_shape(r.h_n, 6, 2, 4);
    cr_assert_null(r.c_n);
    cr_assert_eq(r.steps, 7);
    cr_assert_not_null(r.h_reverse);
    for (int t = 0; t < 7; t++) {
        tg_assert_shape(r.h[t], 2, 4);
        tg_assert_shape(r.h_reverse[t], 2, 4);
    }
    tg_model_free(model);
}

Test(rnn, carried_state_continues_the_sequence_across_batches)
{
    /* Two halves with h_n and c_n carried in owned tensors give the whole sequence's result. */
    tg_model *model = tg_model_new(12);
    tg_lstm *lstm = tg_lstm_new(model, "l", (tg_rnn_config){ .input = 2, .hidden = 3, .layers = 2 });
    tg_rng rng = tg_rng_new(7);
    tg_tensor *x = tg_tensor_uniform(TG_SHAPE(6, 2, 2), -1, 1, &rng);
    float *whole = values_of(tg_lstm_forward(lstm, x, NULL).output);
    tg_graph_reset();
    tg_tensor *h = tg_tensor_zeros(TG_SHAPE(2, 2, 3)), *c = tg_tensor_zeros(TG_SHAPE(2, 2, 3));
    for (int half = 0; half < 2; half++) {
        tg_rnn_result r = tg_lstm_forward(lstm, tg_narrow(x, 0, 3 * half, 3),
                                          &(tg_rnn_options){ .h0 = h, .c0 = c });
        tg_assert_values(r.output, whole + half * 3 * 2 * 3, 3 * 2 * 3, 1e-6);
        tg_tensor_copy_(h, r.h_n);
        tg_tensor_copy_(c, r.c_n);
        tg_graph_reset();
    }
    free(whole);
    tg_tensor_free(h);
    tg_tensor_free(c);
    tg_tensor_free(x);
    tg_model_free(model);
}

/* ---- Parameters and initialisation -------------------------------------------------------- */

Test(rnn, parameters_have_pytorch_names_shapes_and_order)
{
    tg_model *model = tg_model_new(1);
    tg_lstm_new(model, "enc", (tg_rnn_config){ .input = 5, .hidden = 3, .layers = 2,
                                               .bidirectional = true });
    const char *names[] = {
        "enc.weight_ih_l0", "enc.weight_hh_l0", "enc.bias_ih_l0", "enc.bias_hh_l0",
        "enc.weight_ih_l0_reverse", "enc.weight_hh_l0_reverse", "enc.bias_ih_l0_reverse",
        "enc.bias_hh_l0_reverse", "enc.weight_ih_l1", "enc.weight_hh_l1", "enc.bias_ih_l1",
        "enc.bias_hh_l1", "enc.weight_ih_l1_reverse", "enc.weight_hh_l1_reverse",
        "enc.bias_ih_l1_reverse", "enc.bias_hh_l1_reverse",
    };
    const int64_t in_features[] = { 5, 5, 6, 6 };
    cr_assert_eq(tg_model_parameter_count(model), 16);
    for (int i = 0; i < 16; i++) {
        cr_assert_str_eq(tg_model_parameter_name(model, i), names[i]);
        tg_tensor *p = tg_model_parameter(model, i);
        switch (i % 4) {
        case 0: tg_assert_shape(p, 12, in_features[i / 4]); break;
        case 1: tg_assert_shape(p, 12, 3); break;
        default: tg_assert_shape(p, 12); break;
        }
    }
    tg_gru_new(model, "dec", (tg_rnn_config){ .input = 2, .hidden = 4, .no_bias = true });
    cr_assert_eq(tg_model_parameter_count(model), 18);
    tg_assert_shape(tg_model_find(model, "dec.weight_ih_l0"), 12, 2);
    tg_assert_shape(tg_model_find(model, "dec.weight_hh_l0"), 12, 4);
    cr_assert_null(tg_model_find(model, "dec.bias_ih_l0"));
    tg_model_free(model);
}

Test(rnn, initialisation_is_uniform_within_one_over_root_hidden)
{
    tg_model *model = tg_model_new(4);
    tg_gru_new(model, "g", (tg_rnn_config){ .input = 30, .hidden = 25 });
    float bound = 1.0f / 5.0f;
    for (int i = 0; i < tg_model_parameter_count(model); i++) {
        tg_tensor *p = tg_model_parameter(model, i);
        double sum = 0, squares = 0;
        for (int64_t j = 0; j < p->numel; j++) {
            cr_assert(fabsf(p->data[j]) <= bound, "%s[%lld] = %g", tg_model_parameter_name(model, i),
                      (long long)j, p->data[j]);
            sum += p->data[j];
            squares += (double)p->data[j] * p->data[j];
        }
        if (p->numel >= 1000) { /* U(-b, b): mean 0, variance b^2 / 3 */
            cr_assert_lt(fabs(sum / (double)p->numel), 0.01);
            cr_assert_float_eq(squares / (double)p->numel, bound * bound / 3.0, 0.002);
        }
    }
    tg_model_free(model);
}

Test(rnn, forget_bias_one_sets_the_forget_slices_only)
{
    tg_model *model = tg_model_new(4);
    tg_lstm_new(model, "l", (tg_rnn_config){ .input = 3, .hidden = 4, .layers = 2,
                                             .forget_bias_one = true });
    for (int layer = 0; layer < 2; layer++) {
        char name[32];
        snprintf(name, sizeof name, "l.bias_ih_l%d", layer);
        tg_tensor *ih = tg_model_find(model, name);
        snprintf(name, sizeof name, "l.bias_hh_l%d", layer);
        tg_tensor *hh = tg_model_find(model, name);
        for (int j = 0; j < 16; j++) {
            bool forget = j >= 4 && j < 8;
            if (forget) {
                cr_assert_eq(ih->data[j], 1.0f);
                cr_assert_eq(hh->data[j], 0.0f);
            } else {
                cr_assert(fabsf(ih->data[j]) <= 0.5f && ih->data[j] != 1.0f);
                cr_assert(fabsf(hh->data[j]) <= 0.5f && hh->data[j] != 0.0f);
            }
        }
    }
    tg_model_free(model);
}

Test(rnn, the_same_seed_gives_the_same_weights)
{
    tg_model *a = tg_model_new(77), *b = tg_model_new(77), *c = tg_model_new(78);
    tg_rnn_config config = { .input = 3, .hidden = 4 };
    tg_lstm_new(a, "l", config);
    tg_lstm_new(b, "l", config);
    tg_lstm_new(c, "l", config);
    tg_tensor *wa = tg_model_find(a, "l.weight_hh_l0"), *wb = tg_model_find(b, "l.weight_hh_l0");
    tg_tensor *wc = tg_model_find(c, "l.weight_hh_l0");
    cr_assert_eq(memcmp(wa->data, wb->data, sizeof(float) * (size_t)wa->numel), 0);
    cr_assert_neq(memcmp(wa->data, wc->data, sizeof(float) * (size_t)wa->numel), 0);
    tg_model_free(a);
    tg_model_free(b);
    tg_model_free(c);
}

/* ---- Per-step states ----------------------------------------------------------------------- */

/* For a tanh RNN with loss = sum(w * output): dL/dh_{T-1} = w_{T-1}, and
 * dL/dh_{T-2} = w_{T-2} + W_hh^T ((1 - h_{T-1}^2) ⊙ w_{T-1}). */
Test(rnn, retained_step_states_give_dloss_dh_t)
{
    const int T = 4, B = 2, H = 3;
    tg_model *model = tg_model_new(6);
    tg_rnn *rnn = tg_rnn_new(model, "r", (tg_rnn_config){ .input = 2, .hidden = H });
    tg_rng rng = tg_rng_new(2);
    tg_tensor *x = tg_tensor_uniform(TG_SHAPE(T, B, 2), -1, 1, &rng);
    tg_tensor *w = tg_tensor_uniform(TG_SHAPE(T, B, H), 0.5f, 1.5f, &rng);
    tg_rnn_result r = tg_rnn_forward(rnn, x, NULL);
    for (int t = 0; t < T; t++)
        cr_assert_eq(tg_retain_grad(r.h[t]), 0, "%s", tg_error_message());
    cr_assert_eq(tg_backward(tg_sum_all(tg_mul(r.output, w))), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(r.h[T - 1]), w->data + (T - 1) * B * H, B * H, 1e-6);
    float *h_last = values_of(r.h[T - 1]);
    const float *whh = tg_model_find(model, "r.weight_hh_l0")->data;
    float expected[2 * 3];
    for (int b = 0; b < B; b++)
        for (int j = 0; j < H; j++) {
            float sum = w->data[((T - 2) * B + b) * H + j];
            for (int i = 0; i < H; i++) {
                float h = h_last[b * H + i];
                sum += whh[i * H + j] * (1.0f - h * h) * w->data[((T - 1) * B + b) * H + i];
            }
            expected[b * H + j] = sum;
        }
    tg_assert_values(tg_grad(r.h[T - 2]), expected, B * H, 1e-5);
    for (int t = 0; t < T; t++)
        cr_assert_not_null(tg_grad(r.h[t]));
    free(h_last);
    tg_tensor_free(x);
    tg_tensor_free(w);
    tg_model_free(model);
}

/* ---- Errors ---------------------------------------------------------------------------------- */

Test(rnn, bad_configurations_are_errors_and_register_nothing)
{
    tg_model *model = tg_model_new(1);
    cr_assert_null(tg_lstm_new(model, "l", (tg_rnn_config){ .input = 0, .hidden = 3 }));
    tg_assert_error("lstm_new");
    tg_error_clear();
    cr_assert_null(tg_gru_new(model, "g", (tg_rnn_config){ .input = 2, .hidden = 3, .dropout = 1 }));
    tg_assert_error("dropout");
    tg_error_clear();
    cr_assert_null(tg_rnn_new(model, "r", (tg_rnn_config){ .input = 2, .hidden = 3, .layers = -1 }));
    tg_error_clear();
    cr_assert_eq(tg_model_parameter_count(model), 0);
    cr_assert_not_null(tg_lstm_new(model, "l", (tg_rnn_config){ .input = 2, .hidden = 3 }));
    cr_assert_null(tg_lstm_new(model, "l", (tg_rnn_config){ .input = 2, .hidden = 3, .layers = 2 }));
    tg_assert_error("\"l.weight_ih_l0\" already exists");
    cr_assert_eq(tg_model_parameter_count(model), 4);
    tg_model_free(model);
}

Test(rnn, bad_inputs_are_errors_naming_the_layer_and_shapes)
{
    tg_model *model = tg_model_new(1);
    tg_lstm *lstm = tg_lstm_new(model, "l", (tg_rnn_config){ .input = 2, .hidden = 3 });
    tg_gru *gru = tg_gru_new(model, "g", (tg_rnn_config){ .input = 2, .hidden = 3 });
    tg_tensor *x = tg_zeros(TG_SHAPE(4, 2, 2));

    cr_assert_null(tg_lstm_forward(lstm, tg_zeros(TG_SHAPE(4, 2, 5)), NULL).output);
    tg_assert_error("lstm: input [4,2,5]");
    tg_error_clear();
    cr_assert_null(tg_lstm_forward(lstm, tg_zeros(TG_SHAPE(4, 2)), NULL).output);
    tg_assert_error("lstm: input [4,2]");
    tg_error_clear();
    cr_assert_null(tg_lstm_forward(lstm, x, &(tg_rnn_options){ .h0 = tg_zeros(TG_SHAPE(1, 3, 3)) })
                       .output);
    tg_assert_error("h0 [1,3,3]: expected [1, 2, 3]");
    tg_error_clear();
    cr_assert_null(tg_gru_forward(gru, x, &(tg_rnn_options){ .c0 = tg_zeros(TG_SHAPE(1, 2, 3)) })
                       .output);
    tg_assert_error("only an LSTM has a cell state");
    tg_error_clear();
    cr_assert_null(tg_gru_forward(gru, x, &(tg_rnn_options){ .lengths = (int64_t[]){ 2, 5 } })
                       .output);
    tg_assert_error("lengths[1] = 5 is outside [0, 4]");
    tg_error_clear();
    cr_assert_null(tg_gru_forward(gru, NULL, NULL).output);
    cr_assert_not(tg_error_occurred());
    tg_model_free(model);
}
