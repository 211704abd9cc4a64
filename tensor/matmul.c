#include "tensor/matmul.h"

#include <blis.h>
#include <string.h>

#include "tensor/blas.h"
#include "tensor/elementwise.h"
#include "tensor/gemm_small.h"
#include "tensor/gemm_tall.h"
#include "tensor/gemm_tiny.h"
#include "tensor/iterate.h"
#include "tensor/kernel.h"
#include "tensor/parallel.h"
#include "tensor/reference.h"
#include "tensor/threads.h"

/* A matrix as BLIS sees it (tensor/gemm_small.h). */
typedef tg_matrix matrix;

/* BLIS checks that strides describe non-overlapping storage, and a size-1
 * axis may carry any stride in a tensor. Give such axes the stride BLIS
 * expects. Returns false when the matrix needs a contiguous copy (an
 * expanded axis, or strides BLIS cannot take). */
static bool blis_strides(matrix *x)
{
    if (x->m == 1 && x->n == 1) {
        x->rs = x->cs = 1;
        return true;
    }
    if (x->m == 1) {
        if (x->cs < 1)
            return false;
        x->rs = x->cs * x->n;
        return true;
    }
    if (x->n == 1) {
        if (x->rs < 1)
            return false;
        x->cs = x->rs * x->m;
        return true;
    }
    if (x->rs < 1 || x->cs < 1)
        return false;
    return x->rs >= x->n * x->cs || x->cs >= x->m * x->rs;
}

static int check_shapes(const tg_tensor *a, const tg_tensor *b, const char *op)
{
    char sa[TG_SHAPE_STR_MAX], sb[TG_SHAPE_STR_MAX];
    if (tg_check_float(op, 2, (const tg_tensor *const[]){ a, b }) != 0)
        return -1;
    if (a->ndim < 2 || b->ndim < 2)
        return tg_error_set("%s: %s x %s: both operands need at least 2 dimensions", op,
                            tg_shape_format(sa, sizeof sa, a), tg_shape_format(sb, sizeof sb, b));
    int64_t ka = a->shape[a->ndim - 1], kb = b->shape[b->ndim - 2];
    if (ka != kb)
        return tg_error_set("%s: %s x %s: inner dimensions %lld and %lld differ", op,
                            tg_shape_format(sa, sizeof sa, a), tg_shape_format(sb, sizeof sb, b),
                            (long long)ka, (long long)kb);
    return 0;
}

int tg_matmul_shape(const tg_tensor *a, const tg_tensor *b, tg_shape *out, const char *op)
{
    if (!a || !b)
        return tg_error_null_input("matmul_shape");
    if (check_shapes(a, b, op) != 0)
        return -1;
    tg_shape batch_a = { .ndim = a->ndim - 2 }, batch_b = { .ndim = b->ndim - 2 };
    memcpy(batch_a.dim, a->shape, sizeof(int64_t) * (size_t)batch_a.ndim);
    memcpy(batch_b.dim, b->shape, sizeof(int64_t) * (size_t)batch_b.ndim);
    tg_shape batch;
    if (!tg_broadcast_shapes(batch_a, batch_b, &batch, op))
        return -1;
    *out = batch;
    out->dim[out->ndim++] = a->shape[a->ndim - 2];
    out->dim[out->ndim++] = b->shape[b->ndim - 1];
    return 0;
}

static matrix last_two_axes(const tg_tensor *t, float *data)
{
    return (matrix){ .data = data, .m = t->shape[t->ndim - 2], .n = t->shape[t->ndim - 1],
                     .rs = t->stride[t->ndim - 2], .cs = t->stride[t->ndim - 1] };
}

/* Below about 64^3 multiply-adds, handing work to other threads costs more
 * than they save (tensor/threads.h: small kernels run on one thread). */
#define GEMM_THREADED_MIN (64.0 * 64.0 * 64.0)
/* Chunk edges of a threaded BLIS product: a multiple of every BLIS
 * micro-tile's sides, so that no chunk ends in a partial tile. */
