/* Text: reading a corpus, the byte vocabulary, the word tokenizer and the
 * labelled-sentences reader, on committed excerpts and generated input. */
#include "io/io_support.h"

TestSuite(text, .init = io_setup, .fini = io_teardown);

Test(text, a_corpus_is_read_byte_for_byte)
{
    size_t n, expected_n;
    char *text = tg_text_read(io_fixture("shakespeare_head.txt"), 0, &n);
    cr_assert_not_null(text, "%s", tg_error_message());
    unsigned char *expected = read_existing_file(io_fixture("shakespeare_head.txt"), &expected_n);
    cr_assert_eq(n, 1500);
    cr_assert_eq(n, expected_n);
    cr_assert_eq(memcmp(text, expected, n), 0);
    cr_assert_eq(text[n], '\0');
    free(text);
    free(expected);
    cr_assert_null(tg_text_read(io_fixture("shakespeare_head.txt"), 1000, &n));
    tg_assert_error("text_read: ");
    tg_assert_error("shakespeare_head.txt: the file has 1500 bytes, more than the limit of 1000");
    tg_error_clear();
    cr_assert_null(tg_text_read(io_path("nothing.txt"), 0, &n));
    tg_assert_error("nothing.txt: cannot open: No such file or directory");
}

Test(text, the_char_vocabulary_is_the_sorted_distinct_bytes)
{
    size_t n;
    char *text = tg_text_read(io_fixture("shakespeare_head.txt"), 0, &n);
    cr_assert_not_null(text);
    tg_char_vocab vocab = tg_char_vocab_build(text, n);
    /* A naive count of the distinct bytes. */
    int distinct = 0;
    for (int b = 0; b < 256; b++)
        distinct += memchr(text, b, n) != NULL;
    cr_assert_eq(vocab.size, distinct);
    cr_assert_eq(vocab.size, 48);
    cr_assert_eq(vocab.bytes[0], '\n');
    cr_assert_eq(vocab.bytes[1], ' ');
    for (int i = 1; i < vocab.size; i++)
        cr_assert_lt(vocab.bytes[i - 1], vocab.bytes[i]);
    cr_assert_eq(vocab.bytes[vocab.ids['a']], 'a');
    cr_assert_eq(vocab.ids['~'], -1);

    int *ids = malloc(n * sizeof(int));
    char *back = malloc(n + 1);
    cr_assert_eq(tg_char_vocab_encode(&vocab, text, n, ids), 0, "%s", tg_error_message());
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(vocab.bytes[ids[i]], (unsigned char)text[i]);
    cr_assert_eq(tg_char_vocab_decode(&vocab, ids, n, back), 0);
    cr_assert_str_eq(back, text);
    cr_assert_eq(tg_char_vocab_encode(&vocab, "to be~", 6, ids), -1);
    tg_assert_error("char_vocab_encode: byte 5 (0x7e) is not in the vocabulary");
    tg_error_clear();
    ids[1] = vocab.size;
    cr_assert_eq(tg_char_vocab_decode(&vocab, ids, 3, back), -1);
    tg_assert_error("char_vocab_decode: id 48 at position 1 is outside [0, 48)");
    free(ids);
    free(back);
    free(text);
}

Test(text, utf8_characters_are_several_byte_ids)
{
    tg_char_vocab vocab = tg_char_vocab_build("caf\xc3\xa9", 5);
    cr_assert_eq(vocab.size, 5);
    cr_assert_eq(vocab.bytes[3], 0xa9); /* a, c, f, then the two bytes of U+00E9 */
    cr_assert_eq(vocab.bytes[4], 0xc3);
    cr_assert_eq(tg_char_vocab_build(NULL, 0).size, 0);
}

/* Tokenizes text and compares with the expected tokens (NULL-terminated). */
static void assert_tokens(const char *text, const char *const *expected)
{
    tg_tokens *tokens = tg_text_tokenize(text, strlen(text));
    cr_assert_not_null(tokens, "%s", tg_error_message());
    int n = 0;
    while (expected[n])
        n++;
    cr_assert_eq(tokens->count, n, "\"%s\": %d tokens, expected %d", text, tokens->count, n);
    for (int i = 0; i < n; i++)
        cr_assert_str_eq(tokens->token[i], expected[i], "\"%s\": token %d", text, i);
    tg_tokens_free(tokens);
}

Test(text, words_are_lower_case_and_punctuation_stands_alone)
{
    assert_tokens("The movie was interesting at first, but later became boring.",
                  (const char *[]){ "the", "movie", "was", "interesting", "at", "first", ",", "but",
                                    "later", "became", "boring", ".", NULL });
    assert_tokens("Wasn't it GREAT?!", (const char *[]){ "wasn't", "it", "great", "?", "!", NULL });
    assert_tokens("well-made 10/10 ($120)",
                  (const char *[]){ "well", "-", "made", "10", "/", "10", "(", "$", "120", ")",
                                    NULL });
}

Test(text, apostrophes_stay_only_inside_words)
{
    assert_tokens("'Quote' rock'n'roll dogs' o'clock ''",
                  (const char *[]){ "'", "quote", "'", "rock'n'roll", "dogs", "'", "o'clock", "'",
                                    "'", NULL });
}

