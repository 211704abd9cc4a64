/* Losses: values against naive loops in double, gradients against finite
 * differences, reductions, ignore index, label smoothing, stability, errors. */
#include "layer_check.h"

TestSuite(loss, .init = tg_test_setup, .fini = tg_test_teardown);

/* ---- Regression --------------------------------------------------------------------------- */

Test(loss, mse_l1_and_huber_by_hand)
{
    tg_tensor *x = tg_from_array(TG_SHAPE(3), (float[]){ 1, 2, 3 });
    tg_tensor *y = tg_from_array(TG_SHAPE(3), (float[]){ 0, 2, 5 });
    /* differences 1, 0, -2 */
    tg_assert_values(tg_mse_loss(x, y, TG_REDUCTION_MEAN), ((float[]){ 5.0f / 3 }), 1, 1e-6);
    tg_assert_values(tg_mse_loss(x, y, TG_REDUCTION_SUM), ((float[]){ 5 }), 1, 1e-6);
    tg_assert_values(tg_mse_loss(x, y, TG_REDUCTION_NONE), ((float[]){ 1, 0, 4 }), 3, 1e-6);
    tg_assert_values(tg_l1_loss(x, y, TG_REDUCTION_MEAN), ((float[]){ 1 }), 1, 1e-6);
    tg_assert_values(tg_l1_loss(x, y, TG_REDUCTION_NONE), ((float[]){ 1, 0, 2 }), 3, 1e-6);
    /* delta 1: |d| = 1 is on the linear side: 1 * (1 - 0.5); 2 gives 1.5 */
    tg_assert_values(tg_huber_loss(x, y, 1.0f, TG_REDUCTION_NONE), ((float[]){ 0.5f, 0, 1.5f }), 3, 1e-6);
    /* delta 2.5: both quadratic: 0.5, 0, 2 */
    tg_assert_values(tg_huber_loss(x, y, 2.5f, TG_REDUCTION_SUM), ((float[]){ 2.5f }), 1, 1e-6);
    cr_assert_eq(tg_mse_loss(x, y, TG_REDUCTION_MEAN)->ndim, 0);
}

typedef struct regression_case {
    int which; /* 0 mse, 1 l1, 2 huber */
    tg_reduction reduction;
} regression_case;

static tg_tensor *regression_objective(tg_tensor *const *in, void *user)
{
    regression_case *c = user;
    if (c->which == 0)
        return tg_mse_loss(in[0], in[1], c->reduction);
    if (c->which == 1)
        return tg_l1_loss(in[0], in[1], c->reduction);
    return tg_huber_loss(in[0], in[1], 0.6f, c->reduction);
}

Test(loss, regression_gradients_for_input_and_target)
{
    tg_rng rng = tg_rng_new(8);
    for (int which = 0; which < 3; which++)
        for (int r = TG_REDUCTION_MEAN; r <= TG_REDUCTION_NONE; r++) {
            regression_case c = { which, (tg_reduction)r };
            tg_tensor *in[2] = { random_input(TG_SHAPE(3, 4), &rng), random_input(TG_SHAPE(3, 4), &rng) };
            check_gradients(regression_objective, &c, in, 2);
            tg_tensor_free(in[0]);
            tg_tensor_free(in[1]);
        }
}

Test(loss, regression_errors)
{
    tg_tensor *x = tg_zeros(TG_SHAPE(3)), *y = tg_zeros(TG_SHAPE(3, 1));
    cr_assert_null(tg_mse_loss(x, y, TG_REDUCTION_MEAN));
    tg_assert_error("mse_loss: input [3] and target [3,1]: shapes differ");
    tg_error_clear();
    cr_assert_null(tg_huber_loss(x, x, 0.0f, TG_REDUCTION_MEAN));
    tg_assert_error("huber_loss: delta 0 must be positive");
    tg_error_clear();
    cr_assert_null(tg_l1_loss(x, x, (tg_reduction)7));
    tg_assert_error("l1_loss: unknown reduction 7");
    tg_error_clear();
    cr_assert_null(tg_mse_loss(NULL, x, TG_REDUCTION_MEAN));
    tg_assert_error("mse_loss: an input is NULL");
}

