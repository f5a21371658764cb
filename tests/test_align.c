/* tests/test_align.c — COMPALIGN, TextSpan, the scoring function, Spearman
 * and retrieval on arrays with known answers: a synthetic alignment problem
 * whose true maps are known, goldens from the paper's reference code
 * (tests/golden_align, tests/reference/make_align_goldens.py), hand-computed
 * rank correlations and constructed retrieval problems. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "support.h"
#include "vit.h"

static uint64_t rs = 12345;
static double urand(void) {
    rs = rs * 6364136223846793005ull + 1442695040888963407ull;
    return ((double)(rs >> 11) + 0.5) / 9007199254740992.0;
}
static double nrand(void) { return sqrt(-2 * log(urand())) * cos(6.283185307179586 * urand()); }

/* A problem with known maps: x [n, C, d] random, W*_c random with orthonormal
 * columns (d >= e), targets = sum_c x_c W*_c + b*. */
typedef struct {
    int n, C, d, e;
    float *x, *t, *w, *b;
} Synth;

static void synth_make(Synth *s, int n, int C, int d, int e, int same_maps) {
    *s = (Synth){n, C, d, e, malloc(sizeof(float) * (size_t)(n * C * d)), malloc(sizeof(float) * (size_t)(n * e)),
                 malloc(sizeof(float) * (size_t)(C * d * e)), malloc(sizeof(float) * (size_t)e)};
    for (int i = 0; i < n * C * d; i++) s->x[i] = (float)nrand();
    for (int c = 0; c < C; c++) { /* Gram-Schmidt on random columns */
        float *w = s->w + (size_t)c * (size_t)(d * e);
        if (same_maps && c) { memcpy(w, s->w, sizeof(float) * (size_t)(d * e)); continue; }
        for (int j = 0; j < e; j++) {
            for (int i = 0; i < d; i++) w[i * e + j] = (float)nrand();
            for (int p = 0; p < j; p++) {
                double dot = 0;
                for (int i = 0; i < d; i++) dot += w[i * e + j] * w[i * e + p];
                for (int i = 0; i < d; i++) w[i * e + j] -= (float)(dot * w[i * e + p]);
            }
            double nn = 0;
            for (int i = 0; i < d; i++) nn += w[i * e + j] * w[i * e + j];
            for (int i = 0; i < d; i++) w[i * e + j] /= (float)sqrt(nn);
        }
    }
    for (int j = 0; j < e; j++) s->b[j] = (float)(0.5 * nrand());
    for (int i = 0; i < n; i++)
        for (int j = 0; j < e; j++) {
            double v = s->b[j];
            for (int c = 0; c < C; c++)
                for (int k = 0; k < d; k++) v += s->x[(i * C + c) * d + k] * s->w[(c * d + k) * e + j];
            s->t[i * e + j] = (float)v;
        }
}

static void synth_free(Synth *s) { free(s->x), free(s->t), free(s->w), free(s->b); }

/* Held-out cosine distance of an aligner on images [from, n). */
static double heldout(vit_ctx *ctx, const vit_aligner *a, const Synth *s, int from) {
    int m = s->n - from;
    float *out = malloc(sizeof(float) * (size_t)(m * s->C * s->e));
    if (vit_aligner_apply(ctx, a, s->x + (size_t)from * (size_t)(s->C * s->d), m, s->C, s->d, out)) { free(out); return NAN; }
    double r = vit_align_cosine_distance(out, s->t + (size_t)from * (size_t)s->e, m, s->C, s->e);
    free(out);
    return r;
}

static vit_align_opts train_opts(double lambda, int shared) {
    vit_align_opts o;
    vit_align_opts_default(&o);
    o.lambda = lambda, o.shared = shared, o.lr = 1e-2, o.epochs = 60, o.patience = 0, o.seed = 3;
    return o;
}

