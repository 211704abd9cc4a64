#include "autograd/postponed.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#include "autograd/autograd.h"
#include "autograd/kernel.h"
#include "autograd/meta.h"
#include "autograd/thread_list.h"

typedef struct product {
    tg_tensor *x;
    const tg_tensor *a, *b;
    const tg_node *node; /* the op whose backward handed it over */
    int input;           /* x is that op's input number `input` */
} product;

/* This thread's postponed products, in the order they were handed over.
 * The array is kept between backward passes, so steady state allocates
 * nothing. */
static _Thread_local tg_thread_list pending;

static product *products(void) { return pending.items; }

/* Rows of one chunk, at most: its products are added as one product over
 * all their rows, deep enough (K = the rows) to run near the machine's
 * peak. When that product copies its pieces together (a result too large
 * for the tall path, tensor/matmul.h), the copy for the largest recurrent
 * layers is then a few tens of MB, not the whole sequence. A single
 * product with more rows is added alone. */
#define CHUNK_ROWS_MAX 1024

/* x's first chunk: its oldest products, in order, as many as fit in
 * CHUNK_ROWS_MAX rows (at least one). They lie in the list from *first to
 * *end (one past the last), among other weights' products; *count and
 * *rows say what the chunk holds. */
static void first_chunk(const tg_tensor *x, size_t *first, size_t *end, int *count, int64_t *rows)
{
    *count = 0;
    *rows = 0;
    *first = *end = 0;
    for (size_t i = 0; i < pending.count; i++) {
        if (products()[i].x != x)
            continue;
        int64_t r = products()[i].a->shape[0];
        if (*count > 0 && *rows + r > CHUNK_ROWS_MAX)
            break;
        if (*count == 0)
            *first = i;
        (*count)++;
        *rows += r;
        *end = i + 1;
    }
}

/* The operands of x's products in [first, end), in order, into arrays in
 * the arena: count of each. */
static int chunk_operands(const tg_tensor *x, size_t first, size_t end, int count, const tg_tensor ***a,
                          const tg_tensor ***b)
{
    *a = tg_arena_alloc(tg_arena_thread(), 2 * (size_t)count * sizeof **a);
    if (!*a)
        return -1;
    *b = *a + count;
    int n = 0;
    for (size_t i = first; i < end; i++)
        if (products()[i].x == x) {
            (*a)[n] = products()[i].a;
            (*b)[n++] = products()[i].b;
        }
    return 0;
}

/* Drops x's products in [first, end), keeping the others in order; each
 * stops reading its op's output gradient. */
static void drop_products(const tg_tensor *x, size_t first, size_t end)
{
    for (size_t i = first; i < end; i++)
        if (products()[i].x == x) {
            products()[i].x = NULL; /* being dropped */
            tg_grad_release(tg_meta(products()[i].node->out));
        }
    size_t kept = 0;
    for (size_t i = 0; i < pending.count; i++)
        if (products()[i].x)
            products()[kept++] = products()[i];
    pending.count = kept;
}

/* Adds x's first chunk of products to its gradient, then drops them. */
static int add_first_chunk(tg_tensor *x)
{
    size_t first, end;
    int count;
    int64_t rows;
    first_chunk(x, &first, &end, &count, &rows);
    bool accumulate;
    tg_tensor *target = tg_grad_target(x, &accumulate);
    if (!target)
        return -1;
    const product *oldest = &products()[first];
    tg_arena *arena = tg_arena_thread();
    tg_arena_mark mark = tg_arena_get_mark(arena);
    const tg_tensor **a, **b;
    int rc = chunk_operands(x, first, end, count, &a, &b);
    if (rc == 0)
        rc = tg_kernel_matmul_tn_sum(target, count, a, b, accumulate);
    tg_arena_rewind(arena, mark);
    /* Anomaly mode names the op, as if the products had been added at once. */
    if (rc == 0 && tg_anomaly_mode())
        rc = tg_anomaly_check_input_grad(oldest->node, oldest->input);
    drop_products(x, first, end);
    tg_meta(x)->postponed_rows -= rows;
    return rc;
}

int tg_postpone_product(const tg_node *node, int input, const tg_tensor *a, const tg_tensor *b)
{
    tg_tensor *x = node->in[input];
    if (tg_thread_list_room(&pending, TG_LIST_POSTPONED, sizeof(product), 256,
                            "backward: postponing a weight gradient") != 0)
        return -1;
    products()[pending.count++] = (product){ x, a, b, node, input };
    tg_grad_hold(tg_meta(node->out)); /* a reads the output's gradient */
    tg_autograd_meta *m = tg_meta(x);
    m->postponed_rows += a->shape[0];
    /* A full chunk of earlier products is added now, while its rows are
     * still in cache, and the gradients it read go back to the arena. The
     * chunk never holds this product, whose gradient the calling rule
     * still uses: before it, x's products held at most CHUNK_ROWS_MAX
     * rows or were a single product, and a chunk stops at that many rows
     * or at one product. */
    bool full = m->postponed_rows > CHUNK_ROWS_MAX && m->postponed_rows > a->shape[0];
    return full ? add_first_chunk(x) : 0;
}

int tg_postponed_flush(tg_tensor *x)
{
    tg_autograd_meta *m = tg_meta(x);
    while (m && m->postponed_rows > 0)
        if (add_first_chunk(x) != 0)
            return -1;
    return 0;
}

int tg_postponed_flush_all(void)
{
    while (pending.count > 0)
        if (tg_postponed_flush(products()[0].x) != 0) {
            tg_postponed_discard();
            return -1;
        }
    return 0;
}

void tg_postponed_discard(void)
{
    for (size_t i = 0; i < pending.count; i++)
        tg_meta(products()[i].x)->postponed_rows = 0;
    pending.count = 0;
}
