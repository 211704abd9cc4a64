/* What messages say: text from files quoted with its control characters
 * escaped, the most useful cause first (another model's checkpoint is
 * reported as that, an absurd layer size or a failed allocation names the
 * layer), and checkpoint fields read strictly. */
#include "reliability.h"

#include <sys/resource.h>

const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

TestSuite(messages, .init = rel_setup, .fini = rel_teardown);

Test(messages, escape_shows_control_characters_and_cuts_long_text)
{
    char out[64];
    cr_assert_str_eq(tg_escape(out, sizeof out, "a\nb\tc\x1b[31md\"e\\f"),
                     "a\\nb\\tc\\x1b[31md\\\"e\\\\f");
    cr_assert_str_eq(tg_escape(out, sizeof out, "caf\xc3\xa9 \xc2\x9b" "x\x7f"),
                     "caf\xc3\xa9 \\xc2\\x9bx\\x7f"); /* UTF-8 kept, C1 CSI and DEL escaped */
    cr_assert_str_eq(tg_escape(out, 8, "abcdefghij"), "abcd...");
    cr_assert_str_eq(tg_escape(out, 8, "abcdefg"), "abcdefg");
    cr_assert_str_eq(tg_escape(out, 8, "\n\n\n\n"), "\\n\\n...");
    cr_assert_str_eq(tg_escape(out, sizeof out, NULL), "(null)");
}

Test(messages, control_characters_in_tensor_names_are_escaped)
{
    tg_tensor *x = tg_tensor_zeros(TG_SHAPE(1));
    tg_named_tensor named[] = { { "w", x }, { "evil\n\t\x1b[31mred", x } };
    cr_assert_eq(tg_safetensors_save(rel_path("names.st"), named, 2, NULL, 0), 0, "%s",
                 tg_error_message());
    tg_model *model = tg_model_new(1);
    tg_model_add_parameter(model, "w", TG_SHAPE(1));
    cr_assert_eq(tg_model_load(model, rel_path("names.st"), TG_LOAD_STRICT, NULL), -1);
    tg_assert_error("the checkpoint does not match the model: unexpected: evil\\n\\t\\x1b[31mred");
    cr_assert_null(strchr(tg_error_message(), '\x1b'));
    cr_assert_null(strchr(tg_error_message(), '\n'));
    tg_model_free(model);
    tg_tensor_free(x);
}

/* Saves a checkpoint of a one-parameter model with Adam, then the same
 * tensors with the metadata changed: key = value. Returns the message of
 * loading it (or "" when it loaded). */
static const char *load_with(const char *key, const char *value)
{
    static char message[TG_ERROR_MAX];
    tg_model *model = tg_model_new(1);
    tg_model_add_parameter(model, "w", TG_SHAPE(2));
    tg_optimizer *adam = tg_adam_new(model, (tg_adam_config){ 0 });
    tg_checkpoint ck = { .model = model, .optimizer = adam, .step = 7, .epoch = 2 };
    cr_assert_eq(tg_checkpoint_save(rel_path("good.ckpt"), &ck), 0, "%s", tg_error_message());
    tg_safetensors *file = tg_safetensors_load(rel_path("good.ckpt"));
    cr_assert_not_null(file, "%s", tg_error_message());
    int n_meta = tg_safetensors_metadata_count(file), n = tg_safetensors_count(file);
    tg_string_pair meta[32];
    tg_named_tensor tensors[16];
    cr_assert_leq(n_meta, 32);
    cr_assert_leq(n, 16);
    for (int i = 0; i < n_meta; i++) {
        meta[i].key = tg_safetensors_metadata_key(file, i);
        meta[i].value = strcmp(meta[i].key, key) == 0 ? value : tg_safetensors_metadata_value(file, i);
    }
    for (int i = 0; i < n; i++)
        tensors[i] = (tg_named_tensor){ tg_safetensors_name(file, i), (tg_tensor *)tg_safetensors_tensor(file, i) };
    cr_assert_eq(tg_safetensors_save(rel_path("edited.ckpt"), tensors, n, meta, n_meta), 0, "%s",
                 tg_error_message());
    tg_safetensors_free(file);
    tg_error_clear();
    ck = (tg_checkpoint){ .model = model, .optimizer = adam };
    int rc = tg_checkpoint_load(rel_path("edited.ckpt"), &ck);
    snprintf(message, sizeof message, "%s", rc == 0 ? "" : tg_error_message());
    if (rc == 0)
        snprintf(message, sizeof message, "loaded step %lld epoch %lld", (long long)ck.step,
                 (long long)ck.epoch);
    tg_error_clear();
    tg_optimizer_free(adam);
    tg_model_free(model);
    return message;
}

#define assert_contains(text, part) \
    cr_assert(strstr((text), (part)), "\"%s\" does not contain \"%s\"", (text), (part))

Test(messages, checkpoint_counts_are_read_strictly)
{
    assert_contains(load_with("step", "0x10"), "\"step\" = \"0x10\" is not a count (decimal digits, at most 9007199254740992)");
    assert_contains(load_with("step", "-1"), "\"step\" = \"-1\" is not a count");
    assert_contains(load_with("epoch", "9007199254740993"), "\"epoch\" = \"9007199254740993\" is not a count");
    assert_contains(load_with("epoch", "99999999999999999999"), "is not a count");
    assert_contains(load_with("step", " 5"), "is not a count");
    assert_contains(load_with("step", "1e3"), "is not a count");
    assert_contains(load_with("step", "007"), "is not a count");
    assert_contains(load_with("step", ""), "is not a count");
    assert_contains(load_with("optimizer.steps", "1.5"), "\"optimizer.steps\" = \"1.5\" is not a count");
    cr_assert_str_eq(load_with("epoch", "9007199254740992"), "loaded step 7 epoch 9007199254740992");
    assert_contains(load_with("optimizer.lr", "0x1p-3"), "\"optimizer.lr\" = \"0x1p-3\" is not a number");
    assert_contains(load_with("optimizer.lr", "nan"), "is not a number");
    assert_contains(load_with("step", "1\n2"), "\"step\" = \"1\\n2\" is not a count");
}

