/* tests/support.h — helpers shared by the C tests that build models from
 * specs: reading files and tensors, and compiling a spec (with config
 * overrides from a golden's config.json) into a runnable model, optionally
 * with a decomposition derived. */
#ifndef VIT_TEST_SUPPORT_H
#define VIT_TEST_SUPPORT_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "pipeline.h"
#include "vit.h"
#include "vitc.h"

/* The whole file, NUL-terminated and malloc'd; NULL if unreadable. */
char *tst_slurp(const char *path);
/* Tensor `name` of a safetensors file as floats (malloc'd); NULL if absent. */
float *tst_read_tensor(const char *path, const char *name, int64_t *numel);
/* Config overrides from a JSON object {"name": value}: numbers as integers, strings as is. */
int tst_sets(cJSON *set, ConfigSet *sets, char (*vals)[64], int max);
/* Elaborate `spec` with the overrides, derive a decomposition when `o` is
 * given, lower, plan and generate code: a model ready to bind, or NULL with
 * a message in err. */
vit_model *tst_build(vit_ctx *ctx, const char *spec, cJSON *set, const ContribOpts *o, char *err, size_t errlen);
/* Index of the output named `name`, -1 if absent. */
int tst_out_index(const vit_model *m, const char *name);

#endif
