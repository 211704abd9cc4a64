/*
 * Log-scale y axes and moving-average smoothing, read back from the PNG.
 */
#define _XOPEN_SOURCE 700 /* nftw, for tests/scratch.h */
#include "plot_test.h"

TestSuite(plot_scale, .init = tg_test_setup, .fini = tg_test_teardown);

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

static bool label_near_row(const test_image *img, const tg_plot_axes *a, double y, const char *label)
{
    double px, py;
    tg_plot_axes_pixel(a, a->x_min, y, &px, &py);
    tg_plot_rect near = { 0, (int)py - 12, a->area.x, 24 };
    return find_text(img, near, label, &tg_plot_font_regular, TEXT_COLOR, false);
}

Test(plot_scale, log_axis_maps_decades_evenly)
{
    double y[7];
    for (int i = 0; i < 7; i++)
        y[i] = pow(10.0, i - 3);
    tg_plot_axes a;
    int skipped;
    test_image img = draw(&(tg_plot_series){ .yd = y, .count = 7 }, 1, &(tg_plot_options){ .log_y = true }, &a,
                          &skipped);
    cr_assert_eq(skipped, 0);
    cr_assert(a.log_y);
    cr_assert(a.y_min < 1e-3 && a.y_min > 1e-4 && a.y_max > 1e3 && a.y_max < 1e4, "[%g, %g]", a.y_min, a.y_max);
    double lmin = log10(a.y_min), lmax = log10(a.y_max);
    for (int i = 0; i < 7; i++) {
        double px, py;
        tg_plot_axes_pixel(&a, i, y[i], &px, &py);
        double expected = a.area.y + a.area.height - (log10(y[i]) - lmin) / (lmax - lmin) * a.area.height;
        cr_assert_float_eq(py, expected, 1e-6);
        cr_assert(color_near(&img, px, py, tg_plot_palette(0), 1), "no curve at 1e%d", i - 3);
    }
    /* Straight in log space between points: through 10^-1.5 at x = 1.5. */
    double px, py;
    tg_plot_axes_pixel(&a, 1.5, pow(10.0, -1.5), &px, &py);
    cr_assert(color_near(&img, px, py, tg_plot_palette(0), 1));
    /* Decade ticks, evenly spaced in pixels. */
    cr_assert_geq(a.ny_ticks, 3);
    double previous = 0.0;
    for (int k = 0; k < a.ny_ticks; k++) {
        double e = log10(a.y_ticks[k]);
        cr_assert_float_eq(e, round(e), 1e-9, "tick %g is not a power of ten", a.y_ticks[k]);
        tg_plot_axes_pixel(&a, 0, a.y_ticks[k], &px, &py);
        if (k >= 1)
            cr_assert_float_eq(previous - py, a.area.height * (e - log10(a.y_ticks[k - 1])) / (lmax - lmin), 1e-6);
        previous = py;
    }
    cr_assert(label_near_row(&img, &a, 1e-3, "0.001"));
    cr_assert(label_near_row(&img, &a, 1.0, "1"));
    cr_assert(label_near_row(&img, &a, 1e3, "1000"));
    double nan_y;
    tg_plot_axes_pixel(&a, 0, -1.0, &px, &nan_y);
    cr_assert(isnan(nan_y), "y <= 0 has no pixel on a log axis");
    image_free(&img);
}

Test(plot_scale, wide_log_range_labels_with_exponents)
{
    double y[] = { 1e-8, 1e2 };
    tg_plot_axes a;
    int skipped;
    test_image img = draw(&(tg_plot_series){ .yd = y, .count = 2 }, 1, &(tg_plot_options){ .log_y = true }, &a,
                          &skipped);
    cr_assert_leq(a.ny_ticks, 11);
    bool saw_small = false;
    for (int k = 0; k < a.ny_ticks; k++) {
        int e = (int)lround(log10(a.y_ticks[k]));
        cr_assert_float_eq(a.y_ticks[k], pow(10.0, e), 1e-9 * a.y_ticks[k]);
        if (e < -3) {
            char label[16];
            snprintf(label, sizeof label, "1e%d", e);
            cr_assert(label_near_row(&img, &a, a.y_ticks[k], label), "no label %s", label);
            saw_small = true;
        }
    }
    cr_assert(saw_small);
    image_free(&img);
}

