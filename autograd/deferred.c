#include "autograd/deferred.h"

#include <stdlib.h>
#include <string.h>
#include <threads.h>

#include "autograd/autograd.h"
#include "autograd/meta.h"
#include "tensor/matmul.h"

typedef struct product {
    tg_tensor *x;
    const tg_tensor *a, *b;
    const tg_node *node; /* the op whose backward handed it over */
    int input;           /* x is that op's input number `input` */
} product;

/* This thread's postponed products, in the order they were handed over.
 * The array is kept between backward passes, so steady state allocates
 * nothing. */
static _Thread_local product *pending;
static _Thread_local size_t n_pending, capacity;
static tss_t pending_key;
static once_flag pending_key_once = ONCE_FLAG_INIT;

static void free_at_thread_exit(void *p) { free(p); }
static void create_pending_key(void) { tss_create(&pending_key, free_at_thread_exit); }

int tg_defer_product(const tg_node *node, int input, const tg_tensor *a, const tg_tensor *b)
{
    tg_tensor *x = node->in[input];
    if (n_pending == capacity) {
        size_t grown = capacity ? capacity * 2 : 256;
        product *p = realloc(pending, grown * sizeof *p);
        if (!p)
            return tg_error_set("backward: out of memory postponing a weight gradient");
        call_once(&pending_key_once, create_pending_key);
        tss_set(pending_key, p);
        pending = p;
        capacity = grown;
    }
    pending[n_pending++] = (product){ x, a, b, node, input };
    tg_meta(x)->deferred = true;
    return 0;
}

/* Rows gathered for one product, at most: for the largest recurrent layers
 * a chunk of steps then needs a few tens of MB, not the whole sequence's
 * copy, and each product is still deep enough (K = the rows) to run near
 * the machine's peak. */
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

/* Copies the rows of x's products from number *next on into a_rows and
 * b_rows, as many as fit in their GATHER_ROWS_MAX rows (at least one
 * product); *next moves past them. The views describe the rows filled. */
static int gather(const tg_tensor *x, size_t *next, tg_tensor *a_rows, tg_tensor *b_rows,
                  const tg_tensor *a_all, const tg_tensor *b_all)
{
    *a_rows = *a_all;
    *b_rows = *b_all;
    int64_t at = 0;
    for (size_t i = *next; i < n_pending; i++, *next = i) {
        if (pending[i].x != x)
            continue;
        int64_t r = pending[i].a->shape[0];
        if (at > 0 && at + r > a_all->shape[0])
            break;
        tg_tensor a_part = *a_all, b_part = *b_all;
        a_part.data += at * a_all->shape[1];
        b_part.data += at * b_all->shape[1];
        a_part.shape[0] = b_part.shape[0] = r;
        a_part.numel = r * a_all->shape[1];
        b_part.numel = r * b_all->shape[1];
        if (tg_kernel_copy(&a_part, pending[i].a, false) != 0 ||
            tg_kernel_copy(&b_part, pending[i].b, false) != 0)
            return -1;
        at += r;
    }
    a_rows->shape[0] = b_rows->shape[0] = at;
    a_rows->numel = at * a_all->shape[1];
    b_rows->numel = at * b_all->shape[1];
    return 0;
}

/* target (+)= the sum of x's products, through chunks of gathered rows. */
static int add_gathered(const tg_tensor *x, int64_t rows, tg_tensor *target, bool accumulate)
{
    int64_t chunk_rows = 0; /* the largest product must fit */
    for (size_t i = 0; i < n_pending; i++)
        if (pending[i].x == x && pending[i].a->shape[0] > chunk_rows)
            chunk_rows = pending[i].a->shape[0];
    if (chunk_rows < GATHER_ROWS_MAX)
        chunk_rows = rows < GATHER_ROWS_MAX ? rows : GATHER_ROWS_MAX;
    tg_arena *arena = tg_arena_thread();
    tg_arena_mark mark = tg_arena_get_mark(arena);
    tg_tensor *a_all = tg_empty(TG_SHAPE(chunk_rows, x->shape[0]));
    tg_tensor *b_all = tg_empty(TG_SHAPE(chunk_rows, x->shape[1]));
    int rc = a_all && b_all ? 0 : -1;
    for (size_t next = 0; rc == 0 && next < n_pending;) {
        tg_tensor a_rows, b_rows;
        rc = gather(x, &next, &a_rows, &b_rows, a_all, b_all);
        if (rc == 0 && a_rows.shape[0] > 0) {
            rc = add_product(target, &a_rows, &b_rows, accumulate);
            accumulate = true;
        }
    }
    tg_arena_rewind(arena, mark);
    return rc;
}

int tg_deferred_flush(tg_tensor *x)
{
    tg_autograd_meta *m = tg_meta(x);
    if (!m || !m->deferred)
        return 0;
    m->deferred = false;
    int count = 0;
    int64_t rows = 0;
    size_t only = 0;
    for (size_t i = 0; i < n_pending; i++)
        if (pending[i].x == x) {
            count++;
            rows += pending[i].a->shape[0];
            only = i;
        }
    bool accumulate;
    tg_tensor *target = tg_grad_target(x, &accumulate);
    if (!target)
        return -1;
    int rc = count > 1 ? add_gathered(x, rows, target, accumulate)
                       : add_product(target, pending[only].a, pending[only].b, accumulate);
    /* Anomaly mode names the op, as if the product had been added at once. */
    if (rc == 0 && tg_anomaly_mode())
        rc = tg_anomaly_check_input_grad(pending[only].node, pending[only].input);
    /* Drop x's products, keeping the others in order. */
    size_t kept = 0;
    for (size_t i = 0; i < n_pending; i++)
        if (pending[i].x != x)
            pending[kept++] = pending[i];
    n_pending = kept;
    return rc;
}

size_t tg_deferred_count(void) { return n_pending; }

bool tg_deferred_reads(const tg_tensor *t, size_t since)
{
    for (size_t i = since; i < n_pending; i++)
        if (pending[i].a->storage == t->storage || pending[i].b->storage == t->storage)
            return true;
    return false;
}

int tg_deferred_flush_all(void)
{
    while (n_pending > 0)
        if (tg_deferred_flush(pending[0].x) != 0) {
            tg_deferred_discard();
            return -1;
        }
    return 0;
}

void tg_deferred_discard(void)
{
    for (size_t i = 0; i < n_pending; i++)
        tg_meta(pending[i].x)->deferred = false;
    n_pending = 0;
}
