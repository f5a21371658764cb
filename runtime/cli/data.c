/* runtime/cli/data.c — data sets, batched runs and component lists for the
 * application commands (heatmap, segment, ablate, probe); see cli.h. */
#define _DEFAULT_SOURCE
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bpe.h"
#include "cli.h"
#include "vit.h"

static int push(CliData *d, int *cap, const char *image) {
    if (d->n == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        char **a = realloc(d->image, sizeof(char *) * (size_t)*cap), **b = a ? realloc(d->mask, sizeof(char *) * (size_t)*cap) : NULL;
        if (a) d->image = a;
        if (b) d->mask = b;
        int *c = b ? realloc(d->klass, sizeof(int) * (size_t)*cap) : NULL, *e = c ? realloc(d->group, sizeof(int) * (size_t)*cap) : NULL;
        if (c) d->klass = c;
        if (e) d->group = e;
        void **r = e ? realloc(d->rec, sizeof(void *) * (size_t)*cap) : NULL;
        if (r) d->rec = r;
        if (!r) { fprintf(stderr, "vitrun: out of memory\n"); return -1; }
    }
    d->image[d->n] = strdup(image);
    d->mask[d->n] = NULL;
    d->klass[d->n] = d->group[d->n] = -1;
    d->rec[d->n] = NULL;
    d->n++;
    return 0;
}

static int is_image(const char *name) {
    const char *e = strrchr(name, '.');
    return e && (!strcasecmp(e, ".png") || !strcasecmp(e, ".jpg") || !strcasecmp(e, ".jpeg"));
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int load_labels(CliData *d, int *cap, const char *path) {
    int nl;
    char **lines = cli_read_lines(path, &nl);
    if (!lines) return -1;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) slash[1] = 0;
    else dir[0] = 0;
    int rc = 0;
    if (!nl) { fprintf(stderr, "vitrun: %s: no records\n", path); rc = -1; }
    for (int i = 0; i < nl && !rc; i++) {
        cJSON *r = cJSON_Parse(lines[i]);
        const cJSON *im = r ? cJSON_GetObjectItem(r, "image") : NULL;
        if (!cJSON_IsString(im)) {
            fprintf(stderr, "vitrun: %s:%d: not a label record with an \"image\"\n", path, i + 1);
            cJSON_Delete(r);
            rc = -1;
            break;
        }
        char p[8192];
        snprintf(p, sizeof p, "%s%s", im->valuestring[0] == '/' ? "" : dir, im->valuestring);
        if (push(d, cap, p)) { cJSON_Delete(r); rc = -1; break; }
        d->rec[d->n - 1] = r;
        const cJSON *mk = cJSON_GetObjectItem(r, "mask"), *k = cJSON_GetObjectItem(r, "class"), *g = cJSON_GetObjectItem(r, "group");
        if (cJSON_IsString(mk)) {
            snprintf(p, sizeof p, "%s%s", mk->valuestring[0] == '/' ? "" : dir, mk->valuestring);
            d->mask[d->n - 1] = strdup(p);
        }
        if (cJSON_IsNumber(k)) d->klass[d->n - 1] = k->valueint;
        if (cJSON_IsNumber(g)) {
            int gi = g->valueint;
            if (gi < 0 || gi >= 16) { fprintf(stderr, "vitrun: %s:%d: group %d not in [0, 16)\n", path, i + 1, gi); rc = -1; break; }
            d->group[d->n - 1] = gi;
            const cJSON *cn = cJSON_GetObjectItem(r, "class_name"), *dm = cJSON_GetObjectItem(r, "domain");
            if (!d->group_name[gi] && cJSON_IsString(cn) && cJSON_IsString(dm)) {
                char nm[256];
                snprintf(nm, sizeof nm, "%s on %s", cn->valuestring, dm->valuestring);
                d->group_name[gi] = strdup(nm);
            }
        }
    }
    cli_free_lines(lines, nl);
    return rc;
}

int cli_data_load(CliData *d, char **args, int nargs) {
    memset(d, 0, sizeof *d);
    int cap = 0;
    for (int a = 0; a < nargs; a++) {
        struct stat st;
        if (stat(args[a], &st)) { fprintf(stderr, "vitrun: %s: %s\n", args[a], strerror(errno)); return -1; }
        char lp[4096];
        snprintf(lp, sizeof lp, "%s/labels.jsonl", args[a]);
        size_t len = strlen(args[a]);
        if (S_ISDIR(st.st_mode) && !access(lp, R_OK)) {
            if (load_labels(d, &cap, lp)) return -1;
        } else if (S_ISDIR(st.st_mode)) {
            DIR *dir = opendir(args[a]);
            if (!dir) { fprintf(stderr, "vitrun: %s: %s\n", args[a], strerror(errno)); return -1; }
            struct dirent *e;
            int first = d->n;
            while ((e = readdir(dir))) {
                if (!is_image(e->d_name)) continue;
                snprintf(lp, sizeof lp, "%s/%s", args[a], e->d_name);
                if (push(d, &cap, lp)) { closedir(dir); return -1; }
            }
            closedir(dir);
            if (d->n == first) { fprintf(stderr, "vitrun: %s: no images (*.png, *.jpg) in this folder\n", args[a]); return -1; }
            qsort(d->image + first, (size_t)(d->n - first), sizeof(char *), cmp_str);
        } else if (len >= 6 && !strcmp(args[a] + len - 6, ".jsonl")) {
            if (load_labels(d, &cap, args[a])) return -1;
        } else if (push(d, &cap, args[a])) {
            return -1;
        }
    }
    if (!d->n) { fprintf(stderr, "vitrun: no images given\n"); return -1; }
    return 0;
}

