/* runtime/kernels.c — the GEMM behind every CONTRACT.  A canonical
 * contraction is a batch of independent row-major matrix products; each is
 * one cblas_sgemm call, transposition expressed through the BLAS flags so no
 * operand is ever copied.  When one image runs on several threads
 * (pool_threads() > 1), a large product is split between them: the batch of
 * products when it has enough members, else the columns of C, each part one
 * single-threaded cblas_sgemm. */
#include "kernels.h"
#include "interp.h"
#include "pool.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

/* multiply-adds below which a product is not split (the hand-off costs more);
 * VITRUN_SPLIT_MIN overrides it (0 splits every product: the tests use it) */
static int64_t split_min(void) {
    static int64_t v = -1;
    if (v < 0) {
        const char *e = getenv("VITRUN_SPLIT_MIN");
        char *end;
        long long x = e && *e ? strtoll(e, &end, 10) : -1;
        v = e && *e && !*end && x >= 0 ? (int64_t)x : (int64_t)1 << 22;
    }
    return v;
}

typedef struct {
    int64_t batch, m, n, k;
    const float *a;
    int64_t lda, stride_a;
    int trans_a;
    const float *b;
    int64_t ldb, stride_b;
    int trans_b;
    float *c;
    int64_t ldc, stride_c;
} Gemm;

/* products i0 .. i1 - 1, columns n0 .. n1 - 1 of each */
static void gemm_range(const Gemm *g, int64_t i0, int64_t i1, int64_t n0, int64_t n1) {
    int64_t n = n1 - n0;
    if (n <= 0) return;
    for (int64_t i = i0; i < i1; i++) {
        float *ci = g->c + i * g->stride_c + n0;
        if (g->k <= 0) { /* an empty sum */
            for (int64_t r = 0; r < g->m; r++) memset(ci + r * g->ldc, 0, (size_t)n * sizeof *ci);
            continue;
        }
        const float *bi = g->b + i * g->stride_b + (g->trans_b ? n0 * g->ldb : n0);
        cblas_sgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans, g->trans_b ? CblasTrans : CblasNoTrans,
                    (blasint)g->m, (blasint)n, (blasint)g->k, 1.0f, g->a + i * g->stride_a, (blasint)g->lda, bi,
                    (blasint)g->ldb, 0.0f, ci, (blasint)g->ldc);
    }
}

static void gemm_part(void *ctx, int p, int np) {
    const Gemm *g = ctx;
    if (g->batch >= 2 * np) { /* whole products per part */
        gemm_range(g, g->batch * p / np, g->batch * (p + 1) / np, 0, g->n);
        return;
    }
    int64_t blocks = (g->n + 15) / 16; /* column ranges in whole 16-float blocks */
    gemm_range(g, 0, g->batch, 16 * (blocks * p / np), p == np - 1 ? g->n : 16 * (blocks * (p + 1) / np));
}

void vitrt_gemm(int64_t batch, int64_t m, int64_t n, int64_t k,
                const float *a, int64_t lda, int64_t stride_a, int trans_a,
                const float *b, int64_t ldb, int64_t stride_b, int trans_b,
                float *c, int64_t ldc, int64_t stride_c) {
    if (m <= 0 || n <= 0 || batch <= 0) return;
    Gemm g = {batch, m, n, k, a, lda, stride_a, trans_a, b, ldb, stride_b, trans_b, c, ldc, stride_c};
    int np = pool_threads();
    if (np > 1 && batch * m * n * (k > 0 ? k : 1) >= split_min() && (batch >= 2 * np || n >= 32 * np))
        pool_run(gemm_part, &g);
    else
        gemm_range(&g, 0, batch, 0, n);
}

/* The JIT's fallback for ops without generated code: the interpreter's
 * kernel for node i of the graph the calling thread is running. */
static _Thread_local const IrGraph *fallback_graph;

void vitrt_set_graph(const IrGraph *g) { fallback_graph = g; }

void vitrt_fallback(int64_t i, float **bufs) {
    if (fallback_graph) interp_eval_node(fallback_graph, (int)i, bufs);
}
