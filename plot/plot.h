/*
 * plot/plot.h: charts written to PNG.
 *
 * Line charts (one or more series, lines, dashed lines or scatter points),
 * bar charts, heat maps, and figures of several charts in a grid, each
 * written as an RGB PNG with libpng. A chart has a title, axis labels, "nice" ticks
 * (steps of 1, 2 or 5 times a power of ten) with numeric labels, a light
 * grid, a legend, anti-aliased curves in a fixed colour-blind-friendly
 * palette (Okabe and Ito), an optional log10 y axis with decade ticks, and
 * optional moving-average smoothing drawn over the faint raw curve. Text is
 * drawn with a built-in 7x14 bitmap font (printable ASCII; any other byte
 * is drawn as '?').
 *
 * One call plots a training history:
 *
 *     tg_plot_series s[] = {
 *         { .name = "train", .y = train_loss, .count = steps },
 *         { .name = "validation", .x = val_step, .y = val_loss, .count = evals },
 *     };
 *     int skipped = tg_plot_lines("loss.png", s, 2, &(tg_plot_options){
 *         .title = "Loss", .xlabel = "step", .ylabel = "nats", .smooth = 25 });
 *
 * Data is given as float or double arrays: plot/ depends on nothing else in
 * tapegrad but tensor/error.h and tensor/file.h.
 *
 * Bad data: a point whose x or y is NaN or infinite (or whose y is not
 * positive on a log axis) is skipped, counted, and the line breaks there;
 * the functions that draw return that count. An empty series draws
 * nothing but still has its legend entry; a chart with no finite point
 * gets the range [0, 1] (log: [1, 10]); a flat series gets a range around
 * its value. Bad arguments (NULL or negative counts, an inverted range, a
 * size out of bounds, an unwritable path) return -1 (or NULL) and record a
 * message naming the function, or the file (see tensor/error.h), e.g.
 *     plot_lines: series 1 "val" (count -3): count is negative
 *     plot: runs/loss.png: cannot create a temporary file in its directory:
 *     No such file or directory
 * A NULL figure gives -1 without a message of its own. Nothing aborts.
 *
 * Files are written atomically, by the engine every save of tapegrad
 * uses (tensor/file.h, which documents the rules): the PNG goes to a
 * temporary file in the same directory, which is flushed, synced and
 * renamed over path; on failure the temporary is removed and an older
 * file at path is left as it was. A symbolic link is written through to
 * its target, a replaced file keeps its mode, owner and group, a name of
 * any valid length works, stale temporaries of killed saves are removed,
 * and a directory, FIFO, device or socket at path is refused, e.g.
 *     plot: loss.png: not a regular file but a FIFO; saves replace only
 *     regular files
 *
 * Pixel convention: pixel (i, j) covers [i, i+1) x [j, j+1), j down from
 * the top, so the pixel holding a point at (px, py) is (floor(px), floor(py)).
 */
#ifndef TG_PLOT_H
#define TG_PLOT_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TG_PLOT_DEFAULT_WIDTH 900
#define TG_PLOT_DEFAULT_HEIGHT 540
#define TG_PLOT_MAX_SIZE 8192 /* largest width or height of an image */
#define TG_PLOT_MAX_TICKS 24  /* most ticks on one axis */

typedef struct tg_plot_color {
    unsigned char r, g, b;
} tg_plot_color;

/* A rectangle of pixels: columns [x, x + width), rows [y, y + height). */
typedef struct tg_plot_rect {
    int x, y, width, height;
} tg_plot_rect;

/* Fixed axis limits; min == max (as in {0, 0}, the default) means "from
 * the data". */
typedef struct tg_plot_range {
    double min, max;
} tg_plot_range;

typedef enum tg_plot_style {
    TG_PLOT_LINE = 0, /* a solid line through the points */
    TG_PLOT_DASHED,   /* a dashed line */
    TG_PLOT_POINTS,   /* a dot (radius 3 pixels) at each point and no line (scatter) */
} tg_plot_style;

