/* tests/test_apps.c — the application library calls: ablation arithmetic on
 * a trained model (ablating nothing gives its logits, zero-ablating every
 * component gives zero, mean-ablating every one gives the mean logits), the
 * separation score, a probe on separable data, the patch grid and pooled
 * token read off the graphs of several architectures, map resizing and the
 * segmentation metrics on known masks. */
#include "check.h"
#include "support.h"
#include "vit.h"

static cJSON *toy_set(void) {
    char *txt = tst_slurp("examples/toy/deit_toy.json");
    cJSON *j = txt ? cJSON_Parse(txt) : NULL;
    free(txt);
    return j;
}

/* the toy DeiT decomposed (logits, heads), bound, run on n images of the toy world test set */
static vit_model *toy_model(vit_ctx *ctx, cJSON *cfg, const ContribOpts *o, char *err, size_t errlen) {
    vit_model *m = tst_build(ctx, "archs/deit_tiny_patch16_224.vit", cJSON_GetObjectItem(cfg, "set"), o, err, errlen);
    vit_bind_opts bo = {0, 0};
    if (m && vit_model_bind(ctx, m, "examples/toy/deit_toy.safetensors", &bo)) {
        snprintf(err, errlen, "%s", vit_last_error(ctx));
        vit_model_free(m);
        return NULL;
    }
    return m;
}

TEST(ablating_nothing_gives_the_logits_and_everything_gives_zero_or_the_mean) {
    cJSON *cfg = toy_set();
    ASSERT(cfg);
    vit_ctx *ctx = vit_ctx_new();
    char err[1024];
    ContribOpts o = {.output = "logits", .split = {"head"}, .nsplit = 1};
    vit_model *m = toy_model(ctx, cfg, &o, err, sizeof err);
    if (!m) FAIL_AT("%s", err);
    int n = 4, ky = tst_out_index(m, "logits"), kc = tst_out_index(m, "contrib.logits"), no = vit_model_noutputs(m);
    int64_t in = vit_model_input_numel(m);
    float *x = malloc(sizeof(float) * (size_t)(in * n)), *outs[8] = {0};
    for (int64_t i = 0; i < in * n; i++) x[i] = (float)sin((double)i * 0.37) * 1.5f; /* four arbitrary inputs */
    for (int k = 0; k < no; k++) outs[k] = malloc(sizeof(float) * (size_t)(vit_model_output_numel(m, k) * n));
    ASSERT_EQ(vit_model_run(ctx, m, VIT_ENGINE_JIT, x, n, 1, outs), VIT_OK);
    int dim = (int)vit_model_output_numel(m, ky), nc = (int)(vit_model_output_numel(m, kc) / dim);
    ASSERT_EQ(dim, 2);
    ASSERT_EQ(nc, 1 + 4 * 3 + 4); /* init, 3 heads and an MLP per block */
    unsigned char none[17] = {0}, all[17];
    memset(all, 1, sizeof all);
    float res[8], mean[17 * 2] = {0}, ymean[2] = {0};
    vit_ablate(outs[ky], outs[kc], n, nc, dim, none, NULL, res);
    ASSERT(check_max_rel(res, outs[ky], n * dim) == 0);
    vit_ablate(outs[ky], outs[kc], n, nc, dim, all, NULL, res);
    for (int i = 0; i < n * dim; i++) ASSERT_NEAR(res[i], 0, 1e-5 * (1 + fabs(outs[ky][i])));
    for (int i = 0; i < n; i++)
        for (int c = 0; c < nc * dim; c++) mean[c] += outs[kc][(size_t)i * nc * dim + c] / (float)n;
    for (int i = 0; i < n; i++)
        for (int d = 0; d < dim; d++) ymean[d] += outs[ky][i * dim + d] / (float)n;
    vit_ablate(outs[ky], outs[kc], n, nc, dim, all, mean, res);
    for (int i = 0; i < n; i++)
        for (int d = 0; d < dim; d++) ASSERT_NEAR(res[i * dim + d], ymean[d], 1e-4);
    /* one component: exactly its contribution removed (zero) or swapped for its mean */
    unsigned char one[17] = {0};
    one[5] = 1;
    vit_ablate(outs[ky], outs[kc], n, nc, dim, one, mean, res);
    for (int i = 0; i < n; i++)
        for (int d = 0; d < dim; d++)
            ASSERT_NEAR(res[i * dim + d], outs[ky][i * dim + d] - outs[kc][((size_t)i * nc + 5) * dim + d] + mean[5 * dim + d], 1e-5);
    /* the pooled token is the class token; the grid 8 x 8 after it */
    int first, gh, gw;
    ASSERT_EQ(vit_model_token_grid(ctx, m, 65, &first, &gh, &gw), VIT_OK);
    ASSERT_EQ(first, 1);
    ASSERT_EQ(gh, 8);
    ASSERT_EQ(gw, 8);
    ASSERT_EQ(vit_model_output_token(m, "logits", 65), 0);
    ASSERT(vit_model_token_grid(ctx, m, 66, &first, &gh, &gw) == VIT_ERR_SHAPE);
    ASSERT_CONTAINS(vit_last_error(ctx), "no patch grid of 66 tokens");
    for (int k = 0; k < no; k++) free(outs[k]);
    free(x);
    vit_model_free(m);
    vit_ctx_free(ctx);
    cJSON_Delete(cfg);
    return 0;
}

