#include "tensor/arena.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#include "tensor/blas.h"
#include "tensor/error.h"
#include "tensor/kernel.h"

#define ARENA_ALIGN 64
#define ARENA_FIRST_CHUNK (1u << 20)

typedef struct chunk {
    struct chunk *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    unsigned char *mem;
} chunk;

/* Blocks given back, of one size: a list linked through their first bytes. */
typedef struct free_list {
    size_t bytes;
    void *head;
} free_list;

#define FREE_SIZES 16

struct tg_arena {
    chunk *first;
    chunk *current;
    size_t reserved;
    free_list free[FREE_SIZES];
    size_t free_blocks;
    unsigned long long given_back; /* blocks given back so far, numbering them */
    unsigned generation;
};

/* Generations come from one counter: a tensor from a released arena, or
 * from another thread's, never matches this one's. 0 is never handed out. */
static atomic_uint last_generation;

static unsigned new_generation(void)
{
    unsigned g = atomic_fetch_add(&last_generation, 1) + 1;
    return g ? g : atomic_fetch_add(&last_generation, 1) + 1;
}

unsigned tg_arena_generation(const tg_arena *arena) { return arena ? arena->generation : 0; }

/* Where the first chunk's blocks start: every other generation one
 * alignment step further in, so that a step that allocates what the last
 * one did does not put a new tensor exactly where a stale pointer to the
 * last one's still points. */
static size_t first_offset(const tg_arena *arena) { return (arena->generation & 1) ? ARENA_ALIGN : 0; }

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

tg_arena *tg_arena_new(void)
{
    tg_arena *arena = calloc(1, sizeof *arena);
    if (!arena)
        tg_error_set("arena: out of memory");
    else
        arena->generation = new_generation();
    return arena;
}

static void forget_given_back(tg_arena *arena);

