/* The sentiment_lstm example, run with --quick: its outputs and their
 * consistency, its options, another data file, determinism, checkpoints
 * and its refusals. */
#include "examples/run_example.h"

TestSuite(sentiment_lstm, .init = tg_test_setup, .fini = tg_test_teardown);

static const char EXAMPLE[] = "sentiment_lstm";

/* Runs the example with --quick --out dir and up to four more arguments;
 * asserts that it exited 0. */
static example_run run_quick(const char *dir, const char *a, const char *b, const char *c, const char *d)
{
    const char *args[] = { "--quick", "--out", dir, a, b, c, d, NULL };
    return run_example_expecting(0, EXAMPLE, args);
}

/* The probability printed for the review after `review_line`, and asserts
 * that the verdict beside it agrees with it. */
static double verdict_of(const char *output, const char *review_line)
{
    const char *review = strstr(output, review_line);
    cr_assert_not_null(review, "no \"%s\" in:\n%s", review_line, output);
    double p;
    cr_assert_eq(numbers_after(review, "P(positive) = ", &p, 1), 1);
    cr_assert(p >= 0 && p <= 1, "P(positive) = %g", p);
    const char *verdict = strstr(review, p >= 0.5 ? "->  Positive" : "->  Negative");
    const char *next_line = strstr(strstr(review, "P(positive) = "), "\n");
    cr_assert(verdict && verdict < next_line, "the verdict does not follow P = %g:\n%s", p, review);
    return p;
}

Test(sentiment_lstm, quick_run_writes_its_files_and_a_consistent_report)
{
    char dir[512], path[600];
    example_out_dir("sentiment_lstm_files", dir, sizeof dir);
    example_run run = run_quick(dir, NULL, NULL, NULL, NULL);
    const char *expected[] = { "## 1. The data", "## 2. Words to numbers", "## 4. Training",
                               "kept the weights of epoch", "## 6. The seed's review",
                               "sentiment_lstm_curves.png", "sentiment_lstm_confusion.png",
                               "thread(s) (--threads N to change)" };
    for (size_t i = 0; i < sizeof expected / sizeof *expected; i++)
        cr_assert(strstr(run.output, expected[i]), "no \"%s\" in:\n%s", expected[i], run.output);
    /* 2,000 sentences split 70/15/15. */
    double counts[2];
    cr_assert_eq(numbers_after(run.output, "    train ", counts, 2), 2);
    cr_assert_eq(counts[0], 1400);
    cr_assert_eq(numbers_after(run.output, "    test ", counts, 2), 2);
    cr_assert_eq(counts[0], 300);
    /* The confusion matrix covers the 300 test sentences, and its diagonal
     * is the printed accuracy. */
    double negative[2], positive[2], accuracy;
    cr_assert_eq(numbers_after(run.output, "    actually negative ", negative, 2), 2);
    cr_assert_eq(numbers_after(run.output, "    actually positive ", positive, 2), 2);
    cr_assert_eq(negative[0] + negative[1] + positive[0] + positive[1], 300);
    cr_assert_eq(numbers_after(run.output, "    test accuracy ", &accuracy, 1), 1);
    cr_assert(fabs(accuracy - 100 * (negative[0] + positive[1]) / 300) < 0.06, "accuracy %g%%",
              accuracy);
    /* Even four short epochs learn something. */
    cr_assert_gt(accuracy, 55.0);
    verdict_of(run.output, "review:      \"The movie was interesting at first, but later became boring.\"");
    example_run_free(&run);

    out_file(path, sizeof path, dir, "sentiment_lstm_history.csv");
    tg_csv *history = assert_csv(path, "train_loss", 4);
    assert_column_fell(history, "train_loss");
    for (int k = 0; k < 3; k++)
        cr_assert_geq(tg_csv_column(history, (const char *[]){ "valid_loss", "train_accuracy",
                                                               "valid_accuracy" }[k]), 0);
    tg_csv_free(history);
    out_file(path, sizeof path, dir, "sentiment_lstm_curves.png");
    assert_png(path, 1000, 400);
    out_file(path, sizeof path, dir, "sentiment_lstm_confusion.png");
    assert_png(path, 600, 400);
}

