/*
 * Bad data and bad arguments: NaN and Inf points, empty and flat series,
 * extreme values, unwritable paths, atomic writes, rejected arguments.
 */
#define _XOPEN_SOURCE 700 /* nftw, for tests/scratch.h */
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plot_test.h"

TestSuite(plot_bad, .init = tg_test_setup, .fini = tg_test_teardown);

static test_image draw(const tg_plot_series *s, int n, const tg_plot_options *o, tg_plot_axes *axes, int *skipped)
{
    char dir[64], path[512];
    temp_dir(dir);
    path_in(path, dir, "chart.png");
    *skipped = tg_plot_lines(path, s, n, o);
    cr_assert_geq(*skipped, 0, "tg_plot_lines failed: %s", tg_error_message());
    cr_assert_eq(tg_plot_lines_axes(s, n, o, axes), *skipped, "%s", tg_error_message());
    test_image img = read_png(path);
    scratch_remove(dir);
    return img;
}

static bool curve_at(const test_image *img, const tg_plot_axes *a, double x, double y)
{
    double px, py;
    tg_plot_axes_pixel(a, x, y, &px, &py);
    return color_near(img, px, py, tg_plot_palette(0), 1);
}

Test(plot_bad, nan_and_inf_points_are_skipped_and_counted)
{
    float y[] = { 1, NAN, 2, INFINITY, 3, -INFINITY, 4, NAN };
    tg_plot_axes a;
    int skipped;
    test_image img = draw(&(tg_plot_series){ .y = y, .count = 8 }, 1, NULL, &a, &skipped);
    cr_assert_eq(skipped, 4);
    cr_assert(a.y_min < 1 && a.y_min > 0.5 && a.y_max > 4 && a.y_max < 4.5, "[%g, %g]", a.y_min, a.y_max);
    cr_assert(a.x_min == 0 && a.x_max == 6, "x from the drawn points: [%g, %g]", a.x_min, a.x_max);
    /* Isolated finite points are drawn as dots. */
    for (int i = 0; i < 8; i += 2)
        cr_assert(curve_at(&img, &a, i, y[i]), "no dot at point %d", i);
    image_free(&img);

    double xd[] = { 0, NAN, 2, 3 }, yd[] = { 0, 1, 2, 3 };
    img = draw(&(tg_plot_series){ .xd = xd, .yd = yd, .count = 4 }, 1, NULL, &a, &skipped);
    cr_assert_eq(skipped, 1, "a NaN x is skipped too");
    image_free(&img);
}

/* The line breaks at a skipped point instead of joining its neighbours. */
Test(plot_bad, line_breaks_at_skipped_points)
{
    float y[11];
    for (int i = 0; i < 11; i++)
        y[i] = (float)i;
    y[5] = NAN;
    tg_plot_axes a;
    int skipped;
    test_image img = draw(&(tg_plot_series){ .y = y, .count = 11 }, 1, NULL, &a, &skipped);
    cr_assert_eq(skipped, 1);
    cr_assert(curve_at(&img, &a, 2.5, 2.5));
    cr_assert(curve_at(&img, &a, 7.5, 7.5));
    cr_assert(!curve_at(&img, &a, 5, 5), "skipped point bridged");
    image_free(&img);
}

Test(plot_bad, all_points_skipped_gives_the_unit_range)
{
    float y[] = { NAN, INFINITY, NAN };
    tg_plot_axes a;
    int skipped;
    test_image img = draw(&(tg_plot_series){ .name = "diverged", .y = y, .count = 3 }, 1, NULL, &a, &skipped);
    cr_assert_eq(skipped, 3);
    cr_assert(a.x_min == 0 && a.x_max == 1 && a.y_min == 0 && a.y_max == 1);
    cr_assert_geq(a.ny_ticks, 2);
    cr_assert_eq(count_color(&img, a.area, tg_plot_palette(0)) - count_color(&img, a.legend, tg_plot_palette(0)), 0);
    image_free(&img);
    img = draw(&(tg_plot_series){ .y = y, .count = 3 }, 1, &(tg_plot_options){ .log_y = true }, &a, &skipped);
    cr_assert(a.y_min == 1 && fabs(a.y_max - 10) < 1e-9, "log: [%g, %g]", a.y_min, a.y_max);
    image_free(&img);
}

