/* runtime/cli/comps.c — inputs shared by vitrun align / describe / score /
 * retrieve (cli.h): a components file or a component index, the CLIP image and text towers run
 * through the library, an aligner applied, feature lists, image lists and
 * ground-truth labels (JSON lines, e.g. a toy world's labels.jsonl). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bpe.h"
#include "cli.h"
#include "st.h"
#include "vit.h"

/* The names and options of a components JSON ({"components": [{"name"}], "options"}). */
static void names_from_json(CliContrib *c, const char *meta) {
    cJSON *j = meta ? cJSON_Parse(meta) : NULL, *arr = cJSON_GetObjectItem(j, "components");
    for (int i = 0; i < c->ncomp; i++) {
        const char *nm = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, i), "name"));
        char buf[32];
        snprintf(buf, sizeof buf, "component %d", i);
        c->names[i] = strdup(nm ? nm : buf);
    }
    const char *opt = cJSON_GetStringValue(cJSON_GetObjectItem(j, "options"));
    c->options = strdup(opt ? opt : "");
    cJSON_Delete(j);
}

/* A component index directory (vitrun index): every image it holds, with its path. */
static int index_load(const char *dir, CliContrib *c) {
    vit_ctx *ctx = vit_ctx_new();
    vit_index *ix = NULL;
    int rc = -1;
    if (vit_index_open(ctx, dir, &ix)) { fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx)); goto done; }
    int64_t n = vit_index_count(ix);
    if (n < 1 || n > (1 << 30)) { fprintf(stderr, "vitrun: %s: the index holds no complete image\n", dir); goto done; }
    c->n = (int)n, c->ncomp = vit_index_ncomp(ix), c->dim = vit_index_dim(ix);
    c->contrib = malloc(sizeof(float) * (size_t)c->n * (size_t)c->ncomp * (size_t)c->dim + 4);
    c->names = calloc((size_t)c->ncomp, sizeof(char *));
    c->images = calloc((size_t)c->n, sizeof(char *));
    if (!c->contrib || !c->names || !c->images) { fprintf(stderr, "vitrun: out of memory\n"); goto done; }
    if (vit_index_read(ctx, ix, 0, n, c->contrib, NULL)) { fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx)); goto done; }
    names_from_json(c, vit_index_components_json(ix));
    c->module_id = strdup(vit_index_module_id(ix));
    c->weights = strdup(vit_index_weights_path(ix));
    if (vit_index_weights_hash(ix)) c->weights_hash = strdup(vit_index_weights_hash(ix));
    const char *src = vit_index_source(ix);
    for (int i = 0; i < c->n; i++) {
        const char *rel = vit_index_image_path(ix, i);
        size_t len = strlen(src) + strlen(rel) + 2;
        if (!(c->images[i] = malloc(len))) { fprintf(stderr, "vitrun: out of memory\n"); goto done; }
        snprintf(c->images[i], len, "%s/%s", src, rel);
    }
    rc = 0;
done:
    vit_index_close(ix);
    vit_ctx_free(ctx);
    return rc;
}

int cli_contrib_load(const char *path, CliContrib *c) {
    StFile *f = NULL;
    char err[1024];
    struct stat sb;
    memset(c, 0, sizeof *c);
    if (!stat(path, &sb) && S_ISDIR(sb.st_mode)) {
        if (index_load(path, c)) { cli_contrib_free(c); return -1; }
        return 0;
    }
    if (st_open(path, &f, err, sizeof err)) { fprintf(stderr, "vitrun: %s\n", err); return -1; }
    int64_t k = st_find(f, "contrib");
    const char *meta = st_meta(f, "components");
    if (k < 0 || f->t[k].rank != 3) {
        fprintf(stderr, "vitrun: %s: no contributions [images, components, dim] ('contrib', as vitrun decompose -o writes)%s\n", path,
                st_find(f, "proj") >= 0 ? "; projections on directions ('proj') cannot be aligned" : "");
        st_close(f);
        return -1;
    }
    c->n = (int)f->t[k].shape[0], c->ncomp = (int)f->t[k].shape[1], c->dim = (int)f->t[k].shape[2];
    c->contrib = malloc(sizeof(float) * (size_t)st_numel(&f->t[k]) + 4);
    c->names = calloc((size_t)c->ncomp, sizeof(char *));
    if (!c->contrib || !c->names || st_read_f32(f, k, c->contrib, err, sizeof err)) {
        fprintf(stderr, "vitrun: %s: %s\n", path, c->contrib && c->names ? err : "out of memory");
        st_close(f);
        cli_contrib_free(c);
        return -1;
    }
    names_from_json(c, meta);
    st_close(f);
    return 0;
}

