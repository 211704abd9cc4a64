/*
 * Bar charts read back from their PNG: bars where the values say, grouped
 * series, negative values, labels, skipped values, log axes.
 */
#define _XOPEN_SOURCE 700 /* nftw, for tests/scratch.h */
#include "plot_test.h"

TestSuite(plot_bars, .init = tg_test_setup, .fini = tg_test_teardown);

/* Draws a bar chart through a one-panel figure (for its axes), checks that
 * tg_plot_bars writes the same image, and returns it. */
static test_image draw(const tg_plot_series *s, int n, const tg_plot_options *o, tg_plot_axes *axes, int *skipped)
{
    char dir[64], one[512], fig[512];
    temp_dir(dir);
    path_in(one, dir, "bars.png");
    path_in(fig, dir, "figure.png");
    *skipped = tg_plot_bars(one, s, n, o);
    cr_assert_geq(*skipped, 0, "tg_plot_bars failed: %s", tg_error_message());
    tg_plot_figure *f = tg_plot_figure_new((tg_plot_figure_config){ 0 });
    cr_assert_eq(tg_plot_figure_bars(f, 0, s, n, o), *skipped);
    cr_assert_eq(tg_plot_figure_axes(f, 0, axes), 0);
    cr_assert_eq(tg_plot_figure_save(f, fig), 0);
    tg_plot_figure_free(f);
    test_image a = read_png(one), b = read_png(fig);
    cr_assert(a.width == b.width && a.height == b.height);
    cr_assert_eq(memcmp(a.rgb, b.rgb, (size_t)a.width * a.height * 3), 0);
    image_free(&b);
    scratch_remove(dir);
    return a;
}

static bool color_at(const test_image *img, const tg_plot_axes *a, double x, double y, tg_plot_color c)
{
    double px, py;
    tg_plot_axes_pixel(a, x, y, &px, &py);
    return same_color(pixel_at(img, (int)floor(px), (int)floor(py)), c);
}

Test(plot_bars, bars_where_the_values_say)
{
    float v[] = { 3, 1, 2 };
    const char *names[] = { "cat", "dog", "bird" };
    tg_plot_axes a;
    int skipped;
    test_image img = draw(&(tg_plot_series){ .y = v, .count = 3 }, 1,
                          &(tg_plot_options){ .labels = names, .title = "Pets" }, &a, &skipped);
    cr_assert_eq(skipped, 0);
    cr_assert(a.x_min == -0.5 && a.x_max == 2.5);
    cr_assert(a.y_min == 0.0 && a.y_max > 3.0 && a.y_max < 3.6, "[%g, %g]", a.y_min, a.y_max);
    tg_plot_color blue = tg_plot_palette(0);
    for (int i = 0; i < 3; i++) {
        cr_assert(color_at(&img, &a, i, v[i] / 2, blue), "no bar %d", i);
        cr_assert(color_at(&img, &a, i - 0.35, v[i] * 0.98, blue), "bar %d too narrow or low", i);
        cr_assert(!color_at(&img, &a, i, v[i] * 1.03, blue), "bar %d too high", i);
        cr_assert(!color_at(&img, &a, i - 0.45, v[i] / 2, blue), "bar %d too wide", i);
        double px, py;
        tg_plot_axes_pixel(&a, i, 0, &px, &py);
        cr_assert(find_text(&img, (tg_plot_rect){ (int)px - 30, (int)py, 60, 30 }, names[i], &tg_plot_font_regular,
                            TEXT_COLOR, false), "no category label %s", names[i]);
        char value[16];
        snprintf(value, sizeof value, "%g", v[i]);
        tg_plot_axes_pixel(&a, i, v[i], &px, &py);
        cr_assert(find_text(&img, (tg_plot_rect){ (int)px - 20, (int)py - 20, 40, 20 }, value,
                            &tg_plot_font_regular, TEXT_COLOR, false), "no value label over bar %d", i);
    }
    cr_assert(find_text(&img, (tg_plot_rect){ 0, 0, img.width, a.area.y }, "Pets", &tg_plot_font_bold, TEXT_COLOR,
                        false));
    image_free(&img);
}

/* Two series: in each category the first series' bar left of centre, the
 * second's right of it, each in its colour; both in the legend. */