TEST(align_recovers_known_maps_and_beats_one_shared_map) {
    vit_ctx *ctx = vit_ctx_new();
    Synth s;
    synth_make(&s, 600, 4, 10, 6, 0);
    int ntr = 500; /* train on the first 500, measure on the last 100 */
    vit_align_opts o = train_opts(0, 0), os = train_opts(0, 1);
    vit_aligner *a = NULL, *sh = NULL;
    vit_align_report rep;
    ASSERT_EQ(vit_align_train(ctx, s.x, s.t, ntr, s.C, s.d, s.e, &o, &a, &rep), VIT_OK);
    ASSERT_EQ(rep.ntrain + rep.nheldout, ntr);
    ASSERT_EQ(rep.nheldout, 50);
    ASSERT(rep.steps > 0 && rep.best_step > 0 && rep.best_step <= rep.steps);
    double ca = heldout(ctx, a, &s, ntr);
    ASSERT(ca < 0.01);
    /* every component's aligned contribution points where its true map sends it */
    float *out = malloc(sizeof(float) * (size_t)(s.n * s.C * s.e));
    ASSERT_EQ(vit_aligner_apply(ctx, a, s.x, s.n, s.C, s.d, out), VIT_OK);
    for (int c = 0; c < s.C; c++) {
        double cs = 0;
        for (int i = 0; i < s.n; i++) {
            double dot = 0, n1 = 0, n2 = 0;
            for (int j = 0; j < s.e; j++) {
                double tv = 0;
                for (int k = 0; k < s.d; k++) tv += s.x[(i * s.C + c) * s.d + k] * s.w[(c * s.d + k) * s.e + j];
                double av = out[(i * s.C + c) * s.e + j] - a->b[j] / s.C;
                dot += tv * av, n1 += tv * tv, n2 += av * av;
            }
            cs += dot / sqrt(n1 * n2) / s.n;
        }
        ASSERT(cs > 0.95);
    }
    free(out);
    ASSERT_EQ(vit_align_train(ctx, s.x, s.t, ntr, s.C, s.d, s.e, &os, &sh, NULL), VIT_OK);
    ASSERT_EQ(sh->shared, 1);
    double cs1 = heldout(ctx, sh, &s, ntr);
    ASSERT(cs1 > 5 * ca); /* one map cannot fit four different ones */
    vit_aligner_free(a), vit_aligner_free(sh);
    synth_free(&s);
    vit_ctx_free(ctx);
    return 0;
}

TEST(align_orthogonality_term_pulls_maps_to_orthonormal_columns) {
    vit_ctx *ctx = vit_ctx_new();
    Synth s;
    synth_make(&s, 300, 3, 12, 4, 0);
    for (int i = 0; i < s.n * s.e; i++) s.t[i] *= 3; /* scale: the cosine loss alone does not fix it */
    vit_align_opts o0 = train_opts(0, 0), o1 = train_opts(1, 0);
    vit_aligner *a0 = NULL, *a1 = NULL;
    vit_align_report r0, r1;
    ASSERT_EQ(vit_align_train(ctx, s.x, s.t, s.n, s.C, s.d, s.e, &o0, &a0, &r0), VIT_OK);
    ASSERT_EQ(vit_align_train(ctx, s.x, s.t, s.n, s.C, s.d, s.e, &o1, &a1, &r1), VIT_OK);
    ASSERT(r1.ortho < 0.05);
    ASSERT(r1.ortho < r0.ortho / 4);
    ASSERT(r1.heldout_cos < 0.02);
    vit_aligner_free(a0), vit_aligner_free(a1);
    synth_free(&s);
    vit_ctx_free(ctx);
    return 0;
}

TEST(align_early_stopping_stops_and_keeps_the_best_step) {
    vit_ctx *ctx = vit_ctx_new();
    Synth s;
    synth_make(&s, 200, 2, 6, 3, 0);
    for (int i = 0; i < s.n * s.e; i++) s.t[i] = (float)nrand(); /* nothing to learn: held-out loss stalls */
    vit_align_opts o = train_opts(0, 0);
    o.patience = 5, o.epochs = 200;
    vit_aligner *a = NULL;
    vit_align_report rep;
    ASSERT_EQ(vit_align_train(ctx, s.x, s.t, s.n, s.C, s.d, s.e, &o, &a, &rep), VIT_OK);
    ASSERT(rep.steps < 200 * 6);
    ASSERT_EQ(rep.steps, rep.best_step + 5);
    ASSERT_NEAR(heldout(ctx, a, &s, 0), heldout(ctx, a, &s, 0), 0); /* runs */
    vit_aligner_free(a);
    synth_free(&s);
    vit_ctx_free(ctx);
    return 0;
}

/* Interrupt after every `every`-th step (counted in *ud's first int). */
typedef struct { int calls, every; } StopAt;
static int stop_every(void *ud) {
    StopAt *s = ud;
    return ++s->calls % s->every == 0;
}

