/* Reading CSV (RFC 4180). The file's bytes are kept in one buffer and each
 * field is unescaped in place: a field's text never grows, so it always
 * fits where it was, followed by a NUL where its delimiter or line break
 * was (the buffer has one spare byte for the last field). */
#include "io/csv.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "io/text.h"

#define OP "csv_read"

struct tg_csv {
    char *label;
    char *text;     /* the file's bytes, fields unescaped and NUL-terminated */
    size_t *fields; /* offset in text of each field: the header's, then each row's */
    int *lines;     /* first line of each row, the header's included */
    int rows;       /* data rows */
    int columns;
};

typedef struct parser {
    tg_csv *csv;
    tg_csv_config config;
    char *text;
    size_t r, w, end; /* read and write positions; r >= w */
    int line;
    size_t n_fields, fields_capacity;
    int n_rows, rows_capacity; /* the header included */
} parser;

static int grow(void **items, size_t count, size_t *capacity, size_t size)
{
    if (count < *capacity)
        return 0;
    size_t grown = *capacity ? *capacity * 2 : 64;
    void *p = realloc(*items, grown * size);
    if (!p)
        return -1;
    *items = p;
    *capacity = grown;
    return 0;
}

static int push_field(parser *p)
{
    if (grow((void **)&p->csv->fields, p->n_fields, &p->fields_capacity, sizeof(size_t)) != 0)
        return tg_error_set(OP ": %s: out of memory", p->csv->label);
    p->csv->fields[p->n_fields++] = p->w;
    return 0;
}

static int push_row(parser *p, int line)
{
    size_t capacity = (size_t)p->rows_capacity;
    if (grow((void **)&p->csv->lines, (size_t)p->n_rows, &capacity, sizeof(int)) != 0)
        return tg_error_set(OP ": %s: out of memory", p->csv->label);
    p->rows_capacity = (int)capacity;
    p->csv->lines[p->n_rows++] = line;
    return 0;
}

/* Length of the line break at r (the text rule of io/text.h: LF, CRLF or
 * a lone CR); 0 when there is none. */
static size_t line_break(const parser *p) { return tg_text_line_end(p->text, p->end, p->r); }

static bool at_field_end(const parser *p)
{
    return p->r >= p->end || p->text[p->r] == p->config.delimiter || line_break(p) > 0;
}

static void parse_unquoted(parser *p)
{
    while (!at_field_end(p))
        p->text[p->w++] = p->text[p->r++];
}

static int parse_quoted(parser *p, int field)
{
    int open_line = p->line;
    p->r++; /* the opening quote */
    for (;;) {
        if (p->r >= p->end)
            return tg_error_set(OP ": %s: line %d, field %d: the quoted field is not closed",
                                p->csv->label, open_line, field);
        char c = p->text[p->r++];
        if (c == '"' && p->r < p->end && p->text[p->r] == '"') {
            p->r++; /* "" is one quote */
        } else if (c == '"') {
            break;
        } else if (c == '\r' || c == '\n') {
            /* A line break inside the field is kept, and counted as one line. */
            if (c == '\r' && p->r < p->end && p->text[p->r] == '\n') {
                p->text[p->w++] = c;
                c = p->text[p->r++];
            }
            p->line++;
        }
        p->text[p->w++] = c;
    }
    if (!at_field_end(p))
        return tg_error_set(OP ": %s: line %d, field %d: text after the closing quote",
                            p->csv->label, p->line, field);
    return 0;
}

/* Parses one row from r, which is not at a line break. */
static int parse_row(parser *p)
{
    size_t start = p->r;
    int line = p->line;
    size_t first = p->n_fields;
    if (push_row(p, line) != 0)
        return -1;
    for (int field = 1;; field++) {
        if (field > p->config.max_fields)
            return tg_error_set(OP ": %s: line %d: more than %d fields", p->csv->label, line,
                                p->config.max_fields);
        if (push_field(p) != 0)
            return -1;
        if (p->r < p->end && p->text[p->r] == '"') {
            if (parse_quoted(p, field) != 0)
                return -1;
        } else {
            parse_unquoted(p);
        }
        if (p->r - start > p->config.max_row)
            return tg_error_set(OP ": %s: line %d: the row is longer than the limit of %zu bytes",
                                p->csv->label, line, p->config.max_row);
        /* Consume the delimiter or line break before its byte may be
         * overwritten by the NUL ending this field. */
        bool more = p->r < p->end && p->text[p->r] == p->config.delimiter;
        size_t skip = more ? 1 : line_break(p);
        p->line += !more && skip > 0;
        p->r += skip;
        p->text[p->w++] = '\0';
        if (more)
            continue;
        int count = (int)(p->n_fields - first); /* at most max_fields */
        if (p->n_rows == 1)
            p->csv->columns = count;
        else if (count != p->csv->columns)
            return tg_error_set(OP ": %s: line %d: %d fields, but the header has %d",
                                p->csv->label, line, count, p->csv->columns);
        return 0;
    }
}

