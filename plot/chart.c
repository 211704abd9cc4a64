/*
 * plot/chart.c: the parts of a chart around the data: layout, grid, frame,
 * ticks and their labels, title, axis labels, legend.
 */
#include <math.h>
#include <stdio.h>

#include "plot/chart.h"
#include "tensor/error.h"

#define PAD 10 /* space at the panel's edges */
#define TICK 4 /* length of a tick mark */
#define GAP 6  /* between a tick mark and its label, or between labels */
#define LINE TG_PLOT_FONT_HEIGHT
#define LEGEND_ROW 18
#define SWATCH 24 /* length of a legend's line sample */

static const tg_plot_color minor_grid = { 242, 242, 242 };

static bool has(const char *s) { return s && s[0]; }

static int max_int(int a, int b) { return a > b ? a : b; }

static void category_name(const tg_plot_chart *chart, int i, char buf[TG_PLOT_LABEL_MAX])
{
    const char *const *names = chart->options->labels;
    if (names)
        snprintf(buf, TG_PLOT_LABEL_MAX, "%s", names[i] ? names[i] : "");
    else
        snprintf(buf, TG_PLOT_LABEL_MAX, "%d", i);
}

static void x_label(const tg_plot_chart *chart, int k, char buf[TG_PLOT_LABEL_MAX])
{
    if (chart->categories > 0)
        category_name(chart, (int)chart->axes.x_ticks[k], buf);
    else
        tg_plot_tick_label(buf, chart->axes.x_ticks[k], chart->x_step);
}

static int widest_label(const tg_plot_chart *chart, bool x)
{
    char buf[TG_PLOT_LABEL_MAX];
    int n = x ? chart->axes.nx_ticks : chart->axes.ny_ticks, widest = 0;
    for (int k = 0; k < n; k++) {
        if (x)
            x_label(chart, k, buf);
        else
            tg_plot_tick_label(buf, chart->axes.y_ticks[k], chart->y_step);
        widest = max_int(widest, tg_plot_text_width(buf));
    }
    return widest;
}

/* Category ticks: every stride-th category, so that the labels fit. */
static void category_ticks(tg_plot_chart *chart, int width)
{
    tg_plot_axes *a = &chart->axes;
    int widest = 0;
    char buf[TG_PLOT_LABEL_MAX];
    for (int i = 0; i < chart->categories; i++) {
        category_name(chart, i, buf);
        widest = max_int(widest, tg_plot_text_width(buf));
    }
    double slot = (double)width / chart->categories;
    int stride = max_int(1, (int)ceil((widest + GAP) / slot));
    stride = max_int(stride, (chart->categories + TG_PLOT_MAX_TICKS - 1) / TG_PLOT_MAX_TICKS);
    a->nx_ticks = 0;
    for (int i = 0; i < chart->categories; i += stride)
        a->x_ticks[a->nx_ticks++] = i;
}

/* Numeric x ticks: as many as fit about 90 pixels apart, fewer when their
 * labels would touch. */
static void numeric_x_ticks(tg_plot_chart *chart, int width)
{
    tg_plot_axes *a = &chart->axes;
    for (int target = max_int(width / 90, 2);; target--) {
        a->nx_ticks = tg_plot_ticks(a->x_min, a->x_max, false, target, a->x_ticks, &chart->x_step);
        double spacing = chart->x_step * width / (a->x_max - a->x_min);
        if (target <= 1 || widest_label(chart, true) + 2 * GAP <= spacing)
            return;
    }
}

int tg_plot_chart_layout(tg_plot_chart *chart, tg_plot_rect panel, tg_plot_range x, tg_plot_range y)
{
    const tg_plot_options *o = chart->options;
    tg_plot_axes *a = &chart->axes;
    *a = (tg_plot_axes){ .panel = panel, .x_min = x.min, .x_max = x.max, .y_min = y.min, .y_max = y.max,
                         .log_y = o->log_y };
    /* Vertical first: the y tick labels' width sets the left margin. */
    int top = panel.y + (has(o->title) ? PAD + LINE + PAD : PAD + LINE / 2);
    int bottom = panel.y + panel.height - PAD - (has(o->xlabel) ? LINE + GAP : 0) - LINE - GAP - TICK;
    int height = bottom - top;
    if (height >= 20) {
        a->ny_ticks = tg_plot_ticks(y.min, y.max, o->log_y, max_int(height / 45, 2), a->y_ticks, &chart->y_step);
        int left = panel.x + PAD + (has(o->ylabel) ? LINE + GAP : 0) + widest_label(chart, false) + GAP + TICK;
        a->area = (tg_plot_rect){ left, top, panel.x + panel.width - 3 * PAD - left, height };
    }
    if (height < 20 || a->area.width < 20)
        return tg_error_set("plot: a %dx%d chart is too small for its labels", panel.width, panel.height);
    if (chart->categories > 0)
        category_ticks(chart, a->area.width);
    else
        numeric_x_ticks(chart, a->area.width);
    return 0;
}

