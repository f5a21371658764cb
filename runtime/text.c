/* runtime/text.c — text embeddings: BPE-tokenize strings (runtime/bpe.h), run
 * a text model (input: one sequence of token ids as floats), L2-normalise.
 * With prompt templates, each text becomes one sequence per template ("{}"
 * replaced by the text) and its embedding is CLIP's zero-shot classifier
 * row: every template's embedding L2-normalised, averaged, L2-normalised.
 * The model is checked against the vocabulary through its graph only: the
 * table its input ids index (a GATHER by the INPUT node) must have one row
 * per vocabulary entry.  Nothing here names a model or a parameter. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpe.h"
#include "ir.h"
#include "vit.h"
#include "vitint.h"

#define TEXT_CHUNK 256 /* sequences per batched run */

/* text with non-printable-ASCII bytes as \xNN, cut at ~60 bytes, for messages */
static const char *text_excerpt(const char *s, char *buf, size_t n) {
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && k + 8 < n; p++) {
        if (p - (const unsigned char *)s >= 60) { k += (size_t)snprintf(buf + k, n - k, "..."); break; }
        if (*p >= 32 && *p < 127 && *p != '"' && *p != '\\') buf[k++] = (char)*p;
        else k += (size_t)snprintf(buf + k, n - k, "\\x%02x", *p);
    }
    buf[k < n ? k : n - 1] = 0;
    return buf;
}

/* template with every "{}" replaced by text; malloc'd, NULL when out of memory */
static char *text_format(const char *tpl, const char *text) {
    size_t lt = strlen(text), n = strlen(tpl) + 1;
    for (const char *p = strstr(tpl, "{}"); p; p = strstr(p + 2, "{}")) n += lt;
    char *out = malloc(n), *o = out;
    if (!out) return NULL;
    for (const char *p = tpl; *p;) {
        if (p[0] == '{' && p[1] == '}') { memcpy(o, text, lt); o += lt; p += 2; }
        else *o++ = *p++;
    }
    *o = 0;
    return out;
}

/* The number of rows of the table the input ids index, -1 if no such lookup;
 * *key: the table's checkpoint key when it is a parameter. */
static int64_t text_table_rows(const IrGraph *g, const char **key) {
    for (int i = 0; i < g->n; i++) {
        const IrNode *nd = &g->nodes[i];
        if (nd->op != IR_OP_GATHER || nd->src[1] != g->input) continue;
        const IrNode *t = &g->nodes[nd->src[0]];
        int a = ir_axis_find(&t->shape, nd->ax[0]);
        if (a < 0) continue;
        *key = t->op == IR_OP_PARAM ? t->key : NULL;
        return t->shape.ax[a].size;
    }
    return -1;
}

