/* int8 layers (tg_quantize_dynamic, tg_linear_quantize, tg_rnn_quantize):
 * outputs against the float layers within bounds the quantisation steps
 * give, against the plain C path bit for bit, against the int8 op composed
 * by hand, and what becomes of the model's parameters and gradients. */
#include <math.h>

#include "layer_check.h"

TestSuite(quantize_layers, .init = tg_test_setup, .fini = tg_test_teardown);

/* A copy of t's values (malloc'd). */
static float *copy_values(const tg_tensor *t)
{
    cr_assert_not_null(t, "%s", tg_error_message());
    float *v = malloc(sizeof(float) * (size_t)t->numel);
    cr_assert_eq(tg_tensor_to_array(t, v), 0);
    return v;
}

/* The bound of tensor/quantize.h for x [k] times the float row w [k] whose
 * int8 form has scale s. */
static double product_bound(const float *x, const float *w, int64_t k, double s)
{
    double max_x = 0, sum_x = 0, sum_w = 0;
    for (int64_t p = 0; p < k; p++) {
        max_x = fmax(max_x, fabs(x[p]));
        sum_x += fabs(x[p]);
        sum_w += fabs(w[p]);
    }
    double t = max_x / 127;
    return (s / 2 * sum_x + t / 2 * sum_w + s * t / 4 * (double)k) * 1.0001 + 1e-6;
}

/* Runs fn twice, in the plain C path and in the current default one, and
 * checks both give the same values; returns them. */
static float *both_paths(tg_tensor *(*fn)(void *), void *user, int64_t *n)
{
    tg_set_reference_mode(true);
    tg_tensor *a = fn(user);
    float *plain = copy_values(a);
    *n = a->numel;
    tg_graph_reset();
    tg_set_reference_mode(false);
    float *fast = copy_values(fn(user));
    for (int64_t i = 0; i < *n; i++)
        cr_assert_eq(plain[i], fast[i], "element %lld: %.9g and %.9g", (long long)i,
                     (double)plain[i], (double)fast[i]);
    free(fast);
    tg_graph_reset();
    return plain;
}

typedef struct linear_case {
    tg_linear *head;
    tg_tensor *x;
} linear_case;

static tg_tensor *linear_run(void *user)
{
    linear_case *c = user;
    tg_no_grad_begin();
    tg_tensor *y = tg_linear_forward(c->head, c->x);
    tg_no_grad_end();
    return y;
}

Test(quantize_layers, linear_stays_within_the_quantisation_bound)
{
    tg_model *model = tg_model_new(1);
    tg_linear *head = tg_linear_new(model, "head", (tg_linear_config){ .input = 48, .output = 21 });
    tg_rng rng = tg_rng_new(2);
    linear_case c = { head, tg_tensor_randn(TG_SHAPE(3, 48), &rng) };
    float *w = copy_values(head->weight), *y_float = copy_values(linear_run(&c));
    cr_assert_eq(tg_linear_quantize(model, head), 0, "%s", tg_error_message());
    cr_assert_eq(tg_linear_quantize(model, head), 0); /* twice is once */
    cr_assert_null(head->weight);
    cr_assert_eq(tg_model_find_quantized(model, "head.weight"), head->qweight);
    cr_assert_null(tg_model_find(model, "head.weight"));
    cr_assert_eq(tg_model_parameter_count(model), 1);
    cr_assert_str_eq(tg_model_parameter_name(model, 0), "head.bias");
    int64_t n;
    float *y = both_paths(linear_run, &c, &n);
    cr_assert_eq(n, 3 * 21);
    for (int64_t i = 0; i < 3; i++)
        for (int64_t r = 0; r < 21; r++) {
            double bound = product_bound(c.x->data + i * 48, w + r * 48, 48, head->qweight->scale[r]);
            cr_assert(fabs(y[i * 21 + r] - y_float[i * 21 + r]) <= bound, "[%lld,%lld]: %g and %g",
                      (long long)i, (long long)r, (double)y[i * 21 + r], (double)y_float[i * 21 + r]);
        }
    free(w);
    free(y);
    free(y_float);
    tg_tensor_free(c.x);
    tg_model_free(model);
}

