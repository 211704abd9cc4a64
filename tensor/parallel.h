/*
 * tensor/parallel.h: running a kernel's work on several threads.
 *
 * Who it is for: people writing kernels (tensor/ and the op author's
 * floors). Users set the thread count in tensor/threads.h.
 *
 * Work is split into chunks that the calling thread and the pool's helper
 * threads take one at a time from a shared counter. The caller takes part
 * and returns once every chunk is done; it never waits for a helper to
 * start. So a helper whose core is busy with another process (descheduled
 * for milliseconds) holds nothing up: the threads that are running take its
 * chunks. A fork-join team (OpenMP's) instead waits at every barrier for
 * every member, which made two threads several times slower than one when
 * another process kept a core busy.
 *
 * Helpers spin briefly for the next piece of work (kernels of one training
 * step come microseconds apart), then sleep without using the CPU.
 *
 * A helper descheduled after taking a chunk still holds that chunk, and a
 * spinning helper takes CPU time that another program may need. So when
 * the CPUs are contended (a helper held the caller up, or the caller got
 * too little CPU time while it ran) the caller runs the work of the next
 * calls alone, for 4 ms at first and longer while the contention lasts,
 * and its helpers sleep. Bound work (tg_parallel_for_bound) always runs
 * on its threads.
 *
 * A call made inside a chunk, or while another thread's call holds the
 * pool, runs on the calling thread alone: results never depend on which
 * threads ran which chunks, only the speed does.
 */
#ifndef TG_PARALLEL_H
#define TG_PARALLEL_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Below this many elements an elementwise kernel runs on one thread:
 * handing work to another thread costs a few microseconds, more than a
 * second thread saves on a simple operation over fewer elements (at 2^16,
 * an addition breaks even and a tanh runs 1.6 times faster on two
 * threads). */
#define TG_PARALLEL_MIN_ELEMENTS 65536

/* Whether the helper threads are started and awake (working, or spinning
 * for the next work), so that handing them work costs well under a
 * microsecond. Otherwise the caller first has to wake a helper (or start
 * one): the system call that wakes one took the caller 10 microseconds
 * (median; 14 to 23 at the 90th percentile) in the VM the benchmarks run
 * on. A kernel with a few tens of microseconds of work runs faster alone
 * than after paying that. */
bool tg_parallel_helpers_ready(void);

/* Does the items [begin, end) of a piece of work. */
typedef void (*tg_parallel_fn)(void *context, int64_t begin, int64_t end);

/* Runs fn over the items [0, n) in chunks on up to tg_get_num_threads()
 * threads, the caller included, and returns when all are done. Chunk edges
 * fall on multiples of `grain` (at least 1), so a chunk is never smaller
 * than grain items except the last. One thread, or n at most grain, runs
 * fn(context, 0, n) on the caller. */
void tg_parallel_for(int64_t n, int64_t grain, tg_parallel_fn fn, void *context);

/* tg_parallel_for with grain 1, for items that each run for milliseconds
 * (the parts of a batch split). Each thread taking part is bound to a CPU
 * of its own from its first item to its last: the caller to the CPU it
 * runs on, helpers to the caller's other CPUs. A thread done with its
 * items gets its CPUs back and sleeps until the others are done, waking
 * every millisecond.
 *
 * Why: when another program keeps a core busy, three threads share two
 * cores, and the scheduler lets the program keep a core to itself while
 * our two threads share the other, each at half speed: two threads then
 * ran no faster than one. Bound to different CPUs, our threads never
 * share one. And when one of them is done first, its CPU going idle again
 * every millisecond makes the scheduler move the other program there, so
 * the thread that shared a CPU gets one to itself; a CPU that sleeps
 * without a break was left idle for 8 to 15 ms first.
 *
 * When the caller may run on fewer CPUs than threads take part, or the
 * system refuses, the items run unbound, as with tg_parallel_for. */
void tg_parallel_for_bound(int64_t n, tg_parallel_fn fn, void *context);

#ifdef __cplusplus
}
#endif

#endif
