#include "tensor/tensor.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tensor/blas.h"
#include "tensor/elementwise.h"
#include "tensor/kernel.h"
#include "tensor/view_tracked.h"
#include "tensor/reference.h"
#include "tensor/iterate.h"

#define DATA_ALIGN 64

/* ---- Shapes ----------------------------------------------------------------- */

static void format_dims(char *buf, size_t size, int ndim, const int64_t *dims);

int64_t tg_shape_numel(tg_shape shape, const char *op)
{
    if (shape.ndim < 0 || shape.ndim > TG_MAX_DIMS) {
        tg_error_set("%s: %d dimensions; tapegrad supports 0 to %d", op, shape.ndim, TG_MAX_DIMS);
        return -1;
    }
    char dims[TG_SHAPE_STR_MAX];
    int64_t numel = 1;
    for (int d = 0; d < shape.ndim; d++) {
        int64_t size = shape.dim[d];
        if (size < 0) {
            format_dims(dims, sizeof dims, shape.ndim, shape.dim);
            tg_error_set("%s: shape %s: dimension %d has negative size %lld", op, dims, d,
                         (long long)size);
            return -1;
        }
        if (size != 0 && numel > INT64_MAX / size) {
            format_dims(dims, sizeof dims, shape.ndim, shape.dim);
            tg_error_set("%s: shape %s: the number of elements overflows", op, dims);
            return -1;
        }
        numel *= size;
    }
    /* Element counts must also fit in bytes, of the widest dtype. */
    if (numel > (int64_t)(SIZE_MAX / sizeof(int64_t) / 2)) {
        format_dims(dims, sizeof dims, shape.ndim, shape.dim);
        tg_error_set("%s: shape %s: %lld elements is more than memory can address", op, dims,
                     (long long)numel);
        return -1;
    }
    return numel;
}

void tg_contiguous_strides(const tg_shape *shape, int64_t *stride)
{
    if (!shape || !stride) {
        tg_error_null_input("contiguous_strides");
        return;
    }
    int64_t s = 1;
    for (int d = shape->ndim - 1; d >= 0; d--) {
        stride[d] = s;
        s *= shape->dim[d] > 1 ? shape->dim[d] : 1; /* as PyTorch: no stride 0 before an empty axis */
    }
}

uint64_t tg_memory_physical(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
}

int tg_memory_check(const char *op, const char *what, double bytes)
{
    double physical = (double)tg_memory_physical();
    if (physical == 0 || bytes <= physical)
        return 0;
    return tg_error_set("%s: %s need about %.1f GB, more than this machine's %.1f GB of memory",
                        op ? op : "?", what ? what : "the tensors", bytes / 1e9, physical / 1e9);
}

int tg_normalize_dim(int dim, int ndim, const char *op)
{
    int d = dim < 0 ? dim + ndim : dim;
    if (d < 0 || d >= ndim) {
        tg_error_set("%s: dimension %d out of range for a tensor with %d dimensions", op, dim, ndim);
        return -1;
    }
    return d;
}

bool tg_shape_equal(tg_shape a, tg_shape b)
{
    if (a.ndim != b.ndim)
        return false;
    for (int d = 0; d < a.ndim; d++)
        if (a.dim[d] != b.dim[d])
            return false;
    return true;
}

tg_shape tg_tensor_shape(const tg_tensor *t)
{
    tg_shape s = { .ndim = t ? t->ndim : 0 };
    for (int d = 0; d < s.ndim; d++)
        s.dim[d] = t->shape[d];
    return s;
}

bool tg_tensor_same_shape(const tg_tensor *a, const tg_tensor *b)
{
    if (!a || !b || a->ndim != b->ndim)
        return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d])
            return false;
    return true;
}