typedef struct rnn_case {
    tg_rnn *layer;
    tg_tensor *x, *h0, *c0;
} rnn_case;

static tg_tensor *rnn_run(void *user)
{
    rnn_case *c = user;
    tg_no_grad_begin();
    tg_rnn_result r = tg_rnn_forward(c->layer, c->x, &(tg_rnn_options){ .h0 = c->h0, .c0 = c->c0 });
    tg_no_grad_end();
    return r.output;
}

/* One tanh step from h0: tanh is 1-Lipschitz, so each output is within the
 * sum of the two products' bounds of the float layer's. */
Test(quantize_layers, an_rnn_step_stays_within_the_quantisation_bound)
{
    enum { I = 20, H = 24, B = 2 };
    tg_model *model = tg_model_new(3);
    tg_rnn *rnn = tg_rnn_new(model, "rnn", (tg_rnn_config){ .input = I, .hidden = H });
    tg_rng rng = tg_rng_new(4);
    rnn_case c = { rnn, tg_tensor_randn(TG_SHAPE(1, B, I), &rng),
                   tg_tensor_rand(TG_SHAPE(1, B, H), &rng), NULL };
    float *w_ih = copy_values(tg_model_find(model, "rnn.weight_ih_l0"));
    float *w_hh = copy_values(tg_model_find(model, "rnn.weight_hh_l0"));
    float *y_float = copy_values(rnn_run(&c));
    tg_graph_reset();
    cr_assert_eq(tg_rnn_quantize(model, rnn), 0, "%s", tg_error_message());
    const tg_qweight *q_ih = tg_model_find_quantized(model, "rnn.weight_ih_l0");
    const tg_qweight *q_hh = tg_model_find_quantized(model, "rnn.weight_hh_l0");
    cr_assert(q_ih && q_hh);
    int64_t n;
    float *y = both_paths(rnn_run, &c, &n);
    for (int64_t b = 0; b < B; b++)
        for (int64_t r = 0; r < H; r++) {
            double bound = product_bound(c.x->data + b * I, w_ih + r * I, I, q_ih->scale[r]) +
                           product_bound(c.h0->data + b * H, w_hh + r * H, H, q_hh->scale[r]);
            cr_assert(fabs(y[b * H + r] - y_float[b * H + r]) <= bound, "[%lld,%lld]: %g and %g",
                      (long long)b, (long long)r, (double)y[b * H + r], (double)y_float[b * H + r]);
        }
    free(w_ih);
    free(w_hh);
    free(y);
    free(y_float);
    tg_tensor_free(c.x);
    tg_tensor_free(c.h0);
    tg_model_free(model);
}

/* The int8 LSTM is the seed's LSTM step composed from tg_affine_int8 and
 * float ops, exactly. */
Test(quantize_layers, the_lstm_is_its_equations_over_the_int8_products)
{
    enum { T = 4, B = 2, I = 12, H = 16 };
    tg_model *model = tg_model_new(5);
    tg_lstm *lstm = tg_lstm_new(model, "lstm", (tg_rnn_config){ .input = I, .hidden = H });
    tg_rng rng = tg_rng_new(6);
    tg_tensor *x = tg_tensor_randn(TG_SHAPE(T, B, I), &rng);
    cr_assert_eq(tg_quantize_dynamic(model), 0, "%s", tg_error_message());
    cr_assert_not(tg_model_training(model));
    tg_no_grad_begin();
    tg_tensor *out = tg_lstm_forward(lstm, x, NULL).output;
    const tg_qweight *q_ih = tg_model_find_quantized(model, "lstm.weight_ih_l0");
    const tg_qweight *q_hh = tg_model_find_quantized(model, "lstm.weight_hh_l0");
    tg_tensor *bias = tg_add(tg_model_find(model, "lstm.bias_ih_l0"),
                             tg_model_find(model, "lstm.bias_hh_l0"));
    tg_tensor *h = tg_zeros(TG_SHAPE(B, H)), *cell = tg_zeros(TG_SHAPE(B, H));
    for (int t = 0; t < T; t++) {
        tg_tensor *gates = tg_affine_int8(h, q_hh, tg_affine_int8(tg_select(x, 0, t), q_ih, bias));
        tg_tensor *i = tg_sigmoid(tg_narrow(gates, 1, 0, H));
        tg_tensor *f = tg_sigmoid(tg_narrow(gates, 1, H, H));
        tg_tensor *g = tg_tanh(tg_narrow(gates, 1, 2 * H, H));
        tg_tensor *o = tg_sigmoid(tg_narrow(gates, 1, 3 * H, H));
        cell = tg_add(tg_mul(f, cell), tg_mul(i, g));
        h = tg_mul(o, tg_tanh(cell));
        tg_tensor *step = tg_select(out, 0, t);
        for (int64_t j = 0; j < B * H; j++) {
            int64_t index[2] = { j / H, j % H };
            cr_assert_float_eq(tg_tensor_get(step, index), tg_tensor_get(h, index), 1e-6f,
                               "step %d element %lld", t, (long long)j);
        }
    }
    tg_no_grad_end();
    tg_tensor_free(x);
    tg_model_free(model);
}

