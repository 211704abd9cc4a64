/* tensor/parallel.h: every item done once, chunk edges on the grain, nested
 * and concurrent calls, forked children, kernels giving the same bits on
 * one thread and on two, bound work's CPUs, whether helpers are ready, and
 * the caller working alone for a while when the CPUs are contended. */
/* CPU affinity (pthread_getaffinity_np) is a GNU extension. */
#define _GNU_SOURCE
#include <math.h>
#include <sched.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support.h"
#include <tensor/parallel.h>

TestSuite(parallel, .init = tg_test_setup, .fini = tg_test_teardown);

enum { ITEMS = 100003 };

typedef struct counting {
    atomic_int visits[ITEMS];
    int64_t grain;
    atomic_int bad_edges, calls;
} counting;

static void count_items(void *context, int64_t begin, int64_t end)
{
    counting *c = context;
    atomic_fetch_add(&c->calls, 1);
    if (begin % c->grain != 0 || (end % c->grain != 0 && end != ITEMS) || begin >= end)
        atomic_fetch_add(&c->bad_edges, 1);
    for (int64_t i = begin; i < end; i++)
        atomic_fetch_add(&c->visits[i], 1);
}

static int items_not_visited_once(counting *c)
{
    int wrong = 0;
    for (int i = 0; i < ITEMS; i++)
        wrong += atomic_load(&c->visits[i]) != 1;
    return wrong;
}

Test(parallel, every_item_once_with_chunk_edges_on_the_grain)
{
    tg_set_num_threads(2);
    int threads = tg_get_num_threads();
    /* The first work of a process is always shared (the caller works
     * alone only after finding the CPUs contended): 4 chunks per thread. */
    counting *first = calloc(1, sizeof *first);
    first->grain = 16;
    tg_parallel_for(ITEMS, 16, count_items, first);
    cr_assert_eq(atomic_load(&first->calls), threads > 1 ? 4 * threads : 1);
    cr_assert_eq(atomic_load(&first->bad_edges), 0);
    cr_assert_eq(items_not_visited_once(first), 0);
    free(first);
    for (int64_t grain = 1; grain <= 4096; grain *= 16) {
        counting *c = calloc(1, sizeof *c);
        c->grain = grain;
        for (int round = 0; round < 50; round++)
            tg_parallel_for(ITEMS, grain, count_items, c);
        int wrong = 0;
        for (int i = 0; i < ITEMS; i++)
            wrong += atomic_load(&c->visits[i]) != 50;
        cr_assert_eq(wrong, 0, "grain %lld: %d items not visited 50 times", (long long)grain, wrong);
        cr_assert_eq(atomic_load(&c->bad_edges), 0, "grain %lld", (long long)grain);
        /* Each call in one piece (run alone) or in up to 4 chunks per thread. */
        cr_assert(atomic_load(&c->calls) >= 50 && atomic_load(&c->calls) <= 50 * 4 * threads, "%d calls",
                  atomic_load(&c->calls));
        free(c);
    }
}

Test(parallel, one_thread_or_one_grain_is_one_call_on_the_caller)
{
    counting *c = calloc(1, sizeof *c);
    c->grain = 1;
    tg_set_num_threads(1);
    tg_parallel_for(ITEMS, 1, count_items, c);
    cr_assert_eq(atomic_load(&c->calls), 1);
    tg_set_num_threads(2);
    c->grain = ITEMS;
    tg_parallel_for(ITEMS, ITEMS, count_items, c);
    cr_assert_eq(atomic_load(&c->calls), 2);
    cr_assert_eq(items_not_visited_once(c), ITEMS); /* every item twice */
    tg_parallel_for(0, 1, count_items, c);
    cr_assert_eq(atomic_load(&c->calls), 2, "no items, no call");
    free(c);
}

/* A chunk that starts parallel work of its own: that work runs on the
 * thread of the chunk, in one call. */
static void count_range(void *context, int64_t begin, int64_t end)
{
    atomic_int *calls = context;
    (void)begin;
    (void)end;
    atomic_fetch_add(calls, 1);
}

