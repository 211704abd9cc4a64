/*
 * stock_gru: next-day price prediction with a GRU, measured against the
 * naive forecasts it has to beat.
 *
 * The seed's third example. A GRU reads a window of past daily returns of
 * one price series (Apple's adjusted close, 1980-2018, by default) and
 * predicts the next day's return, hence the next day's price. Training,
 * validation and test periods follow each other in time. On the test
 * period the GRU is compared with "tomorrow = today" and with the moving
 * average of the window: MAE, RMSE, MAPE and direction accuracy in dollars.
 *
 *     stock_gru [--quick] [--data FILE.csv] [--column NAME] [--window N]
 *               [--epochs N] [--seed S] [--out DIR] [--save PATH] [--load PATH [--eval]]
 *
 * The CSV needs a header and a price column (--column, default "Adj. Close").
 * With a "Date" column (YYYY-MM-DD) rows may come in any order and are
 * sorted by date; without one the file's order is kept, oldest first.
 * Writes to --out: stock_gru_history.csv, stock_gru_loss.png,
 * stock_gru_test.png and stock_gru_best.safetensors (the kept weights).
 * With --load and --eval nothing is trained: the loaded model forecasts
 * --data's test period (its returns standardised as the model's training
 * returns were, which the checkpoint records) and the seed's example; only
 * stock_gru_test.png is written.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notebook.h"

static const char PROGRAM[] = "stock_gru";

enum { MAX_BATCH = 256, ZOOM_DAYS = 60 };

typedef struct settings {
    int window;     /* past days the GRU reads */
    int64_t hidden; /* GRU units */
    double lr;
    int batch;
    int epochs;
    int train_limit; /* use at most this many (the most recent) training windows */
} settings;

/* A price series, oldest first. date[i] points into the CSV (NULL when the
 * file has no dates). */
typedef struct series {
    tg_csv *csv;
    int n;
    double *price;
    const char **date;
    const char *unit; /* "$" for Apple's prices; "" for another file's, whatever they count */
} series;

/* Day t's window is the returns of days t - window + 1 .. t; its target is
 * the return of day t + 1. The windows of each period are consecutive. */
typedef struct period {
    int first, count; /* days t of the windows */
} period;

/* The returns as the GRU sees them: r[t] = ln(price[t] / price[t - 1]),
 * standardised with the training period's mean and deviation. */
typedef struct returns {
    double *z;   /* z[t] for t >= 1 */
    double mean, std;
} returns;

typedef struct forecaster {
    tg_model *model;
    tg_gru *gru;
    tg_linear *head;
} forecaster;

/* Errors of a forecast over a period, in dollars (mape in %, direction the
 * share of days whose up or down move was foreseen; NaN when the forecast
 * never moves). */
typedef struct errors {
    double mae, rmse, mape, direction;
} errors;

/* ---- 1. The data --------------------------------------------------------------- */

/* The index of the "Date" column, or -1 when there is none. */
static int date_column(const tg_csv *csv)
{
    for (int c = 0; c < tg_csv_columns(csv); c++)
        if (strcmp(tg_csv_column_name(csv, c), "Date") == 0)
            return c;
    return -1;
}

