/* compiler/project.c — directions mode without materialised contributions.
 *
 * The decomposition's terms T [comp, ...] are built by linear ops from
 * small pieces; projecting them, P = contract(T, D; C), needs only the
 * transpose of those ops applied to D (DESIGN.md section 4).  push(x, D, C)
 * returns a node equal to contract(x, D; C) (ir.h CONTRACT, axes in that
 * order: x's not summed, then D's not in x) and moves the contraction
 * towards the sources, per op:
 *   CONCAT (not along D's axes), ADD, SUB  distribute over the operands;
 *   PERMUTE, SELECT, SLICE, SCALE (no offset)  commute;
 *   RESHAPE  commutes when the axes D shares with x are a suffix of x that the
 *            source ends with too (sizes equal; renamed axes rename D);
 *   MUL, DIV by a factor without `comp`  commute when the factor shares no
 *            axis with D, else fold into D (D * f, D / f);
 *   CONTRACT with an operand without `comp` (a weight, frozen attention)
 *            reassociates: contract(contract(t, w; S), D; C) =
 *            contract(t, contract(w, D; C_w); S + C_t);
 *   SUM, MEAN  widen D over the reduced axes (or commute when that is big).
 * Anything else, and any fold that would make a direction tensor larger
 * than the tensor it stands for, stops: the contraction is emitted there,
 * on the materialised value (always correct).  Direction tensors are
 * small, data-independent or per-image; the terms the rules walk through
 * are never assembled. */
#include "project.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMP "comp"         /* the axis contrib.c gives its terms */
#define PROJECT_MAX_DEPTH 2000
#define NO_RULE (-2)

typedef struct {
    const char *n[IR_MAX_RANK];
    int k;
} Axes;

typedef struct {
    int x, d;
    Axes c;
    int result;
} Memo;

typedef struct {
    IrGraph *g;
    Memo *memo;
    int nmemo, capmemo;
    int depth;
    char *err;
    size_t errlen;
} Px;

static const IrNode *N(const Px *p, int i) { return &p->g->nodes[i]; }
static bool has(const IrShape *s, const char *a) { return ir_axis_find(s, a) >= 0; }

static bool in_set(const Axes *s, const char *a) {
    for (int i = 0; i < s->k; i++)
        if (!strcmp(s->n[i], a)) return true;
    return false;
}

static void set_add(Axes *s, const char *a) {
    if (!in_set(s, a) && s->k < IR_MAX_RANK) s->n[s->k++] = a;
}

static bool set_eq(const Axes *a, const Axes *b) {
    if (a->k != b->k) return false;
    for (int i = 0; i < a->k; i++)
        if (!in_set(b, a->n[i])) return false;
    return true;
}

static int fail(Px *p, int x, const char *what) {
    char sh[256];
    ir_shape_str(&N(p, x)->shape, sh, sizeof sh);
    snprintf(p->err, p->errlen, "projection: %s (node %d %s %s)", what, x, ir_op_info[N(p, x)->op].name, sh);
    return -1;
}

/* ---- node makers ---------------------------------------------------------- */
static int emit(Px *p, IrNode *n, int like) {
    const IrNode *l = N(p, like);
    n->loc = l->loc;
    n->scope = l->scope;
    n->label = "proj";
    n->offset = -1;
    return ir_node_add(p->g, n);
}

/* contract(x, d; c)'s axes: x's not summed, then d's neither in x nor summed */
static bool out_shape(const IrShape *x, const IrShape *d, const Axes *c, IrShape *o) {
    *o = (IrShape){0};
    for (int i = 0; i < x->rank; i++)
        if (!in_set(c, x->ax[i].name)) o->ax[o->rank++] = x->ax[i];
    for (int i = 0; i < d->rank; i++)
        if (!has(x, d->ax[i].name) && !in_set(c, d->ax[i].name)) {
            if (o->rank == IR_MAX_RANK) return false;
            o->ax[o->rank++] = d->ax[i];
        }
    return true;
}

