/* CPU affinity (pthread_setaffinity_np, sched_getcpu) is a GNU extension. */
#define _GNU_SOURCE
#include "tensor/parallel.h"

#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <time.h>

#include "tensor/threads.h"

/* Chunks per thread: more than one, so that a thread arriving late (or
 * never) leaves chunks to the others instead of half the work. */
#define CHUNKS_PER_THREAD 4
/* A chunk index and a chunk count share the ticket's low 32 bits. */
#define MAX_CHUNKS 0xFFFF
/* How long an idle helper spins before it sleeps: longer than the gap
 * between two kernels of a step, far shorter than a scheduler tick. */
#define SPIN_NANOSECONDS 100000
/* How often a thread done with bound work wakes while it waits for the
 * others: longer than the scheduler's cost of a migration (0.5 ms), so
 * that its CPU going idle makes the scheduler look for work to pull. */
#define NAP_NANOSECONDS 1000000
/* Contended CPUs (see "Working alone" below). A helper is late when the
 * caller, done with its own chunks, waits for the helpers' longer than
 * twice its own time plus LATE_SLACK: far less than the time slice a
 * descheduled thread waits for (a millisecond or more), more than the
 * last chunk of a balanced split takes. */
#define LATE_SLACK_NANOSECONDS 200000
/* The caller looks at its CPU time at most this often (a system call),
 * and shares its CPU when, running throughout (never asleep), it got less
 * than CPU_SHARE_NUMERATOR / CPU_SHARE_DENOMINATOR of the time since it
 * last looked and was preempted: a thread that shares a CPU with another
 * that runs all the time gets about half. (A thread whose virtual CPU the
 * hypervisor took away also gets less, but is not preempted.) */
#define LOOK_EVERY_NANOSECONDS 10000000
#define CPU_SHARE_NUMERATOR 3
#define CPU_SHARE_DENOMINATOR 4
/* The first time alone; when the CPUs are found contended again within
 * ALONE_GROWTH times the last time alone after its end, that many times
 * longer, up to the most. So contention that lasts keeps the caller alone
 * nearly all the time (it is found again within the first look, 10 ms
 * after sharing resumes), while a descheduled helper now and then (the
 * hypervisor's doing: a few times a second on a quiet machine here) costs
 * a few milliseconds alone each time. */
#define ALONE_FIRST_NANOSECONDS 4000000
#define ALONE_GROWTH 4
#define ALONE_MOST_NANOSECONDS 256000000

/*
 * The work in progress. `ticket` holds the generation of the work (high 32
 * bits), its chunk count (16 bits) and the next chunk to take (16 bits).
 * A chunk is claimed by a compare-and-swap on the ticket, so a helper that
 * read the fields of an older generation cannot claim anything with them:
 * the fields are rewritten only after every chunk of their generation is
 * done, and so after every claim on it.
 */
static struct {
    _Atomic(tg_parallel_fn) fn;
    _Atomic(void *) context;
    atomic_int_least64_t n, chunk_size;
    atomic_uint_least64_t ticket;
    atomic_int_least64_t done;   /* chunks finished in this generation */
    atomic_int helpers;          /* helper threads started */
    atomic_int taking_part;      /* helpers with a lower index take chunks */
    atomic_int sleepers;         /* helpers asleep on `wake` */
    atomic_int done_waiters;     /* threads asleep on `all_done` */
    atomic_bool bound;           /* the threads taking chunks bind to CPUs */
    uint32_t generation;         /* the last published; written under `busy` */
    /* Working alone while the CPUs are contended; written under `busy`. */
    int64_t alone_until;         /* on the monotonic clock, in ns */
    int64_t alone_nanoseconds;   /* the last time alone; 0 before the first */
    pthread_t looker;            /* the caller that last looked at its CPU time */
    int64_t looked_at;           /* when; 0 before the first look */
    int64_t looker_cpu_time;     /* its CPU time then, in ns */
    long looker_sleeps;          /* how often it had slept then */
    long looker_preemptions;     /* and been preempted */
    pthread_mutex_t busy;        /* held by the thread whose work is published */
    pthread_mutex_t sleep_lock;
    pthread_cond_t wake;
    pthread_mutex_t done_lock;
    pthread_cond_t all_done;
} pool = {
    .busy = PTHREAD_MUTEX_INITIALIZER,
    .sleep_lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .done_lock = PTHREAD_MUTEX_INITIALIZER,
    .all_done = PTHREAD_COND_INITIALIZER,
};

