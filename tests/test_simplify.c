/* tests/test_simplify.c — the simplification pass (compiler/simplify.c).
 * Each pushdown rule has a hand-built graph run on the interpreter before and
 * after (every output equal within 1e-6 relative) with node checks showing
 * where the SELECT / SLICE ended up; then sharing, dead-node elimination and
 * metadata; then the decomposition with --split head,token: far fewer floats,
 * the same contributions. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "codegen.h"
#include "interp.h"
#include "pipeline.h"
#include "simplify.h"
#include "st.h"
#include "vitc.h"

/* ---- building graphs ------------------------------------------------------ */

/* "a=2,b=3" -> [a=2, b=3]; "" -> rank 0.  Names live in the graph. */
static IrShape shp(IrGraph *g, const char *spec) {
    IrShape s = {0};
    const char *p = spec;
    while (*p && s.rank < IR_MAX_RANK) {
        char name[32];
        long long size = 0;
        int used = 0;
        if (sscanf(p, " %31[^=]=%lld%n", name, &size, &used) != 2) break;
        s.ax[s.rank].name = ir_strdup(g, name);
        s.ax[s.rank++].size = size;
        p += used;
        if (*p == ',') p++;
    }
    return s;
}

/* A node; axes is a comma-separated list of axis attributes ("" for none). */
static int node(IrGraph *g, enum ir_op op, const char *shape, const char *axes, int nsrc, int s0, int s1, int s2) {
    IrNode n = {.op = op, .nsrc = nsrc, .src = {s0, s1, s2}, .loc = {.file = -1}};
    n.shape = shp(g, shape);
    for (const char *p = axes; *p && n.nax < IR_MAX_RANK;) {
        char name[32];
        int used = 0;
        if (sscanf(p, " %31[^,]%n", name, &used) != 1) break;
        n.ax[n.nax++] = ir_strdup(g, name);
        p += used;
        if (*p == ',') p++;
    }
    return ir_node_add(g, &n);
}

static uint32_t rng = 12345u;
static float frand(void) { /* uniform in [-1, 1) */
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) * (1.0 / 8388608.0) - 1.0);
}

static int input(IrGraph *g, const char *shape) { return node(g, IR_OP_INPUT, shape, "", 0, 0, 0, 0); }

static int param(IrGraph *g, const char *key, const char *shape) {
    int k = node(g, IR_OP_PARAM, shape, "", 0, 0, 0, 0);
    g->nodes[k].key = ir_strdup(g, key);
    g->nodes[k].stored = g->nodes[k].shape;
    return k;
}

