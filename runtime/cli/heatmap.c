/* runtime/cli/heatmap.c — vitrun heatmap: where in the image chosen
 * components write toward a direction.  The model is decomposed with heads
 * and tokens apart and every component projected on one direction (a text
 * embedded by a CLIP text tower, or one class row of the output); each
 * chosen head's per-token projections are laid on the patch grid (class and
 * register tokens left out) and drawn over the image the model saw, red
 * positive, blue negative, one panel per head and one for their sum. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vit.h"

static int usage(FILE *f) {
    fprintf(f, "usage: vitrun heatmap MODULE --weights W IMAGE... (--class K | --text TEXT --text-model T.vitm\n"
               "         [--text-weights TW] --vocab V) [--output NAME] [--from L] [--split head,token]\n"
               "         [--components \"NAME;NAME\" | --layer L | --top N [--scores S.json --feature F[-CORE]]]\n"
               "         [--aligner A.safetensors] [--scale S] [--threads T] -o OUT.png\n"
               "The direction: row K of the output (--class), or TEXT's embedding (same size as the output; with\n"
               "--aligner, vitrun align's maps of this model's components split by head, each token's contribution\n"
               "read through its head's map, without the bias, in the aligner's CLIP space).\n"
               "Components: heads by name (\"blocks.3.attn head 1\"), every head of layer L (ordinal or scope), the N\n"
               "heads (default 3) whose variance text feature F explains most in S.json (vitrun score -o on this model's\n"
               "components split by head: its variance_explained, as the reference picks heatmap heads, or the score in\n"
               "a file without it; F-G: F's minus G's), or, without --scores, the N heads with the largest\n"
               "mean |projection| over the images given (a stand-in).\n");
    return f == stderr ? 2 : 0;
}

typedef struct {
    const char *module, *weights, *text, *text_model, *text_weights, *vocab, *output, *from, *split, *components, *layer, *out;
    const char *scores, *feature, *aligner;
    int klass, top, scale, threads, nargs;
    char **args;
} HmOpts;

static int parse(int argc, char **argv, HmOpts *o) {
    memset(o, 0, sizeof *o);
    o->klass = -1;
    o->scale = 4;
    o->threads = 2;
    o->split = "head,token";
    o->args = calloc((size_t)argc, sizeof(char *));
    static const char *const valued[] = {"--weights", "--text", "--text-model", "--text-weights", "--vocab", "--output", "--from",
                                         "--split", "--components", "--layer", "-o", "--class", "--top", "--scale", "--threads",
                                         "--scores", "--feature", "--aligner"};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return 1;
        int k = -1;
        for (int j = 0; j < (int)(sizeof valued / sizeof *valued); j++)
            if (!strcmp(a, valued[j])) k = j;
        if (k < 0 && a[0] == '-') { fprintf(stderr, "vitrun heatmap: unknown option %s\n", a); return -1; }
        if (k < 0) { if (!o->module) o->module = a; else o->args[o->nargs++] = argv[i]; continue; }
        if (i + 1 >= argc) { fprintf(stderr, "vitrun heatmap: %s needs a value\n", a); return -1; }
        const char *v = argv[++i];
        const char **slot[] = {&o->weights, &o->text, &o->text_model, &o->text_weights, &o->vocab, &o->output, &o->from,
                               &o->split, &o->components, &o->layer, &o->out};
        if (k < 11) *slot[k] = v;
        else if (k == 15) o->scores = v;
        else if (k == 16) o->feature = v;
        else if (k == 17) o->aligner = v;
        else if (k == 11 && cli_parse_int(a, v, 0, 1 << 20, &o->klass)) return -1;
        else if (k == 12 && cli_parse_int(a, v, 1, 64, &o->top)) return -1;
        else if (k == 13 && cli_parse_int(a, v, 1, 16, &o->scale)) return -1;
        else if (k == 14 && cli_parse_int(a, v, 1, 256, &o->threads)) return -1;
    }
    return 0;
}

/* chosen = the N heads (default 3) whose variance the feature explains most in the score file (in a file
 * without variance_explained: the highest score); -1 with a message
 * when the file does not score this model's heads or has fewer than N of them. */