void cli_data_free(CliData *d) {
    for (int i = 0; i < d->n; i++) {
        free(d->image[i]);
        free(d->mask[i]);
        cJSON_Delete(d->rec[i]);
    }
    for (int g = 0; g < 16; g++) free(d->group_name[g]);
    free(d->image);
    free(d->mask);
    free(d->klass);
    free(d->group);
    free(d->rec);
    memset(d, 0, sizeof *d);
}

int cli_data_field(const CliData *d, const char *field, int *idx, char ***names, int *nvalues) {
    char **txt = calloc((size_t)d->n, sizeof(char *)), **uniq = calloc((size_t)d->n + 1, sizeof(char *));
    int nu = 0, rc = 0;
    if (!txt || !uniq) { free(txt); free(uniq); fprintf(stderr, "vitrun: out of memory\n"); return -1; }
    for (int i = 0; i < d->n && !rc; i++) {
        const cJSON *v = d->rec[i] ? cJSON_GetObjectItem((const cJSON *)d->rec[i], field) : NULL;
        if (!v) { fprintf(stderr, "vitrun: %s: no label field \"%s\"\n", d->image[i], field); rc = -1; break; }
        txt[i] = cJSON_PrintUnformatted(v);
        uniq[nu++] = txt[i];
    }
    if (!rc) {
        qsort(uniq, (size_t)nu, sizeof(char *), cmp_str);
        int m = 0;
        for (int i = 0; i < nu; i++)
            if (!m || strcmp(uniq[m - 1], uniq[i])) uniq[m++] = uniq[i];
        for (int i = 0; i < d->n; i++) {
            char **hit = bsearch(&txt[i], uniq, (size_t)m, sizeof(char *), cmp_str);
            idx[i] = (int)(hit - uniq);
        }
        *nvalues = m;
        *names = calloc((size_t)m + 1, sizeof(char *));
        for (int i = 0; i < m; i++) (*names)[i] = strdup(uniq[i]);
    }
    for (int i = 0; i < d->n; i++) free(txt[i]);
    free(txt);
    free(uniq);
    return rc;
}

int cli_run_images(vit_ctx *ctx, vit_model *m, char **paths, int n, int threads, const char *label, float ***outs) {
    int no = vit_model_noutputs(m), batch = 16;
    int64_t in = vit_model_input_numel(m);
    float **o = calloc((size_t)no, sizeof(float *)), **part = calloc((size_t)no, sizeof(float *));
    float *input = malloc(sizeof(float) * (size_t)(in * batch));
    int rc = -1;
    if (!o || !part || !input) { fprintf(stderr, "vitrun: out of memory\n"); goto done; }
    for (int k = 0; k < no; k++) {
        o[k] = malloc(sizeof(float) * (size_t)(vit_model_output_numel(m, k) * n) + 4);
        if (!o[k]) { fprintf(stderr, "vitrun: out of memory\n"); goto done; }
    }
    CliProgress p;
    if (label) cli_progress_start(&p, label, n);
    for (int i = 0; i < n; i += batch) {
        int b = n - i < batch ? n - i : batch;
        for (int j = 0; j < b; j++)
            if (vit_model_read_image(ctx, m, paths[i + j], input + in * j)) { fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx)); goto done; }
        for (int k = 0; k < no; k++) part[k] = o[k] + vit_model_output_numel(m, k) * i;
        if (vit_model_run(ctx, m, VIT_ENGINE_JIT, input, b, threads, part)) { fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx)); goto done; }
        if (label) cli_progress_update(&p, i + b);
    }
    if (label) cli_progress_done(&p, n);
    rc = 0;
done:
    if (rc && o) cli_free_outputs(o, no);
    else *outs = o;
    free(part);
    free(input);
    return rc;
}

void cli_free_outputs(float **outs, int nout) {
    if (!outs) return;
    for (int k = 0; k < nout; k++) free(outs[k]);
    free(outs);
}

static int int_field(const cJSON *c, const char *name) {
    const cJSON *v = cJSON_GetObjectItem(c, name);
    return cJSON_IsNumber(v) ? v->valueint : -1;
}

