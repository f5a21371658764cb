/* tests/test_jit.c — the JIT engine against naive references.
 * Each test builds a small graph by hand (leaves carry seeded random data),
 * runs lower_contractions → codegen_emit → jit_load → vit_forward, and
 * compares the node under test with a reference computed here in double,
 * looping over output elements and finding source elements by axis name. */
#include <pthread.h>
#include <stdint.h>

#include "check.h"
#include "codegen.h"
#include "ir.h"
#include "jit.h"
#include "resample.h"

#define MAXN 64
#define TOL 1e-5

/* ---- graph building ------------------------------------------------------ */

typedef struct {
    IrGraph *g;
    float *data[MAXN]; /* INPUT / PARAM leaves: the test's own data */
} Tg;

static uint64_t rng = 88172645463325252ull;
static float frand(void) { /* uniform in [-1, 1) */
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* "tok=5,head=3" → shape with names owned by g */
static IrShape shp(IrGraph *g, const char *spec) {
    IrShape s = {0};
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        *eq = 0;
        s.ax[s.rank].name = ir_strdup(g, tok);
        s.ax[s.rank++].size = atoll(eq + 1);
    }
    return s;
}

static void tg_init(Tg *t) {
    memset(t, 0, sizeof *t);
    t->g = ir_graph_new();
}

static void tg_free(Tg *t) {
    for (int i = 0; i < MAXN; i++) free(t->data[i]);
    ir_graph_free(t->g);
}

/* A leaf with random data scaled by `scale` and shifted by `shift`. */
static int leaf(Tg *t, enum ir_op op, const char *spec, float scale, float shift) {
    IrNode n = {0};
    n.op = op;
    n.shape = shp(t->g, spec);
    n.loc.file = -1;
    int64_t cnt = ir_numel(&n.shape);
    float *d = malloc((size_t)cnt * sizeof *d);
    for (int64_t i = 0; i < cnt; i++) d[i] = frand() * scale + shift;
    if (op == IR_OP_CONST) {
        n.cdata = ir_alloc(t->g, (size_t)cnt * sizeof *d);
        memcpy(n.cdata, d, (size_t)cnt * sizeof *d);
        free(d);
        d = NULL;
    }
    int id = ir_node_add(t->g, &n);
    t->data[id] = d;
    return id;
}

static int node(Tg *t, enum ir_op op, int s0, int s1, const char *spec) {
    IrNode n = {0};
    n.op = op;
    n.nsrc = s1 >= 0 ? 2 : s0 >= 0 ? 1 : 0;
    n.src[0] = s0;
    n.src[1] = s1;
    n.shape = shp(t->g, spec);
    n.loc.file = -1;
    return ir_node_add(t->g, &n);
}

static void set_ax(Tg *t, int id, const char *a0, const char *a1) {
    IrNode *n = &t->g->nodes[id];
    n->ax[0] = ir_strdup(t->g, a0);
    n->nax = 1;
    if (a1) {
        n->ax[1] = ir_strdup(t->g, a1);
        n->nax = 2;
    }
}

static const float *val(Tg *t, int id) {
    return t->g->nodes[id].op == IR_OP_CONST ? t->g->nodes[id].cdata : t->data[id];
}

/* ---- running ------------------------------------------------------------- */

typedef struct {
    IrGraph *lg;     /* lowered graph */
    JitModule *jm;
    float **bufs;
} Run;

static void run_free(Run *r) {
    if (r->lg && r->bufs)
        for (int i = 0; i < r->lg->n; i++)
            if (r->lg->nodes[i].op != IR_OP_CONST && r->lg->nodes[i].op != IR_OP_INPUT &&
                r->lg->nodes[i].op != IR_OP_PARAM)
                free(r->bufs[i]);
    free(r->bufs);
    jit_free(r->jm);
    ir_graph_free(r->lg);
    memset(r, 0, sizeof *r);
}

/* Lowers and compiles t's graph, allocates buffers (activations filled
 * with NaN so an unwritten element shows). */
static int compile(Tg *t, Run *r) {
    char err[512] = "";
    void *bc = NULL;
    size_t bclen = 0;
    memset(r, 0, sizeof *r);
    r->lg = lower_contractions(t->g, err, sizeof err);
    if (!r->lg) { fprintf(stderr, "  lower: %s\n", err); return -1; }
    if (codegen_emit(r->lg, &bc, &bclen, err, sizeof err)) { fprintf(stderr, "  codegen: %s\n", err); return -1; }
    int rc = jit_load(bc, bclen, &r->jm, err, sizeof err);
    free(bc);
    if (rc) { fprintf(stderr, "  jit: %s\n", err); return -1; }
    r->bufs = calloc((size_t)r->lg->n, sizeof *r->bufs);
    /* leaves keep their order; lowering adds no leaves */
    int old = 0;
    const IrGraph *og = t->g;
    for (int i = 0; i < r->lg->n; i++) {
        IrNode *n = &r->lg->nodes[i];
        if (n->op == IR_OP_CONST) { r->bufs[i] = n->cdata; }
        else if (n->op == IR_OP_INPUT || n->op == IR_OP_PARAM) {
            while (og->nodes[old].op != IR_OP_INPUT && og->nodes[old].op != IR_OP_PARAM) old++;
            r->bufs[i] = t->data[old++];
        } else {
            int64_t cnt = ir_numel(&n->shape);
            r->bufs[i] = malloc((size_t)(cnt ? cnt : 1) * sizeof(float));
            for (int64_t k = 0; k < cnt; k++) r->bufs[i][k] = NAN;
        }
    }
    return 0;
}

/* The lowered graph's buffer holding original node `id` (marked "out"). */
static const float *result(Run *r, const char *name) {
    int id = ir_output_find(r->lg, name);
    return id < 0 ? NULL : r->bufs[id];
}

/* Compiles, runs once and compares output "out" with ref. */
static int run_check(Tg *t, const double *ref, int64_t cnt, double tol) {
    Run r;
    if (compile(t, &r)) { run_free(&r); return -1; }
    jit_forward(r.jm)(r.bufs);
    const float *got = result(&r, "out");
    float *reff = malloc((size_t)cnt * sizeof *reff);
    for (int64_t i = 0; i < cnt; i++) reff[i] = (float)ref[i];
    double e = check_max_rel(got, reff, cnt);
    int bad = !(e <= tol);
    if (bad) {
        fprintf(stderr, "  max rel error %.3g > %.3g\n", e, tol);
        for (int64_t i = 0; i < cnt && i < 8; i++) fprintf(stderr, "    [%lld] %.9g vs %.9g\n", (long long)i, got[i], ref[i]);
    }
    free(reff);
    run_free(&r);
    return bad;
}

