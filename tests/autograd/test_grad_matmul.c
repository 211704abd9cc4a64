/* matmul, addmm and affine: gradients against central differences and
 * values against a naive loop, on awkward shapes (1x1, 1xN, Nx1, vectors),
 * transposed, sliced and expanded operands, and batches broadcast both ways. */
#include "autograd/check.h"
#include <tensor/gemm_tall.h>
#include <tensor/kernel.h>

TestSuite(grad_matmul, .init = tg_test_setup, .fini = tg_test_teardown);

/* Rows 0, 2, 4, ... of the first axis: [7,4] is seen as [4,4]. */
static tg_tensor *view_every_other_row(tg_tensor *x) { return tg_slice(x, 0, 0, x->shape[0], 2); }

typedef struct product_case {
    const char *name;
    operand a, b;
} product_case;

static const product_case products[] = {
    { "1x1 @ 1x1", { "a", TG_SHAPE(1, 1), view_same }, { "b", TG_SHAPE(1, 1), view_same } },
    { "1x5 @ 5x1", { "a", TG_SHAPE(1, 5), view_same }, { "b", TG_SHAPE(5, 1), view_same } },
    { "5x1 @ 1x5", { "a", TG_SHAPE(5, 1), view_same }, { "b", TG_SHAPE(1, 5), view_same } },
    { "3x4 @ 4x2", { "a", TG_SHAPE(3, 4), view_same }, { "b", TG_SHAPE(4, 2), view_same } },
    { "[4] @ 4x3", { "a", TG_SHAPE(4), view_same }, { "b", TG_SHAPE(4, 3), view_same } },
    { "3x4 @ [4]", { "a", TG_SHAPE(3, 4), view_same }, { "b", TG_SHAPE(4), view_same } },
    { "[4] @ [4]", { "a", TG_SHAPE(4), view_same }, { "b", TG_SHAPE(4), view_same } },
    { "[4] @ 2x4x3", { "a", TG_SHAPE(4), view_same }, { "b", TG_SHAPE(2, 4, 3), view_same } },
    { "2x3x4 @ [4]", { "a", TG_SHAPE(2, 3, 4), view_same }, { "b", TG_SHAPE(4), view_same } },
    { "2x3x4 @ 4x5", { "a", TG_SHAPE(2, 3, 4), view_same }, { "b", TG_SHAPE(4, 5), view_same } },
    { "3x4 @ 2x4x5", { "a", TG_SHAPE(3, 4), view_same }, { "b", TG_SHAPE(2, 4, 5), view_same } },
    { "2x1x3x4 @ 3x4x2", { "a", TG_SHAPE(2, 1, 3, 4), view_same }, { "b", TG_SHAPE(3, 4, 2), view_same } },
    { "transposed a", { "a", TG_SHAPE(4, 3), view_transposed }, { "b", TG_SHAPE(4, 2), view_same } },
    { "transposed b, batched", { "a", TG_SHAPE(2, 3, 4), view_same }, { "b", TG_SHAPE(2, 5, 4), view_transposed } },
    { "column-sliced b", { "a", TG_SHAPE(3, 4), view_same }, { "b", TG_SHAPE(4, 9), view_step_sliced } },
    { "row-sliced a", { "a", TG_SHAPE(7, 4), view_every_other_row }, { "b", TG_SHAPE(4, 2), view_same } },
    { "expanded rows of a", { "a", TG_SHAPE(1, 4), view_expanded }, { "b", TG_SHAPE(4, 2), view_same } },
    { "expanded batch of a", { "a", TG_SHAPE(1, 3, 4), view_expanded }, { "b", TG_SHAPE(4, 2), view_same } },
    { "permuted a", { "a", TG_SHAPE(2, 3, 4), view_permuted }, { "b", TG_SHAPE(3, 2), view_same } },
};
#define PRODUCTS ((int)(sizeof products / sizeof products[0]))

static tg_tensor *apply_matmul(tg_tensor *const *in, void *user)
{
    const product_case *k = user;
    return tg_matmul(k->a.view(in[0]), k->b.view(in[1]));
}

