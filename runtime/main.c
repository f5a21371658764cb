/* runtime/main.c — the vitrun command line.
 *   vitrun run MODULE --weights W.safetensors (IMAGE... | --tensor T.safetensors) [-o OUT.safetensors]
 *   vitrun bench MODULE --weights W [--batch B] [--threads T] [--runs R]
 *   vitrun info MODULE
 *   vitrun embed-text MODULE --weights W --vocab V (TEXT... | --file F) [--templates T] [-o OUT.safetensors]
 * Outputs are written atomically; a failed run leaves no output file. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bpe.h"
#include "cli.h"
#include "img.h"
#include "pipeline.h"
#include "ir.h"
#include "st.h"
#include "toyworld.h"
#include "vit.h"

static void usage(FILE *o) {
    fprintf(o,
            "usage: vitrun run MODULE.vitm --weights W.safetensors IMAGE... [options]\n"
            "       vitrun run MODULE.vitm --weights W.safetensors --tensor INPUT.safetensors [options]\n"
            "       vitrun bench MODULE.vitm --weights W.safetensors [--batch B] [--threads T] [--runs R]\n"
            "       vitrun decompose MODULE.vitm --weights W.safetensors IMAGE... [-o COMPS.safetensors] [options]\n"
            "       vitrun info MODULE.vitm\n"
            "       vitrun embed-text MODULE.vitm --weights W.safetensors --vocab VOCAB (TEXT... | --file F) [--templates T] [-o OUT.safetensors]\n"
            "       vitrun index | merge | align | describe | score | retrieve | heatmap | ablate | probe | segment | report ...\n"
            "                             (the applications: vitrun COMMAND --help)\n"
            "       vitrun toyworld generate --seed S --count N [--size 64] [--format png|jpeg] [--spurious P | --balanced] -o DIR\n"
            "options:\n"
            "  -o FILE.safetensors   write every output as [images, ...] (names = the spec's outputs)\n"
            "  --engine jit|interp   execution engine (default jit)\n"
            "  --threads N           threads (default: the cores available)\n"
            "  --labels FILE         class names, one per line: print the top-5 of 'logits'\n"
            "  --allow-missing       run even when the checkpoint lacks parameters (zeros)\n"
            "  --allow-unused        accept checkpoint keys the spec does not use\n"
            "embed-text options (a text model: input token ids, output 'embedding'; rows are L2-normalised):\n"
            "  --vocab FILE          CLIP's BPE vocabulary (bpe_simple_vocab_16e6.txt.gz)\n"
            "  --file F              texts, one a line (instead of TEXT arguments)\n"
            "  --templates T         prompt templates, one a line, {} standing for the text: each text's row is\n"
            "                        the L2-normalised mean of its L2-normalised template embeddings\n"
            "  -o OUT.safetensors    'embeddings' [texts, dim], the texts in OUT.json\n"
            "decompose options:\n"
            "  --output NAME         the output to decompose (default repr)\n"
            "  --split AXES          keep these axes apart, e.g. head or head,token\n"
            "  --from LAYER          first decomposed layer (ordinal or scope, e.g. 7 or blocks.7); earlier ones fold into init\n"
            "  --bias equal|separate share constants equally (as the reference code) or into one 'bias' component\n"
            "  --ln exact|reference|center  LayerNorm statistics: exact (the model's eps, biased variance),\n"
            "                        as the reference code (unbiased std, eps 1e-5), or exact with each component centred\n"
            "  --check               verify on every image that the components sum to the output\n"
            "  --directions FILE     a safetensors file with one tensor [k, dim]: write each component's k projections\n"
            "                        (proj [images, components, k]) without materialising the components\n");
}

typedef struct {
    const char *cmd, *module, *weights, *out, *tensor, *labels;
    const char **images;
    int nimages;
    int engine, threads, batch, runs;
    vit_bind_opts bind;
    ContribOpts dec;      /* decompose options, checked as parsed */
    vit_decomp_opts dopts; /* the same, as given (what vit_model_load_decomposed takes) */
    char splitbuf[256];  /* storage for --split names */
    int check;            /* decompose --check */
    const char *dirs;     /* decompose --directions FILE */
    int bench_decompose;  /* bench --decompose: time the decomposition */
} Opts;

