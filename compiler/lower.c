/* compiler/lower.c — rewrite every CONTRACT into batched-GEMM form.
 * The graph is copied node by node into a new graph; a contraction whose
 * operands are not laid out [B, M, K] / [B, K, M] and [B, K, N] / [B, N, K]
 * gets PERMUTE nodes on the operands, and one after it when its declared
 * axis order is not [B, M, N], so the graph computes the same values.
 * Summed axes only one operand has are summed away first (a SUM node). */
#include "codegen.h"

#include <stdio.h>
#include <string.h>

/* An ordered list of axes (names owned by the graph being built). */
typedef struct {
    int n;
    const char *name[IR_MAX_RANK];
    int64_t size[IR_MAX_RANK];
} Axes;

/* The four axis groups of a contraction. */
typedef struct {
    Axes b, m, n, k; /* batch, a-only kept, b-only kept, summed */
} Parts;

static void axes_push(Axes *l, const char *name, int64_t size) {
    l->name[l->n] = name;
    l->size[l->n++] = size;
}

static int axes_has(const Axes *l, const char *name) {
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->name[i], name)) return 1;
    return 0;
}

static int summed(const IrNode *n, const char *name) {
    for (int i = 0; i < n->nax; i++)
        if (!strcmp(n->ax[i], name)) return 1;
    return 0;
}

/* Does s equal the concatenation p0 p1 p2 (names, in order)? */
static int shape_is(const IrShape *s, const Axes *p0, const Axes *p1, const Axes *p2) {
    const Axes *p[3] = {p0, p1, p2};
    int r = 0;
    for (int j = 0; j < 3; j++)
        for (int i = 0; i < p[j]->n; i++, r++)
            if (r >= s->rank || strcmp(s->ax[r].name, p[j]->name[i])) return 0;
    return r == s->rank;
}

static IrShape shape_cat(const Axes *p0, const Axes *p1, const Axes *p2) {
    const Axes *p[3] = {p0, p1, p2};
    IrShape s = {0};
    for (int j = 0; j < 3; j++)
        for (int i = 0; i < p[j]->n; i++) {
            s.ax[s.rank].name = p[j]->name[i];
            s.ax[s.rank++].size = p[j]->size[i];
        }
    return s;
}

static int64_t axes_numel(const Axes *l) {
    int64_t m = 1;
    for (int i = 0; i < l->n; i++) m *= l->size[i];
    return m;
}

/* Splits the axes of a contraction of a and b.  K is in `korder`'s order
 * (a or b).  Every summed axis must be in both operands.  0 on success. */
static int parts_of(const IrNode *n, const IrShape *a, const IrShape *b, const IrShape *korder,
                    Parts *p, char *err, size_t errlen) {
    memset(p, 0, sizeof *p);
    for (int i = 0; i < a->rank; i++) {
        const IrAxis *x = &a->ax[i];
        int j = ir_axis_find(b, x->name);
        if (j >= 0 && b->ax[j].size != x->size) {
            snprintf(err, errlen, "contraction: axis '%s' is %lld in a but %lld in b", x->name,
                     (long long)x->size, (long long)b->ax[j].size);
            return -1;
        }
        if (summed(n, x->name)) {
            if (j < 0) {
                snprintf(err, errlen, "contraction: summed axis '%s' missing from b", x->name);
                return -1;
            }
        } else {
            axes_push(j >= 0 ? &p->b : &p->m, x->name, x->size);
        }
    }
    for (int i = 0; i < b->rank; i++) {
        const IrAxis *x = &b->ax[i];
        if (summed(n, x->name)) {
            if (ir_axis_find(a, x->name) < 0) {
                snprintf(err, errlen, "contraction: summed axis '%s' missing from a", x->name);
                return -1;
            }
        } else if (ir_axis_find(a, x->name) < 0) {
            axes_push(&p->n, x->name, x->size);
        }
    }
    for (int i = 0; i < korder->rank; i++)
        if (summed(n, korder->ax[i].name)) axes_push(&p->k, korder->ax[i].name, korder->ax[i].size);
    return 0;
}

int lower_gemm_shape(const IrGraph *g, const IrNode *n, LowerGemm *gm) {
    if (n->op != IR_OP_CONTRACT || n->nsrc != 2) return 0;
    const IrShape *a = &g->nodes[n->src[0]].shape, *b = &g->nodes[n->src[1]].shape;
    Parts p;
    char err[8];
    if (parts_of(n, a, b, a, &p, err, sizeof err)) return 0;
    if (p.k.n != n->nax) return 0;
    if (!shape_is(&n->shape, &p.b, &p.m, &p.n)) return 0;
    if (shape_is(a, &p.b, &p.m, &p.k)) gm->trans_a = 0;
    else if (shape_is(a, &p.b, &p.k, &p.m)) gm->trans_a = 1;
    else return 0;
    if (shape_is(b, &p.b, &p.k, &p.n)) gm->trans_b = 0;
    else if (shape_is(b, &p.b, &p.n, &p.k)) gm->trans_b = 1;
    else return 0;
    gm->batch = axes_numel(&p.b);
    gm->m = axes_numel(&p.m);
    gm->n = axes_numel(&p.n);
    gm->k = axes_numel(&p.k);
    return 1;
}

