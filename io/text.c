/* Text corpora: reading, the byte vocabulary and the word tokenizer. */
#include "io/text.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "tensor/error.h"

/* ---- The text rule ------------------------------------------------------------ */

size_t tg_text_line_end(const char *text, size_t size, size_t i)
{
    if (i >= size || (text[i] != '\n' && text[i] != '\r'))
        return 0;
    return text[i] == '\r' && i + 1 < size && text[i + 1] == '\n' ? 2 : 1;
}

size_t tg_text_next_line(const char *text, size_t size, size_t *pos, const char **line)
{
    size_t start = *pos < size ? *pos : size, end = start;
    while (end < size && text[end] != '\n' && text[end] != '\r')
        end++;
    *line = text + start;
    *pos = end + tg_text_line_end(text, size, end);
    if (end == size)
        *pos = size;
    return end - start;
}

int tg_text_check(char *text, size_t *size, const char *op, const char *label)
{
    if (*size >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        memmove(text, text + 3, *size - 3 + 1); /* the NUL after the text too */
        *size -= 3;
    }
    const char *nul = memchr(text, '\0', *size);
    if (!nul)
        return 0;
    int line = 1;
    for (size_t pos = 0; pos < *size;) {
        const char *start;
        size_t length = tg_text_next_line(text, *size, &pos, &start);
        if (nul < start + length || pos >= *size)
            break;
        line++;
    }
    return tg_error_set("%s: %s: line %d: a NUL byte (text files hold none)", op, label, line);
}

/* ---- Corpus ------------------------------------------------------------------ */

char *tg_text_read(const char *path, size_t max_bytes, size_t *size)
{
    if (!path || !size)
        return tg_null_input("text_read");
    char *text = tg_file_read(path, max_bytes ? max_bytes : TG_TEXT_MAX_BYTES, size, "text_read");
    if (text && tg_text_check(text, size, "text_read", path) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* ---- Character vocabulary --------------------------------------------------- */

tg_char_vocab tg_char_vocab_build(const char *text, size_t size)
{
    bool seen[256] = { false };
    for (size_t i = 0; text && i < size; i++)
        seen[(unsigned char)text[i]] = true;
    tg_char_vocab vocab = { .size = 0 };
    for (int b = 0; b < 256; b++) {
        vocab.ids[b] = seen[b] ? (int16_t)vocab.size : -1;
        if (seen[b])
            vocab.bytes[vocab.size++] = (unsigned char)b;
    }
    return vocab;
}

int tg_char_vocab_encode(const tg_char_vocab *vocab, const char *text, size_t size, int *ids)
{
    if (!vocab || (size > 0 && (!text || !ids)))
        return -1;
    for (size_t i = 0; i < size; i++) {
        int id = vocab->ids[(unsigned char)text[i]];
        if (id < 0)
            return tg_error_set("char_vocab_encode: byte %zu (0x%02x) is not in the vocabulary", i,
                                (unsigned char)text[i]);
        ids[i] = id;
    }
    return 0;
}

int tg_char_vocab_decode(const tg_char_vocab *vocab, const int *ids, size_t n, char *out)
{
    if (!vocab || !out || (n > 0 && !ids))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= vocab->size) {
            out[i] = '\0';
            return tg_error_set("char_vocab_decode: id %d at position %zu is outside [0, %d)",
                                ids[i], i, vocab->size);
        }
        out[i] = (char)vocab->bytes[ids[i]];
    }
    out[n] = '\0';
    return 0;
}

/* ---- Word tokenizer ----------------------------------------------------------- */

typedef enum { SEPARATOR, WORD, PUNCTUATION, APOSTROPHE } byte_kind;

/* The kind of the character at s[i], and its length in bytes. */
static byte_kind kind_at(const unsigned char *s, size_t n, size_t i, size_t *length)
{
    unsigned char c = s[i];
    *length = 1;
    if (c >= 0x80) {
        /* U+0080..U+00A0 (C1 controls, no-break space) are C2 80..C2 A0. */
        if (c == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0xa0) {
            *length = 2;
            return SEPARATOR;
        }
        return WORD; /* other UTF-8 bytes belong to words, kept as they are */
    }
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return WORD;
    if (c == '\'')
        return APOSTROPHE;
    return c > ' ' && c < 0x7f ? PUNCTUATION : SEPARATOR;
}

/* Finds the token at or after *pos: its span [*start, *start + length);
 * length 0 at the end of the text. */
static size_t next_token(const unsigned char *s, size_t n, size_t *pos, size_t *start)
{
    size_t i = *pos, length;
    byte_kind kind = SEPARATOR;
    while (i < n && (kind = kind_at(s, n, i, &length)) == SEPARATOR)
        i += length;
    *start = i;
    if (i >= n)
        return 0;
    i += length;
    if (kind == WORD) {
        while (i < n) {
            byte_kind next = kind_at(s, n, i, &length);
            size_t after;
            if (next == APOSTROPHE && i + 1 < n && kind_at(s, n, i + 1, &after) == WORD)
                next = WORD; /* an apostrophe inside a word */
            if (next != WORD)
                break;
            i += length;
        }
    }
    *pos = i;
    return i - *start;
}

tg_tokens *tg_text_tokenize(const char *text, size_t size)
{
    if (!text && size > 0)
        return NULL;
    const unsigned char *s = (const unsigned char *)text;
    size_t count = 0, bytes = 0, pos = 0, start, length;
    while ((length = next_token(s, size, &pos, &start)) > 0) {
        count++;
        bytes += length + 1;
    }
    if (count > INT32_MAX) {
        tg_error_set("text_tokenize: %zu tokens, more than %d", count, INT32_MAX);
        return NULL;
    }
    /* One block: the struct, the pointers, then the characters. */
    tg_tokens *tokens = malloc(sizeof *tokens + count * sizeof(char *) + bytes);
    if (!tokens) {
        tg_error_set("text_tokenize: out of memory for %zu tokens", count);
        return NULL;
    }
    const char **token = (const char **)(tokens + 1);
    char *chars = (char *)(token + count);
    tokens->count = (int)count;
    tokens->token = token;
    pos = 0;
    for (size_t t = 0; t < count; t++) {
        length = next_token(s, size, &pos, &start);
        token[t] = chars;
        for (size_t i = 0; i < length; i++) {
            unsigned char c = s[start + i];
            *chars++ = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
        }
        *chars++ = '\0';
    }
    return tokens;
}

void tg_tokens_free(tg_tokens *tokens) { free(tokens); }
