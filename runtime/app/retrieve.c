/* runtime/app/retrieve.c — retrieval with components (PAPER.md 5): a text
 * query scores images by the dot product of the chosen components' summed
 * aligned contributions with the query's embedding; an image query by the
 * cosine between the chosen components' summed (un-aligned) contributions
 * of each image and of the probe. */
#include <math.h>
#include <stdlib.h>

#include "vitint.h"

void vit_rank_desc(const double *v, int n, int *order) {
    for (int i = 0; i < n; i++) order[i] = i;
    /* a stable bottom-up merge sort (NaN last); insertion sort when out of memory */
    int *tmp = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    if (!tmp) {
        for (int i = 1; i < n; i++)
            for (int j = i; j > 0 && v[order[j - 1]] < v[order[j]]; j--) { int t = order[j]; order[j] = order[j - 1]; order[j - 1] = t; }
        return;
    }
    for (int w = 1; w < n; w *= 2) {
        for (int lo = 0; lo < n; lo += 2 * w) {
            int mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n, a = lo, b = mid, k = lo;
            while (a < mid && b < hi) tmp[k++] = (v[order[b]] > v[order[a]] || (isnan(v[order[a]]) && !isnan(v[order[b]]))) ? order[b++] : order[a++];
            while (a < mid) tmp[k++] = order[a++];
            while (b < hi) tmp[k++] = order[b++];
        }
        for (int i = 0; i < n; i++) order[i] = tmp[i];
    }
    free(tmp);
}

void vit_property_scores(const double *v, int nfeat, int ncomp, int i, double *out) {
    for (int c = 0; c < ncomp; c++) {
        double m = 0;
        for (int j = 0; j < nfeat; j++)
            if (j != i && v[(size_t)j * (size_t)ncomp + (size_t)c] > m) m = v[(size_t)j * (size_t)ncomp + (size_t)c];
        out[c] = v[(size_t)i * (size_t)ncomp + (size_t)c] - m;
    }
}

static int check_comps(vit_ctx *ctx, const int *comps, int ncomps, int ncomp) {
    if (ncomps < 1) return vit_ctx_fail(ctx, VIT_ERR_ARG, "retrieval needs at least one component");
    for (int j = 0; j < ncomps; j++)
        if (comps[j] < 0 || comps[j] >= ncomp) return vit_ctx_fail(ctx, VIT_ERR_ARG, "component %d out of range [0, %d)", comps[j], ncomp);
    return VIT_OK;
}

int vit_retrieve_text(vit_ctx *ctx, const float *aligned, int n, int ncomp, int edim, const int *comps, int ncomps,
                      const float *query, double *score) {
    if (check_comps(ctx, comps, ncomps, ncomp)) return VIT_ERR_ARG;
    for (int x = 0; x < n; x++) {
        double s = 0;
        for (int j = 0; j < ncomps; j++) {
            const float *r = aligned + ((size_t)x * (size_t)ncomp + (size_t)comps[j]) * (size_t)edim;
            for (int d = 0; d < edim; d++) s += (double)r[d] * query[d];
        }
        score[x] = s;
    }
    return VIT_OK;
}

/* out [dim] = sum over the chosen components of rows of c (one image's [ncomp, dim]). */
static void partial_sum(const float *c, int dim, const int *comps, int ncomps, double *out) {
    for (int d = 0; d < dim; d++) out[d] = 0;
    for (int j = 0; j < ncomps; j++)
        for (int d = 0; d < dim; d++) out[d] += c[(size_t)comps[j] * (size_t)dim + (size_t)d];
}

int vit_retrieve_image(vit_ctx *ctx, const float *contrib, int n, int ncomp, int dim, const int *comps, int ncomps,
                       const float *probe, double *score) {
    if (check_comps(ctx, comps, ncomps, ncomp)) return VIT_ERR_ARG;
    double *p = malloc(sizeof(double) * (size_t)dim * 2), pn = 0;
    if (!p) return vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory");
    double *q = p + dim;
    partial_sum(probe, dim, comps, ncomps, p);
    for (int d = 0; d < dim; d++) pn += p[d] * p[d];
    for (int x = 0; x < n; x++) {
        partial_sum(contrib + (size_t)x * (size_t)ncomp * (size_t)dim, dim, comps, ncomps, q);
        double s = 0, qn = 0;
        for (int d = 0; d < dim; d++) s += p[d] * q[d], qn += q[d] * q[d];
        score[x] = pn > 0 && qn > 0 ? s / sqrt(pn * qn) : 0;
    }
    free(p);
    return VIT_OK;
}