static int cnst(IrGraph *g, const char *shape) {
    int k = node(g, IR_OP_CONST, shape, "", 0, 0, 0, 0);
    int64_t n = ir_numel(&g->nodes[k].shape);
    g->nodes[k].cdata = ir_alloc(g, (size_t)(n ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) g->nodes[k].cdata[i] = frand();
    return k;
}

static int op1(IrGraph *g, enum ir_op op, int x, const char *shape) { return node(g, op, shape, "", 1, x, 0, 0); }
static int op2(IrGraph *g, enum ir_op op, int a, int b, const char *shape) { return node(g, op, shape, "", 2, a, b, 0); }

static int sel(IrGraph *g, int x, const char *ax, int64_t i, const char *shape) {
    int k = node(g, IR_OP_SELECT, shape, ax, 1, x, 0, 0);
    g->nodes[k].i[0] = i;
    return k;
}

static int slc(IrGraph *g, int x, const char *ax, int64_t i, const char *shape) {
    int k = node(g, IR_OP_SLICE, shape, ax, 1, x, 0, 0);
    g->nodes[k].i[0] = i;
    return k;
}

static int scale(IrGraph *g, int x, float f0, float f1, const char *shape) {
    int k = op1(g, IR_OP_SCALE, x, shape);
    g->nodes[k].f[0] = f0;
    g->nodes[k].f[1] = f1;
    return k;
}

/* ---- running --------------------------------------------------------------- */

static uint32_t key_seed(const char *s) {
    uint32_t h = 2166136261u;
    for (; s && *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Buffers for every node of g; leaves filled: INPUT from `in` (or a fixed
 * random stream), PARAM from `w` by key (or a stream seeded by the key), CONST
 * from its data.  NULL after printing the reason. */
static float **run(const IrGraph *g, const float *in, const StFile *w) {
    float **b = calloc((size_t)g->n + 1, sizeof *b);
    char err[1024];
    for (int i = 0; i < g->n; i++) {
        const IrNode *n = &g->nodes[i];
        int64_t ne = ir_numel(&n->shape);
        b[i] = malloc((size_t)(ne ? ne : 1) * sizeof(float));
        if (n->op == IR_OP_INPUT) {
            rng = 777u;
            for (int64_t k = 0; k < ne; k++) b[i][k] = in ? in[k] : frand();
        } else if (n->op == IR_OP_PARAM && w) {
            int64_t k = st_find(w, n->key);
            if (k < 0 || st_numel(&w->t[k]) != ne || st_read_f32(w, k, b[i], err, sizeof err)) {
                fprintf(stderr, "  weights: no '%s' of %lld values\n", n->key, (long long)ne);
                return NULL;
            }
        } else if (n->op == IR_OP_PARAM) {
            rng = key_seed(n->key);
            for (int64_t k = 0; k < ne; k++) b[i][k] = frand();
        } else if (n->op == IR_OP_CONST) {
            memcpy(b[i], n->cdata, (size_t)ne * sizeof(float));
        }
    }
    if (interp_run(g, b, err, sizeof err)) {
        fprintf(stderr, "  interp: %s\n", err);
        return NULL;
    }
    return b;
}

static void bufs_free(const IrGraph *g, float **b) {
    if (!b) return;
    for (int i = 0; i < g->n; i++) free(b[i]);
    free(b);
}

/* Both graphs on the interpreter: every output of g equal (same name, same
 * shape) in s within tol relative; *worst gets the largest difference. */
static int same_outputs(const IrGraph *g, const IrGraph *s, const float *in, const StFile *w, double tol, double *worst) {
    float **bg = run(g, in, w), **bs = run(s, in, w);
    int bad = !bg || !bs || g->nout != s->nout;
    double m = 0;
    for (int k = 0; k < g->nout && !bad; k++) {
        int a = g->outputs[k].node, b = ir_output_find(s, g->outputs[k].name);
        char sa[256], sb[256];
        ir_shape_str(&g->nodes[a].shape, sa, sizeof sa);
        if (b < 0) { fprintf(stderr, "  output %s missing\n", g->outputs[k].name); bad = 1; break; }
        ir_shape_str(&s->nodes[b].shape, sb, sizeof sb);
        if (strcmp(sa, sb)) { fprintf(stderr, "  output %s: %s became %s\n", g->outputs[k].name, sa, sb); bad = 1; break; }
        double r = check_max_rel(bs[b], bg[a], (long)ir_numel(&g->nodes[a].shape));
        if (r > m) m = r;
        if (r > tol) { fprintf(stderr, "  output %s differs by %.3g\n", g->outputs[k].name, r); bad = 1; }
    }
    if (worst) *worst = m;
    bufs_free(g, bg);
    bufs_free(s, bs);
    return bad;
}

static int count(const IrGraph *g, enum ir_op op) {
    int c = 0;
    for (int i = 0; i < g->n; i++) c += g->nodes[i].op == op;
    return c;
}

static const IrNode *out(const IrGraph *g, const char *name) {
    int k = ir_output_find(g, name);
    return k < 0 ? NULL : &g->nodes[k];
}

static const IrNode *src(const IrGraph *g, const IrNode *n, int k) { return &g->nodes[n->src[k]]; }

static bool is_leaf(const IrNode *n) { return ir_op_info[n->op].lin == LIN_LEAF; }

static const char *shape_of(const IrNode *n) {
    static char buf[4][256];
    static int k;
    k = (k + 1) & 3;
    ir_shape_str(&n->shape, buf[k], sizeof buf[k]);
    return buf[k];
}

static double numel_sum(const IrGraph *g) {
    double s = 0;
    for (int i = 0; i < g->n; i++) s += (double)ir_numel(&g->nodes[i].shape);
    return s;
}

/* Simplifies g, checks the outputs on the interpreter; *sp the new graph. */
#define SIMPLIFY(g, sp) do { char _e[512] = ""; (sp) = simplify_graph((g), _e, sizeof _e); \
    if (!(sp)) FAIL_AT("simplify_graph: %s", _e); \
    if (same_outputs((g), (sp), NULL, NULL, 1e-6, NULL)) FAIL_AT("outputs changed"); } while (0)

/* ---- pushdown rules ------------------------------------------------------------- */

TEST(select_moves_through_elementwise_binary_ops) {
    IrGraph *g = ir_graph_new(), *s;
    int x = input(g, "a=3,b=4"), p = param(g, "p", "b=4"), q = param(g, "q", "a=3,b=4");
    int y = op2(g, IR_OP_ADD, x, p, "a=3,b=4");
    int z = op2(g, IR_OP_MUL, y, q, "a=3,b=4");
    int v = op2(g, IR_OP_DIV, z, op1(g, IR_OP_EXP, p, "b=4"), "a=3,b=4");
    int u = op2(g, IR_OP_SUB, v, x, "b=4,a=3");
    ir_output_add(g, "o", sel(g, u, "a", 1, "b=4"));
    SIMPLIFY(g, s);
    /* every computing node is [b]: the selection happens on x and q only */
    for (int i = 0; i < s->n; i++) {
        const IrNode *n = &s->nodes[i];
        if (n->op == IR_OP_SELECT) ASSERT(is_leaf(src(s, n, 0)));
        else if (!is_leaf(n)) ASSERT_STR_EQ(shape_of(n), "[b=4]");
    }
    ASSERT_EQ(count(s, IR_OP_SELECT), 2); /* x once (read twice), q once */
    const IrNode *o = out(s, "o");
    ASSERT_EQ(o->op, IR_OP_SUB);
    ASSERT_EQ(src(s, o, 1)->op, IR_OP_SELECT);
    for (int i = 0; i < s->n; i++) /* p has no axis a: read as is */
        if (s->nodes[i].op == IR_OP_ADD) ASSERT_EQ(src(s, &s->nodes[i], 1)->op, IR_OP_PARAM);
    ir_graph_free(s);
    ir_graph_free(g);
    return 0;
}

TEST(select_moves_through_unary_ops_and_scale) {
    IrGraph *g = ir_graph_new(), *s;
    int x = input(g, "t=5,c=3");
    int y = scale(g, x, 2.0f, 0.5f, "t=5,c=3");
    static const enum ir_op chain[] = {IR_OP_GELU, IR_OP_SIGMOID, IR_OP_RELU, IR_OP_SILU, IR_OP_QUICK_GELU,
                                       IR_OP_GELU_TANH, IR_OP_TANH, IR_OP_EXP, IR_OP_RSQRT};
    for (size_t k = 0; k < sizeof chain / sizeof chain[0]; k++) y = op1(g, chain[k], y, "t=5,c=3");
    ir_output_add(g, "o", sel(g, y, "t", 2, "c=3"));
    SIMPLIFY(g, s);
    ASSERT_EQ(s->n, 1 + 1 + 1 + 9); /* input, select, scale, chain */
    ASSERT_EQ(count(s, IR_OP_SELECT), 1);
    for (int i = 0; i < s->n; i++)
        if (s->nodes[i].op != IR_OP_INPUT) ASSERT_STR_EQ(shape_of(&s->nodes[i]), "[c=3]");
    ir_graph_free(s);
    ir_graph_free(g);
    return 0;
}

TEST(select_and_slice_move_through_permute) {
    IrGraph *g = ir_graph_new(), *s;
    int x = input(g, "a=2,b=3,c=4");
    int pm = op1(g, IR_OP_PERMUTE, x, "c=4,a=2,b=3");
    ir_output_add(g, "sel", sel(g, pm, "a", 1, "c=4,b=3"));
    ir_output_add(g, "slice", slc(g, pm, "b", 1, "c=4,a=2,b=2"));
    int pr = op1(g, IR_OP_PERMUTE, x, "b=3,c=4,a=2");
    ir_output_add(g, "plain", sel(g, pr, "a", 0, "b=3,c=4")); /* no permutation left */
    SIMPLIFY(g, s);
    const IrNode *o = out(s, "sel");
    ASSERT_EQ(o->op, IR_OP_PERMUTE);
    ASSERT_EQ(src(s, o, 0)->op, IR_OP_SELECT);
    ASSERT_STR_EQ(shape_of(src(s, o, 0)), "[b=3, c=4]");
    o = out(s, "slice");
    ASSERT_EQ(o->op, IR_OP_PERMUTE);
    ASSERT_EQ(src(s, o, 0)->op, IR_OP_SLICE);
    ASSERT_STR_EQ(shape_of(src(s, o, 0)), "[a=2, b=2, c=4]");
    o = out(s, "plain");
    ASSERT_EQ(o->op, IR_OP_SELECT);
    ASSERT_EQ(src(s, o, 0)->op, IR_OP_INPUT);
    ir_graph_free(s);
    ir_graph_free(g);
    return 0;
}

TEST(select_moves_through_reshape_only_where_the_axis_is_kept) {
    IrGraph *g = ir_graph_new(), *s;
    int x = input(g, "t=4,h=2,d=3");
    int r = op1(g, IR_OP_RESHAPE, x, "t=4,c=6");
    ir_output_add(g, "kept", sel(g, r, "t", 2, "c=6"));
    ir_output_add(g, "slice", slc(g, r, "t", 1, "t=2,c=6"));
    int m = op1(g, IR_OP_RESHAPE, x, "th=8,d=3"); /* outer axes merged, d kept */
    ir_output_add(g, "inner", sel(g, m, "d", 1, "th=8"));
    int q = op1(g, IR_OP_EXP, input(g, "a=3,b=3"), "a=3,b=3");
    int sw = op1(g, IR_OP_RESHAPE, q, "b=3,a=3"); /* names swapped: position decides */
    ir_output_add(g, "swapped", sel(g, sw, "a", 1, "b=3"));
    int f = op1(g, IR_OP_RESHAPE, q, "e=9");
    int f2 = op1(g, IR_OP_RESHAPE, f, "u=1,e=9");
    ir_output_add(g, "unit", sel(g, f2, "u", 0, "e=9")); /* a size-1 axis: a reshape itself */
    int split = op1(g, IR_OP_RESHAPE, op1(g, IR_OP_EXP, input(g, "k=6"), "k=6"), "b=2,c=3");
    ir_output_add(g, "split", sel(g, split, "c", 1, "b=2")); /* c is not an axis of the source */
    SIMPLIFY(g, s);
    const IrNode *o = out(s, "kept");
    ASSERT_EQ(o->op, IR_OP_RESHAPE);
    ASSERT_EQ(src(s, o, 0)->op, IR_OP_SELECT);
    ASSERT_STR_EQ(shape_of(src(s, o, 0)), "[h=2, d=3]");
    o = out(s, "slice");
    ASSERT_EQ(o->op, IR_OP_RESHAPE);
    ASSERT_EQ(src(s, o, 0)->op, IR_OP_SLICE);
    ASSERT_STR_EQ(shape_of(src(s, o, 0)), "[t=2, h=2, d=3]");
    o = out(s, "inner");
    ASSERT_EQ(o->op, IR_OP_RESHAPE);
    ASSERT_STR_EQ(src(s, o, 0)->ax[0], "d");
    o = out(s, "swapped"); /* RESHAPE(EXP(SELECT b of the input)) */
    ASSERT_EQ(o->op, IR_OP_RESHAPE);
    ASSERT_EQ(src(s, o, 0)->op, IR_OP_EXP);
    ASSERT_STR_EQ(src(s, src(s, o, 0), 0)->ax[0], "b");
    o = out(s, "unit"); /* the two reshapes collapse into one */
    ASSERT_EQ(o->op, IR_OP_RESHAPE);
    ASSERT_EQ(src(s, o, 0)->op, IR_OP_EXP);
    o = out(s, "split");
    ASSERT_EQ(o->op, IR_OP_SELECT);
    ASSERT_EQ(src(s, o, 0)->op, IR_OP_RESHAPE);
    ir_graph_free(s);
    ir_graph_free(g);
    return 0;
}

TEST(select_moves_into_the_contraction_operands_that_carry_the_axis) {
    IrGraph *g = ir_graph_new(), *s;
    int a = input(g, "t=3,k=4"), w = param(g, "w", "n=5,k=4");
    int c = node(g, IR_OP_CONTRACT, "t=3,n=5", "k", 2, a, w, 0);
    ir_output_add(g, "row", sel(g, c, "t", 1, "n=5"));
    ir_output_add(g, "col", sel(g, c, "n", 2, "t=3"));
    int ba = op1(g, IR_OP_TANH, param(g, "ba", "h=2,t=3,k=4"), "h=2,t=3,k=4");
    int bb = param(g, "bb", "h=2,k=4,n=5");
    int bc = node(g, IR_OP_CONTRACT, "h=2,t=3,n=5", "k", 2, ba, bb, 0);
    ir_output_add(g, "batch", sel(g, bc, "h", 1, "t=3,n=5"));
    int oa = param(g, "oa", "k=4,t=3"), ob = param(g, "ob", "n=5,k=4,m=2");
    int oc = node(g, IR_OP_CONTRACT, "t=3,n=5,m=2", "k", 2, oa, ob, 0);
    ir_output_add(g, "order", sel(g, oc, "n", 1, "t=3,m=2"));
    ir_output_add(g, "orderslice", slc(g, oc, "n", 1, "t=3,n=3,m=2"));
    int outer = node(g, IR_OP_CONTRACT, "t=3,n=5", "", 2, op1(g, IR_OP_EXP, param(g, "u", "t=3"), "t=3"),
                     param(g, "v", "n=5"), 0);
    ir_output_add(g, "outer", sel(g, outer, "t", 2, "n=5"));
    SIMPLIFY(g, s);
    const IrNode *o = out(s, "row");
    ASSERT_EQ(o->op, IR_OP_CONTRACT);
    ASSERT_EQ(src(s, o, 0)->op, IR_OP_SELECT);
    ASSERT_EQ(src(s, o, 1)->op, IR_OP_PARAM);
    o = out(s, "col"); /* a SELECT of a PARAM stays a SELECT node */
    ASSERT_EQ(o->op, IR_OP_CONTRACT);
    ASSERT_EQ(src(s, o, 0)->op, IR_OP_INPUT);
    ASSERT_EQ(src(s, o, 1)->op, IR_OP_SELECT);
    ASSERT_EQ(src(s, src(s, o, 1), 0)->op, IR_OP_PARAM);
    o = out(s, "batch"); /* a batch axis: both sides */
    ASSERT_EQ(o->op, IR_OP_CONTRACT);
    ASSERT_EQ(src(s, o, 0)->op, IR_OP_TANH);
    ASSERT_STR_EQ(shape_of(src(s, o, 0)), "[t=3, k=4]");
    ASSERT_EQ(src(s, o, 1)->op, IR_OP_SELECT);
    o = out(s, "order");
    ASSERT_EQ(o->op, IR_OP_CONTRACT);
    ASSERT_STR_EQ(shape_of(o), "[t=3, m=2]");
    o = out(s, "orderslice");
    ASSERT_EQ(o->op, IR_OP_CONTRACT);
    ASSERT_EQ(src(s, o, 1)->op, IR_OP_SLICE);
    o = out(s, "outer");
    ASSERT_EQ(o->op, IR_OP_CONTRACT);
    ASSERT_STR_EQ(shape_of(src(s, o, 0)), "[]");
    ir_graph_free(s);
    ir_graph_free(g);
    return 0;
}

TEST(a_selected_product_computed_in_full_anyway_is_selected_not_recomputed) {
    IrGraph *g = ir_graph_new(), *s;
    int a = input(g, "t=3,k=4"), w = param(g, "w", "n=5,k=4");
    int c = node(g, IR_OP_CONTRACT, "t=3,n=5", "k", 2, a, w, 0);
    int e = op1(g, IR_OP_EXP, c, "t=3,n=5");
    ir_output_add(g, "full", e);                            /* c is computed in full for this */
    ir_output_add(g, "row", sel(g, op1(g, IR_OP_TANH, c, "t=3,n=5"), "t", 1, "n=5"));
    int c2 = node(g, IR_OP_CONTRACT, "t=3,n=5", "k", 2, a, param(g, "w2", "n=5,k=4"), 0);
    ir_output_add(g, "alone", sel(g, c2, "t", 2, "n=5"));  /* c2 is not: its row alone */
    SIMPLIFY(g, s);
    const IrNode *o = out(s, "row"); /* TANH(SELECT(c)): no second product for one row */
    ASSERT_EQ(o->op, IR_OP_TANH);
    ASSERT_EQ(src(s, o, 0)->op, IR_OP_SELECT);
    ASSERT_EQ(src(s, src(s, o, 0), 0)->op, IR_OP_CONTRACT);
    ASSERT_STR_EQ(shape_of(src(s, src(s, o, 0), 0)), "[t=3, n=5]");
    int products = 0;
    for (int i = 0; i < s->n; i++) products += s->nodes[i].op == IR_OP_CONTRACT;
    ASSERT_EQ(products, 2);
    o = out(s, "alone");
    ASSERT_EQ(o->op, IR_OP_CONTRACT);
    ASSERT_EQ(src(s, o, 0)->op, IR_OP_SELECT);
    ir_graph_free(s);
    ir_graph_free(g);
    return 0;
}

TEST(select_moves_through_norms_along_other_axes_only) {
    IrGraph *g = ir_graph_new(), *s;
    int x = input(g, "t=3,ch=5"), ga = param(g, "g", "ch=5"), be = param(g, "b", "ch=5");
    int ln = node(g, IR_OP_LAYERNORM, "t=3,ch=5", "ch", 3, x, ga, be);
    g->nodes[ln].f[0] = 1e-5f;
    ir_output_add(g, "ln", sel(g, ln, "t", 1, "ch=5"));
    int rms = node(g, IR_OP_RMSNORM, "t=3,ch=5", "ch", 2, x, ga, 0);
    g->nodes[rms].f[0] = 1e-6f;
    ir_output_add(g, "rms", sel(g, rms, "t", 2, "ch=5"));
    int sm = node(g, IR_OP_SOFTMAX, "t=3,ch=5", "ch", 1, x, 0, 0);
    ir_output_add(g, "softmax", sel(g, sm, "t", 0, "ch=5"));
    int along = node(g, IR_OP_SOFTMAX, "t=3,ch=5", "t", 1, x, 0, 0);
    ir_output_add(g, "along", sel(g, along, "t", 0, "ch=5"));
    ir_output_add(g, "lnalong", sel(g, ln, "ch", 0, "t=3"));
    SIMPLIFY(g, s);
    const IrNode *o = out(s, "ln");
    ASSERT_EQ(o->op, IR_OP_LAYERNORM);
    ASSERT_EQ(o->nsrc, 3);
    ASSERT_EQ(src(s, o, 0)->op, IR_OP_SELECT);
    ASSERT_EQ(src(s, o, 1)->op, IR_OP_PARAM); /* gamma, beta unchanged */
    ASSERT_EQ(src(s, o, 2)->op, IR_OP_PARAM);
    ASSERT_NEAR(o->f[0], 1e-5, 1e-12);
    ASSERT_EQ(out(s, "rms")->op, IR_OP_RMSNORM);
    ASSERT_EQ(out(s, "softmax")->op, IR_OP_SOFTMAX);
    o = out(s, "along"); /* along the selected axis: stays */
    ASSERT_EQ(o->op, IR_OP_SELECT);
    ASSERT_EQ(src(s, o, 0)->op, IR_OP_SOFTMAX);
    o = out(s, "lnalong");
    ASSERT_EQ(o->op, IR_OP_SELECT);
    ASSERT_EQ(src(s, o, 0)->op, IR_OP_LAYERNORM);
    ASSERT_STR_EQ(shape_of(src(s, o, 0)), "[t=3, ch=5]");
    ir_graph_free(s);
    ir_graph_free(g);
    return 0;
}

TEST(select_moves_through_sum_and_mean_over_other_axes) {
    IrGraph *g = ir_graph_new(), *s;
    int x = input(g, "a=3,b=4,c=5");
    int sm = node(g, IR_OP_SUM, "a=3,c=5", "b", 1, x, 0, 0);
    ir_output_add(g, "sum", sel(g, sm, "a", 2, "c=5"));
    int mn = node(g, IR_OP_MEAN, "b=4", "a,c", 1, x, 0, 0);
    ir_output_add(g, "mean", sel(g, mn, "b", 1, ""));
    ir_output_add(g, "slice", slc(g, mn, "b", 1, "b=2"));
    SIMPLIFY(g, s);
    const IrNode *o = out(s, "sum");
    ASSERT_EQ(o->op, IR_OP_SUM);
    ASSERT_STR_EQ(shape_of(src(s, o, 0)), "[b=4, c=5]");
    o = out(s, "mean");
    ASSERT_EQ(o->op, IR_OP_MEAN);
    ASSERT_STR_EQ(shape_of(src(s, o, 0)), "[a=3, c=5]");
    o = out(s, "slice");
    ASSERT_EQ(o->op, IR_OP_MEAN);
    ASSERT_STR_EQ(shape_of(src(s, o, 0)), "[a=3, b=2, c=5]");
    ir_graph_free(s);
    ir_graph_free(g);
    return 0;
}

TEST(selections_move_through_each_other_and_compose) {
    IrGraph *g = ir_graph_new(), *s;
    int x = input(g, "a=3,b=4,c=5");
    int y = op1(g, IR_OP_EXP, sel(g, op1(g, IR_OP_TANH, x, "a=3,b=4,c=5"), "b", 2, "a=3,c=5"), "a=3,c=5");
    ir_output_add(g, "two", sel(g, y, "a", 1, "c=5"));
    int z = op1(g, IR_OP_EXP, slc(g, x, "a", 1, "a=2,b=4,c=5"), "a=2,b=4,c=5");
    ir_output_add(g, "composed", sel(g, z, "a", 1, "b=4,c=5"));
    ir_output_add(g, "slices", slc(g, z, "a", 1, "a=1,b=4,c=5"));
    ir_output_add(g, "other", slc(g, z, "c", 2, "a=2,b=4,c=2"));
    SIMPLIFY(g, s);
    const IrNode *o = out(s, "two"); /* EXP(TANH(SELECT(SELECT(x)))) at [c] */
    ASSERT_EQ(o->op, IR_OP_EXP);
    ASSERT_STR_EQ(shape_of(o), "[c=5]");
    ASSERT_EQ(src(s, o, 0)->op, IR_OP_TANH);
    ASSERT_STR_EQ(shape_of(src(s, o, 0)), "[c=5]");
    o = out(s, "composed"); /* SLICE [1, 3) then index 1: index 2 of x */
    ASSERT_EQ(o->op, IR_OP_EXP);
    ASSERT_EQ(src(s, o, 0)->op, IR_OP_SELECT);
    ASSERT_EQ(src(s, o, 0)->i[0], 2);
    ASSERT_EQ(src(s, src(s, o, 0), 0)->op, IR_OP_INPUT);
    o = out(s, "slices");
    ASSERT_EQ(src(s, o, 0)->op, IR_OP_SLICE);
    ASSERT_EQ(src(s, o, 0)->i[0], 2);
    ASSERT_EQ(src(s, src(s, o, 0), 0)->op, IR_OP_INPUT);
    o = out(s, "other");
    ASSERT_EQ(o->op, IR_OP_EXP);
    ASSERT_STR_EQ(shape_of(o), "[a=2, b=4, c=2]");
    ir_graph_free(s);
    ir_graph_free(g);
    return 0;
}

TEST(select_moves_through_concat_unless_the_range_spans_both_inputs) {
    IrGraph *g = ir_graph_new(), *s;
    int x = input(g, "t=2,c=3"), y = param(g, "y", "t=2,c=4");
    int cc = node(g, IR_OP_CONCAT, "t=2,c=7", "c", 2, op1(g, IR_OP_EXP, x, "t=2,c=3"), y, 0);
    ir_output_add(g, "other", sel(g, cc, "t", 1, "c=7"));
    int u = param(g, "cls", "t=1,c=3"), v = input(g, "t=3,c=3");
    int ca = scale(g, node(g, IR_OP_CONCAT, "t=4,c=3", "t", 2, u, v, 0), 3.0f, 0.0f, "t=4,c=3");
    ir_output_add(g, "first", sel(g, ca, "t", 0, "c=3"));
    ir_output_add(g, "second", sel(g, ca, "t", 2, "c=3"));
    ir_output_add(g, "tail", slc(g, ca, "t", 1, "t=3,c=3"));
    ir_output_add(g, "span", slc(g, ca, "t", 0, "t=2,c=3"));
    SIMPLIFY(g, s);
    const IrNode *o = out(s, "other");
    ASSERT_EQ(o->op, IR_OP_CONCAT);
    ASSERT_EQ(src(s, o, 0)->op, IR_OP_EXP);
    ASSERT_STR_EQ(shape_of(src(s, o, 0)), "[c=3]");
    o = out(s, "first");
    ASSERT_EQ(o->op, IR_OP_SCALE);
    ASSERT_EQ(src(s, o, 0)->op, IR_OP_SELECT);
    ASSERT_EQ(src(s, src(s, o, 0), 0)->op, IR_OP_PARAM);
    o = out(s, "second");
    ASSERT_EQ(src(s, o, 0)->op, IR_OP_SELECT);
    ASSERT_EQ(src(s, o, 0)->i[0], 1);
    ASSERT_EQ(src(s, src(s, o, 0), 0)->op, IR_OP_INPUT);
    o = out(s, "tail"); /* all of v: no selection left */
    ASSERT_EQ(o->op, IR_OP_SCALE);
    ASSERT_EQ(src(s, o, 0)->op, IR_OP_INPUT);
    o = out(s, "span");
    ASSERT_EQ(o->op, IR_OP_SCALE);
    ASSERT_EQ(src(s, o, 0)->op, IR_OP_SLICE);
    ASSERT_EQ(src(s, src(s, o, 0), 0)->op, IR_OP_CONCAT);
    ir_graph_free(s);
    ir_graph_free(g);
    return 0;
}

TEST(selection_stops_at_leaves_and_whole_slices_vanish) {
    IrGraph *g = ir_graph_new(), *s;
    int x = input(g, "a=3,b=2"), p = param(g, "p", "a=3,b=2"), c = cnst(g, "a=3,b=2");
    ir_output_add(g, "input", sel(g, x, "a", 0, "b=2"));
    ir_output_add(g, "param", sel(g, p, "a", 1, "b=2"));
    ir_output_add(g, "const", slc(g, c, "a", 1, "a=2,b=2"));
    ir_output_add(g, "whole", slc(g, op1(g, IR_OP_EXP, x, "a=3,b=2"), "b", 0, "a=3,b=2"));
    SIMPLIFY(g, s);
    ASSERT_EQ(src(s, out(s, "input"), 0)->op, IR_OP_INPUT);
    ASSERT_EQ(out(s, "param")->op, IR_OP_SELECT);
    ASSERT_EQ(src(s, out(s, "param"), 0)->op, IR_OP_PARAM);
    ASSERT_EQ(out(s, "const")->op, IR_OP_SLICE);
    ASSERT_EQ(src(s, out(s, "const"), 0)->op, IR_OP_CONST);
    ASSERT_EQ(out(s, "whole")->op, IR_OP_EXP);
    ASSERT_EQ(count(s, IR_OP_SLICE), 1);
    ir_graph_free(s);
    ir_graph_free(g);
    return 0;
}

/* ---- sharing, dead nodes, metadata ------------------------------------------------------ */

TEST(identical_nodes_are_shared) {
    IrGraph *g = ir_graph_new(), *s;
    int x = input(g, "a=3,b=4");
    int y = op1(g, IR_OP_EXP, x, "a=3,b=4");
    ir_output_add(g, "s1", sel(g, y, "a", 0, "b=4"));
    ir_output_add(g, "s2", sel(g, y, "a", 0, "b=4"));
    int e1 = op1(g, IR_OP_TANH, x, "a=3,b=4"), e2 = op1(g, IR_OP_TANH, x, "a=3,b=4");
    ir_output_add(g, "sum", op2(g, IR_OP_ADD, e1, e2, "a=3,b=4"));
    int z = op2(g, IR_OP_MUL, y, x, "a=3,b=4"); /* x is selected by two paths: once */
    ir_output_add(g, "twice", sel(g, op2(g, IR_OP_ADD, z, y, "a=3,b=4"), "a", 0, "b=4"));
    SIMPLIFY(g, s);
    ASSERT_EQ(ir_output_find(s, "s1"), ir_output_find(s, "s2"));
    ASSERT_EQ(count(s, IR_OP_TANH), 1);
    ASSERT_EQ(count(s, IR_OP_SELECT), 1);
    ASSERT_EQ(count(s, IR_OP_EXP), 1); /* [b]: the full EXP is no longer needed */
    ASSERT_STR_EQ(shape_of(src(s, out(s, "s1"), 0)), "[b=4]");
    ir_graph_free(s);
    ir_graph_free(g);
    return 0;
}

TEST(nodes_no_output_needs_are_dropped) {
    IrGraph *g = ir_graph_new(), *s;
    int x = input(g, "a=3");
    int w = param(g, "w", "a=3");
    param(g, "unread", "a=3");         /* kept: the checkpoint still has it */
    int w2 = param(g, "w", "a=3");      /* unread twin of w: dropped */
    cnst(g, "a=3");                     /* dropped */
    op1(g, IR_OP_GELU, x, "a=3");       /* dropped */
    op2(g, IR_OP_ADD, w2, x, "a=3");    /* dropped */
    ir_output_add(g, "o", op2(g, IR_OP_MUL, w, w, "a=3"));
    SIMPLIFY(g, s);
    ASSERT_EQ(s->n, 4); /* INPUT (always), w, unread, MUL */
    ASSERT_EQ(count(s, IR_OP_INPUT), 1);
    ASSERT(s->input >= 0 && s->nodes[s->input].op == IR_OP_INPUT);
    ASSERT_EQ(count(s, IR_OP_PARAM), 2);
    ASSERT_EQ(count(s, IR_OP_GELU) + count(s, IR_OP_ADD) + count(s, IR_OP_CONST), 0);
    ir_graph_free(s);
    ir_graph_free(g);
    return 0;
}

TEST(metadata_and_node_attributes_are_kept) {
    IrGraph *g = ir_graph_new(), *s;
    g->name = ir_strdup(g, "toy");
    g->meta = ir_strdup(g, "{\"k\": 1}");
    g->pre = (IrPreprocess){.size = 8, .resize = 9, .interp = 1, .mean = {1, 2, 3}, .std = {4, 5, 6}};
    g->nfiles = 1;
    g->files = ir_alloc(g, sizeof *g->files);
    g->files[0] = ir_strdup(g, "toy.vit");
    g->nunused = 1;
    g->unused = ir_alloc(g, sizeof *g->unused);
    g->unused[0] = (char *)ir_strdup(g, "head.");
    int x = input(g, "t=2,c=3");
    int y = op2(g, IR_OP_ADD, x, param(g, "b", "c=3"), "t=2,c=3");
    g->nodes[y].scope = ir_strdup(g, "blk");
    g->nodes[y].label = ir_strdup(g, "y");
    g->nodes[y].loc = (IrLoc){0, 7, 3};
    int o = sel(g, y, "t", 1, "c=3");
    g->nodes[o].scope = ir_strdup(g, "top");
    g->nodes[o].label = ir_strdup(g, "row");
    g->nodes[o].loc = (IrLoc){0, 9, 5};
    ir_output_add(g, "first", x);
    ir_output_add(g, "row", o);
    SIMPLIFY(g, s);
    ASSERT_STR_EQ(s->name, "toy");
    ASSERT_STR_EQ(s->meta, "{\"k\": 1}");
    ASSERT_EQ(s->pre.resize, 9);
    ASSERT_NEAR(s->pre.std[2], 6, 0);
    ASSERT_EQ(s->nfiles, 1);
    ASSERT_STR_EQ(s->files[0], "toy.vit");
    ASSERT_EQ(s->nunused, 1);
    ASSERT_STR_EQ(s->unused[0], "head.");
    ASSERT_EQ(s->nout, 2);
    ASSERT_STR_EQ(s->outputs[0].name, "first");
    ASSERT_STR_EQ(s->outputs[1].name, "row");
    const IrNode *a = out(s, "row"), *sl = src(s, a, 0);
    ASSERT_EQ(a->op, IR_OP_ADD);
    ASSERT_STR_EQ(a->scope, "blk");
    ASSERT_STR_EQ(a->label, "y");
    ASSERT_EQ(a->loc.line, 7);
    ASSERT_EQ(sl->op, IR_OP_SELECT);
    ASSERT_STR_EQ(sl->scope, "top");
    ASSERT_STR_EQ(sl->label, "row");
    ASSERT_EQ(sl->loc.line, 9);
    ASSERT_EQ(s->arena_floats, 0);
    ir_graph_free(s);
    ir_graph_free(g);
    return 0;
}

TEST(a_malformed_selection_is_an_error) {
    IrGraph *g = ir_graph_new();
    int x = input(g, "a=3");
    ir_output_add(g, "o", sel(g, op1(g, IR_OP_EXP, x, "a=3"), "a", 5, ""));
    char err[512] = "";
    IrGraph *s = simplify_graph(g, err, sizeof err);
    ASSERT(s == NULL);
    ASSERT_CONTAINS(err, "out of range");
    ir_graph_free(g);
    return 0;
}

/* ---- the decomposition ------------------------------------------------------------------- */

/* Elaborates spec with the overrides of a golden's config ("set"), or none. */
static IrGraph *elaborate(const char *spec, const char *config) {
    Ctx c;
    ctx_init(&c);
    static const char *dirs[] = {"stdlib"};
    c.search = dirs;
    c.nsearch = 1;
    ConfigSet sets[32];
    char vals[32][64], names[32][64];
    int n = 0;
    if (config) {
        FILE *f = fopen(config, "rb");
        if (!f) return NULL;
        char txt[1 << 14];
        size_t len = fread(txt, 1, sizeof txt - 1, f);
        fclose(f);
        txt[len] = 0;
        /* the flat "set": { "name": number, ... } object */
        const char *p = strstr(txt, "\"set\"");
        p = p ? strchr(p, '{') : NULL;
        while (p && *p && *p != '}' && n < 32) {
            long long v;
            int used = 0;
            if (sscanf(p, " %*[{,] \"%63[^\"]\" : %lld%n", names[n], &v, &used) < 2) break;
            snprintf(vals[n], sizeof vals[n], "%lld", v);
            sets[n] = (ConfigSet){names[n], vals[n]};
            n++;
            p += used;
        }
    }
    IrGraph *g = elab_model(&c, spec, sets, n);
    ctx_free(&c);
    /* the decomposition appends thousands of nodes and keeps node pointers
     * while it appends: room for them up front */
    if (g && g->cap < 8 * g->n + 4096) {
        g->cap = 8 * g->n + 4096;
        g->nodes = realloc(g->nodes, (size_t)g->cap * sizeof *g->nodes);
    }
    return g;
}

static IrGraph *decomposed(const char *spec, const char *config, int nsplit) {
    IrGraph *g = elaborate(spec, config);
    ContribOpts o = {.output = "repr", .split = {"head", "token"}, .nsplit = nsplit};
    char err[1024];
    if (g && pipeline_decompose(g, &o, err, sizeof err)) {
        fprintf(stderr, "  decompose: %s\n", err);
        ir_graph_free(g);
        return NULL;
    }
    return g;
}

TEST(the_head_token_decomposition_shrinks_and_keeps_its_values) {
    const char *dir = "tests/golden/deit_tiny_patch16_224";
    char cfg[256], wpath[256], ipath[256], err[1024];
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    snprintf(wpath, sizeof wpath, "%s/weights.safetensors", dir);
    snprintf(ipath, sizeof ipath, "%s/input.safetensors", dir);
    IrGraph *g = decomposed("archs/deit_tiny_patch16_224.vit", cfg, 2);
    if (!g) FAIL_AT("cannot build the decomposition (run from the repository root)");
    IrGraph *s = simplify_graph(g, err, sizeof err);
    if (!s) FAIL_AT("simplify_graph: %s", err);
    double before = numel_sum(g), after = numel_sum(s);
    printf("# deit_tiny (golden size) --split head,token: %d -> %d nodes, sum of numel %.0f -> %.0f floats (%.1fx)\n", g->n,
           s->n, before, after, before / after);
    ASSERT(before / after > 2.5);
    ASSERT_STR_EQ(shape_of(out(s, "contrib.repr")), shape_of(out(g, "contrib.repr")));
    /* the per-token rows of the contributions are gone: no [comp, tok, ...] left */
    for (int i = 0; i < s->n; i++) {
        const IrShape *sh = &s->nodes[i].shape;
        ASSERT(!(sh->rank > 1 && !strcmp(sh->ax[0].name, "comp") && ir_axis_find(sh, "tok") >= 0));
    }
    StFile *w = NULL, *in = NULL;
    if (st_open(wpath, &w, err, sizeof err) || st_open(ipath, &in, err, sizeof err)) FAIL_AT("%s", err);
    int64_t k = st_find(in, "image");
    ASSERT(k >= 0);
    float *image = malloc((size_t)st_numel(&in->t[k]) * sizeof(float));
    ASSERT_EQ(st_read_f32(in, k, image, err, sizeof err), 0);
    double worst = 0;
    int bad = same_outputs(g, s, image, w, 1e-6, &worst);
    printf("# every output (repr, logits, contrib.repr) equal: max relative difference %.3g\n", worst);
    ASSERT(!bad);
    /* a second run finds nothing more to do */
    IrGraph *s2 = simplify_graph(s, err, sizeof err);
    ASSERT(s2 != NULL);
    ASSERT_EQ(s2->n, s->n);
    ir_graph_free(s2);
    free(image);
    st_close(w);
    st_close(in);
    ir_graph_free(s);
    ir_graph_free(g);
    return 0;
}

/* Arena of the memory plan after lowering, with and without simplification. */
static int arena(const IrGraph *g, bool simplify, int64_t *floats, double *numel) {
    char err[1024];
    IrGraph *s = simplify ? simplify_graph(g, err, sizeof err) : NULL;
    if (simplify && !s) { fprintf(stderr, "  %s\n", err); return -1; }
    IrGraph *l = lower_contractions(s ? s : g, err, sizeof err);
    if (!l) { fprintf(stderr, "  %s\n", err); ir_graph_free(s); return -1; }
    plan_memory(l);
    *floats = l->arena_floats;
    *numel = numel_sum(s ? s : g);
    ir_graph_free(l);
    ir_graph_free(s);
    return 0;
}

TEST(the_vit_b_decompositions_plan_far_smaller_arenas) {
    static const char *modes[] = {"head", "head,token"};
    static const double min_factor[] = {4, 100};
    for (int m = 0; m < 2; m++) {
        IrGraph *g = decomposed("archs/deit_base_patch16_224.vit", NULL, m + 1);
        if (!g) FAIL_AT("cannot build the decomposition (run from the repository root)");
        int64_t a0 = 0, a1 = 0;
        double n0 = 0, n1 = 0;
        if (arena(g, false, &a0, &n0) || arena(g, true, &a1, &n1)) FAIL_AT("planning failed");
        printf("# ViT-B/16 --split %-10s arena %lld -> %lld floats (%.1f MiB -> %.1f MiB, %.1fx); sum of numel %.3g -> %.3g (%.1fx)\n",
               modes[m], (long long)a0, (long long)a1, (double)a0 * 4 / (1 << 20), (double)a1 * 4 / (1 << 20),
               (double)a0 / (double)a1, n0, n1, n0 / n1);
        ASSERT((double)a0 / (double)a1 > min_factor[m]);
        ir_graph_free(g);
    }
    return 0;
}

TESTS {
    T(select_moves_through_elementwise_binary_ops),
    T(select_moves_through_unary_ops_and_scale),
    T(select_and_slice_move_through_permute),
    T(select_moves_through_reshape_only_where_the_axis_is_kept),
    T(select_moves_into_the_contraction_operands_that_carry_the_axis),
    T(a_selected_product_computed_in_full_anyway_is_selected_not_recomputed),
    T(select_moves_through_norms_along_other_axes_only),
    T(select_moves_through_sum_and_mean_over_other_axes),
    T(selections_move_through_each_other_and_compose),
    T(select_moves_through_concat_unless_the_range_spans_both_inputs),
    T(selection_stops_at_leaves_and_whole_slices_vanish),
    T(identical_nodes_are_shared),
    T(nodes_no_output_needs_are_dropped),
    T(metadata_and_node_attributes_are_kept),
    T(a_malformed_selection_is_an_error),
    T(the_head_token_decomposition_shrinks_and_keeps_its_values),
    T(the_vit_b_decompositions_plan_far_smaller_arenas),
};

int main(int argc, char **argv) { return check_main(argc, argv); }
