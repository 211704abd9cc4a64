/* The custom_layer example, run with --quick: its gradient checks (first
 * and second derivatives of the custom op, whose rule is written with ops), its
 * outputs, the checkpoint holding the custom cell, its determinism and its
 * refusals. The runs use one thread: the machine is shared, and OpenMP
 * threads that wait for each other make a loaded run many times slower. */
#include "examples/run_example.h"

TestSuite(custom_layer, .init = tg_test_setup, .fini = tg_test_teardown);

static const char EXAMPLE[] = "custom_layer";

static const char *const CELLS[] = { "mgu", "lstm", "gru" };

/* Runs the example with --quick --threads 1 --out dir and the extra
 * arguments (up to 2); asserts that it exited 0. */
static example_run run_quick(const char *dir, const char *a, const char *b)
{
    const char *args[] = { "--quick", "--threads", "1", "--out", dir, a, b, NULL };
    return run_example_expecting(0, EXAMPLE, args);
}

/* The line of output that starts with `start`. */
static const char *line_starting(const char *output, const char *start)
{
    const char *line = strstr(output, start);
    cr_assert_not_null(line, "no line \"%s\" in:\n%s", start, output);
    return line;
}

Test(custom_layer, the_gradient_checks_pass_and_catch_the_slip)
{
    char dir[512];
    example_out_dir("custom_layer_checks", dir, sizeof dir);
    example_run run = run_quick(dir, NULL, NULL);
    /* float32 central differences with eps 1e-3 agree to about 1e-4. */
    cr_assert_lt(number_after(run.output, "scaled_tanh: largest |analytic - numeric| "), 1e-3);
    cr_assert_lt(number_after(run.output, "mgu: largest |analytic - numeric| "), 1e-3);
    cr_assert(strstr(line_starting(run.output, "      passed: 24 elements"), "worst: input 0"));
    cr_assert(strstr(run.output, "      passed: 62 elements"), "%s", run.output);
    /* The rule is written with ops, so it is differentiated again: second
     * derivatives of the op alone (x's 24 elements and the output weight's
     * 24) and of the cell through it (its 62 inputs and the 6 output
     * weights), against central differences of first-order gradients. */
    cr_assert_lt(number_after(run.output, "scaled_tanh, second derivatives: largest |analytic - numeric| "), 1e-3);
    cr_assert(strstr(run.output, "      passed: 48 elements"), "%s", run.output);
    cr_assert_lt(number_after(run.output, "mgu, second derivatives: largest |analytic - numeric| "), 2e-3);
    cr_assert(strstr(run.output, "      passed: 68 elements"), "%s", run.output);
    /* Leaving out the factor b = 2/3 makes the rule 1.5 times too large. */
    cr_assert_gt(number_after(run.output, "scaled_tanh_slip: largest |analytic - numeric| "), 0.1);
    cr_assert(strstr(run.output, "      FAILED: 24 elements"), "%s", run.output);
    /* The cell's parameters under their names: 2H = 32 rows for 16 units. */
    const char *names[] = { "mgu.weight_ih    [32,2]", "mgu.weight_hh    [32,16]", "mgu.bias_ih      [32]",
                            "mgu.bias_hh      [32]" };
    for (int i = 0; i < 4; i++)
        cr_assert(strstr(run.output, names[i]), "no \"%s\" in:\n%s", names[i], run.output);
    example_run_free(&run);
}

Test(custom_layer, quick_run_trains_the_three_cells_and_writes_its_files)
{
    char dir[512], path[600];
    example_out_dir("custom_layer_files", dir, sizeof dir);
    example_run run = run_quick(dir, NULL, NULL);
    out_file(path, sizeof path, dir, "custom_layer_history.csv");
    tg_csv *history = assert_csv(path, "mgu_loss", 150);
    for (int k = 0; k < 3; k++) {
        char column[32];
        snprintf(column, sizeof column, "%s_loss", CELLS[k]);
        assert_column_fell(history, column);
        /* The table's test MSE is the last one the history recorded. */
        snprintf(column, sizeof column, "%s_test", CELLS[k]);
        float last;
        cr_assert_eq(tg_csv_float(history, tg_csv_rows(history) - 1, tg_csv_column(history, column), &last), 0);
        char row[16];
        snprintf(row, sizeof row, "    %-5s ", CELLS[k]);
        const char *line = line_starting(strstr(run.output, "test MSE"), row);
        double parameters, ms, mse;
        cr_assert_eq(sscanf(line + strlen(row), "%lf %lf %lf", &parameters, &ms, &mse), 3, "%.60s", line);
        cr_assert(fabs(mse - last) <= 1e-4, "%s: printed %g, history %g", CELLS[k], mse, last);
    }
    tg_csv_free(history);
    /* Parameters with the head (16 units, 2 inputs): MGU 2 * (32*2 + 32*16
     * + 32) + 17, LSTM 64*2 + 64*16 + 2*64 + 17, GRU 48*2 + 48*16 + 2*48 + 17. */
    cr_assert_eq(number_after(run.output, "    mgu   "), 657);
    cr_assert_eq(number_after(run.output, "    lstm  "), 1297);
    cr_assert_eq(number_after(run.output, "    gru   "), 977);
    /* Var(a + b) for a, b from U(0, 1) is 1/6, within sampling error over
     * 512 test sequences. */
    double answer_one = number_after(run.output, "always answering 1            ");
    cr_assert(answer_one > 0.13 && answer_one < 0.20, "always answering 1: %g", answer_one);
    out_file(path, sizeof path, dir, "custom_layer_loss.png");
    assert_png(path, 600, 400);
    example_run_free(&run);
}

