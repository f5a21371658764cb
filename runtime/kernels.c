/* runtime/kernels.c — the GEMM behind every CONTRACT.  A canonical
 * contraction is a batch of independent row-major matrix products; each is
 * one cblas_sgemm call, transposition expressed through the BLAS flags so no
 * operand is ever copied. */
#include "kernels.h"
#include "interp.h"

#include <cblas.h>
#include <string.h>

void vitrt_gemm(int64_t batch, int64_t m, int64_t n, int64_t k,
                const float *a, int64_t lda, int64_t stride_a, int trans_a,
                const float *b, int64_t ldb, int64_t stride_b, int trans_b,
                float *c, int64_t ldc, int64_t stride_c) {
    if (m <= 0 || n <= 0) return;
    for (int64_t i = 0; i < batch; i++) {
        float *ci = c + i * stride_c;
        if (k <= 0) { /* an empty sum */
            for (int64_t r = 0; r < m; r++) memset(ci + r * ldc, 0, (size_t)n * sizeof *ci);
            continue;
        }
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                    (blasint)m, (blasint)n, (blasint)k, 1.0f, a + i * stride_a, (blasint)lda,
                    b + i * stride_b, (blasint)ldb, 0.0f, ci, (blasint)ldc);
    }
}

/* The JIT's fallback for ops without generated code: the interpreter's
 * kernel for node i of the graph the calling thread is running. */
static _Thread_local const IrGraph *fallback_graph;

void vitrt_set_graph(const IrGraph *g) { fallback_graph = g; }

void vitrt_fallback(int64_t i, float **bufs) {
    if (fallback_graph) interp_eval_node(fallback_graph, (int)i, bufs);
}