/* y with its axes in the order of `want` (the same set) */
static int permute_to(Px *p, int y, const IrShape *want, int like) {
    IrShape s = N(p, y)->shape;
    bool same = s.rank == want->rank;
    for (int i = 0; same && i < s.rank; i++) same = !strcmp(s.ax[i].name, want->ax[i].name);
    if (same) return y;
    if (s.rank != want->rank) return fail(p, y, "internal: axes differ from the expected ones");
    for (int i = 0; i < want->rank; i++)
        if (!has(&s, want->ax[i].name)) return fail(p, y, "internal: axes differ from the expected ones");
    IrNode n = {.op = IR_OP_PERMUTE, .nsrc = 1, .src = {y}, .shape = *want};
    return emit(p, &n, like);
}

/* elementwise op of a and b; axes: a's, then b's missing ones */
static int op2(Px *p, enum ir_op op, int a, int b, int like) {
    IrNode n = {.op = op, .nsrc = 2, .src = {a, b}, .shape = N(p, a)->shape};
    const IrShape *sb = &N(p, b)->shape;
    for (int i = 0; i < sb->rank; i++)
        if (!has(&n.shape, sb->ax[i].name)) {
            if (n.shape.rank == IR_MAX_RANK) return fail(p, a, "too many axes");
            n.shape.ax[n.shape.rank++] = sb->ax[i];
        }
    return emit(p, &n, like);
}

static int reduce(Px *p, enum ir_op op, int y, const Axes *r, int like) {
    if (!r->k) return y;
    IrNode n = {.op = op, .nsrc = 1, .src = {y}, .nax = r->k};
    for (int i = 0; i < r->k; i++) n.ax[i] = r->n[i];
    const IrShape *s = &N(p, y)->shape;
    for (int i = 0; i < s->rank; i++)
        if (!in_set(r, s->ax[i].name)) n.shape.ax[n.shape.rank++] = s->ax[i];
    return emit(p, &n, like);
}

/* contract(x, d; c) as one node, c within the axes of both (a product when empty) */
static int base(Px *p, int x, int d, const Axes *c, int like) {
    if (!c->k) return op2(p, IR_OP_MUL, x, d, like);
    IrNode n = {.op = IR_OP_CONTRACT, .nsrc = 2, .src = {x, d}, .nax = c->k};
    for (int i = 0; i < c->k; i++) n.ax[i] = c->n[i];
    if (!out_shape(&N(p, x)->shape, &N(p, d)->shape, c, &n.shape)) return fail(p, x, "too many axes");
    return emit(p, &n, like);
}

/* ---- the rules --------------------------------------------------------------- */
static int push(Px *p, int x, int d, Axes c);

/* the source of a unary op x, pushed; NO_RULE when D has the axis the op acts on */
static int through_unary(Px *p, int x, int d, const Axes *c, const IrShape *want) {
    IrNode n = *N(p, x);
    for (int i = 0; i < n.nax; i++)
        if (has(&N(p, d)->shape, n.ax[i])) return NO_RULE;
    int r = push(p, n.src[0], d, *c);
    if (r < 0) return r;
    switch (n.op) {
    case IR_OP_PERMUTE: return permute_to(p, r, want, x);
    case IR_OP_SCALE:
        n.shape = N(p, r)->shape;
        break;
    default: /* SELECT, SLICE: the canonical order of the source, less or shorter the axis */
        n.shape = *want;
        break;
    }
    n.src[0] = r;
    return emit(p, &n, x);
}

/* RESHAPE: when the axes D shares with x are trailing axes of x, and the source ends in
 * axes of the same sizes (renamed: D is renamed alike) */
