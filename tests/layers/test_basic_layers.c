/* Linear, Embedding, LayerNorm and Dropout: values by hand, gradients
 * against finite differences, initialisation, errors. */
#include "layer_check.h"

TestSuite(basic_layers, .init = tg_test_setup, .fini = tg_test_teardown);

/* The model's only layer's forward on in[0]; parameters are in[1...]. */
typedef struct layer_case {
    tg_tensor *(*forward)(const void *layer, tg_tensor *x);
    const void *layer;
    tg_model *model;
    bool reseed; /* dropout: the same mask on every call */
} layer_case;

static tg_tensor *layer_objective(tg_tensor *const *in, void *user)
{
    layer_case *c = user;
    if (c->reseed)
        tg_rng_seed(tg_model_rng(c->model), 17);
    return c->forward(c->layer, in[0]);
}

static void check_layer_gradients(layer_case *c, tg_tensor *x)
{
    tg_tensor *inputs[8];
    int n = with_parameters(inputs, &x, 1, c->model);
    check_gradients(layer_objective, c, inputs, n);
}

/* ---- Linear ------------------------------------------------------------------------------- */

static tg_tensor *linear_forward(const void *layer, tg_tensor *x) { return tg_linear_forward(layer, x); }

Test(basic_layers, linear_computes_x_w_transposed_plus_b)
{
    tg_model *model = tg_model_new(1);
    tg_linear *linear = tg_linear_new(model, "fc", (tg_linear_config){ .input = 3, .output = 2 });
    cr_assert_not_null(linear, "%s", tg_error_message());
    cr_assert_eq(tg_model_find(model, "fc.weight"), linear->weight);
    cr_assert_eq(tg_model_find(model, "fc.bias"), linear->bias);
    tg_tensor_copy_(linear->weight, tg_from_array(TG_SHAPE(2, 3), (float[]){ 1, 2, 3, -1, 0, 2 }));
    tg_tensor_copy_(linear->bias, tg_from_array(TG_SHAPE(2), (float[]){ 0.5f, -1 }));
    tg_tensor *x = tg_from_array(TG_SHAPE(2, 1, 3), (float[]){ 1, 1, 1, 2, 0, -1 });
    tg_tensor *y = tg_linear_forward(linear, x);
    tg_assert_shape(y, 2, 1, 2);
    /* [1,1,1]: 1+2+3+0.5, -1+0+2-1;  [2,0,-1]: 2-3+0.5, -2-2-1 */
    tg_assert_values(y, ((float[]){ 6.5f, 0, -0.5f, -5 }), 4, 1e-6);
    tg_model_free(model);
}

Test(basic_layers, linear_gradients_with_and_without_bias)
{
    tg_rng rng = tg_rng_new(3);
    for (int no_bias = 0; no_bias <= 1; no_bias++) {
        tg_model *model = tg_model_new(2);
        tg_linear *linear = tg_linear_new(model, "fc", (tg_linear_config){ .input = 4, .output = 3,
                                                                           .no_bias = no_bias });
        cr_assert_eq(tg_model_parameter_count(model), no_bias ? 1 : 2);
        tg_tensor *x = random_input(TG_SHAPE(2, 3, 4), &rng);
        layer_case c = { linear_forward, linear, model, false };
        check_layer_gradients(&c, x);
        tg_tensor_free(x);
        tg_model_free(model);
    }
}

Test(basic_layers, linear_initialisation_is_uniform_within_one_over_root_input)
{
    tg_model *model = tg_model_new(5);
    tg_linear *linear = tg_linear_new(model, "fc", (tg_linear_config){ .input = 64, .output = 100 });
    double bound = 1.0 / 8.0, squares = 0;
    for (int64_t i = 0; i < linear->weight->numel; i++) {
        cr_assert(fabs(linear->weight->data[i]) <= bound);
        squares += (double)linear->weight->data[i] * linear->weight->data[i];
    }
    cr_assert_float_eq(squares / (double)linear->weight->numel, bound * bound / 3.0, 0.0005);
    bool nonzero = false;
    for (int i = 0; i < 100; i++) {
        cr_assert(fabs(linear->bias->data[i]) <= bound);
        nonzero |= linear->bias->data[i] != 0.0f;
    }
    cr_assert(nonzero);
    tg_model_free(model);
}