typedef enum tg_plot_legend {
    TG_PLOT_LEGEND_AUTO = 0, /* where it hides the least: a corner or the middle of an edge */
    TG_PLOT_LEGEND_NONE,
    TG_PLOT_LEGEND_TOP_RIGHT,
    TG_PLOT_LEGEND_TOP_LEFT,
    TG_PLOT_LEGEND_BOTTOM_RIGHT,
    TG_PLOT_LEGEND_BOTTOM_LEFT,
} tg_plot_legend;

/* One series of points. Give y as float (y) or double (yd), and x likewise
 * (x or xd) or neither for x = 0, 1, ..., count - 1. The arrays are only
 * read during the call. */
typedef struct tg_plot_series {
    const char *name; /* legend text; NULL or "" leaves the series out of the legend */
    const float *x, *y;
    const double *xd, *yd;
    int count;
    tg_plot_style style;
    int color;  /* 0: palette colour of the series' position; k > 0: palette colour k - 1 */
    int smooth; /* moving-average window in points; 0: from options.smooth; 1: none */
} tg_plot_series;

/* Zero or NULL in any field means its default. */
typedef struct tg_plot_options {
    int width, height; /* image size for tg_plot_lines/tg_plot_bars; 0: 900 x 540 */
    const char *title, *xlabel, *ylabel;
    bool log_y;                    /* log10 y axis with decade ticks */
    int smooth;                    /* moving-average window (see tg_plot_lines); 0 or 1: none */
    tg_plot_range x_range, y_range; /* fixed limits (not for a bar chart's x) */
    tg_plot_legend legend;
    const char *const *labels; /* bar charts: one name per category (default: 0, 1, ...) */
} tg_plot_options;

/* Where a chart was drawn and how data maps to pixels. */
typedef struct tg_plot_axes {
    tg_plot_rect panel;  /* the whole chart, title and labels included */
    tg_plot_rect area;   /* the plot area inside the frame */
    tg_plot_rect legend; /* the legend box; width 0 when there is none */
    double x_min, x_max; /* data x at the left and right edges of area */
    double y_min, y_max; /* data y at the bottom and top edges (not log10'd) */
    bool log_y;
    int nx_ticks, ny_ticks; /* the ticks, in data units, left to right and bottom to top */
    double x_ticks[TG_PLOT_MAX_TICKS], y_ticks[TG_PLOT_MAX_TICKS];
} tg_plot_axes;

/* Colour k of the palette (eight colours, repeating; k < 0 counts as 0):
 * blue, vermillion, bluish green, orange, reddish purple, sky blue, black,
 * yellow. */
tg_plot_color tg_plot_palette(int k);

/* The pixel position (see the convention above) of data point (x, y) on
 * axes: x_min maps to area.x, x_max to area.x + area.width, y_min to the
 * bottom edge area.y + area.height and y_max to area.y (linearly in log10 y
 * on a log axis). *py is NaN for y <= 0 on a log axis. */
void tg_plot_axes_pixel(const tg_plot_axes *axes, double x, double y, double *px, double *py);

/* Writes a line chart of n series to a PNG at path. Line series are drawn
 * 2 pixels wide. With smoothing, the raw curve is drawn faint and thin and
 * over it each point's mean over a window of w points centred on it (fewer
 * at the ends; skipped points left out). options->smooth is w for the
 * densest line series (the smallest mean x spacing); the others average
 * over the same span of x, so a validation series logged every 100 steps
 * next to a per-step training loss stays raw (a window under 2 points).
 * A series' own smooth overrides this. n may be 0 (an empty chart).
 * Returns the number of points skipped (see "Bad data"), or -1 on error. */
int tg_plot_lines(const char *path, const tg_plot_series *series, int n, const tg_plot_options *options);

/* The axes tg_plot_lines would use for the same arguments (the chart is
 * drawn in memory, not written). Returns as tg_plot_lines. */
int tg_plot_lines_axes(const tg_plot_series *series, int n, const tg_plot_options *options, tg_plot_axes *axes);