static void format_dims(char *buf, size_t size, int ndim, const int64_t *dims)
{
    size_t used = 0;
    used += (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < ndim && used < size; d++)
        used += (size_t)snprintf(buf + used, size - used, d ? ",%lld" : "%lld", (long long)dims[d]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
}

char *tg_shape_format(char *buf, size_t size, const tg_tensor *t)
{
    if (!t)
        snprintf(buf, size, "(null)");
    else
        format_dims(buf, size, t->ndim, t->shape);
    return buf;
}

bool tg_broadcast_shapes(tg_shape a, tg_shape b, tg_shape *out, const char *op)
{
    if (!out)
        return tg_error_null_input("broadcast_shapes"), false;
    if (!op)
        op = "broadcast_shapes";
    int ndim = a.ndim > b.ndim ? a.ndim : b.ndim;
    tg_shape r = { .ndim = ndim };
    for (int d = 0; d < ndim; d++) {
        int da = d - (ndim - a.ndim), db = d - (ndim - b.ndim);
        int64_t sa = da >= 0 ? a.dim[da] : 1, sb = db >= 0 ? b.dim[db] : 1;
        if (sa != sb && sa != 1 && sb != 1) {
            char x[TG_SHAPE_STR_MAX], y[TG_SHAPE_STR_MAX];
            format_dims(x, sizeof x, a.ndim, a.dim);
            format_dims(y, sizeof y, b.ndim, b.dim);
            tg_error_set("%s: shapes %s and %s do not broadcast (dimension %d: %lld vs %lld)", op, x,
                         y, d, (long long)sa, (long long)sb);
            return false;
        }
        r.dim[d] = sa == 1 ? sb : sa;
    }
    *out = r;
    return true;
}

/* ---- Element types ------------------------------------------------------------ */

const char *tg_dtype_name(tg_dtype dtype) { return dtype == TG_INT64 ? "int64" : "float32"; }

size_t tg_dtype_size(tg_dtype dtype) { return dtype == TG_INT64 ? sizeof(int64_t) : sizeof(float); }

int tg_check_dtype(const tg_tensor *t, tg_dtype dtype, const char *op)
{
    if (!t)
        return -1;
    if (t->dtype == dtype)
        return 0;
    char shape[TG_SHAPE_STR_MAX];
    return tg_error_set("%s: %s tensor %s given where %s is needed", op, tg_dtype_name(t->dtype),
                        tg_shape_format(shape, sizeof shape, t), tg_dtype_name(dtype));
}

int tg_check_float(const char *op, int n, const tg_tensor *const *tensors)
{
    for (int k = 0; k < n; k++)
        if (tensors[k] && tensors[k]->dtype != TG_FLOAT32)
            return tg_check_dtype(tensors[k], TG_FLOAT32, op);
    return 0;
}

/* Address of element `offset` (in elements) from t's first one. */
static void *element_at(const tg_tensor *t, int64_t offset)
{
    return (char *)t->data + offset * (int64_t)tg_dtype_size(t->dtype);
}

/* ---- Allocation ------------------------------------------------------------- */

/* Versions come from one counter, so a storage never shares a version with
 * another one that lived at the same address before it. Each thread takes
 * them in blocks: a write then costs no atomic operation, which would be
 * a good part of the cost of an op on a small tensor. */
static atomic_uint_fast64_t last_version;
#define VERSION_BLOCK 4096
static _Thread_local uint64_t version_next, version_end;

static uint64_t next_version(void)
{
    if (version_next == version_end) {
        version_next = (uint64_t)atomic_fetch_add(&last_version, VERSION_BLOCK) + 1;
        version_end = version_next + VERSION_BLOCK;
    }
    return version_next++;
}

void tg_tensor_mark_written(const tg_tensor *t)
{
    if (t && t->storage)
        t->storage->version = next_version();
}

static void init_contiguous(tg_tensor *t, tg_shape shape, int64_t numel, tg_storage *storage,
                            tg_dtype dtype)
{
    *t = (tg_tensor){ .data = storage->base, .numel = numel, .ndim = shape.ndim, .storage = storage,
                      .dtype = dtype };
    for (int d = 0; d < shape.ndim; d++)
        t->shape[d] = shape.dim[d];
    tg_contiguous_strides(&shape, t->stride);
}

static size_t data_bytes(int64_t numel, tg_dtype dtype)
{
    size_t bytes = (size_t)numel * tg_dtype_size(dtype);
    bytes = (bytes + DATA_ALIGN - 1) / DATA_ALIGN * DATA_ALIGN;
    return bytes ? bytes : DATA_ALIGN;
}

static tg_tensor *new_owned(tg_shape shape, tg_dtype dtype, const char *op)
{
    int64_t numel = tg_shape_numel(shape, op);
    if (numel < 0)
        return NULL;
    struct owned_block {
        tg_tensor tensor;
        tg_storage storage;
    } *block = malloc(sizeof *block);
    void *data = aligned_alloc(DATA_ALIGN, data_bytes(numel, dtype) + TG_BLAS_READ_SLACK);
    if (!block || !data) {
        free(block);
        free(data);
        tg_error_set("%s: out of memory for %lld elements", op, (long long)numel);
        return NULL;
    }
    block->storage = (tg_storage){ .base = data, .size = numel, .owned = true,
                                   .version = next_version() };
    init_contiguous(&block->tensor, shape, numel, &block->storage, dtype);
    block->tensor.flags = TG_TENSOR_OWNED;
    return &block->tensor;
}

/* A graph tensor is one arena block: the tensor, its storage, then the data
 * from the next 64-byte boundary on. A few elements fit in the header's
 * padding instead: long chains of ops on scalars then touch a quarter less
 * memory. */
enum { GRAPH_STRUCTS = sizeof(tg_tensor) + sizeof(tg_storage),
       GRAPH_HEADER = (GRAPH_STRUCTS + DATA_ALIGN - 1) / DATA_ALIGN * DATA_ALIGN };

/* Not in the reference mode (tensor/reference.h). */
static bool data_in_header(int64_t numel, tg_dtype dtype)
{
    return (size_t)numel * tg_dtype_size(dtype) <= GRAPH_HEADER - GRAPH_STRUCTS && !tg_reference_mode();
}

static size_t graph_block_bytes(bool in_header, int64_t numel, tg_dtype dtype)
{
    return in_header ? GRAPH_HEADER : GRAPH_HEADER + data_bytes(numel, dtype);
}

static tg_tensor *new_graph(tg_shape shape, tg_dtype dtype, const char *op)
{
    int64_t numel = tg_shape_numel(shape, op);
    if (numel < 0)
        return NULL;
    tg_arena *arena = tg_arena_thread();
    bool in_header = data_in_header(numel, dtype);
    unsigned char *mem = tg_arena_alloc(arena, graph_block_bytes(in_header, numel, dtype));
    if (!mem)
        return NULL;
    tg_tensor *t = (tg_tensor *)mem;
    tg_storage *storage = (tg_storage *)(mem + sizeof(tg_tensor));
    *storage = (tg_storage){ .base = mem + (in_header ? GRAPH_STRUCTS : GRAPH_HEADER),
                             .size = numel, .owned = false, .version = next_version() };
    init_contiguous(t, shape, numel, storage, dtype);
    t->generation = tg_arena_generation(arena);
    return t;
}

bool tg_give_back(tg_tensor *t)
{
    bool whole_block = t && !(t->flags & TG_TENSOR_OWNED) && !t->ext &&
                       t->storage == (tg_storage *)((unsigned char *)t + sizeof(tg_tensor)) &&
                       t->data == t->storage->base;
    /* Where the data lies says how the block was made, whatever the mode now. */
    bool in_header = whole_block && (unsigned char *)t->storage->base == (unsigned char *)t + GRAPH_STRUCTS;
    if (whole_block)
        tg_arena_give_back(tg_arena_thread(), t, graph_block_bytes(in_header, t->storage->size, t->dtype));
    return whole_block;
}

/* A new graph tensor struct describing the same memory as t; views edit it. */
static tg_tensor *new_view(const tg_tensor *t)
{
    tg_arena *arena = tg_arena_thread();
    tg_tensor *v = tg_arena_alloc(arena, sizeof *v);
    if (!v)
        return NULL;
    *v = *t;
    v->flags = 0;
    v->ext = NULL;
    v->generation = tg_arena_generation(arena);
    return v;
}

bool tg_tensor_is_stale(const tg_tensor *t)
{
    if (!t)
        return false;
#if defined(__SANITIZE_ADDRESS__)
    /* Memory given back to the arena is poisoned: reading it is the very
     * mistake being looked for, not a new one. */
    if (__asan_region_is_poisoned((void *)t, sizeof *t))
        return true;
#endif
    return t->generation != 0 && t->generation != tg_arena_generation(tg_arena_thread()) &&
           t->generation != tg_arena_lent_generation();
}

int tg_tensor_check_live(const tg_tensor *t, const char *op, const char *what)
{
    if (!tg_tensor_is_stale(t))
        return 0;
    return tg_error_set("%s: %s is a graph tensor from before tg_graph_reset (or from another "
                        "thread): graph tensors die at the reset; keep values across steps in "
                        "owned tensors (tg_tensor_clone, tg_tensor_copy_)", op, what);
}

void tg_tensor_free(tg_tensor *t)
{
    if (!t)
        return;
    if (!(t->flags & TG_TENSOR_OWNED)) {
        tg_error_set("tensor_free: the tensor belongs to the graph arena; it is freed by "
                     "tg_graph_reset, not tg_tensor_free");
        return;
    }
    if (t->ext && t->ext->release)
        t->ext->release(t->ext);
    free(t->storage->base);
    free(t); /* the tensor and its storage are one block */
}

/* ---- Creation --------------------------------------------------------------- */

tg_tensor *tg_tensor_empty(tg_shape shape) { return new_owned(shape, TG_FLOAT32, "tensor_empty"); }

tg_tensor *tg_tensor_full(tg_shape shape, float value)
{
    tg_tensor *t = new_owned(shape, TG_FLOAT32, "tensor_full");
    if (t)
        tg_kernel_fill(t, value);
    return t;
}

tg_tensor *tg_tensor_zeros(tg_shape shape) { return tg_tensor_full(shape, 0.0f); }
tg_tensor *tg_tensor_ones(tg_shape shape) { return tg_tensor_full(shape, 1.0f); }

tg_tensor *tg_tensor_from_array(tg_shape shape, const float *values)
{
    if (!values) {
        tg_error_set("tensor_from_array: values is NULL");
        return NULL;
    }
    tg_tensor *t = new_owned(shape, TG_FLOAT32, "tensor_from_array");
    if (t)
        memcpy(t->data, values, sizeof(float) * (size_t)t->numel);
    return t;
}

tg_tensor *tg_tensor_arange(float start, float stop, float step)
{
    if (step == 0.0f || !isfinite(start) || !isfinite(stop) || !isfinite(step)) {
        tg_error_set("tensor_arange: start %g, stop %g, step %g: step must be non-zero and all "
                     "finite", start, stop, step);
        return NULL;
    }
    double count = ceil(((double)stop - start) / step);
    if (count > 0x1p62) { /* converting it to int64 would be undefined */
        tg_error_set("tensor_arange: start %g, stop %g, step %g: %g elements is more than memory can "
                     "address", start, stop, step, count);
        return NULL;
    }
    int64_t n = count > 0 ? (int64_t)count : 0;
    tg_tensor *t = new_owned(TG_SHAPE(n), TG_FLOAT32, "tensor_arange");
    for (int64_t i = 0; t && i < n; i++)
        t->data[i] = (float)(start + (double)step * (double)i);
    return t;
}

tg_tensor *tg_tensor_linspace(float start, float stop, int64_t n)
{
    if (n < 0) {
        tg_error_set("tensor_linspace: negative count %lld", (long long)n);
        return NULL;
    }
    tg_tensor *t = new_owned(TG_SHAPE(n), TG_FLOAT32, "tensor_linspace");
    if (!t)
        return NULL;
    double step = n > 1 ? ((double)stop - start) / (double)(n - 1) : 0.0;
    for (int64_t i = 0; i < n; i++)
        t->data[i] = (float)(start + step * (double)i);
    if (n > 1)
        t->data[n - 1] = stop;
    return t;
}

tg_tensor *tg_tensor_eye(int64_t n)
{
    tg_tensor *t = new_owned(TG_SHAPE(n, n), TG_FLOAT32, "tensor_eye");
    if (!t)
        return NULL;
    tg_kernel_fill(t, 0.0f);
    for (int64_t i = 0; i < n; i++)
        t->data[i * n + i] = 1.0f;
    return t;
}

tg_tensor *tg_tensor_clone(const tg_tensor *t)
{
    if (!t)
        return tg_null_input("tensor_clone");
    if (tg_tensor_check_live(t, "tensor_clone", "the tensor") != 0)
        return NULL;
    tg_tensor *c = new_owned(tg_tensor_shape(t), t->dtype, "tensor_clone");
    if (c && tg_kernel_copy(c, t, false) != 0) {
        tg_tensor_free(c);
        return NULL;
    }
    return c;
}

tg_tensor *tg_tensor_uniform(tg_shape shape, float low, float high, tg_rng *rng)
{
    tg_tensor *t = new_owned(shape, TG_FLOAT32, "tensor_uniform");
    if (t && tg_tensor_uniform_(t, low, high, rng) != 0) {
        tg_tensor_free(t);
        return NULL;
    }
    return t;
}

tg_tensor *tg_tensor_rand(tg_shape shape, tg_rng *rng) { return tg_tensor_uniform(shape, 0.0f, 1.0f, rng); }

tg_tensor *tg_tensor_normal(tg_shape shape, float mean, float std, tg_rng *rng)
{
    tg_tensor *t = new_owned(shape, TG_FLOAT32, "tensor_normal");
    if (t && tg_tensor_normal_(t, mean, std, rng) != 0) {
        tg_tensor_free(t);
        return NULL;
    }
    return t;
}

tg_tensor *tg_tensor_randn(tg_shape shape, tg_rng *rng) { return tg_tensor_normal(shape, 0.0f, 1.0f, rng); }

static int check_rng(const tg_rng *rng, const char *op)
{
    return rng ? 0 : tg_error_set("%s: the random generator is NULL", op);
}

static int check_probability(float p, const char *op)
{
    return p >= 0.0f && p <= 1.0f ? 0 : tg_error_set("%s: probability %g is outside [0, 1]", op, p);
}

tg_tensor *tg_tensor_bernoulli(tg_shape shape, float p, tg_rng *rng)
{
    if (check_rng(rng, "tensor_bernoulli") || check_probability(p, "tensor_bernoulli"))
        return NULL;
    tg_tensor *t = new_owned(shape, TG_FLOAT32, "tensor_bernoulli");
    if (t)
        tg_rng_fill_bernoulli(rng, t->data, t->numel, p);
    return t;
}

/* Writes t's elements in row-major order into out, a contiguous array of
 * dtype, converting between the types (see tg_tensor_to_dtype). */
static int convert_into(void *out, tg_dtype dtype, const tg_tensor *t, const char *op)
{
    int64_t stride[1][TG_MAX_DIMS];
    memcpy(stride[0], t->stride, sizeof(int64_t) * (size_t)t->ndim);
    float *base[1] = { t->data };
    tg_iter_plan plan;
    tg_iter_plan_strided(&plan, t->ndim, t->shape, 1, stride, base);
    int64_t offset[TG_ITER_MAX_OPERANDS], at[TG_MAX_DIMS], done = 0;
    tg_iter_offsets(&plan, 0, offset);
    tg_iter_unravel(&plan, 0, at);
    const int64_t s = plan.inner_stride[0];
    for (int64_t r = 0; r < plan.rows; r++, done += plan.inner) {
        if (t->dtype == TG_INT64 && dtype == TG_INT64) {
            for (int64_t i = 0; i < plan.inner; i++)
                ((int64_t *)out)[done + i] = t->i64[offset[0] + i * s];
        } else if (t->dtype == TG_INT64) {
            for (int64_t i = 0; i < plan.inner; i++)
                ((float *)out)[done + i] = (float)t->i64[offset[0] + i * s];
        } else if (dtype == TG_INT64) {
            for (int64_t i = 0; i < plan.inner; i++) {
                float v = t->data[offset[0] + i * s];
                if (!(v >= -0x1p63f && v < 0x1p63f)) { /* also catches NaN */
                    char shape[TG_SHAPE_STR_MAX];
                    return tg_error_set("%s: %s: value %g at position %lld is not in int64's "
                                        "range", op, tg_shape_format(shape, sizeof shape, t),
                                        (double)v, (long long)(done + i));
                }
                ((int64_t *)out)[done + i] = (int64_t)v; /* truncates toward zero */
            }
        } else {
            for (int64_t i = 0; i < plan.inner; i++)
                ((float *)out)[done + i] = t->data[offset[0] + i * s];
        }
        tg_iter_next(&plan, at, offset);
    }
    return 0;
}

tg_tensor *tg_tensor_empty_dtype(tg_shape shape, tg_dtype dtype)
{
    return new_owned(shape, dtype, "tensor_empty_dtype");
}

tg_tensor *tg_tensor_zeros_dtype(tg_shape shape, tg_dtype dtype)
{
    tg_tensor *t = new_owned(shape, dtype, "tensor_zeros_dtype");
    if (t)
        memset(t->data, 0, tg_dtype_size(dtype) * (size_t)t->numel); /* 0 bits: 0 and 0.0f */
    return t;
}

tg_tensor *tg_tensor_from_int64(tg_shape shape, const int64_t *values)
{
    if (!values) {
        tg_error_set("tensor_from_int64: values is NULL");
        return NULL;
    }
    tg_tensor *t = new_owned(shape, TG_INT64, "tensor_from_int64");
    if (t)
        memcpy(t->i64, values, sizeof(int64_t) * (size_t)t->numel);
    return t;
}

tg_tensor *tg_tensor_to_dtype(const tg_tensor *t, tg_dtype dtype)
{
    if (!t)
        return tg_null_input("tensor_to_dtype");
    if (tg_tensor_check_live(t, "tensor_to_dtype", "the tensor") != 0)
        return NULL;
    tg_tensor *c = new_owned(tg_tensor_shape(t), dtype, "tensor_to_dtype");
    if (c && convert_into(c->data, dtype, t, "tensor_to_dtype") != 0) {
        tg_tensor_free(c);
        return NULL;
    }
    return c;
}

/* ---- Graph tensors ---------------------------------------------------------- */

tg_tensor *tg_empty(tg_shape shape) { return new_graph(shape, TG_FLOAT32, "empty"); }

tg_tensor *tg_full(tg_shape shape, float value)
{
    tg_tensor *t = new_graph(shape, TG_FLOAT32, "full");
    if (t)
        tg_kernel_fill(t, value);
    return t;
}

tg_tensor *tg_zeros(tg_shape shape) { return tg_full(shape, 0.0f); }
tg_tensor *tg_ones(tg_shape shape) { return tg_full(shape, 1.0f); }

tg_tensor *tg_zeros_like(const tg_tensor *t)
{
    return t ? tg_zeros(tg_tensor_shape(t)) : tg_null_input("zeros_like");
}

tg_tensor *tg_empty_dtype(tg_shape shape, tg_dtype dtype) { return new_graph(shape, dtype, "empty_dtype"); }

tg_tensor *tg_zeros_dtype(tg_shape shape, tg_dtype dtype)
{
    tg_tensor *t = new_graph(shape, dtype, "zeros_dtype");
    if (t)
        memset(t->data, 0, tg_dtype_size(dtype) * (size_t)t->numel);
    return t;
}

tg_tensor *tg_from_int64(tg_shape shape, const int64_t *values)
{
    if (!values) {
        tg_error_set("from_int64: values is NULL");
        return NULL;
    }
    tg_tensor *t = new_graph(shape, TG_INT64, "from_int64");
    if (t)
        memcpy(t->i64, values, sizeof(int64_t) * (size_t)t->numel);
    return t;
}

tg_tensor *tg_to_dtype(const tg_tensor *t, tg_dtype dtype)
{
    if (!t)
        return tg_null_input("to_dtype");
    if (tg_tensor_check_live(t, "to_dtype", "the tensor") != 0)
        return NULL;
    tg_tensor *c = new_graph(tg_tensor_shape(t), dtype, "to_dtype");
    return c && convert_into(c->data, dtype, t, "to_dtype") == 0 ? c : NULL;
}

tg_tensor *tg_from_array(tg_shape shape, const float *values)
{
    if (!values) {
        tg_error_set("from_array: values is NULL");
        return NULL;
    }
    tg_tensor *t = new_graph(shape, TG_FLOAT32, "from_array");
    if (t)
        memcpy(t->data, values, sizeof(float) * (size_t)t->numel);
    return t;
}

tg_tensor *tg_rand(tg_shape shape, tg_rng *rng)
{
    if (check_rng(rng, "rand"))
        return NULL;
    tg_tensor *t = new_graph(shape, TG_FLOAT32, "rand");
    if (t)
        tg_rng_fill_uniform(rng, t->data, t->numel, 0.0f, 1.0f);
    return t;
}

tg_tensor *tg_randn(tg_shape shape, tg_rng *rng)
{
    if (check_rng(rng, "randn"))
        return NULL;
    tg_tensor *t = new_graph(shape, TG_FLOAT32, "randn");
    if (t)
        tg_rng_fill_normal(rng, t->data, t->numel, 0.0f, 1.0f);
    return t;
}

tg_tensor *tg_bernoulli(tg_shape shape, float p, tg_rng *rng)
{
    if (check_rng(rng, "bernoulli") || check_probability(p, "bernoulli"))
        return NULL;
    tg_tensor *t = new_graph(shape, TG_FLOAT32, "bernoulli");
    if (t)
        tg_rng_fill_bernoulli(rng, t->data, t->numel, p);
    return t;
}

tg_tensor *tg_copy_to_graph(const tg_tensor *t)
{
    if (!t)
        return tg_null_input("copy_to_graph");
    if (tg_tensor_check_live(t, "copy_to_graph", "the tensor") != 0)
        return NULL;
    tg_tensor *c = new_graph(tg_tensor_shape(t), t->dtype, "copy_to_graph");
    if (c && tg_kernel_copy(c, t, false) != 0)
        return NULL;
    return c;
}

/* ---- In-place writes -------------------------------------------------------- */

int tg_tensor_fill_(tg_tensor *t, float value)
{
    return t ? tg_kernel_fill(t, value) : tg_error_null_input("tensor_fill_");
}

int tg_tensor_copy_(tg_tensor *dst, const tg_tensor *src)
{
    if (!dst || !src)
        return tg_error_null_input("tensor_copy_");
    if (tg_tensor_check_live(dst, "tensor_copy_", "the destination") != 0 ||
        tg_tensor_check_live(src, "tensor_copy_", "the source") != 0)
        return -1;
    return tg_kernel_copy(dst, src, false);
}

/* Random fills generate into a contiguous buffer in row-major order, so a
 * view gets the same numbers as a contiguous tensor of its shape. */
static int fill_random(tg_tensor *t, const char *op, void (*fill)(tg_rng *, float *, int64_t, float, float),
                       float a, float b, tg_rng *rng)
{
    if (!t)
        return tg_error_null_input(op);
    if (tg_check_dtype(t, TG_FLOAT32, op) != 0)
        return -1;
    if (check_rng(rng, op))
        return -1;
    if (tg_tensor_is_contiguous(t)) {
        fill(rng, t->data, t->numel, a, b);
        tg_tensor_mark_written(t);
        return 0;
    }
    tg_arena *arena = tg_arena_thread();
    tg_arena_mark mark = tg_arena_get_mark(arena);
    tg_tensor *tmp = tg_empty(tg_tensor_shape(t));
    int rc = -1;
    if (tmp) {
        fill(rng, tmp->data, tmp->numel, a, b);
        rc = tg_kernel_copy(t, tmp, false);
    }
    tg_arena_rewind(arena, mark);
    return rc;
}

int tg_tensor_uniform_(tg_tensor *t, float low, float high, tg_rng *rng)
{
    return fill_random(t, "tensor_uniform_", tg_rng_fill_uniform, low, high, rng);
}

int tg_tensor_normal_(tg_tensor *t, float mean, float std, tg_rng *rng)
{
    return fill_random(t, "tensor_normal_", tg_rng_fill_normal, mean, std, rng);
}

/* ---- Inspection ------------------------------------------------------------- */

bool tg_tensor_is_contiguous(const tg_tensor *t)
{
    if (!t)
        return false;
    if (t->numel == 0)
        return true;
    int64_t expected = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] != 1 && t->stride[d] != expected)
            return false;
        expected *= t->shape[d];
    }
    return true;
}