Test(sentiment_lstm, bidirectional_lstm_and_a_review_of_ones_own)
{
    char dir[512];
    example_out_dir("sentiment_lstm_options", dir, sizeof dir);
    example_run run = run_quick(dir, "--bidirectional", "--review", "Excellent phone, works great!", NULL);
    cr_assert(strstr(run.output, "lstm.weight_ih_l0_reverse"), "%s", run.output);
    cr_assert(strstr(run.output, "LSTM bidirectional"), "%s", run.output);
    verdict_of(run.output, "review:      \"Excellent phone, works great!\"");
    cr_assert(strstr(run.output, "as tokens:   excellent phone , works great !"), "%s", run.output);
    example_run_free(&run);
}

/* Writes n sentences in the labelled-sentences format: positive ones made
 * of praise, negative ones of complaints, in alternation. */
static void write_easy_sentences(const char *path, int n)
{
    const char *praise[] = { "great", "lovely", "excellent", "wonderful" };
    const char *complaint[] = { "awful", "boring", "terrible", "broken" };
    const char *thing[] = { "film", "phone", "case", "story", "battery" };
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < n; i++) {
        int label = i % 2;
        fprintf(f, "The %s was %s and %s.\t%d\n", thing[i % 5], (label ? praise : complaint)[i % 4],
                (label ? praise : complaint)[(i / 4) % 4], label);
    }
    fclose(f);
}

Test(sentiment_lstm, another_file_of_the_same_format)
{
    char dir[512], path[600];
    example_out_dir("sentiment_lstm_data", dir, sizeof dir);
    out_file(path, sizeof path, dir, "easy.txt");
    write_easy_sentences(path, 200);
    example_run run = run_quick(dir, "--data", path, NULL, NULL);
    double counts[2], accuracy;
    cr_assert_eq(numbers_after(run.output, "    validation ", counts, 2), 2);
    cr_assert_eq(counts[0], 30);
    /* The words say the label outright: the test sentences come out right. */
    cr_assert_eq(numbers_after(run.output, "    test accuracy ", &accuracy, 1), 1);
    cr_assert_geq(accuracy, 90.0, "%s", run.output);
    example_run_free(&run);
}

Test(sentiment_lstm, the_same_seed_gives_the_same_numbers)
{
    char first[512], second[512], path[600];
    example_out_dir("sentiment_lstm_seed_a", first, sizeof first);
    example_out_dir("sentiment_lstm_seed_b", second, sizeof second);
    example_run a = run_quick(first, "--seed", "3", NULL, NULL);
    example_run b = run_quick(second, "--seed", "3", NULL, NULL);
    example_run_free(&a);
    example_run_free(&b);
    size_t size;
    out_file(path, sizeof path, first, "sentiment_lstm_history.csv");
    char *history_a = tg_text_read(path, 0, &size);
    out_file(path, sizeof path, second, "sentiment_lstm_history.csv");
    char *history_b = tg_text_read(path, 0, &size);
    cr_assert(history_a && history_b, "%s", tg_error_message());
    cr_assert_str_eq(history_a, history_b);
    free(history_a);
    free(history_b);
}