static int avail_cores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static int parse(int argc, char **argv, Opts *o) {
    o->cmd = argv[1];
    o->images = calloc((size_t)argc, sizeof(char *));
    o->threads = avail_cores();
    o->batch = 1;
    o->runs = 5;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int needs = !strcmp(a, "--output") || !strcmp(a, "--split") || !strcmp(a, "--from") || !strcmp(a, "--bias") ||
                    !strcmp(a, "--ln") || !strcmp(a, "--directions") || !strcmp(a, "--weights") || !strcmp(a, "-o") || !strcmp(a, "--tensor") || !strcmp(a, "--engine") ||
                    !strcmp(a, "--threads") || !strcmp(a, "--labels") || !strcmp(a, "--batch") || !strcmp(a, "--runs");
        if (needs && i + 1 >= argc) { fprintf(stderr, "vitrun: %s needs a value\n", a); return -1; }
        if (!strcmp(a, "--weights")) o->weights = argv[++i];
        else if (!strcmp(a, "-o")) o->out = argv[++i];
        else if (!strcmp(a, "--tensor")) o->tensor = argv[++i];
        else if (!strcmp(a, "--labels")) o->labels = argv[++i];
        else if (!strcmp(a, "--engine")) {
            const char *e = argv[++i];
            if (!strcmp(e, "jit")) o->engine = VIT_ENGINE_JIT;
            else if (!strcmp(e, "interp")) o->engine = VIT_ENGINE_INTERP;
            else { fprintf(stderr, "vitrun: --engine is jit or interp, not '%s'\n", e); return -1; }
        } else if (!strcmp(a, "--threads") || !strcmp(a, "--batch") || !strcmp(a, "--runs")) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 4096) { fprintf(stderr, "vitrun: %s needs a positive integer\n", a); return -1; }
            if (a[2] == 't') o->threads = (int)v;
            else if (a[2] == 'b') o->batch = (int)v;
            else o->runs = (int)v;
        } else if (!strcmp(a, "--output") || !strcmp(a, "--from") || !strcmp(a, "--split") || !strcmp(a, "--bias") ||
                   !strcmp(a, "--ln")) {
            char err[128];
            const char *v = argv[++i];
            if (pipeline_decompose_opt(a, v, &o->dec, o->splitbuf, sizeof o->splitbuf, err, sizeof err) < 0) {
                fprintf(stderr, "vitrun: %s\n", err);
                return -1;
            }
            const char **slot = a[2] == 'o' ? &o->dopts.output : a[2] == 'f' ? &o->dopts.from : a[2] == 's' ? &o->dopts.split
                                : a[2] == 'b' ? &o->dopts.bias : &o->dopts.ln;
            *slot = v;
        } else if (!strcmp(a, "--check")) o->check = 1;
        else if (!strcmp(a, "--directions")) o->dirs = argv[++i];
        else if (!strcmp(a, "--decompose")) o->bench_decompose = 1;
        else if (!strcmp(a, "--allow-missing")) o->bind.allow_missing = 1;
        else if (!strcmp(a, "--allow-unused")) o->bind.allow_unused = 1;
        else if (a[0] == '-' && a[1]) { fprintf(stderr, "vitrun: unknown option '%s'\n", a); usage(stderr); return -1; }
        else if (!o->module) o->module = a;
        else o->images[o->nimages++] = a;
    }
    if (!o->module) { fprintf(stderr, "vitrun: no module given\n"); return -1; }
    return 0;
}

static int load_bound(vit_ctx *ctx, const Opts *o, vit_model **m) {
    if (vit_model_load(ctx, o->module, m)) { fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx)); return -1; }
    if (!o->weights) { fprintf(stderr, "vitrun: --weights FILE.safetensors is required\n"); return -1; }
    if (vit_model_bind(ctx, *m, o->weights, &o->bind)) { fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx)); return -1; }
    if (vit_last_error(ctx)[0]) fprintf(stderr, "vitrun: %s", vit_last_error(ctx));
    return 0;
}

/* Input from a safetensors file: one tensor [N, ...input shape] or [...input shape]. */
static float *read_tensor_input(const char *path, const IrGraph *g, int *n) {
    char err[1024];
    StFile *st = NULL;
    if (st_open(path, &st, err, sizeof err)) { fprintf(stderr, "vitrun: %s\n", err); return NULL; }
    int64_t k = st_find(st, "image");
    if (k < 0) k = st_find(st, "input");
    if (k < 0 && st->n == 1) k = 0;
    if (k < 0) { fprintf(stderr, "vitrun: %s: no tensor named 'image' or 'input'\n", path); st_close(st); return NULL; }
    const StTensor *t = &st->t[k];
    const IrShape *s = &g->nodes[g->input].shape;
    int off = t->rank == s->rank + 1 ? 1 : 0;
    int ok = t->rank == s->rank + off;
    for (int i = 0; ok && i < s->rank; i++) ok = t->shape[i + off] == s->ax[i].size;
    if (!ok) {
        char sh[256], got[256];
        ir_shape_str(s, sh, sizeof sh);
        size_t q = (size_t)snprintf(got, sizeof got, "[");
        for (int i = 0; i < t->rank && q < sizeof got; i++) q += (size_t)snprintf(got + q, sizeof got - q, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        if (q < sizeof got) snprintf(got + q, sizeof got - q, "]");
        fprintf(stderr, "vitrun: %s: tensor '%s' has shape %s; the module's input is [N, ...] over %s\n", path, t->name, got, sh);
        st_close(st);
        return NULL;
    }
    *n = off ? (int)t->shape[0] : 1;
    float *buf = malloc((size_t)st_numel(t) * sizeof(float) + 4);
    if (!buf || st_read_f32(st, k, buf, err, sizeof err)) {
        fprintf(stderr, "vitrun: %s\n", buf ? err : "out of memory");
        free(buf);
        buf = NULL;
    }
    st_close(st);
    return buf;
}

static float *read_images(const Opts *o, const IrGraph *g, int *n) {
    int64_t in = ir_numel(&g->nodes[g->input].shape);
    const IrShape *s = &g->nodes[g->input].shape;
    if (s->rank != 3 || s->ax[0].size != 3 || s->ax[1].size != g->pre.size || s->ax[2].size != g->pre.size) {
        fprintf(stderr, "vitrun: this module's input is not a [3, size, size] image; use --tensor\n");
        return NULL;
    }
    float *buf = malloc((size_t)(in * o->nimages) * sizeof(float) + 4);
    if (!buf) { fprintf(stderr, "vitrun: out of memory\n"); return NULL; }
    for (int i = 0; i < o->nimages; i++) {
        char err[1024];
        if (img_load_tensor(o->images[i], &g->pre, buf + in * i, err, sizeof err)) {
            fprintf(stderr, "vitrun: %s\n", err);
            free(buf);
            return NULL;
        }
        if (o->nimages > 4 && isatty(2)) fprintf(stderr, "\rreading images %d/%d", i + 1, o->nimages);
    }
    if (o->nimages > 4 && isatty(2)) fprintf(stderr, "\n");
    *n = o->nimages;
    return buf;
}

static char **read_labels(const char *path, int *n) {
    FILE *f = fopen(path, "r");
    if (!f) { fprintf(stderr, "vitrun: %s: %s\n", path, strerror(errno)); return NULL; }
    char **v = NULL, line[1024];
    int cap = 0;
    *n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (*n == cap) { cap = cap ? 2 * cap : 1024; v = realloc(v, sizeof(char *) * (size_t)cap); }
        v[(*n)++] = strdup(line);
    }
    fclose(f);
    return v;
}

