/*
 * plot/png.c: writing a canvas as a PNG, atomically.
 */
#include "plot/canvas.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tensor/error.h"

/* libpng reports errors by calling this, which must not return. */
static void on_png_error(png_structp png, png_const_charp message)
{
    tg_error_set("plot: cannot write %s: %s", (const char *)png_get_error_ptr(png), message);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp message)
{
    (void)png;
    (void)message;
}

/* Encodes the canvas into an open file. Returns 0 or -1 (error recorded). */
static int encode(const tg_plot_canvas *canvas, FILE *file, const char *path)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, (png_voidp)path, on_png_error, on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return tg_error_set("plot: cannot write %s: out of memory", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_init_io(png, file);
    png_set_IHDR(png, info, (png_uint_32)canvas->width, (png_uint_32)canvas->height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < canvas->height; y++)
        png_write_row(png, canvas->rgb + (size_t)y * canvas->width * 3);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

/* Encodes into the open temporary file, then flushes, syncs and closes it
 * (always). Returns 0 or -1 (error recorded). */
static int write_and_close(const tg_plot_canvas *canvas, FILE *file, const char *path)
{
    int status = encode(canvas, file, path);
    if (status == 0 && (fflush(file) != 0 || fsync(fileno(file)) != 0))
        status = tg_error_set("plot: cannot write %s: %s", path, strerror(errno));
    if (fclose(file) != 0 && status == 0)
        status = tg_error_set("plot: cannot write %s: %s", path, strerror(errno));
    return status;
}

int tg_plot_canvas_save(const tg_plot_canvas *canvas, const char *path)
{
    if (!path || !path[0])
        return tg_error_set("plot: no file name given");
    size_t len = strlen(path);
    char *temp = malloc(len + 8);
    if (!temp)
        return tg_error_set("plot: cannot write %s: out of memory", path);
    memcpy(temp, path, len);
    memcpy(temp + len, ".XXXXXX", 8);

    int status = -1;
    int fd = mkstemp(temp);
    if (fd < 0) {
        tg_error_set("plot: cannot write %s: %s", path, strerror(errno));
    } else {
        FILE *file = fchmod(fd, 0644) == 0 ? fdopen(fd, "wb") : NULL;
        if (!file) {
            tg_error_set("plot: cannot write %s: %s", path, strerror(errno));
            close(fd);
        } else if (write_and_close(canvas, file, path) == 0) {
            status = rename(temp, path) == 0 ? 0 : tg_error_set("plot: cannot write %s: %s", path, strerror(errno));
        }
        if (status != 0)
            unlink(temp);
    }
    free(temp);
    return status;
}