Test(grad_matmul, matmul_on_awkward_shapes_and_views)
{
    for (int i = 0; i < PRODUCTS; i++) {
        tg_tensor *in[2] = { make_leaf(products[i].a.leaf, FILL_ANY, 500 + (uint64_t)i),
                             make_leaf(products[i].b.leaf, FILL_ANY, 600 + (uint64_t)i) };
        assert_gradcheck(apply_matmul, (void *)&products[i], in, 2, products[i].name);
    }
}

static tg_tensor *apply_square_matrix(tg_tensor *const *in, void *user)
{
    (void)user;
    return tg_add(tg_matmul(in[0], in[0]), tg_matmul(in[0], tg_transpose(in[0], 0, 1)));
}

Test(grad_matmul, matmul_with_one_input_on_both_sides)
{
    tg_tensor *x = make_leaf(TG_SHAPE(3, 3), FILL_ANY, 8);
    assert_gradcheck(apply_square_matrix, NULL, &x, 1, "x @ x + x @ x^T");
}

static tg_tensor *apply_thin_product(tg_tensor *const *in, void *user)
{
    (void)user;
    return tg_matmul(in[0], in[1]);
}

/* A product with few rows and a large weight takes the packed path, which
 * keeps a copy of the weight between calls: the checker's perturbations of
 * the weight must reach it. */
Test(grad_matmul, matmul_with_few_rows_and_a_cached_weight)
{
    tg_tensor *in[2] = { make_leaf(TG_SHAPE(2, 64), FILL_ANY, 30), make_leaf(TG_SHAPE(64, 64), FILL_ANY, 31) };
    assert_gradcheck(apply_thin_product, NULL, in, 2, "[2,64] @ [64,64]");
}

/* ---- Values against a naive loop ----------------------------------------------------- */

/* a @ b for a [..., M, K], b [..., K, N] (batch axes broadcast), by loops
 * over contiguous copies, into a new graph tensor. */
static tg_tensor *naive_matmul(tg_tensor *a, tg_tensor *b)
{
    tg_shape ba = tg_tensor_shape(a), bb = tg_tensor_shape(b), batch;
    ba.ndim -= 2;
    bb.ndim -= 2;
    cr_assert(tg_broadcast_shapes(ba, bb, &batch, "naive"));
    int64_t m = a->shape[a->ndim - 2], k = a->shape[a->ndim - 1], n = b->shape[b->ndim - 1];
    tg_shape sa = batch, sb = batch, so = batch;
    sa.dim[sa.ndim++] = m, sa.dim[sa.ndim++] = k;
    sb.dim[sb.ndim++] = k, sb.dim[sb.ndim++] = n;
    so.dim[so.ndim++] = m, so.dim[so.ndim++] = n;
    /* Raw views refuse tensors that require a gradient: detach first. */
    tg_tensor *ca = tg_copy_to_graph(tg_view_expand(tg_detach(a), sa));
    tg_tensor *cb = tg_copy_to_graph(tg_view_expand(tg_detach(b), sb));
    tg_tensor *out = tg_empty(so);
    cr_assert(ca && cb && out, "%s", tg_error_message());
    int64_t batches = out->numel / (m * n);
    for (int64_t p = 0; p < batches; p++)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double sum = 0.0;
                for (int64_t q = 0; q < k; q++)
                    sum += (double)ca->data[(p * m + i) * k + q] * (double)cb->data[(p * k + q) * n + j];
                out->data[(p * m + i) * n + j] = (float)sum;
            }
    return out;
}

