/*
 * tensor/elementwise.h: elementwise kernels with NumPy broadcasting.
 *
 * Who it is for: people writing ops (reached through tensor/kernel.h, not
 * tapegrad.h); users compute with autograd's ops (tg_add, tg_tanh, ...).
 *
 * Every kernel writes into a caller-provided `out`; inputs broadcast to
 * out's shape. With `accumulate` set, a kernel adds its result to out
 * (out += f(...)) instead of overwriting it, which lets callers sum
 * contributions without a temporary.
 *
 * All of them run on one engine, tg_map: it merges axes that are contiguous
 * in every operand, calls a row function on the innermost axis, and splits
 * large tensors across threads. A row function receives a run of n elements
 * with one stride per operand; the TG_MAP_ROW_* macros below write the
 * contiguous fast path (which the compiler vectorises) and the strided path
 * from one expression, so a new elementwise operation is one line.
 *
 * Kernels return 0, or -1 with an error naming the operation and shapes.
 * They need float32 tensors (tg_map checks every operand), except copy.
 */
#ifndef TG_ELEMENTWISE_H
#define TG_ELEMENTWISE_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor/elementwise_table.h"
#include "tensor/tensor.h"
#include "tensor/threads.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TG_MAP_MAX_INPUTS 4

/* One run of elements for a row function. */
typedef struct tg_map_row {
    int64_t n;
    float *out;
    int64_t out_stride;
    const float *in[TG_MAP_MAX_INPUTS];
    int64_t in_stride[TG_MAP_MAX_INPUTS];
    const float *param; /* the operation's scalar parameters */
    bool accumulate;    /* out += value instead of out = value */
} tg_map_row;

typedef void (*tg_map_fn)(const tg_map_row *row);

/* Applies fn over out's elements, inputs broadcast to out's shape. `op`
 * names the operation in error messages. out must not overlap itself (no
 * expanded axes); it may be one of the inputs when their layouts match. */
int tg_map(const char *op, tg_tensor *out, int n_in, const tg_tensor *const *in, tg_map_fn fn,
           const float *param, bool accumulate);

/* ---- Row-function builders ------------------------------------------------
 * In EXPR, `a`, `b`, `c` are the input values and `p` the parameter array. */

#define TG_MAP_LOOP_(EXPR, LOAD)                                                   \
    if (r->accumulate)                                                            \
        for (int64_t i = 0; i < n; i++) {                                         \
            LOAD;                                                                 \
            o[i * os] += (EXPR);                                                  \
        }                                                                         \
    else                                                                          \
        for (int64_t i = 0; i < n; i++) {                                         \
            LOAD;                                                                 \
            o[i * os] = (EXPR);                                                   \
        }

#define TG_MAP_ROW_1(name, EXPR)                                                   \
    static void name(const tg_map_row *r)                                          \
    {                                                                             \
        const float *x0 = r->in[0];                                       \
        float *o = r->out;                                                \
        const float *p = r->param;                                                 \
        (void)p;                                                                  \
        const int64_t n = r->n;                                                    \
        if (r->out_stride == 1 && r->in_stride[0] == 1) {                          \
            const int64_t os = 1;                                                  \
            TG_MAP_LOOP_(EXPR, const float a = x0[i])                              \
        } else {                                                                  \
            const int64_t os = r->out_stride, s0 = r->in_stride[0];                \
            TG_MAP_LOOP_(EXPR, const float a = x0[i * s0])                         \
        }                                                                         \
    }