/* ---- reference helpers --------------------------------------------------- */

/* Next multi-index over s (row-major); 0 when done. */
static int next_idx(const IrShape *s, int64_t *ix) {
    for (int d = s->rank - 1; d >= 0; d--) {
        if (++ix[d] < s->ax[d].size) return 1;
        ix[d] = 0;
    }
    return 0;
}

/* Offset in s of the element whose axis values come from (ref, ix) by name;
 * extra names (nm[k] = v[k]) override.  Axes of s must be named in one. */
static int64_t off_by(const IrShape *s, const IrShape *ref, const int64_t *ix, int nx, const char **nm,
                      const int64_t *v) {
    int64_t o = 0;
    for (int d = 0; d < s->rank; d++) {
        int64_t i = -1;
        for (int k = 0; k < nx; k++)
            if (!strcmp(nm[k], s->ax[d].name)) i = v[k];
        if (i < 0) i = ix[ir_axis_find(ref, s->ax[d].name)];
        o = o * s->ax[d].size + i;
    }
    return o;
}

static const IrShape *shape_of(Tg *t, int id) { return &t->g->nodes[id].shape; }

static void mark_out(Tg *t, int id) { ir_output_add(t->g, "out", id); }

/* Reference contraction: out[o] = sum over `over` of a * b. */
static double *ref_contract(Tg *t, int a, int b, int out, const char *over) {
    const IrShape *os = shape_of(t, out), *as = shape_of(t, a), *bs = shape_of(t, b);
    int ia = ir_axis_find(as, over);
    int64_t K = as->ax[ia].size, cnt = ir_numel(os);
    double *ref = calloc((size_t)cnt, sizeof *ref);
    int64_t ix[IR_MAX_RANK] = {0};
    int64_t o = 0;
    do {
        double s = 0;
        for (int64_t k = 0; k < K; k++)
            s += (double)val(t, a)[off_by(as, os, ix, 1, &over, &k)] * val(t, b)[off_by(bs, os, ix, 1, &over, &k)];
        ref[o++] = s;
    } while (next_idx(os, ix));
    return ref;
}

/* ---- tests --------------------------------------------------------------- */

TEST(contract_attention_scores_batch_axis_in_the_middle) {
    Tg t;
    tg_init(&t);
    int q = leaf(&t, IR_OP_INPUT, "tok=5,head=3,hd=4", 1, 0);
    int k = leaf(&t, IR_OP_CONST, "key=6,head=3,hd=4", 1, 0);
    int c = node(&t, IR_OP_CONTRACT, q, k, "tok=5,head=3,key=6");
    set_ax(&t, c, "hd", NULL);
    mark_out(&t, c);
    double *ref = ref_contract(&t, q, k, c, "hd");
    int rc = run_check(&t, ref, 90, TOL);
    free(ref);
    tg_free(&t);
    return rc;
}

TEST(contract_attention_values) {
    Tg t;
    tg_init(&t);
    int a = leaf(&t, IR_OP_CONST, "tok=7,head=2,key=9", 1, 0);
    int v = leaf(&t, IR_OP_CONST, "key=9,head=2,hd=5", 1, 0);
    int c = node(&t, IR_OP_CONTRACT, a, v, "tok=7,head=2,hd=5");
    set_ax(&t, c, "key", NULL);
    mark_out(&t, c);
    double *ref = ref_contract(&t, a, v, c, "key");
    int rc = run_check(&t, ref, 70, TOL);
    free(ref);
    tg_free(&t);
    return rc;
}

TEST(contract_linear_weight_out_by_in) {
    Tg t;
    tg_init(&t);
    int x = leaf(&t, IR_OP_INPUT, "tok=11,ch=16", 1, 0);
    int w = leaf(&t, IR_OP_PARAM, "out=13,ch=16", 1, 0);
    int c = node(&t, IR_OP_CONTRACT, x, w, "tok=11,out=13");
    set_ax(&t, c, "ch", NULL);
    mark_out(&t, c);
    double *ref = ref_contract(&t, x, w, c, "ch");
    int rc = run_check(&t, ref, 11 * 13, TOL);
    free(ref);
    tg_free(&t);
    return rc;
}

TEST(contract_weight_first_operand_in_to_out) {
    Tg t;
    tg_init(&t);
    int w = leaf(&t, IR_OP_CONST, "ch=6,out=5", 1, 0);
    int x = leaf(&t, IR_OP_CONST, "tok=4,ch=6", 1, 0);
    int c = node(&t, IR_OP_CONTRACT, w, x, "out=5,tok=4");
    set_ax(&t, c, "ch", NULL);
    mark_out(&t, c);
    double *ref = ref_contract(&t, w, x, c, "ch");
    int rc = run_check(&t, ref, 20, TOL);
    free(ref);
    tg_free(&t);
    return rc;
}

TEST(contract_over_two_axes_in_different_orders) {
    Tg t;
    tg_init(&t);
    int o = leaf(&t, IR_OP_CONST, "tok=5,head=3,hd=4", 1, 0);
    int w = leaf(&t, IR_OP_CONST, "ch=7,hd=4,head=3", 1, 0);
    int c = node(&t, IR_OP_CONTRACT, o, w, "tok=5,ch=7");
    t.g->nodes[c].nax = 2;
    t.g->nodes[c].ax[0] = ir_strdup(t.g, "head");
    t.g->nodes[c].ax[1] = ir_strdup(t.g, "hd");
    mark_out(&t, c);
    const IrShape *os = shape_of(&t, c);
    double ref[35];
    int64_t ix[IR_MAX_RANK] = {0}, n = 0;
    const char *nm[2] = {"head", "hd"};
    do {
        double s = 0;
        for (int64_t h = 0; h < 3; h++)
            for (int64_t d = 0; d < 4; d++) {
                int64_t v[2] = {h, d};
                s += (double)val(&t, o)[off_by(shape_of(&t, o), os, ix, 2, nm, v)] *
                     val(&t, w)[off_by(shape_of(&t, w), os, ix, 2, nm, v)];
            }
        ref[n++] = s;
    } while (next_idx(os, ix));
    int rc = run_check(&t, ref, 35, TOL);
    tg_free(&t);
    return rc;
}

