/* tests/test_text.c — the CLIP text towers against OpenCLIP.
 * For each tests/golden_text/NAME/config.json (made by tests/reference/
 * make_goldens_text.py): compile archs/ARCH.vit with the golden's config
 * overrides, run the reference token ids ("image" [N, ctx], ids as floats)
 * on both engines and compare `embedding` with CLIP.encode_text (≤ 1e-4
 * relative) and the engines with each other (≤ 1e-5).  The causal mask must
 * have folded into a constant: no comparison or select op is left in the
 * graph.  With CLIP's vocabulary at ../shared/data/clip/ (skipped when
 * absent): vit_embed_texts on the `_vocab` golden equals OpenCLIP's
 * tokenizer + encode_text, normalised, and its prompt-template average equals
 * the procedure computed here from single-text embeddings. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpe.h"
#include "check.h"
#include "support.h"
#include "pipeline.h"
#include "st.h"
#include "vit.h"
#include "vitc.h"

/* Elaborate spec with the golden's overrides, check the mask folded, and
 * build a runnable model; NULL after printing why. */
static vit_model *build(vit_ctx *ctx, const char *spec, cJSON *set) {
    Ctx c;
    ctx_init(&c);
    static const char *dirs[] = {"stdlib"};
    c.search = dirs;
    c.nsearch = 1;
    ConfigSet sets[32];
    char vals[32][64];
    int n = tst_sets(set, sets, vals, 32);
    vit_model *m = NULL;
    char err[1024];
    void *bc = NULL;
    size_t bclen = 0;
    IrGraph *g = elab_model(&c, spec, sets, n), *lg = NULL;
    if (!g) goto done;
    for (int i = 0; i < g->n; i++)
        if (g->nodes[i].op == IR_OP_CMP || g->nodes[i].op == IR_OP_WHERE) {
            fprintf(stderr, "  %s: node %d (%s) was not folded into a constant\n", spec, i, ir_op_info[g->nodes[i].op].name);
            goto done;
        }
    lg = pipeline_finish(g, &bc, &bclen, err, sizeof err);
    if (!lg) { fprintf(stderr, "  %s: %s\n", spec, err); goto done; }
    if (vit_model_from_graph(ctx, lg, bc, bclen, &m)) { fprintf(stderr, "  %s: %s\n", spec, vit_last_error(ctx)); m = NULL; }
done:
    ir_graph_free(g);
    ctx_free(&c);
    return m;
}

static int check_dir(const char *dir, int *checked) {
    char path[1024];
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *txt = tst_slurp(path);
    if (!txt) return 0;
    cJSON *cfg = cJSON_Parse(txt);
    free(txt);
    if (!cfg) FAIL_AT("%s: bad JSON", path);
    const char *arch = cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "arch"));
    char spec[512], wpath[1024], ipath[1024], epath[1024];
    snprintf(spec, sizeof spec, "archs/%s.vit", arch ? arch : "?");
    snprintf(wpath, sizeof wpath, "%s/weights.safetensors", dir);
    snprintf(ipath, sizeof ipath, "%s/input.safetensors", dir);
    snprintf(epath, sizeof epath, "%s/expected.safetensors", dir);
    vit_ctx *ctx = vit_ctx_new();
    vit_model *m = build(ctx, spec, cJSON_GetObjectItem(cfg, "set"));
    float *input = NULL, *exp_ = NULL, *outs[2] = {NULL, NULL};
    int bad = 1;
    vit_bind_opts bo = {0, 0};
    if (!m) goto done;
    if (vit_model_bind(ctx, m, wpath, &bo)) { fprintf(stderr, "  %s: %s\n", dir, vit_last_error(ctx)); goto done; }
    if (vit_model_noutputs(m) != 1 || strcmp(vit_model_output_name(m, 0), "embedding")) {
        fprintf(stderr, "  %s: the model's one output should be 'embedding'\n", dir);
        goto done;
    }
    int64_t nin = 0, ne = 0;
    input = tst_read_tensor(ipath, "image", &nin);
    if (!input || nin % vit_model_input_numel(m)) { fprintf(stderr, "  %s: bad input ids\n", dir); goto done; }
    int n = (int)(nin / vit_model_input_numel(m));
    int64_t on = vit_model_output_numel(m, 0) * n;
    for (int e = 0; e < 2; e++) {
        outs[e] = malloc((size_t)on * sizeof(float));
        if (vit_model_run(ctx, m, e ? VIT_ENGINE_INTERP : VIT_ENGINE_JIT, input, n, 2, &outs[e])) {
            fprintf(stderr, "  %s: %s\n", dir, vit_last_error(ctx));
            goto done;
        }
    }
    exp_ = tst_read_tensor(epath, "embedding", &ne);
    if (!exp_ || ne != on) { fprintf(stderr, "  %s: reference has no 'embedding' of %lld values\n", dir, (long long)on); goto done; }
    double rj = check_max_rel(outs[0], exp_, on), ri = check_max_rel(outs[1], exp_, on), rji = check_max_rel(outs[0], outs[1], on);
    printf("# %-34s %d sequences  jit %.2e  interp %.2e  jit-vs-interp %.2e\n", dir + 18, n, rj, ri, rji);
    (*checked)++;
    bad = rj > 1e-4 || ri > 1e-4 || rji > 1e-5;