static tg_plot_rect hline(int x, int y, int width) { return (tg_plot_rect){ x, y, width, 1 }; }
static tg_plot_rect vline(int x, int y, int height) { return (tg_plot_rect){ x, y, 1, height }; }

/* A one-pixel line along the inside edges of r. */
static void outline(tg_plot_canvas *canvas, tg_plot_rect r)
{
    tg_plot_canvas_fill(canvas, hline(r.x, r.y, r.width), TG_PLOT_AXIS, 1.0f);
    tg_plot_canvas_fill(canvas, hline(r.x, r.y + r.height - 1, r.width), TG_PLOT_AXIS, 1.0f);
    tg_plot_canvas_fill(canvas, vline(r.x, r.y, r.height), TG_PLOT_AXIS, 1.0f);
    tg_plot_canvas_fill(canvas, vline(r.x + r.width - 1, r.y, r.height), TG_PLOT_AXIS, 1.0f);
}

/* Lines at 2..9 times each power of ten of a log axis, when a decade is
 * tall enough for them not to crowd. */
static void minor_log_grid(tg_plot_canvas *canvas, const tg_plot_axes *a)
{
    double decade = a->area.height / (log10(a->y_max) - log10(a->y_min));
    if (decade < 60.0)
        return;
    for (int e = (int)floor(log10(a->y_min)); e <= (int)ceil(log10(a->y_max)); e++)
        for (int m = 2; m <= 9; m++) {
            double px, py;
            tg_plot_axes_pixel(a, a->x_min, m * pow(10.0, e), &px, &py);
            if (py >= a->area.y && py < a->area.y + a->area.height)
                tg_plot_canvas_fill(canvas, hline(a->area.x, (int)py, a->area.width), minor_grid, 1.0f);
        }
}

static void grid_and_ticks(tg_plot_canvas *canvas, const tg_plot_chart *chart)
{
    const tg_plot_axes *a = &chart->axes;
    const tg_plot_rect r = a->area;
    char buf[TG_PLOT_LABEL_MAX];
    if (a->log_y)
        minor_log_grid(canvas, a);
    for (int k = 0; k < a->ny_ticks; k++) {
        double px, py;
        tg_plot_axes_pixel(a, a->x_min, a->y_ticks[k], &px, &py);
        int row = (int)floor(py);
        if (row >= r.y && row < r.y + r.height)
            tg_plot_canvas_fill(canvas, hline(r.x, row, r.width), TG_PLOT_GRID, 1.0f);
        tg_plot_canvas_fill(canvas, hline(r.x - 1 - TICK, row, TICK), TG_PLOT_AXIS, 1.0f);
        tg_plot_tick_label(buf, a->y_ticks[k], chart->y_step);
        tg_plot_canvas_text(canvas, r.x - 1 - TICK - GAP - tg_plot_text_width(buf), row - LINE / 2, buf,
                            &tg_plot_font_regular, TG_PLOT_TEXT, a->panel);
    }
    for (int k = 0; k < a->nx_ticks; k++) {
        double px, py;
        tg_plot_axes_pixel(a, a->x_ticks[k], a->y_min > 0 ? a->y_min : 1.0, &px, &py);
        int col = (int)floor(px);
        if (chart->categories == 0 && col >= r.x && col < r.x + r.width)
            tg_plot_canvas_fill(canvas, vline(col, r.y, r.height), TG_PLOT_GRID, 1.0f);
        tg_plot_canvas_fill(canvas, vline(col, r.y + r.height + 1, TICK), TG_PLOT_AXIS, 1.0f);
        x_label(chart, k, buf);
        tg_plot_canvas_text(canvas, col - tg_plot_text_width(buf) / 2, r.y + r.height + 1 + TICK + GAP / 2, buf,
                            &tg_plot_font_regular, TG_PLOT_TEXT, a->panel);
    }
}