TEST(align_checkpoint_resumes_bit_for_bit_and_refuses_another_run) {
    vit_ctx *ctx = vit_ctx_new();
    Synth s;
    synth_make(&s, 120, 3, 8, 5, 0);
    vit_align_opts o = train_opts(1, 0);
    o.epochs = 7, o.batch = 16, o.patience = 12, o.checkpoint_every = 0;
    vit_aligner *ref = NULL, *a = NULL;
    vit_align_report rr, r;
    ASSERT_EQ(vit_align_train(ctx, s.x, s.t, s.n, s.C, s.d, s.e, &o, &ref, &rr), VIT_OK);
    ASSERT_EQ(rr.resumed_step, 0);
    char dir[] = "/tmp/test_align_ck_XXXXXX", path[64];
    ASSERT(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/state.safetensors", dir);
    /* stopped every 5 steps, resumed from the file each time */
    StopAt st = {0, 5};
    o.checkpoint = path, o.interrupted = stop_every, o.ud = &st;
    int rc, runs = 0, last = 0;
    while ((rc = vit_align_train(ctx, s.x, s.t, s.n, s.C, s.d, s.e, &o, &a, &r)) == VIT_ERR_INTERRUPTED) {
        ASSERT(!a);
        ASSERT_CONTAINS(vit_last_error(ctx), "interrupted after step");
        ASSERT_EQ(r.resumed_step, last);
        last += 5, runs++;
    }
    ASSERT_EQ(rc, VIT_OK);
    ASSERT(runs >= 3);
    ASSERT_EQ(r.steps, rr.steps);
    ASSERT_EQ(r.best_step, rr.best_step);
    ASSERT(r.heldout_cos == rr.heldout_cos);
    ASSERT(!memcmp(a->w, ref->w, sizeof(float) * (size_t)(s.C * s.d * s.e)));
    ASSERT(!memcmp(a->b, ref->b, sizeof(float) * (size_t)s.e));
    vit_aligner_free(a);
    a = NULL;
    /* the state of another run is refused, naming what differs */
    vit_align_opts o2 = o;
    o2.seed = 4, o2.interrupted = NULL;
    ASSERT_EQ(vit_align_train(ctx, s.x, s.t, s.n, s.C, s.d, s.e, &o2, &a, &r), VIT_ERR_ARG);
    ASSERT_CONTAINS(vit_last_error(ctx), "holds the state of another training run: seed=3 (this run: seed=4)");
    s.t[7] += 1; /* other targets */
    o2.seed = 3;
    ASSERT_EQ(vit_align_train(ctx, s.x, s.t, s.n, s.C, s.d, s.e, &o2, &a, &r), VIT_ERR_ARG);
    ASSERT_CONTAINS(vit_last_error(ctx), "targets=");
    ASSERT(!a);
    unlink(path);
    rmdir(dir);
    vit_aligner_free(ref);
    synth_free(&s);
    vit_ctx_free(ctx);
    return 0;
}

TEST(aligner_identity_save_load_and_wrong_dimensions) {
    vit_ctx *ctx = vit_ctx_new();
    vit_aligner *id = vit_aligner_identity(3, 5), *back = NULL;
    float x[2 * 3 * 5], out[2 * 3 * 5];
    for (int i = 0; i < 30; i++) x[i] = (float)nrand();
    ASSERT_EQ(vit_aligner_apply(ctx, id, x, 2, 3, 5, out), VIT_OK);
    ASSERT(check_max_rel(out, x, 30) == 0);
    id->b[2] = 3;
    char path[] = "/tmp/test_align_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    ASSERT_EQ(vit_aligner_save(ctx, id, path, "{\"components\": [\"a\", \"b\", \"c\"]}"), VIT_OK);
    ASSERT_EQ(vit_aligner_load(ctx, path, &back), VIT_OK);
    ASSERT_EQ(back->ncomp, 3);
    ASSERT_EQ(back->dim, 5);
    ASSERT_EQ(back->edim, 5);
    ASSERT(check_max_rel(back->w, id->w, 75) == 0);
    ASSERT_NEAR(back->b[2], 3, 0);
    /* bias b is shared: each component gets b / ncomp */
    ASSERT_EQ(vit_aligner_apply(ctx, back, x, 2, 3, 5, out), VIT_OK);
    ASSERT_NEAR(out[2], x[2] + 1, 1e-6);
    ASSERT_EQ(vit_aligner_apply(ctx, back, x, 2, 5, 3, out), VIT_ERR_SHAPE);
    ASSERT_CONTAINS(vit_last_error(ctx), "the aligner maps 3 components of dimension 5, but the contributions have 5 components of dimension 3");
    ASSERT_EQ(vit_aligner_fits(ctx, back, 3, 6), VIT_ERR_SHAPE);
    unlink(path);
    vit_aligner *none = NULL;
    ASSERT_EQ(vit_aligner_load(ctx, "tests/golden_align/score_textspan.safetensors", &none), VIT_ERR_FORMAT);
    ASSERT_CONTAINS(vit_last_error(ctx), "not an aligner");
    ASSERT(!none);
    vit_aligner_free(id), vit_aligner_free(back);
    vit_ctx_free(ctx);
    return 0;
}

