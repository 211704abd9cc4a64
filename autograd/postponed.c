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

/* Rows gathered for one product, at most: for the largest recurrent layers
 * a chunk of steps then needs a few tens of MB, not the whole sequence's
 * copy, and each product is still deep enough (K = the rows) to run near
 * the machine's peak. A single product with more rows is added alone. */
#define GATHER_ROWS_MAX 1024

static tg_tensor transposed(const tg_tensor *t)
{
    tg_tensor v = *t;
    v.shape[0] = t->shape[1];
    v.shape[1] = t->shape[0];
    v.stride[0] = t->stride[1];
    v.stride[1] = t->stride[0];
    return v;
}

/* target (+)= a^T b. */
static int add_product(tg_tensor *target, const tg_tensor *a, const tg_tensor *b, bool accumulate)
{
    tg_tensor a_t = transposed(a);
    return tg_kernel_matmul(target, &a_t, b, 1.0f, accumulate ? 1.0f : 0.0f);
}

/* x's first chunk: its oldest products, in order, as many as fit in
 * GATHER_ROWS_MAX rows (at least one). They lie in the list from *first to
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
        if (*count > 0 && *rows + r > GATHER_ROWS_MAX)
            break;
        if (*count == 0)
            *first = i;
        (*count)++;
        *rows += r;
        *end = i + 1;
    }
}

/* Copies the rows of x's products in [first, end) into one matrix per
 * operand, [rows, O] and [rows, I], in the arena. */
static int gather(const tg_tensor *x, size_t first, size_t end, int64_t rows, tg_tensor **a_all,
                  tg_tensor **b_all)
{
    *a_all = tg_empty(TG_SHAPE(rows, x->shape[0]));
    *b_all = tg_empty(TG_SHAPE(rows, x->shape[1]));
    if (!*a_all || !*b_all)
        return -1;
    int64_t at = 0;
    for (size_t i = first; i < end; i++) {
        if (products()[i].x != x)
            continue;
        int64_t r = products()[i].a->shape[0];
        tg_tensor a_part = **a_all, b_part = **b_all;
        a_part.data += at * x->shape[0];
        b_part.data += at * x->shape[1];
        a_part.shape[0] = b_part.shape[0] = r;
        a_part.numel = r * x->shape[0];
        b_part.numel = r * x->shape[1];
        if (tg_kernel_copy(&a_part, products()[i].a, false) != 0 ||
            tg_kernel_copy(&b_part, products()[i].b, false) != 0)
            return -1;
        at += r;
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
    int rc;
    if (count == 1) {
        rc = add_product(target, oldest->a, oldest->b, accumulate);
    } else {
        tg_arena *arena = tg_arena_thread();
        tg_arena_mark mark = tg_arena_get_mark(arena);
        tg_tensor *a_all, *b_all;
        rc = gather(x, first, end, rows, &a_all, &b_all);
        if (rc == 0)
            rc = add_product(target, a_all, b_all, accumulate);
        tg_arena_rewind(arena, mark);
    }
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
     * still uses: before it, x's products held at most GATHER_ROWS_MAX
     * rows or were a single product, and a chunk stops at that many rows
     * or at one product. */
    bool full = m->postponed_rows > GATHER_ROWS_MAX && m->postponed_rows > a->shape[0];
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
