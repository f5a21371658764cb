/* runtime/interp.h — the reference interpreter: a plain evaluator of an IrGraph
 * with the op semantics of ir.h, used as the oracle the JIT is tested against.
 * It validates every node's shapes against its sources before running and
 * reports the first mismatch instead of computing garbage. */
#ifndef VIT_INTERP_H
#define VIT_INTERP_H

#include <stddef.h>

#include "ir.h"

/* Checks every node of g (source counts and indices, axis names and sizes,
 * attributes) without touching any data.  Returns 0, or -1 with one line in
 * err naming the node index, its op and the shapes involved. */
int interp_check(const IrGraph *g, char *err, size_t errlen);

/* Runs g.  bufs[i] is node i's buffer of ir_numel(&g->nodes[i].shape) floats:
 * the caller fills the INPUT, PARAM and CONST buffers and gives every other
 * node its own buffer; every non-leaf node is evaluated in order into
 * bufs[i].  Reductions and normalisations accumulate in double.  Validates
 * the whole graph first (as interp_check) and writes nothing when it fails.
 * Returns 0, or -1 with a message in err. */
/* Evaluate node i alone (the graph already checked): the JIT's fallback for
 * ops it has no generated code for. */
void interp_eval_node(const IrGraph *g, int i, float **bufs);

int interp_run(const IrGraph *g, float **bufs, char *err, size_t errlen);

#endif