static int cmd_run(const Opts *o) {
    vit_ctx *ctx = vit_ctx_new();
    vit_model *m = NULL;
    float *input = NULL, **outs = NULL;
    char **labels = NULL;
    int nlabels = 0, n = 0, rc = 1;
    if (load_bound(ctx, o, &m)) goto done;
    const IrGraph *g = vit_model_graph(m);
    if (o->tensor && o->nimages) { fprintf(stderr, "vitrun: give images or --tensor, not both\n"); goto done; }
    if (!o->tensor && !o->nimages) { fprintf(stderr, "vitrun: no images given (or --tensor FILE)\n"); goto done; }
    input = o->tensor ? read_tensor_input(o->tensor, g, &n) : read_images(o, g, &n);
    if (!input) goto done;
    if (o->labels && !(labels = read_labels(o->labels, &nlabels))) goto done;
    int no = vit_model_noutputs(m);
    outs = calloc((size_t)no, sizeof(float *));
    for (int k = 0; k < no; k++) outs[k] = malloc((size_t)(vit_model_output_numel(m, k) * n) * sizeof(float) + 4);
    if (vit_model_run(ctx, m, (enum vit_engine)o->engine, input, n, o->threads, outs)) {
        fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx));
        goto done;
    }
    if (o->out) {
        StWriter *w = st_writer_new();
        for (int k = 0; k < no; k++) {
            const IrShape *s = &g->nodes[g->outputs[k].node].shape;
            int64_t shape[IR_MAX_RANK + 1] = {n};
            for (int a = 0; a < s->rank; a++) shape[a + 1] = s->ax[a].size;
            st_writer_add_f32(w, vit_model_output_name(m, k), s->rank + 1, shape, outs[k]);
        }
        char names[8192] = "";
        for (int i = 0; i < o->nimages; i++) {
            size_t l = strlen(names);
            snprintf(names + l, sizeof names - l, "%s%s", i ? "\n" : "", o->images[i]);
        }
        if (o->nimages) st_writer_meta(w, "images", names);
        st_writer_meta(w, "model", g->name ? g->name : "");
        char err[1024];
        if (st_writer_finish(w, o->out, err, sizeof err)) { fprintf(stderr, "vitrun: %s\n", err); goto done; }
        printf("wrote %s (%d image%s)\n", o->out, n, n == 1 ? "" : "s");
    } else {
        for (int i = 0; i < n; i++) {
            printf("%s\n", o->nimages ? o->images[i] : "input");
            for (int k = 0; k < no; k++) {
                int64_t on = vit_model_output_numel(m, k);
                const float *v = outs[k] + on * i;
                printf("  %s [%lld]:", vit_model_output_name(m, k), (long long)on);
                for (int64_t j = 0; j < on && j < 6; j++) printf(" %.5f", v[j]);
                printf("%s\n", on > 6 ? " ..." : "");
            }
        }
    }
    if (labels) {
        int lk = -1;
        for (int k = 0; k < no; k++) if (!strcmp(vit_model_output_name(m, k), "logits")) lk = k;
        if (lk < 0) { fprintf(stderr, "vitrun: --labels needs an output named 'logits'\n"); goto done; }
        int64_t on = vit_model_output_numel(m, lk);
        for (int i = 0; i < n; i++) {
            const float *v = outs[lk] + on * i;
            double mx = -INFINITY, z = 0;
            for (int64_t j = 0; j < on; j++) if (v[j] > mx) mx = v[j];
            for (int64_t j = 0; j < on; j++) z += exp(v[j] - mx);
            printf("%s top-5:\n", o->nimages ? o->images[i] : "input");
            char *taken = calloc((size_t)on, 1);
            for (int t = 0; t < 5 && t < on; t++) {
                int64_t b = -1;
                for (int64_t j = 0; j < on; j++) if (!taken[j] && (b < 0 || v[j] > v[b])) b = j;
                taken[b] = 1;
                printf("  %5.1f%%  %lld  %s\n", 100 * exp(v[b] - mx) / z, (long long)b, b < nlabels ? labels[b] : "?");
            }
            free(taken);
        }
    }
    rc = 0;
