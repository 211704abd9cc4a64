/*
 * tests/dist/test_dist.c: data-parallel training gives the step of one
 * process on the whole batch.
 *
 * Criterion forks its tests, and a forked MPI process is no MPI process:
 * so the ranks are separate programs (tests/dist/ddp_worker.c) that this
 * test starts with mpirun, and it compares the parameters they wrote.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, setenv */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dist_run.h"

static char dir[64];

static void setup(void)
{
    tg_test_setup();
    dist_run_environment();
    snprintf(dir, sizeof dir, "/tmp/tg_dist_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char command[128];
    snprintf(command, sizeof command, "rm -rf %s", dir);
    cr_assert_eq(system(command), 0);
    tg_test_teardown();
}

TestSuite(dist, .init = setup, .fini = teardown, .timeout = 120);

static const char *const cells[] = { "rnn", "lstm", "gru" };

/* The largest difference between the parameters in a and b, relative to the
 * largest magnitude in each parameter, over every parameter of every cell;
 * 0 means bit for bit. */
static double compare(const char *a, const char *b)
{
    double worst = 0;
    for (int c = 0; c < 3; c++) {
        char pa[256], pb[256];
        snprintf(pa, sizeof pa, "%s/%s%s.safetensors", dir, a, cells[c]);
        snprintf(pb, sizeof pb, "%s/%s%s.safetensors", dir, b, cells[c]);
        tg_safetensors *fa = tg_safetensors_load(pa), *fb = tg_safetensors_load(pb);
        cr_assert(fa && fb, "%s", tg_error_message());
        cr_assert_eq(tg_safetensors_count(fa), tg_safetensors_count(fb));
        cr_assert_gt(tg_safetensors_count(fa), 3);
        for (int i = 0; i < tg_safetensors_count(fa); i++) {
            const tg_tensor *ta = tg_safetensors_tensor(fa, i);
            const tg_tensor *tb = tg_safetensors_get(fb, tg_safetensors_name(fa, i));
            cr_assert(tb && ta->numel == tb->numel);
            double diff = 0, scale = 0;
            for (int64_t k = 0; k < ta->numel; k++) {
                double d = fabs((double)ta->data[k] - tb->data[k]);
                diff = d > diff ? d : diff;
                scale = fabs(tb->data[k]) > scale ? fabs(tb->data[k]) : scale;
            }
            double relative = diff == 0 ? 0 : diff / scale;
            worst = relative > worst ? relative : worst;
        }
        tg_safetensors_free(fa);
        tg_safetensors_free(fb);
    }
    return worst;
}

static void run_single(void)
{
    cr_assert_eq(dist_run("%s --out %s/single_", DDP_WORKER, dir), 0, "the lone run failed");
}

static void run_ranks(int ranks, const char *flags, const char *prefix)
{
    cr_assert_eq(dist_run("%s -np %d %s --dist %s --out %s/%s", DIST_MPIRUN, ranks, DDP_WORKER,
                          flags, dir, prefix), 0, "mpirun -np %d failed", ranks);
}

Test(dist, one_rank_is_bit_identical_to_the_plain_loop)
{
    run_single();
    run_ranks(1, "", "n1_");
    cr_assert_eq(compare("n1_", "single_"), 0.0);
}

Test(dist, two_ranks_take_the_step_of_one_process_on_twice_their_batch)
{
    run_single();
    run_ranks(2, "", "n2_");
    double diff = compare("n2_", "single_");
    cr_assert_leq(diff, 1e-6, "relative difference %g", diff);
}

Test(dist, three_ranks_take_the_step_of_one_process_on_three_times_their_batch)
{
    run_single();
    run_ranks(3, "", "n3_");
    double diff = compare("n3_", "single_");
    cr_assert_leq(diff, 1e-6, "relative difference %g", diff);
}

Test(dist, accumulating_without_sync_then_syncing_gives_the_same_step)
{
    run_single();
    run_ranks(2, "--accumulate", "acc_");
    double diff = compare("acc_", "single_");
    cr_assert_leq(diff, 1e-6, "relative difference %g", diff);
}

Test(dist, ranks_with_different_models_stop_at_start_up_with_a_clear_error)
{
    char log[128];
    snprintf(log, sizeof log, "%s/mismatch.log", dir);
    cr_assert_neq(dist_run("%s -np 2 %s --dist --mismatch --out %s/mm_ 2>%s", DIST_MPIRUN,
                           DDP_WORKER, dir, log), 0);
    dist_assert_file_contains(log, "rank 1's model differs from rank 0's");
    dist_assert_file_contains(log, "build the same model on every rank");
}
