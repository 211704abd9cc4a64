/*
 * plot/canvas.c: the raster: fills, bitmap text, and anti-aliased shapes
 * through the coverage mask.
 */
#include "plot/canvas.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/error.h"

int tg_plot_canvas_init(tg_plot_canvas *canvas, int width, int height)
{
    size_t pixels = (size_t)width * (size_t)height;
    canvas->width = width;
    canvas->height = height;
    canvas->rgb = malloc(pixels * 3);
    canvas->mask = calloc(pixels, sizeof *canvas->mask);
    if (!canvas->rgb || !canvas->mask) {
        tg_plot_canvas_release(canvas);
        return tg_error_set("plot: out of memory for a %dx%d image", width, height);
    }
    memset(canvas->rgb, 255, pixels * 3);
    return 0;
}

void tg_plot_canvas_release(tg_plot_canvas *canvas)
{
    free(canvas->rgb);
    free(canvas->mask);
    canvas->rgb = NULL;
    canvas->mask = NULL;
}

static int max_int(int a, int b) { return a > b ? a : b; }
static int min_int(int a, int b) { return a < b ? a : b; }

tg_plot_rect tg_plot_canvas_clip(const tg_plot_canvas *canvas, tg_plot_rect r, tg_plot_rect clip)
{
    int x0 = max_int(max_int(r.x, clip.x), 0);
    int y0 = max_int(max_int(r.y, clip.y), 0);
    int x1 = min_int(min_int(r.x + r.width, clip.x + clip.width), canvas->width);
    int y1 = min_int(min_int(r.y + r.height, clip.y + clip.height), canvas->height);
    return (tg_plot_rect){ x0, y0, max_int(x1 - x0, 0), max_int(y1 - y0, 0) };
}

static void blend(unsigned char *pixel, tg_plot_color color, float alpha)
{
    const unsigned char c[3] = { color.r, color.g, color.b };
    for (int k = 0; k < 3; k++)
        pixel[k] = (unsigned char)lrintf((float)pixel[k] * (1.0f - alpha) + (float)c[k] * alpha);
}

void tg_plot_canvas_fill(tg_plot_canvas *canvas, tg_plot_rect r, tg_plot_color color, float alpha)
{
    r = tg_plot_canvas_clip(canvas, r, r);
    for (int y = r.y; y < r.y + r.height; y++)
        for (int x = r.x; x < r.x + r.width; x++) {
            unsigned char *p = canvas->rgb + 3 * ((size_t)y * canvas->width + x);
            if (alpha >= 1.0f)
                memcpy(p, (unsigned char[3]){ color.r, color.g, color.b }, 3);
            else
                blend(p, color, alpha);
        }
}

int tg_plot_canvas_ink(const tg_plot_canvas *canvas, tg_plot_rect r)
{
    r = tg_plot_canvas_clip(canvas, r, r);
    int ink = 0;
    for (int y = r.y; y < r.y + r.height; y++)
        for (int x = r.x; x < r.x + r.width; x++) {
            const unsigned char *p = canvas->rgb + 3 * ((size_t)y * canvas->width + x);
            ink += p[0] < 200 || p[1] < 200 || p[2] < 200;
        }
    return ink;
}

int tg_plot_text_width(const char *s) { return (int)strlen(s) * TG_PLOT_FONT_WIDTH; }

static const unsigned char *glyph(const tg_plot_font *font, char c)
{
    int code = (unsigned char)c;
    if (code < TG_PLOT_FONT_FIRST || code > TG_PLOT_FONT_LAST)
        code = '?';
    return (*font)[code - TG_PLOT_FONT_FIRST];
}

static void set_pixel(tg_plot_canvas *canvas, int x, int y, tg_plot_color color, tg_plot_rect clip)
{
    if (x < clip.x || x >= clip.x + clip.width || y < clip.y || y >= clip.y + clip.height)
        return;
    unsigned char *p = canvas->rgb + 3 * ((size_t)y * canvas->width + x);
    p[0] = color.r;
    p[1] = color.g;
    p[2] = color.b;
}

/* Draws s glyph by glyph; `up` turns it a quarter turn anticlockwise, so a
 * glyph's (column, row) lands at (x + row, y - 1 - column). */
