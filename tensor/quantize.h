/*
 * tensor/quantize.h: int8 weights and the int8 matrix product, for
 * inference (layers/quantize.h turns layers into this form).
 *
 * A weight W [rows, cols] is quantised per output row, symmetrically: row
 * r keeps a scale s_r = max_k |W[r,k]| / 127 and the int8 values
 * q[r,k] = round(W[r,k] / s_r), in [-127, 127] (a row of zeros has scale 0
 * and values 0), so W[r,k] ≈ s_r q[r,k], within s_r / 2.
 *
 * The product quantises each row x_i of its input when it runs ("dynamic"
 * quantisation, as torch.quantization.quantize_dynamic): t_i = max|x_i| /
 * 127 and p_i = round(x_i / t_i), then
 *     y[i,r] = (s_r t_i) * sum_k q[r,k] p_i[k]   (+ y[i,r] when accumulating)
 * with the sum exact in int32 and one fused multiply-add at the end. Each
 * output is then within (s_r/2) sum|x_i| + (t_i/2) sum|W_r| +
 * (s_r t_i / 4) cols of the float product x_i W_r^T (plus float rounding).
 * A row of x holding NaN or an infinity gives NaN in its outputs.
 *
 * Two paths compute the same integers, so they give the same outputs bit
 * for bit: AVX-512 VNNI (vpdpbusd: unsigned bytes p_i + 128 times signed
 * weight bytes, 64 products per instruction, minus 128 times the row's
 * sum) where the CPU has it, and plain C. The reference mode
 * (tensor/reference.h) and CPUs without VNNI take the plain C path.
 * One thread computes a product: these are batch-of-one inference sizes.
 *
 * Weights whose rows are gates of a recurrent cell are packed in segments
 * (the rows of one gate, or several), so that a product may use a whole
 * number of segments (tg_qweight_rows): the GRU multiplies by its r and z
 * rows and by its n rows apart.
 *
 * Who it is for: every user (tapegrad.h includes it; autograd's
 * tg_affine_int8 multiplies by these weights). The raw int8 kernel is the
 * op author's, in tensor/kernel.h.
 */
#ifndef TG_QUANTIZE_H
#define TG_QUANTIZE_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Columns of an int8 weight, at most: the int32 sums cannot overflow. */
#define TG_QWEIGHT_MAX_COLS 65536

typedef struct tg_qweight {
    int64_t rows, cols;
    int64_t segment;  /* rows per packed segment; divides rows */
    int8_t *values;   /* [rows, cols], row-major */
    float *scale;     /* [rows] */
    int32_t *row_sum; /* [rows]: sum of each row's values */
    int8_t *packed;   /* the values in the VNNI kernel's layout */
    bool owned;       /* false for a view made by tg_qweight_rows */
} tg_qweight;

/* The int8 form of a float32 matrix w [rows, cols], packed in segments of
 * `segment` rows (0: one segment), owned: free with tg_qweight_free. NULL
 * with an error when w is not a 2-d float32 matrix, holds NaN or an
 * infinity, has more than TG_QWEIGHT_MAX_COLS columns, or segment does not
 * divide rows. */
tg_qweight *tg_qweight_quantize(const tg_tensor *w, int64_t segment);

/* Replaces the values and scales of w, e.g. from a checkpoint: values an
 * int64 tensor [rows, cols] of integers in [-128, 127], scale a float32
 * tensor [rows] of finite values >= 0. 0, or -1 with an error naming op
 * and the problem, with w unchanged. */
int tg_qweight_assign(tg_qweight *w, const tg_tensor *values, const tg_tensor *scale,
                      const char *op);
/* The checks of tg_qweight_assign alone. */
int tg_qweight_check(const tg_qweight *w, const tg_tensor *values, const tg_tensor *scale,
                     const char *op);

/* Owned copies of the values (int64 [rows, cols]) and of the scales
 * (float32 [rows]), for checkpoints: free each with tg_tensor_free. NULL
 * with an error when out of memory. */
tg_tensor *tg_qweight_values(const tg_qweight *w);
tg_tensor *tg_qweight_scales(const tg_qweight *w);

/* An owned float32 tensor [rows, cols] holding s_r q[r,k]. */
tg_tensor *tg_qweight_dequantize(const tg_qweight *w);

/* A view of rows [row0, row0 + rows) of w, which must be whole segments;
 * it shares w's memory (do not free it; keep w alive). -1 with an error
 * otherwise. */
int tg_qweight_rows(const tg_qweight *w, int64_t row0, int64_t rows, tg_qweight *view);

/* Frees an owned weight; NULL and views are ignored. */
void tg_qweight_free(tg_qweight *w);

/* "avx512-vnni" or "plain C": the path products take now. */
const char *tg_int8_kernel_name(void);

#ifdef __cplusplus
}
#endif

#endif
