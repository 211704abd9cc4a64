/* The recurrent cells' fused gate ops (tg_lstm_gates, tg_gru_gates,
 * tg_gru_seed_gates): values against the formulas computed in double,
 * first and second derivatives against central differences with
 * contiguous, transposed, step-sliced and broadcast operands and an input
 * given twice, no recording in no-grad mode, the shape errors, the nodes a
 * layer's step records, and rows split between threads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/check.h"

TestSuite(grad_cell, .init = tg_test_setup, .fini = tg_test_teardown);

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

static float at2(const tg_tensor *t, int64_t i, int64_t j) { return tg_tensor_get(t, (int64_t[]){ i, j }); }

/* ---- Values ------------------------------------------------------------------------ */

Test(grad_cell, lstm_gates_compute_h_and_c)
{
    tg_tensor *x = make_leaf(TG_SHAPE(3, 8), FILL_ANY, 1), *hg = make_leaf(TG_SHAPE(3, 8), FILL_ANY, 11);
    tg_tensor *c_prev = make_leaf(TG_SHAPE(3, 2), FILL_ANY, 2);
    tg_tensor *hc = tg_lstm_gates(x, hg, c_prev);
    cr_assert_not_null(hc, "%s", tg_error_message());
    cr_assert_eq(hc->ndim, 3);
    cr_assert(hc->shape[0] == 2 && hc->shape[1] == 3 && hc->shape[2] == 2);
    for (int64_t b = 0; b < 3; b++)
        for (int64_t j = 0; j < 2; j++) {
            double pre[4];
            for (int k = 0; k < 4; k++)
                pre[k] = (double)at2(x, b, 2 * k + j) + at2(hg, b, 2 * k + j);
            double i = sigmoid(pre[0]), f = sigmoid(pre[1]), g = tanh(pre[2]), o = sigmoid(pre[3]);
            double c = f * at2(c_prev, b, j) + i * g, h = o * tanh(c);
            cr_assert_float_eq(tg_tensor_get(hc, (int64_t[]){ 0, b, j }), h, 1e-6, "h[%lld,%lld]", (long long)b,
                               (long long)j);
            cr_assert_float_eq(tg_tensor_get(hc, (int64_t[]){ 1, b, j }), c, 1e-6, "c[%lld,%lld]", (long long)b,
                               (long long)j);
        }
}

Test(grad_cell, gru_gates_compute_the_pytorch_formulation)
{
    tg_tensor *x = make_leaf(TG_SHAPE(3, 6), FILL_ANY, 3), *hg = make_leaf(TG_SHAPE(3, 6), FILL_ANY, 4);
    tg_tensor *h_prev = make_leaf(TG_SHAPE(3, 2), FILL_ANY, 5);
    tg_tensor *h = tg_gru_gates(x, hg, h_prev);
    cr_assert_not_null(h, "%s", tg_error_message());
    for (int64_t b = 0; b < 3; b++)
        for (int64_t j = 0; j < 2; j++) {
            double r = sigmoid((double)at2(x, b, j) + at2(hg, b, j));
            double z = sigmoid((double)at2(x, b, 2 + j) + at2(hg, b, 2 + j));
            double n = tanh(at2(x, b, 4 + j) + r * at2(hg, b, 4 + j));
            double expected = (1.0 - z) * n + z * at2(h_prev, b, j);
            cr_assert_float_eq(at2(h, b, j), expected, 1e-6, "h[%lld,%lld]", (long long)b, (long long)j);
        }
}

Test(grad_cell, gru_seed_gates_compute_the_seed_formulation)
{
    tg_tensor *n_pre = make_leaf(TG_SHAPE(3, 4), FILL_ANY, 6), *z = make_leaf(TG_SHAPE(3, 4), FILL_ANY, 7);
    tg_tensor *h_prev = make_leaf(TG_SHAPE(4), FILL_ANY, 8); /* broadcast over the rows */
    tg_tensor *h = tg_gru_seed_gates(n_pre, z, h_prev);
    cr_assert_not_null(h, "%s", tg_error_message());
    for (int64_t b = 0; b < 3; b++)
        for (int64_t j = 0; j < 4; j++) {
            double p = h_prev->data[j], zj = at2(z, b, j);
            double expected = (1.0 - zj) * p + zj * tanh(at2(n_pre, b, j));
            cr_assert_float_eq(at2(h, b, j), expected, 1e-6, "h[%lld,%lld]", (long long)b, (long long)j);
        }
}

