/* Checkpoints of quantised models (layers/model_io.h): int8 weights as I8
 * tensors with "<name>.scale" beside them, loaded back exactly; float and
 * int8 files refused by the other kind of model, and bad values refused
 * before anything is loaded. */
#include "io/io_support.h"

#include <layers/model_io.h>
#include <layers/rnn.h>

TestSuite(quantized_io, .init = io_setup, .fini = io_teardown);

typedef struct net {
    tg_model *model;
    tg_lstm *lstm;
    tg_linear *head;
} net;

static net make_net(uint64_t seed, bool quantise)
{
    net n = { tg_model_new(seed), NULL, NULL };
    n.lstm = tg_lstm_new(n.model, "lstm", (tg_rnn_config){ .input = 6, .hidden = 8 });
    n.head = tg_linear_new(n.model, "head", (tg_linear_config){ .input = 8, .output = 3 });
    cr_assert(n.lstm && n.head, "%s", tg_error_message());
    if (quantise)
        cr_assert_eq(tg_quantize_dynamic(n.model), 0, "%s", tg_error_message());
    return n;
}

/* The net's logits for x, copied out. */
static void run(const net *n, tg_tensor *x, float *out)
{
    tg_no_grad_begin();
    tg_tensor *logits = tg_linear_forward(n->head, tg_lstm_forward(n->lstm, x, NULL).output);
    tg_no_grad_end();
    cr_assert_not_null(logits, "%s", tg_error_message());
    cr_assert_eq(tg_tensor_to_array(logits, out), 0);
    tg_graph_reset();
}

Test(quantized_io, a_quantised_model_loads_back_exactly)
{
    net a = make_net(1, true), b = make_net(2, true);
    const char *path = io_path("int8.safetensors");
    cr_assert_eq(tg_model_save(a.model, path), 0, "%s", tg_error_message());

    tg_safetensors *file = tg_safetensors_load(path);
    cr_assert_not_null(file, "%s", tg_error_message());
    cr_assert_eq(tg_safetensors_count(file), 3 + 3 * 2); /* 3 biases, 3 int8 weights x 2 */
    for (int i = 0; i < tg_safetensors_count(file); i++) {
        const char *name = tg_safetensors_name(file, i);
        tg_safetensors_dtype want = strstr(name, "weight") && !strstr(name, ".scale")
                                        ? TG_SAFETENSORS_I8 : TG_SAFETENSORS_F32;
        cr_assert_eq(tg_safetensors_stored_as(file, i), want, "%s", name);
    }
    const tg_tensor *scale = tg_safetensors_get(file, "lstm.weight_hh_l0.scale");
    cr_assert_not_null(scale);
    cr_assert_eq(scale->shape[0], 32);
    tg_safetensors_free(file);

    tg_load_report report;
    cr_assert_eq(tg_model_load(b.model, path, TG_LOAD_STRICT, &report), 0, "%s", tg_error_message());
    cr_assert_eq(report.loaded, 3 + 3);
    for (int i = 0; i < tg_model_quantized_count(a.model); i++) {
        const tg_qweight *qa = tg_model_quantized(a.model, i), *qb = tg_model_quantized(b.model, i);
        cr_assert_arr_eq(qa->values, qb->values, (size_t)(qa->rows * qa->cols));
        cr_assert_arr_eq(qa->scale, qb->scale, sizeof(float) * (size_t)qa->rows);
    }
    tg_rng rng = tg_rng_new(3);
    tg_tensor *x = tg_tensor_randn(TG_SHAPE(5, 2, 6), &rng);
    float ya[5 * 2 * 3], yb[5 * 2 * 3];
    run(&a, x, ya);
    run(&b, x, yb);
    cr_assert_arr_eq(ya, yb, sizeof ya);
    tg_tensor_free(x);
    tg_model_free(a.model);
    tg_model_free(b.model);
}

