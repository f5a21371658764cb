/* compiler/pipeline.h — the passes after elaboration (pipeline.c). */
#ifndef VIT_PIPELINE_H
#define VIT_PIPELINE_H

#include "codegen.h"
#include "contrib.h"
#include "ir.h"
#include <stdio.h>

/* lower contractions, plan memory, emit LLVM bitcode: a new graph (caller frees) */
IrGraph *pipeline_finish(const IrGraph *g, void **bc, size_t *bclen, char *err, size_t errlen);
/* derive contributions into g; g->meta becomes the components' JSON sidecar */
int pipeline_decompose(IrGraph *g, const ContribOpts *o, char *err, size_t errlen);
/* a one-line summary of the options, recorded in the sidecar */
const char *pipeline_opts_key(const ContribOpts *o);
/* One command-line option of the decomposition (--output --from --split --bias --ln) and its
 * value: 1 when taken, 0 when opt is not one of them, -1 with a message for a bad value.
 * --split names are stored in splitbuf, which must outlive o. */
int pipeline_decompose_opt(const char *opt, const char *val, ContribOpts *o, char *splitbuf, size_t splitlen,
                           char *err, size_t errlen);
void plan_memory(IrGraph *g);
/* fold.c: evaluate constant-only nodes at compile time; the number folded, -1 on error */
int fold_constants(IrGraph *g, char *err, size_t errlen);

#endif
