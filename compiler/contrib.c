/* compiler/contrib.c — the decomposition pass: derive, from any graph, the
 * contributions of named components to one output (RepDecompose).
 *
 * 1. The residual stream is found without annotations: walking back from the
 *    output through ops whose class (ops.def) is affine or frozen-affine, at
 *    an add of two data tensors the operand that reaches the other's
 *    ancestors (or the input) through linear ops only is the stream; the
 *    other is a branch, one component (or several, split along named axes).
 * 2. Terms are tensors with a leading `comp` axis, one row per component;
 *    each op's rule is chosen by its class alone: affine ops act on every
 *    row, constants are shared (equally, or into a `bias` component),
 *    frozen-affine norms use the forward pass's statistics, bilinear ops
 *    need exactly one side with terms, non-linear ops end a term's journey.
 * 3. Inside a branch the stream is frozen (its forward value); a split axis
 *    is kept, not summed, at the last contraction of the branch that sums
 *    over it.
 * The derived nodes are appended to the same graph, so both engines run the
 * forward pass and the contributions together. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contrib.h"

typedef struct {
    IrGraph *g;
    const ContribOpts *o;
    char *err;
    size_t errlen;
    int nfwd;        /* number of forward nodes (before derivation) */
    char *data;      /* data[n]: node depends on the input */
    char *stream;    /* stream[n]: node is on the residual stream */
    int *T;          /* T[n]: terms node ([comp, ...shape of n]) or -1 */
    int *TN;         /* TN[n]: number of components in T[n] */
    int bias_comp;   /* index of the bias component, -1 when constants are shared */
    int stop;        /* the last non-linear node where the walk back from the output stopped, -1 if none */
    int full;        /* a derived tensor needed more than IR_MAX_RANK axes: the derivation fails */
    ContribComp *comps;
    int ncomp, capcomp;
} Cx;

static int failf(Cx *c, const IrNode *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int failf(Cx *c, const IrNode *n, const char *fmt, ...) {
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n && n->loc.file >= 0 && n->loc.file < c->g->nfiles)
        snprintf(c->err, c->errlen, "%s:%d:%d: %s", c->g->files[n->loc.file], n->loc.line, n->loc.col, msg);
    else
        snprintf(c->err, c->errlen, "%s", msg);
    return -1;
}

static IrNode *N(Cx *c, int i) { return &c->g->nodes[i]; }
static enum lin_class cls(Cx *c, int i) { return ir_op_info[N(c, i)->op].lin; }

/* ---- building nodes ------------------------------------------------------- */
static int emit(Cx *c, IrNode *n, int like) {
    if (c->full) return like; /* the derivation has failed; a valid index until the caller sees it */
    const IrNode *l = &c->g->nodes[like];
    n->loc = l->loc;
    n->scope = l->scope;
    n->label = "contrib";
    return ir_node_add(c->g, n);
}

/* s plus axis a, when there is room (else c->full) */
static void push_axis(Cx *c, IrShape *s, IrAxis a) {
    if (s->rank < IR_MAX_RANK) s->ax[s->rank++] = a;
    else c->full = 1;
}

static IrShape with_comp(Cx *c, int64_t ncomp, const IrShape *s) {
    if (s->rank >= IR_MAX_RANK) {
        c->full = 1;
        return *s;
    }
    IrShape o = {.rank = s->rank + 1};
    o.ax[0] = (IrAxis){"comp", ncomp};
    for (int i = 0; i < s->rank; i++) o.ax[i + 1] = s->ax[i];
    return o;
}

static int op1(Cx *c, enum ir_op op, int x, const IrShape *shape, int like) {
    IrNode n = {.op = op, .nsrc = 1, .src = {x}, .shape = *shape};
    return emit(c, &n, like);
}

/* elementwise binary op; out axes: a's, then b's missing ones */
static int op2(Cx *c, enum ir_op op, int a, int b, int like) {
    IrNode n = {.op = op, .nsrc = 2, .src = {a, b}, .shape = N(c, a)->shape};
    const IrShape *sb = &N(c, b)->shape;
    for (int i = 0; i < sb->rank; i++)
        if (ir_axis_find(&n.shape, sb->ax[i].name) < 0) push_axis(c, &n.shape, sb->ax[i]);
    return emit(c, &n, like);
}

static int scale(Cx *c, int x, float f0, float f1, int like) {
    IrNode n = {.op = IR_OP_SCALE, .nsrc = 1, .src = {x}, .shape = N(c, x)->shape, .f = {f0, f1}};
    return emit(c, &n, like);
}

static int reduce(Cx *c, enum ir_op op, int x, const char *ax, int like) {
    IrNode n = {.op = op, .nsrc = 1, .src = {x}, .nax = 1, .ax = {ax}};
    const IrShape *s = &N(c, x)->shape;
    for (int i = 0; i < s->rank; i++)
        if (strcmp(s->ax[i].name, ax)) push_axis(c, &n.shape, s->ax[i]);
    return emit(c, &n, like);
}

