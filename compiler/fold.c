/* compiler/fold.c — constant folding: a node whose sources are all
 * constants is evaluated at compile time (by the reference interpreter's
 * kernel) and becomes a constant.  This is how index tables, relative
 * position indices and attention masks written in the language with iota,
 * comparisons and arithmetic end up as data in the module. */
#include <stdlib.h>

#include "interp.h"
#include "pipeline.h"
#include "vitc.h"

int fold_constants(IrGraph *g, char *err, size_t errlen) {
    float **bufs = calloc((size_t)g->n + 1, sizeof(float *));
    if (!bufs) { snprintf(err, errlen, "fold: out of memory"); return -1; }
    int folded = 0;
    for (int i = 0; i < g->n; i++) {
        IrNode *n = &g->nodes[i];
        if (ir_op_info[n->op].lin == LIN_LEAF || n->nsrc == 0) continue;
        bool all = true;
        for (int s = 0; s < n->nsrc; s++) all &= g->nodes[n->src[s]].op == IR_OP_CONST;
        if (!all) continue;
        for (int s = 0; s < n->nsrc; s++) bufs[n->src[s]] = g->nodes[n->src[s]].cdata;
        int64_t k = ir_numel(&n->shape);
        if (k > ELAB_MAX_CONST) continue; /* too big to embed: computed at run time instead */
        float *out = ir_alloc(g, sizeof(float) * (size_t)(k ? k : 1));
        bufs[i] = out;
        interp_eval_node(g, i, bufs);
        /* the node becomes a constant; its sources may now be dead */
        n->op = IR_OP_CONST;
        n->nsrc = 0;
        n->nax = 0;
        n->cdata = out;
        folded++;
    }
    free(bufs);
    return folded;
}