static int check_header(const tg_csv *csv)
{
    for (int i = 0; i < csv->columns; i++)
        for (int j = i + 1; j < csv->columns; j++)
            if (strcmp(csv->text + csv->fields[i], csv->text + csv->fields[j]) == 0)
                return tg_error_set(OP ": %s: line %d: the column name \"%s\" is used twice "
                                    "(columns %d and %d)", csv->label, csv->lines[0],
                                    tg_quoted(csv->text + csv->fields[i]), i + 1, j + 1);
    return 0;
}

static int parse_all(parser *p)
{
    while (p->r < p->end) {
        size_t blank = line_break(p);
        if (blank > 0) { /* an empty line */
            p->r += blank;
            p->line++;
        } else if (parse_row(p) != 0) {
            return -1;
        }
    }
    if (p->n_rows == 0)
        return tg_error_set(OP ": %s: the file has no header row", p->csv->label);
    p->csv->rows = p->n_rows - 1;
    return check_header(p->csv);
}

static tg_csv_config with_defaults(tg_csv_config c)
{
    if (!c.delimiter)
        c.delimiter = ',';
    if (!c.max_bytes)
        c.max_bytes = (size_t)1 << 30;
    if (c.max_bytes > INT32_MAX) /* so that line and row numbers fit in an int */
        c.max_bytes = INT32_MAX;
    if (!c.max_row)
        c.max_row = (size_t)1 << 20;
    if (!c.max_fields)
        c.max_fields = 4096;
    return c;
}

/* Parses text (size bytes plus a spare one), taking ownership of it. */
static tg_csv *parse_owned(char *text, size_t size, const char *label, tg_csv_config config)
{
    tg_csv *csv = calloc(1, sizeof *csv);
    char *label_copy = strdup(label);
    if (!csv || !label_copy) {
        free(csv);
        free(label_copy);
        free(text);
        tg_error_set(OP ": %s: out of memory", label);
        return NULL;
    }
    csv->label = label_copy;
    csv->text = text;
    if (tg_text_check(text, &size, OP, label) != 0) {
        tg_csv_free(csv);
        return NULL;
    }
    parser p = { .csv = csv, .config = config, .text = text, .end = size, .line = 1 };
    if (parse_all(&p) != 0) {
        tg_csv_free(csv);
        return NULL;
    }
    return csv;
}

static int check_config(tg_csv_config c, const char *label)
{
    if (c.delimiter == '"' || c.delimiter == '\r' || c.delimiter == '\n' || c.max_fields < 0)
        return tg_error_set(OP ": %s: the delimiter cannot be a quote or line break, nor "
                            "max_fields negative", label);
    return 0;
}

tg_csv *tg_csv_read(const char *path, tg_csv_config config)
{
    if (!path || check_config(config, path) != 0)
        return NULL;
    config = with_defaults(config);
    size_t size = 0;
    char *text = tg_file_read(path, config.max_bytes, &size, OP);
    return text ? parse_owned(text, size, path, config) : NULL;
}

tg_csv *tg_csv_parse(const char *text, size_t size, const char *label, tg_csv_config config)
{
    label = label ? label : "<memory>";
    if (check_config(config, label) != 0)
        return NULL;
    config = with_defaults(config);
    char *copy = tg_file_copy(text, size, config.max_bytes, label, OP);
    return copy ? parse_owned(copy, size, label, config) : NULL;
}

void tg_csv_free(tg_csv *csv)
{
    if (!csv)
        return;
    free(csv->label);
    free(csv->text);
    free(csv->fields);
    free(csv->lines);
    free(csv);
}

/* ---- The table ---------------------------------------------------------------- */

int tg_csv_rows(const tg_csv *csv) { return csv ? csv->rows : 0; }

int tg_csv_columns(const tg_csv *csv) { return csv ? csv->columns : 0; }

const char *tg_csv_column_name(const tg_csv *csv, int column)
{
    return csv && column >= 0 && column < csv->columns ? csv->text + csv->fields[column] : NULL;
}