/* ---- copying ------------------------------------------------------------ */

static void shape_copy(IrGraph *ng, IrShape *d, const IrShape *s) {
    *d = *s;
    for (int i = 0; i < s->rank; i++) d->ax[i].name = ir_strdup(ng, s->ax[i].name);
}

static IrNode node_copy(IrGraph *ng, const IrNode *n, const int *map) {
    IrNode c = *n;
    for (int s = 0; s < n->nsrc; s++) c.src[s] = map[n->src[s]];
    shape_copy(ng, &c.shape, &n->shape);
    shape_copy(ng, &c.stored, &n->stored);
    for (int a = 0; a < n->nax; a++) c.ax[a] = ir_strdup(ng, n->ax[a]);
    c.key = ir_strdup(ng, n->key);
    c.scope = ir_strdup(ng, n->scope);
    c.label = ir_strdup(ng, n->label);
    if (n->cdata) {
        size_t bytes = (size_t)ir_numel(&n->shape) * sizeof(float);
        c.cdata = ir_alloc(ng, bytes);
        memcpy(c.cdata, n->cdata, bytes);
    }
    c.offset = -1;
    return c;
}

/* A new node derived from `like` (keeps its loc, scope and label). */
static int add_derived(IrGraph *ng, const IrNode *like, enum ir_op op, int src, const IrShape *shape) {
    IrNode d = {0};
    d.op = op;
    d.nsrc = 1;
    d.src[0] = src;
    d.shape = *shape;
    d.scope = like->scope;
    d.label = like->label;
    d.loc = like->loc;
    return ir_node_add(ng, &d);
}

static int add_permute(IrGraph *ng, const IrNode *like, int src, const IrShape *shape) {
    return add_derived(ng, like, IR_OP_PERMUTE, src, shape);
}

/* Sums away the axes of operand `side` that c sums but the other operand
 * lacks; returns the (possibly new) operand node. */
static int sum_one_sided(IrGraph *ng, const IrNode *c, int side) {
    const IrShape *s = &ng->nodes[c->src[side]].shape;
    const IrShape *o = &ng->nodes[c->src[1 - side]].shape;
    IrShape kept = {0};
    const char *gone[IR_MAX_RANK];
    int ngone = 0;
    for (int i = 0; i < s->rank; i++) {
        if (summed(c, s->ax[i].name) && ir_axis_find(o, s->ax[i].name) < 0) gone[ngone++] = s->ax[i].name;
        else kept.ax[kept.rank++] = s->ax[i];
    }
    if (!ngone) return c->src[side];
    int id = add_derived(ng, c, IR_OP_SUM, c->src[side], &kept);
    ng->nodes[id].nax = ngone;
    for (int i = 0; i < ngone; i++) ng->nodes[id].ax[i] = gone[i];
    return id;
}

static void fail_at(const IrGraph *g, const IrNode *n, char *err, size_t errlen, const char *msg) {
    if (n->loc.file >= 0 && n->loc.file < g->nfiles)
        snprintf(err, errlen, "%s:%d:%d: %s", g->files[n->loc.file], n->loc.line, n->loc.col, msg);
    else
        snprintf(err, errlen, "%s", msg);
}

/* Adds the canonical form of contraction c (sources already in ng) and
 * returns the index of the node holding c's value in c's declared order. */
