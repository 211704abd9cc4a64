/* The word vocabulary: ids by frequency, limits, encode and decode, and the
 * one-token-per-line file with its checks. */
#include "io/io_support.h"

TestSuite(vocab, .init = io_setup, .fini = io_teardown);

static tg_tokens *tokenize(const char *text) { return tg_text_tokenize(text, strlen(text)); }

static tg_vocab *build(const char *text, tg_vocab_config config)
{
    tg_tokens *tokens = tokenize(text);
    tg_vocab *vocab = tg_vocab_build((const tg_tokens *const[]){ tokens }, 1, config);
    cr_assert_not_null(vocab, "%s", tg_error_message());
    tg_tokens_free(tokens);
    return vocab;
}

static void assert_vocab(const tg_vocab *vocab, const char *const *expected, int n)
{
    cr_assert_eq(tg_vocab_size(vocab), n);
    for (int id = 0; id < n; id++)
        cr_assert_str_eq(tg_vocab_token(vocab, id), expected[id], "id %d", id);
    cr_assert_null(tg_vocab_token(vocab, n));
}

Test(vocab, ids_follow_frequency_then_byte_order_after_the_reserved_two)
{
    tg_vocab *vocab = build("b a c a b a y x y x", (tg_vocab_config){ 0 });
    assert_vocab(vocab, (const char *[]){ "<pad>", "<unk>", "a", "b", "x", "y", "c" }, 7);
    cr_assert_eq(tg_vocab_frequency(vocab, 2), 3);
    cr_assert_eq(tg_vocab_frequency(vocab, 5), 2);
    cr_assert_eq(tg_vocab_frequency(vocab, 6), 1);
    cr_assert_eq(tg_vocab_frequency(vocab, TG_VOCAB_PAD), 0);
    cr_assert_eq(tg_vocab_frequency(vocab, 7), -1);
    cr_assert_eq(tg_vocab_id(vocab, "x"), 4);
    cr_assert_eq(tg_vocab_id(vocab, "<unk>"), TG_VOCAB_UNK);
    cr_assert_eq(tg_vocab_id(vocab, "zebra"), TG_VOCAB_UNK);
    tg_vocab_free(vocab);
}

Test(vocab, min_count_and_max_size_trim_the_rare_tokens)
{
    tg_vocab *vocab = build("b a c a b a y x y x", (tg_vocab_config){ .min_count = 2 });
    assert_vocab(vocab, (const char *[]){ "<pad>", "<unk>", "a", "b", "x", "y" }, 6);
    tg_vocab_free(vocab);
    vocab = build("b a c a b a y x y x", (tg_vocab_config){ .max_size = 4 });
    assert_vocab(vocab, (const char *[]){ "<pad>", "<unk>", "a", "b" }, 4);
    tg_vocab_free(vocab);
    vocab = build("", (tg_vocab_config){ 0 });
    assert_vocab(vocab, (const char *[]){ "<pad>", "<unk>" }, 2);
    tg_vocab_free(vocab);
    cr_assert_null(tg_vocab_build(NULL, 0, (tg_vocab_config){ .max_size = 1 }));
    tg_assert_error("vocab_build: ");
    tg_assert_error("max_size must be 0 (no limit) or at least 2");
}

Test(vocab, counts_add_up_over_many_sentences)
{
    tg_sentences *s = tg_sentences_read(io_fixture("sentences.txt"));
    cr_assert_not_null(s, "%s", tg_error_message());
    int n = tg_sentences_count(s);
    tg_tokens *lists[6];
    for (int i = 0; i < n; i++)
        lists[i] = tokenize(tg_sentences_text(s, i));
    tg_vocab *vocab = tg_vocab_build((const tg_tokens *const *)lists, n, (tg_vocab_config){ 0 });
    cr_assert_not_null(vocab, "%s", tg_error_message());
    /* Each token's frequency is its naive count over all lists. */
    for (int id = 2; id < tg_vocab_size(vocab); id++) {
        int64_t count = 0;
        for (int i = 0; i < n; i++)
            for (int t = 0; t < lists[i]->count; t++)
                count += strcmp(lists[i]->token[t], tg_vocab_token(vocab, id)) == 0;
        cr_assert_eq(tg_vocab_frequency(vocab, id), count, "%s", tg_vocab_token(vocab, id));
        if (id > 2)
            cr_assert_geq(tg_vocab_frequency(vocab, id - 1), count);
    }
    /* Four tokens appear 5 times, more than any other: in byte order. */
    const char *top[4] = { ".", "in", "is", "the" };
    for (int k = 0; k < 4; k++) {
        cr_assert_str_eq(tg_vocab_token(vocab, 2 + k), top[k]);
        cr_assert_eq(tg_vocab_frequency(vocab, 2 + k), 5);
    }
    cr_assert_eq(tg_vocab_frequency(vocab, 6), 4);
    for (int i = 0; i < n; i++)
        tg_tokens_free(lists[i]);
    tg_vocab_free(vocab);
    tg_sentences_free(s);
}

