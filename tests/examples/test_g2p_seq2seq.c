/*
 * The g2p_seq2seq example, run with --quick: its split checked against the
 * dictionary, its error rates, files and --word, a checkpoint evaluated
 * with --load --eval, its attention file saved as every file is, and bad
 * dictionary lines refused with their line.
 */
#define _POSIX_C_SOURCE 200809L /* mkfifo */
#include "examples/run_example.h"

#include <sys/stat.h>

TestSuite(g2p_seq2seq, .init = tg_test_setup, .fini = tg_test_teardown);

static const char EXAMPLE[] = "g2p_seq2seq";

/* examples/data/cmudict/cmudict.dict, from this file's place in the tree. */
static const char *dictionary_path(char *path)
{
    const char *here = __FILE__;
    const char *slash = strrchr(here, '/');
    snprintf(path, 600, "%.*s/../../examples/data/cmudict/cmudict.dict", slash ? (int)(slash - here) : 1,
             slash ? here : ".");
    return path;
}

/* The words of the dictionary (variants and comments left out) counted by
 * FNV-1a modulo 20 as the README documents the split: 0 validation, 1 and
 * 2 test, the rest training. */
static void count_split(int counts[3])
{
    char path[600];
    FILE *f = fopen(dictionary_path(path), "r");
    cr_assert_not_null(f);
    char line[512], previous[512] = "";
    counts[0] = counts[1] = counts[2] = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, " (")] = '\0';
        if (strcmp(line, previous) == 0)
            continue;
        snprintf(previous, sizeof previous, "%s", line);
        unsigned h = 2166136261u;
        for (const char *p = line; *p; p++)
            h = (h ^ (unsigned char)*p) * 16777619u;
        counts[h % 20 == 0 ? 1 : h % 20 <= 2 ? 2 : 0]++;
    }
    fclose(f);
}

Test(g2p_seq2seq, quick_run_learns_pronunciations_and_a_checkpoint_evaluates_the_same)
{
    char dir[512], eval_dir[512], ckpt[700], path[700];
    example_out_dir("g2p_quick", dir, sizeof dir);
    example_out_dir("g2p_eval", eval_dir, sizeof eval_dir);
    snprintf(ckpt, sizeof ckpt, "%s/g2p.ckpt", dir);
    example_run run = run_example_expecting(0, EXAMPLE, (const char *const[]){
        "--quick", "--out", dir, "--save", ckpt, "--word", "Tapegrad,zweig", NULL });
    int counts[3];
    count_split(counts);
    cr_assert_eq(counts[0] + counts[1] + counts[2], 126046);
    double words[4];
    cr_assert_eq(numbers_after(run.output, "    126046 words, ", words, 4), 4);
    cr_assert_eq(words[0], 135155, "pronunciations");
    cr_assert_eq(words[1], counts[0], "training words %g, expected %d", words[1], counts[0]);
    cr_assert_eq(words[2], counts[1], "validation words");
    cr_assert_eq(words[3], counts[2], "test words");
    /* Trained on 2,000 pronunciations for two epochs: far from the
     * published rates, far better than guessing. */
    double before = number_after(run.output, "validation loss before training: ");
    double epoch[3];
    cr_assert_eq(numbers_after(run.output, "    epoch 2: training loss ", epoch, 3), 3);
    cr_assert_gt(before, 3.0);
    cr_assert_lt(epoch[1], before - 1.0, "validation loss %g after training, %g before", epoch[1], before);
    double rates[2];
    cr_assert_eq(numbers_after(run.output, "    this example, greedy", rates, 2), 2);
    cr_assert(rates[0] > 10 && rates[0] < 70, "greedy PER %g", rates[0]);
    cr_assert(rates[1] > 40 && rates[1] <= 100, "greedy WER %g", rates[1]);
    double beam[3];
    cr_assert_eq(numbers_after(run.output, "    this example, beam search (width ", beam, 3), 3);
    cr_assert_eq(beam[0], 3);
    cr_assert(beam[1] > 10 && beam[1] < 70, "beam PER %g", beam[1]);
    double published[2];
    cr_assert_eq(numbers_after(run.output, "    Yao & Zweig: encoder-decoder LSTM", published, 2), 2);
    cr_assert_eq(published[0], 7.63);
    cr_assert_eq(published[1], 28.61);
    cr_assert(strstr(run.output, "not reached"), "--quick cannot reach the target");
    cr_assert(strstr(run.output, "    tapegrad         greedy: "), "--word is lower-cased and pronounced:\n%s",
              run.output);
    cr_assert(strstr(run.output, "    zweig            greedy: "));
    cr_assert(strstr(run.output, "    tapegrad         greedy: T "), "tapegrad starts with T:\n%s", run.output);
    out_file(path, sizeof path, dir, "g2p_seq2seq_loss.png");
    assert_png(path, 600, 400);
    out_file(path, sizeof path, dir, "g2p_seq2seq_history.csv");
    tg_csv *csv = assert_csv(path, "train_loss", 100);
    assert_column_fell(csv, "train_loss");
    tg_csv_free(csv);
    out_file(path, sizeof path, dir, "g2p_seq2seq_attention.csv");
    csv = assert_csv(path, "weight", 20);
    tg_csv_free(csv);
    out_file(path, sizeof path, dir, "g2p_seq2seq_attention.png");
    assert_png(path, 1000, 800);

    /* The loaded network decodes the test words as it did after training. */
    example_run eval = run_example_expecting(0, EXAMPLE, (const char *const[]){
        "--quick", "--out", eval_dir, "--load", ckpt, "--eval", NULL });
    double again[2];
    cr_assert_eq(numbers_after(eval.output, "    this example, greedy", again, 2), 2);
    cr_assert_eq(again[0], rates[0]);
    cr_assert_eq(again[1], rates[1]);
    cr_assert(strstr(eval.output, "Evaluation only"));
    example_run_free(&eval);
    example_run_free(&run);

    /* The attention weights are saved as every file is: a FIFO in their
     * place is refused at once, not opened and waited on. */
    out_file(path, sizeof path, eval_dir, "g2p_seq2seq_attention.csv");
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(mkfifo(path, 0644), 0);
    char message[900];
    snprintf(message, sizeof message, "g2p_seq2seq: cannot write the attention weights: "
             "g2p_seq2seq: %s: not a regular file but a FIFO; saves replace only regular files",
             path);
    example_run refused = run_example_expecting(1, EXAMPLE, (const char *const[]){
        "--quick", "--out", eval_dir, "--load", ckpt, "--eval", NULL });
    cr_assert(strstr(refused.output, message), "no \"%s\" in:\n%s", message, refused.output);
    example_run_free(&refused);
    struct stat st;
    cr_assert(lstat(path, &st) == 0 && S_ISFIFO(st.st_mode), "the FIFO was replaced");
}

