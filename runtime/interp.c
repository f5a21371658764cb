/* runtime/interp.c — the reference interpreter.  Every op is a direct
 * transcription of its definition in ir.h: an N-d index walker over the
 * output with per-source strides found by axis name, sums and statistics in
 * double, one rounding to float per output element.  Speed is not a goal;
 * being obviously right is.  No memory is allocated while running. */
#include "interp.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "resample.h"

/* ---- errors ------------------------------------------------------------ */

typedef struct {
    const IrGraph *g;
    int idx;          /* node being checked */
    const IrNode *n;
    char *err;
    size_t errlen;
} Ctx;

/* "node 7 (ADD): <message>" */
static int fail(const Ctx *c, const char *fmt, ...) {
    if (!c->err || !c->errlen) return -1;
    int k = snprintf(c->err, c->errlen, "node %d (%s): ", c->idx,
                     (unsigned)c->n->op < IR_OP_COUNT ? ir_op_info[c->n->op].name : "?");
    if (k < 0 || (size_t)k >= c->errlen) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + k, c->errlen - (size_t)k, fmt, ap);
    va_end(ap);
    return -1;
}

/* A mismatch between source s and the node: names both shapes. */
static int fail_src(const Ctx *c, int s, const char *what) {
    char a[512], b[512];
    const IrShape *ss = &c->g->nodes[c->n->src[s]].shape;
    ir_shape_str(ss, a, sizeof a);
    ir_shape_str(&c->n->shape, b, sizeof b);
    return fail(c, "%s: source %d (node %d) shape %s, node shape %s", what, s, c->n->src[s], a, b);
}

/* ---- shape helpers ----------------------------------------------------- */

static const IrShape *src_shape(const Ctx *c, int s) { return &c->g->nodes[c->n->src[s]].shape; }

static bool same_shape(const IrShape *a, const IrShape *b) {
    if (a->rank != b->rank) return false;
    for (int i = 0; i < a->rank; i++)
        if (strcmp(a->ax[i].name, b->ax[i].name) || a->ax[i].size != b->ax[i].size) return false;
    return true;
}

/* Product of sizes of axes [lo, hi). */
static int64_t span(const IrShape *s, int lo, int hi) {
    int64_t m = 1;
    for (int i = lo; i < hi; i++) m *= s->ax[i].size;
    return m;
}

static bool in_names(const char *const *names, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name)) return true;
    return false;
}

/* Rank in range, every axis named, names unique, sizes non-negative, and the
 * element count representable. */
static int check_shape(const Ctx *c, const IrShape *s, const char *what) {
    if (s->rank < 0 || s->rank > IR_MAX_RANK) return fail(c, "%s rank %d out of range", what, s->rank);
    int64_t m = 1;
    for (int i = 0; i < s->rank; i++) {
        if (!s->ax[i].name) return fail(c, "%s axis %d has no name", what, i);
        if (s->ax[i].size < 0) return fail(c, "%s axis %s has size %lld", what, s->ax[i].name,
                                           (long long)s->ax[i].size);
        for (int j = 0; j < i; j++)
            if (!strcmp(s->ax[i].name, s->ax[j].name))
                return fail(c, "%s has axis %s twice", what, s->ax[i].name);
        if (s->ax[i].size && m > ((int64_t)1 << 48) / s->ax[i].size)
            return fail(c, "%s has too many elements", what);
        m *= s->ax[i].size;
    }
    return 0;
}

/* The node's axis attribute k: present and a name. */
static int need_ax(const Ctx *c, int k) {
    if (c->n->nax <= k || !c->n->ax[k]) {
        char so[512];
        ir_shape_str(&c->n->shape, so, sizeof so);
        return fail(c, "missing axis attribute %d (node shape %s)", k, so);
    }
    return 0;
}

/* ---- validation per op --------------------------------------------------- */

static int check_binary(const Ctx *c) {
    const IrShape *o = &c->n->shape;
    for (int s = 0; s < 2; s++) {
        const IrShape *x = src_shape(c, s);
        for (int i = 0; i < x->rank; i++) {
            int j = ir_axis_find(o, x->ax[i].name);
            if (j < 0) return fail_src(c, s, "source axis missing from the output");
            if (o->ax[j].size != x->ax[i].size) return fail_src(c, s, "axis size differs");
        }
    }
    return 0;
}

static int check_same(const Ctx *c) {
    if (!same_shape(src_shape(c, 0), &c->n->shape)) return fail_src(c, 0, "shape differs");
    return 0;
}

/* SOFTMAX, LAYERNORM, RMSNORM: same shape, axis ax[0] present, params 1-d. */
static int check_norm(const Ctx *c) {
    if (check_same(c) || need_ax(c, 0)) return -1;
    int p = ir_axis_find(&c->n->shape, c->n->ax[0]);
    if (p < 0) return fail_src(c, 0, "normalised axis not in the shape");
    for (int s = 1; s < c->n->nsrc; s++) {
        const IrShape *w = src_shape(c, s);
        if (w->rank != 1 || strcmp(w->ax[0].name, c->n->ax[0]) ||
            w->ax[0].size != c->n->shape.ax[p].size)
            return fail_src(c, s, "parameter must have the single normalised axis");
    }
    return 0;
}