done:
    free(exp_);
    free(outs[0]);
    free(outs[1]);
    free(input);
    vit_model_free(m);
    vit_ctx_free(ctx);
    cJSON_Delete(cfg);
    if (bad) FAIL_AT("%s does not match its reference", dir);
    return 0;
}

TEST(every_text_tower_matches_openclip) {
    DIR *d = opendir("tests/golden_text");
    if (!d) FAIL_AT("no tests/golden_text directory (run from the repository root)");
    struct dirent *de;
    char *names[64];
    int n = 0, failed = 0, checked = 0;
    while ((de = readdir(d)) && n < 64)
        if (de->d_name[0] != '.') names[n++] = strdup(de->d_name);
    closedir(d);
    for (int i = 0; i < n; i++) {
        char dir[512];
        snprintf(dir, sizeof dir, "tests/golden_text/%s", names[i]);
        failed += check_dir(dir, &checked);
        free(names[i]);
    }
    printf("# %d text goldens checked\n", checked);
    if (checked < 3) FAIL_AT("only %d text goldens checked", checked);
    return failed ? 1 : 0;
}

#define VOCAB "../shared/data/clip/bpe_simple_vocab_16e6.txt.gz"
#define VGOLD "tests/golden_text/openclip_vit_b_16_text_vocab"

/* The _vocab golden's model, bound, and its config; NULL after printing why. */
static vit_model *vocab_model(vit_ctx *ctx, const char *dir, cJSON **cfg) {
    char path[512];
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *txt = tst_slurp(path);
    *cfg = txt ? cJSON_Parse(txt) : NULL;
    free(txt);
    if (!*cfg) { fprintf(stderr, "  %s: unreadable\n", path); return NULL; }
    char spec[512];
    snprintf(spec, sizeof spec, "archs/%s.vit", cJSON_GetStringValue(cJSON_GetObjectItem(*cfg, "arch")));
    vit_model *m = build(ctx, spec, cJSON_GetObjectItem(*cfg, "set"));
    snprintf(path, sizeof path, "%s/weights.safetensors", dir);
    vit_bind_opts bo = {0, 0};
    if (m && vit_model_bind(ctx, m, path, &bo)) { fprintf(stderr, "  %s\n", vit_last_error(ctx)); vit_model_free(m); m = NULL; }
    return m;
}

static int strings_of(cJSON *a, const char **out, int max) {
    int n = 0;
    cJSON *it;
    cJSON_ArrayForEach(it, a) if (n < max) out[n++] = cJSON_GetStringValue(it);
    return n;
}

