/* Sampling a token from logits: greedy, the top-k cut, the temperature,
 * frequencies against softmax, and refused settings. */
#include "support.h"

#include <layers/sample.h>

TestSuite(sample, .init = tg_test_setup, .fini = tg_test_teardown);

static const float LOGITS[5] = { 1.0f, 3.0f, 0.5f, 2.0f, -1.0f };

/* How often each index is drawn in `draws` draws, as fractions. */
static void frequencies(float temperature, int top_k, int draws, double out[5])
{
    tg_rng rng = tg_rng_new(3);
    int counts[5] = { 0 };
    for (int i = 0; i < draws; i++) {
        int64_t k = tg_sample_logits(LOGITS, 5, temperature, top_k, &rng);
        cr_assert(k >= 0 && k < 5, "drew %lld: %s", (long long)k, tg_error_message());
        counts[k]++;
    }
    for (int k = 0; k < 5; k++)
        out[k] = (double)counts[k] / draws;
}

Test(sample, temperature_0_and_top_k_1_take_the_largest_logit)
{
    tg_rng rng = tg_rng_new(1), untouched = tg_rng_new(1);
    cr_assert_eq(tg_sample_logits(LOGITS, 5, 0.0f, 0, &rng), 1);
    /* Greedy draws nothing from the generator. */
    cr_assert_eq(tg_rng_uniform(&rng), tg_rng_uniform(&untouched));
    for (int i = 0; i < 50; i++)
        cr_assert_eq(tg_sample_logits(LOGITS, 5, 2.0f, 1, &rng), 1);
}

Test(sample, draws_follow_the_softmax_of_the_kept_logits)
{
    /* top-k 2 keeps indices 1 and 3: p(1) = e^3 / (e^3 + e^2) = 0.731. */
    double f[5];
    frequencies(1.0f, 2, 20000, f);
    cr_assert_float_eq(f[1], 1.0 / (1.0 + exp(-1.0)), 0.01, "p(1) %g", f[1]);
    cr_assert_float_eq(f[1] + f[3], 1.0, 1e-12);
    /* All five at temperature 2: softmax(logits / 2). */
    frequencies(2.0f, 0, 40000, f);
    double z = 0, p[5];
    for (int k = 0; k < 5; k++)
        z += p[k] = exp(LOGITS[k] / 2.0);
    for (int k = 0; k < 5; k++)
        cr_assert_float_eq(f[k], p[k] / z, 0.01, "index %d: %g against %g", k, f[k], p[k] / z);
    /* A low temperature sharpens the same cut towards the largest. */
    double sharp[5];
    frequencies(0.25f, 2, 20000, sharp);
    cr_assert_float_eq(sharp[1], 1.0 / (1.0 + exp(-4.0)), 0.01, "p(1) %g", sharp[1]);
}

Test(sample, the_same_generator_state_gives_the_same_draws)
{
    tg_rng a = tg_rng_new(9), b = tg_rng_new(9);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(tg_sample_logits(LOGITS, 5, 0.8f, 3, &a), tg_sample_logits(LOGITS, 5, 0.8f, 3, &b));
}

Test(sample, bad_settings_are_refused)
{
    tg_rng rng = tg_rng_new(1);
    cr_assert_eq(tg_sample_logits(LOGITS, 5, -1.0f, 0, &rng), -1);
    tg_assert_error("sample_logits: 5 logits, temperature -1, top_k 0: needs logits, a generator, "
                    "n >= 1, a finite temperature >= 0 and top_k >= 0");
    tg_error_clear();
    cr_assert_eq(tg_sample_logits(LOGITS, 5, NAN, 0, &rng), -1);
    tg_error_clear();
    cr_assert_eq(tg_sample_logits(LOGITS, 5, 1.0f, -2, &rng), -1);
    tg_error_clear();
    cr_assert_eq(tg_sample_logits(LOGITS, 0, 1.0f, 0, &rng), -1);
    tg_error_clear();
    cr_assert_eq(tg_sample_logits(NULL, 5, 1.0f, 0, &rng), -1);
    tg_assert_error("sample_logits");
}
