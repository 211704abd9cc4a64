/* The training history: its table, its CSV text and its plot. */
#include "optim_support.h"

#include <png.h>

#include <optim/history.h>

TestSuite(optim_history, .init = optim_setup, .fini = optim_teardown);

/* Train loss and lr every step, validation loss at step 2 only. */
static tg_history *sample_history(void)
{
    tg_history *h = tg_history_new(NULL);
    cr_assert_not_null(h);
    double train[] = { 2.5, 2.25, 2 }, lr[] = { 0.001, 0.001, 0.0005 };
    for (int step = 0; step < 3; step++) {
        cr_assert_eq(tg_history_add(h, step, "train_loss", train[step]), 0);
        cr_assert_eq(tg_history_add(h, step, "lr", lr[step]), 0);
    }
    cr_assert_eq(tg_history_add(h, 2, "val_loss", 2.125), 0);
    return h;
}

Test(optim_history, values_fill_rows_by_step_and_columns_by_name)
{
    tg_history *h = sample_history();
    cr_assert_eq(tg_history_rows(h), 3);
    cr_assert_eq(tg_history_columns(h), 3);
    cr_assert_str_eq(tg_history_column_name(h, 2), "val_loss");
    cr_assert_null(tg_history_column_name(h, 3));
    cr_assert_eq(tg_history_x(h, 1), 1);
    cr_assert_eq(tg_history_value(h, 1, "train_loss"), 2.25);
    cr_assert(isnan(tg_history_value(h, 1, "val_loss")));
    cr_assert(isnan(tg_history_value(h, 7, "lr")));
    cr_assert_eq(tg_history_last(h, "lr"), 0.0005);
    cr_assert_eq(tg_history_last(h, "val_loss"), 2.125);
    cr_assert(isnan(tg_history_last(h, "accuracy")));
    tg_history_free(h);
}

Test(optim_history, the_csv_has_a_header_and_one_line_per_row)
{
    tg_history *h = sample_history();
    const char *path = optim_path("history.csv");
    cr_assert_eq(tg_history_write_csv(h, path), 0, "%s", tg_error_message());
    char *text = (char *)read_existing_file(path, NULL);
    cr_assert_str_eq(text, "step,train_loss,lr,val_loss\n"
                           "0,2.5,0.001,\n"
                           "1,2.25,0.001,\n"
                           "2,2,0.0005,2.125\n");
    free(text);
    tg_history_free(h);
}

Test(optim_history, epochs_and_an_empty_history)
{
    tg_history *h = tg_history_new("epoch");
    const char *path = optim_path("empty.csv");
    cr_assert_eq(tg_history_write_csv(h, path), 0, "%s", tg_error_message());
    char *text = (char *)read_existing_file(path, NULL);
    cr_assert_str_eq(text, "epoch\n");
    free(text);
    /* Many rows: the table grows. */
    for (int e = 0; e < 1000; e++)
        tg_history_add(h, e, "accuracy", e / 1000.0);
    cr_assert_eq(tg_history_rows(h), 1000);
    cr_assert_eq(tg_history_value(h, 999, "accuracy"), 0.999);
    tg_history_free(h);
}

Test(optim_history, bad_adds_are_errors)
{
    tg_history *h = sample_history();
    cr_assert_eq(tg_history_add(h, 1, "train_loss", 1), -1);
    tg_assert_error("history_add: step 1 after step 2: step must not decrease");
    tg_error_clear();
    cr_assert_eq(tg_history_add(h, 3, "step", 1), -1);
    tg_assert_error("\"step\" cannot name a column");
    tg_error_clear();
    cr_assert_eq(tg_history_add(h, 3, "", 1), -1);
    cr_assert_eq(tg_history_rows(h), 3);
    tg_error_clear();
    cr_assert_eq(tg_history_add(NULL, 3, "x", 1), -1);
    cr_assert_eq(tg_history_add(h, 3, NULL, 1), -1);
    tg_assert_error("history_add: an input is NULL");
    tg_history_free(h);
}