#define GOLD "tests/golden_align/score_textspan.safetensors"

TEST(variance_explained_equals_the_reference) {
    vit_ctx *ctx = vit_ctx_new();
    int64_t na, nd, ne;
    float *al = tst_read_tensor(GOLD, "aligned", &na), *desc = tst_read_tensor(GOLD, "desc", &nd), *ref = tst_read_tensor(GOLD, "explained", &ne);
    ASSERT(al && desc && ref);
    ASSERT_EQ(ne, 5);
    double ex[5];
    ASSERT_EQ(vit_variance_explained(ctx, al, 40, 5, 12, desc, 3, ex), VIT_OK);
    for (int c = 0; c < 5; c++) ASSERT_NEAR(ex[c], ref[c], 1e-5);
    /* a component inside the span explains all of its variance, one orthogonal to it none */
    float in[6 * 2 * 12] = {0}, d2[2 * 12] = {0};
    d2[0] = 1, d2[12 + 1] = 1;
    for (int i = 0; i < 6; i++) in[(i * 2) * 12 + 0] = (float)i, in[(i * 2) * 12 + 1] = (float)(i * i), in[(i * 2 + 1) * 12 + 5] = (float)i;
    ASSERT_EQ(vit_variance_explained(ctx, in, 6, 2, 12, d2, 2, ex), VIT_OK);
    ASSERT_NEAR(ex[0], 1, 1e-12);
    ASSERT_NEAR(ex[1], 0, 1e-12);
    ASSERT_EQ(vit_variance_explained(ctx, al, 1, 5, 12, desc, 3, ex), VIT_ERR_ARG);
    ASSERT_CONTAINS(vit_last_error(ctx), "at least 2 images");
    free(al), free(desc), free(ref);
    vit_ctx_free(ctx);
    return 0;
}

TEST(score_feature_equals_the_reference_variance_attributed) {
    vit_ctx *ctx = vit_ctx_new();
    int64_t na, nd, ns;
    float *al = tst_read_tensor(GOLD, "aligned", &na), *desc = tst_read_tensor(GOLD, "desc", &nd), *ref = tst_read_tensor(GOLD, "score", &ns);
    ASSERT(al && desc && ref);
    ASSERT_EQ(na, 40 * 5 * 12);
    double sc[5];
    ASSERT_EQ(vit_score_feature(ctx, al, 40, 5, 12, desc, 3, sc), VIT_OK);
    for (int c = 0; c < 5; c++) ASSERT_NEAR(sc[c], ref[c], 1e-5);
    ASSERT(sc[1] > sc[2] && sc[1] > sc[0]); /* the component with the most variance along the feature */
    ASSERT_EQ(vit_score_feature(ctx, al, 40, 5, 12, desc, 1, sc), VIT_ERR_ARG);
    ASSERT_CONTAINS(vit_last_error(ctx), "at least 2 descriptions");
    float dep[2 * 12];
    for (int j = 0; j < 12; j++) dep[j] = desc[j], dep[12 + j] = 2 * desc[j];
    ASSERT_EQ(vit_score_feature(ctx, al, 40, 5, 12, dep, 2, sc), VIT_ERR_ARG);
    ASSERT_CONTAINS(vit_last_error(ctx), "linearly dependent");
    free(al), free(desc), free(ref);
    vit_ctx_free(ctx);
    return 0;
}

