#include "autograd/grad_ready.h"

#include <stdlib.h>
#include <threads.h>

#include "autograd/postponed.h"
#include "autograd/meta.h"
#include "autograd/thread_list.h"

typedef struct ready {
    int64_t node; /* the leaf's first reader on the tape */
    tg_tensor *leaf;
} ready;

/* This thread's notice, and the leaves of the running backward in the
 * order of their first readers (the array is kept for the next pass). */
static _Thread_local tg_grad_ready_fn notice;
static _Thread_local void *notice_ctx;
static _Thread_local tg_thread_list listed;
static _Thread_local uint64_t pass; /* numbers backward passes, to list a leaf once */

static ready *listed_leaves(void) { return listed.items; }

void tg_set_grad_ready_notice(tg_grad_ready_fn fn, void *ctx)
{
    notice = fn;
    notice_ctx = ctx;
}

tg_grad_ready_fn tg_grad_ready_notice(void **ctx)
{
    *ctx = notice_ctx;
    return notice;
}

static int list_leaf(int64_t node, tg_tensor *leaf)
{
    if (tg_thread_list_room(&listed, TG_LIST_READY, sizeof(ready), 64, "backward: the gradient notice") != 0)
        return -1;
    listed_leaves()[listed.count++] = (ready){ node, leaf };
    return 0;
}

int tg_grad_ready_begin(int64_t last)
{
    listed.count = 0;
    if (!notice)
        return 0;
    pass++;
    for (int64_t i = 0; i <= last; i++)
        for (int k = 0; k < tg_tape_node(i)->n_in; k++) {
            tg_autograd_meta *m = tg_meta(tg_tape_node(i)->in[k]);
            if (!m || m->node >= 0 || !m->requires_grad || m->ready_pass == pass)
                continue;
            m->ready_pass = pass;
            if (list_leaf(i, tg_tape_node(i)->in[k]) != 0)
                return -1;
        }
    return 0;
}

int tg_grad_ready_passed(int64_t index)
{
    /* Listed in increasing order of first reader; backward walks down. */
    while (listed.count > 0 && listed_leaves()[listed.count - 1].node == index) {
        tg_tensor *leaf = listed_leaves()[--listed.count].leaf;
        if (tg_meta(leaf)->postponed_rows > 0 && tg_postponed_flush(leaf) != 0)
            return -1;
        notice(leaf, notice_ctx);
    }
    return 0;
}

void tg_grad_ready_end(void) { listed.count = 0; }