Test(sentiment_lstm, a_loaded_checkpoint_brings_its_weights_and_vocabulary)
{
    char saved[512], loaded[512], checkpoint[600], path[600];
    example_out_dir("sentiment_lstm_save", saved, sizeof saved);
    example_out_dir("sentiment_lstm_load", loaded, sizeof loaded);
    out_file(checkpoint, sizeof checkpoint, saved, "run.ckpt");
    example_run a = run_quick(saved, "--save", checkpoint, NULL, NULL);
    example_run b = run_quick(loaded, "--load", checkpoint, "--epochs", "1");
    cr_assert(strstr(b.output, "started from"), "%s", b.output);
    out_file(path, sizeof path, saved, "run.ckpt.vocab");
    tg_vocab *vocab = tg_vocab_load(path);
    cr_assert_not_null(vocab, "%s", tg_error_message());
    char line[64];
    snprintf(line, sizeof line, "    %d ids (", tg_vocab_size(vocab));
    cr_assert(strstr(b.output, line) && strstr(b.output, ", loaded"), "no \"%s ... loaded\" in:\n%s",
              line, b.output);
    tg_vocab_free(vocab);
    example_run_free(&a);
    example_run_free(&b);
    /* The loaded run starts trained: its first epoch's loss is below the
     * fresh run's first. */
    assert_resumed_epochs(saved, loaded, "sentiment_lstm_history.csv", 4);
}

/* The line of output that starts with `label`, into out. */
static void line_of(const char *output, const char *label, char *out, size_t n)
{
    const char *p = strstr(output, label);
    cr_assert_not_null(p, "no \"%s\" in:\n%s", label, output);
    size_t length = strcspn(p, "\n");
    cr_assert_lt(length, n);
    memcpy(out, p, length);
    out[length] = '\0';
}

Test(sentiment_lstm, eval_tests_a_loaded_model_without_training)
{
    char saved[512], evaluated[512], checkpoint[600], path[600];
    example_out_dir("sentiment_lstm_eval_save", saved, sizeof saved);
    example_out_dir("sentiment_lstm_eval", evaluated, sizeof evaluated);
    out_file(checkpoint, sizeof checkpoint, saved, "run.ckpt");
    example_run a = run_quick(saved, "--save", checkpoint, NULL, NULL);
    example_run b = run_quick(evaluated, "--load", checkpoint, "--eval", NULL);
    cr_assert(strstr(b.output, "## 4. Evaluation only"), "%s", b.output);
    cr_assert_null(strstr(b.output, "train loss"), "it trained:\n%s", b.output);
    /* The kept weights give the saved run's very test scores and verdict. */
    char line_a[256], line_b[256];
    line_of(a.output, "    test accuracy ", line_a, sizeof line_a);
    line_of(b.output, "    test accuracy ", line_b, sizeof line_b);
    cr_assert_str_eq(line_b, line_a);
    const char *seed_line = "review:      \"The movie was interesting at first, but later became boring.\"";
    cr_assert_eq(verdict_of(b.output, seed_line), verdict_of(a.output, seed_line));
    out_file(path, sizeof path, evaluated, "sentiment_lstm_confusion.png");
    assert_png(path, 600, 400);
    out_file(path, sizeof path, evaluated, "sentiment_lstm_history.csv");
    cr_assert_neq(access(path, F_OK), 0, "--eval wrote %s", path);
    example_run_free(&a);
    example_run_free(&b);

    /* New data: the test part of another file, read with the saved vocabulary. */
    out_file(path, sizeof path, evaluated, "easy.txt");
    write_easy_sentences(path, 200);
    example_run c = run_example_expecting(0, EXAMPLE, (const char *[]){ "--quick", "--out", evaluated,
        "--load", checkpoint, "--eval", "--data", path, NULL });
    cr_assert(strstr(c.output, ", loaded"), "%s", c.output);
    double test[3];
    cr_assert_eq(numbers_after(c.output, "    test accuracy ", test, 3), 3);
    cr_assert_eq(test[2], 30, "%s", c.output); /* 15% of 200 sentences, as the split gives */
    example_run_free(&c);
    assert_refused(EXAMPLE, (const char *[]){ "--out", evaluated, "--eval", NULL },
                   "--eval evaluates a saved model: give it with --load PATH");
}

