/* Scaled dot-product attention, the multi-head attention layer and the
 * conv1d layer: against PyTorch (tests/fixtures/generate_attention.py,
 * whose docstring describes the fixture) to 1e-4 relative to
 * max(1, |value|), against finite differences, and by hand. */
#include "layer_check.h"

#include <float.h>
#include <io/safetensors.h>

TestSuite(attention, .init = tg_test_setup, .fini = tg_test_teardown);

static const float tolerance = 1e-4f;

static tg_safetensors *load_fixture(void) { return tg_test_load_fixture("attention/attention.safetensors"); }

static const tg_tensor *get(const tg_safetensors *file, const char *c, const char *name)
{
    char key[128];
    snprintf(key, sizeof key, "%s/%s", c, name);
    const tg_tensor *t = tg_safetensors_get(file, key);
    cr_assert_not_null(t, "the fixture has no tensor \"%s\"", key);
    return t;
}

/* A graph copy of a fixture tensor, requiring a gradient when `grad`. */
static tg_tensor *input(const tg_safetensors *file, const char *c, const char *name, bool grad)
{
    tg_tensor *t = tg_copy_to_graph(get(file, c, name));
    if (grad)
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
    float *got = values_of(t);
    for (int64_t i = 0; i < expected->numel; i++) {
        float e = expected->data[i];
        cr_assert(fabsf(got[i] - e) <= tolerance * fmaxf(1.0f, fabsf(e)),
                  "%s/%s element %lld: got %.7g, expected %.7g", c, name, (long long)i, got[i], e);
    }
    free(got);
}

static void backward_objective(tg_tensor *y, const tg_safetensors *file, const char *c)
{
    cr_assert_eq(tg_backward(tg_sum_all(tg_mul(y, input(file, c, "w", false)))), 0, "%s: %s", c,
                 tg_error_message());
}

/* ---- scaled dot-product attention ---------------------------------------------------- */

Test(attention, scaled_dot_product_attention_matches_pytorch)
{
    tg_safetensors *file = load_fixture();
    tg_tensor *q = input(file, "sdpa", "q", true), *k = input(file, "sdpa", "k", true);
    tg_tensor *v = input(file, "sdpa", "v", true);
    tg_tensor *weights;
    tg_tensor *y = tg_scaled_dot_product_attention(q, k, v, input(file, "sdpa", "mask", false), &weights);
    assert_matches(y, file, "sdpa", "y");
    assert_matches(weights, file, "sdpa", "weights");
    backward_objective(y, file, "sdpa");
    assert_matches(tg_grad(q), file, "sdpa", "grad/q");
    assert_matches(tg_grad(k), file, "sdpa", "grad/k");
    assert_matches(tg_grad(v), file, "sdpa", "grad/v");
    tg_safetensors_free(file);
}

static tg_tensor *sdpa_masked(tg_tensor *const *in, void *user)
{
    (void)user;
    tg_tensor *mask = tg_from_array(TG_SHAPE(3), (float[]){ 0, 1, 0 }); /* hides key 1 from every query */
    /* keys arrive transposed [D, Lk], as a decoder may keep them */
    return tg_scaled_dot_product_attention(in[0], tg_transpose(in[1], -1, -2), in[2], mask, NULL);
}

Test(attention, scaled_dot_product_attention_gradients)
{
    tg_rng rng = tg_rng_new(5);
    tg_tensor *in[3] = { random_input(TG_SHAPE(2, 2, 4), &rng), random_input(TG_SHAPE(2, 4, 3), &rng),
                         random_input(TG_SHAPE(1, 3, 5), &rng) };
    check_gradients(sdpa_masked, NULL, in, 3);
    for (int i = 0; i < 3; i++)
        tg_tensor_free(in[i]);
}

