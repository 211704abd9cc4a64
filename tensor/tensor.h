/*
 * tensor/tensor.h: N-dimensional tensors of float32 or int64.
 *
 * Who it is for: every user (tapegrad.h includes it). Views without
 * gradients, raw kernels and the other pieces ops are made of are in the
 * op author's header, tensor/kernel.h.
 *
 * A tensor is a shape, strides and a data pointer into storage that may be
 * shared with other tensors (views). This floor knows nothing about
 * gradients; the autograd floor keeps its per-tensor state behind `ext`.
 *
 * Element types (tg_dtype): float32 is the default, so a zero-initialised
 * tensor struct and every constructor without "dtype" or "int64" in its
 * name make float32 tensors. int64 tensors hold ids, targets, indices and
 * lengths: embedding, cross_entropy, nll_loss, gather, index_select,
 * one_hot, scatter_add and the recurrent layers' lengths take them (and
 * float tensors holding whole numbers, as before); argmax, argmin and the
 * indices of max and min are int64. Views, copies, clones, printing and
 * tg_to_dtype work on both types; every numeric kernel needs float32, and
 * an int64 tensor given to one is an error naming the op and the shape:
 *     add: int64 tensor [2,3] given where float32 is needed
 * Read an int64 tensor's elements through `i64` (or the int64 accessors
 * below), a float32 tensor's through `data`.
 *
 * Ownership, the one rule to remember:
 *   - functions named tg_tensor_* that create a tensor return an OWNED tensor:
 *     you free it with tg_tensor_free();
 *   - every other function that returns a tensor (tg_zeros, tg_add, views,
 *     ...) returns a GRAPH tensor: it lives in this thread's arena until
 *     tg_arena_reset() (or tg_graph_reset() in autograd/), and you never free
 *     it.
 * A view never owns memory: keep the tensor it looks into alive.
 *
 * Errors: a function given bad input returns NULL (or -1) and records one
 * message (see tensor/error.h); given NULL it returns NULL silently.
 */
#ifndef TG_TENSOR_H
#define TG_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tensor/arena.h"
#include "tensor/error.h"
#include "tensor/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TG_MAX_DIMS 8

/* A shape: number of dimensions and their sizes. Build one with TG_SHAPE. */
typedef struct tg_shape {
    int ndim;
    int64_t dim[TG_MAX_DIMS];
} tg_shape;

#define TG_NARGS_(_1, _2, _3, _4, _5, _6, _7, _8, N, ...) N
#define TG_NARGS(...) TG_NARGS_(__VA_ARGS__, 8, 7, 6, 5, 4, 3, 2, 1, 0)

/* TG_SHAPE(32, 64) is the shape [32, 64]; TG_SCALAR is the 0-d shape []. */
#define TG_SHAPE(...) ((tg_shape){ .ndim = TG_NARGS(__VA_ARGS__), .dim = { __VA_ARGS__ } })
#define TG_SCALAR ((tg_shape){ .ndim = 0 })

/* A set of axes for reductions; negative axes count from the end.
 * TG_AXES(0, 2) names axes 0 and 2; TG_ALL_AXES names every axis. */
typedef struct tg_axes {
    int n; /* -1 means every axis; below -1 is an error */
    int axis[TG_MAX_DIMS];
} tg_axes;

#define TG_AXES(...) ((tg_axes){ .n = TG_NARGS(__VA_ARGS__), .axis = { __VA_ARGS__ } })
#define TG_ALL_AXES ((tg_axes){ .n = -1 })

/* Element types. */
typedef enum tg_dtype {
    TG_FLOAT32 = 0, /* the default */
    TG_INT64,
} tg_dtype;

/* "float32" or "int64"; bytes per element. */
const char *tg_dtype_name(tg_dtype dtype);
size_t tg_dtype_size(tg_dtype dtype);

/* Memory behind one or more tensors. */
typedef struct tg_storage {
    void *base;       /* first element */
    int64_t size;     /* elements (of the dtype of the tensors viewing it) */
    bool owned;       /* freed with the owning tensor (else arena or external) */
    uint64_t version; /* changes whenever the data is written; unique across storages */
} tg_storage;

/* Per-tensor state of a higher floor. tensor/ only calls `release` when an
 * owned tensor is freed. */
typedef struct tg_tensor_ext {
    void (*release)(struct tg_tensor_ext *ext);
} tg_tensor_ext;

