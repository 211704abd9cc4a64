/* The arena's given-back blocks (tensor/arena.h): handed out again for the
 * same size only, forgotten by reset and, above the mark, by rewind (nested
 * rewinds too); and
 * tg_give_back, which takes whole graph tensors and nothing else. */
#include "support.h"
#include <tensor/kernel.h>

TestSuite(arena, .init = tg_test_setup, .fini = tg_test_teardown);

Test(arena, a_block_given_back_is_handed_out_again_for_its_size_only)
{
    tg_arena *arena = tg_arena_new();
    void *a = tg_arena_alloc(arena, 1000);
    void *b = tg_arena_alloc(arena, 1000);
    tg_arena_give_back(arena, a, 1000);
    void *other_size = tg_arena_alloc(arena, 2000);
    cr_assert_neq(other_size, a);
    cr_assert_eq(tg_arena_alloc(arena, 1000), a, "the given-back block is handed out again");
    cr_assert_neq(tg_arena_alloc(arena, 1000), a, "and only once");
    /* Sizes count after rounding to the 64-byte alignment. */
    tg_arena_give_back(arena, b, 1000);
    cr_assert_eq(tg_arena_alloc(arena, 990), b);
    tg_arena_free(arena);
}

Test(arena, reset_forgets_the_blocks_given_back)
{
    tg_arena *arena = tg_arena_new();
    void *a = tg_arena_alloc(arena, 512);
    tg_arena_give_back(arena, a, 512);
    unsigned generation = tg_arena_generation(arena);
    tg_arena_reset(arena);
    cr_assert_neq(tg_arena_generation(arena), generation, "a reset starts a new generation");
    /* It fills from its start again, which every other generation lies one
     * alignment step further in. */
    unsigned char *first = tg_arena_alloc(arena, 512), *second = tg_arena_alloc(arena, 512);
    ptrdiff_t moved = first - (unsigned char *)a;
    cr_assert(moved == 64 || moved == -64, "the first block moved by %td bytes", moved);
    cr_assert_neq(second, first, "a is not also handed out from the given-back list");
    cr_assert_neq((void *)second, a);
    tg_arena_reset(arena);
    cr_assert_eq(tg_arena_alloc(arena, 512), a, "two resets later it starts where it did");
    tg_arena_free(arena);
}

Test(arena, generations_are_never_shared)
{
    tg_arena *one = tg_arena_new(), *two = tg_arena_new();
    cr_assert_neq(tg_arena_generation(one), 0u);
    cr_assert_neq(tg_arena_generation(one), tg_arena_generation(two));
    unsigned before = tg_arena_generation(two);
    tg_arena_reset(one);
    cr_assert_neq(tg_arena_generation(one), before);
    tg_arena_free(one);
    tg_arena_free(two);
}

Test(arena, rewind_forgets_blocks_above_its_mark_and_keeps_those_below)
{
    tg_arena *arena = tg_arena_new();
    void *below = tg_arena_alloc(arena, 256);
    tg_arena_mark mark = tg_arena_get_mark(arena);
    void *above = tg_arena_alloc(arena, 256);
    tg_arena_give_back(arena, below, 256);
    tg_arena_give_back(arena, above, 256);
    tg_arena_rewind(arena, mark);
    cr_assert_eq(tg_arena_alloc(arena, 256), below, "the block below the mark stays given back");
    void *next = tg_arena_alloc(arena, 256);
    cr_assert_eq(next, above, "the one above is bump space again, handed out once");
    cr_assert_neq(tg_arena_alloc(arena, 256), above);
    tg_arena_free(arena);
}

/* A rewind looks only at blocks given back since its mark; those given back
 * before it lie below it and stay, under newer ones. */
