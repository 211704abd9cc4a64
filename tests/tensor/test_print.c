/* tg_tensor_fprint's text, NumPy-like: brackets and rows, aligned columns,
 * whole numbers without decimals, scientific notation for wide ranges,
 * long axes summarised with "...". */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include <stdio.h>
#include <stdlib.h>

#include "support.h"
#include <tensor/kernel.h>

TestSuite(print, .init = tg_test_setup, .fini = tg_test_teardown);

/* What tg_tensor_fprint writes for t, as a string (static buffer). */
static const char *printed(const tg_tensor *t, const char *name)
{
    static char text[8192];
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    cr_assert_not_null(f);
    tg_tensor_fprint(f, t, name);
    fclose(f);
    cr_assert_lt(size, sizeof text);
    memcpy(text, buf, size + 1);
    free(buf);
    return text;
}

static tg_tensor *iota(tg_shape shape)
{
    tg_tensor *t = tg_empty(shape);
    for (int64_t i = 0; i < t->numel; i++)
        t->data[i] = (float)i;
    return t;
}

Test(print, whole_numbers_in_rows)
{
    cr_assert_str_eq(printed(iota(TG_SHAPE(2, 3)), "a"), "a: tensor [2,3]\n"
                                                         "[[0, 1, 2],\n"
                                                         " [3, 4, 5]]\n");
}

Test(print, decimals_are_aligned)
{
    tg_tensor *t = tg_from_array(TG_SHAPE(2, 2), (float[]){ 1.5f, -2, 3.25f, 100 });
    cr_assert_str_eq(printed(t, "b"), "b: tensor [2,2]\n"
                                      "[[  1.5000,  -2.0000],\n"
                                      " [  3.2500, 100.0000]]\n");
}

Test(print, wide_ranges_use_scientific_notation)
{
    tg_tensor *t = tg_from_array(TG_SHAPE(3), (float[]){ 1e-6f, 1e6f, -1 });
    cr_assert_str_eq(printed(t, NULL), "tensor [3]\n"
                                       "[ 1.0000e-06,  1.0000e+06, -1.0000e+00]\n");
    tg_tensor *huge = tg_from_array(TG_SHAPE(2), (float[]){ 3e9f, 1e9f }); /* whole, but too long */
    cr_assert_str_eq(printed(huge, NULL), "tensor [2]\n"
                                          "[3.0000e+09, 1.0000e+09]\n");
}

Test(print, three_dimensions_separate_blocks_by_a_blank_line)
{
    cr_assert_str_eq(printed(iota(TG_SHAPE(2, 2, 3)), NULL), "tensor [2,2,3]\n"
                                                             "[[[ 0,  1,  2],\n"
                                                             "  [ 3,  4,  5]],\n"
                                                             "\n"
                                                             " [[ 6,  7,  8],\n"
                                                             "  [ 9, 10, 11]]]\n");
}

Test(print, long_axes_are_summarised)
{
    cr_assert_str_eq(printed(iota(TG_SHAPE(20)), "d"), "d: tensor [20]\n"
                                                       "[ 0,  1,  2, ..., 17, 18, 19]\n");
    /* widths come from the shown values only */
    cr_assert_str_eq(printed(iota(TG_SHAPE(10, 20)), NULL), "tensor [10,20]\n"
                                                            "[[  0,   1,   2, ...,  17,  18,  19],\n"
                                                            " [ 20,  21,  22, ...,  37,  38,  39],\n"
                                                            " [ 40,  41,  42, ...,  57,  58,  59],\n"
                                                            " ...,\n"
                                                            " [140, 141, 142, ..., 157, 158, 159],\n"
                                                            " [160, 161, 162, ..., 177, 178, 179],\n"
                                                            " [180, 181, 182, ..., 197, 198, 199]]\n");
    /* a summarised outer axis of a 3-d tensor: "...," between blank lines */
    const char *text = printed(iota(TG_SHAPE(9, 1, 2)), NULL);
    cr_assert_str_eq(text, "tensor [9,1,2]\n"
                           "[[[ 0,  1]],\n"
                           "\n"
                           " [[ 2,  3]],\n"
                           "\n"
                           " [[ 4,  5]],\n"
                           "\n"
                           " ...,\n"
                           "\n"
                           " [[12, 13]],\n"
                           "\n"
                           " [[14, 15]],\n"
                           "\n"
                           " [[16, 17]]]\n");
    /* an axis of exactly 8 entries is printed whole */
    cr_assert_str_eq(printed(iota(TG_SHAPE(8)), NULL), "tensor [8]\n[0, 1, 2, 3, 4, 5, 6, 7]\n");
}

Test(print, views_print_their_own_elements)
{
    tg_tensor *t = iota(TG_SHAPE(2, 3));
    cr_assert_str_eq(printed(tg_view_transpose(t, 0, 1), "t"), "t: tensor [3,2]\n"
                                                               "[[0, 3],\n"
                                                               " [1, 4],\n"
                                                               " [2, 5]]\n");
    tg_tensor *e = tg_view_expand(tg_from_array(TG_SHAPE(1), (float[]){ 0.5f }), TG_SHAPE(2, 2));
    cr_assert_str_eq(printed(e, NULL), "tensor [2,2]\n"
                                       "[[0.5000, 0.5000],\n"
                                       " [0.5000, 0.5000]]\n");
}

Test(print, scalars_empty_tensors_special_values_and_null)
{
    cr_assert_str_eq(printed(tg_from_array(TG_SCALAR, (float[]){ 3.5f }), "s"), "s: tensor []\n3.5000\n");
    cr_assert_str_eq(printed(tg_zeros(TG_SHAPE(0, 3)), "z"), "z: tensor [0,3]\n[]\n");
    tg_tensor *special = tg_from_array(TG_SHAPE(4), (float[]){ NAN, INFINITY, -INFINITY, -1.5f });
    cr_assert_str_eq(printed(special, NULL), "tensor [4]\n[    nan,     inf,    -inf, -1.5000]\n");
    tg_tensor *whole = tg_from_array(TG_SHAPE(3), (float[]){ NAN, 2, -1 });
    cr_assert_str_eq(printed(whole, NULL), "tensor [3]\n[nan,   2,  -1]\n");
    cr_assert_str_eq(printed(NULL, "x"), "x: tensor (null)\n");
}
