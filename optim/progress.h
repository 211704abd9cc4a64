/*
 * optim/progress.h: a progress bar for long loops.
 *
 *     tg_progress *bar = tg_progress_new((tg_progress_config){ .total = steps });
 *     for (int step = 0; step < steps; step++) {
 *         ...
 *         tg_progress_update(bar, step + 1, loss);
 *     }
 *     tg_progress_finish(bar);
 *     tg_progress_free(bar);
 *
 * On a terminal it redraws one line in place ('\r', then "\033[K" to clear
 * the rest of the line), at most every redraw_seconds:
 *
 *     step 450/1000 [##########------------]  45% | 123.4 step/s | 0:03 < 0:04 | loss 0.1234
 *
 * (count, bar and percentage, average throughput, elapsed < remaining
 * time, current loss). When the output is not a terminal (a log file, a
 * pipe) it prints the same facts as plain lines every `every` updates:
 *
 *     step 450/1000 (45%)  123.4 step/s  elapsed 0:03  eta 0:04  loss 0.1234
 *
 * With total 0 (unknown) the bar, percentage and remaining time are left
 * out. A loss of NAN is left out too. Throughput is the average since the
 * bar was created; times are m:ss, or h:mm:ss from an hour.
 */
#ifndef TG_PROGRESS_H
#define TG_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tg_progress_mode {
    TG_PROGRESS_AUTO = 0,  /* TERMINAL when out is a terminal, else LINES */
    TG_PROGRESS_TERMINAL,  /* redraw one line in place */
    TG_PROGRESS_LINES,     /* plain periodic lines */
} tg_progress_mode;

/* Zero or NULL in any field means its default. */
typedef struct tg_progress_config {
    int64_t total;         /* units in the loop; 0: unknown */
    const char *unit;      /* "step"; or "epoch", "batch"... */
    FILE *out;             /* stderr */
    tg_progress_mode mode;
    int width;             /* characters of the bar: 24 */
    double redraw_seconds; /* TERMINAL: shortest time between redraws: 0.1 */
    int64_t every;         /* LINES: a line every `every` units: total / 10
                              (at least 1), or 100 when total is unknown */
    double (*clock)(void); /* seconds since any fixed origin: a monotonic clock */
} tg_progress_config;

typedef struct tg_progress tg_progress;

/* A progress bar starting now. NULL with an error when out of memory or
 * when total, width, redraw_seconds or every is negative. */
tg_progress *tg_progress_new(tg_progress_config config);
/* Records that `done` units are complete and the current loss (NAN for
 * none), and draws if it is time to. NULL is ignored. */
void tg_progress_update(tg_progress *bar, int64_t done, double loss);
/* Draws the last state if it was not drawn and ends the line. */
void tg_progress_finish(tg_progress *bar);
void tg_progress_free(tg_progress *bar);

#ifdef __cplusplus
}
#endif

#endif
