/* The cells against direct transcriptions of their equations (the seed's
 * for the LSTM and the default GRU; PyTorch's for the other GRU), and the
 * single-step cells against the layers. */
#include "layer_check.h"

TestSuite(cells, .init = tg_test_setup, .fini = tg_test_teardown);

enum { T = 5, B = 2, I = 3, H = 4 };

typedef enum kind { RNN_TANH, RNN_RELU, LSTM, GRU_SEED, GRU_PYTORCH } kind;

/* One layer's weights, read from the model. */
typedef struct weights {
    const float *w_ih, *w_hh, *b_ih, *b_hh;
} weights;

static weights weights_of(const tg_model *model, const char *prefix)
{
    char name[64];
    const float *p[4];
    const char *base[4] = { "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0" };
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "%s.%s", prefix, base[i]);
        p[i] = tg_model_find(model, name)->data;
    }
    return (weights){ p[0], p[1], p[2], p[3] };
}

static double sigmoid(double v) { return 1.0 / (1.0 + exp(-v)); }

/* The seed's W_g [a, x] + b_g for row j of gate g: W_g is [W_hg | W_ig] side
 * by side and b_g = b_ig + b_hg (PyTorch keeps the halves apart). */
static double gate(const weights *w, int g, int j, const double *a, const double *x)
{
    int row = g * H + j;
    double sum = w->b_ih[row] + w->b_hh[row];
    for (int k = 0; k < H; k++)
        sum += w->w_hh[row * H + k] * a[k];
    for (int k = 0; k < I; k++)
        sum += w->w_ih[row * I + k] * x[k];
    return sum;
}

/* W_i? x + b_i? and W_h? h + b_h? separately (PyTorch's GRU needs them apart). */
static double input_part(const weights *w, int g, int j, const double *x)
{
    int row = g * H + j;
    double sum = w->b_ih[row];
    for (int k = 0; k < I; k++)
        sum += w->w_ih[row * I + k] * x[k];
    return sum;
}

static double hidden_part(const weights *w, int g, int j, const double *h)
{
    int row = g * H + j;
    double sum = w->b_hh[row];
    for (int k = 0; k < H; k++)
        sum += w->w_hh[row * H + k] * h[k];
    return sum;
}

/* One step of sequence b by the equations; h and c updated in place. */
static void reference_step(kind k, const weights *w, const double *x, double *h, double *c)
{
    double next[H], cell[H];
    for (int j = 0; j < H; j++) {
        switch (k) {
        case RNN_TANH:
            next[j] = tanh(gate(w, 0, j, h, x));
            break;
        case RNN_RELU:
            next[j] = fmax(0.0, gate(w, 0, j, h, x));
            break;
        case LSTM: {
            double f = sigmoid(gate(w, 1, j, h, x));        /* f_t = σ(W_f [h, x] + b_f) */
            double i = sigmoid(gate(w, 0, j, h, x));        /* i_t = σ(W_i [h, x] + b_i) */
            double candidate = tanh(gate(w, 2, j, h, x));   /* C~_t = tanh(W_C [h, x] + b_C) */
            cell[j] = f * c[j] + i * candidate;             /* C_t = f ⊙ C_{t-1} + i ⊙ C~_t */
            double o = sigmoid(gate(w, 3, j, h, x));        /* o_t = σ(W_o [h, x] + b_o) */
            next[j] = o * tanh(cell[j]);                    /* h_t = o ⊙ tanh(C_t) */
            break;
        }
        case GRU_SEED: {
            double z = sigmoid(gate(w, 1, j, h, x));        /* z_t = σ(W_z [h, x] + b_z) */
            double reset_h[H];                              /* r_t ⊙ h_{t-1} */
            for (int m = 0; m < H; m++)
                reset_h[m] = sigmoid(gate(w, 0, m, h, x)) * h[m];
            double candidate = tanh(gate(w, 2, j, reset_h, x)); /* h~ = tanh(W [r ⊙ h, x] + b) */
            next[j] = (1.0 - z) * h[j] + z * candidate;     /* h_t = (1 - z) ⊙ h + z ⊙ h~ */
            break;
        }
        case GRU_PYTORCH: {
            double r = sigmoid(input_part(w, 0, j, x) + hidden_part(w, 0, j, h));
            double z = sigmoid(input_part(w, 1, j, x) + hidden_part(w, 1, j, h));
            double n = tanh(input_part(w, 2, j, x) + r * hidden_part(w, 2, j, h));
            next[j] = (1.0 - z) * n + z * h[j];
            break;
        }
        }
    }
    for (int j = 0; j < H; j++) {
        h[j] = next[j];
        if (k == LSTM)
            c[j] = cell[j];
    }
}