static int through_reshape(Px *p, int x, int d, const Axes *c, const IrShape *want) {
    const IrShape X = N(p, x)->shape, S = N(p, N(p, x)->src[0])->shape, D = N(p, d)->shape;
    int m = 0;
    for (int i = 0; i < X.rank; i++) m += has(&D, X.ax[i].name);
    if (S.rank < m) return NO_RULE;
    IrShape D2 = D; /* D with x's trailing axes renamed to the source's */
    Axes c2 = {0};
    for (int j = 0; j < m; j++) {
        const IrAxis *a = &X.ax[X.rank - m + j], *b = &S.ax[S.rank - m + j];
        if (!has(&D, a->name) || a->size != b->size) return NO_RULE;
        D2.ax[ir_axis_find(&D, a->name)].name = b->name;
        if (in_set(c, a->name)) set_add(&c2, b->name);
    }
    for (int i = 0; i < D2.rank; i++) {
        if (!has(&X, D.ax[i].name) && has(&S, D.ax[i].name)) return NO_RULE;
        for (int j = 0; j < i; j++)
            if (!strcmp(D2.ax[i].name, D2.ax[j].name)) return NO_RULE;
    }
    bool renamed = false;
    for (int i = 0; i < D.rank; i++) renamed |= strcmp(D.ax[i].name, D2.ax[i].name) != 0;
    if (renamed) {
        IrNode rn = {.op = IR_OP_RESHAPE, .nsrc = 1, .src = {d}, .shape = D2};
        d = emit(p, &rn, x);
    }
    int r = push(p, N(p, x)->src[0], d, c2);
    if (r < 0) return r;
    IrNode n = {.op = IR_OP_RESHAPE, .nsrc = 1, .src = {r}, .shape = *want};
    return emit(p, &n, x);
}

static int through_concat(Px *p, int x, int d, const Axes *c, const IrShape *want) {
    IrNode n = *N(p, x);
    if (has(&N(p, d)->shape, n.ax[0])) return NO_RULE;
    int a = push(p, n.src[0], d, *c);
    if (a < 0) return a;
    int b = push(p, n.src[1], d, *c);
    if (b < 0) return b;
    n.src[0] = a;
    n.src[1] = b;
    n.shape = *want;
    return emit(p, &n, x);
}

static int through_add(Px *p, int x, int d, const Axes *c, const IrShape *want) {
    IrNode n = *N(p, x);
    int a = push(p, n.src[0], d, *c);
    if (a < 0) return a;
    int b = push(p, n.src[1], d, *c);
    if (b < 0) return b;
    int r = op2(p, n.op, a, b, x);
    return r < 0 ? r : permute_to(p, r, want, x);
}

/* MUL, DIV by f (no comp): commute when f shares no axis with D, else fold f into D */
static int through_mul(Px *p, int x, int d, const Axes *c, const IrShape *want) {
    const IrNode n = *N(p, x);
    bool ta = has(&N(p, n.src[0])->shape, COMP), tb = has(&N(p, n.src[1])->shape, COMP);
    if (ta == tb || (n.op == IR_OP_DIV && !ta)) return NO_RULE;
    int t = ta ? n.src[0] : n.src[1], f = ta ? n.src[1] : n.src[0];
    const IrShape F = N(p, f)->shape, D = N(p, d)->shape;
    bool shares = false;
    for (int i = 0; i < F.rank; i++) shares |= has(&D, F.ax[i].name);
    int r;
    if (!shares) {
        if ((r = push(p, t, d, *c)) < 0) return r;
        r = op2(p, n.op, r, f, x);
    } else {
        int64_t size = ir_numel(&D);
        for (int i = 0; i < F.rank; i++)
            if (!has(&D, F.ax[i].name)) size *= F.ax[i].size;
        if (size > ir_numel(&n.shape)) return NO_RULE;
        int d2 = op2(p, n.op, d, f, x);
        if (d2 < 0) return d2;
        r = push(p, t, d2, *c);
    }
    return r < 0 ? r : permute_to(p, r, want, x);
}