TEST(lowering_inserts_permutes_and_keeps_locations) {
    Tg t;
    tg_init(&t);
    int q = leaf(&t, IR_OP_CONST, "tok=5,head=3,hd=4", 1, 0);
    int k = leaf(&t, IR_OP_CONST, "key=6,head=3,hd=4", 1, 0);
    int c = node(&t, IR_OP_CONTRACT, q, k, "tok=5,head=3,key=6");
    set_ax(&t, c, "hd", NULL);
    t.g->nodes[c].loc = (IrLoc){-1, 12, 7};
    t.g->nodes[c].scope = ir_strdup(t.g, "blocks.0.attn");
    t.g->nodes[c].label = ir_strdup(t.g, "s");
    int w = leaf(&t, IR_OP_CONST, "out=2,ch=3", 1, 0);
    int x = leaf(&t, IR_OP_CONST, "tok=4,ch=3", 1, 0);
    int l = node(&t, IR_OP_CONTRACT, x, w, "tok=4,out=2");
    set_ax(&t, l, "ch", NULL);
    mark_out(&t, c);
    ir_output_add(t.g, "lin", l);
    char err[256];
    IrGraph *lg = lower_contractions(t.g, err, sizeof err);
    ASSERT(lg);
    /* q and k permuted to [head, tok, hd] / [head, key, hd], result permuted back */
    ASSERT_EQ(lg->n, t.g->n + 3);
    int out = ir_output_find(lg, "out");
    ASSERT_EQ(lg->nodes[out].op, IR_OP_PERMUTE);
    ASSERT_EQ(lg->nodes[out].loc.line, 12);
    ASSERT_STR_EQ(lg->nodes[out].scope, "blocks.0.attn");
    ASSERT_STR_EQ(lg->nodes[out].label, "s");
    char buf[128];
    ir_shape_str(&lg->nodes[out].shape, buf, sizeof buf);
    ASSERT_STR_EQ(buf, "[tok=5, head=3, key=6]");
    int g0 = lg->nodes[out].src[0];
    ASSERT_EQ(lg->nodes[g0].op, IR_OP_CONTRACT);
    ir_shape_str(&lg->nodes[g0].shape, buf, sizeof buf);
    ASSERT_STR_EQ(buf, "[head=3, tok=5, key=6]");
    LowerGemm gm;
    ASSERT(lower_gemm_shape(lg, &lg->nodes[g0], &gm));
    ASSERT_EQ(gm.batch, 3);
    ASSERT_EQ(gm.m, 5);
    ASSERT_EQ(gm.n, 6);
    ASSERT_EQ(gm.k, 4);
    ASSERT_EQ(gm.trans_a, 0);
    ASSERT_EQ(gm.trans_b, 1);
    ASSERT_EQ(lg->nodes[lg->nodes[g0].src[0]].op, IR_OP_PERMUTE);
    ASSERT_EQ(lg->nodes[lg->nodes[g0].src[0]].loc.col, 7);
    /* the linear layer is canonical already: untouched */
    int li = ir_output_find(lg, "lin");
    ASSERT_EQ(lg->nodes[li].op, IR_OP_CONTRACT);
    ASSERT(lower_gemm_shape(lg, &lg->nodes[li], &gm));
    ASSERT_EQ(gm.trans_b, 1);
    ASSERT(!lower_gemm_shape(t.g, &t.g->nodes[c], &gm));
    ir_graph_free(lg);
    tg_free(&t);
    return 0;
}

TEST(codegen_rejects_a_non_canonical_contraction) {
    Tg t;
    tg_init(&t);
    int q = leaf(&t, IR_OP_CONST, "tok=5,head=3,hd=4", 1, 0);
    int k = leaf(&t, IR_OP_CONST, "key=6,head=3,hd=4", 1, 0);
    int c = node(&t, IR_OP_CONTRACT, q, k, "tok=5,head=3,key=6");
    set_ax(&t, c, "hd", NULL);
    char err[256] = "";
    void *bc = NULL;
    size_t n = 0;
    ASSERT_EQ(codegen_emit(t.g, &bc, &n, err, sizeof err), -1);
    ASSERT_CONTAINS(err, "GEMM form");
    ASSERT(bc == NULL);
    tg_free(&t);
    return 0;
}

TEST(lowering_rejects_a_sum_over_a_missing_axis) {
    Tg t;
    tg_init(&t);
    int a = leaf(&t, IR_OP_CONST, "i=2,j=3", 1, 0);
    int b = leaf(&t, IR_OP_CONST, "j=3,k=4", 1, 0);
    int c = node(&t, IR_OP_CONTRACT, a, b, "i=2,j=3,k=4");
    set_ax(&t, c, "zz", NULL);
    char err[256] = "";
    ASSERT(lower_contractions(t.g, err, sizeof err) == NULL);
    ASSERT_CONTAINS(err, "'zz'");
    tg_free(&t);
    return 0;
}

TEST(contract_summed_axis_only_in_a) {
    Tg t;
    tg_init(&t);
    int a = leaf(&t, IR_OP_CONST, "i=3,r=4,j=5", 1, 0);
    int b = leaf(&t, IR_OP_CONST, "j=5,k=2", 1, 0);
    int c = node(&t, IR_OP_CONTRACT, a, b, "i=3,k=2");
    t.g->nodes[c].nax = 2;
    t.g->nodes[c].ax[0] = ir_strdup(t.g, "j");
    t.g->nodes[c].ax[1] = ir_strdup(t.g, "r");
    mark_out(&t, c);
    double ref[6];
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 2; k++) {
            double s = 0;
            for (int r = 0; r < 4; r++)
                for (int j = 0; j < 5; j++) s += (double)val(&t, a)[(i * 4 + r) * 5 + j] * val(&t, b)[j * 2 + k];
            ref[i * 2 + k] = s;
        }
    int rc = run_check(&t, ref, 6, TOL);
    tg_free(&t);
    return rc;
}

/* a[x, y, z] op b[z, x]: b's axes in another order, y broadcast */
static int binary_case(enum ir_op op) {
    Tg t;
    tg_init(&t);
    int a = leaf(&t, IR_OP_INPUT, "x=3,y=4,z=17", 1, 0);
    int b = leaf(&t, IR_OP_CONST, "z=17,x=3", 1, op == IR_OP_DIV ? 2.5f : 0);
    int c = node(&t, op, a, b, "x=3,y=4,z=17");
    mark_out(&t, c);
    double ref[204];
    for (int x = 0; x < 3; x++)
        for (int y = 0; y < 4; y++)
            for (int z = 0; z < 17; z++) {
                double p = val(&t, a)[(x * 4 + y) * 17 + z], q = val(&t, b)[z * 3 + x];
                ref[(x * 4 + y) * 17 + z] = op == IR_OP_ADD ? p + q : op == IR_OP_SUB ? p - q
                                          : op == IR_OP_MUL ? p * q : p / q;
            }
    int rc = run_check(&t, ref, 204, TOL);
    tg_free(&t);
    return rc;
}

