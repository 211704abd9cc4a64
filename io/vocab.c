/* The word vocabulary: counting in a hash table, ids by frequency, a hash
 * index from token to id, and the one-token-per-line file. */
#include "io/vocab.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "tensor/error.h"

#define VOCAB_FILE_MAX ((size_t)64 << 20)

static const char *const reserved[2] = { "<pad>", "<unk>" };

struct tg_vocab {
    char **tokens;   /* tokens[id], owned */
    int64_t *counts; /* counts[id] */
    int size, capacity;
    int *slots;      /* hash index: an id, or -1 for an empty slot */
    size_t n_slots;  /* a power of two, more than twice size */
};

/* FNV-1a. */
static uint64_t hash(const char *s)
{
    uint64_t h = 14695981039346656037u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static size_t table_size(size_t n)
{
    size_t size = 16;
    while (size <= 2 * n)
        size *= 2;
    return size;
}

/* The slot of token: where its id is, or the empty slot it would take. */
static size_t find_slot(const int *slots, size_t n_slots, char *const *tokens, const char *token)
{
    size_t mask = n_slots - 1, i = hash(token) & mask;
    while (slots[i] >= 0 && strcmp(tokens[slots[i]], token) != 0)
        i = (i + 1) & mask;
    return i;
}

void tg_vocab_free(tg_vocab *v)
{
    if (!v)
        return;
    for (int i = 0; i < v->size; i++)
        free(v->tokens[i]);
    free(v->tokens);
    free(v->counts);
    free(v->slots);
    free(v);
}

/* Makes room for `capacity` ids, rebuilding the index larger. */
static int vocab_reserve(tg_vocab *v, int capacity)
{
    if (capacity <= v->capacity)
        return 0;
    char **tokens = realloc(v->tokens, (size_t)capacity * sizeof *tokens);
    if (tokens)
        v->tokens = tokens;
    int64_t *counts = realloc(v->counts, (size_t)capacity * sizeof *counts);
    if (counts)
        v->counts = counts;
    size_t n_slots = table_size((size_t)capacity);
    int *slots = malloc(n_slots * sizeof *slots);
    if (!tokens || !counts || !slots) {
        free(slots);
        return -1;
    }
    memset(slots, 0xff, n_slots * sizeof *slots); /* every slot -1 */
    for (int id = 0; id < v->size; id++)
        slots[find_slot(slots, n_slots, v->tokens, v->tokens[id])] = id;
    free(v->slots);
    v->slots = slots;
    v->n_slots = n_slots;
    v->capacity = capacity;
    return 0;
}

/* Appends a copy of token as the next id. Returns the new id; the id it
 * already has when present; -1 when out of memory or ids. */
static int vocab_add(tg_vocab *v, const char *token, int64_t count)
{
    if (v->size == v->capacity) {
        int grown = v->capacity == 0              ? 64
                    : v->capacity < INT32_MAX / 2 ? 2 * v->capacity
                                                  : INT32_MAX;
        if (v->size == INT32_MAX || vocab_reserve(v, grown) != 0)
            return -1;
    }
    size_t slot = find_slot(v->slots, v->n_slots, v->tokens, token);
    if (v->slots[slot] >= 0)
        return v->slots[slot];
    char *copy = strdup(token);
    if (!copy)
        return -1;
    v->tokens[v->size] = copy;
    v->counts[v->size] = count;
    v->slots[slot] = v->size;
    return v->size++;
}

/* A vocabulary holding only <pad> and <unk>. */
static tg_vocab *vocab_new(const char *op)
{
    tg_vocab *v = calloc(1, sizeof *v);
    if (!v || vocab_add(v, reserved[0], 0) < 0 || vocab_add(v, reserved[1], 0) < 0) {
        tg_vocab_free(v);
        tg_error_set("%s: out of memory", op);
        return NULL;
    }
    return v;
}

/* ---- Building ------------------------------------------------------------- */

typedef struct counted {
    const char *token; /* borrowed from the lists */
    int64_t count;
} counted;

/* Counts of every distinct token, in an open-addressing table. */
static counted *count_tokens(const tg_tokens *const *lists, int n, size_t *n_slots)
{
    size_t total = 0;
    for (int l = 0; l < n; l++)
        total += lists[l] ? (size_t)lists[l]->count : 0;
    *n_slots = table_size(total);
    counted *table = calloc(*n_slots, sizeof *table);
    if (!table)
        return NULL;
    size_t mask = *n_slots - 1;
    for (int l = 0; l < n; l++) {
        for (int t = 0; lists[l] && t < lists[l]->count; t++) {
            const char *token = lists[l]->token[t];
            size_t i = hash(token) & mask;
            while (table[i].token && strcmp(table[i].token, token) != 0)
                i = (i + 1) & mask;
            table[i].token = token;
            table[i].count++;
        }
    }
    return table;
}

/* Most frequent first, then in byte order; empty slots last. */
static int compare_counted(const void *pa, const void *pb)
{
    const counted *a = pa, *b = pb;
    if (!a->token || !b->token)
        return !a->token - !b->token;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return strcmp(a->token, b->token);
}

tg_vocab *tg_vocab_build(const tg_tokens *const *lists, int n, tg_vocab_config config)
{
    if (!lists && n > 0)
        return NULL;
    if (n < 0 || config.min_count < 0 || (config.max_size != 0 && config.max_size < 2)) {
        tg_error_set("vocab_build: %d lists, min_count %lld, max_size %d: counts cannot be "
                     "negative, and max_size must be 0 (no limit) or at least 2", n,
                     (long long)config.min_count, config.max_size);
        return NULL;
    }
    int64_t min_count = config.min_count ? config.min_count : 1;
    size_t n_slots;
    counted *table = count_tokens(lists, n, &n_slots);
    if (!table) {
        tg_error_set("vocab_build: out of memory");
        return NULL;
    }
    qsort(table, n_slots, sizeof *table, compare_counted);
    size_t kept = 0;
    while (kept < n_slots && table[kept].token && table[kept].count >= min_count)
        kept++;
    size_t limit = config.max_size ? (size_t)config.max_size : kept + 2;
    if (limit > kept + 2)
        limit = kept + 2;
    if (limit > INT32_MAX)
        limit = INT32_MAX;
    tg_vocab *v = vocab_new("vocab_build");
    bool ok = v && vocab_reserve(v, (int)limit) == 0;
    for (size_t i = 0; ok && i < kept && (size_t)v->size < limit; i++)
        ok = vocab_add(v, table[i].token, table[i].count) >= 0; /* "<pad>" in a list is skipped */
    free(table);
    if (!ok && v) {
        tg_vocab_free(v);
        tg_error_set("vocab_build: out of memory");
        return NULL;
    }
    return v;
}

/* ---- Using it ---------------------------------------------------------------- */

int tg_vocab_size(const tg_vocab *v) { return v ? v->size : 0; }

const char *tg_vocab_token(const tg_vocab *v, int id)
{
    return v && id >= 0 && id < v->size ? v->tokens[id] : NULL;
}

int64_t tg_vocab_frequency(const tg_vocab *v, int id)
{
    return v && id >= 0 && id < v->size ? v->counts[id] : -1;
}

int tg_vocab_id(const tg_vocab *v, const char *token)
{
    if (!v || !token)
        return TG_VOCAB_UNK;
    int id = v->slots[find_slot(v->slots, v->n_slots, v->tokens, token)];
    return id >= 0 ? id : TG_VOCAB_UNK;
}

uint64_t tg_vocab_hash(const tg_vocab *v)
{
    if (!v)
        return 0;
    uint64_t h = 14695981039346656037u;
    for (int id = 0; id < v->size; id++) {
        for (const char *s = v->tokens[id]; *s; s++)
            h = (h ^ (unsigned char)*s) * 1099511628211u;
        h *= 1099511628211u; /* the NUL after the token: h ^ 0 is h */
    }
    return h;
}

int tg_vocab_encode(const tg_vocab *v, const tg_tokens *tokens, int *ids)
{
    if (!v || !tokens || (tokens->count > 0 && !ids))
        return -1;
    for (int i = 0; i < tokens->count; i++)
        ids[i] = tg_vocab_id(v, tokens->token[i]);
    return 0;
}

char *tg_vocab_decode(const tg_vocab *v, const int *ids, int n)
{
    if (!v || (n > 0 && !ids))
        return NULL;
    size_t length = 1;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= v->size) {
            tg_error_set("vocab_decode: id %d at position %d is outside [0, %d)", ids[i], i,
                         v->size);
            return NULL;
        }
        length += strlen(v->tokens[ids[i]]) + 1;
    }
    char *text = malloc(length), *end = text;
    if (!text) {
        tg_error_set("vocab_decode: out of memory");
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        if (ids[i] == TG_VOCAB_PAD)
            continue;
        if (end != text)
            *end++ = ' ';
        size_t k = strlen(v->tokens[ids[i]]);
        memcpy(end, v->tokens[ids[i]], k);
        end += k;
    }
    *end = '\0';
    return text;
}

