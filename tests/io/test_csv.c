/* CSV: reading committed files, RFC 4180 quoting, numbers, every kind of
 * bad input with its line and field, limits, and the atomic writer. */
#include "io/io_support.h"

#include <stdint.h>

TestSuite(csv, .init = io_setup, .fini = io_teardown);

static tg_csv *parse(const char *text, tg_csv_config config)
{
    return tg_csv_parse(text, strlen(text), "data.csv", config);
}

/* Parsing text fails with an error containing fragment. */
static void assert_refused(const char *text, tg_csv_config config, const char *fragment)
{
    tg_error_clear();
    tg_csv *csv = parse(text, config);
    cr_assert_null(csv, "parsed bad input: %s", text);
    tg_assert_error("csv_read: data.csv: ");
    tg_assert_error(fragment);
    tg_error_clear();
}

Test(csv, a_stock_file_excerpt_reads_by_column_name)
{
    /* The first rows of WIKI-AAPL.csv, which also ends without a newline. */
    tg_csv *csv = tg_csv_read(io_fixture("aapl_head.csv"), (tg_csv_config){ 0 });
    cr_assert_not_null(csv, "%s", tg_error_message());
    cr_assert_eq(tg_csv_rows(csv), 3);
    cr_assert_eq(tg_csv_columns(csv), 13);
    cr_assert_str_eq(tg_csv_column_name(csv, 11), "Adj. Close");
    cr_assert_str_eq(tg_csv_column_name(csv, 12), "Adj. Volume");
    cr_assert_null(tg_csv_column_name(csv, 13));
    int date = tg_csv_column(csv, "Date");
    cr_assert_eq(date, 0);
    cr_assert_str_eq(tg_csv_field(csv, 0, date), "2018-03-27");
    cr_assert_str_eq(tg_csv_field(csv, 2, date), "2018-03-23");
    cr_assert_str_eq(tg_csv_field(csv, 2, 12), "40248954.0");
    cr_assert_null(tg_csv_field(csv, 3, 0));
    cr_assert_eq(tg_csv_line(csv, 2), 4);
    float close[3];
    cr_assert_eq(tg_csv_column_floats(csv, "Adj. Close", close), 0, "%s", tg_error_message());
    cr_assert_eq(close[0], 168.34f);
    cr_assert_eq(close[1], 172.77f);
    cr_assert_eq(close[2], 164.94f);
    tg_csv_free(csv);
}

Test(csv, chosen_columns_make_a_tensor)
{
    tg_csv *csv = tg_csv_read(io_fixture("aapl_head.csv"), (tg_csv_config){ 0 });
    cr_assert_not_null(csv, "%s", tg_error_message());
    tg_tensor *t = tg_tensor_from_csv(csv, (const char *[]){ "Adj. Close", "Open" }, 2);
    tg_assert_shape(t, 3, 2);
    tg_assert_values(t, ((float[]){ 168.34f, 173.68f, 172.77f, 168.07f, 164.94f, 168.39f }), 6, 0);
    cr_assert_null(tg_tensor_from_csv(csv, (const char *[]){ "Open", "Price" }, 2));
    tg_assert_error("csv_column: ");
    tg_assert_error("aapl_head.csv: no column \"Price\" (the columns are \"Date\", \"Open\", ");
    tg_tensor_free(t);
    tg_csv_free(csv);
}

Test(csv, quoted_fields_crlf_a_bom_and_blank_lines_follow_rfc_4180)
{
    tg_csv *csv = tg_csv_read(io_fixture("quoted.csv"), (tg_csv_config){ 0 });
    cr_assert_not_null(csv, "%s", tg_error_message());
    cr_assert_eq(tg_csv_columns(csv), 3);
    cr_assert_eq(tg_csv_rows(csv), 3);
    cr_assert_str_eq(tg_csv_column_name(csv, 0), "Name", "the byte order mark is not a name");
    cr_assert_str_eq(tg_csv_field(csv, 0, 1), "with, a comma");
    cr_assert_str_eq(tg_csv_field(csv, 1, 0), "Ann \"Annie\" Lee");
    cr_assert_str_eq(tg_csv_field(csv, 1, 1), "two\r\nlines");
    cr_assert_str_eq(tg_csv_field(csv, 2, 1), "");
    cr_assert_eq(tg_csv_line(csv, 0), 2);
    cr_assert_eq(tg_csv_line(csv, 1), 3);
    cr_assert_eq(tg_csv_line(csv, 2), 6, "the quoted line break and the blank line count");
    float v[3];
    cr_assert_eq(tg_csv_column_floats(csv, "Value", v), 0, "%s", tg_error_message());
    cr_assert_eq(v[0], 1.5f);
    cr_assert_eq(v[1], -2000.0f);
    cr_assert_eq(v[2], 7.0f);
    tg_csv_free(csv);
}