Test(vocab, encode_and_decode)
{
    tg_vocab *vocab = build("the movie was the best movie", (tg_vocab_config){ 0 });
    tg_tokens *review = tokenize("The movie was boring.");
    cr_assert_eq(review->count, 5);
    int ids[5];
    cr_assert_eq(tg_vocab_encode(vocab, review, ids), 0);
    /* movie and the twice (movie first in byte order), then best and was. */
    cr_assert_arr_eq(ids, ((int[]){ 3, 2, 5, TG_VOCAB_UNK, TG_VOCAB_UNK }), sizeof ids);
    int padded[7] = { ids[0], ids[1], ids[2], ids[3], ids[4], TG_VOCAB_PAD, TG_VOCAB_PAD };
    char *text = tg_vocab_decode(vocab, padded, 7);
    cr_assert_str_eq(text, "the movie was <unk> <unk>");
    free(text);
    padded[2] = 99;
    cr_assert_null(tg_vocab_decode(vocab, padded, 7));
    tg_assert_error("vocab_decode: id 99 at position 2 is outside [0, 6)");
    tg_tokens_free(review);
    tg_vocab_free(vocab);
}

Test(vocab, a_saved_vocabulary_loads_back_with_the_same_ids)
{
    tg_vocab *vocab = build("b a c a b a don't caf\xc3\xa9", (tg_vocab_config){ 0 });
    const char *path = io_path("vocab.txt");
    cr_assert_eq(tg_vocab_save(vocab, path), 0, "%s", tg_error_message());
    size_t n;
    char *text = (char *)read_existing_file(path, &n);
    text[n] = '\0';
    cr_assert_str_eq(text, "<pad>\n<unk>\na\nb\nc\ncaf\xc3\xa9\ndon't\n");
    free(text);
    tg_vocab *loaded = tg_vocab_load(path);
    cr_assert_not_null(loaded, "%s", tg_error_message());
    cr_assert_eq(tg_vocab_size(loaded), tg_vocab_size(vocab));
    for (int id = 0; id < tg_vocab_size(vocab); id++) {
        cr_assert_str_eq(tg_vocab_token(loaded, id), tg_vocab_token(vocab, id));
        cr_assert_eq(tg_vocab_id(loaded, tg_vocab_token(vocab, id)), id);
        cr_assert_eq(tg_vocab_frequency(loaded, id), 0);
    }
    tg_vocab_free(vocab);
    tg_vocab_free(loaded);
}

Test(vocab, a_large_vocabulary_round_trips)
{
    /* 3000 distinct tokens: the index grows several times while loading. */
    size_t size = 3000 * 8;
    char *text = malloc(size), *end = text;
    for (int i = 0; i < 3000; i++)
        end += sprintf(end, "w%d ", i);
    tg_tokens *tokens = tg_text_tokenize(text, (size_t)(end - text));
    tg_vocab *vocab = tg_vocab_build((const tg_tokens *const[]){ tokens }, 1, (tg_vocab_config){ 0 });
    cr_assert_eq(tg_vocab_size(vocab), 3002);
    const char *path = io_path("large.txt");
    cr_assert_eq(tg_vocab_save(vocab, path), 0);
    tg_vocab *loaded = tg_vocab_load(path);
    cr_assert_not_null(loaded, "%s", tg_error_message());
    for (int i = 0; i < tokens->count; i++)
        cr_assert_eq(tg_vocab_id(loaded, tokens->token[i]), tg_vocab_id(vocab, tokens->token[i]));
    tg_vocab_free(loaded);
    tg_vocab_free(vocab);
    tg_tokens_free(tokens);
    free(text);
}

static void assert_load_refused(const char *text, const char *fragment)
{
    const char *path = io_path("bad_vocab.txt");
    io_write_text(path, text);
    tg_error_clear();
    cr_assert_null(tg_vocab_load(path), "loaded %s", text);
    tg_assert_error("vocab_load: ");
    tg_assert_error("bad_vocab.txt: ");
    tg_assert_error(fragment);
    tg_error_clear();
}

Test(vocab, a_bad_vocabulary_file_is_named_by_line)
{
    assert_load_refused("the\n<unk>\n", "line 1 is \"the\", not <pad>");
    assert_load_refused("<pad>\nthe\n", "line 2 is \"the\", not <unk>");
    assert_load_refused("<pad>\n<unk>\na\n\nb\n", "line 4 is empty");
    assert_load_refused("<pad>\n<unk>\na\nb\na\n", "line 5: the token \"a\" is also on line 3");
    assert_load_refused("<pad>\n<unk>\n<pad>\n", "line 3: the token \"<pad>\" is also on line 1");
    assert_load_refused("", "the file must start with the lines <pad> and <unk>");
    assert_load_refused("<pad>\n", "the file must start with the lines <pad> and <unk>");
    cr_assert_null(tg_vocab_load(io_path("absent.txt")));
    tg_assert_error("absent.txt: cannot open");
}