static tg_rnn *make(tg_model *model, const char *prefix, kind k, tg_rnn_config config)
{
    config.nonlinearity = k == RNN_RELU ? TG_RNN_RELU : TG_RNN_TANH;
    config.gru = k == GRU_PYTORCH ? TG_GRU_PYTORCH : TG_GRU_SEED;
    if (k == LSTM)
        return tg_lstm_new(model, prefix, config);
    return k == GRU_SEED || k == GRU_PYTORCH ? tg_gru_new(model, prefix, config)
                                             : tg_rnn_new(model, prefix, config);
}

/* The layer's output and final states against the equations, step by step. */
static void check_against_equations(kind k)
{
    tg_model *model = tg_model_new(31 + k);
    tg_rnn *layer = make(model, "cell", k, (tg_rnn_config){ .input = I, .hidden = H });
    cr_assert_not_null(layer, "%s", tg_error_message());
    tg_rng rng = tg_rng_new(12);
    tg_tensor *x = tg_tensor_uniform(TG_SHAPE(T, B, I), -2, 2, &rng);
    tg_tensor *h0 = tg_tensor_uniform(TG_SHAPE(1, B, H), -1, 1, &rng);
    tg_tensor *c0 = tg_tensor_uniform(TG_SHAPE(1, B, H), -1, 1, &rng);
    tg_rnn_result r = tg_rnn_forward(layer, x, &(tg_rnn_options){ .h0 = h0, .c0 = k == LSTM ? c0 : NULL });
    cr_assert_not_null(r.output, "%s", tg_error_message());

    weights w = weights_of(model, "cell");
    float expected[T * B * H], expected_h[B * H], expected_c[B * H];
    for (int b = 0; b < B; b++) {
        double h[H], c[H], xt[I];
        for (int j = 0; j < H; j++) {
            h[j] = h0->data[b * H + j];
            c[j] = c0->data[b * H + j];
        }
        for (int t = 0; t < T; t++) {
            for (int m = 0; m < I; m++)
                xt[m] = x->data[(t * B + b) * I + m];
            reference_step(k, &w, xt, h, c);
            for (int j = 0; j < H; j++)
                expected[(t * B + b) * H + j] = (float)h[j];
        }
        for (int j = 0; j < H; j++) {
            expected_h[b * H + j] = (float)h[j];
            expected_c[b * H + j] = (float)c[j];
        }
    }
    tg_assert_values(r.output, expected, T * B * H, 2e-6);
    tg_assert_values(r.h_n, expected_h, B * H, 2e-6);
    if (k == LSTM)
        tg_assert_values(r.c_n, expected_c, B * H, 2e-6);
    tg_tensor_free(x);
    tg_tensor_free(h0);
    tg_tensor_free(c0);
    tg_model_free(model);
}

Test(cells, lstm_follows_the_seed_equations) { check_against_equations(LSTM); }
Test(cells, default_gru_follows_the_seed_equations) { check_against_equations(GRU_SEED); }
Test(cells, pytorch_gru_follows_torch_equations) { check_against_equations(GRU_PYTORCH); }
Test(cells, tanh_rnn_follows_the_seed_equation) { check_against_equations(RNN_TANH); }
Test(cells, relu_rnn_follows_its_equation) { check_against_equations(RNN_RELU); }