/* ---- The file ---------------------------------------------------------------- */

int tg_vocab_save(const tg_vocab *v, const char *path)
{
    if (!v || !path)
        return tg_error_null_input("vocab_save");
    for (int id = 0; id < v->size; id++)
        if (strpbrk(v->tokens[id], "\r\n") || !v->tokens[id][0])
            return tg_error_set("vocab_save: %s: token %d is empty or holds a line break", path,
                                id);
    tg_atomic_file *file = tg_atomic_file_open(path, "vocab_save");
    if (!file)
        return -1;
    for (int id = 0; id < v->size; id++) {
        tg_atomic_file_write(file, v->tokens[id], strlen(v->tokens[id]));
        tg_atomic_file_write(file, "\n", 1);
    }
    return tg_atomic_file_commit(file);
}

/* Checks the token of one line of a vocabulary file (its line end
 * excluded) and adds it, unless it is one of the two reserved tokens
 * already there. */
static int load_line(tg_vocab *v, char *begin, char *end, int line, const char *path)
{
    *end = '\0';
    if (begin == end)
        return tg_error_set("vocab_load: %s: line %d is empty", path, line);
    if (line <= 2) {
        if (strcmp(begin, reserved[line - 1]) != 0)
            return tg_error_set("vocab_load: %s: line %d is \"%s\", not %s", path, line,
                                tg_quoted(begin), reserved[line - 1]);
        return 0;
    }
    int before = v->size, id = vocab_add(v, begin, 0);
    if (id < 0)
        return tg_error_set("vocab_load: %s: out of memory at line %d", path, line);
    if (id < before)
        return tg_error_set("vocab_load: %s: line %d: the token \"%s\" is also on line %d",
                            path, line, tg_quoted(begin), id + 1);
    return 0;
}