static int check_reduce(const Ctx *c) {
    const IrShape *x = src_shape(c, 0), *o = &c->n->shape;
    for (int k = 0; k < c->n->nax; k++) {
        if (need_ax(c, k)) return -1;
        if (ir_axis_find(x, c->n->ax[k]) < 0) return fail_src(c, 0, "reduced axis not in the source");
        if (in_names(c->n->ax, k, c->n->ax[k])) return fail(c, "axis %s reduced twice", c->n->ax[k]);
    }
    int r = 0;
    for (int i = 0; i < x->rank; i++) {
        if (in_names(c->n->ax, c->n->nax, x->ax[i].name)) continue;
        if (r >= o->rank || strcmp(o->ax[r].name, x->ax[i].name) || o->ax[r].size != x->ax[i].size)
            return fail_src(c, 0, "output must be the source without the reduced axes");
        r++;
    }
    if (r != o->rank) return fail_src(c, 0, "output must be the source without the reduced axes");
    return 0;
}

static int check_contract(const Ctx *c) {
    const IrShape *a = src_shape(c, 0), *b = src_shape(c, 1), *o = &c->n->shape;
    const IrNode *n = c->n;
    for (int k = 0; k < n->nax; k++) {
        if (need_ax(c, k)) return -1;
        if (in_names(n->ax, k, n->ax[k])) return fail(c, "axis %s summed twice", n->ax[k]);
        int ia = ir_axis_find(a, n->ax[k]), ib = ir_axis_find(b, n->ax[k]);
        if (ia < 0 && ib < 0) {
            char sa[512], sb[512], so[512];
            ir_shape_str(a, sa, sizeof sa);
            ir_shape_str(b, sb, sizeof sb);
            ir_shape_str(&n->shape, so, sizeof so);
            return fail(c, "summed axis %s in neither source: %s, %s (node shape %s)", n->ax[k], sa, sb, so);
        }
    }
    /* every axis both sources have must agree in size (summed or batch) */
    for (int i = 0; i < a->rank; i++) {
        int j = ir_axis_find(b, a->ax[i].name);
        if (j >= 0 && b->ax[j].size != a->ax[i].size) {
            char sa[512], sb[512], so[512];
            ir_shape_str(a, sa, sizeof sa);
            ir_shape_str(b, sb, sizeof sb);
            ir_shape_str(o, so, sizeof so);
            return fail(c, "axis %s differs between the sources: %s vs %s (node shape %s)",
                        a->ax[i].name, sa, sb, so);
        }
    }
    /* expected output: a's kept axes in a's order, then b's new axes */
    IrShape e = {0};
    for (int i = 0; i < a->rank; i++)
        if (!in_names(n->ax, n->nax, a->ax[i].name) && e.rank < IR_MAX_RANK) e.ax[e.rank++] = a->ax[i];
    for (int i = 0; i < b->rank; i++)
        if (!in_names(n->ax, n->nax, b->ax[i].name) && ir_axis_find(a, b->ax[i].name) < 0) {
            if (e.rank == IR_MAX_RANK) return fail(c, "output rank above %d", IR_MAX_RANK);
            e.ax[e.rank++] = b->ax[i];
        }
    if (!same_shape(&e, o)) {
        char sa[512], sb[512], so[512], se[512];
        ir_shape_str(a, sa, sizeof sa);
        ir_shape_str(b, sb, sizeof sb);
        ir_shape_str(o, so, sizeof so);
        ir_shape_str(&e, se, sizeof se);
        return fail(c, "sources %s and %s give output %s, node shape %s", sa, sb, se, so);
    }
    return 0;
}

static int check_permute(const Ctx *c) {
    const IrShape *x = src_shape(c, 0), *o = &c->n->shape;
    if (x->rank != o->rank) return fail_src(c, 0, "rank differs");
    for (int i = 0; i < o->rank; i++) {
        int j = ir_axis_find(x, o->ax[i].name);
        if (j < 0 || x->ax[j].size != o->ax[i].size) return fail_src(c, 0, "not a permutation of the source");
    }
    return 0;
}

static int check_reshape(const Ctx *c) {
    if (ir_numel(src_shape(c, 0)) != ir_numel(&c->n->shape)) return fail_src(c, 0, "element count differs");
    return 0;
}

