/* compiler/project.h — projections without materialised contributions
 * (project.c).  An output contract(T, D; C), where T carries the
 * decomposition's `comp` axis and D does not depend on the input (the
 * runtime directions), is rewritten by carrying D back through the
 * transpose of each linear op that built T: the terms are contracted with
 * small direction tensors where they are made, not after being assembled. */
#ifndef VIT_PROJECT_H
#define VIT_PROJECT_H

#include <stddef.h>

#include "ir.h"

/* Appends the rewritten projections to g and points the outputs at them (the
 * old nodes stay, unread; simplify_graph drops them).  Returns the number of
 * outputs rewritten, -1 with a message in err on a malformed graph. */
int project_push(IrGraph *g, char *err, size_t errlen);

#endif