void cli_contrib_free(CliContrib *c) {
    if (c->names)
        for (int i = 0; i < c->ncomp; i++) free(c->names[i]);
    if (c->images)
        for (int i = 0; i < c->n; i++) free(c->images[i]);
    free(c->names), free(c->images), free(c->contrib), free(c->options), free(c->module_id);
    free(c->weights), free(c->weights_hash);
    memset(c, 0, sizeof *c);
}

int cli_clip_opt(int argc, char **argv, int *i, CliClip *o) {
    const char *a = argv[*i];
    const char **slot = !strcmp(a, "--clip") ? &o->module : !strcmp(a, "--clip-weights") ? &o->weights
                      : !strcmp(a, "--clip-output") ? &o->output : !strcmp(a, "--text") ? &o->text
                      : !strcmp(a, "--text-weights") ? &o->text_weights : !strcmp(a, "--vocab") ? &o->vocab
                      : !strcmp(a, "--templates") ? &o->templates : NULL;
    if (!slot) return 0;
    if (*i + 1 >= argc) { fprintf(stderr, "vitrun: %s needs a value\n", a); return -1; }
    *slot = argv[++*i];
    return 1;
}

struct CliClipRun {
    vit_ctx *ctx;
    vit_model *m;
    int ko, no;
    int64_t isz, esz;
    float *in, **outs; /* CLI_CLIP_BATCH images */
};

void cli_clip_close(CliClipRun *r) {
    if (!r) return;
    if (r->outs)
        for (int k = 0; k < r->no; k++) free(r->outs[k]);
    free(r->outs), free(r->in);
    vit_model_free(r->m);
    vit_ctx_free(r->ctx);
    free(r);
}

CliClipRun *cli_clip_open(const CliClip *o, int *edim) {
    CliClipRun *r = calloc(1, sizeof *r);
    vit_bind_opts bind = {0, 0};
    if (!r || !(r->ctx = vit_ctx_new())) { fprintf(stderr, "vitrun: out of memory\n"); goto fail; }
    if (!o->module || !o->weights) { fprintf(stderr, "vitrun: the CLIP image tower is needed: --clip MODULE --clip-weights W\n"); goto fail; }
    if (vit_model_load(r->ctx, o->module, &r->m) || vit_model_bind(r->ctx, r->m, o->weights, &bind)) {
        fprintf(stderr, "vitrun: %s\n", vit_last_error(r->ctx));
        goto fail;
    }
    r->ko = o->output ? vit_model_output_find(r->m, o->output) : vit_model_output_find(r->m, "embedding");
    if (r->ko < 0 && !o->output) r->ko = vit_model_output_find(r->m, "logits");
    if (r->ko < 0) { fprintf(stderr, "vitrun: %s: no output '%s' (--clip-output)\n", o->module, o->output ? o->output : "embedding"); goto fail; }
    r->no = vit_model_noutputs(r->m);
    r->isz = vit_model_input_numel(r->m), r->esz = vit_model_output_numel(r->m, r->ko);
    r->in = malloc(sizeof(float) * (size_t)(r->isz * CLI_CLIP_BATCH));
    r->outs = calloc((size_t)r->no, sizeof(float *));
    if (!r->in || !r->outs) { fprintf(stderr, "vitrun: out of memory\n"); goto fail; }
    for (int k = 0; k < r->no; k++)
        if (!(r->outs[k] = malloc(sizeof(float) * (size_t)(vit_model_output_numel(r->m, k) * CLI_CLIP_BATCH)))) {
            fprintf(stderr, "vitrun: out of memory\n");
            goto fail;
        }
    *edim = (int)r->esz;
    return r;
fail:
    cli_clip_close(r);
    return NULL;
}

const char *cli_clip_output(const CliClipRun *r) { return vit_model_output_name(r->m, r->ko); }

