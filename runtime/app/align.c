/* runtime/app/align.c — COMPALIGN (PAPER.md 2): per-component linear maps
 * into a CLIP model's image space plus one shared bias, trained with Adam on
 * 1 - cos(sum_c f_c, CLIP image embedding) + lambda * orthogonality, early
 * stopped on a held-out part.  The products go through cblas_sgemm; the
 * component axis is a stride, so contributions are never copied per step. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "st.h"
#include "vitint.h"

void vit_align_opts_default(vit_align_opts *o) {
    memset(o, 0, sizeof *o);
    o->lambda = 1;
    o->lr = 3e-4;
    o->wd = 1e-6;
    o->epochs = 2;
    o->batch = 32;
    o->patience = 50;
    o->holdout = 0.1;
}

static int nmaps(const vit_aligner *a) { return a->shared ? 1 : a->ncomp; }

vit_aligner *vit_aligner_new(int ncomp, int dim, int edim, int shared) {
    if (ncomp < 1 || dim < 1 || edim < 1) return NULL;
    vit_aligner *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    *a = (vit_aligner){ncomp, dim, edim, shared ? 1 : 0, NULL, NULL};
    a->w = calloc((size_t)nmaps(a) * (size_t)dim * (size_t)edim, sizeof(float));
    a->b = calloc((size_t)edim, sizeof(float));
    if (!a->w || !a->b) { vit_aligner_free(a); return NULL; }
    return a;
}

vit_aligner *vit_aligner_identity(int ncomp, int dim) {
    vit_aligner *a = vit_aligner_new(ncomp, dim, dim, 0);
    if (!a) return NULL;
    for (int c = 0; c < ncomp; c++)
        for (int i = 0; i < dim; i++) a->w[((size_t)c * (size_t)dim + (size_t)i) * (size_t)dim + (size_t)i] = 1;
    return a;
}

void vit_aligner_free(vit_aligner *a) {
    if (!a) return;
    free(a->w);
    free(a->b);
    free(a);
}

int vit_aligner_fits(vit_ctx *ctx, const vit_aligner *a, int ncomp, int dim) {
    if (a->ncomp != ncomp || a->dim != dim)
        return vit_ctx_fail(ctx, VIT_ERR_SHAPE,
                            "the aligner maps %d components of dimension %d, but the contributions have %d components of "
                            "dimension %d (an aligner trained for another model or decomposition)",
                            a->ncomp, a->dim, ncomp, dim);
    return VIT_OK;
}

/* y [nb, edim] = sum_c x_c W_c + b for the nb images at x (row stride ncomp * dim). */
static void forward(const vit_aligner *a, const float *x, int nb, float *y) {
    int64_t ld = (int64_t)a->ncomp * a->dim;
    for (int i = 0; i < nb; i++) memcpy(y + (size_t)i * (size_t)a->edim, a->b, sizeof(float) * (size_t)a->edim);
    for (int c = 0; c < a->ncomp; c++) {
        const float *w = a->w + (size_t)(a->shared ? 0 : c) * (size_t)a->dim * (size_t)a->edim;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb, a->edim, a->dim, 1.f, x + (size_t)c * (size_t)a->dim,
                    (int)ld, w, a->edim, 1.f, y, a->edim);
    }
}

int vit_aligner_apply(vit_ctx *ctx, const vit_aligner *a, const float *contrib, int n, int ncomp, int dim, float *out) {
    if (vit_aligner_fits(ctx, a, ncomp, dim)) return VIT_ERR_SHAPE;
    int64_t e = a->edim;
    for (int c = 0; c < ncomp; c++) {
        const float *w = a->w + (size_t)(a->shared ? 0 : c) * (size_t)dim * (size_t)e;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, (int)e, dim, 1.f, contrib + (size_t)c * (size_t)dim,
                    ncomp * dim, w, (int)e, 0.f, out + (size_t)c * (size_t)e, (int)(ncomp * e));
    }
    for (int64_t i = 0; i < (int64_t)n * ncomp; i++)
        for (int64_t j = 0; j < e; j++) out[i * e + j] += a->b[j] / (float)ncomp;
    return VIT_OK;
}

/* 1 - cos(y, t) for one pair; g (if not NULL) receives d/dy scaled by s. */
static double cos_loss(const float *y, const float *t, int e, double s, float *g) {
    double yy = 0, tt = 0, yt = 0;
    for (int j = 0; j < e; j++) yy += (double)y[j] * y[j], tt += (double)t[j] * t[j], yt += (double)y[j] * t[j];
    double ny = sqrt(yy) + 1e-12, nt = sqrt(tt) + 1e-12, cs = yt / (ny * nt);
    if (g)
        for (int j = 0; j < e; j++) g[j] = (float)(-s * ((double)t[j] / (ny * nt) - cs * (double)y[j] / (ny * ny)));
    return 1 - cs;
}