typedef struct layer_case {
    const char *name;
    tg_rnn *(*make)(tg_model *, const char *, tg_rnn_config);
    tg_rnn_config config;
} layer_case;

/* Every kind and option, over 6 steps: the int8 output is the plain C
 * path's bit for bit and within 0.03 of the float layer's (|h| < 1; the
 * per-step error, about 0.005 here, is damped by the gates). */
Test(quantize_layers, every_cell_and_option_stays_close_to_the_float_layer)
{
    const layer_case cases[] = {
        { "rnn", tg_rnn_new, { .input = 10, .hidden = 20 } },
        { "rnn relu", tg_rnn_new, { .input = 10, .hidden = 20, .nonlinearity = TG_RNN_RELU } },
        { "lstm", tg_lstm_new, { .input = 10, .hidden = 20, .layers = 2, .bidirectional = true } },
        { "gru seed", tg_gru_new, { .input = 10, .hidden = 20, .layers = 2 } },
        { "gru pytorch", tg_gru_new, { .input = 10, .hidden = 20, .gru = TG_GRU_PYTORCH,
                                        .bidirectional = true } },
        { "gru no bias", tg_gru_new, { .input = 10, .hidden = 20, .no_bias = true } },
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        tg_model *model = tg_model_new(7);
        tg_rnn *layer = cases[k].make(model, "enc", cases[k].config);
        tg_rng rng = tg_rng_new(8);
        rnn_case c = { layer, tg_tensor_randn(TG_SHAPE(6, 3, 10), &rng), NULL, NULL };
        float *y_float = copy_values(rnn_run(&c));
        tg_graph_reset();
        cr_assert_eq(tg_quantize_dynamic(model), 0, "%s", tg_error_message());
        int layers = cases[k].config.layers ? cases[k].config.layers : 1;
        int sets = layers * (cases[k].config.bidirectional ? 2 : 1);
        cr_assert_eq(tg_model_quantized_count(model), 2 * sets, "%s", cases[k].name);
        cr_assert_eq(tg_model_parameter_count(model), cases[k].config.no_bias ? 0 : 2 * sets);
        int64_t n;
        float *y = both_paths(rnn_run, &c, &n);
        double worst = 0;
        for (int64_t i = 0; i < n; i++)
            worst = fmax(worst, fabs(y[i] - y_float[i]));
        cr_assert(worst < 0.03 && worst > 0, "%s: %g", cases[k].name, worst);
        free(y);
        free(y_float);
        tg_tensor_free(c.x);
        tg_model_free(model);
    }
}

