/*
 * Figures: several charts in one image, read back from the PNG.
 */
#define _XOPEN_SOURCE 700 /* nftw, for tests/scratch.h */
#include "plot_test.h"

TestSuite(plot_figure, .init = tg_test_setup, .fini = tg_test_teardown);

static test_image save_and_read(const tg_plot_figure *f)
{
    char dir[64], path[512];
    temp_dir(dir);
    path_in(path, dir, "figure.png");
    cr_assert_eq(tg_plot_figure_save(f, path), 0, "%s", tg_error_message());
    test_image img = read_png(path);
    scratch_remove(dir);
    return img;
}

Test(plot_figure, default_sizes)
{
    tg_plot_figure *f = tg_plot_figure_new((tg_plot_figure_config){ 0 });
    test_image img = save_and_read(f);
    cr_assert(img.width == 900 && img.height == 540);
    image_free(&img);
    tg_plot_figure_free(f);
    f = tg_plot_figure_new((tg_plot_figure_config){ .rows = 2, .cols = 3, .title = "T" });
    img = save_and_read(f);
    cr_assert(img.width == 3 * 480 && img.height == 2 * 360 + 30, "%dx%d", img.width, img.height);
    image_free(&img);
    tg_plot_figure_free(f);
    f = tg_plot_figure_new((tg_plot_figure_config){ .rows = 2, .width = 700, .height = 1000 });
    img = save_and_read(f);
    cr_assert(img.width == 700 && img.height == 1000);
    image_free(&img);
    tg_plot_figure_free(f);
}

/* One learning curve per panel of a 2x2 grid: each panel in its quadrant
 * below the title, each curve where its panel's axes say. */
Test(plot_figure, panels_in_a_grid)
{
    tg_plot_figure *f = tg_plot_figure_new(
        (tg_plot_figure_config){ .rows = 2, .cols = 2, .width = 800, .height = 630, .title = "Per length" });
    cr_assert_not_null(f, "%s", tg_error_message());
    float curves[4][5];
    for (int p = 0; p < 4; p++)
        for (int i = 0; i < 5; i++)
            curves[p][i] = (float)((p + 1) * (5 - i));
    for (int p = 0; p < 4; p++) {
        char title[16];
        snprintf(title, sizeof title, "T = %d", 10 * (p + 1));
        tg_plot_series s = { .name = "LSTM", .y = curves[p], .count = 5 };
        cr_assert_eq(tg_plot_figure_lines(f, p, &s, 1, &(tg_plot_options){ .title = title }), 0, "%s",
                     tg_error_message());
    }
    test_image img = save_and_read(f);
    cr_assert(find_text(&img, (tg_plot_rect){ 0, 0, 800, 30 }, "Per length", &tg_plot_font_bold, TEXT_COLOR, false));
    for (int p = 0; p < 4; p++) {
        tg_plot_axes a;
        cr_assert_eq(tg_plot_figure_axes(f, p, &a), 0);
        int row = p / 2, col = p % 2;
        cr_assert(a.panel.x == col * 400 && a.panel.width == 400, "panel %d x", p);
        cr_assert(a.panel.y == 30 + row * 300 && a.panel.height == 300, "panel %d y", p);
        cr_assert(a.area.x > a.panel.x && a.area.x + a.area.width < a.panel.x + a.panel.width);
        cr_assert(a.area.y > a.panel.y && a.area.y + a.area.height < a.panel.y + a.panel.height);
        cr_assert(a.y_max > 5.0 * (p + 1) && a.y_max < 6.0 * (p + 1), "panel %d has its own range", p);
        for (int i = 0; i < 5; i++) {
            double px, py;
            tg_plot_axes_pixel(&a, i, curves[p][i], &px, &py);
            cr_assert(color_near(&img, px, py, tg_plot_palette(0), 1), "panel %d point %d", p, i);
        }
        char title[16];
        snprintf(title, sizeof title, "T = %d", 10 * (p + 1));
        cr_assert(find_text(&img, (tg_plot_rect){ a.panel.x, a.panel.y, a.panel.width, a.area.y - a.panel.y }, title,
                            &tg_plot_font_bold, TEXT_COLOR, false), "panel %d title", p);
    }
    image_free(&img);
    tg_plot_figure_free(f);
}

/* Drawing a panel again replaces it; a chart stays inside its panel. */
Test(plot_figure, redrawing_a_panel_replaces_it)
{
    tg_plot_figure *f = tg_plot_figure_new((tg_plot_figure_config){ .cols = 2 });
    float up[] = { 0, 1 }, down[] = { 1, 0 };
    tg_plot_axes a;
    cr_assert_eq(tg_plot_figure_lines(f, 0, &(tg_plot_series){ .y = up, .count = 2 }, 1, NULL), 0);
    cr_assert_eq(tg_plot_figure_lines(f, 0, &(tg_plot_series){ .y = down, .count = 2, .color = 2 }, 1, NULL), 0);
    cr_assert_eq(tg_plot_figure_axes(f, 0, &a), 0);
    test_image img = save_and_read(f);
    double px, py;
    tg_plot_axes_pixel(&a, 0.1, 0.9, &px, &py);
    cr_assert(color_near(&img, px, py, tg_plot_palette(1), 1), "new curve missing");
    tg_plot_axes_pixel(&a, 0.1, 0.1, &px, &py);
    cr_assert(!color_near(&img, px, py, tg_plot_palette(0), 2), "old curve still there");
    tg_plot_rect right = { 480, 0, 480, 360 };
    cr_assert_eq(count_color(&img, right, TEXT_COLOR), 0, "panel 0 drew into panel 1");
    image_free(&img);
    tg_plot_figure_free(f);
}

Test(plot_figure, lines_and_bars_side_by_side)
{
    tg_plot_figure *f = tg_plot_figure_new((tg_plot_figure_config){ .cols = 2 });
    float loss[] = { 0.7f, 0.5f, 0.4f }, acc[] = { 0.81f, 0.79f };
    const char *split[] = { "val", "test" };
    cr_assert_eq(tg_plot_figure_lines(f, 0, &(tg_plot_series){ .name = "loss", .y = loss, .count = 3 }, 1, NULL), 0);
    cr_assert_eq(tg_plot_figure_bars(f, 1, &(tg_plot_series){ .name = "accuracy", .y = acc, .count = 2 }, 1,
                                     &(tg_plot_options){ .labels = split }),
                 0);
    tg_plot_axes lines, bars;
    cr_assert_eq(tg_plot_figure_axes(f, 0, &lines), 0);
    cr_assert_eq(tg_plot_figure_axes(f, 1, &bars), 0);
    test_image img = save_and_read(f);
    double px, py;
    tg_plot_axes_pixel(&lines, 1, 0.5, &px, &py);
    cr_assert(color_near(&img, px, py, tg_plot_palette(0), 1));
    tg_plot_axes_pixel(&bars, 1, 0.4, &px, &py);
    cr_assert(px > 480 && same_color(pixel_at(&img, (int)px, (int)py), tg_plot_palette(0)));
    cr_assert(find_text(&img, bars.panel, "test", &tg_plot_font_regular, TEXT_COLOR, false));
    image_free(&img);
    tg_plot_figure_free(f);
}