void tg_plot_chart_frame(tg_plot_canvas *canvas, const tg_plot_chart *chart)
{
    const tg_plot_options *o = chart->options;
    const tg_plot_axes *a = &chart->axes;
    const tg_plot_rect r = a->area;
    tg_plot_canvas_fill(canvas, a->panel, TG_PLOT_WHITE, 1.0f);
    grid_and_ticks(canvas, chart);
    outline(canvas, (tg_plot_rect){ r.x - 1, r.y - 1, r.width + 2, r.height + 2 });
    if (has(o->title))
        tg_plot_canvas_text(canvas, a->panel.x + (a->panel.width - tg_plot_text_width(o->title)) / 2,
                            a->panel.y + PAD, o->title, &tg_plot_font_bold, TG_PLOT_TEXT, a->panel);
    if (has(o->xlabel))
        tg_plot_canvas_text(canvas, r.x + (r.width - tg_plot_text_width(o->xlabel)) / 2,
                            r.y + r.height + 1 + TICK + GAP / 2 + LINE + GAP, o->xlabel, &tg_plot_font_regular,
                            TG_PLOT_TEXT, a->panel);
    if (has(o->ylabel))
        tg_plot_canvas_text_up(canvas, a->panel.x + PAD, r.y + (r.height + tg_plot_text_width(o->ylabel)) / 2,
                               o->ylabel, &tg_plot_font_regular, TG_PLOT_TEXT, a->panel);
}

/* Where a legend box can go, as fractions of the room left around it in
 * the area: the four corners (in tg_plot_legend order from TOP_RIGHT),
 * then the middles of the right, left, top and bottom edges. */
static const double legend_spots[8][2] = {
    { 1, 0 }, { 0, 0 }, { 1, 1 }, { 0, 1 }, { 1, 0.5 }, { 0, 0.5 }, { 0.5, 0 }, { 0.5, 1 },
};

static tg_plot_rect legend_box(const tg_plot_rect *r, int spot, int width, int height)
{
    return (tg_plot_rect){ r->x + PAD + (int)(legend_spots[spot][0] * (r->width - 2 * PAD - width)),
                           r->y + PAD + (int)(legend_spots[spot][1] * (r->height - 2 * PAD - height)), width,
                           height };
}

/* The spot where the box would hide the least drawn ink (the first such). */
static int emptiest_spot(const tg_plot_canvas *canvas, const tg_plot_rect *area, int width, int height)
{
    int best = 0, least = -1;
    for (int spot = 0; spot < 8; spot++) {
        int ink = tg_plot_canvas_ink(canvas, legend_box(area, spot, width, height));
        if (least < 0 || ink < least) {
            least = ink;
            best = spot;
        }
    }
    return best;
}

static void swatch(tg_plot_canvas *canvas, const tg_plot_series *s, tg_plot_color color, int x, int cy,
                   bool bars, tg_plot_rect clip)
{
    if (bars) {
        tg_plot_canvas_fill(canvas, (tg_plot_rect){ x + SWATCH / 2 - 5, cy - 5, 10, 10 }, color, 1.0f);
        return;
    }
    if (s->style == TG_PLOT_POINTS) {
        tg_plot_canvas_dot(canvas, x + SWATCH / 2.0, cy, 3.0, clip);
    } else if (s->style == TG_PLOT_DASHED) {
        tg_plot_canvas_segment(canvas, x, cy, x + 9, cy, 2.0, clip);
        tg_plot_canvas_segment(canvas, x + 15, cy, x + SWATCH, cy, 2.0, clip);
    } else {
        tg_plot_canvas_segment(canvas, x, cy, x + SWATCH, cy, 2.0, clip);
    }
    tg_plot_canvas_paint(canvas, clip, color, 1.0f);
}

void tg_plot_chart_legend(tg_plot_canvas *canvas, tg_plot_chart *chart, const tg_plot_series *series, int n,
                          bool bars)
{
    tg_plot_axes *a = &chart->axes;
    int named = 0, widest = 0;
    for (int i = 0; i < n; i++)
        if (has(series[i].name)) {
            named++;
            widest = max_int(widest, tg_plot_text_width(series[i].name));
        }
    if (named == 0 || chart->options->legend == TG_PLOT_LEGEND_NONE)
        return;
    int width = 2 * GAP + SWATCH + GAP + widest + 2 * GAP, height = named * LEGEND_ROW + GAP;
    tg_plot_legend where = chart->options->legend;
    int spot = where == TG_PLOT_LEGEND_AUTO ? emptiest_spot(canvas, &a->area, width, height)
                                            : (int)where - TG_PLOT_LEGEND_TOP_RIGHT;
    tg_plot_rect box = legend_box(&a->area, spot, width, height);
    a->legend = box;
    tg_plot_canvas_fill(canvas, box, TG_PLOT_WHITE, 0.9f);
    outline(canvas, box);
    int row = box.y + GAP / 2;
    for (int i = 0; i < n; i++) {
        if (!has(series[i].name))
            continue;
        int cy = row + LEGEND_ROW / 2;
        swatch(canvas, &series[i], tg_plot_series_color(&series[i], i), box.x + 2 * GAP, cy, bars, box);
        tg_plot_canvas_text(canvas, box.x + 2 * GAP + SWATCH + GAP, cy - LINE / 2, series[i].name,
                            &tg_plot_font_regular, TG_PLOT_TEXT, a->panel);
        row += LEGEND_ROW;
    }
}