/* ---- Cross-entropy and NLL ------------------------------------------------------------------- */

/* A graph tensor of U(low, high) values. */
static tg_tensor *uniform(tg_shape shape, float low, float high, tg_rng *rng)
{
    return tg_add_scalar(tg_mul_scalar(tg_rand(shape, rng), high - low), low);
}

/* The loss of each row of logits [n, classes] by the definition, in double. */
static void reference_cross_entropy(const float *logits, const float *target, int n, int classes,
                                    double smoothing, double *out)
{
    for (int i = 0; i < n; i++) {
        const float *row = logits + i * classes;
        double total = 0;
        for (int c = 0; c < classes; c++)
            total += exp(row[c]);
        double log_sum = log(total), smooth = 0;
        for (int c = 0; c < classes; c++)
            smooth -= row[c] - log_sum;
        double picked = -(row[(int)target[i]] - log_sum);
        out[i] = (1 - smoothing) * picked + smoothing / classes * smooth;
    }
}

Test(loss, cross_entropy_by_hand)
{
    float logits[6] = { 1, 2, 3, 1, 1, 1 };
    tg_tensor *x = tg_from_array(TG_SHAPE(2, 3), logits);
    tg_tensor *t = tg_from_array(TG_SHAPE(2), (float[]){ 2, 0 });
    /* -log softmax: row 0 at class 2 is log(1 + e^-1 + e^-2); row 1 is log 3 */
    double l0 = log(1 + exp(-1.0) + exp(-2.0)), l1 = log(3.0);
    tg_assert_values(tg_cross_entropy(x, t, NULL), ((float[]){ (float)((l0 + l1) / 2) }), 1, 1e-6);
    tg_assert_values(tg_cross_entropy(x, t, &(tg_class_loss_config){ .reduction = TG_REDUCTION_NONE }),
                     ((float[]){ (float)l0, (float)l1 }), 2, 1e-6);
    tg_assert_values(tg_cross_entropy(x, t, &(tg_class_loss_config){ .reduction = TG_REDUCTION_SUM }),
                     ((float[]){ (float)(l0 + l1) }), 1, 1e-6);
    double smoothed[2];
    reference_cross_entropy(logits, (float[]){ 2, 0 }, 2, 3, 0.2, smoothed);
    tg_assert_values(tg_cross_entropy(x, t, &(tg_class_loss_config){ .label_smoothing = 0.2f }),
                     ((float[]){ (float)((smoothed[0] + smoothed[1]) / 2) }), 1, 1e-6);
    /* NLL of the log-probabilities is the same loss. */
    tg_assert_values(tg_nll_loss(tg_log_softmax(x, 1), t, NULL), ((float[]){ (float)((l0 + l1) / 2) }), 1,
                     1e-6);
}

Test(loss, cross_entropy_ignores_targets_and_averages_over_the_rest)
{
    enum { N = 5, C = 4 };
    tg_rng rng = tg_rng_new(1);
    tg_tensor *x = uniform(TG_SHAPE(N, C), -2, 2, &rng);
    float targets[N] = { 1, -100, 3, -100, 0 };
    tg_tensor *t = tg_from_array(TG_SHAPE(N), targets);
    float *logits = values_of(x);
    double per[N];
    float kept_targets[N] = { 1, 0, 3, 0, 0 };
    reference_cross_entropy(logits, kept_targets, N, C, 0.1, per);
    tg_class_loss_config config = { .use_ignore_index = true, .ignore_index = -100, .label_smoothing = 0.1f };
    tg_assert_values(tg_cross_entropy(x, t, &config), ((float[]){ (float)((per[0] + per[2] + per[4]) / 3) }),
                     1, 1e-6);
    config.reduction = TG_REDUCTION_NONE;
    tg_assert_values(tg_cross_entropy(x, t, &config),
                     ((float[]){ (float)per[0], 0, (float)per[2], 0, (float)per[4] }), N, 1e-6);
    /* An ignore index that is a real class. */
    tg_class_loss_config ignore_zero = { .use_ignore_index = true, .ignore_index = 0 };
    float real[N] = { 1, 0, 3, 2, 0 };
    reference_cross_entropy(logits, real, N, C, 0.0, per);
    tg_assert_values(tg_cross_entropy(x, tg_from_array(TG_SHAPE(N), real), &ignore_zero),
                     ((float[]){ (float)((per[0] + per[2] + per[3]) / 3) }), 1, 1e-6);
    free(logits);
}

