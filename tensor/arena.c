#include "tensor/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#include "tensor/blas.h"
#include "tensor/error.h"

#define ARENA_ALIGN 64
#define ARENA_FIRST_CHUNK (1u << 20)

typedef struct chunk {
    struct chunk *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    unsigned char *mem;
} chunk;

struct tg_arena {
    chunk *first;
    chunk *current;
    size_t reserved;
};

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

tg_arena *tg_arena_new(void)
{
    tg_arena *arena = calloc(1, sizeof *arena);
    if (!arena)
        tg_error_set("arena: out of memory");
    return arena;
}

void tg_arena_free(tg_arena *arena)
{
    if (!arena)
        return;
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
    if (size < bytes)
        size = bytes;
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
    c->used = 0;
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

void *tg_arena_alloc(tg_arena *arena, size_t bytes)
{
    if (!arena)
        return NULL;
    if (bytes > SIZE_MAX - ARENA_ALIGN) {
        tg_error_set("arena: cannot allocate %zu bytes", bytes);
        return NULL;
    }
    bytes = round_up(bytes ? bytes : 1, ARENA_ALIGN);
    chunk *c = arena->current;
    if (!c && arena->first) {
        c = arena->current = arena->first;
        c->used = 0;
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
    arena->current = arena->first;
    if (arena->first)
        arena->first->used = 0;
}

tg_arena_mark tg_arena_get_mark(const tg_arena *arena)
{
    tg_arena_mark mark = { NULL, 0 };
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
    arena->current = mark.chunk;
    arena->current->used = mark.used;
}

size_t tg_arena_used(const tg_arena *arena)
{
    size_t used = 0;
    if (!arena || !arena->current)
        return 0;
    for (chunk *c = arena->first; c; c = c->next) {
        if (c == arena->current)
            return used + c->used;
        used += c->size; /* chunks before the current one count as full */
    }
    return used;
}

size_t tg_arena_reserved(const tg_arena *arena) { return arena ? arena->reserved : 0; }

/* ---- The per-thread arena ------------------------------------------------ */

static _Thread_local tg_arena *thread_arena;
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