Test(text, utf8_words_are_kept_and_c1_controls_separate)
{
    /* From imdb_labelled.txt: "clichés", and U+0085 (NEL) between words. */
    assert_tokens("Clich\xc3\xa9s Qu\xc3\xa9" "bec",
                  (const char *[]){ "clich\xc3\xa9s", "qu\xc3\xa9" "bec", NULL });
    assert_tokens("is\xc2\x85was them \xc2\x96 a\xc2\xa0tr",
                  (const char *[]){ "is", "was", "them", "a", "tr", NULL });
    assert_tokens("", (const char *[]){ NULL });
    assert_tokens(" \t\r\n\x01 ", (const char *[]){ NULL });
    /* A NUL byte inside the text separates like any control character. */
    tg_tokens *tokens = tg_text_tokenize("ab\0cd", 5);
    cr_assert_eq(tokens->count, 2);
    cr_assert_str_eq(tokens->token[1], "cd");
    tg_tokens_free(tokens);
}

Test(text, labelled_sentences_split_at_the_last_tab)
{
    /* Real lines of imdb_labelled.txt (19, 20, 179, 425) and
     * amazon_cells_labelled.txt (1, 2): trailing spaces, unbalanced quotes,
     * U+0096 and U+0085, an accent. */
    tg_sentences *s = tg_sentences_read(io_fixture("sentences.txt"));
    cr_assert_not_null(s, "%s", tg_error_message());
    cr_assert_eq(tg_sentences_count(s), 6, "quotes do not merge lines");
    int labels[6] = { 1, 1, 0, 0, 0, 1 };
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(tg_sentences_label(s, i), labels[i], "sentence %d", i);
        cr_assert_eq(tg_sentences_line(s, i), i + 1);
    }
    const char *first = tg_sentences_text(s, 0);
    const char *end = "a sea of faux \"masterpieces.";
    cr_assert_str_eq(first + strlen(first) - strlen(end), end, "trailing spaces are trimmed");
    cr_assert_eq(strncmp(tg_sentences_text(s, 1), "\" The structure", 15), 0);
    cr_assert_str_eq(tg_sentences_text(s, 2), "The script is\xc2\x85was there a script?");
    cr_assert_str_eq(tg_sentences_text(s, 5), "Good case, Excellent value.");
    cr_assert_null(tg_sentences_text(s, 6));
    cr_assert_eq(tg_sentences_label(s, -1), -1);
    tg_sentences_free(s);
}

Test(text, tabs_crlf_empty_lines_and_a_missing_final_newline)
{
    const char text[] = "a\tb  \t1\r\n\ngood\t0\nlast one\t1";
    tg_sentences *s = tg_sentences_parse(text, sizeof text - 1, "mem.txt");
    cr_assert_not_null(s, "%s", tg_error_message());
    cr_assert_eq(tg_sentences_count(s), 3);
    cr_assert_str_eq(tg_sentences_text(s, 0), "a\tb");
    cr_assert_eq(tg_sentences_label(s, 0), 1);
    cr_assert_str_eq(tg_sentences_text(s, 1), "good");
    cr_assert_eq(tg_sentences_line(s, 1), 3);
    cr_assert_str_eq(tg_sentences_text(s, 2), "last one");
    cr_assert_eq(tg_sentences_label(s, 2), 1);
    tg_sentences_free(s);
}

static void assert_sentences_refused(const char *text, const char *fragment)
{
    tg_error_clear();
    cr_assert_null(tg_sentences_parse(text, strlen(text), "reviews.txt"), "accepted %s", text);
    tg_assert_error("sentences_read: reviews.txt: ");
    tg_assert_error(fragment);
    tg_error_clear();
}

Test(text, a_bad_line_is_named_by_its_number)
{
    assert_sentences_refused("fine\t1\nno label here\n", "line 2: no tab between the sentence and its label");
    assert_sentences_refused("fine\t1\nok\t0\n\nbad\t2\n", "line 4: the label \"2\" is not 0 or 1");
    assert_sentences_refused("bad\t\n", "line 1: the label \"\" is not 0 or 1");
    assert_sentences_refused("bad\t10\n", "line 1: the label \"10\" is not 0 or 1");
    assert_sentences_refused("bad\t1 \n", "line 1: the label \"1 \" is not 0 or 1");
    assert_sentences_refused("x\t0\n   \t1\n", "line 2: the sentence is empty");
    cr_assert_null(tg_sentences_read(io_path("none.txt")));
    tg_assert_error("none.txt: cannot open");
}

/* Random lines from the format's special bytes: the reader either returns
 * sentences that keep its promises or refuses with a line number. */
Test(text, random_input_never_breaks_the_sentence_reader)
{
    const char *pieces[] = { "\t", "\n", "\r", " ", "0", "1", "a", "\xc2\x85", "\"" };
    tg_rng rng;
    tg_rng_seed(&rng, 11);
    char text[64];
    int parsed = 0;
    for (int trial = 0; trial < 3000; trial++) {
        size_t n = 0;
        for (int k = (int)tg_rng_below(&rng, 24); k > 0; k--) {
            const char *piece = pieces[tg_rng_below(&rng, 9)];
            memcpy(text + n, piece, strlen(piece));
            n += strlen(piece);
        }
        tg_error_clear();
        tg_sentences *s = tg_sentences_parse(text, n, "random");
        if (!s) {
            tg_assert_error("sentences_read: random: line ");
            continue;
        }
        parsed++;
        for (int i = 0; i < tg_sentences_count(s); i++) {
            const char *sentence = tg_sentences_text(s, i);
            size_t length = strlen(sentence);
            cr_assert(length > 0 && sentence[length - 1] != ' ' && !strchr(sentence, '\n'));
            cr_assert(tg_sentences_label(s, i) == 0 || tg_sentences_label(s, i) == 1);
        }
        tg_sentences_free(s);
    }
    cr_assert_gt(parsed, 100);
}
