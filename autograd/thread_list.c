#include "autograd/thread_list.h"

#include <stdlib.h>
#include <threads.h>

#include "tensor/error.h"

/* Each thread's arrays, by slot; freed by the key's destructor when the
 * thread exits (it runs before the thread's storage goes). */
static _Thread_local void *thread_arrays[TG_LIST_SLOTS];
static tss_t arrays_key;
static once_flag arrays_key_once = ONCE_FLAG_INIT;

static void free_arrays_at_thread_exit(void *arrays)
{
    void **slots = arrays;
    for (int i = 0; i < TG_LIST_SLOTS; i++) {
        free(slots[i]);
        slots[i] = NULL;
    }
}

static void create_arrays_key(void) { tss_create(&arrays_key, free_arrays_at_thread_exit); }

int tg_thread_list_room(tg_thread_list *list, enum tg_thread_list_slot slot, size_t item_size, size_t first,
                        const char *what)
{
    if (list->count < list->capacity)
        return 0;
    size_t grown = list->capacity ? list->capacity * 2 : first;
    void *items = realloc(list->items, grown * item_size);
    if (!items)
        return tg_error_set("%s: out of memory", what);
    call_once(&arrays_key_once, create_arrays_key);
    thread_arrays[slot] = items;
    tss_set(arrays_key, thread_arrays);
    list->items = items;
    list->capacity = grown;
    return 0;
}

void tg_thread_list_free(tg_thread_list *list, enum tg_thread_list_slot slot)
{
    free(list->items);
    thread_arrays[slot] = NULL;
    *list = (tg_thread_list){ 0 };
}