/* With grad mode off nothing is recorded, and the values are the same. */
Test(grad_cell, no_grad_mode_records_nothing_and_computes_the_same)
{
    tg_tensor *gates = make_leaf(TG_SHAPE(2, 12), FILL_ANY, 9), *c_prev = make_leaf(TG_SHAPE(2, 3), FILL_ANY, 10);
    tg_tensor *recorded = tg_lstm_gates(gates, gates, c_prev);
    size_t nodes = tg_graph_size();
    tg_no_grad_begin();
    tg_tensor *plain = tg_lstm_gates(gates, gates, c_prev);
    tg_tensor *gru = tg_gru_gates(tg_narrow(gates, 1, 0, 9), tg_narrow(gates, 1, 3, 9), c_prev);
    tg_no_grad_end();
    cr_assert(recorded && plain && gru, "%s", tg_error_message());
    cr_assert_eq(tg_graph_size(), nodes);
    cr_assert(!tg_requires_grad(plain) && tg_requires_grad(recorded));
    for (int64_t k = 0; k < plain->numel; k++)
        cr_assert_eq(plain->data[k], recorded->data[k], "element %lld", (long long)k);
}

/* ---- Gradients -------------------------------------------------------------------------- */

typedef struct cell_case {
    const char *name;
    tg_shape leaf[3];
    view_fn view[3];
    int n;
    tg_tensor *(*op)(tg_tensor *const *in);
} cell_case;

static tg_tensor *lstm(tg_tensor *const *in) { return tg_lstm_gates(in[0], in[1], in[2]); }
/* h alone reaches the objective: c's part of the output gradient is zero. */
static tg_tensor *lstm_h(tg_tensor *const *in) { return tg_select(tg_lstm_gates(in[0], in[1], in[2]), 0, 0); }
/* h and c used together, as the next step uses them. */
static tg_tensor *lstm_h_times_c(tg_tensor *const *in)
{
    tg_tensor *hc = tg_lstm_gates(in[0], in[1], in[2]);
    return tg_mul(tg_select(hc, 0, 0), tg_select(hc, 0, 1));
}
/* Two steps, the second reading the first's c; one tensor as both gate
 * inputs of the second. */
static tg_tensor *lstm_two_steps(tg_tensor *const *in)
{
    tg_tensor *c = tg_select(tg_lstm_gates(in[0], in[1], in[2]), 0, 1);
    tg_tensor *x = tg_mul_scalar(in[0], 0.5f);
    return tg_lstm_gates(x, x, c);
}
static tg_tensor *gru(tg_tensor *const *in) { return tg_gru_gates(in[0], in[1], in[2]); }
/* One tensor as both gate inputs: its two gradients add up. */
static tg_tensor *gru_same_gates(tg_tensor *const *in) { return tg_gru_gates(in[0], in[0], in[1]); }
static tg_tensor *seed(tg_tensor *const *in) { return tg_gru_seed_gates(in[0], in[1], in[2]); }
/* One tensor as n_pre and h_prev. */
static tg_tensor *seed_same_state(tg_tensor *const *in) { return tg_gru_seed_gates(in[0], in[1], in[0]); }