int64_t tg_tensor_offset(const tg_tensor *t)
{
    if (!t)
        return 0;
    return (int64_t)((char *)t->data - (char *)t->storage->base) / (int64_t)tg_dtype_size(t->dtype);
}

/* Offset of the element at a full index; -1 with an error naming op when
 * the index is out of range. */
static int64_t element_offset(const tg_tensor *t, const int64_t *index, const char *op)
{
    int64_t offset = 0;
    for (int d = 0; d < t->ndim; d++) {
        if (index[d] < 0 || index[d] >= t->shape[d]) {
            char shape[TG_SHAPE_STR_MAX];
            tg_error_set("%s: index %lld out of range for dimension %d of %s", op,
                         (long long)index[d], d, tg_shape_format(shape, sizeof shape, t));
            return -1;
        }
        offset += index[d] * t->stride[d];
    }
    return offset;
}

static int check_one_element(const tg_tensor *t, const char *op)
{
    if (t->numel == 1)
        return 0;
    char shape[TG_SHAPE_STR_MAX];
    return tg_error_set("%s: tensor %s has %lld elements, not 1", op,
                        tg_shape_format(shape, sizeof shape, t), (long long)t->numel);
}

float tg_tensor_get(const tg_tensor *t, const int64_t *index)
{
    if (!t || !index)
        return NAN;
    int64_t offset = element_offset(t, index, "tensor_get");
    if (offset < 0)
        return NAN;
    return t->dtype == TG_INT64 ? (float)t->i64[offset] : t->data[offset];
}

