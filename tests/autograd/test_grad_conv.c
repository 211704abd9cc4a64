/* Padding, windows, convolution, pooling and masked_fill: gradients against
 * central differences on contiguous and non-contiguous inputs, and values
 * by hand. (conv1d against PyTorch: test_conv_pytorch.c.) */
#include "autograd/check.h"

#include <float.h>
#include <tensor/kernel.h>

TestSuite(grad_conv, .init = tg_test_setup, .fini = tg_test_teardown);

typedef struct conv_case {
    const char *name;
    tg_shape leaf[3];
    int n;
    fill kind;
    tg_tensor *(*fn)(tg_tensor *const *in);
} conv_case;

static tg_tensor *apply_case(tg_tensor *const *in, void *user) { return ((const conv_case *)user)->fn(in); }

static void check_cases(const conv_case *cases, int count)
{
    for (int i = 0; i < count; i++) {
        tg_tensor *in[3];
        for (int j = 0; j < cases[i].n; j++)
            in[j] = make_leaf(cases[i].leaf[j], cases[i].kind, 2000 + 10 * (uint64_t)i + (uint64_t)j);
        assert_gradcheck(apply_case, (void *)&cases[i], in, cases[i].n, cases[i].name);
    }
}

#define CHECK_CASES(cases) check_cases(cases, (int)(sizeof cases / sizeof cases[0]))

/* Asserts t's shape and values (row-major). */
static void assert_values(const tg_tensor *t, tg_shape shape, const float *expected)
{
    cr_assert_not_null(t, "%s", tg_error_message());
    cr_assert(tg_shape_equal(tg_tensor_shape(t), shape), "shape differs");
    float got[t->numel > 0 ? t->numel : 1];
    tg_tensor_to_array(t, got);
    for (int64_t i = 0; i < t->numel; i++)
        cr_assert_float_eq(got[i], expected[i], 1e-5f, "element %lld: %g, expected %g", (long long)i,
                           got[i], expected[i]);
}

/* ---- pad ------------------------------------------------------------------------------- */

static tg_tensor *pad_mode(tg_tensor *x, tg_pad_mode mode)
{
    return tg_pad(x, (int64_t[]){ 2, 1, 1, 0 }, 4, mode, 0.5f);
}
static tg_tensor *pad_constant(tg_tensor *const *in) { return pad_mode(in[0], TG_PAD_CONSTANT); }
static tg_tensor *pad_reflect(tg_tensor *const *in) { return pad_mode(in[0], TG_PAD_REFLECT); }
static tg_tensor *pad_replicate(tg_tensor *const *in) { return pad_mode(in[0], TG_PAD_REPLICATE); }
static tg_tensor *pad_circular(tg_tensor *const *in) { return pad_mode(in[0], TG_PAD_CIRCULAR); }
static tg_tensor *pad_constant_transposed(tg_tensor *const *in) { return pad_mode(view_transposed(in[0]), TG_PAD_CONSTANT); }
static tg_tensor *pad_reflect_sliced(tg_tensor *const *in) { return pad_mode(view_step_sliced(in[0]), TG_PAD_REFLECT); }
static tg_tensor *pad_reflect_expanded(tg_tensor *const *in) { return pad_mode(view_expanded(in[0]), TG_PAD_REFLECT); }
static tg_tensor *pad_first_axis(tg_tensor *const *in)
{
    return tg_pad(in[0], (int64_t[]){ 0, 0, 0, 0, 1, 2 }, 6, TG_PAD_CONSTANT, -1.0f);
}
static tg_tensor *pad_twice(tg_tensor *const *in)
{
    tg_tensor *p = tg_pad(in[0], (int64_t[]){ 1, 1 }, 2, TG_PAD_CONSTANT, 0.0f);
    return tg_mul(tg_pad(p, (int64_t[]){ 2, 2 }, 2, TG_PAD_REFLECT, 0.0f), tg_pad(p, (int64_t[]){ 2, 2 }, 2, TG_PAD_CIRCULAR, 0.0f));
}

