/* runtime/vitint.h — declarations shared by the runtime's own modules, not
 * part of the public API (vit.h). */
#ifndef VIT_INT_H
#define VIT_INT_H

#include "vit.h"

/* Record an error message in the context; returns status (engine.c). */
int vit_ctx_fail(vit_ctx *ctx, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
