/* compiler/simplify.c — push SELECT / SLICE towards the sources, share
 * identical nodes, drop what no output reads.  The graph is copied in order;
 * a SELECT / SLICE is not copied but pushed into the copy of what it reads:
 * through each op it commutes with, a restricted copy of the op is made over
 * pushed sources (memoised per node and selection).  Every node added is
 * hash-consed; a liveness walk from the outputs then keeps what they need,
 * taking a restricted product from the full one wherever that is computed
 * anyway (a ViT's class-token rows are not recomputed beside its full
 * layers). */
#include "simplify.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Pushing recurses into earlier nodes only; past this depth it stops where
 * it is (still correct, only less reduced) to bound the stack. */
#define PUSH_MAX_DEPTH 4000

/* A selection being pushed: SELECT of index `at`, or SLICE [at, at + len). */
typedef struct {
    enum ir_op op;
    const char *ax;   /* axis name (a string of the graph being built) */
    int64_t at, len;  /* len is 1 for SELECT */
    IrLoc loc;        /* of the SELECT / SLICE being pushed */
    const char *scope, *label;
} Sel;

typedef struct {
    int x;            /* node the selection applies to */
    enum ir_op op;
    const char *ax;
    int64_t at, len;
    int result;       /* node holding the selected value; -1: empty slot */
} Memo;

typedef struct {
    IrGraph *ng;      /* graph being built */
    int *cse;         /* open addressing: node index + 1, 0 empty */
    size_t cse_cap, ncse;
    Memo *memo;
    size_t memo_cap, nmemo;
    int depth;
    char *err;
    size_t errlen;
} Sx;

static const IrNode *N(const Sx *s, int i) { return &s->ng->nodes[i]; }

/* ---- hashing ------------------------------------------------------------ */

static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0x100000001b3ull;
}

static uint64_t hash_str(uint64_t h, const char *p) {
    if (!p) return mix(h, 1);
    for (; *p; p++) h = mix(h, (unsigned char)*p);
    return mix(h, 0);
}

static uint64_t hash_shape(uint64_t h, const IrShape *sh) {
    h = mix(h, (uint64_t)sh->rank);
    for (int i = 0; i < sh->rank; i++) h = mix(hash_str(h, sh->ax[i].name), (uint64_t)sh->ax[i].size);
    return h;
}

