/* The stock_gru example, run with --quick: its outputs, its baseline
 * numbers checked against the data file, date sorting, a file without
 * dates, checkpoints and its refusals. The runs use one thread (the
 * example's default), as the machine is shared. */
#include "examples/run_example.h"

TestSuite(stock_gru, .init = tg_test_setup, .fini = tg_test_teardown);

static const char EXAMPLE[] = "stock_gru";

enum { WINDOW = 20 }; /* the example's default */

/* examples/data/stocks/<name>, from this file's place in the source tree,
 * into path (600 bytes). */
static const char *stocks_file(const char *name, char *path)
{
    const char *here = __FILE__; /* .../tests/examples/test_stock_gru.c */
    const char *slash = strrchr(here, '/');
    snprintf(path, 600, "%.*s/../../examples/data/stocks/%s", slash ? (int)(slash - here) : 1,
             slash ? here : ".", name);
    return path;
}

/* Runs the example with --quick --out dir and up to four more arguments;
 * asserts that it exited 0. */
static example_run run_quick(const char *dir, const char *a, const char *b, const char *c, const char *d)
{
    const char *args[] = { "--quick", "--out", dir, a, b, c, d, NULL };
    return run_example_expecting(0, EXAMPLE, args);
}

/* The first number after `label` in the output, past any other text. */
static double first_number_after(const char *output, const char *label)
{
    const char *p = strstr(output, label);
    cr_assert_not_null(p, "no \"%s\" in:\n%s", label, output);
    p += strlen(label);
    while (*p && !(*p >= '0' && *p <= '9') && *p != '-')
        p++;
    char *end;
    double value = strtod(p, &end);
    cr_assert_neq(end, p, "no number after \"%s\"", label);
    return value;
}

/* The adjusted closes of the Apple file, oldest first (the file is newest
 * first); n gets their count. */
static double *aapl_prices(int *n)
{
    char path[600];
    tg_csv *csv = tg_csv_read(stocks_file("WIKI-AAPL.csv", path), (tg_csv_config){ 0 });
    cr_assert_not_null(csv, "%s", tg_error_message());
    int rows = tg_csv_rows(csv), dates = tg_csv_column(csv, "Date");
    float *newest_first = malloc((size_t)rows * sizeof *newest_first);
    double *prices = malloc((size_t)rows * sizeof *prices);
    cr_assert_eq(tg_csv_column_floats(csv, "Adj. Close", newest_first), 0, "%s", tg_error_message());
    for (int r = 0; r < rows; r++) {
        prices[r] = newest_first[rows - 1 - r];
        if (r > 0)
            cr_assert_gt(strcmp(tg_csv_field(csv, r - 1, dates), tg_csv_field(csv, r, dates)), 0,
                         "the file is not newest first at row %d", r);
    }
    free(newest_first);
    tg_csv_free(csv);
    *n = rows;
    return prices;
}

Test(stock_gru, quick_run_writes_its_files_and_compares_with_the_baselines)
{
    char dir[512], path[600];
    example_out_dir("stock_gru_files", dir, sizeof dir);
    example_run run = run_quick(dir, NULL, NULL, NULL, NULL);
    const char *expected[] = { "## 1. The data", "sorted by the Date column", "## 5. The test period",
                               "tomorrow = today", "moving average (20 days)", "Lowest MAE: ",
                               "Input Prices: [$120, $123, $125]", "stock_gru_test.png",
                               "computing on 1 thread(s)" };
    for (size_t i = 0; i < sizeof expected / sizeof *expected; i++)
        cr_assert(strstr(run.output, expected[i]), "no \"%s\" in:\n%s", expected[i], run.output);
    /* The seed's example gets a price near the last one: a day's move is a
     * few percent at most. */
    double next = first_number_after(run.output, "Predicted Next Day Price: $");
    cr_assert(next > 110 && next < 140, "predicted $%g after $125", next);

    out_file(path, sizeof path, dir, "stock_gru_history.csv");
    tg_csv *history = assert_csv(path, "train_loss", 3);
    assert_column_fell(history, "train_loss");
    cr_assert_geq(tg_csv_column(history, "valid_mae"), 0);
    tg_csv_free(history);
    out_file(path, sizeof path, dir, "stock_gru_loss.png");
    assert_png(path, 600, 400);
    out_file(path, sizeof path, dir, "stock_gru_test.png");
    assert_png(path, 1000, 800);
    out_file(path, sizeof path, dir, "stock_gru_best.safetensors");
    tg_safetensors *best = tg_safetensors_load(path);
    cr_assert_not_null(best, "%s", tg_error_message());
    tg_safetensors_free(best);

    /* The naive rows, recomputed here from the file: the test period is the
     * last 15% of the windows, forecasting day t + 1 on day t. */
    int n;
    double *price = aapl_prices(&n);
    int windows = n - 1 - WINDOW, first = WINDOW + windows * 70 / 100 + windows * 15 / 100;
    double same = 0, average = 0;
    for (int t = first; t < n - 1; t++) {
        double mean = 0;
        for (int k = 0; k < WINDOW; k++)
            mean += price[t - k] / WINDOW;
        same += fabs(price[t + 1] - price[t]);
        average += fabs(price[t + 1] - mean);
    }
    same /= n - 1 - first;
    average /= n - 1 - first;
    double printed_same = first_number_after(run.output, "    tomorrow = today ");
    double printed_average = first_number_after(run.output, "    moving average (20 days) ");
    cr_assert(fabs(printed_same - same) < 1e-3, "tomorrow = today: printed %g, file %g", printed_same,
              same);
    cr_assert(fabs(printed_average - average) < 1e-3, "moving average: printed %g, file %g",
              printed_average, average);
    free(price);
    example_run_free(&run);
}

