/* runtime/cli/score.c — vitrun score: the paper's scoring function
 * (PAPER.md 4) of every component for every feature, as a ranked table;
 * --validate adds the paper's check: Spearman correlations between the
 * scores and a ranking from CLIP's own image-text similarities, within
 * components (across features) and between components (per feature). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "vit.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: vitrun score COMPS.safetensors --features F.json|FEATURE.txt... --text TEXT.vitm --text-weights W --vocab V\n"
            "                    [--templates T] [--aligner A.safetensors] [--top N] [-o OUT.json]\n"
            "                    [--validate (IMAGE... | --images LIST) --clip CLIP.vitm --clip-weights W [--clip-output NAME]]\n"
            "A feature is a named list of at least 2 descriptions: a JSON object {\"colour\": [\"red\", \"blue\", ...], ...}\n"
            "or a text file per feature (its name the file's stem, one description a line).  Without --aligner the\n"
            "components must be in the text tower's space (a CLIP model's own decomposition of its image embedding).\n"
            "--top N: components listed per feature (default all).  --validate: the images COMPS was computed on (an index's own by default).\n"
            "COMPS: vitrun decompose -o output, or a component index directory (vitrun index).\n");
}

int cmd_score(int argc, char **argv) {
    const char *comps = NULL, *aligner = NULL, *out = NULL, *list = NULL;
    CliClip clip = {0};
    char **fpaths = calloc((size_t)argc, sizeof(char *)), **args = calloc((size_t)argc, sizeof(char *)), **images = NULL;
    int nf = 0, nargs = 0, nimg = 0, validate = 0, top = 0, rc = 2, nfeat = 0, edim = 0, tdim = 0, cdim = 0;
    CliContrib c = {0};
    CliFeature *feats = NULL;
    float *aligned = NULL, *clipemb = NULL;
    double *score = NULL, *between = NULL;
    int *order = NULL;
    vit_ctx *ctx = vit_ctx_new();
    cJSON *j = NULL;
    for (int i = 2; i < argc; i++) {
        const char *s = argv[i];
        int r = cli_clip_opt(argc, argv, &i, &clip);
        if (r < 0) goto done;
        if (r) continue;
        if (!strcmp(s, "-h") || !strcmp(s, "--help")) { usage(stdout); rc = 0; goto done; }
        if (!strcmp(s, "--validate")) { validate = 1; continue; }
        if (s[0] == '-' && i + 1 >= argc) { fprintf(stderr, "vitrun: %s needs a value\n", s); goto done; }
        if (!strcmp(s, "-o")) out = argv[++i];
        else if (!strcmp(s, "--aligner")) aligner = argv[++i];
        else if (!strcmp(s, "--features")) fpaths[nf++] = argv[++i];
        else if (!strcmp(s, "--images")) list = argv[++i];
        else if (!strcmp(s, "--top")) { if (cli_parse_int(s, argv[++i], 1, 1 << 20, &top)) goto done; }
        else if (s[0] == '-') { fprintf(stderr, "vitrun: score: unknown option '%s'\n", s); usage(stderr); goto done; }
        else if (!comps) comps = s;
        else args[nargs++] = argv[i];
    }
    if (!comps || !nf) { fprintf(stderr, "vitrun: score: a components file and --features are required\n"); usage(stderr); goto done; }
    if (!validate && (nargs || list)) { fprintf(stderr, "vitrun: score: images are only read with --validate\n"); goto done; }
    rc = 1;
    if (cli_features_load(fpaths, nf, &feats, &nfeat)) goto done;
    if (cli_contrib_load(comps, &c) || !(aligned = cli_aligned(&c, aligner, &edim))) goto done;
    if (validate && cli_contrib_images(&c, "score --validate", args, nargs, list, &images, &nimg)) goto done;
    if (cli_features_embed(&clip, feats, nfeat, &tdim) || cli_check_edim("the features' text embeddings", tdim, edim)) goto done;
    score = malloc(sizeof(double) * (size_t)nfeat * (size_t)c.ncomp), order = malloc(sizeof(int) * (size_t)c.ncomp);
    between = malloc(sizeof(double) * (size_t)nfeat);
    if (!score || !order || !between) { fprintf(stderr, "vitrun: out of memory\n"); goto done; }
    j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "components", cJSON_CreateStringArray((const char *const *)c.names, c.ncomp));
    cJSON_AddStringToObject(j, "decomposition", c.options);
    cJSON_AddNumberToObject(j, "images", c.n);
    if (c.weights) cJSON_AddStringToObject(j, "weights", c.weights);
    if (c.weights_hash) cJSON_AddStringToObject(j, "weights_hash", c.weights_hash);
    if (aligner) cJSON_AddStringToObject(j, "aligner", aligner);
    cJSON *jf = cJSON_AddObjectToObject(j, "scores"), *jx = cJSON_AddObjectToObject(j, "explained");
    for (int f = 0; f < nfeat; f++) {
        double *sc = score + (size_t)f * (size_t)c.ncomp;
        if (vit_score_feature(ctx, aligned, c.n, c.ncomp, edim, feats[f].emb, feats[f].k, sc)) {
            fprintf(stderr, "vitrun: feature '%s': %s\n", feats[f].name, vit_last_error(ctx));
            goto done;
        }
        cJSON_AddItemToObject(jf, feats[f].name, cJSON_CreateDoubleArray(sc, c.ncomp));
        /* variance_explained beside it (the reference picks heatmap heads by it) */
        double *ex = malloc(sizeof(double) * (size_t)c.ncomp);
        if (!ex || vit_variance_explained(ctx, aligned, c.n, c.ncomp, edim, feats[f].emb, feats[f].k, ex)) {
            fprintf(stderr, "vitrun: feature '%s': %s\n", feats[f].name, ex ? vit_last_error(ctx) : "out of memory");
            free(ex);
            goto done;
        }
        cJSON_AddItemToObject(jx, feats[f].name, cJSON_CreateDoubleArray(ex, c.ncomp));
        free(ex);
        vit_rank_desc(sc, c.ncomp, order);
        printf("%s (%d descriptions):\n", feats[f].name, feats[f].k);
        for (int r = 0; r < (top ? (top < c.ncomp ? top : c.ncomp) : c.ncomp); r++)
            printf("  %3d  %+.4f  %s\n", r + 1, sc[order[r]], c.names[order[r]]);
    }
    if (validate) {
        if (!(clipemb = cli_clip_images(&clip, images, nimg, &cdim)) || cli_check_edim("the CLIP image embeddings", cdim, edim)) goto done;
        const float **fe = malloc(sizeof(float *) * (size_t)nfeat);
        int *fk = malloc(sizeof(int) * (size_t)nfeat);
        double within = NAN, avg = 0;
        for (int f = 0; fe && fk && f < nfeat; f++) fe[f] = feats[f].emb, fk[f] = feats[f].k;
        int e = !fe || !fk || vit_score_validate(ctx, aligned, clipemb, c.n, c.ncomp, edim, fe, fk, nfeat, &within, between);
        free(fe), free(fk);
        if (e) { fprintf(stderr, "vitrun: score: %s\n", vit_last_error(ctx)); goto done; }
        cJSON *jv = cJSON_AddObjectToObject(j, "validation");
        cJSON_AddNumberToObject(jv, "within_components", within);
        cJSON *jb = cJSON_AddObjectToObject(jv, "between_components");
        printf("Spearman correlation with the CLIP-based ranking (%d images):\n  within components %.3f\n  between components:",
               c.n, within);
        for (int f = 0; f < nfeat; f++) {
            avg += between[f] / nfeat;
            cJSON_AddNumberToObject(jb, feats[f].name, between[f]);
            printf(" %s %.3f%s", feats[f].name, between[f], f + 1 < nfeat ? "," : "");
        }
        cJSON_AddNumberToObject(jv, "between_average", avg);
        printf("; average %.3f\n", avg);
    }
    if (out) {
        char *s = cli_json_out(j);
        j = NULL;
        if (!s || cli_write_text_atomic(out, s)) { free(s); goto done; }
        free(s);
    }
    rc = 0;
done:
    cJSON_Delete(j);
    free(score), free(order), free(between), free(aligned), free(clipemb), free(fpaths), free(args);
    cli_free_lines(images, nimg);
    cli_features_free(feats, nfeat);
    cli_contrib_free(&c);
    vit_ctx_free(ctx);
    return rc;
}