/* int64 targets give the float targets' losses and gradients exactly. */
Test(loss, int64_targets_give_the_same_losses_and_gradients)
{
    enum { N = 5, C = 4 };
    tg_rng rng = tg_rng_new(5);
    tg_tensor *x = uniform(TG_SHAPE(N, C), -2, 2, &rng);
    cr_assert_eq(tg_set_requires_grad(x, true), 0);
    float as_floats[N] = { 1, -100, 3, 2, 0 };
    tg_tensor *floats = tg_from_array(TG_SHAPE(N), as_floats);
    tg_tensor *ids = tg_from_int64(TG_SHAPE(N), (int64_t[]){ 1, -100, 3, 2, 0 });
    tg_class_loss_config configs[] = {
        { .use_ignore_index = true, .ignore_index = -100 },
        { .use_ignore_index = true, .ignore_index = -100, .label_smoothing = 0.2f,
          .reduction = TG_REDUCTION_NONE },
    };
    for (int k = 0; k < 2; k++) {
        tg_tensor *a = tg_cross_entropy(x, floats, &configs[k]);
        tg_tensor *b = tg_cross_entropy(x, ids, &configs[k]);
        cr_assert_not_null(b, "%s", tg_error_message());
        float expected[N];
        cr_assert_eq(tg_tensor_to_array(a, expected), 0);
        tg_assert_values(b, expected, a->numel, 0.0f);
        cr_assert_eq(tg_backward(tg_sum_all(b)), 0, "%s", tg_error_message());
        float grad_ids[N * C];
        cr_assert_eq(tg_tensor_to_array(tg_grad(x), grad_ids), 0);
        tg_zero_grad(x);
        cr_assert_eq(tg_backward(tg_sum_all(a)), 0, "%s", tg_error_message());
        tg_assert_values(tg_grad(x), grad_ids, N * C, 0.0f);
        tg_zero_grad(x);
    }
    /* NLL, with the ids as a strided view (every second element) */
    tg_tensor *spread = tg_from_int64(TG_SHAPE(2 * N), (int64_t[]){ 1, 9, 0, 9, 3, 9, 2, 9, 0, 9 });
    float picked[N] = { 1, 0, 3, 2, 0 };
    tg_tensor *log_probs = tg_log_softmax(x, 1);
    tg_tensor *nll = tg_nll_loss(log_probs, tg_slice(spread, 0, 0, 2 * N, 2),
                                 &(tg_class_loss_config){ .reduction = TG_REDUCTION_NONE });
    cr_assert_not_null(nll, "%s", tg_error_message());
    float expected[N];
    for (int i = 0; i < N; i++)
        expected[i] = -tg_tensor_get(log_probs, (int64_t[]){ i, (int64_t)picked[i] });
    tg_assert_values(nll, expected, N, 0.0f);
    /* an int64 class out of range is named exactly */
    cr_assert_null(tg_cross_entropy(x, tg_from_int64(TG_SHAPE(N), (int64_t[]){ 0, 1, 4, 0, 0 }), NULL));
    tg_assert_error("cross_entropy: scores [5,4]: target 4 at position 2 is not a class index in [0, 4)");
}

Test(loss, cross_entropy_takes_the_class_axis_last)
{
    tg_rng rng = tg_rng_new(3);
    tg_tensor *x = uniform(TG_SHAPE(2, 3, 4), -1, 1, &rng); /* [T, B, C] */
    tg_tensor *t = tg_from_array(TG_SHAPE(2, 3), (float[]){ 0, 1, 2, 3, 2, 1 });
    float *logits = values_of(x), *targets = values_of(t);
    double per[6], mean = 0;
    reference_cross_entropy(logits, targets, 6, 4, 0.0, per);
    for (int i = 0; i < 6; i++)
        mean += per[i] / 6;
    tg_assert_values(tg_cross_entropy(x, t, NULL), ((float[]){ (float)mean }), 1, 1e-6);
    tg_assert_shape(tg_cross_entropy(x, t, &(tg_class_loss_config){ .reduction = TG_REDUCTION_NONE }), 2, 3);
    free(logits);
    free(targets);
}