done:
    if (outs) for (int k = 0; k < vit_model_noutputs(m); k++) free(outs[k]);
    free(outs);
    for (int i = 0; i < nlabels; i++) free(labels[i]);
    free(labels);
    free(input);
    vit_model_free(m);
    vit_ctx_free(ctx);
    return rc;
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* CPU time of the process (every thread), in ms: less sensitive than wall time to other jobs */
static double cpu_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* --directions FILE: one tensor [k, dim] (or the one named 'directions'): *dirs (malloc'd), its
 * numel and k.  0, or -1 with a message. */
static int read_directions(const char *path, float **dirs, int64_t *numel, int *k) {
    char err[2048];
    StFile *df = NULL;
    if (st_open(path, &df, err, sizeof err)) { fprintf(stderr, "vitrun: %s\n", err); return -1; }
    int64_t t = st_find(df, "directions");
    if (t < 0 && df->n == 1) t = 0;
    if (t < 0 || df->t[t].rank < 1) {
        fprintf(stderr, "vitrun: %s: expected one tensor [k, dim] (or one named 'directions')\n", path);
        st_close(df);
        return -1;
    }
    *numel = st_numel(&df->t[t]);
    *k = (int)df->t[t].shape[0];
    *dirs = malloc((size_t)*numel * sizeof(float) + 4);
    int e = st_read_f32(df, t, *dirs, err, sizeof err);
    st_close(df);
    if (e) { fprintf(stderr, "vitrun: %s\n", err); return -1; }
    return 0;
}

/* The module with the decomposition the options ask for, k directions (0: none). */
static int decomposed_model(vit_ctx *ctx, const Opts *o, int k, vit_model **m) {
    vit_decomp_opts d = o->dopts;
    d.directions = k;
    if (vit_model_load_decomposed(ctx, o->module, &d, m)) { fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx)); return -1; }
    return 0;
}

/* The module with a decomposition derived by the options, bound (bench --decompose). */
static int load_decomposed(vit_ctx *ctx, const Opts *o, vit_model **m, float **dirs) {
    int64_t ndirs = 0;
    int k = 0;
    if (o->dirs && read_directions(o->dirs, dirs, &ndirs, &k)) return -1;
    if (decomposed_model(ctx, o, k, m)) return -1;
    if (vit_model_bind(ctx, *m, o->weights, &o->bind) || (*dirs && vit_model_set_param(ctx, *m, "__directions", *dirs, ndirs))) {
        fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx));
        return -1;
    }
    return 0;
}

static int cmd_bench(const Opts *o) {
    vit_ctx *ctx = vit_ctx_new();
    vit_model *m = NULL;
    int rc = 1;
    float *input = NULL, **outs = NULL, *dirs = NULL;
    if (o->bench_decompose ? load_decomposed(ctx, o, &m, &dirs) : load_bound(ctx, o, &m)) goto done;
    int64_t in = vit_model_input_numel(m);
    input = malloc((size_t)(in * o->batch) * sizeof(float));
    unsigned s = 12345;
    for (int64_t i = 0; i < in * o->batch; i++) { s = s * 1103515245u + 12345u; input[i] = (float)((s >> 9) & 0xffff) / 32768.0f - 1.0f; }
    int no = vit_model_noutputs(m);
    outs = calloc((size_t)no, sizeof(float *));
    for (int k = 0; k < no; k++) outs[k] = malloc((size_t)(vit_model_output_numel(m, k) * o->batch) * sizeof(float));
    double t0 = now_ms();
    if (vit_model_prepare(ctx, m, (enum vit_engine)o->engine)) { fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx)); goto done; }
    fprintf(stderr, "prepared in %.0f ms\n", now_ms() - t0);
    for (int r = -1; r < o->runs; r++) { /* run -1 is the warm-up */
        double t = now_ms(), c0 = cpu_ms();
        if (vit_model_run(ctx, m, (enum vit_engine)o->engine, input, o->batch, o->threads, outs)) {
            fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx));
            goto done;
        }
        double ms = (now_ms() - t) / o->batch, cms = (cpu_ms() - c0) / o->batch;
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        if (r >= 0)
            printf("{\"run\": %d, \"batch\": %d, \"threads\": %d, \"ms_per_image\": %.3f, \"cpu_ms_per_image\": %.3f, "
                   "\"max_rss_kib\": %ld}\n", r, o->batch, o->threads, ms, cms, ru.ru_maxrss);
        fflush(stdout);
    }
    rc = 0;
done:
    free(dirs);
    if (outs) for (int k = 0; k < vit_model_noutputs(m); k++) free(outs[k]);
    free(outs);
    free(input);
    vit_model_free(m);
    vit_ctx_free(ctx);
    return rc;
}

