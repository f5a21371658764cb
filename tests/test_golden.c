/* tests/test_golden.c — every arch against its reference goldens.
 * For each tests/golden/NAME/config.json (made by tests/reference/
 * make_goldens.py from timm / OpenCLIP): compile archs/ARCH.vit with the
 * golden's config overrides, run the reference input on both engines, and
 * compare with the reference outputs (≤ 1e-4 relative), the engines with
 * each other (≤ 1e-5), and the JPEG path (timm's transform + forward, ≤ 2e-3). */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "support.h"
#include "codegen.h"
#include "img.h"
#include "st.h"
#include "vit.h"
#include "vitc.h"

/* Compile spec with overrides into a temporary module file; 0 ok. */
static int compile_to(const char *spec, cJSON *set, const char *out) {
    Ctx c;
    ctx_init(&c);
    static const char *dirs[] = {"stdlib"};
    c.search = dirs;
    c.nsearch = 1;
    ConfigSet sets[32];
    char vals[32][64];
    int n = tst_sets(set, sets, vals, 32);
    int rc = -1;
    char err[1024];
    void *bc = NULL;
    size_t bclen = 0;
    IrGraph *g = elab_model(&c, spec, sets, n), *lg = NULL;
    if (!g) goto done;
    lg = lower_contractions(g, err, sizeof err);
    if (!lg) { fprintf(stderr, "  lower: %s\n", err); goto done; }
    plan_memory(lg);
    if (codegen_emit(lg, &bc, &bclen, err, sizeof err)) { fprintf(stderr, "  codegen: %s\n", err); goto done; }
    if (ir_module_write(out, lg, bc, bclen, err, sizeof err)) { fprintf(stderr, "  %s\n", err); goto done; }
    rc = 0;
done:
    free(bc);
    ir_graph_free(lg);
    ir_graph_free(g);
    ctx_free(&c);
    return rc;
}

