/* runtime/cli/ablate.c — vitrun ablate and vitrun probe.
 *
 *   vitrun probe MODULE --weights W DATA... [--output repr] -o probe.safetensors
 *   vitrun ablate MODULE --weights W DATA... [--probe P] [--components "A;B" | --scores S.json --feature SPURIOUS[-CORE]
 *                 --top K | --rank SPURIOUS[-CORE] --top K] [--reference DATA] [--zero] [-o report.json]
 *   vitrun ablate --layers chart.png --model NAME=MODULE,WEIGHTS[,PROBE]... DATA...
 *
 * Ablation works on a decomposed output: ablated = output - sum of the
 * chosen components' contributions (+ their mean over the reference images
 * for mean-ablation), then a linear head: the model's own (decompose its
 * logits directly) or a probe trained here by logistic regression on an
 * output (the representation).  Accuracy per class and per group (labels'
 * "class" and "group"); "average" is the unweighted mean of the group
 * accuracies, as the paper reports Waterbirds.  Components are chosen by
 * name, by the paper's score for a text feature (a score file from vitrun
 * score: the top K for the feature, or for one feature minus another), or by
 * a label-separation stand-in (--rank, kept as a baseline). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "st.h"
#include "vit.h"

typedef struct {
    const char *module, *weights, *probe, *output, *split, *from, *components, *rank, *reference, *out, *layers, *scores, *feature;
    int top, zero, threads, nargs, nmodels;
    char *args[4096];
    char *models[8];
} AblOpts;

static int usage_ablate(FILE *f) {
    fprintf(f, "usage: vitrun ablate MODULE --weights W DATA... [--probe P.safetensors] [--output NAME] [--split head]\n"
               "         [--from L] [--components \"NAME;NAME\" | --scores S.json --feature F[-CORE] --top K |\n"
               "         --rank SPURIOUS[-CORE] --top K] [--reference DATA] [--zero] [--threads T] [-o report.json]\n"
               "       vitrun ablate --layers chart.png --model NAME=MODULE,WEIGHTS[,PROBE]... DATA... [-o curve.json]\n"
               "DATA: image files, folders, or data sets (a folder with labels.jsonl, or the file) with \"class\" and \"group\".\n"
               "--scores S.json --feature F ablates the K components (default 10) with the highest score for text feature F\n"
               "in S.json (vitrun score -o, computed on this model's components, e.g. its index with an aligner); F-G ranks\n"
               "by the score of F minus that of G (the paper's spurious minus core).\n"
               "--rank F1-F2 (a baseline without text) orders components by how well their contributions separate the\n"
               "values of label field F1 minus F2 on the reference images (between / within scatter) and ablates the top K.\n"
               "Mean-ablation (default) adds back each ablated component's mean over the reference images (default: DATA).\n");
    return f == stderr ? 2 : 0;
}

static int usage_probe(FILE *f) {
    fprintf(f, "usage: vitrun probe MODULE --weights W DATA... [--output repr] [--epochs E] [--lr R] [--l2 L]\n"
               "         [--threads T] -o probe.safetensors\n"
               "Trains a linear head (multinomial logistic regression on standardised features) on the output for\n"
               "the labels' \"class\"; writes weight [classes, dim] and bias [classes].\n");
    return f == stderr ? 2 : 0;
}

static int need(int argc, char **argv, int i) {
    if (i + 1 >= argc) { fprintf(stderr, "vitrun %s: %s needs a value\n", argv[1], argv[i]); return -1; }
    return 0;
}

static int parse_ablate(int argc, char **argv, AblOpts *o) {
    memset(o, 0, sizeof *o);
    o->threads = 2;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return 1;
        if (!strcmp(a, "--zero")) { o->zero = 1; continue; }
        static const char *const valued[] = {"--weights", "--probe", "--output", "--split", "--from", "--components", "--rank",
                                             "--reference", "-o", "--layers", "--top", "--threads", "--model", "--scores", "--feature"};
        int k = -1;
        for (int j = 0; j < (int)(sizeof valued / sizeof *valued); j++)
            if (!strcmp(a, valued[j])) k = j;
        if (k < 0 && a[0] == '-') { fprintf(stderr, "vitrun %s: unknown option %s\n", argv[1], a); return -1; }
        if (k < 0) {
            if (!o->module && !o->layers && !o->nmodels) o->module = a;
            else if (o->nargs < 4096) o->args[o->nargs++] = argv[i];
            continue;
        }
        if (need(argc, argv, i)) return -1;
        const char *v = argv[++i];
        switch (k) {
        case 0: o->weights = v; break;
        case 1: o->probe = v; break;
        case 2: o->output = v; break;
        case 3: o->split = v; break;
        case 4: o->from = v; break;
        case 5: o->components = v; break;
        case 6: o->rank = v; break;
        case 7: o->reference = v; break;
        case 8: o->out = v; break;
        case 9: o->layers = v; break;
        case 10: if (cli_parse_int("--top", v, 1, 100000, &o->top)) return -1; break;
        case 11: if (cli_parse_int("--threads", v, 1, 256, &o->threads)) return -1; break;
        case 12:
            if (o->nmodels == 8) { fprintf(stderr, "vitrun ablate: at most 8 --model\n"); return -1; }
            o->models[o->nmodels++] = argv[i];
            break;
        case 13: o->scores = v; break;
        case 14: o->feature = v; break;
        }
    }
    return 0;
}

/* A linear head from a probe file: w [classes, dim], b [classes]; the output it reads in *output. */
static int probe_read(const char *path, float **w, float **b, int *classes, int *dim, char *output, size_t outlen) {
    char err[1024];
    StFile *f = NULL;
    if (st_open(path, &f, err, sizeof err)) { fprintf(stderr, "vitrun: %s\n", err); return -1; }
    int64_t kw = st_find(f, "weight"), kb = st_find(f, "bias");
    if (kw < 0 || kb < 0 || f->t[kw].rank != 2 || f->t[kb].rank != 1 || f->t[kb].shape[0] != f->t[kw].shape[0]) {
        fprintf(stderr, "vitrun: %s: not a probe (expected weight [classes, dim] and bias [classes])\n", path);
        st_close(f);
        return -1;
    }
    *classes = (int)f->t[kw].shape[0];
    *dim = (int)f->t[kw].shape[1];
    *w = malloc(sizeof(float) * (size_t)(*classes * *dim));
    *b = malloc(sizeof(float) * (size_t)*classes);
    int rc = st_read_f32(f, kw, *w, err, sizeof err) || st_read_f32(f, kb, *b, err, sizeof err) ? -1 : 0;
    if (rc) fprintf(stderr, "vitrun: %s\n", err);
    const char *on = st_meta(f, "output");
    snprintf(output, outlen, "%s", on ? on : "repr");
    st_close(f);
    return rc;
}

