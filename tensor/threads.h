/*
 * tensor/threads.h: how many threads tapegrad computes with.
 *
 * One setting drives both BLIS (GEMMs) and tapegrad's own OpenMP kernels.
 * The default is every core the process may run on. Kernels below a size
 * where threads pay off run on one thread whatever the setting.
 */
#ifndef TG_THREADS_H
#define TG_THREADS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Sets the thread count for this process; values below 1 mean 1. */
void tg_set_num_threads(int threads);
int tg_get_num_threads(void);

#ifdef __cplusplus
}
#endif

#endif
