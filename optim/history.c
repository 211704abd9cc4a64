#include "optim/history.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/csv.h"
#include "tensor/error.h"

typedef struct column {
    char *name;
    double *values; /* one per row; NaN where missing */
} column;

struct tg_history {
    char *x_name;
    int64_t *x;
    int rows, capacity;
    column *columns;
    int n_columns, columns_capacity;
};

static char *copy_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    return copy ? memcpy(copy, s, n) : NULL;
}

tg_history *tg_history_new(const char *x_name)
{
    tg_history *h = calloc(1, sizeof *h);
    if (h)
        h->x_name = copy_string(x_name ? x_name : "step");
    if (!h || !h->x_name) {
        free(h);
        tg_error_set("history_new: out of memory");
        return NULL;
    }
    return h;
}

void tg_history_free(tg_history *h)
{
    if (!h)
        return;
    for (int i = 0; i < h->n_columns; i++) {
        free(h->columns[i].name);
        free(h->columns[i].values);
    }
    free(h->columns);
    free(h->x);
    free(h->x_name);
    free(h);
}

/* Room for one more row in x and in every column. */
static int reserve_row(tg_history *h)
{
    if (h->rows < h->capacity)
        return 0;
    int capacity = h->capacity ? h->capacity * 2 : 64;
    int64_t *x = realloc(h->x, sizeof *x * (size_t)capacity);
    if (!x)
        return tg_error_set("history_add: out of memory");
    h->x = x;
    for (int i = 0; i < h->n_columns; i++) {
        double *values = realloc(h->columns[i].values, sizeof(double) * (size_t)capacity);
        if (!values)
            return tg_error_set("history_add: out of memory");
        h->columns[i].values = values;
    }
    h->capacity = capacity;
    return 0;
}

static int find_column(const tg_history *h, const char *name)
{
    for (int i = 0; i < h->n_columns; i++)
        if (strcmp(h->columns[i].name, name) == 0)
            return i;
    return -1;
}

/* A new column, missing in every row so far. */
static int add_column(tg_history *h, const char *name)
{
    if (h->n_columns == h->columns_capacity) {
        int capacity = h->columns_capacity ? h->columns_capacity * 2 : 8;
        column *columns = realloc(h->columns, sizeof *columns * (size_t)capacity);
        if (!columns)
            return tg_error_set("history_add: out of memory");
        h->columns = columns;
        h->columns_capacity = capacity;
    }
    column c = { copy_string(name), malloc(sizeof(double) * (size_t)(h->capacity ? h->capacity : 1)) };
    if (!c.name || !c.values) {
        free(c.name);
        free(c.values);
        return tg_error_set("history_add: out of memory");
    }
    for (int r = 0; r < h->rows; r++)
        c.values[r] = NAN;
    h->columns[h->n_columns++] = c;
    return h->n_columns - 1;
}

int tg_history_add(tg_history *h, int64_t x, const char *name, double value)
{
    if (!h || !name)
        return tg_error_null_input("history_add");
    if (!name[0] || strcmp(name, h->x_name) == 0)
        return tg_error_set("history_add: \"%s\" cannot name a column", name);
    if (h->rows > 0 && x < h->x[h->rows - 1])
        return tg_error_set("history_add: %s %lld after %s %lld: %s must not decrease", h->x_name,
                            (long long)x, h->x_name, (long long)h->x[h->rows - 1], h->x_name);
    int column = find_column(h, name);
    if (column < 0 && (column = add_column(h, name)) < 0)
        return -1;
    if (h->rows == 0 || x > h->x[h->rows - 1]) {
        if (reserve_row(h) != 0)
            return -1;
        h->x[h->rows] = x;
        for (int i = 0; i < h->n_columns; i++)
            h->columns[i].values[h->rows] = NAN;
        h->rows++;
    }
    h->columns[column].values[h->rows - 1] = value;
    return 0;
}

