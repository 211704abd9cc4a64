/* conv1d and the 1-d pools against torch.nn.functional: outputs and every
 * gradient, from tests/fixtures/conv/conv1d.safetensors (written by
 * tests/fixtures/generate_conv.py, whose docstring describes it), to 1e-4
 * relative to max(1, |value|). The settings of each case are those of the
 * generator's CASES and POOLS. */
#include "support.h"

#include <io/safetensors.h>

TestSuite(conv_pytorch, .init = tg_test_setup, .fini = tg_test_teardown);

static const float tolerance = 1e-4f;

static tg_safetensors *load_fixture(void) { return tg_test_load_fixture("conv/conv1d.safetensors"); }

static const tg_tensor *get(const tg_safetensors *file, const char *c, const char *name)
{
    char key[128];
    snprintf(key, sizeof key, "%s/%s", c, name);
    const tg_tensor *t = tg_safetensors_get(file, key);
    cr_assert_not_null(t, "the fixture has no tensor \"%s\"", key);
    return t;
}

/* An owned copy of a fixture tensor that requires a gradient. */
static tg_tensor *leaf(const tg_safetensors *file, const char *c, const char *name)
{
    tg_tensor *t = tg_tensor_clone(get(file, c, name));
    tg_set_requires_grad(t, true);
    return t;
}

static void assert_matches(const tg_tensor *t, const tg_safetensors *file, const char *c, const char *name)
{
    const tg_tensor *expected = get(file, c, name);
    cr_assert_not_null(t, "%s/%s: %s", c, name, tg_error_message());
    char a[TG_SHAPE_STR_MAX], b[TG_SHAPE_STR_MAX];
    cr_assert(tg_tensor_same_shape(t, expected), "%s/%s: shape %s, expected %s", c, name,
              tg_shape_format(a, sizeof a, t), tg_shape_format(b, sizeof b, expected));
    float got[expected->numel];
    tg_tensor_to_array(t, got);
    for (int64_t i = 0; i < expected->numel; i++) {
        float e = expected->data[i];
        cr_assert(fabsf(got[i] - e) <= tolerance * fmaxf(1.0f, fabsf(e)),
                  "%s/%s element %lld: got %.7g, expected %.7g", c, name, (long long)i, got[i], e);
    }
}

/* Back-propagates sum(w * y) with the fixture's w. */
static void backward_objective(tg_tensor *y, const tg_safetensors *file, const char *c)
{
    tg_tensor *w = tg_copy_to_graph(get(file, c, "w"));
    cr_assert_eq(tg_backward(tg_sum_all(tg_mul(y, w))), 0, "%s: %s", c, tg_error_message());
}

typedef struct conv_fixture {
    const char *name;
    tg_conv1d_options options;
    bool bias;
} conv_fixture;

Test(conv_pytorch, conv1d_outputs_and_gradients)
{
    const conv_fixture cases[] = {
        { "plain", { 0 }, true },
        { "stride_padding", { .stride = 2, .padding = 3 }, true },
        { "dilated", { .padding = 2, .dilation = 3 }, false },
        { "groups", { .padding = 1, .groups = 2 }, true },
        { "depthwise", { .stride = 3, .padding = 2, .dilation = 2, .groups = 4 }, true },
        { "wide", { .padding = 3 }, true },
    };
    tg_safetensors *file = load_fixture();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *c = cases[i].name;
        tg_tensor *x = leaf(file, c, "x"), *weight = leaf(file, c, "weight");
        tg_tensor *bias = cases[i].bias ? leaf(file, c, "bias") : NULL;
        tg_tensor *y = tg_conv1d(x, weight, bias, cases[i].options);
        assert_matches(y, file, c, "y");
        backward_objective(y, file, c);
        assert_matches(tg_grad(x), file, c, "grad/x");
        assert_matches(tg_grad(weight), file, c, "grad/weight");
        if (bias)
            assert_matches(tg_grad(bias), file, c, "grad/bias");
        tg_graph_reset();
        tg_tensor_free(x);
        tg_tensor_free(weight);
        tg_tensor_free(bias);
    }
    tg_safetensors_free(file);
}

Test(conv_pytorch, pools_outputs_and_gradients)
{
    tg_safetensors *file = load_fixture();
    tg_tensor *x = leaf(file, "max_pool", "x");
    tg_tensor *y = tg_max_pool1d(x, (tg_pool1d_options){ .kernel = 3, .stride = 2, .padding = 1 });
    assert_matches(y, file, "max_pool", "y");
    backward_objective(y, file, "max_pool");
    assert_matches(tg_grad(x), file, "max_pool", "grad/x");
    tg_tensor_free(x);
    x = leaf(file, "avg_pool", "x");
    y = tg_avg_pool1d(x, (tg_pool1d_options){ .kernel = 4, .stride = 3, .padding = 2 });
    assert_matches(y, file, "avg_pool", "y");
    backward_objective(y, file, "avg_pool");
    assert_matches(tg_grad(x), file, "avg_pool", "grad/x");
    tg_tensor_free(x);
    tg_safetensors_free(file);
}