Test(attention, a_hidden_key_gets_no_weight_and_a_fully_hidden_row_is_even)
{
    tg_tensor *q = tg_from_array(TG_SHAPE(2, 1), (float[]){ 1, 2 });
    tg_tensor *k = tg_from_array(TG_SHAPE(3, 1), (float[]){ 1, 5, -1 });
    tg_tensor *v = tg_from_array(TG_SHAPE(3, 1), (float[]){ 10, 20, 30 });
    tg_tensor *mask = tg_from_array(TG_SHAPE(2, 3), (float[]){ 0, 1, 0, 1, 1, 1 });
    tg_tensor *w;
    tg_tensor *y = tg_scaled_dot_product_attention(q, k, v, mask, &w);
    cr_assert_not_null(y, "%s", tg_error_message());
    float e = expf(1.0f), f = expf(-1.0f); /* query 0: scores 1 and -1 for keys 0 and 2 */
    tg_assert_values(w, ((float[]){ e / (e + f), 0, f / (e + f), 1.0f / 3, 1.0f / 3, 1.0f / 3 }), 6, 1e-6f);
    tg_assert_values(y, ((float[]){ (10 * e + 30 * f) / (e + f), 20 }), 2, 1e-4f);
    cr_assert_null(tg_scaled_dot_product_attention(q, tg_zeros(TG_SHAPE(3, 2)), v, NULL, NULL));
    tg_assert_error("scaled_dot_product_attention: query [2,1], key [3,2], value [3,1]");
    tg_error_clear();
}

/* ---- the multi-head attention layer ------------------------------------------------------ */

typedef struct mha_fixture {
    const char *name;
    tg_attention_config config;
    bool attn_mask;
} mha_fixture;

static void check_mha(const tg_safetensors *file, const mha_fixture *f)
{
    const char *c = f->name;
    tg_model *model = tg_model_new(1);
    tg_attention *att = tg_attention_new(model, "att", f->config);
    cr_assert_not_null(att, "%s", tg_error_message());
    for (int i = 0; i < tg_model_parameter_count(model); i++) {
        char name[128];
        snprintf(name, sizeof name, "param/%s", tg_model_parameter_name(model, i) + 4); /* less "att." */
        cr_assert_eq(tg_tensor_copy_(tg_model_parameter(model, i), get(file, c, name)), 0, "%s", tg_error_message());
    }
    tg_tensor *query = input(file, c, "query", true), *key = input(file, c, "key", true);
    tg_tensor *value = input(file, c, "value", true);
    /* the key padding mask as int64, as a file of lengths or ids would give it */
    tg_attention_masks masks = { .key_padding = tg_to_dtype(input(file, c, "key_padding", false), TG_INT64),
                                 .attn = f->attn_mask ? input(file, c, "attn", false) : NULL };
    tg_tensor *weights;
    tg_tensor *y = tg_attention_forward(att, query, key, value, &masks, &weights);
    assert_matches(y, file, c, "y");
    assert_matches(weights, file, c, "weights");
    backward_objective(y, file, c);
    assert_matches(tg_grad(query), file, c, "grad/query");
    assert_matches(tg_grad(key), file, c, "grad/key");
    assert_matches(tg_grad(value), file, c, "grad/value");
    for (int i = 0; i < tg_model_parameter_count(model); i++) {
        char name[128];
        snprintf(name, sizeof name, "grad/%s", tg_model_parameter_name(model, i) + 4);
        assert_matches(tg_grad(tg_model_parameter(model, i)), file, c, name);
    }
    tg_graph_reset();
    tg_model_free(model);
}