TEST(textspan_picks_the_reference_texts) {
    vit_ctx *ctx = vit_ctx_new();
    int64_t na, nt, np;
    float *al = tst_read_tensor(GOLD, "aligned", &na), *tx = tst_read_tensor(GOLD, "texts", &nt);
    ASSERT(al && tx);
    float *data = malloc(sizeof(float) * 40 * 12);
    for (int i = 0; i < 40; i++)
        for (int j = 0; j < 12; j++) data[i * 12 + j] = al[(i * 5 + 1) * 12 + j] + 0.5f;
    const char *names[2] = {"pick_rank4", "pick_full"};
    int ranks[2] = {4, 12};
    for (int r = 0; r < 2; r++) {
        float *ref = tst_read_tensor(GOLD, names[r], &np);
        ASSERT(ref && np == 5);
        int pick[5];
        double var[5], sum = 0;
        /* the data as rows of a [n, ncomp, e] array: stride of one row */
        ASSERT_EQ(vit_textspan(ctx, data, 40, 12, 12, tx, 9, ranks[r], 5, pick, var), VIT_OK);
        for (int s = 0; s < 5; s++) {
            if (s >= ranks[r]) { /* the texts were projected on a rank-4 span: 4 picks exhaust it */
                ASSERT_EQ(pick[s], -1);
                continue;
            }
            ASSERT_EQ(pick[s], (int)ref[s]);
            ASSERT(var[s] >= 0);
            sum += var[s];
        }
        ASSERT(sum <= 1 + 1e-9);
        free(ref);
    }
    /* constructed: data varying along e0 (big) and e1 (small) only; texts e1, (e0 + e1) / sqrt 2, e0, e2 */
    float d2[6 * 3] = {3, 1, 0, -3, -1, 0, 3, -1, 0, -3, 1, 0, 0, 0, 0, 0, 0, 0};
    float t2[4 * 3] = {0, 1, 0, (float)M_SQRT1_2, (float)M_SQRT1_2, 0, 1, 0, 0, 0, 0, 1};
    int pick[3];
    double var[3];
    ASSERT_EQ(vit_textspan(ctx, d2, 6, 3, 3, t2, 4, 3, 3, pick, var), VIT_OK);
    ASSERT_EQ(pick[0], 2); /* e0 */
    ASSERT_EQ(pick[1], 0); /* e1 ((e0 + e1) / sqrt 2 is e1 / sqrt 2 once e0 is removed) */
    ASSERT_NEAR(var[0], 36.0 / 40.0, 1e-12);
    ASSERT_NEAR(var[1], 4.0 / 40.0, 1e-12);
    ASSERT_EQ(pick[2], -1); /* nothing left */
    free(al), free(tx), free(data);
    vit_ctx_free(ctx);
    return 0;
}

TEST(spearman_on_known_rankings) {
    double a[5] = {1, 2, 3, 4, 5}, b[5] = {5, 6, 7, 8, 7}, c[5] = {50, 40, 30, 20, 10}, k[5] = {2, 2, 2, 2, 2};
    ASSERT_NEAR(vit_spearman(a, a, 5), 1, 1e-12);
    ASSERT_NEAR(vit_spearman(a, c, 5), -1, 1e-12);
    ASSERT_NEAR(vit_spearman(a, b, 5), 8 / sqrt(95), 1e-12); /* ties share rank 3.5 */
    ASSERT(isnan(vit_spearman(a, k, 5)));
    double x[4] = {0.1, 0.4, 0.2, 0.3}, y[4] = {1, 3, 4, 2}; /* ranks 1 4 2 3 vs 1 3 4 2: d^2 = 0+1+4+1 */
    ASSERT_NEAR(vit_spearman(x, y, 4), 1 - 6.0 * 6 / (4 * 15), 1e-12);
    return 0;
}

TEST(validate_agrees_when_the_components_are_clip_itself) {
    /* two components, each carrying one of two features; CLIP's embedding is their sum */
    vit_ctx *ctx = vit_ctx_new();
    int n = 200, C = 3, e = 6;
    float *al = calloc((size_t)(n * C * e), sizeof(float)), *clip = calloc((size_t)(n * e), sizeof(float));
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < e; j++) { /* feature A: dims 0, 1; feature B: dims 2, 3; noise more along A than B */
            al[(i * C + 0) * e + j] = (float)((j < 2 ? 1 : 0.01) * nrand());
            al[(i * C + 1) * e + j] = (float)((j == 2 || j == 3 ? 1 : 0.01) * nrand());
            al[(i * C + 2) * e + j] = (float)((j < 2 ? 0.3 : 0.1) * nrand());
        }
        for (int c = 0; c < C; c++)
            for (int j = 0; j < e; j++) clip[i * e + j] += al[(i * C + c) * e + j];
    }
    float fa[2 * 6] = {1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}, fb[2 * 6] = {0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0};
    const float *feats[2] = {fa, fb};
    int k[2] = {2, 2};
    double within, between[2];
    ASSERT_EQ(vit_score_validate(ctx, al, clip, n, C, e, feats, k, 2, &within, between), VIT_OK);
    ASSERT_NEAR(within, 1, 1e-12);
    ASSERT_NEAR(between[0], 1, 1e-12);
    ASSERT_NEAR(between[1], 1, 1e-12);
    ASSERT_EQ(vit_score_validate(ctx, al, clip, n, C, e, feats, k, 1, &within, between), VIT_ERR_ARG);
    free(al), free(clip);
    vit_ctx_free(ctx);
    return 0;
}

