/* runtime/cli/scores.c — a score file (vitrun score -o) read back to pick
 * components by the paper's score for a feature (vitrun ablate --scores,
 * vitrun heatmap --scores): the score of one feature, or of one feature
 * minus another (the paper's spurious minus core), per component name, and
 * the checks that the file belongs to the model it is applied to. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "vit.h"

/* The text of a file; NULL with a message. */
static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "vitrun: %s: cannot open\n", path); return NULL; }
    char *buf = NULL;
    size_t len = 0, cap = 0, got;
    do {
        if (len + 4096 + 1 > cap) {
            char *nb = realloc(buf, cap = 2 * cap + 8192);
            if (!nb) { free(buf); fclose(f); fprintf(stderr, "vitrun: out of memory\n"); return NULL; }
            buf = nb;
        }
        got = fread(buf + len, 1, 4096, f);
        len += got;
    } while (got > 0);
    fclose(f);
    buf[len] = 0;
    return buf;
}

/* "a, b, c" of the feature names in scores (for messages) */
static void feature_list(const cJSON *scores, char *buf, size_t len) {
    size_t k = 0;
    buf[0] = 0;
    for (const cJSON *f = scores ? scores->child : NULL; f && k < len; f = f->next)
        k += (size_t)snprintf(buf + k, len - k, "%s'%s'", k ? ", " : "", f->string);
}

/* The scores of feature `name` as an array of ncomp numbers (null: no score); NULL with a message. */
static const cJSON *feature_scores(const cJSON *scores, const char *name, int ncomp, const char *path) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(scores, name);
    char list[1024];
    if (!a) {
        feature_list(scores, list, sizeof list);
        fprintf(stderr, "vitrun: %s has no feature '%s'; its features are: %s\n", path, name, list[0] ? list : "none");
        return NULL;
    }
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != ncomp) {
        fprintf(stderr, "vitrun: %s: feature '%s' does not have one score per component (%d)\n", path, name, ncomp);
        return NULL;
    }
    return a;
}

static double number_or_nan(const cJSON *v) { return cJSON_IsNumber(v) ? v->valuedouble : NAN; }

/* s->score = scores of SPURIOUS (minus CORE when the name is "SPURIOUS-CORE" and not itself a feature). */
static int scores_of(const cJSON *scores, const char *feature, const char *path, CliScores *s) {
    char spur[256], core[256] = "";
    snprintf(spur, sizeof spur, "%s", feature);
    char *dash = strchr(spur, '-');
    if (dash && !cJSON_GetObjectItemCaseSensitive(scores, feature)) { *dash = 0; snprintf(core, sizeof core, "%s", dash + 1); }
    const cJSON *a = feature_scores(scores, spur, s->n, path), *b = core[0] ? feature_scores(scores, core, s->n, path) : NULL;
    if (!a || (core[0] && !b)) return -1;
    for (int i = 0; i < s->n; i++)
        s->score[i] = number_or_nan(cJSON_GetArrayItem(a, i)) - (b ? number_or_nan(cJSON_GetArrayItem(b, i)) : 0);
    return 0;
}

int cli_scores_load(const char *path, const char *feature, CliScores *s) { return cli_scores_load_as(path, feature, "scores", s); }