/* The CPUs of bound work, written by the caller before it publishes it. */
static struct {
    cpu_set_t cpus; /* the caller's */
    int caller_cpu;
} binding;

/* Set on helpers, and on the caller while it runs chunks: a call made from
 * inside a chunk runs alone. */
static _Thread_local bool inside_work;
/* 0 on the caller, k + 1 on helper k: which CPU it takes in bound work. */
static _Thread_local int thread_number;

static uint32_t ticket_generation(uint64_t ticket) { return (uint32_t)(ticket >> 32); }
static int64_t ticket_chunks(uint64_t ticket) { return (int64_t)((ticket >> 16) & MAX_CHUNKS); }
static int64_t ticket_next(uint64_t ticket) { return (int64_t)(ticket & MAX_CHUNKS); }

static int64_t now_nanoseconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#endif
}

/* ---- Bound work: a CPU per thread ---- */

/* Picks the CPUs of bound work: the caller stays on the CPU it runs on;
 * the others take the caller's other CPUs. False (no binding) when the
 * caller may run on fewer CPUs than threads take part. */
static bool choose_cpus(int threads)
{
    if (pthread_getaffinity_np(pthread_self(), sizeof binding.cpus, &binding.cpus) != 0 ||
        CPU_COUNT(&binding.cpus) < threads)
        return false;
    binding.caller_cpu = sched_getcpu();
    return binding.caller_cpu >= 0 && CPU_ISSET(binding.caller_cpu, &binding.cpus);
}

/* The CPU of thread `number`: the caller's own, or the number-th of its
 * others. */
static int cpu_of(int number)
{
    if (number == 0)
        return binding.caller_cpu;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &binding.cpus) && cpu != binding.caller_cpu && --number == 0)
            return cpu;
    return binding.caller_cpu;
}

/* Binds this thread to `cpu`; `saved` receives the CPUs it had. Binding
 * only steers the scheduler: where the system refuses, the thread runs
 * where it was allowed to. */
static void bind_to_cpu(int cpu, cpu_set_t *saved)
{
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (pthread_getaffinity_np(pthread_self(), sizeof *saved, saved) == 0)
        pthread_setaffinity_np(pthread_self(), sizeof one, &one);
}

static void unbind(const cpu_set_t *saved) { pthread_setaffinity_np(pthread_self(), sizeof *saved, saved); }

static bool generation_running(uint32_t g, int64_t chunks)
{
    return ticket_generation(atomic_load(&pool.ticket)) == g && atomic_load(&pool.done) < chunks;
}

/* Sleeps while chunks of generation g run, until `deadline` on the
 * monotonic clock (NULL: none). Returns whether they still run. */
static bool sleep_while_running(uint32_t g, int64_t chunks, const struct timespec *deadline)
{
    pthread_mutex_lock(&pool.done_lock);
    atomic_fetch_add(&pool.done_waiters, 1);
    bool running;
    while ((running = generation_running(g, chunks))) {
        if (!deadline)
            pthread_cond_wait(&pool.all_done, &pool.done_lock);
        else if (pthread_cond_clockwait(&pool.all_done, &pool.done_lock, CLOCK_MONOTONIC, deadline) != 0)
            break;
    }
    atomic_fetch_sub(&pool.done_waiters, 1);
    pthread_mutex_unlock(&pool.done_lock);
    return running;
}

/* Called by a thread done with its chunks of bound work: sleeps until the
 * others are done, waking every NAP_NANOSECONDS. Each time this CPU goes
 * idle again the scheduler looks for work to pull onto it, and finds a
 * program that shares a CPU with a thread still running (when that
 * program is waiting for its turn, not running). Sleeping without a
 * break, the CPU is left to the scheduler's periodic balancing, which
 * took 8 to 15 ms to move a program that never sleeps. */
