/* bmm, and batched matmul on the shapes that take the tiny kernels
 * (attention, a decoder's step): gradients against central differences,
 * with b transposed (keys^T), operands used twice (gradients that
 * accumulate), and the shape errors of bmm. */
#include "autograd/check.h"

TestSuite(grad_bmm, .init = tg_test_setup, .fini = tg_test_teardown);

typedef struct bmm_case {
    const char *name;
    tg_shape a, b;
    tg_tensor *(*fn)(tg_tensor *const *in);
} bmm_case;

static tg_tensor *plain(tg_tensor *const *in) { return tg_bmm(in[0], in[1]); }
static tg_tensor *keys_transposed(tg_tensor *const *in) { return tg_bmm(in[0], tg_transpose(in[1], 1, 2)); }
static tg_tensor *a_transposed(tg_tensor *const *in) { return tg_bmm(tg_transpose(in[0], 1, 2), in[1]); }
/* Attention over keys that are also the values: b reaches both products. */
static tg_tensor *attention_step(tg_tensor *const *in)
{
    tg_tensor *w = tg_softmax(tg_bmm(in[0], tg_transpose(in[1], 1, 2)), -1);
    return tg_bmm(w, in[1]);
}
static tg_tensor *squared_product(tg_tensor *const *in)
{
    tg_tensor *p = tg_matmul(in[0], in[1]);
    return tg_matmul(p, tg_transpose(p, -1, -2));
}

static tg_tensor *apply(tg_tensor *const *in, void *user) { return ((const bmm_case *)user)->fn(in); }

Test(grad_bmm, small_batched_products_of_every_layout)
{
    const bmm_case cases[] = {
        { "[6,1,17] x [6,17,13]", TG_SHAPE(6, 1, 17), TG_SHAPE(6, 17, 13), plain },
        { "[4,5,9] x [4,9,70] (columns past 64)", TG_SHAPE(4, 5, 9), TG_SHAPE(4, 9, 70), plain },
        { "q k^T: [5,1,20] x [5,7,20]^T", TG_SHAPE(5, 1, 20), TG_SHAPE(5, 7, 20), keys_transposed },
        { "a^T: [3,6,5]^T x [3,6,4]", TG_SHAPE(3, 6, 5), TG_SHAPE(3, 6, 4), a_transposed },
        { "attention step, keys as values", TG_SHAPE(4, 2, 8), TG_SHAPE(4, 5, 8), attention_step },
        { "product times its transpose", TG_SHAPE(3, 2, 4), TG_SHAPE(3, 4, 6), squared_product },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tg_tensor *in[2] = { make_leaf(cases[i].a, FILL_ANY, 30 + i), make_leaf(cases[i].b, FILL_ANY, 60 + i) };
        assert_gradcheck(apply, (void *)&cases[i], in, 2, cases[i].name);
    }
}

Test(grad_bmm, bmm_equals_matmul_and_refuses_other_shapes)
{
    tg_rng rng = tg_rng_new(4);
    tg_tensor *a = tg_randn(TG_SHAPE(3, 2, 5), &rng), *b = tg_randn(TG_SHAPE(3, 5, 4), &rng);
    tg_tensor *y = tg_bmm(a, b), *expected = tg_matmul(a, b);
    cr_assert_not_null(y, "%s", tg_error_message());
    float values[24];
    tg_tensor_to_array(expected, values);
    tg_assert_values(y, values, 24, 0.0f);
    cr_assert_null(tg_bmm(a, tg_randn(TG_SHAPE(1, 5, 4), &rng)));
    tg_assert_error("bmm: [3,2,5] x [1,5,4]: expected [B, M, K] x [B, K, N] with one batch size B");
    tg_error_clear();
    cr_assert_null(tg_bmm(a, tg_randn(TG_SHAPE(5, 4), &rng)));
    tg_assert_error("bmm: [3,2,5] x [5,4]");
    tg_error_clear();
}