static int cmd_decompose(const Opts *o) {
    vit_ctx *ctx = vit_ctx_new();
    vit_model *m = NULL;
    float *input = NULL, **outs = NULL;
    int rc = 1, n = 0;
    char err[2048];
    const char *oname = o->dec.output ? o->dec.output : "repr";
    ContribOpts dec = o->dec;
    float *dirs = NULL, *zp = NULL;
    int64_t ndirs = 0;
    if (o->dirs && read_directions(o->dirs, &dirs, &ndirs, &dec.directions)) goto done;
    if (decomposed_model(ctx, o, dec.directions, &m)) goto done;
    char cname[160];
    snprintf(cname, sizeof cname, "%s.%s", dec.directions ? "proj" : "contrib", oname);
    if (!o->weights) { fprintf(stderr, "vitrun: --weights FILE.safetensors is required\n"); goto done; }
    if (vit_model_bind(ctx, m, o->weights, &o->bind)) { fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx)); goto done; }
    if (dirs && vit_model_set_param(ctx, m, "__directions", dirs, ndirs)) {
        fprintf(stderr, "vitrun: %s: %s: %d directions of %lld values each, but the output '%s' has other dimensions\n", o->dirs,
                vit_last_error(ctx), dec.directions, (long long)(ndirs / dec.directions), oname);
        goto done;
    }
    const IrGraph *mg = vit_model_graph(m);
    if (o->tensor && o->nimages) { fprintf(stderr, "vitrun: give images or --tensor, not both\n"); goto done; }
    if (!o->tensor && !o->nimages) { fprintf(stderr, "vitrun: no images given (or --tensor FILE)\n"); goto done; }
    input = o->tensor ? read_tensor_input(o->tensor, mg, &n) : read_images(o, mg, &n);
    if (!input) goto done;
    int no = vit_model_noutputs(m), kc = -1, ko = -1;
    for (int k = 0; k < no; k++) {
        if (!strcmp(vit_model_output_name(m, k), cname)) kc = k;
        if (!strcmp(vit_model_output_name(m, k), oname)) ko = k;
    }
    if (kc < 0 || ko < 0) { fprintf(stderr, "vitrun: the module has no decomposition of '%s'\n", oname); goto done; }
    outs = calloc((size_t)no, sizeof(float *));
    for (int k = 0; k < no; k++) outs[k] = malloc((size_t)(vit_model_output_numel(m, k) * n) * sizeof(float) + 4);
    if (vit_model_run(ctx, m, (enum vit_engine)o->engine, input, n, o->threads, outs)) {
        fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx));
        goto done;
    }
    const IrShape *cs = &mg->nodes[mg->outputs[kc].node].shape;
    int64_t ncomp = cs->ax[0].size, zdim = vit_model_output_numel(m, ko);
    int64_t dim = dec.directions ? dec.directions : zdim;
    double worst = 0;
    zp = malloc((size_t)dim * sizeof(float));
    for (int i = 0; i < n; i++) {
        const float *c = outs[kc] + (int64_t)i * ncomp * dim, *z = outs[ko] + (int64_t)i * zdim;
        if (dec.directions) { /* compare with the output projected on the directions */
            for (int64_t j = 0; j < dim; j++) {
                double s = 0;
                for (int64_t d = 0; d < zdim; d++) s += (double)z[d] * dirs[j * zdim + d];
                zp[j] = (float)s;
            }
            z = zp;
        }
        double norm = 0, mx = 0;
        for (int64_t d = 0; d < dim; d++) norm += (double)z[d] * z[d];
        norm = sqrt(norm);
        for (int64_t d = 0; d < dim; d++) {
            double s = 0;
            for (int64_t q = 0; q < ncomp; q++) s += c[q * dim + d];
            if (fabs(s - z[d]) > mx) mx = fabs(s - z[d]);
        }
        double rel = norm > 0 ? mx / norm : mx;
        if (rel > worst) worst = rel;
        if (o->check) printf("%s: %lld components, max |sum - %s| = %.3g x |%s|\n", o->nimages ? o->images[i] : "input",
                             (long long)ncomp, oname, rel, oname);
    }
    if (o->check && worst > 1e-4) {
        fprintf(stderr, "vitrun: check failed: the components miss the output by %.3g x its norm%s\n", worst,
                o->dec.ln_reference ? " (expected with --ln reference: its statistics are not the model's)" : "");
        if (!o->dec.ln_reference) goto done;
    }
    if (o->out) {
        StWriter *w = st_writer_new();
        int64_t shape[IR_MAX_RANK + 2] = {n};
        for (int a = 0; a < cs->rank; a++) shape[a + 1] = cs->ax[a].size;
        st_writer_add_f32(w, dec.directions ? "proj" : "contrib", cs->rank + 1, shape, outs[kc]);
        const IrShape *os = &mg->nodes[mg->outputs[ko].node].shape;
        for (int a = 0; a < os->rank; a++) shape[a + 1] = os->ax[a].size;
        st_writer_add_f32(w, oname, os->rank + 1, shape, outs[ko]);
        if (mg->meta) st_writer_meta(w, "components", mg->meta);
        char sidecar[4096];
        snprintf(sidecar, sizeof sidecar, "%s", o->out);
        char *dot = strrchr(sidecar, '.');
        if (dot && !strcmp(dot, ".safetensors")) *dot = 0;
        strncat(sidecar, ".json", sizeof sidecar - strlen(sidecar) - 1);
        if (st_writer_finish(w, o->out, err, sizeof err)) { fprintf(stderr, "vitrun: %s\n", err); goto done; }
        if (mg->meta && cli_write_text_atomic(sidecar, mg->meta)) { unlink(o->out); goto done; }
        printf("wrote %s: %s [%d, %lld, %lld] and %s; component names in %s\n", o->out, dec.directions ? "proj" : "contrib", n,
               (long long)ncomp, (long long)dim, oname, sidecar);
    } else if (!o->check) {
        printf("%lld components of %s; sum check %.3g x |%s|\n", (long long)ncomp, oname, worst, oname);
    }
    rc = 0;
