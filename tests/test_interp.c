/* tests/test_interp.c — the reference interpreter and the bicubic resample.
 * Every op of ops.def has at least one hand-built graph whose result is
 * checked against loops or closed forms written out here (the table op_cases
 * lists them; a new op without a row fails every_op_has_a_case).  Resample is
 * also checked against torch outputs in tests/golden/resample/. */
#include <dirent.h>
#include <float.h>
#include <stdint.h>

#include "check.h"
#include "interp.h"
#include "ir.h"
#include "resample.h"

/* ---- graph building ------------------------------------------------------ */

#define MAXN 32

typedef struct {
    IrGraph *g;
    float *buf[MAXN];
    char err[1024];
} Gr;

static bool op_seen[IR_OP_COUNT]; /* ops of every graph that ran successfully */

static uint32_t rng_state = 12345u;
static float frand(void) { /* uniform in [-1, 1) */
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) * (1.0 / 8388608.0) - 1.0);
}

/* "a=2,b=3" -> [a=2, b=3]; "" -> rank 0.  Names live in the graph. */
static IrShape parse_shape(IrGraph *g, const char *spec) {
    IrShape s = {0};
    const char *p = spec;
    while (*p && s.rank < IR_MAX_RANK) {
        char name[32];
        long long size = 0;
        int used = 0;
        if (sscanf(p, " %31[^=]=%lld%n", name, &size, &used) != 2) break;
        s.ax[s.rank].name = ir_strdup(g, name);
        s.ax[s.rank].size = size;
        s.rank++;
        p += used;
        if (*p == ',') p++;
    }
    return s;
}

static void gr_init(Gr *t) {
    memset(t, 0, sizeof *t);
    t->g = ir_graph_new();
}

static void gr_free(Gr *t) {
    for (int i = 0; i < MAXN; i++) free(t->buf[i]);
    ir_graph_free(t->g);
}

/* A node; axes is a comma-separated list of axis attributes ("" for none). */
static int gr_node(Gr *t, enum ir_op op, const char *shape, const char *axes, int nsrc,
                   int s0, int s1, int s2) {
    IrNode n;
    memset(&n, 0, sizeof n);
    n.op = op;
    n.nsrc = nsrc;
    n.src[0] = s0, n.src[1] = s1, n.src[2] = s2;
    n.shape = parse_shape(t->g, shape);
    n.loc.file = -1;
    for (const char *p = axes; *p && n.nax < IR_MAX_RANK;) {
        char name[32];
        int used = 0;
        if (sscanf(p, " %31[^,]%n", name, &used) != 1) break;
        n.ax[n.nax++] = ir_strdup(t->g, name);
        p += used;
        if (*p == ',') p++;
    }
    return ir_node_add(t->g, &n);
}

/* A leaf of the given op with its own buffer of random values in [-1, 1). */
static int gr_leaf_op(Gr *t, enum ir_op op, const char *shape) {
    int k = gr_node(t, op, shape, "", 0, 0, 0, 0);
    int64_t n = ir_numel(&t->g->nodes[k].shape);
    t->buf[k] = malloc((size_t)(n ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) t->buf[k][i] = frand();
    if (op == IR_OP_PARAM) {
        t->g->nodes[k].key = ir_strdup(t->g, "w");
        t->g->nodes[k].stored = t->g->nodes[k].shape;
    }
    return k;
}

static int gr_leaf(Gr *t, const char *shape) { return gr_leaf_op(t, IR_OP_PARAM, shape); }

static int64_t gr_numel(const Gr *t, int k) { return ir_numel(&t->g->nodes[k].shape); }

#define SENTINEL (-12345.0f)

/* Gives every node without a buffer one (filled with SENTINEL) and runs. */
static int gr_run(Gr *t) {
    for (int i = 0; i < t->g->n; i++) {
        if (t->buf[i]) continue;
        int64_t n = gr_numel(t, i);
        t->buf[i] = malloc((size_t)(n ? n : 1) * sizeof(float));
        for (int64_t j = 0; j < n; j++) t->buf[i][j] = SENTINEL;
    }
    int rc = interp_run(t->g, t->buf, t->err, sizeof t->err);
    if (rc == 0)
        for (int i = 0; i < t->g->n; i++) op_seen[t->g->nodes[i].op] = true;
    return rc;
}

#define RUN_OK(t) do { if (gr_run(t)) FAIL_AT("interp_run failed: %s", (t)->err); } while (0)
/* relative-to-magnitude closeness for float results of double computations */
#define CLOSE(a, b) ASSERT_NEAR(a, b, 2e-7 * (1.0 + fabs((double)(b))))

/* ---- leaves ------------------------------------------------------------------ */

TEST(leaves_pass_through) {
    Gr t;
    gr_init(&t);
    int in = gr_leaf_op(&t, IR_OP_INPUT, "c=3,h=2,w=2");
    int c = gr_leaf_op(&t, IR_OP_CONST, "c=3,h=2,w=2");
    int p = gr_leaf_op(&t, IR_OP_PARAM, "hw=4,c=3");
    t.g->nodes[p].stored = parse_shape(t.g, "a=12"); /* stored flat, viewed 2-d */
    int s = gr_node(&t, IR_OP_ADD, "c=3,h=2,w=2", "", 2, in, c, 0);
    int v = gr_node(&t, IR_OP_RESHAPE, "c=3,h=2,w=2", "", 1, p, 0, 0);
    float keep[3][12];
    memcpy(keep[0], t.buf[in], sizeof keep[0]);
    memcpy(keep[1], t.buf[c], sizeof keep[1]);
    memcpy(keep[2], t.buf[p], sizeof keep[2]);
    RUN_OK(&t);
    ASSERT(!memcmp(keep[0], t.buf[in], sizeof keep[0]));
    ASSERT(!memcmp(keep[1], t.buf[c], sizeof keep[1]));
    ASSERT(!memcmp(keep[2], t.buf[p], sizeof keep[2]));
    for (int i = 0; i < 12; i++) {
        ASSERT(t.buf[s][i] == keep[0][i] + keep[1][i]);
        ASSERT(t.buf[v][i] == keep[2][i]);
    }
    gr_free(&t);
    return 0;
}

/* ---- elementwise --------------------------------------------------------------- */

/* out [a=2, b=3, c=4]; x [c=4, a=2] and y [b=3, c=4]: both broadcast, x's axes
 * in a different order from the output's. */
static int binary_case(enum ir_op op) {
    Gr t;
    gr_init(&t);
    int x = gr_leaf(&t, "c=4,a=2");
    int y = gr_leaf(&t, "b=3,c=4");
    if (op == IR_OP_DIV)
        for (int i = 0; i < 12; i++) t.buf[y][i] = 0.5f + fabsf(t.buf[y][i]);
    int o = gr_node(&t, op, "a=2,b=3,c=4", "", 2, x, y, 0);
    int same = gr_node(&t, op, "c=4,a=2", "", 2, x, x, 0);
    RUN_OK(&t);
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 4; c++) {
                float u = t.buf[x][c * 2 + a], v = t.buf[y][b * 4 + c], e;
                switch (op) {
                case IR_OP_ADD: e = u + v; break;
                case IR_OP_SUB: e = u - v; break;
                case IR_OP_MUL: e = u * v; break;
                default: e = u / v; break;
                }
                float got = t.buf[o][(a * 3 + b) * 4 + c];
                if (got != e) FAIL_AT("%s at (%d,%d,%d): %.9g vs %.9g", ir_op_info[op].name, a, b, c, got, e);
            }
    for (int i = 0; i < 8; i++) {
        float u = t.buf[x][i];
        float e = op == IR_OP_ADD ? u + u : op == IR_OP_SUB ? 0.0f : op == IR_OP_MUL ? u * u : 1.0f;
        ASSERT(t.buf[same][i] == e);
    }
    gr_free(&t);
    return 0;
}

