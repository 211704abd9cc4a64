/*
 * Line charts read back from their PNG: size, where the curves are,
 * colours, legend, title and labels, ticks, styles.
 */
#define _XOPEN_SOURCE 700 /* nftw, for tests/scratch.h */
#include "plot_test.h"

TestSuite(plot_lines, .init = tg_test_setup, .fini = tg_test_teardown);

/* Writes a chart to a fresh directory, returns it read back and its axes. */
static test_image draw(const tg_plot_series *s, int n, const tg_plot_options *o, tg_plot_axes *axes)
{
    char dir[64], path[512];
    temp_dir(dir);
    path_in(path, dir, "chart.png");
    int skipped = tg_plot_lines(path, s, n, o);
    cr_assert_geq(skipped, 0, "tg_plot_lines failed: %s", tg_error_message());
    cr_assert_eq(tg_plot_lines_axes(s, n, o, axes), skipped, "%s", tg_error_message());
    test_image img = read_png(path);
    scratch_remove(dir);
    return img;
}

Test(plot_lines, default_and_custom_size)
{
    float y[] = { 1, 2, 3 };
    tg_plot_series s = { .y = y, .count = 3 };
    tg_plot_axes axes;
    test_image img = draw(&s, 1, NULL, &axes);
    cr_assert_eq(img.width, 900);
    cr_assert_eq(img.height, 540);
    image_free(&img);
    img = draw(&s, 1, &(tg_plot_options){ .width = 321, .height = 203 }, &axes);
    cr_assert_eq(img.width, 321);
    cr_assert_eq(img.height, 203);
    cr_assert(axes.area.x > 0 && axes.area.x + axes.area.width < 321);
    cr_assert(axes.area.y > 0 && axes.area.y + axes.area.height < 203);
    image_free(&img);
}

/* With fixed ranges, the mapping is the documented linear one, and the
 * pixels at and between the data points have the series colour. */
Test(plot_lines, curve_pixels_where_the_data_says)
{
    float x[] = { 0, 10, 20, 30 }, y[] = { 20, 80, 50, 50 };
    tg_plot_series s = { .name = "s", .x = x, .y = y, .count = 4 };
    tg_plot_options o = { .x_range = { 0, 30 }, .y_range = { 0, 100 }, .legend = TG_PLOT_LEGEND_NONE };
    tg_plot_axes a;
    test_image img = draw(&s, 1, &o, &a);
    cr_assert_eq(a.x_min, 0.0);
    cr_assert_eq(a.x_max, 30.0);
    cr_assert_eq(a.y_min, 0.0);
    cr_assert_eq(a.y_max, 100.0);
    tg_plot_color blue = tg_plot_palette(0);
    cr_assert(same_color(blue, (tg_plot_color){ 0, 114, 178 }));
    for (int i = 0; i < 4; i++) {
        double ex = a.area.x + x[i] / 30.0 * a.area.width;
        double ey = a.area.y + a.area.height - y[i] / 100.0 * a.area.height;
        double px, py;
        tg_plot_axes_pixel(&a, x[i], y[i], &px, &py);
        cr_assert_float_eq(px, ex, 1e-9);
        cr_assert_float_eq(py, ey, 1e-9);
        cr_assert(color_near(&img, px, py, blue, 1), "no curve at point %d (%.1f, %.1f)", i, px, py);
    }
    for (int i = 0; i < 3; i++) {
        double px, py;
        tg_plot_axes_pixel(&a, (x[i] + x[i + 1]) / 2, (y[i] + y[i + 1]) / 2, &px, &py);
        cr_assert(color_near(&img, px, py, blue, 1), "no curve between points %d and %d", i, i + 1);
    }
    /* Away from the curve: none of its colour. */
    double px, py;
    tg_plot_axes_pixel(&a, 25, 50, &px, &py);
    cr_assert(!color_near(&img, px, py - 30, blue, 3));
    cr_assert(!color_near(&img, px, py + 30, blue, 3));
    image_free(&img);
}

Test(plot_lines, y_only_series_has_x_from_zero)
{
    double y[] = { 3, 1, 4, 1, 5 };
    tg_plot_series s = { .yd = y, .count = 5 };
    tg_plot_axes a;
    test_image img = draw(&s, 1, NULL, &a);
    cr_assert_eq(a.x_min, 0.0);
    cr_assert_eq(a.x_max, 4.0);
    cr_assert(a.y_min < 1.0 && a.y_max > 5.0);
    cr_assert(a.y_max - a.y_min < 1.25 * 4.0, "range [%g, %g] too wide", a.y_min, a.y_max);
    for (int i = 0; i < 5; i++) {
        double px, py;
        tg_plot_axes_pixel(&a, i, y[i], &px, &py);
        cr_assert(color_near(&img, px, py, tg_plot_palette(0), 1), "no curve at x = %d", i);
    }
    image_free(&img);
}

