/* Two independent recurrent models trained at the same time on two threads,
 * each saving and reloading its own checkpoints, end exactly as when they
 * are trained one after the other; and the state that is global to the
 * process (README.md, "Global state") behaves as documented. */
#include "reliability.h"

#include <threads.h>

#include "recurrent_run.h"
#include "two_threads.h"

TestSuite(threads, .init = rel_setup, .fini = rel_teardown);

enum { STEPS = 14, SAVE_EVERY = 5 };

typedef struct job {
    uint64_t seed;
    run_cell cell;
    char path[256];
    uint64_t hash;             /* of the run at the end */
    int64_t reloaded_step;     /* the step of the last checkpoint read back */
    char error[TG_ERROR_MAX];
} job;

/* Trains, saving every SAVE_EVERY steps and reading the last checkpoint
 * back into a second model; frees everything, graph memory included. */
static int train(void *arg)
{
    job *j = arg;
    recurrent_run r = run_new(j->seed, j->cell);
    while (r.step < STEPS && run_step(&r) == 0)
        if (r.step % SAVE_EVERY == 0)
            run_save(&r, j->path);
    j->hash = run_hash(&r);
    recurrent_run other = run_new(j->seed + 50, j->cell);
    if (run_load(&other, j->path) == 0)
        j->reloaded_step = other.step;
    snprintf(j->error, sizeof j->error, "%s", tg_error_message());
    run_free(&other);
    run_free(&r);
    tg_graph_release();
    return 0;
}

static job job_for(int i, const char *mode)
{
    job j = { .seed = 10 + (uint64_t)i, .cell = i == 0 ? RUN_LSTM : RUN_GRU };
    snprintf(j.path, sizeof j.path, "%s", rel_path(i == 0 ? "lstm" : "gru"));
    strncat(j.path, mode, sizeof j.path - strlen(j.path) - 1);
    return j;
}

Test(threads, two_models_trained_at_once_end_as_when_trained_in_turn)
{
    job alone[2] = { job_for(0, ".alone"), job_for(1, ".alone") };
    job together[2] = { job_for(0, ".together"), job_for(1, ".together") };
    run_in_turn_then_at_once(train, (void *[]){ &alone[0], &alone[1] }, (void *[]){ &together[0], &together[1] });
    for (int t = 0; t < 2; t++) {
        cr_assert_str_empty(alone[t].error, "%s", alone[t].error);
        cr_assert_str_empty(together[t].error, "%s", together[t].error);
        cr_assert_eq(together[t].hash, alone[t].hash, "model %d ended elsewhere on a thread", t);
        cr_assert_eq(together[t].reloaded_step, STEPS / SAVE_EVERY * SAVE_EVERY);
        size_t n_alone = 0, n_together = 0;
        unsigned char *a = read_whole_file(alone[t].path, &n_alone);
        unsigned char *b = read_whole_file(together[t].path, &n_together);
        cr_assert(a && b && n_alone == n_together && memcmp(a, b, n_alone) == 0,
                  "model %d: the checkpoints differ", t);
        free(a);
        free(b);
    }
    cr_assert_neq(alone[0].hash, alone[1].hash, "the two models are the same: a vacuous test");
}

/* ---- What is per thread, and what is per process ------------------------------------- */

typedef struct observed {
    bool anomaly;
    int threads;
    uint64_t first_random;
    bool error_seen;
} observed;

static int observe(void *arg)
{
    observed *o = arg;
    o->anomaly = tg_anomaly_mode();
    o->threads = tg_get_num_threads();
    o->first_random = tg_rng_next_u64(tg_rng_default());
    o->error_seen = tg_error_occurred();
    return 0;
}

static observed observe_on_a_thread(void)
{
    observed o;
    thrd_t thread;
    cr_assert_eq(thrd_create(&thread, observe, &o), thrd_success);
    cr_assert_eq(thrd_join(thread, NULL), thrd_success);
    return o;
}

Test(threads, anomaly_mode_and_the_thread_count_are_per_process)
{
    tg_set_anomaly_mode(true);
    tg_set_num_threads(2);
    observed o = observe_on_a_thread();
    tg_set_anomaly_mode(false);
    tg_set_num_threads(1);
    cr_assert(o.anomaly, "anomaly mode set on one thread is on for all");
    cr_assert_eq(o.threads, 2, "the thread count set on one thread holds for all");
    o = observe_on_a_thread();
    cr_assert_not(o.anomaly);
    cr_assert_eq(o.threads, 1);
}

Test(threads, the_default_generator_and_errors_are_per_thread)
{
    observed before = observe_on_a_thread();
    tg_manual_seed(12345);
    tg_error_set("test: an error on the test's thread");
    observed after = observe_on_a_thread();
    /* A new thread's generator starts from seed 0, whatever this one did. */
    cr_assert_eq(after.first_random, before.first_random);
    cr_assert_neq(tg_rng_next_u64(tg_rng_default()), after.first_random);
    cr_assert_not(after.error_seen, "another thread saw this thread's error");
    tg_error_clear();
}
