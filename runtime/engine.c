/* runtime/engine.c — modules, weights binding and batched execution.
 * A model = a loaded graph + LLVM bitcode; binding maps every PARAM node to
 * checkpoint data (mmapped F32 used in place, other dtypes converted once);
 * a run gives each worker thread its own activation arena laid out by the
 * compiler's memory plan, and calls the JIT (or the interpreter) per image. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp.h"
#include "ir.h"
#include "jit.h"
#include "kernels.h"
#include "pool.h"
#include "st.h"
#include "vit.h"
#include "vitint.h"

extern void openblas_set_num_threads(int);

struct vit_ctx {
    char err[16384]; /* last error message */
};

struct vit_model {
    IrGraph *g;       /* the lowered, planned graph */
    void *bc;         /* LLVM bitcode (malloc'd) */
    size_t bclen;
    JitModule *jit;   /* NULL until prepared */
    StFile *st;       /* the bound checkpoint */
    float **data;     /* per node: PARAM / CONST data, NULL otherwise */
    float **owned;    /* per node: converted copies we own */
    int bound;
};

static int fail(vit_ctx *c, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(vit_ctx *c, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    return status;
}

vit_ctx *vit_ctx_new(void) { return calloc(1, sizeof(vit_ctx)); }
void vit_ctx_free(vit_ctx *ctx) { free(ctx); }
const char *vit_last_error(const vit_ctx *ctx) { return ctx->err; }

int vit_ctx_fail(vit_ctx *ctx, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->err, sizeof ctx->err, fmt, ap);
    va_end(ap);
    return status;
}
const IrGraph *vit_model_graph(const vit_model *m) { return m->g; }

int vit_model_load(vit_ctx *ctx, const char *path, vit_model **out) {
    *out = NULL;
    vit_model *m = calloc(1, sizeof *m);
    if (!m) return fail(ctx, VIT_ERR_MEM, "out of memory");
    char err[1024];
    if (ir_module_read(path, &m->g, &m->bc, &m->bclen, err, sizeof err)) {
        free(m);
        return fail(ctx, VIT_ERR_FORMAT, "%s", err);
    }
    if (interp_check(m->g, err, sizeof err)) { /* every node's shapes and attributes, before anything runs */
        vit_model_free(m);
        return fail(ctx, VIT_ERR_FORMAT, "%s: corrupt module: %s", path, err);
    }
    m->data = calloc((size_t)m->g->n, sizeof(float *));
    m->owned = calloc((size_t)m->g->n, sizeof(float *));
    if (!m->data || !m->owned) { vit_model_free(m); return fail(ctx, VIT_ERR_MEM, "out of memory"); }
    for (int i = 0; i < m->g->n; i++)
        if (m->g->nodes[i].op == IR_OP_CONST) m->data[i] = m->g->nodes[i].cdata;
    *out = m;
    return VIT_OK;
}

int vit_model_from_graph(vit_ctx *ctx, IrGraph *g, void *bc, size_t bclen, vit_model **out) {
    *out = NULL;
    vit_model *m = calloc(1, sizeof *m);
    if (!m) return fail(ctx, VIT_ERR_MEM, "out of memory");
    m->g = g;
    m->bc = bc;
    m->bclen = bclen;
    m->data = calloc((size_t)g->n, sizeof(float *));
    m->owned = calloc((size_t)g->n, sizeof(float *));
    if (!m->data || !m->owned) { vit_model_free(m); return fail(ctx, VIT_ERR_MEM, "out of memory"); }
    for (int i = 0; i < g->n; i++)
        if (g->nodes[i].op == IR_OP_CONST) m->data[i] = g->nodes[i].cdata;
    *out = m;
    return VIT_OK;
}

void vit_model_free(vit_model *m) {
    if (!m) return;
    if (m->jit) jit_free(m->jit);
    if (m->owned)
        for (int i = 0; i < m->g->n; i++) free(m->owned[i]);
    free(m->owned);
    free(m->data);
    if (m->st) st_close(m->st);
    free(m->bc);
    ir_graph_free(m->g);
    free(m);
}