float tg_tensor_item(const tg_tensor *t)
{
    if (!t || tg_tensor_check_live(t, "tensor_item", "the tensor") != 0 ||
        check_one_element(t, "tensor_item") != 0)
        return NAN;
    return t->dtype == TG_INT64 ? (float)t->i64[0] : t->data[0];
}

int64_t tg_tensor_get_int64(const tg_tensor *t, const int64_t *index)
{
    if (!t || !index || tg_check_dtype(t, TG_INT64, "tensor_get_int64") != 0)
        return TG_INT64_ERROR;
    int64_t offset = element_offset(t, index, "tensor_get_int64");
    return offset < 0 ? TG_INT64_ERROR : t->i64[offset];
}

int64_t tg_tensor_item_int64(const tg_tensor *t)
{
    if (!t || tg_tensor_check_live(t, "tensor_item_int64", "the tensor") != 0 ||
        tg_check_dtype(t, TG_INT64, "tensor_item_int64") != 0 ||
        check_one_element(t, "tensor_item_int64") != 0)
        return TG_INT64_ERROR;
    return t->i64[0];
}

int tg_tensor_to_array(const tg_tensor *t, float *out)
{
    if (!t)
        return tg_error_null_input("tensor_to_array");
    if (tg_tensor_check_live(t, "tensor_to_array", "the tensor") != 0)
        return -1;
    if (!out)
        return tg_error_set("tensor_to_array: output array is NULL");
    if (t->dtype == TG_INT64)
        return convert_into(out, TG_FLOAT32, t, "tensor_to_array");
    tg_tensor dst;
    tg_storage storage = { .base = out, .size = t->numel };
    init_contiguous(&dst, tg_tensor_shape(t), t->numel, &storage, TG_FLOAT32);
    return tg_kernel_copy(&dst, t, false);
}

