/*
 * tensor/blas.h: BLIS set-up shared by the GEMM kernels (internal).
 */
#ifndef TG_BLAS_H
#define TG_BLAS_H

/* Chooses the BLIS kernel set and initialises BLIS, once per process. Safe
 * to call from any thread. */
void tg_blas_init(void);

#endif