Test(grad_conv, pad_in_every_mode)
{
    const conv_case cases[] = {
        { "constant [3,4]", { TG_SHAPE(3, 4) }, 1, FILL_ANY, pad_constant },
        { "reflect [3,4]", { TG_SHAPE(3, 4) }, 1, FILL_ANY, pad_reflect },
        { "replicate [3,4]", { TG_SHAPE(3, 4) }, 1, FILL_ANY, pad_replicate },
        { "circular [3,4]", { TG_SHAPE(3, 4) }, 1, FILL_ANY, pad_circular },
        { "constant, transposed [4,3]", { TG_SHAPE(4, 3) }, 1, FILL_ANY, pad_constant_transposed },
        { "reflect, step-sliced [3,9]", { TG_SHAPE(3, 9) }, 1, FILL_ANY, pad_reflect_sliced },
        { "reflect, expanded [1,4]", { TG_SHAPE(1, 4) }, 1, FILL_ANY, pad_reflect_expanded },
        { "constant, first of 3 axes", { TG_SHAPE(2, 3, 2) }, 1, FILL_ANY, pad_first_axis },
        { "pad of a pad, used twice", { TG_SHAPE(2, 3) }, 1, FILL_ANY, pad_twice },
    };
    CHECK_CASES(cases);
}

Test(grad_conv, pad_values_by_hand)
{
    tg_tensor *x = tg_from_array(TG_SHAPE(1, 3), (float[]){ 1, 2, 3 });
    int64_t two[] = { 2, 2 };
    assert_values(tg_pad(x, two, 2, TG_PAD_CONSTANT, 9), TG_SHAPE(1, 7), (float[]){ 9, 9, 1, 2, 3, 9, 9 });
    assert_values(tg_pad(x, two, 2, TG_PAD_REFLECT, 9), TG_SHAPE(1, 7), (float[]){ 3, 2, 1, 2, 3, 2, 1 });
    assert_values(tg_pad(x, two, 2, TG_PAD_REPLICATE, 9), TG_SHAPE(1, 7), (float[]){ 1, 1, 1, 2, 3, 3, 3 });
    assert_values(tg_pad(x, two, 2, TG_PAD_CIRCULAR, 9), TG_SHAPE(1, 7), (float[]){ 2, 3, 1, 2, 3, 1, 2 });
    assert_values(tg_pad(x, (int64_t[]){ 0, 1, 1, 0 }, 4, TG_PAD_CONSTANT, 0), TG_SHAPE(2, 4),
                  (float[]){ 0, 0, 0, 0, 1, 2, 3, 0 });
    assert_values(tg_pad(x, NULL, 0, TG_PAD_REFLECT, 0), TG_SHAPE(1, 3), (float[]){ 1, 2, 3 });
}

/* ---- unfold and fold ------------------------------------------------------------------- */

static tg_tensor *unfold_overlapping(tg_tensor *const *in) { return tg_unfold(in[0], 1, 3, 1); }
static tg_tensor *unfold_strided(tg_tensor *const *in) { return tg_unfold(in[0], -1, 2, 3); }
static tg_tensor *unfold_first_axis(tg_tensor *const *in) { return tg_unfold(in[0], 0, 2, 1); }
static tg_tensor *unfold_transposed(tg_tensor *const *in) { return tg_unfold(view_transposed(in[0]), 1, 2, 1); }
static tg_tensor *unfold_sliced(tg_tensor *const *in) { return tg_unfold(view_step_sliced(in[0]), 1, 3, 1); }
static tg_tensor *unfold_twice(tg_tensor *const *in) { return tg_unfold(tg_unfold(in[0], 1, 4, 1), 2, 2, 2); }
static tg_tensor *unfold_squared(tg_tensor *const *in) { return tg_square(tg_unfold(in[0], 1, 3, 2)); }
static tg_tensor *fold_windows(tg_tensor *const *in) { return tg_fold(in[0], 1, 8, 2); }
static tg_tensor *fold_with_tail(tg_tensor *const *in) { return tg_fold(view_permuted(in[0]), 0, 9, 1); }

