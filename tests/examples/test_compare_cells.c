/* The compare_cells example, run with --quick: its table against its
 * history, the quantities that do not depend on timing (parameters,
 * memory), its initialisation, its determinism, its checkpoints and its
 * refusals. Times per step are printed but not asserted: the machine is
 * shared. The runs use one thread, for the same reason. */
#include "examples/run_example.h"

TestSuite(compare_cells, .init = tg_test_setup, .fini = tg_test_teardown);

static const char EXAMPLE[] = "compare_cells";

static const char *const CELLS[] = { "rnn", "lstm", "gru" };
static const int LENGTHS[] = { 8, 16 }; /* --quick's */

/* Runs the example with --quick --threads 1 --out dir and up to two more
 * arguments; asserts that it exited 0. */
static example_run run_quick(const char *dir, const char *a, const char *b)
{
    const char *args[] = { "--quick", "--threads", "1", "--out", dir, a, b, NULL };
    return run_example_expecting(0, EXAMPLE, args);
}

/* The table row whose factor is `factor`: its three cells into values
 * (the first number of each). */
static void table_row(const char *output, const char *factor, double values[3])
{
    char start[64];
    snprintf(start, sizeof start, "    | %-27s |", factor);
    const char *p = strstr(output, start);
    cr_assert_not_null(p, "no row \"%s\" in:\n%s", factor, output);
    p += strlen(start);
    for (int k = 0; k < 3; k++) {
        char *end;
        values[k] = strtod(p, &end);
        cr_assert(end != p, "row \"%s\", column %d: no number", factor, k);
        p = strchr(end, '|');
        cr_assert_not_null(p);
        p++;
    }
}

Test(compare_cells, quick_run_prints_the_measured_table_and_writes_its_files)
{
    char dir[512], path[600];
    example_out_dir("compare_cells_files", dir, sizeof dir);
    example_run run = run_quick(dir, NULL, NULL);
    /* The seed's words stand beside the measurements. */
    const char *expected[] = { "| Gates                       | No gates               | Input, forget, output  | Update, reset",
                               "| Long-term dependency        | Poor                   | Excellent              | Good",
                               "## 5. What the numbers say", "- Training speed: RNN " };
    for (size_t i = 0; i < sizeof expected / sizeof *expected; i++)
        cr_assert(strstr(run.output, expected[i]), "no \"%s\" in:\n%s", expected[i], run.output);

    /* Parameters of 16 units on 2 inputs, with the head's 17: G blocks of
     * 16*2 + 16*16 + 2*16 = 320, G = 1, 4, 3. */
    double parameters[3];
    table_row(run.output, "  parameters", parameters);
    cr_assert_eq(parameters[0], 337);
    cr_assert_eq(parameters[1], 1297);
    cr_assert_eq(parameters[2], 977);

    /* Memory: the LSTM keeps the most per step, the RNN the least. */
    double memory[3];
    table_row(run.output, "  memory of a step", memory);
    cr_assert(memory[0] > 0.0 && memory[0] < memory[2] && memory[2] < memory[1], "RNN %g, LSTM %g, GRU %g MiB",
              memory[0], memory[1], memory[2]);
    double ms[3];
    table_row(run.output, "  time per step", ms);
    for (int k = 0; k < 3; k++)
        cr_assert(ms[k] > 0.0 && isfinite(ms[k]), "%s: %g ms", CELLS[k], ms[k]);

    /* The table's MSE at each length is the history's last test MSE. */
    double mse[3];
    table_row(run.output, "MSE at T = 8/16", mse);
    out_file(path, sizeof path, dir, "compare_cells_history.csv");
    tg_csv *history = assert_csv(path, "rnn_T8_loss", 150);
    for (int k = 0; k < 3; k++)
        for (int l = 0; l < 2; l++) {
            char column[32];
            snprintf(column, sizeof column, "%s_T%d_loss", CELLS[k], LENGTHS[l]);
            assert_column_fell(history, column);
            snprintf(column, sizeof column, "%s_T%d_test", CELLS[k], LENGTHS[l]);
            float last;
            cr_assert_eq(tg_csv_float(history, tg_csv_rows(history) - 1, tg_csv_column(history, column), &last), 0);
            if (l == 0)
                cr_assert(fabs(mse[k] - last) <= 1e-3, "%s: printed %g, history %g", column, mse[k], last);
        }
    tg_csv_free(history);
    /* Var(a + b) for a, b from U(0, 1) is 1/6, within sampling error. */
    const char *one = strstr(run.output, "always answering 1 scores ");
    cr_assert_not_null(one);
    double answer_one = strtod(one + strlen("always answering 1 scores "), NULL);
    cr_assert(answer_one > 0.13 && answer_one < 0.20, "always answering 1: %g", answer_one);

    out_file(path, sizeof path, dir, "compare_cells_curves.png");
    assert_png(path, 900, 360);
    example_run_free(&run);
}

