/* The bad-input catalogue of README.md ("Bad input catalogue"): one test
 * per kind of error, each asserting the very message the README shows; and
 * a check that every message of the catalogue is asserted by the test the
 * README points to. */
#include "reliability.h"

#include <sys/resource.h>

const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

TestSuite(bad_input, .init = rel_setup, .fini = rel_teardown);

/* Asserts that `result` is NULL (or -1) and the message is `expected`. */
#define assert_refused(failed, expected)                                                       \
    do {                                                                                       \
        cr_assert((failed), "the call did not fail");                                          \
        cr_assert_str_eq(tg_error_message(), (expected));                                      \
        tg_error_clear();                                                                      \
    } while (0)

Test(bad_input, shapes_that_do_not_broadcast)
{
    assert_refused(!tg_add(tg_zeros(TG_SHAPE(2, 3)), tg_zeros(TG_SHAPE(4))),
                   "add: shapes [2,3] and [4] do not broadcast (dimension 1: 3 vs 4)");
}

Test(bad_input, matrix_products_with_different_inner_dimensions)
{
    assert_refused(!tg_matmul(tg_zeros(TG_SHAPE(32, 64)), tg_zeros(TG_SHAPE(128, 256))),
                   "matmul: [32,64] x [128,256]: inner dimensions 64 and 128 differ");
}

Test(bad_input, a_tensor_of_the_wrong_rank)
{
    tg_model *model = tg_model_new(1);
    tg_lstm *lstm = tg_lstm_new(model, "lstm", (tg_rnn_config){ .input = 3, .hidden = 4 });
    assert_refused(!tg_lstm_forward(lstm, tg_zeros(TG_SHAPE(5, 3)), NULL).output,
                   "lstm: input [5,3]: expected [T, B, input] with 3 features and no empty axis");
    tg_model_free(model);
}

Test(bad_input, a_tensor_of_the_wrong_dtype)
{
    tg_tensor *ids = tg_from_int64(TG_SHAPE(2, 3), (int64_t[]){ 0, 1, 2, 3, 4, 5 });
    assert_refused(!tg_add(tg_zeros(TG_SHAPE(2, 3)), ids),
                   "add: int64 tensor [2,3] given where float32 is needed");
    assert_refused(tg_tensor_item_int64(tg_zeros(TG_SHAPE(3))) == TG_INT64_ERROR,
                   "tensor_item_int64: float32 tensor [3] given where int64 is needed");
    assert_refused(tg_set_requires_grad(ids, true) != 0,
                   "set_requires_grad: int64 tensor [2,3]: only float32 tensors have gradients");
    assert_refused(!tg_to_dtype(tg_from_array(TG_SHAPE(2), (float[]){ 1, NAN }), TG_INT64),
                   "to_dtype: [2]: value nan at position 1 is not in int64's range");
}

Test(bad_input, a_dimension_out_of_range)
{
    assert_refused(!tg_sum(tg_zeros(TG_SHAPE(2, 3)), TG_AXES(2), false),
                   "sum: dimension 2 out of range for a tensor with 2 dimensions");
}

Test(bad_input, an_index_out_of_range)
{
    tg_tensor *index = tg_from_array(TG_SHAPE(2), (float[]){ 0, 7 });
    assert_refused(!tg_index_select(tg_zeros(TG_SHAPE(3, 2)), 0, index),
                   "index_select: index 7 at position 1 of index tensor [2] is out of range [0, 3)");
    tg_model *model = tg_model_new(1);
    tg_embedding *emb = tg_embedding_new(model, "emb", (tg_embedding_config){ .count = 10, .dim = 4 });
    assert_refused(!tg_embedding_forward(emb, tg_from_array(TG_SHAPE(1), (float[]){ 10 })),
                   "embedding: index 10 at position 0 of index tensor [1] is out of range [0, 10)");
    tg_model_free(model);
}

Test(bad_input, a_reshape_to_another_element_count)
{
    assert_refused(!tg_reshape(tg_zeros(TG_SHAPE(2, 3)), TG_SHAPE(5)),
                   "reshape: [2,3] to [5]: 6 elements cannot become 5");
}

Test(bad_input, sizes_whose_element_count_overflows)
{
    assert_refused(!tg_tensor_zeros(TG_SHAPE(INT64_C(1) << 40, INT64_C(1) << 40)),
                   "tensor_full: shape [1099511627776,1099511627776]: the number of elements overflows");
}

