/*
 * Heat maps read back from their PNG: each cell's shade where the values
 * say, the colour range, labels, NaN cells, figures and bad arguments.
 */
#define _XOPEN_SOURCE 700 /* nftw, for tests/scratch.h */
#include "plot_test.h"

TestSuite(plot_heatmap, .init = tg_test_setup, .fini = tg_test_teardown);

/* Draws the map through a one-panel figure (for its axes), checks that
 * tg_plot_heatmap writes the same image, and returns it. */
static test_image draw(const tg_plot_heatmap_data *map, const tg_plot_options *o, tg_plot_axes *axes, int *skipped)
{
    char dir[64], one[512], fig[512];
    temp_dir(dir);
    path_in(one, dir, "heatmap.png");
    path_in(fig, dir, "figure.png");
    *skipped = tg_plot_heatmap(one, map, o);
    cr_assert_geq(*skipped, 0, "tg_plot_heatmap failed: %s", tg_error_message());
    tg_plot_figure *f = tg_plot_figure_new((tg_plot_figure_config){ 0 });
    cr_assert_eq(tg_plot_figure_heatmap(f, 0, map, o), *skipped);
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

/* The colour at the centre of cell (r, c). */
static tg_plot_color cell(const test_image *img, const tg_plot_axes *a, int r, int c)
{
    double px, py;
    tg_plot_axes_pixel(a, c + 0.5, r + 0.5, &px, &py);
    return pixel_at(img, (int)floor(px), (int)floor(py));
}

Test(plot_heatmap, each_cell_is_shaded_by_its_value)
{
    /* Two rows, three columns: 0 is white, 1 the darkest blue (8, 48, 107),
     * 0.5 halfway between (rounded). */
    const float values[] = { 0.0f, 0.5f, 1.0f, 1.0f, 0.25f, 0.0f };
    tg_plot_axes a;
    int skipped;
    test_image img = draw(&(tg_plot_heatmap_data){ .values = values, .rows = 2, .cols = 3 },
                          &(tg_plot_options){ .title = "attention" }, &a, &skipped);
    cr_assert_eq(skipped, 0);
    cr_assert(same_color(cell(&img, &a, 0, 0), ((tg_plot_color){ 255, 255, 255 })));
    cr_assert(same_color(cell(&img, &a, 0, 2), ((tg_plot_color){ 8, 48, 107 })));
    cr_assert(same_color(cell(&img, &a, 1, 0), ((tg_plot_color){ 8, 48, 107 })));
    tg_plot_color half = cell(&img, &a, 0, 1);
    cr_assert(half.r == 132 && half.g == 152 && half.b == 181, "0.5: (%d, %d, %d)", half.r, half.g, half.b);
    tg_plot_color quarter = cell(&img, &a, 1, 1);
    cr_assert(quarter.r == 193 && quarter.g == 203 && quarter.b == 218, "0.25: (%d, %d, %d)", quarter.r,
              quarter.g, quarter.b);
    /* Square cells, the whole grid inside the panel. */
    cr_assert_eq(a.area.width * 2, a.area.height * 3);
    cr_assert(a.area.x > 0 && a.area.x + a.area.width < img.width && a.area.y > 0 &&
              a.area.y + a.area.height < img.height);
    cr_assert(find_text(&img, (tg_plot_rect){ 0, 0, img.width, 30 }, "attention", &tg_plot_font_bold, TEXT_COLOR,
                        false));
    image_free(&img);
}

Test(plot_heatmap, a_given_range_clamps_and_labels_name_rows_and_columns)
{
    const float values[] = { -1.0f, 0.5f, 2.0f, NAN };
    const char *rows[] = { "AH", "B" }, *cols[] = { "a", "b" };
    tg_plot_axes a;
    int skipped;
    test_image img = draw(&(tg_plot_heatmap_data){ .values = values, .rows = 2, .cols = 2, .row_labels = rows,
                                              .col_labels = cols, .min = 0.0, .max = 1.0 },
                          &(tg_plot_options){ .xlabel = "letters", .ylabel = "phonemes" }, &a, &skipped);
    cr_assert_eq(skipped, 1, "the NaN cell is skipped");
    cr_assert(same_color(cell(&img, &a, 0, 0), ((tg_plot_color){ 255, 255, 255 })), "below min: white");
    cr_assert(same_color(cell(&img, &a, 1, 0), ((tg_plot_color){ 8, 48, 107 })), "above max: darkest");
    cr_assert(same_color(cell(&img, &a, 1, 1), ((tg_plot_color){ 200, 200, 200 })), "NaN: grey");
    tg_plot_rect left = { 0, a.area.y, a.area.x, a.area.height };
    cr_assert(find_text(&img, left, "AH", &tg_plot_font_regular, TEXT_COLOR, false));
    cr_assert(find_text(&img, left, "B", &tg_plot_font_regular, TEXT_COLOR, false));
    tg_plot_rect below = { a.area.x, a.area.y + a.area.height, a.area.width, 40 };
    cr_assert(find_text(&img, below, "a", &tg_plot_font_regular, TEXT_COLOR, false));
    cr_assert(find_text(&img, below, "b", &tg_plot_font_regular, TEXT_COLOR, false));
    /* The colour bar's ends are labelled with the range. */
    tg_plot_rect right = { a.area.x + a.area.width, a.area.y, img.width - a.area.x - a.area.width, a.area.height };
    cr_assert(find_text(&img, right, "1", &tg_plot_font_regular, TEXT_COLOR, false));
    cr_assert(find_text(&img, right, "0", &tg_plot_font_regular, TEXT_COLOR, false));
    image_free(&img);
}

Test(plot_heatmap, bad_maps_are_refused_with_a_message)
{
    char dir[64], path[512];
    temp_dir(dir);
    path_in(path, dir, "bad.png");
    const float v[] = { 1.0f };
    static const float wide[4000];
    tg_error_clear();
    cr_assert_eq(tg_plot_heatmap(path, &(tg_plot_heatmap_data){ .values = v, .rows = 0, .cols = 1 }, NULL), -1);
    cr_assert_str_eq(tg_error_message(), "plot_heatmap: 0 x 1 cells: need 1 to 4096 rows and columns");
    tg_error_clear();
    cr_assert_eq(tg_plot_heatmap(path, &(tg_plot_heatmap_data){ .rows = 1, .cols = 1 }, NULL), -1);
    cr_assert_str_eq(tg_error_message(), "plot_heatmap: values is NULL");
    tg_error_clear();
    cr_assert_eq(tg_plot_heatmap(path, &(tg_plot_heatmap_data){ .values = v, .rows = 1, .cols = 1, .min = 2, .max = 1 },
                                 NULL), -1);
    cr_assert_str_eq(tg_error_message(),
                     "plot_heatmap: colour range [2, 1]: give min <= max, both finite (equal: from the data)");
    tg_error_clear();
    cr_assert_eq(tg_plot_heatmap(path, &(tg_plot_heatmap_data){ .values = wide, .rows = 1, .cols = 4000 },
                                 &(tg_plot_options){ .width = 200, .height = 200 }), -1);
    cr_assert_str_eq(tg_error_message(), "plot_heatmap: a 200 x 200 panel is too small for 1 x 4000 cells");
    tg_error_clear();
    cr_assert_eq(tg_plot_heatmap("", &(tg_plot_heatmap_data){ .values = v, .rows = 1, .cols = 1 }, NULL), -1);
    cr_assert_str_eq(tg_error_message(), "plot_heatmap: no file name given");
    FILE *f = fopen(path, "r");
    cr_assert_null(f, "nothing is written for a bad map");
    scratch_remove(dir);
}