static bool str_eq(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

static bool shape_eq(const IrShape *a, const IrShape *b) {
    if (a->rank != b->rank) return false;
    for (int i = 0; i < a->rank; i++)
        if (a->ax[i].size != b->ax[i].size || !str_eq(a->ax[i].name, b->ax[i].name)) return false;
    return true;
}

static uint64_t node_hash(const IrNode *n) {
    uint64_t h = mix(0xcbf29ce484222325ull, (uint64_t)n->op);
    h = mix(h, (uint64_t)n->nsrc);
    for (int i = 0; i < n->nsrc; i++) h = mix(h, (uint64_t)n->src[i]);
    h = hash_shape(h, &n->shape);
    h = mix(h, (uint64_t)n->nax);
    for (int i = 0; i < n->nax; i++) h = hash_str(h, n->ax[i]);
    for (int i = 0; i < 4; i++) h = mix(h, (uint64_t)n->i[i]);
    for (int i = 0; i < 4; i++) {
        uint32_t b;
        memcpy(&b, &n->f[i], sizeof b);
        h = mix(h, b);
    }
    return h;
}

/* Same computation (loc, scope and label do not count). */
static bool node_eq(const IrNode *a, const IrNode *b) {
    if (a->op != b->op || a->nsrc != b->nsrc || a->nax != b->nax) return false;
    for (int i = 0; i < a->nsrc; i++)
        if (a->src[i] != b->src[i]) return false;
    for (int i = 0; i < a->nax; i++)
        if (!str_eq(a->ax[i], b->ax[i])) return false;
    if (memcmp(a->i, b->i, sizeof a->i) || memcmp(a->f, b->f, sizeof a->f)) return false;
    return shape_eq(&a->shape, &b->shape);
}

/* ---- adding nodes (shared when an identical one exists) ------------------- */

static void cse_insert(Sx *s, int id) {
    size_t mask = s->cse_cap - 1, k = (size_t)node_hash(N(s, id)) & mask;
    while (s->cse[k]) k = (k + 1) & mask;
    s->cse[k] = id + 1;
    s->ncse++;
}

static void cse_grow(Sx *s) {
    int *old = s->cse;
    size_t oldcap = s->cse_cap;
    s->cse_cap = oldcap ? 2 * oldcap : 1024;
    s->cse = calloc(s->cse_cap, sizeof *s->cse);
    if (!s->cse) { fprintf(stderr, "out of memory\n"); abort(); }
    s->ncse = 0;
    for (size_t k = 0; k < oldcap; k++)
        if (old[k]) cse_insert(s, old[k] - 1);
    free(old);
}

static int simplify_add(Sx *s, IrNode *n) {
    if (ir_op_info[n->op].lin == LIN_LEAF) return ir_node_add(s->ng, n);
    if (2 * (s->ncse + 1) > s->cse_cap) cse_grow(s);
    size_t mask = s->cse_cap - 1, k = (size_t)node_hash(n) & mask;
    for (; s->cse[k]; k = (k + 1) & mask)
        if (node_eq(N(s, s->cse[k] - 1), n)) return s->cse[k] - 1;
    int id = ir_node_add(s->ng, n);
    s->cse[k] = id + 1;
    s->ncse++;
    return id;
}

/* ---- the memo of pushes ----------------------------------------------------- */

static uint64_t memo_hash(int x, const Sel *q) {
    return mix(mix(mix(hash_str(mix(0x84222325cbf29ce4ull, (uint64_t)x), q->ax), (uint64_t)q->op), (uint64_t)q->at),
               (uint64_t)q->len);
}

static Memo *memo_slot(Sx *s, int x, const Sel *q) {
    size_t mask = s->memo_cap - 1, k = (size_t)memo_hash(x, q) & mask;
    for (; s->memo[k].result >= 0; k = (k + 1) & mask) {
        const Memo *m = &s->memo[k];
        if (m->x == x && m->op == q->op && m->at == q->at && m->len == q->len && !strcmp(m->ax, q->ax)) break;
    }
    return &s->memo[k];
}

static void memo_put(Sx *s, int x, const Sel *q, int result) {
    if (2 * (s->nmemo + 1) > s->memo_cap) {
        Memo *old = s->memo;
        size_t oldcap = s->memo_cap;
        s->memo_cap = oldcap ? 2 * oldcap : 1024;
        s->memo = malloc(s->memo_cap * sizeof *s->memo);
        if (!s->memo) { fprintf(stderr, "out of memory\n"); abort(); }
        for (size_t k = 0; k < s->memo_cap; k++) s->memo[k].result = -1;
        for (size_t k = 0; k < oldcap; k++)
            if (old[k].result >= 0) {
                Sel o = {.op = old[k].op, .ax = old[k].ax, .at = old[k].at, .len = old[k].len};
                *memo_slot(s, old[k].x, &o) = old[k];
            }
        free(old);
    }
    Memo *m = memo_slot(s, x, q);
    if (m->result < 0) s->nmemo++;
    *m = (Memo){x, q->op, q->ax, q->at, q->len, result};
}

/* ---- shapes and node makers ---------------------------------------------------- */

/* sh with the selection applied: the axis removed (SELECT) or resized (SLICE) */
static IrShape restricted(const IrShape *sh, const Sel *q) {
    IrShape o = *sh;
    int p = ir_axis_find(sh, q->ax);
    if (p < 0) return o;
    if (q->op == IR_OP_SLICE) {
        o.ax[p].size = q->len;
        return o;
    }
    for (int i = p; i + 1 < sh->rank; i++) o.ax[i] = sh->ax[i + 1];
    o.rank--;
    return o;
}

static int64_t prod_before(const IrShape *sh, int p) {
    int64_t m = 1;
    for (int i = 0; i < p; i++) m *= sh->ax[i].size;
    return m;
}

/* The selection itself, on node x (where pushing stops). */
static __attribute__((noinline)) int sel_node(Sx *s, int x, const Sel *q) {
    IrNode n = {.op = q->op, .nsrc = 1, .src = {x}, .nax = 1, .ax = {q->ax}, .i = {q->at}};
    n.shape = restricted(&N(s, x)->shape, q);
    n.loc = q->loc;
    n.scope = q->scope;
    n.label = q->label;
    return simplify_add(s, &n);
}

/* A copy of node x over new sources, its shape restricted by q. */
static __attribute__((noinline)) int rebuild(Sx *s, int x, const int *src, const Sel *q) {
    IrNode n = *N(s, x);
    for (int i = 0; i < n.nsrc; i++) n.src[i] = src[i];
    n.shape = restricted(&n.shape, q);
    n.offset = -1;
    return simplify_add(s, &n);
}

/* y viewed with the axes of x restricted by q (op PERMUTE or RESHAPE), with
 * x's loc, scope and label.  Chains of the same op collapse into one; an
 * identity is no node at all. */
static __attribute__((noinline)) int view_as(Sx *s, enum ir_op op, int y, int x, const Sel *q) {
    IrNode n = *N(s, x);
    n.op = op;
    n.nsrc = 1;
    n.nax = 0;
    n.shape = restricted(&n.shape, q);
    n.offset = -1;
    while (N(s, y)->op == op) y = N(s, y)->src[0];
    if (shape_eq(&N(s, y)->shape, &n.shape)) return y;
    n.src[0] = y;
    return simplify_add(s, &n);
}

static int fail_node(Sx *s, int x, const char *what) {
    char sh[256];
    ir_shape_str(&N(s, x)->shape, sh, sizeof sh);
    snprintf(s->err, s->errlen, "%s (node %s %s)", what, ir_op_info[N(s, x)->op].name, sh);
    return -1;
}

/* ---- pushing ---------------------------------------------------------------------- */

static int push(Sx *s, int x, const Sel *q);

/* Does op x commute with q by pushing q into every source having the axis? */
static bool elementwise_like(const IrNode *n, const Sel *q) {
    switch (n->op) {
    case IR_OP_ADD: case IR_OP_SUB: case IR_OP_MUL: case IR_OP_DIV: case IR_OP_SCALE:
    case IR_OP_GELU: case IR_OP_GELU_TANH: case IR_OP_QUICK_GELU: case IR_OP_SILU:
    case IR_OP_SIGMOID: case IR_OP_RELU: case IR_OP_EXP: case IR_OP_TANH: case IR_OP_RSQRT:
    case IR_OP_SUM: case IR_OP_MEAN:  /* an output axis is never reduced */
    case IR_OP_CONTRACT:              /* an output axis is never summed */
        return true;
    case IR_OP_SOFTMAX: case IR_OP_LAYERNORM: case IR_OP_RMSNORM:
        return n->nax >= 1 && strcmp(n->ax[0], q->ax);
    case IR_OP_RESAMPLE:
        return n->nax >= 2 && strcmp(n->ax[0], q->ax) && strcmp(n->ax[1], q->ax);
    case IR_OP_CONCAT:
        return n->nax >= 1 && strcmp(n->ax[0], q->ax);
    default:
        return false;
    }
}

/* Through RESHAPE: the source axis at the same row-major position, if any. */
static int push_reshape(Sx *s, int x, const Sel *q) {
    int y = N(s, x)->src[0];
    const IrShape *R = &N(s, x)->shape, *S = &N(s, y)->shape;
    int p = ir_axis_find(R, q->ax);
    int64_t size = R->ax[p].size, before = prod_before(R, p);
    if (q->op == IR_OP_SELECT && size == 1) return view_as(s, IR_OP_RESHAPE, y, x, q); /* a reshape itself */
    if (ir_numel(R) == 0) return sel_node(s, x, q);
    int j = -1;
    for (int k = 0; k < S->rank && j < 0; k++)
        if (S->ax[k].size == size && prod_before(S, k) == before) j = k;
    if (j < 0) return sel_node(s, x, q);
    Sel q2 = *q;
    q2.ax = S->ax[j].name;
    int r = push(s, y, &q2);
    return r < 0 ? -1 : view_as(s, IR_OP_RESHAPE, r, x, q);
}

/* Through SELECT / SLICE x of axis b: of the same axis, compose the ranges;
 * else push q below it and put x's own selection on the result.  (Every
 * SELECT / SLICE of the graph being built already sits where pushing it
 * stopped, so it is not pushed again: two selections would swap forever.) */
static int push_select(Sx *s, int x, const Sel *q) {
    const IrNode *n = N(s, x);
    int y = n->src[0];
    if (!strcmp(n->ax[0], q->ax)) { /* n is a SLICE (a SELECT drops its axis) */
        Sel q2 = *q;
        q2.at += n->i[0];
        return push(s, y, &q2);
    }
    Sel inner = {.op = n->op, .ax = n->ax[0], .at = n->i[0], .len = 1, .loc = n->loc, .scope = n->scope, .label = n->label};
    if (n->op == IR_OP_SLICE) inner.len = n->shape.ax[ir_axis_find(&n->shape, n->ax[0])].size;
    int r = push(s, y, q);
    return r < 0 ? -1 : sel_node(s, r, &inner);
}

/* Through CONCAT along the selected axis: only when the range lies in one input. */
static int push_concat_along(Sx *s, int x, const Sel *q) {
    int a = N(s, x)->src[0], b = N(s, x)->src[1];
    int64_t na = N(s, a)->shape.ax[ir_axis_find(&N(s, a)->shape, q->ax)].size;
    if (q->at + q->len <= na) return push(s, a, q);
    if (q->at >= na) {
        Sel q2 = *q;
        q2.at -= na;
        return push(s, b, &q2);
    }
    return sel_node(s, x, q);
}

static int push_through(Sx *s, int x, const Sel *q) {
    const IrNode *n = N(s, x);
    int p = ir_axis_find(&n->shape, q->ax);
    if (p < 0) return fail_node(s, x, "selected axis not in its source");
    int64_t size = n->shape.ax[p].size;
    if (q->at < 0 || q->len < 0 || q->at + q->len > size) return fail_node(s, x, "selection out of range");
    if (q->op == IR_OP_SLICE && q->at == 0 && q->len == size) return x;
    if (s->depth > PUSH_MAX_DEPTH) return sel_node(s, x, q);
    if (elementwise_like(n, q)) {
        int src[IR_MAX_SRC], nsrc = n->nsrc;
        for (int i = 0; i < nsrc; i++) src[i] = n->src[i];
        for (int i = 0; i < nsrc; i++)
            if (ir_axis_find(&N(s, src[i])->shape, q->ax) >= 0 && (src[i] = push(s, src[i], q)) < 0) return -1;
        return rebuild(s, x, src, q);
    }
    switch (n->op) {
    case IR_OP_PERMUTE: {
        int r = push(s, n->src[0], q);
        return r < 0 ? -1 : view_as(s, IR_OP_PERMUTE, r, x, q);
    }
    case IR_OP_RESHAPE: return push_reshape(s, x, q);
    case IR_OP_SELECT: case IR_OP_SLICE: return push_select(s, x, q);
    case IR_OP_CONCAT: return push_concat_along(s, x, q);
    default: return sel_node(s, x, q); /* leaves, reductions and norms along the axis */
    }
}

static int push(Sx *s, int x, const Sel *q) {
    if (s->memo_cap) {
        const Memo *m = memo_slot(s, x, q);
        if (m->result >= 0) return m->result;
    }
    s->depth++;
    int r = push_through(s, x, q);
    s->depth--;
    if (r >= 0) memo_put(s, x, q, r);
    return r;
}

/* ---- copying -------------------------------------------------------------------------- */

static void shape_copy(IrGraph *ng, IrShape *d, const IrShape *sh) {
    *d = *sh;
    for (int i = 0; i < sh->rank; i++) d->ax[i].name = ir_strdup(ng, sh->ax[i].name);
}

/* n with its strings and data owned by ng and its sources mapped */
static IrNode node_copy(IrGraph *ng, const IrNode *n, const int *map) {
    IrNode c = *n;
    for (int i = 0; i < n->nsrc; i++) c.src[i] = map[n->src[i]];
    shape_copy(ng, &c.shape, &n->shape);
    shape_copy(ng, &c.stored, &n->stored);
    for (int a = 0; a < n->nax; a++) c.ax[a] = ir_strdup(ng, n->ax[a]);
    c.key = ir_strdup(ng, n->key);
    c.scope = ir_strdup(ng, n->scope);
    c.label = ir_strdup(ng, n->label);
    if (n->cdata) {
        size_t bytes = (size_t)ir_numel(&n->shape) * sizeof(float);
        c.cdata = ir_alloc(ng, bytes ? bytes : 1);
        memcpy(c.cdata, n->cdata, bytes);
    }
    c.offset = -1;
    return c;
}

static void copy_meta(IrGraph *d, const IrGraph *g) {
    d->name = ir_strdup(d, g->name);
    d->pre = g->pre;
    d->nfiles = g->nfiles;
    d->files = ir_alloc(d, (size_t)(g->nfiles ? g->nfiles : 1) * sizeof *d->files);
    for (int i = 0; i < g->nfiles; i++) d->files[i] = ir_strdup(d, g->files[i]);
    d->nunused = g->nunused;
    d->unused = ir_alloc(d, (size_t)(g->nunused ? g->nunused : 1) * sizeof *d->unused);
    for (int i = 0; i < g->nunused; i++) d->unused[i] = (char *)ir_strdup(d, g->unused[i]);
    d->meta = ir_strdup(d, g->meta);
    d->arena_floats = 0;
}

/* Liveness from the outputs (and INPUT).  A node with sub[i] >= 0 will be
 * replaced by a selection of node sub[i]: it reads that node only (nothing
 * when sub[i] == i). */
static void liveness(const IrGraph *ng, const IrGraph *g, const int *outs, const int *sub, char *live) {
    memset(live, 0, (size_t)ng->n + 1);
    for (int k = 0; k < g->nout; k++) live[outs[k]] = 1;
    for (int i = ng->n - 1; i >= 0; i--) {
        const IrNode *n = &ng->nodes[i];
        if (n->op == IR_OP_INPUT) live[i] = 1;
        if (!live[i]) continue;
        if (sub[i] >= 0) {
            live[sub[i]] = 1;
            continue;
        }
        for (int k = 0; k < n->nsrc; k++) live[n->src[k]] = 1;
    }
}

/* A restricted copy r = push(x, q) of a product recomputes part of x.  When x
 * itself is computed anyway (read in full by nodes that stay), selecting from
 * it is cheaper: r becomes SELECT / SLICE of x (sub[r] = x, its memo entry in subm).
 * Candidates are taken from the outputs down, each only when its x is live
 * with the substitutions taken so far and without r's own reads. */
static void reuse_live(const Sx *s, const IrGraph *g, const int *outs, int *sub, size_t *subm) {
    const IrGraph *ng = s->ng;
    char *live = malloc((size_t)ng->n + 1);
    int *cand = malloc(sizeof(int) * ((size_t)ng->n + 1));
    if (!live || !cand) { fprintf(stderr, "out of memory\n"); abort(); }
    for (int i = 0; i < ng->n; i++) sub[i] = cand[i] = -1;
    for (size_t k = 0; k < s->memo_cap; k++) {
        const Memo *m = &s->memo[k];
        if (m->result < 0 || m->x >= m->result || cand[m->result] >= 0) continue;
        const IrNode *r = &ng->nodes[m->result];
        if ((r->op == IR_OP_SELECT || r->op == IR_OP_SLICE) && r->src[0] == m->x) continue; /* already one */
        /* only products: a restricted copy of one re-reads a whole operand (a weight) for a
         * few rows; restricted elementwise ops cost what they compute */
        if (ng->nodes[m->x].op != IR_OP_CONTRACT && ng->nodes[m->x].op != IR_OP_CONV2D) continue;
        cand[m->result] = m->x;
        subm[m->result] = k;
    }
    for (int i = ng->n - 1; i >= 0; i--) {
        if (cand[i] < 0) continue;
        sub[i] = i; /* i reads nothing while deciding */
        liveness(ng, g, outs, sub, live);
        sub[i] = live[cand[i]] && live[i] ? cand[i] : -1;
    }
    free(cand);
    free(live);
}

/* The nodes of ng the outputs read, plus INPUT and one PARAM per key, copied
 * in order into a new graph; node r with sub[r] >= 0 becomes the selection
 * of memo entry subm[r] applied to sub[r]. */
static IrGraph *keep_live(const Sx *s, const IrGraph *g, const int *outs, const int *sub, const size_t *subm) {
    const IrGraph *ng = s->ng;
    IrGraph *fg = ir_graph_new();
    char *live = calloc((size_t)ng->n + 1, 1);
    int *map = malloc(sizeof(int) * ((size_t)ng->n + 1));
    if (!fg || !live || !map) { fprintf(stderr, "out of memory\n"); abort(); }
    liveness(ng, g, outs, sub, live);
    /* a checkpoint tensor no node reads would no longer bind: keep one PARAM per key */
    for (int i = 0; i < ng->n; i++) {
        const IrNode *n = &ng->nodes[i];
        if (n->op != IR_OP_PARAM || live[i] || !n->key) continue;
        bool read = false;
        for (int j = 0; j < ng->n && !read; j++)
            read = live[j] && ng->nodes[j].op == IR_OP_PARAM && ng->nodes[j].key && !strcmp(ng->nodes[j].key, n->key);
        if (!read) live[i] = 1;
    }
    copy_meta(fg, g);
    for (int i = 0; i < ng->n; i++) {
        map[i] = -1;
        if (!live[i]) continue;
        IrNode c = node_copy(fg, &ng->nodes[i], map);
        if (sub[i] >= 0) {
            const Memo *m = &s->memo[subm[i]];
            IrNode q = {.op = m->op, .nsrc = 1, .src = {map[sub[i]]}, .nax = 1, .ax = {c.ax[0]}, .i = {m->at},
                        .shape = c.shape, .loc = c.loc, .scope = c.scope, .label = c.label, .offset = -1};
            q.ax[0] = ir_strdup(fg, m->ax);
            c = q;
        }
        map[i] = ir_node_add(fg, &c);
    }
    for (int k = 0; k < g->nout; k++) ir_output_add(fg, g->outputs[k].name, map[outs[k]]);
    free(live);
    free(map);
    return fg;
}

IrGraph *simplify_graph(const IrGraph *g, char *err, size_t errlen) {
    Sx s = {.ng = ir_graph_new(), .err = err, .errlen = errlen};
    int *map = malloc(sizeof(int) * ((size_t)g->n + 1));
    int *outs = malloc(sizeof(int) * ((size_t)g->nout + 1));
    IrGraph *fg = NULL;
    if (!s.ng || !map || !outs) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    for (int i = 0; i < g->n; i++) {
        const IrNode *n = &g->nodes[i];
        if (n->nsrc < 0 || n->nsrc > IR_MAX_SRC) {
            snprintf(err, errlen, "node %d: %d sources", i, n->nsrc);
            goto done;
        }
        for (int k = 0; k < n->nsrc; k++)
            if (n->src[k] < 0 || n->src[k] >= i) {
                snprintf(err, errlen, "node %d: source %d out of order", i, n->src[k]);
                goto done;
            }
        IrNode c = node_copy(s.ng, n, map);
        if ((c.op == IR_OP_SELECT || c.op == IR_OP_SLICE) && c.nsrc == 1 && c.nax >= 1) {
            Sel q = {.op = c.op, .ax = c.ax[0], .at = c.i[0], .len = 1, .loc = c.loc, .scope = c.scope, .label = c.label};
            if (c.op == IR_OP_SLICE) {
                int p = ir_axis_find(&c.shape, c.ax[0]);
                if (p < 0) {
                    snprintf(err, errlen, "node %d (SLICE): axis '%s' not in its shape", i, c.ax[0]);
                    goto done;
                }
                q.len = c.shape.ax[p].size;
            }
            map[i] = push(&s, c.src[0], &q);
            if (map[i] < 0) {
                char msg[512];
                snprintf(msg, sizeof msg, "%s", err);
                snprintf(err, errlen, "node %d (%s over %s): %s", i, ir_op_info[c.op].name, c.ax[0], msg);
                goto done;
            }
        } else {
            map[i] = simplify_add(&s, &c);
        }
    }
    for (int k = 0; k < g->nout; k++) {
        if (g->outputs[k].node < 0 || g->outputs[k].node >= g->n) {
            snprintf(err, errlen, "output %s: node %d out of range", g->outputs[k].name, g->outputs[k].node);
            goto done;
        }
        outs[k] = map[g->outputs[k].node];
    }
    {
        int *sub = malloc(sizeof(int) * ((size_t)s.ng->n + 1));
        size_t *subm = malloc(sizeof(size_t) * ((size_t)s.ng->n + 1));
        if (!sub || !subm) { fprintf(stderr, "out of memory\n"); abort(); }
        reuse_live(&s, g, outs, sub, subm);
        fg = keep_live(&s, g, outs, sub, subm);
        free(sub);
        free(subm);
    }
done:
    free(map);
    free(outs);
    free(s.cse);
    free(s.memo);
    ir_graph_free(s.ng);
    return fg;
}