TEST(add_broadcast) { return binary_case(IR_OP_ADD); }
TEST(sub_broadcast) { return binary_case(IR_OP_SUB); }
TEST(mul_broadcast) { return binary_case(IR_OP_MUL); }
TEST(div_broadcast) { return binary_case(IR_OP_DIV); }

TEST(scale_affine) {
    Gr t;
    gr_init(&t);
    int x = gr_leaf(&t, "a=3,b=5");
    int o = gr_node(&t, IR_OP_SCALE, "a=3,b=5", "", 1, x, 0, 0);
    t.g->nodes[o].f[0] = 0.125f;
    t.g->nodes[o].f[1] = -3.0f;
    RUN_OK(&t);
    for (int i = 0; i < 15; i++) CLOSE(t.buf[o][i], t.buf[x][i] * 0.125 - 3.0);
    gr_free(&t);
    return 0;
}

/* Unary ops: closed forms in double, plus reference values at fixed points
 * (torch float64 values). */
static double ref_unary(enum ir_op op, double x) {
    switch (op) {
    case IR_OP_GELU: return x * 0.5 * (1.0 + erf(x / sqrt(2.0)));
    case IR_OP_GELU_TANH: return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * pow(x, 3))));
    case IR_OP_QUICK_GELU: return x / (1.0 + exp(-1.702 * x));
    case IR_OP_SILU: return x / (1.0 + exp(-x));
    case IR_OP_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case IR_OP_RELU: return x > 0 ? x : 0.0;
    case IR_OP_EXP: return exp(x);
    case IR_OP_TANH: return tanh(x);
    default: return NAN;
    }
}

static int unary_case(enum ir_op op, const double (*known)[2], int nknown) {
    static const float pts[] = {-30.0f, -6.0f, -3.0f, -1.5f, -1.0f, -0.5f, -1e-3f, 0.0f,
                                1e-3f, 0.25f, 0.5f, 1.0f, 2.0f, 3.0f, 6.0f, 30.0f};
    enum { NP = sizeof pts / sizeof pts[0] };
    Gr t;
    gr_init(&t);
    int x = gr_leaf(&t, "n=16");
    _Static_assert(NP == 16, "point count");
    memcpy(t.buf[x], pts, sizeof pts);
    int o = gr_node(&t, op, "n=16", "", 1, x, 0, 0);
    int k = nknown ? gr_leaf(&t, "m=4") : -1;
    int ok = nknown ? gr_node(&t, op, "m=4", "", 1, k, 0, 0) : -1;
    for (int i = 0; i < nknown; i++) t.buf[k][i] = (float)known[i][0];
    for (int i = nknown; i < 4 && k >= 0; i++) t.buf[k][i] = 0.0f;
    RUN_OK(&t);
    for (int i = 0; i < NP; i++) {
        double e = ref_unary(op, pts[i]);
        if (!(fabs(t.buf[o][i] - e) <= 2e-7 * (1.0 + fabs(e))))
            FAIL_AT("%s(%g) = %.9g, expected %.9g", ir_op_info[op].name, pts[i], t.buf[o][i], e);
    }
    for (int i = 0; i < nknown; i++)
        if (!(fabs(t.buf[ok][i] - known[i][1]) <= 2e-7 * (1.0 + fabs(known[i][1]))))
            FAIL_AT("%s(%g) = %.9g, expected %.9g", ir_op_info[op].name, known[i][0], t.buf[ok][i], known[i][1]);
    gr_free(&t);
    return 0;
}

TEST(gelu_erf) {
    static const double k[][2] = {{1.0, 0.841344746068543}, {-1.0, -0.15865525393145702},
                                  {2.0, 1.9544997361036416}, {-0.5, -0.15426876936299344}};
    return unary_case(IR_OP_GELU, k, 4);
}
TEST(gelu_tanh) { /* torch gelu(approximate="tanh") */
    static const double k[][2] = {{1.0, 0.8411919906082768}, {-1.0, -0.15880800939172324},
                                  {2.0, 1.954597694087775}, {-0.5, -0.15428599017485606}};
    return unary_case(IR_OP_GELU_TANH, k, 4);
}
TEST(quick_gelu) {
    static const double k[][2] = {{1.0, 0.8457957659328212}, {-1.0, -0.1542042340671787}};
    return unary_case(IR_OP_QUICK_GELU, k, 2);
}
TEST(silu) {
    static const double k[][2] = {{1.0, 0.7310585786300049}, {-2.0, -0.2384058440442351}};
    return unary_case(IR_OP_SILU, k, 2);
}
TEST(sigmoid) {
    static const double k[][2] = {{0.0, 0.5}, {2.0, 0.8807970779778823}, {-2.0, 0.11920292202211755}};
    return unary_case(IR_OP_SIGMOID, k, 3);
}
TEST(relu) {
    static const double k[][2] = {{-2.0, 0.0}, {3.5, 3.5}};
    return unary_case(IR_OP_RELU, k, 2);
}
TEST(exp_op) {
    static const double k[][2] = {{1.0, 2.718281828459045}, {-1.0, 0.36787944117144233}};
    return unary_case(IR_OP_EXP, k, 2);
}
TEST(tanh_op) {
    static const double k[][2] = {{0.5, 0.46211715726000974}, {-2.0, -0.9640275800758169}};
    return unary_case(IR_OP_TANH, k, 2);
}

