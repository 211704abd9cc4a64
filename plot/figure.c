/*
 * plot/figure.c: images holding a grid of charts, and the one-call
 * functions that write a single chart.
 */
#include <stdlib.h>

#include "plot/chart.h"
#include "tensor/error.h"

#define MAX_GRID 64
#define TITLE_BAND 30 /* height of a figure's title row */

struct tg_plot_figure {
    tg_plot_canvas canvas;
    int rows, cols;
    int top;            /* first row of pixels below the figure's title */
    tg_plot_axes *axes; /* per panel */
    bool *drawn;        /* per panel: whether axes[panel] is set */
};

tg_plot_figure *tg_plot_figure_new(tg_plot_figure_config config)
{
    int rows = config.rows ? config.rows : 1, cols = config.cols ? config.cols : 1;
    if (rows < 1 || rows > MAX_GRID || cols < 1 || cols > MAX_GRID) {
        tg_error_set("plot_figure_new: %dx%d panels: need 1 to %d rows and columns", config.rows, config.cols,
                     MAX_GRID);
        return NULL;
    }
    bool single = rows == 1 && cols == 1;
    bool titled = config.title && config.title[0];
    int width = config.width ? config.width : single ? TG_PLOT_DEFAULT_WIDTH : 480 * cols;
    int height = config.height ? config.height
                               : single ? TG_PLOT_DEFAULT_HEIGHT : 360 * rows + (titled ? TITLE_BAND : 0);
    if (width < 64 || width > TG_PLOT_MAX_SIZE || height < 64 || height > TG_PLOT_MAX_SIZE) {
        tg_error_set("plot_figure_new: %dx%d image: width and height must be in [64, %d]", width, height,
                     TG_PLOT_MAX_SIZE);
        return NULL;
    }
    tg_plot_figure *f = calloc(1, sizeof *f);
    if (!f || tg_plot_canvas_init(&f->canvas, width, height) != 0) {
        tg_error_set("plot_figure_new: out of memory for a %dx%d image", width, height);
        free(f);
        return NULL;
    }
    f->rows = rows;
    f->cols = cols;
    f->top = titled ? TITLE_BAND : 0;
    f->axes = calloc((size_t)rows * cols, sizeof *f->axes);
    f->drawn = calloc((size_t)rows * cols, sizeof *f->drawn);
    if (!f->axes || !f->drawn) {
        tg_error_set("plot_figure_new: out of memory for %dx%d panels", rows, cols);
        tg_plot_figure_free(f);
        return NULL;
    }
    if (titled)
        tg_plot_canvas_text(&f->canvas, (width - tg_plot_text_width(config.title)) / 2, 8, config.title,
                            &tg_plot_font_bold, TG_PLOT_TEXT, (tg_plot_rect){ 0, 0, width, TITLE_BAND });
    return f;
}

void tg_plot_figure_free(tg_plot_figure *figure)
{
    if (!figure)
        return;
    tg_plot_canvas_release(&figure->canvas);
    free(figure->axes);
    free(figure->drawn);
    free(figure);
}

/* The rectangle of panel p; the grid's rounding spreads leftover pixels. */
static tg_plot_rect panel_rect(const tg_plot_figure *f, int p)
{
    int row = p / f->cols, col = p % f->cols, height = f->canvas.height - f->top;
    int x0 = col * f->canvas.width / f->cols, x1 = (col + 1) * f->canvas.width / f->cols;
    int y0 = f->top + row * height / f->rows, y1 = f->top + (row + 1) * height / f->rows;
    return (tg_plot_rect){ x0, y0, x1 - x0, y1 - y0 };
}

static int check_panel(const tg_plot_figure *f, int panel, const char *what)
{
    if (!f)
        return tg_error_null_input(what);
    if (panel < 0 || panel >= f->rows * f->cols)
        return tg_error_set("%s: panel %d: the figure has %d (%dx%d)", what, panel, f->rows * f->cols, f->rows,
                            f->cols);
    return 0;
}

typedef int (*draw_fn)(tg_plot_canvas *, tg_plot_rect, const tg_plot_series *, int, const tg_plot_options *,
                       tg_plot_axes *);

/* Draws one chart into a panel; a failed chart leaves the panel blank. */
static int draw_panel(tg_plot_figure *f, int panel, draw_fn draw, const tg_plot_series *series, int n,
                      const tg_plot_options *options, const char *what)
{
    if (check_panel(f, panel, what))
        return -1;
    tg_plot_rect rect = panel_rect(f, panel);
    int skipped = draw(&f->canvas, rect, series, n, options, &f->axes[panel]);
    if (skipped < 0)
        tg_plot_canvas_fill(&f->canvas, rect, TG_PLOT_WHITE, 1.0f);
    f->drawn[panel] = skipped >= 0;
    return skipped;
}