static int choose_scored(const HmOpts *o, const CliComps *c, const int *heads, int nh, unsigned char *chosen) {
    CliScores s;
    /* as the reference's visualize_tokens.py: by variance_explained; a file without it, by the score */
    int by = cli_scores_load_as(o->scores, o->feature, "explained", &s);
    if (by < 0 || (by > 0 && cli_scores_load(o->scores, o->feature, &s))) return -1;
    char **hn = malloc(sizeof(char *) * (size_t)nh);
    double *score = malloc(sizeof(double) * (size_t)nh);
    int *order = malloc(sizeof(int) * (size_t)nh), rc = -1, top = o->top ? o->top : 3;
    unsigned char *all = malloc((size_t)nh);
    if (!hn || !score || !order || !all) { fprintf(stderr, "vitrun: out of memory\n"); goto done; }
    for (int j = 0; j < nh; j++) hn[j] = c->name[heads[j]], all[j] = 1;
    if (cli_scores_check_weights(&s, o->scores, o->weights) || cli_scores_check_names(&s, o->scores, hn, nh, 0)) goto done;
    for (int j = 0; j < nh; j++) score[j] = s.score[cli_scores_find(&s, hn[j])];
    int m = cli_scores_order(score, all, nh, order);
    if (top > m) { fprintf(stderr, "vitrun: --top %d, but %s scores only %d heads of this model\n", top, o->scores, m); goto done; }
    printf("heads by %s for %s (%s):", by ? "score" : "variance explained", o->feature, o->scores);
    for (int t = 0; t < top; t++) chosen[order[t]] = 1, printf("%s %s %.4f", t ? "," : "", hn[order[t]], score[order[t]]);
    printf("\n");
    rc = 0;
done:
    free(hn), free(score), free(order), free(all);
    cli_scores_free(&s);
    return rc;
}

