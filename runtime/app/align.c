/* runtime/app/align.c — COMPALIGN (PAPER.md 2): per-component linear maps
 * into a CLIP model's image space plus one shared bias, trained with Adam on
 * 1 - cos(sum_c f_c, CLIP image embedding) + lambda * orthogonality, early
 * stopped on a held-out part.  The products go through cblas_sgemm; the
 * component axis is a stride, so contributions are never copied per step.
 * Training can be checkpointed and resumed bit for bit (opts->checkpoint). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "index_int.h"
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
    o->checkpoint_every = 2;
}

static int nmaps(const vit_aligner *a) { return a->shared ? 1 : a->ncomp; }

vit_aligner *vit_aligner_new(int ncomp, int dim, int edim, int shared) {
    if (ncomp < 1 || dim < 1 || edim < 1) return NULL;
    vit_aligner *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    *a = (vit_aligner){ncomp, dim, edim, shared ? 1 : 0, NULL, NULL, NULL};
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
    for (int c = 0; a->names && c < a->ncomp; c++) free(a->names[c]);
    free(a->names);
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

/* ---- training: the whole state in one struct, so that it can be saved and resumed ---- */

typedef struct {
    const float *contrib, *targets;
    const vit_align_opts *o;
    int n, nt, nh, ncomp, dim, edim;
    size_t nw, np, row;  /* map weights, parameters (maps + bias), floats per image */
    vit_aligner *a, *best;
    int *idx;            /* a seeded permutation: training images first, the held-out last */
    float *grad, *m1, *m2, *xb, *y, *g, *mm;
    /* the counters: RNG, epoch, start of the next batch in idx[0, nt) (nt: the epoch is done),
     * steps, steps since the best, the best step, Adam's beta powers, the best loss */
    uint64_t rs;
    int64_t ep, i0, step, since, best_step;
    double b1t, b2t, bestl;
} Train;

static void train_free(Train *t) {
    vit_aligner_free(t->a);
    vit_aligner_free(t->best);
    free(t->idx), free(t->grad), free(t->m1), free(t->m2), free(t->xb), free(t->y), free(t->g), free(t->mm);
}

static int train_alloc(Train *t) {
    t->a = vit_aligner_new(t->ncomp, t->dim, t->edim, t->o->shared);
    t->best = vit_aligner_new(t->ncomp, t->dim, t->edim, t->o->shared);
    if (!t->a || !t->best) return -1;
    t->nw = (size_t)nmaps(t->a) * (size_t)t->dim * (size_t)t->edim, t->np = t->nw + (size_t)t->edim;
    t->row = (size_t)t->ncomp * (size_t)t->dim;
    size_t bmax = (size_t)(t->o->batch > 256 ? t->o->batch : 256), e = (size_t)t->edim;
    t->idx = malloc(sizeof(int) * (size_t)t->n);
    t->grad = calloc(t->np, sizeof(float)), t->m1 = calloc(t->np, sizeof(float)), t->m2 = calloc(t->np, sizeof(float));
    t->xb = malloc(sizeof(float) * t->row * bmax), t->y = malloc(sizeof(float) * bmax * e);
    t->g = malloc(sizeof(float) * bmax * e), t->mm = malloc(sizeof(float) * e * e);
    return t->idx && t->grad && t->m1 && t->m2 && t->xb && t->y && t->g && t->mm ? 0 : -1;
}

static void shuffle(int *idx, int m, uint64_t *rs) {
    for (int i = m - 1; i > 0; i--) { int j = (int)(rng_next(rs) % (uint64_t)(i + 1)), k = idx[i]; idx[i] = idx[j]; idx[j] = k; }
}

