/* The autocomplete_rnn example, run with --quick: its outputs, its
 * completions and sampling options, the word-level model, its determinism,
 * its checkpoints and its refusals. The runs use one thread: the machine is
 * shared, and OpenMP threads that wait for each other make a loaded run
 * many times slower. */
#include "examples/run_example.h"

TestSuite(autocomplete_rnn, .init = tg_test_setup, .fini = tg_test_teardown);

static const char EXAMPLE[] = "autocomplete_rnn";

/* Runs the example with --quick --threads 1 --out dir and up to 6 more
 * arguments (NULL-terminated); asserts that it exited 0. */
static example_run run_quick(const char *dir, const char *const *extra)
{
    const char *args[16] = { "--quick", "--threads", "1", "--out", dir };
    int n = 5;
    for (int i = 0; extra && extra[i]; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    return run_example_expecting(0, EXAMPLE, args);
}

/* The quoted text after `label` (up to the closing quote) into out. */
static void quoted_after(const char *output, const char *label, char *out, size_t n)
{
    const char *p = strstr(output, label);
    cr_assert_not_null(p, "no \"%s\" in:\n%s", label, output);
    p = strchr(p + strlen(label), '"');
    cr_assert_not_null(p);
    const char *end = strchr(p + 1, '"');
    /* A completion may itself contain a quote: take the last one on the line. */
    for (const char *q = end; q && *q && *q != '\n'; q++)
        end = *q == '"' ? q : end;
    size_t length = (size_t)(end - p - 1);
    cr_assert_lt(length, n);
    memcpy(out, p + 1, length);
    out[length] = '\0';
}

Test(autocomplete_rnn, quick_run_learns_and_writes_its_files)
{
    char dir[512], path[600];
    example_out_dir("autocomplete_rnn_files", dir, sizeof dir);
    example_run run = run_quick(dir, NULL);
    out_file(path, sizeof path, dir, "autocomplete_rnn_history.csv");
    tg_csv *history = assert_csv(path, "train_loss", 120);
    assert_column_fell(history, "train_loss");
    assert_column_fell(history, "val_loss");
    /* The printed validation loss is the history's last, and the
     * perplexity is its exponential. */
    float last;
    cr_assert_eq(tg_csv_float(history, tg_csv_rows(history) - 1, tg_csv_column(history, "val_loss"), &last), 0);
    double printed = number_after(run.output, "validation loss after training: ");
    cr_assert(fabs(printed - last) < 1e-3, "printed %g, history %g", printed, last);
    double perplexity = number_after(run.output, "nats per character, perplexity ");
    cr_assert(fabs(perplexity - exp(printed)) < 0.01 * perplexity, "perplexity %g for loss %g", perplexity, printed);
    /* 120 steps of a small model take a character model from ln 65 = 4.17
     * nats (guessing) well below the 3.3 of character frequencies alone. */
    double before = number_after(run.output, "validation loss before training: ");
    cr_assert(before > 4.0 && before < 4.4, "before training: %g", before);
    cr_assert_lt(printed, 2.8);
    tg_csv_free(history);
    out_file(path, sizeof path, dir, "autocomplete_rnn_loss.png");
    assert_png(path, 600, 400);

    /* The seed's prompt with a greedy completion of 60 characters and three samples. */
    cr_assert(strstr(run.output, "    Input: \"I am going to the\""), "%s", run.output);
    char greedy[256];
    quoted_after(run.output, "greedy completion: ", greedy, sizeof greedy);
    cr_assert_eq(strlen(greedy), 60, "\"%s\"", greedy);
    /* The seed's "Predicted output" is the completion's next word. */
    char word[64];
    quoted_after(run.output, "Predicted output: ", word, sizeof word);
    const char *start = greedy + strspn(greedy, " ");
    cr_assert(word[0] && strncmp(start, word, strlen(word)) == 0, "word \"%s\", completion \"%s\"", word, greedy);
    cr_assert(strstr(run.output, "sample 3:"), "%s", run.output);
    cr_assert(strstr(run.output, "vocabulary of 65"), "%s", run.output);
    example_run_free(&run);
}

Test(autocomplete_rnn, top_k_1_samples_the_greedy_completion)
{
    char dir[512];
    example_out_dir("autocomplete_rnn_top_k", dir, sizeof dir);
    example_run run = run_quick(dir, (const char *[]){ "--prompt", "To be, or not", "--top-k", "1",
                                                       "--temperature", "1.5", "--length", "25", NULL });
    /* Only the likeliest token may be drawn, whatever the temperature. */
    const char *mine = strstr(run.output, "    Input: \"To be, or not\"");
    cr_assert_not_null(mine, "%s", run.output);
    char greedy[64], sample[64];
    quoted_after(mine, "greedy completion: ", greedy, sizeof greedy);
    cr_assert_eq(strlen(greedy), 25, "\"%s\"", greedy);
    for (int k = 1; k <= 3; k++) {
        char label[16];
        snprintf(label, sizeof label, "sample %d:", k);
        quoted_after(mine, label, sample, sizeof sample);
        cr_assert_str_eq(sample, greedy);
    }
    example_run_free(&run);
}

Test(autocomplete_rnn, a_high_temperature_samples_differ)
{
    char dir[512];
    example_out_dir("autocomplete_rnn_temperature", dir, sizeof dir);
    example_run run = run_quick(dir, (const char *[]){ "--temperature", "2", "--top-k", "65", NULL });
    char first[128], second[128];
    quoted_after(run.output, "sample 1:", first, sizeof first);
    quoted_after(run.output, "sample 2:", second, sizeof second);
    cr_assert_str_neq(first, second);
    example_run_free(&run);
}

Test(autocomplete_rnn, the_word_model_predicts_words)
{
    char dir[512], path[600];
    example_out_dir("autocomplete_rnn_words", dir, sizeof dir);
    example_run run = run_quick(dir, (const char *[]){ "--words", NULL });
    cr_assert(strstr(run.output, "nats per word, perplexity"), "%s", run.output);
    /* --quick keeps the 998 most frequent words of the training part. */
    cr_assert_eq(number_after(run.output, "vocabulary of "), 1000);
    /* 12 words, each after a space. */
    char greedy[512];
    quoted_after(run.output, "greedy completion: ", greedy, sizeof greedy);
    int words = 0;
    for (const char *p = greedy; *p; p++)
        words += *p == ' ';
    cr_assert_eq(words, 12, "\"%s\"", greedy);
    out_file(path, sizeof path, dir, "autocomplete_rnn_history.csv");
    tg_csv *history = assert_csv(path, "val_loss", 120);
    assert_column_fell(history, "train_loss");
    tg_csv_free(history);
    example_run_free(&run);
}

Test(autocomplete_rnn, the_same_seed_gives_the_same_run)
{
    char first[512], second[512];
    example_out_dir("autocomplete_rnn_seed_a", first, sizeof first);
    example_out_dir("autocomplete_rnn_seed_b", second, sizeof second);
    example_run a = run_quick(first, (const char *[]){ "--seed", "4", NULL });
    example_run b = run_quick(second, (const char *[]){ "--seed", "4", NULL });
    char sample_a[128], sample_b[128];
    quoted_after(a.output, "sample 2:", sample_a, sizeof sample_a);
    quoted_after(b.output, "sample 2:", sample_b, sizeof sample_b);
    cr_assert_str_eq(sample_a, sample_b);
    example_run_free(&a);
    example_run_free(&b);
    assert_same_file(first, second, "autocomplete_rnn_history.csv");
}

Test(autocomplete_rnn, a_loaded_checkpoint_goes_on_training)
{
    char saved[512], loaded[512], checkpoint[600], path[600];
    example_out_dir("autocomplete_rnn_save", saved, sizeof saved);
    example_out_dir("autocomplete_rnn_load", loaded, sizeof loaded);
    out_file(checkpoint, sizeof checkpoint, saved, "run.ckpt");
    example_run a = run_quick(saved, (const char *[]){ "--save", checkpoint, NULL });
    double saved_loss = number_after(a.output, "validation loss after training: ");
    example_run_free(&a);
    example_run b = run_quick(loaded, (const char *[]){ "--load", checkpoint, NULL });
    cr_assert(strstr(b.output, "120 steps of training so far"), "%s", b.output);
    /* Before any new step, the loaded model scores what the saved run ended with. */
    double before = number_after(b.output, "validation loss before training: ");
    cr_assert(fabs(before - saved_loss) < 1e-3, "saved %g, loaded %g", saved_loss, before);
    example_run_free(&b);
    out_file(path, sizeof path, loaded, "autocomplete_rnn_history.csv");
    tg_csv *history = assert_csv(path, "train_loss", 120);
    cr_assert_str_eq(tg_csv_field(history, 0, tg_csv_column(history, "step")), "120");
    tg_csv_free(history);

    /* A word model cannot load a character model's weights. */
    const char *args[] = { "--quick", "--threads", "1", "--out", loaded, "--words", "--load", checkpoint, NULL };
    assert_refused(EXAMPLE, args, "was trained on another vocabulary");
}

Test(autocomplete_rnn, eval_measures_a_loaded_model_without_training)
{
    char saved[512], evaluated[512], checkpoint[600], path[600];
    example_out_dir("autocomplete_rnn_eval_save", saved, sizeof saved);
    example_out_dir("autocomplete_rnn_eval", evaluated, sizeof evaluated);
    out_file(checkpoint, sizeof checkpoint, saved, "run.ckpt");
    example_run a = run_quick(saved, (const char *[]){ "--save", checkpoint, NULL });
    example_run b = run_quick(evaluated, (const char *[]){ "--load", checkpoint, "--eval", NULL });
    cr_assert(strstr(b.output, "## 3. Evaluation only"), "%s", b.output);
    cr_assert(strstr(b.output, "120 steps of training so far"), "%s", b.output);
    cr_assert_null(strstr(b.output, "steps per second"), "it trained:\n%s", b.output);
    /* The very loss and completion the saved run ended with. */
    cr_assert_eq(number_after(b.output, "validation loss after training: "),
                 number_after(a.output, "validation loss after training: "));
    char greedy_a[256], greedy_b[256];
    quoted_after(a.output, "greedy completion: ", greedy_a, sizeof greedy_a);
    quoted_after(b.output, "greedy completion: ", greedy_b, sizeof greedy_b);
    cr_assert_str_eq(greedy_b, greedy_a);
    out_file(path, sizeof path, evaluated, "autocomplete_rnn_history.csv");
    cr_assert_neq(access(path, F_OK), 0, "--eval wrote %s", path);
    example_run_free(&a);
    example_run_free(&b);

    assert_refused(EXAMPLE, (const char *[]){ "--out", evaluated, "--eval", NULL },
                   "--eval evaluates a saved model: give it with --load PATH");
    assert_refused(EXAMPLE, (const char *[]){ "--out", evaluated, "--eval", "--load", checkpoint, "--save",
                                              checkpoint, NULL },
                   "--eval trains nothing, so there is nothing to --save");
}

/* --quantize measures the trained network again with int8 weights: its
 * validation loss is within 1% of the float network's (and not equal: the
 * int8 products ran), after training and after --load --eval alike. */
Test(autocomplete_rnn, the_int8_network_loses_less_than_one_percent)
{
    char trained[512], evaluated[512], checkpoint[600];
    example_out_dir("autocomplete_rnn_int8", trained, sizeof trained);
    example_out_dir("autocomplete_rnn_int8_eval", evaluated, sizeof evaluated);
    out_file(checkpoint, sizeof checkpoint, trained, "run.ckpt");
    example_run a = run_quick(trained, (const char *[]){ "--quantize", "--save", checkpoint, NULL });
    cr_assert(strstr(a.output, "## 7. int8 inference"), "%s", a.output);
    cr_assert(strstr(a.output, "3 weight matrices in int8"), "%s", a.output);
    double float_loss = number_after(a.output, "(float32: ");
    double int8_loss = number_after(a.output, "validation loss with int8 weights: ");
    cr_assert(fabs(int8_loss - float_loss) < 0.01 * float_loss && int8_loss != float_loss,
              "float %g, int8 %g", float_loss, int8_loss);
    example_run b = run_quick(evaluated, (const char *[]){ "--load", checkpoint, "--eval", "--quantize",
                                                           NULL });
    cr_assert_eq(number_after(b.output, "validation loss with int8 weights: "), int8_loss);
    example_run_free(&a);
    example_run_free(&b);
}

Test(autocomplete_rnn, bad_input_exits_2_with_a_message)
{
    char dir[512], path[600];
    example_out_dir("autocomplete_rnn_refusals", dir, sizeof dir);
    assert_refused(EXAMPLE, (const char *[]){ "--out", dir, "--bogus", NULL }, "unknown option '--bogus'");
    assert_refused(EXAMPLE, (const char *[]){ "--out", dir, "--top-k", "many", NULL },
                   "bad value 'many' for option '--top-k'");
    assert_refused(EXAMPLE, (const char *[]){ "--out", dir, "--temperature", "0", NULL },
                   "--temperature must be above 0");
    assert_refused(EXAMPLE, (const char *[]){ "--out", dir, "--epochs", "2", NULL }, "--epochs: this example counts");
    /* The prompt's characters must be in the vocabulary. */
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--threads", "1", "--out", dir, "--prompt", "a~b", NULL },
                   "prompt \"a~b\"");

    out_file(path, sizeof path, dir, "missing.txt");
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--out", dir, "--data", path, NULL }, path);
    /* A binary file: a NUL byte on line 3, refused by the text rule; any
     * other control byte by the example. */
    out_file(path, sizeof path, dir, "binary.txt");
    write_file(path, "First line\nsecond\nthi\0rd\n", 25);
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--out", dir, "--data", path, NULL },
                   "binary.txt: line 3: a NUL byte (text files hold none)");
    write_file(path, "First line\rsecond\r\nthi\001rd\n", 26);
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--out", dir, "--data", path, NULL },
                   "binary.txt: line 3: byte 0x01 is not text");
    /* Too short for a batch of 16 windows of 32 characters. */
    out_file(path, sizeof path, dir, "short.txt");
    write_text_file(path, "To be, or not to be\n");
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--out", dir, "--data", path, NULL },
                   "short.txt: 20 tokens: too short");
    out_file(path, sizeof path, dir, "bad.ckpt");
    write_text_file(path, "not a checkpoint");
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--threads", "1", "--out", dir, "--load", path, NULL },
                   "bad.ckpt");
}