/* Accuracy per group and class, and their summary; prints a table row when label is set */
typedef struct {
    double group[16], klass[64], overall, average, worst;
    int ngroups, nclasses, worst_group;
} Acc;

static void accuracy(const CliData *d, const float *logits, int classes, Acc *a) {
    int gn[16] = {0}, gc[16] = {0}, kn[64] = {0}, kc[64] = {0}, n = 0, c = 0;
    memset(a, 0, sizeof *a);
    for (int i = 0; i < d->n; i++) {
        const float *l = logits + (size_t)i * classes;
        int p = 0;
        for (int k = 1; k < classes; k++) p = l[k] > l[p] ? k : p;
        int ok = p == d->klass[i];
        n++;
        c += ok;
        if (d->klass[i] < 64) { kn[d->klass[i]]++; kc[d->klass[i]] += ok; }
        if (d->group[i] >= 0) { gn[d->group[i]]++; gc[d->group[i]] += ok; }
    }
    a->overall = n ? (double)c / n : 0;
    a->nclasses = classes < 64 ? classes : 64;
    for (int k = 0; k < a->nclasses; k++) a->klass[k] = kn[k] ? (double)kc[k] / kn[k] : NAN;
    a->worst = 1;
    double s = 0;
    for (int g = 0; g < 16; g++) {
        if (!gn[g]) continue;
        a->group[g] = (double)gc[g] / gn[g];
        a->ngroups = g + 1;
        s += a->group[g];
        if (a->group[g] < a->worst) { a->worst = a->group[g]; a->worst_group = g; }
    }
    int used = 0;
    for (int g = 0; g < 16; g++) used += gn[g] > 0;
    a->average = used ? s / used : a->overall;
    if (!used) a->worst = a->overall;
}