static void nap_while_running(uint32_t g, int64_t chunks)
{
    for (;;) {
        int64_t wake = now_nanoseconds() + NAP_NANOSECONDS;
        struct timespec deadline = { .tv_sec = wake / 1000000000, .tv_nsec = wake % 1000000000 };
        if (!sleep_while_running(g, chunks, &deadline))
            return;
    }
}

/* ---- Chunks ---- */

/* The next chunk of generation g, or -1 when it has none left (or is over). */
static int64_t claim(uint32_t g)
{
    uint64_t t = atomic_load_explicit(&pool.ticket, memory_order_acquire);
    for (;;) {
        if (ticket_generation(t) != g || ticket_next(t) >= ticket_chunks(t))
            return -1;
        if (atomic_compare_exchange_weak_explicit(&pool.ticket, &t, t + 1, memory_order_acq_rel,
                                                  memory_order_acquire))
            return ticket_next(t);
    }
}

/* Counts a chunk done and wakes the threads asleep waiting for chunks.
 * Both sides use sequentially consistent operations: either this thread
 * sees a waiter, or the waiter sees this chunk counted. */
static void finish_chunk(void)
{
    atomic_fetch_add(&pool.done, 1);
    if (atomic_load(&pool.done_waiters) > 0) {
        pthread_mutex_lock(&pool.done_lock);
        pthread_cond_broadcast(&pool.all_done);
        pthread_mutex_unlock(&pool.done_lock);
    }
}

/* Takes and runs chunks of generation g until none is left. In bound
 * work, the thread is bound to its CPU from its first chunk to its last,
 * and then naps until the others are done. */
static void take_chunks(uint32_t g)
{
    tg_parallel_fn fn = atomic_load_explicit(&pool.fn, memory_order_relaxed);
    void *context = atomic_load_explicit(&pool.context, memory_order_relaxed);
    int64_t n = atomic_load_explicit(&pool.n, memory_order_relaxed);
    int64_t size = atomic_load_explicit(&pool.chunk_size, memory_order_relaxed);
    bool bound = atomic_load_explicit(&pool.bound, memory_order_relaxed);
    cpu_set_t saved;
    int64_t ran = 0;
    for (int64_t c; (c = claim(g)) >= 0; ran++) {
        if (bound && ran == 0)
            bind_to_cpu(cpu_of(thread_number), &saved);
        int64_t begin = c * size, end = begin + size < n ? begin + size : n;
        fn(context, begin, end);
        finish_chunk();
    }
    if (bound && ran > 0) {
        unbind(&saved);
        nap_while_running(g, (n + size - 1) / size);
    }
}

/* ---- Helpers ---- */

/* Waits until a generation other than `seen` is published; returns it. */
static uint32_t wait_for_work(uint32_t seen)
{
    int64_t deadline = now_nanoseconds() + SPIN_NANOSECONDS;
    for (int spins = 1;; spins++) {
        uint32_t g = ticket_generation(atomic_load_explicit(&pool.ticket, memory_order_acquire));
        if (g != seen)
            return g;
        cpu_relax();
        if (spins % 256 == 0 && now_nanoseconds() > deadline)
            break;
    }
    pthread_mutex_lock(&pool.sleep_lock);
    atomic_fetch_add(&pool.sleepers, 1);
    uint32_t g;
    while ((g = ticket_generation(atomic_load(&pool.ticket))) == seen)
        pthread_cond_wait(&pool.wake, &pool.sleep_lock);
    atomic_fetch_sub(&pool.sleepers, 1);
    pthread_mutex_unlock(&pool.sleep_lock);
    return g;
}

static void *helper_main(void *argument)
{
    int index = (int)(intptr_t)argument;
    inside_work = true;
    thread_number = index + 1;
    /* Generations start at 1: a helper started for work already published
     * takes part in it. */
    uint32_t seen = 0;
    for (;;) {
        seen = wait_for_work(seen);
        if (index < atomic_load_explicit(&pool.taking_part, memory_order_relaxed))
            take_chunks(seen);
    }
    return NULL;
}

/* Starts helpers up to `count`; fewer if the system refuses threads (the
 * caller then does their share). */
static void start_helpers(int count)
{
    for (int i = atomic_load(&pool.helpers); i < count; i++) {
        pthread_t thread;
        if (pthread_create(&thread, NULL, helper_main, (void *)(intptr_t)i) != 0)
            return;
        pthread_detach(thread);
        atomic_store(&pool.helpers, i + 1);
    }
}