TEST(add_broadcast_with_reordered_axes) { return binary_case(IR_OP_ADD); }
TEST(sub_broadcast_with_reordered_axes) { return binary_case(IR_OP_SUB); }
TEST(mul_broadcast_with_reordered_axes) { return binary_case(IR_OP_MUL); }
TEST(div_broadcast_with_reordered_axes) { return binary_case(IR_OP_DIV); }

TEST(add_both_operands_broadcast) {
    Tg t;
    tg_init(&t);
    int a = leaf(&t, IR_OP_CONST, "y=5", 1, 0);
    int b = leaf(&t, IR_OP_CONST, "x=4", 1, 0);
    int c = node(&t, IR_OP_ADD, a, b, "x=4,y=5");
    mark_out(&t, c);
    double ref[20];
    for (int x = 0; x < 4; x++)
        for (int y = 0; y < 5; y++) ref[x * 5 + y] = (double)val(&t, a)[y] + val(&t, b)[x];
    int rc = run_check(&t, ref, 20, TOL);
    tg_free(&t);
    return rc;
}

static double gelu_ref(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }
static double sigm(double x) { return 1 / (1 + exp(-x)); }

static double unary_ref(enum ir_op op, double x) {
    switch (op) {
    case IR_OP_SCALE: return x * 0.125 - 3.0;
    case IR_OP_GELU: return gelu_ref(x);
    case IR_OP_GELU_TANH: return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    case IR_OP_QUICK_GELU: return x * sigm(1.702 * x);
    case IR_OP_SILU: return x * sigm(x);
    case IR_OP_SIGMOID: return sigm(x);
    case IR_OP_RELU: return x > 0 ? x : 0;
    case IR_OP_EXP: return exp(x);
    case IR_OP_TANH: return tanh(x);
    case IR_OP_RSQRT: return 1.0 / sqrt(x);
    default: return NAN;
    }
}

TEST(unary_ops_match_their_definitions) {
    static const enum ir_op ops[] = {IR_OP_SCALE, IR_OP_GELU, IR_OP_GELU_TANH, IR_OP_QUICK_GELU, IR_OP_SILU,
                                     IR_OP_SIGMOID, IR_OP_RELU, IR_OP_EXP, IR_OP_TANH, IR_OP_RSQRT};
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        Tg t;
        tg_init(&t);
        int n = 2001;
        int x = leaf(&t, IR_OP_CONST, "tok=3,ch=2001", 1, 0);
        float *d = t.g->nodes[x].cdata;
        for (int i = 0; i < 3 * n; i++) d[i] = -12.0f + 24.0f * (float)i / (float)(3 * n); /* a sweep */
        if (ops[o] == IR_OP_EXP) for (int i = 0; i < 3 * n; i++) d[i] *= 0.5f;
        if (ops[o] == IR_OP_RSQRT) for (int i = 0; i < 3 * n; i++) d[i] = 1e-3f + fabsf(d[i]);
        int c = node(&t, ops[o], x, -1, "tok=3,ch=2001");
        t.g->nodes[c].f[0] = 0.125f;
        t.g->nodes[c].f[1] = -3.0f;
        mark_out(&t, c);
        double *ref = malloc(3 * (size_t)n * sizeof *ref);
        for (int i = 0; i < 3 * n; i++) ref[i] = unary_ref(ops[o], d[i]);
        int rc = run_check(&t, ref, 3 * n, TOL);
        /* pointwise too: small values must be right, not just the large ones */
        if (!rc && ops[o] != IR_OP_EXP) {
            Run r;
            compile(&t, &r);
            jit_forward(r.jm)(r.bufs);
            const float *got = result(&r, "out");
            for (int i = 0; i < 3 * n && !rc; i++)
                if (fabs(got[i] - ref[i]) > 2e-6 * fmax(1.0, fabs(ref[i]))) {
                    fprintf(stderr, "  %s(%.9g) = %.9g, want %.9g\n", ir_op_info[ops[o]].name, d[i], got[i], ref[i]);
                    rc = 1;
                }
            run_free(&r);
        }
        free(ref);
        tg_free(&t);
        if (rc) FAIL_AT("op %s", ir_op_info[ops[o]].name);
    }
    return 0;
}

/* ulps of |got - ref| at ref's magnitude (denormal spacing at least) */
static double ulps(float got, double ref) {
    float r = (float)fabs(ref);
    if (got == (float)ref) return 0;
    double sp = isinf(r) ? ldexp(1.0, 104) : (double)nextafterf(r, INFINITY) - r;
    return fabs((double)got - ref) / fmax(sp, 1.4e-45);
}

/* exp, tanh, sigmoid and GELU (erf) over a dense sweep of magnitudes,
 * against double libm, plus the special values. */
TEST(math_functions_are_accurate_over_dense_sweeps) {
    enum { NS = 40000, NX = 2 * NS + 5 };
    static const enum ir_op ops[] = {IR_OP_EXP, IR_OP_TANH, IR_OP_SIGMOID, IR_OP_GELU};
    static const double maxulp[] = {1.5, 2.0, 3.0, 1.0};
    Tg t;
    tg_init(&t);
    char spec[32];
    snprintf(spec, sizeof spec, "x=%d", NX);
    int x = leaf(&t, IR_OP_CONST, spec, 1, 0);
    float *d = t.g->nodes[x].cdata;
    for (int i = 0; i < NS; i++) { /* 1e-7 .. 120, both signs */
        d[2 * i] = (float)(1e-7 * pow(1.2e9, (double)i / (NS - 1)));
        d[2 * i + 1] = -d[2 * i];
    }
    float sp[5] = {0.0f, INFINITY, -INFINITY, NAN, -0.0f};
    memcpy(d + 2 * NS, sp, sizeof sp);
    int y[4];
    for (int o = 0; o < 4; o++) {
        y[o] = node(&t, ops[o], x, -1, spec);
        char name[8];
        snprintf(name, sizeof name, "y%d", o);
        ir_output_add(t.g, name, y[o]);
    }
    Run r;
    if (compile(&t, &r)) FAIL_AT("compile");
    jit_forward(r.jm)(r.bufs);
    int bad = 0;
    for (int o = 0; o < 4; o++) {
        char name[8];
        snprintf(name, sizeof name, "y%d", o);
        const float *got = result(&r, name);
        double worst = 0;
        int wi = 0;
        for (int i = 0; i < 2 * NS; i++) {
            double v = d[i], ref, e;
            if (ops[o] == IR_OP_GELU) {
                ref = gelu_ref(v); /* 1 + erf cancels for x < 0: allow |x| ulp(1) */
                e = ulps(got[i], ref);
                double slack = fabs(v) * ldexp(1.0, -23) / fmax((double)nextafterf((float)fabs(ref), INFINITY) - (float)fabs(ref), 1.4e-45);
                e = fmax(0.0, e - slack);
            } else {
                ref = unary_ref(ops[o], v);
                e = ulps(got[i], ref);
            }
            if (e > worst) { worst = e; wi = i; }
        }
        if (!(worst <= maxulp[o])) {
            fprintf(stderr, "  %s: %.2f ulp at x = %.9g: %.9g vs %.9g\n", ir_op_info[ops[o]].name, worst, d[wi],
                    got[wi], ops[o] == IR_OP_GELU ? gelu_ref(d[wi]) : unary_ref(ops[o], d[wi]));
            bad = 1;
        }
        const float *s = got + 2 * NS;
        if (ops[o] == IR_OP_EXP && !(s[0] == 1 && s[1] == INFINITY && s[2] == 0 && isnan(s[3]))) bad = 1;
        if (ops[o] == IR_OP_TANH && !(s[0] == 0 && s[1] == 1 && s[2] == -1 && isnan(s[3]))) bad = 1;
        if (ops[o] == IR_OP_SIGMOID && !(s[0] == 0.5f && s[1] == 1 && s[2] == 0 && isnan(s[3]))) bad = 1;
        if (ops[o] == IR_OP_GELU && !(s[0] == 0 && s[1] == INFINITY && isnan(s[3]))) bad = 1;
        if (bad) fprintf(stderr, "  %s special values: %g %g %g %g\n", ir_op_info[ops[o]].name, s[0], s[1], s[2], s[3]);
    }
    run_free(&r);
    tg_free(&t);
    return bad;
}

