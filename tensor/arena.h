/*
 * tensor/arena.h: the memory that graph tensors live in.
 *
 * Who it is for: every user (tapegrad.h includes it): the arena's size
 * and reset. Giving one block back before the reset is the op author's
 * (tg_arena_give_back, tensor/kernel.h).
 *
 * An arena hands out aligned blocks by bumping a pointer through a list of
 * chunks. Reset makes all of it free again but keeps the chunks, so a loop
 * that allocates the same sequence of blocks every iteration (a training
 * step) calls malloc only in its first iterations. The arena grows without
 * limit; it never fails for lack of a preset size.
 *
 * Each thread has its own arena (tg_arena_thread), created on first use and
 * released when the thread exits or on tg_arena_release_thread().
 */
#ifndef TG_ARENA_H
#define TG_ARENA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tg_arena tg_arena;

/* A position in an arena, for tg_arena_rewind. */
typedef struct tg_arena_mark {
    void *chunk;
    size_t used;
    unsigned long long given_back; /* blocks given back before the mark */
} tg_arena_mark;

tg_arena *tg_arena_new(void);
void tg_arena_free(tg_arena *arena);
/* A block of `bytes` aligned to 64 bytes; NULL (with an error) when memory
 * runs out. Contents are undefined. */
void *tg_arena_alloc(tg_arena *arena, size_t bytes);
/* Like tg_arena_alloc, zero-filled. */
void *tg_arena_calloc(tg_arena *arena, size_t bytes);
/* Makes every block free again; keeps the memory for reuse. The arena
 * starts a new generation. */
void tg_arena_reset(tg_arena *arena);
/* The arena's generation: a number no other arena or generation of this
 * process shares, changed by every reset (graph tensors record it). */
unsigned tg_arena_generation(const tg_arena *arena);
tg_arena_mark tg_arena_get_mark(const tg_arena *arena);
/* Frees everything allocated after the mark was taken. A block that was
 * given back and handed out again in between stays in use until the
 * reset. */
void tg_arena_rewind(tg_arena *arena, tg_arena_mark mark);
/* Bytes handed out since the last reset, and bytes held from the system. */
size_t tg_arena_used(const tg_arena *arena);
size_t tg_arena_reserved(const tg_arena *arena);

/* This thread's arena, where graph tensors live. NULL only when out of memory. */
tg_arena *tg_arena_thread(void);
/* Frees this thread's arena; the next use creates a new one. */
void tg_arena_release_thread(void);
/* Lets this thread read the graph tensors of another thread's arena, of
 * generation `generation`, while that thread keeps them alive (it waits
 * for this one): tg_tensor_is_stale does not count them as stale here.
 * 0 ends it. Returns the generation lent before. */
unsigned tg_arena_lend_generation(unsigned generation);
/* The generation lent to this thread; 0 when none. */
unsigned tg_arena_lent_generation(void);

#ifdef __cplusplus
}
#endif

#endif