static void nested_counting_chunk(void *context, int64_t begin, int64_t end)
{
    atomic_int *serial_violations = context;
    (void)begin;
    (void)end;
    atomic_int calls = 0;
    tg_parallel_for(1000, 1, count_range, &calls);
    if (atomic_load(&calls) != 1)
        atomic_fetch_add(serial_violations, 1);
}

Test(parallel, a_call_inside_a_chunk_runs_alone)
{
    tg_set_num_threads(2);
    atomic_int violations = 0;
    for (int round = 0; round < 100; round++)
        tg_parallel_for(64, 1, nested_counting_chunk, &violations);
    cr_assert_eq(atomic_load(&violations), 0);
}

static void *caller_thread(void *argument)
{
    counting *c = argument;
    for (int round = 0; round < 20; round++)
        tg_parallel_for(ITEMS, 7, count_items, c);
    return NULL;
}

Test(parallel, concurrent_callers_each_get_all_their_items)
{
    tg_set_num_threads(2);
    counting *c[3];
    pthread_t threads[3];
    for (int k = 0; k < 3; k++) {
        c[k] = calloc(1, sizeof *c[k]);
        c[k]->grain = 7;
        cr_assert_eq(pthread_create(&threads[k], NULL, caller_thread, c[k]), 0);
    }
    for (int k = 0; k < 3; k++) {
        pthread_join(threads[k], NULL);
        int wrong = 0;
        for (int i = 0; i < ITEMS; i++)
            wrong += atomic_load(&c[k]->visits[i]) != 20;
        cr_assert_eq(wrong, 0, "caller %d: %d items wrong", k, wrong);
        cr_assert_eq(atomic_load(&c[k]->bad_edges), 0);
        free(c[k]);
    }
}

Test(parallel, a_forked_child_runs_parallel_work)
{
    tg_set_num_threads(2);
    counting *c = calloc(1, sizeof *c);
    c->grain = 3;
    tg_parallel_for(ITEMS, 3, count_items, c); /* the helpers exist before the fork */
    pid_t child = fork();
    cr_assert(child >= 0);
    if (child == 0) {
        counting *d = calloc(1, sizeof *d);
        d->grain = 3;
        for (int round = 0; round < 10; round++)
            tg_parallel_for(ITEMS, 3, count_items, d);
        int wrong = 0;
        for (int i = 0; i < ITEMS; i++)
            wrong += atomic_load(&d->visits[i]) != 10;
        bool good = wrong == 0 && atomic_load(&d->bad_edges) == 0;
        free(d);
        free(c); /* memcheck follows the child and counts what it keeps */
        _exit(good ? 0 : 1);
    }
    int status = 0;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    cr_assert_eq(items_not_visited_once(c), 0);
    free(c);
}

/* ---- Bound work ---- */

/* What one of two items saw of its thread's CPUs. */
typedef struct item_view {
    pthread_t thread;
    int cpus_at_start, cpus_at_end; /* how many the thread may run on */
    int cpu_at_start, cpu_at_end;   /* the first of them */
    bool helpers_ready;             /* tg_parallel_helpers_ready once both started */
} item_view;

typedef struct two_items {
    atomic_int started;
    int linger_milliseconds; /* item 1 runs on this long after both started */
    item_view item[2];
} two_items;

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Waits by sleeping, not spinning: under memcheck, which runs one thread
 * at a time, a spinning thread can keep the others from ever running. */
static void pause_briefly(void)
{
    struct timespec pause = { 0, 100000 };
    nanosleep(&pause, NULL);
}

static void view_cpus(int *count, int *first)
{
    cpu_set_t cpus;
    cr_assert_eq(pthread_getaffinity_np(pthread_self(), sizeof cpus, &cpus), 0);
    *count = CPU_COUNT(&cpus);
    *first = -1;
    for (int cpu = CPU_SETSIZE - 1; cpu >= 0; cpu--)
        if (CPU_ISSET(cpu, &cpus))
            *first = cpu;
}

/* Each item waits (up to 2 s) for the other to start, so that both run at
 * once on two threads; then item 1 runs on while item 0 returns. */