int cli_clip_run(CliClipRun *r, char **images, int nb, float *emb) {
    for (int i = 0; i < nb; i++)
        if (vit_model_read_image(r->ctx, r->m, images[i], r->in + (size_t)i * (size_t)r->isz)) {
            fprintf(stderr, "vitrun: %s\n", vit_last_error(r->ctx));
            return -1;
        }
    if (vit_model_run(r->ctx, r->m, VIT_ENGINE_JIT, r->in, nb, 0, r->outs)) { fprintf(stderr, "vitrun: %s\n", vit_last_error(r->ctx)); return -1; }
    memcpy(emb, r->outs[r->ko], sizeof(float) * (size_t)(r->esz * nb));
    return 0;
}

float *cli_clip_images(const CliClip *o, char **images, int n, int *edim) {
    CliClipRun *r = cli_clip_open(o, edim);
    float *emb = r ? malloc(sizeof(float) * (size_t)*edim * (size_t)n + 4) : NULL;
    if (r && !emb) fprintf(stderr, "vitrun: out of memory\n");
    CliProgress pr;
    cli_progress_start(&pr, "CLIP images", n);
    for (int i0 = 0; emb && i0 < n; i0 += CLI_CLIP_BATCH) {
        int nb = n - i0 < CLI_CLIP_BATCH ? n - i0 : CLI_CLIP_BATCH;
        if (cli_clip_run(r, images + i0, nb, emb + (size_t)i0 * (size_t)*edim)) { free(emb); emb = NULL; break; }
        cli_progress_update(&pr, i0 + nb);
    }
    if (emb) cli_progress_done(&pr, n);
    cli_clip_close(r);
    return emb;
}

float *cli_embed(const CliClip *o, char **texts, int n, int *edim) {
    vit_ctx *ctx = vit_ctx_new();
    vit_model *m = NULL;
    BpeTok *tok = NULL;
    float *emb = NULL;
    char **tpl = NULL, err[1024];
    int ntpl = 0;
    vit_bind_opts bind = {0, 0};
    if (!o->text || !o->text_weights || !o->vocab) {
        fprintf(stderr, "vitrun: the CLIP text tower is needed: --text MODULE --text-weights W --vocab VOCAB\n");
        goto fail;
    }
    if (o->templates) {
        if (!(tpl = cli_read_lines(o->templates, &ntpl))) goto fail;
        if (!ntpl) { fprintf(stderr, "vitrun: %s: no templates in it\n", o->templates); goto fail; }
    }
    if (bpe_load(o->vocab, &tok, err, sizeof err)) { fprintf(stderr, "vitrun: vocabulary: %s\n", err); goto fail; }
    if (vit_model_load(ctx, o->text, &m) || vit_model_bind(ctx, m, o->text_weights, &bind)) {
        fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx));
        goto fail;
    }
    int ko = vit_model_output_find(m, "embedding");
    if (ko < 0 && vit_model_noutputs(m) == 1) ko = 0;
    if (ko < 0) { fprintf(stderr, "vitrun: %s: not a text model (no output 'embedding')\n", o->text); goto fail; }
    *edim = (int)vit_model_output_numel(m, ko);
    emb = malloc(sizeof(float) * (size_t)(*edim) * (size_t)n + 4);
    vit_text_opts topts = {VIT_ENGINE_JIT, 0};
    if (!emb || vit_embed_texts(ctx, m, tok, (const char *const *)texts, n, (const char *const *)tpl, ntpl, &topts, emb)) {
        fprintf(stderr, "vitrun: %s\n", emb ? vit_last_error(ctx) : "out of memory");
        goto fail;
    }
    goto done;
fail:
    free(emb);
    emb = NULL;
done:
    cli_free_lines(tpl, ntpl);
    bpe_free(tok);
    vit_model_free(m);
    vit_ctx_free(ctx);
    return emb;
}