/* Writes the Apple file's header and rows oldest first: the same data in
 * the other date order. */
static void write_oldest_first(const char *path)
{
    size_t size;
    char aapl[600];
    char *text = tg_text_read(stocks_file("WIKI-AAPL.csv", aapl), 0, &size);
    cr_assert_not_null(text, "%s", tg_error_message());
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    char *header_end = strchr(text, '\n');
    fwrite(text, 1, (size_t)(header_end - text) + 1, f);
    /* Rows from the last to the first (the last row has no newline). */
    char *end = text + size;
    while (end > header_end + 1) {
        char *start = end;
        while (start > header_end + 1 && start[-1] != '\n')
            start--;
        fwrite(start, 1, (size_t)(end - start), f);
        fputc('\n', f);
        end = start - 1;
    }
    fclose(f);
    free(text);
}

Test(stock_gru, rows_in_either_date_order_give_the_same_run)
{
    char newest[512], oldest[512], path[600], csv_a[600], csv_b[600], aapl[600];
    example_out_dir("stock_gru_newest_first", newest, sizeof newest);
    example_out_dir("stock_gru_oldest_first", oldest, sizeof oldest);
    out_file(path, sizeof path, oldest, "aapl_oldest_first.csv");
    write_oldest_first(path);
    example_run a = run_quick(newest, "--data", stocks_file("WIKI-AAPL.csv", aapl), NULL, NULL);
    example_run b = run_quick(oldest, "--data", path, NULL, NULL);
    cr_assert_eq(first_number_after(a.output, "    GRU "), first_number_after(b.output, "    GRU "));
    cr_assert_eq(first_number_after(a.output, "    tomorrow = today "),
                 first_number_after(b.output, "    tomorrow = today "));
    example_run_free(&a);
    example_run_free(&b);
    out_file(csv_a, sizeof csv_a, newest, "stock_gru_history.csv");
    out_file(csv_b, sizeof csv_b, oldest, "stock_gru_history.csv");
    size_t size_a, size_b;
    char *history_a = tg_text_read(csv_a, 0, &size_a), *history_b = tg_text_read(csv_b, 0, &size_b);
    cr_assert(history_a && history_b, "%s", tg_error_message());
    cr_assert_str_eq(history_a, history_b);
    free(history_a);
    free(history_b);
}

Test(stock_gru, a_file_without_dates_keeps_its_row_order)
{
    char dir[512], path[600], eu_stocks[600];
    example_out_dir("stock_gru_dax", dir, sizeof dir);
    example_run run = run_quick(dir, "--data", stocks_file("EuStockMarkets.csv", eu_stocks), "--column",
                                "DAX");
    cr_assert(strstr(run.output, "no Date column: the file's row order is kept"), "%s", run.output);
    cr_assert(strstr(run.output, "1860 days, day 1 .. day 1860"), "%s", run.output);
    /* DAX points, not dollars: no dollar sign before its prices. */
    cr_assert(strstr(run.output, "prices from 1402.34 to 6186.09"), "%s", run.output);
    example_run_free(&run);
    out_file(path, sizeof path, dir, "stock_gru_test.png");
    assert_png(path, 1000, 800);
}