static int check_select(const Ctx *c) {
    const IrShape *x = src_shape(c, 0), *o = &c->n->shape;
    if (need_ax(c, 0)) return -1;
    int p = ir_axis_find(x, c->n->ax[0]);
    if (p < 0) return fail_src(c, 0, "selected axis not in the source");
    if (c->n->i[0] < 0 || c->n->i[0] >= x->ax[p].size) {
        char sx[512], so[512];
        ir_shape_str(x, sx, sizeof sx);
        ir_shape_str(o, so, sizeof so);
        return fail(c, "index %lld out of range for axis %s: source %s, node shape %s",
                    (long long)c->n->i[0], c->n->ax[0], sx, so);
    }
    IrShape e = *x;
    for (int i = p; i + 1 < x->rank; i++) e.ax[i] = x->ax[i + 1];
    e.rank--;
    if (!same_shape(&e, o)) return fail_src(c, 0, "output must be the source without the selected axis");
    return 0;
}

static int check_slice(const Ctx *c) {
    const IrShape *x = src_shape(c, 0), *o = &c->n->shape;
    if (need_ax(c, 0)) return -1;
    int p = ir_axis_find(x, c->n->ax[0]);
    if (p < 0) return fail_src(c, 0, "sliced axis not in the source");
    IrShape e = *x;
    if (o->rank == x->rank) e.ax[p].size = o->ax[p].size;
    if (!same_shape(&e, o)) return fail_src(c, 0, "output must be the source with the sliced axis resized");
    if (c->n->i[0] < 0 || c->n->i[0] > x->ax[p].size - o->ax[p].size) {
        char sx[512], so[512];
        ir_shape_str(x, sx, sizeof sx);
        ir_shape_str(o, so, sizeof so);
        return fail(c, "slice [%lld, %lld) of axis %s out of range: source %s, node shape %s",
                    (long long)c->n->i[0], (long long)(c->n->i[0] + o->ax[p].size), c->n->ax[0], sx, so);
    }
    return 0;
}

static int check_concat(const Ctx *c) {
    const IrShape *o = &c->n->shape;
    if (need_ax(c, 0)) return -1;
    int p = ir_axis_find(o, c->n->ax[0]);
    if (p < 0) return fail(c, "concat axis %s not in the node shape", c->n->ax[0]);
    int64_t total = 0;
    for (int s = 0; s < 2; s++) {
        const IrShape *x = src_shape(c, s);
        IrShape e = *o;
        if (x->rank == o->rank) e.ax[p].size = x->ax[p].size;
        if (!same_shape(&e, x)) return fail_src(c, s, "other axes must equal the output's, in the same order");
        total += x->ax[p].size;
    }
    if (total != o->ax[p].size) return fail_src(c, 1, "concat axis sizes do not add up");
    return 0;
}

static int check_resample(const Ctx *c) {
    const IrShape *x = src_shape(c, 0), *o = &c->n->shape;
    if (need_ax(c, 0) || need_ax(c, 1)) return -1;
    int p = ir_axis_find(x, c->n->ax[0]);
    if (p < 0 || p + 1 >= x->rank || strcmp(x->ax[p + 1].name, c->n->ax[1]))
        return fail_src(c, 0, "resampled axes must be adjacent source axes, in order");
    IrShape e = *x;
    if (o->rank == x->rank) {
        e.ax[p].size = o->ax[p].size;
        e.ax[p + 1].size = o->ax[p + 1].size;
    }
    if (!same_shape(&e, o)) return fail_src(c, 0, "only the resampled axes may change size");
    if (ir_numel(x) == 0 && ir_numel(o) != 0) return fail_src(c, 0, "cannot resample an empty source");
    if (c->n->i[0] != 0 && c->n->i[0] != 1) return fail(c, "antialias flag %lld is not 0 or 1", (long long)c->n->i[0]);
    return 0;
}

