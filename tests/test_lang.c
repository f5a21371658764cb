/* tests/test_lang.c — the language's index and mask builtins end to end:
 * iota, comparisons, where, gather, argmax, pad, roll and conv2d compile,
 * constant-only subgraphs fold into module constants, and the JIT (whose
 * generated code hands these ops to the interpreter's kernels) equals the
 * interpreter and a hand computation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "pipeline.h"
#include "st.h"
#include "vit.h"
#include "vitc.h"

static const char *SPEC =
    "model ops {\n"
    "  x = input([c = 2, h = 5, w = 5])\n"
    "  # a relative-position index table and a causal mask, computed at compile time\n"
    "  i = iota([qi = 3])\n"
    "  j = iota([kj = 3])\n"
    "  rel = i - j + 2\n"
    "  mask = where(j > i, -100.0, 0.0)\n"
    "  bias = gather(param \"table\" [5, 2] as [r = 5, head = 2], [r], rel)\n"
    "  output bm = bias + mask\n"
    "  # padding, rolling and a depthwise convolution on the input\n"
    "  p = pad(pad(x, [h], 1, 1), [w], 1, 1)\n"
    "  y = conv2d(p, param \"dw\" [2, 1, 3, 3] as [o = 2, ci, kh = 3, kw = 3], [c, h, w], 1, 2)\n"
    "  output conv = roll(y, [w], 2)\n"
    "  # argmax pooling: the row of x where channel 0 peaks along w\n"
    "  k = argmax(select(select(x, [c], 0), [h], 0), [w])\n"
    "  output pick = gather(select(x, [h], 0), [w], k)\n"
    "}\n";

TEST(index_and_mask_builtins_fold_and_agree_on_both_engines) {
    char dir[] = "/tmp/vit-lang-XXXXXX";
    if (!mkdtemp(dir)) FAIL_AT("mkdtemp");
    char spec[600], wpath[600];
    snprintf(spec, sizeof spec, "%s/ops.vit", dir);
    snprintf(wpath, sizeof wpath, "%s/w.safetensors", dir);
    FILE *f = fopen(spec, "w");
    fputs(SPEC, f);
    fclose(f);
    float table[10], dw[18], x[50];
    for (int q = 0; q < 10; q++) table[q] = (float)q * 0.5f - 1.0f;
    for (int q = 0; q < 18; q++) dw[q] = (float)((q * 7) % 5) - 2.0f;
    for (int q = 0; q < 50; q++) x[q] = (float)((q * 13) % 11) - 5.0f;
    StWriter *w = st_writer_new();
    int64_t ts[2] = {5, 2}, ds[4] = {2, 1, 3, 3};
    st_writer_add_f32(w, "table", 2, ts, table);
    st_writer_add_f32(w, "dw", 4, ds, dw);
    char err[1024];
    if (st_writer_finish(w, wpath, err, sizeof err)) FAIL_AT("%s", err);
    Ctx c;
    ctx_init(&c);
    static const char *dirs[] = {"stdlib"};
    c.search = dirs;
    c.nsearch = 1;
    IrGraph *g = elab_model(&c, spec, NULL, 0);
    if (!g) FAIL_AT("elaboration failed");
    /* the index table and the mask are constants now */
    int bm = ir_output_find(g, "bm");
    const IrNode *add = &g->nodes[bm];
    ASSERT_EQ(g->nodes[add->src[1]].op, IR_OP_CONST);
    ASSERT_EQ(g->nodes[g->nodes[add->src[0]].src[1]].op, IR_OP_CONST);
    void *bc = NULL;
    size_t bclen = 0;
    IrGraph *lg = pipeline_finish(g, &bc, &bclen, err, sizeof err);
    if (!lg) FAIL_AT("%s", err);
    vit_ctx *ctx = vit_ctx_new();
    vit_model *m = NULL;
    if (vit_model_from_graph(ctx, lg, bc, bclen, &m)) FAIL_AT("%s", vit_last_error(ctx));
    vit_bind_opts bo = {0, 0};
    if (vit_model_bind(ctx, m, wpath, &bo)) FAIL_AT("%s", vit_last_error(ctx));
    float *outs[2][4];
    for (int e = 0; e < 2; e++) {
        for (int k = 0; k < vit_model_noutputs(m); k++) outs[e][k] = calloc((size_t)vit_model_output_numel(m, k), sizeof(float));
        if (vit_model_run(ctx, m, e ? VIT_ENGINE_INTERP : VIT_ENGINE_JIT, x, 1, 1, outs[e])) FAIL_AT("%s", vit_last_error(ctx));
    }
    for (int k = 0; k < vit_model_noutputs(m); k++) {
        int64_t n = vit_model_output_numel(m, k);
        for (int64_t q = 0; q < n; q++) ASSERT_EQ(outs[0][k][q] == outs[1][k][q], 1);
    }
    /* by hand */
    for (int k = 0; k < vit_model_noutputs(m); k++) {
        const char *name = vit_model_output_name(m, k);
        const float *o = outs[0][k];
        if (!strcmp(name, "bm")) /* [qi, kj, head] */
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++)
                    for (int hd = 0; hd < 2; hd++) ASSERT_NEAR(o[(i * 3 + j) * 2 + hd], table[(i - j + 2) * 2 + hd] + (j > i ? -100.0f : 0.0f), 1e-6);
        if (!strcmp(name, "conv")) /* [o=2, h=5, w=5], depthwise 3x3 with zero padding, rolled by 2 along w */
            for (int ch = 0; ch < 2; ch++)
                for (int y = 0; y < 5; y++)
                    for (int z = 0; z < 5; z++) {
                        int zs = ((z - 2) % 5 + 5) % 5;
                        double acc = 0;
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                int yy = y + ky - 1, xx = zs + kx - 1;
                                if (yy >= 0 && yy < 5 && xx >= 0 && xx < 5) acc += x[(ch * 5 + yy) * 5 + xx] * dw[(ch * 3 + ky) * 3 + kx];
                            }
                        ASSERT_NEAR(o[(ch * 5 + y) * 5 + z], acc, 1e-5);
                    }
        if (!strcmp(name, "pick")) { /* [c] */
            int best = 0;
            for (int z = 1; z < 5; z++) if (x[z] > x[best]) best = z;
            for (int ch = 0; ch < 2; ch++) ASSERT_NEAR(o[ch], x[ch * 25 + best], 0);
        }
    }
    for (int e = 0; e < 2; e++) for (int k = 0; k < vit_model_noutputs(m); k++) free(outs[e][k]);
    vit_model_free(m);
    vit_ctx_free(ctx);
    ir_graph_free(g);
    ctx_free(&c);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) fprintf(stderr, "  could not remove %s\n", dir);
    return 0;
}

TESTS { T(index_and_mask_builtins_fold_and_agree_on_both_engines) };

int main(int argc, char **argv) { return check_main(argc, argv); }