Test(cells, the_two_gru_formulations_differ)
{
    tg_model *model = tg_model_new(5);
    tg_gru *seed = tg_gru_new(model, "a", (tg_rnn_config){ .input = I, .hidden = H });
    tg_gru *torch = tg_gru_new(model, "b", (tg_rnn_config){ .input = I, .hidden = H,
                                                            .gru = TG_GRU_PYTORCH });
    for (int i = 0; i < 4; i++) /* the same weights in both */
        tg_tensor_copy_(tg_model_parameter(model, 4 + i), tg_model_parameter(model, i));
    tg_rng rng = tg_rng_new(1);
    tg_tensor *x = tg_tensor_uniform(TG_SHAPE(T, B, I), -1, 1, &rng);
    float *a = values_of(tg_gru_forward(seed, x, NULL).output);
    float *b = values_of(tg_gru_forward(torch, x, NULL).output);
    double difference = 0;
    for (int i = 0; i < T * B * H; i++)
        difference += fabs((double)a[i] - b[i]);
    cr_assert_gt(difference / (T * B * H), 1e-3);
    free(a);
    free(b);
    tg_tensor_free(x);
    tg_model_free(model);
}

/* ---- Single-step cells --------------------------------------------------------------------------- */

static tg_rnn_cell *make_cell(tg_model *model, kind k)
{
    tg_rnn_config config = { .input = I, .hidden = H, .forget_bias_one = true,
                             .nonlinearity = k == RNN_RELU ? TG_RNN_RELU : TG_RNN_TANH,
                             .gru = k == GRU_PYTORCH ? TG_GRU_PYTORCH : TG_GRU_SEED };
    if (k == LSTM)
        return tg_lstm_cell_new(model, "cell", config);
    return k == GRU_SEED || k == GRU_PYTORCH ? tg_gru_cell_new(model, "cell", config)
                                             : tg_rnn_cell_new(model, "cell", config);
}

/* One step through the forward function named for the cell's kind. */
static tg_rnn_state cell_step(kind k, tg_rnn_cell *cell, tg_tensor *x, tg_rnn_state s)
{
    if (k == LSTM)
        return tg_lstm_cell_forward(cell, x, s);
    return k == GRU_SEED || k == GRU_PYTORCH ? tg_gru_cell_forward(cell, x, s)
                                             : tg_rnn_cell_forward(cell, x, s);
}

/* A loop over the cell gives the layer's output when both hold the same weights. */
static void check_cell_loop_equals_layer(kind k)
{
    tg_model *model = tg_model_new(8);
    tg_rnn *layer = make(model, "layer", k, (tg_rnn_config){ .input = I, .hidden = H });
    tg_rnn_cell *cell = make_cell(model, k);
    cr_assert_not_null(cell, "%s", tg_error_message());
    const char *names[4] = { "weight_ih", "weight_hh", "bias_ih", "bias_hh" };
    for (int i = 0; i < 4; i++) {
        char cell_name[32], layer_name[32];
        snprintf(cell_name, sizeof cell_name, "cell.%s", names[i]);
        snprintf(layer_name, sizeof layer_name, "layer.%s_l0", names[i]);
        cr_assert_not_null(tg_model_find(model, cell_name), "%s", cell_name);
        tg_tensor_copy_(tg_model_find(model, cell_name), tg_model_find(model, layer_name));
    }
    tg_rng rng = tg_rng_new(2);
    tg_tensor *x = tg_tensor_uniform(TG_SHAPE(T, B, I), -1, 1, &rng);
    tg_rnn_result r = tg_rnn_forward(layer, x, NULL);
    tg_rnn_state s = { NULL, NULL };
    for (int t = 0; t < T; t++) {
        s = cell_step(k, cell, tg_select(x, 0, t), s);
        cr_assert_not_null(s.h, "%s", tg_error_message());
        cr_assert_eq(s.c != NULL, k == LSTM);
        float *expected = values_of(r.h[t]);
        tg_assert_values(s.h, expected, B * H, 1e-6);
        free(expected);
    }
    float *c_n = k == LSTM ? values_of(r.c_n) : NULL;
    if (c_n)
        tg_assert_values(s.c, c_n, B * H, 1e-6);
    free(c_n);
    tg_tensor_free(x);
    tg_model_free(model);
}

