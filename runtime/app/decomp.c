/* runtime/app/decomp.c — a decomposed model from a module, as a library
 * call: the decomposition pass (compiler/contrib.c) runs on the module's
 * graph with the options given, then the usual passes and the JIT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "img.h"
#include "ir.h"
#include "pipeline.h"
#include "vitint.h"

static int opt(vit_ctx *ctx, const char *name, const char *val, ContribOpts *o, char *splitbuf, size_t splitlen) {
    char err[256];
    if (!val) return 0;
    if (pipeline_decompose_opt(name, val, o, splitbuf, splitlen, err, sizeof err) < 0)
        return vit_ctx_fail(ctx, VIT_ERR_ARG, "%s", err);
    return 0;
}

/* every SOFTMAX over axis `ax` becomes an output "softmax.SCOPE" (attention maps, for baselines) */
static int add_softmax_outputs(vit_ctx *ctx, IrGraph *g, const char *ax) {
    int found = 0, n = g->n;
    for (int i = 0; i < n; i++) {
        const IrNode *nd = &g->nodes[i];
        if (nd->op != IR_OP_SOFTMAX || nd->nax < 1 || strcmp(nd->ax[0], ax)) continue;
        char name[256];
        snprintf(name, sizeof name, "softmax.%s", nd->scope && *nd->scope ? nd->scope : "");
        if (!nd->scope || !*nd->scope || ir_output_find(g, name) >= 0) snprintf(name, sizeof name, "softmax.%d", i);
        ir_output_add(g, name, i);
        found++;
    }
    if (!found) return vit_ctx_fail(ctx, VIT_ERR_ARG, "this module has no softmax over an axis named '%s'", ax);
    return VIT_OK;
}

int vit_model_load_decomposed(vit_ctx *ctx, const char *module, const vit_decomp_opts *opts, vit_model **out) {
    static const vit_decomp_opts none = {0};
    const vit_decomp_opts *d = opts ? opts : &none;
    ContribOpts o = {0};
    /* the split names must outlive the derivation only: it copies what it keeps */
    char *splitbuf = calloc(1, 256);
    char err[2048];
    IrGraph *g = NULL, *lg = NULL;
    void *bc = NULL;
    size_t bclen = 0;
    int rc = VIT_OK;
    *out = NULL;
    if (!splitbuf) return vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory");
    if (opt(ctx, "--output", d->output, &o, splitbuf, 256) || opt(ctx, "--split", d->split, &o, splitbuf, 256) ||
        opt(ctx, "--from", d->from, &o, splitbuf, 256) || opt(ctx, "--bias", d->bias, &o, splitbuf, 256) ||
        opt(ctx, "--ln", d->ln, &o, splitbuf, 256)) {
        free(splitbuf);
        return VIT_ERR_ARG;
    }
    if (d->directions < 0) { free(splitbuf); return vit_ctx_fail(ctx, VIT_ERR_ARG, "directions must be >= 0"); }
    o.directions = d->directions;
    char cname[200];
    snprintf(cname, sizeof cname, "%s.%s", o.directions ? "proj" : "contrib", o.output ? o.output : "repr");
    if (ir_module_read(module, &g, &bc, &bclen, err, sizeof err)) { rc = vit_ctx_fail(ctx, VIT_ERR_FORMAT, "%s", err); goto done; }
    free(bc);
    bc = NULL;
    if (!d->attention && ir_output_find(g, cname) >= 0 && g->meta && strstr(g->meta, pipeline_opts_key(&o))) {
        rc = vit_model_load(ctx, module, out); /* compiled with this decomposition already */
        goto done;
    }
    if (pipeline_decompose(g, &o, err, sizeof err)) { rc = vit_ctx_fail(ctx, VIT_ERR_ARG, "decompose: %s", err); goto done; }
    if (d->attention && add_softmax_outputs(ctx, g, d->attention)) { rc = VIT_ERR_ARG; goto done; }
    lg = pipeline_finish(g, &bc, &bclen, err, sizeof err);
    if (!lg) { rc = vit_ctx_fail(ctx, VIT_ERR_FORMAT, "%s", err); goto done; }
    rc = vit_model_from_graph(ctx, lg, bc, bclen, out);
    lg = NULL; /* taken over (or freed) by vit_model_from_graph */
    bc = NULL;
done:
    free(bc);
    ir_graph_free(lg);
    ir_graph_free(g);
    free(splitbuf);
    return rc;
}

const char *vit_model_components_json(const vit_model *m) {
    const IrGraph *g = vit_model_graph(m);
    return g ? g->meta : NULL;
}

int vit_model_output_find(const vit_model *m, const char *name) {
    for (int k = 0; k < vit_model_noutputs(m); k++)
        if (!strcmp(vit_model_output_name(m, k), name)) return k;
    return -1;
}

int vit_model_read_image(vit_ctx *ctx, const vit_model *m, const char *path, float *out) {
    const IrGraph *g = vit_model_graph(m);
    const IrShape *s = &g->nodes[g->input].shape;
    char err[1024];
    if (s->rank != 3 || s->ax[0].size != 3 || s->ax[1].size != g->pre.size || s->ax[2].size != g->pre.size)
        return vit_ctx_fail(ctx, VIT_ERR_SHAPE, "this module's input is not a [3, size, size] image");
    if (img_load_tensor(path, &g->pre, out, err, sizeof err)) return vit_ctx_fail(ctx, VIT_ERR_IO, "%s", err);
    return VIT_OK;
}