int tg_tensor_to_int64_array(const tg_tensor *t, int64_t *out)
{
    if (!t)
        return tg_error_null_input("tensor_to_int64_array");
    if (tg_tensor_check_live(t, "tensor_to_int64_array", "the tensor") != 0 ||
        tg_check_dtype(t, TG_INT64, "tensor_to_int64_array") != 0)
        return -1;
    if (!out)
        return tg_error_set("tensor_to_int64_array: output array is NULL");
    return convert_into(out, TG_INT64, t, "tensor_to_int64_array");
}

/* ---- Views ------------------------------------------------------------------ */

bool tg_view_refused(const tg_tensor *t, const char *view, const char *use)
{
    if (!t)
        return false;
    if (tg_tensor_check_live(t, view, "the tensor") != 0)
        return true;
    if (!(t->flags & TG_TENSOR_TRACKED))
        return false;
    char shape[TG_SHAPE_STR_MAX];
    tg_error_set("%s: tensor %s is tracked by autograd (requires a gradient); use %s", view,
                 tg_shape_format(shape, sizeof shape, t), use);
    return true;
}

/* PyTorch's rule for viewing strided memory in a new shape: each run of old
 * axes that is contiguous in memory can be re-split freely. Returns false
 * when the new shape would need a copy. */
static bool view_strides(const tg_tensor *t, const tg_shape *shape, int64_t *stride)
{
    if (t->numel == 0 || t->ndim == 0) { /* no strides to respect */
        tg_contiguous_strides(shape, stride);
        return true;
    }
    int view_d = shape->ndim - 1;
    int64_t chunk_base_stride = t->ndim ? t->stride[t->ndim - 1] : 1;
    int64_t tensor_numel = 1, view_numel = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        tensor_numel *= t->shape[d];
        bool chunk_ends = d == 0 || (t->shape[d - 1] != 1 &&
                                     t->stride[d - 1] != tensor_numel * chunk_base_stride);
        if (chunk_ends) {
            while (view_d >= 0 && (view_numel < tensor_numel || shape->dim[view_d] == 1)) {
                stride[view_d] = view_numel * chunk_base_stride;
                view_numel *= shape->dim[view_d];
                view_d--;
            }
            if (view_numel != tensor_numel)
                return false;
            if (d > 0) {
                chunk_base_stride = t->stride[d - 1];
                tensor_numel = 1;
                view_numel = 1;
            }
        }
    }
    return view_d == -1;
}