/* x permuted so that its axes are in the order of `to` (same axis set) */
static int permute_to(Cx *c, int x, IrShape tov, int like) {
    const IrShape *to = &tov;
    const IrShape *s = &N(c, x)->shape;
    bool same = s->rank == to->rank;
    for (int i = 0; same && i < s->rank; i++) same = !strcmp(s->ax[i].name, to->ax[i].name);
    if (same) return x;
    IrShape o = {.rank = to->rank};
    for (int i = 0; i < to->rank; i++) {
        int j = ir_axis_find(s, to->ax[i].name);
        if (j < 0) return -1;
        o.ax[i] = s->ax[j];
    }
    return op1(c, IR_OP_PERMUTE, x, &o, like);
}

/* weights over components: 1/N each (shared), or one-hot on the bias component */
static int comp_weights(Cx *c, int ncomp, int like) {
    IrNode n = {.op = IR_OP_CONST, .shape = {.rank = 1, .ax = {{"comp", ncomp}}}};
    n.cdata = ir_alloc(c->g, sizeof(float) * (size_t)ncomp);
    for (int i = 0; i < ncomp; i++)
        n.cdata[i] = c->bias_comp >= 0 ? (i == c->bias_comp ? 1.0f : 0.0f) : 1.0f / (float)ncomp;
    return emit(c, &n, like);
}

/* a constant (no terms) distributed over ncomp components: [comp, ...] */
static int const_part(Cx *c, int value, int ncomp, int like) {
    return op2(c, IR_OP_MUL, comp_weights(c, ncomp, like), value, like);
}

/* ---- analysis ------------------------------------------------------------- */
static void mark_data(Cx *c) {
    for (int i = 0; i < c->nfwd; i++) {
        IrNode *n = N(c, i);
        c->data[i] = n->op == IR_OP_INPUT;
        for (int s = 0; s < n->nsrc; s++) c->data[i] |= c->data[n->src[s]];
    }
}

/* sources of n that carry linear dependence on the stream (data sources
 * through which contributions flow): all data sources for affine ops, the
 * normalised input for frozen-affine ones, the data sides of bilinear ones. */
static int linear_srcs(Cx *c, int i, int *out) {
    const IrNode *n = N(c, i);
    int k = 0;
    for (int s = 0; s < n->nsrc; s++)
        if ((ir_op_info[n->op].linsrc >> s & 1) && c->data[n->src[s]]) out[k++] = n->src[s];
    return k;
}

/* Does operand `a` reach the input, or an ancestor of `other`, through
 * linear ops only?  anc = ancestors of other (inclusive). */
static bool reaches_linearly(Cx *c, int a, const char *anc, char *seen) {
    if (seen[a]) return true;
    seen[a] = 1;
    if (anc[a] || N(c, a)->op == IR_OP_INPUT) return true;
    enum lin_class k = cls(c, a);
    if (k == LIN_NONE || k == LIN_LEAF) return false;
    int s[IR_MAX_SRC], ns = linear_srcs(c, a, s);
    if (k == LIN_BILIN && ns != 1) return false; /* product of two data tensors */
    if (ns == 0) return false;
    for (int i = 0; i < ns; i++)
        if (!reaches_linearly(c, s[i], anc, seen)) return false;
    return true;
}

static void ancestors(Cx *c, int x, char *anc) {
    if (anc[x]) return;
    anc[x] = 1;
    for (int s = 0; s < N(c, x)->nsrc; s++) ancestors(c, N(c, x)->src[s], anc);
}

typedef struct { int add, stream_src, branch; } Branch;