/* True when text is a date YYYY-MM-DD (which then sorts as text does). */
static bool is_date(const char *text)
{
    int year, month, day, used = 0;
    return sscanf(text, "%4d-%2d-%2d%n", &year, &month, &day, &used) == 3 && used == 10 &&
           !text[used] && month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

static const tg_csv *sort_csv;
static int sort_date_column;

/* Rows by date, then by their place in the file. */
static int compare_rows(const void *a, const void *b)
{
    int ra = *(const int *)a, rb = *(const int *)b;
    int c = strcmp(tg_csv_field(sort_csv, ra, sort_date_column),
                   tg_csv_field(sort_csv, rb, sort_date_column));
    return c ? c : (ra > rb) - (ra < rb);
}

/* The rows of the CSV oldest first: sorted by the date column, or in file
 * order when there is none (dates < 0). NULL after a message when a date is
 * malformed. */
static int *chronological_rows(const tg_csv *csv, int dates, const char *path)
{
    int rows = tg_csv_rows(csv);
    int *order = malloc((size_t)rows * sizeof *order);
    if (!order) {
        fprintf(stderr, "%s: out of memory\n", PROGRAM);
        return NULL;
    }
    for (int r = 0; r < rows; r++) {
        order[r] = r;
        if (dates >= 0 && !is_date(tg_csv_field(csv, r, dates))) {
            fprintf(stderr, "%s: %s: line %d: \"%s\" is not a date YYYY-MM-DD\n", PROGRAM, path,
                    tg_csv_line(csv, r), tg_csv_field(csv, r, dates));
            free(order);
            return NULL;
        }
    }
    if (dates >= 0) {
        sort_csv = csv;
        sort_date_column = dates;
        qsort(order, (size_t)rows, sizeof *order, compare_rows);
    }
    return order;
}

/* The price of one row; -1 after a message when it is not a positive number. */
static int read_price(const tg_csv *csv, int row, int column, const char *path, double *out)
{
    float price;
    if (tg_csv_float(csv, row, column, &price) != 0) {
        fprintf(stderr, "%s: %s\n", PROGRAM, tg_error_message());
        return -1;
    }
    if (!(price > 0) || !isfinite(price)) {
        fprintf(stderr, "%s: %s: line %d, field \"%s\": the price %g is not positive and finite\n",
                PROGRAM, path, tg_csv_line(csv, row), tg_csv_column_name(csv, column), price);
        return -1;
    }
    *out = price;
    return 0;
}

/* Reads the price column (and the dates) of path into s, oldest first.
 * Returns 0, or 2 after printing what is wrong with the file. */
static int load_series(series *s, const char *path, const char *column, int min_days)
{
    s->csv = tg_csv_read(path, (tg_csv_config){ 0 });
    int price_column = s->csv ? tg_csv_column(s->csv, column) : -1;
    if (price_column < 0) {
        fprintf(stderr, "%s: %s\n", PROGRAM, tg_error_message());
        return 2;
    }
    int rows = tg_csv_rows(s->csv), dates = date_column(s->csv);
    if (rows < min_days) {
        fprintf(stderr, "%s: %s: %d rows; this window needs at least %d\n", PROGRAM, path, rows,
                min_days);
        return 2;
    }
    int *order = chronological_rows(s->csv, dates, path);
    s->price = malloc((size_t)rows * sizeof *s->price);
    s->date = dates >= 0 ? malloc((size_t)rows * sizeof *s->date) : NULL;
    if (!order || !s->price || (dates >= 0 && !s->date)) {
        free(order);
        return 2;
    }
    for (int i = 0; i < rows; i++) {
        if (read_price(s->csv, order[i], price_column, path, &s->price[i]) != 0) {
            free(order);
            return 2;
        }
        if (s->date)
            s->date[i] = tg_csv_field(s->csv, order[i], dates);
    }
    s->n = rows;
    free(order);
    return 0;
}

static void free_series(series *s)
{
    free(s->price);
    free(s->date);
    tg_csv_free(s->csv);
}

/* "2012-09-04" when the series has dates, else "day 1234". */
static const char *day_name(const series *s, int t, char *buf, size_t n)
{
    if (s->date)
        return s->date[t];
    snprintf(buf, n, "day %d", t + 1);
    return buf;
}

static void print_period(const series *s, const char *name, period p)
{
    char a[32], b[32];
    printf("    %-10s %6d windows   predicting %s .. %s\n", name, p.count,
           day_name(s, p.first + 1, a, sizeof a), day_name(s, p.first + p.count, b, sizeof b));
}

/* ---- 2. Returns, standardised on the training period ------------------------------- */

/* The returns standardised with the training period's mean and deviation,
 * or, when saved is not NULL, with saved[0] and saved[1] (those a loaded
 * model was trained with). */
static int make_returns(returns *r, const series *s, period train, const double *saved)
{
    r->z = malloc((size_t)s->n * sizeof *r->z);
    if (!r->z)
        return -1;
    for (int t = 1; t < s->n; t++)
        r->z[t] = log(s->price[t] / s->price[t - 1]);
    /* The training windows read days 1 .. last + 1 (the last target). */
    int last = train.first + train.count;
    double sum = 0, squares = 0;
    for (int t = 1; t <= last; t++)
        sum += r->z[t];
    r->mean = sum / last;
    for (int t = 1; t <= last; t++)
        squares += (r->z[t] - r->mean) * (r->z[t] - r->mean);
    r->std = sqrt(squares / last);
    if (saved) {
        r->mean = saved[0];
        r->std = saved[1];
    }
    if (!(r->std > 0))
        return tg_error_set("stock_gru: the training prices never change");
    for (int t = 1; t < s->n; t++)
        r->z[t] = (r->z[t] - r->mean) / r->std;
    return 0;
}

/* ---- 3. The model ---------------------------------------------------------------------- */

static int make_forecaster(forecaster *f, uint64_t seed, const settings *s)
{
    f->model = tg_model_new(seed);
    f->gru = tg_gru_new(f->model, "gru", (tg_rnn_config){ .input = 1, .hidden = s->hidden });
    f->head = tg_linear_new(f->model, "head", (tg_linear_config){ .input = s->hidden, .output = 1 });
    return f->gru && f->head ? 0 : -1;
}

/* The next day's standardised return [n, 1] for the windows of n sequences
 * given as inputs x [T, n, 1]: the GRU's last state through the head. */
static tg_tensor *forecast(forecaster *f, tg_tensor *x)
{
    tg_rnn_result r = tg_gru_forward(f->gru, x, NULL);
    return tg_linear_forward(f->head, tg_select(r.h_n, 0, 0));
}

/* The windows of days t[0..n) as x [window, n, 1] and their targets [n, 1]. */
static void make_batch(const returns *r, const int *days, int n, int window, tg_tensor **x,
                       tg_tensor **y)
{
    float inputs[window * n], targets[n];
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < window; k++)
            inputs[k * n + i] = (float)r->z[days[i] - window + 1 + k];
        targets[i] = (float)r->z[days[i] + 1];
    }
    *x = tg_from_array(TG_SHAPE(window, n, 1), inputs);
    *y = tg_from_array(TG_SHAPE(n, 1), targets);
}