done:
    free(zp);
    if (outs) for (int k = 0; k < vit_model_noutputs(m); k++) free(outs[k]);
    free(outs);
    free(dirs);
    free(input);
    vit_model_free(m);
    vit_ctx_free(ctx);
    return rc;
}

static int cmd_info(const Opts *o) {
    vit_ctx *ctx = vit_ctx_new();
    vit_model *m = NULL;
    if (vit_model_load(ctx, o->module, &m)) {
        fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx));
        vit_ctx_free(ctx);
        return 1;
    }
    const IrGraph *g = vit_model_graph(m);
    int np = 0;
    for (int i = 0; i < g->n; i++) np += g->nodes[i].op == IR_OP_PARAM;
    char sh[256];
    ir_shape_str(&g->nodes[g->input].shape, sh, sizeof sh);
    printf("model %s: %d nodes, %d parameters, input %s, activations %.1f MiB per image\n", g->name, g->n, np, sh,
           (double)g->arena_floats * 4 / (1 << 20));
    for (int k = 0; k < g->nout; k++) {
        ir_shape_str(&g->nodes[g->outputs[k].node].shape, sh, sizeof sh);
        printf("  output %s %s\n", g->outputs[k].name, sh);
    }
    vit_model_free(m);
    vit_ctx_free(ctx);
    return 0;
}

/* ---- embed-text --------------------------------------------------------------------------- */
/* Non-empty lines of a file (\r\n or \n), NULL after printing why. */
static char **read_lines(const char *path, int *n) {
    FILE *f = fopen(path, "r");
    if (!f) { fprintf(stderr, "vitrun: %s: %s\n", path, strerror(errno)); return NULL; }
    char **v = NULL, *line = NULL;
    size_t cap = 0;
    int nv = 0, vcap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (!len) continue;
        if (nv == vcap) { vcap = vcap ? 2 * vcap : 256; v = realloc(v, sizeof(char *) * (size_t)vcap); }
        v[nv++] = strdup(line);
    }
    free(line);
    fclose(f);
    *n = nv;
    return v ? v : calloc(1, sizeof(char *));
}