Test(plot_bars, grouped_series)
{
    float neg[] = { 412, 61 }, pos[] = { 88, 439 };
    const char *names[] = { "negative", "positive" };
    tg_plot_series s[] = { { .name = "predicted negative", .y = neg, .count = 2 },
                           { .name = "predicted positive", .y = pos, .count = 2 } };
    tg_plot_axes a;
    int skipped;
    test_image img = draw(s, 2, &(tg_plot_options){ .labels = names }, &a, &skipped);
    for (int i = 0; i < 2; i++) {
        cr_assert(color_at(&img, &a, i - 0.2, neg[i] / 2, tg_plot_palette(0)));
        cr_assert(color_at(&img, &a, i + 0.2, pos[i] / 2, tg_plot_palette(1)));
    }
    cr_assert(!color_at(&img, &a, 0 + 0.2, 200, tg_plot_palette(1)), "88 reaches 200");
    cr_assert_gt(a.legend.width, 0);
    cr_assert(find_text(&img, a.legend, "predicted positive", &tg_plot_font_regular, TEXT_COLOR, false));
    cr_assert_gt(count_color(&img, a.legend, tg_plot_palette(1)), 50, "no square swatch");
    image_free(&img);
}

Test(plot_bars, negative_values_grow_down_from_zero)
{
    float v[] = { -2, 3 };
    tg_plot_axes a;
    int skipped;
    test_image img = draw(&(tg_plot_series){ .y = v, .count = 2 }, 1, NULL, &a, &skipped);
    cr_assert(a.y_min < -2 && a.y_max > 3);
    cr_assert(color_at(&img, &a, 0, -1, tg_plot_palette(0)));
    cr_assert(!color_at(&img, &a, 0, 0.5, tg_plot_palette(0)));
    cr_assert(color_at(&img, &a, 1, 1.5, tg_plot_palette(0)));
    cr_assert(!color_at(&img, &a, 1, -0.5, tg_plot_palette(0)));
    double px, py;
    tg_plot_axes_pixel(&a, 0, -2, &px, &py);
    cr_assert(find_text(&img, (tg_plot_rect){ (int)px - 20, (int)py, 40, 20 }, "-2", &tg_plot_font_regular,
                        TEXT_COLOR, false), "value of a negative bar goes under it");
    image_free(&img);
}

Test(plot_bars, skipped_values_are_counted_and_not_drawn)
{
    float v[] = { 1, NAN, 2, INFINITY };
    tg_plot_axes a;
    int skipped;
    test_image img = draw(&(tg_plot_series){ .y = v, .count = 4 }, 1, NULL, &a, &skipped);
    cr_assert_eq(skipped, 2);
    cr_assert(a.x_max == 3.5, "four categories");
    cr_assert(a.y_max < 2.5);
    cr_assert(color_at(&img, &a, 0, 0.5, tg_plot_palette(0)));
    cr_assert(!color_at(&img, &a, 1, 0.1, tg_plot_palette(0)));
    cr_assert(!color_at(&img, &a, 3, 0.1, tg_plot_palette(0)));
    image_free(&img);
}

/* Too many categories for every label: every k-th is labelled, evenly. */
Test(plot_bars, crowded_category_labels_are_thinned)
{
    float v[60];
    const char *names[60];
    for (int i = 0; i < 60; i++) {
        v[i] = (float)(i % 7);
        names[i] = "a long category name";
    }
    tg_plot_axes a;
    int skipped;
    test_image img = draw(&(tg_plot_series){ .y = v, .count = 60 }, 1, &(tg_plot_options){ .labels = names }, &a,
                          &skipped);
    cr_assert(a.nx_ticks >= 2 && a.nx_ticks < 10, "%d labels", a.nx_ticks);
    double stride = a.x_ticks[1] - a.x_ticks[0];
    double slot = a.area.width / 60.0;
    cr_assert_geq(stride * slot, 20 * 7, "labels %g px apart overlap", stride * slot);
    for (int k = 1; k < a.nx_ticks; k++)
        cr_assert_eq(a.x_ticks[k] - a.x_ticks[k - 1], stride);
    image_free(&img);
}

Test(plot_bars, log_axis_bars_grow_from_the_bottom)
{
    float v[] = { 1, 10, 1000 };
    tg_plot_axes a;
    int skipped;
    test_image img = draw(&(tg_plot_series){ .y = v, .count = 3 }, 1, &(tg_plot_options){ .log_y = true }, &a,
                          &skipped);
    cr_assert(a.log_y && a.y_min < 1 && a.y_max > 1000);
    for (int i = 0; i < 3; i++) {
        cr_assert(color_at(&img, &a, i, v[i] * 0.9, tg_plot_palette(0)), "bar %d short", i);
        cr_assert(!color_at(&img, &a, i, v[i] * 1.15, tg_plot_palette(0)), "bar %d tall", i);
    }
    cr_assert(color_at(&img, &a, 2, 2, tg_plot_palette(0)));
    image_free(&img);
}