Test(grad_conv, unfold_and_fold)
{
    const conv_case cases[] = {
        { "unfold, overlapping", { TG_SHAPE(2, 6) }, 1, FILL_ANY, unfold_overlapping },
        { "unfold, step past the window", { TG_SHAPE(2, 8) }, 1, FILL_ANY, unfold_strided },
        { "unfold the first axis", { TG_SHAPE(4, 3) }, 1, FILL_ANY, unfold_first_axis },
        { "unfold transposed", { TG_SHAPE(4, 3) }, 1, FILL_ANY, unfold_transposed },
        { "unfold step-sliced", { TG_SHAPE(3, 9) }, 1, FILL_ANY, unfold_sliced },
        { "unfold of an unfold", { TG_SHAPE(2, 7) }, 1, FILL_ANY, unfold_twice },
        { "unfold, squared", { TG_SHAPE(2, 7) }, 1, FILL_ANY, unfold_squared },
        { "fold [2,3,3] into 8", { TG_SHAPE(2, 3, 3) }, 1, FILL_ANY, fold_windows },
        { "fold permuted, unused tail", { TG_SHAPE(2, 4, 3) }, 1, FILL_ANY, fold_with_tail },
    };
    CHECK_CASES(cases);
}

Test(grad_conv, unfold_is_a_view_and_fold_adds_windows_back)
{
    tg_tensor *x = tg_from_array(TG_SHAPE(1, 5), (float[]){ 1, 2, 3, 4, 5 });
    tg_tensor *w = tg_unfold(x, 1, 3, 1);
    assert_values(w, TG_SHAPE(1, 3, 3), (float[]){ 1, 2, 3, 2, 3, 4, 3, 4, 5 });
    cr_assert_eq(w->data, x->data, "unfold copied");
    assert_values(tg_unfold(x, 1, 2, 2), TG_SHAPE(1, 2, 2), (float[]){ 1, 2, 3, 4 });
    assert_values(tg_fold(w, 1, 5, 1), TG_SHAPE(1, 5), (float[]){ 1, 4, 9, 8, 5 });
    assert_values(tg_fold(tg_unfold(x, 1, 2, 2), 1, 6, 2), TG_SHAPE(1, 6), (float[]){ 1, 2, 3, 4, 0, 0 });
}

/* ---- conv1d ------------------------------------------------------------------------------- */

static tg_tensor *conv_plain(tg_tensor *const *in) { return tg_conv1d(in[0], in[1], in[2], (tg_conv1d_options){ 0 }); }
static tg_tensor *conv_all_settings(tg_tensor *const *in)
{
    return tg_conv1d(in[0], in[1], in[2], (tg_conv1d_options){ .stride = 2, .padding = 2, .dilation = 2 });
}
static tg_tensor *conv_groups(tg_tensor *const *in)
{
    return tg_conv1d(in[0], in[1], in[2], (tg_conv1d_options){ .groups = 2, .padding = 1 });
}
static tg_tensor *conv_depthwise_no_bias(tg_tensor *const *in)
{
    return tg_conv1d(in[0], in[1], NULL, (tg_conv1d_options){ .groups = 4, .stride = 3 });
}
/* The input arrives as [N, L, C] transposed to [N, C, L], as after an embedding. */
static tg_tensor *conv_transposed_input(tg_tensor *const *in)
{
    return tg_conv1d(tg_transpose(in[0], 1, 2), in[1], in[2], (tg_conv1d_options){ .padding = 1 });
}
static tg_tensor *conv_unbatched(tg_tensor *const *in) { return tg_conv1d(in[0], in[1], in[2], (tg_conv1d_options){ .padding = 1 }); }
static tg_tensor *conv_of_conv(tg_tensor *const *in)
{
    tg_tensor *h = tg_tanh(tg_conv1d(in[0], in[1], NULL, (tg_conv1d_options){ .padding = 1 }));
    return tg_conv1d(h, in[2], NULL, (tg_conv1d_options){ .dilation = 2 });
}