int cli_comps_read(const vit_model *m, CliComps *c) {
    memset(c, 0, sizeof *c);
    const char *js = vit_model_components_json(m);
    cJSON *root = js ? cJSON_Parse(js) : NULL;
    const cJSON *arr = root ? cJSON_GetObjectItem(root, "components") : NULL;
    int n = cJSON_GetArraySize(arr);
    if (!n) { fprintf(stderr, "vitrun: the model has no components\n"); cJSON_Delete(root); return -1; }
    c->name = calloc((size_t)n, sizeof(char *));
    c->kind = calloc((size_t)n, sizeof(char *));
    c->layer = malloc(sizeof(int) * (size_t)n);
    c->head = malloc(sizeof(int) * (size_t)n);
    c->token = malloc(sizeof(int) * (size_t)n);
    if (!c->name || !c->kind || !c->layer || !c->head || !c->token) { cJSON_Delete(root); cli_comps_free(c); fprintf(stderr, "vitrun: out of memory\n"); return -1; }
    c->n = n;
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(arr, i), *nm = cJSON_GetObjectItem(e, "name"), *k = cJSON_GetObjectItem(e, "kind");
        char buf[512];
        snprintf(buf, sizeof buf, "%s", cJSON_IsString(nm) ? nm->valuestring : "?");
        char *t = strstr(buf, " token ");
        c->token[i] = int_field(e, "token");
        if (t && c->token[i] >= 0) *t = 0;
        c->name[i] = strdup(buf);
        c->kind[i] = strdup(cJSON_IsString(k) ? k->valuestring : "");
        c->layer[i] = int_field(e, "layer");
        c->head[i] = int_field(e, "head");
    }
    cJSON_Delete(root);
    return 0;
}

void cli_comps_free(CliComps *c) {
    for (int i = 0; i < c->n; i++) { if (c->name) free(c->name[i]); if (c->kind) free(c->kind[i]); }
    free(c->name);
    free(c->kind);
    free(c->layer);
    free(c->head);
    free(c->token);
    memset(c, 0, sizeof *c);
}

int cli_comps_grid(vit_ctx *ctx, const vit_model *m, const CliComps *c, int *ntok, int *first, int *gh, int *gw) {
    *ntok = 0;
    for (int i = 0; i < c->n; i++) *ntok = c->token[i] + 1 > *ntok ? c->token[i] + 1 : *ntok;
    if (!*ntok) { fprintf(stderr, "vitrun: the decomposition does not split tokens (use --split head,token)\n"); return -1; }
    if (vit_model_token_grid(ctx, m, *ntok, first, gh, gw)) { fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx)); return -1; }
    return 0;
}

void cli_patch_map(const CliComps *c, const unsigned char *sel, const float *val, int stride, int first, int gh, int gw,
                   float *map) {
    memset(map, 0, sizeof(float) * (size_t)gh * gw);
    for (int i = 0; i < c->n; i++) {
        int p = c->token[i] - first;
        if (sel[i] && c->token[i] >= 0 && p >= 0 && p < gh * gw) map[p] += val[(size_t)i * stride];
    }
}

int cli_output_dim(vit_ctx *ctx, const char *module, const char *output) {
    vit_model *m = NULL;
    if (vit_model_load(ctx, module, &m)) { fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx)); return -1; }
    int k = vit_model_output_find(m, output), dim = k < 0 ? -1 : (int)vit_model_output_numel(m, k);
    if (k < 0) fprintf(stderr, "vitrun: the module has no output '%s'\n", output);
    vit_model_free(m);
    return dim;
}

int cli_embed_texts(vit_ctx *ctx, const char *module, const char *weights, const char *vocab, const char *const *texts, int n,
                    int dim, const char *output, int threads, float **out) {
    vit_model *t = NULL;
    BpeTok *tok = NULL;
    vit_bind_opts bo = {0, 1};
    char err[1024];
    int rc = -1;
    *out = NULL;
    if (!module || !vocab) { fprintf(stderr, "vitrun: texts need --text-model and --vocab\n"); return -1; }
    if (vit_model_load(ctx, module, &t) || vit_model_bind(ctx, t, weights, &bo)) { fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx)); goto done; }
    if (bpe_load(vocab, &tok, err, sizeof err)) { fprintf(stderr, "vitrun: vocabulary: %s\n", err); goto done; }
    int64_t tdim = vit_model_output_numel(t, 0);
    if (tdim != dim) {
        fprintf(stderr, "vitrun: the text model's embedding has %lld values, the output '%s' has %d: not the image tower of this text tower\n",
                (long long)tdim, output, dim);
        goto done;
    }
    *out = malloc(sizeof(float) * (size_t)n * dim);
    vit_text_opts to = {VIT_ENGINE_JIT, threads};
    if (!*out || vit_embed_texts(ctx, t, tok, texts, n, NULL, 0, &to, *out)) {
        fprintf(stderr, "vitrun: %s\n", *out ? vit_last_error(ctx) : "out of memory");
        free(*out);
        *out = NULL;
        goto done;
    }
    rc = 0;
done:
    bpe_free(tok);
    vit_model_free(t);
    return rc;
}
