/*
 * tests/fuzz/fuzz_checks.h: what each fuzz target does with one input, and
 * what must hold afterwards.
 *
 * Each check feeds the bytes to a reader and then uses whatever it
 * returned: every tensor element, field and token is touched, so that a
 * read past a buffer shows under AddressSanitizer. It returns NULL when the
 * reader behaved (loaded something consistent, or refused the input with a
 * message naming the reader and the input), else what went wrong. The
 * libFuzzer programs (fuzz_main.c) abort on such a message; the regression
 * test (tests/reliability/test_fuzz_replay.c) asserts there is none, for
 * every committed seed and every input that once broke a reader.
 */
#ifndef TG_FUZZ_CHECKS_H
#define TG_FUZZ_CHECKS_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <tapegrad.h>
#include <tensor/kernel.h>

/* NULL when the recorded error starts with prefix, else why not. */
static inline const char *fuzz_refused_with(const char *prefix)
{
    if (!tg_error_occurred())
        return "the input was refused without an error message";
    if (strncmp(tg_error_message(), prefix, strlen(prefix)) != 0)
        return "the error message does not start with the reader's name and the input's label";
    return NULL;
}

/* Adds every element (NaN and Inf are fine: any bit pattern may load). */
static inline double fuzz_touch(const tg_tensor *t)
{
    double sum = 0;
    for (int64_t i = 0; i < t->numel; i++)
        sum += t->dtype == TG_INT64 ? (double)t->i64[i] : t->data[i];
    return sum;
}

/* ---- Safetensors, and checkpoints read through it ------------------------------ */

/* What a loaded file must look like: names unique and found by name, every
 * shape's element count that of its tensor. */
static inline const char *fuzz_check_loaded_file(const tg_safetensors *file)
{
    int n = tg_safetensors_count(file);
    for (int i = 0; i < n; i++) {
        const char *name = tg_safetensors_name(file, i);
        const tg_tensor *t = tg_safetensors_tensor(file, i);
        if (!name || !t || tg_safetensors_get(file, name) != t)
            return "a tensor is not found under its own name";
        if (tg_shape_numel(tg_tensor_shape(t), "fuzz") != t->numel || !tg_tensor_is_contiguous(t))
            return "a tensor's shape does not match its element count";
        fuzz_touch(t);
    }
    for (int i = 0; i < tg_safetensors_metadata_count(file); i++) {
        const char *key = tg_safetensors_metadata_key(file, i);
        const char *value = tg_safetensors_metadata_value(file, i);
        if (!key || !value || tg_safetensors_metadata(file, key) != value)
            return "a metadata entry is not found under its own key";
    }
    return tg_safetensors_name(file, n) || tg_safetensors_tensor(file, -1)
               ? "an index out of range gave a tensor"
               : NULL;
}

/* The model a fuzzed checkpoint is loaded into: "w" [2, 3], "b" [3], with
 * Adam's state (the seeds hold checkpoints of exactly this model). */
static inline const char *fuzz_load_checkpoint(const tg_safetensors *file)
{
    tg_model *model = tg_model_new(1);
    tg_model_add_parameter(model, "w", TG_SHAPE(2, 3));
    tg_model_add_parameter(model, "b", TG_SHAPE(3));
    tg_optimizer *opt = tg_adam_new(model, (tg_adam_config){ 0 });
    tg_rng data = tg_rng_new(2);
    tg_checkpoint ck = { .model = model, .optimizer = opt, .rngs = { { "data", &data } } };
    tg_load_report report;
    const char *problem = NULL;
    /* Each load either succeeds or fails with a message of its own. */
    tg_error_clear();
    if (tg_model_load_from(model, file, TG_LOAD_RELAXED, "optim.", &report) != 0 &&
        !tg_error_occurred())
        problem = "a relaxed model load failed without a message";
    tg_error_clear();
    if (!problem && tg_checkpoint_restore(file, &ck) != 0 && !tg_error_occurred())
        problem = "a checkpoint restore failed without a message";
    else if (!problem && !tg_error_occurred() && (ck.step < 0 || ck.epoch < 0))
        problem = "a restored checkpoint has a negative step or epoch";
    tg_error_clear();
    tg_optimizer_free(opt);
    tg_model_free(model);
    return problem;
}