Test(cells, lstm_cell_steps_equal_the_layer) { check_cell_loop_equals_layer(LSTM); }
Test(cells, gru_cell_steps_equal_the_layer) { check_cell_loop_equals_layer(GRU_SEED); }
Test(cells, pytorch_gru_cell_steps_equal_the_layer) { check_cell_loop_equals_layer(GRU_PYTORCH); }
Test(cells, rnn_cell_steps_equal_the_layer) { check_cell_loop_equals_layer(RNN_TANH); }
Test(cells, relu_rnn_cell_steps_equal_the_layer) { check_cell_loop_equals_layer(RNN_RELU); }

typedef struct cell_case {
    kind kind;
    tg_rnn_cell *cell;
    bool lstm;
} cell_case;

static tg_tensor *cell_objective(tg_tensor *const *in, void *user)
{
    cell_case *c = user;
    tg_rnn_state s = cell_step(c->kind, c->cell, in[0], (tg_rnn_state){ in[1], c->lstm ? in[2] : NULL });
    s = cell_step(c->kind, c->cell, in[0], s); /* two steps: the state's own gradient path */
    tg_tensor *parts[2] = { s.h, s.c };
    return s.h ? tg_concat(parts, c->lstm ? 2 : 1, 1) : NULL;
}

static void check_cell_gradients(kind k)
{
    tg_model *model = tg_model_new(3);
    cell_case c = { k, make_cell(model, k), k == LSTM };
    tg_rng rng = tg_rng_new(6);
    tg_tensor *extra[3] = { random_input(TG_SHAPE(B, I), &rng), random_input(TG_SHAPE(B, H), &rng),
                            random_input(TG_SHAPE(B, H), &rng) };
    tg_tensor *inputs[16];
    int n = with_parameters(inputs, extra, 3, model);
    check_gradients(cell_objective, &c, inputs, n);
    for (int i = 0; i < 3; i++)
        tg_tensor_free(extra[i]);
    tg_model_free(model);
}

Test(cells, cell_gradients)
{
    check_cell_gradients(LSTM);
    check_cell_gradients(GRU_SEED);
    check_cell_gradients(GRU_PYTORCH);
    check_cell_gradients(RNN_RELU);
}

Test(cells, cell_errors)
{
    tg_model *model = tg_model_new(1);
    cr_assert_null(tg_gru_cell_new(model, "c", (tg_rnn_config){ .input = 2, .hidden = 3, .layers = 2 }));
    tg_assert_error("gru_cell_new");
    tg_error_clear();
    cr_assert_null(tg_rnn_cell_new(model, "c", (tg_rnn_config){ .input = 2, .hidden = 3,
                                                                .bidirectional = true }));
    tg_error_clear();
    tg_gru_cell *gru = tg_gru_cell_new(model, "c", (tg_rnn_config){ .input = 2, .hidden = 3 });
    cr_assert_not_null(gru);
    cr_assert_null(tg_gru_cell_forward(gru, tg_zeros(TG_SHAPE(4, 3)), (tg_rnn_state){ 0 }).h);
    tg_assert_error("gru_cell: input [4,3]");
    tg_error_clear();
    cr_assert_null(tg_gru_cell_forward(gru, tg_zeros(TG_SHAPE(4, 2)),
                                       (tg_rnn_state){ tg_zeros(TG_SHAPE(3, 3)), NULL }).h);
    tg_assert_error("h [3,3]");
    tg_error_clear();
    cr_assert_null(tg_gru_cell_forward(gru, tg_zeros(TG_SHAPE(4, 2)),
                                       (tg_rnn_state){ NULL, tg_zeros(TG_SHAPE(4, 3)) }).h);
    tg_assert_error("c for the LSTM only");
    tg_error_clear();
    cr_assert_null(tg_gru_cell_forward(gru, NULL, (tg_rnn_state){ 0 }).h);
    cr_assert_not(tg_error_occurred());
    tg_model_free(model);
}