TEST(retrieval_ranks_by_the_chosen_components) {
    vit_ctx *ctx = vit_ctx_new();
    /* 4 images, 2 components, e = 2: component 0 carries the query direction, component 1 is a distractor */
    float al[4 * 2 * 2] = {1, 0, 0, 9, /**/ 3, 0, 0, -9, /**/ 2, 0, 5, 0, /**/ -1, 0, 0, 0};
    float q[2] = {1, 0};
    int comps[1] = {0}, order[4];
    double s[4];
    ASSERT_EQ(vit_retrieve_text(ctx, al, 4, 2, 2, comps, 1, q, s), VIT_OK);
    vit_rank_desc(s, 4, order);
    ASSERT_EQ(order[0], 1); ASSERT_EQ(order[1], 2); ASSERT_EQ(order[2], 0); ASSERT_EQ(order[3], 3);
    int both[2] = {0, 1};
    ASSERT_EQ(vit_retrieve_text(ctx, al, 4, 2, 2, both, 2, q, s), VIT_OK);
    vit_rank_desc(s, 4, order);
    ASSERT_EQ(order[0], 2); /* component 1 of image 2 adds 5 along the query */
    int bad[1] = {2};
    ASSERT_EQ(vit_retrieve_text(ctx, al, 4, 2, 2, bad, 1, q, s), VIT_ERR_ARG);
    /* image query on un-aligned contributions: cosine of partial sums */
    float probe[2 * 2] = {0, 1, 100, 100};
    ASSERT_EQ(vit_retrieve_image(ctx, al, 4, 2, 2, comps, 1, probe, s), VIT_OK);
    ASSERT_NEAR(s[0], 0, 1e-12);
    ASSERT_EQ(vit_retrieve_image(ctx, al, 4, 2, 2, both, 2, probe, s), VIT_OK);
    ASSERT_NEAR(s[0], (100 * 1 + 101 * 9) / (sqrt(100 * 100 + 101 * 101) * sqrt(1 + 81)), 1e-9);
    /* property scores: v_i(c) - max(0, max_{j != i} v_j(c)) */
    double v[3 * 2] = {0.9, 0.1, 0.2, -0.5, 0.5, 0.05};
    double ps[2];
    vit_property_scores(v, 3, 2, 0, ps);
    ASSERT_NEAR(ps[0], 0.4, 1e-12);
    ASSERT_NEAR(ps[1], 0.05, 1e-12);
    double ties[5] = {1, 3, 3, NAN, 2};
    int o5[5];
    vit_rank_desc(ties, 5, o5);
    ASSERT_EQ(o5[0], 1); ASSERT_EQ(o5[1], 2); ASSERT_EQ(o5[2], 4); ASSERT_EQ(o5[3], 0); ASSERT_EQ(o5[4], 3);
    vit_ctx_free(ctx);
    return 0;
}

TESTS {
    T(align_recovers_known_maps_and_beats_one_shared_map),
    T(align_orthogonality_term_pulls_maps_to_orthonormal_columns),
    T(align_early_stopping_stops_and_keeps_the_best_step),
    T(align_checkpoint_resumes_bit_for_bit_and_refuses_another_run),
    T(aligner_identity_save_load_and_wrong_dimensions),
    T(score_feature_equals_the_reference_variance_attributed),
    T(variance_explained_equals_the_reference),
    T(textspan_picks_the_reference_texts),
    T(spearman_on_known_rankings),
    T(validate_agrees_when_the_components_are_clip_itself),
    T(retrieval_ranks_by_the_chosen_components),
};

int main(int argc, char **argv) { return check_main(argc, argv); }