static int softmax_case(const char *spec, const char *along, int64_t d0, int64_t d1, int64_t d2, int ax) {
    Tg t;
    tg_init(&t);
    int x = leaf(&t, IR_OP_CONST, spec, 8, 3);
    int c = node(&t, IR_OP_SOFTMAX, x, -1, spec);
    set_ax(&t, c, along, NULL);
    mark_out(&t, c);
    int64_t dim[3] = {d0, d1, d2}, cnt = d0 * d1 * d2;
    int64_t st[3] = {d1 * d2, d2, 1};
    double *ref = malloc((size_t)cnt * sizeof *ref);
    const float *v = val(&t, x);
    for (int64_t i = 0; i < cnt; i++) {
        int64_t pos = i / st[ax] % dim[ax], base = i - pos * st[ax];
        double m = -INFINITY, s = 0;
        for (int64_t j = 0; j < dim[ax]; j++) m = fmax(m, v[base + j * st[ax]]);
        for (int64_t j = 0; j < dim[ax]; j++) s += exp(v[base + j * st[ax]] - m);
        ref[i] = exp(v[i] - m) / s;
    }
    int rc = run_check(&t, ref, cnt, TOL);
    free(ref);
    tg_free(&t);
    return rc;
}

TEST(softmax_along_a_middle_axis) { return softmax_case("a=3,b=37,c=5", "b", 3, 37, 5, 1); }
TEST(softmax_along_the_last_axis) { return softmax_case("a=2,b=3,c=197", "c", 2, 3, 197, 2); }

/* x[outer, len, inner] normalised along len */
static int norm_case(enum ir_op op, int nparams, int64_t outer, int64_t len, int64_t inner, float shift) {
    Tg t;
    tg_init(&t);
    char spec[128];
    snprintf(spec, sizeof spec, "o=%lld,ch=%lld,i=%lld", (long long)outer, (long long)len, (long long)inner);
    char pspec[64];
    snprintf(pspec, sizeof pspec, "ch=%lld", (long long)len);
    int x = leaf(&t, IR_OP_INPUT, spec, 2, shift);
    int g = nparams > 0 ? leaf(&t, IR_OP_PARAM, pspec, 1, 1) : -1;
    int b = nparams > 1 ? leaf(&t, IR_OP_PARAM, pspec, 1, 0) : -1;
    int c = node(&t, op, x, g, spec);
    if (b >= 0) {
        t.g->nodes[c].src[2] = b;
        t.g->nodes[c].nsrc = 3;
    }
    set_ax(&t, c, "ch", NULL);
    t.g->nodes[c].f[0] = 1e-6f;
    mark_out(&t, c);
    int64_t cnt = outer * len * inner;
    double *ref = malloc((size_t)cnt * sizeof *ref);
    const float *v = val(&t, x);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            double mean = 0, var = 0;
            for (int64_t l = 0; l < len; l++) mean += v[(o * len + l) * inner + i];
            mean /= (double)len;
            if (op == IR_OP_RMSNORM) mean = 0;
            for (int64_t l = 0; l < len; l++) {
                double d = v[(o * len + l) * inner + i] - mean;
                var += d * d;
            }
            var /= (double)len;
            for (int64_t l = 0; l < len; l++) {
                int64_t k = (o * len + l) * inner + i;
                double y = (v[k] - mean) / sqrt(var + (double)1e-6f);
                if (g >= 0) y *= val(&t, g)[l];
                if (b >= 0) y += val(&t, b)[l];
                ref[k] = y;
            }
        }
    int rc = run_check(&t, ref, cnt, TOL);
    free(ref);
    tg_free(&t);
    return rc;
}

TEST(layernorm_with_gamma_beta_and_a_large_mean) { return norm_case(IR_OP_LAYERNORM, 2, 5, 768, 1, 100.0f); }
TEST(layernorm_along_a_middle_axis_no_affine) { return norm_case(IR_OP_LAYERNORM, 0, 2, 33, 7, 0.0f); }
TEST(rmsnorm_with_gamma) { return norm_case(IR_OP_RMSNORM, 1, 4, 65, 1, 0.5f); }

static int reduce_case(enum ir_op op) {
    Tg t;
    tg_init(&t);
    int x = leaf(&t, IR_OP_CONST, "a=3,b=4,c=5", 1, 0.5f);
    int s = node(&t, op, x, -1, "b=4"); /* over c and a, listed out of order */
    t.g->nodes[s].nax = 2;
    t.g->nodes[s].ax[0] = ir_strdup(t.g, "c");
    t.g->nodes[s].ax[1] = ir_strdup(t.g, "a");
    int m = node(&t, op, x, -1, "a=3,c=5");
    set_ax(&t, m, "b", NULL);
    int r1 = node(&t, IR_OP_RESHAPE, m, -1, "f=15");
    int r2 = node(&t, IR_OP_RESHAPE, s, -1, "f=4");
    int out = node(&t, IR_OP_CONCAT, r1, r2, "f=19");
    set_ax(&t, out, "f", NULL);
    mark_out(&t, out);
    const float *v = val(&t, x);
    double ref[19];
    for (int a = 0; a < 3; a++)
        for (int c = 0; c < 5; c++) {
            double acc = 0;
            for (int b = 0; b < 4; b++) acc += v[(a * 4 + b) * 5 + c];
            ref[a * 5 + c] = op == IR_OP_MEAN ? acc / 4 : acc;
        }
    for (int b = 0; b < 4; b++) {
        double acc = 0;
        for (int a = 0; a < 3; a++)
            for (int c = 0; c < 5; c++) acc += v[(a * 4 + b) * 5 + c];
        ref[15 + b] = op == IR_OP_MEAN ? acc / 15 : acc;
    }
    int rc = run_check(&t, ref, 19, TOL);
    tg_free(&t);
    return rc;
}