#define TG_MAP_ROW_2(name, EXPR)                                                   \
    static void name(const tg_map_row *r)                                          \
    {                                                                             \
        const float *x0 = r->in[0];                                       \
        const float *x1 = r->in[1];                                       \
        float *o = r->out;                                                \
        const float *p = r->param;                                                 \
        (void)p;                                                                  \
        const int64_t n = r->n;                                                    \
        if (r->out_stride == 1 && r->in_stride[0] == 1 && r->in_stride[1] == 1) {  \
            const int64_t os = 1;                                                  \
            TG_MAP_LOOP_(EXPR, const float a = x0[i]; const float b = x1[i]; (void)a; (void)b) \
        } else if (r->out_stride == 1 && r->in_stride[0] == 1 && r->in_stride[1] == 0) { \
            const int64_t os = 1;                                                  \
            const float b = x1[0];                                                 \
            (void)b;                                                               \
            TG_MAP_LOOP_(EXPR, const float a = x0[i]; (void)a)                     \
        } else {                                                                  \
            const int64_t os = r->out_stride, s0 = r->in_stride[0], s1 = r->in_stride[1]; \
            TG_MAP_LOOP_(EXPR, const float a = x0[i * s0]; const float b = x1[i * s1]; (void)a; (void)b) \
        }                                                                         \
    }

#define TG_MAP_ROW_3(name, EXPR)                                                   \
    static void name(const tg_map_row *r)                                          \
    {                                                                             \
        const float *x0 = r->in[0];                                       \
        const float *x1 = r->in[1];                                       \
        const float *x2 = r->in[2];                                       \
        float *o = r->out;                                                \
        const float *p = r->param;                                                 \
        (void)p;                                                                  \
        const int64_t n = r->n;                                                    \
        if (r->out_stride == 1 && r->in_stride[0] == 1 && r->in_stride[1] == 1 &&  \
            r->in_stride[2] == 1) {                                                \
            const int64_t os = 1;                                                  \
            TG_MAP_LOOP_(EXPR, const float a = x0[i]; const float b = x1[i];       \
                         const float c = x2[i]; (void)a; (void)b; (void)c)          \
        } else {                                                                  \
            const int64_t os = r->out_stride, s0 = r->in_stride[0],                \
                          s1 = r->in_stride[1], s2 = r->in_stride[2];              \
            TG_MAP_LOOP_(EXPR, const float a = x0[i * s0]; const float b = x1[i * s1]; \
                         const float c = x2[i * s2]; (void)a; (void)b; (void)c)     \
        }                                                                         \
    }

/* ---- Unary operations ------------------------------------------------------ */

/* The kinds, in the order of tensor/elementwise_table.h, whose rows say
 * what each computes: TG_UNARY_NEG, ..., TG_UNARY_GE_SCALAR. */
#define TG_UNARY_KIND_(kind, ...) TG_UNARY_##kind,
typedef enum tg_unary_op {
    TG_UNARY_TABLE(TG_UNARY_KIND_)
    TG_UNARY_COMPARISON_TABLE(TG_UNARY_KIND_)
    TG_UNARY_COUNT
} tg_unary_op;

const char *tg_unary_name(tg_unary_op op);
int tg_kernel_unary(tg_unary_op op, tg_tensor *out, const tg_tensor *x, const float *param,
                    bool accumulate);

/* ---- Binary operations ----------------------------------------------------- */

#define TG_BINARY_KIND_(kind, ...) TG_BINARY_##kind,
typedef enum tg_binary_op {
    TG_BINARY_TABLE(TG_BINARY_KIND_)
    TG_BINARY_COMPARISON_TABLE(TG_BINARY_KIND_)
    TG_BINARY_COUNT
} tg_binary_op;

const char *tg_binary_name(tg_binary_op op);
int tg_kernel_binary(tg_binary_op op, tg_tensor *out, const tg_tensor *a, const tg_tensor *b,
                     bool accumulate);

/* out = mask != 0 ? a : b */
int tg_kernel_where(tg_tensor *out, const tg_tensor *mask, const tg_tensor *a, const tg_tensor *b);
/* out (+)= alpha * x */
int tg_kernel_scale(tg_tensor *out, const tg_tensor *x, float alpha, bool accumulate);
/* out (+)= x. The one kernel that also takes int64 tensors: out = x with
 * both int64 (no accumulate). */
int tg_kernel_copy(tg_tensor *out, const tg_tensor *x, bool accumulate);
int tg_kernel_fill(tg_tensor *out, float value);

#ifdef __cplusplus
}
#endif

#endif
