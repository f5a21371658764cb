/* tests/test_directions.c — directions mode (compiler/project.c): on every
 * arch of tests/golden, at head and head+token level, each component's
 * projections on k = 16 random directions equal the materialised
 * contributions projected by hand (<= 1e-5 relative), the interpreter equals
 * the JIT, and for the plain ViT family per token no node of the module holds
 * materialised contributions. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "support.h"
#include "pipeline.h"
#include "vit.h"

static void rnd(float *p, int n, unsigned *s) {
    for (int i = 0; i < n; i++) { *s = *s * 1103515245u + 12345u; p[i] = ((float)((*s >> 8) & 0xffff) / 65536.0f - 0.5f); }
}

/* Run model m (bound) on n images with engine e; returns output `name` (malloc'd) or NULL. */
static float *run_output(vit_ctx *ctx, vit_model *m, int e, const float *input, int n, const char *name) {
    int kc = tst_out_index(m, name), no = vit_model_noutputs(m);
    if (kc < 0) return NULL;
    float *outs[8] = {0};
    for (int q = 0; q < no; q++) outs[q] = malloc((size_t)(vit_model_output_numel(m, q) * n) * sizeof(float));
    float *r = NULL;
    if (!vit_model_run(ctx, m, e ? VIT_ENGINE_INTERP : VIT_ENGINE_JIT, input, n, 1, outs)) { r = outs[kc]; outs[kc] = NULL; }
    else fprintf(stderr, "  %s\n", vit_last_error(ctx));
    for (int q = 0; q < no; q++) free(outs[q]);
    return r;
}

/* Nodes of the module holding materialised contributions: a comp axis of more than one
 * component together with every axis of the output.  Returns the largest such numel. */
static int64_t materialised(const vit_model *m, const char *oname) {
    const IrGraph *g = vit_model_graph(m);
    int o = ir_output_find(g, oname);
    int64_t big = 0;
    for (int i = 0; o >= 0 && i < g->n; i++) {
        const IrShape *s = &g->nodes[i].shape;
        int c = ir_axis_find(s, "comp");
        bool all = c >= 0 && s->ax[c].size > 1;
        for (int a = 0; all && a < g->nodes[o].shape.rank; a++) all = ir_axis_find(s, g->nodes[o].shape.ax[a].name) >= 0;
        if (all && ir_numel(s) > big) big = ir_numel(s);
    }
    return big;
}

/* One arch, one split: directions mode (JIT and interpreter) against the materialised
 * contributions projected by hand.  0 when within 1e-5 relative. */
static int check_directions(const char *dir, cJSON *cfg, const ContribOpts *base, bool want_lean) {
    char spec[600], wpath[600], ipath[600];
    snprintf(spec, sizeof spec, "archs/%s.vit", cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "arch")));
    snprintf(wpath, sizeof wpath, "tests/golden/%s/weights.safetensors", dir);
    snprintf(ipath, sizeof ipath, "tests/golden/%s/input.safetensors", dir);
    int64_t nin = 0, k = 16;
    float *input = tst_read_tensor(ipath, "image", &nin), *mat = NULL, *proj[2] = {0}, *D = NULL;
    int rc = 1, n = 0;
    int64_t dim = 0, nc = 0, lean = -1;
    for (int mode = 0; mode < 2; mode++) {
        ContribOpts o = *base;
        o.directions = mode ? (int)k : 0;
        vit_ctx *ctx = vit_ctx_new();
        char err[1024];
        vit_model *m = tst_build(ctx, spec, cJSON_GetObjectItem(cfg, "set"), &o, err, sizeof err);
        vit_bind_opts bo = {0, 0};
        if (!m || vit_model_bind(ctx, m, wpath, &bo)) {
            fprintf(stderr, "  %s: %s\n", dir, m ? vit_last_error(ctx) : err);
            vit_model_free(m);
            vit_ctx_free(ctx);
            goto done;
        }
        n = (int)(nin / vit_model_input_numel(m));
        if (!mode) {
            dim = vit_model_output_numel(m, tst_out_index(m, "repr"));
            nc = vit_model_output_numel(m, tst_out_index(m, "contrib.repr")) / dim;
            mat = run_output(ctx, m, 0, input, n, "contrib.repr");
            D = malloc((size_t)(k * dim) * sizeof(float));
            unsigned sd = 3;
            rnd(D, (int)(k * dim), &sd);
        } else {
            lean = materialised(m, "repr");
            if (vit_model_set_param(ctx, m, "__directions", D, k * dim)) fprintf(stderr, "  %s: %s\n", dir, vit_last_error(ctx));
            else {
                proj[0] = run_output(ctx, m, 0, input, n, "proj.repr");
                proj[1] = run_output(ctx, m, 1, input, 1, "proj.repr"); /* the interpreter is slow: one image */
            }
        }
        vit_model_free(m);
        vit_ctx_free(ctx);
    }
    if (!mat || !proj[0] || !proj[1]) goto done;
    /* project the materialised contributions by hand */
    float *want = malloc((size_t)(n * nc * k) * sizeof(float));
    for (int64_t i = 0; i < n * nc; i++)
        for (int64_t j = 0; j < k; j++) {
            double s = 0;
            for (int64_t d = 0; d < dim; d++) s += (double)mat[i * dim + d] * D[j * dim + d];
            want[i * k + j] = (float)s;
        }
    double r = check_max_rel(proj[0], want, n * nc * k), ri = check_max_rel(proj[1], proj[0], nc * k);
    printf("# %-40s %-10s %5lld components x %lld directions: jit %.2e, interp-vs-jit %.2e, materialised %lld floats\n", dir,
           base->nsplit > 1 ? "head,token" : "head", (long long)nc, (long long)k, r, ri, (long long)lean);
    rc = r > 1e-5 || ri > 1e-5 || (want_lean && lean > 0);
    if (want_lean && lean > 0) fprintf(stderr, "  %s: contributions still materialised (%lld floats)\n", dir, (long long)lean);
    free(want);
done:
    free(input); free(mat); free(proj[0]); free(proj[1]); free(D);
    return rc;
}

TEST(directions_mode_equals_projecting_materialised_contributions) {
    DIR *d = opendir("tests/golden");
    if (!d) FAIL_AT("no tests/golden (run from the repository root)");
    struct dirent *de;
    int checked = 0, failed = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char path[600];
        snprintf(path, sizeof path, "tests/golden/%s/config.json", de->d_name);
        char *txt = tst_slurp(path);
        if (!txt) continue;
        cJSON *cfg = cJSON_Parse(txt);
        free(txt);
        /* per token, the plain ViT family must not materialise any contribution (at head level
         * a few tiny ones are, where a direction tensor would be larger than they are) */
        const char *arch = cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "arch"));
        bool plain = !strncmp(arch, "deit_", 5) || (!strncmp(arch, "vit_", 4) && !strstr(arch, "siglip"));
        for (int md = 0; md < 2; md++) {
            ContribOpts o = {.output = "repr", .split = {"head", "token"}, .nsplit = md + 1};
            failed += check_directions(de->d_name, cfg, &o, plain && md == 1);
            checked++;
        }
        cJSON_Delete(cfg);
    }
    closedir(d);
    if (checked < 26) FAIL_AT("only %d decompositions checked", checked);
    return failed ? 1 : 0;
}

TESTS {
    T(directions_mode_equals_projecting_materialised_contributions),
};

int main(int argc, char **argv) { return check_main(argc, argv); }