Test(grad_conv, conv1d_input_weight_and_bias)
{
    const conv_case cases[] = {
        { "plain", { TG_SHAPE(2, 3, 7), TG_SHAPE(4, 3, 3), TG_SHAPE(4) }, 3, FILL_ANY, conv_plain },
        { "stride 2, padding 2, dilation 2", { TG_SHAPE(2, 3, 9), TG_SHAPE(4, 3, 3), TG_SHAPE(4) }, 3, FILL_ANY, conv_all_settings },
        { "2 groups", { TG_SHAPE(2, 4, 6), TG_SHAPE(6, 2, 3), TG_SHAPE(6) }, 3, FILL_ANY, conv_groups },
        { "depthwise, stride 3, no bias", { TG_SHAPE(2, 4, 8), TG_SHAPE(8, 1, 2) }, 2, FILL_ANY, conv_depthwise_no_bias },
        { "transposed input", { TG_SHAPE(2, 6, 3), TG_SHAPE(2, 3, 3), TG_SHAPE(2) }, 3, FILL_ANY, conv_transposed_input },
        { "unbatched", { TG_SHAPE(3, 5), TG_SHAPE(2, 3, 3), TG_SHAPE(2) }, 3, FILL_ANY, conv_unbatched },
        { "conv of tanh of conv", { TG_SHAPE(2, 2, 8), TG_SHAPE(3, 2, 3), TG_SHAPE(2, 3, 2) }, 3, FILL_ANY, conv_of_conv },
    };
    CHECK_CASES(cases);
}

Test(grad_conv, conv1d_values_by_hand)
{
    /* One channel, kernel [1, 0, -1]: the centred difference, zero-padded. */
    tg_tensor *x = tg_from_array(TG_SHAPE(1, 1, 5), (float[]){ 1, 2, 4, 7, 11 });
    tg_tensor *w = tg_from_array(TG_SHAPE(1, 1, 3), (float[]){ 1, 0, -1 });
    tg_tensor *b = tg_from_array(TG_SHAPE(1), (float[]){ 0.5f });
    assert_values(tg_conv1d(x, w, b, (tg_conv1d_options){ .padding = 1 }), TG_SHAPE(1, 1, 5),
                  (float[]){ -1.5f, -2.5f, -4.5f, -6.5f, 7.5f });
    assert_values(tg_conv1d(x, w, NULL, (tg_conv1d_options){ .stride = 2 }), TG_SHAPE(1, 1, 2),
                  (float[]){ -3, -7 });
    assert_values(tg_conv1d(x, w, NULL, (tg_conv1d_options){ .dilation = 2 }), TG_SHAPE(1, 1, 1),
                  (float[]){ -10 });
    /* Two groups of one channel each: each output reads its own channel. */
    tg_tensor *x2 = tg_from_array(TG_SHAPE(1, 2, 3), (float[]){ 1, 2, 3, 10, 20, 30 });
    tg_tensor *w2 = tg_from_array(TG_SHAPE(2, 1, 2), (float[]){ 1, 1, 1, -1 });
    assert_values(tg_conv1d(x2, w2, NULL, (tg_conv1d_options){ .groups = 2 }), TG_SHAPE(1, 2, 2),
                  (float[]){ 3, 5, -10, -10 });
}

/* ---- pools --------------------------------------------------------------------------------- */

