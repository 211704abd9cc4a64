/*
 * autograd/thread_list.h: growable arrays of one thread (internal).
 *
 * The tape, the postponed products, the leaves of a pass and the leaves
 * listed for the gradient notice are each an array per thread that grows
 * by doubling and is kept from one backward to the next (so steady state
 * allocates nothing), then freed when the thread exits. Each has a slot.
 */
#ifndef TG_THREAD_LIST_H
#define TG_THREAD_LIST_H

#include <stddef.h>

enum tg_thread_list_slot {
    TG_LIST_TAPE,
    TG_LIST_POSTPONED,
    TG_LIST_PASS_LEAVES,
    TG_LIST_READY,
    TG_LIST_SLOTS
};

typedef struct tg_thread_list {
    void *items;
    size_t count, capacity;
} tg_thread_list;

/* Makes room for one more item of item_size bytes in list (a _Thread_local
 * of slot `slot`), doubling from `first` items. 0, or -1 with the error
 * "<what>: out of memory". */
int tg_thread_list_room(tg_thread_list *list, enum tg_thread_list_slot slot, size_t item_size, size_t first,
                        const char *what);
/* Frees list's memory now (its count and capacity become 0). */
void tg_thread_list_free(tg_thread_list *list, enum tg_thread_list_slot slot);

#endif
