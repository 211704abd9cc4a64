#include "tensor/parallel.h"

#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
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
    uint32_t generation;         /* the last published; written under `busy` */
    pthread_mutex_t busy;        /* held by the thread whose work is published */
    pthread_mutex_t sleep_lock;
    pthread_cond_t wake;
} pool = {
    .busy = PTHREAD_MUTEX_INITIALIZER,
    .sleep_lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
};

/* Set on helpers, and on the caller while it runs chunks: a call made from
 * inside a chunk runs alone. */
static _Thread_local bool inside_work;

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

/* Takes and runs chunks of generation g until none is left. */
static void take_chunks(uint32_t g)
{
    tg_parallel_fn fn = atomic_load_explicit(&pool.fn, memory_order_relaxed);
    void *context = atomic_load_explicit(&pool.context, memory_order_relaxed);
    int64_t n = atomic_load_explicit(&pool.n, memory_order_relaxed);
    int64_t size = atomic_load_explicit(&pool.chunk_size, memory_order_relaxed);
    for (int64_t c; (c = claim(g)) >= 0;) {
        int64_t begin = c * size, end = begin + size < n ? begin + size : n;
        fn(context, begin, end);
        atomic_fetch_add_explicit(&pool.done, 1, memory_order_release);
    }
}

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
    uint32_t seen = ticket_generation(atomic_load(&pool.ticket));
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
    pthread_mutex_init(&pool.busy, NULL);
    pthread_mutex_init(&pool.sleep_lock, NULL);
    pthread_cond_init(&pool.wake, NULL);
}

static pthread_once_t fork_handler_once = PTHREAD_ONCE_INIT;
static void install_fork_handler(void) { pthread_atfork(NULL, NULL, reset_in_child); }

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

void tg_parallel_for(int64_t n, int64_t grain, tg_parallel_fn fn, void *context)
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
    pthread_once(&fork_handler_once, install_fork_handler);
    start_helpers(threads - 1);
    atomic_store_explicit(&pool.taking_part, threads - 1, memory_order_relaxed);
    int64_t chunk_size = ((n + chunks - 1) / chunks + grain - 1) / grain * grain;
    chunks = (n + chunk_size - 1) / chunk_size;
    uint32_t g = publish(n, chunk_size, chunks, fn, context);
    inside_work = true;
    take_chunks(g);
    inside_work = false;
    wait_until_done(chunks);
    pthread_mutex_unlock(&pool.busy);
}
