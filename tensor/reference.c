#include "tensor/reference.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#ifndef TAPEGRAD_REFERENCE_DEFAULT
#define TAPEGRAD_REFERENCE_DEFAULT 0
#endif

/* -1 until the first use decides from the build and the environment. */
static atomic_int reference_mode = -1;

void tg_set_reference_mode(bool on) { atomic_store_explicit(&reference_mode, on, memory_order_relaxed); }

bool tg_reference_mode(void)
{
    int mode = atomic_load_explicit(&reference_mode, memory_order_relaxed);
    if (mode >= 0)
        return mode;
    const char *env = getenv("TAPEGRAD_REFERENCE");
    int chosen = env && *env ? strcmp(env, "0") != 0 : TAPEGRAD_REFERENCE_DEFAULT;
    int unknown = -1;
    atomic_compare_exchange_strong(&reference_mode, &unknown, chosen);
    return atomic_load_explicit(&reference_mode, memory_order_relaxed);
}
