/*
 * plot/bars.c: bar charts, one bar per series in each category.
 */
#include <math.h>

#include "plot/chart.h"
#include "tensor/error.h"

#define GROUP 0.8 /* share of a category's width taken by its bars */

/* The y range: from the data with 0 included (bars grow from 0) and room
 * above (and below) for value labels; on a log axis from the positive
 * values. Counts the values skipped into *skipped. */
static tg_plot_range value_range(const tg_plot_series *series, int n, const tg_plot_options *o, int *skipped)
{
    double lo = o->log_y ? INFINITY : 0.0, hi = o->log_y ? -INFINITY : 0.0;
    *skipped = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < series[i].count; j++) {
            double v = tg_plot_series_y(&series[i], j);
            if (!tg_plot_point_ok(j, v, o->log_y)) {
                ++*skipped;
                continue;
            }
            lo = fmin(lo, v);
            hi = fmax(hi, v);
        }
    if (o->y_range.min < o->y_range.max)
        return o->y_range;
    if (o->log_y)
        return tg_plot_auto_range(lo, hi, lo <= hi, true, 0.1);
    if (lo == hi)
        return (tg_plot_range){ 0.0, 1.0 };
    double span = hi - lo;
    return (tg_plot_range){ lo < 0.0 ? lo - 0.1 * span : lo, hi > 0.0 ? hi + 0.1 * span : hi };
}

/* The row of value v, held inside the area. */
static double row_of(const tg_plot_axes *a, double v)
{
    double px, py;
    tg_plot_axes_pixel(a, 0.0, v, &px, &py);
    return fmin(fmax(py, a->area.y), a->area.y + a->area.height);
}

static void draw_bar(tg_plot_canvas *canvas, const tg_plot_axes *a, double left, double width, double v,
                     tg_plot_color color)
{
    double base = row_of(a, a->log_y ? a->y_min : 0.0), top = row_of(a, v);
    int x0 = (int)lround(left), x1 = (int)lround(left + width) - (width >= 4.0 ? 1 : 0);
    int y0 = (int)lround(fmin(base, top)), y1 = (int)lround(fmax(base, top));
    tg_plot_canvas_fill(canvas, tg_plot_canvas_clip(canvas, (tg_plot_rect){ x0, y0, x1 - x0, y1 - y0 }, a->area),
                        color, 1.0f);
    char buf[TG_PLOT_LABEL_MAX];
    tg_plot_value_label(buf, v);
    int text = tg_plot_text_width(buf);
    if (text > width + 4.0)
        return;
    int y = top < base || a->log_y ? y0 - 2 - TG_PLOT_FONT_HEIGHT : y1 + 2;
    tg_plot_canvas_text(canvas, (int)lround(left + width / 2.0) - text / 2, y, buf, &tg_plot_font_regular,
                        TG_PLOT_TEXT, a->panel);
}

int tg_plot_draw_bars(tg_plot_canvas *canvas, tg_plot_rect panel, const tg_plot_series *series, int n,
                      const tg_plot_options *options, tg_plot_axes *axes)
{
    const tg_plot_options *o = options ? options : &(tg_plot_options){ 0 };
    if (tg_plot_options_check(o, "plot_bars") || tg_plot_series_check(series, n, "plot_bars"))
        return -1;
    int categories = 0, skipped;
    for (int i = 0; i < n; i++)
        categories = series[i].count > categories ? series[i].count : categories;
    tg_plot_range yr = value_range(series, n, o, &skipped);
    tg_plot_range xr = { -0.5, (categories > 0 ? categories : 1) - 0.5 };
    tg_plot_chart chart = { .options = o, .categories = categories };
    if (tg_plot_chart_layout(&chart, panel, xr, yr))
        return -1;
    tg_plot_chart_frame(canvas, &chart);
    const tg_plot_axes *a = &chart.axes;
    double group = GROUP * a->area.width / (xr.max - xr.min), width = n > 0 ? group / n : 0.0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < series[i].count; j++) {
            double v = tg_plot_series_y(&series[i], j), px, py;
            if (!tg_plot_point_ok(j, v, o->log_y))
                continue;
            tg_plot_axes_pixel(a, j, a->y_max, &px, &py);
            draw_bar(canvas, a, px - group / 2.0 + i * width, width, v, tg_plot_series_color(&series[i], i));
        }
    tg_plot_chart_legend(canvas, &chart, series, n, true);
    *axes = chart.axes;
    return skipped;
}