/* CONTRACT of t (comp) with w: E = contract(w, D; the summed axes only w has), then t with E */
static int through_contract(Px *p, int x, int d, const Axes *c, const IrShape *want) {
    const IrNode n = *N(p, x);
    bool ta = has(&N(p, n.src[0])->shape, COMP), tb = has(&N(p, n.src[1])->shape, COMP);
    if (ta == tb) return NO_RULE;
    int t = ta ? n.src[0] : n.src[1], w = ta ? n.src[1] : n.src[0];
    const IrShape T = N(p, t)->shape, W = N(p, w)->shape, D = N(p, d)->shape;
    for (int i = 0; i < D.rank; i++)
        if (!has(&n.shape, D.ax[i].name) && (has(&T, D.ax[i].name) || has(&W, D.ax[i].name))) return NO_RULE;
    Axes cw = {0}, c2 = {0};
    for (int i = 0; i < n.nax; i++) {
        if (has(&D, n.ax[i])) return NO_RULE;
        set_add(&c2, n.ax[i]);
    }
    for (int i = 0; i < c->k; i++) {
        if (has(&T, c->n[i])) set_add(&c2, c->n[i]);
        else if (has(&W, c->n[i])) set_add(&cw, c->n[i]);
    }
    IrShape E;
    if (!out_shape(&W, &D, &cw, &E) || ir_numel(&E) > ir_numel(&n.shape)) return NO_RULE;
    int e = base(p, w, d, &cw, x);
    if (e < 0) return e;
    int r = push(p, t, e, c2);
    return r < 0 ? r : permute_to(p, r, want, x);
}

/* SUM, MEAN over R: D widened over R (a constant 1 or 1/n), or the reduction kept on the result */
static int through_reduce(Px *p, int x, int d, const Axes *c, const IrShape *want) {
    const IrNode n = *N(p, x);
    const IrShape S = N(p, n.src[0])->shape, D = N(p, d)->shape;
    Axes r = {0};
    IrNode ones = {.op = IR_OP_CONST};
    for (int i = 0; i < n.nax; i++) {
        if (has(&D, n.ax[i])) return NO_RULE;
        int j = ir_axis_find(&S, n.ax[i]);
        if (j < 0) return fail(p, x, "reduced axis not in its source");
        set_add(&r, n.ax[i]);
        ones.shape.ax[ones.shape.rank++] = S.ax[j];
    }
    int64_t cnt = ir_numel(&ones.shape);
    if (ir_numel(&D) * cnt > ir_numel(&S)) {
        int y = push(p, n.src[0], d, *c);
        return y < 0 ? y : reduce(p, n.op, y, &r, x);
    }
    ones.cdata = ir_alloc(p->g, sizeof(float) * (size_t)(cnt ? cnt : 1));
    for (int64_t i = 0; i < cnt; i++) ones.cdata[i] = n.op == IR_OP_MEAN ? 1.0f / (float)cnt : 1.0f;
    int o = emit(p, &ones, x);
    int d2 = op2(p, IR_OP_MUL, d, o, x);
    if (d2 < 0) return d2;
    Axes c2 = *c;
    for (int i = 0; i < r.k; i++) set_add(&c2, r.n[i]);
    int y = push(p, n.src[0], d2, c2);
    return y < 0 ? y : permute_to(p, y, want, x);
}

static int rule(Px *p, int x, int d, const Axes *c, const IrShape *want) {
    switch (N(p, x)->op) {
    case IR_OP_PERMUTE: case IR_OP_SELECT: case IR_OP_SLICE:
        return through_unary(p, x, d, c, want);
    case IR_OP_SCALE:
        return N(p, x)->f[1] == 0 ? through_unary(p, x, d, c, want) : NO_RULE;
    case IR_OP_RESHAPE: return through_reshape(p, x, d, c, want);
    case IR_OP_CONCAT: return through_concat(p, x, d, c, want);
    case IR_OP_ADD: case IR_OP_SUB: return through_add(p, x, d, c, want);
    case IR_OP_MUL: case IR_OP_DIV: return through_mul(p, x, d, c, want);
    case IR_OP_CONTRACT: return through_contract(p, x, d, c, want);
    case IR_OP_SUM: case IR_OP_MEAN: return through_reduce(p, x, d, c, want);
    default: return NO_RULE;
    }
}

