/* Layers and losses against PyTorch: outputs and every gradient, from the
 * fixtures written by tests/fixtures/generate_layers.py (whose docstring
 * describes them), to 1e-4 relative to max(1, |value|). */
#define _XOPEN_SOURCE 700 /* mkstemp */

#include "layer_check.h"

#include <io/safetensors.h>
#include <layers/model_io.h>
#include <stdlib.h>
#include <unistd.h>

TestSuite(pytorch_layers, .init = tg_test_setup, .fini = tg_test_teardown);

static const float tolerance = 1e-4f;

/* The committed fixture tests/fixtures/layers/<name>.safetensors. */
static tg_safetensors *load_fixture(const char *name)
{
    char relative[256];
    snprintf(relative, sizeof relative, "layers/%s.safetensors", name);
    return tg_test_load_fixture(relative);
}

static const tg_tensor *get(const tg_safetensors *file, const char *name)
{
    const tg_tensor *t = tg_safetensors_get(file, name);
    cr_assert_not_null(t, "the fixture has no tensor \"%s\"", name);
    return t;
}

/* An owned copy of a fixture tensor that requires a gradient. */
static tg_tensor *leaf(const tg_safetensors *file, const char *name)
{
    tg_tensor *t = tg_tensor_clone(get(file, name));
    tg_set_requires_grad(t, true);
    return t;
}

/* Asserts that t holds the fixture's tensor `name` (shape and values). */
static void assert_matches(const tg_tensor *t, const tg_safetensors *file, const char *name)
{
    const tg_tensor *expected = get(file, name);
    cr_assert_not_null(t, "%s: %s", name, tg_error_message());
    char a[TG_SHAPE_STR_MAX], b[TG_SHAPE_STR_MAX];
    cr_assert(tg_tensor_same_shape(t, expected), "%s: shape %s, expected %s", name,
              tg_shape_format(a, sizeof a, t), tg_shape_format(b, sizeof b, expected));
    float got[expected->numel];
    tg_tensor_to_array(t, got);
    for (int64_t i = 0; i < expected->numel; i++) {
        float e = expected->data[i];
        cr_assert(fabsf(got[i] - e) <= tolerance * fmaxf(1.0f, fabsf(e)),
                  "%s element %lld: got %.7g, expected %.7g", name, (long long)i, got[i], e);
    }
}

/* Copies every fixture "param/<name>" into the model's parameter <name>. */
static void load_parameters(tg_model *model, const tg_safetensors *file)
{
    int fixture_params = 0;
    for (int i = 0; i < tg_safetensors_count(file); i++)
        fixture_params += strncmp(tg_safetensors_name(file, i), "param/", 6) == 0;
    cr_assert_eq(tg_model_parameter_count(model), fixture_params);
    for (int i = 0; i < tg_model_parameter_count(model); i++) {
        char name[TG_NAME_MAX + 8];
        snprintf(name, sizeof name, "param/%s", tg_model_parameter_name(model, i));
        cr_assert_eq(tg_tensor_copy_(tg_model_parameter(model, i), get(file, name)), 0, "%s",
                     tg_error_message());
    }
}

/* Every parameter's gradient against the fixture's "grad/<name>". */
static void assert_parameter_gradients(const tg_model *model, const tg_safetensors *file)
{
    for (int i = 0; i < tg_model_parameter_count(model); i++) {
        char name[TG_NAME_MAX + 8];
        snprintf(name, sizeof name, "grad/%s", tg_model_parameter_name(model, i));
        assert_matches(tg_grad(tg_model_parameter(model, i)), file, name);
    }
}

/* sum(w * t) with the fixture's weights "w/<name>". */
static tg_tensor *weighted(tg_tensor *t, const tg_safetensors *file, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "w/%s", name);
    return tg_sum_all(tg_mul(t, tg_copy_to_graph(get(file, key))));
}

/* ---- Recurrent layers ------------------------------------------------------------------------ */

typedef enum kind { RNN, LSTM, GRU } kind;