/* GATHER, ARGMAX, CMP, WHERE, PAD, ROLL, CONV2D: the shapes ir.h defines */
static int check_new(const Ctx *c) {
    const IrNode *n = c->n;
    const IrShape *o = &n->shape, *a = src_shape(c, 0);
    switch (n->op) {
    case IR_OP_CMP: case IR_OP_WHERE:
        for (int s = 0; s < n->nsrc; s++)
            for (int k = 0; k < src_shape(c, s)->rank; k++) {
                int j = ir_axis_find(o, src_shape(c, s)->ax[k].name);
                if (j < 0 || o->ax[j].size != src_shape(c, s)->ax[k].size) return fail_src(c, s, "axis size differs");
            }
        return 0;
    case IR_OP_GATHER: {
        if (n->nax < 1 || ir_axis_find(a, n->ax[0]) < 0) return fail(c, "no gathered axis");
        if (o->rank != a->rank - 1 + src_shape(c, 1)->rank) return fail(c, "output rank");
        return 0;
    }
    case IR_OP_ARGMAX:
        if (n->nax < 1 || ir_axis_find(a, n->ax[0]) < 0) return fail(c, "no axis");
        if (o->rank != a->rank - 1) return fail(c, "output rank");
        return 0;
    case IR_OP_PAD: case IR_OP_ROLL: {
        int p = n->nax < 1 ? -1 : ir_axis_find(a, n->ax[0]);
        if (p < 0) return fail(c, "no axis");
        if (o->rank != a->rank) return fail(c, "output rank");
        int64_t want = a->ax[p].size + (n->op == IR_OP_PAD ? n->i[0] + n->i[1] : 0);
        if (o->ax[p].size != want || (n->op == IR_OP_PAD && (n->i[0] < 0 || n->i[1] < 0))) return fail(c, "padded size");
        return 0;
    }
    case IR_OP_CONV2D: {
        if (n->nax < 3) return fail(c, "needs three axes");
        const IrShape *w = src_shape(c, 1);
        int pc = ir_axis_find(a, n->ax[0]), ph = ir_axis_find(a, n->ax[1]), pw = ir_axis_find(a, n->ax[2]);
        if (pc < 0 || ph < 0 || pw < 0) return fail(c, "axes missing");
        if (w->rank != 4 || n->i[0] < 1 || n->i[1] < 1 || n->i[2] < 1) return fail(c, "weight rank or strides");
        if (a->ax[pc].size != w->ax[1].size * n->i[2] || w->ax[0].size % n->i[2]) return fail(c, "groups do not divide the channels");
        if (a->ax[ph].size < w->ax[2].size || a->ax[pw].size < w->ax[3].size) return fail(c, "kernel larger than the input");
        if (o->rank != a->rank || o->ax[pc].size != w->ax[0].size ||
            o->ax[ph].size != (a->ax[ph].size - w->ax[2].size) / n->i[0] + 1 ||
            o->ax[pw].size != (a->ax[pw].size - w->ax[3].size) / n->i[1] + 1)
            return fail(c, "output size");
        return 0;
    }
    default: return fail(c, "not a new op");
    }
}

static int check_node(const Ctx *c) {
    const IrNode *n = c->n;
    if ((unsigned)n->op >= IR_OP_COUNT) return fail(c, "unknown op %d", (int)n->op);
    if (check_shape(c, &n->shape, "node shape")) return -1;
    if (n->nax < 0 || n->nax > IR_MAX_RANK) return fail(c, "%d axis attributes", n->nax);
    int want = ir_op_info[n->op].nsrc;
    int lo = want, hi = want;
    if (n->op == IR_OP_LAYERNORM) lo = 1, hi = 3;
    if (n->op == IR_OP_RMSNORM) lo = 1, hi = 2;
    if (n->nsrc < lo || n->nsrc > hi || n->nsrc > IR_MAX_SRC) {
        if (lo == hi) return fail(c, "%d sources, expected %d", n->nsrc, lo);
        return fail(c, "%d sources, expected %d to %d", n->nsrc, lo, hi);
    }
    for (int s = 0; s < n->nsrc; s++)
        if (n->src[s] < 0 || n->src[s] >= c->idx) return fail(c, "source %d is node %d, not an earlier node", s, n->src[s]);
    switch (n->op) {
    case IR_OP_INPUT:
    case IR_OP_CONST:
        return 0;
    case IR_OP_PARAM:
        if (n->stored.rank > 0 && ir_numel(&n->stored) != ir_numel(&n->shape)) {
            char a[512], b[512];
            ir_shape_str(&n->stored, a, sizeof a);
            ir_shape_str(&n->shape, b, sizeof b);
            return fail(c, "stored shape %s and node shape %s differ in element count", a, b);
        }
        return 0;
    case IR_OP_ADD: case IR_OP_SUB: case IR_OP_MUL: case IR_OP_DIV:
        return check_binary(c);
    case IR_OP_SCALE: case IR_OP_GELU: case IR_OP_GELU_TANH: case IR_OP_QUICK_GELU:
    case IR_OP_SILU: case IR_OP_SIGMOID: case IR_OP_RELU: case IR_OP_EXP: case IR_OP_TANH: case IR_OP_RSQRT:
        return check_same(c);
    case IR_OP_SOFTMAX: case IR_OP_LAYERNORM: case IR_OP_RMSNORM:
        return check_norm(c);
    case IR_OP_SUM: case IR_OP_MEAN:
        return check_reduce(c);
    case IR_OP_CONTRACT:
        return check_contract(c);
    case IR_OP_PERMUTE:
        return check_permute(c);
    case IR_OP_RESHAPE:
        return check_reshape(c);
    case IR_OP_SELECT:
        return check_select(c);
    case IR_OP_SLICE:
        return check_slice(c);
    case IR_OP_CONCAT:
        return check_concat(c);
    case IR_OP_RESAMPLE:
        return check_resample(c);
    case IR_OP_GATHER: case IR_OP_ARGMAX: case IR_OP_CMP: case IR_OP_WHERE:
    case IR_OP_PAD: case IR_OP_ROLL: case IR_OP_CONV2D:
        return check_new(c);
    case IR_OP_COUNT:
        break;
    }
    return fail(c, "op has no rule in the interpreter");
}