#define GEMM_CHUNK_GRAIN 96

/* One BLIS product on the calling thread. */
static void blis_gemm(const matrix *a, const matrix *b, const matrix *c, float alpha, float beta)
{
    rntm_t rntm = BLIS_RNTM_INITIALIZER;
    bli_rntm_set_num_threads(1, &rntm);
    bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, c->m, c->n, a->n, &alpha, a->data, a->rs,
                 a->cs, b->data, b->rs, b->cs, &beta, c->data, c->rs, c->cs, NULL, &rntm);
}

/* A product split into blocks of c's rows (by_rows) or columns. */
typedef struct gemm_work {
    matrix a, b, c;
    float alpha, beta;
    bool by_rows;
} gemm_work;

static void gemm_chunk(void *context, int64_t begin, int64_t end)
{
    const gemm_work *w = context;
    matrix a = w->a, b = w->b, c = w->c;
    if (w->by_rows) {
        a.data += begin * a.rs;
        c.data += begin * c.rs;
        a.m = c.m = end - begin;
    } else {
        b.data += begin * b.cs;
        c.data += begin * c.cs;
        b.n = c.n = end - begin;
    }
    blis_gemm(&a, &b, &c, w->alpha, w->beta);
}

/* b_storage (NULL when b changes from call to call) lets products with few
 * rows use a cached packed copy of b (tensor/gemm_small.h). A large product
 * is split into a few blocks of c, each one BLIS call on one thread
 * (tensor/parallel.h): BLIS's own threads would wait at its barriers for a
 * thread whose core another process holds. Each block packs the operand it
 * shares with the others again, so the split runs along c's longer side,
 * leaving the smaller operand to be packed again. A block may be small
 * enough for BLIS's unpacked path, which sums in another order: one thread
 * and two can differ in the last bits (each thread count always splits
 * alike, so a run repeats exactly). */
static void gemm(const matrix *a, const matrix *b, const tg_storage *b_storage, const matrix *c,
                 float alpha, float beta)
{
    if (b_storage && !tg_reference_mode() && tg_gemm_small(a, b, b_storage, c, NULL, alpha, beta))
        return;
    if (!tg_reference_mode() && tg_gemm_tall(a, b, c, alpha, beta))
        return;
    int threads = tg_get_num_threads();
    if (threads <= 1 || (double)c->m * (double)c->n * (double)a->n < GEMM_THREADED_MIN) {
        blis_gemm(a, b, c, alpha, beta);
        return;
    }
    gemm_work w = { *a, *b, *c, alpha, beta, c->m >= c->n };
    int64_t side = w.by_rows ? c->m : c->n;
    /* Two blocks per thread: enough for one to take over a late thread's
     * share, few enough that the packing repeated per block stays small. */
    int64_t per_block = (side + 2 * threads - 1) / (2 * threads);
    int64_t grain = (per_block + GEMM_CHUNK_GRAIN - 1) / GEMM_CHUNK_GRAIN * GEMM_CHUNK_GRAIN;
    tg_parallel_for(side, grain, gemm_chunk, &w);
}

/* Below this many multiply-adds in all, a batch of tiny products runs on
 * one thread: handing work to another thread costs a few microseconds. */
#define TINY_BATCH_THREADED_MIN (1 << 19)

/* Batch elements of a tiny product, and where each one's matrices are. */
typedef struct tiny_work {
    const tg_iter_plan *plan;
    const matrix *c, *a, *b;
    const int64_t *offsets; /* c, a, b: 3 per batch element */
    float alpha, beta;
} tiny_work;

static void tiny_chunk(void *context, int64_t begin, int64_t end)
{
    const tiny_work *w = context;
    for (int64_t e = begin; e < end; e++) {
        matrix c = *w->c, x = *w->a, y = *w->b;
        c.data = w->plan->base[0] + w->offsets[3 * e];
        x.data = w->plan->base[1] + w->offsets[3 * e + 1];
        y.data = w->plan->base[2] + w->offsets[3 * e + 2];
        tg_gemm_tiny(&x, &y, &c, w->alpha, w->beta);
    }
}

