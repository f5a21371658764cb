/* ir/ir.c — graph construction helpers, the op table and shape utilities.
 * Memory: every string and array reachable from an IrGraph comes from its
 * pool and is released by ir_graph_free in one call; nodes are never freed
 * one by one. */
#include "ir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const IrOpInfo ir_op_info[IR_OP_COUNT] = {
#define OP(name, nsrc, cls, linsrc) {#name, nsrc, cls, linsrc},
#include "ops.def"
#undef OP
};

static const char *const lin_names[] = {"leaf", "affine", "frozen-affine", "bilinear", "non-linear"};
_Static_assert(sizeof lin_names / sizeof lin_names[0] == LIN_COUNT, "lin_names out of sync");

const char *ir_lin_name(enum lin_class c) { return (unsigned)c < LIN_COUNT ? lin_names[c] : "?"; }

/* The pool: a list of blocks, each a separate malloc; freed all at once. */
typedef struct PoolBlock { struct PoolBlock *next; size_t used, cap; } PoolBlock;
struct IrPool { PoolBlock *head; };

void *ir_alloc(IrGraph *g, size_t n) {
    n = (n + 15) & ~(size_t)15;
    PoolBlock *b = g->pool->head;
    if (!b || b->used + n > b->cap) {
        size_t cap = n > (1u << 16) ? n : (1u << 16);
        b = calloc(1, sizeof(PoolBlock) + 16 + cap);
        if (!b) { fprintf(stderr, "out of memory\n"); abort(); }
        b->cap = cap;
        b->next = g->pool->head;
        g->pool->head = b;
    }
    char *base = (char *)(b + 1);
    base += (16 - ((uintptr_t)base & 15)) & 15;
    void *p = base + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

const char *ir_strdup(IrGraph *g, const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = ir_alloc(g, n);
    memcpy(d, s, n);
    return d;
}

IrGraph *ir_graph_new(void) {
    IrGraph *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->pool = calloc(1, sizeof *g->pool);
    g->input = -1;
    return g;
}

void ir_graph_free(IrGraph *g) {
    if (!g) return;
    for (PoolBlock *b = g->pool->head, *nx; b; b = nx) { nx = b->next; free(b); }
    free(g->pool);
    free(g->nodes);
    free(g->outputs);
    free(g);
}

int ir_node_add(IrGraph *g, const IrNode *proto) {
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 256;
        IrNode *nn = realloc(g->nodes, (size_t)g->cap * sizeof *nn);
        if (!nn) { fprintf(stderr, "out of memory\n"); abort(); }
        g->nodes = nn;
    }
    g->nodes[g->n] = *proto;
    g->nodes[g->n].offset = -1;
    if (proto->op == IR_OP_INPUT) g->input = g->n;
    return g->n++;
}

void ir_output_add(IrGraph *g, const char *name, int node) {
    for (int i = 0; i < g->nout; i++)
        if (!strcmp(g->outputs[i].name, name)) { g->outputs[i].node = node; return; }
    if (g->nout == g->capout) {
        g->capout = g->capout ? 2 * g->capout : 8;
        IrOutput *o = realloc(g->outputs, (size_t)g->capout * sizeof *o);
        if (!o) { fprintf(stderr, "out of memory\n"); abort(); }
        g->outputs = o;
    }
    g->outputs[g->nout].name = ir_strdup(g, name);
    g->outputs[g->nout].node = node;
    g->nout++;
}

int ir_output_find(const IrGraph *g, const char *name) {
    for (int i = 0; i < g->nout; i++)
        if (!strcmp(g->outputs[i].name, name)) return g->outputs[i].node;
    return -1;
}

int64_t ir_numel(const IrShape *s) {
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++) n *= s->ax[i].size;
    return n;
}

int64_t ir_numel_checked(const IrShape *s) {
    if (s->rank < 0 || s->rank > IR_MAX_RANK) return -1;
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++) {
        int64_t d = s->ax[i].size;
        if (d < 0 || d > IR_MAX_DIM || __builtin_mul_overflow(n, d, &n) || n > IR_MAX_NUMEL) return -1;
    }
    return n;
}

int ir_axis_find(const IrShape *s, const char *name) {
    for (int i = 0; i < s->rank; i++)
        if (s->ax[i].name && !strcmp(s->ax[i].name, name)) return i;
    return -1;
}

void ir_shape_str(const IrShape *s, char *buf, size_t n) {
    size_t k = 0;
    k += (size_t)snprintf(buf + k, k < n ? n - k : 0, "[");
    for (int i = 0; i < s->rank; i++) {
        if (s->ax[i].name)
            k += (size_t)snprintf(buf + k, k < n ? n - k : 0, "%s%s=%lld", i ? ", " : "",
                                  s->ax[i].name, (long long)s->ax[i].size);
        else
            k += (size_t)snprintf(buf + k, k < n ? n - k : 0, "%s%lld", i ? ", " : "",
                                  (long long)s->ax[i].size);
    }
    snprintf(buf + k, k < n ? n - k : 0, "]");
}

void ir_strides(const IrShape *s, int64_t *st) {
    int64_t m = 1;
    for (int i = s->rank - 1; i >= 0; i--) { st[i] = m; m *= s->ax[i].size; }
}

void ir_bcast_strides(const IrShape *out, const IrShape *src, int64_t *st) {
    int64_t sst[IR_MAX_RANK];
    ir_strides(src, sst);
    for (int i = 0; i < out->rank; i++) {
        int j = ir_axis_find(src, out->ax[i].name);
        st[i] = j < 0 ? 0 : sst[j];
    }
}

void ir_dump(const IrGraph *g, void *fp) {
    FILE *f = fp;
    char buf[256];
    for (int i = 0; i < g->n; i++) {
        const IrNode *n = &g->nodes[i];
        ir_shape_str(&n->shape, buf, sizeof buf);
        fprintf(f, "%%%d = %s", i, ir_op_info[n->op].name);
        for (int s = 0; s < n->nsrc; s++) fprintf(f, "%s%%%d", s ? ", " : " ", n->src[s]);
        for (int a = 0; a < n->nax; a++) fprintf(f, " %s%s", a ? "" : "over ", n->ax[a]);
        if (n->key) fprintf(f, " \"%s\"", n->key);
        fprintf(f, " : %s  (%s)", buf, ir_lin_name(ir_op_info[n->op].lin));
        if (n->scope && *n->scope) fprintf(f, "  @%s", n->scope);
        fprintf(f, "\n");
    }
    for (int i = 0; i < g->nout; i++) fprintf(f, "output %s = %%%d\n", g->outputs[i].name, g->outputs[i].node);
}