/* Predicted prices for the days after each window of period p into out
 * (p.count values), and the mean Huber loss in standardised units. */
static int predict_period(forecaster *f, const returns *r, const series *s, period p, int window,
                          double *out, double *loss)
{
    tg_no_grad_begin();
    double total = 0;
    int status = 0;
    for (int first = 0; first < p.count && status == 0; first += MAX_BATCH) {
        int n = p.count - first < MAX_BATCH ? p.count - first : MAX_BATCH, days[MAX_BATCH];
        for (int i = 0; i < n; i++)
            days[i] = p.first + first + i;
        tg_tensor *x, *y;
        make_batch(r, days, n, window, &x, &y);
        tg_tensor *z = forecast(f, x);
        tg_tensor *batch_loss = tg_huber_loss(z, y, 1.0f, TG_REDUCTION_SUM);
        float values[MAX_BATCH];
        if (!batch_loss || tg_tensor_to_array(z, values) != 0) {
            status = -1;
            break;
        }
        total += tg_tensor_item(batch_loss);
        for (int i = 0; i < n; i++)
            out[first + i] = s->price[days[i]] * exp(values[i] * r->std + r->mean);
        tg_graph_reset();
    }
    tg_no_grad_end();
    *loss = total / p.count;
    return status;
}

/* ---- Errors of a forecast ------------------------------------------------------------- */

/* The errors of predicted[i], the forecast for day p.first + i + 1 made on
 * day p.first + i. */
static errors measure(const double *predicted, const series *s, period p)
{
    double abs_sum = 0, square_sum = 0, percent_sum = 0;
    int moves = 0, right = 0;
    for (int i = 0; i < p.count; i++) {
        double today = s->price[p.first + i], actual = s->price[p.first + i + 1];
        double error = predicted[i] - actual;
        abs_sum += fabs(error);
        square_sum += error * error;
        percent_sum += fabs(error) / actual;
        if (predicted[i] != today) {
            moves++;
            right += (predicted[i] > today) == (actual > today);
        }
    }
    return (errors){ .mae = abs_sum / p.count, .rmse = sqrt(square_sum / p.count),
                     .mape = 100 * percent_sum / p.count,
                     .direction = moves ? 100.0 * right / moves : NAN };
}

/* ---- 4. Training -------------------------------------------------------------------------- */

/* A training batch as its parts see it (tg_batch_split: each part's
 * windows through the GRU and back on one thread), and each part's share
 * of the batch's mean loss. */
typedef struct train_batch {
    forecaster *f;
    const returns *r;
    int window, count, days[MAX_BATCH];
    float loss[MAX_BATCH];
} train_batch;

static int train_part(void *ctx, int part, int parts)
{
    train_batch *b = ctx;
    int begin, end;
    nb_part_rows(b->count, part, parts, &begin, &end);
    b->loss[part] = 0;
    if (begin == end) /* a last batch smaller than the number of parts */
        return 0;
    tg_tensor *x, *y;
    make_batch(b->r, b->days + begin, end - begin, b->window, &x, &y);
    tg_tensor *loss = tg_mul_scalar(tg_huber_loss(forecast(b->f, x), y, 1.0f, TG_REDUCTION_MEAN),
                                    (float)(end - begin) / (float)b->count);
    if (!loss || tg_backward(loss) != 0)
        return -1;
    b->loss[part] = tg_tensor_item(loss);
    return 0;
}

/* One pass over the training windows in a random order; the mean loss. */
static double train_epoch(forecaster *f, tg_optimizer *opt, tg_batch_split *split, int parts, const returns *r,
                          period train, const settings *s, tg_rng *data_rng)
{
    int64_t *order = malloc((size_t)train.count * sizeof *order);
    if (!order)
        return NAN;
    for (int64_t i = 0; i < train.count; i++)
        order[i] = train.first + i;
    tg_rng_shuffle(data_rng, order, train.count);
    double total = 0;
    train_batch b = { .f = f, .r = r, .window = s->window };
    for (int first = 0; first < train.count; first += s->batch) {
        b.count = train.count - first < s->batch ? train.count - first : s->batch;
        for (int i = 0; i < b.count; i++)
            b.days[i] = (int)order[first + i];
        if (tg_batch_split_run(split, train_part, &b) != 0) {
            total = NAN;
            break;
        }
        tg_clip_grad_norm(f->model, 1.0f);
        tg_optimizer_step(opt);
        tg_optimizer_zero_grad(opt);
        for (int p = 0; p < parts; p++)
            total += b.loss[p] * b.count;
        tg_graph_reset();
    }
    free(order);
    return total / train.count;
}