/* Every product of the plan's batch through the tiny kernels
 * (tensor/gemm_tiny.h), split between threads by batch element. */
static int tiny_batch(tg_iter_plan *plan, const matrix *mc, const matrix *ma,
                      const matrix *mb, float alpha, float beta)
{
    int64_t count = plan->rows * plan->inner;
    int64_t *offsets = tg_arena_alloc(tg_arena_thread(), sizeof(int64_t) * 3 * (size_t)count);
    if (!offsets)
        return -1;
    int64_t offset[TG_ITER_MAX_OPERANDS], index[TG_MAX_DIMS];
    tg_iter_offsets(plan, 0, offset);
    tg_iter_unravel(plan, 0, index);
    for (int64_t r = 0, e = 0; r < plan->rows; r++) {
        for (int64_t i = 0; i < plan->inner; i++, e++)
            for (int o = 0; o < 3; o++)
                offsets[3 * e + o] = offset[o] + i * plan->inner_stride[o];
        tg_iter_next(plan, index, offset);
    }
    tiny_work w = { plan, mc, ma, mb, offsets, alpha, beta };
    double work = (double)count * (double)mc->m * (double)mc->n * (double)ma->n;
    if (work < TINY_BATCH_THREADED_MIN)
        tiny_chunk(&w, 0, count);
    else
        tg_parallel_for(count, 1, tiny_chunk, &w);
    return 0;
}

/* When b is the same matrix for every batch and a's and out's batch axes
 * step like extra rows, the whole product is one GEMM of B*M rows: the
 * input projection of every timestep at once takes this path. */
static bool fold_batch_into_rows(const tg_tensor *out, const tg_tensor *a, const int64_t *b_batch_stride,
                                 const int64_t *a_batch_stride, int batch_ndim, matrix *ma, matrix *mc)
{
    for (int d = 0; d < batch_ndim; d++)
        if (b_batch_stride[d] != 0)
            return false;
    int64_t rows = out->shape[out->ndim - 2];
    int64_t a_next = a->stride[a->ndim - 2] * a->shape[a->ndim - 2];
    int64_t c_next = out->stride[out->ndim - 2] * out->shape[out->ndim - 2];
    for (int d = batch_ndim - 1; d >= 0; d--) {
        int64_t size = out->shape[d];
        if (size == 1)
            continue;
        if (a_batch_stride[d] != a_next || out->stride[d] != c_next)
            return false;
        a_next *= size;
        c_next *= size;
        rows *= size;
    }
    ma->m = rows;
    mc->m = rows;
    return true;
}

