/*
 * tensor/threads.h: how many threads tapegrad computes with, and which
 * BLIS kernels.
 *
 * Who it is for: every user (tapegrad.h includes it).
 *
 * One setting drives every kernel, BLIS products included: tensor/parallel.h
 * hands chunks of a kernel's work to the threads. The default is every core
 * the process may run on. Kernels below a size where threads pay off run on
 * one thread whatever the setting. A thread whose core another process
 * holds does not hold the others up: they take its chunks.
 *
 * BLIS kernels: on first use tapegrad picks the BLIS kernel set that fits
 * the CPU it runs on (AVX-512, AVX2, ...), since a BLIS build may not
 * recognise a newer CPU and fall back to slow generic code. A kernel set
 * chosen by the user through the environment variable BLIS_ARCH_TYPE (an
 * integer id, see tg_blas_kernel_set) is kept.
 */
#ifndef TG_THREADS_H
#define TG_THREADS_H

#ifdef __cplusplus
extern "C" {
#endif

/* At most this many threads per core the process may run on: more threads
 * than cores only take turns on them, and each hand-over of work costs. */
#define TG_MAX_THREADS_PER_CORE 1

/* Sets the thread count for this process; values below 1 mean 1, values
 * above TG_MAX_THREADS_PER_CORE times the cores are capped there. Returns
 * the count now in force, so a caller can see (and say) that it capped. */
int tg_set_num_threads(int threads);
/* The most tg_set_num_threads accepts on this machine. */
int tg_max_num_threads(void);
int tg_get_num_threads(void);

/* Name of the BLIS kernel set in use, e.g. "skx" or "zen3". */
const char *tg_blas_kernel_set(void);

#ifdef __cplusplus
}
#endif

#endif