Test(bad_input, an_invalid_setting)
{
    tg_model *model = tg_model_new(1);
    tg_model_add_parameter(model, "w", TG_SHAPE(2));
    assert_refused(!tg_adam_new(model, (tg_adam_config){ .betas = { 1, 0.999 } }),
                   "adam_new: betas[0] = 1: must be in [0, 1)");
    assert_refused(!tg_linear_new(model, "fc", (tg_linear_config){ .input = 3, .output = 0 }),
                   "linear_new: input 3 and output 0 must both be positive");
    assert_refused(!tg_model_add_parameter(model, "w", TG_SHAPE(2)),
                   "model_add_parameter: a parameter named \"w\" already exists");
    tg_model_free(model);
}

Test(bad_input, backward_from_what_needs_no_gradient)
{
    assert_refused(tg_backward(tg_sum_all(tg_zeros(TG_SHAPE(2)))) != 0,
                   "backward: the tensor does not require a gradient (no leaf that requires one "
                   "went into it, or it was computed with grad mode off)");
}

Test(bad_input, a_nan_or_inf_in_training)
{
    tg_set_anomaly_mode(true);
    tg_tensor *x = tg_from_array(TG_SHAPE(3), (float[]){ 1, -1, 2 });
    assert_refused(!tg_log(x),
                   "anomaly: forward of 'log' on [3] produced NaN at element 1 of its output [3]");
    tg_set_anomaly_mode(false);
    tg_model *model = tg_model_new(1);
    assert_refused(tg_check_finite(model, tg_full(TG_SCALAR, INFINITY), 17) != 0,
                   "check_finite: step 17: the loss is Inf");
    tg_model_free(model);
}

Test(bad_input, a_file_that_cannot_be_read)
{
    cr_assert_eq(chdir(rel_dir), 0);
    assert_refused(!tg_safetensors_load("run.ckpt"),
                   "safetensors_load: run.ckpt: cannot open: No such file or directory");
    assert_refused(!tg_csv_read(".", (tg_csv_config){ 0 }), "csv_read: .: not a regular file but a directory");
    FILE *f = fopen("big.txt", "wb");
    fputs("0123456789", f);
    fclose(f);
    size_t size;
    assert_refused(!tg_text_read("big.txt", 8, &size),
                   "text_read: big.txt: the file has 10 bytes, more than the limit of 8");
}

Test(bad_input, a_malformed_checkpoint)
{
    cr_assert_eq(chdir(rel_dir), 0);
    FILE *f = fopen("run.ckpt", "wb");
    fwrite("\x10\0\0\0\0\0\0\0{\"a\":1}", 1, 15, f);
    fclose(f);
    assert_refused(!tg_safetensors_load("run.ckpt"),
                   "safetensors_load: run.ckpt: the header length 16 is past the end of the file "
                   "(15 bytes)");
    const char *header = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[0,48]}}";
    unsigned char bytes[256] = { (unsigned char)strlen(header) };
    memcpy(bytes + 8, header, strlen(header));
    assert_refused(!tg_safetensors_load_memory(bytes, 8 + strlen(header) + 40, "run.ckpt"),
                   "safetensors_load: run.ckpt: tensor \"x\": data_offsets [0, 48] end past the "
                   "40-byte data section");
}

Test(bad_input, a_checkpoint_of_another_model)
{
    cr_assert_eq(chdir(rel_dir), 0);
    const char *path = "run.ckpt";
    tg_model *saved = tg_model_new(1), *other = tg_model_new(1);
    tg_model_add_parameter(saved, "head.weight", TG_SHAPE(2, 4));
    tg_model_add_parameter(other, "head.weight", TG_SHAPE(3, 4));
    tg_model_add_parameter(other, "head.bias", TG_SHAPE(3));
    cr_assert_eq(tg_model_save(saved, path), 0, "%s", tg_error_message());
    assert_refused(tg_model_load(other, path, TG_LOAD_STRICT, NULL) != 0,
                   "model_load: run.ckpt: the checkpoint does not match the model: missing: "
                   "head.bias; mismatched: head.weight [2,4] in the file, [3,4] in the model");
    tg_model_free(saved);
    tg_model_free(other);
}

Test(bad_input, a_bad_csv_field)
{
    const char *text = "Date,Close\n2024-01-02,185.6\n2024-01-03,abc\n";
    tg_csv *csv = tg_csv_parse(text, strlen(text), "stocks.csv", (tg_csv_config){ 0 });
    float close[2];
    assert_refused(tg_csv_column_floats(csv, "Close", close) != 0,
                   "csv_column_floats: stocks.csv: line 3, field \"Close\": \"abc\" is not a "
                   "number");
    tg_csv_free(csv);
    const char *ragged = "a,b\n1,2\n3\n";
    assert_refused(!tg_csv_parse(ragged, strlen(ragged), "data.csv", (tg_csv_config){ 0 }),
                   "csv_read: data.csv: line 3: 1 fields, but the header has 2");
}