int tg_history_rows(const tg_history *h) { return h ? h->rows : 0; }

int tg_history_columns(const tg_history *h) { return h ? h->n_columns : 0; }

const char *tg_history_column_name(const tg_history *h, int column)
{
    return h && column >= 0 && column < h->n_columns ? h->columns[column].name : NULL;
}

int64_t tg_history_x(const tg_history *h, int row)
{
    return h && row >= 0 && row < h->rows ? h->x[row] : -1;
}

double tg_history_value(const tg_history *h, int row, const char *name)
{
    if (!h || !name || row < 0 || row >= h->rows)
        return NAN;
    int column = find_column(h, name);
    return column < 0 ? NAN : h->columns[column].values[row];
}

double tg_history_last(const tg_history *h, const char *name)
{
    int column = h && name ? find_column(h, name) : -1;
    for (int r = column < 0 ? -1 : h->rows - 1; r >= 0; r--)
        if (!isnan(h->columns[column].values[r]))
            return h->columns[column].values[r];
    return NAN;
}

int tg_history_write_csv(const tg_history *h, const char *path)
{
    if (!h || !path)
        return tg_error_null_input("history_write_csv");
    int width = 1 + h->n_columns;
    const char **names = malloc(sizeof *names * (size_t)width);
    double *values = malloc(sizeof(double) * (size_t)width * (size_t)(h->rows ? h->rows : 1));
    int rc = -1;
    if (!names || !values) {
        tg_error_set("history_write_csv: %s: out of memory", path);
    } else {
        names[0] = h->x_name;
        for (int i = 0; i < h->n_columns; i++)
            names[1 + i] = h->columns[i].name;
        for (int r = 0; r < h->rows; r++) {
            values[r * width] = (double)h->x[r];
            for (int i = 0; i < h->n_columns; i++)
                values[r * width + 1 + i] = h->columns[i].values[r];
        }
        rc = tg_csv_write(path, names, width, values, h->rows);
    }
    free(names);
    free(values);
    return rc;
}

/* The series of one column: x and y of the rows where it has a value,
 * written into xy (2 * rows doubles). */
static tg_plot_series series_of(const tg_history *h, int column, double *xy)
{
    double *x = xy, *y = xy + h->rows;
    int n = 0;
    for (int r = 0; r < h->rows; r++)
        if (!isnan(h->columns[column].values[r])) {
            x[n] = (double)h->x[r];
            y[n++] = h->columns[column].values[r];
        }
    return (tg_plot_series){ .name = h->columns[column].name, .xd = x, .yd = y, .count = n };
}

int tg_history_plot(const tg_history *h, const char *path, const char *const *names, int n,
                    const tg_plot_options *options)
{
    if (!h || !path || (n > 0 && !names))
        return tg_error_null_input("history_plot");
    if (n < 0)
        return tg_error_set("history_plot: %s: %d series", path, n);
    int count = n ? n : h->n_columns;
    tg_plot_series *series = calloc((size_t)count + 1, sizeof *series);
    double *xy = malloc(sizeof(double) * 2 * (size_t)(h->rows ? h->rows : 1) * (size_t)(count + 1));
    int rc = -1;
    if (!series || !xy) {
        tg_error_set("history_plot: %s: out of memory", path);
        goto done;
    }
    for (int i = 0; i < count; i++) {
        int column = n ? (names[i] ? find_column(h, names[i]) : -1) : i;
        if (column < 0) {
            tg_error_set("history_plot: %s: no column called \"%s\"", path,
                         names[i] ? names[i] : "(null)");
            goto done;
        }
        series[i] = series_of(h, column, xy + (size_t)i * 2 * (size_t)h->rows);
    }
    tg_plot_options o = options ? *options : (tg_plot_options){ 0 };
    o.xlabel = o.xlabel ? o.xlabel : h->x_name;
    rc = tg_plot_lines(path, series, count, &o);
done:
    free(series);
    free(xy);
    return rc;
}
