/* runtime/app/score.c — the scoring function (PAPER.md 4, the reference's
 * variance_attributed), Spearman's rank correlation and the paper's check of
 * the scores against CLIP's own image-text similarities
 * (image_retrieval_from_text_quant.py).  Statistics follow torch: means
 * over images, unbiased standard deviations. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vitint.h"

/* Orthonormal rows q [k, e] spanning desc [k, e] (the Q of QR, up to signs),
 * by modified Gram-Schmidt; -1 when the rows are linearly dependent. */
static int orthonormal_basis(const float *desc, int k, int e, double *q) {
    for (int i = 0; i < k; i++) {
        double *r = q + (size_t)i * (size_t)e, n0 = 0, n = 0;
        for (int j = 0; j < e; j++) r[j] = desc[(size_t)i * (size_t)e + (size_t)j], n0 += r[j] * r[j];
        for (int p = 0; p < i; p++) {
            const double *b = q + (size_t)p * (size_t)e;
            double d = 0;
            for (int j = 0; j < e; j++) d += r[j] * b[j];
            for (int j = 0; j < e; j++) r[j] -= d * b[j];
        }
        for (int j = 0; j < e; j++) n += r[j] * r[j];
        if (!(n > 1e-12 * n0) || n0 == 0) return -1;
        n = sqrt(n);
        for (int j = 0; j < e; j++) r[j] /= n;
    }
    return 0;
}

/* Mean and unbiased std of x[0..n). */
static void mean_std(const double *x, int n, double *m, double *s) {
    double a = 0, v = 0;
    for (int i = 0; i < n; i++) a += x[i];
    a /= n;
    for (int i = 0; i < n; i++) v += (x[i] - a) * (x[i] - a);
    *m = a;
    *s = n > 1 ? sqrt(v / (n - 1)) : 0;
}

/* mean(x_centred * y) / (std(x) std(y)): the reference's correlation (x centred, y as given). */
static double ref_corr(const double *x, const double *y, int n) {
    double mx, sx, my, sy, s = 0;
    mean_std(x, n, &mx, &sx);
    mean_std(y, n, &my, &sy);
    for (int i = 0; i < n; i++) s += (x[i] - mx) * y[i];
    return s / n / (sx * sy);
}

/* p[i] = row i's projection on direction u (rows of aligned: component c, or the sum when c < 0). */
static void project(const float *aligned, int n, int ncomp, int edim, int c, const double *u, double *p) {
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int cc = c < 0 ? 0 : c; cc < (c < 0 ? ncomp : c + 1); cc++) {
            const float *r = aligned + ((size_t)i * (size_t)ncomp + (size_t)cc) * (size_t)edim;
            for (int j = 0; j < edim; j++) s += r[j] * u[j];
        }
        p[i] = s;
    }
}

int vit_score_feature(vit_ctx *ctx, const float *aligned, int n, int ncomp, int edim, const float *desc, int k, double *score) {
    if (k < 2) return vit_ctx_fail(ctx, VIT_ERR_ARG, "a feature needs at least 2 descriptions (it has %d): one direction is a "
                                   "single description, not a feature", k);
    if (k > edim) return vit_ctx_fail(ctx, VIT_ERR_ARG, "a feature of %d descriptions in %d dimensions", k, edim);
    if (n < 2) return vit_ctx_fail(ctx, VIT_ERR_ARG, "scoring needs at least 2 images");
    double *q = malloc(sizeof(double) * (size_t)k * (size_t)edim), *t = malloc(sizeof(double) * (size_t)n),
           *s = malloc(sizeof(double) * (size_t)n);
    int rc = VIT_OK;
    if (!q || !t || !s) { rc = vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory"); goto done; }
    if (orthonormal_basis(desc, k, edim, q)) { rc = vit_ctx_fail(ctx, VIT_ERR_ARG, "the feature's descriptions are linearly dependent"); goto done; }
    for (int c = 0; c < ncomp; c++) score[c] = 0;
    for (int j = 0; j < k; j++) {
        project(aligned, n, ncomp, edim, -1, q + (size_t)j * (size_t)edim, t);
        for (int c = 0; c < ncomp; c++) {
            project(aligned, n, ncomp, edim, c, q + (size_t)j * (size_t)edim, s);
            double mt, st, ms, ss;
            mean_std(t, n, &mt, &st);
            mean_std(s, n, &ms, &ss);
            double cov = 0;
            for (int i = 0; i < n; i++) cov += (t[i] - mt) * (s[i] - ms);
            score[c] += cov / n / (st * ss) / k;
        }
    }
done:
    free(q), free(t), free(s);
    return rc;
}

int vit_variance_explained(vit_ctx *ctx, const float *aligned, int n, int ncomp, int edim, const float *desc, int k,
                           double *explained) {
    if (k < 1 || k > edim) return vit_ctx_fail(ctx, VIT_ERR_ARG, "a feature of %d descriptions in %d dimensions", k, edim);
    if (n < 2) return vit_ctx_fail(ctx, VIT_ERR_ARG, "the variance needs at least 2 images");
    double *q = malloc(sizeof(double) * (size_t)k * (size_t)edim), *mean = malloc(sizeof(double) * (size_t)edim),
           *x = malloc(sizeof(double) * (size_t)edim);
    int rc = VIT_OK;
    if (!q || !mean || !x) { rc = vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory"); goto done; }
    if (orthonormal_basis(desc, k, edim, q)) { rc = vit_ctx_fail(ctx, VIT_ERR_ARG, "the feature's descriptions are linearly dependent"); goto done; }
    for (int c = 0; c < ncomp; c++) {
        for (int d = 0; d < edim; d++) mean[d] = 0;
        for (int i = 0; i < n; i++)
            for (int d = 0; d < edim; d++) mean[d] += aligned[((size_t)i * ncomp + c) * edim + d];
        for (int d = 0; d < edim; d++) mean[d] /= n;
        double in = 0, all = 0; /* sums of squares of the centred data: in span(B), and in all */
        for (int i = 0; i < n; i++) {
            for (int d = 0; d < edim; d++) {
                x[d] = aligned[((size_t)i * ncomp + c) * edim + d] - mean[d];
                all += x[d] * x[d];
            }
            for (int j = 0; j < k; j++) {
                double p = 0;
                for (int d = 0; d < edim; d++) p += x[d] * q[(size_t)j * edim + d];
                in += p * p;
            }
        }
        explained[c] = all > 0 ? in / all : 0;
    }
done:
    free(q), free(mean), free(x);
    return rc;
}

/* Ranks 1..n of v with ties averaged. */
static void ranks(const double *v, int n, double *r, int *ord) {
    for (int i = 0; i < n; i++) ord[i] = i;
    for (int i = 1; i < n; i++) /* insertion sort, ascending: n is small (components or features) */
        for (int j = i; j > 0 && v[ord[j - 1]] > v[ord[j]]; j--) { int t = ord[j]; ord[j] = ord[j - 1]; ord[j - 1] = t; }
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && v[ord[j + 1]] == v[ord[i]]) j++;
        for (int p = i; p <= j; p++) r[ord[p]] = (i + j) / 2.0 + 1;
        i = j + 1;
    }
}