Test(basic_layers, linear_errors)
{
    tg_model *model = tg_model_new(1);
    cr_assert_null(tg_linear_new(model, "fc", (tg_linear_config){ .input = 3 }));
    tg_assert_error("linear_new: input 3 and output 0");
    tg_error_clear();
    tg_linear *linear = tg_linear_new(model, "fc", (tg_linear_config){ .input = 3, .output = 2 });
    cr_assert_null(tg_linear_new(model, "fc", (tg_linear_config){ .input = 3, .output = 2 }));
    tg_assert_error("\"fc.weight\" already exists");
    tg_error_clear();
    cr_assert_eq(tg_model_parameter_count(model), 2);
    cr_assert_null(tg_linear_forward(linear, tg_zeros(TG_SHAPE(4, 2))));
    tg_assert_error("linear: input [4,2]: the last dimension must be 3");
    tg_error_clear();
    cr_assert_null(tg_linear_forward(linear, NULL));
    tg_assert_error("linear_forward: an input is NULL");
    tg_model_free(model);
}

/* ---- Embedding -------------------------------------------------------------------------------- */

static tg_tensor *embedding_forward(const void *layer, tg_tensor *x) { return tg_embedding_forward(layer, x); }

Test(basic_layers, embedding_looks_up_rows_and_zeroes_padding)
{
    tg_model *model = tg_model_new(1);
    tg_embedding *emb = tg_embedding_new(model, "emb", (tg_embedding_config){
        .count = 4, .dim = 2, .use_padding_idx = true, .padding_idx = -4 });
    cr_assert_not_null(emb, "%s", tg_error_message());
    cr_assert_eq(emb->config.padding_idx, 0);
    cr_assert_eq(emb->weight->data[0], 0.0f);
    cr_assert_eq(emb->weight->data[1], 0.0f);
    const float *w = emb->weight->data;
    tg_tensor *idx = tg_from_array(TG_SHAPE(2, 3), (float[]){ 3, 0, 1, 1, 2, 0 });
    tg_tensor *y = tg_embedding_forward(emb, idx);
    tg_assert_shape(y, 2, 3, 2);
    float expected[12] = { w[6], w[7], 0, 0, w[2], w[3], w[2], w[3], w[4], w[5], 0, 0 };
    tg_assert_values(y, expected, 12, 0);
    /* Row 1 is read twice: its gradient is the sum; the padding row gets none. */
    tg_tensor *g = tg_from_array(TG_SHAPE(2, 3, 2), (float[]){ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 });
    cr_assert_eq(tg_backward_with_grad(y, g), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(emb->weight), ((float[]){ 0, 0, 12, 14, 9, 10, 1, 2 }), 8, 1e-6);
    tg_model_free(model);
}

Test(basic_layers, embedding_takes_int64_ids)
{
    tg_model *model = tg_model_new(1);
    tg_embedding *emb = tg_embedding_new(model, "emb", (tg_embedding_config){
        .count = 4, .dim = 2, .use_padding_idx = true, .padding_idx = 0 });
    cr_assert_not_null(emb, "%s", tg_error_message());
    const float *w = emb->weight->data;
    /* [[3, 0, 1], [1, 2, 0]] stored transposed: a strided id tensor */
    tg_tensor *ids = tg_transpose(tg_from_int64(TG_SHAPE(3, 2), (int64_t[]){ 3, 1, 0, 2, 1, 0 }), 0, 1);
    tg_tensor *y = tg_embedding_forward(emb, ids);
    cr_assert_not_null(y, "%s", tg_error_message());
    tg_assert_shape(y, 2, 3, 2);
    float expected[12] = { w[6], w[7], 0, 0, w[2], w[3], w[2], w[3], w[4], w[5], 0, 0 };
    tg_assert_values(y, expected, 12, 0);
    tg_tensor *g = tg_from_array(TG_SHAPE(2, 3, 2), (float[]){ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 });
    cr_assert_eq(tg_backward_with_grad(y, g), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(emb->weight), ((float[]){ 0, 0, 12, 14, 9, 10, 1, 2 }), 8, 1e-6);
    cr_assert_null(tg_embedding_forward(emb, tg_from_int64(TG_SHAPE(2), (int64_t[]){ 1, 4 })));
    tg_assert_error("embedding: index 4 at position 1 of index tensor [2] is out of range [0, 4)");
    tg_model_free(model);
}

Test(basic_layers, embedding_gradients)
{
    tg_model *model = tg_model_new(2);
    tg_embedding *emb = tg_embedding_new(model, "emb", (tg_embedding_config){
        .count = 5, .dim = 3, .use_padding_idx = true, .padding_idx = 2 });
    tg_tensor *idx = tg_tensor_from_array(TG_SHAPE(4), (float[]){ 4, 2, 0, 4 });
    layer_case c = { embedding_forward, emb, model, false };
    check_layer_gradients(&c, idx);
    tg_tensor_free(idx);
    tg_model_free(model);
}

