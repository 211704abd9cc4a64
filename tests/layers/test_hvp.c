/* Hessian-vector products of the recurrent layers, by differentiating a
 * recorded backward (tg_autograd_grad with .create_graph), against
 * torch.autograd.functional.hvp (tests/fixtures/generate_hvp.py). */
#include "support.h"

TestSuite(hvp, .init = tg_test_setup, .fini = tg_test_teardown);

static tg_safetensors *load_fixture(const char *name)
{
    char relative[256];
    snprintf(relative, sizeof relative, "hvp/%s.safetensors", name);
    return tg_test_load_fixture(relative);
}

static tg_tensor *fixture(const tg_safetensors *file, const char *prefix, const char *name)
{
    char key[TG_NAME_MAX + 16];
    snprintf(key, sizeof key, "%s%s", prefix, name);
    const tg_tensor *t = tg_safetensors_get(file, key);
    cr_assert_not_null(t, "the fixture has no tensor \"%s\"", key);
    return tg_copy_to_graph(t);
}

typedef enum kind { RNN, LSTM, GRU } kind;

enum { MAX_PARAMS = 4 };

static void check_hvp(const char *name, kind k)
{
    tg_safetensors *file = load_fixture(name);
    tg_model *model = tg_model_new(1);
    tg_rnn_config config = { .input = 3, .hidden = 3, .gru = TG_GRU_PYTORCH };
    tg_rnn *layer = k == LSTM ? tg_lstm_new(model, NULL, config)
                  : k == GRU  ? tg_gru_new(model, NULL, config)
                              : tg_rnn_new(model, NULL, config);
    cr_assert_not_null(layer, "%s", tg_error_message());
    int n = tg_model_parameter_count(model);
    cr_assert_eq(n, MAX_PARAMS);
    tg_tensor *params[MAX_PARAMS], *v[MAX_PARAMS];
    for (int i = 0; i < n; i++) {
        params[i] = tg_model_parameter(model, i);
        cr_assert_eq(tg_tensor_copy_(params[i], fixture(file, "param/", tg_model_parameter_name(model, i))), 0);
        v[i] = fixture(file, "v/", tg_model_parameter_name(model, i));
    }

    /* L = sum(w * output) + 0.5 * sum(output^2) */
    tg_rnn_result r = tg_rnn_forward(layer, fixture(file, "", "x"),
                                     &(tg_rnn_options){ .h0 = fixture(file, "", "h0"),
                                                        .c0 = k == LSTM ? fixture(file, "", "c0") : NULL });
    tg_tensor *loss = tg_add(tg_sum_all(tg_mul(fixture(file, "", "w"), r.output)),
                             tg_mul_scalar(tg_sum_all(tg_square(r.output)), 0.5f));
    tg_assert_values(loss, tg_safetensors_get(file, "loss")->data, 1, 1e-5f);

    /* g = dL/dparams, recorded; H v = d <g, v> / dparams. */
    tg_tensor *g[MAX_PARAMS], *hv[MAX_PARAMS];
    cr_assert_eq(tg_autograd_grad(&loss, 1, params, n, g, (tg_grad_config){ .create_graph = true }), 0, "%s",
                 tg_error_message());
    tg_tensor *contracted = NULL;
    for (int i = 0; i < n; i++) {
        tg_tensor *term = tg_sum_all(tg_mul(g[i], v[i]));
        contracted = contracted ? tg_add(contracted, term) : term;
    }
    cr_assert_eq(tg_autograd_grad(&contracted, 1, params, n, hv, (tg_grad_config){ 0 }), 0, "%s",
                 tg_error_message());
    for (int i = 0; i < n; i++) {
        char key[TG_NAME_MAX + 8];
        snprintf(key, sizeof key, "hvp/%s", tg_model_parameter_name(model, i));
        const tg_tensor *expected = tg_safetensors_get(file, key);
        cr_assert_not_null(expected, "the fixture has no \"%s\"", key);
        float got[expected->numel];
        cr_assert(tg_tensor_same_shape(hv[i], expected), "%s: shapes differ", key);
        tg_tensor_to_array(hv[i], got);
        for (int64_t j = 0; j < expected->numel; j++)
            cr_assert(fabsf(got[j] - expected->data[j]) <= 1e-4f * fmaxf(1.0f, fabsf(expected->data[j])),
                      "%s element %lld: got %.7g, expected %.7g", key, (long long)j, got[j], expected->data[j]);
        cr_assert_null(tg_grad(params[i]), "tg_autograd_grad leaves the parameters' own gradients alone");
    }
    tg_model_free(model);
    tg_safetensors_free(file);
}

Test(hvp, rnn_matches_torch) { check_hvp("rnn", RNN); }
Test(hvp, lstm_matches_torch) { check_hvp("lstm", LSTM); }
Test(hvp, gru_pytorch_formulation_matches_torch) { check_hvp("gru", GRU); }