TEST(rsqrt_op) { /* positive inputs; 1/sqrt(0) = inf */
    static const float pts[] = {1e-6f, 0.25f, 1.0f, 2.0f, 9.0f, 1e6f, 0.0f, 4.0f};
    Gr t;
    gr_init(&t);
    int x = gr_leaf(&t, "n=8");
    memcpy(t.buf[x], pts, sizeof pts);
    int o = gr_node(&t, IR_OP_RSQRT, "n=8", "", 1, x, 0, 0);
    RUN_OK(&t);
    for (int i = 0; i < 8; i++) {
        double e = 1.0 / sqrt((double)pts[i]);
        if (isinf(e) ? !isinf(t.buf[o][i]) : !(fabs(t.buf[o][i] - e) <= 2e-7 * fabs(e)))
            FAIL_AT("RSQRT(%g) = %.9g, expected %.9g", pts[i], t.buf[o][i], e);
    }
    gr_free(&t);
    return 0;
}


/* ---- index, mask and convolution ops ---------------------------------------------- */

TEST(gather_by_index_tensor) { /* x [a=4, b=3] gathered along a by idx [i=2, j=2] -> [i, j, b] */
    Gr t;
    gr_init(&t);
    int x = gr_leaf(&t, "a=4,b=3");
    int ix = gr_leaf(&t, "i=2,j=2");
    float iv[4] = {3, 0, -1, 2}; /* -1 counts from the end */
    memcpy(t.buf[ix], iv, sizeof iv);
    int o = gr_node(&t, IR_OP_GATHER, "i=2,j=2,b=3", "a", 2, x, ix, 0);
    RUN_OK(&t);
    int want[4] = {3, 0, 3, 2};
    for (int q = 0; q < 4; q++)
        for (int b = 0; b < 3; b++) ASSERT_EQ(t.buf[o][q * 3 + b] == t.buf[x][want[q] * 3 + b], 1);
    gr_free(&t);
    return 0;
}

TEST(argmax_along_middle_axis) {
    Gr t;
    gr_init(&t);
    int x = gr_leaf(&t, "a=2,k=5,b=3");
    int o = gr_node(&t, IR_OP_ARGMAX, "a=2,b=3", "k", 1, x, 0, 0);
    RUN_OK(&t);
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++) {
            int best = 0;
            for (int k = 1; k < 5; k++) if (t.buf[x][(a * 5 + k) * 3 + b] > t.buf[x][(a * 5 + best) * 3 + b]) best = k;
            ASSERT_EQ((int)t.buf[o][a * 3 + b], best);
        }
    gr_free(&t);
    return 0;
}

TEST(cmp_and_where_broadcast) { /* mask[i, j] = i > j ? -inf-ish : x[j] */
    Gr t;
    gr_init(&t);
    int a = gr_leaf(&t, "i=3");
    int b = gr_leaf(&t, "j=4");
    for (int q = 0; q < 3; q++) t.buf[a][q] = (float)q;
    for (int q = 0; q < 4; q++) t.buf[b][q] = (float)q;
    int c = gr_node(&t, IR_OP_CMP, "i=3,j=4", "", 2, a, b, 0);
    t.g->nodes[c].i[0] = 4; /* > */
    int y = gr_leaf(&t, "j=4");
    int neg = gr_leaf(&t, "");
    t.buf[neg][0] = -100.0f;
    int w = gr_node(&t, IR_OP_WHERE, "i=3,j=4", "", 3, c, neg, y);
    RUN_OK(&t);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) {
            ASSERT_EQ((int)t.buf[c][i * 4 + j], i > j);
            ASSERT_EQ(t.buf[w][i * 4 + j] == (i > j ? -100.0f : t.buf[y][j]), 1);
        }
    gr_free(&t);
    return 0;
}

TEST(pad_and_roll) {
    Gr t;
    gr_init(&t);
    int x = gr_leaf(&t, "a=2,n=4");
    int p = gr_node(&t, IR_OP_PAD, "a=2,n=7", "n", 1, x, 0, 0);
    t.g->nodes[p].i[0] = 1, t.g->nodes[p].i[1] = 2, t.g->nodes[p].f[0] = 5.0f;
    int r = gr_node(&t, IR_OP_ROLL, "a=2,n=4", "n", 1, x, 0, 0);
    t.g->nodes[r].i[0] = -1; /* torch.roll(x, -1): out[k] = in[k + 1] */
    RUN_OK(&t);
    for (int a = 0; a < 2; a++)
        for (int k = 0; k < 7; k++)
            ASSERT_EQ(t.buf[p][a * 7 + k] == (k >= 1 && k < 5 ? t.buf[x][a * 4 + k - 1] : 5.0f), 1);
    for (int a = 0; a < 2; a++)
        for (int k = 0; k < 4; k++) ASSERT_EQ(t.buf[r][a * 4 + k] == t.buf[x][a * 4 + (k + 1) % 4], 1);
    gr_free(&t);
    return 0;
}

TEST(conv2d_strided_and_grouped) { /* x [c=4, h=5, w=5], w [o=6, ci=2, 3, 3], groups 2, stride 2 */
    Gr t;
    gr_init(&t);
    int x = gr_leaf(&t, "c=4,h=5,w=5");
    int w = gr_leaf(&t, "o=6,ci=2,kh=3,kw=3");
    int o = gr_node(&t, IR_OP_CONV2D, "o=6,h=2,w=2", "c,h,w", 2, x, w, 0);
    t.g->nodes[o].i[0] = t.g->nodes[o].i[1] = 2;
    t.g->nodes[o].i[2] = 2;
    RUN_OK(&t);
    for (int oc = 0; oc < 6; oc++)
        for (int y = 0; y < 2; y++)
            for (int z = 0; z < 2; z++) {
                double acc = 0;
                int g = oc / 3;
                for (int ci = 0; ci < 2; ci++)
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++)
                            acc += (double)t.buf[x][((g * 2 + ci) * 5 + y * 2 + ky) * 5 + z * 2 + kx] * t.buf[w][((oc * 2 + ci) * 3 + ky) * 3 + kx];
                CLOSE(t.buf[o][(oc * 2 + y) * 2 + z], acc);
            }
    gr_free(&t);
    return 0;
}

/* ---- normalisations -------------------------------------------------------------- */

/* x [r=3, n=5, c=2], softmax along the middle axis; rows sum to 1, ratios are
 * exp of differences; huge inputs stay finite (max subtracted). */
