/* compiler/pipeline.c — the passes after elaboration, in order, shared by
 * vitc, vitrun (which derives decompositions on demand) and the tests:
 * decomposition (optional) → simplification → projection on directions
 * (when asked) → contraction lowering → memory plan → LLVM IR. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"
#include "project.h"
#include "simplify.h"

IrGraph *pipeline_finish(const IrGraph *g, void **bc, size_t *bclen, char *err, size_t errlen) {
    *bc = NULL;
    *bclen = 0;
    IrGraph *sg = simplify_graph(g, err, errlen), *lg = NULL;
    /* projections on directions: carried back to where the terms are made, then dead nodes dropped */
    int np = sg ? project_push(sg, err, errlen) : 0;
    if (np > 0) {
        IrGraph *s2 = simplify_graph(sg, err, errlen);
        ir_graph_free(sg);
        sg = s2;
    }
    if (sg && np >= 0) lg = lower_contractions(sg, err, errlen);
    ir_graph_free(sg);
    if (!lg) return NULL;
    plan_memory(lg);
    if (codegen_emit(lg, bc, bclen, err, errlen)) {
        ir_graph_free(lg);
        return NULL;
    }
    return lg;
}

const char *pipeline_opts_key(const ContribOpts *o) {
    static char buf[512];
    size_t k = (size_t)snprintf(buf, sizeof buf, "output=%s split=", o->output ? o->output : "repr");
    for (int i = 0; i < o->nsplit && k < sizeof buf; i++) k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%s", i ? "," : "", o->split[i]);
    if (k < sizeof buf)
        snprintf(buf + k, sizeof buf - k, " from=%s bias=%s ln=%s%s directions=%d", o->from ? o->from : "",
                 o->bias_separate ? "separate" : "equal", o->ln_reference ? "reference" : "exact", o->ln_center ? "+center" : "",
                 o->directions);
    return buf;
}

int pipeline_decompose(IrGraph *g, const ContribOpts *o, char *err, size_t errlen) {
    ContribComp *cc = NULL;
    int n = 0;
    if (contrib_derive(g, o, &cc, &n, err, errlen)) return -1;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model", g->name ? g->name : "");
    cJSON_AddStringToObject(root, "output", o->output ? o->output : "repr");
    cJSON *sp = cJSON_AddArrayToObject(root, "split");
    for (int i = 0; i < o->nsplit; i++) cJSON_AddItemToArray(sp, cJSON_CreateString(o->split[i]));
    cJSON_AddStringToObject(root, "from", o->from ? o->from : "");
    cJSON_AddStringToObject(root, "bias", o->bias_separate ? "separate" : "equal");
    cJSON_AddStringToObject(root, "ln", o->ln_reference ? "reference" : o->ln_center ? "center" : "exact");
    cJSON_AddStringToObject(root, "options", pipeline_opts_key(o));
    if (o->directions) cJSON_AddNumberToObject(root, "directions", o->directions);
    cJSON *arr = cJSON_AddArrayToObject(root, "components");
    for (int i = 0; i < n; i++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddNumberToObject(c, "index", i);
        cJSON_AddStringToObject(c, "name", cc[i].name);
        cJSON_AddStringToObject(c, "kind", cc[i].kind);
        cJSON_AddStringToObject(c, "scope", cc[i].scope);
        if (cc[i].layer >= 0) cJSON_AddNumberToObject(c, "layer", cc[i].layer); else cJSON_AddNullToObject(c, "layer");
        if (cc[i].head >= 0) cJSON_AddNumberToObject(c, "head", cc[i].head); else cJSON_AddNullToObject(c, "head");
        if (cc[i].token >= 0) cJSON_AddNumberToObject(c, "token", cc[i].token); else cJSON_AddNullToObject(c, "token");
        if (cc[i].nsplit) {
            cJSON *s = cJSON_AddObjectToObject(c, "split");
            for (int k = 0; k < cc[i].nsplit; k++) cJSON_AddNumberToObject(s, cc[i].split_ax[k], cc[i].split_ix[k]);
        }
        cJSON_AddItemToArray(arr, c);
    }
    char *txt = cJSON_Print(root);
    g->meta = ir_strdup(g, txt);
    free(txt);
    cJSON_Delete(root);
    free(cc);
    return 0;
}

int pipeline_decompose_opt(const char *opt, const char *val, ContribOpts *o, char *splitbuf, size_t splitlen,
                           char *err, size_t errlen) {
    if (!strcmp(opt, "--output")) o->output = val;
    else if (!strcmp(opt, "--from")) o->from = val;
    else if (!strcmp(opt, "--split")) {
        snprintf(splitbuf, splitlen, "%s", val);
        o->nsplit = 0;
        for (char *t = strtok(splitbuf, ","); t && o->nsplit < 8; t = strtok(NULL, ",")) o->split[o->nsplit++] = t;
    } else if (!strcmp(opt, "--bias")) {
        if (strcmp(val, "equal") && strcmp(val, "separate")) { snprintf(err, errlen, "--bias is equal or separate"); return -1; }
        o->bias_separate = !strcmp(val, "separate");
    } else if (!strcmp(opt, "--ln")) {
        if (!strcmp(val, "reference")) o->ln_reference = true;
        else if (!strcmp(val, "center")) o->ln_center = true;
        else if (strcmp(val, "exact")) { snprintf(err, errlen, "--ln is exact, reference or center"); return -1; }
    } else return 0;
    return 1;
}