/* Mark the stream backwards from the output; collect the branches. */
static int find_stream(Cx *c, int out, Branch **br, int *nbr) {
    int cap = 16;
    *br = malloc(sizeof(Branch) * (size_t)cap);
    *nbr = 0;
    char *anc = malloc((size_t)c->nfwd), *seen = malloc((size_t)c->nfwd);
    c->stream[out] = 1;
    int rc = 0;
    for (int i = out; i >= 0 && !rc; i--) {
        if (!c->stream[i]) continue;
        IrNode *n = N(c, i);
        enum lin_class k = cls(c, i);
        if (k == LIN_NONE || k == LIN_LEAF) { /* the stream starts here */
            if (k == LIN_NONE && c->stop < 0) c->stop = i;
            continue;
        }
        if ((n->op == IR_OP_ADD || n->op == IR_OP_SUB) && c->data[n->src[0]] && c->data[n->src[1]]) {
            int a = n->src[0], b = n->src[1];
            memset(anc, 0, (size_t)c->nfwd); memset(seen, 0, (size_t)c->nfwd);
            ancestors(c, b, anc);
            bool ra = reaches_linearly(c, a, anc, seen);
            memset(anc, 0, (size_t)c->nfwd); memset(seen, 0, (size_t)c->nfwd);
            ancestors(c, a, anc);
            bool rb = reaches_linearly(c, b, anc, seen);
            if (ra && rb) { c->stream[a] = c->stream[b] = 1; continue; }
            if (!ra && !rb) { rc = failf(c, n, "cannot find the residual stream at this %s: neither operand reaches the other's inputs through linear ops", ir_op_info[n->op].name); break; }
            if (n->op == IR_OP_SUB && !ra) { rc = failf(c, n, "a branch subtracted from the stream is not supported"); break; }
            int s = ra ? a : b, bb = ra ? b : a;
            c->stream[s] = 1;
            if (*nbr == cap) { cap *= 2; *br = realloc(*br, sizeof(Branch) * (size_t)cap); }
            (*br)[(*nbr)++] = (Branch){i, s, bb};
            continue;
        }
        int s[IR_MAX_SRC], ns = linear_srcs(c, i, s);
        if (k == LIN_BILIN && ns == 2) {
            /* a product of two data tensors (e.g. attention pooling on the stream): the side that
             * reaches the other's inputs through linear ops carries the stream, the other (a
             * softmax's probabilities) is frozen at its forward value, as inside branches */
            int a = s[0], b = s[1];
            memset(anc, 0, (size_t)c->nfwd); memset(seen, 0, (size_t)c->nfwd);
            ancestors(c, b, anc);
            bool ra = reaches_linearly(c, a, anc, seen);
            memset(anc, 0, (size_t)c->nfwd); memset(seen, 0, (size_t)c->nfwd);
            ancestors(c, a, anc);
            bool rb = reaches_linearly(c, b, anc, seen);
            if (ra == rb) { rc = failf(c, n, "the stream passes through a product of two data tensors (%s); it cannot be decomposed", ir_op_info[n->op].name); break; }
            c->stream[ra ? a : b] = 1;
            continue;
        }
        for (int j = 0; j < ns; j++) c->stream[s[j]] = 1;
    }
    free(anc);
    free(seen);
    /* branches in forward order */
    for (int i = 0; i < *nbr / 2; i++) { Branch t = (*br)[i]; (*br)[i] = (*br)[*nbr - 1 - i]; (*br)[*nbr - 1 - i] = t; }
    return rc;
}

/* ---- component names -------------------------------------------------------- */
static void comp_add(Cx *c, ContribComp cc) {
    if (c->ncomp == c->capcomp) {
        c->capcomp = c->capcomp ? 2 * c->capcomp : 64;
        c->comps = realloc(c->comps, sizeof(ContribComp) * (size_t)c->capcomp);
    }
    c->comps[c->ncomp++] = cc;
}

/* The branch's scope: that of its last non-linear node (the attention's
 * softmax, the MLP's activation), else of the branch's own last node. */
static const char *branch_scope(Cx *c, int root, const char *in_branch) {
    for (int i = root; i >= 0; i--)
        if (in_branch[i] && cls(c, i) == LIN_NONE) return N(c, i)->scope ? N(c, i)->scope : "";
    return N(c, root)->scope ? N(c, root)->scope : "";
}

static void split_scope(Cx *c, const char *scope, const char **layer, const char **kind) {
    const char *dot = strrchr(scope, '.');
    if (!dot) { *layer = scope; *kind = scope; return; }
    char *l = ir_alloc(c->g, (size_t)(dot - scope) + 1);
    memcpy(l, scope, (size_t)(dot - scope));
    *layer = l;
    *kind = dot + 1;
}

/* ---- term rules ---------------------------------------------------------------- */
/* Terms of node i (forward index) from the terms of its sources, per class.
 * tv[s]: terms node of source s or -1; returns the terms node, -1 on error. */