static tg_tensor *max_pool_plain(tg_tensor *const *in) { return tg_max_pool1d(in[0], (tg_pool1d_options){ .kernel = 2 }); }
static tg_tensor *max_pool_overlapping(tg_tensor *const *in)
{
    return tg_max_pool1d(in[0], (tg_pool1d_options){ .kernel = 3, .stride = 1, .padding = 1 });
}
static tg_tensor *max_pool_transposed(tg_tensor *const *in)
{
    return tg_max_pool1d(view_transposed(in[0]), (tg_pool1d_options){ .kernel = 2, .stride = 1 });
}
static tg_tensor *avg_pool_plain(tg_tensor *const *in) { return tg_avg_pool1d(in[0], (tg_pool1d_options){ .kernel = 3 }); }
static tg_tensor *avg_pool_padded(tg_tensor *const *in)
{
    return tg_avg_pool1d(in[0], (tg_pool1d_options){ .kernel = 4, .stride = 2, .padding = 2 });
}
static tg_tensor *avg_pool_sliced(tg_tensor *const *in)
{
    return tg_avg_pool1d(view_step_sliced(in[0]), (tg_pool1d_options){ .kernel = 2, .stride = 1 });
}

Test(grad_conv, max_and_avg_pools)
{
    const conv_case cases[] = {
        { "max, kernel 2", { TG_SHAPE(2, 3, 6) }, 1, FILL_LADDER, max_pool_plain },
        { "max, overlapping and padded", { TG_SHAPE(2, 2, 5) }, 1, FILL_LADDER, max_pool_overlapping },
        { "max, transposed [C, L]", { TG_SHAPE(5, 3) }, 1, FILL_LADDER, max_pool_transposed },
        { "avg, kernel 3", { TG_SHAPE(2, 3, 7) }, 1, FILL_ANY, avg_pool_plain },
        { "avg, padded", { TG_SHAPE(1, 2, 6) }, 1, FILL_ANY, avg_pool_padded },
        { "avg, step-sliced [3,9]", { TG_SHAPE(3, 9) }, 1, FILL_ANY, avg_pool_sliced },
    };
    CHECK_CASES(cases);
}

Test(grad_conv, pool_values_by_hand)
{
    tg_tensor *x = tg_from_array(TG_SHAPE(1, 5), (float[]){ -1, -3, -2, -5, -4 });
    assert_values(tg_max_pool1d(x, (tg_pool1d_options){ .kernel = 2 }), TG_SHAPE(1, 2), (float[]){ -1, -2 });
    /* Padding is never the maximum, even of negative values. */
    assert_values(tg_max_pool1d(x, (tg_pool1d_options){ .kernel = 3, .stride = 2, .padding = 1 }), TG_SHAPE(1, 3),
                  (float[]){ -1, -2, -4 });
    assert_values(tg_avg_pool1d(x, (tg_pool1d_options){ .kernel = 2, .stride = 1 }), TG_SHAPE(1, 4),
                  (float[]){ -2, -2.5f, -3.5f, -4.5f });
    /* Padding zeros count in the mean, as torch's count_include_pad. */
    assert_values(tg_avg_pool1d(x, (tg_pool1d_options){ .kernel = 2, .padding = 1 }), TG_SHAPE(1, 3),
                  (float[]){ -0.5f, -2.5f, -4.5f });
}

/* ---- masked_fill ---------------------------------------------------------------------------- */

static tg_tensor *fill_mask(tg_shape shape, const float *values) { return tg_from_array(shape, values); }
static tg_tensor *masked_rows(tg_tensor *const *in)
{
    return tg_masked_fill(in[0], fill_mask(TG_SHAPE(3, 1), (float[]){ 0, 1, 0 }), -2.0f);
}
static tg_tensor *masked_transposed(tg_tensor *const *in)
{
    tg_tensor *mask = fill_mask(TG_SHAPE(4), (float[]){ 1, 0, 0, 1 });
    return tg_mul(tg_masked_fill(view_transposed(in[0]), mask, 0.0f), in[1]);
}
static tg_tensor *masked_then_softmax(tg_tensor *const *in)
{
    tg_tensor *mask = fill_mask(TG_SHAPE(2, 4), (float[]){ 0, 0, 1, 1, 0, 1, 0, 1 });
    return tg_softmax(tg_masked_fill(in[0], mask, -1e9f), -1);
}