Test(quantized_io, float_and_int8_files_are_refused_by_the_other_kind_of_model)
{
    net fp = make_net(1, false), q = make_net(1, true), target_fp = make_net(2, false);
    const char *float_path = io_path("float.safetensors"), *int8_path = io_path("int8.safetensors");
    cr_assert_eq(tg_model_save(fp.model, float_path), 0, "%s", tg_error_message());
    cr_assert_eq(tg_model_save(q.model, int8_path), 0, "%s", tg_error_message());

    float before[3];
    memcpy(before, tg_model_find(target_fp.model, "head.bias")->data, sizeof before);
    cr_assert_eq(tg_model_load(target_fp.model, int8_path, TG_LOAD_STRICT, NULL), -1);
    cr_assert(strstr(tg_error_message(),
                     "mismatched: lstm.weight_ih_l0 int64 [32,6] in the file, float32 [32,6] in "
                     "the model (int8 weights: quantise the model before loading)"),
              "%s", tg_error_message());
    cr_assert(strstr(tg_error_message(), "unexpected: lstm.weight_ih_l0.scale"), "%s",
              tg_error_message());
    cr_assert_arr_eq(tg_model_find(target_fp.model, "head.bias")->data, before, sizeof before);
    tg_error_clear();

    cr_assert_eq(tg_model_load(q.model, float_path, TG_LOAD_STRICT, NULL), -1);
    cr_assert(strstr(tg_error_message(),
                     "mismatched: lstm.weight_ih_l0 float32 [32,6] in the file, int8 [32,6] in "
                     "the model (float weights: load them before quantising)"),
              "%s", tg_error_message());
    tg_error_clear();

    /* Relaxed: the biases load, the weights are counted as mismatched. */
    tg_load_report report;
    cr_assert_eq(tg_model_load(q.model, float_path, TG_LOAD_RELAXED, &report), 0, "%s",
                 tg_error_message());
    cr_assert_eq(report.loaded, 3);
    cr_assert_eq(report.mismatched, 3);
    cr_assert_eq(report.missing, 0);

    /* The documented order: load the float weights, then quantise. */
    cr_assert_eq(tg_model_load(target_fp.model, float_path, TG_LOAD_STRICT, NULL), 0, "%s",
                 tg_error_message());
    cr_assert_eq(tg_quantize_dynamic(target_fp.model), 0, "%s", tg_error_message());
    const tg_qweight *qa = tg_model_find_quantized(q.model, "head.weight");
    const tg_qweight *qb = tg_model_find_quantized(target_fp.model, "head.weight");
    cr_assert_arr_eq(qa->values, qb->values, 3 * 8);
    tg_model_free(fp.model);
    tg_model_free(q.model);
    tg_model_free(target_fp.model);
}

Test(quantized_io, bad_int8_values_or_scales_load_nothing)
{
    net q = make_net(1, true), target = make_net(2, true);
    const char *path = io_path("int8.safetensors");
    cr_assert_eq(tg_model_save(q.model, path), 0, "%s", tg_error_message());
    tg_safetensors *file = tg_safetensors_load(path);
    cr_assert_not_null(file, "%s", tg_error_message());
    int n = tg_safetensors_count(file);
    tg_named_tensor named[16];
    tg_safetensors_dtype as[16];
    for (int i = 0; i < n; i++) {
        named[i] = (tg_named_tensor){ tg_safetensors_name(file, i), tg_safetensors_tensor(file, i) };
        as[i] = tg_safetensors_stored_as(file, i);
    }
    const char *bad_path = io_path("bad.safetensors");
    tg_tensor *scale = tg_safetensors_get(file, "head.weight.scale");
    scale->data[1] = -0.5f;
    cr_assert_eq(tg_safetensors_save_as(bad_path, named, as, n, NULL, 0), 0, "%s", tg_error_message());
    const tg_qweight *head = tg_model_find_quantized(target.model, "head.weight");
    float scales_before[3];
    memcpy(scales_before, head->scale, sizeof scales_before);
    cr_assert_eq(tg_model_load(target.model, bad_path, TG_LOAD_STRICT, NULL), -1);
    char expected[1024];
    snprintf(expected, sizeof expected, "model_load: %s: int8 weight \"head.weight\": "
             "scale -0.5 of row 1: scales must be finite and not negative", bad_path);
    cr_assert_str_eq(tg_error_message(), expected);
    cr_assert_arr_eq(head->scale, scales_before, sizeof scales_before);
    tg_error_clear();

    /* values beyond int8 (an I16-like file stored as I64) */
    scale->data[1] = 0.5f;
    tg_tensor *values = tg_safetensors_get(file, "lstm.weight_hh_l0");
    values->i64[5] = 300;
    for (int i = 0; i < n; i++)
        if (as[i] == TG_SAFETENSORS_I8)
            as[i] = TG_SAFETENSORS_I64;
    cr_assert_eq(tg_safetensors_save_as(bad_path, named, as, n, NULL, 0), 0, "%s", tg_error_message());
    cr_assert_eq(tg_model_load(target.model, bad_path, TG_LOAD_STRICT, NULL), -1);
    snprintf(expected, sizeof expected, "model_load: %s: int8 weight \"lstm.weight_hh_l0\": value "
             "300 at [0,5] is outside int8's range", bad_path);
    cr_assert_str_eq(tg_error_message(), expected);
    cr_assert_arr_eq(head->scale, scales_before, sizeof scales_before);
    tg_safetensors_free(file);
    tg_model_free(q.model);
    tg_model_free(target.model);
}