double vit_align_cosine_distance(const float *aligned, const float *targets, int n, int ncomp, int edim) {
    double s = 0;
    float *y = malloc(sizeof(float) * (size_t)edim);
    if (!y || n < 1) { free(y); return NAN; }
    for (int i = 0; i < n; i++) {
        memset(y, 0, sizeof(float) * (size_t)edim);
        for (int c = 0; c < ncomp; c++)
            for (int j = 0; j < edim; j++) y[j] += aligned[((size_t)i * (size_t)ncomp + (size_t)c) * (size_t)edim + (size_t)j];
        s += cos_loss(y, targets + (size_t)i * (size_t)edim, edim, 0, NULL);
    }
    free(y);
    return s / n;
}

/* splitmix64 and a Box-Muller normal. */
static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double rng_uniform(uint64_t *s) { return ((double)(rng_next(s) >> 11) + 0.5) / 9007199254740992.0; }
static double rng_normal(uint64_t *s) {
    double u = rng_uniform(s), v = rng_uniform(s);
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* The orthogonality term edim * mean_{maps, i, j} (W^T W - I)^2; with gw,
 * adds lambda times its gradient.  m: edim * edim scratch. */
static double ortho(const vit_aligner *a, double lambda, float *gw, float *m) {
    int nm = nmaps(a), d = a->dim, e = a->edim;
    double s = 0, scale = 4.0 * lambda / ((double)nm * e);
    for (int c = 0; c < nm; c++) {
        const float *w = a->w + (size_t)c * (size_t)d * (size_t)e;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, e, e, d, 1.f, w, e, w, e, 0.f, m, e);
        for (int i = 0; i < e; i++) m[(size_t)i * (size_t)e + (size_t)i] -= 1;
        for (size_t i = 0; i < (size_t)e * (size_t)e; i++) s += (double)m[i] * m[i];
        if (gw) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, e, e, (float)scale, w, e, m, e, 1.f,
                            gw + (size_t)c * (size_t)d * (size_t)e, e);
    }
    return s / ((double)nm * e);
}

/* Mean 1 - cos over the images idx[0..m) (forward on a gathered copy). */
static double eval_loss(const vit_aligner *a, const float *contrib, const float *tg, const int *idx, int m, float *xb, float *y) {
    size_t row = (size_t)a->ncomp * (size_t)a->dim;
    double s = 0;
    for (int i0 = 0; i0 < m; i0 += 256) {
        int nb = m - i0 < 256 ? m - i0 : 256;
        for (int i = 0; i < nb; i++) memcpy(xb + (size_t)i * row, contrib + (size_t)idx[i0 + i] * row, sizeof(float) * row);
        forward(a, xb, nb, y);
        for (int i = 0; i < nb; i++)
            s += cos_loss(y + (size_t)i * (size_t)a->edim, tg + (size_t)idx[i0 + i] * (size_t)a->edim, a->edim, 0, NULL);
    }
    return s / m;
}