static const cell_case cases[] = {
    { "lstm contiguous", { TG_SHAPE(3, 8), TG_SHAPE(3, 8), TG_SHAPE(3, 2) }, { view_same, view_same, view_same },
      3, lstm },
    { "lstm transposed x, step-sliced h gates and c", { TG_SHAPE(8, 3), TG_SHAPE(3, 17), TG_SHAPE(3, 5) },
      { view_transposed, view_step_sliced, view_step_sliced }, 3, lstm },
    { "lstm broadcast c [2]", { TG_SHAPE(3, 8), TG_SHAPE(3, 8), TG_SHAPE(2) }, { view_same, view_same, view_same },
      3, lstm },
    { "lstm c expanded from [1,2]", { TG_SHAPE(3, 8), TG_SHAPE(3, 8), TG_SHAPE(1, 2) },
      { view_same, view_same, view_expanded }, 3, lstm },
    { "lstm, h alone", { TG_SHAPE(3, 8), TG_SHAPE(3, 8), TG_SHAPE(3, 2) }, { view_same, view_same, view_same }, 3,
      lstm_h },
    { "lstm, h times c", { TG_SHAPE(3, 8), TG_SHAPE(3, 8), TG_SHAPE(3, 2) }, { view_same, view_same, view_same },
      3, lstm_h_times_c },
    { "lstm, two steps", { TG_SHAPE(3, 8), TG_SHAPE(3, 8), TG_SHAPE(3, 2) }, { view_same, view_same, view_same },
      3, lstm_two_steps },
    { "gru contiguous", { TG_SHAPE(3, 6), TG_SHAPE(3, 6), TG_SHAPE(3, 2) }, { view_same, view_same, view_same },
      3, gru },
    { "gru transposed x, step-sliced h gates, broadcast h_prev [3,1]",
      { TG_SHAPE(6, 3), TG_SHAPE(3, 13), TG_SHAPE(3, 1) }, { view_transposed, view_step_sliced, view_same }, 3,
      gru },
    { "gru h_prev expanded from [1,2]", { TG_SHAPE(3, 6), TG_SHAPE(3, 6), TG_SHAPE(1, 2) },
      { view_same, view_same, view_expanded }, 3, gru },
    { "gru, one tensor as both gate inputs", { TG_SHAPE(3, 6), TG_SHAPE(3, 2) }, { view_same, view_same }, 2,
      gru_same_gates },
    { "gru seed contiguous", { TG_SHAPE(3, 2), TG_SHAPE(3, 2), TG_SHAPE(3, 2) },
      { view_same, view_same, view_same }, 3, seed },
    { "gru seed transposed n_pre, broadcast z [2], step-sliced h_prev",
      { TG_SHAPE(2, 3), TG_SHAPE(2), TG_SHAPE(3, 5) }, { view_transposed, view_same, view_step_sliced }, 3, seed },
    { "gru seed z expanded from [1,2]", { TG_SHAPE(3, 2), TG_SHAPE(1, 2), TG_SHAPE(3, 2) },
      { view_same, view_expanded, view_same }, 3, seed },
    { "gru seed, one tensor as n_pre and h_prev", { TG_SHAPE(3, 2), TG_SHAPE(3, 2) }, { view_same, view_same }, 2,
      seed_same_state },
};

static tg_tensor *apply_case(tg_tensor *const *leaves, void *user)
{
    const cell_case *c = user;
    tg_tensor *in[3] = { NULL };
    for (int k = 0; k < c->n; k++)
        in[k] = c->view[k](leaves[k]);
    return c->op(in);
}

Test(grad_cell, first_and_second_derivatives_match_central_differences)
{
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const cell_case *c = &cases[k];
        tg_tensor *leaves[3];
        for (int i = 0; i < c->n; i++)
            leaves[i] = make_leaf(c->leaf[i], FILL_ANY, 100 + 10 * k + (uint64_t)i);
        assert_gradcheck(apply_case, (void *)c, leaves, c->n, c->name);
    }
}

/* The first-order kernels and the rules written with ops (the reference
 * mode's) give the same gradients. */
Test(grad_cell, fused_and_op_gradients_agree)
{
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const cell_case *c = &cases[k];
        tg_tensor *leaves[3];
        float fused[3][64];
        for (int mode = 0; mode < 2; mode++) {
            tg_set_reference_mode(mode == 1);
            for (int i = 0; i < c->n; i++)
                leaves[i] = make_leaf(c->leaf[i], FILL_ANY, 500 + 10 * k + (uint64_t)i);
            tg_tensor *out = apply_case(leaves, (void *)c);
            tg_tensor *w = make_leaf(tg_tensor_shape(out), FILL_ANY, 900 + k);
            cr_assert_eq(tg_backward(tg_sum_all(tg_mul(out, w))), 0, "%s: %s", c->name, tg_error_message());
            for (int i = 0; i < c->n; i++) {
                tg_tensor *g = tg_grad(leaves[i]);
                cr_assert_not_null(g, "%s: input %d has no gradient", c->name, i);
                cr_assert_leq(g->numel, 64);
                for (int64_t e = 0; e < g->numel; e++) {
                    if (mode == 0)
                        fused[i][e] = g->data[e];
                    else
                        cr_assert_float_eq(g->data[e], fused[i][e], 1e-6, "%s: input %d element %lld", c->name,
                                           i, (long long)e);
                }
            }
            tg_graph_reset();
        }
        tg_set_reference_mode(false);
    }
}

/* A state input that is a view inside a gate input: its gradient lies in
 * the same memory as the gates'. The kernels write their targets one
 * block of 64 units after another, and with H = 100 the state's part
 * reaches across a block boundary of the gates'. The gradients must not
 * depend on that order: fused against the rules written with ops. */
#define SHARED_H 100

static tg_tensor *lstm_c_inside_gates(tg_tensor *gates, tg_tensor *h_gates)
{
    tg_tensor *x = tg_mul_scalar(gates, 1.0f); /* an intermediate: views share its gradient */
    return tg_lstm_gates(x, h_gates, tg_narrow(x, 1, 32, SHARED_H));
}

