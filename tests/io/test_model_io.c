/* Model checkpoints: round trips, PyTorch-written files, strict and relaxed
 * loading, extra tensors, and bad files leaving the model unchanged. */
#include "io/io_support.h"

#include <layers/model_io.h>
#include <layers/rnn.h>

TestSuite(model_io, .init = io_setup, .fini = io_teardown);

/* The network of tests/fixtures/io/make_pytorch_checkpoint.py, in
 * state_dict order: LSTM(3, 4, num_layers=2) "lstm", Linear(4, 2) "head". */
static const struct {
    const char *name;
    tg_shape shape;
} lstm_linear[] = {
    { "lstm.weight_ih_l0", TG_SHAPE(16, 3) }, { "lstm.weight_hh_l0", TG_SHAPE(16, 4) },
    { "lstm.bias_ih_l0", TG_SHAPE(16) },      { "lstm.bias_hh_l0", TG_SHAPE(16) },
    { "lstm.weight_ih_l1", TG_SHAPE(16, 4) }, { "lstm.weight_hh_l1", TG_SHAPE(16, 4) },
    { "lstm.bias_ih_l1", TG_SHAPE(16) },      { "lstm.bias_hh_l1", TG_SHAPE(16) },
    { "head.weight", TG_SHAPE(2, 4) },        { "head.bias", TG_SHAPE(2) },
};
#define N_LSTM_LINEAR 10
#define LSTM_LINEAR_NUMEL 314

static tg_model *new_lstm_linear(void)
{
    tg_model *model = tg_model_new(1);
    for (int k = 0; k < N_LSTM_LINEAR; k++)
        cr_assert_not_null(tg_model_add_parameter(model, lstm_linear[k].name, lstm_linear[k].shape),
                           "%s", tg_error_message());
    return model;
}

/* A small model with distinct values: "a" [2, 3] and "b" [3]. */
static tg_model *new_small(float start)
{
    tg_model *model = tg_model_new(1);
    tg_tensor *a = tg_model_add_parameter(model, "a", TG_SHAPE(2, 3));
    tg_tensor *b = tg_model_add_parameter(model, "b", TG_SHAPE(3));
    for (int i = 0; i < 6; i++)
        a->data[i] = start + (float)i;
    for (int i = 0; i < 3; i++)
        b->data[i] = -start - (float)i;
    return model;
}

/* Every parameter value of model, in order, into out (at most max floats). */
static int snapshot(const tg_model *model, float *out, int max)
{
    int n = 0;
    for (int i = 0; i < tg_model_parameter_count(model); i++) {
        const tg_tensor *p = tg_model_parameter(model, i);
        cr_assert_leq(n + p->numel, max);
        memcpy(out + n, p->data, (size_t)p->numel * sizeof(float));
        n += (int)p->numel;
    }
    return n;
}

static void assert_unchanged(const tg_model *model, const float *before, int n)
{
    float now[LSTM_LINEAR_NUMEL];
    cr_assert_eq(snapshot(model, now, LSTM_LINEAR_NUMEL), n);
    cr_assert_eq(memcmp(now, before, (size_t)n * sizeof(float)), 0, "the model changed");
}

/* Raw little-endian float32 values of a committed .bin file. */
static float *read_floats(const char *path, size_t expected_count)
{
    size_t n;
    unsigned char *bytes = read_existing_file(path, &n);
    cr_assert_eq(n, expected_count * 4, "%s has %zu bytes", path, n);
    return (float *)bytes; /* the test machine is little-endian, as the file */
}

static void save_tensors(const char *path, const tg_named_tensor *tensors, int n)
{
    cr_assert_eq(tg_safetensors_save(path, tensors, n, NULL, 0), 0, "%s", tg_error_message());
}