/* vitrun embed-text MODULE --weights W --vocab V (TEXT... | --file F) [--templates T] [-o OUT] */
static int cmd_embed_text(int argc, char **argv) {
    const char *module = NULL, *weights = NULL, *vocab = NULL, *file = NULL, *tplfile = NULL, *out = NULL;
    vit_bind_opts bind = {0, 0};
    vit_text_opts topts = {VIT_ENGINE_JIT, avail_cores()};
    const char **args = calloc((size_t)argc, sizeof(char *));
    char **ftexts = NULL, **tpls = NULL;
    int nargs = 0, nftexts = 0, ntpls = 0, rc = 2;
    vit_ctx *ctx = vit_ctx_new();
    vit_model *m = NULL;
    BpeTok *tok = NULL;
    float *emb = NULL;
    char err[1024];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int needs = !strcmp(a, "--weights") || !strcmp(a, "--vocab") || !strcmp(a, "--file") || !strcmp(a, "--templates") ||
                    !strcmp(a, "-o") || !strcmp(a, "--engine") || !strcmp(a, "--threads");
        if (needs && i + 1 >= argc) { fprintf(stderr, "vitrun: %s needs a value\n", a); goto done; }
        if (!strcmp(a, "--weights")) weights = argv[++i];
        else if (!strcmp(a, "--vocab")) vocab = argv[++i];
        else if (!strcmp(a, "--file")) file = argv[++i];
        else if (!strcmp(a, "--templates")) tplfile = argv[++i];
        else if (!strcmp(a, "-o")) out = argv[++i];
        else if (!strcmp(a, "--engine")) {
            const char *e = argv[++i];
            if (!strcmp(e, "jit")) topts.engine = VIT_ENGINE_JIT;
            else if (!strcmp(e, "interp")) topts.engine = VIT_ENGINE_INTERP;
            else { fprintf(stderr, "vitrun: --engine is jit or interp, not '%s'\n", e); goto done; }
        } else if (!strcmp(a, "--threads")) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 4096) { fprintf(stderr, "vitrun: --threads needs a positive integer\n"); goto done; }
            topts.threads = (int)v;
        } else if (!strcmp(a, "--allow-missing")) bind.allow_missing = 1;
        else if (!strcmp(a, "--allow-unused")) bind.allow_unused = 1;
        else if (!strcmp(a, "--")) { while (++i < argc) args[nargs++] = argv[i]; }
        else if (a[0] == '-' && a[1]) { fprintf(stderr, "vitrun: unknown option '%s'\n", a); usage(stderr); goto done; }
        else if (!module) module = a;
        else args[nargs++] = a;
    }
    rc = 1;
    if (!module) { fprintf(stderr, "vitrun: no module given\n"); rc = 2; goto done; }
    if (!weights) { fprintf(stderr, "vitrun: --weights FILE.safetensors is required\n"); rc = 2; goto done; }
    if (!vocab) { fprintf(stderr, "vitrun: --vocab FILE is required (CLIP's bpe_simple_vocab_16e6.txt.gz)\n"); rc = 2; goto done; }
    if (file && nargs) { fprintf(stderr, "vitrun: give texts or --file, not both\n"); rc = 2; goto done; }
    if (!file && !nargs) { fprintf(stderr, "vitrun: no texts given (or --file FILE, one text a line)\n"); rc = 2; goto done; }
    if (file) {
        if (!(ftexts = read_lines(file, &nftexts))) goto done;
        if (!nftexts) { fprintf(stderr, "vitrun: %s: no texts in it\n", file); goto done; }
    }
    if (tplfile) {
        if (!(tpls = read_lines(tplfile, &ntpls))) goto done;
        if (!ntpls) { fprintf(stderr, "vitrun: %s: no templates in it\n", tplfile); goto done; }
    }
    const char *const *texts = file ? (const char *const *)ftexts : args;
    int n = file ? nftexts : nargs;
    if (bpe_load(vocab, &tok, err, sizeof err)) { fprintf(stderr, "vitrun: vocabulary: %s\n", err); goto done; }
    if (vit_model_load(ctx, module, &m) || vit_model_bind(ctx, m, weights, &bind)) {
        fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx));
        goto done;
    }
    if (vit_last_error(ctx)[0]) fprintf(stderr, "vitrun: %s", vit_last_error(ctx));
    const IrGraph *g = vit_model_graph(m);
    int ko = -1;
    for (int k = 0; k < vit_model_noutputs(m); k++)
        if (!strcmp(vit_model_output_name(m, k), "embedding")) ko = k;
    if (ko < 0 && vit_model_noutputs(m) == 1) ko = 0;
    int64_t dim = ko >= 0 ? vit_model_output_numel(m, ko) : 0;
    emb = malloc(sizeof(float) * (size_t)(dim * n) + 4);
    if (!emb) { fprintf(stderr, "vitrun: out of memory\n"); goto done; }
    if (vit_embed_texts(ctx, m, tok, texts, n, (const char *const *)tpls, ntpls, &topts, emb)) {
        fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx));
        goto done;
    }
    if (out) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", g->name ? g->name : "");
        cJSON_AddStringToObject(j, "embeddings", "L2-normalised, one row per text");
        cJSON_AddItemToObject(j, "texts", cJSON_CreateStringArray(texts, n));
        if (ntpls) {
            cJSON_AddItemToObject(j, "templates", cJSON_CreateStringArray((const char *const *)tpls, ntpls));
            cJSON_AddStringToObject(j, "procedure", "each template with {} replaced by the text; every embedding "
                                                    "L2-normalised, averaged, L2-normalised");
        }
        char *js = cJSON_Print(j);
        cJSON_Delete(j);
        StWriter *w = st_writer_new();
        int64_t shape[2] = {n, dim};
        st_writer_add_f32(w, "embeddings", 2, shape, emb);
        st_writer_meta(w, "model", g->name ? g->name : "");
        st_writer_meta(w, "texts", js ? js : "");
        char sidecar[4096];
        snprintf(sidecar, sizeof sidecar, "%s", out);
        char *dot = strrchr(sidecar, '.');
        if (dot && !strcmp(dot, ".safetensors")) *dot = 0;
        strncat(sidecar, ".json", sizeof sidecar - strlen(sidecar) - 1);
        int bad = !js || st_writer_finish(w, out, err, sizeof err);
        if (bad) fprintf(stderr, "vitrun: %s\n", js ? err : "out of memory");
        else if (cli_write_text_atomic(sidecar, js)) { unlink(out); bad = 1; }
        free(js);
        if (bad) goto done;
        printf("wrote %s: embeddings [%d, %lld]; texts in %s\n", out, n, (long long)dim, sidecar);
    } else {
        for (int i = 0; i < n; i++) {
            printf("%s\n  embedding [%lld]:", texts[i], (long long)dim);
            for (int64_t d = 0; d < dim && d < 6; d++) printf(" %.5f", emb[(int64_t)i * dim + d]);
            printf("%s\n", dim > 6 ? " ..." : "");
        }
    }
    rc = 0;
done:
    free(emb);
    bpe_free(tok);
    vit_model_free(m);
    vit_ctx_free(ctx);
    for (int i = 0; i < nftexts; i++) free(ftexts[i]);
    free(ftexts);
    for (int i = 0; i < ntpls; i++) free(tpls[i]);
    free(tpls);
    free(args);
    return rc;
}

/* ---- toyworld ----------------------------------------------------------------------------- */
/* vitrun toyworld generate --seed S --count N [--size PX] [--format png|jpeg] [--quality Q]
 *                          [--spurious P | --balanced] -o DIR */