typedef struct class_case {
    bool nll;
    tg_class_loss_config config;
    tg_tensor *target;
} class_case;

static tg_tensor *class_objective(tg_tensor *const *in, void *user)
{
    class_case *c = user;
    if (c->nll)
        return tg_nll_loss(tg_log_softmax(in[0], -1), c->target, &c->config);
    return tg_cross_entropy(in[0], c->target, &c->config);
}

Test(loss, cross_entropy_and_nll_gradients)
{
    tg_rng rng = tg_rng_new(4);
    tg_tensor *target = tg_tensor_from_array(TG_SHAPE(2, 3), (float[]){ 0, 4, 2, 3, 4, 1 });
    const tg_class_loss_config configs[] = {
        { .reduction = TG_REDUCTION_MEAN },
        { .reduction = TG_REDUCTION_SUM, .label_smoothing = 0.3f },
        { .reduction = TG_REDUCTION_NONE, .use_ignore_index = true, .ignore_index = 4 },
        { .reduction = TG_REDUCTION_MEAN, .use_ignore_index = true, .ignore_index = 4, .label_smoothing = 0.1f },
    };
    for (int nll = 0; nll <= 1; nll++)
        for (int k = 0; k < 4; k++) {
            if (nll && configs[k].label_smoothing != 0.0f)
                continue;
            class_case c = { nll, configs[k], target };
            tg_tensor *x = random_input(TG_SHAPE(2, 3, 5), &rng);
            check_gradients(class_objective, &c, &x, 1);
            tg_tensor_free(x);
        }
    tg_tensor_free(target);
}

Test(loss, class_loss_errors)
{
    tg_tensor *x = tg_zeros(TG_SHAPE(2, 3));
    cr_assert_null(tg_cross_entropy(x, tg_from_array(TG_SHAPE(2), (float[]){ 0, 3 }), NULL));
    tg_assert_error("cross_entropy: scores [2,3]: target 3 at position 1 is not a class index in [0, 3)");
    tg_error_clear();
    cr_assert_null(tg_cross_entropy(x, tg_from_array(TG_SHAPE(2), (float[]){ 0.5f, 1 }), NULL));
    tg_assert_error("target 0.5 at position 0");
    tg_error_clear();
    cr_assert_null(tg_cross_entropy(x, tg_zeros(TG_SHAPE(3)), NULL));
    tg_assert_error("cross_entropy: scores [2,3] and target [3]");
    tg_error_clear();
    cr_assert_null(tg_cross_entropy(x, tg_zeros(TG_SHAPE(2)),
                                    &(tg_class_loss_config){ .label_smoothing = 1.5f }));
    tg_assert_error("label smoothing 1.5");
    tg_error_clear();
    cr_assert_null(tg_nll_loss(x, tg_zeros(TG_SHAPE(2)), &(tg_class_loss_config){ .label_smoothing = 0.1f }));
    tg_assert_error("nll_loss: label smoothing applies to cross_entropy only");
    tg_error_clear();
    cr_assert_null(tg_nll_loss(x, tg_from_array(TG_SHAPE(2), (float[]){ -1, 0 }), NULL));
    tg_assert_error("nll_loss");
    tg_error_clear();
    cr_assert_null(tg_cross_entropy(NULL, x, NULL));
    tg_assert_error("cross_entropy: an input is NULL");
}

/* ---- Binary cross-entropy ----------------------------------------------------------------------- */

static double reference_bce(double x, double y, double pos_weight)
{
    double p = 1.0 / (1.0 + exp(-x));
    return -(pos_weight * y * log(p) + (1 - y) * log(1 - p));
}