float *cli_aligned(const CliContrib *c, const char *aligner, int *edim) {
    vit_ctx *ctx = vit_ctx_new();
    vit_aligner *a = NULL;
    float *out = NULL;
    if (aligner ? vit_aligner_load(ctx, aligner, &a) != VIT_OK : !(a = vit_aligner_identity(c->ncomp, c->dim))) {
        fprintf(stderr, "vitrun: %s\n", aligner ? vit_last_error(ctx) : "out of memory");
        goto done;
    }
    if (vit_aligner_fits(ctx, a, c->ncomp, c->dim)) { fprintf(stderr, "vitrun: %s: %s\n", aligner, vit_last_error(ctx)); goto done; }
    out = malloc(sizeof(float) * (size_t)c->n * (size_t)c->ncomp * (size_t)a->edim + 4);
    if (!out || vit_aligner_apply(ctx, a, c->contrib, c->n, c->ncomp, c->dim, out)) {
        fprintf(stderr, "vitrun: %s\n", out ? vit_last_error(ctx) : "out of memory");
        free(out);
        out = NULL;
        goto done;
    }
    *edim = a->edim;
done:
    vit_aligner_free(a);
    vit_ctx_free(ctx);
    return out;
}

int cli_align_dirs_open(const char *aligner, int dim, CliAlignDirs *ad) {
    memset(ad, 0, sizeof *ad);
    vit_ctx *ctx = vit_ctx_new();
    int rc = -1;
    if (vit_aligner_load(ctx, aligner, &ad->a) != VIT_OK) { fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx)); goto done; }
    if (ad->a->dim != dim) {
        fprintf(stderr, "vitrun: %s: the aligner maps components of dimension %d, but this model's output has %d (an aligner "
                        "trained for another model)\n", aligner, ad->a->dim, dim);
        goto done;
    }
    if (!ad->a->names) {
        fprintf(stderr, "vitrun: %s: the aligner does not name its components (its metadata has no \"components\"): "
                        "retrain it with vitrun align\n", aligner);
        goto done;
    }
    ad->path = aligner;
    ad->ncomp = ad->a->ncomp;
    ad->edim = ad->a->edim;
    rc = 0;
done:
    if (rc) vit_aligner_free(ad->a), ad->a = NULL;
    vit_ctx_free(ctx);
    return rc;
}

int cli_align_dirs_bind(CliAlignDirs *ad, const CliComps *c, const float *texts, int nt, float **dirs) {
    const vit_aligner *a = ad->a;
    int dim = a->dim, edim = a->edim;
    free(ad->base);
    ad->base = malloc(sizeof(int) * (size_t)c->n + 4);
    *dirs = malloc(sizeof(float) * (size_t)a->ncomp * (size_t)nt * (size_t)dim + 4);
    if (!ad->base || !*dirs) { fprintf(stderr, "vitrun: out of memory\n"); free(*dirs); *dirs = NULL; return -1; }
    for (int i = 0; i < c->n; i++) {
        ad->base[i] = -1;
        for (int k = 0; k < a->ncomp && ad->base[i] < 0; k++)
            if (!strcmp(a->names[k], c->name[i])) ad->base[i] = k;
    }
    for (int k = 0; k < a->ncomp; k++) {
        const float *w = a->w + (a->shared ? 0 : (size_t)k * dim * edim);
        for (int t = 0; t < nt; t++)
            for (int i = 0; i < dim; i++) {
                double v = 0;
                for (int e = 0; e < edim; e++) v += (double)w[(size_t)i * edim + e] * texts[(size_t)t * edim + e];
                (*dirs)[((size_t)k * nt + t) * dim + i] = (float)v;
            }
    }
    return 0;
}

int cli_align_dirs_need(const CliAlignDirs *ad, const CliComps *c, int i) {
    if (ad->base[i] >= 0) return 0;
    fprintf(stderr, "vitrun: %s has no map for the component '%s' (an aligner trained on another decomposition: train it on "
                    "this model's components split by head)\n", ad->path, c->name[i]);
    return -1;
}

void cli_align_dirs_free(CliAlignDirs *ad) {
    vit_aligner_free(ad->a);
    free(ad->base);
    memset(ad, 0, sizeof *ad);
}

int cli_check_edim(const char *what, int edim, int want) {
    if (edim == want) return 0;
    fprintf(stderr, "vitrun: %s have %d dimensions but the aligned components %d (another CLIP model, or un-aligned "
                    "components of a non-CLIP model: give --aligner)\n", what, edim, want);
    return -1;
}

