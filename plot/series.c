/*
 * plot/series.c: reading and checking what the caller hands in, and the
 * palette.
 */
#include <math.h>

#include "plot/chart.h"
#include "tensor/error.h"

/* Okabe and Ito's colour-blind-friendly palette, darkest-first order. */
static const tg_plot_color palette[8] = {
    { 0, 114, 178 },   /* blue */
    { 213, 94, 0 },    /* vermillion */
    { 0, 158, 115 },   /* bluish green */
    { 230, 159, 0 },   /* orange */
    { 204, 121, 167 }, /* reddish purple */
    { 86, 180, 233 },  /* sky blue */
    { 0, 0, 0 },       /* black */
    { 240, 228, 66 },  /* yellow */
};

tg_plot_color tg_plot_palette(int k) { return palette[(k < 0 ? 0 : k) % 8]; }

tg_plot_color tg_plot_series_color(const tg_plot_series *s, int i)
{
    return tg_plot_palette(s->color > 0 ? s->color - 1 : i);
}

static int check_range(tg_plot_range r, const char *axis, const char *what)
{
    if (!isfinite(r.min) || !isfinite(r.max) || r.min > r.max)
        return tg_error_set("%s: %s_range [%g, %g]: need finite limits with min <= max", what, axis, r.min, r.max);
    return 0;
}

static int check_size(int size, const char *name, const char *what)
{
    if (size != 0 && (size < 64 || size > TG_PLOT_MAX_SIZE))
        return tg_error_set("%s: %s %d: must be 0 (default) or in [64, %d]", what, name, size, TG_PLOT_MAX_SIZE);
    return 0;
}

int tg_plot_options_check(const tg_plot_options *o, const char *what)
{
    if (check_size(o->width, "width", what) || check_size(o->height, "height", what) ||
        check_range(o->x_range, "x", what) || check_range(o->y_range, "y", what))
        return -1;
    if (o->log_y && o->y_range.min < o->y_range.max && o->y_range.min <= 0.0)
        return tg_error_set("%s: y_range [%g, %g]: a log axis needs positive limits", what, o->y_range.min,
                            o->y_range.max);
    if (o->smooth < 0)
        return tg_error_set("%s: smooth %d: must be >= 0", what, o->smooth);
    if ((int)o->legend < TG_PLOT_LEGEND_AUTO || (int)o->legend > TG_PLOT_LEGEND_BOTTOM_LEFT)
        return tg_error_set("%s: legend %d: not a tg_plot_legend", what, (int)o->legend);
    return 0;
}

int tg_plot_series_check(const tg_plot_series *series, int n, const char *what)
{
    if (n < 0 || (n > 0 && !series))
        return tg_error_set("%s: %d series at %p: need n >= 0 and series for n > 0", what, n, (const void *)series);
    for (int i = 0; i < n; i++) {
        const tg_plot_series *s = &series[i];
        const char *name = s->name ? s->name : "";
        const char *problem = s->count < 0                   ? "count is negative"
                              : s->x && s->xd                ? "both x and xd given"
                              : s->y && s->yd                ? "both y and yd given"
                              : s->count > 0 && !s->y && !s->yd ? "no y values (y or yd)"
                              : s->smooth < 0                ? "smooth is negative"
                              : s->color < 0                 ? "color is negative"
                              : (int)s->style < TG_PLOT_LINE || (int)s->style > TG_PLOT_POINTS
                                  ? "style is not a tg_plot_style"
                                  : NULL;
        if (problem)
            return tg_error_set("%s: series %d \"%s\" (count %d): %s", what, i, name, s->count, problem);
    }
    return 0;
}

double tg_plot_series_x(const tg_plot_series *s, int i) { return s->x ? s->x[i] : s->xd ? s->xd[i] : i; }

double tg_plot_series_y(const tg_plot_series *s, int i) { return s->y ? s->y[i] : s->yd[i]; }

bool tg_plot_point_ok(double x, double y, bool log) { return isfinite(x) && isfinite(y) && (!log || y > 0.0); }
