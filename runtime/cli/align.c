/* runtime/cli/align.c — vitrun align: train COMPALIGN maps from a model's
 * components into a CLIP model's image space (PAPER.md 2), the CLIP targets
 * computed here by running the CLIP image module on the same images; or,
 * with --aligner, measure an aligner's cosine distance on images. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "vit.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: vitrun align COMPS (IMAGE... | --images LIST) --clip CLIP.vitm --clip-weights W.safetensors\n"
            "                    -o ALIGNER.safetensors [options]\n"
            "       vitrun align COMPS (IMAGE... | --images LIST) --clip ... --aligner ALIGNER.safetensors\n"
            "COMPS: vitrun decompose -o output on the same images, in the same order, or a component index directory\n"
            "(vitrun index; its own images unless images are given).  The second form trains nothing:\n"
            "it prints the aligner's mean cosine distance 1 - cos(sum of aligned components, CLIP image embedding).\n"
            "  --clip-output NAME   the CLIP module's image embedding output (default: embedding, else logits)\n"
            "  --lambda L           orthogonality weight (1; 0 for the ablation)\n"
            "  --shared             one map for every component (the ablation's baseline)\n"
            "  --lr LR              Adam learning rate (3e-4)\n"
            "  --wd WD              weight decay (1e-6)\n"
            "  --epochs N           passes over the training part (2)\n"
            "  --batch N            images per step (32)\n"
            "  --patience N         stop after N steps without a new held-out minimum (50; 0: never)\n"
            "  --holdout F          fraction held out for early stopping (0.1)\n"
            "  --seed S             initialisation and shuffling (0)\n"
            "Writes ALIGNER.safetensors (weights [maps, dim, clip_dim], bias [clip_dim]) and ALIGNER.json (components,\n"
            "options, training report).\n");
}

static int parse_double(const char *opt, const char *v, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (!*v || *end || errno || !(d >= lo && d <= hi)) {
        fprintf(stderr, "vitrun: %s needs a number in [%g, %g], not '%s'\n", opt, lo, hi, v);
        return -1;
    }
    *out = d;
    return 0;
}

static void progress(void *ud, int64_t step, int64_t steps) {
    CliProgress *p = ud;
    p->total = steps;
    cli_progress_update(p, step);
}

int cmd_align(int argc, char **argv) {
    const char *comps = NULL, *out = NULL, *list = NULL, *aligner = NULL;
    CliClip clip = {0};
    vit_align_opts o;
    vit_align_opts_default(&o);
    char **args = calloc((size_t)argc, sizeof(char *)), **images = NULL;
    int nargs = 0, nimg = 0, rc = 2;
    CliContrib c = {0};
    float *targets = NULL, *aligned = NULL;
    vit_ctx *ctx = vit_ctx_new();
    vit_aligner *a = NULL;
    for (int i = 2; i < argc; i++) {
        const char *s = argv[i];
        int r = cli_clip_opt(argc, argv, &i, &clip);
        if (r < 0) goto done;
        if (r) continue;
        if (!strcmp(s, "-h") || !strcmp(s, "--help")) { usage(stdout); rc = 0; goto done; }
        int needs = s[0] == '-' && strcmp(s, "--shared") != 0;
        if (needs && i + 1 >= argc) { fprintf(stderr, "vitrun: %s needs a value\n", s); goto done; }
        int iv;
        if (!strcmp(s, "-o")) out = argv[++i];
        else if (!strcmp(s, "--images")) list = argv[++i];
        else if (!strcmp(s, "--aligner")) aligner = argv[++i];
        else if (!strcmp(s, "--shared")) o.shared = 1;
        else if (!strcmp(s, "--lambda")) { if (parse_double(s, argv[++i], 0, 1e6, &o.lambda)) goto done; }
        else if (!strcmp(s, "--lr")) { if (parse_double(s, argv[++i], 1e-12, 10, &o.lr)) goto done; }
        else if (!strcmp(s, "--wd")) { if (parse_double(s, argv[++i], 0, 10, &o.wd)) goto done; }
        else if (!strcmp(s, "--holdout")) { if (parse_double(s, argv[++i], 0, 0.9, &o.holdout)) goto done; }
        else if (!strcmp(s, "--epochs")) { if (cli_parse_int(s, argv[++i], 1, 1000000, &o.epochs)) goto done; }
        else if (!strcmp(s, "--batch")) { if (cli_parse_int(s, argv[++i], 1, 65536, &o.batch)) goto done; }
        else if (!strcmp(s, "--patience")) { if (cli_parse_int(s, argv[++i], 0, 1 << 30, &o.patience)) goto done; }
        else if (!strcmp(s, "--seed")) { if (cli_parse_int(s, argv[++i], 0, 1 << 30, &iv)) goto done; o.seed = (uint64_t)iv; }
        else if (s[0] == '-') { fprintf(stderr, "vitrun: align: unknown option '%s'\n", s); usage(stderr); goto done; }
        else if (!comps) comps = s;
        else args[nargs++] = argv[i];
    }
    if (!comps) { fprintf(stderr, "vitrun: align: no components file given\n"); usage(stderr); goto done; }
    if (!out && !aligner) { fprintf(stderr, "vitrun: align: -o ALIGNER.safetensors is required (or --aligner A to measure one)\n"); goto done; }
    if (out && aligner) { fprintf(stderr, "vitrun: align: -o trains a new aligner, --aligner measures one: not both\n"); goto done; }
    rc = 1;
    if (cli_contrib_load(comps, &c) || cli_contrib_images(&c, "align", args, nargs, list, &images, &nimg)) goto done;
    if (aligner) { /* measure only: load and check before running CLIP */
        if (vit_aligner_load(ctx, aligner, &a) || vit_aligner_fits(ctx, a, c.ncomp, c.dim)) {
            fprintf(stderr, "vitrun: %s: %s\n", aligner, vit_last_error(ctx));
            goto done;
        }
    }
    int edim = 0;
    if (!(targets = cli_clip_images(&clip, images, nimg, &edim))) goto done;
    if (aligner) {
        if (edim != a->edim) { fprintf(stderr, "vitrun: %s maps into %d dimensions, the CLIP model's embedding has %d\n", aligner, a->edim, edim); goto done; }
        aligned = malloc(sizeof(float) * (size_t)c.n * (size_t)c.ncomp * (size_t)edim);
        if (!aligned || vit_aligner_apply(ctx, a, c.contrib, c.n, c.ncomp, c.dim, aligned)) { fprintf(stderr, "vitrun: out of memory\n"); goto done; }
        printf("cosine distance %.4f (mean 1 - cos over %d images, %d components)\n",
               vit_align_cosine_distance(aligned, targets, c.n, c.ncomp, edim), c.n, c.ncomp);
        rc = 0;
        goto done;
    }
    CliProgress pr;
    cli_progress_start(&pr, "align", 1);
    o.progress = progress, o.ud = &pr;
    vit_align_report rep;
    if (vit_align_train(ctx, c.contrib, targets, c.n, c.ncomp, c.dim, edim, &o, &a, &rep)) {
        fprintf(stderr, "vitrun: align: %s\n", vit_last_error(ctx));
        goto done;
    }
    cli_progress_done(&pr, rep.steps);
    cJSON *j = cJSON_CreateObject(), *jo = cJSON_CreateObject(), *jr = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "components", cJSON_CreateStringArray((const char *const *)c.names, c.ncomp));
    cJSON_AddStringToObject(j, "decomposition", c.options);
    cJSON_AddStringToObject(j, "clip", clip.module);
    cJSON_AddNumberToObject(jo, "lambda", o.lambda);
    cJSON_AddBoolToObject(jo, "shared", o.shared);
    cJSON_AddNumberToObject(jo, "lr", o.lr);
    cJSON_AddNumberToObject(jo, "wd", o.wd);
    cJSON_AddNumberToObject(jo, "epochs", o.epochs);
    cJSON_AddNumberToObject(jo, "batch", o.batch);
    cJSON_AddNumberToObject(jo, "patience", o.patience);
    cJSON_AddNumberToObject(jo, "holdout", o.holdout);
    cJSON_AddNumberToObject(jo, "seed", (double)o.seed);
    cJSON_AddItemToObject(j, "options", jo);
    cJSON_AddNumberToObject(jr, "images", c.n);
    cJSON_AddNumberToObject(jr, "train", rep.ntrain);
    cJSON_AddNumberToObject(jr, "heldout", rep.nheldout);
    cJSON_AddNumberToObject(jr, "steps", rep.steps);
    cJSON_AddNumberToObject(jr, "best_step", rep.best_step);
    if (rep.nheldout) cJSON_AddNumberToObject(jr, "heldout_cosine_distance", rep.heldout_cos);
    cJSON_AddNumberToObject(jr, "orthogonality", rep.ortho);
    cJSON_AddItemToObject(j, "report", jr);
    char *meta = cJSON_PrintUnformatted(j), *side = cli_json_out(j), sidecar[4096];
    cli_sidecar_path(out, sidecar, sizeof sidecar);
    if (!meta || !side || vit_aligner_save(ctx, a, out, meta)) {
        fprintf(stderr, "vitrun: %s\n", meta && side ? vit_last_error(ctx) : "out of memory");
        free(meta), free(side);
        goto done;
    }
    if (cli_write_text_atomic(sidecar, side)) { unlink(out); free(meta), free(side); goto done; }
    free(meta), free(side);
    printf("wrote %s: %d %s [%d, %d] + bias, %d steps (best %d); held-out cosine distance %.4f on %d images; "
           "orthogonality %.4g; report in %s\n", out, o.shared ? 1 : c.ncomp, o.shared ? "shared map" : "maps", c.dim, edim,
           rep.steps, rep.best_step, rep.heldout_cos, rep.nheldout, rep.ortho, sidecar);
    rc = 0;
done:
    vit_aligner_free(a);
    free(targets), free(aligned), free(args);
    cli_free_lines(images, nimg);
    cli_contrib_free(&c);
    vit_ctx_free(ctx);
    return rc;
}