/* Writes a bar chart: category i has one bar per series, of height y[i]
 * (x, style and smooth are ignored), labelled under the axis with
 * options->labels[i] (which must then hold as many names as the longest
 * series) and its value above the bar when there is room. Bars grow from
 * 0 (from the bottom on a log axis). Category i is centred at x = i on the
 * axes. Returns the number of values skipped, or -1 on error. */
int tg_plot_bars(const char *path, const tg_plot_series *series, int n, const tg_plot_options *options);

/* A heat map: a matrix drawn as a grid of square cells, row 0 at the top,
 * each shaded from white (min) to dark blue (max) along a colour bar drawn
 * on the right with the two ends' values; a NaN or infinite cell is drawn
 * grey and counted as skipped. Rows are labelled on the left and columns
 * below (turned upwards when they do not fit under their cells), with
 * row_labels[r] and col_labels[c], or the indices when NULL; options give
 * the title, xlabel (below the columns), ylabel and, for tg_plot_heatmap,
 * the image size (other options are ignored). On the axes the chart
 * reports, cell (r, c) spans x in [c, c + 1] and y in [r, r + 1] (y grows
 * downwards: y_min = rows at the bottom, y_max = 0 at the top), so its
 * centre is at tg_plot_axes_pixel(axes, c + 0.5, r + 0.5).
 * Used for attention weights: letters against phonemes. */
typedef struct tg_plot_heatmap_data {
    const float *values;     /* rows * cols, row-major */
    int rows, cols;          /* 1 to 4096 each */
    const char *const *row_labels, *const *col_labels; /* NULL: 0, 1, ... */
    double min, max;         /* colour range; min == max (as {0, 0}): the finite values' range */
} tg_plot_heatmap_data;

/* Writes a heat map to a PNG at path. Returns the number of cells skipped,
 * or -1 with an error (NULL map or values, sizes out of range, min > max,
 * a panel too small for 2-pixel cells, an unwritable path). */
int tg_plot_heatmap(const char *path, const tg_plot_heatmap_data *map, const tg_plot_options *options);

/* A figure: an image holding a grid of charts (panels), for example one
 * learning-curve chart per sequence length. */
typedef struct tg_plot_figure tg_plot_figure;

typedef struct tg_plot_figure_config {
    int rows, cols;    /* grid of panels; 0: 1 */
    int width, height; /* image size; 0: 900 x 540 for one panel, else 480 x 360 per
                        * panel, plus 30 rows for a title */
    const char *title; /* drawn above all panels; NULL: none */
} tg_plot_figure_config;

/* A new white figure, owned by the caller: free it with tg_plot_figure_free
 * (which accepts NULL). NULL with an error for rows or columns outside
 * [1, 64] or a width or height outside [64, TG_PLOT_MAX_SIZE]. A panel too
 * small for its chart's labels is an error when the chart is drawn. */
tg_plot_figure *tg_plot_figure_new(tg_plot_figure_config config);
void tg_plot_figure_free(tg_plot_figure *figure);

/* Draws a line chart or a bar chart in panel `panel` (row-major, from 0),
 * replacing what was there (a chart that fails leaves the panel blank);
 * options->width and height are ignored. Return as tg_plot_lines and
 * tg_plot_bars. */
int tg_plot_figure_lines(tg_plot_figure *figure, int panel, const tg_plot_series *series, int n,
                         const tg_plot_options *options);
int tg_plot_figure_bars(tg_plot_figure *figure, int panel, const tg_plot_series *series, int n,
                        const tg_plot_options *options);

/* Draws a heat map in panel `panel`, as tg_plot_figure_lines draws a chart. */
int tg_plot_figure_heatmap(tg_plot_figure *figure, int panel, const tg_plot_heatmap_data *map,
                           const tg_plot_options *options);

/* The axes of the chart last drawn in panel. Returns 0, or -1 with an error
 * if nothing was drawn there. */
int tg_plot_figure_axes(const tg_plot_figure *figure, int panel, tg_plot_axes *axes);

/* Writes the figure to a PNG at path (atomically). Returns 0 or -1. */
int tg_plot_figure_save(const tg_plot_figure *figure, const char *path);

#ifdef __cplusplus
}
#endif

#endif
