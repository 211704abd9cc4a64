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

/* Runs the program as run_example does and asserts that it exited with
 * exit_code. */
static inline example_run run_example_expecting(int exit_code, const char *program, const char *const *args)
{
    example_run run = run_example(program, args);
    cr_assert_eq(run.exit_code, exit_code, "exit code %d:\n%s", run.exit_code, run.output);
    return run;
}

/* Asserts that the program refuses the arguments: exit code 2 and a message
 * containing fragment. */
static inline void assert_refused(const char *program, const char *const *args, const char *fragment)
{
    example_run run = run_example_expecting(2, program, args);
    cr_assert(strstr(run.output, fragment), "no \"%s\" in:\n%s", fragment, run.output);
    example_run_free(&run);
}

/* A fresh, empty output directory for one test: <build>/example-out/<name>. */
static inline const char *example_out_dir(const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "%s/example-out/%s", EXAMPLES_DIR, name);
    char command[1200];
    snprintf(command, sizeof command, "rm -rf '%s' && mkdir -p '%s'", buf, buf);
    cr_assert_eq(system(command), 0, "cannot make %s", buf);
    return buf;
}

/* The path of `file` in the output directory dir, into path (size n). */
static inline void out_file(char *path, size_t n, const char *dir, const char *file)
{
    snprintf(path, n, "%s/%s", dir, file);
}

/* Writes size bytes of text to path, replacing the file. */
static inline void write_file(const char *path, const char *text, size_t size)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    cr_assert_eq(fwrite(text, 1, size, f), size);
    fclose(f);
}

static inline void write_text_file(const char *path, const char *text) { write_file(path, text, strlen(text)); }

/* The whole text of a file (free it). */
static inline char *read_file_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    char *text = calloc((size_t)size + 1, 1);
    cr_assert_eq(fread(text, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    return text;
}

/* Asserts that `file` holds the same text, of over 1000 bytes, in the
 * output directories of two runs. */
static inline void assert_same_file(const char *first_dir, const char *second_dir, const char *file)
{
    char path[600];
    out_file(path, sizeof path, first_dir, file);
    char *first = read_file_text(path);
    out_file(path, sizeof path, second_dir, file);
    char *second = read_file_text(path);
    cr_assert(strlen(first) > 1000 && strcmp(first, second) == 0, "the two %s differ", file);
    free(first);
    free(second);
}

/* The number printed right after `label`. */
static inline double number_after(const char *output, const char *label)
{
    const char *p = strstr(output, label);
    cr_assert_not_null(p, "no \"%s\" in:\n%s", label, output);
    char *end;
    double value = strtod(p + strlen(label), &end);
    cr_assert(end != p + strlen(label), "no number after \"%s\"", label);
    return value;
}

/* The numbers on the rest of the line that starts with `label`, into values
 * (up to max of them); returns how many. */
static inline int numbers_after(const char *output, const char *label, double *values, int max)
{
    const char *p = strstr(output, label);
    cr_assert_not_null(p, "no \"%s\" in:\n%s", label, output);
    p += strlen(label);
    int n = 0;
    while (*p && *p != '\n' && n < max) {
        char *end;
        double v = strtod(p, &end);
        if (end == p) {
            p++;
            continue;
        }
        values[n++] = v;
        p = end;
    }
    return n;
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

/* Asserts that a run loaded from the checkpoint of a run of `steps` steps
 * went on from there: `file`, the history in each run's directory, starts
 * at step 0 in saved_dir and at `steps` in loaded_dir, and the loaded run's
 * first value of `column` (a loss) is below half the fresh run's. */
static inline void assert_resumed_steps(const char *saved_dir, const char *loaded_dir, const char *file,
                                        const char *column, int steps)
{
    char path[600], loaded_first_step[16];
    snprintf(loaded_first_step, sizeof loaded_first_step, "%d", steps);
    const char *first_step[2] = { "0", loaded_first_step };
    double first[2];
    const char *dirs[2] = { saved_dir, loaded_dir };
    for (int i = 0; i < 2; i++) {
        out_file(path, sizeof path, dirs[i], file);
        tg_csv *history = assert_csv(path, column, steps);
        cr_assert_str_eq(tg_csv_field(history, 0, tg_csv_column(history, "step")), first_step[i]);
        float value;
        cr_assert_eq(tg_csv_float(history, 0, tg_csv_column(history, column), &value), 0);
        first[i] = value;
        tg_csv_free(history);
    }
    cr_assert_lt(first[1], 0.5 * first[0], "first loss: fresh %g, loaded %g", first[0], first[1]);
}

/* Asserts that a run loaded from the checkpoint of a run of fresh_epochs
 * epochs or more went on from there: in `file`, the history in each run's
 * directory, the loaded run's first train_loss is below the fresh run's
 * first, and its first epoch follows the fresh run's last. */
static inline void assert_resumed_epochs(const char *saved_dir, const char *loaded_dir, const char *file,
                                         int fresh_epochs)
{
    char path[600];
    out_file(path, sizeof path, saved_dir, file);
    tg_csv *fresh = assert_csv(path, "train_loss", fresh_epochs);
    out_file(path, sizeof path, loaded_dir, file);
    tg_csv *resumed = assert_csv(path, "train_loss", 1);
    float first_fresh, first_resumed;
    cr_assert_eq(tg_csv_float(fresh, 0, tg_csv_column(fresh, "train_loss"), &first_fresh), 0);
    cr_assert_eq(tg_csv_float(resumed, 0, tg_csv_column(resumed, "train_loss"), &first_resumed), 0);
    cr_assert_lt(first_resumed, first_fresh, "resumed %g, fresh %g", first_resumed, first_fresh);
    cr_assert_eq(atoi(tg_csv_field(resumed, 0, 0)), atoi(tg_csv_field(fresh, tg_csv_rows(fresh) - 1, 0)) + 1);
    tg_csv_free(fresh);
    tg_csv_free(resumed);
}

#endif
