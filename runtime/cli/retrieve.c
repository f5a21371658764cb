/* runtime/cli/retrieve.c — vitrun retrieve (PAPER.md 5): a text query within
 * a feature ranks images by (sum of the feature's top components' aligned
 * contributions) . text embedding; an image query (a probe image's
 * components) by the cosine between the un-aligned partial sums over the
 * components that carry the feature more than any other.  Writes the ranked
 * list, optionally a PNG grid of the top images and, with ground-truth
 * labels, precision@n. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "vit.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: vitrun retrieve COMPS.safetensors --features F.json --feature NAME (--query TEXT... | --each | --probe P.safetensors)\n"
            "                       --text TEXT.vitm --text-weights W --vocab V [--templates T] [--aligner A.safetensors]\n"
            "                       [IMAGE... | --images LIST] [--components 3] [--group G] [-n 20] [--grid OUT.png] [-o OUT.json]\n"
            "                       [--labels LABELS.jsonl --property KEY]\n"
            "COMPS (and P): vitrun decompose -o output, or a component index directory (vitrun index).\n"
            "Text queries: the components are ranked by the scoring function for the feature and the G-th group of\n"
            "--components consecutive ones is used (G = 0: the top ones).  --query may be repeated; --each queries every\n"
            "description of the feature; texts go through --templates, or the feature's own templates when F gives them\n"
            "({\"name\": {\"descriptions\": [...], \"templates\": \"FILE\"}}).  --probe: the components of a reference image (vitrun decompose -o of that image;\n"
            "--probe-index I picks its I-th image) ranked with score(feature) - max(0, max over other features); needs every\n"
            "feature of F.  Images (the ones COMPS was computed on, in order) name the results and fill the grid.\n"
            "--labels, --property: precision@n, an image being relevant when the query text names its value of KEY (for a\n"
            "probe taken from COMPS itself with --probe-self I: when its value equals the probe's).\n");
}

/* A grid of the top images, each captioned with its rank and score, and
 * the query as title (draw.c), written atomically. */
static int write_grid(const char *path, char **images, const int *order, const double *score, int m, const char *title) {
    vit_ctx *ctx = vit_ctx_new();
    vit_picture **pics = calloc((size_t)m, sizeof(vit_picture *)), *g = NULL;
    char **caps = calloc((size_t)m, sizeof(char *));
    int rc = -1;
    if (!ctx || !pics || !caps) { fprintf(stderr, "vitrun: out of memory\n"); goto done; }
    for (int r = 0; r < m; r++) {
        if (vit_picture_read(ctx, images[order[r]], &pics[r])) { fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx)); goto done; }
        caps[r] = malloc(32);
        if (caps[r]) snprintf(caps[r], 32, "%d: %+.3f", r + 1, score[order[r]]);
    }
    g = vit_draw_grid((const vit_picture *const *)pics, (const char *const *)caps, m, m < 10 ? m : 10, 96, title);
    if (!g || vit_picture_write_png(ctx, g, path)) { fprintf(stderr, "vitrun: %s\n", g ? vit_last_error(ctx) : "out of memory"); goto done; }
    rc = 0;
done:
    for (int r = 0; pics && r < m; r++) vit_picture_free(pics[r]);
    cli_free_lines(caps, caps ? m : 0);
    free(pics);
    vit_picture_free(g);
    vit_ctx_free(ctx);
    return rc;
}

