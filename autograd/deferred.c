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

/* Copies the rows of every product of x into one matrix per operand. */
static int gather_rows(const tg_tensor *x, int64_t rows, tg_tensor **a_all, tg_tensor **b_all)
{
    *a_all = tg_empty(TG_SHAPE(rows, x->shape[0]));
    *b_all = tg_empty(TG_SHAPE(rows, x->shape[1]));
    if (!*a_all || !*b_all)
        return -1;
    int64_t at = 0;
    for (size_t i = 0; i < n_pending; i++) {
        if (pending[i].x != x)
            continue;
        int64_t r = pending[i].a->shape[0];
        tg_tensor a_part = **a_all, b_part = **b_all;
        a_part.data += at * x->shape[0];
        b_part.data += at * x->shape[1];
        a_part.shape[0] = b_part.shape[0] = r;
        a_part.numel = r * x->shape[0];
        b_part.numel = r * x->shape[1];
        if (tg_kernel_copy(&a_part, pending[i].a, false) != 0 ||
            tg_kernel_copy(&b_part, pending[i].b, false) != 0)
            return -1;
        at += r;
    }
    return 0;
}

static tg_tensor transposed(const tg_tensor *t)
{
    tg_tensor v = *t;
    v.shape[0] = t->shape[1];
    v.shape[1] = t->shape[0];
    v.stride[0] = t->stride[1];
    v.stride[1] = t->stride[0];
    return v;
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
    const tg_tensor *a = pending[only].a, *b = pending[only].b;
    tg_tensor *a_all = NULL, *b_all = NULL;
    if (count > 1) {
        if (gather_rows(x, rows, &a_all, &b_all) != 0)
            return -1;
        a = a_all;
        b = b_all;
    }
    tg_tensor a_t = transposed(a);
    int rc = tg_kernel_matmul(target, &a_t, b, 1.0f, accumulate ? 1.0f : 0.0f);
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