static void view_item(void *context, int64_t begin, int64_t end)
{
    two_items *w = context;
    for (int64_t i = begin; i < end; i++) {
        item_view *v = &w->item[i];
        v->thread = pthread_self();
        view_cpus(&v->cpus_at_start, &v->cpu_at_start);
        atomic_fetch_add(&w->started, 1);
        double give_up = seconds_now() + 2.0;
        while (atomic_load(&w->started) < 2 && seconds_now() < give_up)
            pause_briefly();
        v->helpers_ready = tg_parallel_helpers_ready();
        if (i == 1)
            for (double until = seconds_now() + 1e-3 * w->linger_milliseconds; seconds_now() < until;)
                pause_briefly();
        view_cpus(&v->cpus_at_end, &v->cpu_at_end);
    }
}

static two_items *run_two_items(bool bound, int linger_milliseconds)
{
    two_items *w = calloc(1, sizeof *w);
    w->linger_milliseconds = linger_milliseconds;
    if (bound)
        tg_parallel_for_bound(2, view_item, w);
    else
        tg_parallel_for(2, 1, view_item, w);
    return w;
}

static cpu_set_t callers_cpus(void)
{
    cpu_set_t cpus;
    cr_assert_eq(pthread_getaffinity_np(pthread_self(), sizeof cpus, &cpus), 0);
    return cpus;
}

/* The set of one CPU. */
static cpu_set_t only_cpu(int cpu)
{
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    return one;
}

Test(parallel, bound_work_binds_each_thread_to_a_cpu_of_its_own_until_it_returns)
{
    tg_set_num_threads(2);
    cpu_set_t before = callers_cpus();
    int allowed = CPU_COUNT(&before);
    two_items *w = run_two_items(true, 5);
    cpu_set_t after = callers_cpus();
    cr_assert(CPU_EQUAL(&before, &after), "the caller's CPUs come back");
    if (allowed < 2 || tg_get_num_threads() < 2) {
        /* Nothing to bind to: the items ran on the caller, unbound. */
        cr_assert_eq(w->item[0].cpus_at_start, allowed);
        cr_assert_eq(w->item[1].cpus_at_start, allowed);
        free(w);
        return;
    }
    cr_assert(!pthread_equal(w->item[0].thread, w->item[1].thread), "the two items ran at once");
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(w->item[i].cpus_at_start, 1, "item %d's thread is bound to one CPU", i);
        cr_assert_eq(w->item[i].cpus_at_end, 1, "item %d", i);
        cr_assert_eq(w->item[i].cpu_at_end, w->item[i].cpu_at_start, "item %d", i);
    }
    cr_assert_neq(w->item[0].cpu_at_start, w->item[1].cpu_at_start, "CPUs of their own");
    cr_assert(pthread_equal(w->item[0].thread, pthread_self()) || pthread_equal(w->item[1].thread, pthread_self()),
              "the caller ran one item");
    free(w);

    /* The helper's CPUs came back too: unbound work sees them all. */
    w = run_two_items(false, 0);
    cr_assert(!pthread_equal(w->item[0].thread, w->item[1].thread));
    for (int i = 0; i < 2; i++)
        cr_assert_eq(w->item[i].cpus_at_start, allowed, "item %d", i);
    free(w);
}

Test(parallel, bound_work_with_fewer_cpus_than_threads_runs_unbound)
{
    tg_set_num_threads(2);
    free(run_two_items(false, 0)); /* helpers start with the caller's CPUs: all of them */
    cpu_set_t everything = callers_cpus(), one = only_cpu(sched_getcpu());
    cr_assert_eq(pthread_setaffinity_np(pthread_self(), sizeof one, &one), 0);
    two_items *w = run_two_items(true, 5);
    cpu_set_t after = callers_cpus();
    cr_assert(CPU_EQUAL(&one, &after), "the caller keeps its one CPU");
    for (int i = 0; i < 2; i++) {
        /* The caller's item sees its one CPU; a helper's, the helper's own. */
        bool on_caller = pthread_equal(w->item[i].thread, pthread_self());
        cr_assert_eq(w->item[i].cpus_at_start, on_caller ? 1 : CPU_COUNT(&everything), "item %d", i);
        cr_assert_eq(w->item[i].cpus_at_end, w->item[i].cpus_at_start, "item %d", i);
    }
    cr_assert_eq(pthread_setaffinity_np(pthread_self(), sizeof everything, &everything), 0);
    free(w);
}