int vit_align_train(vit_ctx *ctx, const float *contrib, const float *targets, int n, int ncomp, int dim, int edim,
                    const vit_align_opts *opts, vit_aligner **out, vit_align_report *rep) {
    vit_align_opts dflt;
    if (!opts) { vit_align_opts_default(&dflt); opts = &dflt; }
    const vit_align_opts *o = opts;
    *out = NULL;
    if (n < 2 || ncomp < 1 || dim < 1 || edim < 1) return vit_ctx_fail(ctx, VIT_ERR_ARG, "align: need at least 2 images and non-empty contributions");
    if (o->batch < 1 || o->epochs < 1 || !(o->lr > 0) || !(o->lambda >= 0) || !(o->holdout >= 0 && o->holdout < 1) || o->patience < 0)
        return vit_ctx_fail(ctx, VIT_ERR_ARG, "align: invalid options (batch, epochs, lr > 0, lambda >= 0, 0 <= holdout < 1, patience >= 0)");
    int nh = (int)(o->holdout * n), nt = n - nh;
    if (o->holdout > 0 && nh < 1) nh = 1, nt = n - 1;
    if (nt < 1) return vit_ctx_fail(ctx, VIT_ERR_ARG, "align: nothing left to train on after holding out %d images", nh);
    vit_aligner *a = vit_aligner_new(ncomp, dim, edim, o->shared), *best = vit_aligner_new(ncomp, dim, edim, o->shared);
    size_t nw = (size_t)nmaps(a) * (size_t)dim * (size_t)edim, row = (size_t)ncomp * (size_t)dim, np = nw + (size_t)edim;
    int bmax = o->batch > 256 ? o->batch : 256;
    int *idx = malloc(sizeof(int) * (size_t)n);
    float *grad = calloc(np, sizeof(float)), *m1 = calloc(np, sizeof(float)), *m2 = calloc(np, sizeof(float));
    float *xb = malloc(sizeof(float) * row * (size_t)bmax), *y = malloc(sizeof(float) * (size_t)bmax * (size_t)edim);
    float *g = malloc(sizeof(float) * (size_t)bmax * (size_t)edim), *mm = malloc(sizeof(float) * (size_t)edim * (size_t)edim);
    int rc = VIT_OK;
    if (!a || !best || !idx || !grad || !m1 || !m2 || !xb || !y || !g || !mm) { rc = vit_ctx_fail(ctx, VIT_ERR_MEM, "align: out of memory"); goto done; }
    uint64_t rs = o->seed;
    for (size_t i = 0; i < nw; i++) a->w[i] = (float)(0.02 * rng_normal(&rs));
    for (int j = 0; j < edim; j++) a->b[j] = (float)(0.02 * rng_normal(&rs));
    for (int i = 0; i < n; i++) idx[i] = i;
    for (int i = n - 1; i > 0; i--) { int j = (int)(rng_next(&rs) % (uint64_t)(i + 1)), t = idx[i]; idx[i] = idx[j]; idx[j] = t; }
    const int *held = idx + nt;
    int64_t steps = (int64_t)o->epochs * ((nt + o->batch - 1) / o->batch), step = 0;
    double bestl = INFINITY, b1t = 1, b2t = 1;
    int since = 0, stop = 0;
    if (rep) memset(rep, 0, sizeof *rep);
    for (int ep = 0; ep < o->epochs && !stop; ep++) {
        for (int i = nt - 1; i > 0; i--) { int j = (int)(rng_next(&rs) % (uint64_t)(i + 1)), t = idx[i]; idx[i] = idx[j]; idx[j] = t; }
        for (int i0 = 0; i0 < nt && !stop; i0 += o->batch) {
            int nb = nt - i0 < o->batch ? nt - i0 : o->batch;
            for (int i = 0; i < nb; i++) memcpy(xb + (size_t)i * row, contrib + (size_t)idx[i0 + i] * row, sizeof(float) * row);
            forward(a, xb, nb, y);
            memset(grad, 0, sizeof(float) * np);
            for (int i = 0; i < nb; i++)
                cos_loss(y + (size_t)i * (size_t)edim, targets + (size_t)idx[i0 + i] * (size_t)edim, edim, 1.0 / nb, g + (size_t)i * (size_t)edim);
            for (int c = 0; c < ncomp; c++) /* dW_c += x_c^T g (all components into one map when shared) */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, dim, edim, nb, 1.f, xb + (size_t)c * (size_t)dim, (int)row, g,
                            edim, 1.f, grad + (size_t)(o->shared ? 0 : c) * (size_t)dim * (size_t)edim, edim);
            for (int i = 0; i < nb; i++)
                for (int j = 0; j < edim; j++) grad[nw + (size_t)j] += g[(size_t)i * (size_t)edim + (size_t)j];
            if (o->lambda > 0) ortho(a, o->lambda, grad, mm);
            b1t *= 0.9, b2t *= 0.999;
            for (size_t p = 0; p < np; p++) { /* torch.optim.Adam with L2 weight decay */
                float *w = p < nw ? &a->w[p] : &a->b[p - nw];
                double gp = grad[p] + o->wd * *w;
                m1[p] = (float)(0.9 * m1[p] + 0.1 * gp);
                m2[p] = (float)(0.999 * m2[p] + 0.001 * gp * gp);
                *w -= (float)(o->lr * (m1[p] / (1 - b1t)) / (sqrt(m2[p] / (1 - b2t)) + 1e-8));
            }
            step++;
            /* early stopping on the held-out part (on the training batches when nothing is held out) */
            double l = nh ? eval_loss(a, contrib, targets, held, nh, xb, y) : eval_loss(a, contrib, targets, idx + i0, nb, xb, y);
            if (l < bestl) {
                bestl = l, since = 0;
                memcpy(best->w, a->w, sizeof(float) * nw);
                memcpy(best->b, a->b, sizeof(float) * (size_t)edim);
                if (rep) rep->best_step = (int)step;
            } else if (o->patience && ++since >= o->patience) stop = 1;
            if (o->progress) o->progress(o->ud, step, steps);
        }
    }
    if (rep) {
        rep->ntrain = nt, rep->nheldout = nh, rep->steps = (int)step;
        rep->heldout_cos = nh ? bestl : NAN;
        rep->ortho = ortho(best, 0, NULL, mm);
    }
    *out = best;
    best = NULL;
