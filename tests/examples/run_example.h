/*
 * tests/examples/run_example.h: running an example program from a test
 * and checking what it wrote.
 *
 * The example binaries' directory comes from CMake (EXAMPLES_DIR); each
 * test gives its example a fresh output directory under the build tree.
 */
#ifndef RUN_EXAMPLE_H
#define RUN_EXAMPLE_H

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

typedef struct example_run {
    int exit_code;  /* -1 when it did not exit normally */
    char *output;   /* stdout and stderr together; free with example_run_free */
} example_run;

/* Runs EXAMPLES_DIR/<program> with the arguments (a NULL-terminated list),
 * capturing its output. */
static inline example_run run_example(const char *program, const char *const *args)
{
    char command[4096];
    int used = snprintf(command, sizeof command, "'%s/%s'", EXAMPLES_DIR, program);
    for (int i = 0; args && args[i]; i++)
        used += snprintf(command + used, sizeof command - (size_t)used, " '%s'", args[i]);
    snprintf(command + used, sizeof command - (size_t)used, " 2>&1");
    example_run run = { .exit_code = -1 };
    FILE *pipe = popen(command, "r");
    cr_assert_not_null(pipe, "cannot run %s", command);
    size_t size = 0, capacity = 1 << 16;
    run.output = malloc(capacity);
    for (size_t n; (n = fread(run.output + size, 1, capacity - size - 1, pipe)) > 0;) {
        size += n;
        if (capacity - size < 4096)
            run.output = realloc(run.output, capacity *= 2);
    }
    run.output[size] = '\0';
    int status = pclose(pipe);
    if (WIFEXITED(status))
        run.exit_code = WEXITSTATUS(status);
    return run;
}

static inline void example_run_free(example_run *run) { free(run->output); }

/* A fresh, empty output directory for one test: <build>/example-out/<name>. */
static inline const char *example_out_dir(const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "%s/example-out/%s", EXAMPLES_DIR, name);
    char command[1200];
    snprintf(command, sizeof command, "rm -rf '%s' && mkdir -p '%s'", buf, buf);
    cr_assert_eq(system(command), 0, "cannot make %s", buf);
    return buf;
}

/* Asserts that path is a readable PNG of at least min_width x min_height. */
static inline void assert_png(const char *path, unsigned min_width, unsigned min_height)
{
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    cr_assert(png_image_begin_read_from_file(&image, path), "%s is not a PNG: %s", path,
              image.message);
    image.format = PNG_FORMAT_RGB;
    png_bytep pixels = malloc(PNG_IMAGE_SIZE(image));
    cr_assert(png_image_finish_read(&image, NULL, pixels, 0, NULL), "%s: %s", path, image.message);
    cr_assert_geq(image.width, min_width, "%s is %u wide", path, image.width);
    cr_assert_geq(image.height, min_height, "%s is %u high", path, image.height);
    free(pixels);
}

/* Reads a CSV with a header; asserts it parses and has at least min_rows
 * rows and a column called `column`. Returns the table (tg_csv_free it). */
static inline tg_csv *assert_csv(const char *path, const char *column, int min_rows)
{
    tg_csv *csv = tg_csv_read(path, (tg_csv_config){ 0 });
    cr_assert_not_null(csv, "%s: %s", path, tg_error_message());
    cr_assert_geq(tg_csv_rows(csv), min_rows, "%s has %d rows", path, tg_csv_rows(csv));
    cr_assert_geq(tg_csv_column(csv, column), 0, "%s has no column %s", path, column);
    return csv;
}

/* Asserts that the mean of the last quarter of a CSV column's finite values
 * is below the mean of its first quarter (the loss fell). */
static inline void assert_column_fell(const tg_csv *csv, const char *column)
{
    int rows = tg_csv_rows(csv), c = tg_csv_column(csv, column);
    double first = 0, last = 0;
    int n_first = 0, n_last = 0, quarter = rows / 4 > 0 ? rows / 4 : 1;
    for (int r = 0; r < rows; r++) {
        float v;
        if (tg_csv_float(csv, r, c, &v) != 0 || v != v) {
            tg_error_clear();
            continue;
        }
        if (r < quarter) {
            first += v;
            n_first++;
        }
        if (r >= rows - quarter) {
            last += v;
            n_last++;
        }
    }
    cr_assert(n_first > 0 && n_last > 0, "column %s has no finite values", column);
    cr_assert_lt(last / n_last, first / n_first, "%s did not fall: %.4f at first, %.4f at last",
                 column, first / n_first, last / n_last);
}

#endif