/* the grid and pooled token of a golden architecture's tiny configuration */
static int grid_of(const char *arch, int *ntok, int *first, int *gh, int *gw, int *pooled) {
    char path[512];
    snprintf(path, sizeof path, "tests/golden/%s/config.json", arch);
    char *txt = tst_slurp(path);
    cJSON *cfg = txt ? cJSON_Parse(txt) : NULL;
    free(txt);
    if (!cfg) return -1;
    snprintf(path, sizeof path, "archs/%s.vit", arch);
    vit_ctx *ctx = vit_ctx_new();
    char err[1024];
    ContribOpts o = {.output = "repr", .split = {"head", "token"}, .nsplit = 2}; /* as heatmap and segment use them */
    vit_model *m = tst_build(ctx, path, cJSON_GetObjectItem(cfg, "set"), &o, err, sizeof err);
    int rc = -1;
    if (m) { /* the token count: the first tensor with a "tok" axis after the input */
        const struct IrGraph *g = vit_model_graph(m);
        for (int i = 0; i < g->n && rc; i++) {
            int k = ir_axis_find(&g->nodes[i].shape, "tok");
            if (k >= 0 && g->nodes[i].op == IR_OP_LAYERNORM) {
                *ntok = (int)g->nodes[i].shape.ax[k].size;
                rc = vit_model_token_grid(ctx, m, *ntok, first, gh, gw);
            }
        }
        *pooled = vit_model_output_token(m, "repr", *ntok);
    } else {
        fprintf(stderr, "  %s: %s\n", arch, err);
    }
    vit_model_free(m);
    vit_ctx_free(ctx);
    cJSON_Delete(cfg);
    return rc;
}

TEST(the_patch_grid_comes_from_the_graph_with_class_and_register_tokens_in_front) {
    int ntok, first, gh, gw, pooled;
    ASSERT_EQ(grid_of("vit_small_patch14_reg4_dinov2", &ntok, &first, &gh, &gw, &pooled), 0);
    ASSERT_EQ(first, 5); /* class token, 4 registers */
    ASSERT_EQ(gh, 4);    /* 56 px / 14 */
    ASSERT_EQ(gw, 4);
    ASSERT_EQ(ntok, 21);
    /* (the pooled token: where the simplifier has pruned the last block to the class token, nothing
     * selects it from all the tokens any more, and the answer is -1) */
    ASSERT(pooled == 0 || pooled == -1);
    ASSERT_EQ(grid_of("deit_tiny_patch16_224", &ntok, &first, &gh, &gw, &pooled), 0);
    ASSERT_EQ(first, 1);
    ASSERT_EQ(gh * gw + 1, ntok);
    return 0;
}

TEST(the_separation_score_finds_the_component_that_separates) {
    /* 40 images, 3 components of 2 dims: component 1 is +-1 by label, the others noise */
    float c[40 * 3 * 2], score[3];
    int lab[40];
    vit_ctx *ctx = vit_ctx_new();
    for (int i = 0; i < 40; i++) {
        lab[i] = i % 2;
        for (int k = 0; k < 6; k++) c[i * 6 + k] = (float)sin(i * 1.7 + k * 2.3);
        c[i * 6 + 2] += lab[i] ? 3.0f : -3.0f;
    }
    ASSERT_EQ(vit_separation(ctx, c, 40, 3, 2, lab, 2, score), VIT_OK);
    ASSERT(score[1] > 5 && score[0] < 0.5 && score[2] < 0.5);
    lab[3] = 7;
    ASSERT(vit_separation(ctx, c, 40, 3, 2, lab, 2, score) != VIT_OK);
    vit_ctx_free(ctx);
    return 0;
}

