/*
 * Splitting a batch between threads (autograd/autograd.h, "Splitting a
 * batch between threads").
 *
 * Each part keeps a table of its own metadata for the owned leaves it
 * uses, found by the leaf's address, and installs it on the thread that
 * runs it (autograd/split.h): backward then fills the part's gradient
 * buffers and never writes the metadata the parts share. The tables and
 * their buffers live as long as the split, so a steady run allocates
 * nothing. When every part is done, the caller adds the parts' gradients
 * to the leaves' own, leaf by leaf, in part order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/autograd.h"
#include "autograd/grad_ready.h"
#include "autograd/kernel.h"
#include "autograd/split.h"
#include "tensor/kernel.h"
#include "tensor/parallel.h"

typedef struct part_leaf {
    tg_tensor *leaf;        /* NULL: a free slot */
    tg_autograd_meta *meta; /* the part's metadata for it; its grad is owned */
    uint64_t run;           /* the last run that used the leaf */
    uint64_t merged;        /* the last run whose merge added it */
} part_leaf;

struct tg_part {
    part_leaf *slots; /* open addressing; capacity a power of two, at most half full */
    size_t capacity, count;
    tg_tensor **used; /* the leaves of this run, in order of first use */
    size_t used_count, used_capacity;
    uint64_t run;
    tg_rng rng;
    /* Given for a leaf when memory runs out: it requires no gradient, so
     * nothing writes it, and the part fails. */
    tg_autograd_meta unusable;
    bool out_of_memory;
    int rc;
    char error[TG_ERROR_MAX];
};

struct tg_batch_split {
    int parts;
    uint64_t runs;
    tg_rng rng;
    struct tg_part *part;
};

_Thread_local struct tg_part *tg_running_part;

enum { FIRST_CAPACITY = 64 };

/* ---- A part's table of leaves ------------------------------------------------------ */

static size_t home_slot(const tg_tensor *leaf, size_t capacity)
{
    uint64_t h = (uint64_t)(uintptr_t)leaf * 0x9E3779B97F4A7C15u;
    return (size_t)(h >> 32) & (capacity - 1);
}

/* leaf's slot, or the free slot where it would go. */
static part_leaf *find_slot(const struct tg_part *p, const tg_tensor *leaf)
{
    for (size_t i = home_slot(leaf, p->capacity);; i = (i + 1) & (p->capacity - 1))
        if (p->slots[i].leaf == leaf || !p->slots[i].leaf)
            return &p->slots[i];
}

static int grow_table(struct tg_part *p)
{
    part_leaf *old = p->slots;
    size_t old_capacity = p->capacity;
    part_leaf *slots = calloc(2 * old_capacity, sizeof *slots);
    if (!slots)
        return -1;
    p->slots = slots;
    p->capacity = 2 * old_capacity;
    for (size_t i = 0; i < old_capacity; i++)
        if (old[i].leaf)
            *find_slot(p, old[i].leaf) = old[i];
    free(old);
    return 0;
}

/* A slot for a leaf the part has not met before. */
static part_leaf *add_leaf(struct tg_part *p, const tg_tensor *leaf)
{
    if (2 * (p->count + 1) > p->capacity && grow_table(p) != 0)
        return NULL;
    tg_autograd_meta *meta = calloc(1, sizeof *meta);
    if (!meta)
        return NULL;
    part_leaf *s = find_slot(p, leaf);
    *s = (part_leaf){ .leaf = (tg_tensor *)leaf, .meta = meta };
    p->count++;
    return s;
}

static int list_used(struct tg_part *p, tg_tensor *leaf)
{
    if (p->used_count == p->used_capacity) {
        size_t capacity = p->used_capacity ? 2 * p->used_capacity : FIRST_CAPACITY;
        tg_tensor **used = realloc(p->used, capacity * sizeof *used);
        if (!used)
            return -1;
        p->used = used;
        p->used_capacity = capacity;
    }
    p->used[p->used_count++] = leaf;
    return 0;
}

/* The leaf's metadata as a run starts: no gradient yet, the buffer kept
 * for reuse while the leaf's shape is the same. */