Test(plot_bad, empty_series_and_no_series)
{
    tg_plot_axes a;
    int skipped;
    test_image img = draw(&(tg_plot_series){ .name = "empty", .count = 0 }, 1, NULL, &a, &skipped);
    cr_assert_eq(skipped, 0);
    cr_assert(img.width == 900 && img.height == 540);
    cr_assert(a.x_min == 0 && a.x_max == 1 && a.y_min == 0 && a.y_max == 1);
    cr_assert_gt(a.legend.width, 0, "an empty series keeps its legend entry");
    cr_assert(find_text(&img, a.legend, "empty", &tg_plot_font_regular, TEXT_COLOR, false));
    image_free(&img);
    img = draw(NULL, 0, &(tg_plot_options){ .title = "nothing yet" }, &a, &skipped);
    cr_assert_eq(skipped, 0);
    cr_assert_eq(a.legend.width, 0);
    cr_assert(find_text(&img, (tg_plot_rect){ 0, 0, 900, a.area.y }, "nothing yet", &tg_plot_font_bold, TEXT_COLOR,
                        false));
    image_free(&img);
}

Test(plot_bad, flat_series_gets_a_range_around_its_value)
{
    const float values[] = { 5.0f, 0.0f, -2.5e-7f };
    for (int k = 0; k < 3; k++) {
        float y[4] = { values[k], values[k], values[k], values[k] };
        tg_plot_axes a;
        int skipped;
        test_image img = draw(&(tg_plot_series){ .y = y, .count = 4 }, 1, NULL, &a, &skipped);
        cr_assert(isfinite(a.y_min) && isfinite(a.y_max) && a.y_min < values[k] && a.y_max > values[k],
                  "flat %g: [%g, %g]", values[k], a.y_min, a.y_max);
        cr_assert_geq(a.ny_ticks, 2, "flat %g: %d ticks", values[k], a.ny_ticks);
        cr_assert(curve_at(&img, &a, 1.5, values[k]));
        double px, py;
        tg_plot_axes_pixel(&a, 1.5, values[k], &px, &py);
        cr_assert(fabs(py - (a.area.y + a.area.height / 2.0)) < 2.0, "flat line not centred");
        image_free(&img);
    }
}

Test(plot_bad, single_point)
{
    float x[] = { 3 }, y[] = { 7 };
    tg_plot_axes a;
    int skipped;
    test_image img = draw(&(tg_plot_series){ .x = x, .y = y, .count = 1 }, 1, NULL, &a, &skipped);
    cr_assert(a.x_min < 3 && a.x_max > 3 && a.y_min < 7 && a.y_max > 7);
    cr_assert(curve_at(&img, &a, 3, 7), "a single point is drawn as a dot");
    image_free(&img);
}

/* Huge values, points far outside fixed limits, and a range too wide for a
 * double give a chart, not a crash. */
Test(plot_bad, extreme_values)
{
    float far[] = { 0.0f, 1e30f, 0.5f };
    tg_plot_axes a;
    int skipped;
    test_image img = draw(&(tg_plot_series){ .y = far, .count = 3 }, 1, &(tg_plot_options){ .y_range = { 0, 1 } },
                          &a, &skipped);
    cr_assert_eq(skipped, 0);
    cr_assert(curve_at(&img, &a, 0, 0));
    cr_assert(curve_at(&img, &a, 2, 0.5));
    /* The segments to 1e30 are vertical on this scale: they leave and
     * re-enter through the top of the area at x = 0 and x = 2. */
    cr_assert(curve_at(&img, &a, 0, 0.5));
    cr_assert(curve_at(&img, &a, 2, 0.75));
    cr_assert(!curve_at(&img, &a, 1, 0.5));
    image_free(&img);

    double huge[] = { -1.7e308, 1.7e308, 0 };
    img = draw(&(tg_plot_series){ .yd = huge, .count = 3 }, 1, NULL, &a, &skipped);
    cr_assert_eq(skipped, 0);
    image_free(&img);
    double spread[] = { 1e-300, 1e300 };
    img = draw(&(tg_plot_series){ .yd = spread, .count = 2 }, 1, &(tg_plot_options){ .log_y = true }, &a, &skipped);
    cr_assert(a.ny_ticks >= 2 && a.ny_ticks <= 12, "%d decade ticks", a.ny_ticks);
    image_free(&img);
}