Test(stock_gru, a_loaded_checkpoint_continues_the_saved_training)
{
    char saved[512], loaded[512], checkpoint[600];
    example_out_dir("stock_gru_save", saved, sizeof saved);
    example_out_dir("stock_gru_load", loaded, sizeof loaded);
    out_file(checkpoint, sizeof checkpoint, saved, "run.ckpt");
    example_run a = run_quick(saved, "--save", checkpoint, NULL, NULL);
    example_run b = run_quick(loaded, "--load", checkpoint, "--epochs", "1");
    cr_assert(strstr(b.output, "started from"), "%s", b.output);
    example_run_free(&a);
    example_run_free(&b);
    /* The loaded weights start where the saved run ended, so the first
     * epoch's loss is that of a trained model, below a fresh first epoch,
     * and its epochs go on from the saved run's last. */
    assert_resumed_epochs(saved, loaded, "stock_gru_history.csv", 3);
}

/* The line of output that starts with `label`, into out. */
static void line_of(const char *output, const char *label, char *out, size_t n)
{
    const char *p = strstr(output, label);
    cr_assert_not_null(p, "no \"%s\" in:\n%s", label, output);
    size_t length = strcspn(p, "\n");
    cr_assert_lt(length, n);
    memcpy(out, p, length);
    out[length] = '\0';
}

Test(stock_gru, eval_forecasts_with_a_loaded_model_without_training)
{
    char saved[512], evaluated[512], checkpoint[600], path[600];
    example_out_dir("stock_gru_eval_save", saved, sizeof saved);
    example_out_dir("stock_gru_eval", evaluated, sizeof evaluated);
    out_file(checkpoint, sizeof checkpoint, saved, "run.ckpt");
    example_run a = run_quick(saved, "--save", checkpoint, NULL, NULL);
    example_run b = run_quick(evaluated, "--load", checkpoint, "--eval", NULL);
    cr_assert(strstr(b.output, "## 4. Evaluation only"), "%s", b.output);
    cr_assert_null(strstr(b.output, "train loss"), "it trained:\n%s", b.output);
    /* The kept weights give the saved run's very forecasts. */
    const char *labels[] = { "    GRU   ", "    Predicted Next Day Price: " };
    for (int k = 0; k < 2; k++) {
        char line_a[256], line_b[256];
        line_of(a.output, labels[k], line_a, sizeof line_a);
        line_of(b.output, labels[k], line_b, sizeof line_b);
        cr_assert_str_eq(line_b, line_a);
    }
    cr_assert(strstr(b.output, "the loaded model's training period (from --load)"), "%s", b.output);
    double mean = first_number_after(a.output, "training period: mean daily return ");
    out_file(path, sizeof path, evaluated, "stock_gru_test.png");
    assert_png(path, 1000, 800);
    const char *not_written[] = { "stock_gru_history.csv", "stock_gru_loss.png", "stock_gru_best.safetensors" };
    for (int k = 0; k < 3; k++) {
        out_file(path, sizeof path, evaluated, not_written[k]);
        cr_assert_neq(access(path, F_OK), 0, "--eval wrote %s", path);
    }
    example_run_free(&a);
    example_run_free(&b);
    assert_refused(EXAMPLE, (const char *[]){ "--out", evaluated, "--eval", NULL },
                   "--eval evaluates a saved model: give it with --load PATH");

    /* New data: another series, standardised as the model's training returns were. */
    char other[600];
    example_run c = run_example_expecting(0, EXAMPLE, (const char *[]){ "--quick", "--out", evaluated,
        "--load", checkpoint, "--eval", "--data", stocks_file("EuStockMarkets.csv", other), "--column", "DAX",
        NULL });
    cr_assert_eq(first_number_after(c.output, "(from --load): mean daily return "), mean, "%s", c.output);
    cr_assert(strstr(c.output, "column \"DAX\", 1860 days"), "%s", c.output);
    cr_assert(strstr(c.output, "    GRU   "), "%s", c.output);
    example_run_free(&c);
}

/* The checkpoint at from without the returns' statistics, as stock_gru
 * saved it before it recorded them, at to. */
static void save_without_statistics(const char *from, const char *to)
{
    tg_safetensors *file = tg_safetensors_load(from);
    cr_assert_not_null(file, "%s", tg_error_message());
    tg_named_tensor tensors[64];
    tg_string_pair pairs[64];
    int n = tg_safetensors_count(file), m = 0;
    cr_assert_leq(n, 64);
    for (int i = 0; i < n; i++)
        tensors[i] = (tg_named_tensor){ tg_safetensors_name(file, i),
                                        (tg_tensor *)tg_safetensors_get(file, tg_safetensors_name(file, i)) };
    for (int i = 0; i < tg_safetensors_metadata_count(file); i++)
        if (!strstr(tg_safetensors_metadata_key(file, i), "return_")) {
            cr_assert_lt(m, 64);
            pairs[m++] = (tg_string_pair){ tg_safetensors_metadata_key(file, i),
                                           tg_safetensors_metadata_value(file, i) };
        }
    cr_assert_eq(tg_safetensors_save(to, tensors, n, pairs, m), 0, "%s", tg_error_message());
    tg_safetensors_free(file);
}