Test(grad_matmul, matmul_values_match_a_naive_loop)
{
    for (int i = 0; i < PRODUCTS; i++) {
        const product_case *c = &products[i];
        tg_tensor *a = c->a.view(make_leaf(c->a.leaf, FILL_ANY, 700 + (uint64_t)i));
        tg_tensor *b = c->b.view(make_leaf(c->b.leaf, FILL_ANY, 800 + (uint64_t)i));
        tg_tensor *y = tg_matmul(a, b);
        cr_assert_not_null(y, "%s: %s", c->name, tg_error_message());
        /* Vectors as torch.matmul: a row on the left, a column on the right,
         * their axis dropped from the result. */
        tg_tensor *ref = naive_matmul(a->ndim == 1 ? tg_unsqueeze(a, 0) : a,
                                      b->ndim == 1 ? tg_unsqueeze(b, 1) : b);
        tg_shape expected = tg_tensor_shape(ref);
        if (a->ndim == 1) {
            expected.dim[expected.ndim - 2] = expected.dim[expected.ndim - 1];
            expected.ndim--;
        }
        if (b->ndim == 1)
            expected.ndim--;
        char got[TG_SHAPE_STR_MAX];
        cr_assert(tg_shape_equal(tg_tensor_shape(y), expected), "%s: shape %s", c->name,
                  tg_shape_format(got, sizeof got, y));
        tg_assert_values(y, ref->data, ref->numel, 1e-5f);
    }
}

Test(grad_matmul, dot_product_of_two_vectors_is_0_d)
{
    tg_tensor *a = leaf_of(TG_SHAPE(3), (float[]){ 1, 2, 3 });
    tg_tensor *b = leaf_of(TG_SHAPE(3), (float[]){ 4, -5, 6 });
    tg_tensor *y = tg_matmul(a, b);
    cr_assert_not_null(y, "%s", tg_error_message());
    cr_assert_eq(y->ndim, 0);
    tg_assert_values(y, ((float[]){ 12 }), 1, 0.0f);
    cr_assert_eq(tg_backward(y), 0, "%s", tg_error_message());
    tg_assert_values(tg_grad(a), ((float[]){ 4, -5, 6 }), 3, 0.0f);
    tg_assert_values(tg_grad(b), ((float[]){ 1, 2, 3 }), 3, 0.0f);
}

/* ---- addmm ------------------------------------------------------------------------------- */

typedef struct addmm_case {
    const char *name;
    operand c, a, b;
} addmm_case;

static const addmm_case addmms[] = {
    { "c [3,2]", { "c", TG_SHAPE(3, 2), view_same }, { "a", TG_SHAPE(3, 4), view_same }, { "b", TG_SHAPE(4, 2), view_same } },
    { "c [2]", { "c", TG_SHAPE(2), view_same }, { "a", TG_SHAPE(3, 4), view_same }, { "b", TG_SHAPE(4, 2), view_same } },
    { "c [3,1]", { "c", TG_SHAPE(3, 1), view_same }, { "a", TG_SHAPE(3, 4), view_same }, { "b", TG_SHAPE(4, 2), view_same } },
    { "c 0-d", { "c", TG_SCALAR, view_same }, { "a", TG_SHAPE(3, 4), view_same }, { "b", TG_SHAPE(4, 2), view_same } },
    { "batched a", { "c", TG_SHAPE(2), view_same }, { "a", TG_SHAPE(2, 3, 4), view_same }, { "b", TG_SHAPE(4, 2), view_same } },
    { "transposed c and a", { "c", TG_SHAPE(2, 3), view_transposed }, { "a", TG_SHAPE(4, 3), view_transposed },
      { "b", TG_SHAPE(4, 2), view_same } },
    { "expanded c, sliced b", { "c", TG_SHAPE(1, 4), view_expanded }, { "a", TG_SHAPE(3, 4), view_same },
      { "b", TG_SHAPE(4, 9), view_step_sliced } },
};
#define ADDMMS ((int)(sizeof addmms / sizeof addmms[0]))

static tg_tensor *apply_addmm(tg_tensor *const *in, void *user)
{
    const addmm_case *k = user;
    return tg_addmm(k->c.view(in[0]), k->a.view(in[1]), k->b.view(in[2]));
}

Test(grad_matmul, addmm_with_broadcast_and_views)
{
    for (int i = 0; i < ADDMMS; i++) {
        const addmm_case *c = &addmms[i];
        tg_tensor *in[3] = { make_leaf(c->c.leaf, FILL_ANY, 900 + (uint64_t)i),
                             make_leaf(c->a.leaf, FILL_ANY, 910 + (uint64_t)i),
                             make_leaf(c->b.leaf, FILL_ANY, 920 + (uint64_t)i) };
        assert_gradcheck(apply_addmm, (void *)c, in, 3, c->name);
        tg_tensor *y = apply_addmm(in, (void *)c);
        tg_tensor *ref = naive_matmul(c->a.view(in[1]), c->b.view(in[2]));
        tg_tensor *sum = tg_add(ref, c->c.view(in[0]));
        tg_assert_values(y, sum->data, sum->numel, 1e-5f);
    }
}