static int rule(Cx *c, int i, const int *tv, int ncomp) {
    IrNode ncopy = *N(c, i), *n = &ncopy; /* a copy: emitting nodes may move the array */
    IrShape sh = with_comp(c, ncomp, &n->shape);
    int a = n->nsrc > 0 ? tv[0] : -1, b = n->nsrc > 1 ? tv[1] : -1;
    switch (n->op) {
    case IR_OP_ADD: case IR_OP_SUB: {
        int r;
        if (a >= 0 && b >= 0) {
            r = op2(c, n->op, a, b, i);
        } else {
            int t = a >= 0 ? a : b, k = a >= 0 ? n->src[1] : n->src[0];
            int cp = const_part(c, k, ncomp, i);
            if (n->op == IR_OP_SUB && a < 0) t = scale(c, t, -1, 0, i);
            r = op2(c, a >= 0 ? n->op : IR_OP_ADD, t, cp, i);
        }
        return permute_to(c, r, sh, i);
    }
    case IR_OP_SCALE: {
        int r = scale(c, a, n->f[0], 0, i);
        if (n->f[1] != 0) {
            IrNode k = {.op = IR_OP_CONST, .shape = {.rank = 0}};
            k.cdata = ir_alloc(c->g, sizeof(float));
            k.cdata[0] = n->f[1];
            r = op2(c, IR_OP_ADD, r, const_part(c, emit(c, &k, i), ncomp, i), i);
        }
        return r;
    }
    case IR_OP_MUL: case IR_OP_DIV: {
        if (a >= 0 && b >= 0) return failf(c, n, "both operands of this %s carry contributions; only one may", ir_op_info[n->op].name), -1;
        if (n->op == IR_OP_DIV && b >= 0) return failf(c, n, "contributions in a divisor are not linear"), -1;
        int r = a >= 0 ? op2(c, n->op, a, n->src[1], i) : op2(c, n->op, b, n->src[0], i);
        return permute_to(c, r, sh, i);
    }
    case IR_OP_CONTRACT: {
        if (a >= 0 && b >= 0) return failf(c, n, "both operands of this contraction carry contributions; only one may"), -1;
        IrNode k = *n;
        k.src[0] = a >= 0 ? a : n->src[0];
        k.src[1] = a >= 0 ? n->src[1] : b;
        k.shape = (IrShape){0};
        /* out axes per ir.h: a's non-summed, then b's new ones */
        const IrShape *sa = &N(c, k.src[0])->shape, *sb = &N(c, k.src[1])->shape;
        for (int q = 0; q < sa->rank; q++) {
            bool summed = false;
            for (int x = 0; x < k.nax; x++) summed |= !strcmp(k.ax[x], sa->ax[q].name);
            if (!summed) push_axis(c, &k.shape, sa->ax[q]);
        }
        for (int q = 0; q < sb->rank; q++) {
            bool summed = false;
            for (int x = 0; x < k.nax; x++) summed |= !strcmp(k.ax[x], sb->ax[q].name);
            if (!summed && ir_axis_find(sa, sb->ax[q].name) < 0) push_axis(c, &k.shape, sb->ax[q]);
        }
        k.key = NULL;
        return permute_to(c, emit(c, &k, i), sh, i);
    }
    case IR_OP_PAD:
        if (n->f[0] != 0) return failf(c, n, "contributions through a pad with a non-zero value are not supported"), -1;
        /* fall through */
    case IR_OP_ROLL: case IR_OP_GATHER:
    case IR_OP_PERMUTE: case IR_OP_RESHAPE: case IR_OP_SELECT: case IR_OP_SLICE:
    case IR_OP_SUM: case IR_OP_MEAN: case IR_OP_RESAMPLE: {
        IrNode k = *n;
        k.src[0] = a;
        k.shape = sh;
        if (n->op == IR_OP_PERMUTE || n->op == IR_OP_RESHAPE) {
            /* the source's terms are [comp, ...source axes] in its order */
        }
        return emit(c, &k, i);
    }
    case IR_OP_WHERE: {
        int x = tv[1] >= 0 ? tv[1] : const_part(c, n->src[1], ncomp, i);
        int y = tv[2] >= 0 ? tv[2] : const_part(c, n->src[2], ncomp, i);
        IrNode k = *n;
        k.src[1] = x;
        k.src[2] = y;
        k.shape = sh; /* comp first, then the broadcast axes */
        return emit(c, &k, i);
    }
    case IR_OP_CONV2D: {
        if (b >= 0) return failf(c, n, "contributions through a convolution's weights are not supported"), -1;
        IrNode k = *n;
        k.src[0] = a;
        k.shape = sh;
        return emit(c, &k, i);
    }
    case IR_OP_CONCAT: {
        int x = a >= 0 ? a : const_part(c, n->src[0], ncomp, i);
        int y = b >= 0 ? b : const_part(c, n->src[1], ncomp, i);
        IrNode k = *n;
        k.src[0] = permute_to(c, x, with_comp(c, ncomp, &N(c, n->src[0])->shape), i);
        k.src[1] = permute_to(c, y, with_comp(c, ncomp, &N(c, n->src[1])->shape), i);
        k.shape = sh;
        return emit(c, &k, i);
    }
    case IR_OP_LAYERNORM: case IR_OP_RMSNORM: {
        /* statistics from the forward value of the input, frozen */
        int x = n->src[0];
        const char *ax = n->ax[0];
        int64_t cnt = N(c, x)->shape.ax[ir_axis_find(&N(c, x)->shape, ax)].size;
        bool ref = c->o->ln_reference;
        float eps = ref ? 1e-5f : n->f[0];
        int mu = -1, var;
        if (n->op == IR_OP_LAYERNORM) {
            mu = reduce(c, IR_OP_MEAN, x, ax, i);
            int xc = op2(c, IR_OP_SUB, x, mu, i);
            var = reduce(c, IR_OP_MEAN, op2(c, IR_OP_MUL, xc, xc, i), ax, i);
            if (ref && cnt > 1) var = scale(c, var, (float)cnt / (float)(cnt - 1), 0, i); /* unbiased */
        } else {
            var = reduce(c, IR_OP_MEAN, op2(c, IR_OP_MUL, x, x, i), ax, i);
        }
        int ve = scale(c, var, 1, eps, i); /* before taking the shape: emitting may move the node array */
        int r = op1(c, IR_OP_RSQRT, ve, &N(c, var)->shape, i);
        int t = a;
        if (n->op == IR_OP_LAYERNORM && c->o->ln_center)
            t = op2(c, IR_OP_SUB, t, reduce(c, IR_OP_MEAN, t, ax, i), i);
        int coeff = n->nsrc > 1 ? op2(c, IR_OP_MUL, r, n->src[1], i) : r; /* gamma / sigma */
        int y = permute_to(c, op2(c, IR_OP_MUL, t, coeff, i), sh, i);
        /* the constant: beta - coeff * mu (mean folded), or beta alone (centred) */
        int k = -1;
        if (n->op == IR_OP_LAYERNORM && !c->o->ln_center) k = scale(c, op2(c, IR_OP_MUL, coeff, mu, i), -1, 0, i);
        if (n->nsrc > 2) k = k >= 0 ? op2(c, IR_OP_ADD, k, n->src[2], i) : n->src[2];
        if (k >= 0) y = permute_to(c, op2(c, IR_OP_ADD, y, const_part(c, k, ncomp, i), i), sh, i);
        return y;
    }
    default:
        return failf(c, n, "contributions cannot pass through the non-linear %s", ir_op_info[n->op].name), -1;
    }
}