static tg_tensor *gru_h_inside_gates(tg_tensor *gates, tg_tensor *h_gates)
{
    tg_tensor *x = tg_mul_scalar(gates, 1.0f);
    return tg_gru_gates(x, h_gates, tg_narrow(x, 1, 32, SHARED_H));
}

static tg_tensor *seed_h_the_transposed_z(tg_tensor *z, tg_tensor *n_pre)
{
    tg_tensor *x = tg_mul_scalar(z, 1.0f);
    return tg_gru_seed_gates(n_pre, x, tg_transpose(x, 0, 1));
}

Test(grad_cell, a_state_inside_a_gate_input_gets_both_gradients)
{
    const struct {
        const char *name;
        tg_shape shape[2];
        tg_tensor *(*op)(tg_tensor *, tg_tensor *);
    } shared[] = {
        { "lstm", { TG_SHAPE(3, 4 * SHARED_H), TG_SHAPE(3, 4 * SHARED_H) }, lstm_c_inside_gates },
        { "gru", { TG_SHAPE(3, 3 * SHARED_H), TG_SHAPE(3, 3 * SHARED_H) }, gru_h_inside_gates },
        { "gru seed", { TG_SHAPE(SHARED_H, SHARED_H), TG_SHAPE(SHARED_H, SHARED_H) }, seed_h_the_transposed_z },
    };
    for (size_t k = 0; k < sizeof shared / sizeof shared[0]; k++) {
        float *fused[2] = { NULL };
        for (int mode = 0; mode < 2; mode++) {
            tg_set_reference_mode(mode == 1);
            tg_tensor *leaves[2];
            for (int i = 0; i < 2; i++)
                leaves[i] = make_leaf(shared[k].shape[i], FILL_ANY, 700 + 10 * k + (uint64_t)i);
            tg_tensor *out = shared[k].op(leaves[0], leaves[1]);
            tg_tensor *w = out ? make_leaf(tg_tensor_shape(out), FILL_ANY, 790 + k) : NULL;
            cr_assert_eq(tg_backward(tg_sum_all(tg_mul(out, w))), 0, "%s: %s", shared[k].name, tg_error_message());
            for (int i = 0; i < 2; i++) {
                tg_tensor *g = tg_grad(leaves[i]);
                cr_assert_not_null(g, "%s: input %d has no gradient", shared[k].name, i);
                if (mode == 0) {
                    fused[i] = malloc(sizeof(float) * (size_t)g->numel);
                    cr_assert_not_null(fused[i]);
                    memcpy(fused[i], g->data, sizeof(float) * (size_t)g->numel);
                    continue;
                }
                for (int64_t e = 0; e < g->numel; e++)
                    cr_assert_float_eq(g->data[e], fused[i][e], 1e-5, "%s: input %d element %lld", shared[k].name,
                                       i, (long long)e);
                free(fused[i]);
            }
            tg_graph_reset();
        }
        tg_set_reference_mode(false);
    }
}

/* ---- Errors ---------------------------------------------------------------------------------- */

Test(grad_cell, gates_of_the_wrong_shape_are_refused)
{
    cr_assert_null(tg_lstm_gates(tg_zeros(TG_SHAPE(3, 10)), tg_zeros(TG_SHAPE(3, 10)), tg_zeros(TG_SHAPE(3, 2))));
    cr_assert_str_eq(tg_error_message(), "lstm_gates: [3,10], [3,10], [3,2]: expected x_gates and h_gates [B, 4H] "
                                         "and c_prev broadcasting to [B, H]");
    tg_error_clear();
    cr_assert_null(tg_lstm_gates(tg_zeros(TG_SHAPE(3, 8)), tg_zeros(TG_SHAPE(3, 8)), tg_zeros(TG_SHAPE(4, 2))));
    cr_assert_str_eq(tg_error_message(), "lstm_gates: [3,8], [3,8], [4,2]: expected x_gates and h_gates [B, 4H] "
                                         "and c_prev broadcasting to [B, H]");
    tg_error_clear();
    cr_assert_null(tg_gru_gates(tg_zeros(TG_SHAPE(3, 6)), tg_zeros(TG_SHAPE(3, 9)), tg_zeros(TG_SHAPE(3, 2))));
    cr_assert_str_eq(tg_error_message(), "gru_gates: [3,6], [3,9], [3,2]: expected x_gates and h_gates [B, 3H] "
                                         "and h_prev broadcasting to [B, H]");
    tg_error_clear();
    cr_assert_null(tg_gru_seed_gates(tg_zeros(TG_SHAPE(3, 2)), tg_zeros(TG_SHAPE(3, 2)), tg_zeros(TG_SHAPE(2, 3, 2))));
    cr_assert_str_eq(tg_error_message(),
                     "gru_seed_gates: [3,2], [3,2], [2,3,2]: expected n_pre [B, H] and z and h_prev broadcasting to it");
    tg_error_clear();
    cr_assert_null(tg_lstm_gates(NULL, tg_zeros(TG_SHAPE(3, 8)), tg_zeros(TG_SHAPE(3, 2))));
    cr_assert(tg_error_occurred());
}