/* "dir/colour.txt" -> "colour" */
static char *stem(const char *path) {
    const char *b = strrchr(path, '/');
    char *s = strdup(b ? b + 1 : path), *dot = strrchr(s, '.');
    if (dot && dot != s) *dot = 0;
    return s;
}

static int feature_add(CliFeature **fs, int *nf, char *name, char **desc, int k, const char *src) {
    if (k < 2) {
        fprintf(stderr, "vitrun: %s: feature '%s' has %d description%s; a feature needs at least 2 (one description is a "
                        "direction, not a feature)\n", src, name, k, k == 1 ? "" : "s");
        free(name);
        cli_free_lines(desc, k);
        return -1;
    }
    CliFeature *n2 = realloc(*fs, sizeof(CliFeature) * (size_t)(*nf + 1));
    if (!n2) { fprintf(stderr, "vitrun: out of memory\n"); free(name), cli_free_lines(desc, k); return -1; }
    *fs = n2;
    (*fs)[(*nf)++] = (CliFeature){name, desc, k, NULL, NULL};
    return 0;
}

int cli_features_load(char **paths, int npaths, CliFeature **out, int *nout) {
    *out = NULL;
    *nout = 0;
    for (int p = 0; p < npaths; p++) {
        size_t len = strlen(paths[p]);
        if (len > 5 && !strcmp(paths[p] + len - 5, ".json")) {
            FILE *f = fopen(paths[p], "r");
            if (!f) { fprintf(stderr, "vitrun: %s: %s\n", paths[p], strerror(errno)); goto fail; }
            char *buf = NULL;
            size_t cap = 0, n = 0, r;
            char tmp[4096];
            while ((r = fread(tmp, 1, sizeof tmp, f)) > 0) {
                if (n + r + 1 > cap) { cap = 2 * (n + r + 1); buf = realloc(buf, cap); }
                memcpy(buf + n, tmp, r), n += r;
            }
            fclose(f);
            if (buf) buf[n] = 0;
            cJSON *j = buf ? cJSON_Parse(buf) : NULL;
            free(buf);
            if (!cJSON_IsObject(j)) {
                fprintf(stderr, "vitrun: %s: expected a JSON object {\"feature\": [\"description\", ...], ...}\n", paths[p]);
                cJSON_Delete(j);
                goto fail;
            }
            for (cJSON *entry = j->child; entry; entry = entry->next) {
                const cJSON *it = entry, *tp = NULL;
                char *tpath = NULL;
                if (cJSON_IsObject(entry)) { /* {"descriptions": [...], "templates": "FILE"} */
                    it = cJSON_GetObjectItemCaseSensitive(entry, "descriptions");
                    tp = cJSON_GetObjectItemCaseSensitive(entry, "templates");
                    if (!it || (tp && (!cJSON_IsString(tp) || !*tp->valuestring))) {
                        fprintf(stderr, "vitrun: %s: feature '%s': an object needs \"descriptions\" (a list) and may have \"templates\" "
                                        "(a file name)\n", paths[p], entry->string);
                        cJSON_Delete(j);
                        goto fail;
                    }
                    if (tp) {
                        const char *slash = strrchr(paths[p], '/');
                        size_t dl = slash && tp->valuestring[0] != '/' ? (size_t)(slash - paths[p]) + 1 : 0;
                        tpath = malloc(dl + strlen(tp->valuestring) + 1);
                        if (tpath) memcpy(tpath, paths[p], dl), strcpy(tpath + dl, tp->valuestring);
                        if (!tpath || access(tpath, R_OK)) {
                            fprintf(stderr, "vitrun: %s: feature '%s': templates %s: %s\n", paths[p], entry->string,
                                    tpath ? tpath : tp->valuestring, tpath ? strerror(errno) : "out of memory");
                            free(tpath);
                            cJSON_Delete(j);
                            goto fail;
                        }
                    }
                }
                int k = cJSON_GetArraySize(it), bad = !cJSON_IsArray(it);
                char **d = calloc((size_t)(k > 0 ? k : 1), sizeof(char *));
                for (int i = 0; i < k && !bad; i++) {
                    const char *s = cJSON_GetStringValue(cJSON_GetArrayItem(it, i));
                    if (!s || !*s) bad = 1;
                    else d[i] = strdup(s);
                }
                if (bad) {
                    fprintf(stderr, "vitrun: %s: feature '%s' must be a list of non-empty strings\n", paths[p], entry->string);
                    cli_free_lines(d, k);
                    free(tpath);
                    cJSON_Delete(j);
                    goto fail;
                }
                if (feature_add(out, nout, strdup(entry->string), d, k, paths[p])) { free(tpath); cJSON_Delete(j); goto fail; }
                (*out)[*nout - 1].templates = tpath;
            }
            cJSON_Delete(j);
        } else {
            int k;
            char **d = cli_read_lines(paths[p], &k);
            if (!d || feature_add(out, nout, stem(paths[p]), d, k, paths[p])) goto fail;
        }
    }
    if (!*nout) { fprintf(stderr, "vitrun: no features given\n"); return -1; }
    return 0;
fail:
    cli_features_free(*out, *nout);
    *out = NULL;
    *nout = 0;
    return -1;
}