Test(model_io, a_saved_model_loads_back_bit_identically)
{
    tg_model *model = new_lstm_linear();
    tg_rng rng;
    tg_rng_seed(&rng, 7);
    for (int k = 0; k < N_LSTM_LINEAR; k++)
        tg_tensor_normal_(tg_model_parameter(model, k), 0.0f, 1.0f, &rng);
    const char *path = io_path("model.safetensors");
    cr_assert_eq(tg_model_save(model, path), 0, "%s", tg_error_message());

    tg_model *fresh = new_lstm_linear();
    tg_load_report report;
    cr_assert_eq(tg_model_load(fresh, path, TG_LOAD_STRICT, &report), 0, "%s", tg_error_message());
    cr_assert_eq(report.loaded, N_LSTM_LINEAR);
    cr_assert_eq(report.missing + report.unexpected + report.mismatched, 0);
    cr_assert_str_eq(report.details, "");
    float a[LSTM_LINEAR_NUMEL], b[LSTM_LINEAR_NUMEL];
    cr_assert_eq(snapshot(model, a, LSTM_LINEAR_NUMEL), LSTM_LINEAR_NUMEL);
    snapshot(fresh, b, LSTM_LINEAR_NUMEL);
    cr_assert_eq(memcmp(a, b, sizeof a), 0);
    tg_model_free(model);
    tg_model_free(fresh);
}

Test(model_io, a_pytorch_state_dict_loads_into_the_matching_model)
{
    tg_model *model = new_lstm_linear();
    tg_load_report report;
    cr_assert_eq(tg_model_load(model, io_fixture("pytorch_lstm_linear.safetensors"), TG_LOAD_STRICT,
                               &report), 0, "%s", tg_error_message());
    cr_assert_eq(report.loaded, N_LSTM_LINEAR);
    float *expected = read_floats(io_fixture("pytorch_lstm_linear_expected.bin"), LSTM_LINEAR_NUMEL);
    float got[LSTM_LINEAR_NUMEL];
    snapshot(model, got, LSTM_LINEAR_NUMEL);
    for (int i = 0; i < LSTM_LINEAR_NUMEL; i++)
        cr_assert_eq(got[i], expected[i], "value %d: %.9g, PyTorch has %.9g", i, got[i], expected[i]);
    /* The file's own metadata, as PyTorch users write it. */
    tg_safetensors *file = tg_safetensors_load(io_fixture("pytorch_lstm_linear.safetensors"));
    cr_assert_str_eq(tg_safetensors_metadata(file, "format"), "pt");
    tg_safetensors_free(file);
    free(expected);
    tg_model_free(model);
}

/* The same file in the real layers: names and shapes match strictly, and
 * the weights compute what they compute in torch. */
Test(model_io, pytorch_weights_in_tapegrad_layers_give_pytorch_outputs)
{
    tg_model *model = tg_model_new(1);
    tg_lstm *lstm = tg_lstm_new(model, "lstm", (tg_rnn_config){ .input = 3, .hidden = 4, .layers = 2 });
    tg_linear *head = tg_linear_new(model, "head", (tg_linear_config){ .input = 4, .output = 2 });
    cr_assert(lstm && head, "%s", tg_error_message());
    cr_assert_eq(tg_model_load(model, io_fixture("pytorch_lstm_linear.safetensors"), TG_LOAD_STRICT,
                               NULL), 0, "%s", tg_error_message());
    tg_safetensors *io = tg_safetensors_load(io_fixture("pytorch_lstm_linear_io.safetensors"));
    cr_assert_not_null(io, "%s", tg_error_message());
    tg_tensor *x = tg_copy_to_graph(tg_safetensors_get(io, "x"));
    tg_tensor *y = tg_linear_forward(head, tg_lstm_forward(lstm, x, NULL).output);
    tg_assert_shape(y, 5, 2, 2);
    tg_assert_values(y, tg_safetensors_get(io, "y")->data, 20, 1e-5);
    tg_safetensors_free(io);
    tg_model_free(model);
}

Test(model_io, pytorch_f64_f16_and_bf16_convert_as_torch_converts_them)
{
    tg_safetensors *file = tg_safetensors_load(io_fixture("pytorch_dtypes.safetensors"));
    cr_assert_not_null(file, "%s", tg_error_message());
    float *expected = read_floats(io_fixture("pytorch_dtypes_expected.bin"), 45);
    const char *names[] = { "f64", "f16", "bf16" };
    for (int k = 0; k < 3; k++) {
        const tg_tensor *t = tg_safetensors_get(file, names[k]);
        tg_assert_shape(t, 3, 5);
        for (int i = 0; i < 15; i++)
            cr_assert_eq(t->data[i], expected[15 * k + i], "%s[%d]: %.9g, torch gives %.9g",
                         names[k], i, t->data[i], expected[15 * k + i]);
    }
    free(expected);
    tg_safetensors_free(file);
}