tg_tensor *tg_view_reshape(const tg_tensor *t, tg_shape shape)
{
    return tg_view_refused(t, "view_reshape", "tg_reshape, which records the view, or tg_detach")
               ? NULL
               : tg_view_reshape_tracked(t, shape);
}

tg_tensor *tg_view_reshape_tracked(const tg_tensor *t, tg_shape shape)
{
    if (!t)
        return tg_null_input("view_reshape");
    if (tg_tensor_check_live(t, "view_reshape", "the tensor") != 0)
        return NULL;
    char from[TG_SHAPE_STR_MAX], to[TG_SHAPE_STR_MAX];
    if (shape.ndim < 0 || shape.ndim > TG_MAX_DIMS) {
        tg_error_set("reshape: %d dimensions; tapegrad supports 0 to %d", shape.ndim, TG_MAX_DIMS);
        return NULL;
    }
    int infer = -1;
    int64_t known = 1;
    for (int d = 0; d < shape.ndim; d++) {
        if (shape.dim[d] == -1 && infer < 0) {
            infer = d;
            continue;
        }
        if (shape.dim[d] < 0) {
            format_dims(to, sizeof to, shape.ndim, shape.dim);
            tg_error_set("reshape: %s to %s: bad size %lld", tg_shape_format(from, sizeof from, t),
                         to, (long long)shape.dim[d]);
            return NULL;
        }
        if (shape.dim[d] != 0 && known > INT64_MAX / shape.dim[d]) {
            format_dims(to, sizeof to, shape.ndim, shape.dim);
            tg_error_set("reshape: %s to %s: the number of elements overflows",
                         tg_shape_format(from, sizeof from, t), to);
            return NULL;
        }
        known *= shape.dim[d];
    }
    if (infer >= 0) {
        if (known == 0 || t->numel % known != 0) {
            format_dims(to, sizeof to, shape.ndim, shape.dim);
            tg_error_set("reshape: %s to %s: cannot infer the size of dimension %d",
                         tg_shape_format(from, sizeof from, t), to, infer);
            return NULL;
        }
        shape.dim[infer] = t->numel / known;
        known = t->numel;
    }
    if (known != t->numel) {
        format_dims(to, sizeof to, shape.ndim, shape.dim);
        tg_error_set("reshape: %s to %s: %lld elements cannot become %lld",
                     tg_shape_format(from, sizeof from, t), to, (long long)t->numel,
                     (long long)known);
        return NULL;
    }
    int64_t stride[TG_MAX_DIMS];
    if (!view_strides(t, &shape, stride)) {
        format_dims(to, sizeof to, shape.ndim, shape.dim);
        tg_error_set("reshape: %s to %s: the strides of this view do not allow it without a copy "
                     "(make it contiguous first)", tg_shape_format(from, sizeof from, t), to);
        return NULL;
    }
    tg_tensor *v = new_view(t);
    if (!v)
        return NULL;
    v->ndim = shape.ndim;
    memcpy(v->shape, shape.dim, sizeof(int64_t) * (size_t)shape.ndim);
    memcpy(v->stride, stride, sizeof(int64_t) * (size_t)shape.ndim);
    return v;
}