TEST(embed_texts_match_openclip_tokenizer_and_template_average) {
    if (access(VOCAB, R_OK)) SKIP("no CLIP vocabulary at %s", VOCAB);
    char err[512];
    BpeTok *tok = NULL;
    if (bpe_load(VOCAB, &tok, err, sizeof err)) FAIL_AT("%s", err);
    vit_ctx *ctx = vit_ctx_new();
    cJSON *cfg = NULL;
    vit_model *m = vocab_model(ctx, VGOLD, &cfg);
    if (!m) FAIL_AT("cannot build the %s model", VGOLD);
    const char *texts[16], *tpls[16];
    int nt = strings_of(cJSON_GetObjectItem(cfg, "texts"), texts, 16), np = strings_of(cJSON_GetObjectItem(cfg, "templates"), tpls, 16);
    int64_t dim = vit_model_output_numel(m, 0), ne = 0;
    ASSERT(nt >= 4 && np >= 2);
    float *plain = calloc((size_t)(nt * dim), sizeof(float)), *avg[2], *one = calloc((size_t)(np * dim), sizeof(float));
    for (int e = 0; e < 2; e++) {
        vit_text_opts o = {e ? VIT_ENGINE_INTERP : VIT_ENGINE_JIT, 2};
        avg[e] = calloc((size_t)(nt * dim), sizeof(float));
        if (vit_embed_texts(ctx, m, tok, texts, nt, tpls, np, &o, avg[e])) FAIL_AT("%s", vit_last_error(ctx));
    }
    if (vit_embed_texts(ctx, m, tok, texts, nt, NULL, 0, NULL, plain)) FAIL_AT("%s", vit_last_error(ctx));
    float *ref_plain = tst_read_tensor(VGOLD "/expected.safetensors", "text_embeddings", &ne);
    ASSERT(ref_plain && ne == nt * dim);
    float *ref_avg = tst_read_tensor(VGOLD "/expected.safetensors", "template_embeddings", &ne);
    ASSERT(ref_avg && ne == nt * dim);
    double rp = check_max_rel(plain, ref_plain, (long)(nt * dim)), ra = check_max_rel(avg[0], ref_avg, (long)(nt * dim));
    double rji = check_max_rel(avg[0], avg[1], (long)(nt * dim)), rproc = 0;
    /* the procedure, by hand: format, embed one by one (normalised rows), average, normalise */
    for (int i = 0; i < nt; i++) {
        const char *fs[16];
        char buf[16][1024];
        for (int j = 0; j < np; j++) {
            const char *p = strstr(tpls[j], "{}");
            snprintf(buf[j], sizeof buf[j], "%.*s%s%s", (int)(p - tpls[j]), tpls[j], texts[i], p + 2);
            fs[j] = buf[j];
        }
        if (vit_embed_texts(ctx, m, tok, fs, np, NULL, 0, NULL, one)) FAIL_AT("%s", vit_last_error(ctx));
        double mean[64] = {0}, nrm = 0;
        ASSERT(dim <= 64);
        for (int j = 0; j < np; j++) {
            double r = 0;
            for (int64_t d = 0; d < dim; d++) r += (double)one[j * dim + d] * one[j * dim + d];
            ASSERT_NEAR(r, 1.0, 1e-6); /* each row normalised */
            for (int64_t d = 0; d < dim; d++) mean[d] += one[j * dim + d] / np;
        }
        for (int64_t d = 0; d < dim; d++) nrm += mean[d] * mean[d];
        for (int64_t d = 0; d < dim; d++) {
            double x = fabs(mean[d] / sqrt(nrm) - avg[0][i * dim + d]);
            if (x > rproc) rproc = x;
        }
    }
    printf("# tokenizer + encode vs OpenCLIP %.2e, template average vs OpenCLIP %.2e, vs by hand %.2e, jit-vs-interp %.2e\n", rp,
           ra, rproc, rji);
    ASSERT(rp <= 1e-4 && ra <= 1e-4 && rproc <= 1e-6 && rji <= 1e-5);
    for (int e = 0; e < 2; e++) free(avg[e]);
    free(plain);
    free(one);
    free(ref_plain);
    free(ref_avg);
    vit_model_free(m);
    cJSON_Delete(cfg);
    vit_ctx_free(ctx);
    bpe_free(tok);
    return 0;
}

TEST(embed_texts_refuses_what_does_not_fit) {
    if (access(VOCAB, R_OK)) SKIP("no CLIP vocabulary at %s", VOCAB);
    char err[512];
    BpeTok *tok = NULL;
    if (bpe_load(VOCAB, &tok, err, sizeof err)) FAIL_AT("%s", err);
    vit_ctx *ctx = vit_ctx_new();
    cJSON *cfg = NULL, *cfg2 = NULL;
    vit_model *m = vocab_model(ctx, VGOLD, &cfg), *small = vocab_model(ctx, "tests/golden_text/openclip_vit_b_16_text", &cfg2);
    if (!m || !small) FAIL_AT("cannot build the models");
    float out[64 * 4];
    const char *bad[] = {"fine", "caf\xc3"}, *ok[] = {"a cat"}, *notpl[] = {"a photo"};
    ASSERT_EQ(vit_embed_texts(ctx, small, tok, ok, 1, NULL, 0, NULL, out), VIT_ERR_SHAPE);
    ASSERT_CONTAINS(vit_last_error(ctx), "the vocabulary has 49408 tokens but the model's token table 'token_embedding.weight' has 500 rows");
    ASSERT_EQ(vit_embed_texts(ctx, m, tok, bad, 2, NULL, 0, NULL, out), VIT_ERR_ARG);
    ASSERT_CONTAINS(vit_last_error(ctx), "text 2 (\"caf\\xc3\"): invalid UTF-8");
    ASSERT_EQ(vit_embed_texts(ctx, m, tok, ok, 1, notpl, 1, NULL, out), VIT_ERR_ARG);
    ASSERT_CONTAINS(vit_last_error(ctx), "template 1 (\"a photo\") has no {}");
    ASSERT_EQ(vit_embed_texts(ctx, m, tok, ok, 0, NULL, 0, NULL, out), VIT_OK);
    vit_model_free(m);
    vit_model_free(small);
    cJSON_Delete(cfg);
    cJSON_Delete(cfg2);
    vit_ctx_free(ctx);
    bpe_free(tok);
    return 0;
}

TESTS {
    T(every_text_tower_matches_openclip),
    T(embed_texts_match_openclip_tokenizer_and_template_average),
    T(embed_texts_refuses_what_does_not_fit),
};

int main(int argc, char **argv) { return check_main(argc, argv); }