enum {
    TG_TENSOR_OWNED = 1u << 0, /* created by tg_tensor_*: free with tg_tensor_free */
    /* Tracked by a higher floor, which records every view of it: autograd
     * sets it on a tensor that requires a gradient. The raw views of
     * tensor/kernel.h refuse such a tensor, since the view would silently
     * drop the gradient; views made of it have it clear. */
    TG_TENSOR_TRACKED = 1u << 1,
};

typedef struct tg_tensor {
    union {                       /* address of element [0, ..., 0]: */
        float *data;              /*   dtype TG_FLOAT32 */
        int64_t *i64;             /*   dtype TG_INT64 */
    };
    int64_t shape[TG_MAX_DIMS];
    int64_t stride[TG_MAX_DIMS];  /* in elements; 0 on expanded (broadcast) axes */
    int64_t numel;
    int ndim;
    unsigned flags;
    /* For a graph tensor, the generation of the arena it was made in
     * (tg_arena_generation): after a reset it no longer matches, and
     * tg_tensor_is_stale says so. 0 for owned tensors and tensors built by
     * hand, which are never stale. */
    uint32_t generation;
    tg_dtype dtype;               /* TG_FLOAT32 unless made as int64 */
    tg_storage *storage;
    tg_tensor_ext *ext;           /* owned by the floor above; NULL here */
} tg_tensor;

/* ---- Owned tensors ------------------------------------------------------ */

tg_tensor *tg_tensor_empty(tg_shape shape);                   /* uninitialised */
tg_tensor *tg_tensor_zeros(tg_shape shape);
tg_tensor *tg_tensor_ones(tg_shape shape);
tg_tensor *tg_tensor_full(tg_shape shape, float value);
tg_tensor *tg_tensor_from_array(tg_shape shape, const float *values); /* copies */
/* [start, stop) in steps of step, like torch.arange; 1-d. */
tg_tensor *tg_tensor_arange(float start, float stop, float step);
/* n points from start to stop inclusive; 1-d. */
tg_tensor *tg_tensor_linspace(float start, float stop, int64_t n);
tg_tensor *tg_tensor_eye(int64_t n);
/* A contiguous owned copy of any tensor (view, graph tensor, ...), without
 * any autograd state: the way to keep a value past tg_graph_reset(). */
tg_tensor *tg_tensor_clone(const tg_tensor *t);
/* Random tensors from an explicit generator (tensor/rng.h). */
tg_tensor *tg_tensor_rand(tg_shape shape, tg_rng *rng);      /* U[0, 1) */
tg_tensor *tg_tensor_randn(tg_shape shape, tg_rng *rng);     /* N(0, 1) */
tg_tensor *tg_tensor_uniform(tg_shape shape, float low, float high, tg_rng *rng);
tg_tensor *tg_tensor_normal(tg_shape shape, float mean, float std, tg_rng *rng);
tg_tensor *tg_tensor_bernoulli(tg_shape shape, float p, tg_rng *rng); /* 1 with probability p */
/* Tensors of either dtype: uninitialised, or zeros. */
tg_tensor *tg_tensor_empty_dtype(tg_shape shape, tg_dtype dtype);
tg_tensor *tg_tensor_zeros_dtype(tg_shape shape, tg_dtype dtype);
/* An int64 tensor holding a copy of values (numel of them). */
tg_tensor *tg_tensor_from_int64(tg_shape shape, const int64_t *values);
/* A contiguous owned copy of t converted to dtype (t's own dtype gives a
 * clone). float32 to int64 truncates toward zero, as torch's .long(); a
 * NaN, an infinity or a value beyond int64's range is an error naming the
 * position. int64 to float32 rounds to nearest (exact below 2^24). */
tg_tensor *tg_tensor_to_dtype(const tg_tensor *t, tg_dtype dtype);

/* Frees an owned tensor and its storage. NULL is ignored; a graph tensor is
 * an error (it belongs to the arena). */
void tg_tensor_free(tg_tensor *t);

/* ---- Graph tensors (live in this thread's arena) -------------------------- */

