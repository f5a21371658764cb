/* runtime/cli/segment.c — vitrun segment: zero-shot segmentation from the
 * per-token contributions of the attention layers toward a class (the
 * decomposed logit), against the data set's masks, beside attention
 * baselines read from the same run: the pooled token's last-layer attention
 * averaged over heads ("raw") and attention rollout (Abnar & Zuidema: the
 * head-averaged maps with the identity added, row-normalised, multiplied
 * over the layers).  The attention maps are the model's SOFTMAX nodes over
 * the token axis, exposed as outputs; nothing here knows a model. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ir.h"
#include "vit.h"

static int usage(FILE *f) {
    fprintf(f, "usage: vitrun segment MODULE --weights W DATA... [--output logits] [--from L] [--split head,token]\n"
               "         [--target label|pred | --text-field F --text-model T.vitm [--text-weights TW] --vocab V\n"
               "         [--aligner A.safetensors]]\n"
               "         [--pictures N PICTURE.png] [--threads T] [-o report.json]\n"
               "DATA: a data set with masks (a folder with labels.jsonl naming \"image\", \"mask\" and \"class\").\n"
               "Each image's heat map is the sum over attention heads and layers (from L) of the per-token\n"
               "contributions to the class's logit (the labelled class, or the predicted one with --target pred),\n"
               "on the patch grid, resized to the model's view; clipped at 0, divided by the max and thresholded at\n"
               "the mean.  Reported: pixel accuracy, mIoU (background and foreground), foreground IoU, mAP.\n"
               "With --text-field, the direction is instead the text embedding (CLIP text tower) of the image's\n"
               "value of that label field (e.g. colour), and the output is an embedding: a CLIP image tower's own, or,\n"
               "with --aligner (vitrun align on this model's components split by head), any model's read through the\n"
               "aligner's maps (each token's contribution through its component's map, no bias, onto the text).\n");
    return f == stderr ? 2 : 0;
}

/* attention of one image: a [ntok x ntok] head-averaged map per softmax output, query-major */
static void head_mean(const float *sm, const IrShape *s, const char *kax, int ntok, float *out) {
    int qa = -1, ka = ir_axis_find(s, kax), ha = -1;
    for (int i = 0; i < s->rank; i++)
        if (i != ka && s->ax[i].size == ntok && qa < 0) qa = i;
        else if (i != ka) ha = i;
    int64_t st[IR_MAX_RANK];
    ir_strides(s, st);
    int nh = ha >= 0 ? (int)s->ax[ha].size : 1;
    for (int q = 0; q < ntok; q++)
        for (int k = 0; k < ntok; k++) {
            double v = 0;
            for (int h = 0; h < nh; h++) v += sm[q * st[qa] + k * st[ka] + (ha >= 0 ? h * st[ha] : 0)];
            out[q * ntok + k] = (float)(v / nh);
        }
}

