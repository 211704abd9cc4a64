/*
 * plot/png.c: writing a canvas as a PNG, atomically (tensor/file.h: the
 * same engine and the same semantics as every save of tapegrad).
 */
#include "plot/canvas.h"

#include <png.h>

#include "tensor/error.h"
#include "tensor/file.h"

/* libpng reports errors by calling this, which must not return. */
static void on_png_error(png_structp png, png_const_charp message)
{
    tg_error_set("plot: %s: cannot encode the PNG: %s", (const char *)png_get_error_ptr(png),
                 message);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp message)
{
    (void)png;
    (void)message;
}

/* libpng's output. A failed write is kept by the file and reported, with
 * its errno, by tg_atomic_file_commit; the encoder runs on into nothing. */
static void write_bytes(png_structp png, png_bytep bytes, size_t n)
{
    tg_atomic_file_write(png_get_io_ptr(png), bytes, n);
}

static void flush_nothing(png_structp png) { (void)png; }

/* Encodes the canvas into file. Returns 0 or -1 (error recorded). */
static int encode(const tg_plot_canvas *canvas, tg_atomic_file *file, const char *path)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, (png_voidp)path,
                                              on_png_error, on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return tg_error_set("plot: %s: out of memory", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_set_write_fn(png, file, write_bytes, flush_nothing);
    png_set_IHDR(png, info, (png_uint_32)canvas->width, (png_uint_32)canvas->height, 8,
                 PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < canvas->height; y++)
        png_write_row(png, canvas->rgb + (size_t)y * canvas->width * 3);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

int tg_plot_canvas_save(const tg_plot_canvas *canvas, const char *path)
{
    if (!path || !path[0])
        return tg_error_set("plot: no file name given");
    tg_atomic_file *file = tg_atomic_file_open(path, "plot");
    if (!file)
        return -1;
    if (encode(canvas, file, path) != 0) {
        tg_atomic_file_discard(file);
        return -1;
    }
    return tg_atomic_file_commit(file);
}
