/* fuzz/fuzz_module.c — the module (.vitm) loader (ir/module.c): the
 * serialised graph, its structural check and the check of every node's
 * shapes and attributes (runtime/interp.c), then a write/read round trip
 * of what was accepted. */
#include "fuzz.h"
#include "interp.h"
#include "ir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static FILE *devnull;
    if (!devnull && !(devnull = fopen("/dev/null", "w"))) abort();
    IrGraph *g = NULL, *back = NULL;
    void *bc = NULL, *bc2 = NULL;
    size_t bclen = 0, bclen2 = 0;
    char err[1024];
    if (ir_module_read(fz_write("m.vitm", data, size), &g, &bc, &bclen, err, sizeof err)) {
        if (g || bc) abort();
        return 0;
    }
    ir_dump(g, devnull);
    interp_check(g, err, sizeof err); /* what vit_model_load runs next */
    const char *p2 = fz_path("again.vitm");
    if (ir_module_write(p2, g, bc, bclen, err, sizeof err) == 0) {
        if (ir_module_read(p2, &back, &bc2, &bclen2, err, sizeof err)) abort();
        if (back->n != g->n || bclen2 != bclen || (bclen && memcmp(bc, bc2, bclen))) abort();
    }
    free(bc);
    free(bc2);
    ir_graph_free(g);
    ir_graph_free(back);
    return 0;
}