done:
    vit_aligner_free(a);
    vit_aligner_free(best);
    free(idx), free(grad), free(m1), free(m2), free(xb), free(y), free(g), free(mm);
    return rc;
}

int vit_aligner_save(vit_ctx *ctx, const vit_aligner *a, const char *path, const char *meta_json) {
    cJSON *j = meta_json ? cJSON_Parse(meta_json) : cJSON_CreateObject();
    if (!j || !cJSON_IsObject(j)) { cJSON_Delete(j); return vit_ctx_fail(ctx, VIT_ERR_ARG, "aligner metadata is not a JSON object"); }
    cJSON_DeleteItemFromObject(j, "ncomp"), cJSON_DeleteItemFromObject(j, "dim");
    cJSON_DeleteItemFromObject(j, "edim"), cJSON_DeleteItemFromObject(j, "shared");
    cJSON_AddNumberToObject(j, "ncomp", a->ncomp);
    cJSON_AddNumberToObject(j, "dim", a->dim);
    cJSON_AddNumberToObject(j, "edim", a->edim);
    cJSON_AddBoolToObject(j, "shared", a->shared);
    char *js = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    StWriter *w = st_writer_new();
    int64_t ws[3] = {nmaps(a), a->dim, a->edim}, bs[1] = {a->edim};
    char err[512];
    if (w) {
        st_writer_add_f32(w, "weights", 3, ws, a->w);
        st_writer_add_f32(w, "bias", 1, bs, a->b);
        if (js) st_writer_meta(w, "aligner", js);
    }
    free(js);
    if (!w || st_writer_finish(w, path, err, sizeof err)) return vit_ctx_fail(ctx, VIT_ERR_IO, "%s", w ? err : "out of memory");
    return VIT_OK;
}

int vit_aligner_load(vit_ctx *ctx, const char *path, vit_aligner **out) {
    StFile *f = NULL;
    char err[1024];
    *out = NULL;
    if (st_open(path, &f, err, sizeof err)) return vit_ctx_fail(ctx, VIT_ERR_IO, "%s", err);
    int64_t kw = st_find(f, "weights"), kb = st_find(f, "bias");
    const char *meta = st_meta(f, "aligner");
    cJSON *j = meta ? cJSON_Parse(meta) : NULL;
    const cJSON *jn = cJSON_GetObjectItem(j, "ncomp"), *js = cJSON_GetObjectItem(j, "shared");
    int rc = VIT_OK;
    if (kw < 0 || kb < 0 || !cJSON_IsNumber(jn) || f->t[kw].rank != 3 || f->t[kb].rank != 1 ||
        f->t[kb].shape[0] != f->t[kw].shape[2]) {
        rc = vit_ctx_fail(ctx, VIT_ERR_FORMAT, "%s: not an aligner (expected 'weights' [maps, dim, edim], 'bias' [edim] and "
                          "'aligner' metadata, as vitrun align writes)", path);
        goto done;
    }
    int shared = cJSON_IsTrue(js), ncomp = jn->valueint;
    if (ncomp < 1 || f->t[kw].shape[0] != (shared ? 1 : ncomp)) {
        rc = vit_ctx_fail(ctx, VIT_ERR_FORMAT, "%s: %lld maps for %d components%s", path, (long long)f->t[kw].shape[0], ncomp,
                          shared ? " (shared: expected 1)" : "");
        goto done;
    }
    vit_aligner *a = vit_aligner_new(ncomp, (int)f->t[kw].shape[1], (int)f->t[kw].shape[2], shared);
    if (!a) { rc = vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory"); goto done; }
    if (st_read_f32(f, kw, a->w, err, sizeof err) || st_read_f32(f, kb, a->b, err, sizeof err)) {
        vit_aligner_free(a);
        rc = vit_ctx_fail(ctx, VIT_ERR_FORMAT, "%s", err);
        goto done;
    }
    *out = a;
done:
    cJSON_Delete(j);
    st_close(f);
    return rc;
}