Test(bad_input, a_bad_line_of_text)
{
    const char *text = "Great movie.\t1\nBad.\t2\n";
    assert_refused(!tg_sentences_parse(text, strlen(text), "reviews.txt"),
                   "sentences_read: reviews.txt: line 2: the label \"2\" is not 0 or 1");
    const char *vocab = "<pad>\n<unk>\nyes\nyes\n";
    assert_refused(!tg_vocab_parse(vocab, strlen(vocab), "vocab.txt"),
                   "vocab_load: vocab.txt: line 4: the token \"yes\" is also on line 3");
}

Test(bad_input, a_save_that_cannot_be_written)
{
    tg_model *model = tg_model_new(1);
    tg_model_add_parameter(model, "w", TG_SHAPE(2));
    assert_refused(tg_model_save(model, "/no/such/dir/run.ckpt") != 0,
                   "safetensors_save: /no/such/dir/run.ckpt: cannot create a temporary file in "
                   "its directory: No such file or directory");
    tg_model_free(model);
}

Test(bad_input, memory_that_runs_out)
{
    /* More than the sanitizers or the system will give. */
    assert_refused(!tg_tensor_empty(TG_SHAPE(INT64_C(1) << 46)),
                   "tensor_empty: out of memory for 70368744177664 elements");
    assert_refused(!tg_empty(TG_SHAPE(INT64_C(1) << 46)),
                   "arena: out of memory allocating 281474976710912 bytes");
}

/* ---- The catalogue in README.md ------------------------------------------------------ */

/* The repository's file at `relative` (from this file's path), read whole. */
static char *repository_file(const char *relative)
{
    char path[1024];
    const char *here = __FILE__; /* .../tests/reliability/test_bad_input.c */
    const char *slash = strrchr(here, '/');
    snprintf(path, sizeof path, "%.*s/../../%s", slash ? (int)(slash - here) : 1,
             slash ? here : ".", relative);
    size_t size;
    char *text = (char *)read_whole_file(path, &size);
    cr_assert_not_null(text, "cannot read %s", path);
    text[size] = '\0';
    return text;
}

/* C source with adjacent string literals joined and \" read as ", so that
 * a message split over lines is found whole. */
static void join_literals(char *source)
{
    char *out = source;
    for (const char *in = source; *in; in++) {
        if (in[0] == '"' && in > source && in[-1] != '\\') {
            const char *next = in + 1;
            while (*next == ' ' || *next == '\n')
                next++;
            if (*next == '"' && next > in + 1) {
                in = next;
                continue;
            }
        }
        if (in[0] == '\\' && in[1] == '"')
            in++;
        *out++ = *in;
    }
    *out = '\0';
}

/* The next `code` span of a table row: its text in out; the rest of the
 * row after it, or NULL when there is none. */
static const char *next_code(const char *row, char *out, size_t n)
{
    const char *open = strchr(row, '`'), *close = open ? strchr(open + 1, '`') : NULL;
    if (!close)
        return NULL;
    snprintf(out, n, "%.*s", (int)(close - open - 1), open + 1);
    return close + 1;
}

Test(bad_input, every_message_of_the_readme_catalogue_is_asserted_by_its_test)
{
    char *readme = repository_file("README.md");
    char *section = strstr(readme, "\n## Bad input catalogue\n");
    cr_assert_not_null(section, "README.md has no \"Bad input catalogue\" section");
    char *end = strstr(section + 1, "\n## ");
    if (end)
        *end = '\0';
    int rows = 0;
    for (char *line = strstr(section, "\n| "); line; line = strstr(line + 1, "\n| ")) {
        char message[512], file[256], test[256];
        const char *second_column = strstr(line + 2, " | ");
        char *eol = strchr(line + 1, '\n');
        const char *rest = second_column ? next_code(second_column, message, sizeof message) : NULL;
        if (!rest || (eol && rest > eol))
            continue; /* the header row */
        cr_assert(next_code(rest, file, sizeof file) && next_code(strstr(rest, file) + strlen(file) + 1,
                                                                   test, sizeof test),
                  "a catalogue row without a test: %.80s", line + 1);
        char *source = repository_file(file);
        join_literals(source);
        char declaration[300];
        snprintf(declaration, sizeof declaration, ", %s)", test);
        cr_assert(strstr(source, declaration), "%s has no test %s", file, test);
        cr_assert(strstr(source, message), "%s does not assert \"%s\"", file, message);
        free(source);
        rows++;
    }
    cr_assert_geq(rows, 20, "only %d rows in the catalogue", rows);
    free(readme);
}