int interp_check(const IrGraph *g, char *err, size_t errlen) {
    if (err && errlen) err[0] = 0;
    if (!g || g->n < 0 || (g->n > 0 && !g->nodes)) {
        if (err && errlen) snprintf(err, errlen, "no graph");
        return -1;
    }
    for (int i = 0; i < g->n; i++) {
        Ctx c = {g, i, &g->nodes[i], err, errlen};
        if (check_node(&c)) return -1;
    }
    return 0;
}

/* ---- the index walker ---------------------------------------------------- */

/* Visits every index of a shape in row-major order, keeping one running
 * offset per source (each source with its own strides over the shape). */
typedef struct {
    int rank, nsrc;
    int64_t size[IR_MAX_RANK], idx[IR_MAX_RANK];
    int64_t st[IR_MAX_SRC][IR_MAX_RANK];
    int64_t off[IR_MAX_SRC];
} Walk;

static void walk_init(Walk *w, const IrShape *s) {
    memset(w, 0, sizeof *w);
    w->rank = s->rank;
    for (int i = 0; i < s->rank; i++) w->size[i] = s->ax[i].size;
}

/* Adds a source whose axes are named in `src`, laid over the walked shape
 * `over`, starting at offset `base`; returns its slot. */
static int walk_add(Walk *w, const IrShape *over, const IrShape *src, int64_t base) {
    int k = w->nsrc++;
    ir_bcast_strides(over, src, w->st[k]);
    w->off[k] = base;
    return k;
}

/* Steps to the next index; 0 when the walk is over. */
static int walk_next(Walk *w) {
    for (int d = w->rank - 1; d >= 0; d--) {
        w->idx[d]++;
        for (int k = 0; k < w->nsrc; k++) w->off[k] += w->st[k][d];
        if (w->idx[d] < w->size[d]) return 1;
        for (int k = 0; k < w->nsrc; k++) w->off[k] -= w->st[k][d] * w->size[d];
        w->idx[d] = 0;
    }
    return 0;
}

/* The summed index space of SUM, MEAN, CONTRACT: axes with their strides in
 * source a and source b (0 where a source lacks the axis). */
typedef struct {
    int rank;
    int64_t size[IR_MAX_RANK], sa[IR_MAX_RANK], sb[IR_MAX_RANK];
} Red;

static void red_init(Red *r, const IrNode *n, const IrShape *a, const IrShape *b) {
    int64_t sta[IR_MAX_RANK], stb[IR_MAX_RANK];
    ir_strides(a, sta);
    if (b) ir_strides(b, stb);
    r->rank = n->nax;
    for (int k = 0; k < n->nax; k++) {
        int ia = ir_axis_find(a, n->ax[k]), ib = b ? ir_axis_find(b, n->ax[k]) : -1;
        r->size[k] = ia >= 0 ? a->ax[ia].size : b->ax[ib].size;
        r->sa[k] = ia >= 0 ? sta[ia] : 0;
        r->sb[k] = ib >= 0 ? stb[ib] : 0;
    }
}

/* sum over the summed index space of a[pa + .] * b[pb + .] (b NULL: of a). */
static double red_sum(const Red *r, const float *a, int64_t pa, const float *b, int64_t pb) {
    for (int d = 0; d < r->rank; d++)
        if (r->size[d] == 0) return 0.0;
    if (r->rank == 0) return b ? (double)a[pa] * (double)b[pb] : (double)a[pa];
    int last = r->rank - 1;
    int64_t n = r->size[last], sa = r->sa[last], sb = r->sb[last];
    int64_t idx[IR_MAX_RANK] = {0};
    double acc = 0.0;
    for (;;) {
        const float *x = a + pa;
        if (b) {
            const float *y = b + pb;
            for (int64_t k = 0; k < n; k++) acc += (double)x[k * sa] * (double)y[k * sb];
        } else {
            for (int64_t k = 0; k < n; k++) acc += (double)x[k * sa];
        }
        int d = last - 1;
        for (; d >= 0; d--) {
            idx[d]++;
            pa += r->sa[d];
            pb += r->sb[d];
            if (idx[d] < r->size[d]) break;
            pa -= r->sa[d] * r->size[d];
            pb -= r->sb[d] * r->size[d];
            idx[d] = 0;
        }
        if (d < 0) return acc;
    }
}

/* ---- evaluation ------------------------------------------------------------ */

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