int tg_kernel_matmul(tg_tensor *out, const tg_tensor *a, const tg_tensor *b, float alpha, float beta)
{
    if (!out || !a || !b)
        return tg_error_null_input("kernel_matmul");
    if (tg_check_dtype(out, TG_FLOAT32, "matmul") != 0)
        return -1;
    tg_shape expected;
    if (tg_matmul_shape(a, b, &expected, "matmul") != 0)
        return -1;
    if (!tg_shape_equal(expected, tg_tensor_shape(out))) {
        char so[TG_SHAPE_STR_MAX], se[TG_SHAPE_STR_MAX];
        tg_tensor e = { .ndim = expected.ndim };
        memcpy(e.shape, expected.dim, sizeof(int64_t) * (size_t)expected.ndim);
        return tg_error_set("matmul: output %s should be %s", tg_shape_format(so, sizeof so, out),
                            tg_shape_format(se, sizeof se, &e));
    }
    if (out->numel == 0)
        return 0;
    if (a->shape[a->ndim - 1] == 0) /* an empty sum: out = beta * out, and beta = 0 ignores out */
        return beta == 0.0f ? tg_kernel_fill(out, 0.0f) : tg_kernel_scale(out, out, beta, false);
    tg_blas_init();

    matrix mc = last_two_axes(out, out->data);
    tg_tensor_mark_written(out);
    if (!blis_strides(&mc)) {
        char so[TG_SHAPE_STR_MAX];
        return tg_error_set("matmul: output %s has overlapping elements",
                            tg_shape_format(so, sizeof so, out));
    }
    /* Operands BLIS cannot describe are copied to contiguous graph memory. */
    tg_arena *arena = tg_arena_thread();
    tg_arena_mark mark = tg_arena_get_mark(arena);
    matrix ma = last_two_axes(a, a->data), mb = last_two_axes(b, b->data);
    if (!blis_strides(&ma)) {
        if (!(a = tg_copy_to_graph(a)))
            return -1;
        ma = last_two_axes(a, a->data);
        blis_strides(&ma);
    }
    if (!blis_strides(&mb)) {
        if (!(b = tg_copy_to_graph(b))) {
            tg_arena_rewind(arena, mark);
            return -1;
        }
        mb = last_two_axes(b, b->data);
        blis_strides(&mb);
    }

    int batch_ndim = out->ndim - 2;
    tg_tensor batch_out = { .ndim = batch_ndim, .data = out->data };
    memcpy(batch_out.shape, out->shape, sizeof(int64_t) * (size_t)batch_ndim);
    memcpy(batch_out.stride, out->stride, sizeof(int64_t) * (size_t)batch_ndim);
    tg_tensor batch_a = { .ndim = a->ndim - 2, .data = a->data };
    memcpy(batch_a.shape, a->shape, sizeof(int64_t) * (size_t)batch_a.ndim);
    memcpy(batch_a.stride, a->stride, sizeof(int64_t) * (size_t)batch_a.ndim);
    tg_tensor batch_b = { .ndim = b->ndim - 2, .data = b->data };
    memcpy(batch_b.shape, b->shape, sizeof(int64_t) * (size_t)batch_b.ndim);
    memcpy(batch_b.stride, b->stride, sizeof(int64_t) * (size_t)batch_b.ndim);

    int64_t stride[3][TG_MAX_DIMS];
    memcpy(stride[0], batch_out.stride, sizeof(int64_t) * (size_t)batch_ndim);
    tg_broadcast_strides(&batch_a, batch_ndim, batch_out.shape, stride[1], "matmul");
    tg_broadcast_strides(&batch_b, batch_ndim, batch_out.shape, stride[2], "matmul");

    matrix fa = ma, fc = mc;
    if (batch_ndim > 0 && fold_batch_into_rows(out, a, stride[2], stride[1], batch_ndim, &fa, &fc) &&
        blis_strides(&fa) && blis_strides(&fc)) {
        gemm(&fa, &mb, b->storage, &fc, alpha, beta);
    } else {
        float *base[3] = { out->data, a->data, b->data };
        tg_iter_plan plan;
        tg_iter_plan_strided(&plan, batch_ndim, batch_out.shape, 3, stride, base);
        if (plan.rows * plan.inner > 1 && !tg_reference_mode() && tg_gemm_tiny_suits(&ma, &mb, &mc)) {
            int rc = tiny_batch(&plan, &mc, &ma, &mb, alpha, beta);
            tg_arena_rewind(arena, mark);
            return rc;
        }
        int64_t offset[TG_ITER_MAX_OPERANDS], index[TG_MAX_DIMS];
        tg_iter_offsets(&plan, 0, offset);
        tg_iter_unravel(&plan, 0, index);
        for (int64_t r = 0; r < plan.rows; r++) {
            for (int64_t i = 0; i < plan.inner; i++) {
                matrix c = mc, x = ma, y = mb;
                c.data = plan.base[0] + offset[0] + i * plan.inner_stride[0];
                x.data = plan.base[1] + offset[1] + i * plan.inner_stride[1];
                y.data = plan.base[2] + offset[2] + i * plan.inner_stride[2];
                gemm(&x, &y, plan.rows * plan.inner == 1 ? b->storage : NULL, &c, alpha, beta);
            }
            tg_iter_next(&plan, index, offset);
        }
    }
    tg_arena_rewind(arena, mark);
    return 0;
}