static int check_dir(const char *dir, int *checked) {
    char path[1024], mod[256];
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *txt = tst_slurp(path);
    if (!txt) return 0;
    cJSON *cfg = cJSON_Parse(txt);
    free(txt);
    if (!cfg) FAIL_AT("%s: bad JSON", path);
    const char *arch = cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "arch"));
    char spec[512];
    snprintf(spec, sizeof spec, "archs/%s.vit", arch ? arch : "?");
    snprintf(mod, sizeof mod, "/tmp/vit-golden-%d.vitm", (int)getpid());
    int bad = 0;
    if (compile_to(spec, cJSON_GetObjectItem(cfg, "set"), mod)) { fprintf(stderr, "  %s: compile failed\n", dir); cJSON_Delete(cfg); return 1; }
    vit_ctx *ctx = vit_ctx_new();
    vit_model *m = NULL;
    char wpath[1024], ipath[1024], epath[1024], jpath[1024];
    snprintf(wpath, sizeof wpath, "%s/weights.safetensors", dir);
    snprintf(ipath, sizeof ipath, "%s/input.safetensors", dir);
    snprintf(epath, sizeof epath, "%s/expected.safetensors", dir);
    snprintf(jpath, sizeof jpath, "%s/jpeg.safetensors", dir);
    vit_bind_opts bo = {0, 0};
    if (vit_model_load(ctx, mod, &m) || vit_model_bind(ctx, m, wpath, &bo)) {
        fprintf(stderr, "  %s: %s\n", dir, vit_last_error(ctx));
        bad = 1;
        goto done;
    }
    int64_t nin = 0;
    float *input = tst_read_tensor(ipath, "image", &nin);
    int n = (int)(nin / vit_model_input_numel(m));
    int no = vit_model_noutputs(m);
    float *outs[2][8] = {{0}};
    for (int e = 0; e < 2; e++) {
        for (int k = 0; k < no; k++) outs[e][k] = malloc((size_t)(vit_model_output_numel(m, k) * n) * sizeof(float));
        if (vit_model_run(ctx, m, e ? VIT_ENGINE_INTERP : VIT_ENGINE_JIT, input, n, 2, outs[e])) {
            fprintf(stderr, "  %s: %s\n", dir, vit_last_error(ctx));
            bad = 1;
        }
    }
    for (int k = 0; k < no && !bad; k++) {
        int64_t ne = 0;
        const char *name = vit_model_output_name(m, k);
        float *exp_ = tst_read_tensor(epath, name, &ne);
        int64_t on = vit_model_output_numel(m, k) * n;
        if (!exp_ || ne != on) { fprintf(stderr, "  %s: reference has no '%s' of %lld values\n", dir, name, (long long)on); bad = 1; free(exp_); break; }
        double rj = check_max_rel(outs[0][k], exp_, on), ri = check_max_rel(outs[1][k], exp_, on);
        double rji = check_max_rel(outs[0][k], outs[1][k], on);
        printf("# %-40s %-7s jit %.2e  interp %.2e  jit-vs-interp %.2e\n", dir + 13, name, rj, ri, rji);
        if (rj > 1e-4 || ri > 1e-4 || rji > 1e-5) bad = 1;
        free(exp_);
        (*checked)++;
    }
    /* JPEG: preprocessing included */
    cJSON *jp = cJSON_GetObjectItem(cfg, "jpeg");
    const char *image = jp ? cJSON_GetStringValue(cJSON_GetObjectItem(jp, "image")) : NULL;
    if (image && !bad) {
        const IrGraph *g = vit_model_graph(m);
        float *x = malloc((size_t)vit_model_input_numel(m) * sizeof(float));
        char err[1024];
        if (img_load_tensor(image, &g->pre, x, err, sizeof err)) { fprintf(stderr, "  %s\n", err); bad = 1; }
        float *o1[8] = {0};
        for (int k = 0; k < no; k++) o1[k] = malloc((size_t)vit_model_output_numel(m, k) * sizeof(float));
        if (!bad && vit_model_run(ctx, m, VIT_ENGINE_JIT, x, 1, 1, o1)) bad = 1;
        for (int k = 0; k < no && !bad; k++) {
            int64_t ne = 0;
            float *exp_ = tst_read_tensor(jpath, vit_model_output_name(m, k), &ne);
            if (!exp_ || ne != vit_model_output_numel(m, k)) { bad = 1; free(exp_); break; }
            double r = check_max_rel(o1[k], exp_, ne);
            printf("# %-40s %-7s from %s: %.2e\n", dir + 13, vit_model_output_name(m, k), image, r);
            if (r > 2e-3) bad = 1;
            free(exp_);
        }
        for (int k = 0; k < no; k++) free(o1[k]);
        free(x);
    }
    for (int e = 0; e < 2; e++) for (int k = 0; k < no; k++) free(outs[e][k]);
    free(input);
done:
    vit_model_free(m);
    vit_ctx_free(ctx);
    unlink(mod);
    cJSON_Delete(cfg);
    if (bad) FAIL_AT("%s does not match its reference", dir);
    return 0;
}

TEST(every_arch_matches_its_reference_golden) {
    DIR *d = opendir("tests/golden");
    if (!d) FAIL_AT("no tests/golden directory (run from the repository root)");
    struct dirent *de;
    char *names[256];
    int n = 0, failed = 0, checked = 0;
    while ((de = readdir(d)) && n < 256)
        if (de->d_name[0] != '.') names[n++] = strdup(de->d_name);
    closedir(d);
    for (int i = 0; i < n; i++) {
        char dir[512];
        snprintf(dir, sizeof dir, "tests/golden/%s", names[i]);
        failed += check_dir(dir, &checked);
        free(names[i]);
    }
    printf("# %d outputs checked\n", checked);
    if (checked < 13) FAIL_AT("only %d outputs checked", checked);
    return failed ? 1 : 0;
}

TESTS { T(every_arch_matches_its_reference_golden) };

int main(int argc, char **argv) { return check_main(argc, argv); }