/* ---- In the layers --------------------------------------------------------------------------- */

/* Tape nodes one more timestep adds to a one-layer forward of `kind`. */
static size_t nodes_per_step(const char *kind, tg_gru_formulation gru)
{
    tg_model *model = tg_model_new(7);
    tg_rnn_config config = { .input = 3, .hidden = 4, .gru = gru };
    void *layer = kind[0] == 'l' ? (void *)tg_lstm_new(model, "l", config) : (void *)tg_gru_new(model, "g", config);
    cr_assert_not_null(layer, "%s", tg_error_message());
    size_t nodes[2];
    for (int k = 0; k < 2; k++) {
        tg_tensor *x = tg_zeros(TG_SHAPE(5 + k, 2, 3));
        size_t before = tg_graph_size();
        tg_rnn_result r = kind[0] == 'l' ? tg_lstm_forward(layer, x, NULL) : tg_gru_forward(layer, x, NULL);
        cr_assert_not_null(r.output, "%s", tg_error_message());
        nodes[k] = tg_graph_size() - before;
        tg_graph_reset();
    }
    tg_model_free(model);
    return nodes[1] - nodes[0];
}

/* A step records its products, its input's slice, the gate op and (LSTM)
 * the views of h and c; the reference mode composes the gates of ops. */
Test(grad_cell, a_layer_step_records_the_fused_op)
{
    cr_assert_eq(nodes_per_step("lstm", TG_GRU_SEED), 5);
    cr_assert_eq(nodes_per_step("gru", TG_GRU_PYTORCH), 3);
    cr_assert_eq(nodes_per_step("gru", TG_GRU_SEED), 10);
    tg_set_reference_mode(true);
    cr_assert_eq(nodes_per_step("lstm", TG_GRU_SEED), 14);
    cr_assert_eq(nodes_per_step("gru", TG_GRU_PYTORCH), 16);
    cr_assert_eq(nodes_per_step("gru", TG_GRU_SEED), 13);
    tg_set_reference_mode(false);
}

/* Rows of a large step are split between threads (B * H >= 65536); each
 * unit's formula is the same, so one and two threads agree exactly. */
Test(grad_cell, rows_split_between_threads_give_the_same_values)
{
    if (tg_max_num_threads() < 2)
        cr_skip_test("one core: nothing to split");
    float *values[2][4] = { { NULL } };
    int64_t sizes[4] = { 0 };
    for (int threads = 1; threads <= 2; threads++) {
        cr_assert_eq(tg_set_num_threads(threads), threads);
        tg_tensor *x = make_leaf(TG_SHAPE(64, 4096), FILL_ANY, 41), *hg = make_leaf(TG_SHAPE(64, 4096), FILL_ANY, 42);
        tg_tensor *c_prev = make_leaf(TG_SHAPE(64, 1024), FILL_ANY, 43);
        tg_tensor *hc = tg_lstm_gates(x, hg, c_prev);
        cr_assert_not_null(hc, "%s", tg_error_message());
        cr_assert_eq(tg_backward(tg_sum_all(tg_mul(hc, hc))), 0, "%s", tg_error_message());
        const tg_tensor *results[4] = { hc, tg_grad(x), tg_grad(hg), tg_grad(c_prev) };
        for (int k = 0; k < 4; k++) {
            cr_assert_not_null(results[k]);
            sizes[k] = results[k]->numel;
            values[threads - 1][k] = malloc(sizeof(float) * (size_t)sizes[k]);
            cr_assert_not_null(values[threads - 1][k]);
            memcpy(values[threads - 1][k], results[k]->data, sizeof(float) * (size_t)sizes[k]);
        }
        tg_graph_reset();
    }
    tg_set_num_threads(1);
    for (int k = 0; k < 4; k++) {
        cr_assert_eq(memcmp(values[0][k], values[1][k], sizeof(float) * (size_t)sizes[k]), 0, "result %d differs", k);
        free(values[0][k]);
        free(values[1][k]);
    }
}