Test(plot_scale, log_axis_skips_and_counts_non_positive_values)
{
    float y[] = { 1, 0, -5, 10, 100 };
    tg_plot_axes a;
    int skipped;
    test_image img = draw(&(tg_plot_series){ .y = y, .count = 5 }, 1, &(tg_plot_options){ .log_y = true }, &a,
                          &skipped);
    cr_assert_eq(skipped, 2);
    cr_assert(a.y_min > 0.5 && a.y_min < 1.0 && a.y_max > 100 && a.y_max < 200, "[%g, %g]", a.y_min, a.y_max);
    double px, py;
    tg_plot_axes_pixel(&a, 3, 10, &px, &py);
    cr_assert(color_near(&img, px, py, tg_plot_palette(0), 1));
    /* The same data on a linear axis skips nothing. */
    image_free(&img);
    img = draw(&(tg_plot_series){ .y = y, .count = 5 }, 1, NULL, &a, &skipped);
    cr_assert_eq(skipped, 0);
    image_free(&img);
}

Test(plot_scale, flat_and_narrow_log_ranges)
{
    float flat[] = { 7, 7, 7 }, narrow[] = { 2, 3, 6 };
    tg_plot_axes a;
    int skipped;
    test_image img = draw(&(tg_plot_series){ .y = flat, .count = 3 }, 1, &(tg_plot_options){ .log_y = true }, &a,
                          &skipped);
    cr_assert(a.y_min > 0 && a.y_min < 7 && a.y_max > 7 && isfinite(a.y_max));
    cr_assert_geq(a.ny_ticks, 2);
    double px, py;
    tg_plot_axes_pixel(&a, 1, 7, &px, &py);
    cr_assert(color_near(&img, px, py, tg_plot_palette(0), 1));
    image_free(&img);
    img = draw(&(tg_plot_series){ .y = narrow, .count = 3 }, 1, &(tg_plot_options){ .log_y = true }, &a, &skipped);
    cr_assert_geq(a.ny_ticks, 2);
    for (int k = 0; k < a.ny_ticks; k++)
        cr_assert(a.y_ticks[k] >= a.y_min && a.y_ticks[k] <= a.y_max);
    image_free(&img);
}

/* y alternates 1, 3, 1, 3, ...; a 5-point centred mean is 1.8 or 2.2 in
 * the middle, and at the ends (fewer points) 5/3 at x = 0 and 7/3 at 99. */
static float zigzag[100];

static void fill_zigzag(void)
{
    for (int i = 0; i < 100; i++)
        zigzag[i] = i % 2 ? 3.0f : 1.0f;
}

/* Opacity of the blue series colour (0, 114, 178) blended over any grey
 * (white or the grid): blue minus red grows by 178 times the opacity. */
static double blue_alpha(tg_plot_color c) { return (c.b - c.r) / 178.0; }

Test(plot_scale, smoothing_draws_the_moving_average_over_the_faint_raw_curve)
{
    fill_zigzag();
    tg_plot_axes a;
    int skipped;
    test_image img = draw(&(tg_plot_series){ .y = zigzag, .count = 100 }, 1,
                          &(tg_plot_options){ .smooth = 5, .legend = TG_PLOT_LEGEND_NONE }, &a, &skipped);
    tg_plot_color blue = tg_plot_palette(0);
    const struct {
        int x;
        double mean;
    } expected[] = { { 0, 5.0 / 3 }, { 1, 2.0 }, { 50, 1.8 }, { 51, 2.2 }, { 98, 2.0 }, { 99, 7.0 / 3 } };
    for (size_t k = 0; k < sizeof expected / sizeof expected[0]; k++) {
        double px, py;
        tg_plot_axes_pixel(&a, expected[k].x, expected[k].mean, &px, &py);
        cr_assert(color_near(&img, px, py, blue, 1), "no smoothed curve at x = %d", expected[k].x);
    }
    /* The raw peaks and troughs are there, faint, and not in full colour. */
    for (int x = 40; x < 60; x++) {
        double px, py, faintest = 0.0;
        tg_plot_axes_pixel(&a, x, zigzag[x], &px, &py);
        cr_assert(!color_near(&img, px, py, blue, 1), "raw point %d in full colour", x);
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++)
                faintest = fmax(faintest, blue_alpha(pixel_at(&img, (int)px + dx, (int)py + dy)));
        cr_assert(faintest > 0.1 && faintest < 0.32, "raw point %d has opacity %.2f", x, faintest);
    }
    image_free(&img);
}