int tg_csv_column(const tg_csv *csv, const char *name)
{
    if (!csv || !name)
        return tg_error_null_input("csv_column");
    for (int i = 0; i < csv->columns; i++)
        if (strcmp(csv->text + csv->fields[i], name) == 0)
            return i;
    char list[256] = "";
    size_t used = 0;
    for (int i = 0; i < csv->columns && used < sizeof list; i++) {
        int n = snprintf(list + used, sizeof list - used, "%s\"%s\"", i ? ", " : "",
                         tg_csv_column_name(csv, i));
        used += n > 0 ? (size_t)n : 0;
    }
    return tg_error_set("csv_column: %s: no column \"%s\" (the columns are %s)", csv->label,
                        tg_quoted(name), list);
}

const char *tg_csv_field(const tg_csv *csv, int row, int column)
{
    if (!csv || row < 0 || row >= csv->rows || column < 0 || column >= csv->columns)
        return NULL;
    return csv->text + csv->fields[(size_t)(row + 1) * (size_t)csv->columns + (size_t)column];
}

int tg_csv_line(const tg_csv *csv, int row)
{
    return csv && row >= 0 && row < csv->rows ? csv->lines[row + 1] : -1;
}

/* ---- Numbers ------------------------------------------------------------------ */

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

static int parse_float(const tg_csv *csv, int row, int column, float *out, const char *op)
{
    const char *text = tg_csv_field(csv, row, column);
    if (!text)
        return tg_error_set("%s: %s: row %d, column %d is outside the table (%d rows, %d "
                            "columns)", op, csv->label, row, column, csv->rows, csv->columns);
    const char *name = tg_csv_column_name(csv, column);
    int line = tg_csv_line(csv, row);
    const char *s = text;
    while (is_blank(*s))
        s++;
    if (!*s)
        return tg_error_set("%s: %s: line %d, field \"%s\": empty, not a number", op,
                            csv->label, line, tg_quoted(name));
    char *end;
    errno = 0;
    double value = strtod(s, &end);
    /* strtod gives HUGE_VAL and ERANGE for a value beyond double's range
     * ("1e999"), where "inf" itself sets no error. */
    bool overflow = errno == ERANGE && isinf(value);
    while (end != s && is_blank(*end))
        end++;
    if (end == s || *end)
        return tg_error_set("%s: %s: line %d, field \"%s\": \"%s\" is not a number", op,
                            csv->label, line, tg_quoted(name), tg_quoted(text));
    if (overflow || (isfinite(value) && fabs(value) > FLT_MAX))
        return tg_error_set("%s: %s: line %d, field \"%s\": %s is beyond float's range", op,
                            csv->label, line, tg_quoted(name), tg_quoted(text));
    *out = (float)value;
    return 0;
}

int tg_csv_float(const tg_csv *csv, int row, int column, float *out)
{
    if (!csv || !out)
        return tg_error_null_input("csv_float");
    return parse_float(csv, row, column, out, "csv_float");
}

int tg_csv_column_floats(const tg_csv *csv, const char *name, float *out)
{
    if (!csv || !name || !out)
        return tg_error_null_input("csv_column_floats");
    int column = tg_csv_column(csv, name);
    for (int row = 0; column >= 0 && row < csv->rows; row++)
        if (parse_float(csv, row, column, &out[row], "csv_column_floats") != 0)
            return -1;
    return column >= 0 ? 0 : -1;
}

tg_tensor *tg_tensor_from_csv(const tg_csv *csv, const char *const *names, int n)
{
    if (!csv || !names)
        return tg_null_input("tensor_from_csv");
    if (n <= 0) {
        tg_error_set("tensor_from_csv: %s: %d columns asked for; at least one is needed",
                     csv->label, n);
        return NULL;
    }
    tg_tensor *t = tg_tensor_empty(TG_SHAPE(csv->rows, n));
    for (int j = 0; t && j < n; j++) {
        int column = names[j] ? tg_csv_column(csv, names[j])
                              : tg_error_set("tensor_from_csv: %s: column name %d is NULL",
                                             csv->label, j);
        bool ok = column >= 0;
        for (int row = 0; ok && row < csv->rows; row++)
            ok = parse_float(csv, row, column, &t->data[(int64_t)row * n + j], "tensor_from_csv") == 0;
        if (!ok) {
            tg_tensor_free(t);
            t = NULL;
        }
    }
    return t;
}
