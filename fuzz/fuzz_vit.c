/* fuzz/fuzz_vit.c — the .vit front end: lexer, parser, imports of the
 * stdlib, elaboration with shape checking and constant folding
 * (compiler/elab.c), then the passes that follow on a graph it accepts
 * (decomposition, contraction lowering, memory plan) and a module round trip. */
#include "fuzz.h"
#include "pipeline.h"
#include "vitc.h"

#ifndef VIT_SOURCE_DIR
#define VIT_SOURCE_DIR "."
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static FILE *devnull;
    static const char *search[] = {VIT_SOURCE_DIR "/stdlib"};
    if (!devnull && !(devnull = fopen("/dev/null", "w"))) abort();
    const char *path = fz_write("spec.vit", data, size);
    Ctx c;
    ctx_init(&c);
    c.diag_out = devnull;
    c.search = search;
    c.nsearch = 1;
    c.max_steps = 200000; /* keep each input fast; the limit itself is tested in tests/ */
    char err[1024];
    IrGraph *g = elab_model(&c, path, NULL, 0);
    if (g) {
        if (c.errors) abort(); /* a graph only without errors */
        ContribOpts o = {0};
        pipeline_decompose(g, &o, err, sizeof err);
        IrGraph *lg = lower_contractions(g, err, sizeof err);
        if (lg) {
            plan_memory(lg);
            IrGraph *back = NULL;
            void *bc = NULL;
            size_t bclen = 0;
            const char *mp = fz_path("m.vitm");
            if (ir_module_write(mp, lg, "", 0, err, sizeof err) == 0) {
                if (ir_module_read(mp, &back, &bc, &bclen, err, sizeof err)) abort(); /* what we write we read */
                if (back->n != lg->n || back->nout != lg->nout) abort();
            }
            free(bc);
            ir_graph_free(back);
            ir_graph_free(lg);
        }
        ir_graph_free(g);
    } else if (!c.errors) {
        abort(); /* a refusal always says why */
    }
    ctx_free(&c);
    return 0;
}
