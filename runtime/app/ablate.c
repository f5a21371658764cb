/* runtime/app/ablate.c — ablation arithmetic on decomposed outputs, the
 * separation score that picks components by a label, and linear probes
 * (multinomial logistic regression) trained in C.  Ablating a component is
 * subtracting its contribution from the output (the components sum to it
 * exactly); mean-ablation adds back its mean over a reference set. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vitint.h"

void vit_ablate(const float *y, const float *contrib, int n, int ncomp, int dim, const unsigned char *sel,
                const float *mean, float *out) {
    for (int i = 0; i < n; i++) {
        float *o = out + (size_t)i * dim;
        memcpy(o, y + (size_t)i * dim, sizeof(float) * (size_t)dim);
        for (int c = 0; c < ncomp; c++) {
            if (!sel[c]) continue;
            const float *x = contrib + ((size_t)i * ncomp + c) * dim;
            for (int d = 0; d < dim; d++) o[d] -= x[d] - (mean ? mean[(size_t)c * dim + d] : 0);
        }
    }
}

int vit_separation(vit_ctx *ctx, const float *contrib, int n, int ncomp, int dim, const int *label, int nvalues,
                   float *score) {
    if (n < 2 || nvalues < 2) return vit_ctx_fail(ctx, VIT_ERR_ARG, "separation needs at least 2 images and 2 label values");
    double *mu = calloc((size_t)(nvalues + 1) * dim, sizeof(double));
    int *cnt = calloc((size_t)nvalues, sizeof(int));
    if (!mu || !cnt) { free(mu); free(cnt); return vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory"); }
    for (int i = 0; i < n; i++)
        if (label[i] < 0 || label[i] >= nvalues) { free(mu); free(cnt); return vit_ctx_fail(ctx, VIT_ERR_ARG, "label %d out of range", label[i]); }
    for (int i = 0; i < n; i++) cnt[label[i]]++;
    for (int c = 0; c < ncomp; c++) {
        memset(mu, 0, sizeof(double) * (size_t)(nvalues + 1) * dim);
        double *all = mu + (size_t)nvalues * dim;
        for (int i = 0; i < n; i++) {
            const float *x = contrib + ((size_t)i * ncomp + c) * dim;
            for (int d = 0; d < dim; d++) { mu[(size_t)label[i] * dim + d] += x[d]; all[d] += x[d]; }
        }
        for (int v = 0; v < nvalues; v++)
            for (int d = 0; d < dim; d++) mu[(size_t)v * dim + d] /= cnt[v] ? cnt[v] : 1;
        for (int d = 0; d < dim; d++) all[d] /= n;
        double between = 0, within = 0;
        for (int v = 0; v < nvalues; v++)
            for (int d = 0; d < dim; d++) { double e = mu[(size_t)v * dim + d] - all[d]; between += cnt[v] * e * e; }
        for (int i = 0; i < n; i++) {
            const float *x = contrib + ((size_t)i * ncomp + c) * dim;
            for (int d = 0; d < dim; d++) { double e = x[d] - mu[(size_t)label[i] * dim + d]; within += e * e; }
        }
        score[c] = within > 0 ? (float)(between / within) : 0;
    }
    free(mu);
    free(cnt);
    return VIT_OK;
}

void vit_probe_apply(const float *w, const float *b, int classes, int dim, const float *x, int n, float *logits) {
    for (int i = 0; i < n; i++)
        for (int k = 0; k < classes; k++) {
            double s = b[k];
            for (int d = 0; d < dim; d++) s += (double)w[(size_t)k * dim + d] * x[(size_t)i * dim + d];
            logits[(size_t)i * classes + k] = (float)s;
        }
}

int vit_probe_train(vit_ctx *ctx, const float *x, const int *y, int n, int dim, int classes, const vit_probe_opts *opts,
                    float *w, float *b) {
    int epochs = opts && opts->epochs > 0 ? opts->epochs : 500;
    double lr = opts && opts->lr > 0 ? opts->lr : 0.5, l2 = opts && opts->l2 > 0 ? opts->l2 : 1e-3;
    if (n < 1 || dim < 1 || classes < 2) return vit_ctx_fail(ctx, VIT_ERR_ARG, "a probe needs images, features and at least 2 classes");
    for (int i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= classes) return vit_ctx_fail(ctx, VIT_ERR_ARG, "label %d of row %d is not in [0, %d)", y[i], i, classes);
    size_t nd = (size_t)n * dim;
    double *z = malloc(sizeof(double) * nd), *mu = calloc((size_t)dim, sizeof(double)), *sd = calloc((size_t)dim, sizeof(double));
    double *W = calloc((size_t)classes * dim, sizeof(double)), *B = calloc((size_t)classes, sizeof(double));
    double *gW = malloc(sizeof(double) * (size_t)classes * dim), *gB = malloc(sizeof(double) * (size_t)classes);
    double *p = malloc(sizeof(double) * (size_t)classes);
    int rc = VIT_OK;
    if (!z || !mu || !sd || !W || !B || !gW || !gB || !p) { rc = vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory"); goto done; }
    /* standardise each feature (constant features stay 0) */
    for (int i = 0; i < n; i++)
        for (int d = 0; d < dim; d++) mu[d] += (double)x[(size_t)i * dim + d] / n;
    for (int i = 0; i < n; i++)
        for (int d = 0; d < dim; d++) { double e = x[(size_t)i * dim + d] - mu[d]; sd[d] += e * e / n; }
    for (int d = 0; d < dim; d++) /* constant up to float rounding: no information */
        sd[d] = sqrt(sd[d]) > 1e-6 * (fabs(mu[d]) + 1e-30) ? sqrt(sd[d]) : 0;
    for (int i = 0; i < n; i++)
        for (int d = 0; d < dim; d++) z[(size_t)i * dim + d] = sd[d] > 0 ? (x[(size_t)i * dim + d] - mu[d]) / sd[d] : 0;
    for (int e = 0; e < epochs; e++) { /* full-batch gradient descent on mean cross-entropy + l2/2 |W|^2 */
        for (int k = 0; k < classes * dim; k++) gW[k] = l2 * W[k];
        memset(gB, 0, sizeof(double) * (size_t)classes);
        for (int i = 0; i < n; i++) {
            const double *zi = z + (size_t)i * dim;
            double mx = -INFINITY, s = 0;
            for (int k = 0; k < classes; k++) {
                double v = B[k];
                for (int d = 0; d < dim; d++) v += W[(size_t)k * dim + d] * zi[d];
                p[k] = v;
                mx = v > mx ? v : mx;
            }
            for (int k = 0; k < classes; k++) s += (p[k] = exp(p[k] - mx));
            for (int k = 0; k < classes; k++) {
                double g = (p[k] / s - (k == y[i])) / n;
                gB[k] += g;
                for (int d = 0; d < dim; d++) gW[(size_t)k * dim + d] += g * zi[d];
            }
        }
        for (int k = 0; k < classes * dim; k++) W[k] -= lr * gW[k];
        for (int k = 0; k < classes; k++) B[k] -= lr * gB[k];
    }
    /* back to the original features: w = W / sd, b = B - w . mu */
    for (int k = 0; k < classes; k++) {
        double bb = B[k];
        for (int d = 0; d < dim; d++) {
            double v = sd[d] > 0 ? W[(size_t)k * dim + d] / sd[d] : 0;
            w[(size_t)k * dim + d] = (float)v;
            bb -= v * mu[d];
        }
        b[k] = (float)bb;
    }
done:
    free(z); free(mu); free(sd); free(W); free(B); free(gW); free(gB); free(p);
    return rc;
}