int cmd_segment(int argc, char **argv) {
    const char *module = NULL, *weights = NULL, *output = "logits", *from = NULL, *split = "head,token", *out = NULL, *pics = NULL;
    const char *tfield = NULL, *tmodel = NULL, *tweights = NULL, *vocab = NULL, *aligner = NULL;
    int threads = 2, npics = 0, pred_target = 0, nargs = 0;
    char **args = calloc((size_t)argc, sizeof(char *));
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { free(args); return usage(stdout); }
        int val = !strcmp(a, "--weights") || !strcmp(a, "--output") || !strcmp(a, "--from") || !strcmp(a, "--split") ||
                  !strcmp(a, "-o") || !strcmp(a, "--threads") || !strcmp(a, "--target") || !strcmp(a, "--pictures") ||
                  !strcmp(a, "--text-field") || !strcmp(a, "--text-model") || !strcmp(a, "--text-weights") || !strcmp(a, "--vocab") || !strcmp(a, "--aligner");
        if (!val && a[0] == '-') { fprintf(stderr, "vitrun segment: unknown option %s\n", a); free(args); return 2; }
        if (!val) { if (!module) module = a; else args[nargs++] = argv[i]; continue; }
        if (i + 1 >= argc || (!strcmp(a, "--pictures") && i + 2 >= argc)) { fprintf(stderr, "vitrun segment: %s needs a value\n", a); free(args); return 2; }
        const char *v = argv[++i];
        if (!strcmp(a, "--weights")) weights = v;
        else if (!strcmp(a, "--output")) output = v;
        else if (!strcmp(a, "--from")) from = v;
        else if (!strcmp(a, "--split")) split = v;
        else if (!strcmp(a, "-o")) out = v;
        else if (!strcmp(a, "--text-field")) tfield = v;
        else if (!strcmp(a, "--text-model")) tmodel = v;
        else if (!strcmp(a, "--text-weights")) tweights = v;
        else if (!strcmp(a, "--vocab")) vocab = v;
        else if (!strcmp(a, "--aligner")) aligner = v;
        else if (!strcmp(a, "--threads") && cli_parse_int(a, v, 1, 256, &threads)) { free(args); return 2; }
        else if (!strcmp(a, "--target")) {
            if (strcmp(v, "label") && strcmp(v, "pred")) { fprintf(stderr, "vitrun segment: --target label or pred, not '%s'\n", v); free(args); return 2; }
            pred_target = !strcmp(v, "pred");
        } else if (!strcmp(a, "--pictures")) {
            if (cli_parse_int(a, v, 1, 64, &npics)) { free(args); return 2; }
            pics = argv[++i];
        }
    }
    if (!module || !nargs) { free(args); return usage(stderr); }
    if (aligner && !tfield) { fprintf(stderr, "vitrun segment: --aligner reads the components with text: give --text-field\n"); free(args); return 2; }
    /* the key-token axis: the last axis kept apart */
    const char *kax = strrchr(split, ',');
    kax = kax ? kax + 1 : split;
    vit_ctx *ctx = vit_ctx_new();
    vit_model *m = NULL;
    CliData d = {0};
    CliComps c = {0};
    float **outs = NULL, *map = NULL, *heat = NULL, *att = NULL, *roll = NULL, *tmp = NULL, *row = NULL;
    unsigned char *sel = NULL, *mk = NULL;
    float *dirs = NULL, *mdirs = NULL, *val = NULL;
    CliAlignDirs ad = {0};
    int *tval = NULL, ntexts = 0;
    const vit_picture **grid = NULL;
    int rc = 1, nout = 0, ntok, first, gh, gw, nsm = 0, *smk = NULL;
    vit_seg_stats st[3] = {0};
    if (cli_data_load(&d, args, nargs)) goto done;
    for (int i = 0; i < d.n; i++) {
        if (!d.mask[i]) { fprintf(stderr, "vitrun: %s: no mask in the labels (segment needs a data set with masks)\n", d.image[i]); goto done; }
        if (!pred_target && !tfield && d.klass[i] < 0) { fprintf(stderr, "vitrun: %s: no \"class\" label (or use --target pred)\n", d.image[i]); goto done; }
    }
    if (!weights) { fprintf(stderr, "vitrun: --weights FILE.safetensors is required\n"); goto done; }
    if (tfield) { /* one direction per value of the field: its text's embedding */
        char **names = NULL;
        int dim = cli_output_dim(ctx, module, output);
        if (dim >= 0 && aligner) { /* the texts live in the aligner's CLIP space */
            if (cli_align_dirs_open(aligner, dim, &ad)) goto done;
            dim = ad.edim;
        }
        tval = malloc(sizeof(int) * (size_t)d.n);
        if (dim < 0 || !tval || cli_data_field(&d, tfield, tval, &names, &ntexts)) goto done;
        for (int v = 0; v < ntexts; v++) { /* JSON strings lose their quotes */
            size_t l = strlen(names[v]);
            if (l >= 2 && names[v][0] == '"') { memmove(names[v], names[v] + 1, l - 2); names[v][l - 2] = 0; }
        }
        int e = cli_embed_texts(ctx, tmodel, tweights ? tweights : weights, vocab, (const char *const *)names, ntexts, dim,
                                aligner ? "aligned" : output, threads, &dirs);
        cli_free_lines(names, ntexts);
        if (e) goto done;
    }
    /* with an aligner, one direction per aligner component and text (cli_align_dirs_bind) */
    int ndirs = aligner ? ad.ncomp * ntexts : ntexts;
    vit_decomp_opts dop = {.output = output, .split = split, .from = from, .attention = kax, .directions = ndirs};
    vit_bind_opts bo = {0};
    if (vit_model_load_decomposed(ctx, module, &dop, &m) || vit_model_bind(ctx, m, weights, &bo)) {
        fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx));
        goto done;
    }
    if (cli_comps_read(m, &c) || cli_comps_grid(ctx, m, &c, &ntok, &first, &gh, &gw)) goto done;
    if (aligner && cli_align_dirs_bind(&ad, &c, dirs, ntexts, &mdirs)) goto done;
    int ky = vit_model_output_find(m, output);
    if (dirs && vit_model_set_param(ctx, m, "__directions", aligner ? mdirs : dirs, (int64_t)ndirs * vit_model_output_numel(m, ky))) {
        fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx));
        goto done;
    }
    char cname[256];
    snprintf(cname, sizeof cname, "%s.%s", tfield ? "proj" : "contrib", output);
    int kc = vit_model_output_find(m, cname), q = vit_model_output_token(m, output, ntok);
    int classes = (int)vit_model_output_numel(m, ky);
    for (int i = 0; i < d.n && !pred_target && !tfield; i++)
        if (d.klass[i] >= classes) { fprintf(stderr, "vitrun: labels do not match the model: %s has class %d, the output '%s' has %d\n", d.image[i], d.klass[i], output, classes); goto done; }
    nout = vit_model_noutputs(m);
    smk = malloc(sizeof(int) * (size_t)nout);
    for (int k = 0; k < nout; k++) {
        if (strncmp(vit_model_output_name(m, k), "softmax.", 8)) continue;
        const IrShape *s = &vit_model_graph(m)->nodes[vit_model_graph(m)->outputs[k].node].shape;
        int full = 0; /* query and key axes both of all the tokens */
        for (int a = 0; a < s->rank; a++) full += s->ax[a].size == ntok;
        if (full < 2) q = -1;
        smk[nsm++] = k;
    }
    if (q < 0) fprintf(stderr, "vitrun: the output '%s' pools no single token: no attention baselines\n", output);
    sel = calloc((size_t)c.n, 1);
    val = calloc((size_t)c.n, sizeof(float));
    if (!sel || !val) { fprintf(stderr, "vitrun: out of memory\n"); goto done; }
    for (int i = 0; i < c.n; i++) {
        sel[i] = c.token[i] >= 0 && !strcmp(c.kind[i], "attn");
        if (sel[i] && aligner && cli_align_dirs_need(&ad, &c, i)) goto done;
    }
    const IrGraph *g = vit_model_graph(m);
    int S = g->pre.size;
    size_t nn = (size_t)ntok * ntok;
    map = malloc(sizeof(float) * (size_t)gh * gw * 3);
    heat = malloc(sizeof(float) * (size_t)S * S * 3);
    att = malloc(sizeof(float) * nn);
    roll = malloc(sizeof(float) * nn);
    tmp = malloc(sizeof(float) * nn);
    row = malloc(sizeof(float) * (size_t)ntok);
    mk = malloc((size_t)S * S);
    grid = calloc((size_t)npics * 5 + 1, sizeof(vit_picture *));
    if (!map || !heat || !att || !roll || !tmp || !row || !mk || !grid) { fprintf(stderr, "vitrun: out of memory\n"); goto done; }
    int ng = 0;
    /* the images in chunks: the attention maps of a large model take megabytes per image */
    enum { CHUNK = 32 };
    CliProgress pg;
    cli_progress_start(&pg, "segment", d.n);
    for (int i = 0; i < d.n; i++) {
        int j = i % CHUNK; /* the image's place in its chunk's outputs */
        if (!j) {
            cli_free_outputs(outs, nout);
            outs = NULL;
            if (cli_run_images(ctx, m, d.image + i, d.n - i < CHUNK ? d.n - i : CHUNK, threads, NULL, &outs)) goto done;
            cli_progress_update(&pg, i);
        }
        const float *lg = outs[ky] + (size_t)j * classes;
        int cls = d.klass[i], stride = tfield ? ndirs : classes;
        if (tfield) cls = tval[i];
        else if (pred_target || cls < 0) { cls = 0; for (int k = 1; k < classes; k++) cls = lg[k] > lg[cls] ? k : cls; }
        const float *pr = outs[kc] + (size_t)j * c.n * stride;
        for (int k = 0; k < c.n; k++) /* component k's projection on the class's direction (its own, through an aligner) */
            val[k] = !sel[k] ? 0 : pr[(size_t)k * stride + (aligner ? ad.base[k] * ntexts : 0) + cls];
        cli_patch_map(&c, sel, val, 1, first, gh, gw, map);
        int nmaps = 1;
        if (q >= 0 && nsm) {
            /* raw: the last softmax's pooled-token row; rollout over all of them */
            for (int l = 0; l < nsm; l++) {
                const IrShape *s = &g->nodes[g->outputs[smk[l]].node].shape;
                head_mean(outs[smk[l]] + (size_t)j * ir_numel(s), s, kax, ntok, att);
                for (int a = 0; a < ntok; a++) {
                    double z = 0;
                    for (int b = 0; b < ntok; b++) z += (att[a * ntok + b] = 0.5f * att[a * ntok + b] + (a == b ? 0.5f : 0));
                    for (int b = 0; b < ntok; b++) att[a * ntok + b] /= (float)z;
                }
                if (!l) memcpy(roll, att, sizeof(float) * nn);
                else { /* roll = att . roll */
                    for (int a = 0; a < ntok; a++)
                        for (int b = 0; b < ntok; b++) {
                            double v = 0;
                            for (int e = 0; e < ntok; e++) v += (double)att[a * ntok + e] * roll[e * ntok + b];
                            tmp[a * ntok + b] = (float)v;
                        }
                    memcpy(roll, tmp, sizeof(float) * nn);
                }
            }
            head_mean(outs[smk[nsm - 1]] + (size_t)j * ir_numel(&g->nodes[g->outputs[smk[nsm - 1]].node].shape),
                      &g->nodes[g->outputs[smk[nsm - 1]].node].shape, kax, ntok, att);
            for (int p = 0; p < gh * gw; p++) {
                map[gh * gw + p] = att[q * ntok + first + p];
                map[2 * gh * gw + p] = roll[q * ntok + first + p];
            }
            nmaps = 3;
        }
        vit_picture *mask = NULL, *view = NULL;
        if (vit_model_view(ctx, m, d.mask[i], 1, &mask)) { fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx)); goto done; }
        for (int p = 0; p < S * S; p++) mk[p] = mask->rgb[3 * p] != 0;
        for (int k = 0; k < nmaps; k++) {
            vit_map_resize(map + (size_t)k * gh * gw, gw, gh, heat + (size_t)k * S * S, S, S);
            vit_seg_add(&st[k], heat + (size_t)k * S * S, mk, S * S);
        }
        if (i < npics && !vit_model_view(ctx, m, d.image[i], 0, &view)) {
            static const char *const title[3] = {"decomposition", "raw attention", "rollout"};
            grid[ng++] = view;
            grid[ng++] = mask;
            mask = NULL;
            for (int k = 0; k < nmaps; k++) grid[ng++] = vit_draw_heatmap(view, map + (size_t)k * gh * gw, gw, gh, 0, 2, title[k]);
        }
        vit_picture_free(mask);
    }
    cli_progress_done(&pg, d.n);
    static const char *const method[3] = {"decomposition (attention heads' token contributions)", "raw attention (last layer, pooled token)", "attention rollout"};
    char *txt = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&txt, &len);
    char target[160];
    snprintf(target, sizeof target, "%s%s%s", tfield ? "text of the label field " : pred_target ? "predicted class" : "labelled class",
             tfield ? tfield : "", aligner ? ", through the aligner" : "");
    fprintf(f, "{\n  \"images\": %d, \"grid\": [%d, %d], \"output\": \"%s\", \"target\": \"%s\",\n  \"methods\": [", d.n, gh, gw, output, target);
    printf("%d images, %d x %d patch grid, direction: %s\n| method | pixel accuracy | mIoU | foreground IoU | mAP |\n| --- | --- | --- | --- | --- |\n",
           d.n, gh, gw, target);
    for (int k = 0; k < (q >= 0 && nsm ? 3 : 1); k++) {
        double pa, miou, fg, ap;
        vit_seg_result(&st[k], &pa, &miou, &fg, &ap);
        printf("| %s | %.4f | %.4f | %.4f | %.4f |\n", method[k], pa, miou, fg, ap);
        fprintf(f, "%s\n    {\"method\": \"%s\", \"pixel_accuracy\": %.4f, \"miou\": %.4f, \"foreground_iou\": %.4f, \"map\": %.4f}", k ? "," : "", method[k], pa, miou, fg, ap);
    }
    fprintf(f, "\n  ]\n}\n");
    fclose(f);
    int bad = out && cli_write_text_atomic(out, txt);
    free(txt);
    if (bad) goto done;
    if (pics) {
        int cols = q >= 0 && nsm ? 5 : 3;
        vit_picture *p = vit_draw_grid(grid, NULL, ng, cols, 2 * S + 80, "image | mask | decomposition | raw attention | rollout");
        if (!p || vit_picture_write_png(ctx, p, pics)) { fprintf(stderr, "vitrun: %s\n", p ? vit_last_error(ctx) : "out of memory"); vit_picture_free(p); goto done; }
        vit_picture_free(p);
        printf("wrote %s\n", pics);
    }
    rc = 0;
done:
    for (int k = 0; grid && grid[k]; k++) vit_picture_free((vit_picture *)grid[k]);
    free(grid);
    cli_free_outputs(outs, nout);
    cli_comps_free(&c);
    cli_data_free(&d);
    free(dirs); free(mdirs); free(val); free(tval);
    cli_align_dirs_free(&ad);
    free(map); free(heat); free(att); free(roll); free(tmp); free(row); free(mk); free(sel); free(smk); free(args);
    vit_model_free(m);
    vit_ctx_free(ctx);
    return rc;
}
