/*
 * plot/heatmap.c: heat maps, a matrix drawn as shaded cells.
 */
#include <math.h>
#include <stdio.h>

#include "plot/chart.h"
#include "tensor/error.h"

#define MAX_CELLS 4096 /* rows and columns each */
#define BAR 14         /* width of the colour bar */
#define TICK_GAP 4

static const tg_plot_color LOW = { 255, 255, 255 }, HIGH = { 8, 48, 107 }, MISSING = { 200, 200, 200 };

static tg_plot_color shade(double t)
{
    t = fmin(fmax(t, 0.0), 1.0);
    return (tg_plot_color){ (unsigned char)lround(LOW.r + t * (HIGH.r - LOW.r)),
                            (unsigned char)lround(LOW.g + t * (HIGH.g - LOW.g)),
                            (unsigned char)lround(LOW.b + t * (HIGH.b - LOW.b)) };
}

static int check_map(const tg_plot_heatmap_data *map, const char *what)
{
    if (!map)
        return tg_error_null_input(what);
    if (map->rows < 1 || map->rows > MAX_CELLS || map->cols < 1 || map->cols > MAX_CELLS)
        return tg_error_set("%s: %d x %d cells: need 1 to %d rows and columns", what, map->rows, map->cols,
                            MAX_CELLS);
    if (!map->values)
        return tg_error_set("%s: values is NULL", what);
    if (!(map->min <= map->max) || !isfinite(map->min) || !isfinite(map->max))
        return tg_error_set("%s: colour range [%g, %g]: give min <= max, both finite (equal: from the data)",
                            what, map->min, map->max);
    return 0;
}

/* The label of row or column i: the caller's, or its index. */
static const char *label_of(const char *const *labels, int i, char buf[TG_PLOT_LABEL_MAX])
{
    if (labels && labels[i])
        return labels[i];
    snprintf(buf, TG_PLOT_LABEL_MAX, "%d", i);
    return buf;
}