/* A fresh start: random maps and bias, the held-out split, the first epoch's order. */
static void train_start(Train *t) {
    t->rs = t->o->seed;
    for (size_t i = 0; i < t->nw; i++) t->a->w[i] = (float)(0.02 * rng_normal(&t->rs));
    for (int j = 0; j < t->edim; j++) t->a->b[j] = (float)(0.02 * rng_normal(&t->rs));
    for (int i = 0; i < t->n; i++) t->idx[i] = i;
    shuffle(t->idx, t->n, &t->rs);
    shuffle(t->idx, t->nt, &t->rs);
    t->ep = t->i0 = t->step = t->since = t->best_step = 0;
    t->b1t = t->b2t = 1, t->bestl = INFINITY;
}

/* One Adam step on the nb training images at idx[i0 ..). */
static void train_step(Train *t, int i0, int nb) {
    const vit_align_opts *o = t->o;
    int e = t->edim;
    for (int i = 0; i < nb; i++) memcpy(t->xb + (size_t)i * t->row, t->contrib + (size_t)t->idx[i0 + i] * t->row, sizeof(float) * t->row);
    forward(t->a, t->xb, nb, t->y);
    memset(t->grad, 0, sizeof(float) * t->np);
    for (int i = 0; i < nb; i++)
        cos_loss(t->y + (size_t)i * (size_t)e, t->targets + (size_t)t->idx[i0 + i] * (size_t)e, e, 1.0 / nb, t->g + (size_t)i * (size_t)e);
    for (int c = 0; c < t->ncomp; c++) /* dW_c += x_c^T g (all components into one map when shared) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, t->dim, e, nb, 1.f, t->xb + (size_t)c * (size_t)t->dim, (int)t->row,
                    t->g, e, 1.f, t->grad + (size_t)(o->shared ? 0 : c) * (size_t)t->dim * (size_t)e, e);
    for (int i = 0; i < nb; i++)
        for (int j = 0; j < e; j++) t->grad[t->nw + (size_t)j] += t->g[(size_t)i * (size_t)e + (size_t)j];
    if (o->lambda > 0) ortho(t->a, o->lambda, t->grad, t->mm);
    t->b1t *= 0.9, t->b2t *= 0.999;
    for (size_t p = 0; p < t->np; p++) { /* torch.optim.Adam with L2 weight decay */
        float *w = p < t->nw ? &t->a->w[p] : &t->a->b[p - t->nw];
        double gp = t->grad[p] + o->wd * *w;
        t->m1[p] = (float)(0.9 * t->m1[p] + 0.1 * gp);
        t->m2[p] = (float)(0.999 * t->m2[p] + 0.001 * gp * gp);
        *w -= (float)(o->lr * (t->m1[p] / (1 - t->b1t)) / (sqrt(t->m2[p] / (1 - t->b2t)) + 1e-8));
    }
}

/* Early stopping on the held-out part (on the batch when nothing is held
 * out): keeps the best maps; 1 when patience has run out. */
static int train_track(Train *t, int i0, int nb) {
    double l = t->nh ? eval_loss(t->a, t->contrib, t->targets, t->idx + t->nt, t->nh, t->xb, t->y)
                     : eval_loss(t->a, t->contrib, t->targets, t->idx + i0, nb, t->xb, t->y);
    if (l < t->bestl) {
        t->bestl = l, t->since = 0, t->best_step = t->step;
        memcpy(t->best->w, t->a->w, sizeof(float) * t->nw);
        memcpy(t->best->b, t->a->b, sizeof(float) * (size_t)t->edim);
        return 0;
    }
    return t->o->patience && ++t->since >= t->o->patience;
}

/* ---- checkpoints ---- */

#define CK_FORMAT "vit-align-checkpoint 1"

/* Everything the result depends on, as "key=value" words (doubles with 17
 * digits, so exact): a checkpoint is used only when this is equal. */
