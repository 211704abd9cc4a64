/* Bad input to pad, unfold, fold, conv1d, the pools and masked_fill: NULL
 * and one message naming the op and the shapes (the README's bad-input
 * catalogue points at the first four tests); NULL inputs pass through
 * silently. */
#include "support.h"

TestSuite(conv_errors, .init = tg_test_setup, .fini = tg_test_teardown);

/* Asserts that `result` is NULL and the message is `expected`. */
#define assert_refused(result, expected)                                   \
    do {                                                                   \
        cr_assert_null((result), "the call did not fail");                 \
        cr_assert_str_eq(tg_error_message(), (expected));                  \
        tg_error_clear();                                                  \
    } while (0)

static tg_tensor *ones(tg_shape shape) { return tg_ones(shape); }

Test(conv_errors, a_padding_that_does_not_fit)
{
    tg_tensor *x = ones(TG_SHAPE(2, 3));
    assert_refused(tg_pad(x, (int64_t[]){ 3, 0 }, 2, TG_PAD_REFLECT, 0),
                   "pad: [2,3]: reflect padding (3, 0) of dimension 1 needs a size above each padding (size 3)");
    assert_refused(tg_pad(x, (int64_t[]){ 0, 4 }, 2, TG_PAD_CIRCULAR, 0),
                   "pad: [2,3]: circular padding (0, 4) of dimension 1 needs a size of at least each padding, and not 0 (size 3)");
    assert_refused(tg_pad(x, (int64_t[]){ 1, -1 }, 2, TG_PAD_CONSTANT, 0),
                   "pad: [2,3]: padding (1, -1) of dimension 1 is negative");
    assert_refused(tg_pad(x, (int64_t[]){ 1, 1, 1 }, 3, TG_PAD_CONSTANT, 0),
                   "pad: [2,3]: 3 padding sizes: needs (before, after) pairs for at most 2 dimensions");
    assert_refused(tg_pad(x, (int64_t[]){ 1, 1 }, 2, (tg_pad_mode)9, 0), "pad: [2,3]: unknown mode 9");
    assert_refused(tg_max_pool1d(ones(TG_SHAPE(1, 2, 6)), (tg_pool1d_options){ .kernel = 2, .padding = 2 }),
                   "max_pool1d: input [1,2,6]: kernel 2, stride 0, padding 2: needs kernel >= 1, "
                   "stride >= 0 and padding from 0 to kernel / 2");
}

Test(conv_errors, a_window_longer_than_its_input)
{
    assert_refused(tg_conv1d(ones(TG_SHAPE(1, 2, 3)), ones(TG_SHAPE(4, 2, 3)), NULL,
                             (tg_conv1d_options){ .dilation = 2 }),
                   "conv1d: input [1,2,3], weight [4,2,3]: the padded length 3 is shorter than the "
                   "kernel's span 5 (kernel 3, dilation 2)");
    assert_refused(tg_unfold(ones(TG_SHAPE(2, 3)), 1, 4, 1),
                   "unfold: [2,3]: a window of 4 elements, 1 apart, along dimension 1 of size 3: the "
                   "window must hold 1 to 3 elements and the step be at least 1");
    assert_refused(tg_unfold(ones(TG_SHAPE(2, 3)), 1, 2, 0),
                   "unfold: [2,3]: a window of 2 elements, 0 apart, along dimension 1 of size 3: the "
                   "window must hold 1 to 3 elements and the step be at least 1");
    assert_refused(tg_fold(ones(TG_SHAPE(3, 2)), 0, 3, 1),
                   "fold: [3,2]: 3 windows of 2 elements, 1 apart, do not fit in length 3");
    assert_refused(tg_avg_pool1d(ones(TG_SHAPE(2, 3)), (tg_pool1d_options){ .kernel = 4 }),
                   "avg_pool1d: input [2,3]: the padded length 3 is shorter than the kernel 4");
}