static int lower_one(IrGraph *ng, IrNode c, char *err, size_t errlen) {
    char msg[256];
    for (int i = 0; i < c.nax; i++)
        if (ir_axis_find(&ng->nodes[c.src[0]].shape, c.ax[i]) < 0 &&
            ir_axis_find(&ng->nodes[c.src[1]].shape, c.ax[i]) < 0) {
            snprintf(msg, sizeof msg, "contraction sums over axis '%s' that neither operand has", c.ax[i]);
            fail_at(ng, &c, err, errlen, msg);
            return -1;
        }
    c.src[0] = sum_one_sided(ng, &c, 0);
    c.src[1] = sum_one_sided(ng, &c, 1);
    IrShape a = ng->nodes[c.src[0]].shape, b = ng->nodes[c.src[1]].shape;
    int nax = 0; /* what is left to sum: the axes both operands have */
    for (int i = 0; i < c.nax; i++)
        if (ir_axis_find(&a, c.ax[i]) >= 0) c.ax[nax++] = c.ax[i];
    c.nax = nax;

    Parts p;
    if (parts_of(&c, &a, &b, &a, &p, msg, sizeof msg)) { fail_at(ng, &c, err, errlen, msg); return -1; }
    /* the declared output must hold exactly B, M and N */
    int ok = c.shape.rank == p.b.n + p.m.n + p.n.n;
    for (int i = 0; ok && i < c.shape.rank; i++) {
        const IrAxis *x = &c.shape.ax[i];
        int ia = ir_axis_find(&a, x->name), ib = ir_axis_find(&b, x->name);
        int64_t want = ia >= 0 ? a.ax[ia].size : ib >= 0 ? b.ax[ib].size : -1;
        ok = want == x->size && !summed(&c, x->name);
    }
    if (!ok) {
        fail_at(ng, &c, err, errlen, "contraction: declared output axes do not match its operands");
        return -1;
    }
    /* K order: a's, unless only b is already laid out with its own order */
    int a_ok = shape_is(&a, &p.b, &p.m, &p.k) || shape_is(&a, &p.b, &p.k, &p.m);
    if (!a_ok) {
        Parts q;
        if (!parts_of(&c, &a, &b, &b, &q, msg, sizeof msg) &&
            (shape_is(&b, &q.b, &q.k, &q.n) || shape_is(&b, &q.b, &q.n, &q.k)))
            p.k = q.k;
    }
    /* operands: permute to the layout keeping their last axis last */
    if (!shape_is(&a, &p.b, &p.m, &p.k) && !shape_is(&a, &p.b, &p.k, &p.m)) {
        IrShape t = axes_has(&p.m, a.ax[a.rank - 1].name) ? shape_cat(&p.b, &p.k, &p.m)
                                                           : shape_cat(&p.b, &p.m, &p.k);
        c.src[0] = add_permute(ng, &c, c.src[0], &t);
    }
    if (!shape_is(&b, &p.b, &p.k, &p.n) && !shape_is(&b, &p.b, &p.n, &p.k)) {
        IrShape t = axes_has(&p.n, b.ax[b.rank - 1].name) ? shape_cat(&p.b, &p.k, &p.n)
                                                           : shape_cat(&p.b, &p.n, &p.k);
        c.src[1] = add_permute(ng, &c, c.src[1], &t);
    }
    if (shape_is(&c.shape, &p.b, &p.m, &p.n)) return ir_node_add(ng, &c);
    IrShape declared = c.shape;
    c.shape = shape_cat(&p.b, &p.m, &p.n);
    int id = ir_node_add(ng, &c);
    return add_permute(ng, &c, id, &declared);
}

IrGraph *lower_contractions(const IrGraph *g, char *err, size_t errlen) {
    IrGraph *ng = ir_graph_new();
    int *map = ng ? ir_alloc(ng, (size_t)(g->n ? g->n : 1) * sizeof *map) : NULL;
    if (!ng) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ng->name = ir_strdup(ng, g->name);
    ng->pre = g->pre;
    ng->nfiles = g->nfiles;
    ng->files = ir_alloc(ng, (size_t)(g->nfiles ? g->nfiles : 1) * sizeof *ng->files);
    for (int i = 0; i < g->nfiles; i++) ng->files[i] = ir_strdup(ng, g->files[i]);
    ng->nunused = g->nunused;
    ng->unused = ir_alloc(ng, (size_t)(g->nunused ? g->nunused : 1) * sizeof *ng->unused);
    for (int i = 0; i < g->nunused; i++) ng->unused[i] = (char *)ir_strdup(ng, g->unused[i]);

    for (int i = 0; i < g->n; i++) {
        const IrNode *n = &g->nodes[i];
        for (int s = 0; s < n->nsrc; s++)
            if (n->src[s] < 0 || n->src[s] >= i) {
                snprintf(err, errlen, "node %d: source %d out of order", i, n->src[s]);
                ir_graph_free(ng);
                return NULL;
            }
        IrNode c = node_copy(ng, n, map);
        map[i] = c.op == IR_OP_CONTRACT ? lower_one(ng, c, err, errlen) : ir_node_add(ng, &c);
        if (map[i] < 0) {
            ir_graph_free(ng);
            return NULL;
        }
    }
    for (int i = 0; i < g->nout; i++) ir_output_add(ng, g->outputs[i].name, map[g->outputs[i].node]);
    ng->arena_floats = 0;
    ng->meta = ir_strdup(ng, g->meta);
    return ng;
}