static tg_tensor *apply_addmm_self(tg_tensor *const *in, void *user)
{
    (void)user;
    return tg_addmm(in[0], in[0], in[0]);
}

Test(grad_matmul, addmm_with_one_input_everywhere)
{
    tg_tensor *x = make_leaf(TG_SHAPE(3, 3), FILL_ANY, 9);
    assert_gradcheck(apply_addmm_self, NULL, &x, 1, "addmm(x, x, x)");
}

/* ---- affine ------------------------------------------------------------------------------- */

typedef struct affine_case {
    const char *name;
    operand x, w, bias;
    bool no_bias;
} affine_case;

static const affine_case affines[] = {
    { "x [3,4], bias [2]", { "x", TG_SHAPE(3, 4), view_same }, { "w", TG_SHAPE(2, 4), view_same },
      { "bias", TG_SHAPE(2), view_same }, false },
    { "no bias", { "x", TG_SHAPE(3, 4), view_same }, { "w", TG_SHAPE(2, 4), view_same },
      { "bias", TG_SHAPE(2), view_same }, true },
    { "x 1-d", { "x", TG_SHAPE(4), view_same }, { "w", TG_SHAPE(2, 4), view_same },
      { "bias", TG_SHAPE(2), view_same }, false },
    { "x [2,3,4], full bias", { "x", TG_SHAPE(2, 3, 4), view_same }, { "w", TG_SHAPE(5, 4), view_same },
      { "bias", TG_SHAPE(2, 3, 5), view_same }, false },
    { "x [2,3,4], bias [3,1]", { "x", TG_SHAPE(2, 3, 4), view_same }, { "w", TG_SHAPE(5, 4), view_same },
      { "bias", TG_SHAPE(3, 1), view_same }, false },
    { "1 output, 0-d bias", { "x", TG_SHAPE(3, 4), view_same }, { "w", TG_SHAPE(1, 4), view_same },
      { "bias", TG_SCALAR, view_same }, false },
    { "transposed x and w", { "x", TG_SHAPE(4, 3), view_transposed }, { "w", TG_SHAPE(4, 2), view_transposed },
      { "bias", TG_SHAPE(2), view_same }, false },
    { "permuted x (copied rows)", { "x", TG_SHAPE(2, 3, 4), view_permuted }, { "w", TG_SHAPE(2, 3), view_same },
      { "bias", TG_SHAPE(2), view_same }, false },
    { "expanded x and bias", { "x", TG_SHAPE(1, 4), view_expanded }, { "w", TG_SHAPE(2, 4), view_same },
      { "bias", TG_SHAPE(1, 2), view_expanded }, false },
    { "sliced x and w", { "x", TG_SHAPE(3, 9), view_step_sliced }, { "w", TG_SHAPE(2, 9), view_step_sliced },
      { "bias", TG_SHAPE(2), view_same }, false },
};
#define AFFINES ((int)(sizeof affines / sizeof affines[0]))

static tg_tensor *apply_affine(tg_tensor *const *in, void *user)
{
    const affine_case *k = user;
    return tg_affine(k->x.view(in[0]), k->w.view(in[1]), k->no_bias ? NULL : k->bias.view(in[2]));
}