/* Trains for epochs first_epoch, first_epoch + 1, ..., keeping the weights
 * of the epoch with the lowest validation MAE (optim/early_stop.h), which
 * are back in the model at the end and written to best_path. Returns that
 * epoch, or -1. */
static int fit(forecaster *f, tg_optimizer *opt, const returns *r, const series *data,
               period train_period, period valid, const settings *s, int first_epoch,
               tg_rng *data_rng, tg_history *history, const char *best_path)
{
    double *predicted = malloc((size_t)valid.count * sizeof *predicted);
    tg_early_stop *stop = tg_early_stop_new(f->model, (tg_early_stop_config){ .goal = TG_GOAL_MIN });
    int parts = nb_split_parts(s->batch);
    tg_batch_split *split = tg_batch_split_new(parts, tg_rng_next_u64(tg_model_rng(f->model)));
    int status = predicted && stop && split ? 0 : -1;
    if (status == 0)
        printf("    epoch   train loss   valid loss   valid MAE ($)   seconds\n");
    for (int epoch = first_epoch; status == 0 && epoch < first_epoch + s->epochs; epoch++) {
        double start = nb_seconds(), valid_loss;
        double train_loss = train_epoch(f, opt, split, parts, r, train_period, s, data_rng);
        if (isnan(train_loss) ||
            predict_period(f, r, data, valid, s->window, predicted, &valid_loss) != 0) {
            status = -1;
            break;
        }
        double mae = measure(predicted, data, valid).mae;
        tg_history_add(history, epoch, "train_loss", train_loss);
        tg_history_add(history, epoch, "valid_loss", valid_loss);
        tg_history_add(history, epoch, "valid_mae", mae);
        bool better = tg_early_stop_update(stop, epoch, mae, 0);
        printf("    %5d   %10.4f   %10.4f   %13.4f   %7.1f %s\n", epoch, train_loss, valid_loss, mae,
               nb_seconds() - start, better ? "*" : "");
        fflush(stdout);
    }
    int best_epoch = status == 0 ? (int)tg_early_stop_best_epoch(stop) : -1;
    if (best_epoch > 0 && (tg_early_stop_restore(stop) != 0 || tg_model_save(f->model, best_path) != 0))
        best_epoch = -1;
    tg_early_stop_free(stop);
    tg_batch_split_free(split);
    free(predicted);
    return best_epoch;
}

/* ---- 5. Against the naive forecasts -------------------------------------------------------- */

/* Tomorrow = today, and tomorrow = the mean of the window's prices. */
static void naive_forecasts(const series *s, period p, int window, double *same, double *average)
{
    for (int i = 0; i < p.count; i++) {
        int t = p.first + i;
        double sum = 0;
        for (int k = 0; k < window; k++)
            sum += s->price[t - k];
        same[i] = s->price[t];
        average[i] = sum / window;
    }
}

static void print_errors(const char *name, errors e)
{
    printf("    %-24s %9.4f %9.4f %8.3f%%", name, e.mae, e.rmse, e.mape);
    if (isnan(e.direction))
        printf("   (never moves)\n");
    else
        printf(" %9.1f%%\n", e.direction);
}

/* The mean of |a's error| - |b's error| over the days of p, and twice its
 * standard error: a difference of MAE smaller than that is day-to-day
 * noise, not a better forecast. */
static void mae_difference(const double *a, const double *b, const series *s, period p,
                           double *mean, double *two_se)
{
    double sum = 0, squares = 0;
    for (int i = 0; i < p.count; i++) {
        double actual = s->price[p.first + i + 1];
        double d = fabs(a[i] - actual) - fabs(b[i] - actual);
        sum += d;
        squares += d * d;
    }
    *mean = sum / p.count;
    double variance = (squares - p.count * *mean * *mean) / (p.count - 1);
    *two_se = 2 * sqrt(fmax(variance, 0) / p.count);
}

/* Mean size of a forecast's move from today, in % of today's price. */
static double mean_move(const double *forecast, const series *s, period p)
{
    double sum = 0;
    for (int i = 0; i < p.count; i++)
        sum += fabs(forecast[i] / s->price[p.first + i] - 1);
    return 100 * sum / p.count;
}