Test(basic_layers, embedding_initialisation_is_standard_normal)
{
    tg_model *model = tg_model_new(9);
    tg_embedding *emb = tg_embedding_new(model, "emb", (tg_embedding_config){ .count = 200, .dim = 50 });
    double sum = 0, squares = 0;
    for (int64_t i = 0; i < emb->weight->numel; i++) {
        sum += emb->weight->data[i];
        squares += (double)emb->weight->data[i] * emb->weight->data[i];
    }
    cr_assert_lt(fabs(sum / 10000.0), 0.05);
    cr_assert_float_eq(squares / 10000.0, 1.0, 0.05);
    tg_model_free(model);
}

Test(basic_layers, embedding_errors)
{
    tg_model *model = tg_model_new(1);
    cr_assert_null(tg_embedding_new(model, "e", (tg_embedding_config){ .count = 3, .dim = 2,
                                                                       .use_padding_idx = true,
                                                                       .padding_idx = 3 }));
    tg_assert_error("padding_idx 3 is outside [-3, 3)");
    tg_error_clear();
    tg_embedding *emb = tg_embedding_new(model, "e", (tg_embedding_config){ .count = 3, .dim = 2 });
    cr_assert_null(tg_embedding_forward(emb, tg_from_array(TG_SHAPE(2), (float[]){ 1, 3 })));
    tg_assert_error("embedding");
    tg_error_clear();
    cr_assert_null(tg_embedding_forward(emb, tg_from_array(TG_SHAPE(1), (float[]){ 0.5f })));
    tg_assert_error("embedding");
    tg_model_free(model);
}

/* ---- LayerNorm ------------------------------------------------------------------------------------ */

static tg_tensor *layernorm_forward(const void *layer, tg_tensor *x) { return tg_layernorm_forward(layer, x); }

Test(basic_layers, layernorm_normalises_the_last_axis)
{
    tg_model *model = tg_model_new(1);
    tg_layernorm *norm = tg_layernorm_new(model, "ln", (tg_layernorm_config){ .dim = 4 });
    cr_assert_not_null(norm, "%s", tg_error_message());
    tg_assert_values(norm->weight, ((float[]){ 1, 1, 1, 1 }), 4, 0);
    tg_assert_values(norm->bias, ((float[]){ 0, 0, 0, 0 }), 4, 0);
    tg_tensor_copy_(norm->weight, tg_from_array(TG_SHAPE(4), (float[]){ 1, 2, 1, 1 }));
    tg_tensor_copy_(norm->bias, tg_from_array(TG_SHAPE(4), (float[]){ 0, 0, 0, 1 }));
    /* [1,2,3,4]: mean 2.5, variance 1.25; [2,2,2,2]: variance 0, output the bias. */
    tg_tensor *y = tg_layernorm_forward(norm, tg_from_array(TG_SHAPE(2, 4), (float[]){ 1, 2, 3, 4, 2, 2, 2, 2 }));
    float s = 1.0f / sqrtf(1.25f + 1e-5f);
    tg_assert_values(y, ((float[]){ -1.5f * s, -1.0f * s, 0.5f * s, 1.5f * s + 1, 0, 0, 0, 1 }), 8, 1e-5);
    tg_model_free(model);
}

Test(basic_layers, layernorm_gradients)
{
    tg_rng rng = tg_rng_new(4);
    for (int no_affine = 0; no_affine <= 1; no_affine++) {
        tg_model *model = tg_model_new(2);
        tg_layernorm *norm = tg_layernorm_new(model, "ln", (tg_layernorm_config){
            .dim = 5, .no_affine = no_affine, .eps = 1e-3f });
        cr_assert_eq(tg_model_parameter_count(model), no_affine ? 0 : 2);
        if (!no_affine) { /* away from ones and zeros, so every term shows */
            tg_tensor_uniform_(norm->weight, 0.5f, 1.5f, &rng);
            tg_tensor_uniform_(norm->bias, -0.5f, 0.5f, &rng);
        }
        tg_tensor *x = random_input(TG_SHAPE(3, 5), &rng);
        layer_case c = { layernorm_forward, norm, model, false };
        check_layer_gradients(&c, x);
        tg_tensor_free(x);
        tg_model_free(model);
    }
}