Test(sentiment_lstm, bad_input_exits_2_with_a_message)
{
    char dir[512], path[600];
    example_out_dir("sentiment_lstm_refusals", dir, sizeof dir);
    assert_refused(EXAMPLE, (const char *[]){ "--out", dir, "--bogus", NULL }, "unknown option '--bogus'");
    assert_refused(EXAMPLE, (const char *[]){ "--out", dir, "--steps", "10", NULL },
                   "--steps: this example counts epochs");
    assert_refused(EXAMPLE, (const char *[]){ "--out", dir, "--review", NULL }, "option '--review' needs a value");
    out_file(path, sizeof path, dir, "missing.txt");
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--out", dir, "--data", path, NULL }, "missing.txt");
    out_file(path, sizeof path, dir, "bad_label.txt");
    write_text_file(path, "Great phone.\t1\nAwful case.\t0\nFine.\t2\n");
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--out", dir, "--data", path, NULL },
                   "bad_label.txt: line 3");
    out_file(path, sizeof path, dir, "no_tab.txt");
    write_text_file(path, "Great phone.\t1\nAwful case 0\n");
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--out", dir, "--data", path, NULL }, "no_tab.txt: line 2");
    out_file(path, sizeof path, dir, "tiny.txt");
    write_text_file(path, "Great phone.\t1\nAwful case.\t0\n");
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--out", dir, "--data", path, NULL },
                   "tiny.txt: 2 sentences; at least 10 are needed");
    /* A checkpoint without its vocabulary beside it. */
    out_file(path, sizeof path, dir, "lonely.ckpt");
    write_text_file(path, "not a checkpoint");
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--out", dir, "--load", path, NULL }, "lonely.ckpt.vocab");
    /* A vocabulary beside a file that is not a checkpoint. */
    out_file(path, sizeof path, dir, "bad.ckpt.vocab");
    write_text_file(path, "<pad>\n<unk>\ngreat\n");
    out_file(path, sizeof path, dir, "bad.ckpt");
    write_text_file(path, "not a checkpoint");
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--out", dir, "--load", path, NULL }, "bad.ckpt:");
}

/* A checkpoint and a vocabulary from different saves (as a run killed
 * between its two saves leaves them) are refused, not mapped to wrong ids. */
Test(sentiment_lstm, a_checkpoint_beside_another_vocabulary_is_refused)
{
    char dir[512], checkpoint[600], vocab_file[600];
    example_out_dir("sentiment_lstm_pair", dir, sizeof dir);
    out_file(checkpoint, sizeof checkpoint, dir, "run.ckpt");
    example_run a = run_quick(dir, "--save", checkpoint, "--epochs", "1");
    example_run_free(&a);
    /* The checkpoint records the hash of the vocabulary saved beside it. */
    out_file(vocab_file, sizeof vocab_file, dir, "run.ckpt.vocab");
    tg_vocab *vocab = tg_vocab_load(vocab_file);
    tg_safetensors *file = tg_safetensors_load(checkpoint);
    cr_assert(vocab && file, "%s", tg_error_message());
    char hash[17];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)tg_vocab_hash(vocab));
    cr_assert_str_eq(tg_checkpoint_user(file, "vocab_hash"), hash);
    tg_safetensors_free(file);
    /* Another vocabulary of the same size: two ids swapped. */
    FILE *f = fopen(vocab_file, "wb");
    cr_assert_not_null(f);
    fprintf(f, "<pad>\n<unk>\n%s\n%s\n", tg_vocab_token(vocab, 3), tg_vocab_token(vocab, 2));
    for (int id = 4; id < tg_vocab_size(vocab); id++)
        fprintf(f, "%s\n", tg_vocab_token(vocab, id));
    fclose(f);
    tg_vocab_free(vocab);
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--out", dir, "--load", checkpoint, NULL },
                   "run.ckpt was saved with another vocabulary than ");
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--out", dir, "--load", checkpoint,
                                              "--eval", NULL },
                   "the pair is not from the same save");
}
