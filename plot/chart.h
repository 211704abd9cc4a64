/*
 * plot/chart.h: what the line and bar charts share. Internal to plot/.
 *
 *   axis.c    data ranges, nice ticks and their labels
 *   series.c  reading and checking series and options, the palette
 *   chart.c   layout, frame (grid, ticks, labels, title) and legend
 *   lines.c   line and scatter charts     bars.c  bar charts
 *   heatmap.c heat maps (a matrix as shaded cells)
 *   figure.c  images of one or more charts, and the one-call functions
 * under canvas.c (the raster, canvas.h), png.c (writing it) and
 * font_data.c (the glyphs, font.h).
 */
#ifndef TG_PLOT_CHART_H
#define TG_PLOT_CHART_H

#include <stddef.h>

#include "plot/canvas.h"
#include "plot/plot.h"

#define TG_PLOT_TEXT ((tg_plot_color){ 40, 40, 40 })
#define TG_PLOT_AXIS ((tg_plot_color){ 150, 150, 150 })
#define TG_PLOT_GRID ((tg_plot_color){ 228, 228, 228 })
#define TG_PLOT_WHITE ((tg_plot_color){ 255, 255, 255 })
#define TG_PLOT_LABEL_MAX 64 /* longest tick label, terminator included */

/* A chart being drawn: its axes and how to label them. */
typedef struct tg_plot_chart {
    tg_plot_axes axes;
    const tg_plot_options *options; /* never NULL */
    int categories;                 /* bar chart: number of categories; 0: numeric x */
    double x_step, y_step;          /* tick spacing of a linear axis, for labels */
} tg_plot_chart;

/* --- axis.c --- */

/* The range to draw for data spanning [lo, hi] (have: whether there is any
 * data): widened by `pad` of its width on each side (in log10 on a log
 * axis), and made non-empty for flat or missing data. */
tg_plot_range tg_plot_auto_range(double lo, double hi, bool have, bool log, double pad);

/* Fills ticks with about `target` (>= 1) nice values in [lo, hi] and
 * returns how many; *step is their spacing (0 on a log axis unless the
 * range is too narrow for 1-2-5 ticks and they are linear). */
int tg_plot_ticks(double lo, double hi, bool log, int target, double ticks[TG_PLOT_MAX_TICKS], double *step);

/* The label of a tick at `value`, given the spacing of the axis's ticks
 * (0 for decade ticks on a log axis). */
void tg_plot_tick_label(char buf[TG_PLOT_LABEL_MAX], double value, double step);

/* A data value written in at most four significant digits ("0.8125",
 * "1.2e6"). */
void tg_plot_value_label(char buf[TG_PLOT_LABEL_MAX], double value);

/* --- series.c --- */

/* Check the caller's options (not NULL) and series; errors start with
 * `what`. Return 0 or -1 with an error. */
int tg_plot_options_check(const tg_plot_options *options, const char *what);
int tg_plot_series_check(const tg_plot_series *series, int n, const char *what);
double tg_plot_series_x(const tg_plot_series *s, int i);
double tg_plot_series_y(const tg_plot_series *s, int i);
/* Whether a point can be drawn: finite, and y > 0 on a log axis. */
bool tg_plot_point_ok(double x, double y, bool log);
/* The colour of series index `i` of a chart. */
tg_plot_color tg_plot_series_color(const tg_plot_series *s, int i);

/* --- chart.c --- */

/* Places the plot area in panel and picks the ticks for the ranges.
 * Returns 0, or -1 with an error if the panel is too small. */
int tg_plot_chart_layout(tg_plot_chart *chart, tg_plot_rect panel, tg_plot_range x, tg_plot_range y);

/* Draws background, grid, frame, tick marks and labels, title and axis
 * labels. */
void tg_plot_chart_frame(tg_plot_canvas *canvas, const tg_plot_chart *chart);

/* Draws the legend of the named series (swatches as bars when `bars`) and
 * records its box in chart->axes.legend. */
void tg_plot_chart_legend(tg_plot_canvas *canvas, tg_plot_chart *chart, const tg_plot_series *series, int n,
                          bool bars);

/* --- lines.c, bars.c: draw one chart in panel; return as tg_plot_lines. */
int tg_plot_draw_lines(tg_plot_canvas *canvas, tg_plot_rect panel, const tg_plot_series *series, int n,
                       const tg_plot_options *options, tg_plot_axes *axes);
int tg_plot_draw_bars(tg_plot_canvas *canvas, tg_plot_rect panel, const tg_plot_series *series, int n,
                      const tg_plot_options *options, tg_plot_axes *axes);

/* --- heatmap.c: draws a heat map in panel; returns as tg_plot_heatmap,
 * errors starting with `what`. */
int tg_plot_draw_heatmap(tg_plot_canvas *canvas, tg_plot_rect panel, const tg_plot_heatmap_data *map,
                         const tg_plot_options *options, tg_plot_axes *axes, const char *what);

#endif