Test(plot_bad, unwritable_path_names_the_path)
{
    float y[] = { 1, 2 };
    tg_plot_series s = { .y = y, .count = 2 };
    cr_assert_eq(tg_plot_lines("/nonexistent-tg-dir/sub/loss.png", &s, 1, NULL), -1);
    tg_assert_error("/nonexistent-tg-dir/sub/loss.png");
    tg_assert_error("No such file or directory");

    /* A directory in the way: the error names it and nothing is left. */
    char dir[64], sub[512];
    temp_dir(dir);
    path_in(sub, dir, "plots");
    cr_assert_eq(mkdir(sub, 0755), 0);
    tg_error_clear();
    cr_assert_eq(tg_plot_lines(sub, &s, 1, NULL), -1);
    tg_assert_error(sub);
    cr_assert_eq(dir_entries(dir), 1, "a temporary file was left behind");
    rmdir(sub);
    scratch_remove(dir);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static bool has_text(const char *path, const char *text)
{
    char buf[64] = { 0 };
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    return n == strlen(text) && memcmp(buf, text, n) == 0;
}

Test(plot_bad, successful_write_replaces_the_old_file)
{
    char dir[64], path[512];
    temp_dir(dir);
    path_in(path, dir, "loss.png");
    write_text(path, "old contents");
    float y[] = { 1, 2 };
    cr_assert_eq(tg_plot_lines(path, &(tg_plot_series){ .y = y, .count = 2 }, 1, NULL), 0, "%s", tg_error_message());
    test_image img = read_png(path);
    cr_assert_eq(img.width, 900);
    image_free(&img);
    cr_assert_eq(dir_entries(dir), 1, "a temporary file was left behind");
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0644);
    scratch_remove(dir);
}

/* A write that fails part-way (the file-size limit stops it) leaves the
 * old file as it was and no temporary behind. */
Test(plot_bad, failed_write_leaves_the_old_file_intact)
{
    char dir[64], path[512];
    temp_dir(dir);
    path_in(path, dir, "loss.png");
    write_text(path, "old contents");
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit limit = { 2000, 2000 };
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &limit), 0);
    float y[200];
    for (int i = 0; i < 200; i++)
        y[i] = sinf((float)i) * (float)i;
    int status = tg_plot_lines(path, &(tg_plot_series){ .name = "noise", .y = y, .count = 200 }, 1, NULL);
    cr_assert_eq(status, -1, "a 2000-byte limit should stop the write");
    tg_assert_error(path);
    cr_assert(has_text(path, "old contents"), "the old file was changed");
    cr_assert_eq(dir_entries(dir), 1, "a temporary file was left behind");
    scratch_remove(dir);
}