/* Writes tapegrad_lstm_linear.safetensors in the current directory (ctest
 * runs this in build/<dir>/tests) for tests/fixtures/io/check_in_pytorch.py,
 * which loads it into torch. Values: ((37 i + 11 k) mod 101 - 50) / 64. */
Test(model_io, a_checkpoint_written_here_is_ready_for_pytorch)
{
    tg_model *model = new_lstm_linear();
    for (int k = 0; k < N_LSTM_LINEAR; k++) {
        tg_tensor *p = tg_model_parameter(model, k);
        for (int64_t i = 0; i < p->numel; i++)
            p->data[i] = (float)((37 * i + 11 * k) % 101 - 50) / 64.0f;
    }
    tg_string_pair meta[] = { { "written_by", "tapegrad" } };
    const char *path = "tapegrad_lstm_linear.safetensors";
    cr_assert_eq(tg_model_save_with(model, path, NULL, 0, meta, 1), 0, "%s", tg_error_message());
    tg_safetensors *file = tg_safetensors_load(path);
    cr_assert_not_null(file, "%s", tg_error_message());
    cr_assert_eq(tg_safetensors_count(file), N_LSTM_LINEAR);
    const tg_tensor *w = tg_safetensors_get(file, "lstm.weight_hh_l1"); /* k = 5 */
    tg_assert_shape(w, 16, 4);
    cr_assert_eq(w->data[0], (55 % 101 - 50) / 64.0f);
    cr_assert_eq(w->data[63], ((37 * 63 + 55) % 101 - 50) / 64.0f);
    tg_safetensors_free(file);
    tg_model_free(model);
}

Test(model_io, strict_loading_lists_missing_names_and_changes_nothing)
{
    tg_model *model = new_small(1.0f);
    tg_tensor *a = tg_tensor_full(TG_SHAPE(2, 3), 9.0f);
    save_tensors(io_path("part.safetensors"), (tg_named_tensor[]){ { "a", a } }, 1);
    tg_model_add_parameter(model, "c", TG_SHAPE(1));
    float before[16];
    int n = snapshot(model, before, 16);
    tg_load_report report;
    cr_assert_eq(tg_model_load(model, io_path("part.safetensors"), TG_LOAD_STRICT, &report), -1);
    tg_assert_error("model_load: ");
    tg_assert_error("part.safetensors: the checkpoint does not match the model: missing: b, c");
    cr_assert_eq(report.loaded, 0);
    cr_assert_eq(report.missing, 2);
    assert_unchanged(model, before, n);
    tg_tensor_free(a);
    tg_model_free(model);
}

Test(model_io, strict_loading_lists_unexpected_names_and_changes_nothing)
{
    tg_model *model = new_small(1.0f);
    tg_tensor *a = tg_tensor_full(TG_SHAPE(2, 3), 9.0f), *b = tg_tensor_full(TG_SHAPE(3), 8.0f);
    save_tensors(io_path("more.safetensors"),
                 (tg_named_tensor[]){ { "a", a }, { "b", b }, { "fc.weight", a }, { "fc.bias", b } },
                 4);
    float before[16];
    int n = snapshot(model, before, 16);
    cr_assert_eq(tg_model_load(model, io_path("more.safetensors"), TG_LOAD_STRICT, NULL), -1);
    tg_assert_error("does not match the model: unexpected: fc.weight, fc.bias");
    assert_unchanged(model, before, n);
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_model_free(model);
}