/* ---- branches -------------------------------------------------------------------- */
/* The branch's nodes: backwards from root, stopping at the stream and at
 * nodes that do not depend on the input. */
static void branch_nodes(Cx *c, int x, char *in) {
    if (in[x] || c->stream[x] || !c->data[x]) return;
    in[x] = 1;
    for (int s = 0; s < N(c, x)->nsrc; s++) branch_nodes(c, N(c, x)->src[s], in);
}

/* Terms of one branch: [comp = k, ...root shape]; names appended to comps. */
static int branch_terms(Cx *c, int root, int layer_ord, const char *layer, const char *kind) {
    int nf = c->nfwd;
    char *in = calloc((size_t)nf, 1);
    branch_nodes(c, root, in);
    /* split points: for each split axis, the last contraction in the branch summing over it */
    int *last = calloc((size_t)c->o->nsplit + 1, sizeof(int));
    for (int k = 0; k < c->o->nsplit; k++) {
        last[k] = -1;
        for (int i = 0; i < nf; i++)
            if (in[i] && N(c, i)->op == IR_OP_CONTRACT)
                for (int x = 0; x < N(c, i)->nax; x++)
                    if (!strcmp(N(c, i)->ax[x], c->o->split[k])) last[k] = i;
    }
    int *bt = malloc(sizeof(int) * (size_t)nf), *bn = malloc(sizeof(int) * (size_t)nf);
    /* split indices of the current comp axis, per split axis, major to minor */
    const char *order[8];
    int64_t sizes[8];
    int norder = 0, rc = 0;
    char *split = calloc((size_t)nf, 1), *need = calloc((size_t)nf, 1);
    for (int i = 0; i < nf; i++) { bt[i] = -1; bn[i] = 0; }
    /* nodes whose terms reach the root through linear ops */
    need[root] = 1;
    for (int i = root; i >= 0; i--) {
        if (!need[i] || !in[i]) continue;
        int s[IR_MAX_SRC], ns = linear_srcs(c, i, s);
        for (int q = 0; q < ns; q++) need[s[q]] = 1;
    }
    /* With the reference's LayerNorm statistics, the branch is decomposed
     * from its reads of the (frozen) stream, as the reference code does, so
     * its norms on the linear path use those statistics too.  With exact
     * statistics a single contribution equals the forward value, so terms
     * start at the split points. */
    if (c->o->ln_reference)
        for (int i = 0; i < nf; i++) {
            if (!in[i]) continue;
            for (int q = 0; q < N(c, i)->nsrc; q++) {
                int x = N(c, i)->src[q];
                if (c->stream[x] && bt[x] < 0) {
                    IrShape m1 = with_comp(c, 1, &N(c, x)->shape);
                    bt[x] = op1(c, IR_OP_RESHAPE, x, &m1, x);
                    bn[x] = 1;
                }
            }
        }
    for (int i = 0; i < nf && !rc; i++) {
        if (!in[i]) continue;
        IrNode ncopy = *N(c, i), *n = &ncopy; /* a copy: emitting nodes may move the array */
        int tv[IR_MAX_SRC] = {-1, -1, -1, -1}, have = 0, ncomp = 1, wassplit = 0;
        int ls[IR_MAX_SRC], nls = linear_srcs(c, i, ls);
        for (int s = 0; s < n->nsrc; s++) {
            int x = n->src[s];
            if (bt[x] < 0) continue;
            wassplit |= split[x];
            bool lin = false;
            for (int q = 0; q < nls; q++) lin |= ls[q] == x;
            if (!lin && cls(c, i) != LIN_NONE) continue; /* e.g. a norm's weight */
            tv[s] = bt[x]; have++; ncomp = bn[x];
        }
        if (have && cls(c, i) == LIN_NONE && !wassplit) continue; /* a non-linear value: frozen, no terms */
        if (have && !need[i] && !wassplit) continue;               /* terms that never reach the branch's output */
        const char *keep[8];
        int nkeep = 0;
        for (int k = 0; k < c->o->nsplit; k++)
            if (last[k] == i) keep[nkeep++] = c->o->split[k];
        if (nkeep) {
            /* the split point: contract without summing the kept axes */
            IrNode k = *n;
            k.nax = 0;
            for (int x = 0; x < n->nax; x++) {
                bool kp = false;
                for (int q = 0; q < nkeep; q++) kp |= !strcmp(n->ax[x], keep[q]);
                if (!kp) k.ax[k.nax++] = n->ax[x];
            }
            int A = tv[0] >= 0 ? tv[0] : n->src[0], B = tv[1] >= 0 ? tv[1] : n->src[1];
            if (tv[0] >= 0 && tv[1] >= 0) { rc = failf(c, n, "both operands of this contraction carry split terms"); break; }
            k.src[0] = A; k.src[1] = B;
            const IrShape *sa = &N(c, A)->shape, *sb = &N(c, B)->shape;
            k.shape = (IrShape){0};
            for (int q = 0; q < sa->rank; q++) {
                bool summed = false;
                for (int x = 0; x < k.nax; x++) summed |= !strcmp(k.ax[x], sa->ax[q].name);
                if (!summed) push_axis(c, &k.shape, sa->ax[q]);
            }
            for (int q = 0; q < sb->rank; q++) {
                bool summed = false;
                for (int x = 0; x < k.nax; x++) summed |= !strcmp(k.ax[x], sb->ax[q].name);
                if (!summed && ir_axis_find(sa, sb->ax[q].name) < 0) push_axis(c, &k.shape, sb->ax[q]);
            }
            int r = emit(c, &k, i);
            /* put the kept axes (then the old comp axis) first and merge them into comp */
            IrShape p = {0};
            int64_t prod = 1;
            for (int q = 0; q < nkeep; q++) {
                int j = ir_axis_find(&N(c, r)->shape, keep[q]);
                if (j < 0) { c->full = 1; break; }
                push_axis(c, &p, N(c, r)->shape.ax[j]);
                prod *= N(c, r)->shape.ax[j].size;
            }
            if (have) { push_axis(c, &p, (IrAxis){"comp", ncomp}); prod *= ncomp; }
            for (int q = 0; q < n->shape.rank; q++) push_axis(c, &p, n->shape.ax[q]);
            r = permute_to(c, r, p, i);
            IrShape m = with_comp(c, prod, &n->shape);
            r = op1(c, IR_OP_RESHAPE, r, &m, i);
            /* record the split order: new axes are major */
            for (int q = norder - 1; q >= 0; q--) { order[q + nkeep] = order[q]; sizes[q + nkeep] = sizes[q]; }
            for (int q = 0; q < nkeep; q++) {
                order[q] = keep[q];
                sizes[q] = p.ax[q].size;
            }
            norder += nkeep;
            bt[i] = r;
            bn[i] = (int)prod;
            split[i] = 1;
            continue;
        }
        if (!have) continue; /* a frozen value: no terms */
        if (cls(c, i) == LIN_NONE) {
            rc = failf(c, n, "cannot split along '%s' here: the non-linear %s comes after the split point", order[0], ir_op_info[n->op].name);
            break;
        }
        int r = rule(c, i, tv, ncomp);
        if (r < 0) { rc = -1; break; }
        bt[i] = r;
        bn[i] = ncomp;
        split[i] = (char)wassplit;
    }
    int result = -1;
    if (!rc) {
        if (bt[root] >= 0) result = bt[root];
        else {
            IrShape m = with_comp(c, 1, &N(c, root)->shape);
            result = op1(c, IR_OP_RESHAPE, root, &m, root);
            bn[root] = 1;
        }
        /* names, row-major over the split axes */
        int total = bn[root];
        for (int q = 0; q < total; q++) {
            ContribComp cc = {0};
            cc.layer = layer_ord;
            cc.scope = layer;
            cc.kind = kind;
            cc.head = cc.token = -1;
            char name[256];
            int len = snprintf(name, sizeof name, "%s.%s", layer, kind);
            int rem = q;
            for (int s = norder - 1; s >= 0; s--) {
                int idx = (int)(rem % sizes[s]);
                rem /= (int)sizes[s];
                cc.split_ax[s] = order[s];
                cc.split_ix[s] = idx;
            }
            cc.nsplit = norder;
            for (int s = 0; s < norder; s++) {
                len += snprintf(name + len, sizeof name - (size_t)len, " %s %d", cc.split_ax[s], cc.split_ix[s]);
                if (!strcmp(cc.split_ax[s], "head")) cc.head = cc.split_ix[s];
                if (!strcmp(cc.split_ax[s], "token")) cc.token = cc.split_ix[s];
            }
            cc.name = ir_strdup(c->g, name);
            comp_add(c, cc);
        }
    }
    free(in);
    free(split);
    free(need);
    free(last);
    free(bt);
    free(bn);
    return rc ? -1 : result;
}