/* The table of errors, and which forecast won. */
static void compare_forecasts(const series *s, period test, int window, const double *model,
                              const double *same, const double *average)
{
    errors e_model = measure(model, s, test), e_same = measure(same, s, test),
           e_average = measure(average, s, test);
    char average_name[48];
    snprintf(average_name, sizeof average_name, "moving average (%d days)", window);
    printf("    %-24s %9s %9s %9s %10s\n", "forecast", "MAE", "RMSE", "MAPE", "direction");
    print_errors("GRU", e_model);
    print_errors("tomorrow = today", e_same);
    print_errors(average_name, e_average);
    int up = 0;
    double actual_move = 0;
    for (int i = 0; i < test.count; i++) {
        double today = s->price[test.first + i], tomorrow = s->price[test.first + i + 1];
        up += tomorrow > today;
        actual_move += fabs(tomorrow / today - 1);
    }
    printf("\n    The price rose on %.1f%% of the test days. A day's actual move averaged %.2f%%;\n"
           "    the GRU's forecast moved %.2f%% from today's price on average.\n",
           100.0 * up / test.count, 100 * actual_move / test.count, mean_move(model, s, test));

    bool same_better = e_same.mae <= e_average.mae;
    const char *baseline_name = same_better ? "tomorrow = today" : average_name;
    const double *baseline = same_better ? same : average;
    double baseline_mae = same_better ? e_same.mae : e_average.mae, difference, noise;
    mae_difference(model, baseline, s, test, &difference, &noise);
    char verdict[640];
    snprintf(verdict, sizeof verdict,
             "Lowest MAE: %s. The GRU's MAE is %.2f%% %s that of %s, the better naive forecast "
             "(a difference of %s%.4f a day, against %s%.4f for two standard errors). %s",
             e_model.mae < baseline_mae ? "the GRU" : baseline_name,
             100 * fabs(e_model.mae - baseline_mae) / baseline_mae,
             e_model.mae < baseline_mae ? "below" : "above", baseline_name, s->unit,
             fabs(difference), s->unit, noise,
             fabs(difference) < noise ? "That is within the noise of the test days: a tie."
             : e_model.mae < baseline_mae ? "The GRU won, by more than the noise."
                                          : "The naive forecast won, by more than the noise.");
    printf("\n");
    nb_text(verdict);
    nb_text("Daily returns are close to unpredictable from past prices alone, so the best a "
            "network can learn from them is to stay near today's price and add a little drift. "
            "A model that seems to beat tomorrow = today by a wide margin has usually seen "
            "the future (a split shuffled across time, or statistics fitted on the test days).");
}

/* ---- 6. The seed's example ----------------------------------------------------------------- */

/* The GRU's next price after `count` prices (at least 2). */
static int predict_after(forecaster *f, const returns *r, const double *prices, int count,
                         double *out)
{
    float inputs[count - 1];
    for (int k = 1; k < count; k++)
        inputs[k - 1] = (float)((log(prices[k] / prices[k - 1]) - r->mean) / r->std);
    tg_no_grad_begin();
    tg_tensor *z = forecast(f, tg_from_array(TG_SHAPE(count - 1, 1, 1), inputs));
    int status = z ? 0 : -1;
    if (z)
        *out = prices[count - 1] * exp(tg_tensor_item(z) * r->std + r->mean);
    tg_no_grad_end();
    tg_graph_reset();
    return status;
}

/* ---- 7. Charts ------------------------------------------------------------------------------- */

/* Two panels over the test period: all of it, and its last ZOOM_DAYS days. */
static int plot_test(const char *path, const series *s, period test, const double *model,
                     const double *same, const char *column)
{
    double *day = malloc((size_t)test.count * sizeof *day);
    double *actual = malloc((size_t)test.count * sizeof *actual);
    if (!day || !actual) {
        free(day);
        free(actual);
        return tg_error_set("stock_gru: out of memory");
    }
    for (int i = 0; i < test.count; i++) {
        day[i] = i + 1;
        actual[i] = s->price[test.first + i + 1];
    }
    char title[160], a[32], b[32];
    snprintf(title, sizeof title, "stock_gru: %s, predicted vs actual, test period %s .. %s", column,
             day_name(s, test.first + 1, a, sizeof a), day_name(s, test.first + test.count, b, sizeof b));
    tg_plot_figure *figure = tg_plot_figure_new((tg_plot_figure_config){
        .rows = 2, .width = 1100, .height = 900, .title = title });
    int zoom = test.count < ZOOM_DAYS ? test.count : ZOOM_DAYS, skip = test.count - zoom;
    char zoom_title[48];
    snprintf(zoom_title, sizeof zoom_title, "its last %d days", zoom);
    for (int panel = 0; figure && panel < 2; panel++) {
        int from = panel == 0 ? 0 : skip, n = test.count - from;
        tg_plot_series series[] = {
            { .name = "actual", .xd = day + from, .yd = actual + from, .count = n },
            { .name = "GRU", .xd = day + from, .yd = model + from, .count = n },
            { .name = "tomorrow = today", .xd = day + from, .yd = same + from, .count = n,
              .style = TG_PLOT_DASHED },
        };
        if (tg_plot_figure_lines(figure, panel, series, 3, &(tg_plot_options){
                .title = panel == 0 ? "the whole test period" : zoom_title,
                .xlabel = "trading day of the test period", .ylabel = "price ($)",
                .legend = TG_PLOT_LEGEND_TOP_LEFT }) < 0) {
            tg_plot_figure_free(figure);
            figure = NULL;
        }
    }
    int status = figure ? tg_plot_figure_save(figure, path) : -1;
    tg_plot_figure_free(figure);
    free(day);
    free(actual);
    return status;
}