Test(vocab, crlf_and_a_missing_final_newline_are_accepted)
{
    const char *path = io_path("crlf.txt");
    io_write_text(path, "<pad>\r\n<unk>\r\nhello\r\nworld");
    tg_vocab *vocab = tg_vocab_load(path);
    cr_assert_not_null(vocab, "%s", tg_error_message());
    assert_vocab(vocab, (const char *[]){ "<pad>", "<unk>", "hello", "world" }, 4);
    tg_vocab_free(vocab);
}

Test(vocab, a_token_with_a_line_break_cannot_be_saved)
{
    const char *raw[] = { "fine", "two\nlines" };
    tg_tokens tokens = { .count = 2, .token = raw };
    tg_vocab *vocab = tg_vocab_build((const tg_tokens *const[]){ &tokens }, 1, (tg_vocab_config){ 0 });
    cr_assert_eq(tg_vocab_save(vocab, io_path("v.txt")), -1);
    tg_assert_error("vocab_save: ");
    tg_assert_error("token 3 is empty or holds a line break");
    cr_assert_eq(dir_entries(io_dir), 0);
    tg_vocab_free(vocab);
}

Test(vocab, a_vocabulary_parses_from_memory)
{
    const char text[] = "<pad>\n<unk>\nyes\nno\n";
    tg_vocab *vocab = tg_vocab_parse(text, sizeof text - 1, "inline");
    cr_assert_not_null(vocab, "%s", tg_error_message());
    cr_assert_eq(tg_vocab_id(vocab, "no"), 3);
    tg_vocab_free(vocab);
    cr_assert_null(tg_vocab_parse("<pad>\n<unk>\nyes\nyes\n", 20, "inline"));
    tg_assert_error("vocab_load: inline: line 4: the token \"yes\" is also on line 3");
}

/* Random files from the format's pieces: loaded vocabularies keep their
 * promises (distinct tokens, ids that find themselves), or a message. */
Test(vocab, random_input_never_breaks_the_loader)
{
    const char *pieces[] = { "<pad>\n", "<unk>\n", "a\n", "b\n", "\n", "\r\n", "x" };
    tg_rng rng;
    tg_rng_seed(&rng, 13);
    char text[256];
    int parsed = 0;
    for (int trial = 0; trial < 3000; trial++) {
        size_t n = 0;
        if (trial % 2) /* half begin as a valid file does */
            n = (size_t)sprintf(text, "<pad>\n<unk>\n");
        for (int k = (int)tg_rng_below(&rng, 12); k > 0; k--) {
            const char *piece = pieces[tg_rng_below(&rng, 7)];
            memcpy(text + n, piece, strlen(piece));
            n += strlen(piece);
        }
        tg_error_clear();
        tg_vocab *vocab = tg_vocab_parse(text, n, "random");
        if (!vocab) {
            tg_assert_error("vocab_load: random: ");
            continue;
        }
        parsed++;
        cr_assert_str_eq(tg_vocab_token(vocab, 0), "<pad>");
        cr_assert_str_eq(tg_vocab_token(vocab, 1), "<unk>");
        for (int id = 2; id < tg_vocab_size(vocab); id++)
            cr_assert_eq(tg_vocab_id(vocab, tg_vocab_token(vocab, id)), id);
        tg_vocab_free(vocab);
    }
    cr_assert_gt(parsed, 100);
}

Test(vocab, the_hash_tells_vocabularies_apart_by_tokens_and_ids)
{
    const char *a = "<pad>\n<unk>\nab\nc\n", *same = "<pad>\r\n<unk>\r\nab\r\nc\r\n",
               *swapped = "<pad>\n<unk>\nc\nab\n", *split = "<pad>\n<unk>\na\nbc\n";
    tg_vocab *va = tg_vocab_parse(a, strlen(a), "a"), *vs = tg_vocab_parse(same, strlen(same), "s"),
             *vw = tg_vocab_parse(swapped, strlen(swapped), "w"),
             *vp = tg_vocab_parse(split, strlen(split), "p");
    cr_assert(va && vs && vw && vp, "%s", tg_error_message());
    cr_assert_eq(tg_vocab_hash(va), tg_vocab_hash(vs));
    cr_assert_neq(tg_vocab_hash(va), tg_vocab_hash(vw));
    cr_assert_neq(tg_vocab_hash(va), tg_vocab_hash(vp));
    cr_assert_eq(tg_vocab_hash(NULL), 0);
    tg_vocab_free(va);
    tg_vocab_free(vs);
    tg_vocab_free(vw);
    tg_vocab_free(vp);
}