static void start_leaf(part_leaf *s, uint64_t run)
{
    tg_tensor *grad = s->meta->grad;
    if (grad && !tg_tensor_same_shape(grad, s->leaf)) {
        tg_tensor_free(grad);
        grad = NULL;
    }
    *s->meta = (tg_autograd_meta){ .grad = grad, .node = -1, .requires_grad = true, .state = TG_GRAD_FRESH };
    s->run = run;
}

tg_autograd_meta *tg_part_leaf_meta(const tg_tensor *leaf)
{
    struct tg_part *p = tg_running_part;
    part_leaf *s = find_slot(p, leaf);
    if (!s->leaf && !(s = add_leaf(p, leaf))) {
        p->out_of_memory = true;
        return &p->unusable;
    }
    if (s->run != p->run) {
        if (list_used(p, s->leaf) != 0) {
            p->out_of_memory = true;
            return &p->unusable;
        }
        start_leaf(s, p->run);
    }
    return s->meta;
}

int tg_part_check_own(const tg_tensor *t, const char *op, const char *what)
{
    if (!tg_running_part || !t || (t->flags & TG_TENSOR_OWNED))
        return 0;
    const tg_autograd_meta *m = (const tg_autograd_meta *)t->ext;
    if (!m || !m->requires_grad || m->part == tg_running_part)
        return 0;
    return tg_error_set("%s: %s is a graph tensor that requires a gradient, recorded outside "
                        "this part of the batch split; a part may use only the graph it records "
                        "(read the value through tg_detach, or compute it inside the part)", op, what);
}

static void free_part(struct tg_part *p)
{
    for (size_t i = 0; i < p->capacity; i++)
        if (p->slots[i].leaf) {
            tg_tensor_free(p->slots[i].meta->grad);
            free(p->slots[i].meta);
        }
    free(p->slots);
    free(p->used);
}

/* ---- The split ----------------------------------------------------------------------- */

tg_batch_split *tg_batch_split_new(int parts, uint64_t seed)
{
    if (parts < 1 || parts > TG_BATCH_SPLIT_MAX_PARTS) {
        tg_error_set("batch_split: %d parts; give 1 to %d", parts, TG_BATCH_SPLIT_MAX_PARTS);
        return NULL;
    }
    tg_batch_split *split = calloc(1, sizeof *split);
    struct tg_part *part = calloc((size_t)parts, sizeof *part);
    if (!split || !part) {
        free(split);
        free(part);
        tg_error_set("batch_split: out of memory for %d parts", parts);
        return NULL;
    }
    *split = (tg_batch_split){ .parts = parts, .rng = tg_rng_new(seed), .part = part };
    for (int i = 0; i < parts; i++) {
        part[i].capacity = FIRST_CAPACITY;
        part[i].slots = calloc(FIRST_CAPACITY, sizeof *part[i].slots);
        part[i].unusable.node = -1;
        if (!part[i].slots) {
            tg_batch_split_free(split);
            tg_error_set("batch_split: out of memory for %d parts", parts);
            return NULL;
        }
    }
    return split;
}

void tg_batch_split_free(tg_batch_split *split)
{
    if (!split)
        return;
    for (int i = 0; i < split->parts; i++)
        free_part(&split->part[i]);
    free(split->part);
    free(split);
}

tg_rng *tg_batch_split_rng(void) { return tg_running_part ? &tg_running_part->rng : NULL; }

tg_rng *tg_batch_split_generator(tg_batch_split *split)
{
    return split ? &split->rng : tg_null_input("batch_split_generator");
}

/* ---- Running the parts ------------------------------------------------------------------ */

typedef struct split_job {
    tg_batch_split *split;
    tg_part_fn fn;
    void *ctx;
    bool grad_enabled; /* the caller's grad mode, which every part runs with */
    unsigned caller_generation; /* the caller's arena: its graph tensors stay readable */
} split_job;

/* Runs one part on this thread: its table installed, the thread's notice
 * off (it announces merged gradients only), its graph freed at the end.
 * The part starts with no error recorded (the first error is the one a
 * thread keeps), and the thread's own comes back after it. */