Test(stock_gru, eval_of_a_checkpoint_without_statistics_uses_the_datas)
{
    char saved[512], checkpoint[600], older[600];
    example_out_dir("stock_gru_eval_older", saved, sizeof saved);
    out_file(checkpoint, sizeof checkpoint, saved, "run.ckpt");
    out_file(older, sizeof older, saved, "older.ckpt");
    example_run a = run_quick(saved, "--save", checkpoint, NULL, NULL);
    save_without_statistics(checkpoint, older);
    example_run b = run_quick(saved, "--load", older, "--eval", NULL);
    cr_assert(strstr(b.output, "(--load holds no return statistics: those of --data's training period are used)"),
              "%s", b.output);
    /* The same data's training period gives the same statistics, so the same forecasts. */
    cr_assert_eq(first_number_after(b.output, "    GRU   "), first_number_after(a.output, "    GRU   "));
    example_run_free(&a);
    example_run_free(&b);
}

/* A small price file of `rows` rows whose row `bad` (from 0) holds `field`
 * in place of the price (or the date, when bad_date). */
static void write_prices(const char *path, int rows, int bad, const char *field, bool bad_date)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("Date,Close\n", f);
    for (int r = 0; r < rows; r++) {
        char date[32], price[32];
        snprintf(date, sizeof date, "2001-%02d-%02d", 1 + r / 28, 1 + r % 28);
        snprintf(price, sizeof price, "%.2f", 100.0 + r % 7);
        fprintf(f, "%s,%s\n", r == bad && bad_date ? field : date, r == bad && !bad_date ? field : price);
    }
    fclose(f);
}

Test(stock_gru, bad_input_exits_2_with_a_message)
{
    char dir[512], path[600];
    example_out_dir("stock_gru_refusals", dir, sizeof dir);
    assert_refused(EXAMPLE, (const char *[]){ "--out", dir, "--bogus", NULL }, "unknown option '--bogus'");
    assert_refused(EXAMPLE, (const char *[]){ "--out", dir, "--steps", "10", NULL },
                   "--steps: this example counts epochs");
    assert_refused(EXAMPLE, (const char *[]){ "--out", dir, "--window", "x", NULL },
                   "bad value 'x' for option '--window'");
    assert_refused(EXAMPLE, (const char *[]){ "--out", dir, "--window", "1", NULL }, "--window must be in [2, 250]");
    out_file(path, sizeof path, dir, "missing.csv");
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--out", dir, "--data", path, NULL }, "missing.csv");
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--out", dir, "--column", "Price", NULL },
                   "Adj. Close");

    out_file(path, sizeof path, dir, "bad_number.csv");
    write_prices(path, 100, 6, "12x", false);
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--out", dir, "--data", path, "--column", "Close", NULL },
                   "bad_number.csv: line 8");
    out_file(path, sizeof path, dir, "negative.csv");
    write_prices(path, 100, 9, "-3", false);
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--out", dir, "--data", path, "--column", "Close", NULL },
                   "negative.csv: line 11, field \"Close\": the price -3 is not positive");
    out_file(path, sizeof path, dir, "bad_date.csv");
    write_prices(path, 100, 3, "2001/01/04", true);
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--out", dir, "--data", path, "--column", "Close", NULL },
                   "bad_date.csv: line 5: \"2001/01/04\" is not a date");
    out_file(path, sizeof path, dir, "short.csv");
    write_prices(path, 30, -1, "", false);
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--out", dir, "--data", path, "--column", "Close", NULL },
                   "short.csv: 30 rows; this window needs at least 60");
    out_file(path, sizeof path, dir, "ragged.csv");
    write_text_file(path, "Date,Close\n2001-01-01,10\n2001-01-02\n");
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--out", dir, "--data", path, "--column", "Close", NULL },
                   "ragged.csv");
    out_file(path, sizeof path, dir, "bad.ckpt");
    write_text_file(path, "not a checkpoint");
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--out", dir, "--load", path, NULL }, "bad.ckpt");
}
