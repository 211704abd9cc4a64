/*
 * tensor/cpu.h: what the processor can run (internal).
 *
 * Kernels with AVX-512 code paths ask here before taking them; the answer
 * is found once and is the same on every thread.
 */
#ifndef TG_CPU_H
#define TG_CPU_H

#include <stdbool.h>

/* Whether this processor runs AVX-512F instructions. */
bool tg_cpu_has_avx512(void);

#endif