Test(quantize_layers, cells_are_quantised_too_and_nothing_passes_a_gradient)
{
    tg_model *model = tg_model_new(9);
    tg_gru_cell *cell = tg_gru_cell_new(model, "cell", (tg_rnn_config){ .input = 6, .hidden = 8 });
    tg_linear *head = tg_linear_new(model, "head", (tg_linear_config){ .input = 8, .output = 3 });
    tg_embedding *emb = tg_embedding_new(model, "emb", (tg_embedding_config){ .count = 5, .dim = 6 });
    cr_assert(cell && head && emb);
    cr_assert_eq(tg_quantize_dynamic(model), 0, "%s", tg_error_message());
    cr_assert_eq(tg_model_quantized_count(model), 3);
    cr_assert_str_eq(tg_model_quantized_name(model, 0), "cell.weight_ih");
    cr_assert_str_eq(tg_model_quantized_name(model, 1), "cell.weight_hh");
    cr_assert_str_eq(tg_model_quantized_name(model, 2), "head.weight");
    cr_assert_not_null(tg_model_find(model, "emb.weight")); /* embeddings stay float */
    cr_assert_eq(tg_quantize_dynamic(model), 0);
    cr_assert_eq(tg_model_quantized_count(model), 3);
    tg_tensor *ids = tg_from_int64(TG_SHAPE(2), (const int64_t[]){ 1, 4 });
    /* A training step over the int8 layers fails at their first product. */
    tg_rnn_state s = tg_gru_cell_forward(cell, tg_embedding_forward(emb, ids), (tg_rnn_state){ 0 });
    cr_assert_null(s.h);
    cr_assert_str_eq(tg_error_message(),
                     "affine_int8: input [2,6]: "
                     "an int8 (quantised) layer is inference-only and passes no gradient; "
                     "run it under tg_no_grad_begin()");
    tg_error_clear();
    tg_no_grad_begin();
    s = tg_gru_cell_forward(cell, tg_embedding_forward(emb, ids), (tg_rnn_state){ 0 });
    tg_tensor *logits = tg_linear_forward(head, s.h);
    tg_no_grad_end();
    cr_assert_not_null(logits, "%s", tg_error_message());
    cr_assert_eq(logits->shape[0], 2);
    cr_assert_eq(logits->shape[1], 3);
    cr_assert_null(tg_model_quantize_parameter(model, "head.weight", 0));
    cr_assert_str_eq(tg_error_message(), "model_quantize_parameter: no float parameter is named "
                                         "\"head.weight\" (it is int8 already)");
    tg_error_clear();
    cr_assert_null(tg_model_add_parameter(model, "head.weight", TG_SHAPE(2)));
    tg_model_free(model);
}

Test(quantize_layers, an_optimizer_made_before_quantising_refuses_to_step)
{
    tg_model *model = tg_model_new(4);
    tg_linear *head = tg_linear_new(model, "head", (tg_linear_config){ .input = 8, .output = 3 });
    cr_assert_not_null(head);
    tg_optimizer *opt = tg_adam_new(model, (tg_adam_config){ .lr = 1e-3 });
    cr_assert_not_null(opt, "%s", tg_error_message());
    cr_assert_eq(tg_optimizer_step(opt), 0, "%s", tg_error_message());
    cr_assert_eq(tg_quantize_dynamic(model), 0, "%s", tg_error_message());
    cr_assert_eq(tg_optimizer_step(opt), -1);
    cr_assert_str_eq(tg_error_message(),
                     "optimizer_step: adam: the model's parameters changed after this optimizer was "
                     "made (tg_quantize_dynamic freed its float weights): a quantised model does "
                     "not train");
    tg_error_clear();
    tg_optimizer_zero_grad(opt);
    cr_assert(strstr(tg_error_message(), "optimizer_zero_grad: adam: the model's parameters changed"));
    tg_error_clear();
    cr_assert_null(tg_optimizer_parameter(opt, 0));
    /* An optimizer made afterwards holds the float parameters left (the bias). */
    tg_optimizer *after = tg_adam_new(model, (tg_adam_config){ .lr = 1e-3 });
    cr_assert_eq(tg_optimizer_parameter_count(after), 1);
    cr_assert_eq(tg_optimizer_step(after), 0, "%s", tg_error_message());
    tg_optimizer_free(after);
    tg_optimizer_free(opt);
    tg_model_free(model);
}