TEST(softmax_middle_axis) {
    Gr t;
    gr_init(&t);
    int x = gr_leaf(&t, "r=3,n=5,c=2");
    for (int i = 0; i < 30; i++) t.buf[x][i] *= 4.0f;
    for (int i = 0; i < 5; i++) t.buf[x][(2 * 5 + i) * 2 + 1] = 1000.0f + (float)i; /* row (2, ., 1) */
    int o = gr_node(&t, IR_OP_SOFTMAX, "r=3,n=5,c=2", "n", 1, x, 0, 0);
    RUN_OK(&t);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 2; c++) {
            double sum = 0, den = 0;
            for (int n = 0; n < 5; n++) den += exp((double)t.buf[x][(r * 5 + n) * 2 + c] - t.buf[x][(r * 5) * 2 + c]);
            for (int n = 0; n < 5; n++) {
                int i = (r * 5 + n) * 2 + c;
                ASSERT(isfinite(t.buf[o][i]) && t.buf[o][i] > 0);
                sum += t.buf[o][i];
                CLOSE(t.buf[o][i], exp((double)t.buf[x][i] - t.buf[x][(r * 5) * 2 + c]) / den);
            }
            ASSERT_NEAR(sum, 1.0, 1e-6);
        }
    gr_free(&t);
    return 0;
}

/* x [r=3, n=16, c=2] over n: without parameters mean 0 and variance
 * v / (v + eps); with gamma, beta the formula; gamma alone too. */
TEST(layernorm_stats_and_affine) {
    Gr t;
    gr_init(&t);
    int x = gr_leaf(&t, "r=3,n=16,c=2");
    for (int i = 0; i < 96; i++) t.buf[x][i] = t.buf[x][i] * 3.0f + 5.0f;
    int gm = gr_leaf(&t, "n=16"), bt = gr_leaf(&t, "n=16");
    int o0 = gr_node(&t, IR_OP_LAYERNORM, "r=3,n=16,c=2", "n", 1, x, 0, 0);
    int o1 = gr_node(&t, IR_OP_LAYERNORM, "r=3,n=16,c=2", "n", 3, x, gm, bt);
    int o2 = gr_node(&t, IR_OP_LAYERNORM, "r=3,n=16,c=2", "n", 2, x, gm, 0);
    const float eps = 1e-2f;
    for (int k = o0; k <= o2; k++) t.g->nodes[k].f[0] = eps;
    RUN_OK(&t);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 2; c++) {
            double m = 0, v = 0, mo = 0, vo = 0;
            for (int n = 0; n < 16; n++) m += t.buf[x][(r * 16 + n) * 2 + c];
            m /= 16;
            for (int n = 0; n < 16; n++) v += pow(t.buf[x][(r * 16 + n) * 2 + c] - m, 2);
            v /= 16;
            for (int n = 0; n < 16; n++) mo += t.buf[o0][(r * 16 + n) * 2 + c];
            mo /= 16;
            for (int n = 0; n < 16; n++) vo += pow(t.buf[o0][(r * 16 + n) * 2 + c] - mo, 2);
            vo /= 16;
            ASSERT_NEAR(mo, 0.0, 1e-6);
            ASSERT_NEAR(vo, v / (v + eps), 1e-6);
            for (int n = 0; n < 16; n++) {
                int i = (r * 16 + n) * 2 + c;
                double z = (t.buf[x][i] - m) / sqrt(v + (double)eps);
                CLOSE(t.buf[o0][i], z);
                CLOSE(t.buf[o1][i], z * t.buf[gm][n] + t.buf[bt][n]);
                CLOSE(t.buf[o2][i], z * t.buf[gm][n]);
            }
        }
    gr_free(&t);
    return 0;
}

/* x [n=8, r=3] over the first axis: mean square 1 / (1 + eps / ms) without
 * gamma; the formula with gamma. */
TEST(rmsnorm_stats_and_gamma) {
    Gr t;
    gr_init(&t);
    int x = gr_leaf(&t, "n=8,r=3");
    int gm = gr_leaf(&t, "n=8");
    int o0 = gr_node(&t, IR_OP_RMSNORM, "n=8,r=3", "n", 1, x, 0, 0);
    int o1 = gr_node(&t, IR_OP_RMSNORM, "n=8,r=3", "n", 2, x, gm, 0);
    const float eps = 1e-3f;
    t.g->nodes[o0].f[0] = t.g->nodes[o1].f[0] = eps;
    RUN_OK(&t);
    for (int r = 0; r < 3; r++) {
        double ms = 0, mso = 0;
        for (int n = 0; n < 8; n++) ms += pow(t.buf[x][n * 3 + r], 2);
        ms /= 8;
        for (int n = 0; n < 8; n++) mso += pow(t.buf[o0][n * 3 + r], 2);
        mso /= 8;
        ASSERT_NEAR(mso, ms / (ms + eps), 1e-6);
        for (int n = 0; n < 8; n++) {
            double z = t.buf[x][n * 3 + r] / sqrt(ms + (double)eps);
            CLOSE(t.buf[o0][n * 3 + r], z);
            CLOSE(t.buf[o1][n * 3 + r], z * t.buf[gm][n]);
        }
    }
    gr_free(&t);
    return 0;
}

/* ---- reductions ------------------------------------------------------------------- */

/* x [a=2, b=3, c=4, d=5] reduced over {d, b} (non-adjacent, listed out of
 * order) -> [a=2, c=4]; and a sum that only double accumulation gets right. */
static int reduce_case(enum ir_op op) {
    Gr t;
    gr_init(&t);
    int x = gr_leaf(&t, "a=2,b=3,c=4,d=5");
    int o = gr_node(&t, op, "a=2,c=4", "d,b", 1, x, 0, 0);
    int y = gr_leaf(&t, "k=3,j=1");
    t.buf[y][0] = 1e8f, t.buf[y][1] = 1.0f, t.buf[y][2] = -1e8f;
    int oy = gr_node(&t, op, "j=1", "k", 1, y, 0, 0);
    RUN_OK(&t);
    for (int a = 0; a < 2; a++)
        for (int c = 0; c < 4; c++) {
            double s = 0;
            for (int b = 0; b < 3; b++)
                for (int d = 0; d < 5; d++) s += t.buf[x][((a * 3 + b) * 4 + c) * 5 + d];
            if (op == IR_OP_MEAN) s /= 15;
            CLOSE(t.buf[o][a * 4 + c], s);
        }
    ASSERT(t.buf[oy][0] == (op == IR_OP_MEAN ? 1.0f / 3.0f : 1.0f));
    gr_free(&t);
    return 0;
}

