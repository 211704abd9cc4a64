/*
 * plot/lines.c: line, dashed-line and scatter charts, with optional
 * moving-average smoothing.
 */
#include <math.h>
#include <stdlib.h>

#include "plot/chart.h"
#include "tensor/error.h"

#define LINE_WIDTH 2.0
#define RAW_WIDTH 1.25    /* the raw curve under a smoothed one */
#define RAW_OPACITY 0.3f
#define POINT_RADIUS 3.0

/* The pixel of a data point, kept finite and within reach of exact
 * clipping however far off the area the point is. */
static void to_pixel(const tg_plot_axes *a, double x, double y, double *px, double *py)
{
    tg_plot_axes_pixel(a, x, y, px, py);
    *px = fmin(fmax(*px, -1e9), 1e9);
    *py = fmin(fmax(*py, -1e9), 1e9);
}

/* Adds the curve through the points (NaN y: skipped, breaking the line) to
 * the canvas mask. A point with no drawn neighbour becomes a dot. */
static void stroke(tg_plot_canvas *canvas, const tg_plot_axes *a, const double *x, const double *y, int n,
                   tg_plot_style style, double width)
{
    double qx = 0.0, qy = 0.0, phase = 0.0;
    int run = 0; /* points in the current unbroken stretch */
    for (int i = 0; i <= n; i++) {
        bool ok = i < n && !isnan(y[i]);
        if (!ok) {
            if (run == 1 && style != TG_PLOT_POINTS)
                tg_plot_canvas_dot(canvas, qx, qy, width, a->area);
            run = 0;
            continue;
        }
        double px, py;
        to_pixel(a, x[i], y[i], &px, &py);
        if (style == TG_PLOT_POINTS)
            tg_plot_canvas_dot(canvas, px, py, POINT_RADIUS, a->area);
        else if (run > 0 && style == TG_PLOT_DASHED)
            tg_plot_canvas_dashed(canvas, qx, qy, px, py, width, &phase, a->area);
        else if (run > 0)
            tg_plot_canvas_segment(canvas, qx, qy, px, py, width, a->area);
        run++;
        qx = px;
        qy = py;
    }
}

/* Adds (sign +1) or removes (sign -1) v from a sum kept with Neumaier's
 * compensation, so a long sliding window does not drift. */
typedef struct window_sum {
    double sum, compensation;
    int count;
} window_sum;

static void window_add(window_sum *w, double v, int sign)
{
    if (isnan(v))
        return;
    v *= sign;
    double t = w->sum + v;
    w->compensation += fabs(w->sum) >= fabs(v) ? (w->sum - t) + v : (v - t) + w->sum;
    w->sum = t;
    w->count += sign;
}

/* out[i]: mean of the non-NaN y in the window of `window` points centred
 * on i (cut at the ends); NaN where y[i] is NaN. */
static void moving_average(const double *y, int n, int window, double *out)
{
    int before = (window - 1) / 2, after = window / 2;
    window_sum w = { 0 };
    for (int j = 0; j < n && j <= after; j++)
        window_add(&w, y[j], +1);
    for (int i = 0; i < n; i++) {
        out[i] = isnan(y[i]) ? NAN : (w.sum + w.compensation) / w.count;
        if (i + after + 1 < n)
            window_add(&w, y[i + after + 1], +1);
        if (i - before >= 0)
            window_add(&w, y[i - before], -1);
    }
}

/* Reads series s into x and y, y NaN where the point is skipped. */
static void read_points(const tg_plot_series *s, bool log, double *x, double *y)
{
    for (int i = 0; i < s->count; i++) {
        x[i] = tg_plot_series_x(s, i);
        y[i] = tg_plot_series_y(s, i);
        if (!tg_plot_point_ok(x[i], y[i], log))
            y[i] = NAN;
    }
}