/* The threaded kernels split work between threads but never a sum: one
 * thread and two give the same bits. BLIS is the exception: a block of a
 * large product may be small enough for BLIS's unpacked small-matrix path,
 * which sums in another order, so its results agree within rounding. */
static void fill(tg_tensor *t, uint64_t seed)
{
    tg_rng rng = tg_rng_new(seed);
    tg_tensor_uniform_(t, -1.0f, 1.0f, &rng);
}

Test(parallel, kernels_give_the_same_bits_on_one_thread_and_two)
{
    tg_tensor *a = tg_tensor_empty(TG_SHAPE(700, 300)), *b = tg_tensor_empty(TG_SHAPE(300, 500));
    tg_tensor *small_rows = tg_tensor_empty(TG_SHAPE(64, 300)), *big = tg_tensor_empty(TG_SHAPE(400, 400));
    fill(a, 1);
    fill(b, 2);
    fill(small_rows, 3);
    fill(big, 4);
    tg_tensor *results[2][4];
    for (int threads = 1; threads <= 2; threads++) {
        tg_set_num_threads(threads);
        tg_tensor **r = results[threads - 1];
        r[0] = tg_matmul(a, b);                            /* BLIS in blocks */
        r[1] = tg_matmul(small_rows, b);                   /* packed small product */
        r[2] = tg_tanh(big);                               /* elementwise */
        r[3] = tg_log_softmax(big, 1);                     /* softmax rows */
        for (int k = 0; k < 4; k++)
            cr_assert_not_null(r[k], "%s", tg_error_message());
    }
    for (int k = 0; k < 4; k++) {
        cr_assert_eq(results[0][k]->numel, results[1][k]->numel);
        int differ = 0;
        for (int64_t i = 0; i < results[0][k]->numel; i++) {
            float one = results[0][k]->data[i], two = results[1][k]->data[i];
            /* |a b| summed over 300 terms of [-1, 1] stays below 300. */
            differ += k == 0 ? fabsf(one - two) > 300 * 1e-6f : one != two;
        }
        cr_assert_eq(differ, 0, "result %d: %d elements differ between 1 and 2 threads", k, differ);
    }
    /* And the BLIS product is right: one element against a plain sum. */
    double want = 0.0;
    for (int k = 0; k < 300; k++)
        want += (double)a->data[123 * 300 + k] * (double)b->data[k * 500 + 456];
    cr_assert_float_eq(results[1][0]->data[123 * 500 + 456], (float)want, 1e-4);
    tg_tensor_free(a);
    tg_tensor_free(b);
    tg_tensor_free(small_rows);
    tg_tensor_free(big);
}

/* Each test runs in a process of its own, so no helper has started yet. */
Test(parallel, helpers_are_ready_while_awake_and_not_once_asleep)
{
    tg_set_num_threads(2);
    cr_assert_not(tg_parallel_helpers_ready(), "no helper has started yet");
    /* Both items run at once, one on the caller and one on the helper.
     * Item 1 runs on for 20 ms after both started, so the thread with
     * item 0 looks while the other one works. */
    two_items *w = run_two_items(false, 20);
    cr_assert_eq(w->item[0].helpers_ready, tg_get_num_threads() > 1, "%d threads", tg_get_num_threads());
    free(w);
    /* A helper sleeps after 0.1 ms without work; give it up to 2 s. */
    double deadline = seconds_now() + 2.0;
    while (tg_parallel_helpers_ready() && seconds_now() < deadline)
        pause_briefly();
    cr_assert_not(tg_parallel_helpers_ready(), "helpers still awake 2 s after the last work");
}

/* ---- Working alone while the CPUs are contended ---- */

/* How many calls two items of work took: 2 when shared between threads
 * (as chunks, whoever ran them), 1 when the caller ran them alone. */