TEST(sum_two_axes) { return reduce_case(IR_OP_SUM); }
TEST(mean_two_axes) { return reduce_case(IR_OP_MEAN); }

/* ---- contract ---------------------------------------------------------------------- */

/* x [tok, ch] . W [out, ch] over ch: a linear layer with the torch weight layout. */
TEST(contract_linear) {
    Gr t;
    gr_init(&t);
    int x = gr_leaf(&t, "tok=5,ch=7"), w = gr_leaf(&t, "out=4,ch=7");
    int o = gr_node(&t, IR_OP_CONTRACT, "tok=5,out=4", "ch", 2, x, w, 0);
    RUN_OK(&t);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 4; j++) {
            double s = 0;
            for (int k = 0; k < 7; k++) s += (double)t.buf[x][i * 7 + k] * t.buf[w][j * 7 + k];
            CLOSE(t.buf[o][i * 4 + j], s);
        }
    gr_free(&t);
    return 0;
}

/* Batch axes in different orders in the two sources, summed axis in the
 * middle: a [b1, k, b2, m] . b [n, b2, k, b1] over k -> [b1, b2, m, n]. */
TEST(contract_batch_odd_orders) {
    Gr t;
    gr_init(&t);
    int a = gr_leaf(&t, "b1=2,k=3,b2=4,m=2"), b = gr_leaf(&t, "n=3,b2=4,k=3,b1=2");
    int o = gr_node(&t, IR_OP_CONTRACT, "b1=2,b2=4,m=2,n=3", "k", 2, a, b, 0);
    RUN_OK(&t);
    for (int b1 = 0; b1 < 2; b1++)
        for (int b2 = 0; b2 < 4; b2++)
            for (int m = 0; m < 2; m++)
                for (int n = 0; n < 3; n++) {
                    double s = 0;
                    for (int k = 0; k < 3; k++)
                        s += (double)t.buf[a][((b1 * 3 + k) * 4 + b2) * 2 + m] *
                             t.buf[b][((n * 4 + b2) * 3 + k) * 2 + b1];
                    CLOSE(t.buf[o][((b1 * 4 + b2) * 2 + m) * 3 + n], s);
                }
    gr_free(&t);
    return 0;
}

/* Attention scores and the weighted sum of values:
 * s[h, q, t] = sum_d q[h, q, d] k[t, h, d]; o[h, q, d] = sum_t s[h, q, t] v[h, t, d]. */
TEST(contract_attention) {
    Gr t;
    gr_init(&t);
    int q = gr_leaf(&t, "h=2,q=3,d=4"), k = gr_leaf(&t, "t=5,h=2,d=4"), v = gr_leaf(&t, "h=2,t=5,d=4");
    int s = gr_node(&t, IR_OP_CONTRACT, "h=2,q=3,t=5", "d", 2, q, k, 0);
    int o = gr_node(&t, IR_OP_CONTRACT, "h=2,q=3,d=4", "t", 2, s, v, 0);
    RUN_OK(&t);
    for (int h = 0; h < 2; h++)
        for (int i = 0; i < 3; i++) {
            double sc[5];
            for (int j = 0; j < 5; j++) {
                sc[j] = 0;
                for (int d = 0; d < 4; d++)
                    sc[j] += (double)t.buf[q][(h * 3 + i) * 4 + d] * t.buf[k][(j * 2 + h) * 4 + d];
                CLOSE(t.buf[s][(h * 3 + i) * 5 + j], sc[j]);
            }
            for (int d = 0; d < 4; d++) {
                double e = 0;
                for (int j = 0; j < 5; j++) e += (double)t.buf[s][(h * 3 + i) * 5 + j] * t.buf[v][(h * 5 + j) * 4 + d];
                ASSERT_NEAR(t.buf[o][(h * 3 + i) * 4 + d], e, 1e-6 * (1 + fabs(e)));
            }
        }
    gr_free(&t);
    return 0;
}

/* Two summed axes, in different orders in the sources and in the attribute;
 * a summed axis only one source has; the outer product (nothing summed);
 * double accumulation. */
TEST(contract_multi_axis_and_outer) {
    Gr t;
    gr_init(&t);
    int a = gr_leaf(&t, "k1=3,i=2,k2=4"), b = gr_leaf(&t, "k2=4,j=5,k1=3");
    int o = gr_node(&t, IR_OP_CONTRACT, "i=2,j=5", "k2,k1", 2, a, b, 0);
    int c = gr_leaf(&t, "i=3,k=4"), d = gr_leaf(&t, "j=2");
    int o2 = gr_node(&t, IR_OP_CONTRACT, "i=3,j=2", "k", 2, c, d, 0);
    int o3 = gr_node(&t, IR_OP_CONTRACT, "j=2,i=3,k=4", "", 2, d, c, 0);
    int e = gr_leaf(&t, "k=3"), f = gr_leaf(&t, "k=3");
    t.buf[e][0] = 1e8f, t.buf[e][1] = 1.0f, t.buf[e][2] = -1e8f;
    for (int i = 0; i < 3; i++) t.buf[f][i] = 1.0f;
    int o4 = gr_node(&t, IR_OP_CONTRACT, "", "k", 2, e, f, 0);
    RUN_OK(&t);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 5; j++) {
            double s = 0;
            for (int k1 = 0; k1 < 3; k1++)
                for (int k2 = 0; k2 < 4; k2++)
                    s += (double)t.buf[a][(k1 * 2 + i) * 4 + k2] * t.buf[b][(k2 * 5 + j) * 3 + k1];
            CLOSE(t.buf[o][i * 5 + j], s);
        }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++) {
            double s = 0;
            for (int k = 0; k < 4; k++) s += t.buf[c][i * 4 + k];
            CLOSE(t.buf[o2][i * 2 + j], s * t.buf[d][j]);
            for (int k = 0; k < 4; k++) ASSERT(t.buf[o3][(j * 3 + i) * 4 + k] == t.buf[d][j] * t.buf[c][i * 4 + k]);
        }
    ASSERT(t.buf[o4][0] == 1.0f);
    gr_free(&t);
    return 0;
}

/* ---- data movement ------------------------------------------------------------------ */

TEST(permute_three_axes) {
    Gr t;
    gr_init(&t);
    int x = gr_leaf(&t, "a=2,b=3,c=4");
    int o = gr_node(&t, IR_OP_PERMUTE, "c=4,a=2,b=3", "", 1, x, 0, 0);
    RUN_OK(&t);
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 4; c++) ASSERT(t.buf[o][(c * 2 + a) * 3 + b] == t.buf[x][(a * 3 + b) * 4 + c]);
    gr_free(&t);
    return 0;
}

