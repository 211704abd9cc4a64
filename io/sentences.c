/* Labelled sentences: "sentence<TAB>label" per line. The text is kept in
 * one buffer; each sentence is cut in place (its tab becomes a NUL). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "io/text.h"
#include "tensor/error.h"

#define OP "sentences_read"

typedef struct sentence {
    const char *text;
    int label, line;
} sentence;

struct tg_sentences {
    char *buffer;
    sentence *items;
    int count, capacity;
};

static int add(tg_sentences *s, const char *text, int label, int line, const char *source)
{
    if (s->count == s->capacity) {
        int grown = s->capacity == 0                ? 256
                    : s->capacity < INT32_MAX / 2 ? s->capacity * 2
                                                  : INT32_MAX;
        sentence *items = realloc(s->items, (size_t)grown * sizeof *items);
        if (!items)
            return tg_error_set(OP ": %s: out of memory at line %d", source, line);
        s->items = items;
        s->capacity = grown;
    }
    s->items[s->count++] = (sentence){ text, label, line };
    return 0;
}

/* Parses line [begin, end) (its line end excluded), cutting it in place. */
static int parse_line(tg_sentences *s, char *begin, char *end, int line, const char *source)
{
    if (end == begin)
        return 0; /* an empty line */
    char *tab = NULL;
    for (char *c = end - 1; c >= begin && !tab; c--)
        if (*c == '\t')
            tab = c;
    if (!tab)
        return tg_error_set(OP ": %s: line %d: no tab between the sentence and its label",
                            source, line);
    size_t label_length = (size_t)(end - tab - 1);
    if (label_length != 1 || (tab[1] != '0' && tab[1] != '1')) {
        char label[33];
        snprintf(label, sizeof label, "%.*s", (int)(label_length < 32 ? label_length : 32), tab + 1);
        return tg_error_set(OP ": %s: line %d: the label \"%s\" is not 0 or 1", source, line,
                            tg_quoted(label));
    }
    char *text_end = tab;
    while (text_end > begin && text_end[-1] == ' ')
        text_end--;
    if (text_end == begin)
        return tg_error_set(OP ": %s: line %d: the sentence is empty", source, line);
    int label = tab[1] - '0';
    *text_end = '\0';
    return add(s, begin, label, line, source);
}

/* Parses size bytes of buffer (which has a spare byte after them), taking
 * ownership of it. */
static tg_sentences *parse_owned(char *buffer, size_t size, const char *source)
{
    tg_sentences *s = calloc(1, sizeof *s);
    if (!s) {
        free(buffer);
        tg_error_set(OP ": %s: out of memory", source);
        return NULL;
    }
    s->buffer = buffer;
    if (tg_text_check(buffer, &size, OP, source) != 0) {
        tg_sentences_free(s);
        return NULL;
    }
    size_t pos = 0;
    for (int line = 1; pos < size; line++) {
        const char *begin;
        size_t length = tg_text_next_line(buffer, size, &pos, &begin);
        if (line == INT32_MAX)
            tg_error_set(OP ": %s: more than %d lines", source, INT32_MAX - 1);
        /* The line's own bytes, in the buffer this function owns. */
        char *line_start = buffer + (begin - buffer);
        if (line == INT32_MAX ||
            parse_line(s, line_start, line_start + length, line, source) != 0) {
            tg_sentences_free(s);
            return NULL;
        }
    }
    return s;
}

tg_sentences *tg_sentences_read(const char *path)
{
    size_t size = 0;
    char *buffer = tg_file_read(path, TG_TEXT_MAX_BYTES, &size, OP);
    return buffer ? parse_owned(buffer, size, path) : NULL;
}

tg_sentences *tg_sentences_parse(const char *text, size_t size, const char *label)
{
    label = label ? label : "<memory>";
    char *buffer = tg_file_copy(text, size, TG_TEXT_MAX_BYTES, label, OP);
    return buffer ? parse_owned(buffer, size, label) : NULL;
}

void tg_sentences_free(tg_sentences *s)
{
    if (!s)
        return;
    free(s->buffer);
    free(s->items);
    free(s);
}

int tg_sentences_count(const tg_sentences *s) { return s ? s->count : 0; }

const char *tg_sentences_text(const tg_sentences *s, int i)
{
    return s && i >= 0 && i < s->count ? s->items[i].text : NULL;
}

int tg_sentences_label(const tg_sentences *s, int i)
{
    return s && i >= 0 && i < s->count ? s->items[i].label : -1;
}

int tg_sentences_line(const tg_sentences *s, int i)
{
    return s && i >= 0 && i < s->count ? s->items[i].line : -1;
}