Test(grad_matmul, affine_with_broadcast_bias_and_views)
{
    for (int i = 0; i < AFFINES; i++) {
        const affine_case *c = &affines[i];
        tg_tensor *in[3] = { make_leaf(c->x.leaf, FILL_ANY, 930 + (uint64_t)i),
                             make_leaf(c->w.leaf, FILL_ANY, 940 + (uint64_t)i),
                             make_leaf(c->bias.leaf, FILL_ANY, 950 + (uint64_t)i) };
        assert_gradcheck(apply_affine, (void *)c, in, c->no_bias ? 2 : 3, c->name);
        /* Value: x @ w^T + bias. */
        tg_tensor *x = c->x.view(in[0]);
        tg_tensor *ref = naive_matmul(x->ndim == 1 ? tg_unsqueeze(x, 0) : x,
                                      tg_transpose(c->w.view(in[1]), 0, 1));
        if (x->ndim == 1)
            ref = tg_view_squeeze(ref, 0);
        if (!c->no_bias)
            ref = tg_add(ref, c->bias.view(in[2]));
        tg_tensor *y = apply_affine(in, (void *)c);
        cr_assert(tg_tensor_same_shape(y, ref), "%s: shape", c->name);
        tg_tensor *r = tg_copy_to_graph(ref);
        tg_assert_values(y, r->data, r->numel, 1e-5f);
    }
}

static tg_tensor *apply_affine_self(tg_tensor *const *in, void *user)
{
    (void)user;
    return tg_affine(in[0], in[0], tg_select(in[0], 0, 1));
}

Test(grad_matmul, affine_with_one_input_as_x_weight_and_bias)
{
    tg_tensor *x = make_leaf(TG_SHAPE(3, 3), FILL_ANY, 10);
    assert_gradcheck(apply_affine_self, NULL, &x, 1, "affine(x, x, x[1])");
}

/* loss = sum_t sum(affine(x_t, w) * c_t) over `steps` steps of `rows` rows,
 * so dL/dw = sum_t c_t^T x_t, summed here in double. Returns how many
 * products the tall path (tensor/gemm_tall.h) computed in the backward. */
static uint64_t check_weight_gradient_over_steps(int64_t steps, int64_t rows, int64_t in, int64_t out)
{
    tg_rng rng = tg_rng_new(21);
    tg_tensor *x = tg_tensor_randn(TG_SHAPE(steps, rows, in), &rng);
    tg_tensor *c = tg_tensor_randn(TG_SHAPE(steps, rows, out), &rng);
    tg_tensor *w = tg_tensor_randn(TG_SHAPE(out, in), &rng);
    tg_set_requires_grad(w, true);
    tg_tensor *loss = NULL;
    for (int64_t t = 0; t < steps; t++) {
        tg_tensor *term = tg_sum_all(tg_mul(tg_affine(tg_select(x, 0, t), w, NULL), tg_select(c, 0, t)));
        loss = loss ? tg_add(loss, term) : term;
    }
    uint64_t tall_before = tg_gemm_tall_count();
    cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
    uint64_t tall = tg_gemm_tall_count() - tall_before;
    const tg_tensor *g = tg_grad(w);
    for (int64_t o = 0; o < out; o++)
        for (int64_t i = 0; i < in; i++) {
            double expected = 0;
            for (int64_t r = 0; r < steps * rows; r++)
                expected += (double)c->data[r * out + o] * (double)x->data[r * in + i];
            cr_assert_float_eq(g->data[o * in + i], (float)expected, 1e-3 * fmax(1.0, fabs(expected)),
                               "dw[%lld,%lld] = %g, expected %g", (long long)o, (long long)i,
                               (double)g->data[o * in + i], expected);
        }
    tg_tensor_free(x);
    tg_tensor_free(c);
    tg_tensor_free(w);
    return tall;
}

/* A weight applied at 30 steps of 50 rows: its postponed gradient is added
 * in chunks of steps (more rows than one chunk holds, and a partial last
 * chunk), each copied together for BLIS: the result is too small for the
 * tall path. */
Test(grad_matmul, affine_over_many_steps_sums_every_steps_weight_gradient)
{
    check_weight_gradient_over_steps(30, 50, 16, 8);
}

/* The shapes of a recurrent layer's input weight at 64 steps of a batch of
 * 32: each chunk of 1,024 rows goes through the tall path on a CPU that
 * has it, which reads the steps' rows where they lie. */
Test(grad_matmul, a_weight_over_many_rows_takes_the_tall_path)
{
    uint64_t tall = check_weight_gradient_over_steps(64, 32, 64, 128);
    if (__builtin_cpu_supports("avx512f"))
        cr_assert_eq(tall, 2, "the tall path computed %llu products, expected 2", (unsigned long long)tall);
}