TEST(reshape_same_data) {
    Gr t;
    gr_init(&t);
    int x = gr_leaf(&t, "a=2,b=6");
    int o = gr_node(&t, IR_OP_RESHAPE, "x=3,y=2,z=2", "", 1, x, 0, 0);
    RUN_OK(&t);
    ASSERT(!memcmp(t.buf[o], t.buf[x], 12 * sizeof(float)));
    gr_free(&t);
    return 0;
}

TEST(select_middle_axis) {
    Gr t;
    gr_init(&t);
    int x = gr_leaf(&t, "a=2,b=3,c=4");
    int o = gr_node(&t, IR_OP_SELECT, "a=2,c=4", "b", 1, x, 0, 0);
    t.g->nodes[o].i[0] = 2;
    int o0 = gr_node(&t, IR_OP_SELECT, "b=3,c=4", "a", 1, x, 0, 0); /* class token style */
    RUN_OK(&t);
    for (int a = 0; a < 2; a++)
        for (int c = 0; c < 4; c++) ASSERT(t.buf[o][a * 4 + c] == t.buf[x][(a * 3 + 2) * 4 + c]);
    ASSERT(!memcmp(t.buf[o0], t.buf[x], 12 * sizeof(float)));
    gr_free(&t);
    return 0;
}

TEST(slice_middle_axis) {
    Gr t;
    gr_init(&t);
    int x = gr_leaf(&t, "a=2,b=5,c=3");
    int o = gr_node(&t, IR_OP_SLICE, "a=2,b=3,c=3", "b", 1, x, 0, 0);
    t.g->nodes[o].i[0] = 2;
    RUN_OK(&t);
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 3; c++) ASSERT(t.buf[o][(a * 3 + b) * 3 + c] == t.buf[x][(a * 5 + b + 2) * 3 + c]);
    gr_free(&t);
    return 0;
}

TEST(concat_first_and_middle) {
    Gr t;
    gr_init(&t);
    int cls = gr_leaf(&t, "tok=1,ch=4"), pat = gr_leaf(&t, "tok=3,ch=4");
    int o = gr_node(&t, IR_OP_CONCAT, "tok=4,ch=4", "tok", 2, cls, pat, 0);
    int a = gr_leaf(&t, "x=2,n=2,y=3"), b = gr_leaf(&t, "x=2,n=1,y=3");
    int o2 = gr_node(&t, IR_OP_CONCAT, "x=2,n=3,y=3", "n", 2, a, b, 0);
    RUN_OK(&t);
    for (int c = 0; c < 4; c++) ASSERT(t.buf[o][c] == t.buf[cls][c]);
    for (int i = 0; i < 12; i++) ASSERT(t.buf[o][4 + i] == t.buf[pat][i]);
    for (int x = 0; x < 2; x++)
        for (int n = 0; n < 3; n++)
            for (int y = 0; y < 3; y++) {
                float e = n < 2 ? t.buf[a][(x * 2 + n) * 3 + y] : t.buf[b][x * 3 + y];
                ASSERT(t.buf[o2][(x * 3 + n) * 3 + y] == e);
            }
    gr_free(&t);
    return 0;
}

/* ---- resample ----------------------------------------------------------------------- */

typedef struct {
    int64_t outer, ih, iw, oh, ow, inner, aa;
    float *in, *out;
} Golden;

/* Reads one file written by tests/reference/make_resample_golden.py. */
static int golden_read(const char *path, Golden *gd) {
    memset(gd, 0, sizeof *gd);
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char magic[8];
    int64_t h[7];
    int rc = -1;
    if (fread(magic, 1, 8, f) == 8 && !memcmp(magic, "VITRSMP1", 8) && fread(h, sizeof h[0], 7, f) == 7) {
        gd->outer = h[0], gd->ih = h[1], gd->iw = h[2], gd->oh = h[3], gd->ow = h[4], gd->inner = h[5], gd->aa = h[6];
        bool sane = true;
        for (int i = 0; i < 6; i++) sane = sane && h[i] > 0 && h[i] < 4096;
        if (sane) {
            size_t ni = (size_t)(gd->outer * gd->ih * gd->iw * gd->inner);
            size_t no = (size_t)(gd->outer * gd->oh * gd->ow * gd->inner);
            gd->in = malloc(ni * sizeof(float));
            gd->out = malloc(no * sizeof(float));
            char extra;
            if (gd->in && gd->out && fread(gd->in, sizeof(float), ni, f) == ni &&
                fread(gd->out, sizeof(float), no, f) == no && fread(&extra, 1, 1, f) == 0)
                rc = 0;
        }
    }
    fclose(f);
    if (rc) { free(gd->in); free(gd->out); gd->in = gd->out = NULL; }
    return rc;
}

#define GOLDEN_DIR "tests/golden/resample"

TEST(resample_golden) {
    DIR *d = opendir(GOLDEN_DIR);
    if (!d) FAIL_AT("cannot open %s (run from the repository root)", GOLDEN_DIR);
    int files = 0, seen_aa[2] = {0, 0};
    double worst = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".bin")) continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", GOLDEN_DIR, e->d_name);
        Golden gd;
        if (golden_read(path, &gd)) { closedir(d); FAIL_AT("%s: bad golden file", path); }
        int64_t no = gd.outer * gd.oh * gd.ow * gd.inner;
        float *got = malloc((size_t)no * sizeof(float));
        vitrt_resample(gd.in, got, gd.outer, gd.ih, gd.iw, gd.oh, gd.ow, gd.inner, (int)gd.aa);
        double m = 0;
        for (int64_t i = 0; i < no; i++) m = fmax(m, fabs((double)got[i] - gd.out[i]));
        free(got);
        free(gd.in);
        free(gd.out);
        if (!(m <= 1e-5)) { closedir(d); FAIL_AT("%s: max abs error %g", path, m); }
        worst = fmax(worst, m);
        seen_aa[gd.aa != 0]++;
        files++;
    }
    closedir(d);
    printf("# %d golden resample files, max abs error %.3g\n", files, worst);
    ASSERT(files >= 8);
    ASSERT(seen_aa[0] > 0 && seen_aa[1] > 0);
    return 0;
}

/* The RESAMPLE node: axes in the middle of a rank-4 tensor, matched against a
 * golden file; a constant field stays constant in both modes; same size is
 * the identity. */