static void fingerprint(const Train *t, char *buf, size_t len) {
    const vit_align_opts *o = t->o;
    char hc[VIT_MODULE_ID_LEN], ht[VIT_MODULE_ID_LEN];
    ix_hash_mem(t->contrib, sizeof(float) * t->row * (size_t)t->n, hc);
    ix_hash_mem(t->targets, sizeof(float) * (size_t)t->edim * (size_t)t->n, ht);
    snprintf(buf, len,
             "n=%d ncomp=%d dim=%d edim=%d lambda=%.17g lr=%.17g wd=%.17g epochs=%d batch=%d patience=%d holdout=%.17g "
             "shared=%d seed=%llu contributions=%s targets=%s",
             t->n, t->ncomp, t->dim, t->edim, o->lambda, o->lr, o->wd, o->epochs, o->batch, o->patience, o->holdout,
             o->shared ? 1 : 0, (unsigned long long)o->seed, hc, ht);
}

/* The first word of have that differs from want, e.g. "seed=1 (this run: seed=0)". */
static void first_difference(const char *have, const char *want, char *buf, size_t len) {
    snprintf(buf, len, "a different fingerprint");
    while (*have && *want) {
        size_t a = strcspn(have, " "), b = strcspn(want, " ");
        if (a != b || memcmp(have, want, a)) {
            snprintf(buf, len, "%.*s (this run: %.*s)", (int)a, have, (int)b, want);
            return;
        }
        have += a + (have[a] == ' '), want += b + (want[b] == ' ');
    }
}

static int ck_save(vit_ctx *ctx, const Train *t, const char *fp) {
    StWriter *w = st_writer_new();
    int64_t snw = (int64_t)t->nw, se = t->edim, snp = (int64_t)t->np, sn = t->n, s3 = 3, s6 = 6;
    double d[3] = {t->b1t, t->b2t, t->bestl};
    int64_t c[6] = {0, t->ep, t->i0, t->step, t->since, t->best_step};
    memcpy(&c[0], &t->rs, sizeof t->rs); /* the RNG state's 64 bits as they are */
    char err[512];
    if (w) {
        st_writer_add_f32(w, "weights", 1, &snw, t->a->w);
        st_writer_add_f32(w, "bias", 1, &se, t->a->b);
        st_writer_add_f32(w, "best_weights", 1, &snw, t->best->w);
        st_writer_add_f32(w, "best_bias", 1, &se, t->best->b);
        st_writer_add_f32(w, "adam_m1", 1, &snp, t->m1);
        st_writer_add_f32(w, "adam_m2", 1, &snp, t->m2);
        st_writer_add_raw(w, "order", ST_DTYPE_I32, 1, &sn, t->idx);
        st_writer_add_raw(w, "doubles", ST_DTYPE_F64, 1, &s3, d);   /* b1t, b2t, best loss */
        st_writer_add_raw(w, "counters", ST_DTYPE_I64, 1, &s6, c);  /* rng, epoch, position, step, since, best step */
        st_writer_meta(w, "format", CK_FORMAT);
        st_writer_meta(w, "fingerprint", fp);
    }
    if (!w || st_writer_finish(w, t->o->checkpoint, err, sizeof err))
        return vit_ctx_fail(ctx, VIT_ERR_IO, "align: cannot save the training state: %s", w ? err : "out of memory");
    return VIT_OK;
}

/* Copy tensor `name` (dtype dt, numel elements) out of f; -1 when absent or of another type or size. */
static int ck_get(const StFile *f, const char *name, enum st_dtype dt, size_t numel, void *dst) {
    int64_t k = st_find(f, name);
    if (k < 0 || f->t[k].dtype != dt || (size_t)st_numel(&f->t[k]) != numel) return -1;
    memcpy(dst, f->data + f->t[k].begin, numel * (size_t)st_dtype_size(dt));
    return 0;
}

/* 1 when the counters and the order are those of a run of these options. */
static int ck_sane(const Train *t) {
    if (t->ep < 0 || t->ep >= t->o->epochs || t->i0 < 0 || t->i0 > t->nt || t->step < 0 || t->since < 0 ||
        t->best_step < 0 || t->best_step > t->step)
        return 0;
    unsigned char *seen = calloc((size_t)t->n, 1);
    int ok = seen != NULL;
    for (int i = 0; ok && i < t->n; i++) ok = t->idx[i] >= 0 && t->idx[i] < t->n && !seen[t->idx[i]]++;
    free(seen);
    return ok;
}