Test(csv, line_ends_and_a_missing_final_newline)
{
    const char *texts[] = { "a,b\n1,2\n3,4\n", "a,b\r\n1,2\r\n3,4\r\n", "a,b\n1,2\n3,4",
                            "a,b\r\n1,2\r\n3,4\r" };
    for (int k = 0; k < 4; k++) {
        tg_csv *csv = parse(texts[k], (tg_csv_config){ 0 });
        cr_assert_not_null(csv, "text %d: %s", k, tg_error_message());
        cr_assert_eq(tg_csv_rows(csv), 2, "text %d", k);
        cr_assert_str_eq(tg_csv_field(csv, 1, 1), "4", "text %d", k);
        cr_assert_str_eq(tg_csv_column_name(csv, 1), "b", "text %d", k);
        tg_csv_free(csv);
    }
}

Test(csv, another_delimiter_and_a_quote_inside_an_unquoted_field)
{
    tg_csv *csv = parse("size;label\n5\" screen;\"a;b\"\n", (tg_csv_config){ .delimiter = ';' });
    cr_assert_not_null(csv, "%s", tg_error_message());
    cr_assert_str_eq(tg_csv_field(csv, 0, 0), "5\" screen");
    cr_assert_str_eq(tg_csv_field(csv, 0, 1), "a;b");
    tg_csv_free(csv);
    cr_assert_null(parse("a\n", (tg_csv_config){ .delimiter = '"' }));
    tg_assert_error("the delimiter cannot be a quote or line break");
}

static char *numbered_rows(const char *bad_value)
{
    /* Header on line 1; rows on lines 2 to 12; line 12 holds bad_value. */
    static char text[1024];
    int n = snprintf(text, sizeof text, "Date,Adj. Close\n");
    for (int line = 2; line <= 12; line++)
        n += snprintf(text + n, sizeof text - (size_t)n, "2018-01-%02d,%s\n", line,
                      line == 12 ? bad_value : "1.25");
    return text;
}

Test(csv, a_bad_number_is_named_by_file_line_and_field)
{
    const char *path = io_path("stocks.csv");
    io_write_text(path, numbered_rows("abc"));
    tg_csv *csv = tg_csv_read(path, (tg_csv_config){ 0 });
    cr_assert_not_null(csv, "%s", tg_error_message());
    float out[11];
    cr_assert_eq(tg_csv_column_floats(csv, "Adj. Close", out), -1);
    tg_assert_error("csv_column_floats: ");
    tg_assert_error("stocks.csv: line 12, field \"Adj. Close\": \"abc\" is not a number");
    cr_assert_eq(out[9], 1.25f, "the rows before the bad one were read");
    tg_csv_free(csv);

    const struct {
        const char *value, *message;
    } cases[] = { { "", "line 12, field \"Adj. Close\": empty, not a number" },
                  { "12abc", "\"12abc\" is not a number" },
                  { "1.5 2", "\"1.5 2\" is not a number" },
                  { "1e39", "1e39 is beyond float's range" } };
    for (int k = 0; k < 4; k++) {
        tg_error_clear();
        csv = parse(numbered_rows(cases[k].value), (tg_csv_config){ 0 });
        cr_assert_not_null(csv, "%s", tg_error_message());
        float value;
        cr_assert_eq(tg_csv_float(csv, 10, 1, &value), -1, "case %d", k);
        tg_assert_error(cases[k].message);
        tg_csv_free(csv);
    }
}

Test(csv, numbers_with_spaces_exponents_and_infinities_parse)
{
    tg_csv *csv = parse("x\n  -1.5e-3 \n\t42\ninf\n-0\n", (tg_csv_config){ 0 });
    cr_assert_not_null(csv, "%s", tg_error_message());
    float x[4];
    cr_assert_eq(tg_csv_column_floats(csv, "x", x), 0, "%s", tg_error_message());
    cr_assert_eq(x[0], -1.5e-3f);
    cr_assert_eq(x[1], 42.0f);
    cr_assert(isinf(x[2]) && x[2] > 0);
    cr_assert(x[3] == 0.0f && signbit(x[3]));
    cr_assert_eq(tg_csv_float(csv, 4, 0, x), -1);
    tg_assert_error("csv_float: data.csv: row 4, column 0 is outside the table (4 rows, 1 columns)");
    tg_csv_free(csv);
}

Test(csv, malformed_rows_are_named_by_line_and_field)
{
    tg_csv_config none = { 0 };
    assert_refused("a,b,c\n1,2,3\n4,5\n", none, "line 3: 2 fields, but the header has 3");
    assert_refused("a,b\n1,2\n\n3,4,5\n", none, "line 4: 3 fields, but the header has 2");
    assert_refused("a,b\n1,\"open\n2,3\n", none, "line 2, field 2: the quoted field is not closed");
    assert_refused("a,b\n\"x\"y,2\n", none, "line 2, field 1: text after the closing quote");
    assert_refused("a,b,a\n1,2,3\n", none,
                   "line 1: the column name \"a\" is used twice (columns 1 and 3)");
    assert_refused("", none, "the file has no header row");
    assert_refused("\n\r\n\n", none, "the file has no header row");
}