static void check_recurrent(const char *fixture, kind k, tg_rnn_config config)
{
    tg_safetensors *file = load_fixture(fixture);
    tg_model *model = tg_model_new(1);
    config.layers = 2;
    config.bidirectional = true;
    tg_rnn *layer = k == LSTM ? tg_lstm_new(model, NULL, config)
                  : k == GRU  ? tg_gru_new(model, NULL, config)
                              : tg_rnn_new(model, NULL, config);
    cr_assert_not_null(layer, "%s", tg_error_message());
    load_parameters(model, file);

    tg_tensor *x = leaf(file, "x"), *h0 = leaf(file, "h0");
    tg_tensor *c0 = k == LSTM ? leaf(file, "c0") : NULL;
    const tg_tensor *lengths_f = get(file, "lengths");
    int64_t lengths[8];
    for (int64_t b = 0; b < lengths_f->numel; b++)
        lengths[b] = (int64_t)lengths_f->data[b];

    tg_rnn_result r = tg_rnn_forward(layer, x, &(tg_rnn_options){ .h0 = h0, .c0 = c0, .lengths = lengths });
    assert_matches(r.output, file, "output");
    assert_matches(r.h_n, file, "h_n");
    tg_tensor *objective = tg_add(weighted(r.output, file, "output"), weighted(r.h_n, file, "h_n"));
    if (k == LSTM) {
        assert_matches(r.c_n, file, "c_n");
        objective = tg_add(objective, weighted(r.c_n, file, "c_n"));
    }
    cr_assert_eq(tg_backward(objective), 0, "%s", tg_error_message());
    assert_parameter_gradients(model, file);
    assert_matches(tg_grad(x), file, "grad/x");
    assert_matches(tg_grad(h0), file, "grad/h0");
    if (c0)
        assert_matches(tg_grad(c0), file, "grad/c0");

    tg_tensor_free(x);
    tg_tensor_free(h0);
    tg_tensor_free(c0);
    tg_model_free(model);
    tg_safetensors_free(file);
}

/* torch.nn.GRU's weights as its state_dict saves them ("gru.weight_ih_l0",
 * ..., metadata {"format": "pt"} and nothing about the formulation), from
 * the gru fixture, in a temporary file whose path goes into path. */
static void save_torch_gru_checkpoint(const tg_safetensors *fixture, char *path)
{
    tg_named_tensor tensors[16];
    char names[16][64];
    int n = 0;
    for (int i = 0; i < tg_safetensors_count(fixture); i++) {
        const char *name = tg_safetensors_name(fixture, i);
        if (strncmp(name, "param/", 6) != 0)
            continue;
        cr_assert_lt(n, 16);
        snprintf(names[n], sizeof names[n], "gru.%s", name + 6);
        tensors[n] = (tg_named_tensor){ names[n], (tg_tensor *)get(fixture, name) };
        n++;
    }
    strcpy(path, "/tmp/tg_torch_gru_XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(tg_safetensors_save(path, tensors, n, (tg_string_pair[]){ { "format", "pt" } }, 1), 0,
                 "%s", tg_error_message());
}

/* The largest |output - torch's output| of a GRU given the fixture's input. */
static float gru_output_error(tg_gru *gru, const tg_safetensors *fixture)
{
    const tg_tensor *lengths_f = get(fixture, "lengths");
    int64_t lengths[8];
    for (int64_t b = 0; b < lengths_f->numel; b++)
        lengths[b] = (int64_t)lengths_f->data[b];
    tg_rnn_result r = tg_gru_forward(gru, tg_copy_to_graph(get(fixture, "x")),
                                     &(tg_rnn_options){ .h0 = tg_copy_to_graph(get(fixture, "h0")),
                                                        .lengths = lengths });
    const tg_tensor *expected = get(fixture, "output");
    cr_assert(r.output && tg_tensor_same_shape(r.output, expected), "%s", tg_error_message());
    float got[expected->numel], error = 0.0f;
    tg_tensor_to_array(r.output, got);
    for (int64_t i = 0; i < expected->numel; i++)
        error = fmaxf(error, fabsf(got[i] - expected->data[i]));
    tg_graph_reset();
    return error;
}