Test(loss, bce_with_logits_by_hand)
{
    float xs[4] = { 0.5f, -1.0f, 2.0f, 0.0f }, ys[4] = { 1, 0, 0.3f, 1 };
    tg_tensor *x = tg_from_array(TG_SHAPE(2, 2), xs), *y = tg_from_array(TG_SHAPE(2, 2), ys);
    float plain[4], weighted[4];
    double mean = 0;
    const float pw[2] = { 2.0f, 0.5f };
    for (int i = 0; i < 4; i++) {
        plain[i] = (float)reference_bce(xs[i], ys[i], 1.0);
        weighted[i] = (float)reference_bce(xs[i], ys[i], pw[i % 2]);
        mean += plain[i] / 4.0;
    }
    tg_assert_values(tg_bce_with_logits(x, y, NULL), ((float[]){ (float)mean }), 1, 1e-6);
    tg_assert_values(tg_bce_with_logits(x, y, &(tg_bce_config){ .reduction = TG_REDUCTION_NONE }), plain, 4,
                     1e-6);
    tg_bce_config config = { .reduction = TG_REDUCTION_NONE, .pos_weight = tg_from_array(TG_SHAPE(2), pw) };
    tg_assert_values(tg_bce_with_logits(x, y, &config), weighted, 4, 1e-6);
}

Test(loss, bce_with_logits_is_stable_for_large_logits)
{
    tg_tensor *x = tg_tensor_from_array(TG_SHAPE(4), (float[]){ 100, -100, 100, -100 });
    tg_set_requires_grad(x, true);
    tg_tensor *y = tg_from_array(TG_SHAPE(4), (float[]){ 0, 1, 1, 0 });
    tg_tensor *loss = tg_bce_with_logits(x, y, &(tg_bce_config){ .reduction = TG_REDUCTION_NONE });
    tg_assert_values(loss, ((float[]){ 100, 100, 0, 0 }), 4, 1e-6);
    cr_assert_eq(tg_backward(tg_sum_all(loss)), 0, "%s", tg_error_message());
    /* d/dx = sigmoid(x) - y */
    tg_assert_values(tg_grad(x), ((float[]){ 1, -1, 0, 0 }), 4, 1e-6);
    tg_tensor_free(x);
}

typedef struct bce_case {
    tg_reduction reduction;
    bool pos_weight; /* in[2] */
} bce_case;

static tg_tensor *bce_objective(tg_tensor *const *in, void *user)
{
    bce_case *c = user;
    return tg_bce_with_logits(in[0], in[1], &(tg_bce_config){ c->reduction, c->pos_weight ? in[2] : NULL });
}

Test(loss, bce_with_logits_gradients)
{
    tg_rng rng = tg_rng_new(5);
    for (int r = TG_REDUCTION_MEAN; r <= TG_REDUCTION_NONE; r++)
        for (int pw = 0; pw <= 1; pw++) {
            bce_case c = { (tg_reduction)r, pw };
            tg_tensor *in[3] = { random_input(TG_SHAPE(3, 4), &rng),
                                 tg_tensor_uniform(TG_SHAPE(3, 4), 0, 1, &rng),
                                 tg_tensor_uniform(TG_SHAPE(4), 0.5f, 3, &rng) };
            tg_set_requires_grad(in[1], true);
            tg_set_requires_grad(in[2], true);
            check_gradients(bce_objective, &c, in, pw ? 3 : 2);
            for (int i = 0; i < 3; i++)
                tg_tensor_free(in[i]);
        }
}

Test(loss, bce_errors)
{
    tg_tensor *x = tg_zeros(TG_SHAPE(2, 3));
    cr_assert_null(tg_bce_with_logits(x, tg_zeros(TG_SHAPE(3, 2)), NULL));
    tg_assert_error("bce_with_logits: input [2,3] and target [3,2]");
    tg_error_clear();
    cr_assert_null(tg_bce_with_logits(x, x, &(tg_bce_config){ .pos_weight = tg_ones(TG_SHAPE(2)) }));
    tg_assert_error("bce_with_logits");
    tg_error_clear();
    cr_assert_null(tg_bce_with_logits(x, x, &(tg_bce_config){ .pos_weight = tg_ones(TG_SHAPE(4, 2, 3)) }));
    tg_assert_error("pos_weight must broadcast to the logits");
}
