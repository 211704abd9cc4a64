#include "tensor/cpu.h"

#include <stdatomic.h>

bool tg_cpu_has_avx512(void)
{
#if defined(__x86_64__)
    /* Every thread finds the same answer; atomic, so that two finding it at once is no data race. */
    static _Atomic int found = -1;
    int known = atomic_load_explicit(&found, memory_order_relaxed);
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx512f") ? 1 : 0;
        atomic_store_explicit(&found, known, memory_order_relaxed);
    }
    return known == 1;
#else
    return false;
#endif
}