int vit_embed_texts(vit_ctx *ctx, vit_model *m, const struct BpeTok *tok, const char *const *texts, int n,
                    const char *const *templates, int ntemplates, const vit_text_opts *opts, float *out) {
    const IrGraph *g = vit_model_graph(m);
    char sh[256], ex[256], err[512];
    if (n < 0 || ntemplates < 0 || (n && !texts) || (ntemplates && !templates) || !tok)
        return vit_ctx_fail(ctx, VIT_ERR_ARG, "embed texts: bad arguments");
    if (g->input < 0 || g->nodes[g->input].shape.rank != 1) {
        ir_shape_str(g->input >= 0 ? &g->nodes[g->input].shape : &(IrShape){0}, sh, sizeof sh);
        return vit_ctx_fail(ctx, VIT_ERR_ARG, "the model's input is %s, not one sequence of token ids like [tok=77]: not a text model", sh);
    }
    int ko = -1;
    for (int k = 0; k < vit_model_noutputs(m); k++)
        if (!strcmp(vit_model_output_name(m, k), "embedding")) ko = k;
    if (ko < 0 && vit_model_noutputs(m) == 1) ko = 0;
    if (ko < 0) return vit_ctx_fail(ctx, VIT_ERR_ARG, "the model has no output named 'embedding'");
    const char *key = NULL;
    int64_t rows = text_table_rows(g, &key);
    if (rows < 0) return vit_ctx_fail(ctx, VIT_ERR_ARG, "the model does not look its input ids up in a table (gather): not a text model");
    if (rows != bpe_vocab_size(tok))
        return vit_ctx_fail(ctx, VIT_ERR_SHAPE,
                            "the vocabulary has %d tokens but the model's token table%s%s%s has %lld rows: they do not belong together",
                            bpe_vocab_size(tok), key ? " '" : "", key ? key : "", key ? "'" : "", (long long)rows);
    for (int j = 0; j < ntemplates; j++)
        if (!strstr(templates[j], "{}"))
            return vit_ctx_fail(ctx, VIT_ERR_ARG, "template %d (\"%s\") has no {} to put the text in", j + 1,
                                text_excerpt(templates[j], ex, sizeof ex));
    if (!n) return VIT_OK;
    int ctxlen = (int)g->nodes[g->input].shape.ax[0].size;
    int64_t dim = vit_model_output_numel(m, ko);
    int per = ntemplates ? ntemplates : 1, no = vit_model_noutputs(m);
    int64_t total = (int64_t)n * per;
    enum vit_engine engine = opts ? opts->engine : VIT_ENGINE_JIT;
    int threads = opts && opts->threads > 0 ? opts->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1) threads = 1;
    float *in = malloc(sizeof(float) * (size_t)ctxlen * TEXT_CHUNK);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)ctxlen);
    double *acc = calloc((size_t)dim, sizeof(double));
    float **outs = calloc((size_t)no, sizeof(float *));
    int st = VIT_OK;
    if (!in || !ids || !acc || !outs) { st = vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory"); goto done; }
    for (int k = 0; k < no && !st; k++)
        if (!(outs[k] = malloc(sizeof(float) * (size_t)(vit_model_output_numel(m, k) * TEXT_CHUNK))))
            st = vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory");
    for (int64_t s0 = 0; s0 < total && !st; s0 += TEXT_CHUNK) {
        int c = (int)(total - s0 < TEXT_CHUNK ? total - s0 : TEXT_CHUNK);
        for (int q = 0; q < c && !st; q++) {
            int64_t s = s0 + q;
            int i = (int)(s / per), j = (int)(s % per);
            char *str = ntemplates ? text_format(templates[j], texts[i]) : NULL;
            if (ntemplates && !str) { st = vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory"); break; }
            if (bpe_encode(tok, str ? str : texts[i], ctxlen, ids, err, sizeof err) < 0) {
                char tp[32] = "";
                if (ntemplates) snprintf(tp, sizeof tp, " with template %d", j + 1);
                st = vit_ctx_fail(ctx, VIT_ERR_ARG, "text %d (\"%s\")%s: %s", i + 1, text_excerpt(texts[i], ex, sizeof ex), tp, err);
            }
            free(str);
            for (int t = 0; t < ctxlen; t++) in[(int64_t)q * ctxlen + t] = (float)ids[t];
        }
        if (st || (st = vit_model_run(ctx, m, engine, in, c, threads, outs))) break;
        for (int q = 0; q < c; q++) {
            int64_t s = s0 + q;
            const float *e = outs[ko] + (int64_t)q * dim;
            double nrm = 0;
            for (int64_t d = 0; d < dim; d++) nrm += (double)e[d] * e[d];
            nrm = fmax(sqrt(nrm), 1e-12);
            for (int64_t d = 0; d < dim; d++) acc[d] += e[d] / nrm;
            if ((s + 1) % per) continue;
            /* the text's last sequence: average (a no-op for one), normalise, store */
            double a = 0;
            for (int64_t d = 0; d < dim; d++) { acc[d] /= per; a += acc[d] * acc[d]; }
            a = fmax(sqrt(a), 1e-12);
            float *o = out + (s / per) * dim;
            for (int64_t d = 0; d < dim; d++) { o[d] = (float)(acc[d] / a); acc[d] = 0; }
        }
    }
done:
    if (outs) for (int k = 0; k < no; k++) free(outs[k]);
    free(outs);
    free(acc);
    free(ids);
    free(in);
    return st;
}