double vit_spearman(const double *a, const double *b, int n) {
    double *ra = malloc(sizeof(double) * (size_t)n * 2);
    int *ord = malloc(sizeof(int) * (size_t)n);
    double res = NAN;
    if (n >= 2 && ra && ord) {
        double *rb = ra + n, ma, sa, mb, sb, s = 0;
        ranks(a, n, ra, ord);
        ranks(b, n, rb, ord);
        mean_std(ra, n, &ma, &sa);
        mean_std(rb, n, &mb, &sb);
        for (int i = 0; i < n; i++) s += (ra[i] - ma) * (rb[i] - mb);
        if (sa > 0 && sb > 0) res = s / (n - 1) / (sa * sb);
    }
    free(ra);
    free(ord);
    return res;
}

int vit_score_validate(vit_ctx *ctx, const float *aligned, const float *clip, int n, int ncomp, int edim,
                       const float *const *feats, const int *k, int nfeat, double *within, double *between) {
    if (nfeat < 2) return vit_ctx_fail(ctx, VIT_ERR_ARG, "the check ranks features within each component: give at least 2 features");
    double *score = malloc(sizeof(double) * (size_t)nfeat * (size_t)ncomp), *rho = calloc((size_t)nfeat * (size_t)ncomp, sizeof(double));
    double *u = malloc(sizeof(double) * (size_t)edim), *p = malloc(sizeof(double) * (size_t)n), *ref = malloc(sizeof(double) * (size_t)n);
    double *va = malloc(sizeof(double) * (size_t)(nfeat > ncomp ? nfeat : ncomp) * 2);
    int rc = VIT_OK;
    if (!score || !rho || !u || !p || !ref || !va) { rc = vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory"); goto done; }
    for (int f = 0; f < nfeat; f++) {
        if ((rc = vit_score_feature(ctx, aligned, n, ncomp, edim, feats[f], k[f], score + (size_t)f * (size_t)ncomp))) goto done;
        for (int j = 0; j < k[f]; j++) {
            for (int d = 0; d < edim; d++) u[d] = feats[f][(size_t)j * (size_t)edim + (size_t)d];
            for (int i = 0; i < n; i++) {
                double s = 0;
                for (int d = 0; d < edim; d++) s += (double)clip[(size_t)i * (size_t)edim + (size_t)d] * u[d];
                ref[i] = s;
            }
            for (int c = 0; c < ncomp; c++) {
                project(aligned, n, ncomp, edim, c, u, p);
                rho[(size_t)f * (size_t)ncomp + (size_t)c] += ref_corr(p, ref, n) / k[f];
            }
        }
    }
    double *x = va, *y = va + (nfeat > ncomp ? nfeat : ncomp);
    int nw = 0;
    *within = 0;
    for (int c = 0; c < ncomp; c++) {
        for (int f = 0; f < nfeat; f++) x[f] = rho[(size_t)f * (size_t)ncomp + (size_t)c], y[f] = score[(size_t)f * (size_t)ncomp + (size_t)c];
        double r = vit_spearman(x, y, nfeat);
        if (!isnan(r)) *within += r, nw++;
    }
    *within = nw ? *within / nw : NAN;
    for (int f = 0; f < nfeat; f++) between[f] = vit_spearman(rho + (size_t)f * (size_t)ncomp, score + (size_t)f * (size_t)ncomp, ncomp);
done:
    free(score), free(rho), free(u), free(p), free(ref), free(va);
    return rc;
}