TEST(sum_over_two_axes_and_one_axis) { return reduce_case(IR_OP_SUM); }
TEST(mean_over_two_axes_and_one_axis) { return reduce_case(IR_OP_MEAN); }

TEST(permute_three_axes) {
    Tg t;
    tg_init(&t);
    int x = leaf(&t, IR_OP_CONST, "a=3,b=4,c=5", 1, 0);
    int p = node(&t, IR_OP_PERMUTE, x, -1, "c=5,a=3,b=4");
    mark_out(&t, p);
    double ref[60];
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 5; c++) ref[(c * 3 + a) * 4 + b] = val(&t, x)[(a * 4 + b) * 5 + c];
    int rc = run_check(&t, ref, 60, 0);
    tg_free(&t);
    return rc;
}

TEST(reshape_keeps_row_major_data) {
    Tg t;
    tg_init(&t);
    int x = leaf(&t, IR_OP_CONST, "a=6,b=10", 1, 0);
    int p = node(&t, IR_OP_RESHAPE, x, -1, "h=2,w=3,c=10");
    mark_out(&t, p);
    double ref[60];
    for (int i = 0; i < 60; i++) ref[i] = val(&t, x)[i];
    int rc = run_check(&t, ref, 60, 0);
    tg_free(&t);
    return rc;
}

TEST(select_a_middle_axis) {
    Tg t;
    tg_init(&t);
    int x = leaf(&t, IR_OP_CONST, "a=3,tok=7,c=5", 1, 0);
    int s = node(&t, IR_OP_SELECT, x, -1, "a=3,c=5");
    set_ax(&t, s, "tok", NULL);
    t.g->nodes[s].i[0] = 4;
    mark_out(&t, s);
    double ref[15];
    for (int a = 0; a < 3; a++)
        for (int c = 0; c < 5; c++) ref[a * 5 + c] = val(&t, x)[(a * 7 + 4) * 5 + c];
    int rc = run_check(&t, ref, 15, 0);
    tg_free(&t);
    return rc;
}

TEST(slice_the_first_axis_and_a_middle_axis) {
    Tg t;
    tg_init(&t);
    int x = leaf(&t, IR_OP_CONST, "a=6,b=7,c=5", 1, 0);
    int s = node(&t, IR_OP_SLICE, x, -1, "a=6,b=3,c=5");
    set_ax(&t, s, "b", NULL);
    t.g->nodes[s].i[0] = 2;
    int s2 = node(&t, IR_OP_SLICE, s, -1, "a=2,b=3,c=5");
    set_ax(&t, s2, "a", NULL);
    t.g->nodes[s2].i[0] = 3;
    mark_out(&t, s2);
    double ref[30];
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 5; c++) ref[(a * 3 + b) * 5 + c] = val(&t, x)[((a + 3) * 7 + b + 2) * 5 + c];
    int rc = run_check(&t, ref, 30, 0);
    tg_free(&t);
    return rc;
}

TEST(concat_along_a_middle_axis) {
    Tg t;
    tg_init(&t);
    int a = leaf(&t, IR_OP_CONST, "x=3,tok=1,c=8", 1, 0);
    int b = leaf(&t, IR_OP_CONST, "x=3,tok=4,c=8", 1, 0);
    int s = node(&t, IR_OP_CONCAT, a, b, "x=3,tok=5,c=8");
    set_ax(&t, s, "tok", NULL);
    mark_out(&t, s);
    double ref[120];
    for (int x = 0; x < 3; x++)
        for (int k = 0; k < 5; k++)
            for (int c = 0; c < 8; c++)
                ref[(x * 5 + k) * 8 + c] = k == 0 ? val(&t, a)[x * 8 + c] : val(&t, b)[(x * 4 + k - 1) * 8 + c];
    int rc = run_check(&t, ref, 120, 0);
    tg_free(&t);
    return rc;
}

TEST(resample_calls_the_runtime_kernel) {
    Tg t;
    tg_init(&t);
    int x = leaf(&t, IR_OP_CONST, "tok=1,gh=4,gw=5,ch=3", 1, 0);
    int r = node(&t, IR_OP_RESAMPLE, x, -1, "tok=1,gh=7,gw=3,ch=3");
    set_ax(&t, r, "gh", "gw");
    t.g->nodes[r].i[0] = 1;
    mark_out(&t, r);
    float want[63];
    vitrt_resample(val(&t, x), want, 1, 4, 5, 7, 3, 3, 1);
    double ref[63];
    for (int i = 0; i < 63; i++) ref[i] = want[i];
    int rc = run_check(&t, ref, 63, 0);
    tg_free(&t);
    return rc;
}

/* A pre-norm attention block: the ops chained as a model uses them. */
typedef struct {
    Tg t;
    int x, g, b, w, bias, pw, out; /* leaves and the output node */
} Block;