/* ---- The notebook ---------------------------------------------------------------------------- */

/* Everything the sections share. */
typedef struct notebook {
    settings s;
    const nb_common *common;
    const char *path, *column; /* the CSV file and its price column */
    tg_rng data_rng;           /* the batches' order */
    series data;
    period train, valid, test;
    returns r;
    forecaster net;
    tg_optimizer *opt;
    tg_history *history;
    int trained_epochs;              /* by the checkpoint of --load */
    double *model, *same, *average; /* the test period's forecasts */
} notebook;

static int section_data(notebook *nb)
{
    nb_section(1, "The data",
               "One price per trading day. Each example is a window of past days and the day "
               "after it; the windows are split by time, never shuffled across the split: the "
               "first 70% train the network, the next 15% choose which epoch's weights to "
               "keep, and the last 15% are the test, the future that nothing before has seen.");
    series *data = &nb->data;
    /* window + 1 prices make a window's returns, one more its target; and
     * each of the three periods needs a few windows. */
    data->unit = nb->common->data ? "" : "$";
    if (load_series(data, nb->path, nb->column, nb->s.window + 40) != 0)
        return 2;
    char a[32], b[32];
    printf("    %s: column \"%s\", %d days, %s .. %s\n", nb->path, nb->column, data->n,
           day_name(data, 0, a, sizeof a), day_name(data, data->n - 1, b, sizeof b));
    printf("    %s\n", data->date ? "sorted by the Date column"
                                  : "no Date column: the file's row order is kept, taken as oldest first");
    double low = INFINITY, high = 0;
    for (int t = 0; t < data->n; t++) {
        low = fmin(low, data->price[t]);
        high = fmax(high, data->price[t]);
    }
    printf("    prices from %s%.2f to %s%.2f\n\n", data->unit, low, data->unit, high);
    int windows = data->n - 1 - nb->s.window;
    nb->train = (period){ .first = nb->s.window, .count = windows * 70 / 100 };
    nb->valid = (period){ .first = nb->train.first + nb->train.count, .count = windows * 15 / 100 };
    nb->test = (period){ .first = nb->valid.first + nb->valid.count,
                         .count = windows - nb->train.count - nb->valid.count };
    print_period(data, "train", nb->train);
    print_period(data, "validation", nb->valid);
    print_period(data, "test", nb->test);
    if (nb->train.count > nb->s.train_limit) {
        nb->train.first += nb->train.count - nb->s.train_limit;
        nb->train.count = nb->s.train_limit;
        printf("    (--quick: training on the last %d training windows only)\n", nb->train.count);
    }
    return 0;
}

/* The mean and deviation of the returns a checkpoint's model was trained
 * with (saved as "return_mean" and "return_std"): 1, 0 when the file has
 * none, -1 after a message when it cannot be read. */
static int saved_statistics(const char *checkpoint, double *out)
{
    tg_safetensors *file = tg_safetensors_load(checkpoint);
    if (!file) {
        fprintf(stderr, "%s: --load: %s\n", PROGRAM, tg_error_message());
        return -1;
    }
    const char *keys[2] = { "return_mean", "return_std" };
    int found = 1;
    for (int k = 0; k < 2 && found; k++) {
        const char *text = tg_checkpoint_user(file, keys[k]);
        char *end = NULL;
        out[k] = text ? strtod(text, &end) : NAN;
        found = text && end != text && !*end && isfinite(out[k]);
    }
    tg_safetensors_free(file);
    return found && out[1] > 0 ? 1 : 0;
}

static int section_returns(notebook *nb)
{
    nb_section(2, "What the network predicts: tomorrow's return",
               "Prices span a huge range over the years, and a network fitted on the early, "
               "cheap years has never seen the prices of the test period: predicting raw "
               "prices fails exactly where it matters. The daily log return "
               "r = ln(price today / price yesterday) is on the same scale in every year, so "
               "the GRU reads the last days' returns and predicts the next one; the price "
               "forecast is today's price times exp(r). Returns are standardised with the mean "
               "and deviation of the training period only: the validation and test periods "
               "must not leak into anything the model is fitted with.");
    double saved[2];
    int found = nb->common->eval ? saved_statistics(nb->common->load, saved) : 0;
    if (found < 0)
        return 2;
    if (make_returns(&nb->r, &nb->data, nb->train, found ? saved : NULL) != 0)
        return 1;
    printf("    %s: mean daily return %+.3f%%, deviation %.3f%%\n",
           found ? "the loaded model's training period (from --load)" : "training period",
           100 * nb->r.mean, 100 * nb->r.std);
    if (nb->common->eval && !found)
        printf("    (--load holds no return statistics: those of --data's training period are used)\n");
    return 0;
}