int tg_plot_draw_heatmap(tg_plot_canvas *canvas, tg_plot_rect panel, const tg_plot_heatmap_data *map,
                         const tg_plot_options *options, tg_plot_axes *axes, const char *what)
{
    const tg_plot_options *o = options ? options : &(tg_plot_options){ 0 };
    if (check_map(map, what) || tg_plot_options_check(o, what))
        return -1;
    /* The colour scale and the cells that cannot be drawn. */
    double lo = map->min, hi = map->max;
    int skipped = 0;
    if (lo == hi) {
        lo = INFINITY;
        hi = -INFINITY;
        for (long i = 0; i < (long)map->rows * map->cols; i++)
            if (isfinite(map->values[i])) {
                lo = fmin(lo, map->values[i]);
                hi = fmax(hi, map->values[i]);
            }
        if (lo > hi)
            lo = 0.0, hi = 1.0;
        else if (lo == hi)
            hi = lo + 1.0;
    }
    for (long i = 0; i < (long)map->rows * map->cols; i++)
        skipped += !isfinite(map->values[i]);
    /* Margins: the title above, row labels and the y label left, column
     * labels and the x label below, the colour bar and its labels right. */
    char buf[TG_PLOT_LABEL_MAX], lo_label[TG_PLOT_LABEL_MAX], hi_label[TG_PLOT_LABEL_MAX];
    int row_width = 0, col_width = 0;
    for (int r = 0; r < map->rows; r++) {
        int w = tg_plot_text_width(label_of(map->row_labels, r, buf));
        row_width = w > row_width ? w : row_width;
    }
    for (int c = 0; c < map->cols; c++) {
        int w = tg_plot_text_width(label_of(map->col_labels, c, buf));
        col_width = w > col_width ? w : col_width;
    }
    tg_plot_value_label(lo_label, lo);
    tg_plot_value_label(hi_label, hi);
    int bar_labels = tg_plot_text_width(lo_label) > tg_plot_text_width(hi_label) ? tg_plot_text_width(lo_label)
                                                                                : tg_plot_text_width(hi_label);
    int top = panel.y + (o->title ? 2 * TG_PLOT_FONT_HEIGHT : 10);
    int left = panel.x + 10 + (o->ylabel ? TG_PLOT_FONT_HEIGHT + 6 : 0) + row_width + TICK_GAP;
    int right = panel.x + panel.width - 10 - bar_labels - TICK_GAP - BAR - 12;
    int bottom = panel.y + panel.height - 10 - (o->xlabel ? TG_PLOT_FONT_HEIGHT + 6 : 0) - TG_PLOT_FONT_HEIGHT -
                 TICK_GAP;
    /* Square cells as large as fit. */
    double cell = fmin((double)(right - left) / map->cols, (double)(bottom - top) / map->rows);
    if (cell < 2.0)
        return tg_error_set("%s: a %d x %d panel is too small for %d x %d cells", what, panel.width,
                            panel.height, map->rows, map->cols);
    /* Column labels that do not fit under their cells are turned upwards. */
    bool upright = col_width + 2 <= cell;
    if (!upright)
        bottom -= col_width - TG_PLOT_FONT_HEIGHT;
    cell = fmin((double)(right - left) / map->cols, (double)(bottom - top) / map->rows);
    if (cell < 2.0)
        return tg_error_set("%s: a %d x %d panel is too small for %d x %d cells", what, panel.width,
                            panel.height, map->rows, map->cols);
    tg_plot_canvas_fill(canvas, panel, TG_PLOT_WHITE, 1.0f);
    int width = (int)floor(cell * map->cols), height = (int)floor(cell * map->rows);
    for (int r = 0; r < map->rows; r++)
        for (int c = 0; c < map->cols; c++) {
            float v = map->values[(long)r * map->cols + c];
            int x0 = left + (int)floor(c * cell), x1 = left + (int)floor((c + 1) * cell);
            int y0 = top + (int)floor(r * cell), y1 = top + (int)floor((r + 1) * cell);
            tg_plot_color color = isfinite(v) ? shade((v - lo) / (hi - lo)) : MISSING;
            tg_plot_canvas_fill(canvas, tg_plot_canvas_clip(canvas, (tg_plot_rect){ x0, y0, x1 - x0, y1 - y0 }, panel),
                                color, 1.0f);
        }
    /* Frame, labels, title. */
    tg_plot_rect frame[] = { { left - 1, top - 1, width + 2, 1 }, { left - 1, top + height, width + 2, 1 },
                             { left - 1, top - 1, 1, height + 2 }, { left + width, top - 1, 1, height + 2 } };
    for (int i = 0; i < 4; i++)
        tg_plot_canvas_fill(canvas, tg_plot_canvas_clip(canvas, frame[i], panel), TG_PLOT_AXIS, 1.0f);
    for (int r = 0; r < map->rows; r++) {
        const char *s = label_of(map->row_labels, r, buf);
        int y = top + (int)floor((r + 0.5) * cell) - TG_PLOT_FONT_HEIGHT / 2;
        tg_plot_canvas_text(canvas, left - TICK_GAP - tg_plot_text_width(s), y, s, &tg_plot_font_regular,
                            TG_PLOT_TEXT, panel);
    }
    for (int c = 0; c < map->cols; c++) {
        const char *s = label_of(map->col_labels, c, buf);
        int x = left + (int)floor((c + 0.5) * cell);
        if (upright)
            tg_plot_canvas_text(canvas, x - tg_plot_text_width(s) / 2, top + height + TICK_GAP, s,
                                &tg_plot_font_regular, TG_PLOT_TEXT, panel);
        else
            tg_plot_canvas_text_up(canvas, x - TG_PLOT_FONT_HEIGHT / 2, top + height + TICK_GAP +
                                   tg_plot_text_width(s), s, &tg_plot_font_regular, TG_PLOT_TEXT, panel);
    }
    int below = top + height + TICK_GAP + (upright ? TG_PLOT_FONT_HEIGHT : col_width) + 6;
    if (o->xlabel)
        tg_plot_canvas_text(canvas, left + width / 2 - tg_plot_text_width(o->xlabel) / 2, below, o->xlabel,
                            &tg_plot_font_regular, TG_PLOT_TEXT, panel);
    if (o->ylabel)
        tg_plot_canvas_text_up(canvas, panel.x + 10, top + height / 2 + tg_plot_text_width(o->ylabel) / 2,
                               o->ylabel, &tg_plot_font_regular, TG_PLOT_TEXT, panel);
    if (o->title)
        tg_plot_canvas_text(canvas, left + width / 2 - tg_plot_text_width(o->title) / 2, panel.y + 6, o->title,
                            &tg_plot_font_bold, TG_PLOT_TEXT, panel);
    /* The colour bar: max at the top, min at the bottom. */
    int bar_x = left + width + 12;
    for (int y = 0; y < height; y++)
        tg_plot_canvas_fill(canvas, tg_plot_canvas_clip(canvas, (tg_plot_rect){ bar_x, top + y, BAR, 1 }, panel),
                            shade(1.0 - (y + 0.5) / height), 1.0f);
    tg_plot_canvas_text(canvas, bar_x + BAR + TICK_GAP, top, hi_label, &tg_plot_font_regular, TG_PLOT_TEXT, panel);
    tg_plot_canvas_text(canvas, bar_x + BAR + TICK_GAP, top + height - TG_PLOT_FONT_HEIGHT, lo_label,
                        &tg_plot_font_regular, TG_PLOT_TEXT, panel);
    *axes = (tg_plot_axes){ .panel = panel, .area = { left, top, width, height }, .x_min = 0.0,
                            .x_max = map->cols, .y_min = map->rows, .y_max = 0.0 };
    return skipped;
}