static double unary(enum ir_op op, double x, const float *f) {
    switch (op) {
    case IR_OP_SCALE: return x * (double)f[0] + (double)f[1];
    case IR_OP_GELU: return 0.5 * x * (1.0 + erf(x * 0.70710678118654752440));
    case IR_OP_GELU_TANH: {
        const double k = 0.79788456080286535588; /* sqrt(2 / pi) */
        return 0.5 * x * (1.0 + tanh(k * (x + 0.044715 * x * x * x)));
    }
    case IR_OP_QUICK_GELU: return x * sigmoid(1.702 * x);
    case IR_OP_SILU: return x * sigmoid(x);
    case IR_OP_SIGMOID: return sigmoid(x);
    case IR_OP_RELU: return x < 0.0 ? 0.0 : x;
    case IR_OP_EXP: return exp(x);
    case IR_OP_TANH: return tanh(x);
    case IR_OP_RSQRT: return 1.0 / sqrt(x);
    default: return NAN;
    }
}

static double binary(enum ir_op op, double a, double b) {
    switch (op) {
    case IR_OP_ADD: return a + b;
    case IR_OP_SUB: return a - b;
    case IR_OP_MUL: return a * b;
    case IR_OP_DIV: return a / b;
    default: return NAN;
    }
}

/* SOFTMAX, LAYERNORM, RMSNORM along axis p of x: rows of `len` elements
 * `inner` apart. */
static void eval_norm(const IrNode *n, const IrShape *s, float *const *in, float *out) {
    int p = ir_axis_find(s, n->ax[0]);
    int64_t outer = span(s, 0, p), len = s->ax[p].size, inner = span(s, p + 1, s->rank);
    const float *x = in[0];
    const float *gamma = n->nsrc > 1 ? in[1] : NULL, *beta = n->nsrc > 2 ? in[2] : NULL;
    double eps = (double)n->f[0];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            int64_t base = o * len * inner + j;
            if (n->op == IR_OP_SOFTMAX) {
                double m = -INFINITY, sum = 0.0;
                for (int64_t k = 0; k < len; k++)
                    if ((double)x[base + k * inner] > m) m = x[base + k * inner];
                for (int64_t k = 0; k < len; k++) sum += exp((double)x[base + k * inner] - m);
                for (int64_t k = 0; k < len; k++)
                    out[base + k * inner] = (float)(exp((double)x[base + k * inner] - m) / sum);
            } else if (n->op == IR_OP_LAYERNORM) {
                double mean = 0.0, var = 0.0;
                for (int64_t k = 0; k < len; k++) mean += x[base + k * inner];
                mean /= (double)len;
                for (int64_t k = 0; k < len; k++) {
                    double d = (double)x[base + k * inner] - mean;
                    var += d * d;
                }
                var /= (double)len;
                double rs = 1.0 / sqrt(var + eps);
                for (int64_t k = 0; k < len; k++) {
                    double y = ((double)x[base + k * inner] - mean) * rs;
                    if (gamma) y *= (double)gamma[k];
                    if (beta) y += (double)beta[k];
                    out[base + k * inner] = (float)y;
                }
            } else { /* RMSNORM */
                double ms = 0.0;
                for (int64_t k = 0; k < len; k++) ms += (double)x[base + k * inner] * x[base + k * inner];
                ms /= (double)len;
                double rs = 1.0 / sqrt(ms + eps);
                for (int64_t k = 0; k < len; k++) {
                    double y = (double)x[base + k * inner] * rs;
                    if (gamma) y *= (double)gamma[k];
                    out[base + k * inner] = (float)y;
                }
            }
        }
}

static int64_t stride_of(const IrShape *s, int p) {
    int64_t st[IR_MAX_RANK];
    ir_strides(s, st);
    return st[p];
}

