/*
 * tests/two_threads.h: two jobs run in turn, then at once on two threads,
 * for the tests that check a thread computes what it would compute alone.
 */
#ifndef TG_TEST_TWO_THREADS_H
#define TG_TEST_TWO_THREADS_H

#include <threads.h>

#include "support.h"

/* Runs job(alone[0]) and job(alone[1]) one after the other on this thread,
 * then job(together[0]) and job(together[1]) on two threads at once. */
static inline void run_in_turn_then_at_once(thrd_start_t job, void *const alone[2], void *const together[2])
{
    job(alone[0]);
    job(alone[1]);
    thrd_t threads[2];
    for (int t = 0; t < 2; t++)
        cr_assert_eq(thrd_create(&threads[t], job, together[t]), thrd_success);
    for (int t = 0; t < 2; t++)
        cr_assert_eq(thrd_join(threads[t], NULL), thrd_success);
}

#endif
