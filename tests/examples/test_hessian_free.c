/* The hessian_free example, run with --quick: the Gauss-Newton product it
 * checks against finite differences, the Hessian-free loss falling, its
 * table matching its CSV files, its PNG, its determinism and its
 * refusals. One thread, as the other example tests. */
#include "examples/run_example.h"

TestSuite(hessian_free, .init = tg_test_setup, .fini = tg_test_teardown);

static const char EXAMPLE[] = "hessian_free";

enum { ITERATIONS = 6 }; /* --quick's Hessian-free iterations */

static example_run run_quick(const char *dir, const char *a, const char *b)
{
    const char *args[] = { "--quick", "--threads", "1", "--out", dir, a, b, NULL };
    return run_example_expecting(0, EXAMPLE, args);
}

/* The column `name` of a CSV of dir, into values (at most max); returns
 * the row count. */
static int read_column(const char *dir, const char *file, const char *name, float *values, int max)
{
    char path[600];
    out_file(path, sizeof path, dir, file);
    tg_csv *csv = assert_csv(path, name, 1);
    int rows = tg_csv_rows(csv);
    cr_assert_leq(rows, max, "%s has %d rows", path, rows);
    cr_assert_eq(tg_csv_column_floats(csv, name, values), 0, "%s", tg_error_message());
    tg_csv_free(csv);
    return rows;
}

Test(hessian_free, the_gauss_newton_product_matches_finite_differences)
{
    char dir[512];
    example_out_dir("hessian_free_product", dir, sizeof dir);
    example_run run = run_quick(dir, "--length", "20");
    double values[3];
    cr_assert_eq(numbers_after(run.output, "    v.Gv by double backward", values, 3), 3, "%s", run.output);
    /* The differences' step of 1e-2 leaves an error of order 1e-4 to 1e-2. */
    cr_assert_gt(values[0], 0.0, "v.Gv = %g", values[0]);
    cr_assert_lt(fabs(values[0] - values[1]), 2e-2 * values[1], "double backward %g, differences %g", values[0],
                 values[1]);
    example_run_free(&run);
}

Test(hessian_free, quick_run_trains_and_writes_its_files)
{
    char dir[512], path[600];
    example_out_dir("hessian_free_files", dir, sizeof dir);
    example_run run = run_quick(dir, NULL, NULL);
    const char *expected[] = { "## 3. Hessian-free optimisation", "## 4. Training with Hessian-free",
                               "## 6. Hessian-free against Adam", "hessian_free_loss.png" };
    for (size_t i = 0; i < sizeof expected / sizeof *expected; i++)
        cr_assert(strstr(run.output, expected[i]), "no \"%s\" in:\n%s", expected[i], run.output);

    /* Hessian-free's loss falls: on its batches and on the test set. */
    float train[ITERATIONS + 1], test[ITERATIONS + 1], seconds[ITERATIONS + 1];
    cr_assert_eq(read_column(dir, "hessian_free_hf.csv", "train_mse", train, ITERATIONS + 1), ITERATIONS);
    read_column(dir, "hessian_free_hf.csv", "test_mse", test, ITERATIONS + 1);
    read_column(dir, "hessian_free_hf.csv", "seconds", seconds, ITERATIONS + 1);
    cr_assert_lt(train[ITERATIONS - 1], 0.5f * train[0], "train MSE %g then %g", train[0], train[ITERATIONS - 1]);
    cr_assert_lt(test[ITERATIONS - 1], test[0], "test MSE %g then %g", test[0], test[ITERATIONS - 1]);
    for (int i = 1; i < ITERATIONS; i++)
        cr_assert_geq(seconds[i], seconds[i - 1], "seconds %g then %g", seconds[i - 1], seconds[i]);

    /* The table: Hessian-free's row gives T, the CSV's time and last test
     * MSE, and the iterations; Adam trained at least as long. */
    double hf[5], adam[5];
    cr_assert_eq(numbers_after(run.output, "    Hessian-free ", hf, 5), 5, "%s", run.output);
    cr_assert_eq(numbers_after(run.output, "    Adam ", adam, 5), 5, "%s", run.output);
    cr_assert_eq(hf[0], 10.0);
    cr_assert_eq(adam[0], 10.0);
    cr_assert(fabs(hf[3] - test[ITERATIONS - 1]) < 1e-5, "table %g, CSV %g", hf[3], test[ITERATIONS - 1]);
    cr_assert_eq(hf[4], ITERATIONS);
    cr_assert_geq(adam[1], hf[1], "Adam %g s, Hessian-free %g s", adam[1], hf[1]);
    cr_assert_gt(adam[4], 0.0);
    float adam_test[100000];
    int rows = read_column(dir, "hessian_free_adam.csv", "test_mse", adam_test, 100000);
    cr_assert(fabs(adam[3] - adam_test[rows - 1]) < 1e-5, "table %g, CSV %g", adam[3], adam_test[rows - 1]);
    example_run_free(&run);

    out_file(path, sizeof path, dir, "hessian_free_loss.png");
    assert_png(path, 600, 400);
}

Test(hessian_free, the_same_seed_gives_the_same_losses)
{
    char first[512], second[512];
    example_out_dir("hessian_free_seed_a", first, sizeof first);
    example_out_dir("hessian_free_seed_b", second, sizeof second);
    example_run a = run_quick(first, "--seed", "5");
    example_run b = run_quick(second, "--seed", "5");
    example_run_free(&a);
    example_run_free(&b);
    float x[ITERATIONS], y[ITERATIONS];
    read_column(first, "hessian_free_hf.csv", "train_mse", x, ITERATIONS);
    read_column(second, "hessian_free_hf.csv", "train_mse", y, ITERATIONS);
    for (int i = 0; i < ITERATIONS; i++)
        cr_assert_eq(x[i], y[i], "iteration %d: %g then %g", i + 1, x[i], y[i]);
}

Test(hessian_free, refuses_flags_it_does_not_take)
{
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--save", "x.ckpt", NULL }, "--save and --load");
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--load", "x.ckpt", NULL }, "--save and --load");
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--data", "x.csv", NULL }, "--data");
    assert_refused(EXAMPLE, (const char *[]){ "--quick", "--length", "2", NULL }, "--length");
}
