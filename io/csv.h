/*
 * io/csv.h: CSV files: a reader for datasets and a writer for rows of
 * numbers (training history).
 *
 * Reading follows RFC 4180: the first row is the header (column names);
 * fields are separated by commas (or config.delimiter); a field in double
 * quotes may hold delimiters, line breaks and doubled quotes (""); rows end
 * as the text rule of io/text.h says (LF, CRLF or a lone CR; a byte order
 * mark before the header is dropped; a NUL byte anywhere, quoted or not,
 * is an error), and the last row may end without one. Also accepted:
 * empty lines (skipped), and a quote inside an unquoted field (kept as a
 * character). Every row must have as many fields as the header, and
 * column names must be distinct.
 *
 *     tg_csv *csv = tg_csv_read("stocks.csv", (tg_csv_config){ 0 });
 *     float *close = malloc(tg_csv_rows(csv) * sizeof(float));
 *     tg_csv_column_floats(csv, "Adj. Close", close);
 *     const char *date = tg_csv_field(csv, 0, tg_csv_column(csv, "Date"));
 *     ...
 *     tg_csv_free(csv);
 *
 * Every byte is untrusted: the file size, the length of a row and the
 * number of fields in a row are checked against limits. Errors name the
 * function, the file, the line and the field, e.g.
 *     csv_column_floats: stocks.csv: line 12, field "Adj. Close": "abc" is not a number
 * Line numbers count every line of the file from 1 (the header is line 1;
 * a row with a quoted line break spans several lines and is named by its
 * first).
 */
#ifndef TG_IO_CSV_H
#define TG_IO_CSV_H

#include <stddef.h>

#include "tensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reader settings; zero means the default given beside each field. */
typedef struct tg_csv_config {
    char delimiter;    /* ','; not '"', '\r' or '\n' */
    size_t max_bytes;  /* largest file: 1 GiB (at most 2 GiB - 1) */
    size_t max_row;    /* longest row in bytes, quoted line breaks included: 1 MiB */
    int max_fields;    /* most fields in a row: 4096 */
} tg_csv_config;

/* A table read from a CSV file: owns its strings. */
typedef struct tg_csv tg_csv;

/* Reads and checks the whole file. Returns the table (free it with
 * tg_csv_free), or NULL with an error naming the file, line and field. */
tg_csv *tg_csv_read(const char *path, tg_csv_config config);
/* The same from `size` bytes of text; `label` names them in errors (NULL
 * gives "<memory>"). The bytes are copied. */
tg_csv *tg_csv_parse(const char *text, size_t size, const char *label, tg_csv_config config);
/* NULL is ignored. */
void tg_csv_free(tg_csv *csv);

/* Data rows (the header excluded) and columns. */
int tg_csv_rows(const tg_csv *csv);
int tg_csv_columns(const tg_csv *csv);
/* The name of column index; NULL when out of range. */
const char *tg_csv_column_name(const tg_csv *csv, int column);
/* The index of the column called name; -1 with an error listing the
 * columns when there is none. */
int tg_csv_column(const tg_csv *csv, const char *name);
/* The text of a field (owned by csv, quotes removed); NULL when row or
 * column is out of range. */
const char *tg_csv_field(const tg_csv *csv, int row, int column);
/* The file line on which a data row starts; -1 when out of range. */
int tg_csv_line(const tg_csv *csv, int row);

/* Parses one field as a number: optional surrounding spaces around a
 * number as strtod reads it in the C locale ("-1.5e3", "nan", "inf"). An
 * empty field, trailing text, or a value written finite but beyond float's
 * range ("1e39", "1e999") is an error; "inf" itself is infinite. 0, or -1 with an error naming file, line and field. */
int tg_csv_float(const tg_csv *csv, int row, int column, float *out);
/* Every row's value of the column called name into out (tg_csv_rows
 * floats). 0, or -1 with an error at the first bad field. */
int tg_csv_column_floats(const tg_csv *csv, const char *name, float *out);
/* An OWNED tensor [rows, n] of the named columns (column j of the tensor
 * is names[j]); free it with tg_tensor_free. NULL with an error at the
 * first unknown column or bad field. */
tg_tensor *tg_tensor_from_csv(const tg_csv *csv, const char *const *names, int n);

/* Writes a CSV file atomically (tensor/file.h): the header `columns`, then
 * n_rows rows of n_columns numbers from values (row-major), LF line ends.
 * Numbers are written with %.9g (a float value round-trips exactly); NaN
 * is written as an empty field ("no value", as for a validation loss
 * measured only at some steps), infinities as inf and -inf. A column name
 * holding a comma, quote or line break is quoted. 0, or -1 with an error
 * naming the file and the reason. */
int tg_csv_write(const char *path, const char *const *columns, int n_columns,
                 const double *values, int n_rows);

#ifdef __cplusplus
}
#endif

#endif