static void draw_text(tg_plot_canvas *canvas, int x, int y, const char *s, const tg_plot_font *font,
                      tg_plot_color color, tg_plot_rect clip, bool up)
{
    clip = tg_plot_canvas_clip(canvas, clip, clip);
    for (int k = 0; s[k]; k++) {
        const unsigned char *rows = glyph(font, s[k]);
        for (int row = 0; row < TG_PLOT_FONT_HEIGHT; row++)
            for (int col = 0; col < TG_PLOT_FONT_WIDTH; col++) {
                if (!(rows[row] & (0x80 >> col)))
                    continue;
                int along = k * TG_PLOT_FONT_WIDTH + col;
                if (up)
                    set_pixel(canvas, x + row, y - 1 - along, color, clip);
                else
                    set_pixel(canvas, x + along, y + row, color, clip);
            }
    }
}

void tg_plot_canvas_text(tg_plot_canvas *canvas, int x, int y, const char *s, const tg_plot_font *font,
                         tg_plot_color color, tg_plot_rect clip)
{
    draw_text(canvas, x, y, s, font, color, clip, false);
}

void tg_plot_canvas_text_up(tg_plot_canvas *canvas, int x, int y, const char *s, const tg_plot_font *font,
                            tg_plot_color color, tg_plot_rect clip)
{
    draw_text(canvas, x, y, s, font, color, clip, true);
}

/* Liang-Barsky: cuts the segment p = (x0, y0, x1, y1) to the box
 * [left, right] x [top, bottom]. Returns false if none of it is inside. */
static bool clip_segment(double p[4], double left, double top, double right, double bottom)
{
    double dx = p[2] - p[0], dy = p[3] - p[1];
    const double dir[4] = { -dx, dx, -dy, dy };
    const double room[4] = { p[0] - left, right - p[0], p[1] - top, bottom - p[1] };
    double t0 = 0.0, t1 = 1.0;
    for (int i = 0; i < 4; i++) {
        if (dir[i] == 0.0) {
            if (room[i] < 0.0)
                return false;
            continue;
        }
        double t = room[i] / dir[i];
        if (dir[i] < 0.0)
            t0 = fmax(t0, t);
        else
            t1 = fmin(t1, t);
    }
    if (t0 > t1)
        return false;
    double x = p[0], y = p[1];
    p[0] = x + t0 * dx;
    p[1] = y + t0 * dy;
    p[2] = x + t1 * dx;
    p[3] = y + t1 * dy;
    return true;
}

/* v held to [lo, hi]; plain comparisons, cheaper than fmin and fmax in
 * the pixel loops (the values there are never NaN). */
static double clamp(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

static double squared_distance_to_segment(double px, double py, const double p[4])
{
    double dx = p[2] - p[0], dy = p[3] - p[1];
    double len2 = dx * dx + dy * dy;
    double t = len2 > 0.0 ? ((px - p[0]) * dx + (py - p[1]) * dy) / len2 : 0.0;
    t = clamp(t, 0.0, 1.0);
    double ex = px - (p[0] + t * dx), ey = py - (p[1] + t * dy);
    return ex * ex + ey * ey;
}

static void cover(tg_plot_canvas *canvas, int x, int y, float coverage)
{
    float *m = canvas->mask + (size_t)y * canvas->width + x;
    if (coverage > *m)
        *m = coverage;
}

void tg_plot_canvas_segment(tg_plot_canvas *canvas, double x0, double y0, double x1, double y1, double width,
                            tg_plot_rect clip)
{
    clip = tg_plot_canvas_clip(canvas, clip, clip);
    if (!isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1))
        return;
    double reach = width / 2.0 + 1.0, outer = width / 2.0 + 0.5, inner = fmax(width / 2.0 - 0.5, 0.0);
    /* Far-off ends (a point far outside fixed limits) are cut to the clip
     * box first, so the pixel loops below stay small and exact. */
    double p[4] = { x0, y0, x1, y1 };
    if (!clip_segment(p, clip.x - reach, clip.y - reach, clip.x + clip.width + reach, clip.y + clip.height + reach))
        return;
    double ylo = fmin(p[1], p[3]), yhi = fmax(p[1], p[3]);
    int row0 = max_int(clip.y, (int)floor(ylo - reach));
    int row1 = min_int(clip.y + clip.height - 1, (int)ceil(yhi + reach));
    for (int y = row0; y <= row1; y++) {
        /* The columns the capsule can reach in this row: the segment's x
         * over the rows within `reach`, widened by `reach`. */
        double a = clamp(y + 0.5 - reach, ylo, yhi), b = clamp(y + 0.5 + reach, ylo, yhi);
        double xa = p[0], xb = p[2];
        if (yhi > ylo) {
            double slope = (p[2] - p[0]) / (p[3] - p[1]);
            xa = p[0] + (a - p[1]) * slope;
            xb = p[0] + (b - p[1]) * slope;
        }
        int col0 = max_int(clip.x, (int)floor((xa < xb ? xa : xb) - reach));
        int col1 = min_int(clip.x + clip.width - 1, (int)ceil((xa < xb ? xb : xa) + reach));
        for (int x = col0; x <= col1; x++) {
            /* Coverage falls from 1 to 0 as the distance d goes from
             * width/2 - 0.5 to width/2 + 0.5; the sqrt only in between. */
            double d2 = squared_distance_to_segment(x + 0.5, y + 0.5, p);
            if (d2 < outer * outer)
                cover(canvas, x, y, d2 <= inner * inner ? 1.0f : (float)clamp(outer - sqrt(d2), 0.0, 1.0));
        }
    }
}

