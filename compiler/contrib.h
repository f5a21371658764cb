/* compiler/contrib.h — the decomposition pass (contrib.c): derive each
 * component's contribution to one output and append it to the graph as the
 * output "contrib.NAME" of shape [comp, ...output axes]. */
#ifndef VIT_CONTRIB_H
#define VIT_CONTRIB_H

#include <stdbool.h>
#include <stddef.h>

#include "ir.h"

typedef struct {
    const char *output;     /* the output to decompose ("repr" when NULL) */
    const char *split[8];   /* axes kept at the last contraction summing them */
    int nsplit;
    const char *from;       /* first decomposed layer: ordinal or scope prefix; NULL = all */
    bool bias_separate;     /* constants into one "bias" component (else shared equally) */
    bool ln_center;         /* LayerNorm: centre each component (else mean folded into the constant) */
    bool ln_reference;      /* LayerNorm statistics as the reference code: unbiased, eps 1e-5 */
    int directions;         /* k > 0: output proj.NAME [comp, dir = k], each component projected on the
                               k rows of the runtime parameter "__directions" [k, ...output axes],
                               instead of contrib.NAME */
} ContribOpts;

typedef struct {
    const char *name;          /* "init", "bias", "blocks.3.attn head 5" */
    const char *scope;         /* layer scope, e.g. "blocks.3" */
    const char *kind;          /* "init", "bias", or the branch's last scope segment ("attn", "mlp") */
    int layer;                 /* ordinal of the layer (-1 for init and bias) */
    int head, token;           /* split indices along axes named head / token, -1 if not split */
    int nsplit;                /* split axes, major to minor */
    const char *split_ax[8];
    int split_ix[8];
} ContribComp;

/* 0 on success: *comps (malloc'd) names the rows of the new output. */
int contrib_derive(IrGraph *g, const ContribOpts *o, ContribComp **comps, int *ncomps, char *err, size_t errlen);

#endif