#define REJECTS(call, fragment)                                                                                    \
    do {                                                                                                           \
        tg_error_clear();                                                                                          \
        cr_assert_eq((call), -1, "accepted: " #call);                                                              \
        tg_assert_error(fragment);                                                                                 \
    } while (0)

Test(plot_bad, bad_arguments_are_rejected_with_a_message)
{
    char dir[64], path[512];
    temp_dir(dir);
    path_in(path, dir, "bad.png");
    float y[] = { 1, 2 };
    double yd[] = { 1, 2 };
    tg_plot_series ok = { .y = y, .count = 2 };
    REJECTS(tg_plot_lines(path, &ok, -1, NULL), "-1 series");
    REJECTS(tg_plot_lines(path, NULL, 1, NULL), "1 series");
    REJECTS(tg_plot_lines(path, &(tg_plot_series){ .name = "v", .y = y, .count = -2 }, 1, NULL),
            "series 0 \"v\" (count -2): count is negative");
    REJECTS(tg_plot_lines(path, &(tg_plot_series){ .y = y, .yd = yd, .count = 2 }, 1, NULL), "both y and yd");
    REJECTS(tg_plot_lines(path, &(tg_plot_series){ .count = 2 }, 1, NULL), "no y values");
    REJECTS(tg_plot_lines(path, &(tg_plot_series){ .y = y, .count = 2, .style = (tg_plot_style)9 }, 1, NULL),
            "style");
    REJECTS(tg_plot_lines(path, &ok, 1, &(tg_plot_options){ .x_range = { 2, 1 } }), "x_range [2, 1]");
    REJECTS(tg_plot_lines(path, &ok, 1, &(tg_plot_options){ .y_range = { NAN, 1 } }), "y_range");
    REJECTS(tg_plot_lines(path, &ok, 1, &(tg_plot_options){ .log_y = true, .y_range = { 0, 10 } }),
            "positive limits");
    REJECTS(tg_plot_lines(path, &ok, 1, &(tg_plot_options){ .width = 10 }), "width 10");
    REJECTS(tg_plot_lines(path, &ok, 1, &(tg_plot_options){ .height = 9000 }), "height 9000");
    REJECTS(tg_plot_lines(path, &ok, 1, &(tg_plot_options){ .smooth = -3 }), "smooth -3");
    REJECTS(tg_plot_lines(path, &ok, 1, &(tg_plot_options){ .legend = (tg_plot_legend)42 }), "legend 42");
    REJECTS(tg_plot_lines(path, &ok, 1,
                          &(tg_plot_options){ .width = 64, .height = 64, .title = "t", .xlabel = "x", .ylabel = "y" }),
            "too small");
    REJECTS(tg_plot_lines(NULL, &ok, 1, NULL), "no file name");
    REJECTS(tg_plot_lines("", &ok, 1, NULL), "no file name");
    REJECTS(tg_plot_bars(path, &ok, -4, NULL), "plot_bars");
    cr_assert_eq(dir_entries(dir), 0, "a rejected call wrote a file");
    scratch_remove(dir);
}

Test(plot_bad, bad_figure_arguments)
{
    tg_error_clear();
    cr_assert_null(tg_plot_figure_new((tg_plot_figure_config){ .rows = 65 }));
    tg_assert_error("65");
    tg_error_clear();
    cr_assert_null(tg_plot_figure_new((tg_plot_figure_config){ .cols = -1 }));
    tg_assert_error("rows and columns");
    tg_error_clear();
    cr_assert_null(tg_plot_figure_new((tg_plot_figure_config){ .width = 9000 }));
    tg_assert_error("9000");

    tg_error_clear();
    tg_plot_figure *f = tg_plot_figure_new((tg_plot_figure_config){ .rows = 1, .cols = 2 });
    cr_assert_not_null(f, "%s", tg_error_message());
    float y[] = { 1, 2 };
    tg_plot_series s = { .y = y, .count = 2 };
    tg_plot_axes a;
    REJECTS(tg_plot_figure_lines(f, 2, &s, 1, NULL), "panel 2");
    REJECTS(tg_plot_figure_bars(f, -1, &s, 1, NULL), "panel -1");
    REJECTS(tg_plot_figure_axes(f, 0, &a), "nothing drawn in panel 0");
    REJECTS(tg_plot_figure_save(f, "/nonexistent-tg-dir/f.png"), "/nonexistent-tg-dir/f.png");
    /* A chart that fails leaves its panel without axes. */
    REJECTS(tg_plot_figure_lines(f, 1, &(tg_plot_series){ .count = -1 }, 1, NULL), "count is negative");
    REJECTS(tg_plot_figure_axes(f, 1, &a), "nothing drawn");
    tg_plot_figure_free(f);

    /* NULL in, -1 or nothing out, with a message saying an input was NULL. */
    tg_error_clear();
    cr_assert_eq(tg_plot_figure_lines(NULL, 0, &s, 1, NULL), -1);
    cr_assert_eq(tg_plot_figure_save(NULL, "x.png"), -1);
    cr_assert(strstr(tg_error_message(), "an input is NULL"), "%s", tg_error_message());
    tg_plot_figure_free(NULL);
}