static int section_model(notebook *nb)
{
    nb_section(3, "The model",
               "A GRU reads the standardised returns of the window, one day per step; its last "
               "state goes through a Linear layer to the next day's standardised return. The "
               "GRU's update gate decides at each step how much of its state to replace "
               "(h = (1 - z) h_prev + z h~), which is what lets it keep what mattered days "
               "ago.");
    if (make_forecaster(&nb->net, nb->common->seed, &nb->s) != 0)
        return 1;
    nb_print_parameters(nb->net.model, 18);
    printf("    %lld parameters; window of %d days\n", (long long)tg_model_numel(nb->net.model),
           nb->s.window);
    printf("    computing on %d thread(s) (--threads N to change)\n", tg_get_num_threads());
    nb->opt = tg_adam_new(nb->net.model, (tg_adam_config){ .lr = nb->s.lr });
    if (!nb->opt || !nb->history)
        return 1;
    return nb_resume_epochs(PROGRAM, nb->common, nb->net.model, nb->opt, &nb->trained_epochs);
}

static int section_training(notebook *nb)
{
    if (nb->common->eval) {
        nb_section(4, "Evaluation only",
                   "--eval: the weights come from --load, and nothing is trained; the test "
                   "period below is --data's.");
        return 0;
    }
    nb_section(4, "Training",
               "Batches of 64 windows in a random order, each batch split between the threads "
               "(tg_batch_split: every thread runs its windows through the GRU and back, and "
               "their gradients are added); the loss is the Huber loss (squared "
               "for small errors, linear for large ones), because a few crash days lie ten "
               "deviations out and would dominate a squared error. After each epoch the "
               "validation period is forecast in dollars, and the weights of the epoch with "
               "the lowest validation MAE are kept aside, put back at the end and saved to a "
               "file.");
    char best_path[1024];
    nb_out_path(nb->common, "stock_gru_best.safetensors", best_path, sizeof best_path);
    double start = nb_seconds();
    int best_epoch = fit(&nb->net, nb->opt, &nb->r, &nb->data, nb->train, nb->valid, &nb->s,
                         nb->trained_epochs + 1, &nb->data_rng, nb->history, best_path);
    if (best_epoch < 0)
        return 1;
    printf("\n    kept epoch %d; %.0f s in all\n", best_epoch, nb_seconds() - start);
    nb_wrote(best_path, "the kept weights");
    return 0;
}

static int section_test(notebook *nb)
{
    nb_section(5, "The test period, against the naive forecasts",
               "Two forecasts need no learning: tomorrow = today, and the mean price of the "
               "window. A model of prices is only worth something if it beats them. Errors "
               "are in the units of the price (dollars for Apple; MAPE in percent of the actual "
               "price); direction is how often the forecast's move up or down from today came "
               "true.");
    period test = nb->test;
    nb->model = malloc((size_t)test.count * sizeof *nb->model);
    nb->same = malloc((size_t)test.count * sizeof *nb->same);
    nb->average = malloc((size_t)test.count * sizeof *nb->average);
    double test_loss;
    if (!nb->model || !nb->same || !nb->average ||
        predict_period(&nb->net, &nb->r, &nb->data, test, nb->s.window, nb->model, &test_loss) != 0)
        return 1;
    naive_forecasts(&nb->data, test, nb->s.window, nb->same, nb->average);
    compare_forecasts(&nb->data, test, nb->s.window, nb->model, nb->same, nb->average);
    return 0;
}

static int section_seed_example(notebook *nb)
{
    nb_section(6, "The seed's example",
               "Three days of prices, as in the seed. The GRU reads any number of steps, so "
               "the two returns of these three days are a window too (a short one: it was "
               "trained on longer windows).");
    const double seed_prices[3] = { 120, 123, 125 };
    double next;
    if (predict_after(&nb->net, &nb->r, seed_prices, 3, &next) != 0)
        return 1;
    printf("    Input Prices: [$120, $123, $125]\n");
    printf("    Predicted Next Day Price: $%.2f\n", next);
    printf("    (tomorrow = today says $%.2f, the mean of the three $%.2f)\n", seed_prices[2],
           (seed_prices[0] + seed_prices[1] + seed_prices[2]) / 3);
    return 0;
}