Test(custom_layer, the_checkpoint_holds_the_custom_cell_and_resumes)
{
    char saved[512], loaded[512], checkpoint[600];
    example_out_dir("custom_layer_save", saved, sizeof saved);
    example_out_dir("custom_layer_load", loaded, sizeof loaded);
    out_file(checkpoint, sizeof checkpoint, saved, "run.ckpt");
    example_run a = run_quick(saved, "--save", checkpoint);
    example_run_free(&a);
    tg_safetensors *file = tg_safetensors_load(checkpoint);
    cr_assert_not_null(file, "%s", tg_error_message());
    const char *names[] = { "mgu.weight_ih", "mgu.weight_hh", "mgu.bias_ih", "mgu.bias_hh",
                            "optim.exp_avg.mgu.weight_hh", "lstm.weight_hh_l0", "gru.weight_hh_l0" };
    const tg_shape shapes[] = { TG_SHAPE(32, 2), TG_SHAPE(32, 16), TG_SHAPE(32), TG_SHAPE(32), TG_SHAPE(32, 16),
                                TG_SHAPE(64, 16), TG_SHAPE(48, 16) };
    for (int i = 0; i < 7; i++) {
        const tg_tensor *t = tg_safetensors_get(file, names[i]);
        cr_assert_not_null(t, "no %s in the checkpoint", names[i]);
        cr_assert(tg_shape_equal(tg_tensor_shape(t), shapes[i]), "%s has the wrong shape", names[i]);
    }
    cr_assert_str_eq(tg_safetensors_metadata(file, "step"), "150");
    tg_safetensors_free(file);

    example_run b = run_quick(loaded, "--load", checkpoint);
    cr_assert(strstr(b.output, "150 steps of training so far"), "%s", b.output);
    example_run_free(&b);
    /* The loaded run goes on from step 150 with trained weights: its first
     * loss is far below a fresh model's (whose prediction starts near 0,
     * for targets near 1). */
    assert_resumed_steps(saved, loaded, "custom_layer_history.csv", "mgu_loss", 150);
}

Test(custom_layer, eval_measures_the_loaded_cells_without_training)
{
    char saved[512], evaluated[512], checkpoint[600], path[600];
    example_out_dir("custom_layer_eval_save", saved, sizeof saved);
    example_out_dir("custom_layer_eval", evaluated, sizeof evaluated);
    out_file(checkpoint, sizeof checkpoint, saved, "run.ckpt");
    example_run a = run_quick(saved, "--save", checkpoint);
    example_run b = run_example_expecting(0, EXAMPLE, (const char *[]){ "--quick", "--threads", "1", "--out",
        evaluated, "--load", checkpoint, "--eval", NULL });
    cr_assert(strstr(b.output, "--eval: no training"), "%s", b.output);
    /* Each cell's test MSE is the one the saved run ended with; no time per step. */
    for (int k = 0; k < 3; k++) {
        char start[16];
        snprintf(start, sizeof start, "\n    %-5s ", CELLS[k]);
        double trained[3], loaded[3];
        cr_assert_eq(numbers_after(a.output, start, trained, 3), 3);
        cr_assert_eq(numbers_after(b.output, start, loaded, 3), 2, "%s", b.output);
        cr_assert_eq(loaded[0], trained[0]);
        cr_assert_eq(loaded[1], trained[2], "%s: test MSE %g, saved %g", CELLS[k], loaded[1], trained[2]);
    }
    out_file(path, sizeof path, evaluated, "custom_layer_history.csv");
    cr_assert_neq(access(path, F_OK), 0, "--eval wrote %s", path);
    example_run_free(&a);
    example_run_free(&b);
    assert_refused(EXAMPLE, (const char *[]){ "--out", evaluated, "--eval", NULL },
                   "--eval evaluates a saved model: give it with --load PATH");
}

Test(custom_layer, the_same_seed_gives_the_same_history)
{
    char first[512], second[512];
    example_out_dir("custom_layer_seed_a", first, sizeof first);
    example_out_dir("custom_layer_seed_b", second, sizeof second);
    example_run a = run_quick(first, "--seed", "9");
    example_run b = run_quick(second, "--seed", "9");
    example_run_free(&a);
    example_run_free(&b);
    assert_same_file(first, second, "custom_layer_history.csv");
}

Test(custom_layer, bad_input_exits_2_with_a_message)
{
    char dir[512], path[600];
    example_out_dir("custom_layer_refusals", dir, sizeof dir);
    assert_refused(EXAMPLE, (const char *[]){ "--out", dir, "--bogus", NULL }, "unknown option '--bogus'");
    assert_refused(EXAMPLE, (const char *[]){ "--out", dir, "--hidden", "-3", NULL },
                   "bad value '-3' for option '--hidden'");
    assert_refused(EXAMPLE, (const char *[]){ "--out", dir, "--length", "1", NULL }, "--length must be in [2, 10000]");
    assert_refused(EXAMPLE, (const char *[]){ "--out", dir, "--epochs", "3", NULL },
                   "--epochs: this example makes its own");
    assert_refused(EXAMPLE, (const char *[]){ "--out", dir, "--data", "sequences.csv", NULL },
                   "--data: this example makes its own sequences");
    out_file(path, sizeof path, dir, "missing.ckpt");
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--out", dir, "--load", path, NULL }, path);
}
