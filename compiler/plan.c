/* compiler/plan.c — the memory plan: one arena for every activation.
 * Each non-leaf node gets an offset; a buffer is free again after the last
 * node that reads it, and outputs are never overwritten.  Greedy first fit
 * over a list of live intervals, in node order (as ggml-alloc does). */
#include <stdlib.h>
#include <string.h>

#include "vitc.h"

typedef struct { int64_t off, len; int node; } Live;

static bool is_leaf(enum ir_op op) { return ir_op_info[op].lin == LIN_LEAF; }

void plan_memory(IrGraph *g) {
    int *last = malloc(sizeof(int) * (size_t)(g->n + 1));
    for (int i = 0; i < g->n; i++) last[i] = i;
    for (int i = 0; i < g->n; i++)
        for (int s = 0; s < g->nodes[i].nsrc; s++) last[g->nodes[i].src[s]] = i;
    for (int o = 0; o < g->nout; o++) last[g->outputs[o].node] = g->n; /* outputs live to the end */
    Live *live = malloc(sizeof(Live) * (size_t)(g->n + 1));
    int nlive = 0;
    int64_t top = 0;
    for (int i = 0; i < g->n; i++) {
        IrNode *n = &g->nodes[i];
        n->offset = -1;
        if (is_leaf(n->op)) continue;
        /* drop intervals whose last reader came before this node */
        int k = 0;
        for (int j = 0; j < nlive; j++)
            if (last[live[j].node] >= i) live[k++] = live[j];
        nlive = k;
        int64_t len = (ir_numel(&n->shape) + 15) & ~(int64_t)15; /* 64-byte aligned */
        /* live sorted by offset: find the first gap that fits */
        int64_t at = 0;
        int pos = 0;
        for (; pos < nlive; pos++) {
            if (live[pos].off - at >= len) break;
            if (live[pos].off + live[pos].len > at) at = live[pos].off + live[pos].len;
        }
        memmove(live + pos + 1, live + pos, sizeof(Live) * (size_t)(nlive - pos));
        live[pos] = (Live){at, len, i};
        nlive++;
        n->offset = at;
        if (at + len > top) top = at + len;
    }
    g->arena_floats = top;
    free(live);
    free(last);
}