static void run_part(const split_job *job, int index)
{
    struct tg_part *p = &job->split->part[index];
    char earlier[TG_ERROR_MAX];
    bool had_error = tg_error_occurred();
    if (had_error)
        snprintf(earlier, sizeof earlier, "%s", tg_error_message());
    tg_error_clear();
    void *notice_ctx;
    tg_grad_ready_fn notice = tg_grad_ready_notice(&notice_ctx);
    tg_set_grad_ready_notice(NULL, NULL);
    bool grad_was = tg_set_grad_enabled(job->grad_enabled);
    tg_graph_mark mark = tg_graph_get_mark();
    unsigned lent_before = tg_arena_lend_generation(job->caller_generation);
    tg_running_part = p;
    p->rc = job->fn(job->ctx, index, job->split->parts);
    if (p->rc != 0)
        snprintf(p->error, sizeof p->error, "%s", tg_error_message());
    else if (p->out_of_memory)
        p->rc = -1, snprintf(p->error, sizeof p->error, "out of memory for the part's gradients");
    tg_running_part = NULL;
    tg_arena_lend_generation(lent_before);
    tg_graph_rewind(mark);
    tg_set_grad_enabled(grad_was);
    tg_set_grad_ready_notice(notice, notice_ctx);
    tg_error_clear();
    if (had_error)
        tg_error_set("%s", earlier);
}

static void run_parts(void *context, int64_t begin, int64_t end)
{
    for (int64_t i = begin; i < end; i++)
        run_part(context, (int)i);
}

/* Adds every part's gradient of `leaf`, from part `first` on, to the
 * leaf's own, and announces it. */
static int merge_leaf(tg_batch_split *split, int first, tg_tensor *leaf)
{
    for (int q = first; q < split->parts; q++) {
        part_leaf *s = find_slot(&split->part[q], leaf);
        if (s->leaf != leaf || s->run != split->runs)
            continue;
        s->merged = split->runs;
        if (s->meta->state != TG_GRAD_VALID || !s->meta->grad)
            continue;
        bool accumulate;
        tg_tensor *target = tg_grad_target(leaf, &accumulate);
        if (!target || tg_kernel_copy(target, s->meta->grad, accumulate) != 0)
            return -1;
    }
    void *notice_ctx;
    tg_grad_ready_fn notice = tg_grad_ready_notice(&notice_ctx);
    if (notice) {
        tg_no_grad_begin();
        notice(leaf, notice_ctx);
        tg_no_grad_end();
    }
    return 0;
}

/* Each leaf once, in the order the parts first used them. 0, or -1 with
 * the error of the gradient that could not be added (out of memory). */
static int merge(tg_batch_split *split)
{
    for (int p = 0; p < split->parts; p++) {
        const struct tg_part *part = &split->part[p];
        for (size_t i = 0; i < part->used_count; i++)
            if (find_slot(part, part->used[i])->merged != split->runs &&
                merge_leaf(split, p, part->used[i]) != 0)
                return -1;
    }
    return 0;
}

int tg_batch_split_run(tg_batch_split *split, tg_part_fn fn, void *ctx)
{
    if (!split || !fn)
        return tg_error_null_input("batch_split");
    if (tg_running_part)
        return tg_error_set("batch_split: called inside a part of a split; a part runs on one thread");
    split->runs++;
    for (int i = 0; i < split->parts; i++) {
        struct tg_part *p = &split->part[i];
        p->run = split->runs;
        p->used_count = 0;
        p->out_of_memory = false;
        p->rc = 0;
        p->rng = tg_rng_new(tg_rng_next_u64(&split->rng));
    }
    split_job job = { .split = split, .fn = fn, .ctx = ctx, .grad_enabled = tg_grad_enabled(),
                      .caller_generation = tg_arena_generation(tg_arena_thread()) };
    tg_parallel_for_bound(split->parts, run_parts, &job);
    for (int i = 0; i < split->parts; i++)
        if (split->part[i].rc != 0)
            return tg_error_set("batch_split: part %d of %d: %s", i, split->parts, split->part[i].error);
    return merge(split);
}