/* GATHER, ARGMAX, CMP, WHERE, PAD, ROLL, CONV2D */
static void eval_new(const IrNode *n, const IrShape *o, float **in, const IrShape **is, float *out) {
    Walk w;
    int64_t numel = ir_numel(o), k = 0;
    switch (n->op) {
    case IR_OP_CMP:
        walk_init(&w, o);
        walk_add(&w, o, is[0], 0);
        walk_add(&w, o, is[1], 0);
        do {
            double a = in[0][w.off[0]], b = in[1][w.off[1]];
            bool r = n->i[0] == 0 ? a == b : n->i[0] == 1 ? a != b : n->i[0] == 2 ? a < b : n->i[0] == 3 ? a <= b : n->i[0] == 4 ? a > b : a >= b;
            out[k++] = r ? 1.0f : 0.0f;
        } while (walk_next(&w));
        return;
    case IR_OP_WHERE:
        walk_init(&w, o);
        walk_add(&w, o, is[0], 0);
        walk_add(&w, o, is[1], 0);
        walk_add(&w, o, is[2], 0);
        do out[k++] = in[0][w.off[0]] != 0.0f ? in[1][w.off[1]] : in[2][w.off[2]];
        while (walk_next(&w));
        return;
    case IR_OP_ARGMAX: {
        int p = ir_axis_find(is[0], n->ax[0]);
        int64_t len = is[0]->ax[p].size, st = stride_of(is[0], p);
        walk_init(&w, o);
        walk_add(&w, o, is[0], 0);
        do {
            int64_t best = 0;
            for (int64_t j = 1; j < len; j++)
                if (in[0][w.off[0] + j * st] > in[0][w.off[0] + best * st]) best = j;
            out[k++] = (float)best;
        } while (walk_next(&w));
        return;
    }
    case IR_OP_GATHER: {
        /* out axes = a's before p, idx's axes, a's after p */
        int p = ir_axis_find(is[0], n->ax[0]);
        int64_t len = is[0]->ax[p].size, st = stride_of(is[0], p);
        IrShape rest = *is[0];
        for (int d = p; d < rest.rank - 1; d++) rest.ax[d] = rest.ax[d + 1];
        rest.rank--;
        walk_init(&w, o);
        walk_add(&w, o, &rest, 0);
        walk_add(&w, o, is[1], 0);
        /* the strides of a's other axes must skip axis p */
        for (int d = 0; d < o->rank; d++) {
            int j = ir_axis_find(is[0], o->ax[d].name);
            bool from_idx = d >= p && d < p + is[1]->rank;
            w.st[0][d] = (j >= 0 && j != p && !from_idx) ? stride_of(is[0], j) : 0;
        }
        do {
            int64_t ix = (int64_t)in[1][w.off[1]];
            if (ix < 0) ix += len;
            out[k++] = (ix >= 0 && ix < len) ? in[0][w.off[0] + ix * st] : 0.0f;
        } while (walk_next(&w));
        return;
    }
    case IR_OP_PAD: case IR_OP_ROLL: {
        int p = ir_axis_find(o, n->ax[0]);
        int64_t outer = span(o, 0, p), inner = span(o, p + 1, o->rank);
        int64_t ni = is[0]->ax[p].size, no = o->ax[p].size;
        for (int64_t q = 0; q < outer; q++)
            for (int64_t j = 0; j < no; j++) {
                float *dst = out + (q * no + j) * inner;
                int64_t sj;
                if (n->op == IR_OP_PAD) sj = j - n->i[0];
                else sj = ((j - n->i[0]) % ni + ni) % ni;
                if (sj < 0 || sj >= ni) for (int64_t r = 0; r < inner; r++) dst[r] = n->f[0];
                else memcpy(dst, in[0] + (q * ni + sj) * inner, (size_t)inner * sizeof *dst);
            }
        return;
    }
    case IR_OP_CONV2D: {
        const IrShape *xs = is[0], *ws = is[1];
        int pc = ir_axis_find(xs, n->ax[0]), ph = ir_axis_find(xs, n->ax[1]), pw = ir_axis_find(xs, n->ax[2]);
        int64_t sc = stride_of(xs, pc), sh = stride_of(xs, ph), sw = stride_of(xs, pw);
        int64_t oc_st = stride_of(o, pc), oh_st = stride_of(o, ph), ow_st = stride_of(o, pw);
        int64_t O = ws->ax[0].size, CI = ws->ax[1].size, KH = ws->ax[2].size, KW = ws->ax[3].size;
        int64_t G = n->i[2], opg = O / G, OH = o->ax[ph].size, OW = o->ax[pw].size;
        /* walk the other (batch) axes of the output */
        IrShape other = *o;
        other.ax[pc].size = other.ax[ph].size = other.ax[pw].size = 1;
        walk_init(&w, &other);
        walk_add(&w, &other, o, 0);
        walk_add(&w, &other, xs, 0);
        /* ir_bcast_strides uses the output's strides for the out slot; fix them */
        for (int d = 0; d < o->rank; d++) { w.st[0][d] = stride_of(o, d); w.st[1][d] = stride_of(xs, d); }
        do {
            for (int64_t oc = 0; oc < O; oc++) {
                int64_t g = oc / opg;
                for (int64_t y = 0; y < OH; y++)
                    for (int64_t x = 0; x < OW; x++) {
                        double acc = 0;
                        for (int64_t ci = 0; ci < CI; ci++)
                            for (int64_t ky = 0; ky < KH; ky++)
                                for (int64_t kx = 0; kx < KW; kx++)
                                    acc += (double)in[0][w.off[1] + (g * CI + ci) * sc + (y * n->i[0] + ky) * sh + (x * n->i[1] + kx) * sw] *
                                           (double)in[1][((oc * CI + ci) * KH + ky) * KW + kx];
                        out[w.off[0] + oc * oc_st + y * oh_st + x * ow_st] = (float)acc;
                    }
            }
        } while (walk_next(&w));
        (void)numel;
        return;
    }
    default: return;
    }
}