Test(plot_lines, float_and_double_data_draw_the_same_image)
{
    float xf[] = { 0.5f, 1.5f, 4.0f }, yf[] = { -2.0f, 7.25f, 3.5f };
    double xd[] = { 0.5, 1.5, 4.0 }, yd[] = { -2.0, 7.25, 3.5 };
    tg_plot_axes a;
    test_image f = draw(&(tg_plot_series){ .name = "a", .x = xf, .y = yf, .count = 3 }, 1, NULL, &a);
    test_image d = draw(&(tg_plot_series){ .name = "a", .xd = xd, .yd = yd, .count = 3 }, 1, NULL, &a);
    cr_assert_eq(memcmp(f.rgb, d.rgb, (size_t)f.width * f.height * 3), 0);
    image_free(&f);
    image_free(&d);
}

/* Each series in its own palette colour, or the one it asks for. */
Test(plot_lines, series_colours)
{
    float y0[] = { 0, 0 }, y1[] = { 1, 1 }, y2[] = { 2, 2 };
    tg_plot_series s[] = {
        { .y = y0, .count = 2 }, { .y = y1, .count = 2 }, { .y = y2, .count = 2, .color = 6 },
    };
    tg_plot_axes a;
    test_image img = draw(s, 3, NULL, &a);
    tg_plot_color expected[] = { tg_plot_palette(0), tg_plot_palette(1), tg_plot_palette(5) };
    for (int i = 0; i < 3; i++) {
        double px, py;
        tg_plot_axes_pixel(&a, 0.5, i, &px, &py);
        cr_assert(color_near(&img, px, py, expected[i], 1), "series %d not in its colour", i);
        for (int j = 0; j < 3; j++)
            if (j != i)
                cr_assert(!color_near(&img, px, py, expected[j], 2), "series %d drawn in colour %d", i, j);
    }
    cr_assert(!same_color(tg_plot_palette(0), tg_plot_palette(1)));
    cr_assert(same_color(tg_plot_palette(8), tg_plot_palette(0)), "the palette repeats after 8");
    image_free(&img);
}

Test(plot_lines, legend_title_and_axis_labels)
{
    float train[] = { 3, 2, 1.5f, 1.2f }, val[] = { 3.2f, 2.4f, 2, 1.9f };
    tg_plot_series s[] = { { .name = "train", .y = train, .count = 4 },
                           { .name = "validation", .y = val, .count = 4, .style = TG_PLOT_DASHED } };
    tg_plot_options o = { .title = "Loss curve", .xlabel = "epoch", .ylabel = "nats" };
    tg_plot_axes a;
    test_image img = draw(s, 2, &o, &a);
    tg_plot_rect box = a.legend, area = a.area;
    cr_assert(box.width > 0 && box.height > 0, "no legend");
    cr_assert(box.x >= area.x && box.x + box.width <= area.x + area.width);
    cr_assert(box.y >= area.y && box.y + box.height <= area.y + area.height);
    cr_assert(find_text(&img, box, "train", &tg_plot_font_regular, TEXT_COLOR, false));
    cr_assert(find_text(&img, box, "validation", &tg_plot_font_regular, TEXT_COLOR, false));
    cr_assert_gt(count_color(&img, box, tg_plot_palette(0)), 20, "no swatch of the first series");
    cr_assert_gt(count_color(&img, box, tg_plot_palette(1)), 10, "no swatch of the second series");

    tg_plot_rect title_band = { 0, 0, img.width, area.y };
    cr_assert(find_text(&img, title_band, "Loss curve", &tg_plot_font_bold, TEXT_COLOR, false));
    tg_plot_rect below = { area.x, area.y + area.height, area.width, img.height - area.y - area.height };
    cr_assert(find_text(&img, below, "epoch", &tg_plot_font_regular, TEXT_COLOR, false));
    tg_plot_rect left = { 0, area.y, area.x, area.height + 1 };
    cr_assert(find_text(&img, left, "nats", &tg_plot_font_regular, TEXT_COLOR, true), "no upright y label");
    image_free(&img);
}

Test(plot_lines, no_legend_without_names_or_when_asked)
{
    float y[] = { 1, 2 };
    tg_plot_axes a;
    test_image img = draw(&(tg_plot_series){ .y = y, .count = 2 }, 1, NULL, &a);
    cr_assert_eq(a.legend.width, 0);
    image_free(&img);
    img = draw(&(tg_plot_series){ .name = "y", .y = y, .count = 2 }, 1,
               &(tg_plot_options){ .legend = TG_PLOT_LEGEND_NONE }, &a);
    cr_assert_eq(a.legend.width, 0);
    image_free(&img);
    img = draw(&(tg_plot_series){ .name = "y", .y = y, .count = 2 }, 1,
               &(tg_plot_options){ .legend = TG_PLOT_LEGEND_BOTTOM_LEFT }, &a);
    cr_assert(a.legend.x < a.area.x + a.area.width / 2 && a.legend.y > a.area.y + a.area.height / 2);
    image_free(&img);
}