static inline const char *fuzz_safetensors(const uint8_t *data, size_t size)
{
    tg_error_clear();
    tg_safetensors *file = tg_safetensors_load_memory(data, size, "fuzz");
    if (!file)
        return fuzz_refused_with("safetensors_load: fuzz: ");
    const char *problem = fuzz_check_loaded_file(file);
    if (!problem)
        problem = fuzz_load_checkpoint(file);
    tg_safetensors_free(file);
    return problem;
}

/* ---- CSV ---------------------------------------------------------------------------- */

/* Every field read as text and as a number, the columns found by name,
 * and the whole table as a tensor. */
static inline const char *fuzz_check_table(const tg_csv *csv)
{
    int rows = tg_csv_rows(csv), columns = tg_csv_columns(csv);
    if (rows < 0 || columns < 1)
        return "a loaded table has no columns";
    const char **names = malloc(sizeof *names * (size_t)columns);
    const char *problem = NULL;
    for (int c = 0; c < columns && !problem; c++) {
        names[c] = tg_csv_column_name(csv, c);
        if (!names[c] || tg_csv_column(csv, names[c]) != c)
            problem = "a column is not found under its own name";
    }
    for (int r = 0; r < rows && !problem; r++) {
        if (tg_csv_line(csv, r) < 2 || (r > 0 && tg_csv_line(csv, r) <= tg_csv_line(csv, r - 1)))
            problem = "row line numbers do not increase from 2";
        for (int c = 0; c < columns && !problem; c++) {
            float value;
            if (!tg_csv_field(csv, r, c))
                problem = "a field inside the table is NULL";
            else if (tg_csv_float(csv, r, c, &value) != 0)
                problem = fuzz_refused_with("csv_float: fuzz: line ");
            tg_error_clear();
        }
    }
    if (!problem) {
        tg_tensor *t = tg_tensor_from_csv(csv, names, columns);
        if (t && t->numel != (int64_t)rows * columns)
            problem = "the table's tensor has the wrong size";
        else if (!t && !tg_error_occurred())
            problem = "the table's tensor failed without a message";
        tg_tensor_free(t);
        tg_error_clear();
    }
    free(names);
    return problem;
}

/* The first byte picks the delimiter (the default, ';' or a tab), so that
 * the fuzzer tries all three on the same text. */
static inline const char *fuzz_csv(const uint8_t *data, size_t size)
{
    static const char delimiters[3] = { 0, ';', '\t' };
    char delimiter = size > 0 ? delimiters[data[0] % 3] : 0;
    tg_error_clear();
    tg_csv *csv = tg_csv_parse(size > 0 ? (const char *)data + 1 : "", size > 0 ? size - 1 : 0,
                               "fuzz", (tg_csv_config){ .delimiter = delimiter });
    if (!csv)
        return fuzz_refused_with("csv_read: fuzz: ");
    const char *problem = fuzz_check_table(csv);
    tg_csv_free(csv);
    return problem;
}

/* ---- Text: characters, words and labelled sentences ------------------------------------- */

/* Byte ids encode and decode back to the same bytes. */
static inline const char *fuzz_check_char_vocab(const char *text, size_t size)
{
    tg_char_vocab vocab = tg_char_vocab_build(text, size);
    int *ids = malloc(sizeof *ids * (size + 1));
    char *back = malloc(size + 1);
    const char *problem = NULL;
    if (tg_char_vocab_encode(&vocab, text, size, ids) != 0 ||
        tg_char_vocab_decode(&vocab, ids, size, back) != 0)
        problem = "the text's own bytes do not encode and decode";
    else if (memcmp(back, text, size) != 0)
        problem = "decoding the text's ids did not give the text back";
    free(ids);
    free(back);
    return problem;
}