/* The addend as a matrix of c's shape that the small-product kernels read
 * as they store: contiguous rows, or one row (row stride 0) added to every
 * row of c. False for other shapes and strides. */
static bool addend_matrix(const tg_tensor *addend, const matrix *c, matrix *d)
{
    if (addend->ndim < 1 || addend->ndim > 2 || addend->shape[addend->ndim - 1] != c->n)
        return false;
    int64_t rows = addend->ndim == 2 ? addend->shape[0] : 1;
    if ((rows != c->m && rows != 1) || (addend->stride[addend->ndim - 1] != 1 && c->n > 1))
        return false;
    *d = (matrix){ .data = addend->data, .m = c->m, .n = c->n,
                   .rs = rows == 1 ? 0 : addend->stride[0], .cs = 1 };
    return true;
}

/* out = a @ b + addend through the small-product kernels, the addend read
 * as the product is stored; false (nothing done) when they do not take it. */
static bool small_product_with_addend(tg_tensor *out, const tg_tensor *a, const tg_tensor *b,
                                      const tg_tensor *addend)
{
    if (tg_reference_mode() || out->ndim != 2 || a->ndim != 2 || b->ndim != 2 || out->numel == 0 ||
        a->shape[1] == 0 || out->shape[0] != a->shape[0] || out->shape[1] != b->shape[1] ||
        a->shape[1] != b->shape[0] || out->dtype != TG_FLOAT32 || a->dtype != TG_FLOAT32 ||
        b->dtype != TG_FLOAT32 || addend->dtype != TG_FLOAT32)
        return false;
    matrix mc = last_two_axes(out, out->data), ma = last_two_axes(a, a->data), mb = last_two_axes(b, b->data), md;
    if (!blis_strides(&mc) || !blis_strides(&ma) || !blis_strides(&mb) || !addend_matrix(addend, &mc, &md) ||
        !tg_gemm_small(&ma, &mb, b->storage, &mc, &md, 1.0f, 1.0f))
        return false;
    tg_tensor_mark_written(out);
    return true;
}

int tg_kernel_matmul_add(tg_tensor *out, const tg_tensor *a, const tg_tensor *b, const tg_tensor *addend)
{
    if (!out || !a || !b || !addend)
        return tg_error_null_input("kernel_matmul_add");
    if (small_product_with_addend(out, a, b, addend))
        return 0;
    if (tg_kernel_copy(out, addend, false) != 0)
        return -1;
    return tg_kernel_matmul(out, a, b, 1.0f, 1.0f);
}

/* ---- A sum of products over pieces of rows ------------------------------------------- */

/* Piece p fits out: a [R, M] and b [R, N] for out [M, N], all float. */
static int check_piece(const tg_tensor *out, const tg_tensor *a, const tg_tensor *b, int p)
{
    if (!a || !b)
        return tg_error_null_input("matmul_tn_sum");
    if (a->dtype == TG_FLOAT32 && b->dtype == TG_FLOAT32 && a->ndim == 2 && b->ndim == 2 &&
        a->shape[0] == b->shape[0] && a->shape[1] == out->shape[0] && b->shape[1] == out->shape[1])
        return 0;
    char so[TG_SHAPE_STR_MAX], sa[TG_SHAPE_STR_MAX], sb[TG_SHAPE_STR_MAX];
    return tg_error_set("matmul_tn_sum: piece %d: a %s and b %s do not fit out %s (need float a [R,M] and "
                        "b [R,N] for out [M,N])", p, tg_shape_format(sa, sizeof sa, a),
                        tg_shape_format(sb, sizeof sb, b), tg_shape_format(so, sizeof so, out));
}

/* A 2-D tensor as the tall path reads it; false unless its rows are
 * contiguous (a single column's stride is never used). */