static void block_build(Block *bk) {
    Tg *t = &bk->t;
    tg_init(t);
    int C = 16, H = 2, D = 8;
    char s[128];
    bk->x = leaf(t, IR_OP_INPUT, "tok=9,ch=16", 1, 0);
    int g = bk->g = leaf(t, IR_OP_PARAM, "ch=16", 0.1f, 1);
    int b = bk->b = leaf(t, IR_OP_PARAM, "ch=16", 0.1f, 0);
    int ln = node(t, IR_OP_LAYERNORM, bk->x, g, "tok=9,ch=16");
    t->g->nodes[ln].src[2] = b;
    t->g->nodes[ln].nsrc = 3;
    set_ax(t, ln, "ch", NULL);
    t->g->nodes[ln].f[0] = 1e-6f;
    snprintf(s, sizeof s, "part=3,head=%d,hd=%d,ch=%d", H, D, C);
    int w = bk->w = leaf(t, IR_OP_PARAM, s, 0.3f, 0);
    int qkv = node(t, IR_OP_CONTRACT, ln, w, "tok=9,part=3,head=2,hd=8");
    set_ax(t, qkv, "ch", NULL);
    int bias = bk->bias = leaf(t, IR_OP_PARAM, "part=3,head=2,hd=8", 0.1f, 0);
    int qkvb = node(t, IR_OP_ADD, qkv, bias, "tok=9,part=3,head=2,hd=8");
    int q = node(t, IR_OP_SELECT, qkvb, -1, "tok=9,head=2,hd=8");
    set_ax(t, q, "part", NULL);
    int k0 = node(t, IR_OP_SELECT, qkvb, -1, "tok=9,head=2,hd=8");
    set_ax(t, k0, "part", NULL);
    t->g->nodes[k0].i[0] = 1;
    int v0 = node(t, IR_OP_SELECT, qkvb, -1, "tok=9,head=2,hd=8");
    set_ax(t, v0, "part", NULL);
    t->g->nodes[v0].i[0] = 2;
    int k = node(t, IR_OP_RESHAPE, k0, -1, "key=9,head=2,hd=8");
    int v = node(t, IR_OP_RESHAPE, v0, -1, "key=9,head=2,hd=8");
    int sc = node(t, IR_OP_CONTRACT, q, k, "tok=9,head=2,key=9");
    set_ax(t, sc, "hd", NULL);
    int scs = node(t, IR_OP_SCALE, sc, -1, "tok=9,head=2,key=9");
    t->g->nodes[scs].f[0] = 1.0f / sqrtf((float)D);
    int sm = node(t, IR_OP_SOFTMAX, scs, -1, "tok=9,head=2,key=9");
    set_ax(t, sm, "key", NULL);
    int o = node(t, IR_OP_CONTRACT, sm, v, "tok=9,head=2,hd=8");
    set_ax(t, o, "key", NULL);
    int pw = bk->pw = leaf(t, IR_OP_PARAM, "ch=16,head=2,hd=8", 0.3f, 0);
    int pr = node(t, IR_OP_CONTRACT, o, pw, "tok=9,ch=16");
    t->g->nodes[pr].nax = 2;
    t->g->nodes[pr].ax[0] = ir_strdup(t->g, "head");
    t->g->nodes[pr].ax[1] = ir_strdup(t->g, "hd");
    int res = node(t, IR_OP_ADD, bk->x, pr, "tok=9,ch=16");
    int ge = node(t, IR_OP_GELU, res, -1, "tok=9,ch=16");
    bk->out = node(t, IR_OP_MEAN, ge, -1, "ch=16");
    set_ax(t, bk->out, "tok", NULL);
    mark_out(t, bk->out);
}

/* Reference of block_build in double, straight from the definitions. */
static void block_ref(Block *bk, double *out) {
    Tg *t = &bk->t;
    const float *x = t->data[bk->x], *g = t->data[bk->g], *b = t->data[bk->b], *w = t->data[bk->w];
    const float *bias = t->data[bk->bias], *pw = t->data[bk->pw];
    double ln[9][16], qkv[9][3][2][8], att[2][9][9], o[9][2][8], y[9][16];
    for (int i = 0; i < 9; i++) {
        double m = 0, v = 0;
        for (int c = 0; c < 16; c++) m += x[i * 16 + c];
        m /= 16;
        for (int c = 0; c < 16; c++) v += (x[i * 16 + c] - m) * (x[i * 16 + c] - m);
        v /= 16;
        for (int c = 0; c < 16; c++) ln[i][c] = (x[i * 16 + c] - m) / sqrt(v + (double)1e-6f) * g[c] + b[c];
    }
    for (int i = 0; i < 9; i++)
        for (int p = 0; p < 3; p++)
            for (int h = 0; h < 2; h++)
                for (int d = 0; d < 8; d++) {
                    double s = bias[(p * 2 + h) * 8 + d];
                    for (int c = 0; c < 16; c++) s += ln[i][c] * w[((p * 2 + h) * 8 + d) * 16 + c];
                    qkv[i][p][h][d] = s;
                }
    for (int h = 0; h < 2; h++)
        for (int i = 0; i < 9; i++) {
            double m = -INFINITY, z = 0;
            for (int j = 0; j < 9; j++) {
                double s = 0;
                for (int d = 0; d < 8; d++) s += qkv[i][0][h][d] * qkv[j][1][h][d];
                att[h][i][j] = s / sqrt(8.0);
                m = fmax(m, att[h][i][j]);
            }
            for (int j = 0; j < 9; j++) z += exp(att[h][i][j] - m);
            for (int j = 0; j < 9; j++) att[h][i][j] = exp(att[h][i][j] - m) / z;
        }
    for (int i = 0; i < 9; i++)
        for (int h = 0; h < 2; h++)
            for (int d = 0; d < 8; d++) {
                double s = 0;
                for (int j = 0; j < 9; j++) s += att[h][i][j] * qkv[j][2][h][d];
                o[i][h][d] = s;
            }
    for (int i = 0; i < 9; i++)
        for (int c = 0; c < 16; c++) {
            double s = x[i * 16 + c];
            for (int h = 0; h < 2; h++)
                for (int d = 0; d < 8; d++) s += o[i][h][d] * pw[(c * 2 + h) * 8 + d];
            y[i][c] = gelu_ref(s);
        }
    for (int c = 0; c < 16; c++) {
        double s = 0;
        for (int i = 0; i < 9; i++) s += y[i][c];
        out[c] = s / 9;
    }
}

TEST(attention_block_end_to_end) {
    Block bk;
    block_build(&bk);
    double ref[16];
    block_ref(&bk, ref);
    int rc = run_check(&bk.t, ref, 16, TOL);
    tg_free(&bk.t);
    return rc;
}

typedef struct {
    void (*fwd)(float **);
    float **bufs;
    int iters;
} Worker;

static void *worker(void *p) {
    Worker *w = p;
    for (int i = 0; i < w->iters; i++) w->fwd(w->bufs);
    return NULL;
}