Test(messages, checkpoint_generators_are_read_strictly)
{
    const char *good = "0123456789abcdef 0123456789ABCDEF 0000000000000001 fedcba9876543210";
    cr_assert_str_eq(load_with("rng.default", good), "loaded step 7 epoch 2");
    assert_contains(load_with("rng.default", "00123456789abcdef 0123456789abcdef 0000000000000001 fedcba9876543210"),
                    "is not four words of 16 hexadecimal digits");
    assert_contains(load_with("rng.default", "-1 0123456789abcdef 0000000000000001 fedcba9876543210"),
                    "is not four words of 16 hexadecimal digits");
    assert_contains(load_with("rng.default", "0x23456789abcdef 0123456789abcdef 0000000000000001 fedcba9876543210"),
                    "is not four words of 16 hexadecimal digits");
    assert_contains(load_with("rng.model", "0000000000000000 0000000000000000 0000000000000000 0000000000000000"),
                    "\"rng.model\" is the all-zero state, which a generator never leaves");
}

Test(messages, another_models_checkpoint_is_reported_as_a_model_mismatch_first)
{
    /* A file of another program: other parameters, other optimizer, and
     * none of a checkpoint's metadata. */
    tg_model *other = tg_model_new(1);
    tg_model_add_parameter(other, "encoder.weight", TG_SHAPE(3, 2));
    cr_assert_eq(tg_model_save(other, rel_path("other.ckpt")), 0, "%s", tg_error_message());
    tg_model *model = tg_model_new(1);
    tg_model_add_parameter(model, "w", TG_SHAPE(2));
    tg_optimizer *sgd = tg_sgd_new(model, (tg_sgd_config){ .lr = 0.1 });
    tg_checkpoint ck = { .model = model, .optimizer = sgd };
    cr_assert_eq(tg_checkpoint_load(rel_path("other.ckpt"), &ck), -1);
    tg_assert_error("other.ckpt: the checkpoint does not match the model: missing: w; unexpected: encoder.weight");
    tg_error_clear();
    tg_optimizer_free(sgd);
    tg_model_free(model);
    tg_model_free(other);
}

Test(messages, a_layer_too_large_for_the_machine_is_refused_up_front_with_the_estimate)
{
    tg_model *model = tg_model_new(1);
    cr_assert_null(tg_lstm_new(model, "lstm", (tg_rnn_config){ .input = 10, .hidden = 1000000000 }));
    /* 4 gates x 10^9 rows of 10^9 + 10 weights and two biases, twice, 4 bytes each */
    tg_assert_error("lstm_new: the parameters and their gradients need about 32000000384.0 GB, more "
                    "than this machine's");
    cr_assert_eq(tg_model_parameter_count(model), 0);
    tg_error_clear();
    cr_assert_null(tg_linear_new(model, "big", (tg_linear_config){ .input = 1 << 30, .output = 1 << 30 }));
    tg_assert_error("linear_new: the parameters and their gradients need about");
    tg_model_free(model);
}

/* In a child with a small data limit: building a layer that does not fit
 * fails with a message that names the layer's parameter first. */
static void build_under_a_limit(rel_report *report, void *arg)
{
    (void)arg;
    struct rlimit limit = { 256 << 20, 256 << 20 };
    if (setrlimit(RLIMIT_DATA, &limit) != 0) {
        rel_note(report, "setrlimit failed");
        return;
    }
    tg_model *model = tg_model_new(1);
    tg_linear *linear = tg_linear_new(model, "head", (tg_linear_config){ .input = 20000, .output = 20000 });
    rel_note(report, "%s", linear ? "built" : tg_error_message());
    tg_model_free(model);
}

Test(messages, running_out_of_memory_in_a_layer_names_the_layer)
{
    rel_report report = rel_in_child(build_under_a_limit, NULL);
    rel_assert_reported(report, "linear_new: parameter \"head.weight\": tensor_full: out of memory "
                                "for 400000000 elements");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(messages, control_characters_in_fields_and_tokens_are_escaped)
{
    write_file(rel_path("data.csv"), "x\n1\x1b[31m\n");
    tg_csv *csv = tg_csv_read(rel_path("data.csv"), (tg_csv_config){ 0 });
    cr_assert_not_null(csv, "%s", tg_error_message());
    float values[1];
    cr_assert_eq(tg_csv_column_floats(csv, "x", values), -1);
    tg_assert_error("line 2, field \"x\": \"1\\x1b[31m\" is not a number");
    tg_error_clear();
    cr_assert_lt(tg_csv_column(csv, "\n\t"), 0);
    tg_assert_error("no column \"\\n\\t\"");
    tg_error_clear();
    tg_csv_free(csv);
    write_file(rel_path("vocab.txt"), "\x1b]0;title\x07\n");
    cr_assert_null(tg_vocab_load(rel_path("vocab.txt")));
    tg_assert_error("line 1 is \"\\x1b]0;title\\x07\"");
    tg_error_clear();
    /* Four quoted texts in one message stay apart. */
    char joined[256];
    snprintf(joined, sizeof joined, "%s %s %s %s", tg_quoted("a\n"), tg_quoted("b"), tg_quoted("c\t"),
             tg_quoted("d"));
    cr_assert_str_eq(joined, "a\\n b c\\t d");
}