/* The automatic legend sits where it hides none of the curve. */
Test(plot_lines, automatic_legend_avoids_the_data)
{
    float rising[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
    tg_plot_series s = { .name = "accuracy", .y = rising, .count = 11 };
    tg_plot_axes with, without;
    test_image img = draw(&s, 1, NULL, &with);
    test_image bare = draw(&s, 1, &(tg_plot_options){ .legend = TG_PLOT_LEGEND_NONE }, &without);
    cr_assert_gt(with.legend.width, 0);
    cr_assert_eq(count_color(&bare, with.legend, tg_plot_palette(0)), 0, "legend placed over the curve");
    image_free(&img);
    image_free(&bare);
}

static bool is_nice_step(double step)
{
    double m = step / pow(10.0, floor(log10(step)));
    return fabs(m - 1) < 1e-9 || fabs(m - 2) < 1e-9 || fabs(m - 5) < 1e-9 || fabs(m - 10) < 1e-9;
}

static void assert_nice_ticks(const double *ticks, int n, double lo, double hi)
{
    cr_assert(n >= 2 && n <= TG_PLOT_MAX_TICKS, "%d ticks", n);
    double step = ticks[1] - ticks[0];
    cr_assert(is_nice_step(step), "step %g is not 1, 2 or 5 times a power of ten", step);
    for (int k = 0; k < n; k++) {
        cr_assert(ticks[k] >= lo - 1e-9 * step && ticks[k] <= hi + 1e-9 * step, "tick %g outside", ticks[k]);
        cr_assert_float_eq(ticks[k] / step, round(ticks[k] / step), 1e-6, "tick %g not a multiple of %g", ticks[k],
                           step);
        if (k > 0)
            cr_assert_float_eq(ticks[k] - ticks[k - 1], step, 1e-9 * fabs(step) + 1e-12);
    }
    cr_assert(ticks[0] - step < lo && ticks[n - 1] + step > hi, "a tick is missing at an end");
}

/* Ticks are 1-2-5 steps; each y tick is labelled with the step's decimals
 * at its row. */
Test(plot_lines, nice_ticks_and_their_labels)
{
    float y[137];
    for (int i = 0; i < 137; i++)
        y[i] = 0.37f + 4.44f * (float)i / 136.0f;
    tg_plot_axes a;
    test_image img = draw(&(tg_plot_series){ .y = y, .count = 137 }, 1, NULL, &a);
    assert_nice_ticks(a.x_ticks, a.nx_ticks, a.x_min, a.x_max);
    assert_nice_ticks(a.y_ticks, a.ny_ticks, a.y_min, a.y_max);
    double step = a.y_ticks[1] - a.y_ticks[0];
    int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    for (int k = 0; k < a.ny_ticks; k++) {
        char label[32];
        snprintf(label, sizeof label, "%.*f", decimals, a.y_ticks[k]);
        double px, py;
        tg_plot_axes_pixel(&a, a.x_min, a.y_ticks[k], &px, &py);
        tg_plot_rect near = { 0, (int)py - 12, a.area.x, 24 };
        cr_assert(find_text(&img, near, label, &tg_plot_font_regular, TEXT_COLOR, false), "no label %s", label);
    }
    for (int k = 0; k < a.nx_ticks; k++) {
        char label[32];
        snprintf(label, sizeof label, "%.0f", a.x_ticks[k]);
        double px, py;
        tg_plot_axes_pixel(&a, a.x_ticks[k], a.y_min, &px, &py);
        tg_plot_rect near = { (int)px - 40, (int)py, 80, 30 };
        cr_assert(find_text(&img, near, label, &tg_plot_font_regular, TEXT_COLOR, false), "no label %s", label);
    }
    image_free(&img);
}

/* Large and tiny steps are written with exponents. */
Test(plot_lines, exponent_tick_labels)
{
    float y[] = { 0, 1 };
    tg_plot_axes a;
    test_image img = draw(&(tg_plot_series){ .y = y, .count = 2 }, 1,
                          &(tg_plot_options){ .y_range = { 0, 1e7 } }, &a);
    cr_assert_float_eq(a.y_ticks[1] - a.y_ticks[0], 1e6, 1e-3);
    tg_plot_rect left = { 0, a.area.y - 10, a.area.x, a.area.height + 20 };
    cr_assert(find_text(&img, left, "2e6", &tg_plot_font_regular, TEXT_COLOR, false));
    cr_assert(find_text(&img, left, "5e6", &tg_plot_font_regular, TEXT_COLOR, false));
    cr_assert(!find_text(&img, left, "2000000", &tg_plot_font_regular, TEXT_COLOR, false));
    image_free(&img);
    img = draw(&(tg_plot_series){ .y = y, .count = 2 }, 1, &(tg_plot_options){ .y_range = { 0, 4e-5 } }, &a);
    cr_assert_float_eq(a.y_ticks[1] - a.y_ticks[0], 5e-6, 1e-15);
    left = (tg_plot_rect){ 0, a.area.y - 10, a.area.x, a.area.height + 20 };
    cr_assert(find_text(&img, left, "5e-6", &tg_plot_font_regular, TEXT_COLOR, false));
    cr_assert(find_text(&img, left, "1.5e-5", &tg_plot_font_regular, TEXT_COLOR, false));
    image_free(&img);
}

/* Scatter: a dot at each point and nothing between them. */
Test(plot_lines, points_style_draws_dots_only)
{
    float x[] = { 1, 9 }, y[] = { 1, 9 };
    tg_plot_series s = { .x = x, .y = y, .count = 2, .style = TG_PLOT_POINTS };
    tg_plot_axes a;
    test_image img = draw(&s, 1, &(tg_plot_options){ .x_range = { 0, 10 }, .y_range = { 0, 10 } }, &a);
    double px, py;
    for (int i = 0; i < 2; i++) {
        tg_plot_axes_pixel(&a, x[i], y[i], &px, &py);
        cr_assert(color_near(&img, px, py, tg_plot_palette(0), 0), "no dot at point %d", i);
        cr_assert(color_near(&img, px + 2, py, tg_plot_palette(0), 0), "dot %d is thinner than a line", i);
    }
    tg_plot_axes_pixel(&a, 5, 5, &px, &py);
    cr_assert(!color_near(&img, px, py, tg_plot_palette(0), 4), "points are joined");
    image_free(&img);
}

/* A dashed line has gaps along it; a solid one has none. */
Test(plot_lines, dashed_line_has_gaps)
{
    float y[] = { 5, 5 };
    tg_plot_options o = { .y_range = { 0, 10 }, .legend = TG_PLOT_LEGEND_NONE };
    for (int style = TG_PLOT_LINE; style <= TG_PLOT_DASHED; style++) {
        tg_plot_axes a;
        test_image img = draw(&(tg_plot_series){ .y = y, .count = 2, .style = (tg_plot_style)style }, 1, &o, &a);
        double px, py;
        tg_plot_axes_pixel(&a, 0, 5, &px, &py);
        int on = 0, off = 0;
        for (int x = a.area.x + 5; x < a.area.x + a.area.width - 5; x++) {
            bool hit = color_near(&img, x, py, tg_plot_palette(0), 0) || color_near(&img, x, py - 1, tg_plot_palette(0), 0);
            on += hit;
            off += !hit;
        }
        if (style == TG_PLOT_LINE) {
            cr_assert_eq(off, 0, "solid line with %d gaps", off);
        } else {
            cr_assert(on > 0.4 * (on + off) && off > 0.2 * (on + off), "dashed: %d on, %d off", on, off);
        }
        image_free(&img);
    }
}

/* Anti-aliasing: the edge of a sloped line blends towards the background. */
Test(plot_lines, lines_are_antialiased)
{
    float y[] = { 0, 3 };
    tg_plot_axes a;
    test_image img = draw(&(tg_plot_series){ .y = y, .count = 2 }, 1,
                          &(tg_plot_options){ .y_range = { 0, 10 }, .legend = TG_PLOT_LEGEND_NONE }, &a);
    tg_plot_color blue = tg_plot_palette(0);
    int partial = 0;
    for (int y0 = a.area.y; y0 < a.area.y + a.area.height; y0++)
        for (int x = a.area.x + 50; x < a.area.x + 60; x++) {
            tg_plot_color c = pixel_at(&img, x, y0);
            /* Between blue and white: a partly covered pixel. */
            bool between = c.r > blue.r && c.r < 255 && c.g > blue.g && c.g < 255 && c.b > blue.b && c.b < 255;
            partial += between && c.r != c.g;
        }
    cr_assert_gt(partial, 5, "no blended edge pixels");
    image_free(&img);
}

/* Bytes outside printable ASCII (here the two of UTF-8 "é") draw as '?'. */
Test(plot_lines, non_ascii_text_draws_question_marks)
{
    float y[] = { 1, 2 };
    tg_plot_axes a;
    test_image img = draw(&(tg_plot_series){ .y = y, .count = 2 }, 1,
                          &(tg_plot_options){ .title = "caf\xc3\xa9" }, &a);
    tg_plot_rect band = { 0, 0, img.width, a.area.y };
    cr_assert(find_text(&img, band, "caf??", &tg_plot_font_bold, TEXT_COLOR, false));
    image_free(&img);
}