Test(arena, nested_rewinds_keep_exactly_the_blocks_below_each_mark)
{
    tg_arena *arena = tg_arena_new();
    void *x = tg_arena_alloc(arena, 256);
    tg_arena_mark outer = tg_arena_get_mark(arena);
    void *a = tg_arena_alloc(arena, 256), *b = tg_arena_alloc(arena, 256);
    tg_arena_give_back(arena, a, 256);
    tg_arena_mark inner = tg_arena_get_mark(arena);
    void *d = tg_arena_alloc(arena, 512);
    tg_arena_give_back(arena, b, 256); /* after the inner mark, below it */
    tg_arena_give_back(arena, d, 512); /* after the inner mark, above it */
    tg_arena_rewind(arena, inner);
    cr_assert_eq(tg_arena_alloc(arena, 256), b, "given back after the mark, but below it");
    cr_assert_eq(tg_arena_alloc(arena, 256), a, "given back before the mark");
    cr_assert_eq(tg_arena_alloc(arena, 512), d, "d is bump space again");
    cr_assert_neq(tg_arena_alloc(arena, 512), d, "and handed out once");

    tg_arena_give_back(arena, a, 256);
    tg_arena_give_back(arena, x, 256);
    tg_arena_give_back(arena, b, 256);
    tg_arena_rewind(arena, outer);
    cr_assert_eq(tg_arena_alloc(arena, 256), x, "x lies below the outer mark");
    cr_assert_eq(tg_arena_alloc(arena, 256), a, "b and a are forgotten: a comes from bump space");
    cr_assert_eq(tg_arena_alloc(arena, 256), b);
    tg_arena_free(arena);
}

Test(arena, more_sizes_than_it_tracks_are_kept_until_the_reset)
{
    tg_arena *arena = tg_arena_new();
    enum { SIZES = 40 };
    void *blocks[SIZES];
    for (int i = 0; i < SIZES; i++)
        blocks[i] = tg_arena_alloc(arena, 64 * (size_t)(i + 1));
    for (int i = 0; i < SIZES; i++)
        tg_arena_give_back(arena, blocks[i], 64 * (size_t)(i + 1));
    int reused = 0;
    for (int i = 0; i < SIZES; i++) {
        void *p = tg_arena_alloc(arena, 64 * (size_t)(i + 1));
        cr_assert_not_null(p);
        if (p == blocks[i])
            reused++;
        else
            for (int j = 0; j < SIZES; j++)
                cr_assert_neq(p, blocks[j], "size %d got the block of size %d", i + 1, j + 1);
        memset(p, 1, 64 * (size_t)(i + 1)); /* each is writable in full */
    }
    cr_assert(reused > 0 && reused < SIZES, "%d of %d blocks reused", reused, SIZES);
    tg_arena_free(arena);
}

Test(arena, give_back_takes_whole_graph_tensors_and_leaves_the_rest_alone)
{
    tg_tensor *t = tg_empty(TG_SHAPE(300));
    void *block = t;
    cr_assert(tg_give_back(t));
    cr_assert_eq((void *)tg_empty(TG_SHAPE(15, 20)), block, "the same size gets t's memory");

    /* A view, an owned tensor and a tensor on the tape are not taken. */
    tg_tensor *base = tg_empty(TG_SHAPE(300));
    cr_assert_not(tg_give_back(tg_view_reshape(base, TG_SHAPE(3, 100))));
    tg_tensor *owned = tg_tensor_zeros(TG_SHAPE(300));
    cr_assert_not(tg_give_back(owned));
    tg_tensor *leaf = tg_tensor_ones(TG_SHAPE(300));
    tg_set_requires_grad(leaf, true);
    tg_tensor *recorded = tg_mul_scalar(leaf, 2.0f);
    cr_assert_not(tg_give_back(recorded));
    cr_assert_not(tg_give_back(NULL));
    tg_tensor *fresh = tg_empty(TG_SHAPE(300));
    cr_assert(fresh != base && fresh != owned && fresh != recorded);
    tg_assert_values(owned, ((float[300]){ 0 }), 300, 0);
    cr_assert_float_eq(recorded->data[299], 2.0f, 0);
    tg_tensor_free(owned);
    tg_tensor_free(leaf);
}