/* ---- the pass ------------------------------------------------------------------------ */
int contrib_derive(IrGraph *g, const ContribOpts *o, ContribComp **comps, int *ncomps, char *err, size_t errlen) {
    Cx c = {.g = g, .o = o, .err = err, .errlen = errlen, .nfwd = g->n, .bias_comp = -1, .stop = -1};
    *comps = NULL;
    *ncomps = 0;
    const char *oname = o->output ? o->output : "repr";
    int out = ir_output_find(g, oname);
    if (out < 0) {
        char have[512] = "";
        for (int i = 0; i < g->nout; i++) {
            size_t l = strlen(have);
            snprintf(have + l, sizeof have - l, "%s%s", i ? ", " : "", g->outputs[i].name);
        }
        snprintf(err, errlen, "the model has no output '%s' (its outputs: %s)", oname, have);
        return -1;
    }
    c.data = calloc((size_t)g->n, 1);
    c.stream = calloc((size_t)g->n, 1);
    c.T = malloc(sizeof(int) * (size_t)g->n);
    c.TN = calloc((size_t)g->n, sizeof(int));
    for (int i = 0; i < g->n; i++) c.T[i] = -1;
    Branch *br = NULL;
    int nbr = 0, rc = -1;
    mark_data(&c);
    /* split axes must exist somewhere in the graph */
    for (int k = 0; k < o->nsplit; k++) {
        bool found = false;
        char axes[1024] = "";
        for (int i = 0; i < g->n && !found; i++)
            for (int a = 0; a < g->nodes[i].shape.rank; a++)
                if (!strcmp(g->nodes[i].shape.ax[a].name, o->split[k])) found = true;
        if (!found) {
            int na = 0;
            const char *seen[64];
            for (int i = 0; i < g->n; i++)
                for (int a = 0; a < g->nodes[i].shape.rank; a++) {
                    const char *nm = g->nodes[i].shape.ax[a].name;
                    bool dup = false;
                    for (int q = 0; q < na; q++) dup |= !strcmp(seen[q], nm);
                    if (!dup && na < 64) {
                        seen[na++] = nm;
                        size_t l = strlen(axes);
                        snprintf(axes + l, sizeof axes - l, "%s%s", l ? ", " : "", nm);
                    }
                }
            snprintf(err, errlen, "cannot split along '%s': no tensor of the model has that axis (its axes: %s)", o->split[k], axes);
            goto done;
        }
    }
    if (cls(&c, out) == LIN_NONE) {
        failf(&c, N(&c, out), "output '%s' is computed by the non-linear %s; decompose an output that is affine in the residual stream",
              oname, ir_op_info[N(&c, out)->op].name);
        goto done;
    }
    if (find_stream(&c, out, &br, &nbr)) goto done;
    bool whole = false; /* no branch: an output affine in the input decomposes into init (and bias) */
    if (!nbr) {
        if (g->input < 0 || !c.stream[g->input]) {
            if (c.stop >= 0)
                failf(&c, N(&c, c.stop), "output '%s' reaches the residual stream only through this non-linear %s; decompose an output before it",
                      oname, ir_op_info[N(&c, c.stop)->op].name);
            else
                snprintf(err, errlen, "output '%s' has no residual stream: no add joins a branch to it", oname);
            goto done;
        }
        whole = true;
    }
    /* layers: distinct branch layer scopes in forward order */
    const char **lscope = malloc(sizeof(char *) * (size_t)nbr), **lkind = malloc(sizeof(char *) * (size_t)nbr);
    int *lord = malloc(sizeof(int) * (size_t)nbr), nlayers = 0;
    const char **layers = malloc(sizeof(char *) * (size_t)nbr);
    for (int b = 0; b < nbr; b++) {
        char *in = calloc((size_t)c.nfwd, 1);
        branch_nodes(&c, br[b].branch, in);
        split_scope(&c, branch_scope(&c, br[b].branch, in), &lscope[b], &lkind[b]);
        free(in);
        int l = -1;
        for (int q = 0; q < nlayers; q++) if (!strcmp(layers[q], lscope[b])) l = q;
        if (l < 0) { l = nlayers; layers[nlayers++] = lscope[b]; }
        lord[b] = l;
    }
    int first = 0;
    if (o->from && *o->from && whole) {
        snprintf(err, errlen, "--from %s: output '%s' is affine in the input; it has no layers", o->from, oname);
        goto done2;
    }
    if (o->from && *o->from) {
        char *end;
        long L = strtol(o->from, &end, 10);
        first = -1;
        if (!*end) {
            if (L < 0 || L >= nlayers) {
                snprintf(err, errlen, "--from %ld: the model has %d layers (0..%d; first %s, last %s)", L, nlayers, nlayers - 1,
                         layers[0], layers[nlayers - 1]);
                goto done2;
            }
            for (int b = 0; b < nbr && first < 0; b++) if (lord[b] >= L) first = b;
        } else {
            for (int b = 0; b < nbr && first < 0; b++) if (!strncmp(lscope[b], o->from, strlen(o->from))) first = b;
            if (first < 0) { snprintf(err, errlen, "--from %s: no layer has that scope (first %s, last %s)", o->from, layers[0], layers[nlayers - 1]); goto done2; }
        }
    }
    /* init: the stream entering the first decomposed branch's add */
    int init = whole ? g->input : br[first].stream_src;
    comp_add(&c, (ContribComp){.name = "init", .scope = "", .kind = "init", .layer = -1, .head = -1, .token = -1});
    int ncomp = 1;
    if (o->bias_separate) {
        c.bias_comp = 1;
        comp_add(&c, (ContribComp){.name = "bias", .scope = "", .kind = "bias", .layer = -1, .head = -1, .token = -1});
        ncomp = 2;
    }
    {
        IrShape m = with_comp(&c, ncomp, &N(&c, init)->shape);
        IrShape one = with_comp(&c, 1, &N(&c, init)->shape);
        int t = op1(&c, IR_OP_RESHAPE, init, &one, init);
        if (ncomp == 2) {
            IrNode z = {.op = IR_OP_CONST, .shape = with_comp(&c, 1, &N(&c, init)->shape)};
            z.cdata = ir_alloc(g, sizeof(float) * (size_t)ir_numel(&z.shape));
            int zn = emit(&c, &z, init);
            IrNode cat = {.op = IR_OP_CONCAT, .nsrc = 2, .src = {t, zn}, .nax = 1, .ax = {"comp"}, .shape = m};
            t = emit(&c, &cat, init);
        }
        c.T[init] = t;
        c.TN[init] = ncomp;
    }
    if (c.full) goto full;
    int bi = first;
    for (int i = init + 1; i <= out; i++) {
        if (!c.stream[i]) continue;
        IrNode ncopy = *N(&c, i), *n = &ncopy; /* a copy: emitting nodes may move the array */
        if (bi < nbr && br[bi].add == i) {
            int s = br[bi].stream_src, bb = br[bi].branch;
            if (c.T[s] < 0) { failf(&c, n, "internal: stream operand without terms"); goto done2; }
            int bt = branch_terms(&c, bb, lord[bi], lscope[bi], lkind[bi]);
            if (bt < 0) goto done2;
            int k = (int)N(&c, bt)->shape.ax[0].size;
            IrShape sh = with_comp(&c, c.TN[s] + k, &n->shape);
            IrNode cat = {.op = IR_OP_CONCAT, .nsrc = 2, .nax = 1, .ax = {"comp"}, .shape = sh};
            cat.src[0] = permute_to(&c, c.T[s], with_comp(&c, c.TN[s], &n->shape), i);
            cat.src[1] = permute_to(&c, bt, with_comp(&c, k, &n->shape), i);
            if (cat.src[0] < 0 || cat.src[1] < 0) { failf(&c, n, "internal: branch and stream axes differ"); goto done2; }
            if (c.full) goto full;
            c.T[i] = emit(&c, &cat, i);
            c.TN[i] = c.TN[s] + k;
            bi++;
            continue;
        }
        int tv[IR_MAX_SRC] = {-1, -1, -1, -1}, have = 0, nc = 0;
        for (int s = 0; s < n->nsrc; s++)
            if (c.T[n->src[s]] >= 0) {
                tv[s] = c.T[n->src[s]];
                if (have && c.TN[n->src[s]] != nc) { failf(&c, n, "streams with different components meet here; not supported"); goto done2; }
                nc = c.TN[n->src[s]];
                have++;
            }
        if (!have) continue; /* before the decomposed range */
        int r = rule(&c, i, tv, nc);
        if (c.full) goto full;
        if (r < 0) goto done2;
        c.T[i] = r;
        c.TN[i] = nc;
    }
    if (c.T[out] < 0) { snprintf(err, errlen, "output '%s' is not reached from the decomposed range", oname); goto done2; }
    if (o->directions > 0) {
        /* projections on k directions: [comp, dir] = contrib . directions over the output's axes */
        const IrShape *os = &N(&c, out)->shape;
        if (os->rank >= IR_MAX_RANK) c.full = 1;
        if (c.full) goto full;
        IrNode d = {.op = IR_OP_PARAM, .key = "__directions"};
        d.shape.rank = os->rank + 1;
        d.shape.ax[0] = (IrAxis){"dir", o->directions};
        for (int a = 0; a < os->rank; a++) d.shape.ax[a + 1] = os->ax[a];
        d.stored = (IrShape){.rank = 2, .ax = {{NULL, o->directions}, {NULL, ir_numel(os)}}};
        int dn = emit(&c, &d, out);
        IrNode p = {.op = IR_OP_CONTRACT, .nsrc = 2, .src = {c.T[out], dn}, .nax = os->rank};
        for (int a = 0; a < os->rank; a++) p.ax[a] = os->ax[a].name;
        p.shape = (IrShape){.rank = 2, .ax = {{"comp", c.TN[out]}, {"dir", o->directions}}};
        char name[128];
        snprintf(name, sizeof name, "proj.%s", oname);
        ir_output_add(g, name, emit(&c, &p, out));
    } else {
        char name[128];
        snprintf(name, sizeof name, "contrib.%s", oname);
        ir_output_add(g, name, c.T[out]);
    }
    *comps = c.comps;
    *ncomps = c.ncomp;
    c.comps = NULL;
    rc = 0;
    goto done2;
full:
    snprintf(err, errlen, "the decomposition needs a tensor of more than %d axes here (it adds a component axis, and "
             "one per split axis, to the model's tensors); at most %d are supported", IR_MAX_RANK, IR_MAX_RANK);
done2:
    free(lscope); free(lkind); free(lord); free(layers);
done:
    free(br);
    free(c.comps);
    free(c.data); free(c.stream); free(c.T); free(c.TN);
    return rc;
}