int tg_plot_figure_lines(tg_plot_figure *figure, int panel, const tg_plot_series *series, int n,
                         const tg_plot_options *options)
{
    return draw_panel(figure, panel, tg_plot_draw_lines, series, n, options, "plot_figure_lines");
}

int tg_plot_figure_bars(tg_plot_figure *figure, int panel, const tg_plot_series *series, int n,
                        const tg_plot_options *options)
{
    return draw_panel(figure, panel, tg_plot_draw_bars, series, n, options, "plot_figure_bars");
}

int tg_plot_figure_heatmap(tg_plot_figure *figure, int panel, const tg_plot_heatmap_data *map,
                           const tg_plot_options *options)
{
    if (check_panel(figure, panel, "plot_figure_heatmap"))
        return -1;
    tg_plot_rect rect = panel_rect(figure, panel);
    int skipped = tg_plot_draw_heatmap(&figure->canvas, rect, map, options, &figure->axes[panel],
                                       "plot_figure_heatmap");
    if (skipped < 0)
        tg_plot_canvas_fill(&figure->canvas, rect, TG_PLOT_WHITE, 1.0f);
    figure->drawn[panel] = skipped >= 0;
    return skipped;
}

int tg_plot_figure_axes(const tg_plot_figure *figure, int panel, tg_plot_axes *axes)
{
    if (check_panel(figure, panel, "plot_figure_axes"))
        return -1;
    if (!axes)
        return tg_error_set("plot_figure_axes: axes is NULL");
    if (!figure->drawn[panel])
        return tg_error_set("plot_figure_axes: nothing drawn in panel %d", panel);
    *axes = figure->axes[panel];
    return 0;
}

int tg_plot_figure_save(const tg_plot_figure *figure, const char *path)
{
    return figure ? tg_plot_canvas_save(&figure->canvas, path) : tg_error_null_input("plot_figure_save");
}

/* One chart in a figure of its own, written to path when path is given;
 * its axes go to *axes when axes is given. */
static int single_chart(const char *path, draw_fn draw, const tg_plot_series *series, int n,
                        const tg_plot_options *options, tg_plot_axes *axes, const char *what)
{
    const tg_plot_options *o = options ? options : &(tg_plot_options){ 0 };
    if (tg_plot_options_check(o, what))
        return -1;
    tg_plot_figure *f = tg_plot_figure_new((tg_plot_figure_config){ .width = o->width, .height = o->height });
    if (!f)
        return -1;
    int skipped = draw_panel(f, 0, draw, series, n, o, what);
    if (skipped >= 0 && path && tg_plot_figure_save(f, path) != 0)
        skipped = -1;
    if (skipped >= 0 && axes)
        *axes = f->axes[0];
    tg_plot_figure_free(f);
    return skipped;
}

int tg_plot_lines(const char *path, const tg_plot_series *series, int n, const tg_plot_options *options)
{
    if (!path || !path[0])
        return tg_error_set("plot_lines: no file name given");
    return single_chart(path, tg_plot_draw_lines, series, n, options, NULL, "plot_lines");
}

int tg_plot_lines_axes(const tg_plot_series *series, int n, const tg_plot_options *options, tg_plot_axes *axes)
{
    if (!axes)
        return tg_error_set("plot_lines_axes: axes is NULL");
    return single_chart(NULL, tg_plot_draw_lines, series, n, options, axes, "plot_lines_axes");
}

int tg_plot_bars(const char *path, const tg_plot_series *series, int n, const tg_plot_options *options)
{
    if (!path || !path[0])
        return tg_error_set("plot_bars: no file name given");
    return single_chart(path, tg_plot_draw_bars, series, n, options, NULL, "plot_bars");
}

int tg_plot_heatmap(const char *path, const tg_plot_heatmap_data *map, const tg_plot_options *options)
{
    if (!path || !path[0])
        return tg_error_set("plot_heatmap: no file name given");
    const tg_plot_options *o = options ? options : &(tg_plot_options){ 0 };
    if (tg_plot_options_check(o, "plot_heatmap"))
        return -1;
    tg_plot_figure *f = tg_plot_figure_new((tg_plot_figure_config){ .width = o->width, .height = o->height });
    if (!f)
        return -1;
    int skipped = tg_plot_draw_heatmap(&f->canvas, panel_rect(f, 0), map, o, &f->axes[0], "plot_heatmap");
    if (skipped >= 0 && tg_plot_figure_save(f, path) != 0)
        skipped = -1;
    tg_plot_figure_free(f);
    return skipped;
}
