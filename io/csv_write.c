/* Writing CSV: a header and rows of numbers, through an atomic file. */
#include "io/csv.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "io/file.h"

#define OP "csv_write"

/* A column name, in quotes with its quotes doubled when it holds a
 * delimiter, quote or line break. */
static void write_name(tg_atomic_file *file, const char *name)
{
    bool quoted = strpbrk(name, ",\"\r\n") != NULL;
    if (quoted)
        tg_atomic_file_write(file, "\"", 1);
    for (const char *c = name; *c; c++)
        tg_atomic_file_write(file, *c == '"' ? "\"\"" : c, *c == '"' ? 2 : 1);
    if (quoted)
        tg_atomic_file_write(file, "\"", 1);
}

static void write_number(tg_atomic_file *file, double value)
{
    char text[32];
    int n = isnan(value) ? 0 : snprintf(text, sizeof text, "%.9g", value);
    tg_atomic_file_write(file, text, (size_t)n);
}

static int check_input(const char *path, const char *const *columns, int n_columns, int n_rows)
{
    if (n_columns < 1 || n_rows < 0)
        return tg_error_set(OP ": %s: %d columns and %d rows: at least one column is needed, and "
                            "rows cannot be negative", path, n_columns, n_rows);
    for (int j = 0; j < n_columns; j++)
        if (!columns[j])
            return tg_error_set(OP ": %s: column name %d is NULL", path, j);
    return 0;
}

int tg_csv_write(const char *path, const char *const *columns, int n_columns,
                 const double *values, int n_rows)
{
    if (!path || !columns || (n_rows > 0 && n_columns > 0 && !values))
        return -1;
    if (check_input(path, columns, n_columns, n_rows) != 0)
        return -1;
    tg_atomic_file *file = tg_atomic_file_open(path, OP);
    if (!file)
        return -1;
    for (int j = 0; j < n_columns; j++) {
        if (j)
            tg_atomic_file_write(file, ",", 1);
        write_name(file, columns[j]);
    }
    tg_atomic_file_write(file, "\n", 1);
    for (int i = 0; i < n_rows; i++) {
        for (int j = 0; j < n_columns; j++) {
            if (j)
                tg_atomic_file_write(file, ",", 1);
            write_number(file, values[(size_t)i * (size_t)n_columns + (size_t)j]);
        }
        tg_atomic_file_write(file, "\n", 1);
    }
    return tg_atomic_file_commit(file); /* reports any failed write */
}