TEST(a_probe_learns_separable_data) {
    /* three classes, 90 points in 4 dims: class k sits at 5 e_k plus noise; feature 3 is constant */
    float x[90 * 4], w[3 * 4], b[3], l[90 * 3];
    int y[90];
    for (int i = 0; i < 90; i++) {
        y[i] = i % 3;
        for (int d = 0; d < 4; d++) x[i * 4 + d] = d == 3 ? 2.0f : (float)sin(i * 0.91 + d) + (d == y[i] ? 5.0f : 0) + 100;
    }
    vit_ctx *ctx = vit_ctx_new();
    ASSERT_EQ(vit_probe_train(ctx, x, y, 90, 4, 3, NULL, w, b), VIT_OK);
    vit_probe_apply(w, b, 3, 4, x, 90, l);
    int ok = 0;
    for (int i = 0; i < 90; i++) {
        int p = 0;
        for (int k = 1; k < 3; k++) p = l[i * 3 + k] > l[i * 3 + p] ? k : p;
        ok += p == y[i];
    }
    ASSERT_EQ(ok, 90);
    for (int k = 0; k < 3; k++) if (w[k * 4 + 3] != 0) FAIL_AT("w[%d][3] = %g", k, w[k * 4 + 3]);
    y[0] = 3;
    ASSERT(vit_probe_train(ctx, x, y, 90, 4, 3, NULL, w, b) != VIT_OK);
    ASSERT_CONTAINS(vit_last_error(ctx), "label 3 of row 0");
    vit_ctx_free(ctx);
    return 0;
}

TEST(segmentation_metrics_on_known_masks) {
    /* 4 pixels: mask 1 1 0 0 */
    unsigned char mask[4] = {1, 1, 0, 0};
    vit_seg_stats s = {0};
    const float perfect[4] = {2, 1.5f, -1, 0}; /* normalised 1, .75, 0, 0: mean .4375 -> 1 1 0 0 */
    vit_seg_add(&s, perfect, mask, 4);
    double pa, miou, fg, ap;
    vit_seg_result(&s, &pa, &miou, &fg, &ap);
    ASSERT_NEAR(pa, 1, 1e-12);
    ASSERT_NEAR(miou, 1, 1e-12);
    ASSERT_NEAR(fg, 1, 1e-12);
    ASSERT_NEAR(ap, 1, 1e-12);
    /* inverted scores: everything wrong; AP of the ranking 0 0 1 1 = (1/3 + 2/4) / 2 */
    vit_seg_stats t = {0};
    const float wrong[4] = {0, 0.1f, 1, 2};
    vit_seg_add(&t, wrong, mask, 4);
    vit_seg_result(&t, &pa, &miou, &fg, &ap);
    ASSERT_NEAR(pa, 0, 1e-12);
    ASSERT_NEAR(fg, 0, 1e-12);
    ASSERT_NEAR(ap, (1.0 / 3 + 2.0 / 4) / 2, 1e-12);
    /* accumulation over the two images; mAP the mean */
    vit_seg_add(&s, wrong, mask, 4);
    vit_seg_result(&s, &pa, &miou, &fg, &ap);
    ASSERT_NEAR(pa, 0.5, 1e-12);
    ASSERT_NEAR(fg, 2.0 / 6, 1e-12); /* fg: 2 + 0 of 2 + 4; bg the same */
    ASSERT_NEAR(miou, 2.0 / 6, 1e-12);
    ASSERT_NEAR(ap, (1 + (1.0 / 3 + 2.0 / 4) / 2) / 2, 1e-12);
    return 0;
}

TEST(maps_resize_bilinearly_with_clamped_edges) {
    const float m[4] = {0, 1, 2, 3}; /* 2 x 2 */
    float o[16];
    vit_map_resize(m, 2, 2, o, 4, 4);
    ASSERT_NEAR(o[0], 0, 1e-6);         /* clamped corner */
    ASSERT_NEAR(o[1], 0.25, 1e-6);      /* x = 0.25 */
    ASSERT_NEAR(o[2], 0.75, 1e-6);
    ASSERT_NEAR(o[3], 1, 1e-6);
    ASSERT_NEAR(o[15], 3, 1e-6);
    ASSERT_NEAR(o[5], 0.25 + 2 * 0.25, 1e-6);
    return 0;
}

TESTS {
    T(ablating_nothing_gives_the_logits_and_everything_gives_zero_or_the_mean),
    T(the_patch_grid_comes_from_the_graph_with_class_and_register_tokens_in_front),
    T(the_separation_score_finds_the_component_that_separates),
    T(a_probe_learns_separable_data),
    T(segmentation_metrics_on_known_masks),
    T(maps_resize_bilinearly_with_clamped_edges),
};

int main(int argc, char **argv) { return check_main(argc, argv); }
