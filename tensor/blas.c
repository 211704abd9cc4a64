#include "tensor/blas.h"

#include <blis.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <threads.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "tensor/matmul.h"
#include "tensor/threads.h"

static once_flag blas_once = ONCE_FLAG_INIT;
static atomic_int num_threads; /* 0 until set or defaulted */

/* The BLIS kernel set for this CPU, from its features; -1 when BLIS's own
 * choice is as good as ours. */
static int kernel_set_for_cpu(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        return BLIS_ARCH_SKX;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return __builtin_cpu_is("amd") ? BLIS_ARCH_ZEN3 : BLIS_ARCH_HASWELL;
    if (__builtin_cpu_supports("avx"))
        return BLIS_ARCH_SANDYBRIDGE;
    if (__builtin_cpu_supports("ssse3"))
        return BLIS_ARCH_PENRYN;
#endif
    return -1;
}

/* True when the user's BLIS_ARCH_TYPE names a kernel set of this build's
 * family; BLIS itself aborts on anything else. */
static int user_kernel_set_is_valid(const char *value)
{
    char *end;
    long id = strtol(value, &end, 10);
    if (*end != '\0' || end == value)
        return 0;
#if defined(__x86_64__) || defined(__i386__)
    /* Debian's x86-64 BLIS holds every x86 set but knc, and generic. */
    return (id >= BLIS_ARCH_SKX && id <= BLIS_ARCH_BULLDOZER && id != BLIS_ARCH_KNC) ||
           id == BLIS_ARCH_GENERIC;
#else
    return id >= 0 && id < BLIS_NUM_ARCHS;
#endif
}

static void choose_kernel_set(void)
{
    const char *user = getenv("BLIS_ARCH_TYPE");
    if (user && user_kernel_set_is_valid(user))
        return;
    if (user)
        fprintf(stderr, "tapegrad: ignoring BLIS_ARCH_TYPE=%s: not a kernel set id of this BLIS\n", user);
    int id = kernel_set_for_cpu();
    if (id >= 0) {
        char value[16];
        snprintf(value, sizeof value, "%d", id);
        setenv("BLIS_ARCH_TYPE", value, 1);
    } else if (user) {
        unsetenv("BLIS_ARCH_TYPE");
    }
}

static int default_thread_count(void)
{
#ifdef _OPENMP
    int n = omp_get_num_procs();
#else
    long n = sysconf(_SC_NPROCESSORS_ONLN);
#endif
    return n > 0 ? (int)n : 1;
}

static void init_blas(void)
{
    choose_kernel_set();
    bli_init();
    /* Every product calls BLIS on one thread; tensor/parallel.h spreads
     * large ones over threads in blocks (tensor/matmul.c). */
    bli_thread_set_num_threads(1);
}

void tg_blas_init(void) { call_once(&blas_once, init_blas); }

int tg_max_num_threads(void) { return TG_MAX_THREADS_PER_CORE * default_thread_count(); }

int tg_set_num_threads(int threads)
{
    int most = tg_max_num_threads();
    threads = threads < 1 ? 1 : (threads > most ? most : threads);
    atomic_store(&num_threads, threads);
    tg_blas_init();
    return threads;
}

int tg_get_num_threads(void)
{
    int n = atomic_load(&num_threads);
    if (n == 0) {
        int expected = 0;
        atomic_compare_exchange_strong(&num_threads, &expected, default_thread_count());
        n = atomic_load(&num_threads);
    }
    return n;
}

const char *tg_blas_kernel_set(void)
{
    tg_blas_init();
    return bli_arch_string(bli_arch_query_id());
}