int cli_scores_load_as(const char *path, const char *feature, const char *key, CliScores *s) {
    memset(s, 0, sizeof *s);
    char *txt = slurp(path);
    if (!txt) return -1;
    cJSON *j = cJSON_Parse(txt);
    free(txt);
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(j, "components"), *scores = cJSON_GetObjectItemCaseSensitive(j, key);
    int rc = -1;
    if (!cJSON_IsArray(names) || !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "scores")) || cJSON_GetArraySize(names) < 1) {
        fprintf(stderr, "vitrun: %s: not a score file (expected \"components\" and \"scores\", as vitrun score -o writes)\n", path);
        goto done;
    }
    if (!cJSON_IsObject(scores)) { rc = 1; goto done; } /* a score file without this key (written before it existed) */
    s->n = cJSON_GetArraySize(names);
    s->name = calloc((size_t)s->n, sizeof(char *));
    s->score = malloc(sizeof(double) * (size_t)s->n);
    if (!s->name || !s->score) { fprintf(stderr, "vitrun: out of memory\n"); goto done; }
    for (int i = 0; i < s->n; i++) {
        const char *nm = cJSON_GetStringValue(cJSON_GetArrayItem(names, i));
        if (!nm) { fprintf(stderr, "vitrun: %s: component %d has no name\n", path, i); goto done; }
        if (!(s->name[i] = strdup(nm))) goto done;
    }
    const char *wh = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "weights_hash"));
    const char *wp = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "weights"));
    s->weights_hash = wh ? strdup(wh) : NULL;
    s->weights = wp ? strdup(wp) : NULL;
    double ni = number_or_nan(cJSON_GetObjectItemCaseSensitive(j, "images"));
    s->images = ni > 0 && ni < 1e9 ? (int)ni : 0;
    snprintf(s->feature, sizeof s->feature, "%s", feature);
    rc = scores_of(scores, feature, path, s);
done:
    cJSON_Delete(j);
    if (rc) cli_scores_free(s);
    return rc;
}

void cli_scores_free(CliScores *s) {
    for (int i = 0; s->name && i < s->n; i++) free(s->name[i]);
    free(s->name), free(s->score), free(s->weights_hash), free(s->weights);
    memset(s, 0, sizeof *s);
}

int cli_scores_find(const CliScores *s, const char *name) {
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->name[i], name)) return i;
    return -1;
}

int cli_scores_check_weights(const CliScores *s, const char *path, const char *weights) {
    if (!s->weights_hash || !weights) return 0;
    vit_ctx *ctx = vit_ctx_new();
    char hex[VIT_MODULE_ID_LEN];
    int rc = vit_file_hash(ctx, weights, hex);
    if (rc) fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx));
    else if (strcmp(hex, s->weights_hash)) {
        fprintf(stderr, "vitrun: %s was computed for other weights (%s, hash %s), not %s (hash %s): score the components of this model\n",
                path, s->weights ? s->weights : "unnamed", s->weights_hash, weights, hex);
        rc = -1;
    }
    vit_ctx_free(ctx);
    return rc ? -1 : 0;
}

/* "'a', 'b', ..." of up to 4 names and how many there are, for messages */
static void name_list(char *const *names, int n, char *buf, size_t len) {
    size_t k = (size_t)snprintf(buf, len, "%d:", n);
    for (int i = 0; i < n && i < 4 && k < len; i++) k += (size_t)snprintf(buf + k, len - k, " '%s'", names[i]);
    if (n > 4 && k < len) snprintf(buf + k, len - k, " ...");
}

int cli_scores_check_names(const CliScores *s, const char *path, char *const *names, int n, int exact) {
    int missing = -1;
    for (int i = 0; i < n && missing < 0; i++)
        if (cli_scores_find(s, names[i]) < 0) missing = i;
    if (missing < 0 && (!exact || n == s->n)) return 0;
    char a[1024], b[1024];
    name_list(s->name, s->n, a, sizeof a);
    name_list(names, n, b, sizeof b);
    fprintf(stderr, "vitrun: %s scores the components of another module or decomposition%s%s%s (the file's %s; this model's %s)\n", path,
            missing >= 0 ? ": it has no component '" : "", missing >= 0 ? names[missing] : "", missing >= 0 ? "'" : "", a, b);
    return -1;
}

int cli_scores_order(const double *score, const unsigned char *rankable, int n, int *order) {
    int m = 0;
    for (int i = 0; i < n; i++)
        if (rankable[i] && !isnan(score[i])) order[m++] = i;
    for (int i = 1; i < m; i++) /* insertion sort, highest first (n is small: components or heads) */
        for (int j = i; j > 0 && score[order[j]] > score[order[j - 1]]; j--) { int t = order[j]; order[j] = order[j - 1]; order[j - 1] = t; }
    return m;
}
