/* runtime/cli/describe.c — vitrun describe: each component's top-k
 * descriptions from a text pool by TextSpan (PAPER.md 3), with the fraction
 * of the component's variance each explains.  With ground-truth labels and
 * features, also the match rate used in EVALUATION.md: a component's
 * property is the label key whose values explain most of its (un-aligned)
 * variance (eta squared), and its match rate is the fraction of its top-k
 * descriptions that belong to the feature of that name. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "vit.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: vitrun describe COMPS.safetensors --pool DESCRIPTIONS.txt --text TEXT.vitm --text-weights W --vocab V\n"
            "                       [--templates T] [--aligner A.safetensors] [-k 10] [--rank 80] [-o OUT.json]\n"
            "                       [--labels LABELS.jsonl --properties KEY,KEY...]\n"
            "COMPS: vitrun decompose -o output.  Without --aligner the components must already be in the text tower's\n"
            "space (a CLIP model's own decomposition of its image embedding).  --rank: the texts are projected on the\n"
            "span of the top R singular directions of each component's data first (TextSpan; >= the dimension: none).\n"
            "--labels (one JSON record per image, in order) and --properties (string keys of the records): the match\n"
            "rate: each component's property is the key whose values explain most of its un-aligned variance (eta^2);\n"
            "its match is the fraction of its top-k descriptions that name one of that key's values.\n");
}

/* eta^2 of the component's rows (all dimensions) grouped by label value: between-group / total sum of squares. */
static double eta2(const float *contrib, int n, int ncomp, int dim, int c, char **lab) {
    int ng = 0, *g = malloc(sizeof(int) * (size_t)n);
    const char **vals = calloc((size_t)n, sizeof(char *));
    double *mean = calloc((size_t)dim, sizeof(double)), *gm = NULL, tot = 0, betw = 0;
    int *cnt = NULL;
    if (!g || !vals || !mean) goto done;
    for (int i = 0; i < n; i++) {
        int k = 0;
        while (k < ng && strcmp(vals[k], lab[i])) k++;
        if (k == ng) vals[ng++] = lab[i];
        g[i] = k;
    }
    gm = calloc((size_t)ng * (size_t)dim, sizeof(double)), cnt = calloc((size_t)ng, sizeof(int));
    if (!gm || !cnt) goto done;
    for (int i = 0; i < n; i++) {
        const float *r = contrib + ((size_t)i * (size_t)ncomp + (size_t)c) * (size_t)dim;
        cnt[g[i]]++;
        for (int d = 0; d < dim; d++) mean[d] += r[d] / n, gm[(size_t)g[i] * (size_t)dim + (size_t)d] += r[d];
    }
    for (int i = 0; i < n; i++) {
        const float *r = contrib + ((size_t)i * (size_t)ncomp + (size_t)c) * (size_t)dim;
        for (int d = 0; d < dim; d++) tot += (r[d] - mean[d]) * (r[d] - mean[d]);
    }
    for (int k = 0; k < ng; k++)
        for (int d = 0; d < dim; d++) {
            double m = gm[(size_t)k * (size_t)dim + (size_t)d] / cnt[k] - mean[d];
            betw += cnt[k] * m * m;
        }
done:
    free(g), free(vals), free(mean), free(gm), free(cnt);
    return tot > 0 ? betw / tot : 0;
}