/* The LSTM's forget-gate bias, bias_ih[H, 2H) + bias_hh[H, 2H), of the
 * T = 8 LSTM in a checkpoint, averaged over its 16 units. */
static double forget_bias(const char *checkpoint)
{
    tg_safetensors *file = tg_safetensors_load(checkpoint);
    cr_assert_not_null(file, "%s", tg_error_message());
    const tg_tensor *ih = tg_safetensors_get(file, "T8.lstm.bias_ih_l0");
    const tg_tensor *hh = tg_safetensors_get(file, "T8.lstm.bias_hh_l0");
    cr_assert(ih && hh && ih->numel == 64 && hh->numel == 64);
    double sum = 0.0;
    for (int i = 16; i < 32; i++)
        sum += ih->data[i] + hh->data[i];
    tg_safetensors_free(file);
    return sum / 16;
}

Test(compare_cells, the_lstm_starts_with_forget_bias_one_unless_asked)
{
    char dir[512], checkpoint[600];
    example_out_dir("compare_cells_init", dir, sizeof dir);
    out_file(checkpoint, sizeof checkpoint, dir, "one_step.ckpt");
    /* One step of Adam moves each bias by at most about lr = 0.01. */
    const char *save[] = { "--quick", "--threads", "1", "--out", dir, "--steps", "1", "--save", checkpoint, NULL };
    example_run b = run_example(EXAMPLE, save);
    cr_assert_eq(b.exit_code, 0, "%s", b.output);
    cr_assert(strstr(b.output, "forget_bias_one"), "%s", b.output);
    example_run_free(&b);
    double biased = forget_bias(checkpoint);
    cr_assert(fabs(biased - 1.0) < 0.05, "forget-gate bias %g", biased);

    const char *plain[] = { "--quick", "--threads", "1", "--out", dir, "--steps", "1", "--lstm-default-init",
                            "--save", checkpoint, NULL };
    example_run c = run_example(EXAMPLE, plain);
    cr_assert_eq(c.exit_code, 0, "%s", c.output);
    example_run_free(&c);
    /* Two draws from U(-1/4, 1/4) each: the mean of 16 sums is near 0. */
    double drawn = forget_bias(checkpoint);
    cr_assert(fabs(drawn) < 0.3, "forget-gate bias %g", drawn);
}

Test(compare_cells, the_same_seed_gives_the_same_history)
{
    char first[512], second[512];
    example_out_dir("compare_cells_seed_a", first, sizeof first);
    example_out_dir("compare_cells_seed_b", second, sizeof second);
    example_run a = run_quick(first, "--seed", "3");
    example_run b = run_quick(second, "--seed", "3");
    example_run_free(&a);
    example_run_free(&b);
    assert_same_file(first, second, "compare_cells_history.csv");
}

Test(compare_cells, a_loaded_checkpoint_resumes_the_training)
{
    char saved[512], loaded[512], checkpoint[600];
    example_out_dir("compare_cells_save", saved, sizeof saved);
    example_out_dir("compare_cells_load", loaded, sizeof loaded);
    out_file(checkpoint, sizeof checkpoint, saved, "run.ckpt");
    example_run a = run_quick(saved, "--save", checkpoint);
    example_run_free(&a);
    example_run b = run_quick(loaded, "--load", checkpoint);
    cr_assert(strstr(b.output, "150 steps of training so far"), "%s", b.output);
    example_run_free(&b);
    /* The loaded run goes on from step 150 with trained weights: its first
     * losses are far below a fresh model's (which starts near 0 for targets
     * near 1). */
    assert_resumed_steps(saved, loaded, "compare_cells_history.csv", "gru_T16_loss", 150);
}