Test(model_io, a_wrong_shape_for_the_model_is_refused_with_both_shapes)
{
    tg_model *model = new_small(1.0f);
    tg_tensor *a = tg_tensor_full(TG_SHAPE(3, 2), 9.0f), *b = tg_tensor_full(TG_SHAPE(3), 8.0f);
    save_tensors(io_path("shape.safetensors"), (tg_named_tensor[]){ { "a", a }, { "b", b } }, 2);
    float before[16];
    int n = snapshot(model, before, 16);
    tg_load_report report;
    cr_assert_eq(tg_model_load(model, io_path("shape.safetensors"), TG_LOAD_STRICT, &report), -1);
    tg_assert_error("mismatched: a [3,2] in the file, [2,3] in the model");
    cr_assert_eq(report.mismatched, 1);
    assert_unchanged(model, before, n);
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_model_free(model);
}

Test(model_io, relaxed_loading_loads_what_matches_and_reports_the_rest)
{
    tg_model *model = new_small(1.0f);
    tg_model_add_parameter(model, "c", TG_SHAPE(2));
    tg_tensor *a = tg_tensor_full(TG_SHAPE(2, 3), 9.0f), *c = tg_tensor_full(TG_SHAPE(5), 4.0f);
    save_tensors(io_path("mixed.safetensors"),
                 (tg_named_tensor[]){ { "a", a }, { "c", c }, { "extra", c } }, 3);
    tg_load_report report;
    cr_assert_eq(tg_model_load(model, io_path("mixed.safetensors"), TG_LOAD_RELAXED, &report), 0,
                 "%s", tg_error_message());
    cr_assert_not(tg_error_occurred());
    cr_assert_eq(report.loaded, 1);
    cr_assert_eq(report.missing, 1);
    cr_assert_eq(report.unexpected, 1);
    cr_assert_eq(report.mismatched, 1);
    cr_assert_str_eq(report.details, "missing: b; unexpected: extra; mismatched: c [5] in the file, "
                                     "[2] in the model");
    tg_assert_values(tg_model_find(model, "a"), ((float[]){ 9, 9, 9, 9, 9, 9 }), 6, 0);
    tg_assert_values(tg_model_find(model, "b"), ((float[]){ -1, -2, -3 }), 3, 0);
    tg_assert_values(tg_model_find(model, "c"), ((float[]){ 0, 0 }), 2, 0);
    tg_tensor_free(a);
    tg_tensor_free(c);
    tg_model_free(model);
}

Test(model_io, a_long_list_of_names_is_cut_with_an_ellipsis)
{
    tg_model *model = tg_model_new(1);
    char name[64];
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "layer%03d.a_rather_long_parameter_name", i);
        tg_model_add_parameter(model, name, TG_SHAPE(1));
    }
    save_tensors(io_path("empty.safetensors"), NULL, 0);
    tg_load_report report;
    cr_assert_eq(tg_model_load(model, io_path("empty.safetensors"), TG_LOAD_RELAXED, &report), 0);
    cr_assert_eq(report.missing, 200);
    size_t length = strlen(report.details);
    cr_assert_eq(length, sizeof report.details - 1);
    cr_assert_str_eq(report.details + length - 3, "...");
    cr_assert_eq(strncmp(report.details, "missing: layer000.a_rather_long_parameter_name, "
                                         "layer001.", 57), 0, "%s", report.details);
    tg_model_free(model);
}

/* Bad files: each fails with the file's own message and touches nothing. */
Test(model_io, a_bad_file_leaves_the_model_unchanged)
{
    tg_model *model = new_small(1.0f);
    tg_tensor *a = tg_tensor_full(TG_SHAPE(2, 3), 9.0f), *b = tg_tensor_full(TG_SHAPE(3), 8.0f);
    const char *good = io_path("good.safetensors");
    save_tensors(good, (tg_named_tensor[]){ { "a", a }, { "b", b } }, 2);
    size_t n;
    unsigned char *bytes = read_existing_file(good, &n);
    float before[16];
    int count = snapshot(model, before, 16);
    const char *path = io_path("bad.safetensors");
    struct {
        size_t keep;
        const char *expected;
    } cuts[] = { { n - 4, "end past the 32-byte data section" },
                 { 40, "is past the end of the file (40 bytes)" },
                 { 5, "too few for the 8-byte header length" } };
    for (int i = 0; i < 3; i++) {
        io_write(path, bytes, cuts[i].keep);
        cr_assert_eq(tg_model_load(model, path, TG_LOAD_RELAXED, NULL), -1);
        tg_assert_error(cuts[i].expected);
        tg_error_clear();
        assert_unchanged(model, before, count);
    }
    /* A dtype the reader refuses, in the second tensor: the first, valid,
     * must not have been copied either. */
    char *b_dtype = strstr((char *)bytes + 8, "\"b\":{\"dtype\":\"F32\"");
    cr_assert_not_null(b_dtype);
    memcpy(b_dtype + 14, "I16", 3);
    io_write(path, bytes, n);
    cr_assert_eq(tg_model_load(model, path, TG_LOAD_RELAXED, NULL), -1);
    tg_assert_error("tensor \"b\": dtype \"I16\" is not supported");
    assert_unchanged(model, before, count);
    free(bytes);
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_model_free(model);
}

