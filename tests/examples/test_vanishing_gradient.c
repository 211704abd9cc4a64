/* The vanishing_gradient example, run with --quick: its outputs, the
 * physics its numbers must show, its determinism, its checkpoints and its
 * refusals. The runs use one thread: the machine is shared, and OpenMP
 * threads that wait for each other make a loaded run many times slower. */
#include "examples/run_example.h"

TestSuite(vanishing_gradient, .init = tg_test_setup, .fini = tg_test_teardown);

static const char EXAMPLE[] = "vanishing_gradient";

enum { T = 16 }; /* --quick's sequence length */

static const char *const CURVES[] = { "rnn_before", "lstm_before", "gru_before", "rnn_after",
                                      "lstm_after", "gru_after", "fresh_lstm_forget_bias_0",
                                      "fresh_lstm_forget_bias_1" };

/* Runs the example with --quick --threads 1 --out dir and the extra
 * arguments (up to 4); asserts that it exited 0. */
static example_run run_quick(const char *dir, const char *a, const char *b, const char *c, const char *d)
{
    const char *args[] = { "--quick", "--threads", "1", "--out", dir, a, b, c, d, NULL };
    return run_example_expecting(0, EXAMPLE, args);
}

/* The column of the norms CSV in dir called name, T values. */
static void read_curve(const char *dir, const char *name, float *values)
{
    char path[600];
    out_file(path, sizeof path, dir, "vanishing_gradient_norms.csv");
    tg_csv *csv = assert_csv(path, name, T);
    cr_assert_eq(tg_csv_rows(csv), T, "%s has %d rows", path, tg_csv_rows(csv));
    cr_assert_eq(tg_csv_column_floats(csv, name, values), 0, "%s", tg_error_message());
    tg_csv_free(csv);
}

Test(vanishing_gradient, quick_run_writes_its_csv_and_png_files)
{
    char dir[512], path[600];
    example_out_dir("vanishing_gradient_files", dir, sizeof dir);
    example_run run = run_quick(dir, NULL, NULL, NULL, NULL);
    const char *expected[] = { "## 1. Why gradients vanish", "## 4. Gradients before training",
                               "first/last", "## 8. What the numbers say", "Learned the task",
                               "vanishing_gradient_norms.png" };
    for (size_t i = 0; i < sizeof expected / sizeof *expected; i++)
        cr_assert(strstr(run.output, expected[i]), "no \"%s\" in:\n%s", expected[i], run.output);
    example_run_free(&run);

    out_file(path, sizeof path, dir, "vanishing_gradient_history.csv");
    tg_csv *history = assert_csv(path, "rnn_loss", 150);
    for (int k = 0; k < 3; k++)
        assert_column_fell(history, (const char *[]){ "rnn_loss", "lstm_loss", "gru_loss" }[k]);
    tg_csv_free(history);
    for (size_t c = 0; c < sizeof CURVES / sizeof *CURVES; c++) {
        float norms[T];
        read_curve(dir, CURVES[c], norms);
        for (int t = 0; t < T; t++)
            cr_assert(isfinite(norms[t]) && norms[t] >= 0.0f, "%s[%d] = %g", CURVES[c], t, norms[t]);
    }
    out_file(path, sizeof path, dir, "vanishing_gradient_norms.png");
    assert_png(path, 600, 400);
    out_file(path, sizeof path, dir, "vanishing_gradient_loss.png");
    assert_png(path, 600, 400);
}

/* The printed first/last of a table row ("    <cell>  <when> ..."): the
 * second to last number of the line. */
static double printed_ratio(const char *output, const char *row_start)
{
    double values[8];
    int n = numbers_after(output, row_start, values, 8);
    cr_assert_eq(n, 7, "row \"%s\" has %d numbers", row_start, n);
    return values[5];
}

Test(vanishing_gradient, the_numbers_show_the_gradient_vanishing)
{
    char dir[512];
    example_out_dir("vanishing_gradient_physics", dir, sizeof dir);
    example_run run = run_quick(dir, NULL, NULL, NULL, NULL);
    /* At initialisation the RNN's gradient at the first of 16 steps is a
     * small fraction of the last step's. */
    float rnn[T];
    read_curve(dir, "rnn_before", rnn);
    cr_assert_lt(rnn[0], 1e-2f * rnn[T - 1], "rnn: %g at t=0, %g at t=%d", rnn[0], rnn[T - 1], T - 1);
    /* The table prints the CSV's ratio first/last. */
    double ratio = printed_ratio(run.output, "    rnn   before");
    cr_assert(fabs(ratio - rnn[0] / rnn[T - 1]) <= 0.01 * ratio, "printed %g, CSV %g", ratio,
              rnn[0] / rnn[T - 1]);
    /* A forget-gate bias of 1 (f = 0.73 rather than 0.5) lets more gradient
     * through to the first step. */
    float plain[T], biased[T];
    read_curve(dir, "fresh_lstm_forget_bias_0", plain);
    read_curve(dir, "fresh_lstm_forget_bias_1", biased);
    cr_assert_gt(biased[0] / biased[T - 1], 5.0f * plain[0] / plain[T - 1], "bias 1: %g, bias 0: %g",
                 biased[0] / biased[T - 1], plain[0] / plain[T - 1]);
    example_run_free(&run);
}