Test(pytorch_layers, a_torch_gru_checkpoint_loads_into_the_pytorch_formulation_and_no_other)
{
    tg_safetensors *fixture = load_fixture("gru");
    char path[64];
    save_torch_gru_checkpoint(fixture, path);
    tg_rnn_config config = { .input = 4, .hidden = 3, .layers = 2, .bidirectional = true };

    /* Into the default (seed) formulation: refused, with the setting to use. */
    tg_model *seed_model = tg_model_new(1);
    tg_gru *seed = tg_gru_new(seed_model, "gru", config);
    cr_assert_eq(tg_model_load(seed_model, path, TG_LOAD_STRICT, NULL), -1);
    tg_assert_error("the file does not record the formulation of the GRU \"gru\", as a "
                    "torch.nn.GRU checkpoint does not, but the model's has .gru = TG_GRU_SEED: "
                    "for torch.nn.GRU weights create it with .gru = TG_GRU_PYTORCH");
    tg_error_clear();
    /* Forced in, the weights compute something else than torch. */
    cr_assert_eq(tg_model_load(seed_model, path, TG_LOAD_STRICT | TG_LOAD_ANY_GRU, NULL), 0, "%s",
                 tg_error_message());
    float seed_error = gru_output_error(seed, fixture);
    cr_assert_gt(seed_error, 0.05f, "the seed formulation gave torch's output (%g)", seed_error);

    /* Into .gru = TG_GRU_PYTORCH: loaded, and torch's outputs. */
    config.gru = TG_GRU_PYTORCH;
    tg_model *torch_model = tg_model_new(1);
    tg_gru *torch_gru = tg_gru_new(torch_model, "gru", config);
    cr_assert_eq(tg_model_load(torch_model, path, TG_LOAD_STRICT, NULL), 0, "%s", tg_error_message());
    float torch_error = gru_output_error(torch_gru, fixture);
    cr_assert_leq(torch_error, 1e-4f, "max error %g", torch_error);

    unlink(path);
    tg_model_free(seed_model);
    tg_model_free(torch_model);
    tg_safetensors_free(fixture);
}

Test(pytorch_layers, rnn_tanh_two_layers_bidirectional_unequal_lengths)
{
    check_recurrent("rnn_tanh", RNN, (tg_rnn_config){ .input = 4, .hidden = 3 });
}

Test(pytorch_layers, rnn_relu_batch_first_two_layers_bidirectional_unequal_lengths)
{
    check_recurrent("rnn_relu_batch_first", RNN, (tg_rnn_config){ .input = 4, .hidden = 3, .batch_first = true,
                                                                  .nonlinearity = TG_RNN_RELU });
}

Test(pytorch_layers, lstm_two_layers_bidirectional_unequal_lengths)
{
    check_recurrent("lstm", LSTM, (tg_rnn_config){ .input = 4, .hidden = 3 });
}

Test(pytorch_layers, pytorch_gru_two_layers_bidirectional_unequal_lengths)
{
    check_recurrent("gru", GRU, (tg_rnn_config){ .input = 4, .hidden = 3, .gru = TG_GRU_PYTORCH });
}

/* ---- Linear, Embedding, LayerNorm ---------------------------------------------------------------- */

/* Runs forward(x) on a fixture with param/, x, y, w/y and grad/ tensors. */
static void check_module(const char *fixture, tg_model *model, tg_tensor *(*forward)(const void *, tg_tensor *),
                         const void *layer, bool x_grad)
{
    tg_safetensors *file = load_fixture(fixture);
    load_parameters(model, file);
    tg_tensor *x = x_grad ? leaf(file, "x") : tg_tensor_clone(get(file, "x"));
    tg_tensor *y = forward(layer, x);
    assert_matches(y, file, "y");
    cr_assert_eq(tg_backward(weighted(y, file, "y")), 0, "%s", tg_error_message());
    assert_parameter_gradients(model, file);
    if (x_grad)
        assert_matches(tg_grad(x), file, "grad/x");
    tg_tensor_free(x);
    tg_safetensors_free(file);
}

static tg_tensor *linear_forward(const void *layer, tg_tensor *x) { return tg_linear_forward(layer, x); }
static tg_tensor *embedding_forward(const void *layer, tg_tensor *x) { return tg_embedding_forward(layer, x); }
static tg_tensor *layernorm_forward(const void *layer, tg_tensor *x) { return tg_layernorm_forward(layer, x); }