Test(model_io, optimizer_state_and_metadata_travel_with_the_parameters)
{
    tg_model *model = new_small(1.0f);
    tg_tensor *m_a = tg_tensor_full(TG_SHAPE(2, 3), 0.25f), *step = tg_tensor_full(TG_SCALAR, 41);
    tg_named_tensor state[] = { { "optim.adam.m.a", m_a }, { "optim.adam.step", step } };
    tg_string_pair meta[] = { { "epoch", "3" } };
    const char *path = io_path("train.safetensors");
    cr_assert_eq(tg_model_save_with(model, path, state, 2, meta, 1), 0, "%s", tg_error_message());

    tg_model *resumed = new_small(100.0f);
    tg_safetensors *file = tg_safetensors_load(path);
    cr_assert_not_null(file, "%s", tg_error_message());
    tg_load_report report;
    cr_assert_eq(tg_model_load_from(resumed, file, TG_LOAD_STRICT, "optim.", &report), 0, "%s",
                 tg_error_message());
    cr_assert_eq(report.loaded, 2);
    cr_assert_eq(report.unexpected, 0);
    tg_assert_values(tg_model_find(resumed, "a"), ((float[]){ 1, 2, 3, 4, 5, 6 }), 6, 0);
    tg_assert_values(tg_safetensors_get(file, "optim.adam.m.a"),
                     ((float[]){ 0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f }), 6, 0);
    cr_assert_eq(tg_safetensors_get(file, "optim.adam.step")->data[0], 41.0f);
    cr_assert_str_eq(tg_safetensors_metadata(file, "epoch"), "3");
    /* Without the prefix, strict loading sees the state as unexpected. */
    cr_assert_eq(tg_model_load_from(resumed, file, TG_LOAD_STRICT, NULL, NULL), -1);
    tg_assert_error("train.safetensors: the checkpoint does not match the model: unexpected: "
                    "optim.adam.m.a, optim.adam.step");
    tg_safetensors_free(file);
    tg_tensor_free(m_a);
    tg_tensor_free(step);
    tg_model_free(model);
    tg_model_free(resumed);
}

Test(model_io, an_extra_tensor_named_like_a_parameter_is_refused)
{
    tg_model *model = new_small(1.0f);
    tg_tensor *x = tg_tensor_zeros(TG_SHAPE(3));
    const char *path = io_path("clash.safetensors");
    cr_assert_eq(tg_model_save_with(model, path, (tg_named_tensor[]){ { "b", x } }, 1, NULL, 0), -1);
    tg_assert_error("clash.safetensors: the name \"b\" is given twice");
    cr_assert_eq(dir_entries(io_dir), 0);
    tg_tensor_free(x);
    tg_model_free(model);
}

/* ---- A GRU's formulation travels with its weights -------------------------------------- */

/* A model of one GRU "enc" (input 2, hidden 3) and a linear "head", its
 * weights drawn from seed. */
static tg_model *new_gru_model(tg_gru_formulation formulation, uint64_t seed)
{
    tg_model *model = tg_model_new(seed);
    cr_assert_not_null(tg_gru_new(model, "enc", (tg_rnn_config){ .input = 2, .hidden = 3,
                                                                 .gru = formulation }),
                       "%s", tg_error_message());
    cr_assert_not_null(tg_model_add_parameter(model, "head", TG_SHAPE(3)), "%s", tg_error_message());
    return model;
}