static int calls_for_two_items(void)
{
    atomic_int calls = 0;
    tg_parallel_for(2, 1, count_range, &calls);
    return atomic_load(&calls);
}

/* Whether work is shared again within `seconds`, trying every 10 ms. */
static bool shared_again_within(double seconds)
{
    struct timespec ten_milliseconds = { 0, 10000000 };
    for (double give_up = seconds_now() + seconds; seconds_now() < give_up;) {
        if (calls_for_two_items() == 2)
            return true;
        nanosleep(&ten_milliseconds, NULL);
    }
    return false;
}

/* Two items that run at once (each waits up to 2 s for the other to
 * start); the one on a helper then runs on long after the caller's is
 * done: longer than twice the time since the work started, plus 100 ms. */
typedef struct late_helper {
    pthread_t caller;
    double started_at;
    atomic_int started, on_helper;
} late_helper;

static void late_helper_item(void *context, int64_t begin, int64_t end)
{
    late_helper *w = context;
    for (int64_t i = begin; i < end; i++) {
        atomic_fetch_add(&w->started, 1);
        double give_up = seconds_now() + 2.0;
        while (atomic_load(&w->started) < 2 && seconds_now() < give_up)
            pause_briefly();
        if (pthread_equal(pthread_self(), w->caller))
            continue;
        atomic_fetch_add(&w->on_helper, 1);
        double now = seconds_now();
        for (double until = now + 2 * (now - w->started_at) + 0.1; seconds_now() < until;)
            pause_briefly();
    }
}

Test(parallel, after_a_late_helper_the_caller_works_alone_for_a_while)
{
    tg_set_num_threads(2);
    if (tg_get_num_threads() < 2) {
        cr_assert_eq(calls_for_two_items(), 1, "one thread: work always runs alone");
        return;
    }
    late_helper w = { .caller = pthread_self(), .started_at = seconds_now() };
    tg_parallel_for(2, 1, late_helper_item, &w);
    cr_assert_eq(atomic_load(&w.on_helper), 1, "a helper ran one of the two items");
    cr_assert_eq(calls_for_two_items(), 1, "the next work runs on the caller alone, in one call");
    cr_assert(shared_again_within(5.0), "work is shared again once the helper is back");
}

/* A thread that spins, bound to one CPU, until told to stop (or 5 s). */
typedef struct spinner {
    atomic_bool stop;
    int cpu;
} spinner;

static void *spin_on_cpu(void *argument)
{
    spinner *s = argument;
    cpu_set_t one = only_cpu(s->cpu);
    pthread_setaffinity_np(pthread_self(), sizeof one, &one);
    for (double give_up = seconds_now() + 5.0; !atomic_load(&s->stop) && seconds_now() < give_up;)
        ;
    return NULL;
}

Test(parallel, a_caller_that_shares_its_cpu_works_alone_for_a_while)
{
    tg_set_num_threads(2);
    if (tg_get_num_threads() < 2) {
        cr_assert_eq(calls_for_two_items(), 1, "one thread: work always runs alone");
        return;
    }
    cr_assert_eq(calls_for_two_items(), 2, "shared while the caller has its CPU");
    /* The caller and a thread that spins share one CPU: each gets about
     * half of it. */
    cpu_set_t everything = callers_cpus(), one = only_cpu(sched_getcpu());
    cr_assert_eq(pthread_setaffinity_np(pthread_self(), sizeof one, &one), 0);
    spinner s = { .cpu = sched_getcpu() };
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, spin_on_cpu, &s), 0);
    bool alone = false;
    for (double give_up = seconds_now() + 2.0; !alone && seconds_now() < give_up;) {
        for (double until = seconds_now() + 0.02; seconds_now() < until;)
            ; /* running, not sleeping: only then does sharing the CPU show */
        alone = calls_for_two_items() == 1;
    }
    atomic_store(&s.stop, true);
    pthread_join(thread, NULL);
    cr_assert_eq(pthread_setaffinity_np(pthread_self(), sizeof everything, &everything), 0);
    cr_assert(alone, "the caller ran work alone while it shared its CPU");
    cr_assert(shared_again_within(5.0), "work is shared again once the caller has its CPU back");
}