Test(pytorch_layers, linear)
{
    tg_model *model = tg_model_new(1);
    tg_linear *linear = tg_linear_new(model, NULL, (tg_linear_config){ .input = 4, .output = 3 });
    check_module("linear", model, linear_forward, linear, true);
    tg_model_free(model);
}

Test(pytorch_layers, embedding_with_padding_idx)
{
    tg_model *model = tg_model_new(1);
    tg_embedding *emb = tg_embedding_new(model, NULL, (tg_embedding_config){
        .count = 6, .dim = 3, .use_padding_idx = true, .padding_idx = 1 });
    check_module("embedding", model, embedding_forward, emb, false);
    tg_model_free(model);
}

Test(pytorch_layers, layernorm)
{
    tg_model *model = tg_model_new(1);
    tg_layernorm *norm = tg_layernorm_new(model, NULL, (tg_layernorm_config){ .dim = 5 });
    check_module("layernorm", model, layernorm_forward, norm, true);
    tg_model_free(model);
}

/* ---- Losses ------------------------------------------------------------------------------------------- */

/* The loss of case `name` with the options generate_layers.py uses for it. */
static tg_tensor *fixture_loss(const char *name, tg_tensor *x, tg_tensor *target, const tg_safetensors *file)
{
    if (strcmp(name, "mse") == 0)
        return tg_mse_loss(x, target, TG_REDUCTION_MEAN);
    if (strcmp(name, "l1_sum") == 0)
        return tg_l1_loss(x, target, TG_REDUCTION_SUM);
    if (strcmp(name, "huber") == 0)
        return tg_huber_loss(x, target, 0.7f, TG_REDUCTION_MEAN);
    if (strcmp(name, "cross_entropy") == 0)
        return tg_cross_entropy(x, target, &(tg_class_loss_config){
            .use_ignore_index = true, .ignore_index = -100, .label_smoothing = 0.1f });
    if (strcmp(name, "cross_entropy_sum") == 0)
        return tg_cross_entropy(x, target, &(tg_class_loss_config){ .reduction = TG_REDUCTION_SUM });
    if (strcmp(name, "cross_entropy_ignored") == 0)
        return tg_cross_entropy(x, target, &(tg_class_loss_config){ .use_ignore_index = true, .ignore_index = -100 });
    if (strcmp(name, "nll") == 0)
        return tg_nll_loss(x, target, &(tg_class_loss_config){ .use_ignore_index = true, .ignore_index = 2 });
    if (strcmp(name, "bce") == 0)
        return tg_bce_with_logits(x, target, &(tg_bce_config){ .reduction = TG_REDUCTION_SUM });
    tg_tensor *pos_weight = tg_copy_to_graph(get(file, "bce_pos_weight/pos_weight"));
    return tg_bce_with_logits(x, target, &(tg_bce_config){ .pos_weight = pos_weight });
}

Test(pytorch_layers, losses)
{
    const char *cases[] = { "mse", "l1_sum", "huber", "cross_entropy", "cross_entropy_sum",
                            "cross_entropy_ignored", "nll", "bce", "bce_pos_weight" };
    tg_safetensors *file = load_fixture("losses");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char key[64];
        snprintf(key, sizeof key, "%s/input", cases[i]);
        tg_tensor *x = leaf(file, key);
        snprintf(key, sizeof key, "%s/target", cases[i]);
        tg_tensor *target = tg_copy_to_graph(get(file, key));
        tg_tensor *loss = fixture_loss(cases[i], x, target, file);
        snprintf(key, sizeof key, "%s/loss", cases[i]);
        assert_matches(tg_reshape(loss, TG_SHAPE(1)), file, key);
        cr_assert_eq(tg_backward(loss), 0, "%s: %s", cases[i], tg_error_message());
        snprintf(key, sizeof key, "%s/grad", cases[i]);
        assert_matches(tg_grad(x), file, key);
        tg_tensor_free(x);
    }
    tg_safetensors_free(file);
}