/* A forked child has only the thread that forked: it starts helpers anew,
 * and the locks may have been held by threads it does not have. */
static void reset_in_child(void)
{
    atomic_store(&pool.helpers, 0);
    atomic_store(&pool.sleepers, 0);
    atomic_store(&pool.done_waiters, 0);
    pool.alone_until = 0;
    pool.alone_nanoseconds = 0;
    pool.looked_at = 0; /* its thread's CPU time starts anew */
    pthread_mutex_init(&pool.busy, NULL);
    pthread_mutex_init(&pool.sleep_lock, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pthread_mutex_init(&pool.done_lock, NULL);
    pthread_cond_init(&pool.all_done, NULL);
}

static pthread_once_t fork_handler_once = PTHREAD_ONCE_INIT;
static void install_fork_handler(void) { pthread_atfork(NULL, NULL, reset_in_child); }

/* ---- The caller ---- */

/* Publishes the work as a new generation and wakes sleeping helpers. */
static uint32_t publish(int64_t n, int64_t chunk_size, int64_t chunks, tg_parallel_fn fn, void *context)
{
    atomic_store_explicit(&pool.fn, fn, memory_order_relaxed);
    atomic_store_explicit(&pool.context, context, memory_order_relaxed);
    atomic_store_explicit(&pool.n, n, memory_order_relaxed);
    atomic_store_explicit(&pool.chunk_size, chunk_size, memory_order_relaxed);
    atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
    uint32_t g = ++pool.generation;
    atomic_store(&pool.ticket, (uint64_t)g << 32 | (uint64_t)chunks << 16);
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.sleep_lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.sleep_lock);
    }
    return g;
}

/* Waits for chunks that helpers still run; yields now and then, in case a
 * helper shares this thread's core. */
static void wait_until_done(int64_t chunks)
{
    for (int spins = 1; atomic_load_explicit(&pool.done, memory_order_acquire) < chunks; spins++) {
        cpu_relax();
        if (spins % 1024 == 0)
            sched_yield();
    }
}

/* ---- Working alone while the CPUs are contended ----
 *
 * When another program keeps a core busy, our threads and it share the
 * CPUs, and sharing a kernel of microseconds between threads costs more
 * than it saves:
 * - a helper that took a chunk and was then descheduled holds the chunk
 *   for a time slice while the caller waits (a late helper);
 * - a helper that spins for work takes CPU time from the caller or the
 *   other program, and the caller, which runs everything between kernels,
 *   ends up sharing its CPU.
 * Measured at S with one core busy, two threads took 1.4 to 1.6 times one
 * thread's time (BENCHMARKS.md). So when either happens the caller runs
 * unbound work alone for a while: its helpers stop spinning and sleep,
 * and one thread runs on each CPU. Each time the CPUs are contended again
 * soon after, it stays alone four times longer. Bound work (the parts of a
 * batch split) is not affected: its items take milliseconds and it binds
 * its threads instead. */

static bool working_alone(int64_t now) { return now < pool.alone_until; }

static void start_working_alone(int64_t now)
{
    bool again_soon =
        pool.alone_nanoseconds > 0 && now - pool.alone_until < ALONE_GROWTH * pool.alone_nanoseconds;
    int64_t alone = again_soon ? ALONE_GROWTH * pool.alone_nanoseconds : ALONE_FIRST_NANOSECONDS;
    pool.alone_nanoseconds = alone < ALONE_MOST_NANOSECONDS ? alone : ALONE_MOST_NANOSECONDS;
    pool.alone_until = now + pool.alone_nanoseconds;
}

static int64_t nanoseconds_of(struct timeval t)
{
    return (int64_t)t.tv_sec * 1000000000 + (int64_t)t.tv_usec * 1000;
}

/* Whether the calling thread, running throughout since it last looked,
 * was preempted and got too little of that time on a CPU: it shares its
 * CPU. Looks at most every LOOK_EVERY. Time asleep (waiting for a file, a
 * lock, bound work's items) says nothing about sharing, so a span with
 * sleeps is not judged. */
