/* runtime/kernels.h — compute kernels that JIT-compiled code calls by name.
 * They are exported with default visibility so the JIT resolves them in the
 * running process; jit.c also binds their addresses explicitly. */
#ifndef VIT_KERNELS_H
#define VIT_KERNELS_H

#include <stdint.h>

/* Batched strided SGEMM, row-major: for each i < batch,
 *   C_i[m, n] = op(A_i) op(B_i),  A_i = a + i * stride_a, and so on,
 * op(A) = A ([m, k], leading dimension lda) or, when trans_a, A^T with A
 * stored [k, m]; the same for B ([k, n] or, when trans_b, [n, k]).  C is
 * overwritten (beta = 0).  Over cblas_sgemm (OpenBLAS). */
__attribute__((visibility("default")))
void vitrt_gemm(int64_t batch, int64_t m, int64_t n, int64_t k,
                const float *a, int64_t lda, int64_t stride_a, int trans_a,
                const float *b, int64_t ldb, int64_t stride_b, int trans_b,
                float *c, int64_t ldc, int64_t stride_c);

#include "ir.h"
/* Generated code calls vitrt_fallback(i, bufs) for ops it has no loops for;
 * the thread running a graph names it first with vitrt_set_graph. */
void vitrt_set_graph(const IrGraph *g);
void vitrt_fallback(int64_t i, float **bufs);

#endif