int cmd_describe(int argc, char **argv) {
    const char *comps = NULL, *pool = NULL, *aligner = NULL, *out = NULL, *labels = NULL, *props = NULL;
    CliClip clip = {0};
    char **texts = NULL, ***lab = NULL, *pbuf = NULL, *pname[64];
    int nt = 0, k = 10, rank = 80, rc = 2, nfeat = 0, edim = 0, tdim = 0;
    CliContrib c = {0};
    float *aligned = NULL, *temb = NULL;
    int *pick = NULL;
    double *var = NULL;
    vit_ctx *ctx = vit_ctx_new();
    cJSON *j = NULL;
    for (int i = 2; i < argc; i++) {
        const char *s = argv[i];
        int r = cli_clip_opt(argc, argv, &i, &clip);
        if (r < 0) goto done;
        if (r) continue;
        if (!strcmp(s, "-h") || !strcmp(s, "--help")) { usage(stdout); rc = 0; goto done; }
        if (s[0] == '-' && i + 1 >= argc) { fprintf(stderr, "vitrun: %s needs a value\n", s); goto done; }
        if (!strcmp(s, "-o")) out = argv[++i];
        else if (!strcmp(s, "--pool")) pool = argv[++i];
        else if (!strcmp(s, "--aligner")) aligner = argv[++i];
        else if (!strcmp(s, "--properties")) props = argv[++i];
        else if (!strcmp(s, "--labels")) labels = argv[++i];
        else if (!strcmp(s, "-k")) { if (cli_parse_int(s, argv[++i], 1, 1000, &k)) goto done; }
        else if (!strcmp(s, "--rank")) { if (cli_parse_int(s, argv[++i], 1, 1 << 20, &rank)) goto done; }
        else if (s[0] == '-') { fprintf(stderr, "vitrun: describe: unknown option '%s'\n", s); usage(stderr); goto done; }
        else if (!comps) comps = s;
        else { fprintf(stderr, "vitrun: describe: one components file, not '%s' too\n", s); goto done; }
    }
    if (!comps || !pool) { fprintf(stderr, "vitrun: describe: a components file and --pool FILE are required\n"); usage(stderr); goto done; }
    if (!props != !labels) { fprintf(stderr, "vitrun: describe: --labels and --properties go together (the match rate)\n"); goto done; }
    if (props) { /* "shape,colour" -> names */
        pbuf = strdup(props);
        for (char *t = strtok(pbuf, ","); t && nfeat < 64; t = strtok(NULL, ",")) pname[nfeat++] = t;
        if (!nfeat) { fprintf(stderr, "vitrun: describe: --properties needs at least one key\n"); goto done; }
    }
    rc = 1;
    if (!(texts = cli_read_lines(pool, &nt))) goto done;
    if (!nt) { fprintf(stderr, "vitrun: %s: the description pool is empty\n", pool); goto done; }
    if (k > nt) k = nt;
    if (cli_contrib_load(comps, &c) || !(aligned = cli_aligned(&c, aligner, &edim))) goto done;
    if (labels) {
        lab = calloc((size_t)nfeat, sizeof(char **));
        for (int f = 0; f < nfeat; f++)
            if (!(lab[f] = cli_labels_load(labels, pname[f], c.n))) goto done;
    }
    if (!(temb = cli_embed(&clip, texts, nt, &tdim)) || cli_check_edim("the pool's text embeddings", tdim, edim)) goto done;
    pick = malloc(sizeof(int) * (size_t)k), var = malloc(sizeof(double) * (size_t)k);
    j = cJSON_CreateObject();
    cJSON *jc = cJSON_AddArrayToObject(j, "components");
    double match_sum = 0;
    CliProgress pr;
    cli_progress_start(&pr, "describe", c.ncomp);
    for (int q = 0; q < c.ncomp; q++) {
        if (vit_textspan(ctx, aligned + (size_t)q * (size_t)edim, c.n, (int64_t)c.ncomp * edim, edim, temb, nt, rank, k, pick, var)) {
            fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx));
            goto done;
        }
        cJSON *o = cJSON_CreateObject(), *jd = cJSON_CreateArray();
        cJSON_AddNumberToObject(o, "index", q);
        cJSON_AddStringToObject(o, "name", c.names[q]);
        printf("%-24s", c.names[q]);
        for (int s = 0; s < k && pick[s] >= 0; s++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "text", texts[pick[s]]);
            cJSON_AddNumberToObject(e, "variance", var[s]);
            cJSON_AddItemToArray(jd, e);
            printf("%s %s (%.1f%%)", s ? "," : "", texts[pick[s]], 100 * var[s]);
        }
        printf("\n");
        cJSON_AddItemToObject(o, "descriptions", jd);
        if (labels) { /* the property this component carries, and how many of its descriptions name it */
            int best = 0, hits = 0, got = 0;
            double e2[64] = {0};
            for (int f = 0; f < nfeat; f++)
                if ((e2[f] = eta2(c.contrib, c.n, c.ncomp, c.dim, q, lab[f])) > e2[best]) best = f;
            for (int s = 0; s < k && pick[s] >= 0; s++, got++) {
                int hit = 0;
                for (int i = 0; i < c.n && !hit; i++) hit = cli_text_mentions(texts[pick[s]], lab[best][i]);
                hits += hit;
            }
            double m = got ? (double)hits / got : 0;
            match_sum += m;
            cJSON_AddStringToObject(o, "property", pname[best]);
            cJSON_AddNumberToObject(o, "eta2", e2[best]);
            cJSON_AddNumberToObject(o, "match", m);
            printf("%-24s  property %s (eta^2 %.2f), match %.2f\n", "", pname[best], e2[best], m);
        }
        cJSON_AddItemToArray(jc, o);
        cli_progress_update(&pr, q + 1);
    }
    cli_progress_done(&pr, c.ncomp);
    cJSON_AddNumberToObject(j, "k", k);
    cJSON_AddNumberToObject(j, "rank", rank);
    if (labels) {
        cJSON_AddNumberToObject(j, "match_rate", match_sum / c.ncomp);
        printf("match rate %.3f (top-%d descriptions naming a value of each component's property, mean over %d components)\n",
               match_sum / c.ncomp, k, c.ncomp);
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
    if (lab)
        for (int f = 0; f < nfeat; f++) cli_free_lines(lab[f], lab[f] ? c.n : 0);
    free(lab), free(pick), free(var), free(aligned), free(temb), free(pbuf);
    cli_free_lines(texts, nt);
    cli_contrib_free(&c);
    vit_ctx_free(ctx);
    return rc;
}