static int check_labels(const CliData *d, int classes, const char *what) {
    for (int i = 0; i < d->n; i++) {
        if (d->klass[i] < 0) { fprintf(stderr, "vitrun: %s: no \"class\" label (give a data set with labels.jsonl)\n", d->image[i]); return -1; }
        if (d->klass[i] >= classes) {
            fprintf(stderr, "vitrun: labels do not match %s: %s has class %d, but the head has %d classes\n", what, d->image[i], d->klass[i], classes);
            return -1;
        }
    }
    return 0;
}

/* Load `module` decomposed (output, split, from) and bound to `weights`. */
static vit_model *load_decomposed(vit_ctx *ctx, const char *module, const char *weights, const char *output, const char *split,
                                  const char *from) {
    vit_decomp_opts dop = {.output = output, .split = split, .from = from};
    vit_model *m = NULL;
    vit_bind_opts bo = {0};
    if (!weights) { fprintf(stderr, "vitrun: --weights FILE.safetensors is required\n"); return NULL; }
    if (vit_model_load_decomposed(ctx, module, &dop, &m) || vit_model_bind(ctx, m, weights, &bo)) {
        fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx));
        vit_model_free(m);
        return NULL;
    }
    return m;
}

/* The decomposed output and its contributions over a data set. */
typedef struct {
    float **outs;
    int nout, ncomp, dim;
    const float *y, *contrib;
} Run;

static int run_decomposed(vit_ctx *ctx, vit_model *m, const char *output, const CliData *d, int threads, const char *label, Run *r) {
    char cname[256];
    snprintf(cname, sizeof cname, "contrib.%s", output);
    int ky = vit_model_output_find(m, output), kc = vit_model_output_find(m, cname);
    memset(r, 0, sizeof *r);
    if (ky < 0 || kc < 0) { fprintf(stderr, "vitrun: the model has no output '%s' to decompose\n", output); return -1; }
    r->nout = vit_model_noutputs(m);
    r->dim = (int)vit_model_output_numel(m, ky);
    r->ncomp = (int)(vit_model_output_numel(m, kc) / r->dim);
    if (cli_run_images(ctx, m, d->image, d->n, threads, label, &r->outs)) return -1;
    r->y = r->outs[ky];
    r->contrib = r->outs[kc];
    return 0;
}

static float *comp_mean(const Run *r, int n) {
    float *mean = calloc((size_t)r->ncomp * r->dim, sizeof(float));
    if (!mean) return NULL;
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < (size_t)r->ncomp * r->dim; j++) mean[j] += r->contrib[(size_t)i * r->ncomp * r->dim + j] / (float)n;
    return mean;
}