Test(vanishing_gradient, the_same_seed_gives_the_same_numbers)
{
    char first[512], second[512];
    example_out_dir("vanishing_gradient_seed_a", first, sizeof first);
    example_out_dir("vanishing_gradient_seed_b", second, sizeof second);
    example_run a = run_quick(first, "--seed", "5", NULL, NULL);
    example_run b = run_quick(second, "--seed", "5", NULL, NULL);
    example_run_free(&a);
    example_run_free(&b);
    for (size_t c = 0; c < sizeof CURVES / sizeof *CURVES; c++) {
        float x[T], y[T];
        read_curve(first, CURVES[c], x);
        read_curve(second, CURVES[c], y);
        for (int t = 0; t < T; t++)
            cr_assert_eq(x[t], y[t], "%s[%d]: %g then %g", CURVES[c], t, x[t], y[t]);
    }
}

Test(vanishing_gradient, a_loaded_checkpoint_starts_where_the_saved_run_ended)
{
    char saved[512], loaded[512], checkpoint[600];
    example_out_dir("vanishing_gradient_save", saved, sizeof saved);
    example_out_dir("vanishing_gradient_load", loaded, sizeof loaded);
    out_file(checkpoint, sizeof checkpoint, saved, "run.ckpt");
    example_run a = run_quick(saved, "--save", checkpoint, NULL, NULL);
    example_run b = run_quick(loaded, "--load", checkpoint, "--steps", "10");
    cr_assert(strstr(b.output, "trained for 150 steps"), "%s", b.output);
    example_run_free(&a);
    example_run_free(&b);
    /* Same seed, same probe batch: the loaded weights give the gradients the
     * saved run measured after its training. */
    const char *cells[] = { "rnn", "lstm", "gru" };
    for (int k = 0; k < 3; k++) {
        char after[32], before[32];
        snprintf(after, sizeof after, "%s_after", cells[k]);
        snprintf(before, sizeof before, "%s_before", cells[k]);
        float x[T], y[T];
        read_curve(saved, after, x);
        read_curve(loaded, before, y);
        for (int t = 0; t < T; t++)
            cr_assert(fabsf(x[t] - y[t]) <= 1e-5f * fabsf(x[t]), "%s[%d]: saved %g, loaded %g", cells[k], t,
                      x[t], y[t]);
    }
    /* Training continued from the saved step. */
    char path[600];
    out_file(path, sizeof path, loaded, "vanishing_gradient_history.csv");
    tg_csv *history = assert_csv(path, "step", 10);
    cr_assert_str_eq(tg_csv_field(history, 0, tg_csv_column(history, "step")), "150");
    tg_csv_free(history);
}

Test(vanishing_gradient, eval_measures_the_loaded_cells_without_training)
{
    char saved[512], evaluated[512], checkpoint[600], path[600];
    example_out_dir("vanishing_gradient_eval_save", saved, sizeof saved);
    example_out_dir("vanishing_gradient_eval", evaluated, sizeof evaluated);
    out_file(checkpoint, sizeof checkpoint, saved, "run.ckpt");
    example_run a = run_quick(saved, "--save", checkpoint, NULL, NULL);
    example_run b = run_quick(evaluated, "--load", checkpoint, "--eval", NULL);
    cr_assert(strstr(b.output, "## 4. Gradients of the loaded cells"), "%s", b.output);
    cr_assert_null(strstr(b.output, "## 5. Training"), "it trained:\n%s", b.output);
    /* The loaded cells measure as the saved run's cells did after training. */
    const char *cells[] = { "rnn", "lstm", "gru" };
    for (int k = 0; k < 3; k++) {
        char label[32];
        snprintf(label, sizeof label, "    %-5s probe MSE ", cells[k]);
        double trained[2], loaded;
        cr_assert_eq(numbers_after(a.output, label, trained, 2), 2);
        cr_assert_eq(numbers_after(b.output, label, &loaded, 1), 1);
        cr_assert_eq(loaded, trained[1], "%s: %g loaded, %g after training", cells[k], loaded, trained[1]);
        snprintf(label, sizeof label, "    %-5s after ", cells[k]);
        double after[7], from_file[7];
        cr_assert_eq(numbers_after(a.output, label, after, 7), 7);
        snprintf(label, sizeof label, "    %-5s loaded ", cells[k]);
        cr_assert_eq(numbers_after(b.output, label, from_file, 7), 7);
        for (int i = 0; i < 7; i++)
            cr_assert_eq(from_file[i], after[i], "%s: column %d", cells[k], i);
    }
    out_file(path, sizeof path, evaluated, "vanishing_gradient_norms.csv");
    cr_assert_neq(access(path, F_OK), 0, "--eval wrote %s", path);
    example_run_free(&a);
    example_run_free(&b);
    assert_refused(EXAMPLE, (const char *[]){ "--out", evaluated, "--eval", NULL },
                   "--eval evaluates a saved model: give it with --load PATH");
}

Test(vanishing_gradient, bad_input_exits_2_with_a_message)
{
    char dir[512], path[600];
    example_out_dir("vanishing_gradient_refusals", dir, sizeof dir);
    assert_refused(EXAMPLE, (const char *[]){ "--out", dir, "--bogus", NULL }, "unknown option '--bogus'");
    assert_refused(EXAMPLE, (const char *[]){ "--out", dir, "--length", "x", NULL },
                   "bad value 'x' for option '--length'");
    assert_refused(EXAMPLE, (const char *[]){ "--out", dir, "--length", "2", NULL }, "--length must be in [4, 10000]");
    assert_refused(EXAMPLE, (const char *[]){ "--out", dir, "--data", "sequences.csv", NULL },
                   "--data: this example makes its own sequences");
    out_file(path, sizeof path, dir, "missing.ckpt");
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--out", dir, "--load", path, NULL }, path);
    out_file(path, sizeof path, dir, "bad.ckpt");
    write_text_file(path, "not a checkpoint");
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--out", dir, "--load", path, NULL }, "bad.ckpt");
}