/* True when every parameter of a equals b's. */
static bool same_parameters(const tg_model *a, const tg_model *b)
{
    for (int i = 0; i < tg_model_parameter_count(a); i++) {
        const tg_tensor *p = tg_model_parameter(a, i), *q = tg_model_parameter(b, i);
        if (memcmp(p->data, q->data, (size_t)p->numel * sizeof(float)) != 0)
            return false;
    }
    return true;
}

Test(model_io, a_saved_gru_records_its_formulation_and_loads_only_into_the_same_one)
{
    const char *path = io_path("gru.safetensors");
    tg_model *seed = new_gru_model(TG_GRU_SEED, 1);
    cr_assert_eq(tg_model_metadata_count(seed), 1);
    cr_assert_str_eq(tg_model_metadata_key(seed, 0), "tapegrad.gru.enc");
    cr_assert_str_eq(tg_model_metadata_value(seed, 0), "seed");
    cr_assert_eq(tg_model_save(seed, path), 0, "%s", tg_error_message());
    tg_safetensors *file = tg_safetensors_load(path);
    cr_assert_str_eq(tg_safetensors_metadata(file, "tapegrad.gru.enc"), "seed");
    tg_safetensors_free(file);

    tg_model *same = new_gru_model(TG_GRU_SEED, 2);
    cr_assert_eq(tg_model_load(same, path, TG_LOAD_STRICT, NULL), 0, "%s", tg_error_message());
    cr_assert(same_parameters(seed, same));

    /* Into a PyTorch-formulation GRU: refused in both modes, nothing changes. */
    tg_model *other = new_gru_model(TG_GRU_PYTORCH, 3), *untouched = new_gru_model(TG_GRU_PYTORCH, 3);
    cr_assert_eq(tg_model_load(other, path, TG_LOAD_STRICT, NULL), -1);
    tg_assert_error("gru.safetensors: the GRU \"enc\" was saved with .gru = TG_GRU_SEED, but the "
                    "model's has .gru = TG_GRU_PYTORCH: create it with .gru = TG_GRU_SEED (or load "
                    "with TG_LOAD_ANY_GRU to take the weights as they are)");
    tg_error_clear();
    cr_assert_eq(tg_model_load(other, path, TG_LOAD_RELAXED, NULL), -1);
    tg_assert_error("was saved with .gru = TG_GRU_SEED");
    tg_error_clear();
    cr_assert(same_parameters(other, untouched));
    cr_assert(!same_parameters(other, seed));
    /* The override takes the weights as they are. */
    cr_assert_eq(tg_model_load(other, path, TG_LOAD_STRICT | TG_LOAD_ANY_GRU, NULL), 0, "%s",
                 tg_error_message());
    cr_assert(same_parameters(other, seed));
    tg_model_free(seed);
    tg_model_free(same);
    tg_model_free(other);
    tg_model_free(untouched);
}

Test(model_io, a_pytorch_formulation_file_is_refused_by_a_seed_gru)
{
    const char *path = io_path("torchlike.safetensors");
    tg_model *pytorch = new_gru_model(TG_GRU_PYTORCH, 1);
    cr_assert_eq(tg_model_save(pytorch, path), 0, "%s", tg_error_message());
    tg_model *seed = new_gru_model(TG_GRU_SEED, 2);
    cr_assert_eq(tg_model_load(seed, path, TG_LOAD_STRICT, NULL), -1);
    tg_assert_error("the GRU \"enc\" was saved with .gru = TG_GRU_PYTORCH, but the model's has "
                    ".gru = TG_GRU_SEED: create it with .gru = TG_GRU_PYTORCH");
    tg_model_free(pytorch);
    tg_model_free(seed);
}

/* A checkpoint as torch.nn.GRU writes it: the weights, no formulation key. */
static void save_without_marker(const tg_model *model, const char *path)
{
    tg_named_tensor tensors[8];
    int n = tg_model_parameter_count(model);
    cr_assert_leq(n, 8);
    for (int i = 0; i < n; i++)
        tensors[i] = (tg_named_tensor){ tg_model_parameter_name(model, i), tg_model_parameter(model, i) };
    save_tensors(path, tensors, n);
}