/* --components "A;B": every component whose name is one of them (or starts with it and a space or dot) */
static int select_names(const CliComps *c, const char *list, unsigned char *sel) {
    char *s = strdup(list), *save = NULL;
    int rc = 0;
    for (char *t = strtok_r(s, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
        while (*t == ' ') t++;
        size_t n = strlen(t);
        while (n && t[n - 1] == ' ') t[--n] = 0;
        int hit = 0;
        for (int i = 0; i < c->n; i++)
            if (!strncmp(c->name[i], t, n) && (!c->name[i][n] || c->name[i][n] == ' ' || c->name[i][n] == '.')) sel[i] = 1, hit = 1;
        if (!hit) {
            fprintf(stderr, "vitrun: no component named '%s'; the components are:", t);
            for (int i = 0; i < c->n; i++) fprintf(stderr, "%s '%s'", i ? "," : "", c->name[i]);
            fprintf(stderr, "\n");
            rc = -1;
        }
    }
    free(s);
    return rc;
}

/* sel = the top K of the rankable components (not init or bias, with a score), listed under `title`;
 * -1 with a message when fewer than K can be ranked. */
static int choose_top(const CliComps *c, const double *score, int top, const char *title, const char *what, unsigned char *sel) {
    int *order = malloc(sizeof(int) * (size_t)c->n);
    unsigned char *rankable = malloc((size_t)c->n);
    if (!order || !rankable) { free(order), free(rankable); fprintf(stderr, "vitrun: out of memory\n"); return -1; }
    for (int i = 0; i < c->n; i++) rankable[i] = strcmp(c->kind[i], "init") && strcmp(c->kind[i], "bias");
    int m = cli_scores_order(score, rankable, c->n, order), rc = -1;
    if (top > m) {
        fprintf(stderr, "vitrun: --top %d, but %s ranks only %d components of this model (init, bias and components without a score are "
                        "not ranked)\n", top, what, m);
        goto done;
    }
    printf("%s\n", title);
    for (int i = 0; i < m && i < top + 3; i++) {
        if (i < top) sel[order[i]] = 1;
        printf("  %s %-40s %8.4f\n", i < top ? "*" : " ", c->name[order[i]], score[order[i]]);
    }
    rc = 0;
done:
    free(order), free(rankable);
    return rc;
}

/* --rank SPURIOUS[-CORE] --top K on the reference set */
static int select_ranked(vit_ctx *ctx, const AblOpts *o, const CliData *ref, const Run *rr, const CliComps *c,
                         unsigned char *sel) {
    char spur[128], core[128] = "", title[512];
    snprintf(spur, sizeof spur, "%s", o->rank);
    char *dash = strchr(spur, '-');
    if (dash) { *dash = 0; snprintf(core, sizeof core, "%s", dash + 1); }
    float *s1 = calloc((size_t)c->n, sizeof(float)), *s2 = calloc((size_t)c->n, sizeof(float));
    double *score = malloc(sizeof(double) * (size_t)c->n);
    int *lab = malloc(sizeof(int) * (size_t)ref->n), nv = 0, rc = -1;
    char **names = NULL;
    if (!s1 || !s2 || !lab || !score) { fprintf(stderr, "vitrun: out of memory\n"); goto done; }
    if (cli_data_field(ref, spur, lab, &names, &nv)) goto done;
    cli_free_lines(names, nv);
    if (vit_separation(ctx, rr->contrib, ref->n, c->n, rr->dim, lab, nv, s1)) { fprintf(stderr, "vitrun: --rank %s: %s\n", spur, vit_last_error(ctx)); goto done; }
    if (core[0]) {
        if (cli_data_field(ref, core, lab, &names, &nv)) goto done;
        cli_free_lines(names, nv);
        if (vit_separation(ctx, rr->contrib, ref->n, c->n, rr->dim, lab, nv, s2)) { fprintf(stderr, "vitrun: --rank %s: %s\n", core, vit_last_error(ctx)); goto done; }
    }
    for (int i = 0; i < c->n; i++) score[i] = (double)s1[i] - (double)s2[i];
    snprintf(title, sizeof title, "components by separation of %s%s%s (reference set, %d images):", spur, core[0] ? " minus " : "", core, ref->n);
    rc = choose_top(c, score, o->top ? o->top : 10, title, "--rank", sel);
done:
    free(s1); free(s2); free(score); free(lab);
    return rc;
}

/* --scores S.json --feature F[-G] --top K: the paper's score, computed by vitrun score on this model's components */
static int select_scored(const AblOpts *o, const CliComps *c, unsigned char *sel) {
    CliScores s;
    char title[1024];
    if (cli_scores_load(o->scores, o->feature, &s)) return -1;
    double *score = malloc(sizeof(double) * (size_t)c->n);
    int rc = -1;
    if (!score) { fprintf(stderr, "vitrun: out of memory\n"); goto done; }
    if (cli_scores_check_weights(&s, o->scores, o->weights) || cli_scores_check_names(&s, o->scores, c->name, c->n, 1)) goto done;
    for (int i = 0; i < c->n; i++) score[i] = s.score[cli_scores_find(&s, c->name[i])];
    if (s.images) snprintf(title, sizeof title, "components by score for %s (%s, %d images):", o->feature, o->scores, s.images);
    else snprintf(title, sizeof title, "components by score for %s (%s):", o->feature, o->scores);
    rc = choose_top(c, score, o->top ? o->top : 10, title, o->scores, sel);
done:
    free(score);
    cli_scores_free(&s);
    return rc;
}

static void print_acc(const char *label, const Acc *a, const CliData *d) {
    printf("%-8s average %6.2f %%  worst group %6.2f %%  overall %6.2f %%", label, 100 * a->average, 100 * a->worst, 100 * a->overall);
    for (int g = 0; g < a->ngroups; g++)
        printf("  | %s %.2f %%", d->group_name[g] ? d->group_name[g] : "group", 100 * a->group[g]);
    printf("\n");
}

static void json_acc(FILE *f, const char *name, const Acc *a, const CliData *d) {
    fprintf(f, "  \"%s\": {\"average\": %.4f, \"worst_group\": %.4f, \"overall\": %.4f, \"groups\": {", name, a->average, a->worst, a->overall);
    for (int g = 0, first = 1; g < a->ngroups; g++) {
        fprintf(f, "%s\"%s\": %.4f", first ? "" : ", ", d->group_name[g] ? d->group_name[g] : "group", a->group[g]);
        first = 0;
    }
    fprintf(f, "}, \"classes\": [");
    for (int k = 0; k < a->nclasses; k++) fprintf(f, "%s%.4f", k ? ", " : "", isnan(a->klass[k]) ? -1.0 : a->klass[k]);
    fprintf(f, "]}");
}

/* logits of the (possibly ablated) outputs y [n, dim] through the probe or as they are */
static float *head(const float *y, int n, int dim, const float *w, const float *b, int classes) {
    float *l = malloc(sizeof(float) * (size_t)n * (size_t)(w ? classes : dim) + 4);
    if (!l) return NULL;
    if (w) vit_probe_apply(w, b, classes, dim, y, n, l);
    else memcpy(l, y, sizeof(float) * (size_t)n * dim);
    return l;
}

static int write_report(const char *path, const char *text) { return path ? cli_write_text_atomic(path, text) : 0; }

static int ablate_layers(const AblOpts *o, CliData *d);

int cmd_ablate(int argc, char **argv) {
    AblOpts o;
    int pr = parse_ablate(argc, argv, &o);
    if (pr) return pr > 0 ? usage_ablate(stdout) : 2;
    CliData d = {0}, ref = {0};
    if (o.layers) {
        if (!o.nmodels) { fprintf(stderr, "vitrun ablate: --layers needs --model NAME=MODULE,WEIGHTS[,PROBE]\n"); return 2; }
        if (o.module) o.args[o.nargs++] = (char *)o.module; /* the first positional is data here */
        if (cli_data_load(&d, o.args, o.nargs)) return 1;
        int rc = ablate_layers(&o, &d);
        cli_data_free(&d);
        return rc;
    }
    if (!o.module) return usage_ablate(stderr);
    if (!!o.components + !!o.rank + !!o.scores != 1) {
        fprintf(stderr, "vitrun ablate: choose components with one of --components, --scores or --rank\n");
        return 2;
    }
    if (!o.scores != !o.feature) { fprintf(stderr, "vitrun ablate: --scores and --feature go together\n"); return 2; }
    vit_ctx *ctx = vit_ctx_new();
    vit_model *m = NULL;
    float *w = NULL, *b = NULL, *mean = NULL, *abl = NULL, *l0 = NULL, *l1 = NULL;
    int classes = 0, pdim = 0, rc = 1;
    char output[128];
    unsigned char *sel = NULL;
    Run r = {0}, rr = {0};
    CliComps c = {0};
    snprintf(output, sizeof output, "%s", o.output ? o.output : "logits");
    if (o.probe && probe_read(o.probe, &w, &b, &classes, &pdim, output, sizeof output)) goto done;
    if (o.probe && o.output) snprintf(output, sizeof output, "%s", o.output);
    if (cli_data_load(&d, o.args, o.nargs)) goto done;
    if (o.reference) {
        char *ra[1] = {(char *)o.reference};
        if (cli_data_load(&ref, ra, 1)) goto done;
    }
    if (!(m = load_decomposed(ctx, o.module, o.weights, output, o.split ? o.split : "head", o.from))) goto done;
    if (cli_comps_read(m, &c) || !(sel = calloc((size_t)c.n, 1))) goto done;
    if (o.components && select_names(&c, o.components, sel)) goto done;
    if (o.scores && select_scored(&o, &c, sel)) goto done;
    if (run_decomposed(ctx, m, output, &d, o.threads, "ablate", &r)) goto done;
    if (w && pdim != r.dim) {
        fprintf(stderr, "vitrun: the probe %s reads %d features, but this module's '%s' has %d (a probe of another module?)\n", o.probe, pdim, output, r.dim);
        goto done;
    }
    if (!w) classes = r.dim;
    if (check_labels(&d, classes, w ? "the probe" : "the model's output")) goto done;
    if (o.reference && run_decomposed(ctx, m, output, &ref, o.threads, "reference", &rr)) goto done;
    const Run *rs = o.reference ? &rr : &r;
    const CliData *ds = o.reference ? &ref : &d;
    if (o.rank && select_ranked(ctx, &o, ds, rs, &c, sel)) goto done;
    if (!o.zero && !(mean = comp_mean(rs, ds->n))) goto done;
    abl = malloc(sizeof(float) * (size_t)d.n * r.dim + 4);
    if (!abl) goto done;
    vit_ablate(r.y, r.contrib, d.n, r.ncomp, r.dim, sel, mean, abl);
    if (!(l0 = head(r.y, d.n, r.dim, w, b, classes)) || !(l1 = head(abl, d.n, r.dim, w, b, classes))) goto done;
    Acc a0, a1;
    accuracy(&d, l0, classes, &a0);
    accuracy(&d, l1, classes, &a1);
    int ns = 0;
    for (int i = 0; i < c.n; i++) ns += sel[i];
    printf("%s-ablating %d component%s of %s (%s head), %d images:\n", o.zero ? "zero" : "mean", ns, ns == 1 ? "" : "s", output,
           w ? "probe" : "the model's", d.n);
    print_acc("before", &a0, &d);
    print_acc("after", &a1, &d);
    if (o.out) {
        char *txt = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&txt, &len);
        fprintf(f, "{\n  \"ablation\": \"%s\", \"output\": \"%s\", \"head\": \"%s\", \"images\": %d,\n  \"components\": [", o.zero ? "zero" : "mean",
                output, w ? "probe" : "model", d.n);
        for (int i = 0, first = 1; i < c.n; i++)
            if (sel[i]) { fprintf(f, "%s\"%s\"", first ? "" : ", ", c.name[i]); first = 0; }
        fprintf(f, "],\n");
        json_acc(f, "before", &a0, &d);
        fprintf(f, ",\n");
        json_acc(f, "after", &a1, &d);
        fprintf(f, "\n}\n");
        fclose(f);
        int e = write_report(o.out, txt);
        free(txt);
        if (e) goto done;
    }
    rc = 0;
done:
    cli_free_outputs(r.outs, r.nout);
    cli_free_outputs(rr.outs, rr.nout);
    cli_comps_free(&c);
    cli_data_free(&d);
    cli_data_free(&ref);
    free(w); free(b); free(mean); free(abl); free(l0); free(l1); free(sel);
    vit_model_free(m);
    vit_ctx_free(ctx);
    return rc;
}