Test(basic_layers, layernorm_errors)
{
    tg_model *model = tg_model_new(1);
    cr_assert_null(tg_layernorm_new(model, "ln", (tg_layernorm_config){ .dim = 0 }));
    tg_assert_error("layernorm_new");
    tg_error_clear();
    tg_layernorm *norm = tg_layernorm_new(model, "ln", (tg_layernorm_config){ .dim = 3 });
    cr_assert_float_eq(norm->config.eps, 1e-5f, 1e-12);
    cr_assert_null(tg_layernorm_forward(norm, tg_zeros(TG_SHAPE(3, 4))));
    tg_assert_error("layernorm: input [3,4]: the last dimension must be 3");
    tg_model_free(model);
}

/* ---- Dropout ---------------------------------------------------------------------------------------- */

typedef struct dropout_layer {
    tg_model *model;
    float p;
} dropout_layer;

static tg_tensor *dropout_forward(const void *layer, tg_tensor *x)
{
    const dropout_layer *d = layer;
    return tg_dropout(d->model, x, d->p);
}

Test(basic_layers, dropout_zeroes_a_fraction_p_and_scales_the_rest)
{
    tg_model *model = tg_model_new(7);
    tg_tensor *x = tg_full(TG_SHAPE(100, 100), 2.0f);
    tg_tensor *y = tg_dropout(model, x, 0.3f);
    float *v = values_of(y);
    int zeros = 0;
    for (int i = 0; i < 10000; i++) {
        if (v[i] == 0.0f)
            zeros++;
        else
            cr_assert_float_eq(v[i], 2.0f / 0.7f, 1e-6);
    }
    cr_assert(zeros > 2800 && zeros < 3200, "%d zeros", zeros);
    free(v);
    tg_model_set_training(model, false);
    cr_assert_eq(tg_dropout(model, x, 0.3f), x);
    tg_model_set_training(model, true);
    cr_assert_eq(tg_dropout(model, x, 0.0f), x);
    tg_assert_values(tg_dropout(model, x, 1.0f), (float[10000]){ 0 }, 10000, 0);
    tg_model_free(model);
}

Test(basic_layers, dropout_masks_repeat_with_the_seed)
{
    tg_model *a = tg_model_new(3), *b = tg_model_new(3);
    tg_tensor *x = tg_ones(TG_SHAPE(64));
    float *first = values_of(tg_dropout(a, x, 0.5f));
    tg_assert_values(tg_dropout(b, x, 0.5f), first, 64, 0);
    float *second = values_of(tg_dropout(a, x, 0.5f));
    cr_assert_neq(memcmp(first, second, sizeof(float) * 64), 0, "the mask did not change");
    free(first);
    free(second);
    tg_model_free(a);
    tg_model_free(b);
}

Test(basic_layers, dropout_gradients_in_training_and_eval_mode)
{
    tg_rng rng = tg_rng_new(2);
    for (int training = 0; training <= 1; training++) {
        tg_model *model = tg_model_new(2);
        tg_model_set_training(model, training);
        dropout_layer d = { model, 0.4f };
        tg_tensor *x = random_input(TG_SHAPE(4, 6), &rng);
        layer_case c = { dropout_forward, &d, model, true };
        check_layer_gradients(&c, x);
        /* The gradient is the mask's scale where kept, 0 where dropped: y = x * dy/dx. */
        tg_zero_grad(x);
        tg_rng_seed(tg_model_rng(model), 17);
        tg_tensor *out = tg_dropout(model, x, 0.4f);
        cr_assert_eq(tg_backward_with_grad(out, tg_ones(TG_SHAPE(4, 6))), 0, "%s", tg_error_message());
        float *y = values_of(out), *g = values_of(tg_grad(x)), *xv = values_of(x);
        for (int i = 0; i < 24; i++) {
            cr_assert_float_eq(y[i], xv[i] * g[i], 1e-6);
            cr_assert(g[i] == 0.0f || fabsf(g[i] - (training ? 1.0f / 0.6f : 1.0f)) < 1e-6f);
        }
        free(y);
        free(g);
        free(xv);
        tg_tensor_free(x);
        tg_model_free(model);
    }
}

Test(basic_layers, dropout_errors)
{
    tg_model *model = tg_model_new(1);
    cr_assert_null(tg_dropout(model, tg_ones(TG_SHAPE(2)), 1.5f));
    tg_assert_error("dropout: probability 1.5 is outside [0, 1]");
    tg_model_free(model);
}