Test(conv_errors, channels_that_do_not_fit_the_weight)
{
    tg_tensor *x = ones(TG_SHAPE(2, 6, 10));
    assert_refused(tg_conv1d(x, ones(TG_SHAPE(4, 3, 3)), NULL, (tg_conv1d_options){ .groups = 4 }),
                   "conv1d: input [2,6,10], weight [4,3,3], groups 4: input channels 6 and output "
                   "channels 4 must be multiples of the groups, and the weight's second axis 3 must "
                   "be input channels / groups");
    assert_refused(tg_conv1d(x, ones(TG_SHAPE(4, 5, 3)), NULL, (tg_conv1d_options){ 0 }),
                   "conv1d: input [2,6,10], weight [4,5,3], groups 1: input channels 6 and output "
                   "channels 4 must be multiples of the groups, and the weight's second axis 5 must "
                   "be input channels / groups");
    assert_refused(tg_conv1d(x, ones(TG_SHAPE(4, 6, 3)), ones(TG_SHAPE(3)), (tg_conv1d_options){ 0 }),
                   "conv1d: bias [3]: expected [4] for weight [4,6,3]");
    assert_refused(tg_conv1d(ones(TG_SHAPE(6)), ones(TG_SHAPE(4, 6, 3)), NULL, (tg_conv1d_options){ 0 }),
                   "conv1d: input [6]: expected [N, C_in, L] or [C_in, L]");
    assert_refused(tg_conv1d(x, ones(TG_SHAPE(4, 6)), NULL, (tg_conv1d_options){ 0 }),
                   "conv1d: weight [4,6]: expected [C_out, C_in / groups, K] with K >= 1");
    assert_refused(tg_conv1d(x, ones(TG_SHAPE(4, 6, 3)), NULL, (tg_conv1d_options){ .stride = -1 }),
                   "conv1d: input [2,6,10], weight [4,6,3]: stride -1 is negative");
    assert_refused(tg_max_pool1d(ones(TG_SHAPE(2)), (tg_pool1d_options){ .kernel = 1 }),
                   "max_pool1d: input [2]: expected [N, C, L] or [C, L]");
}

Test(conv_errors, a_mask_that_does_not_fit)
{
    tg_tensor *x = ones(TG_SHAPE(2, 3));
    assert_refused(tg_masked_fill(x, ones(TG_SHAPE(2, 2, 3)), 0),
                   "masked_fill: mask [2,2,3] does not broadcast to the tensor's shape [2,3]");
    assert_refused(tg_masked_fill(x, ones(TG_SHAPE(2)), 0),
                   "masked_fill: shapes [2,3] and [2] do not broadcast (dimension 1: 3 vs 2)");
}

Test(conv_errors, a_null_input_gives_null_and_the_message_says_it_was_null)
{
    tg_tensor *w = ones(TG_SHAPE(1, 1, 1));
    cr_assert_null(tg_pad(NULL, (int64_t[]){ 1, 1 }, 2, TG_PAD_CONSTANT, 0));
    cr_assert_null(tg_unfold(NULL, 0, 1, 1));
    cr_assert_null(tg_fold(NULL, 0, 1, 1));
    cr_assert_null(tg_conv1d(NULL, w, NULL, (tg_conv1d_options){ 0 }));
    cr_assert_null(tg_conv1d(ones(TG_SHAPE(1, 1, 1)), NULL, NULL, (tg_conv1d_options){ 0 }));
    cr_assert_null(tg_max_pool1d(NULL, (tg_pool1d_options){ .kernel = 1 }));
    cr_assert_null(tg_avg_pool1d(NULL, (tg_pool1d_options){ .kernel = 1 }));
    cr_assert_null(tg_masked_fill(NULL, w, 0));
    /* With no error before it, the first op that notices the NULL says so. */
    cr_assert(strstr(tg_error_message(), "an input is NULL, and no error was recorded before it"),
              "%s", tg_error_message());
}