/* Tokens are non-empty and hold no ASCII upper case or whitespace. */
static inline const char *fuzz_check_tokens(const tg_tokens *tokens)
{
    for (int i = 0; i < tokens->count; i++) {
        const char *t = tokens->token[i];
        if (!t[0])
            return "a token is empty";
        for (; *t; t++)
            if ((*t >= 'A' && *t <= 'Z') || *t == ' ' || *t == '\n' || *t == '\t')
                return "a token holds upper case or whitespace";
    }
    return NULL;
}

static inline const char *fuzz_check_sentences(const tg_sentences *s)
{
    for (int i = 0; i < tg_sentences_count(s); i++) {
        const char *text = tg_sentences_text(s, i);
        int label = tg_sentences_label(s, i);
        if (!text || !text[0] || (label != 0 && label != 1) || tg_sentences_line(s, i) < 1)
            return "a sentence is empty, or its label or line is out of range";
        tg_tokens *words = tg_text_tokenize(text, strlen(text));
        const char *problem = words ? fuzz_check_tokens(words) : "a sentence did not tokenize";
        tg_tokens_free(words);
        if (problem)
            return problem;
    }
    return NULL;
}

static inline const char *fuzz_text(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data, *problem = NULL;
    tg_error_clear();
    tg_tokens *tokens = tg_text_tokenize(text, size);
    problem = tokens ? fuzz_check_tokens(tokens) : "the text did not tokenize";
    tg_tokens_free(tokens);
    if (!problem)
        problem = fuzz_check_char_vocab(text, size);
    if (problem)
        return problem;
    tg_sentences *sentences = tg_sentences_parse(text, size, "fuzz");
    if (!sentences)
        return fuzz_refused_with("sentences_read: fuzz: ");
    problem = fuzz_check_sentences(sentences);
    tg_sentences_free(sentences);
    return problem;
}

/* ---- Word vocabularies -------------------------------------------------------------------- */

/* Every token maps to its own id, and the ids decode and encode back. */
static inline const char *fuzz_check_vocab(const tg_vocab *vocab)
{
    int n = tg_vocab_size(vocab);
    if (n < 2 || strcmp(tg_vocab_token(vocab, TG_VOCAB_PAD), "<pad>") != 0 ||
        strcmp(tg_vocab_token(vocab, TG_VOCAB_UNK), "<unk>") != 0)
        return "a vocabulary lacks <pad> and <unk> first";
    for (int id = 0; id < n; id++)
        if (tg_vocab_id(vocab, tg_vocab_token(vocab, id)) != id)
            return "a token does not map back to its id";
    if (tg_vocab_token(vocab, n) || tg_vocab_token(vocab, -1))
        return "an id out of range gave a token";
    int *ids = malloc(sizeof *ids * (size_t)n);
    for (int id = 0; id < n; id++)
        ids[id] = id;
    char *text = tg_vocab_decode(vocab, ids, n);
    free(ids);
    const char *problem = text ? NULL : "the vocabulary's own ids do not decode";
    free(text);
    return problem;
}

/* The input is read as a vocabulary file; its words also build one. */
static inline const char *fuzz_vocab(const uint8_t *data, size_t size)
{
    tg_error_clear();
    tg_vocab *loaded = tg_vocab_parse((const char *)data, size, "fuzz");
    const char *problem = loaded ? fuzz_check_vocab(loaded) : fuzz_refused_with("vocab_load: fuzz: ");
    tg_vocab_free(loaded);
    if (problem)
        return problem;
    tg_error_clear();
    tg_tokens *words = tg_text_tokenize((const char *)data, size);
    tg_vocab *built = words ? tg_vocab_build((const tg_tokens *const[]){ words }, 1,
                                             (tg_vocab_config){ .max_size = 64 })
                            : NULL;
    if (!built)
        problem = "the input's words did not build a vocabulary";
    else if (!(problem = fuzz_check_vocab(built))) {
        int *ids = malloc(sizeof *ids * ((size_t)words->count + 1));
        if (tg_vocab_encode(built, words, ids) != 0)
            problem = "the words did not encode with their own vocabulary";
        free(ids);
    }
    tg_vocab_free(built);
    tg_tokens_free(words);
    return problem;
}

#include "fuzz_more.h"

#endif
