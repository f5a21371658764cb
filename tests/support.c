/* tests/support.c — see support.h. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st.h"

char *tst_slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) { free(b); fclose(f); return NULL; }
    b[n] = 0;
    fclose(f);
    return b;
}

float *tst_read_tensor(const char *path, const char *name, int64_t *numel) {
    char err[1024];
    StFile *f = NULL;
    if (st_open(path, &f, err, sizeof err)) { fprintf(stderr, "  %s\n", err); return NULL; }
    int64_t k = st_find(f, name);
    if (k < 0) { st_close(f); return NULL; }
    *numel = st_numel(&f->t[k]);
    float *b = malloc((size_t)*numel * sizeof(float) + 4);
    if (b && st_read_f32(f, k, b, err, sizeof err)) { free(b); b = NULL; }
    st_close(f);
    return b;
}

int tst_sets(cJSON *set, ConfigSet *sets, char (*vals)[64], int max) {
    int n = 0;
    cJSON *it;
    cJSON_ArrayForEach(it, set) {
        if (n == max) break;
        if (cJSON_IsNumber(it)) snprintf(vals[n], 64, "%lld", (long long)it->valuedouble);
        else snprintf(vals[n], 64, "%s", cJSON_GetStringValue(it) ? cJSON_GetStringValue(it) : "");
        sets[n] = (ConfigSet){it->string, vals[n]};
        n++;
    }
    return n;
}

vit_model *tst_build(vit_ctx *ctx, const char *spec, cJSON *set, const ContribOpts *o, char *err, size_t errlen) {
    Ctx c;
    ctx_init(&c);
    static const char *dirs[] = {"stdlib"};
    c.search = dirs;
    c.nsearch = 1;
    FILE *devnull = fopen("/dev/null", "w");
    if (devnull) c.diag_out = devnull;
    ConfigSet sets[32];
    char vals[32][64];
    int n = tst_sets(set, sets, vals, 32);
    vit_model *m = NULL;
    void *bc = NULL;
    size_t bclen = 0;
    IrGraph *g = elab_model(&c, spec, sets, n), *lg = NULL;
    if (!g) { snprintf(err, errlen, "%s: elaboration failed", spec); goto done; }
    if (o && pipeline_decompose(g, o, err, errlen)) goto done;
    lg = pipeline_finish(g, &bc, &bclen, err, errlen);
    if (!lg) goto done;
    if (vit_model_from_graph(ctx, lg, bc, bclen, &m)) { snprintf(err, errlen, "%s", vit_last_error(ctx)); m = NULL; }
    lg = NULL;
    bc = NULL;
done:
    free(bc);
    ir_graph_free(lg);
    ir_graph_free(g);
    ctx_free(&c);
    if (devnull) fclose(devnull);
    return m;
}

int tst_out_index(const vit_model *m, const char *name) {
    for (int k = 0; k < vit_model_noutputs(m); k++)
        if (!strcmp(vit_model_output_name(m, k), name)) return k;
    return -1;
}