#define DASH_ON 7.0     /* dash length, before the round caps */
#define DASH_PERIOD 13.0 /* dash plus gap */

void tg_plot_canvas_dashed(tg_plot_canvas *canvas, double x0, double y0, double x1, double y1, double width,
                           double *phase, tg_plot_rect clip)
{
    /* Only the phase within one period matters; keeping it reduced keeps
     * it exact however long the line. */
    double start = fmod(*phase, DASH_PERIOD);
    *phase = fmod(start + hypot(x1 - x0, y1 - y0), DASH_PERIOD);
    clip = tg_plot_canvas_clip(canvas, clip, clip);
    if (!isfinite(*phase) || !isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1))
        return;
    double reach = width / 2.0 + 1.0;
    double p[4] = { x0, y0, x1, y1 };
    if (!clip_segment(p, clip.x - reach, clip.y - reach, clip.x + clip.width + reach, clip.y + clip.height + reach))
        return;
    /* Dash k covers [k * DASH_PERIOD, k * DASH_PERIOD + DASH_ON] of the
     * line's length; draw those that meet the visible part [from, to]. */
    double from = fmod(start + hypot(p[0] - x0, p[1] - y0), DASH_PERIOD);
    double length = hypot(p[2] - p[0], p[3] - p[1]), to = from + length;
    if (length <= 0.0)
        return;
    double ux = (p[2] - p[0]) / length, uy = (p[3] - p[1]) / length;
    for (int k = 0; k * DASH_PERIOD <= to; k++) {
        double a = fmax(k * DASH_PERIOD, from) - from, b = fmin(k * DASH_PERIOD + DASH_ON, to) - from;
        if (b > a)
            tg_plot_canvas_segment(canvas, p[0] + a * ux, p[1] + a * uy, p[0] + b * ux, p[1] + b * uy, width, clip);
    }
}

void tg_plot_canvas_dot(tg_plot_canvas *canvas, double x, double y, double radius, tg_plot_rect clip)
{
    clip = tg_plot_canvas_clip(canvas, clip, clip);
    double reach = radius + 1.0;
    if (!(isfinite(x) && isfinite(y)))
        return;
    if (!(x > clip.x - reach && x < clip.x + clip.width + reach && y > clip.y - reach &&
          y < clip.y + clip.height + reach))
        return;
    int row0 = max_int(clip.y, (int)floor(y - reach)), row1 = min_int(clip.y + clip.height - 1, (int)ceil(y + reach));
    int col0 = max_int(clip.x, (int)floor(x - reach)), col1 = min_int(clip.x + clip.width - 1, (int)ceil(x + reach));
    for (int row = row0; row <= row1; row++)
        for (int col = col0; col <= col1; col++) {
            double d = hypot(col + 0.5 - x, row + 0.5 - y);
            cover(canvas, col, row, (float)clamp(radius + 0.5 - d, 0.0, 1.0));
        }
}

void tg_plot_canvas_paint(tg_plot_canvas *canvas, tg_plot_rect clip, tg_plot_color color, float opacity)
{
    clip = tg_plot_canvas_clip(canvas, clip, clip);
    for (int y = clip.y; y < clip.y + clip.height; y++)
        for (int x = clip.x; x < clip.x + clip.width; x++) {
            size_t i = (size_t)y * canvas->width + x;
            if (canvas->mask[i] > 0.0f) {
                blend(canvas->rgb + 3 * i, color, canvas->mask[i] * opacity);
                canvas->mask[i] = 0.0f;
            }
        }
}