Test(grad_conv, masked_fill)
{
    const conv_case cases[] = {
        { "broadcast row mask", { TG_SHAPE(3, 4) }, 1, FILL_ANY, masked_rows },
        { "transposed, times another input", { TG_SHAPE(4, 3), TG_SHAPE(3, 4) }, 2, FILL_ANY, masked_transposed },
        { "before a softmax (attention)", { TG_SHAPE(2, 4) }, 1, FILL_ANY, masked_then_softmax },
    };
    CHECK_CASES(cases);
    tg_tensor *x = tg_from_array(TG_SHAPE(2, 2), (float[]){ 1, 2, 3, 4 });
    assert_values(tg_masked_fill(x, fill_mask(TG_SHAPE(2), (float[]){ 1, 0 }), 7), TG_SHAPE(2, 2),
                  (float[]){ 7, 2, 7, 4 });
    /* an int64 mask, as read from a file */
    assert_values(tg_masked_fill(x, tg_from_int64(TG_SHAPE(2, 1), (int64_t[]){ 0, 3 }), -1), TG_SHAPE(2, 2),
                  (float[]){ 1, 2, -1, -1 });
}

/* ---- gradients of gradients ------------------------------------------------------------------- */

/* sum(v * dL/dx) for L = sum(avg_pool(tanh(conv1d(reflect-pad(x), w)))^2):
 * the gradient of this with respect to w runs the backward rules of pad,
 * unfold and fold a second time. Returns the graph tensor, recorded. */
static tg_tensor *penalty(tg_tensor *x, tg_tensor *w, tg_tensor *v)
{
    tg_tensor *xp = tg_pad(x, (int64_t[]){ 1, 2 }, 2, TG_PAD_REFLECT, 0);
    tg_tensor *y = tg_tanh(tg_conv1d(xp, w, NULL, (tg_conv1d_options){ .stride = 2, .padding = 1 }));
    tg_tensor *loss = tg_sum_all(tg_square(tg_avg_pool1d(y, (tg_pool1d_options){ .kernel = 2, .stride = 1 })));
    tg_tensor *g;
    cr_assert_eq(tg_autograd_grad(&loss, 1, &x, 1, &g, (tg_grad_config){ .create_graph = true }), 0, "%s",
                 tg_error_message());
    return tg_sum_all(tg_mul(v, g));
}

Test(grad_conv, the_gradient_of_a_convolution_can_be_differentiated_again)
{
    tg_tensor *x = make_leaf(TG_SHAPE(2, 2, 6), FILL_ANY, 71), *w = make_leaf(TG_SHAPE(3, 2, 3), FILL_ANY, 72);
    tg_tensor *v = make_leaf(TG_SHAPE(2, 2, 6), FILL_ANY, 73);
    tg_tensor *gw;
    cr_assert_eq(tg_autograd_grad((tg_tensor *[]){ penalty(x, w, v) }, 1, &w, 1, &gw, (tg_grad_config){ 0 }), 0,
                 "%s", tg_error_message());
    const float eps = 5e-3f;
    for (int64_t i = 0; i < w->numel; i++) {
        float keep = w->data[i];
        w->data[i] = keep + eps;
        tg_tensor_mark_written(w);
        double up = tg_tensor_item(penalty(x, w, v));
        w->data[i] = keep - eps;
        tg_tensor_mark_written(w);
        double down = tg_tensor_item(penalty(x, w, v));
        w->data[i] = keep;
        tg_tensor_mark_written(w);
        double numeric = (up - down) / (2.0 * eps);
        cr_assert(fabs(gw->data[i] - numeric) <= 2e-3 + 2e-2 * fabs(numeric),
                  "weight element %lld: second-order gradient %g, central difference %g", (long long)i,
                  gw->data[i], numeric);
    }
}