TEST(resample_node) {
    Golden gd;
    ASSERT(golden_read(GOLDEN_DIR "/down_7x7_5x9_aa1.bin", &gd) == 0);
    ASSERT(gd.outer == 2 && gd.ih == 7 && gd.iw == 7 && gd.oh == 5 && gd.ow == 9 && gd.inner == 1 && gd.aa == 1);
    Gr t;
    gr_init(&t);
    int x = gr_leaf(&t, "o=2,h=7,w=7,c=1");
    memcpy(t.buf[x], gd.in, 98 * sizeof(float));
    int r = gr_node(&t, IR_OP_RESAMPLE, "o=2,h=5,w=9,c=1", "h,w", 1, x, 0, 0);
    t.g->nodes[r].i[0] = 1;
    int k = gr_leaf(&t, "b=2,gh=4,gw=3,ch=5");
    for (int i = 0; i < 120; i++) t.buf[k][i] = 0.75f;
    int r0 = gr_node(&t, IR_OP_RESAMPLE, "b=2,gh=7,gw=2,ch=5", "gh,gw", 1, k, 0, 0);
    int r1 = gr_node(&t, IR_OP_RESAMPLE, "b=2,gh=7,gw=2,ch=5", "gh,gw", 1, k, 0, 0);
    t.g->nodes[r1].i[0] = 1;
    int id = gr_node(&t, IR_OP_RESAMPLE, "o=2,h=7,w=7,c=1", "h,w", 1, x, 0, 0);
    RUN_OK(&t);
    for (int i = 0; i < 90; i++) ASSERT_NEAR(t.buf[r][i], gd.out[i], 1e-5);
    for (int i = 0; i < 140; i++) {
        ASSERT_NEAR(t.buf[r0][i], 0.75, 1e-6);
        ASSERT_NEAR(t.buf[r1][i], 0.75, 1e-6);
    }
    ASSERT(!memcmp(t.buf[id], t.buf[x], 98 * sizeof(float)));
    free(gd.in);
    free(gd.out);
    gr_free(&t);
    return 0;
}

/* ---- errors ------------------------------------------------------------------------- */

/* Builds a graph with one bad node (last), runs it, expects -1, a message
 * with every needle, and the bad node's buffer untouched. */
static int expect_error(Gr *t, const char *const *needles, int nneedles) {
    int last = t->g->n - 1;
    int rc = gr_run(t);
    if (rc != -1) FAIL_AT("interp_run returned %d, expected -1", rc);
    for (int i = 0; i < nneedles; i++)
        if (!strstr(t->err, needles[i])) FAIL_AT("\"%s\" does not contain \"%s\"", t->err, needles[i]);
    for (int64_t i = 0; i < gr_numel(t, last); i++)
        if (t->buf[last][i] != SENTINEL) FAIL_AT("node %d was written", last);
    char e2[1024];
    if (interp_check(t->g, e2, sizeof e2) != -1 || strcmp(e2, t->err)) FAIL_AT("interp_check disagrees: %s", e2);
    return 0;
}

TEST(error_binary_size_mismatch) {
    Gr t;
    gr_init(&t);
    int a = gr_leaf(&t, "a=2,b=3"), b = gr_leaf(&t, "b=4");
    gr_node(&t, IR_OP_ADD, "a=2,b=3", "", 2, a, b, 0);
    static const char *const n[] = {"node 2", "ADD", "[b=4]", "[a=2, b=3]"};
    int rc = expect_error(&t, n, 4);
    gr_free(&t);
    return rc;
}

TEST(error_contract_wrong_output) {
    Gr t;
    gr_init(&t);
    int a = gr_leaf(&t, "m=2,k=3"), b = gr_leaf(&t, "n=4,k=3");
    gr_node(&t, IR_OP_CONTRACT, "n=4,m=2", "k", 2, a, b, 0); /* must be [m, n] */
    static const char *const n[] = {"node 2", "CONTRACT", "[m=2, k=3]", "[n=4, k=3]", "[n=4, m=2]", "[m=2, n=4]"};
    int rc = expect_error(&t, n, 6);
    gr_free(&t);
    if (rc) return rc;
    gr_init(&t);
    a = gr_leaf(&t, "m=2,k=3"), b = gr_leaf(&t, "n=4,k=5");
    gr_node(&t, IR_OP_CONTRACT, "m=2,n=4", "k", 2, a, b, 0);
    static const char *const n2[] = {"node 2", "CONTRACT", "axis k", "[m=2, k=3]", "[n=4, k=5]"};
    rc = expect_error(&t, n2, 5);
    gr_free(&t);
    if (rc) return rc;
    gr_init(&t);
    a = gr_leaf(&t, "m=2,k=3"), b = gr_leaf(&t, "n=4,k=3");
    gr_node(&t, IR_OP_CONTRACT, "m=2,k=3,n=4", "z", 2, a, b, 0);
    static const char *const n3[] = {"node 2", "CONTRACT", "axis z", "[m=2, k=3]", "[n=4, k=3]", "[m=2, k=3, n=4]"};
    rc = expect_error(&t, n3, 6);
    gr_free(&t);
    return rc;
}

TEST(error_misc_nodes) {
    struct {
        enum ir_op op;
        const char *src, *shape, *axes;
        int64_t i0;
        const char *needle;
    } cases[] = {
        {IR_OP_GELU, "a=2,b=3", "b=3,a=2", "", 0, "[b=3, a=2]"},
        {IR_OP_SOFTMAX, "a=2,b=3", "a=2,b=3", "c", 0, "not in the shape"},
        {IR_OP_SOFTMAX, "a=2,b=3", "a=2,b=3", "", 0, "missing axis attribute"},
        {IR_OP_SUM, "a=2,b=3", "b=3", "b", 0, "[b=3]"},
        {IR_OP_PERMUTE, "a=2,b=3", "a=2,c=3", "", 0, "[a=2, c=3]"},
        {IR_OP_RESHAPE, "a=2,b=3", "x=5", "", 0, "element count"},
        {IR_OP_SELECT, "a=2,b=3", "a=2", "b", 3, "out of range"},
        {IR_OP_SLICE, "a=2,b=3", "a=2,b=2", "b", 2, "out of range"},
        {IR_OP_RESAMPLE, "a=2,b=3,c=4", "a=5,b=3,c=6", "a,c", 0, "adjacent"},
        {IR_OP_RESAMPLE, "a=2,b=3,c=4", "a=2,b=5,c=6", "b,c", 2, "antialias"},
        {IR_OP_LAYERNORM, "a=2,b=3", "a=2,b=3", "b", 0, NULL}, /* gamma with the wrong axis */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        Gr t;
        gr_init(&t);
        int x = gr_leaf(&t, cases[k].src);
        int nsrc = 1, g1 = 0;
        if (cases[k].op == IR_OP_LAYERNORM) g1 = gr_leaf(&t, "a=2"), nsrc = 2;
        int o = gr_node(&t, cases[k].op, cases[k].shape, cases[k].axes, nsrc, x, g1, 0);
        t.g->nodes[o].i[0] = cases[k].i0;
        char idx[32];
        snprintf(idx, sizeof idx, "node %d", o);
        const char *needles[3] = {idx, ir_op_info[cases[k].op].name, cases[k].needle ? cases[k].needle : "[a=2]"};
        int rc = expect_error(&t, needles, 3);
        gr_free(&t);
        if (rc) FAIL_AT("case %zu (%s) failed", k, ir_op_info[cases[k].op].name);
    }
    return 0;
}

