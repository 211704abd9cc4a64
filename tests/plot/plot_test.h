/*
 * tests/plot/plot_test.h: reading a chart back with libpng and looking for
 * colours and text in it, for the plot tests.
 */
#ifndef TG_PLOT_TEST_H
#define TG_PLOT_TEST_H

#include <png.h>
#include <stdio.h>
#include <stdlib.h>

#include "scratch.h"
#include "plot/font.h"

typedef struct test_image {
    int width, height;
    unsigned char *rgb;
} test_image;

/* The PNG at path as 8-bit RGB; fails the test if it cannot be read. */
static inline test_image read_png(const char *path)
{
    png_image png;
    memset(&png, 0, sizeof png);
    png.version = PNG_IMAGE_VERSION;
    cr_assert(png_image_begin_read_from_file(&png, path), "cannot read %s: %s", path, png.message);
    png.format = PNG_FORMAT_RGB;
    test_image img = { (int)png.width, (int)png.height, malloc(PNG_IMAGE_SIZE(png)) };
    cr_assert(png_image_finish_read(&png, NULL, img.rgb, 0, NULL), "cannot decode %s: %s", path, png.message);
    return img;
}

static inline void image_free(test_image *img) { free(img->rgb); }

static inline tg_plot_color pixel_at(const test_image *img, int x, int y)
{
    cr_assert(x >= 0 && x < img->width && y >= 0 && y < img->height, "pixel (%d, %d) outside the image", x, y);
    const unsigned char *p = img->rgb + 3 * ((size_t)y * img->width + x);
    return (tg_plot_color){ p[0], p[1], p[2] };
}

static inline bool same_color(tg_plot_color a, tg_plot_color b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

/* Whether some pixel within `radius` (square) of the pixel holding (px, py)
 * has exactly colour c. */
static inline bool color_near(const test_image *img, double px, double py, tg_plot_color c, int radius)
{
    int x0 = (int)floor(px), y0 = (int)floor(py);
    for (int y = y0 - radius; y <= y0 + radius; y++)
        for (int x = x0 - radius; x <= x0 + radius; x++)
            if (x >= 0 && x < img->width && y >= 0 && y < img->height && same_color(pixel_at(img, x, y), c))
                return true;
    return false;
}

/* Number of pixels of colour c in r. */
static inline int count_color(const test_image *img, tg_plot_rect r, tg_plot_color c)
{
    int n = 0;
    for (int y = r.y; y < r.y + r.height; y++)
        for (int x = r.x; x < r.x + r.width; x++)
            n += same_color(pixel_at(img, x, y), c);
    return n;
}

/* Whether s, drawn with font in colour c, is at (x, y): every set bit of its
 * glyphs is c and every clear bit is not. (x, y) is the top-left corner of
 * the first glyph cell, or its bottom-left corner for text reading upwards
 * (`up`, glyph column c and row r at (x + r, y - 1 - c)). */
static inline bool text_at(const test_image *img, int x, int y, const char *s, const tg_plot_font *font,
                           tg_plot_color c, bool up)
{
    for (int k = 0; s[k]; k++)
        for (int row = 0; row < TG_PLOT_FONT_HEIGHT; row++)
            for (int col = 0; col < TG_PLOT_FONT_WIDTH; col++) {
                int along = k * TG_PLOT_FONT_WIDTH + col;
                int px = up ? x + row : x + along, py = up ? y - 1 - along : y + row;
                if (px < 0 || px >= img->width || py < 0 || py >= img->height)
                    return false;
                bool set = (*font)[(unsigned char)s[k] - TG_PLOT_FONT_FIRST][row] & (0x80 >> col);
                if (set != same_color(pixel_at(img, px, py), c))
                    return false;
            }
    return true;
}

/* Whether s is drawn with its corner (as for text_at) anywhere in where. */
static inline bool find_text(const test_image *img, tg_plot_rect where, const char *s, const tg_plot_font *font,
                             tg_plot_color c, bool up)
{
    for (int y = where.y; y < where.y + where.height; y++)
        for (int x = where.x; x < where.x + where.width; x++)
            if (text_at(img, x, y, s, font, c, up))
                return true;
    return false;
}

/* The colour plot/ draws text in. */
#define TEXT_COLOR ((tg_plot_color){ 40, 40, 40 })

/* A fresh directory for a test's files (scratch_remove it), and a path
 * inside it. */
static inline void temp_dir(char dir[64])
{
    snprintf(dir, 64, "/tmp/tg_plot_XXXXXX");
    scratch_make(dir);
}

static inline void path_in(char out[512], const char *dir, const char *name)
{
    snprintf(out, 512, "%s/%s", dir, name);
}

#endif