/* Parses the lines of text (size bytes and a spare one, modified). */
static tg_vocab *parse_lines(char *text, size_t size, const char *label)
{
    if (tg_text_check(text, &size, "vocab_load", label) != 0)
        return NULL;
    tg_vocab *v = vocab_new("vocab_load");
    size_t pos = 0;
    int line = 1;
    for (; v && pos < size; line++) {
        const char *begin;
        size_t length = tg_text_next_line(text, size, &pos, &begin);
        char *start = text + (begin - text);
        if (load_line(v, start, start + length, line, label) != 0) {
            tg_vocab_free(v);
            v = NULL;
        }
    }
    if (v && line <= 2) {
        tg_error_set("vocab_load: %s: the file must start with the lines <pad> and <unk>", label);
        tg_vocab_free(v);
        v = NULL;
    }
    return v;
}

tg_vocab *tg_vocab_load(const char *path)
{
    size_t size = 0;
    char *text = tg_file_read(path, VOCAB_FILE_MAX, &size, "vocab_load");
    tg_vocab *v = text ? parse_lines(text, size, path) : NULL;
    free(text);
    return v;
}

tg_vocab *tg_vocab_parse(const char *text, size_t size, const char *label)
{
    label = label ? label : "<memory>";
    char *copy = tg_file_copy(text, size, VOCAB_FILE_MAX, label, "vocab_load");
    tg_vocab *v = copy ? parse_lines(copy, size, label) : NULL;
    free(copy);
    return v;
}