static void eval_node(const IrGraph *g, int i, float **bufs) {
    const IrNode *n = &g->nodes[i];
    const IrShape *o = &n->shape;
    float *out = bufs[i];
    int64_t numel = ir_numel(o);
    float *in[IR_MAX_SRC] = {0};
    const IrShape *is[IR_MAX_SRC] = {0};
    for (int s = 0; s < n->nsrc; s++) {
        in[s] = bufs[n->src[s]];
        is[s] = &g->nodes[n->src[s]].shape;
    }
    if (numel == 0) return;
    Walk w;
    switch (n->op) {
    case IR_OP_INPUT: case IR_OP_PARAM: case IR_OP_CONST: case IR_OP_COUNT:
        return;
    case IR_OP_ADD: case IR_OP_SUB: case IR_OP_MUL: case IR_OP_DIV: {
        walk_init(&w, o);
        walk_add(&w, o, is[0], 0);
        walk_add(&w, o, is[1], 0);
        int64_t k = 0;
        do out[k++] = (float)binary(n->op, in[0][w.off[0]], in[1][w.off[1]]);
        while (walk_next(&w));
        return;
    }
    case IR_OP_SCALE: case IR_OP_GELU: case IR_OP_GELU_TANH: case IR_OP_QUICK_GELU:
    case IR_OP_SILU: case IR_OP_SIGMOID: case IR_OP_RELU: case IR_OP_EXP: case IR_OP_TANH: case IR_OP_RSQRT:
        for (int64_t k = 0; k < numel; k++) out[k] = (float)unary(n->op, in[0][k], n->f);
        return;
    case IR_OP_SOFTMAX: case IR_OP_LAYERNORM: case IR_OP_RMSNORM:
        eval_norm(n, o, in, out);
        return;
    case IR_OP_SUM: case IR_OP_MEAN: case IR_OP_CONTRACT: {
        bool two = n->op == IR_OP_CONTRACT;
        Red r;
        red_init(&r, n, is[0], two ? is[1] : NULL);
        double count = 1.0;
        for (int d = 0; d < r.rank; d++) count *= (double)r.size[d];
        walk_init(&w, o);
        walk_add(&w, o, is[0], 0);
        if (two) walk_add(&w, o, is[1], 0);
        int64_t k = 0;
        do {
            double v = red_sum(&r, in[0], w.off[0], two ? in[1] : NULL, two ? w.off[1] : 0);
            out[k++] = (float)(n->op == IR_OP_MEAN ? v / count : v);
        } while (walk_next(&w));
        return;
    }
    case IR_OP_RESHAPE:
        memmove(out, in[0], (size_t)numel * sizeof *out);
        return;
    case IR_OP_PERMUTE: case IR_OP_SELECT: case IR_OP_SLICE: {
        int64_t base = 0;
        if (n->op != IR_OP_PERMUTE) {
            int64_t st[IR_MAX_RANK];
            ir_strides(is[0], st);
            base = n->i[0] * st[ir_axis_find(is[0], n->ax[0])];
        }
        walk_init(&w, o);
        walk_add(&w, o, is[0], base);
        int64_t k = 0;
        do out[k++] = in[0][w.off[0]];
        while (walk_next(&w));
        return;
    }
    case IR_OP_CONCAT: {
        int p = ir_axis_find(o, n->ax[0]);
        int64_t outer = span(o, 0, p), inner = span(o, p + 1, o->rank);
        int64_t na = is[0]->ax[p].size * inner, nb = is[1]->ax[p].size * inner;
        for (int64_t q = 0; q < outer; q++) {
            if (na) memcpy(out + q * (na + nb), in[0] + q * na, (size_t)na * sizeof *out);
            if (nb) memcpy(out + q * (na + nb) + na, in[1] + q * nb, (size_t)nb * sizeof *out);
        }
        return;
    }
    case IR_OP_RESAMPLE: {
        int p = ir_axis_find(is[0], n->ax[0]);
        vitrt_resample(in[0], out, span(o, 0, p), is[0]->ax[p].size, is[0]->ax[p + 1].size,
                       o->ax[p].size, o->ax[p + 1].size, span(o, p + 2, o->rank), (int)n->i[0]);
        return;
    }
    case IR_OP_GATHER: case IR_OP_ARGMAX: case IR_OP_CMP: case IR_OP_WHERE:
    case IR_OP_PAD: case IR_OP_ROLL: case IR_OP_CONV2D:
        eval_new(n, o, in, is, out);
        return;
    }
}

void interp_eval_node(const IrGraph *g, int i, float **bufs) { eval_node(g, i, bufs); }

int interp_run(const IrGraph *g, float **bufs, char *err, size_t errlen) {
    if (interp_check(g, err, errlen)) return -1;
    if (!bufs) {
        if (err && errlen) snprintf(err, errlen, "no buffers");
        return -1;
    }
    for (int i = 0; i < g->n; i++)
        if (!bufs[i] && ir_numel(&g->nodes[i].shape) > 0) {
            Ctx c = {g, i, &g->nodes[i], err, errlen};
            return fail(&c, "no buffer");
        }
    for (int i = 0; i < g->n; i++) eval_node(g, i, bufs);
    return 0;
}