/* The `|`-separated cells of the table row whose first cell starts with factor. */
static void row_text(const char *output, const char *factor, char *out, size_t n)
{
    char start[64];
    snprintf(start, sizeof start, "| %s", factor);
    const char *row = strstr(output, start);
    cr_assert_not_null(row, "no row \"%s\" in:\n%s", factor, output);
    size_t length = strcspn(row, "\n");
    cr_assert_lt(length, n);
    memcpy(out, row, length);
    out[length] = '\0';
}

Test(compare_cells, eval_measures_the_loaded_cells_without_training)
{
    char saved[512], evaluated[512], checkpoint[600], path[600];
    example_out_dir("compare_cells_eval_save", saved, sizeof saved);
    example_out_dir("compare_cells_eval", evaluated, sizeof evaluated);
    out_file(checkpoint, sizeof checkpoint, saved, "run.ckpt");
    example_run a = run_quick(saved, "--save", checkpoint);
    example_run b = run_example_expecting(0, EXAMPLE, (const char *[]){ "--quick", "--threads", "1", "--out",
        evaluated, "--load", checkpoint, "--eval", NULL });
    cr_assert(strstr(b.output, "## 3. Evaluation only"), "%s", b.output);
    /* The same parameters, memory and test MSE as the saved run; no times. */
    const char *rows[] = { "  parameters", "MSE at T = 8/16", "  memory of a step" };
    for (int k = 0; k < 3; k++) {
        char trained[512], loaded[512];
        row_text(a.output, rows[k], trained, sizeof trained);
        row_text(b.output, rows[k], loaded, sizeof loaded);
        cr_assert_str_eq(loaded, trained);
    }
    char times[512];
    row_text(b.output, "  time per step", times, sizeof times);
    cr_assert(strstr(times, "- (--eval)"), "%s", times);
    out_file(path, sizeof path, evaluated, "compare_cells_history.csv");
    cr_assert_neq(access(path, F_OK), 0, "--eval wrote %s", path);
    example_run_free(&a);
    example_run_free(&b);
    assert_refused(EXAMPLE, (const char *[]){ "--out", evaluated, "--eval", NULL },
                   "--eval evaluates a saved model: give it with --load PATH");
}

Test(compare_cells, bad_input_exits_2_with_a_message)
{
    char dir[512], path[600];
    example_out_dir("compare_cells_refusals", dir, sizeof dir);
    assert_refused(EXAMPLE, (const char *[]){ "--out", dir, "--bogus", NULL }, "unknown option '--bogus'");
    assert_refused(EXAMPLE, (const char *[]){ "--out", dir, "--hidden", "x", NULL },
                   "bad value 'x' for option '--hidden'");
    const char *bad_lengths[] = { "8,x", "3", "8,,16", "16,", "1,2,3,4,5,6,7" };
    for (size_t i = 0; i < sizeof bad_lengths / sizeof *bad_lengths; i++) {
        char expected[64];
        snprintf(expected, sizeof expected, "--lengths '%s'", bad_lengths[i]);
        assert_refused(EXAMPLE, (const char *[]){ "--out", dir, "--lengths", bad_lengths[i], NULL }, expected);
    }
    assert_refused(EXAMPLE, (const char *[]){ "--out", dir, "--data", "sequences.csv", NULL },
                   "--data: this example makes its own sequences");
    assert_refused(EXAMPLE, (const char *[]){ "--out", dir, "--epochs", "2", NULL },
                   "--epochs: this example makes its own");
    out_file(path, sizeof path, dir, "missing.ckpt");
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--threads", "1", "--out", dir, "--load", path, NULL }, path);
    out_file(path, sizeof path, dir, "bad.ckpt");
    write_text_file(path, "not a checkpoint");
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--threads", "1", "--out", dir, "--load", path, NULL },
                   "bad.ckpt");
    /* A checkpoint of other lengths does not fit. */
    out_file(path, sizeof path, dir, "other.ckpt");
    example_run saved = run_quick(dir, "--save", path);
    example_run_free(&saved);
    const char *other_lengths[] = { "--quick", "--threads", "1", "--out", dir, "--lengths", "8,12", "--load", path,
                                    NULL };
    assert_refused(EXAMPLE, other_lengths, "T12");
}
