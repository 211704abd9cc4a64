/*
 * tensor/blas.h: BLIS set-up shared by the GEMM kernels (internal).
 */
#ifndef TG_BLAS_H
#define TG_BLAS_H

/* Chooses the BLIS kernel set and initialises BLIS, once per process. Safe
 * to call from any thread. */
void tg_blas_init(void);

/* Bytes every tensor allocation keeps readable past its data: BLIS 0.9's
 * AVX2 kernels (haswell, zen) may read a float past the end of a matrix
 * with valid arguments (BLIS issues 635 and 821), which at a page boundary
 * would fault. */
#define TG_BLAS_READ_SLACK 64

#endif