TEST(forward_runs_on_two_threads_at_once) {
    Block bk;
    block_build(&bk);
    double ref[16];
    block_ref(&bk, ref);
    Run r;
    if (compile(&bk.t, &r)) FAIL_AT("compile");
    /* a second set of activation buffers sharing the leaves */
    float **bufs2 = calloc((size_t)r.lg->n, sizeof *bufs2);
    for (int i = 0; i < r.lg->n; i++) {
        enum ir_op op = r.lg->nodes[i].op;
        if (op == IR_OP_CONST || op == IR_OP_INPUT || op == IR_OP_PARAM) bufs2[i] = r.bufs[i];
        else bufs2[i] = calloc((size_t)ir_numel(&r.lg->nodes[i].shape), sizeof(float));
    }
    Worker w1 = {jit_forward(r.jm), r.bufs, 200}, w2 = {jit_forward(r.jm), bufs2, 200};
    pthread_t th;
    pthread_create(&th, NULL, worker, &w2);
    worker(&w1);
    pthread_join(th, NULL);
    int o = ir_output_find(r.lg, "out");
    float reff[16];
    for (int i = 0; i < 16; i++) reff[i] = (float)ref[i];
    double e1 = check_max_rel(r.bufs[o], reff, 16), e2 = check_max_rel(bufs2[o], reff, 16);
    for (int i = 0; i < r.lg->n; i++)
        if (bufs2[i] != r.bufs[i]) free(bufs2[i]);
    free(bufs2);
    run_free(&r);
    tg_free(&bk.t);
    ASSERT(e1 <= TOL);
    ASSERT(e2 <= TOL);
    return 0;
}

typedef struct {
    Block bk;
    double ref[16];
    int ok;
} Loader;

static void *load_and_run(void *p) {
    Loader *l = p;
    Run r;
    l->ok = 0;
    if (compile(&l->bk.t, &r)) return NULL;
    jit_forward(r.jm)(r.bufs);
    float reff[16];
    for (int i = 0; i < 16; i++) reff[i] = (float)l->ref[i];
    l->ok = check_max_rel(result(&r, "out"), reff, 16) <= TOL;
    run_free(&r);
    return NULL;
}

TEST(jit_load_runs_on_two_threads_at_once) {
    Loader l[2];
    for (int k = 0; k < 2; k++) {
        block_build(&l[k].bk);
        block_ref(&l[k].bk, l[k].ref);
    }
    pthread_t th;
    pthread_create(&th, NULL, load_and_run, &l[1]);
    load_and_run(&l[0]);
    pthread_join(th, NULL);
    for (int k = 0; k < 2; k++) tg_free(&l[k].bk.t);
    ASSERT(l[0].ok);
    ASSERT(l[1].ok);
    return 0;
}

TEST(emit_text_names_the_entry_point) {
    Block bk;
    block_build(&bk);
    char err[256];
    IrGraph *lg = lower_contractions(bk.t.g, err, sizeof err);
    ASSERT(lg);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    int rc = codegen_emit_text(lg, f, err, sizeof err);
    fclose(f);
    ir_graph_free(lg);
    tg_free(&bk.t);
    ASSERT_EQ(rc, 0);
    ASSERT_CONTAINS(text, "define void @vit_forward(ptr");
    ASSERT_CONTAINS(text, "call void @vitrt_gemm(");
    free(text);
    return 0;
}

TEST(identical_nodes_share_one_function) {
    Tg t;
    tg_init(&t);
    int x = leaf(&t, IR_OP_CONST, "tok=4,ch=8", 1, 0);
    int g1 = node(&t, IR_OP_GELU, x, -1, "tok=4,ch=8");
    int g2 = node(&t, IR_OP_GELU, g1, -1, "tok=4,ch=8");
    int g3 = node(&t, IR_OP_GELU, g2, -1, "tok=4,ch=8");
    int s = node(&t, IR_OP_SCALE, g3, -1, "tok=4,ch=8");
    t.g->nodes[s].f[0] = 2.0f;
    int s2 = node(&t, IR_OP_SCALE, s, -1, "tok=4,ch=8");
    t.g->nodes[s2].f[0] = 3.0f; /* another constant: another function */
    mark_out(&t, s2);
    char err[256];
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    int rc = codegen_emit_text(t.g, f, err, sizeof err);
    fclose(f);
    ASSERT_EQ(rc, 0);
    int ngelu = 0, nscale = 0;
    for (const char *p = text; (p = strstr(p, "define internal void @n")); p++) {
        ngelu += !strncmp(strchr(p, '_'), "_gelu(", 6);
        nscale += !strncmp(strchr(p, '_'), "_scale(", 7);
    }
    free(text);
    ASSERT_EQ(ngelu, 1);
    ASSERT_EQ(nscale, 2);
    double ref[32];
    for (int i = 0; i < 32; i++) ref[i] = gelu_ref(gelu_ref(gelu_ref(val(&t, x)[i]))) * 6.0;
    rc = run_check(&t, ref, 32, TOL);
    tg_free(&t);
    return rc;
}

TEST(jit_load_rejects_garbage) {
    char err[256] = "";
    JitModule *m = (JitModule *)1;
    static const char junk[] = "BC\xc0\xde not really bitcode";
    ASSERT_EQ(jit_load(junk, sizeof junk, &m, err, sizeof err), -1);
    ASSERT(m == NULL);
    ASSERT_CONTAINS(err, "bitcode");
    return 0;
}

TESTS {
    T(contract_attention_scores_batch_axis_in_the_middle),
    T(contract_attention_values),
    T(contract_linear_weight_out_by_in),
    T(contract_weight_first_operand_in_to_out),
    T(contract_over_two_axes_in_different_orders),
    T(contract_summed_axis_only_in_a),
    T(lowering_inserts_permutes_and_keeps_locations),
    T(codegen_rejects_a_non_canonical_contraction),
    T(lowering_rejects_a_sum_over_a_missing_axis),
    T(add_broadcast_with_reordered_axes),
    T(sub_broadcast_with_reordered_axes),
    T(mul_broadcast_with_reordered_axes),
    T(div_broadcast_with_reordered_axes),
    T(add_both_operands_broadcast),
    T(unary_ops_match_their_definitions),
    T(math_functions_are_accurate_over_dense_sweeps),
    T(softmax_along_a_middle_axis),
    T(softmax_along_the_last_axis),
    T(layernorm_with_gamma_beta_and_a_large_mean),
    T(layernorm_along_a_middle_axis_no_affine),
    T(rmsnorm_with_gamma),
    T(sum_over_two_axes_and_one_axis),
    T(mean_over_two_axes_and_one_axis),
    T(permute_three_axes),
    T(reshape_keeps_row_major_data),
    T(select_a_middle_axis),
    T(slice_the_first_axis_and_a_middle_axis),
    T(concat_along_a_middle_axis),
    T(resample_calls_the_runtime_kernel),
    T(attention_block_end_to_end),
    T(forward_runs_on_two_threads_at_once),
    T(jit_load_runs_on_two_threads_at_once),
    T(emit_text_names_the_entry_point),
    T(identical_nodes_share_one_function),
    T(jit_load_rejects_garbage),
};

int main(int argc, char **argv) { return check_main(argc, argv); }