/* The layer-ablation curve: per model, components per branch (no split), mean-ablated cumulatively from the last. */
static int ablate_layers(const AblOpts *o, CliData *d) {
    vit_ctx *ctx = vit_ctx_new();
    vit_series series[8];
    float *xs[8] = {0}, *ys[8] = {0};
    char names[8][128];
    int rc = 1, nm = 0;
    for (int k = 0; k < o->nmodels; k++) {
        char spec[2048], *eq, *mod, *wts, *prb;
        snprintf(spec, sizeof spec, "%s", o->models[k]);
        eq = strchr(spec, '=');
        mod = eq ? eq + 1 : NULL;
        wts = mod ? strchr(mod, ',') : NULL;
        if (!eq || !wts) { fprintf(stderr, "vitrun ablate: --model %s: expected NAME=MODULE,WEIGHTS[,PROBE]\n", o->models[k]); goto done; }
        *eq = 0;
        *wts++ = 0;
        prb = strchr(wts, ',');
        if (prb) *prb++ = 0;
        snprintf(names[k], sizeof names[k], "%.127s", spec);
        float *w = NULL, *b = NULL, *mean = NULL, *abl = NULL, *l = NULL;
        int classes = 0, pdim = 0, ok = 0;
        char output[128] = "logits";
        vit_model *m = NULL;
        Run r = {0};
        CliComps c = {0};
        unsigned char *sel = NULL;
        if (prb && probe_read(prb, &w, &b, &classes, &pdim, output, sizeof output)) goto one;
        if (o->output) snprintf(output, sizeof output, "%s", o->output);
        if (!(m = load_decomposed(ctx, mod, wts, output, NULL, NULL))) goto one;
        if (cli_comps_read(m, &c) || run_decomposed(ctx, m, output, d, o->threads, names[k], &r)) goto one;
        if (w && pdim != r.dim) { fprintf(stderr, "vitrun: the probe %s reads %d features, not %d\n", prb, pdim, r.dim); goto one; }
        if (!w) classes = r.dim;
        if (check_labels(d, classes, w ? "the probe" : "the model's output")) goto one;
        sel = calloc((size_t)c.n, 1);
        mean = comp_mean(&r, d->n);
        abl = malloc(sizeof(float) * (size_t)d->n * r.dim + 4);
        xs[k] = malloc(sizeof(float) * (size_t)c.n);
        ys[k] = malloc(sizeof(float) * (size_t)c.n);
        if (!sel || !mean || !abl || !xs[k] || !ys[k]) goto one;
        int np = 0;
        for (int removed = 0, i = c.n; i >= 0; i--) { /* i: first ablated component */
            if (i < c.n) {
                if (!strcmp(c.kind[i], "init") || !strcmp(c.kind[i], "bias")) continue;
                sel[i] = 1;
                removed++;
            }
            vit_ablate(r.y, r.contrib, d->n, r.ncomp, r.dim, sel, mean, abl);
            free(l);
            if (!(l = head(abl, d->n, r.dim, w, b, classes))) goto one;
            Acc a;
            accuracy(d, l, classes, &a);
            xs[k][np] = (float)removed;
            ys[k][np++] = (float)(100 * a.average);
            printf("%s: %2d removed%s%s  average %.2f %%  worst group %.2f %%\n", names[k], removed, removed ? ", last " : "",
                   removed ? c.name[i] : "", 100 * a.average, 100 * a.worst);
        }
        series[k] = (vit_series){names[k], xs[k], ys[k], np};
        nm++;
        ok = 1;
    one:
        free(w); free(b); free(mean); free(abl); free(l); free(sel);
        cli_free_outputs(r.outs, r.nout);
        cli_comps_free(&c);
        vit_model_free(m);
        if (!ok) goto done;
    }
    vit_chart ch = {.title = "Mean-ablating layers from the last", .xlabel = "components removed (attention and MLP, last first)",
                    .ylabel = "accuracy %", .series = series, .nseries = nm, .ymin = 0, .ymax = 100};
    vit_picture *p = vit_draw_chart(&ch);
    if (!p) { fprintf(stderr, "vitrun: out of memory\n"); goto done; }
    if (vit_picture_write_png(ctx, p, o->layers)) { fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx)); vit_picture_free(p); goto done; }
    vit_picture_free(p);
    printf("wrote %s\n", o->layers);
    rc = 0;