void tg_arena_free(tg_arena *arena)
{
    if (!arena)
        return;
    forget_given_back(arena);
    for (chunk *c = arena->first, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(arena);
}

/* A new chunk able to hold `bytes`, inserted after the current one. Sizes
 * double with the total so that the number of chunks stays small. */
static chunk *insert_chunk(tg_arena *arena, size_t bytes)
{
    size_t size = arena->reserved > ARENA_FIRST_CHUNK ? arena->reserved : ARENA_FIRST_CHUNK;
    if (size < bytes + ARENA_ALIGN) /* room for the first chunk's offset too */
        size = bytes + ARENA_ALIGN;
    size = round_up(size, ARENA_ALIGN);
    size_t header = round_up(sizeof(chunk), ARENA_ALIGN);
    if (size > SIZE_MAX - header - TG_BLAS_READ_SLACK) {
        tg_error_set("arena: cannot allocate %zu bytes", bytes);
        return NULL;
    }
    /* The slack past the last allocation: tensor/blas.h. */
    chunk *c = aligned_alloc(ARENA_ALIGN, header + size + TG_BLAS_READ_SLACK);
    if (!c) {
        tg_error_set("arena: out of memory allocating %zu bytes", bytes);
        return NULL;
    }
    c->size = size;
    c->used = arena->first ? 0 : first_offset(arena);
    c->mem = (unsigned char *)c + header;
    if (arena->current) {
        c->next = arena->current->next;
        arena->current->next = c;
    } else {
        c->next = arena->first;
        arena->first = c;
    }
    arena->reserved += size;
    return c;
}

/* ---- Blocks given back ----------------------------------------------------- *
 * Each list is a stack, newest first, linked through the blocks' first
 * bytes. Blocks are numbered as they are given back, so that a rewind looks
 * only at those given back since its mark: older ones were allocated
 * before the mark and lie below it.
 *
 * Under AddressSanitizer a given-back block is poisoned (past its link)
 * until it is handed out again or forgotten, so that any use of memory
 * after giving it back is reported. */

typedef struct given_back_link {
    void *next;
    unsigned long long number;
} given_back_link;

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(block, bytes) \
    ASAN_POISON_MEMORY_REGION((given_back_link *)(block) + 1, (bytes) - sizeof(given_back_link))
#define UNPOISON(block, bytes) ASAN_UNPOISON_MEMORY_REGION(block, bytes)
#else
#define POISON(block, bytes) ((void)(block), (void)(bytes))
#define UNPOISON(block, bytes) ((void)(block), (void)(bytes))
#endif

static given_back_link *link_of(void *block) { return (given_back_link *)block; }

/* A given-back block of exactly `bytes`, or NULL. */
static void *take_given_back(tg_arena *arena, size_t bytes)
{
    for (int i = 0; i < FREE_SIZES; i++) {
        free_list *list = &arena->free[i];
        if (list->bytes == bytes && list->head) {
            void *block = list->head;
            list->head = link_of(block)->next;
            arena->free_blocks--;
            UNPOISON(block, bytes);
            return block;
        }
    }
    return NULL;
}

void tg_arena_give_back(tg_arena *arena, void *block, size_t bytes)
{
    if (!arena || !block)
        return;
    bytes = round_up(bytes ? bytes : 1, ARENA_ALIGN);
    free_list *list = NULL;
    for (int i = 0; i < FREE_SIZES && !list; i++)
        if (arena->free[i].bytes == bytes)
            list = &arena->free[i];
    for (int i = 0; i < FREE_SIZES && !list; i++)
        if (!arena->free[i].head)
            list = &arena->free[i];
    if (!list)
        return; /* every list holds blocks of other sizes: this one waits for the reset */
    list->bytes = bytes;
    *link_of(block) = (given_back_link){ list->head, ++arena->given_back };
    list->head = block;
    arena->free_blocks++;
    POISON(block, bytes);
}

static void forget_given_back(tg_arena *arena)
{
    for (int i = 0; i < FREE_SIZES; i++)
        for (void *block = arena->free[i].head, *next; block; block = next) {
            next = link_of(block)->next;
            UNPOISON(block, arena->free[i].bytes);
        }
    memset(arena->free, 0, sizeof arena->free);
    arena->free_blocks = 0;
}

/* Whether block lies below the mark: in a chunk before the mark's, or low
 * enough in the mark's chunk. Chunks are listed in the order they are
 * filled. */
static bool lies_below(const tg_arena *arena, const void *block, tg_arena_mark mark)
{
    uintptr_t at = (uintptr_t)block;
    for (const chunk *c = arena->first; c; c = c->next) {
        uintptr_t start = (uintptr_t)c->mem;
        bool inside = at >= start && at < start + c->size;
        if (c == mark.chunk)
            return inside && at - start < mark.used;
        if (inside)
            return true;
    }
    return false;
}

/* Keeps only the given-back blocks that a rewind to mark leaves allocated. */
static void forget_given_back_above(tg_arena *arena, tg_arena_mark mark)
{
    for (int i = 0; i < FREE_SIZES; i++) {
        void **link = &arena->free[i].head;
        while (*link && link_of(*link)->number > mark.given_back) {
            void *block = *link;
            if (lies_below(arena, block, mark)) {
                link = &link_of(block)->next;
            } else {
                *link = link_of(block)->next;
                arena->free_blocks--;
                UNPOISON(block, arena->free[i].bytes);
            }
        }
    }
}

/* ---- Allocation -------------------------------------------------------------- */

void *tg_arena_alloc(tg_arena *arena, size_t bytes)
{
    if (!arena)
        return tg_null_input("arena_alloc");
    if (bytes > SIZE_MAX - ARENA_ALIGN) {
        tg_error_set("arena: cannot allocate %zu bytes", bytes);
        return NULL;
    }
    bytes = round_up(bytes ? bytes : 1, ARENA_ALIGN);
    if (arena->free_blocks > 0) {
        void *block = take_given_back(arena, bytes);
        if (block)
            return block;
    }
    chunk *c = arena->current;
    if (!c && arena->first) {
        c = arena->current = arena->first;
        c->used = first_offset(arena);
    }
    if (!c || c->size - c->used < bytes) {
        chunk *next = c ? c->next : NULL;
        if (next && next->size >= bytes) {
            c = next;
            c->used = 0;
        } else {
            c = insert_chunk(arena, bytes);
            if (!c)
                return NULL;
        }
        arena->current = c;
    }
    void *p = c->mem + c->used;
    c->used += bytes;
    return p;
}

void *tg_arena_calloc(tg_arena *arena, size_t bytes)
{
    void *p = tg_arena_alloc(arena, bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

void tg_arena_reset(tg_arena *arena)
{
    if (!arena)
        return;
    arena->generation = new_generation();
    arena->current = arena->first;
    if (arena->first)
        arena->first->used = first_offset(arena);
    forget_given_back(arena);
}

tg_arena_mark tg_arena_get_mark(const tg_arena *arena)
{
    tg_arena_mark mark = { NULL, 0, 0 };
    if (arena)
        mark.given_back = arena->given_back;
    if (arena && arena->current) {
        mark.chunk = arena->current;
        mark.used = arena->current->used;
    }
    return mark;
}

void tg_arena_rewind(tg_arena *arena, tg_arena_mark mark)
{
    if (!arena)
        return;
    if (!mark.chunk) {
        tg_arena_reset(arena);
        return;
    }
    if (arena->free_blocks > 0)
        forget_given_back_above(arena, mark);
    arena->current = mark.chunk;
    arena->current->used = mark.used;
}

size_t tg_arena_used(const tg_arena *arena)
{
    size_t used = 0;
    if (!arena || !arena->current)
        return 0;
    /* The chunks before the current one were filled this generation: each
     * holds what it handed out before a block did not fit (the rest of it
     * is not counted: nothing was handed out from there). */
    for (chunk *c = arena->first; c; c = c->next) {
        used += c->used - (c == arena->first ? first_offset(arena) : 0);
        if (c == arena->current)
            return used;
    }
    return used;
}

size_t tg_arena_reserved(const tg_arena *arena) { return arena ? arena->reserved : 0; }

/* ---- The per-thread arena ------------------------------------------------ */

static _Thread_local tg_arena *thread_arena;
static _Thread_local unsigned lent_generation;
static tss_t thread_arena_key;
static once_flag thread_arena_key_once = ONCE_FLAG_INIT;

static void release_at_thread_exit(void *arena) { tg_arena_free(arena); }

static void create_thread_arena_key(void) { tss_create(&thread_arena_key, release_at_thread_exit); }

tg_arena *tg_arena_thread(void)
{
    if (!thread_arena) {
        call_once(&thread_arena_key_once, create_thread_arena_key);
        thread_arena = tg_arena_new();
        tss_set(thread_arena_key, thread_arena);
    }
    return thread_arena;
}

void tg_arena_release_thread(void)
{
    if (!thread_arena)
        return;
    tss_set(thread_arena_key, NULL);
    tg_arena_free(thread_arena);
    thread_arena = NULL;
}

unsigned tg_arena_lend_generation(unsigned generation)
{
    unsigned before = lent_generation;
    lent_generation = generation;
    return before;
}

unsigned tg_arena_lent_generation(void) { return lent_generation; }
