/* Models of many parameters: registration and loading find names through
 * hash indexes, so a model of N parameters builds, saves and loads in time
 * linear in N (an LSTM of 16,000 layers, 64,000 parameters, took 4.9 s to
 * build when each registration scanned the names before it). */
#include "io/io_support.h"

#include <time.h>

TestSuite(model_scale, .init = io_setup, .fini = io_teardown, .timeout = 120);

/* CPU seconds of this process (not inflated by other busy programs). */
static double cpu_seconds(void) { return (double)clock() / CLOCKS_PER_SEC; }

Test(model_scale, an_lstm_of_16000_layers_builds_saves_and_loads)
{
    enum { LAYERS = 16000 };
    double start = cpu_seconds();
    tg_model *model = tg_model_new(1);
    tg_lstm *lstm = tg_lstm_new(model, "lstm", (tg_rnn_config){ .input = 1, .hidden = 1,
                                                                .layers = LAYERS });
    double built = cpu_seconds() - start;
    cr_assert_not_null(lstm, "%s", tg_error_message());
    cr_assert_eq(tg_model_parameter_count(model), 4 * LAYERS);
    cr_assert_eq(tg_model_find(model, "lstm.bias_hh_l15999"),
                 tg_model_parameter(model, 4 * LAYERS - 1));
    cr_assert_null(tg_model_find(model, "lstm.bias_hh_l16000"));
    /* A name taken is still refused. */
    cr_assert_null(tg_model_add_parameter(model, "lstm.weight_ih_l8000", TG_SHAPE(1)));
    tg_assert_error("a parameter named \"lstm.weight_ih_l8000\" already exists");
    tg_error_clear();

    const char *path = io_path("deep.ckpt");
    start = cpu_seconds();
    cr_assert_eq(tg_model_save(model, path), 0, "%s", tg_error_message());
    tg_model *other = tg_model_new(2);
    cr_assert_not_null(tg_lstm_new(other, "lstm", (tg_rnn_config){ .input = 1, .hidden = 1,
                                                                    .layers = LAYERS }));
    tg_load_report report;
    cr_assert_eq(tg_model_load(other, path, TG_LOAD_STRICT, &report), 0, "%s", tg_error_message());
    double saved_and_loaded = cpu_seconds() - start;
    cr_assert_eq(report.loaded, 4 * LAYERS);
    const tg_tensor *a = tg_model_find(model, "lstm.weight_hh_l12345"),
                    *b = tg_model_find(other, "lstm.weight_hh_l12345");
    cr_assert_eq(a->data[0], b->data[0]);
    fprintf(stderr, "model_scale: a 16,000-layer LSTM built in %.3f s, saved and loaded in "
            "%.3f s (CPU)\n", built, saved_and_loaded);
    tg_model_free(model);
    tg_model_free(other);
}
