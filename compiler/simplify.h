/* compiler/simplify.h — graph clean-up before lowering (simplify.c): SELECT
 * and SLICE pushed towards the sources (unless the full value is computed
 * anyway), identical nodes shared, nodes no output needs dropped.  The decomposition relies on it to compute only the
 * rows an output selects instead of whole tensors. */
#ifndef VIT_SIMPLIFY_H
#define VIT_SIMPLIFY_H

#include <stddef.h>

#include "ir.h"

/* Returns a new graph (the caller frees it) computing the same outputs, with
 * the same names, metadata, preprocessing, files and unused prefixes.  Node
 * indices change; the memory plan is dropped.  Kept although unread: the
 * INPUT node, and one PARAM per checkpoint key (so the weights still bind).
 * NULL with a message in err on a malformed graph. */
IrGraph *simplify_graph(const IrGraph *g, char *err, size_t errlen);

#endif