static bool contiguous_rows(const tg_tensor *t, matrix *m)
{
    *m = (matrix){ t->data, t->shape[0], t->shape[1], t->stride[0], t->shape[1] == 1 ? 1 : t->stride[1] };
    return m->cs == 1;
}

/* The pieces through the tall path, read where they lie: 1 when done, 0
 * when it does not take them (nothing written), -1 when out of memory. */
static int tall_sum(tg_tensor *out, int count, const tg_tensor *const *a, const tg_tensor *const *b,
                    bool accumulate, tg_arena *arena)
{
    matrix c;
    /* Overlapping rows of out are left to tg_kernel_matmul, which refuses them. */
    if (tg_reference_mode() || !contiguous_rows(out, &c) || (c.m > 1 && c.rs < c.n))
        return 0;
    matrix *g = tg_arena_alloc(arena, 2 * (size_t)count * sizeof *g);
    if (!g)
        return -1;
    matrix *x = g + count;
    for (int p = 0; p < count; p++)
        if (!contiguous_rows(a[p], &g[p]) || !contiguous_rows(b[p], &x[p]))
            return 0;
    return tg_gemm_tall_pieces(count, g, x, &c, 1.0f, accumulate ? 1.0f : 0.0f);
}

/* One operand's pieces copied one under the other, into graph memory. */
static tg_tensor *stack_pieces(int count, const tg_tensor *const *piece, int64_t rows)
{
    tg_tensor *all = tg_empty(TG_SHAPE(rows, piece[0]->shape[1]));
    return all && tg_kernel_concat(all, piece, count, 0) == 0 ? all : NULL;
}

/* The pieces copied together (one piece as it lies) and multiplied as one
 * product. */
static int copied_sum(tg_tensor *out, int count, const tg_tensor *const *a, const tg_tensor *const *b, int64_t rows,
                      bool accumulate)
{
    const tg_tensor *a_all = count == 1 ? a[0] : stack_pieces(count, a, rows);
    const tg_tensor *b_all = count == 1 ? b[0] : stack_pieces(count, b, rows);
    if (!a_all || !b_all)
        return -1;
    tg_tensor a_t = *a_all;
    a_t.shape[0] = a_all->shape[1], a_t.shape[1] = a_all->shape[0];
    a_t.stride[0] = a_all->stride[1], a_t.stride[1] = a_all->stride[0];
    return tg_kernel_matmul(out, &a_t, b_all, 1.0f, accumulate ? 1.0f : 0.0f);
}

int tg_kernel_matmul_tn_sum(tg_tensor *out, int count, const tg_tensor *const *a, const tg_tensor *const *b,
                            bool accumulate)
{
    if (!out || !a || !b)
        return tg_error_null_input("matmul_tn_sum");
    if (count < 1)
        return tg_error_set("matmul_tn_sum: %d pieces; give at least one", count);
    if (out->ndim != 2)
        return tg_error_set("matmul_tn_sum: out has %d dimensions; it must be a matrix", out->ndim);
    if (tg_check_dtype(out, TG_FLOAT32, "matmul_tn_sum") != 0)
        return -1;
    int64_t rows = 0;
    for (int p = 0; p < count; p++) {
        if (check_piece(out, a[p], b[p], p) != 0)
            return -1;
        rows += a[p]->shape[0];
    }
    tg_arena *arena = tg_arena_thread();
    if (!arena)
        return tg_error_set("matmul_tn_sum: out of memory");
    tg_arena_mark mark = tg_arena_get_mark(arena);
    int rc = tall_sum(out, count, a, b, accumulate, arena);
    if (rc == 1) {
        tg_tensor_mark_written(out);
    } else if (rc == 0) {
        tg_arena_rewind(arena, mark);
        rc = copied_sum(out, count, a, b, rows, accumulate);
    }
    tg_arena_rewind(arena, mark);
    return rc < 0 ? -1 : 0;
}
