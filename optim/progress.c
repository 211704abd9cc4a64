#include "optim/progress.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "tensor/error.h"

struct tg_progress {
    tg_progress_config c; /* resolved */
    bool terminal;
    double start, last_draw;
    int64_t done, drawn; /* drawn: `done` at the last draw, -1 before any */
    int64_t next_line;   /* LINES: draw when done reaches this */
    double loss;
    bool finished;
};

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

tg_progress *tg_progress_new(tg_progress_config config)
{
    if (config.total < 0 || config.width < 0 || !(config.redraw_seconds >= 0) || config.every < 0 ||
        (unsigned)config.mode > TG_PROGRESS_LINES) {
        tg_error_set("progress_new: total, width, redraw_seconds and every must be >= 0, and mode "
                     "one of tg_progress_mode's values");
        return NULL;
    }
    tg_progress *bar = calloc(1, sizeof *bar);
    if (!bar) {
        tg_error_set("progress_new: out of memory");
        return NULL;
    }
    tg_progress_config *c = &bar->c;
    *c = config;
    c->unit = c->unit ? c->unit : "step";
    c->out = c->out ? c->out : stderr;
    c->width = c->width ? c->width : 24;
    c->redraw_seconds = c->redraw_seconds > 0 ? c->redraw_seconds : 0.1;
    if (!c->every)
        c->every = c->total ? (c->total >= 10 ? c->total / 10 : 1) : 100;
    c->clock = c->clock ? c->clock : monotonic_seconds;
    bar->terminal = c->mode == TG_PROGRESS_TERMINAL ||
                    (c->mode == TG_PROGRESS_AUTO && isatty(fileno(c->out)));
    bar->start = bar->last_draw = c->clock();
    bar->drawn = -1;
    bar->next_line = c->every;
    bar->loss = NAN;
    return bar;
}

/* m:ss, or h:mm:ss from an hour; "?" when unknown. */
static void format_time(char *out, size_t size, double seconds)
{
    if (!(seconds >= 0 && seconds < 1e9)) {
        snprintf(out, size, "?");
        return;
    }
    long s = (long)seconds;
    if (s >= 3600)
        snprintf(out, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(out, size, "%ld:%02ld", s / 60, s % 60);
}

/* The facts both modes show, as text. */
typedef struct facts {
    char rate[64], elapsed[24], eta[24], loss[40];
    int percent;
} facts;

static facts measure(const tg_progress *bar, double now)
{
    facts f = { .percent = bar->c.total ? (int)(100 * bar->done / bar->c.total) : 0 };
    double elapsed = now - bar->start, rate = bar->done / elapsed;
    const char *unit = bar->c.unit;
    if (!(elapsed > 0 && rate > 0))
        snprintf(f.rate, sizeof f.rate, "? %s/s", unit);
    else if (rate >= 1)
        snprintf(f.rate, sizeof f.rate, "%.1f %s/s", rate, unit);
    else
        snprintf(f.rate, sizeof f.rate, "%.1f s/%s", 1 / rate, unit);
    format_time(f.elapsed, sizeof f.elapsed, elapsed);
    format_time(f.eta, sizeof f.eta, rate > 0 ? (bar->c.total - bar->done) / rate : NAN);
    if (!isnan(bar->loss))
        snprintf(f.loss, sizeof f.loss, "loss %.4g", bar->loss);
    return f;
}

/* \r step 450/1000 [#####-----]  45% | 123.4 step/s | 0:03 < 0:04 | loss 0.1234 \033[K */
static void draw_terminal(const tg_progress *bar, const facts *f)
{
    FILE *out = bar->c.out;
    fprintf(out, "\r%s %lld", bar->c.unit, (long long)bar->done);
    if (bar->c.total) {
        int width = bar->c.width;
        int64_t filled = bar->done >= bar->c.total ? width : width * bar->done / bar->c.total;
        fprintf(out, "/%lld [", (long long)bar->c.total);
        for (int i = 0; i < width; i++)
            fputc(i < filled ? '#' : '-', out);
        fprintf(out, "] %3d%% | %s | %s < %s", f->percent, f->rate, f->elapsed, f->eta);
    } else {
        fprintf(out, " | %s | %s", f->rate, f->elapsed);
    }
    fprintf(out, "%s%s\033[K", f->loss[0] ? " | " : "", f->loss);
}

/* step 450/1000 (45%)  123.4 step/s  elapsed 0:03  eta 0:04  loss 0.1234 */
static void draw_line(const tg_progress *bar, const facts *f)
{
    FILE *out = bar->c.out;
    fprintf(out, "%s %lld", bar->c.unit, (long long)bar->done);
    if (bar->c.total)
        fprintf(out, "/%lld (%d%%)", (long long)bar->c.total, f->percent);
    fprintf(out, "  %s  elapsed %s", f->rate, f->elapsed);
    if (bar->c.total)
        fprintf(out, "  eta %s", f->eta);
    fprintf(out, "%s%s\n", f->loss[0] ? "  " : "", f->loss);
}

static void draw(tg_progress *bar, double now)
{
    facts f = measure(bar, now);
    if (bar->terminal)
        draw_terminal(bar, &f);
    else
        draw_line(bar, &f);
    fflush(bar->c.out);
    bar->drawn = bar->done;
    bar->last_draw = now;
}

void tg_progress_update(tg_progress *bar, int64_t done, double loss)
{
    if (!bar || bar->finished)
        return;
    bar->done = done;
    bar->loss = loss;
    double now = bar->c.clock();
    if (bar->terminal) {
        bool at_end = bar->c.total && done >= bar->c.total;
        if (bar->drawn < 0 || at_end || now - bar->last_draw >= bar->c.redraw_seconds)
            draw(bar, now);
    } else if (done >= bar->next_line) {
        draw(bar, now);
        bar->next_line = (done / bar->c.every + 1) * bar->c.every;
    }
}

void tg_progress_finish(tg_progress *bar)
{
    if (!bar || bar->finished)
        return;
    if (bar->drawn != bar->done)
        draw(bar, bar->c.clock());
    if (bar->terminal) {
        fputc('\n', bar->c.out);
        fflush(bar->c.out);
    }
    bar->finished = true;
}

void tg_progress_free(tg_progress *bar) { free(bar); }