done:
    for (int k = 0; k < 8; k++) { free(xs[k]); free(ys[k]); }
    vit_ctx_free(ctx);
    return rc;
}

int cmd_probe(int argc, char **argv) {
    const char *module = NULL, *weights = NULL, *output = "repr", *out = NULL;
    vit_probe_opts po = {0};
    int threads = 2, nargs = 0;
    char **args = calloc((size_t)argc, sizeof(char *));
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { free(args); return usage_probe(stdout); }
        int val = !strcmp(a, "--weights") || !strcmp(a, "--output") || !strcmp(a, "-o") || !strcmp(a, "--threads") ||
                  !strcmp(a, "--epochs") || !strcmp(a, "--lr") || !strcmp(a, "--l2");
        if (!val && a[0] == '-') { fprintf(stderr, "vitrun probe: unknown option %s\n", a); free(args); return 2; }
        if (!val) { if (!module) module = a; else args[nargs++] = argv[i]; continue; }
        if (need(argc, argv, i)) { free(args); return 2; }
        const char *v = argv[++i];
        if (!strcmp(a, "--weights")) weights = v;
        else if (!strcmp(a, "--output")) output = v;
        else if (!strcmp(a, "-o")) out = v;
        else if (!strcmp(a, "--threads") && cli_parse_int(a, v, 1, 256, &threads)) { free(args); return 2; }
        else if (!strcmp(a, "--epochs") && cli_parse_int(a, v, 1, 1000000, &po.epochs)) { free(args); return 2; }
        else if (!strcmp(a, "--lr")) po.lr = strtof(v, NULL);
        else if (!strcmp(a, "--l2")) po.l2 = strtof(v, NULL);
    }
    if (!module || !out) { free(args); return usage_probe(stderr); }
    vit_ctx *ctx = vit_ctx_new();
    vit_model *m = NULL;
    vit_bind_opts bo = {0};
    CliData d = {0};
    float **outs = NULL, *w = NULL, *b = NULL, *l = NULL;
    int rc = 1, ko, classes = 0, dim, nout = 0;
    if (cli_data_load(&d, args, nargs)) goto done;
    if (!weights) { fprintf(stderr, "vitrun: --weights FILE.safetensors is required\n"); goto done; }
    if (vit_model_load(ctx, module, &m) || vit_model_bind(ctx, m, weights, &bo)) { fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx)); goto done; }
    if ((ko = vit_model_output_find(m, output)) < 0) { fprintf(stderr, "vitrun: the module has no output '%s'\n", output); goto done; }
    for (int i = 0; i < d.n; i++) {
        if (d.klass[i] < 0) { fprintf(stderr, "vitrun: %s: no \"class\" label (give a data set with labels.jsonl)\n", d.image[i]); goto done; }
        classes = d.klass[i] + 1 > classes ? d.klass[i] + 1 : classes;
    }
    if (classes < 2) { fprintf(stderr, "vitrun: the labels have a single class; a probe needs two or more\n"); goto done; }
    nout = vit_model_noutputs(m);
    if (cli_run_images(ctx, m, d.image, d.n, threads, "probe", &outs)) goto done;
    dim = (int)vit_model_output_numel(m, ko);
    w = malloc(sizeof(float) * (size_t)classes * dim);
    b = malloc(sizeof(float) * (size_t)classes);
    l = malloc(sizeof(float) * (size_t)classes * d.n);
    if (!w || !b || !l) goto done;
    if (vit_probe_train(ctx, outs[ko], d.klass, d.n, dim, classes, &po, w, b)) { fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx)); goto done; }
    vit_probe_apply(w, b, classes, dim, outs[ko], d.n, l);
    Acc a;
    accuracy(&d, l, classes, &a);
    printf("probe on '%s' [%d] for %d classes, %d images: training accuracy %.2f %% (group average %.2f %%, worst group %.2f %%)\n",
           output, dim, classes, d.n, 100 * a.overall, 100 * a.average, 100 * a.worst);
    StWriter *sw = st_writer_new();
    int64_t ws[2] = {classes, dim}, bs[1] = {classes};
    char err[1024];
    st_writer_add_f32(sw, "weight", 2, ws, w);
    st_writer_add_f32(sw, "bias", 1, bs, b);
    st_writer_meta(sw, "output", output);
    if (st_writer_finish(sw, out, err, sizeof err)) { fprintf(stderr, "vitrun: %s\n", err); goto done; }
    printf("wrote %s: weight [%d, %d], bias [%d]\n", out, classes, dim, classes);
    rc = 0;
done:
    cli_free_outputs(outs, nout);
    free(w); free(b); free(l); free(args);
    cli_data_free(&d);
    vit_model_free(m);
    vit_ctx_free(ctx);
    return rc;
}