void cli_features_free(CliFeature *f, int n) {
    for (int i = 0; f && i < n; i++) free(f[i].name), cli_free_lines(f[i].desc, f[i].k), free(f[i].emb), free(f[i].templates);
    free(f);
}

int cli_features_embed(const CliClip *o, CliFeature *f, int nf, int *edim) {
    for (int i = 0; i < nf; i++) {
        CliClip c = *o;
        if (f[i].templates) c.templates = f[i].templates;
        if (!(f[i].emb = cli_embed(&c, f[i].desc, f[i].k, edim))) return -1;
    }
    return 0;
}

char **cli_image_args(char **args, int nargs, const char *list, int *n) {
    if (list && nargs) { fprintf(stderr, "vitrun: give images or --images LIST, not both\n"); return NULL; }
    if (list) {
        char **v = cli_read_lines(list, n);
        if (v && !*n) { fprintf(stderr, "vitrun: %s: no images in it\n", list); cli_free_lines(v, 0); return NULL; }
        return v;
    }
    char **v = calloc((size_t)(nargs > 0 ? nargs : 1), sizeof(char *));
    for (int i = 0; v && i < nargs; i++) v[i] = strdup(args[i]);
    *n = nargs;
    return v;
}

int cli_contrib_images(const CliContrib *c, const char *what, char **args, int nargs, const char *list, char ***out, int *n) {
    *out = NULL, *n = 0;
    if (!nargs && !list && c->images) return (*out = cli_image_args(c->images, c->n, NULL, n)) ? 0 : -1;
    if (!nargs && !list) { fprintf(stderr, "vitrun: %s: no images given (the images the components were computed on, in order)\n", what); return -1; }
    if (!(*out = cli_image_args(args, nargs, list, n))) return -1;
    if (*n != c->n) { fprintf(stderr, "vitrun: %s: the components hold %d images but %d images were given\n", what, c->n, *n); return -1; }
    return 0;
}

char **cli_labels_load(const char *path, const char *key, int n) {
    int nl;
    char **lines = cli_read_lines(path, &nl);
    if (!lines) return NULL;
    if (nl != n) {
        fprintf(stderr, "vitrun: %s: %d records for %d images\n", path, nl, n);
        cli_free_lines(lines, nl);
        return NULL;
    }
    char **v = calloc((size_t)(n > 0 ? n : 1), sizeof(char *));
    for (int i = 0; v && i < n; i++) {
        cJSON *j = cJSON_Parse(lines[i]);
        const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(j, key));
        if (!s) {
            fprintf(stderr, "vitrun: %s: line %d has no string '%s'\n", path, i + 1, key);
            cJSON_Delete(j);
            cli_free_lines(v, i);
            cli_free_lines(lines, nl);
            return NULL;
        }
        v[i] = strdup(s);
        cJSON_Delete(j);
    }
    cli_free_lines(lines, nl);
    return v;
}

int cli_text_mentions(const char *text, const char *word) {
    size_t w = strlen(word);
    for (const char *p = strstr(text, word); p; p = strstr(p + 1, word)) {
        int before = p == text || p[-1] == ' ', after = p[w] == 0 || p[w] == ' ';
        if (before && after) return 1;
    }
    return 0;
}

char *cli_json_out(cJSON *j) {
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    if (!s) return NULL;
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (!t) { free(s); return NULL; }
    t[n] = '\n', t[n + 1] = 0;
    return t;
}