Test(plot_scale, series_smooth_overrides_the_chart)
{
    fill_zigzag();
    tg_plot_axes a;
    int skipped;
    /* smooth = 1 turns the chart's smoothing off for this series. */
    test_image img = draw(&(tg_plot_series){ .y = zigzag, .count = 100, .smooth = 1 }, 1,
                          &(tg_plot_options){ .smooth = 5 }, &a, &skipped);
    double px, py;
    tg_plot_axes_pixel(&a, 50, zigzag[50], &px, &py);
    cr_assert(color_near(&img, px, py, tg_plot_palette(0), 1), "raw curve not in full colour");
    image_free(&img);
    /* And a series can ask for smoothing the chart does not have. */
    img = draw(&(tg_plot_series){ .y = zigzag, .count = 100, .smooth = 5 }, 1, NULL, &a, &skipped);
    tg_plot_axes_pixel(&a, 50, 1.8, &px, &py);
    cr_assert(color_near(&img, px, py, tg_plot_palette(0), 1), "no smoothed curve");
    tg_plot_axes_pixel(&a, 50, zigzag[50], &px, &py);
    cr_assert(!color_near(&img, px, py, tg_plot_palette(0), 1));
    image_free(&img);
}

/* A skipped point is left out of the means around it: with y = 0, 100,
 * 0, 100, ... and y[50] NaN, the 3-point means at 49 and 51 are 50. */
Test(plot_scale, smoothing_leaves_out_skipped_points)
{
    float y[100];
    for (int i = 0; i < 100; i++)
        y[i] = i % 2 ? 100.0f : 0.0f;
    y[50] = NAN;
    tg_plot_axes a;
    int skipped;
    test_image img = draw(&(tg_plot_series){ .y = y, .count = 100 }, 1, &(tg_plot_options){ .smooth = 3 }, &a,
                          &skipped);
    cr_assert_eq(skipped, 1);
    const struct {
        int x;
        double mean;
    } expected[] = { { 20, 200.0 / 3 }, { 21, 100.0 / 3 }, { 49, 50.0 }, { 51, 50.0 } };
    for (size_t k = 0; k < sizeof expected / sizeof expected[0]; k++) {
        double px, py;
        tg_plot_axes_pixel(&a, expected[k].x, expected[k].mean, &px, &py);
        cr_assert(color_near(&img, px, py, tg_plot_palette(0), 1), "no smoothed curve at x = %d", expected[k].x);
    }
    image_free(&img);
}

/* The chart's window is in points of the densest series; a sparse series
 * (every 100th x) averages over the same span of x, under 2 of its points,
 * so it stays raw, unless it asks for its own window. */
Test(plot_scale, chart_smoothing_spans_the_same_x_for_every_series)
{
    static float dense_y[1000];
    float sparse_x[10], sparse_y[10];
    for (int i = 0; i < 1000; i++)
        dense_y[i] = i % 2 ? 3.0f : 1.0f;
    for (int k = 0; k < 10; k++) {
        sparse_x[k] = 100.0f * k;
        sparse_y[k] = k % 2 ? 12.0f : 10.0f;
    }
    tg_plot_series s[] = { { .name = "train", .y = dense_y, .count = 1000 },
                           { .name = "validation", .x = sparse_x, .y = sparse_y, .count = 10 } };
    tg_plot_options o = { .smooth = 10, .legend = TG_PLOT_LEGEND_NONE };
    tg_plot_axes a;
    int skipped;
    test_image img = draw(s, 2, &o, &a, &skipped);
    double px, py;
    tg_plot_axes_pixel(&a, 500, 2.0, &px, &py);
    cr_assert(color_near(&img, px, py, tg_plot_palette(0), 1), "dense series not smoothed");
    for (int k = 0; k < 10; k++) {
        tg_plot_axes_pixel(&a, sparse_x[k], sparse_y[k], &px, &py);
        cr_assert(color_near(&img, px, py, tg_plot_palette(1), 1), "sparse point %d not raw", k);
    }
    image_free(&img);

    s[1].smooth = 3;
    img = draw(s, 2, &o, &a, &skipped);
    tg_plot_axes_pixel(&a, 400, 34.0 / 3, &px, &py);
    cr_assert(color_near(&img, px, py, tg_plot_palette(1), 1), "own window not used");
    tg_plot_axes_pixel(&a, 400, 10, &px, &py);
    cr_assert(!color_near(&img, px, py, tg_plot_palette(1), 1));
    image_free(&img);
}
