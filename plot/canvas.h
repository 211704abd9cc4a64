/*
 * plot/canvas.h: the raster that plot/ draws charts on. Internal to plot/.
 *
 * An RGB image plus a coverage mask of the same size. Anti-aliased shapes
 * (segments with round caps, dots) are first rasterised into the mask, the
 * fraction of each pixel they cover, merged by maximum, then painted in one
 * colour by tg_plot_canvas_paint. Painting a whole curve at once keeps its
 * joints and self-overlaps from darkening, and a faint curve stays evenly
 * faint. Text and rectangles are drawn directly, without anti-aliasing.
 *
 * Every drawing call takes a clip rectangle and touches no pixel outside it
 * (nor outside the image).
 */
#ifndef TG_PLOT_CANVAS_H
#define TG_PLOT_CANVAS_H

#include "plot/font.h"
#include "plot/plot.h"

typedef struct tg_plot_canvas {
    int width, height;
    unsigned char *rgb; /* width * height pixels, 3 bytes each, rows top down */
    float *mask;        /* width * height coverages in [0, 1] */
} tg_plot_canvas;

/* A white canvas. Returns 0, or -1 with an error when out of memory. */
int tg_plot_canvas_init(tg_plot_canvas *canvas, int width, int height);
void tg_plot_canvas_release(tg_plot_canvas *canvas);

/* r intersected with clip (and the image); width or height 0 if empty. */
tg_plot_rect tg_plot_canvas_clip(const tg_plot_canvas *canvas, tg_plot_rect r, tg_plot_rect clip);

/* Blends color over rectangle r with opacity alpha in [0, 1]. */
void tg_plot_canvas_fill(tg_plot_canvas *canvas, tg_plot_rect r, tg_plot_color color, float alpha);

/* Number of pixels in r drawn darker than the grid (a channel below 200):
 * how much of r is taken by curves, bars and text. */
int tg_plot_canvas_ink(const tg_plot_canvas *canvas, tg_plot_rect r);

/* Pixel width of s in the built-in fonts. */
int tg_plot_text_width(const char *s);

/* Draws s with its first glyph cell's top-left corner at (x, y). */
void tg_plot_canvas_text(tg_plot_canvas *canvas, int x, int y, const char *s, const tg_plot_font *font,
                         tg_plot_color color, tg_plot_rect clip);

/* Draws s turned a quarter turn anticlockwise, reading upwards, with the
 * bottom-left corner of its first glyph cell at (x, y). */
void tg_plot_canvas_text_up(tg_plot_canvas *canvas, int x, int y, const char *s, const tg_plot_font *font,
                            tg_plot_color color, tg_plot_rect clip);

/* Adds to the mask a segment of the given width with round caps. */
void tg_plot_canvas_segment(tg_plot_canvas *canvas, double x0, double y0, double x1, double y1, double width,
                            tg_plot_rect clip);

/* Adds to the mask the dashes of a dashed line that fall on this segment.
 * *phase is the length of the line before the segment and is advanced by
 * the segment's length, so consecutive segments continue the pattern. */
void tg_plot_canvas_dashed(tg_plot_canvas *canvas, double x0, double y0, double x1, double y1, double width,
                           double *phase, tg_plot_rect clip);

/* Adds to the mask a disc of the given radius centred at (x, y). */
void tg_plot_canvas_dot(tg_plot_canvas *canvas, double x, double y, double radius, tg_plot_rect clip);

/* Blends color over the pixels of clip by mask coverage times opacity,
 * then clears the mask there. */
void tg_plot_canvas_paint(tg_plot_canvas *canvas, tg_plot_rect clip, tg_plot_color color, float opacity);

/* Writes the canvas as an RGB PNG at path, atomically, with the semantics
 * of every save (tensor/file.h). Returns 0, or -1 with an error naming
 * path. */
int tg_plot_canvas_save(const tg_plot_canvas *canvas, const char *path);

#endif