Test(csv, limits_on_fields_row_length_and_file_size_are_checked)
{
    assert_refused("a,b,c\n1,2,3,4\n", (tg_csv_config){ .max_fields = 3 },
                   "line 2: more than 3 fields");
    assert_refused("a\n\"0123456789\n0123456789\"\n", (tg_csv_config){ .max_row = 16 },
                   "line 2: the row is longer than the limit of 16 bytes");
    const char *path = io_path("big.csv");
    io_write_text(path, "a,b\n1,2\n3,4\n");
    cr_assert_null(tg_csv_read(path, (tg_csv_config){ .max_bytes = 8 }));
    tg_assert_error("csv_read: ");
    tg_assert_error("big.csv: the file has 12 bytes, more than the limit of 8");
    tg_error_clear();
    cr_assert_null(tg_csv_read(io_path("absent.csv"), (tg_csv_config){ 0 }));
    tg_assert_error("absent.csv: cannot open: No such file or directory");
}

/* Random text from CSV's special characters: the reader either builds a
 * consistent table or refuses with a message; never anything else. */
Test(csv, random_input_never_breaks_the_reader)
{
    const char alphabet[] = ",\"\r\n a1";
    tg_rng rng;
    tg_rng_seed(&rng, 99);
    char text[40];
    int parsed = 0;
    for (int trial = 0; trial < 3000; trial++) {
        size_t n = (size_t)tg_rng_below(&rng, sizeof text);
        for (size_t i = 0; i < n; i++)
            text[i] = alphabet[tg_rng_below(&rng, sizeof alphabet - 1)];
        tg_error_clear();
        tg_csv *csv = tg_csv_parse(text, n, "random", (tg_csv_config){ 0 });
        if (!csv) {
            tg_assert_error("csv_read: random: ");
            continue;
        }
        parsed++;
        cr_assert_gt(tg_csv_columns(csv), 0);
        for (int r = 0; r < tg_csv_rows(csv); r++) {
            cr_assert_geq(tg_csv_line(csv, r), 1);
            for (int c = 0; c < tg_csv_columns(csv); c++)
                cr_assert_leq(strlen(tg_csv_field(csv, r, c)), n);
        }
        tg_csv_free(csv);
    }
    cr_assert_gt(parsed, 100, "some random inputs are valid CSV");
}

Test(csv, the_writer_writes_a_header_and_rows_of_numbers)
{
    const char *path = io_path("history.csv");
    double values[] = { 1, 0.5, 0.25, 2, NAN, 0.125, 3, INFINITY, -1e-7 };
    cr_assert_eq(tg_csv_write(path, (const char *[]){ "step", "loss", "val, \"loss\"" }, 3,
                              values, 3), 0, "%s", tg_error_message());
    size_t n;
    char *text = (char *)read_existing_file(path, &n);
    text[n] = '\0';
    cr_assert_str_eq(text, "step,loss,\"val, \"\"loss\"\"\"\n1,0.5,0.25\n2,,0.125\n3,inf,-1e-07\n");
    free(text);
    cr_assert_eq(dir_entries(io_dir), 1, "no temporary is left");
}

Test(csv, written_floats_read_back_exactly)
{
    tg_rng rng;
    tg_rng_seed(&rng, 3);
    double values[200];
    for (int i = 0; i < 200; i++)
        values[i] = (double)(float)(tg_rng_normal(&rng) * 1000.0);
    const char *path = io_path("floats.csv");
    cr_assert_eq(tg_csv_write(path, (const char *[]){ "a", "b" }, 2, values, 100), 0);
    tg_csv *csv = tg_csv_read(path, (tg_csv_config){ 0 });
    cr_assert_not_null(csv, "%s", tg_error_message());
    tg_tensor *t = tg_tensor_from_csv(csv, (const char *[]){ "a", "b" }, 2);
    cr_assert_not_null(t, "%s", tg_error_message());
    for (int i = 0; i < 200; i++)
        cr_assert_eq(t->data[i], (float)values[i], "value %d", i);
    tg_tensor_free(t);
    tg_csv_free(csv);
}

Test(csv, the_writer_fails_clearly_and_keeps_the_old_file)
{
    cr_assert_eq(tg_csv_write(io_path("missing/h.csv"), (const char *[]){ "x" }, 1,
                              (double[]){ 1 }, 1), -1);
    tg_assert_error("csv_write: ");
    tg_assert_error("h.csv: cannot create a temporary file in its directory: No such file");
    tg_error_clear();
    const char *path = io_path("h.csv");
    io_write_text(path, "old\n");
    cr_assert_eq(tg_csv_write(path, (const char *[]){ "x", NULL }, 2, (double[]){ 1, 2 }, 1), -1);
    tg_assert_error("column name 1 is NULL");
    size_t n;
    char *text = (char *)read_existing_file(path, &n);
    cr_assert(n == 4 && memcmp(text, "old\n", 4) == 0, "the old file is intact");
    free(text);
    cr_assert_eq(dir_entries(io_dir), 1);
}