tg_tensor *tg_empty(tg_shape shape);
tg_tensor *tg_zeros(tg_shape shape);
tg_tensor *tg_ones(tg_shape shape);
tg_tensor *tg_full(tg_shape shape, float value);
tg_tensor *tg_from_array(tg_shape shape, const float *values);
tg_tensor *tg_rand(tg_shape shape, tg_rng *rng);
tg_tensor *tg_randn(tg_shape shape, tg_rng *rng);
tg_tensor *tg_bernoulli(tg_shape shape, float p, tg_rng *rng);
tg_tensor *tg_empty_dtype(tg_shape shape, tg_dtype dtype);
tg_tensor *tg_zeros_dtype(tg_shape shape, tg_dtype dtype);
tg_tensor *tg_from_int64(tg_shape shape, const int64_t *values);
/* Zeros with the shape of t (float32). */
tg_tensor *tg_zeros_like(const tg_tensor *t);
/* A contiguous copy in the arena, of t's dtype (no autograd state). */
tg_tensor *tg_copy_to_graph(const tg_tensor *t);
/* tg_tensor_to_dtype into the arena. No gradient flows through it. */
tg_tensor *tg_to_dtype(const tg_tensor *t, tg_dtype dtype);

/* ---- In-place writes (no autograd: for initialisation and updates) ----- */

int tg_tensor_fill_(tg_tensor *t, float value);
int tg_tensor_uniform_(tg_tensor *t, float low, float high, tg_rng *rng);
int tg_tensor_normal_(tg_tensor *t, float mean, float std, tg_rng *rng);
/* dst = src, elementwise; src broadcasts to dst's shape. Both of one dtype
 * (tg_tensor_to_dtype converts). The fills and random fills need float32. */
int tg_tensor_copy_(tg_tensor *dst, const tg_tensor *src);


/* ---- Inspection ---------------------------------------------------------- */

/* True for a graph tensor from before this thread's last tg_arena_reset
 * (tg_graph_reset), or from another thread's arena (unless that arena's
 * generation is lent to this thread, tensor/arena.h): its memory may since
 * hold other tensors. Checked by every op and by backward. The check reads
 * only the tensor struct; it cannot tell a stale pointer from a new tensor
 * made at the very same address, which the arena avoids by starting each
 * generation at another offset. */
bool tg_tensor_is_stale(const tg_tensor *t);

tg_shape tg_tensor_shape(const tg_tensor *t);
/* True when the elements are in row-major order without gaps (size-1 axes
 * may have any stride; an empty tensor is contiguous). */
bool tg_tensor_is_contiguous(const tg_tensor *t);
bool tg_shape_equal(tg_shape a, tg_shape b);
bool tg_tensor_same_shape(const tg_tensor *a, const tg_tensor *b);
/* Offset of data from its storage's first element. */
int64_t tg_tensor_offset(const tg_tensor *t);
/* Element at a full index (ndim entries); NAN if the index is bad. An
 * int64 element is converted to float (exact below 2^24). */
float tg_tensor_get(const tg_tensor *t, const int64_t *index);
/* The single value of a one-element tensor; NAN otherwise (with an error).
 * An int64 value is converted as by tg_tensor_get. */
float tg_tensor_item(const tg_tensor *t);
/* Copies the elements, in row-major order, into out (numel floats); int64
 * elements are converted as by tg_tensor_get. */
int tg_tensor_to_array(const tg_tensor *t, float *out);
/* The same for int64 tensors, without conversion: a float32 tensor is an
 * error ("tensor_get_int64: float32 tensor [3] given where int64 is
 * needed"), as is a bad index; the two value functions then return
 * TG_INT64_ERROR (INT64_MIN), which is never a valid index. */
#define TG_INT64_ERROR INT64_MIN
int64_t tg_tensor_get_int64(const tg_tensor *t, const int64_t *index);
int64_t tg_tensor_item_int64(const tg_tensor *t);
int tg_tensor_to_int64_array(const tg_tensor *t, int64_t *out);
/* Writes "[2,3,4]" (or "[]" for a scalar) into buf; returns buf. */
char *tg_shape_format(char *buf, size_t size, const tg_tensor *t);
#define TG_SHAPE_STR_MAX 96

/* Readable print: shape (and "int64" for int64 tensors), then values with
 * rows and brackets like NumPy; long axes are summarised with "...". */
void tg_tensor_print(const tg_tensor *t, const char *name);
void tg_tensor_fprint(FILE *f, const tg_tensor *t, const char *name);

#ifdef __cplusplus
}
#endif

#endif