tg_tensor *tg_view_permute(const tg_tensor *t, const int *order)
{
    return tg_view_refused(t, "view_permute", "tg_permute, which records the view, or tg_detach")
               ? NULL
               : tg_view_permute_tracked(t, order);
}

tg_tensor *tg_view_permute_tracked(const tg_tensor *t, const int *order)
{
    if (!t)
        return tg_null_input("view_permute");
    if (tg_tensor_check_live(t, "view_permute", "the tensor") != 0)
        return NULL;
    if (!order) {
        tg_error_set("permute: order is NULL");
        return NULL;
    }
    bool seen[TG_MAX_DIMS] = { false };
    int axes[TG_MAX_DIMS];
    for (int d = 0; d < t->ndim; d++) {
        int a = tg_normalize_dim(order[d], t->ndim, "permute");
        if (a < 0)
            return NULL;
        if (seen[a]) {
            tg_error_set("permute: dimension %d appears twice in the order", order[d]);
            return NULL;
        }
        seen[a] = true;
        axes[d] = a;
    }
    tg_tensor *v = new_view(t);
    if (!v)
        return NULL;
    for (int d = 0; d < t->ndim; d++) {
        v->shape[d] = t->shape[axes[d]];
        v->stride[d] = t->stride[axes[d]];
    }
    return v;
}

tg_tensor *tg_view_transpose(const tg_tensor *t, int dim0, int dim1)
{
    if (!t)
        return tg_null_input("view_transpose");
    if (tg_view_refused(t, "view_transpose", "tg_transpose, which records the view, or tg_detach"))
        return NULL;
    int a = tg_normalize_dim(dim0, t->ndim, "transpose");
    int b = a < 0 ? -1 : tg_normalize_dim(dim1, t->ndim, "transpose");
    if (b < 0)
        return NULL;
    int order[TG_MAX_DIMS];
    for (int d = 0; d < t->ndim; d++)
        order[d] = d;
    order[a] = b;
    order[b] = a;
    return tg_view_permute_tracked(t, order);
}

tg_tensor *tg_view_slice(const tg_tensor *t, int dim, int64_t start, int64_t stop, int64_t step)
{
    return tg_view_refused(t, "view_slice", "tg_slice, which records the view, or tg_detach")
               ? NULL
               : tg_view_slice_tracked(t, dim, start, stop, step);
}

tg_tensor *tg_view_slice_tracked(const tg_tensor *t, int dim, int64_t start, int64_t stop, int64_t step)
{
    if (!t)
        return tg_null_input("view_slice");
    if (tg_tensor_check_live(t, "view_slice", "the tensor") != 0)
        return NULL;
    int d = tg_normalize_dim(dim, t->ndim, "slice");
    if (d < 0)
        return NULL;
    if (step < 1) {
        tg_error_set("slice: step %lld must be at least 1", (long long)step);
        return NULL;
    }
    int64_t size = t->shape[d];
    /* Python's rules: negative bounds count from the end; bounds clamp. */
    if (start < 0)
        start += size;
    if (stop < 0)
        stop += size;
    start = start < 0 ? 0 : (start > size ? size : start);
    stop = stop < start ? start : (stop > size ? size : stop);
    tg_tensor *v = new_view(t);
    if (!v)
        return NULL;
    /* Written so that no step, however large, overflows: */
    v->shape[d] = stop == start ? 0 : (stop - start - 1) / step + 1;
    v->stride[d] = v->shape[d] > 1 ? t->stride[d] * step : t->stride[d];
    v->data = element_at(t, start * t->stride[d]);
    v->numel = tg_shape_numel(tg_tensor_shape(v), "slice");
    return v;
}

tg_tensor *tg_view_narrow(const tg_tensor *t, int dim, int64_t start, int64_t length)
{
    return tg_view_refused(t, "view_narrow", "tg_narrow, which records the view, or tg_detach")
               ? NULL
               : tg_view_narrow_tracked(t, dim, start, length);
}

tg_tensor *tg_view_narrow_tracked(const tg_tensor *t, int dim, int64_t start, int64_t length)
{
    if (!t)
        return tg_null_input("view_narrow");
    if (tg_tensor_check_live(t, "view_narrow", "the tensor") != 0)
        return NULL;
    int d = tg_normalize_dim(dim, t->ndim, "narrow");
    if (d < 0)
        return NULL;
    if (start < 0 || length < 0 || start > t->shape[d] || length > t->shape[d] - start) {
        char shape[TG_SHAPE_STR_MAX];
        tg_error_set("narrow: %s: start %lld and length %lld do not fit in dimension %d of size %lld",
                     tg_shape_format(shape, sizeof shape, t), (long long)start, (long long)length, d,
                     (long long)t->shape[d]);
        return NULL;
    }
    return tg_view_slice_tracked(t, d, start, start + length, 1);
}

tg_tensor *tg_view_select(const tg_tensor *t, int dim, int64_t index)
{
    return tg_view_refused(t, "view_select", "tg_select, which records the view, or tg_detach")
               ? NULL
               : tg_view_select_tracked(t, dim, index);
}