/* Width and height from a PNG's IHDR chunk. */
static void png_size(const char *path, unsigned *width, unsigned *height)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "no file %s", path);
    unsigned char head[24];
    cr_assert_eq(fread(head, 1, 24, f), 24u);
    fclose(f);
    cr_assert_eq(memcmp(head, "\x89PNG\r\n\x1a\n", 8), 0);
    cr_assert_eq(memcmp(head + 12, "IHDR", 4), 0);
    *width = (unsigned)head[16] << 24 | (unsigned)head[17] << 16 | (unsigned)head[18] << 8 | head[19];
    *height = (unsigned)head[20] << 24 | (unsigned)head[21] << 16 | (unsigned)head[22] << 8 | head[23];
}

/* True when a pixel within 1 of (px, py) in the RGB PNG at path has the
 * colour c (to within anti-aliasing). */
static bool colour_near(const char *path, double px, double py, tg_plot_color c)
{
    png_image png = { .version = PNG_IMAGE_VERSION };
    cr_assert(png_image_begin_read_from_file(&png, path), "%s", png.message);
    png.format = PNG_FORMAT_RGB;
    unsigned char *rgb = malloc(PNG_IMAGE_SIZE(png));
    cr_assert(png_image_finish_read(&png, NULL, rgb, 0, NULL), "%s", png.message);
    bool found = false;
    for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++) {
            const unsigned char *p = rgb + 3 * ((int)py + dy) * (int)png.width + 3 * ((int)px + dx);
            found |= abs(p[0] - c.r) + abs(p[1] - c.g) + abs(p[2] - c.b) < 40;
        }
    free(rgb);
    return found;
}

Test(optim_history, plots_the_named_columns_in_one_call)
{
    tg_history *h = sample_history();
    tg_history_add(h, 3, "train_loss", INFINITY); /* a diverged step: skipped */
    const char *path = optim_path("loss.png");
    int skipped = tg_history_plot(h, path, (const char *[]){ "train_loss", "val_loss" }, 2,
                                  &(tg_plot_options){ .title = "Loss", .width = 400, .height = 300 });
    cr_assert_eq(skipped, 1, "%s", tg_error_message());
    unsigned width, height;
    png_size(path, &width, &height);
    cr_assert_eq(width, 400);
    cr_assert_eq(height, 300);
    /* The train curve passes through (1, 2.25) in the first palette colour,
     * where plot/ puts that point for the same two series. */
    tg_plot_series series[] = {
        { .name = "train_loss", .xd = (double[]){ 0, 1, 2, 3 },
          .yd = (double[]){ 2.5, 2.25, 2, INFINITY }, .count = 4 },
        { .name = "val_loss", .xd = (double[]){ 2 }, .yd = (double[]){ 2.125 }, .count = 1 },
    };
    tg_plot_axes axes;
    cr_assert_eq(tg_plot_lines_axes(series, 2, &(tg_plot_options){ .title = "Loss", .xlabel = "step",
                                                                   .width = 400, .height = 300 },
                                    &axes),
                 1); /* the skipped point, as tg_plot_lines counts it */
    double px, py;
    tg_plot_axes_pixel(&axes, 1, 2.25, &px, &py);
    cr_assert(colour_near(path, px, py, tg_plot_palette(0)), "no curve at (%g, %g)", px, py);
    tg_plot_axes_pixel(&axes, 1, 2.05, &px, &py);
    cr_assert_not(colour_near(path, px, py, tg_plot_palette(0)));

    path = optim_path("all.png");
    cr_assert_eq(tg_history_plot(h, path, NULL, 0, NULL), 1, "%s", tg_error_message());
    png_size(path, &width, &height);
    cr_assert_eq(width, 900);
    cr_assert_eq(height, 540);

    cr_assert_eq(tg_history_plot(h, optim_path("x.png"), (const char *[]){ "accuracy" }, 1, NULL), -1);
    tg_assert_error("history_plot: ");
    tg_assert_error("no column called \"accuracy\"");
    cr_assert_eq(access(optim_path("x.png"), F_OK), -1);
    tg_error_clear();
    cr_assert_eq(tg_history_plot(h, optim_path("no/dir/x.png"), NULL, 0, NULL), -1);
    tg_assert_error("no/dir/x.png");
    tg_history_free(h);
}