TEST(error_bad_structure) {
    /* a source that is not an earlier node, a wrong source count, an axis
     * without a name, an unknown op: each reported, nothing crashes */
    for (int k = 0; k < 4; k++) {
        Gr t;
        gr_init(&t);
        int x = gr_leaf(&t, "a=2");
        int o = gr_node(&t, IR_OP_RELU, "a=2", "", 1, x, 0, 0);
        IrNode *n = &t.g->nodes[o];
        const char *needle = "";
        if (k == 0) n->src[0] = o, needle = "not an earlier node";
        if (k == 1) n->nsrc = 2, needle = "2 sources";
        if (k == 2) n->shape.ax[0].name = NULL, needle = "no name";
        if (k == 3) n->op = (enum ir_op)(IR_OP_COUNT + 3), needle = "unknown op";
        char idx[32];
        snprintf(idx, sizeof idx, "node %d", o);
        const char *needles[2] = {idx, needle};
        int rc = expect_error(&t, needles, 2);
        gr_free(&t);
        if (rc) FAIL_AT("structure case %d failed", k);
    }
    return 0;
}

/* ---- coverage: every op of ops.def has a case --------------------------------------- */

static const struct {
    enum ir_op op;
    int (*fn)(void);
} op_cases[] = {
    {IR_OP_INPUT, leaves_pass_through},
    {IR_OP_PARAM, leaves_pass_through},
    {IR_OP_CONST, leaves_pass_through},
    {IR_OP_ADD, add_broadcast},
    {IR_OP_SUB, sub_broadcast},
    {IR_OP_MUL, mul_broadcast},
    {IR_OP_DIV, div_broadcast},
    {IR_OP_SCALE, scale_affine},
    {IR_OP_GELU, gelu_erf},
    {IR_OP_GELU_TANH, gelu_tanh},
    {IR_OP_QUICK_GELU, quick_gelu},
    {IR_OP_SILU, silu},
    {IR_OP_SIGMOID, sigmoid},
    {IR_OP_RELU, relu},
    {IR_OP_EXP, exp_op},
    {IR_OP_TANH, tanh_op},
    {IR_OP_RSQRT, rsqrt_op},
    {IR_OP_GATHER, gather_by_index_tensor},
    {IR_OP_ARGMAX, argmax_along_middle_axis},
    {IR_OP_CMP, cmp_and_where_broadcast},
    {IR_OP_WHERE, cmp_and_where_broadcast},
    {IR_OP_PAD, pad_and_roll},
    {IR_OP_ROLL, pad_and_roll},
    {IR_OP_CONV2D, conv2d_strided_and_grouped},
    {IR_OP_SOFTMAX, softmax_middle_axis},
    {IR_OP_LAYERNORM, layernorm_stats_and_affine},
    {IR_OP_RMSNORM, rmsnorm_stats_and_gamma},
    {IR_OP_SUM, sum_two_axes},
    {IR_OP_MEAN, mean_two_axes},
    {IR_OP_CONTRACT, contract_linear},
    {IR_OP_CONTRACT, contract_batch_odd_orders},
    {IR_OP_CONTRACT, contract_attention},
    {IR_OP_CONTRACT, contract_multi_axis_and_outer},
    {IR_OP_PERMUTE, permute_three_axes},
    {IR_OP_RESHAPE, reshape_same_data},
    {IR_OP_SELECT, select_middle_axis},
    {IR_OP_SLICE, slice_middle_axis},
    {IR_OP_CONCAT, concat_first_and_middle},
    {IR_OP_RESAMPLE, resample_node},
};

/* For each op: at least one case; each case passes and really ran a graph
 * with that op in it. */
TEST(every_op_has_a_case) {
    int missing = 0;
    for (int op = 0; op < IR_OP_COUNT; op++) {
        int found = 0;
        for (size_t k = 0; k < sizeof op_cases / sizeof op_cases[0]; k++) {
            if ((int)op_cases[k].op != op) continue;
            found++;
            memset(op_seen, 0, sizeof op_seen);
            if (op_cases[k].fn()) FAIL_AT("the case for %s fails", ir_op_info[op].name);
            if (!op_seen[op]) FAIL_AT("the case listed for %s never ran it", ir_op_info[op].name);
        }
        if (!found) {
            fprintf(stderr, "  op %s has no test case in op_cases\n", ir_op_info[op].name);
            missing++;
        }
    }
    ASSERT_EQ(missing, 0);
    return 0;
}

TESTS {
    T(leaves_pass_through),
    T(add_broadcast),
    T(sub_broadcast),
    T(mul_broadcast),
    T(div_broadcast),
    T(scale_affine),
    T(gelu_erf),
    T(gelu_tanh),
    T(quick_gelu),
    T(silu),
    T(sigmoid),
    T(relu),
    T(exp_op),
    T(tanh_op),
    T(rsqrt_op),
    T(gather_by_index_tensor),
    T(argmax_along_middle_axis),
    T(cmp_and_where_broadcast),
    T(pad_and_roll),
    T(conv2d_strided_and_grouped),
    T(softmax_middle_axis),
    T(layernorm_stats_and_affine),
    T(rmsnorm_stats_and_gamma),
    T(sum_two_axes),
    T(mean_two_axes),
    T(contract_linear),
    T(contract_batch_odd_orders),
    T(contract_attention),
    T(contract_multi_axis_and_outer),
    T(permute_three_axes),
    T(reshape_same_data),
    T(select_middle_axis),
    T(slice_middle_axis),
    T(concat_first_and_middle),
    T(resample_golden),
    T(resample_node),
    T(error_binary_size_mismatch),
    T(error_contract_wrong_output),
    T(error_misc_nodes),
    T(error_bad_structure),
    T(every_op_has_a_case),
};

int main(int argc, char **argv) { return check_main(argc, argv); }