static int cmd_toyworld(int argc, char **argv) {
    ToyOpts t;
    toy_opts_default(&t);
    const char *out = NULL;
    int have_seed = 0, have_count = 0, spurious = 0, balanced = 0;
    if (argc < 3 || strcmp(argv[2], "generate")) {
        fprintf(stderr, "vitrun: toyworld: the command is 'generate'\n"
                        "usage: vitrun toyworld generate --seed S --count N [--size 64] [--format png|jpeg] [--quality Q]\n"
                        "                                [--spurious P | --balanced] -o DIR\n");
        return 2;
    }
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i];
        int needs = !strcmp(a, "--seed") || !strcmp(a, "--count") || !strcmp(a, "--size") || !strcmp(a, "--format") ||
                    !strcmp(a, "--quality") || !strcmp(a, "--spurious") || !strcmp(a, "-o");
        if (needs && i + 1 >= argc) { fprintf(stderr, "vitrun: toyworld: %s needs a value\n", a); return 2; }
        char *end = NULL;
        if (!strcmp(a, "--seed")) {
            const char *v = argv[++i];
            errno = 0;
            unsigned long long s = strtoull(v, &end, 10);
            if (!*v || *end || *v == '-' || errno) { fprintf(stderr, "vitrun: toyworld: --seed needs an integer 0 .. 2^64-1, not '%s'\n", v); return 2; }
            t.seed = (uint64_t)s;
            have_seed = 1;
        } else if (!strcmp(a, "--count") || !strcmp(a, "--size") || !strcmp(a, "--quality")) {
            const char *v = argv[++i];
            long n = strtol(v, &end, 10);
            long lo = a[2] == 'c' ? 1 : a[2] == 's' ? TOY_MIN_SIZE : 1, hi = a[2] == 'c' ? TOY_MAX_COUNT : a[2] == 's' ? TOY_MAX_SIZE : 100;
            if (!*v || *end || n < lo || n > hi) { fprintf(stderr, "vitrun: toyworld: %s needs an integer %ld .. %ld, not '%s'\n", a, lo, hi, v); return 2; }
            if (a[2] == 'c') { t.count = (int)n; have_count = 1; }
            else if (a[2] == 's') t.size = (int)n;
            else t.quality = (int)n;
        } else if (!strcmp(a, "--format")) {
            const char *v = argv[++i];
            if (!strcmp(v, "png")) t.format = TOY_PNG;
            else if (!strcmp(v, "jpeg") || !strcmp(v, "jpg")) t.format = TOY_JPEG;
            else { fprintf(stderr, "vitrun: toyworld: --format is png or jpeg, not '%s'\n", v); return 2; }
        } else if (!strcmp(a, "--spurious")) {
            const char *v = argv[++i];
            double p = strtod(v, &end);
            if (!*v || *end || !(p >= 0 && p <= 1)) { fprintf(stderr, "vitrun: toyworld: --spurious needs a probability 0 .. 1, not '%s'\n", v); return 2; }
            t.split = TOY_SPLIT_SPURIOUS;
            t.spurious_ppm = (int)(p * 1e6 + 0.5);
            spurious = 1;
        } else if (!strcmp(a, "--balanced")) {
            t.split = TOY_SPLIT_BALANCED;
            balanced = 1;
        } else if (!strcmp(a, "-o")) out = argv[++i];
        else { fprintf(stderr, "vitrun: toyworld: unknown argument '%s'\n", a); return 2; }
    }
    if (spurious && balanced) { fprintf(stderr, "vitrun: toyworld: give --spurious P or --balanced, not both\n"); return 2; }
    if (!have_seed) { fprintf(stderr, "vitrun: toyworld: --seed S is required\n"); return 2; }
    if (!have_count) { fprintf(stderr, "vitrun: toyworld: --count N is required\n"); return 2; }
    if (!out || !*out) { fprintf(stderr, "vitrun: toyworld: -o DIR is required\n"); return 2; }
    char err[1024];
    if (toy_generate(&t, out, err, sizeof err)) { fprintf(stderr, "vitrun: toyworld: %s\n", err); return 1; }
    printf("wrote %s: %d %s images of %d px, masks, labels.jsonl, captions.txt, info.json\n", out, t.count,
           t.format == TOY_JPEG ? "JPEG" : "PNG", t.size);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) { usage(argc < 2 ? stderr : stdout); return argc < 2 ? 2 : 0; }
    if (!strcmp(argv[1], "embed-text")) return cmd_embed_text(argc, argv);
    if (!strcmp(argv[1], "toyworld")) return cmd_toyworld(argc, argv);
    static const struct { const char *name; int (*fn)(int, char **); } apps[] = {
        {"index", cmd_index},       {"merge", cmd_merge},     {"align", cmd_align},     {"describe", cmd_describe},
        {"score", cmd_score},       {"retrieve", cmd_retrieve}, {"heatmap", cmd_heatmap}, {"ablate", cmd_ablate},
        {"probe", cmd_probe},       {"segment", cmd_segment}, {"report", cmd_report},
    };
    for (size_t i = 0; i < sizeof apps / sizeof apps[0]; i++)
        if (!strcmp(argv[1], apps[i].name)) return apps[i].fn(argc, argv);
    Opts o = {0};
    int rc = 2;
    if (parse(argc, argv, &o)) goto out;
    if (!strcmp(o.cmd, "run")) rc = cmd_run(&o);
    else if (!strcmp(o.cmd, "bench")) rc = cmd_bench(&o);
    else if (!strcmp(o.cmd, "info")) rc = cmd_info(&o);
    else if (!strcmp(o.cmd, "decompose")) rc = cmd_decompose(&o);
    else { fprintf(stderr, "vitrun: unknown command '%s'\n", o.cmd); usage(stderr); }
out:
    free(o.images);
    return rc;
}
