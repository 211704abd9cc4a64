/*
 * tests/malloc_count.h: counts the calls to malloc, calloc, realloc and
 * aligned_alloc, for the tests that assert a step allocates nothing.
 *
 * Include it in one file of a test program that tests/CMakeLists.txt links
 * with those four symbols wrapped (-Wl,--wrap=...): every call the static
 * library makes then goes through the wrappers below and adds one to
 * `allocations`. Calls from inside shared libraries (BLIS, the OpenMP
 * runtime) are not counted.
 */
#ifndef TG_TEST_MALLOC_COUNT_H
#define TG_TEST_MALLOC_COUNT_H

#include <stdatomic.h>
#include <stddef.h>

static atomic_long allocations;

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *p, size_t size);
void *__real_aligned_alloc(size_t alignment, size_t size);

void *__wrap_malloc(size_t size)
{
    atomic_fetch_add(&allocations, 1);
    return __real_malloc(size);
}

void *__wrap_calloc(size_t count, size_t size)
{
    atomic_fetch_add(&allocations, 1);
    return __real_calloc(count, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    atomic_fetch_add(&allocations, 1);
    return __real_realloc(p, size);
}

void *__wrap_aligned_alloc(size_t alignment, size_t size)
{
    atomic_fetch_add(&allocations, 1);
    return __real_aligned_alloc(alignment, size);
}

#endif