Test(model_io, a_file_without_the_formulation_loads_into_a_pytorch_gru_only)
{
    const char *path = io_path("torch_gru.safetensors");
    tg_model *torch = new_gru_model(TG_GRU_PYTORCH, 1);
    save_without_marker(torch, path);

    tg_model *pytorch = new_gru_model(TG_GRU_PYTORCH, 2);
    cr_assert_eq(tg_model_load(pytorch, path, TG_LOAD_STRICT, NULL), 0, "%s", tg_error_message());
    cr_assert(same_parameters(pytorch, torch));

    tg_model *seed = new_gru_model(TG_GRU_SEED, 3), *untouched = new_gru_model(TG_GRU_SEED, 3);
    cr_assert_eq(tg_model_load(seed, path, TG_LOAD_RELAXED, NULL), -1);
    tg_assert_error("torch_gru.safetensors: the file does not record the formulation of the GRU "
                    "\"enc\", as a torch.nn.GRU checkpoint does not, but the model's has .gru = "
                    "TG_GRU_SEED: for torch.nn.GRU weights create it with .gru = TG_GRU_PYTORCH (or "
                    "load with TG_LOAD_ANY_GRU to take the weights as they are)");
    tg_error_clear();
    cr_assert(same_parameters(seed, untouched));
    cr_assert_eq(tg_model_load(seed, path, TG_LOAD_RELAXED | TG_LOAD_ANY_GRU, NULL), 0, "%s",
                 tg_error_message());
    cr_assert(same_parameters(seed, torch));
    tg_model_free(torch);
    tg_model_free(pytorch);
    tg_model_free(seed);
    tg_model_free(untouched);
}

Test(model_io, a_file_without_the_grus_weights_needs_no_formulation)
{
    const char *path = io_path("head.safetensors");
    tg_model *head = tg_model_new(1);
    tg_tensor *bias = tg_model_add_parameter(head, "head", TG_SHAPE(3));
    bias->data[1] = 5.0f;
    cr_assert_eq(tg_model_save(head, path), 0, "%s", tg_error_message());
    tg_model *seed = new_gru_model(TG_GRU_SEED, 2);
    tg_load_report report;
    cr_assert_eq(tg_model_load(seed, path, TG_LOAD_RELAXED, &report), 0, "%s", tg_error_message());
    cr_assert_eq(report.loaded, 1);
    cr_assert_eq(tg_model_find(seed, "head")->data[1], 5.0f);
    tg_model_free(head);
    tg_model_free(seed);
}

Test(model_io, a_gru_cell_records_its_formulation_too)
{
    const char *path = io_path("cell.safetensors");
    tg_model *model = tg_model_new(1), *other = tg_model_new(2);
    cr_assert_not_null(tg_gru_cell_new(model, "cell", (tg_rnn_config){ .input = 2, .hidden = 2 }));
    cr_assert_not_null(tg_gru_cell_new(other, "cell", (tg_rnn_config){ .input = 2, .hidden = 2,
                                                                       .gru = TG_GRU_PYTORCH }));
    cr_assert_eq(tg_model_save(model, path), 0, "%s", tg_error_message());
    cr_assert_eq(tg_model_load(other, path, TG_LOAD_STRICT, NULL), -1);
    tg_assert_error("the GRU \"cell\" was saved with .gru = TG_GRU_SEED");
    tg_model_free(model);
    tg_model_free(other);
}

Test(model_io, metadata_may_not_repeat_the_models_own_keys)
{
    tg_model *model = new_gru_model(TG_GRU_SEED, 1);
    tg_string_pair meta[] = { { "tapegrad.gru.enc", "pytorch" } };
    cr_assert_eq(tg_model_save_with(model, io_path("own.safetensors"), NULL, 0, meta, 1), -1);
    tg_assert_error("own.safetensors: the metadata key \"tapegrad.gru.enc\" is the model's own");
    cr_assert_eq(dir_entries(io_dir), 0);
    tg_model_free(model);
}