static int draw_series(tg_plot_canvas *canvas, const tg_plot_axes *a, const tg_plot_series *s, tg_plot_color color,
                       int window)
{
    if (s->count == 0)
        return 0;
    double *x = malloc(3 * (size_t)s->count * sizeof *x);
    if (!x)
        return tg_error_set("plot: out of memory for a series of %d points", s->count);
    double *y = x + s->count, *smooth = y + s->count;
    read_points(s, a->log_y, x, y);
    if (window >= 2 && s->style != TG_PLOT_POINTS) {
        stroke(canvas, a, x, y, s->count, s->style, RAW_WIDTH);
        tg_plot_canvas_paint(canvas, a->area, color, RAW_OPACITY);
        moving_average(y, s->count, window, smooth);
        y = smooth;
    }
    stroke(canvas, a, x, y, s->count, s->style, LINE_WIDTH);
    tg_plot_canvas_paint(canvas, a->area, color, 1.0f);
    free(x);
    return 0;
}

/* The x and y ranges of the drawable points of all series, and the number
 * of points skipped. */
static int data_ranges(const tg_plot_series *series, int n, const tg_plot_options *o, tg_plot_range *xr,
                       tg_plot_range *yr)
{
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    int skipped = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < series[i].count; j++) {
            double x = tg_plot_series_x(&series[i], j), y = tg_plot_series_y(&series[i], j);
            if (!tg_plot_point_ok(x, y, o->log_y)) {
                skipped++;
                continue;
            }
            xlo = fmin(xlo, x);
            xhi = fmax(xhi, x);
            ylo = fmin(ylo, y);
            yhi = fmax(yhi, y);
        }
    bool have = xlo <= xhi;
    *xr = o->x_range.min < o->x_range.max ? o->x_range : tg_plot_auto_range(xlo, xhi, have, false, 0.0);
    *yr = o->y_range.min < o->y_range.max ? o->y_range : tg_plot_auto_range(ylo, yhi, have, o->log_y, 0.05);
    return skipped;
}

/* Mean x spacing of a series (first to last point), 0 if not defined. */
static double mean_spacing(const tg_plot_series *s)
{
    if (s->count < 2)
        return 0.0;
    double d = fabs(tg_plot_series_x(s, s->count - 1) - tg_plot_series_x(s, 0)) / (s->count - 1);
    return isfinite(d) ? d : 0.0;
}

/* The moving-average window of each series (see tg_plot_lines): its own,
 * or the chart's scaled from the densest line series' spacing to its own. */
static int smoothing_window(const tg_plot_series *series, int n, int i, int smooth)
{
    if (series[i].smooth || series[i].style == TG_PLOT_POINTS)
        return series[i].smooth;
    double densest = INFINITY, own = mean_spacing(&series[i]);
    for (int j = 0; j < n; j++)
        if (series[j].style != TG_PLOT_POINTS && mean_spacing(&series[j]) > 0.0)
            densest = fmin(densest, mean_spacing(&series[j]));
    if (smooth < 2 || own <= 0.0 || !isfinite(densest))
        return smooth;
    return (int)lround(smooth * densest / own); /* densest <= own: at most smooth */
}

int tg_plot_draw_lines(tg_plot_canvas *canvas, tg_plot_rect panel, const tg_plot_series *series, int n,
                       const tg_plot_options *options, tg_plot_axes *axes)
{
    const tg_plot_options *o = options ? options : &(tg_plot_options){ 0 };
    if (tg_plot_options_check(o, "plot_lines") || tg_plot_series_check(series, n, "plot_lines"))
        return -1;
    tg_plot_range xr, yr;
    int skipped = data_ranges(series, n, o, &xr, &yr);
    tg_plot_chart chart = { .options = o };
    if (tg_plot_chart_layout(&chart, panel, xr, yr))
        return -1;
    tg_plot_chart_frame(canvas, &chart);
    for (int i = 0; i < n; i++) {
        int window = smoothing_window(series, n, i, o->smooth);
        if (draw_series(canvas, &chart.axes, &series[i], tg_plot_series_color(&series[i], i), window))
            return -1;
    }
    tg_plot_chart_legend(canvas, &chart, series, n, false);
    *axes = chart.axes;
    return skipped;
}