static int section_charts(notebook *nb)
{
    nb_section(7, "Charts", "The learning curves, and the test period's forecasts.");
    const nb_common *common = nb->common;
    char path[1024];
    if (common->eval) {
        printf("    (--eval trains nothing, so there are no learning curves)\n");
    } else {
        if (tg_history_write_csv(nb->history, nb_out_path(common, "stock_gru_history.csv", path,
                                                          sizeof path)) != 0)
            return 1;
        nb_wrote(path, "one row per epoch: train_loss, valid_loss, valid_mae");
        if (tg_history_plot(nb->history, nb_out_path(common, "stock_gru_loss.png", path, sizeof path),
                            (const char *[]){ "train_loss", "valid_loss" }, 2,
                            &(tg_plot_options){ .title = "stock_gru: Huber loss (standardised returns)",
                                                .ylabel = "loss" }) < 0)
            return 1;
        nb_wrote(path, "training and validation loss per epoch");
    }
    if (plot_test(nb_out_path(common, "stock_gru_test.png", path, sizeof path), &nb->data, nb->test,
                  nb->model, nb->same, nb->column) != 0)
        return 1;
    nb_wrote(path, "actual, GRU and tomorrow = today over the test period");
    if (!common->save)
        return 0;
    /* The epochs continue from the last one run, with the kept weights; the
     * returns' statistics let --eval standardise new data as these were. */
    char mean[32], std[32];
    snprintf(mean, sizeof mean, "%.17g", nb->r.mean);
    snprintf(std, sizeof std, "%.17g", nb->r.std);
    tg_checkpoint ck = { .model = nb->net.model, .optimizer = nb->opt,
                         .epoch = tg_history_x(nb->history, tg_history_rows(nb->history) - 1),
                         .user = (const tg_string_pair[]){ { "return_mean", mean }, { "return_std", std } },
                         .n_user = 2 };
    if (tg_checkpoint_save(common->save, &ck) != 0)
        return 1;
    nb_wrote(common->save, "checkpoint: the kept weights, the optimizer state, the returns' statistics");
    return 0;
}

/* ---- Setting up ------------------------------------------------------------------------------ */

/* Parses the flags into common and nb's settings; returns as nb_parse. */
static int parse(int argc, char **argv, nb_common *common, notebook *nb)
{
    int window = 20;
    nb->column = "Adj. Close";
    nb_option options[] = {
        { "column", NB_STRING, &nb->column, "the price column (default \"Adj. Close\")" },
        { "window", NB_INT, &window, "past days the GRU reads (default 20)" },
    };
    int parsed = nb_parse(argc, argv, PROGRAM, "next-day price prediction with a GRU", common,
                          options, 2);
    if (parsed != 0)
        return parsed;
    if (common->steps) {
        fprintf(stderr, "%s: --steps: this example counts epochs (--epochs N)\n", PROGRAM);
        return 2;
    }
    if (window < 2 || window > 250) {
        fprintf(stderr, "%s: --window must be in [2, 250]\n", PROGRAM);
        return 2;
    }
    /* The network is tiny (32 units, a batch of 64 windows takes about a
     * millisecond): split between two threads (tg_batch_split) an epoch
     * took as long as on one, so one thread unless --threads says otherwise. */
    if (!common->threads)
        tg_set_num_threads(1);
    nb->s = common->quick ? (settings){ .window = window, .hidden = 16, .lr = 3e-3, .batch = 64,
                                        .epochs = 3, .train_limit = 1000 }
                          : (settings){ .window = window, .hidden = 32, .lr = 1e-3, .batch = 64,
                                        .epochs = 12, .train_limit = 1 << 30 };
    if (common->epochs)
        nb->s.epochs = common->epochs;
    nb->path = common->data ? common->data : TAPEGRAD_EXAMPLES_DATA "/stocks/WIKI-AAPL.csv";
    nb->data_rng = tg_rng_new(common->seed);
    nb->history = tg_history_new("epoch");
    return 0;
}

static void release(notebook *nb)
{
    free(nb->model);
    free(nb->same);
    free(nb->average);
    free(nb->r.z);
    tg_history_free(nb->history);
    tg_optimizer_free(nb->opt);
    tg_model_free(nb->net.model);
    free_series(&nb->data);
    tg_graph_release();
}

int main(int argc, char **argv)
{
    nb_common common;
    notebook nb = { .common = &common };
    int parsed = parse(argc, argv, &common, &nb);
    if (parsed != 0)
        return parsed == 1 ? 0 : 2;
    int status = section_data(&nb);
    if (status == 0)
        status = section_returns(&nb);
    if (status == 0)
        status = section_model(&nb);
    if (status == 0)
        status = section_training(&nb);
    if (status == 0)
        status = section_test(&nb);
    if (status == 0)
        status = section_seed_example(&nb);
    if (status == 0)
        status = section_charts(&nb);
    if (status == 1)
        nb_fail(PROGRAM, "failed");
    release(&nb);
    return status;
}