/* contract(x, d; c), pushed as far as the rules go */
static int push(Px *p, int x, int d, Axes c) {
    IrShape X = N(p, x)->shape, D = N(p, d)->shape;
    /* summed axes x lacks: sum D over them first; axes D lacks: sum the result over them */
    Axes dsum = {0}, rsum = {0}, keep = {0};
    for (int i = 0; i < c.k; i++) {
        bool hx = has(&X, c.n[i]), hd = has(&D, c.n[i]);
        if (!hx && hd) set_add(&dsum, c.n[i]);
        else if (hx && !hd) set_add(&rsum, c.n[i]);
        else if (hx && hd) set_add(&keep, c.n[i]);
    }
    if (dsum.k && (d = reduce(p, IR_OP_SUM, d, &dsum, x)) < 0) return -1;
    if (rsum.k) {
        int r = push(p, x, d, keep);
        return r < 0 ? r : reduce(p, IR_OP_SUM, r, &rsum, x);
    }
    for (int i = 0; i < p->nmemo; i++)
        if (p->memo[i].x == x && p->memo[i].d == d && set_eq(&p->memo[i].c, &keep)) return p->memo[i].result;
    IrShape want;
    if (!out_shape(&X, &N(p, d)->shape, &keep, &want)) return fail(p, x, "too many axes");
    int r = NO_RULE;
    if (has(&X, COMP) && p->depth < PROJECT_MAX_DEPTH) {
        p->depth++;
        r = rule(p, x, d, &keep, &want);
        p->depth--;
    }
    if (r == NO_RULE) r = base(p, x, d, &keep, x);
    if (r < 0) return -1;
    if (p->nmemo == p->capmemo) {
        p->capmemo = p->capmemo ? 2 * p->capmemo : 256;
        p->memo = realloc(p->memo, sizeof(Memo) * (size_t)p->capmemo);
        if (!p->memo) { fprintf(stderr, "out of memory\n"); abort(); }
    }
    p->memo[p->nmemo++] = (Memo){x, d, keep, r};
    return r;
}

/* ---- the pass ------------------------------------------------------------------ */
int project_push(IrGraph *g, char *err, size_t errlen) {
    Px p = {.g = g, .err = err, .errlen = errlen};
    int n0 = g->n, done = 0;
    char *data = calloc((size_t)n0 + 1, 1);
    if (!data) { snprintf(err, errlen, "out of memory"); return -1; }
    for (int i = 0; i < n0; i++) {
        const IrNode *n = &g->nodes[i];
        data[i] = n->op == IR_OP_INPUT;
        for (int s = 0; s < n->nsrc; s++) data[i] |= data[n->src[s]];
    }
    for (int k = 0; k < g->nout; k++) {
        int o = g->outputs[k].node;
        if (o < 0 || o >= n0) { snprintf(err, errlen, "output %s: node out of range", g->outputs[k].name); done = -1; break; }
        const IrNode n = g->nodes[o];
        if (n.op != IR_OP_CONTRACT || n.nsrc != 2) continue;
        int t = -1, d = -1;
        for (int s = 0; s < 2; s++) {
            bool comp = has(&g->nodes[n.src[s]].shape, COMP);
            if (comp && data[n.src[s]]) t = n.src[s];
            else if (!comp && !data[n.src[s]]) d = n.src[s];
        }
        if (t < 0 || d < 0) continue;
        Axes c = {0};
        for (int i = 0; i < n.nax; i++) set_add(&c, n.ax[i]);
        int r = push(&p, t, d, c);
        if (r >= 0) r = permute_to(&p, r, &n.shape, o);
        if (r < 0) { done = -1; break; }
        g->outputs[k].node = r;
        done++;
    }
    free(data);
    free(p.memo);
    return done;
}