int cmd_heatmap(int argc, char **argv) {
    HmOpts o;
    int pr = parse(argc, argv, &o);
    if (pr) { free(o.args); return pr > 0 ? usage(stdout) : 2; }
    if (!o.module || !o.out || !o.nargs) { free(o.args); return usage(stderr); }
    if ((o.klass >= 0) == (o.text != NULL)) { fprintf(stderr, "vitrun heatmap: give one direction: --class K or --text TEXT\n"); free(o.args); return 2; }
    const char *clash = !o.scores != !o.feature ? "--scores and --feature go together"
                        : o.scores && (o.components || o.layer) ? "--scores picks the top heads: not with --components or --layer"
                                                                 : NULL;
    if (!clash && o.aligner && !o.text) clash = "--aligner reads the components with text: give --text";
    if (clash) { fprintf(stderr, "vitrun heatmap: %s\n", clash); free(o.args); return 2; }
    vit_ctx *ctx = vit_ctx_new();
    vit_model *m = NULL;
    CliData d = {0};
    CliComps c = {0};
    float *dir = NULL, **outs = NULL, *score = NULL, *maps = NULL, *mdirs = NULL;
    CliAlignDirs ad = {0};
    unsigned char *sel = NULL;
    int *heads = NULL, nh = 0, nout = 0, rc = 1, ntok, first, gh, gw;
    vit_picture **panels = NULL;
    int npanels = 0;
    if (!o.output) o.output = "logits";
    int dim = cli_output_dim(ctx, o.module, o.output);
    if (dim < 0) goto done;
    int ndirs = 1, tdim = dim; /* with an aligner: one direction per aligner component (cli_align_dirs_bind) */
    if (o.aligner) {
        if (cli_align_dirs_open(o.aligner, dim, &ad)) goto done;
        ndirs = ad.ncomp, tdim = ad.edim;
    }
    if (o.klass >= dim) { fprintf(stderr, "vitrun heatmap: --class %d, but the output '%s' has %d rows\n", o.klass, o.output, dim); goto done; }
    if (o.text) {
        const char *texts[1] = {o.text};
        if (cli_embed_texts(ctx, o.text_model, o.text_weights ? o.text_weights : o.weights, o.vocab, texts, 1, tdim,
                            o.aligner ? "aligned" : o.output, o.threads, &dir))
            goto done;
    } else {
        dir = calloc((size_t)dim, sizeof(float));
        if (!dir) goto done;
        dir[o.klass] = 1;
    }
    if (cli_data_load(&d, o.args, o.nargs)) goto done;
    vit_decomp_opts dop = {.output = o.output, .split = o.split, .from = o.from, .directions = ndirs};
    vit_bind_opts bo = {0};
    if (!o.weights) { fprintf(stderr, "vitrun: --weights FILE.safetensors is required\n"); goto done; }
    if (vit_model_load_decomposed(ctx, o.module, &dop, &m) || vit_model_bind(ctx, m, o.weights, &bo)) {
        fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx));
        goto done;
    }
    if (cli_comps_read(m, &c) || cli_comps_grid(ctx, m, &c, &ntok, &first, &gh, &gw)) goto done;
    if (o.aligner && cli_align_dirs_bind(&ad, &c, dir, 1, &mdirs)) goto done;
    if (vit_model_set_param(ctx, m, "__directions", o.aligner ? mdirs : dir, (int64_t)ndirs * dim)) {
        fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx));
        goto done;
    }
    char pname[256];
    snprintf(pname, sizeof pname, "proj.%s", o.output);
    int kp = vit_model_output_find(m, pname);
    nout = vit_model_noutputs(m);
    if (kp < 0) { fprintf(stderr, "vitrun: no projection output '%s'\n", pname); goto done; }
    /* heads: the distinct names of token components; a head's id is its first component */
    heads = malloc(sizeof(int) * (size_t)c.n);
    score = calloc((size_t)c.n, sizeof(float));
    sel = calloc((size_t)c.n, 1);
    if (!heads || !score || !sel) goto done;
    for (int i = 0; i < c.n; i++) {
        if (c.token[i] < 0) continue;
        int h = -1;
        for (int j = 0; j < nh && h < 0; j++)
            if (!strcmp(c.name[heads[j]], c.name[i])) h = j;
        if (h < 0) heads[h = nh++] = i;
    }
    if (!nh) { fprintf(stderr, "vitrun: no token components\n"); goto done; }
    unsigned char *chosen = calloc((size_t)nh, 1);
    if (!chosen) goto done;
    if ((o.scores && choose_scored(&o, &c, heads, nh, chosen)) || cli_run_images(ctx, m, d.image, d.n, o.threads, "heatmap", &outs)) {
        free(chosen);
        goto done;
    }
    if (o.aligner) /* each component's projection on its own head's direction, compacted in place to [n, c.n] */
        for (size_t q = 0; q < (size_t)d.n * c.n; q++) {
            int b = ad.base[q % c.n];
            outs[kp][q] = b < 0 ? 0 : outs[kp][q * ndirs + b];
        }
    int nchosen = 0;
    if (o.components || o.layer) {
        char *s = strdup(o.components ? o.components : o.layer), *save = NULL;
        for (char *t = strtok_r(s, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
            while (*t == ' ') t++;
            int hit = 0;
            for (int j = 0; j < nh; j++) {
                const char *nm = c.name[heads[j]];
                size_t n = strlen(t);
                int ok = o.components ? !strcmp(nm, t)
                                      : (!strncmp(nm, t, n) && nm[n] == '.') || (atoi(t) == c.layer[heads[j]] && t[0] >= '0' && t[0] <= '9');
                if (ok) { chosen[j] = 1; hit = 1; }
            }
            if (!hit) {
                fprintf(stderr, "vitrun: no %s '%s'; the heads are:", o.components ? "head named" : "layer", t);
                for (int j = 0; j < nh; j++) fprintf(stderr, "%s '%s'", j ? "," : "", c.name[heads[j]]);
                fprintf(stderr, "\n");
                free(s);
                free(chosen);
                goto done;
            }
        }
        free(s);
    } else if (!o.scores) { /* the stand-in: the top N heads by mean |sum over tokens of the projection| */
        float *hs = calloc((size_t)nh, sizeof(float));
        for (int i = 0; i < d.n; i++)
            for (int j = 0; j < nh; j++) {
                double s = 0;
                for (int k = 0; k < c.n; k++)
                    if (c.token[k] >= 0 && !strcmp(c.name[k], c.name[heads[j]])) s += outs[kp][(size_t)i * c.n + k];
                hs[j] += (float)fabs(s) / (float)d.n;
            }
        for (int t = 0; t < (o.top ? o.top : 3) && t < nh; t++) {
            int b = -1;
            for (int j = 0; j < nh; j++)
                if (!chosen[j] && (b < 0 || hs[j] > hs[b])) b = j;
            chosen[b] = 1;
        }
        free(hs);
    }
    if (o.aligner) /* every head needs a map in the aligner */
        for (int j = 0; j < nh; j++)
            if (chosen[j] && cli_align_dirs_need(&ad, &c, heads[j])) {
                free(chosen);
                goto done;
            }
    for (int j = 0; j < nh; j++) nchosen += chosen[j];
    int cols = nchosen + (nchosen > 1);
    maps = malloc(sizeof(float) * (size_t)gh * gw * (size_t)(cols + 1));
    panels = calloc((size_t)d.n * cols + 1, sizeof(vit_picture *));
    if (!maps || !panels) { free(chosen); goto done; }
    for (int i = 0; i < d.n; i++) {
        vit_picture *view = NULL;
        if (vit_model_view(ctx, m, d.image[i], 0, &view)) { fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx)); free(chosen); goto done; }
        float range = 0, *sum = maps + (size_t)cols * gh * gw;
        memset(sum, 0, sizeof(float) * (size_t)gh * gw);
        int p = 0;
        for (int j = 0; j < nh; j++) {
            if (!chosen[j]) continue;
            for (int k = 0; k < c.n; k++) sel[k] = c.token[k] >= 0 && !strcmp(c.name[k], c.name[heads[j]]);
            float *mp = maps + (size_t)p++ * gh * gw;
            cli_patch_map(&c, sel, outs[kp] + (size_t)i * c.n, 1, first, gh, gw, mp);
            for (int q = 0; q < gh * gw; q++) sum[q] += mp[q];
        }
        if (cols > nchosen) memcpy(maps + (size_t)nchosen * gh * gw, sum, sizeof(float) * (size_t)gh * gw);
        for (int q = 0; q < cols * gh * gw; q++) range = fabsf(maps[q]) > range ? fabsf(maps[q]) : range;
        p = 0;
        for (int j = 0; j <= nh; j++) {
            if (j < nh && !chosen[j]) continue;
            if (j == nh && cols == nchosen) break;
            char title[512];
            float tot = 0;
            for (int q = 0; q < gh * gw; q++) tot += maps[(size_t)p * gh * gw + q];
            const char *who = j < nh ? c.name[heads[j]] : "sum";
            if (o.text) snprintf(title, sizeof title, "%s: %s %+.3g", who, o.text, tot);
            else snprintf(title, sizeof title, "%s: class %d %+.3g", who, o.klass, tot);
            printf("%s  %s\n", d.image[i], title); /* the panel's sum over the tokens, also as text */
            panels[npanels++] = vit_draw_heatmap(view, maps + (size_t)p * gh * gw, gw, gh, range, o.scale, title);
            p++;
        }
        vit_picture_free(view);
    }
    free(chosen);
    int cell = panels[0] ? (panels[0]->w > panels[0]->h ? panels[0]->w : panels[0]->h) : 64;
    vit_picture *pic = vit_draw_grid((const vit_picture *const *)panels, NULL, npanels, cols, cell, NULL);
    if (!pic || vit_picture_write_png(ctx, pic, o.out)) { fprintf(stderr, "vitrun: %s\n", pic ? vit_last_error(ctx) : "out of memory"); vit_picture_free(pic); goto done; }
    vit_picture_free(pic);
    printf("wrote %s: %d image%s x %d panel%s (%d x %d patch grid)\n", o.out, d.n, d.n == 1 ? "" : "s", cols, cols == 1 ? "" : "s", gh, gw);
    rc = 0;
done:
    for (int k = 0; k < npanels; k++) vit_picture_free(panels[k]);
    free(panels);
    cli_free_outputs(outs, nout);
    cli_comps_free(&c);
    cli_data_free(&d);
    free(dir); free(mdirs); free(score); free(maps); free(sel); free(heads); free(o.args);
    cli_align_dirs_free(&ad);
    vit_model_free(m);
    vit_ctx_free(ctx);
    return rc;
}