static int ck_load(vit_ctx *ctx, Train *t, const char *fp) {
    const char *path = t->o->checkpoint;
    StFile *f = NULL;
    char err[1024];
    if (st_open(path, &f, err, sizeof err)) return vit_ctx_fail(ctx, VIT_ERR_FORMAT, "align: training state: %s", err);
    const char *fmt = st_meta(f, "format"), *have = st_meta(f, "fingerprint");
    int rc = VIT_OK;
    if (!fmt || strcmp(fmt, CK_FORMAT) || !have) {
        rc = vit_ctx_fail(ctx, VIT_ERR_FORMAT, "align: %s is not a training state of this version (delete it to start afresh)", path);
    } else if (strcmp(have, fp)) {
        first_difference(have, fp, err, sizeof err);
        rc = vit_ctx_fail(ctx, VIT_ERR_ARG, "align: %s holds the state of another training run: %s; rerun with the inputs and "
                          "options it was made with to continue it, or delete it to start afresh", path, err);
    } else {
        double d[3];
        int64_t c[6];
        if (ck_get(f, "weights", ST_DTYPE_F32, t->nw, t->a->w) || ck_get(f, "bias", ST_DTYPE_F32, (size_t)t->edim, t->a->b) ||
            ck_get(f, "best_weights", ST_DTYPE_F32, t->nw, t->best->w) || ck_get(f, "best_bias", ST_DTYPE_F32, (size_t)t->edim, t->best->b) ||
            ck_get(f, "adam_m1", ST_DTYPE_F32, t->np, t->m1) || ck_get(f, "adam_m2", ST_DTYPE_F32, t->np, t->m2) ||
            ck_get(f, "order", ST_DTYPE_I32, (size_t)t->n, t->idx) || ck_get(f, "doubles", ST_DTYPE_F64, 3, d) ||
            ck_get(f, "counters", ST_DTYPE_I64, 6, c))
            rc = vit_ctx_fail(ctx, VIT_ERR_FORMAT, "align: %s: a tensor of the training state is missing or of another size", path);
        else {
            memcpy(&t->rs, &c[0], sizeof t->rs);
            t->ep = c[1], t->i0 = c[2], t->step = c[3], t->since = c[4], t->best_step = c[5];
            t->b1t = d[0], t->b2t = d[1], t->bestl = d[2];
            if (!ck_sane(t)) rc = vit_ctx_fail(ctx, VIT_ERR_FORMAT, "align: %s: inconsistent training state (delete it to start afresh)", path);
        }
    }
    st_close(f);
    return rc;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Saves the state when due (or forced); *last, *cost: when the last save ended and what it took. */
static int ck_maybe_save(vit_ctx *ctx, const Train *t, const char *fp, int force, double *last, double *cost) {
    double t0 = now_s(), every = t->o->checkpoint_every > 10 * *cost ? t->o->checkpoint_every : 10 * *cost;
    if (!t->o->checkpoint || (!force && t0 - *last < every)) return VIT_OK;
    int rc = ck_save(ctx, t, fp);
    *last = now_s(), *cost = *last - t0;
    return rc;
}

/* Steps until the end or early stopping; VIT_ERR_INTERRUPTED when asked to stop. */
static int train_loop(vit_ctx *ctx, Train *t, const char *fp) {
    const vit_align_opts *o = t->o;
    int64_t steps = (int64_t)o->epochs * ((t->nt + o->batch - 1) / o->batch);
    double last = now_s(), cost = 0;
    for (;;) {
        if (t->i0 >= t->nt) {
            if (t->ep + 1 >= o->epochs) return VIT_OK;
            t->ep++, t->i0 = 0;
            shuffle(t->idx, t->nt, &t->rs);
        }
        int i0 = (int)t->i0, nb = t->nt - i0 < o->batch ? t->nt - i0 : o->batch;
        train_step(t, i0, nb);
        t->i0 += nb, t->step++;
        int stop = train_track(t, i0, nb);
        if (o->progress) o->progress(o->ud, t->step, steps);
        if (stop) return VIT_OK;
        int intr = o->interrupted && o->interrupted(o->ud);
        if (ck_maybe_save(ctx, t, fp, intr, &last, &cost)) return VIT_ERR_IO;
        if (intr)
            return vit_ctx_fail(ctx, VIT_ERR_INTERRUPTED, "align: interrupted after step %lld of at most %lld%s%s",
                                (long long)t->step, (long long)steps, o->checkpoint ? "; the training state is saved in " : "",
                                o->checkpoint ? o->checkpoint : "");
    }
}

int vit_align_train(vit_ctx *ctx, const float *contrib, const float *targets, int n, int ncomp, int dim, int edim,
                    const vit_align_opts *opts, vit_aligner **out, vit_align_report *rep) {
    vit_align_opts dflt;
    if (!opts) { vit_align_opts_default(&dflt); opts = &dflt; }
    const vit_align_opts *o = opts;
    *out = NULL;
    if (n < 2 || ncomp < 1 || dim < 1 || edim < 1) return vit_ctx_fail(ctx, VIT_ERR_ARG, "align: need at least 2 images and non-empty contributions");
    if (o->batch < 1 || o->epochs < 1 || !(o->lr > 0) || !(o->lambda >= 0) || !(o->holdout >= 0 && o->holdout < 1) || o->patience < 0 ||
        !(o->checkpoint_every >= 0))
        return vit_ctx_fail(ctx, VIT_ERR_ARG, "align: invalid options (batch, epochs, lr > 0, lambda >= 0, 0 <= holdout < 1, patience >= 0, "
                            "checkpoint_every >= 0)");
    int nh = (int)(o->holdout * n), nt = n - nh;
    if (o->holdout > 0 && nh < 1) nh = 1, nt = n - 1;
    if (nt < 1) return vit_ctx_fail(ctx, VIT_ERR_ARG, "align: nothing left to train on after holding out %d images", nh);
    Train t = {.contrib = contrib, .targets = targets, .o = o, .n = n, .nt = nt, .nh = nh, .ncomp = ncomp, .dim = dim, .edim = edim};
    char fp[1024];
    int rc = VIT_OK;
    if (rep) memset(rep, 0, sizeof *rep);
    if (train_alloc(&t)) { rc = vit_ctx_fail(ctx, VIT_ERR_MEM, "align: out of memory"); goto done; }
    fingerprint(&t, fp, sizeof fp);
    if (o->checkpoint && !access(o->checkpoint, F_OK)) {
        if ((rc = ck_load(ctx, &t, fp))) goto done;
    } else train_start(&t);
    if (rep) rep->resumed_step = (int)t.step;
    if ((rc = train_loop(ctx, &t, fp))) goto done;
    if (rep) {
        rep->ntrain = nt, rep->nheldout = nh, rep->steps = (int)t.step, rep->best_step = (int)t.best_step;
        rep->heldout_cos = nh ? t.bestl : NAN;
        rep->ortho = ortho(t.best, 0, NULL, t.mm);
    }
    *out = t.best;
    t.best = NULL;
done:
    train_free(&t);
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
    const cJSON *jc = cJSON_GetObjectItem(j, "components");
    if (cJSON_GetArraySize(jc) == ncomp && (a->names = calloc((size_t)ncomp, sizeof(char *))))
        for (int c = 0; c < ncomp; c++) {
            const cJSON *e = cJSON_GetArrayItem(jc, c);
            if (!cJSON_IsString(e) || !(a->names[c] = strdup(e->valuestring))) {
                vit_aligner_free(a);
                rc = vit_ctx_fail(ctx, VIT_ERR_FORMAT, "%s: the aligner's component names are not %d strings", path, ncomp);
                goto done;
            }
        }
    *out = a;
done:
    cJSON_Delete(j);
    st_close(f);
    return rc;
}