Test(attention, multi_head_attention_matches_pytorch)
{
    tg_safetensors *file = load_fixture();
    const mha_fixture cases[] = {
        { "mha_packed", { .embed = 8, .heads = 2 }, false },
        { "mha_kdim", { .embed = 6, .heads = 3, .key = 5, .value = 4, .batch_first = true }, true },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_mha(file, &cases[i]);
    tg_safetensors_free(file);
}

Test(attention, parameters_are_named_and_initialised_as_pytorch)
{
    tg_model *model = tg_model_new(7);
    tg_attention *att = tg_attention_new(model, "att", (tg_attention_config){ .embed = 16, .heads = 4 });
    cr_assert_not_null(att, "%s", tg_error_message());
    const char *names[] = { "att.in_proj_weight", "att.out_proj.weight", "att.in_proj_bias", "att.out_proj.bias" };
    cr_assert_eq(tg_model_parameter_count(model), 4);
    for (int i = 0; i < 4; i++)
        cr_assert_str_eq(tg_model_parameter_name(model, i), names[i]);
    tg_assert_shape(att->in_proj_weight, 48, 16);
    float in_bound = sqrtf(6.0f / 64.0f), out_bound = 0.25f, in_max = 0, out_max = 0;
    for (int64_t i = 0; i < att->in_proj_weight->numel; i++)
        in_max = fmaxf(in_max, fabsf(att->in_proj_weight->data[i]));
    for (int64_t i = 0; i < att->out_proj_weight->numel; i++)
        out_max = fmaxf(out_max, fabsf(att->out_proj_weight->data[i]));
    cr_assert(in_max <= in_bound && in_max > 0.8f * in_bound, "in_proj_weight max %g, bound %g", in_max, in_bound);
    cr_assert(out_max <= out_bound && out_max > 0.8f * out_bound, "out_proj.weight max %g", out_max);
    cr_assert_eq(tg_tensor_item(tg_sum_all(tg_abs(att->in_proj_bias))), 0.0f);
    cr_assert_null(tg_attention_new(model, "bad", (tg_attention_config){ .embed = 6, .heads = 4 }));
    tg_assert_error("attention_new: embed 6, heads 4, key 0, value 0: sizes must be positive and heads must divide embed");
    tg_error_clear();
    cr_assert_null(tg_attention_forward(att, tg_zeros(TG_SHAPE(3, 2, 16)), tg_zeros(TG_SHAPE(4, 2, 8)),
                                        tg_zeros(TG_SHAPE(4, 2, 16)), NULL, NULL));
    tg_assert_error("attention: query [3,2,16], key [4,2,8], value [4,2,16]: expected [Lq, N, E], [Lk, N, key], "
                    "[Lk, N, value] with 16, 16 and 16 features");
    tg_error_clear();
    tg_attention_masks masks = { .key_padding = tg_zeros(TG_SHAPE(2, 3)) };
    cr_assert_null(tg_attention_forward(att, tg_zeros(TG_SHAPE(3, 2, 16)), tg_zeros(TG_SHAPE(4, 2, 16)),
                                        tg_zeros(TG_SHAPE(4, 2, 16)), &masks, NULL));
    tg_assert_error("attention: key_padding mask [2,3]: expected [2, 4] (N, Lk)");
    tg_error_clear();
    tg_model_free(model);
}

/* ---- the conv1d layer ------------------------------------------------------------------------ */

Test(attention, conv1d_layer_registers_initialises_and_convolves)
{
    tg_model *model = tg_model_new(3);
    tg_conv1d_layer *conv = tg_conv1d_layer_new(model, "conv", (tg_conv1d_config){
        .input = 4, .output = 6, .kernel = 3, .padding = 1, .groups = 2 });
    cr_assert_not_null(conv, "%s", tg_error_message());
    cr_assert_str_eq(tg_model_parameter_name(model, 0), "conv.weight");
    cr_assert_str_eq(tg_model_parameter_name(model, 1), "conv.bias");
    tg_assert_shape(conv->weight, 6, 2, 3);
    float bound = 1.0f / sqrtf(6.0f), max = 0;
    for (int64_t i = 0; i < conv->weight->numel; i++)
        max = fmaxf(max, fabsf(conv->weight->data[i]));
    cr_assert(max <= bound && max > 0.5f * bound, "weight max %g, bound %g", max, bound);
    tg_rng rng = tg_rng_new(2);
    tg_tensor *x = tg_randn(TG_SHAPE(2, 4, 7), &rng);
    tg_tensor *y = tg_conv1d_layer_forward(conv, x);
    tg_tensor *expected = tg_conv1d(x, conv->weight, conv->bias, (tg_conv1d_options){ .padding = 1, .groups = 2 });
    tg_assert_shape(y, 2, 6, 7);
    float *e = values_of(expected);
    tg_assert_values(y, e, y->numel, 0.0f);
    free(e);
    cr_assert_eq(tg_backward(tg_sum_all(y)), 0, "%s", tg_error_message());
    cr_assert_not_null(tg_grad(conv->weight));
    cr_assert_null(tg_conv1d_layer_new(model, "bad", (tg_conv1d_config){ .input = 4, .output = 6, .kernel = 3, .groups = 4 }));
    tg_assert_error("conv1d_new: input 4, output 6, kernel 3, stride 0, padding 0, dilation 0, groups 4: sizes "
                    "must be positive, settings not negative, and groups must divide input and output");
    tg_error_clear();
    tg_model_free(model);
}