tg_tensor *tg_view_select_tracked(const tg_tensor *t, int dim, int64_t index)
{
    if (!t)
        return tg_null_input("view_select");
    if (tg_tensor_check_live(t, "view_select", "the tensor") != 0)
        return NULL;
    int d = tg_normalize_dim(dim, t->ndim, "select");
    if (d < 0)
        return NULL;
    if (index < 0 || index >= t->shape[d]) {
        char shape[TG_SHAPE_STR_MAX];
        tg_error_set("select: %s: index %lld out of range for dimension %d of size %lld",
                     tg_shape_format(shape, sizeof shape, t), (long long)index, d,
                     (long long)t->shape[d]);
        return NULL;
    }
    tg_tensor *v = new_view(t);
    if (!v)
        return NULL;
    v->data = element_at(t, index * t->stride[d]);
    for (int k = d; k < t->ndim - 1; k++) {
        v->shape[k] = t->shape[k + 1];
        v->stride[k] = t->stride[k + 1];
    }
    v->ndim = t->ndim - 1;
    v->numel = t->numel / t->shape[d];
    return v;
}

tg_tensor *tg_view_expand(const tg_tensor *t, tg_shape shape)
{
    return tg_view_refused(t, "view_expand", "tg_expand, which records the view, or tg_detach")
               ? NULL
               : tg_view_expand_tracked(t, shape);
}

tg_tensor *tg_view_expand_tracked(const tg_tensor *t, tg_shape shape)
{
    if (!t)
        return tg_null_input("view_expand");
    if (tg_tensor_check_live(t, "view_expand", "the tensor") != 0)
        return NULL;
    char from[TG_SHAPE_STR_MAX], to[TG_SHAPE_STR_MAX];
    if (shape.ndim < t->ndim || shape.ndim > TG_MAX_DIMS) {
        format_dims(to, sizeof to, shape.ndim, shape.dim);
        tg_error_set("expand: %s to %s: the target needs at least as many dimensions",
                     tg_shape_format(from, sizeof from, t), to);
        return NULL;
    }
    int lead = shape.ndim - t->ndim;
    int64_t stride[TG_MAX_DIMS];
    for (int d = 0; d < shape.ndim; d++) {
        int64_t old = d >= lead ? t->shape[d - lead] : 1;
        if (shape.dim[d] == -1 && d >= lead)
            shape.dim[d] = old;
        if (shape.dim[d] < 0 || (old != shape.dim[d] && old != 1)) {
            format_dims(to, sizeof to, shape.ndim, shape.dim);
            tg_error_set("expand: %s to %s: dimension %d of size %lld cannot become %lld",
                         tg_shape_format(from, sizeof from, t), to, d, (long long)old,
                         (long long)shape.dim[d]);
            return NULL;
        }
        stride[d] = (d >= lead && old == shape.dim[d]) ? t->stride[d - lead] : 0;
    }
    int64_t numel = tg_shape_numel(shape, "expand");
    if (numel < 0)
        return NULL;
    tg_tensor *v = new_view(t);
    if (!v)
        return NULL;
    v->ndim = shape.ndim;
    memcpy(v->shape, shape.dim, sizeof(int64_t) * (size_t)shape.ndim);
    memcpy(v->stride, stride, sizeof(int64_t) * (size_t)shape.ndim);
    v->numel = numel;
    return v;
}

tg_tensor *tg_view_squeeze(const tg_tensor *t, int dim)
{
    return tg_view_refused(t, "view_squeeze", "tg_squeeze, which records the view, or tg_detach")
               ? NULL
               : tg_view_squeeze_tracked(t, dim);
}

tg_tensor *tg_view_squeeze_tracked(const tg_tensor *t, int dim)
{
    if (!t)
        return tg_null_input("view_squeeze");
    if (tg_tensor_check_live(t, "view_squeeze", "the tensor") != 0)
        return NULL;
    int d = tg_normalize_dim(dim, t->ndim, "squeeze");
    if (d < 0)
        return NULL;
    if (t->shape[d] != 1) {
        char shape[TG_SHAPE_STR_MAX];
        tg_error_set("squeeze: %s: dimension %d has size %lld, not 1",
                     tg_shape_format(shape, sizeof shape, t), d, (long long)t->shape[d]);
        return NULL;
    }
    return tg_view_select_tracked(t, d, 0);
}

tg_tensor *tg_view_unsqueeze(const tg_tensor *t, int dim)
{
    return tg_view_refused(t, "view_unsqueeze", "tg_unsqueeze, which records the view, or tg_detach")
               ? NULL
               : tg_view_unsqueeze_tracked(t, dim);
}

tg_tensor *tg_view_unsqueeze_tracked(const tg_tensor *t, int dim)
{
    if (!t)
        return tg_null_input("view_unsqueeze");
    if (tg_tensor_check_live(t, "view_unsqueeze", "the tensor") != 0)
        return NULL;
    if (t->ndim >= TG_MAX_DIMS) {
        tg_error_set("unsqueeze: the tensor already has %d dimensions", TG_MAX_DIMS);
        return NULL;
    }
    int d = tg_normalize_dim(dim, t->ndim + 1, "unsqueeze");
    if (d < 0)
        return NULL;
    tg_tensor *v = new_view(t);
    if (!v)
        return NULL;
    for (int k = t->ndim; k > d; k--) {
        v->shape[k] = t->shape[k - 1];
        v->stride[k] = t->stride[k - 1];
    }
    v->shape[d] = 1;
    v->stride[d] = d + 1 <= t->ndim && d < t->ndim ? t->stride[d] * t->shape[d] : 1;
    v->ndim = t->ndim + 1;
    return v;
}

tg_tensor *tg_view_alias(const tg_tensor *t)
{
    return tg_view_refused(t, "view_alias", "tg_detach, which makes a view without history")
               ? NULL
               : tg_view_alias_tracked(t);
}

tg_tensor *tg_view_alias_tracked(const tg_tensor *t)
{
    if (!t)
        return tg_null_input("view_alias");
    return tg_tensor_check_live(t, "view_alias", "the tensor") == 0 ? new_view(t) : NULL;
}

tg_tensor *tg_view_contiguous(const tg_tensor *t)
{
    return tg_view_refused(t, "view_contiguous", "tg_contiguous, which records the copy, or tg_detach")
               ? NULL
               : tg_view_contiguous_tracked(t);
}

tg_tensor *tg_view_contiguous_tracked(const tg_tensor *t)
{
    if (!t)
        return tg_null_input("view_contiguous");
    if (tg_tensor_check_live(t, "view_contiguous", "the tensor") != 0)
        return NULL;
    if (tg_tensor_is_contiguous(t))
        return (tg_tensor *)t;
    return tg_copy_to_graph(t);
}
