/* runtime/app/describe.c — TextSpan descriptions of one component (PAPER.md
 * 3; Gandelsman et al.'s replace_with_iterative_removal): texts projected on
 * the data's top singular directions, then a greedy pick of the text whose
 * projections vary most, removing each picked direction from the data and
 * from the remaining texts.  The singular directions come from LAPACK's
 * symmetric eigensolver on the Gram matrix D^T D (OpenBLAS carries LAPACK). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vitint.h"

/* LAPACK: eigenvalues (ascending) and eigenvectors of a symmetric matrix. */
void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work,
            const int *lwork, int *info);

/* tx [t, e] <- tx projected on the span of the top `rank` eigenvectors of
 * D^T D (D: rows data[i * stride], i < n); unchanged when rank >= e. */
static int project_texts(const float *data, int n, int64_t stride, int e, double *tx, int t, int rank) {
    if (rank >= e) return 0;
    double *g = calloc((size_t)e * (size_t)e, sizeof(double)), *w = malloc(sizeof(double) * (size_t)e);
    double *y = malloc(sizeof(double) * (size_t)e), q;
    int lwork = -1, info = 0, rc = -1;
    if (!g || !w || !y) goto done;
    for (int i = 0; i < n; i++) {
        const float *r = data + (size_t)i * (size_t)stride;
        for (int a = 0; a < e; a++)
            for (int b = 0; b <= a; b++) g[(size_t)a * (size_t)e + (size_t)b] += (double)r[a] * r[b];
    }
    dsyev_("V", "U", &e, g, &e, w, &q, &lwork, &info); /* column-major: the lower triangle we filled is LAPACK's upper */
    lwork = (int)q;
    double *work = malloc(sizeof(double) * (size_t)(lwork > 1 ? lwork : 1));
    if (!work) goto done;
    dsyev_("V", "U", &e, g, &e, w, work, &lwork, &info);
    free(work);
    if (info) goto done;
    /* eigenvector v is row v of g (column-major), ascending: the top `rank` are the last rows */
    for (int i = 0; i < t; i++) {
        double *x = tx + (size_t)i * (size_t)e;
        memset(y, 0, sizeof(double) * (size_t)e);
        for (int v = e - rank; v < e; v++) {
            const double *u = g + (size_t)v * (size_t)e;
            double d = 0;
            for (int a = 0; a < e; a++) d += x[a] * u[a];
            for (int a = 0; a < e; a++) y[a] += d * u[a];
        }
        memcpy(x, y, sizeof(double) * (size_t)e);
    }
    rc = 0;
done:
    free(g), free(w), free(y);
    return rc;
}

int vit_textspan(vit_ctx *ctx, const float *data, int n, int64_t stride, int edim, const float *texts, int t, int rank, int k,
                 int *pick, double *var) {
    if (n < 2 || t < 1 || k < 1 || rank < 1 || edim < 1)
        return vit_ctx_fail(ctx, VIT_ERR_ARG, "describe: need at least 2 images, 1 text, k >= 1 and rank >= 1");
    int e = edim;
    double *d = malloc(sizeof(double) * (size_t)n * (size_t)e), *tx = malloc(sizeof(double) * (size_t)t * (size_t)e);
    double *mean = calloc((size_t)e, sizeof(double)), *p0 = malloc(sizeof(double) * (size_t)t);
    int rc = VIT_OK;
    if (!d || !tx || !mean || !p0) { rc = vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory"); goto done; }
    for (size_t i = 0; i < (size_t)t * (size_t)e; i++) tx[i] = texts[i];
    if (project_texts(data, n, stride, e, tx, t, rank)) { rc = vit_ctx_fail(ctx, VIT_ERR_MEM, "describe: eigendecomposition failed"); goto done; }
    for (int i = 0; i < n; i++)
        for (int a = 0; a < e; a++) mean[a] += (d[(size_t)i * (size_t)e + (size_t)a] = data[(size_t)i * (size_t)stride + (size_t)a]) / n;
    double total = 0;
    for (int i = 0; i < n; i++)
        for (int a = 0; a < e; a++) {
            double *v = &d[(size_t)i * (size_t)e + (size_t)a];
            *v -= mean[a];
            total += *v * *v;
        }
    for (int j = 0; j < t; j++) { /* each text's squared norm after the projection */
        p0[j] = 0;
        for (int a = 0; a < e; a++) p0[j] += tx[(size_t)j * (size_t)e + (size_t)a] * tx[(size_t)j * (size_t)e + (size_t)a];
    }
    for (int s = 0; s < k; s++) {
        int best = -1;
        double bstd = 0;
        for (int j = 0; j < t; j++) { /* std of the projections (the data are centred: their mean is 0) */
            const double *u = tx + (size_t)j * (size_t)e;
            double ss = 0, nj = 0;
            for (int a = 0; a < e; a++) nj += u[a] * u[a];
            if (!(nj > 1e-10 * p0[j])) continue; /* picked, or in the span of the picks: nothing left of it */
            for (int i = 0; i < n; i++) {
                double x = 0;
                for (int a = 0; a < e; a++) x += d[(size_t)i * (size_t)e + (size_t)a] * u[a];
                ss += x * x;
            }
            if (ss > bstd * (1 + 1e-12)) bstd = ss, best = j;
        }
        pick[s] = best;
        var[s] = 0;
        if (best < 0) continue; /* nothing left to explain */
        double nn = 0, removed = 0;
        const double *ub = tx + (size_t)best * (size_t)e;
        for (int a = 0; a < e; a++) nn += ub[a] * ub[a];
        double *dir = malloc(sizeof(double) * (size_t)e);
        if (!dir) { rc = vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory"); goto done; }
        memcpy(dir, ub, sizeof(double) * (size_t)e);
        for (int i = 0; i < n; i++) {
            double *r = d + (size_t)i * (size_t)e, x = 0;
            for (int a = 0; a < e; a++) x += r[a] * dir[a];
            x /= nn;
            for (int a = 0; a < e; a++) r[a] -= x * dir[a];
            removed += x * x * nn;
        }
        for (int j = 0; j < t; j++) {
            double *r = tx + (size_t)j * (size_t)e, x = 0;
            for (int a = 0; a < e; a++) x += r[a] * dir[a];
            x /= nn;
            for (int a = 0; a < e; a++) r[a] -= x * dir[a];
        }
        free(dir);
        var[s] = total > 0 ? removed / total : 0;
    }
done:
    free(d), free(tx), free(mean), free(p0);
    return rc;
}