/* A dictionary of three good lines and `bad` as line 4. */
static void refused_line(const char *name, const char *bad, const char *message)
{
    char dir[512], path[700];
    example_out_dir(name, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/bad.dict", dir);
    char text[512];
    snprintf(text, sizeof text, "aardvark AA1 R D V AA2 R K\nabbey AE1 B IY0\nabbey(2) AE1 B EY0\n%s\nzoo Z UW1\n", bad);
    write_text_file(path, text);
    assert_refused(EXAMPLE, (const char *const[]){ "--quick", "--out", dir, "--data", path, NULL }, message);
}

Test(g2p_seq2seq, bad_dictionary_lines_are_refused_with_their_line)
{
    refused_line("g2p_bad_phoneme", "cat K AE1 Q",
                 "bad.dict: line 4: \"Q\" is not one of CMUdict's 39 phonemes");
    refused_line("g2p_bad_stress", "cat K AE7 T", "line 4: \"AE7\" is not one of CMUdict's 39 phonemes");
    refused_line("g2p_no_phonemes", "cat", "bad.dict: line 4: a word without phonemes");
    refused_line("g2p_upper_case", "Cat K AE1 T",
                 "line 4: character 0x43 in \"Cat\" is not a lower-case letter, apostrophe, period or hyphen");
    refused_line("g2p_bad_variant", "cat(two) K AE1 T", "line 4: a variant is written word(2), word(3), ...");
    refused_line("g2p_empty_line", "", "line 4: empty line (expected a word and its phonemes)");
    refused_line("g2p_control_byte", "cat K AE1\x01 T", "line 4: a control byte: not a text line");
    char dir[512], path[700];
    example_out_dir("g2p_too_few", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/small.dict", dir);
    write_text_file(path, "cat K AE1 T\n");
    assert_refused(EXAMPLE, (const char *const[]){ "--quick", "--out", dir, "--data", path, NULL },
                   "too few words for a training, validation and test part");
}

Test(g2p_seq2seq, a_word_that_cannot_be_spelled_is_refused_before_training)
{
    char dir[512];
    example_out_dir("g2p_bad_word", dir, sizeof dir);
    assert_refused(EXAMPLE, (const char *const[]){ "--quick", "--out", dir, "--word", "caf3", NULL },
                   "--word: '3' is not a letter, apostrophe, period or hyphen");
    assert_refused(EXAMPLE, (const char *const[]){ "--quick", "--out", dir, "--beam", "65", NULL },
                   "--beam is at most 64");
}