int cmd_retrieve(int argc, char **argv) {
    const char *comps = NULL, *aligner = NULL, *out = NULL, *list = NULL, *feature = NULL, *probe = NULL, *grid = NULL;
    const char *labels = NULL, *property = NULL;
    CliClip clip = {0};
    char **fpaths = calloc((size_t)argc, sizeof(char *)), **args = calloc((size_t)argc, sizeof(char *)), **images = NULL;
    char **queries = calloc((size_t)argc, sizeof(char *)), **lab = NULL;
    int nf = 0, nargs = 0, nimg = 0, nq = 0, each = 0, ncomps = 3, group = 0, topn = 20, probe_index = 0, probe_self = -1;
    int rc = 2, nfeat = 0, edim = 0, tdim = 0, fi = -1;
    CliContrib c = {0}, pc = {0};
    CliFeature *feats = NULL;
    float *aligned = NULL, *qemb = NULL;
    double *score = NULL, *cs = NULL;
    int *order = NULL, *corder = NULL;
    vit_ctx *ctx = vit_ctx_new();
    cJSON *j = NULL;
    for (int i = 2; i < argc; i++) {
        const char *s = argv[i];
        int r = cli_clip_opt(argc, argv, &i, &clip);
        if (r < 0) goto done;
        if (r) continue;
        if (!strcmp(s, "-h") || !strcmp(s, "--help")) { usage(stdout); rc = 0; goto done; }
        if (!strcmp(s, "--each")) { each = 1; continue; }
        if (s[0] == '-' && i + 1 >= argc) { fprintf(stderr, "vitrun: %s needs a value\n", s); goto done; }
        if (!strcmp(s, "-o")) out = argv[++i];
        else if (!strcmp(s, "--aligner")) aligner = argv[++i];
        else if (!strcmp(s, "--features")) fpaths[nf++] = argv[++i];
        else if (!strcmp(s, "--feature")) feature = argv[++i];
        else if (!strcmp(s, "--query")) queries[nq++] = argv[++i];
        else if (!strcmp(s, "--probe")) probe = argv[++i];
        else if (!strcmp(s, "--images")) list = argv[++i];
        else if (!strcmp(s, "--grid")) grid = argv[++i];
        else if (!strcmp(s, "--labels")) labels = argv[++i];
        else if (!strcmp(s, "--property")) property = argv[++i];
        else if (!strcmp(s, "--components")) { if (cli_parse_int(s, argv[++i], 1, 1 << 20, &ncomps)) goto done; }
        else if (!strcmp(s, "--group")) { if (cli_parse_int(s, argv[++i], 0, 1 << 20, &group)) goto done; }
        else if (!strcmp(s, "-n")) { if (cli_parse_int(s, argv[++i], 1, 1 << 30, &topn)) goto done; }
        else if (!strcmp(s, "--probe-index")) { if (cli_parse_int(s, argv[++i], 0, 1 << 30, &probe_index)) goto done; }
        else if (!strcmp(s, "--probe-self")) { if (cli_parse_int(s, argv[++i], 0, 1 << 30, &probe_self)) goto done; }
        else if (s[0] == '-') { fprintf(stderr, "vitrun: retrieve: unknown option '%s'\n", s); usage(stderr); goto done; }
        else if (!comps) comps = s;
        else args[nargs++] = argv[i];
    }
    if (!comps || !nf || !feature) { fprintf(stderr, "vitrun: retrieve: a components file, --features and --feature are required\n"); usage(stderr); goto done; }
    int kinds = (nq > 0) + each + (probe != NULL) + (probe_self >= 0);
    if (kinds != 1) { fprintf(stderr, "vitrun: retrieve: give one kind of query: --query TEXT..., --each, --probe P or --probe-self I\n"); goto done; }
    if (!labels != !property) { fprintf(stderr, "vitrun: retrieve: --labels and --property go together (precision@n)\n"); goto done; }
    rc = 1;
    if (cli_features_load(fpaths, nf, &feats, &nfeat)) goto done;
    for (int f = 0; f < nfeat; f++)
        if (!strcmp(feats[f].name, feature)) fi = f;
    if (fi < 0) { fprintf(stderr, "vitrun: retrieve: no feature '%s' in the features given\n", feature); goto done; }
    if (cli_contrib_load(comps, &c) || !(aligned = cli_aligned(&c, aligner, &edim))) goto done;
    if ((nargs || list || c.images) && cli_contrib_images(&c, "retrieve", args, nargs, list, &images, &nimg)) goto done;
    if (grid && !nimg) { fprintf(stderr, "vitrun: retrieve: --grid needs the images (IMAGE... or --images LIST)\n"); goto done; }
    if (labels && !(lab = cli_labels_load(labels, property, c.n))) goto done;
    if (probe_self >= c.n) { fprintf(stderr, "vitrun: retrieve: --probe-self %d: %s holds %d images\n", probe_self, comps, c.n); goto done; }
    if (each) nq = feats[fi].k, memcpy(queries, feats[fi].desc, sizeof(char *) * (size_t)nq);
    if (probe || probe_self >= 0) nq = 1;
    if (cli_features_embed(&clip, feats, nfeat, &tdim) || cli_check_edim("the features' text embeddings", tdim, edim)) goto done;
    score = malloc(sizeof(double) * (size_t)nfeat * (size_t)c.ncomp), cs = malloc(sizeof(double) * (size_t)(c.n > c.ncomp ? c.n : c.ncomp));
    order = malloc(sizeof(int) * (size_t)c.n), corder = malloc(sizeof(int) * (size_t)c.ncomp);
    if (!score || !cs || !order || !corder) { fprintf(stderr, "vitrun: out of memory\n"); goto done; }
    int image_query = probe || probe_self >= 0;
    for (int f = 0; f < nfeat; f++) {
        if (!image_query && f != fi) continue;
        if (vit_score_feature(ctx, aligned, c.n, c.ncomp, edim, feats[f].emb, feats[f].k, score + (size_t)f * (size_t)c.ncomp)) {
            fprintf(stderr, "vitrun: feature '%s': %s\n", feats[f].name, vit_last_error(ctx));
            goto done;
        }
    }
    if (image_query) vit_property_scores(score, nfeat, c.ncomp, fi, cs);
    else memcpy(cs, score + (size_t)fi * (size_t)c.ncomp, sizeof(double) * (size_t)c.ncomp);
    vit_rank_desc(cs, c.ncomp, corder);
    if ((group + 1) * ncomps > c.ncomp) {
        fprintf(stderr, "vitrun: retrieve: group %d of %d components needs %d components; %s has %d\n", group, ncomps,
                (group + 1) * ncomps, comps, c.ncomp);
        goto done;
    }
    const int *use = corder + group * ncomps;
    printf("feature %s, components:", feature);
    for (int r = 0; r < ncomps; r++) printf("%s %s (%.3f)", r ? "," : "", c.names[use[r]], cs[use[r]]);
    printf("\n");
    const float *probe_c = NULL;
    if (probe) {
        if (cli_contrib_load(probe, &pc)) goto done;
        if (pc.module_id && c.module_id && strcmp(pc.module_id, c.module_id)) {
            fprintf(stderr, "vitrun: retrieve: the probe index %s comes from another module, weights or decomposition than "
                            "%s (module id %s, not %s)\n", probe, comps, pc.module_id, c.module_id);
            goto done;
        }
        if (pc.ncomp != c.ncomp || pc.dim != c.dim || (pc.options[0] && c.options[0] && strcmp(pc.options, c.options))) {
            fprintf(stderr, "vitrun: retrieve: the probe %s has %d components of dimension %d (%s), %s has %d of %d (%s): "
                            "decompose the probe with the same module and options\n", probe, pc.ncomp, pc.dim, pc.options,
                    comps, c.ncomp, c.dim, c.options);
            goto done;
        }
        if (probe_index >= pc.n) { fprintf(stderr, "vitrun: retrieve: --probe-index %d: %s holds %d images\n", probe_index, probe, pc.n); goto done; }
        probe_c = pc.contrib + (size_t)probe_index * (size_t)pc.ncomp * (size_t)pc.dim;
    } else if (probe_self >= 0) probe_c = c.contrib + (size_t)probe_self * (size_t)c.ncomp * (size_t)c.dim;
    else {
        CliClip qc = clip; /* the queries are values of the feature: through its own templates when it has them */
        if (feats[fi].templates) qc.templates = feats[fi].templates;
        if (!(qemb = cli_embed(&qc, queries, nq, &tdim))) goto done;
    }
    j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "feature", feature);
    cJSON *ju = cJSON_AddArrayToObject(j, "components"), *jq = cJSON_AddArrayToObject(j, "queries");
    for (int r = 0; r < ncomps; r++) cJSON_AddItemToArray(ju, cJSON_CreateString(c.names[use[r]]));
    int m = topn < c.n ? topn : c.n;
    double psum = 0;
    for (int q = 0; q < nq; q++) {
        int e = probe_c ? vit_retrieve_image(ctx, c.contrib, c.n, c.ncomp, c.dim, use, ncomps, probe_c, cs)
                        : vit_retrieve_text(ctx, aligned, c.n, c.ncomp, edim, use, ncomps, qemb + (size_t)q * (size_t)edim, cs);
        if (e) { fprintf(stderr, "vitrun: retrieve: %s\n", vit_last_error(ctx)); goto done; }
        vit_rank_desc(cs, c.n, order);
        cJSON *o = cJSON_CreateObject(), *jr = cJSON_AddArrayToObject(o, "results");
        const char *qname = probe ? probe : probe_c ? (nimg ? images[probe_self] : "probe") : queries[q];
        cJSON_AddStringToObject(o, "query", qname);
        int hits = 0;
        for (int r = 0; r < m; r++) {
            int x = order[r];
            int rel = lab ? (probe_self >= 0 ? !strcmp(lab[x], lab[probe_self]) : cli_text_mentions(queries[q], lab[x])) : 0;
            hits += rel;
            cJSON *it = cJSON_CreateObject();
            cJSON_AddNumberToObject(it, "index", x);
            if (nimg) cJSON_AddStringToObject(it, "image", images[x]);
            cJSON_AddNumberToObject(it, "score", cs[x]);
            if (lab) cJSON_AddStringToObject(it, property, lab[x]);
            cJSON_AddItemToArray(jr, it);
            if (nq == 1) printf("%4d  %+.4f  %s%s%s\n", r + 1, cs[x], nimg ? images[x] : "", lab ? "  " : "", lab ? lab[x] : "");
        }
        if (lab) {
            double p = (double)hits / m;
            psum += p;
            cJSON_AddNumberToObject(o, "precision", p);
            printf("query '%s': precision@%d %.3f\n", qname, m, p);
        }
        cJSON_AddItemToArray(jq, o);
        if (grid && q == 0 && write_grid(grid, images, order, cs, m, qname)) goto done;
    }
    if (lab) {
        cJSON_AddNumberToObject(j, "mean_precision", psum / nq);
        printf("mean precision@%d %.3f over %d quer%s\n", m, psum / nq, nq, nq == 1 ? "y" : "ies");
    }
    if (out) {
        char *s = cli_json_out(j);
        j = NULL;
        if (!s || cli_write_text_atomic(out, s)) { free(s); if (grid) unlink(grid); goto done; }
        free(s);
    }
    rc = 0;
done:
    cJSON_Delete(j);
    free(score), free(cs), free(order), free(corder), free(aligned), free(qemb), free(fpaths), free(args), free(queries);
    cli_free_lines(images, nimg);
    cli_free_lines(lab, lab ? c.n : 0);
    cli_features_free(feats, nfeat);
    cli_contrib_free(&c);
    cli_contrib_free(&pc);
    vit_ctx_free(ctx);
    return rc;
}