static bool caller_shares_its_cpu(int64_t now)
{
    if (pool.looked_at > 0 && now - pool.looked_at < LOOK_EVERY_NANOSECONDS)
        return false;
    struct rusage usage;
    if (getrusage(RUSAGE_THREAD, &usage) != 0)
        return false;
    int64_t cpu_time = nanoseconds_of(usage.ru_utime) + nanoseconds_of(usage.ru_stime);
    bool judged = pool.looked_at > 0 && pthread_equal(pool.looker, pthread_self()) &&
                  usage.ru_nvcsw == pool.looker_sleeps;
    bool shares = judged && usage.ru_nivcsw > pool.looker_preemptions &&
                  (cpu_time - pool.looker_cpu_time) * CPU_SHARE_DENOMINATOR <
                      (now - pool.looked_at) * CPU_SHARE_NUMERATOR;
    pool.looker = pthread_self();
    pool.looked_at = now;
    pool.looker_cpu_time = cpu_time;
    pool.looker_sleeps = usage.ru_nvcsw;
    pool.looker_preemptions = usage.ru_nivcsw;
    return shares;
}

/* Whether unbound work that starts at `now` runs on the caller alone. */
static bool runs_alone(int64_t now)
{
    if (working_alone(now))
        return true;
    if (!caller_shares_its_cpu(now))
        return false;
    start_working_alone(now);
    return true;
}

/* Whether the caller, which started shared work at `started`, ran its own
 * chunks until `own_done` and then waited until `all_done`, waited for a
 * late helper. */
static bool helper_was_late(int64_t started, int64_t own_done, int64_t all_done)
{
    return all_done - own_done > 2 * (own_done - started) + LATE_SLACK_NANOSECONDS;
}

static void run_in_chunks(int64_t n, int64_t grain, tg_parallel_fn fn, void *context, bool bind)
{
    if (n <= 0)
        return;
    grain = grain < 1 ? 1 : grain;
    int threads = tg_get_num_threads();
    int64_t chunks = (n + grain - 1) / grain;
    int64_t most = (int64_t)threads * CHUNKS_PER_THREAD;
    chunks = chunks < most ? chunks : most;
    chunks = chunks < MAX_CHUNKS ? chunks : MAX_CHUNKS;
    if (threads <= 1 || chunks <= 1 || inside_work || pthread_mutex_trylock(&pool.busy) != 0) {
        fn(context, 0, n);
        return;
    }
    int64_t started = now_nanoseconds();
    if (!bind && runs_alone(started)) {
        pthread_mutex_unlock(&pool.busy);
        fn(context, 0, n);
        return;
    }
    pthread_once(&fork_handler_once, install_fork_handler);
    start_helpers(threads - 1);
    atomic_store_explicit(&pool.taking_part, threads - 1, memory_order_relaxed);
    int64_t chunk_size = ((n + chunks - 1) / chunks + grain - 1) / grain * grain;
    chunks = (n + chunk_size - 1) / chunk_size;
    bool bound = bind && choose_cpus(threads);
    atomic_store_explicit(&pool.bound, bound, memory_order_relaxed);
    uint32_t g = publish(n, chunk_size, chunks, fn, context);
    inside_work = true;
    take_chunks(g);
    inside_work = false;
    if (bound) {
        sleep_while_running(g, chunks, NULL); /* items take milliseconds: no spinning */
    } else if (atomic_load_explicit(&pool.done, memory_order_acquire) < chunks) {
        int64_t own_done = now_nanoseconds();
        wait_until_done(chunks);
        int64_t all_done = now_nanoseconds();
        if (helper_was_late(started, own_done, all_done))
            start_working_alone(all_done);
    }
    pthread_mutex_unlock(&pool.busy);
}

bool tg_parallel_helpers_ready(void)
{
    return atomic_load_explicit(&pool.helpers, memory_order_relaxed) > 0 &&
           atomic_load_explicit(&pool.sleepers, memory_order_relaxed) == 0;
}

void tg_parallel_for(int64_t n, int64_t grain, tg_parallel_fn fn, void *context)
{
    run_in_chunks(n, grain, fn, context, false);
}

void tg_parallel_for_bound(int64_t n, tg_parallel_fn fn, void *context)
{
    run_in_chunks(n, 1, fn, context, true);
}
