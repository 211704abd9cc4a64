/*
 * optim/history.h: named values recorded per step or epoch, written as CSV
 * and plotted in one call.
 *
 *     tg_history *history = tg_history_new("step");
 *     for (step ...) {
 *         tg_history_add(history, step, "train_loss", loss);
 *         tg_history_add(history, step, "lr", tg_optimizer_lr(opt));
 *         if (step % 100 == 0)
 *             tg_history_add(history, step, "val_loss", validate(model));
 *     }
 *     tg_history_write_csv(history, "out/history.csv");
 *     tg_history_plot(history, "out/loss.png", (const char *[]){ "train_loss", "val_loss" }, 2,
 *                     &(tg_plot_options){ .title = "Loss", .smooth = 25 });
 *     tg_history_free(history);
 *
 * The history is a table: one row per step (or epoch), one column per name
 * in the order names first appear. Values added with the same x fill the
 * same row; x must not decrease. A name that was not given a value in a row
 * is missing there: an empty CSV field, a point left out of the plot (a
 * validation loss recorded every 100 steps is a curve through those steps).
 * A NaN value counts as missing too.
 *
 * The CSV (io/csv.h's writer, atomic) has the header x_name followed by
 * the names, then one line per row, numbers as %.9g:
 *
 *     step,train_loss,lr,val_loss
 *     0,2.31,0.001,2.29
 *     1,2.05,0.001,
 */
#ifndef TG_HISTORY_H
#define TG_HISTORY_H

#include <stdint.h>

#include "plot/plot.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tg_history tg_history;

/* An empty history whose rows are counted in x_name units ("step",
 * "epoch"; NULL gives "step"). NULL with an error when out of memory. */
tg_history *tg_history_new(const char *x_name);
void tg_history_free(tg_history *history);

/* Records value under name in the row of x (a new row when x is larger
 * than the last row's). -1 with an error when x is smaller than the last
 * row's, or name is empty or the x column's name. NULL history or name:
 * -1 silently. */
int tg_history_add(tg_history *history, int64_t x, const char *name, double value);

/* Rows and named columns (the x column not counted). */
int tg_history_rows(const tg_history *history);
int tg_history_columns(const tg_history *history);
/* The name of column index; NULL when out of range. */
const char *tg_history_column_name(const tg_history *history, int column);
/* The x of a row; -1 when out of range. */
int64_t tg_history_x(const tg_history *history, int row);
/* The value of name in a row; NaN when missing (or out of range). */
double tg_history_value(const tg_history *history, int row, const char *name);
/* The last value recorded under name; NaN when there is none. */
double tg_history_last(const tg_history *history, const char *name);

/* Writes the table as CSV to path (atomically). 0, or -1 with an error. */
int tg_history_write_csv(const tg_history *history, const char *path);

/* Draws the columns `names` (n of them; n = 0 draws every column) as the
 * lines of one chart against x (plot/plot.h's tg_plot_lines), in a PNG at
 * path. options may be NULL; its xlabel defaults to x_name. Returns the
 * number of points the plot skipped (non-finite values, non-positive ones
 * on a log axis), or -1 with an error (an unknown name, an unwritable
 * path...). */
int tg_history_plot(const tg_history *history, const char *path, const char *const *names, int n,
                    const tg_plot_options *options);

#ifdef __cplusplus
}
#endif

#endif
