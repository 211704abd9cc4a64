/* The reference mode (tensor/reference.h) turns every speed path off; the
 * fast paths must give the same training, within float rounding. */
#include "support.h"

static void restore_mode(void)
{
    tg_set_reference_mode(false);
    tg_test_teardown();
}

TestSuite(reference_mode, .init = tg_test_setup, .fini = restore_mode);

enum { STEPS = 4, T = 12, B = 3, I = 5, H = 8, CLASSES = 4 };

typedef enum cell { RNN, LSTM, GRU } cell;
static const char *const cell_names[] = { "rnn", "lstm", "gru" };

typedef struct run {
    float params[4096];
    int64_t count;
    size_t arena_after_backward;
} run;

/* STEPS Adam steps of a recurrent layer and a head on fixed data, from
 * seed-fixed weights; the parameters after them, flattened. */
static void train(cell kind, bool reference, run *out)
{
    tg_set_reference_mode(reference);
    tg_model *model = tg_model_new(42);
    tg_rnn_config config = { .input = I, .hidden = H, .layers = 2, .gru = TG_GRU_PYTORCH };
    tg_rnn *layer = kind == LSTM ? tg_lstm_new(model, "rnn", config)
                  : kind == GRU  ? tg_gru_new(model, "rnn", config)
                                         : tg_rnn_new(model, "rnn", config);
    tg_linear *head = tg_linear_new(model, "head", (tg_linear_config){ .input = H, .output = CLASSES });
    tg_optimizer *adam = tg_adam_new(model, (tg_adam_config){ .lr = 1e-2f });
    cr_assert(layer && head && adam, "%s", tg_error_message());
    tg_rng rng = tg_rng_new(7);
    tg_tensor *x = tg_tensor_randn(TG_SHAPE(T, B, I), &rng);
    float labels[T * B];
    for (int i = 0; i < T * B; i++)
        labels[i] = (float)(i % CLASSES);
    tg_tensor *targets = tg_tensor_from_array(TG_SHAPE(T, B), labels);
    for (int step = 0; step < STEPS; step++) {
        tg_rnn_result r = tg_rnn_forward(layer, x, NULL);
        tg_tensor *loss = tg_cross_entropy(tg_linear_forward(head, r.output), targets, NULL);
        cr_assert_not_null(loss, "%s", tg_error_message());
        cr_assert_eq(tg_backward(loss), 0, "%s", tg_error_message());
        out->arena_after_backward = tg_arena_used(tg_arena_thread());
        cr_assert_eq(tg_optimizer_step(adam), 0, "%s", tg_error_message());
        tg_optimizer_zero_grad(adam);
        tg_graph_reset();
    }
    out->count = 0;
    for (int i = 0; i < tg_model_parameter_count(model); i++) {
        tg_tensor *p = tg_model_parameter(model, i);
        cr_assert_leq(out->count + p->numel, 4096);
        tg_tensor_to_array(p, out->params + out->count);
        out->count += p->numel;
    }
    tg_tensor_free(x);
    tg_tensor_free(targets);
    tg_optimizer_free(adam);
    tg_model_free(model);
}

static void assert_same_training(cell kind)
{
    static run fast, plain;
    train(kind, false, &fast);
    train(kind, true, &plain);
    cr_assert_eq(fast.count, plain.count);
    for (int64_t i = 0; i < fast.count; i++)
        cr_assert(fabsf(fast.params[i] - plain.params[i]) <= 1e-5f * fmaxf(1.0f, fabsf(plain.params[i])),
                  "%s parameter element %lld: %.8g fast, %.8g in the reference mode", cell_names[kind],
                  (long long)i, fast.params[i], plain.params[i]);
    /* The speed paths were really off: no buffer went back to the arena
     * and no small tensor shared its header, so the graph took more. */
    cr_assert_gt(plain.arena_after_backward, fast.arena_after_backward, "%zu bytes vs %zu",
                 plain.arena_after_backward, fast.arena_after_backward);
}

Test(reference_mode, rnn_trains_the_same) { assert_same_training(RNN); }
Test(reference_mode, lstm_trains_the_same) { assert_same_training(LSTM); }
Test(reference_mode, gru_trains_the_same) { assert_same_training(GRU); }

Test(reference_mode, the_environment_chooses_the_mode_and_the_setter_overrides_it)
{
    /* ctest runs the layer and optimizer tests with TAPEGRAD_REFERENCE=1;
     * here it is what the process was started with. */
    const char *env = getenv("TAPEGRAD_REFERENCE");
    bool expected = env && *env && strcmp(env, "0") != 0;
    cr_assert_eq(tg_reference_mode(), expected);
    tg_set_reference_mode(!expected);
    cr_assert_eq(tg_reference_mode(), !expected);
}