static void shape_of(const int64_t *d, int rank, char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < rank && k < n; i++) k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? ", " : "", (long long)d[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

static int is_unused(const IrGraph *g, const char *key) {
    for (int i = 0; i < g->nunused; i++)
        if (!strncmp(key, g->unused[i], strlen(g->unused[i]))) return 1;
    return 0;
}

/* Append one line to the report, keeping the first lines when it grows long. */
static void report(char *buf, size_t n, int *count, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void report(char *buf, size_t n, int *count, const char *fmt, ...) {
    (*count)++;
    size_t k = strlen(buf);
    if (k + 200 >= n) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + k, n - k, fmt, ap);
    va_end(ap);
}

int vit_model_bind(vit_ctx *ctx, vit_model *m, const char *weights, const vit_bind_opts *opts) {
    vit_bind_opts none = {0, 0};
    if (!opts) opts = &none;
    char err[1024];
    StFile *st = NULL;
    if (st_open(weights, &st, err, sizeof err)) return fail(ctx, VIT_ERR_FORMAT, "%s", err);
    const IrGraph *g = m->g;
    char *used = calloc((size_t)st->n + 1, 1);
    char rep[12000] = "";
    int nmissing = 0, nshape = 0, nunexp = 0, ndtype = 0;
    for (int i = 0; i < g->n; i++) {
        const IrNode *n = &g->nodes[i];
        if (n->op != IR_OP_PARAM || !strncmp(n->key, "__", 2)) continue;
        int64_t k = st_find(st, n->key);
        char want[128], got[128];
        int64_t wd[IR_MAX_RANK];
        for (int a = 0; a < n->stored.rank; a++) wd[a] = n->stored.ax[a].size;
        shape_of(wd, n->stored.rank, want, sizeof want);
        if (k < 0) {
            report(rep, sizeof rep, &nmissing, "  missing: '%s' (expected shape %s)\n", n->key, want);
            continue;
        }
        used[k] = 1;
        const StTensor *t = &st->t[k];
        shape_of(t->shape, t->rank, got, sizeof got);
        int same = t->rank == n->stored.rank;
        for (int a = 0; same && a < t->rank; a++) same = t->shape[a] == wd[a];
        if (!same) {
            report(rep, sizeof rep, &nshape, "  shape mismatch: '%s' is %s in the file, the spec expects %s\n", n->key, got, want);
            continue;
        }
        if (t->dtype != ST_DTYPE_F32 && t->dtype != ST_DTYPE_F16 && t->dtype != ST_DTYPE_BF16 && t->dtype != ST_DTYPE_F64) {
            report(rep, sizeof rep, &ndtype, "  dtype: '%s' is %s; weights must be F32, F16, BF16 or F64\n", n->key,
                   st_dtype_name(t->dtype));
            continue;
        }
    }
    for (int k = 0; k < st->n; k++)
        if (!used[k] && !is_unused(g, st->t[k].name)) {
            char got[128];
            shape_of(st->t[k].shape, st->t[k].rank, got, sizeof got);
            report(rep, sizeof rep, &nunexp, "  unexpected: '%s' %s is not used by the spec\n", st->t[k].name, got);
        }
    free(used);
    int bad = nshape || ndtype || (nmissing && !opts->allow_missing) || (nunexp && !opts->allow_unused);
    if (bad) {
        st_close(st);
        return fail(ctx, nshape || ndtype ? VIT_ERR_SHAPE : VIT_ERR_FORMAT,
                    "%s does not fit the module (%d missing, %d unexpected, %d mis-shaped, %d bad dtype)%s:\n%s", weights,
                    nmissing, nunexp, nshape, ndtype,
                    nmissing || nunexp ? "; --allow-missing / --allow-unused accept the first two" : "", rep);
    }
    /* attach data */
    for (int i = 0; i < g->n; i++) {
        const IrNode *n = &g->nodes[i];
        if (n->op != IR_OP_PARAM || !strncmp(n->key, "__", 2)) continue;
        free(m->owned[i]);
        m->owned[i] = NULL;
        int64_t k = st_find(st, n->key);
        int64_t numel = ir_numel(&n->shape);
        if (k < 0) { /* allowed missing: zeros */
            m->owned[i] = calloc((size_t)numel + 1, sizeof(float));
            m->data[i] = m->owned[i];
            continue;
        }
        const float *p = st_data_f32(st, k);
        if (p) { m->data[i] = (float *)p; continue; }
        m->owned[i] = malloc((size_t)numel * sizeof(float) + 4);
        if (!m->owned[i]) { st_close(st); return fail(ctx, VIT_ERR_MEM, "out of memory converting '%s'", n->key); }
        if (st_read_f32(st, k, m->owned[i], err, sizeof err)) { st_close(st); return fail(ctx, VIT_ERR_FORMAT, "%s", err); }
        m->data[i] = m->owned[i];
    }
    if (m->st) st_close(m->st);
    m->st = st;
    m->bound = 1;
    if (nmissing || nunexp)
        snprintf(ctx->err, sizeof ctx->err, "warning: %d missing, %d unexpected keys accepted:\n%s", nmissing, nunexp, rep);
    else
        ctx->err[0] = 0;
    return VIT_OK;
}

int vit_model_set_param(vit_ctx *ctx, vit_model *m, const char *key, const float *data, int64_t numel) {
    int found = 0;
    for (int i = 0; i < m->g->n; i++) {
        const IrNode *n = &m->g->nodes[i];
        if (n->op != IR_OP_PARAM || strcmp(n->key, key)) continue;
        if (ir_numel(&n->shape) != numel)
            return fail(ctx, VIT_ERR_SHAPE, "'%s' needs %lld values, got %lld", key, (long long)ir_numel(&n->shape), (long long)numel);
        m->data[i] = (float *)data;
        found = 1;
    }
    return found ? VIT_OK : fail(ctx, VIT_ERR_ARG, "the module has no runtime parameter '%s'", key);
}

int vit_model_prepare(vit_ctx *ctx, vit_model *m, enum vit_engine engine) {
    char err[2048];
    if (engine == VIT_ENGINE_INTERP) {
        if (interp_check(m->g, err, sizeof err)) return fail(ctx, VIT_ERR_FORMAT, "%s", err);
        return VIT_OK;
    }
    if (m->jit) return VIT_OK;
    if (!m->bc) return fail(ctx, VIT_ERR_FORMAT, "the module holds no compiled code; use --engine interp or recompile");
    if (jit_load(m->bc, m->bclen, &m->jit, err, sizeof err)) return fail(ctx, VIT_ERR_FORMAT, "JIT: %s", err);
    return VIT_OK;
}

int vit_model_noutputs(const vit_model *m) { return m->g->nout; }
const char *vit_model_output_name(const vit_model *m, int k) { return m->g->outputs[k].name; }
int64_t vit_model_output_numel(const vit_model *m, int k) { return ir_numel(&m->g->nodes[m->g->outputs[k].node].shape); }
int64_t vit_model_input_numel(const vit_model *m) { return m->g->input < 0 ? 0 : ir_numel(&m->g->nodes[m->g->input].shape); }

typedef struct {
    vit_model *m;
    enum vit_engine engine;
    const float *input;
    float **outputs;
    int first, step, n; /* images first, first + step, ... < n */
    int status;
    char err[1024];
} Work;

static void *worker(void *arg) {
    Work *w = arg;
    const IrGraph *g = w->m->g;
    float *arena = aligned_alloc(64, (size_t)((g->arena_floats + 16) * 4 + 64) & ~(size_t)63);
    float **bufs = calloc((size_t)g->n, sizeof(float *));
    if (!arena || !bufs) { w->status = VIT_ERR_MEM; snprintf(w->err, sizeof w->err, "out of memory for activations"); goto done; }
    for (int i = 0; i < g->n; i++) {
        const IrNode *n = &g->nodes[i];
        if (n->op == IR_OP_PARAM || n->op == IR_OP_CONST) bufs[i] = w->m->data[i];
        else if (n->offset >= 0) bufs[i] = arena + n->offset;
    }
    int64_t in_n = ir_numel(&g->nodes[g->input].shape);
    void (*fwd)(float **) = w->engine == VIT_ENGINE_JIT ? jit_forward(w->m->jit) : NULL;
    vitrt_set_graph(g);
    for (int im = w->first; im < w->n; im += w->step) {
        bufs[g->input] = (float *)(w->input + (int64_t)im * in_n);
        if (fwd) fwd(bufs);
        else if (interp_run(g, bufs, w->err, sizeof w->err)) { w->status = VIT_ERR_FORMAT; goto done; }
        for (int k = 0; k < g->nout; k++) {
            int node = g->outputs[k].node;
            int64_t on = ir_numel(&g->nodes[node].shape);
            memcpy(w->outputs[k] + (int64_t)im * on, bufs[node], (size_t)on * sizeof(float));
        }
    }
done:
    free(bufs);
    free(arena);
    return NULL;
}

int vit_model_run(vit_ctx *ctx, vit_model *m, enum vit_engine engine, const float *input, int n, int threads,
                  float **outputs) {
    if (!m->bound) return fail(ctx, VIT_ERR_ARG, "no weights bound");
    for (int i = 0; i < m->g->n; i++)
        if (m->g->nodes[i].op == IR_OP_PARAM && !m->data[i])
            return fail(ctx, VIT_ERR_ARG, "runtime parameter '%s' is not set", m->g->nodes[i].key);
    if (m->g->input < 0) return fail(ctx, VIT_ERR_FORMAT, "the module has no input");
    int st = vit_model_prepare(ctx, m, engine);
    if (st) return st;
    if (threads < 1) threads = 1;
    /* several images: one image per thread; one image: its large products split
     * between the threads (pool.c, kernels.c); BLAS itself single-threaded */
    int workers = n >= threads ? threads : 1;
    openblas_set_num_threads(1);
    pool_set_threads(workers > 1 ? 1 : threads);
    Work w[64];
    pthread_t tid[64];
    if (workers > 64) workers = 64;
    for (int t = 0; t < workers; t++)
        w[t] = (Work){m, engine, input, outputs, t, workers, n, 0, ""};
    for (int t = 1; t < workers; t++)
        if (pthread_create(&tid[t], NULL, worker, &w[t])) { workers = t; break; }
    worker(&w[0]);
    for (int t = 1; t < workers; t++) pthread_join(tid[t], NULL);
    for (int t = 0; t < workers; t++)
        if (w[t].status) return fail(ctx, w[t].status, "%s", w[t].err);
    return VIT_OK;
}
